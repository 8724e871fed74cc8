//! Turns API client errors into one diagnostic each: the summary says what failed, the detail
//! gives the HTTP status, Intersight code and message, trace id, and what to try.

use crate::cty::Diagnostic;
use crate::intersight::error::{fmt_elapsed, path_excerpt};
use crate::intersight::{Error, TlsProblem, TransportErrorKind};

/// What to try after a 401 to a request made with an OAuth access token (twice: the first
/// 401 got a new token and one repeat).
pub(crate) const BEARER_401_ADVICE: &str = "Intersight refused the OAuth access token twice (a \
    new token was fetched after the first refusal). Check in Intersight that the OAuth \
    application of `client_id` is still enabled and its user or role may use the API, and that \
    `endpoint` is the account the application belongs to.";

/// What a failed read was reading, in the words its diagnostics use; a list data source takes
/// them from its declaration.
#[derive(Debug, Clone, Copy)]
pub struct ReadSubject<'a> {
    /// The collection below `/api/v1/`, e.g. `iam/OAuthTokens`.
    pub resource: &'a str,
    /// What a role must be allowed to read to list it, e.g. `IAM objects` (the HTTP 403 advice).
    pub readable_as: &'a str,
    /// A property of its objects, in PascalCase, e.g. `ClientName` (the HTTP 400 advice).
    pub example_property: &'a str,
}

/// What to try for an API error status.
pub(crate) fn advice(status: u16, subject: &ReadSubject<'_>) -> String {
    let ReadSubject {
        readable_as,
        example_property,
        ..
    } = subject;
    match status {
        401 => API_KEY_401_ADVICE.to_string(),
        403 => format!(
            "The API key's user or role is not allowed to read this collection: use a key of \
             a user with a role that can read {readable_as} (e.g. Account Administrator or \
             Read-Only)."
        ),
        414 | 431 => "The server refused the request as too long (its URL or headers): \
                      narrow `filter`, or split the query across several data sources."
            .to_string(),
        400 => format!(
            "Intersight rejected the query. If the `filter` argument is set, check its OData \
             syntax and property names (PascalCase, e.g. `{example_property}`)."
        ),
        404 => "The collection was not found: check `endpoint` (an appliance's host name, or \
                `intersight.com`)."
            .to_string(),
        429 => "Intersight kept rate limiting the requests. Raise `max_retries`, or lower \
                `parallelism` so fewer requests are made at once."
            .to_string(),
        500..=599 => "Intersight had a server-side problem. Retry later; if it persists, give \
                      the trace id to Cisco support."
            .to_string(),
        _ => String::new(),
    }
}

/// What to try after a 401 to a signed request.
pub(crate) const API_KEY_401_ADVICE: &str = "Check that the API key id (`apikey`) and the \
    secret key (`secretkey`) belong together and that the key is not expired or revoked, and \
    that this machine's clock is correct: requests are signed with the current time and \
    rejected when it is off by more than a few minutes.";

/// The diagnostic of a failed read of `subject`: what failed, the API's words, what to try.
pub(crate) fn api_error_diagnostic(error: &Error, subject: &ReadSubject<'_>) -> Diagnostic {
    let resource = subject.resource;
    let summary = if matches!(error, Error::Cancelled) {
        format!("Cancelled reading Intersight {resource}")
    } else {
        format!("Failed to read Intersight {resource}")
    };
    Diagnostic::error(summary, error_detail(error, subject))
}

