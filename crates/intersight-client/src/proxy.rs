//! Proxy settings from environment variables, read by us rather than by the HTTP library, so
//! that they come from the environment map the provider was given, `NO_PROXY=*` bypasses every
//! host (IP endpoints included), and a malformed proxy URL is an error instead of being ignored.
//!
//! Variables, first non-empty wins: `HTTPS_PROXY`, `https_proxy` for `https://` endpoints;
//! `HTTP_PROXY`, `http_proxy` for `http://` ones; then `ALL_PROXY`, `all_proxy` for both (the
//! order of Go's `httpproxy.FromEnvironment`, which the official provider uses, plus curl's
//! `ALL_PROXY`). `NO_PROXY`, `no_proxy`: a comma-separated list of `*`, host names (matching the
//! name and its subdomains; a leading `.` is ignored), IP addresses and CIDR blocks, each with
//! an optional `:port`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::error::ConfigError;

/// Where the proxy variables of one scheme are looked up, in order.
const HTTPS_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
const HTTP_VARS: [&str; 4] = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];
const NO_PROXY_VARS: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// The proxy variables of an environment (only these are kept).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for ProxyConfig {
    // Values may hold proxy passwords: show which variables are set, not what they hold.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("set", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A proxy to use: its URL (credentials included, for the library) and how to name it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProxyUrl {
    url: url::Url,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.display_name())
    }
}

impl ProxyUrl {
    /// `host:port`, never the credentials: what messages and logs may show.
    pub(crate) fn display_name(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        }
    }

    /// The full URL, credentials included (only for the HTTP library).
    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// The password in the URL, if any (so error texts can be scrubbed of it).
    pub(crate) fn password(&self) -> Option<String> {
        self.url.password().map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
    }
}

impl ProxyConfig {
    /// No proxy for anything.
    pub fn direct() -> ProxyConfig {
        ProxyConfig::default()
    }

    /// The proxy variables among `vars` (any environment map or iterator of pairs).
    pub fn from_vars<I, K, V>(vars: I) -> ProxyConfig
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let wanted = |k: &str| {
            HTTPS_VARS.contains(&k) || HTTP_VARS.contains(&k) || NO_PROXY_VARS.contains(&k)
        };
        ProxyConfig {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, v)| wanted(k) && !v.trim().is_empty())
                .collect(),
        }
    }

    /// The proxy variables of this process's environment.
    pub(crate) fn from_process_env() -> ProxyConfig {
        ProxyConfig::from_vars(std::env::vars())
    }

    fn first(&self, names: &[&'static str]) -> Option<(&'static str, &str)> {
        names
            .iter()
            .find_map(|n| self.vars.get(*n).map(|v| (*n, v.trim())))
    }

    /// The proxy for requests to `scheme://host:port`, or `None` to connect directly. A
    /// malformed proxy variable that would be used is an error naming the variable.
    pub(crate) fn proxy_for(
        &self,
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Result<Option<ProxyUrl>, ConfigError> {
        let names: &[&'static str] = if scheme == "https" {
            &HTTPS_VARS
        } else {
            &HTTP_VARS
        };
        let Some((var, value)) = self.first(names) else {
            return Ok(None);
        };
        if let Some((_, no_proxy)) = self.first(&NO_PROXY_VARS) {
            if no_proxy_matches(no_proxy, host, port) {
                return Ok(None);
            }
        }
        parse_proxy_url(value)
            .map(Some)
            .map_err(|reason| ConfigError::Proxy {
                var: var.to_string(),
                reason,
            })
    }
}

/// Parses a proxy URL as Go does (no scheme means `http://`). The reason never quotes the value.
fn parse_proxy_url(value: &str) -> Result<ProxyUrl, String> {
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| format!("not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme {:?} is not supported: use http:// or https://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if url.path() != "/" && !url.path().is_empty() || url.query().is_some() {
        return Err("a proxy URL is scheme://[user:password@]host[:port], without a path".into());
    }
    Ok(ProxyUrl { url })
}

/// Whether `NO_PROXY`'s list exempts `host:port` (see the module documentation).
fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let host_ip: Option<IpAddr> = host.parse().ok();
    list.split([',', ' '])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (pattern, entry_port) = split_port(entry);
            if entry_port.is_some_and(|p| p != port) {
                return false;
            }
            if let Some((net, bits)) = pattern.split_once('/') {
                return match (net.parse::<IpAddr>(), bits.parse::<u8>(), host_ip) {
                    (Ok(net), Ok(bits), Some(ip)) => in_cidr(ip, net, bits),
                    _ => false,
                };
            }
            if let Ok(ip) = pattern.parse::<IpAddr>() {
                return host_ip == Some(ip);
            }
            let domain = pattern
                .trim_start_matches("*.")
                .trim_start_matches('.')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            !domain.is_empty()
                && (host == domain
                    || host
                        .strip_suffix(&domain)
                        .is_some_and(|rest| rest.ends_with('.')))
        })
}

