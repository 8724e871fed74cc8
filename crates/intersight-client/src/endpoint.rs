//! The API endpoint: scheme, host and port, parsed from what a user writes.

use std::fmt;

use super::error::EndpointError;

/// Where the API lives. The API base path `/api/v1` is added by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    /// Host as written in URLs (IPv6 in brackets), lower-cased by URL parsing.
    host: String,
    /// Port when it is not the scheme's default.
    port: Option<u16>,
}

/// `given` with any `user:password@` replaced by `***@`, for messages.
fn without_user_information(given: &str) -> String {
    let start = given.find("://").map_or(0, |i| i + 3);
    let end = given[start..]
        .find(['/', '?', '#'])
        .map_or(given.len(), |i| start + i);
    match given[start..end].rfind('@') {
        Some(at) => format!("{}***@{}", &given[..start], &given[start + at + 1..]),
        None => given.to_string(),
    }
}

/// The longest host name DNS can carry (RFC 1035: 255 bytes on the wire, 253 characters as
/// text without the final dot).
const MAX_HOST_NAME: usize = 253;
/// The longest label (the part between two dots) of a host name (RFC 1035).
const MAX_LABEL: usize = 63;

/// Why `name` (a host name, not an address) cannot be looked up or named in TLS: the lengths
/// DNS allows, and no empty label. Without this check such a name failed only at connect
/// time, as a network error that was retried and blamed on the network or the proxy.
fn dns_name_defect(name: &str) -> Result<(), String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > MAX_HOST_NAME {
        return Err(format!(
            "the host name is {} characters long; a host name has at most {MAX_HOST_NAME}",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("the host name has an empty label (two dots in a row)".into());
        }
        if label.len() > MAX_LABEL {
            return Err(format!(
                "a label of the host name (a part between dots) is {} characters long; a \
                 label has at most {MAX_LABEL}",
                label.len()
            ));
        }
    }
    Ok(())
}

impl Endpoint {
    /// Accepts `intersight.com`, `host:port`, `https://host[:port]`, and `http://host:port`
    /// (plain HTTP only when the scheme says so, e.g. for a local simulator). A trailing `/`
    /// is tolerated; any other path, a query, a fragment or user info is rejected.
    pub fn parse(text: &str) -> Result<Endpoint, EndpointError> {
        let given = text.trim();
        if given.is_empty() {
            return Err(EndpointError::Empty);
        }
        // Messages quote the endpoint, but never a password written into it.
        let shown = without_user_information(given);
        let (https, rest) = match given.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
            Some((scheme, _)) => {
                return Err(EndpointError::Scheme {
                    given: shown,
                    scheme: scheme.to_string(),
                })
            }
            None => (true, given),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let extra = |what| EndpointError::Extra {
            given: shown.clone(),
            what,
        };
        if authority.contains('?') {
            return Err(extra("a query"));
        }
        if authority.contains('#') {
            return Err(extra("a fragment"));
        }
        if authority.contains('/') {
            return Err(extra("a path"));
        }
        if authority.contains('@') {
            return Err(extra("user information"));
        }
        if authority.is_empty() {
            return Err(EndpointError::Invalid {
                given: shown.clone(),
                reason: "no host".into(),
            });
        }
        let scheme = if https { "https" } else { "http" };
        let url = url::Url::parse(&format!("{scheme}://{authority}/")).map_err(|e| {
            EndpointError::Invalid {
                given: shown.clone(),
                reason: e.to_string(),
            }
        })?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| EndpointError::Invalid {
                given: shown.clone(),
                reason: "no host".into(),
            })?
            .to_string();
        if let Some(url::Host::Domain(name)) = url.host() {
            dns_name_defect(name).map_err(|reason| EndpointError::Invalid {
                given: shown.clone(),
                reason,
            })?;
        }
        Ok(Endpoint {
            https,
            host,
            port: url.port(),
        })
    }

    /// Whether requests go over HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Whether the host is this machine: `localhost` (or a name under `.localhost`, which
    /// resolvers keep on loopback), an address in 127.0.0.0/8, or `::1`. Only these may be
    /// reached over plain HTTP without `insecure` (the provider's policy).
    /// Whether the host is this machine (`localhost` or a loopback address).
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        host.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    }

    /// The host name or address (IPv6 in brackets).
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The port actually used.
    pub(crate) fn port(&self) -> u16 {
        self.port.unwrap_or(if self.https { 443 } else { 80 })
    }

    /// The `Host` header value: host, plus `:port` when not the scheme default.
    pub fn host_header(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// `scheme://host[:port]` without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.host_header()
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base_url())
    }
}