/// The detail of `error`. Every kind of client error has its own arm (no catch-all): a new
/// kind does not compile until it is given its words here.
fn error_detail(error: &Error, subject: &ReadSubject<'_>) -> String {
    let advice: &str = match error {
        Error::Api { .. } => return api_status_detail(error, subject),
        Error::Network { kind, .. } => return format!("{error}.\n\n{}", transport_advice(kind)),
        Error::TokenRefused {
            status,
            error: code,
            description,
            client_id,
        } => return token_refused_detail(*status, code, description, client_id),
        Error::TokenRequest(inner) => {
            return format!(
                "No OAuth access token could be had, so nothing was read. The token request \
                 failed: {}",
                token_request_detail(inner, subject)
            )
        }
        Error::Cancelled => {
            return "The read was cancelled because Terraform is stopping (for example after \
                    Ctrl-C). No partial results were returned."
                .to_string()
        }
        // Failures inside the client, or answers it cannot decode: its own words say it all.
        Error::Transport { .. } | Error::Decode { .. } | Error::InvalidQuery(_) => {
            return error.to_string()
        }
        Error::Timeout {
            connecting: false, ..
        } => RESPONSE_TIMEOUT_ADVICE,
        Error::Timeout {
            connecting: true, ..
        } => CONNECT_TIMEOUT_ADVICE,
        Error::Inconsistent { .. } => {
            "Objects were created or deleted while the pages were read, and no consistent \
             answer could be had. Run Terraform again; no partial list was returned."
        }
        Error::BodyTooLarge { .. } => "Lower `page_size`.",
        Error::ReadTimeout { .. } => {
            "The read stopped at its time limit and returned nothing (no partial list). Raise \
             the data source's read timeout (`timeouts { read = \"...\" }`), or make each \
             request faster or fail sooner (`request_timeout`, `max_retries`, a narrower \
             `filter`)."
        }
        Error::TooManyPages { .. } => {
            "The server's answers cannot add up to a complete list within that bound (or the \
             collection is too large to read in one data source); no partial list was \
             returned. Narrow the query with `filter`, and check `endpoint` if this is \
             unexpected."
        }
        Error::RequestTooLong { .. } => {
            "Nothing was sent. Shorten the query: split it across several data sources (each \
             with a part of the values), or select the objects by a condition that needs fewer \
             values."
        }
        Error::TokenResponse { .. } => {
            "The token endpoint answered, but not with a usable Bearer access token. Check \
             `endpoint` (the token endpoint is /iam/token on its host) and any proxy on the \
             way. No further token request is made in this run."
        }
    };
    format!("{error}.\n\n{advice}")
}

/// The detail of an HTTP error status: the request, the status, the attempts when retries
/// did not cure it, the API's words, and the advice for the status.
fn api_status_detail(error: &Error, subject: &ReadSubject<'_>) -> String {
    let Error::Api {
        status,
        code,
        message,
        trace_id,
        method,
        path,
        attempts,
    } = error
    else {
        return error.to_string();
    };
    let mut d = format!("{method} {} answered HTTP {status}", path_excerpt(path));
    if attempts.count > 1 {
        d.push_str(&attempts_text(attempts));
    }
    push_api_words(&mut d, [code, message, trace_id]);
    let advice = advice(*status, subject);
    if !advice.is_empty() {
        d.push_str("\n\n");
        d.push_str(&advice);
    }
    d
}

const RESPONSE_TIMEOUT_ADVICE: &str = "Intersight did not answer in time (a timeout is retried \
    once). Raise `request_timeout`, or lower `page_size` so each page is smaller.";

const CONNECT_TIMEOUT_ADVICE: &str = "The host did not complete a connection (TCP and TLS \
    handshake) in time (a timeout is retried once): check `endpoint`, that the server is up and \
    answers HTTPS there, and the network path (HTTPS_PROXY/NO_PROXY). The wait is \
    `request_timeout`, at most 30 s.";

/// " to all N attempts (...), over T": an API error that retries did not cure.
fn attempts_text(attempts: &crate::intersight::Attempts) -> String {
    let total = attempts.count;
    let retries = total - 1;
    let plural = if retries == 1 { "retry" } else { "retries" };
    format!(
        " to all {total} attempts (the request and {retries} {plural}; `max_retries` sets how \
         many), over {}",
        fmt_elapsed(attempts.elapsed())
    )
}

/// The Intersight code, message and trace id of an API error, one line each when given.
fn push_api_words(detail: &mut String, [code, message, trace_id]: [&Option<String>; 3]) {
    for (label, text) in [
        ("Intersight code", code),
        ("Message", message),
        ("Trace id", trace_id),
    ] {
        if let Some(text) = text {
            detail.push_str(&format!("\n{label}: {text}"));
        }
    }
}

