//! Turns API client errors into one diagnostic each: the summary says what failed, the detail
//! gives the HTTP status, Intersight code and message, trace id, and what to try.

use crate::cty::Diagnostic;
use crate::intersight::error::fmt_elapsed;
use crate::intersight::{Error, TlsProblem, TransportErrorKind};

/// What to try for an API error status.
fn advice(status: u16) -> &'static str {
    match status {
        401 => "Check that the API key id (`apikey`) and the secret key (`secretkey`) belong \
                together and that the key is not expired or revoked, and that this machine's clock \
                is correct: requests are signed with the current time and rejected when it is off \
                by more than a few minutes.",
        403 => "The API key's user or role is not allowed to read this collection: use a key of \
                a user with a role that can read IAM objects (e.g. Account Administrator or Read-Only).",
        400 => "Intersight rejected the query. If the `filter` argument is set, check its OData \
                syntax and property names (PascalCase, e.g. `ClientName`).",
        404 => "The collection was not found: check `endpoint` (an appliance's host name, or \
                `intersight.com`).",
        429 => "Intersight kept rate limiting the requests. Raise `max_retries`, or lower \
                `parallelism` so fewer requests are made at once.",
        500..=599 => "Intersight had a server-side problem. Retry later; if it persists, give the \
                      trace id to Cisco support.",
        _ => "",
    }
}

pub fn api_error_diagnostic(error: &Error, resource: &str) -> Diagnostic {
    let summary = format!("Failed to read Intersight {resource}");
    let detail = match error {
        Error::Api {
            status,
            code,
            message,
            trace_id,
            method,
            path,
            attempts,
        } => {
            let mut d = format!("{method} {path} answered HTTP {status}");
            if attempts.count > 1 {
                let total = attempts.count;
                let retries = total - 1;
                let plural = if retries == 1 { "retry" } else { "retries" };
                d.push_str(&format!(
                    " to all {total} attempts over {} (the request and {retries} {plural}; \
                     `max_retries` sets how many)",
                    fmt_elapsed(attempts.elapsed)
                ));
            }
            if let Some(code) = code {
                d.push_str(&format!("\nIntersight code: {code}"));
            }
            if let Some(message) = message {
                d.push_str(&format!("\nMessage: {message}"));
            }
            if let Some(trace) = trace_id {
                d.push_str(&format!("\nTrace id: {trace}"));
            }
            let advice = advice(*status);
            if !advice.is_empty() {
                d.push_str("\n\n");
                d.push_str(advice);
            }
            d
        }
        Error::Timeout { .. } => format!(
            "{error}.\n\nIntersight did not answer in time (a timeout is retried once). Raise \
             `request_timeout`, or lower `page_size` so each page is smaller."
        ),
        Error::Network { kind, .. } => format!("{error}.\n\n{}", transport_advice(kind)),
        Error::Inconsistent { .. } => format!(
            "{error}.\n\nObjects were created or deleted while the pages were read, and no \
             consistent answer could be had. Run Terraform again; no partial list was returned."
        ),
        Error::BodyTooLarge { .. } => format!("{error}.\n\nLower `page_size`."),
        Error::Cancelled => "The read was cancelled because Terraform is stopping (for example \
                             after Ctrl-C). No partial results were returned."
            .to_string(),
        other => other.to_string(),
    };
    let summary = if matches!(error, Error::Cancelled) {
        format!("Cancelled reading Intersight {resource}")
    } else {
        summary
    };
    Diagnostic::error(summary, detail)
}

/// What to try for a failure below the API level, chosen by its kind alone.
fn transport_advice(kind: &TransportErrorKind) -> String {
    match kind {
        TransportErrorKind::Connect => "Nothing accepted the connection (refused, or no route \
            to the host): check `endpoint` (host and port) and that the server is up. Raising \
            `request_timeout` or `max_retries` does not help here."
            .into(),
        TransportErrorKind::Dns => "The host name does not resolve: check the spelling of \
            `endpoint` (or INTERSIGHT_ENDPOINT_URL) and this machine's DNS. Raising \
            `request_timeout` or `max_retries` does not help here."
            .into(),
        TransportErrorKind::Tls {
            problem: TlsProblem::UnknownIssuer,
            custom_ca: true,
        } => "The server's certificate is not signed by the CA given in `ca_certificate` (nor \
            by a CA this machine trusts): the given CA did not match. Give the CA that issued \
            this server's certificate (ask the appliance's administrator for its CA chain)."
            .into(),
        TransportErrorKind::Tls {
            problem: TlsProblem::UnknownIssuer,
            custom_ca: false,
        } => "The server's TLS certificate is not trusted. If the endpoint uses a private CA \
            (an appliance), give that CA in `ca_certificate`; `insecure = true` disables \
            verification altogether (not recommended)."
            .into(),
        TransportErrorKind::Tls {
            problem: TlsProblem::WrongName,
            ..
        } => "The server's certificate is not issued for the host name in `endpoint`: use the \
            name the certificate was issued for."
            .into(),
        TransportErrorKind::Tls {
            problem: TlsProblem::Validity,
            ..
        } => "The server's certificate has expired or is not valid yet: renew it, or check \
            this machine's clock."
            .into(),
        TransportErrorKind::Tls {
            problem: TlsProblem::OtherCertificate,
            custom_ca,
        } => format!(
            "The server's TLS certificate was rejected.{}",
            if *custom_ca {
                " Check the certificate chain against `ca_certificate`."
            } else {
                ""
            }
        ),
        TransportErrorKind::Tls {
            problem: TlsProblem::Handshake,
            ..
        } => "The TLS handshake failed: the server and the provider share no TLS version or \
            cipher suite (TLS 1.2 or 1.3 is required), or the server is not speaking TLS."
            .into(),
        TransportErrorKind::Redirect { .. } => "The Intersight API does not redirect API calls, \
            so a redirect is never followed: nothing was sent to the other host. Check that \
            `endpoint` names the Intersight host itself (not a portal or login address)."
            .into(),
        TransportErrorKind::Protocol { plain_http: true } => "The server did not answer in \
            HTTP: it probably expects HTTPS. Use `https://` in `endpoint`."
            .into(),
        TransportErrorKind::Protocol { plain_http: false } => "The server's answer is not \
            HTTP: check that `endpoint` names an Intersight server."
            .into(),
        TransportErrorKind::HeadTooLarge => "The response headers exceeded the client's \
            limit: the endpoint (or a proxy on the way) is not behaving as Intersight does."
            .into(),
        TransportErrorKind::Proxy { proxy } => format!(
            "The request goes through the proxy {proxy} (from HTTPS_PROXY, HTTP_PROXY or \
             ALL_PROXY): check that the proxy is reachable and lets this host through, or list \
             the endpoint's host in NO_PROXY to connect directly."
        ),
        TransportErrorKind::Reset => "The connection was closed before the answer was \
            complete, even after retries: check the network path to `endpoint` and any proxy \
            (HTTPS_PROXY/NO_PROXY); raise `max_retries` if the failures are intermittent."
            .into(),
        TransportErrorKind::InvalidRequest => "The request could not be built: this is a bug \
            in the provider, please report it with the query."
            .into(),
    }
}