/// `host:port` / `[v6]:port` / `v6` / `host` → (host, port).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((ip, after)) = rest.split_once(']') {
            return (ip, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match entry.rsplit_once(':') {
        // More than one colon without brackets: an IPv6 address (or block), no port.
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> ProxyConfig {
        ProxyConfig::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn proxy(c: &ProxyConfig, scheme: &str, host: &str, port: u16) -> Option<String> {
        c.proxy_for(scheme, host, port)
            .unwrap()
            .map(|p| p.display_name())
    }

    #[test]
    fn variables_by_scheme_and_precedence() {
        let c = config(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("http_proxy", "plain:3"),
            ("ALL_PROXY", "http://all:4"),
            ("PATH", "/bin"),
        ]);
        assert_eq!(proxy(&c, "https", "h", 443).as_deref(), Some("upper:1"));
        assert_eq!(proxy(&c, "http", "h", 80).as_deref(), Some("plain:3"));
        let c = config(&[("https_proxy", "http://lower:2"), ("HTTPS_PROXY", " ")]);
        assert_eq!(proxy(&c, "https", "h", 443).as_deref(), Some("lower:2"));
        let c = config(&[("all_proxy", "https://all")]);
        assert_eq!(proxy(&c, "https", "h", 443).as_deref(), Some("all:443"));
        assert_eq!(proxy(&c, "http", "h", 80).as_deref(), Some("all:443"));
        assert_eq!(proxy(&config(&[]), "https", "h", 443), None);
        // Only proxy variables are kept.
        assert_eq!(format!("{c:?}"), r#"ProxyConfig { set: ["all_proxy"] }"#);
    }

    #[test]
    fn no_proxy_star_bypasses_every_host_including_ips() {
        for no_proxy in ["*", " * ", "example.com,*"] {
            let c = config(&[("HTTPS_PROXY", "http://p:3128"), ("NO_PROXY", no_proxy)]);
            for host in ["intersight.com", "127.0.0.1", "10.1.2.3", "::1", "[::1]"] {
                assert_eq!(proxy(&c, "https", host, 443), None, "{no_proxy} {host}");
            }
        }
    }

    #[test]
    fn no_proxy_domains_ips_cidrs_and_ports_as_curl_does() {
        let c = config(&[
            ("HTTPS_PROXY", "http://p:3128"),
            (
                "no_proxy",
                ".corp.example, appliance.lab ,10.0.0.0/8,192.168.1.7,fd00::/8,[::1],ports.test:8443",
            ),
        ]);
        let direct = |host: &str, port: u16| proxy(&c, "https", host, port).is_none();
        assert!(direct("corp.example", 443));
        assert!(direct("a.corp.example", 443));
        assert!(direct("APPLIANCE.lab", 443));
        assert!(direct("x.appliance.lab", 443));
        assert!(!direct("notappliance.lab", 443));
        assert!(!direct("appliance.lab.evil", 443));
        assert!(direct("10.20.30.40", 443));
        assert!(!direct("11.0.0.1", 443));
        assert!(direct("192.168.1.7", 443));
        assert!(!direct("192.168.1.8", 443));
        assert!(direct("fd12::1", 443));
        assert!(direct("::1", 443));
        assert!(direct("ports.test", 8443));
        assert!(!direct("ports.test", 443));
        assert!(!direct("intersight.com", 443));
    }

    #[test]
    fn malformed_proxy_is_an_error_naming_the_variable_not_the_password() {
        for (value, why) in [
            ("http://alice:s3cr3t@[bad", "not a valid URL"),
            ("socks5://alice:s3cr3t@p:1080", "not supported"),
            ("http://alice:s3cr3t@p:99999", "not a valid URL"),
            ("http://alice:s3cr3t@p:3128/path", "without a path"),
        ] {
            let c = config(&[("https_proxy", value)]);
            let err = c.proxy_for("https", "intersight.com", 443).unwrap_err();
            let text = err.to_string();
            assert!(
                matches!(&err, ConfigError::Proxy { var, .. } if var == "https_proxy"),
                "{err:?}"
            );
            assert!(text.contains("https_proxy") && text.contains(why), "{text}");
            assert!(
                !text.contains("s3cr3t") && !text.contains("alice"),
                "{text}"
            );
        }
        // Not consulted for this endpoint: no error.
        let c = config(&[("HTTPS_PROXY", "socks5://p"), ("NO_PROXY", "*")]);
        assert_eq!(c.proxy_for("https", "h", 443).unwrap(), None);
        assert_eq!(c.proxy_for("http", "h", 80).unwrap(), None);
    }

    #[test]
    fn proxy_names_never_carry_credentials() {
        let c = config(&[("HTTPS_PROXY", "http://me:pa%40ss@proxy.corp:8080/")]);
        let p = c.proxy_for("https", "h", 443).unwrap().unwrap();
        assert_eq!(p.display_name(), "proxy.corp:8080");
        assert_eq!(format!("{p:?}"), "ProxyUrl(proxy.corp:8080)");
        assert_eq!(p.password().as_deref(), Some("pa@ss"));
        assert_eq!(p.url().username(), "me");
    }
}