/// The detail of a refused OAuth client credentials grant.
fn token_refused_detail(
    status: u16,
    code: &Option<String>,
    description: &Option<String>,
    client_id: &str,
) -> String {
    let mut d = format!(
        "The token endpoint POST {} refused the OAuth client credentials of client_id \
         {client_id:?} (HTTP {status}).",
        crate::intersight::oauth::TOKEN_PATH
    );
    if let Some(code) = code {
        d.push_str(&format!("\nOAuth error: {code}"));
    }
    if let Some(description) = description {
        d.push_str(&format!("\nDescription: {description}"));
    }
    d.push_str(
        "\n\nCheck in Intersight that an OAuth application with this client id exists, is \
         enabled and may use the Client Credentials grant, and that `client_secret` is its \
         current secret (an administrator may have renewed or revoked it). No further token \
         request is made in this run.",
    );
    d
}

/// The detail of a failed token request: the API's for network failures and timeouts, the
/// token endpoint's own advice where the API's would point at the query (`page_size`, `filter`,
/// a collection).
fn token_request_detail(inner: &Error, subject: &ReadSubject<'_>) -> String {
    let advice = match inner {
        Error::BodyTooLarge { .. } => Some(format!(
            "The token endpoint's answer is larger than the {} KiB a token answer may take: \
             check `endpoint` (the token endpoint is /iam/token on its host) and any proxy on \
             the way.",
            crate::intersight::oauth::MAX_TOKEN_RESPONSE_BYTES / 1024
        )),
        Error::Api { status, .. } => token_status_advice(*status).map(str::to_string),
        // The API's own advice fits these (a timeout, the network, ...).
        Error::Network { .. }
        | Error::Transport { .. }
        | Error::Timeout { .. }
        | Error::Decode { .. }
        | Error::Inconsistent { .. }
        | Error::ReadTimeout { .. }
        | Error::TooManyPages { .. }
        | Error::RequestTooLong { .. }
        | Error::TokenRefused { .. }
        | Error::TokenResponse { .. }
        | Error::TokenRequest(_)
        | Error::Cancelled
        | Error::InvalidQuery(_) => None,
    };
    match (advice, inner) {
        (
            Some(advice),
            Error::Api {
                status,
                code,
                message,
                trace_id,
                method,
                path,
                ..
            },
        ) => {
            let mut d = format!("{method} {} answered HTTP {status}", path_excerpt(path));
            push_api_words(&mut d, [code, message, trace_id]);
            format!("{d}\n\n{advice}")
        }
        (Some(advice), other) => format!("{other}.\n\n{advice}"),
        (None, other) => error_detail(other, subject),
    }
}

/// The token endpoint's advice for an HTTP status that the API's advice would misdirect.
fn token_status_advice(status: u16) -> Option<&'static str> {
    match status {
        404 => Some(
            "The token endpoint /iam/token was not found on this host: check `endpoint` \
             (OAuth client credentials need an Intersight endpoint that issues tokens).",
        ),
        414 | 431 => Some(
            "The token endpoint refused the request as too long: check that `client_id` and \
             `client_secret` hold only the values Intersight showed.",
        ),
        400..=499 if ![408, 429].contains(&status) => Some(
            "The token endpoint refused the token request. Check `client_id`, \
             `client_secret` and `endpoint`.",
        ),
        _ => None,
    }
}

