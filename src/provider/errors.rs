//! Turns API client errors into one diagnostic each: the summary says what failed, the detail
//! gives the HTTP status, Intersight code and message, trace id, and what to try.

use crate::cty::Diagnostic;
use crate::intersight::Error;

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
            if *attempts > 1 {
                let retries = attempts - 1;
                let plural = if retries == 1 { "retry" } else { "retries" };
                d.push_str(&format!(
                    " to all {attempts} attempts (the request and {retries} {plural}; \
                     `max_retries` sets how many)"
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
            "{error}.\n\nIntersight did not answer in time, even after retries. Raise \
             `request_timeout` or `max_retries`, or lower `page_size` so each page is smaller."
        ),
        Error::Transport { .. } if is_certificate_problem(error) => format!(
            "{error}.\n\nThe server's TLS certificate is not trusted. If the endpoint uses a \
             private CA (an appliance), give that CA in `ca_certificate`; `insecure = true` \
             disables verification altogether (not recommended)."
        ),
        Error::Transport { .. } => format!(
            "{error}.\n\nCheck `endpoint`, the network path to it, and HTTPS_PROXY/NO_PROXY."
        ),
        Error::Inconsistent { .. } => format!(
            "{error}.\n\nObjects were created or deleted while the pages were read, and no \
             consistent answer could be had. Run Terraform again; no partial list was returned."
        ),
        Error::BodyTooLarge { .. } => format!("{error}.\n\nLower `page_size`."),
        Error::ReadTimeout { .. } => format!(
            "{error}.\n\nThe read stopped at its time limit and returned nothing (no partial \
             list). Raise the data source's read timeout (`timeouts {{ read = \"...\" }}`), or make \
             each request faster or fail sooner (`request_timeout`, `max_retries`, a narrower \
             `filter`)."
        ),
        Error::TooManyPages { .. } => format!(
            "{error}.\n\nThe server's answers cannot add up to a complete list within that \
             bound (or the collection is too large to read in one data source); no partial list \
             was returned. Narrow the query with `filter`, and check `endpoint` if this is \
             unexpected."
        ),
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

fn is_certificate_problem(error: &Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    [
        "certificate",
        "unknownissuer",
        "unknown issuer",
        "invalid peer",
    ]
    .iter()
    .any(|w| text.contains(w))
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
        let d = api_error_diagnostic(&error, "iam/OAuthTokens");
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
        let d = api_error_diagnostic(&error, "iam/OAuthTokens");
        assert!(
            d.detail.contains("more than the 10000 one read may make"),
            "{}",
            d.detail
        );
        assert!(d.detail.contains("`filter`"), "{}", d.detail);
    }
}