impl std::str::FromStr for Endpoint {
    type Err = EndpointError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        Endpoint::parse(s).unwrap().to_string()
    }

    #[test]
    fn a_password_in_the_endpoint_is_refused_without_being_shown() {
        for given in [
            "https://user:Pa55wordQQ@127.0.0.1:8443",
            "user:Pa55wordQQ@intersight.com",
            "https://user:Pa55wordQQ@host/api/v1",
            "ftp://user:Pa55wordQQ@host",
        ] {
            let e = Endpoint::parse(given).unwrap_err().to_string();
            assert!(!e.contains("Pa55wordQQ") && !e.contains("user:"), "{e}");
            assert!(e.contains("***@"), "{e}");
        }
    }

    #[test]
    fn accepted_forms() {
        assert_eq!(ok("intersight.com"), "https://intersight.com");
        assert_eq!(ok("  Intersight.COM  "), "https://intersight.com");
        assert_eq!(ok("intersight.com:8443"), "https://intersight.com:8443");
        assert_eq!(ok("https://intersight.com"), "https://intersight.com");
        assert_eq!(ok("https://intersight.com/"), "https://intersight.com");
        assert_eq!(ok("https://intersight.com:443"), "https://intersight.com");
        assert_eq!(ok("HTTPS://h:1"), "https://h:1");
        assert_eq!(ok("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(ok("http://localhost"), "http://localhost");
        // The longest label and the longest name DNS allows.
        let label = "a".repeat(63);
        assert!(Endpoint::parse(&format!("{label}.com.")).is_ok());
        let longest = format!("{}.com", "abcdefghi.".repeat(24) + "abcdefghi");
        assert_eq!(longest.len(), 253);
        assert_eq!(ok(&longest), format!("https://{longest}"));
        assert_eq!(ok("[::1]:9000"), "https://[::1]:9000");
    }

    #[test]
    fn host_header_and_port() {
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(e.host_header(), "127.0.0.1:8080");
        assert_eq!(e.port(), 8080);
        assert!(!e.is_https());
        let e = Endpoint::parse("intersight.com").unwrap();
        assert_eq!(e.host_header(), "intersight.com");
        assert_eq!(e.port(), 443);
        assert!(e.is_https());
    }

    #[test]
    fn loopback_hosts() {
        for local in [
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://sim.localhost:1",
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://[::1]:9000",
            "https://[0:0:0:0:0:0:0:1]",
        ] {
            assert!(Endpoint::parse(local).unwrap().is_loopback(), "{local}");
        }
        for remote in [
            "http://intersight.com",
            "http://10.0.0.1:8080",
            "http://128.0.0.1",
            "http://[::2]",
            "http://[::ffff:127.0.0.1]",
            "http://localhost.example.com",
            "http://mylocalhost",
            "http://0.0.0.0",
        ] {
            assert!(!Endpoint::parse(remote).unwrap().is_loopback(), "{remote}");
        }
    }

    #[test]
    fn rejected_forms() {
        assert_eq!(Endpoint::parse("  "), Err(EndpointError::Empty));
        for (s, needle) in [
            ("ftp://h", "scheme"),
            ("intersight.com/api/v1", "path"),
            ("https://h/x", "path"),
            ("https://h?x=1", "query"),
            ("https://h#f", "fragment"),
            ("https://u:p@h", "user information"),
            ("https://", "no host"),
            ("h:99999", "valid"),
            ("h:abc", "valid"),
            (
                format!("https://{}.example.com", "a".repeat(64)).as_str(),
                "a label of the host name (a part between dots) is 64 characters long; a \
                 label has at most 63",
            ),
            (
                format!("{}comx", "abcdefghi.".repeat(25)).as_str(),
                "the host name is 254 characters long; a host name has at most 253",
            ),
            ("https://a..b.com", "empty label"),
        ] {
            let err = Endpoint::parse(s).unwrap_err().to_string();
            assert!(err.contains(needle), "{s}: {err}");
        }
    }
}