/// What to try for a TLS failure, by its problem and whether a CA was given.
fn tls_advice(problem: &TlsProblem, custom_ca: bool) -> String {
    let text = match (problem, custom_ca) {
        (TlsProblem::UnknownIssuer, true) => {
            "The server's certificate is not signed by the CA given in `ca_certificate` (nor \
             by a CA this machine trusts): the given CA did not match. Give the CA that issued \
             this server's certificate (ask the appliance's administrator for its CA chain)."
        }
        (TlsProblem::UnknownIssuer, false) => {
            "The server's TLS certificate is not trusted. If the endpoint uses a private CA \
             (an appliance), give that CA in `ca_certificate`; `insecure = true` disables \
             verification altogether (not recommended)."
        }
        (TlsProblem::WrongName, _) => {
            "The server's certificate is not issued for the host name in `endpoint`: use the \
             name the certificate was issued for."
        }
        (TlsProblem::Validity, _) => {
            "The server's certificate has expired or is not valid yet: renew it, or check \
             this machine's clock."
        }
        (TlsProblem::OtherCertificate, true) => {
            "The server's TLS certificate was rejected. Check the certificate chain against \
             `ca_certificate`."
        }
        (TlsProblem::OtherCertificate, false) => "The server's TLS certificate was rejected.",
        (TlsProblem::NoHttp11, _) => {
            "The server accepts only HTTP/2 (it refused HTTP/1.1 during the TLS handshake), \
             and the provider speaks HTTP/1.1, as the official Python SDK does: check that \
             `endpoint` names an Intersight server, or a proxy or load balancer that accepts \
             HTTP/1.1."
        }
        (TlsProblem::HandshakeTooLarge, _) => {
            "The server's TLS handshake message is larger than the 64 KiB the provider \
             accepts: usually a very large certificate chain (a certificate with thousands of \
             names, or many intermediate certificates). Retrying cannot help: serve a shorter \
             chain, or check that `endpoint` names the Intersight server and not a device that \
             presents another certificate."
        }
        (TlsProblem::Handshake, _) => {
            "The TLS handshake failed: the server and the provider share no TLS version or \
             cipher suite (TLS 1.2 or 1.3 is required), or the server is not speaking TLS."
        }
    };
    text.to_string()
}

