//! Host name resolution with typed failures.

use std::net::SocketAddr;

/// Host name resolution through the system resolver (as the library's default), with its
/// failures typed so that they can be told apart, and RFC 6761 `.invalid` names answered
/// "no such host" at once without asking any server (section 6.4).
pub(super) struct SystemResolver;

/// A host name that could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host:?}: {reason}")]
pub(super) struct DnsFailure {
    host: String,
    reason: String,
}

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let fail = |reason: String| -> Box<dyn std::error::Error + Send + Sync> {
                Box::new(DnsFailure {
                    host: host.clone(),
                    reason,
                })
            };
            let lower = host.trim_end_matches('.').to_ascii_lowercase();
            if lower == "invalid" || lower.ends_with(".invalid") {
                return Err(fail(
                    "names under .invalid never resolve (RFC 6761)".to_string(),
                ));
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| fail(e.to_string()))?
                .collect();
            if addrs.is_empty() {
                return Err(fail("no addresses".to_string()));
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}
