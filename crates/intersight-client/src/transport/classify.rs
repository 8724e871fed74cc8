//! A library error turned into a typed failure: its kind decides the retries and the advice,
//! so nothing downstream reads message text.

use super::dns::DnsFailure;
use super::{Failure, RetryRule, Transport};
use crate::error::{Attempts, Error, TlsProblem, TransportErrorKind};

/// What a library error is, how often it may be retried, and what to tell of it (its causes are
/// added after).
struct Classified {
    kind: TransportErrorKind,
    rule: RetryRule,
    what: String,
}

impl Classified {
    fn new(kind: TransportErrorKind, rule: RetryRule, what: String) -> Classified {
        Classified { kind, rule, what }
    }
}

impl Transport {
    /// Turns a library error into a typed failure: its kind decides the retries and the
    /// advice, so nothing downstream reads message text.
    pub(crate) fn classify(&self, e: &reqwest::Error, path: &str) -> Failure {
        if e.is_timeout() {
            return Failure {
                error: Error::Timeout {
                    method: "GET",
                    path: path.into(),
                    timeout: if e.is_connect() {
                        self.connect_timeout
                    } else {
                        self.timeout
                    },
                    connecting: e.is_connect(),
                    attempts: Attempts::default(),
                },
                rule: RetryRule::Once,
                retry_after: None,
            };
        }
        let Classified { kind, rule, what } = self
            .refused_answer(e)
            .or_else(|| self.not_reached(e))
            .unwrap_or_else(|| self.broken_off(e));
        let what = match std::error::Error::source(e).map(error_chain) {
            Some(causes) => format!("{what}: {causes}"),
            None => what,
        };
        Failure {
            error: self.network_error(kind, path, what),
            rule,
            retry_after: None,
        }
    }

    /// A TLS rejection, or an answer that is not HTTP or too large: retrying cannot help.
    fn refused_answer(&self, e: &reqwest::Error) -> Option<Classified> {
        let endpoint = &self.endpoint;
        if let Some(problem) = tls_problem(e) {
            let kind = TransportErrorKind::Tls {
                problem,
                custom_ca: self.custom_ca,
            };
            let what = format!("TLS refused the connection to {endpoint}");
            return Some(Classified::new(kind, RetryRule::Never, what));
        }
        let parse = find_in_chain::<hyper::Error>(e).filter(|h| h.is_parse())?;
        Some(if parse.is_parse_too_large() {
            Classified::new(
                TransportErrorKind::HeadTooLarge,
                RetryRule::Never,
                format!("the response head from {endpoint} is too large"),
            )
        } else {
            Classified::new(
                TransportErrorKind::Protocol {
                    plain_http: !endpoint.is_https(),
                },
                RetryRule::Never,
                format!("the answer from {endpoint} is not HTTP"),
            )
        })
    }

    /// The proxy, the host name or the port could not be reached: one more try is all it is
    /// worth.
    fn not_reached(&self, e: &reqwest::Error) -> Option<Classified> {
        let endpoint = &self.endpoint;
        let (kind, what) = match &self.proxy {
            Some(proxy) if e.is_connect() => (
                TransportErrorKind::Proxy {
                    proxy: proxy.display_name(),
                },
                format!(
                    "cannot reach {endpoint} through the proxy {}",
                    proxy.display_name()
                ),
            ),
            _ if find_in_chain::<DnsFailure>(e).is_some() => (
                TransportErrorKind::Dns,
                format!("cannot resolve the host name of {endpoint}"),
            ),
            _ if e.is_connect() && is_unreachable(e) => (
                TransportErrorKind::Connect,
                format!("cannot connect to {endpoint}"),
            ),
            _ => return None,
        };
        Some(Classified::new(kind, RetryRule::Once, what))
    }

    /// A request that could not be built, or a connection that broke off.
    fn broken_off(&self, e: &reqwest::Error) -> Classified {
        let endpoint = &self.endpoint;
        if e.is_builder() {
            Classified::new(
                TransportErrorKind::InvalidRequest,
                RetryRule::Never,
                format!("the request to {endpoint} could not be built"),
            )
        } else if e.is_body() || e.is_decode() {
            Classified::new(
                TransportErrorKind::Reset,
                RetryRule::UpToMax,
                "the response was cut off".to_string(),
            )
        } else if !endpoint.is_https() && self.proxy.is_none() && closed_before_answer(e) {
            // Over `http://` this is more often an HTTPS port than a flaky network: say so, and
            // do not spend `max_retries` backoffs on it.
            Classified::new(
                TransportErrorKind::ResetOnPlainHttp,
                RetryRule::Once,
                format!(
                    "{endpoint} closed the connection without answering (does the port speak HTTPS?)"
                ),
            )
        } else {
            // Resets, connections closed before or during the answer: transient.
            Classified::new(
                TransportErrorKind::Reset,
                RetryRule::UpToMax,
                format!("the connection to {endpoint} failed"),
            )
        }
    }
}

/// The first error of type `E` in the chain of `e` (looking inside `io::Error`s too).
fn find_in_chain<'a, E: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    if let Some(found) = e.downcast_ref::<E>() {
        return Some(found);
    }
    if let Some(found) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| find_in_chain::<E>(inner))
    {
        return Some(found);
    }
    e.source().and_then(find_in_chain::<E>)
}

/// What TLS objected to, when the failure is a TLS rejection: retrying cannot help.
fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<TlsProblem> {
    use rustls::CertificateError as C;
    let error = find_in_chain::<rustls::Error>(e)?;
    Some(match error {
        rustls::Error::InvalidCertificate(c) => match c {
            // A bad signature: a trusted CA's name matched the issuer but its key did not sign
            // the certificate (another CA of the same name): no trusted CA issued it either.
            C::UnknownIssuer | C::BadSignature => TlsProblem::UnknownIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongName,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => TlsProblem::Validity,
            _ => TlsProblem::OtherCertificate,
        },
        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol) => {
            TlsProblem::NoHttp11
        }
        rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => {
            TlsProblem::HandshakeTooLarge
        }
        _ => TlsProblem::Handshake,
    })
}

/// The connection was reset or closed before any of the answer arrived (never a body error:
/// those are answers cut short).
fn closed_before_answer(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind as K;
    if e.is_body() || e.is_decode() || e.is_timeout() {
        return false;
    }
    if find_in_chain::<hyper::Error>(e).is_some_and(hyper::Error::is_incomplete_message) {
        return true;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
            ) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// Nothing accepted the connection: refused, or no route to the host or its network.
fn is_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind as K;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
            ) {
                return true;
            }
        }
        source = s.source();
    }
    false
}

/// The error and its causes on one line ("a: b: c"), since reqwest's own text is terse.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