/// What to try for a failure below the API level, chosen by its kind alone.
fn transport_advice(kind: &TransportErrorKind) -> String {
    let text = match kind {
        TransportErrorKind::Tls { problem, custom_ca } => return tls_advice(problem, *custom_ca),
        TransportErrorKind::Proxy { proxy } => {
            return format!(
                "The request goes through the proxy {proxy} (from HTTPS_PROXY, HTTP_PROXY or \
                 ALL_PROXY): check that the proxy is reachable and lets this host through, or \
                 list the endpoint's host in NO_PROXY to connect directly."
            )
        }
        TransportErrorKind::Connect => {
            "Nothing accepted the connection (refused, or no route to the host): check \
             `endpoint` (host and port) and that the server is up. Raising `request_timeout` \
             or `max_retries` does not help here."
        }
        TransportErrorKind::Dns => {
            "The host name does not resolve: check the spelling of `endpoint` (or \
             INTERSIGHT_ENDPOINT_URL) and this machine's DNS. Raising `request_timeout` or \
             `max_retries` does not help here."
        }
        TransportErrorKind::Redirect { .. } => {
            "The Intersight API does not redirect API calls, so a redirect is never followed: \
             nothing was sent to the other host. Check that `endpoint` names the Intersight \
             host itself (not a portal or login address)."
        }
        TransportErrorKind::Protocol { plain_http: true } => {
            "The server did not answer in HTTP: it probably expects HTTPS. Use `https://` in \
             `endpoint`."
        }
        TransportErrorKind::Protocol { plain_http: false } => {
            "The server's answer is not HTTP: check that `endpoint` names an Intersight server."
        }
        TransportErrorKind::HeadTooLarge => {
            "The response headers exceeded the client's limit: the endpoint (or a proxy on the \
             way) is not behaving as Intersight does."
        }
        TransportErrorKind::Reset => {
            "The connection was closed before the answer was complete, even after retries: \
             check the network path to `endpoint` and any proxy (HTTPS_PROXY/NO_PROXY); raise \
             `max_retries` if the failures are intermittent."
        }
        TransportErrorKind::ResetOnPlainHttp => {
            "The server closed the connection without answering. The endpoint is `http://`: \
             some HTTPS servers do that to a plain-HTTP request, so if the port speaks HTTPS, \
             use `https://` in `endpoint`; otherwise check that the server is up and answers \
             HTTP there."
        }
        TransportErrorKind::InvalidRequest => {
            "The request could not be built: this is a bug in the provider, please report it \
             with the query."
        }
    };
    text.to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;
    use crate::intersight::Attempts;

    fn network(kind: TransportErrorKind) -> Error {
        Error::Network {
            kind,
            method: "GET",
            path: "/api/v1/iam/OAuthTokens".into(),
            // Words that the old substring matching reacted to: the advice must not.
            detail: "invalid peer certificate: UnknownIssuer".into(),
            attempts: Attempts::new(2, Duration::from_millis(1_250)),
        }
    }

    pub(crate) const TOKENS: ReadSubject<'static> = ReadSubject {
        resource: "iam/OAuthTokens",
        readable_as: "IAM objects",
        example_property: "ClientName",
    };

    fn detail(error: &Error) -> String {
        api_error_diagnostic(error, &TOKENS).detail
    }

    #[test]
    fn a_given_ca_that_does_not_match_is_named_as_such() {
        let d = detail(&network(TransportErrorKind::Tls {
            problem: TlsProblem::UnknownIssuer,
            custom_ca: true,
        }));
        assert!(
            d.contains("not signed by the CA given in `ca_certificate`"),
            "{d}"
        );
        assert!(d.contains("the given CA did not match"), "{d}");
        assert!(!d.contains("give that CA in `ca_certificate`"), "{d}");
        let d = detail(&network(TransportErrorKind::Tls {
            problem: TlsProblem::UnknownIssuer,
            custom_ca: false,
        }));
        assert!(d.contains("give that CA in `ca_certificate`"), "{d}");
        assert!(d.contains("`insecure = true`"), "{d}");
    }

    #[test]
    fn token_request_failures_get_the_token_endpoints_advice_not_the_querys() {
        let token_path = crate::intersight::oauth::TOKEN_PATH.to_string();
        let large = Error::TokenRequest(Box::new(Error::BodyTooLarge {
            method: "POST".into(),
            path: token_path.clone(),
            limit: 65_536,
        }));
        let d = detail(&large);
        assert!(d.contains("larger than the 64 KiB a token answer"), "{d}");
        assert!(!d.contains("page_size"), "{d}");
        let api = |status| {
            Error::TokenRequest(Box::new(Error::Api {
                status,
                code: Some("c".into()),
                message: Some("m".into()),
                trace_id: None,
                method: "POST",
                path: token_path.clone(),
                attempts: Attempts::new(1, Duration::from_millis(5)),
            }))
        };
        let d = detail(&api(431));
        assert!(d.contains("`client_id` and `client_secret`"), "{d}");
        assert!(d.contains("HTTP 431") && d.contains("Message: m"), "{d}");
        assert!(!d.contains("filter"), "{d}");
        let d = detail(&api(404));
        assert!(d.contains("/iam/token was not found"), "{d}");
        assert!(!d.contains("collection"), "{d}");
        // Transient statuses keep the API's advice.
        let d = detail(&api(503));
        assert!(d.contains("server-side problem"), "{d}");
    }

    #[test]
    fn a_request_too_long_says_nothing_was_sent_and_how_to_shorten_it() {
        let d = detail(&Error::RequestTooLong {
            resource: "iam/OAuthTokens".into(),
            length: 70_000,
            limit: 61_440,
            filter_length: 69_800,
        });
        assert!(d.contains("more than the 61440 bytes"), "{d}");
        assert!(
            d.contains("Nothing was sent") && d.contains("split it"),
            "{d}"
        );
        assert!(!d.contains("bug in the provider"), "{d}");
    }

    #[test]
    fn advice_follows_the_kind_not_the_message_text() {
        let cases: [(TransportErrorKind, &str, &str); 10] = [
            (
                TransportErrorKind::Connect,
                "does not help",
                "ca_certificate",
            ),
            (
                TransportErrorKind::Dns,
                "does not resolve",
                "ca_certificate",
            ),
            (
                TransportErrorKind::Redirect {
                    status: 301,
                    location: Some("http://elsewhere:80".into()),
                },
                "never followed",
                "ca_certificate",
            ),
            (
                TransportErrorKind::Protocol { plain_http: true },
                "Use `https://` in `endpoint`",
                "ca_certificate",
            ),
            (
                TransportErrorKind::Proxy {
                    proxy: "proxy.corp:3128".into(),
                },
                "the proxy proxy.corp:3128",
                "ca_certificate",
            ),
            (TransportErrorKind::Reset, "max_retries", "ca_certificate"),
            (
                TransportErrorKind::Tls {
                    problem: TlsProblem::NoHttp11,
                    custom_ca: false,
                },
                "accepts only HTTP/2",
                "cipher suite",
            ),
            (
                TransportErrorKind::Tls {
                    problem: TlsProblem::HandshakeTooLarge,
                    custom_ca: true,
                },
                "larger than the 64 KiB the provider accepts",
                "cipher suite",
            ),
            (
                TransportErrorKind::ResetOnPlainHttp,
                "use `https://` in `endpoint`",
                "max_retries",
            ),
            (
                TransportErrorKind::Tls {
                    problem: TlsProblem::WrongName,
                    custom_ca: false,
                },
                "not issued for the host name",
                "give that CA",
            ),
        ];
        for (kind, expected, absent) in cases {
            let d = detail(&network(kind.clone()));
            assert!(d.contains(expected), "{kind:?}: {d}");
            assert!(!d.contains(absent), "{kind:?}: {d}");
            assert!(d.contains("(2 attempts over 1.2 s)"), "{kind:?}: {d}");
        }
        // Only a timeout is helped by a longer `request_timeout`.
        let d = detail(&network(TransportErrorKind::Connect));
        assert!(d.contains("Raising `request_timeout`"), "{d}");
        let d = detail(&Error::Timeout {
            method: "GET",
            path: "/x".into(),
            timeout: Duration::from_secs(2),
            connecting: false,
            attempts: Attempts::new(2, Duration::from_millis(4_100)),
        });
        assert!(d.contains("Raise `request_timeout`"), "{d}");
        assert!(d.contains("2 attempts over 4.1 s"), "{d}");
        let d = detail(&Error::Timeout {
            method: "GET",
            path: "/x".into(),
            timeout: Duration::from_secs(30),
            connecting: true,
            attempts: Attempts::new(2, Duration::from_secs(60)),
        });
        assert!(
            d.contains("no connection within 30s (2 attempts over 60.0 s)"),
            "{d}"
        );
        assert!(d.contains("did not complete a connection"), "{d}");
        assert!(!d.contains("Raise `request_timeout`"), "{d}");
    }

    #[test]
    fn retries_exhausted_names_attempts_and_elapsed() {
        let d = detail(&Error::Api {
            status: 503,
            code: None,
            message: None,
            trace_id: None,
            method: "GET",
            path: "/x".into(),
            attempts: Attempts::new(3, Duration::from_millis(900)),
        });
        assert!(
            d.contains(
                "answered HTTP 503 to all 3 attempts (the request and 2 retries; `max_retries` \
                 sets how many), over 900 ms"
            ),
            "{d}"
        );
    }
}

#[cfg(test)]
mod paging_limit_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_read_timeout_says_how_far_it_got_and_which_setting_to_raise() {
        let error = Error::ReadTimeout {
            resource: "iam/OAuthTokens".into(),
            timeout: Duration::from_secs(30),
            elapsed: Duration::from_millis(30_010),
            pages: 3,
            requests: 9,
            retries: 6,
        };
        let d = api_error_diagnostic(&error, &super::tests::TOKENS);
        assert_eq!(d.summary, "Failed to read Intersight iam/OAuthTokens");
        for words in [
            "did not finish within 30.0 s: 3 pages received in 9 requests (6 retries)",
            "no partial list",
            "timeouts { read = \"...\" }",
            "`request_timeout`",
        ] {
            assert!(d.detail.contains(words), "{words:?} in {}", d.detail);
        }
    }

    #[test]
    fn too_many_pages_advises_a_filter() {
        let error = Error::TooManyPages {
            resource: "iam/OAuthTokens".into(),
            count: Some(1_000_000_000_000),
            page_len: 2,
            pages: 999_999_999_999,
            limit: 10_000,
        };
        let d = api_error_diagnostic(&error, &super::tests::TOKENS);
        assert!(
            d.detail.contains("more than the 10000 one read may make"),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("`filter`"), "{}", d.detail);
    }
}
