//! The Intersight REST API client: signing, query/filter building, paging, retries, errors.
//! It knows nothing of Terraform.
//!
//! Log records (requests, retries, page plans) go to the sink an application sets with
//! [`log::set_sink`]; without one they go nowhere.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use intersight_client::{self as api, filter::{Filter, Literal}};
//! let config = api::ClientConfig::new(
//!     api::Endpoint::parse("intersight.com")?,
//!     "key-id".into(),
//!     api::SecretKey::from_pem_or_path("/path/to/SecretKey.txt")?,
//! );
//! let client = api::Client::new(config)?;
//! let query = api::ListQuery {
//!     filter: Some(Filter::eq("User.Moid", Literal::string("5f..."))?),
//!     ..api::ListQuery::new("iam/OAuthTokens")
//! };
//! let cancel = tokio_util::sync::CancellationToken::new();
//! // A decoder turns each page's JSON into items as it arrives (the provider's writes
//! // Terraform's encoding of each object; see `paging::PageDecoder`).
//! # #[derive(Clone)] struct Moids;
//! # struct Moid(String);
//! # impl api::HasMoid for Moid { fn moid(&self) -> &str { &self.0 } }
//! # impl api::paging::PageDecoder for Moids {
//! #     type Item = Moid;
//! #     fn decode_page(&self, _: &[u8], _: usize, _: &api::Cancellation) -> serde_json::Result<api::paging::Page<Moid>> { unimplemented!() }
//! # }
//! let listing = client.list_with(&query, &Moids, &cancel).await?;
//! println!("{} objects in {} requests", listing.items.len(), listing.stats.requests);
//! # Ok(()) }
//! ```

// Lints in the manner of rustls (the workspace's `[workspace.lints]`): no unsafe code but
// the one justified block in `memory` (with `#[allow(unsafe_code)]` and a SAFETY comment).

pub(crate) mod crypto;
pub(crate) mod endpoint;
pub mod error;
pub mod filter;
// Where the workspace's test keys are, for the unit tests that read one.
#[cfg(test)]
#[path = "../../../tests/key_material/fixture.rs"]
mod key_material;
pub mod keys;
pub mod log;
mod memory;
pub mod oauth;
pub mod paging;
pub(crate) mod pem_source;
pub(crate) mod proxy;
pub mod signing;
pub(crate) mod transport;

use std::fmt;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use endpoint::Endpoint;
pub use error::{
    Attempts, ConfigError, EndpointError, Error, KeyError, TlsProblem, TransportErrorKind,
};
pub use filter::{Filter, Literal, Property};
pub use keys::{KeyKind, SecretKey};
pub use oauth::ClientCredentials;
pub use proxy::ProxyConfig;
pub use tokio_util::sync::CancellationToken as Cancellation;
pub use transport::{Backoff, TlsOptions, RETRIED_STATUSES};

/// Default per-request timeout (a page of 1000 objects is a few MiB).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit for making a connection (a host that accepts TCP but never completes TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Default `$top`: the documented maximum, as Cisco recommends for large collections.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// The largest `$top` the API documents.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default number of page requests in flight at once, across all reads of one client.
pub const DEFAULT_PARALLELISM: usize = 4;
/// The `User-Agent` of a client whose configuration names none.
pub const DEFAULT_USER_AGENT: &str = concat!("intersight-client/", env!("CARGO_PKG_VERSION"));
/// Default cap on one response body.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;
/// The longest request target (path and query, `$filter` encoded) a page request may have,
/// 60 KiB. The HTTP library refuses a URL (scheme, host and port included) of 64 KiB or more;
/// this leaves room for any endpoint a host name can spell (253 bytes). A read whose page
/// requests would be longer fails with [`Error::RequestTooLong`] before any request is sent.
/// Intersight, or a proxy on the way, may refuse shorter ones (HTTP 414 or 431).
pub const MAX_REQUEST_TARGET_BYTES: usize = 60 * 1024;
/// The longest URL the HTTP library accepts (`http::Uri`'s limit).
const MAX_URL_BYTES: usize = u16::MAX as usize - 1;

/// Everything needed to talk to one Intersight account.
pub struct ClientConfig {
    /// Where the API is.
    pub endpoint: Endpoint,
    /// An API key that signs every request, or OAuth client credentials for Bearer tokens.
    pub credentials: Credentials,
    /// Certificate checking and extra trusted CAs.
    pub tls: TlsOptions,
    /// Proxy variables (`HTTPS_PROXY`, `NO_PROXY`, …); [`ClientConfig::new`] takes them from
    /// the process environment, [`ProxyConfig::from_vars`] from any map.
    pub proxy: ProxyConfig,
    /// Limit for one request, from sending it to the end of its body.
    pub request_timeout: Duration,
    /// Limit for making a connection (TCP and TLS handshake); `request_timeout` when shorter.
    pub connect_timeout: Duration,
    /// Retries after the first attempt for transient failures.
    pub max_retries: u32,
    /// `$top`, 1..=1000.
    pub page_size: u32,
    /// Page requests in flight at once across every read of this client, at least 1.
    pub parallelism: usize,
    /// Delays between retries.
    pub backoff: Backoff,
    /// Responses larger than this fail with [`Error::BodyTooLarge`].
    pub max_page_bytes: usize,
    /// How collections are paged (the default, or the official provider's way for benchmarks).
    pub paging: paging::Paging,
    /// The most page requests one read may plan or make per attempt
    /// (`paging::MAX_PAGES_PER_READ` by default).
    pub max_pages_per_read: u64,
    /// The `User-Agent` of every request ([`DEFAULT_USER_AGENT`] by default).
    pub user_agent: String,
}

/// How a client authenticates: exactly one kind of credentials.
#[derive(Debug)]
pub enum Credentials {
    /// Every request signed with the API key (HTTP signatures, as the official provider does).
    ApiKey {
        /// The API key id (`keyId` of the signature).
        key_id: String,
        /// The key's private key.
        secret_key: SecretKey,
    },
    /// OAuth 2.0 client credentials: every request carries the client's current access token
    /// from the endpoint's `/iam/token` (see [`oauth`]).
    OAuth(ClientCredentials),
}

impl ClientConfig {
    /// A configuration with the defaults for everything but the account, signing with an API key.
    pub fn new(endpoint: Endpoint, key_id: String, secret_key: SecretKey) -> ClientConfig {
        Self::with_credentials(endpoint, Credentials::ApiKey { key_id, secret_key })
    }

    /// A configuration with the defaults for everything but the account and its credentials.
    pub fn with_credentials(endpoint: Endpoint, credentials: Credentials) -> ClientConfig {
        ClientConfig {
            endpoint,
            credentials,
            tls: TlsOptions::default(),
            proxy: ProxyConfig::from_process_env(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            page_size: DEFAULT_PAGE_SIZE,
            parallelism: DEFAULT_PARALLELISM,
            backoff: Backoff::default(),
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            paging: paging::Paging::default(),
            max_pages_per_read: paging::MAX_PAGES_PER_READ,
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint.to_string())
            .field("credentials", &self.credentials)
            .field("tls", &self.tls)
            .field("proxy", &self.proxy)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("page_size", &self.page_size)
            .field("parallelism", &self.parallelism)
            .field("backoff", &self.backoff)
            .field("max_page_bytes", &self.max_page_bytes)
            .field("paging", &self.paging)
            .field("max_pages_per_read", &self.max_pages_per_read)
            .finish()
    }
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Resource path under `/api/v1`, e.g. `iam/OAuthTokens`.
    pub resource: String,
    /// `$filter`; `None` lists every object.
    pub filter: Option<Filter>,
    /// API property names for `$select` (`None`: every property). Paging adds what it needs
    /// itself (`Moid`).
    pub select: Option<Vec<String>>,
    /// Names this read in log lines (`read_id=…`), so each request line can be matched to its
    /// read; empty for none.
    pub read_id: String,
    /// A bound on the whole read (every page, retry and backoff); `None`: unbounded.
    pub timeout: Option<Duration>,
}

impl ListQuery {
    /// A query for every object of `resource`.
    pub fn new(resource: impl Into<String>) -> ListQuery {
        ListQuery {
            resource: resource.into(),
            ..ListQuery::default()
        }
    }

    /// The length in bytes of the longest request target (path and query) a read of this
    /// query may send: a page request with the largest `$top` and `$skip`, its `$filter` and
    /// `$select` encoded as they go on the wire.
    pub fn longest_request_target(&self) -> Result<usize, Error> {
        let filter = self.rendered_filter();
        let select = paging::select_value(self.select.as_deref())?;
        Ok(paging::PageQuery {
            resource: &self.resource,
            filter: filter.as_deref(),
            select: select.as_deref(),
            top: MAX_PAGE_SIZE,
            skip: u64::MAX,
        }
        .path()
        .len())
    }

    /// A stable id for this query: the same resource, filter and selection always give the
    /// same 24 hexadecimal digits (the first 12 bytes of a SHA-256 over them); `read_id` and
    /// `timeout` do not count. Data sources use it as their `id`.
    pub fn stable_id(&self) -> String {
        let mut text = format!("{}?", self.resource);
        if let Some(filter) = &self.filter {
            text.push_str(&filter.render());
        }
        // A selection changes the answer, so it changes the id; without one the id is as before.
        if let Some(select) = &self.select {
            text.push_str("&$select=");
            text.push_str(&select.join(","));
        }
        crypto::sha256(text.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The bytes the `$filter` parameter takes in a request target, once encoded (0: none).
    pub fn encoded_filter_len(&self) -> usize {
        self.rendered_filter()
            .map_or(0, |f| paging::encode_query(&[("$filter", &f)]).len())
    }

    fn rendered_filter(&self) -> Option<String> {
        self.filter
            .as_ref()
            .filter(|f| !f.is_empty())
            .map(Filter::render)
    }

    /// [`Error::RequestTooLong`] when the page requests of this query, sent to `endpoint`,
    /// would exceed [`MAX_REQUEST_TARGET_BYTES`] (or the URL the HTTP library's limit).
    pub fn check_length(&self, endpoint: &Endpoint) -> Result<(), Error> {
        let target = self.longest_request_target()?;
        let limit =
            MAX_REQUEST_TARGET_BYTES.min(MAX_URL_BYTES.saturating_sub(endpoint.base_url().len()));
        if target > limit {
            return Err(Error::RequestTooLong {
                resource: self.resource.clone(),
                length: target,
                limit,
                filter_length: self.encoded_filter_len(),
            });
        }
        Ok(())
    }
}

/// A listed collection and what reading it took.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    /// The objects, ordered by Moid, each Moid once.
    pub items: Vec<T>,
    /// Requests, retries and pages the read took.
    pub stats: ListStats,
}

/// Counters of one [`Client::list_with`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListStats {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Pages received and decoded.
    pub pages: u64,
    /// Requests repeated after transient failures.
    pub retries: u64,
    /// Whole re-reads after the collection changed during a read.
    pub rereads: u64,
}

/// Objects that have a Moid (used to deduplicate pages).
pub trait HasMoid {
    /// The Moid, or "" when the object has none.
    fn moid(&self) -> &str;
}

/// An Intersight API client; cheap to share behind an `Arc`, reuses connections. One client
/// has one connection pool and `parallelism` permits for page requests, shared by every read
/// made through it at the same time.
pub struct Client {
    transport: std::sync::Arc<transport::Transport>,
    paging: paging::PagingSettings,
    /// The API key's kind; `None` with OAuth.
    key_kind: Option<KeyKind>,
}

/// Which kind of credentials a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// Requests signed with an API key.
    ApiKey,
    /// OAuth client credentials and Bearer tokens.
    OAuth,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.transport.endpoint().to_string())
            .field("key", &self.key_kind)
            .field("oauth", &self.transport.token_source())
            .field("page_size", &self.paging.page_size)
            .field("parallelism", &self.paging.parallelism)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the client; TLS and setting errors surface here rather than at the first request.
    pub fn new(config: ClientConfig) -> Result<Client, ConfigError> {
        if config.page_size == 0 || config.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::Setting {
                name: "page_size",
                reason: format!("{} is not within 1..={MAX_PAGE_SIZE}", config.page_size),
            });
        }
        if config.parallelism == 0 {
            return Err(ConfigError::Setting {
                name: "parallelism",
                reason: "must be at least 1".into(),
            });
        }
        if config.request_timeout.is_zero() {
            return Err(ConfigError::Setting {
                name: "request_timeout",
                reason: "must be more than zero".into(),
            });
        }
        let (auth, key_kind) = match config.credentials {
            Credentials::ApiKey { key_id, secret_key } => {
                if key_id.trim().is_empty() || key_id.contains(['"', '\r', '\n']) {
                    return Err(ConfigError::Setting {
                        name: "key_id",
                        reason: "must be a non-empty API key id without quotes or line breaks"
                            .into(),
                    });
                }
                let kind = secret_key.kind();
                (
                    transport::Auth::ApiKey {
                        key_id,
                        key: std::sync::Arc::new(secret_key),
                    },
                    Some(kind),
                )
            }
            Credentials::OAuth(credentials) => {
                if credentials.client_id().is_empty() {
                    return Err(ConfigError::Setting {
                        name: "client_id",
                        reason: "must not be empty".into(),
                    });
                }
                (
                    transport::Auth::OAuth(std::sync::Arc::new(oauth::TokenSource::new(
                        credentials,
                    ))),
                    None,
                )
            }
        };
        let transport = transport::Transport::new(transport::TransportSettings {
            endpoint: config.endpoint,
            auth,
            tls: config.tls,
            proxy: config.proxy,
            timeout: config.request_timeout,
            connect_timeout: config.connect_timeout,
            max_retries: config.max_retries,
            backoff: config.backoff,
            body_limit: config.max_page_bytes,
            max_connections: config.parallelism,
            user_agent: config.user_agent,
        })?;
        Ok(Client {
            transport: std::sync::Arc::new(transport),
            paging: paging::PagingSettings {
                page_size: config.page_size,
                parallelism: config.parallelism,
                permits: transport::Permits::new(config.parallelism),
                paging: config.paging,
                max_pages: config.max_pages_per_read.max(1),
            },
            key_kind,
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        self.transport.endpoint()
    }

    /// Which kind of credentials this client uses.
    pub fn auth_kind(&self) -> AuthKind {
        match self.transport.token_source() {
            Some(_) => AuthKind::OAuth,
            None => AuthKind::ApiKey,
        }
    }

    /// With OAuth: the token requests sent so far (retries included) and the tokens received.
    pub fn token_counts(&self) -> Option<(u64, u64)> {
        self.transport
            .token_source()
            .map(|s| (s.requests(), s.tokens()))
    }

    /// With OAuth: the client id (not a secret).
    pub fn client_id(&self) -> Option<&str> {
        self.transport.token_source().map(|s| s.client_id())
    }

    /// Reads every object of the collection that matches the query's filter, ordered by Moid,
    /// with each page decoded by `decoder` as it arrives. Page requests hold one of the client's
    /// `parallelism` permits each; `query.timeout` bounds the whole read (pages, retries and
    /// backoff waits), ending it with [`Error::ReadTimeout`].
    pub async fn list_with<D: paging::PageDecoder>(
        &self,
        query: &ListQuery,
        decoder: &D,
        cancel: &CancellationToken,
    ) -> Result<Listing<D::Item>, Error> {
        // A URL the HTTP library would refuse must fail here, as what it is, and not as a
        // request that "could not be built".
        query.check_length(self.endpoint())?;
        paging::read_collection(&self.transport, &self.paging, query, decoder, cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_querys_stable_id_is_a_digest_of_resource_filter_and_selection_only() {
        let plain = ListQuery::new("iam/OAuthTokens");
        // SHA-256 of "iam/OAuthTokens?", first 12 bytes: ids given out before stay the same.
        assert_eq!(plain.stable_id(), "f6799680bf02c5a023cb26b5");

        let Ok(filter) = Filter::eq("Name", Literal::string("a")) else {
            panic!("a valid filter");
        };
        let narrowed = ListQuery {
            filter: Some(filter),
            select: Some(vec!["Name".into(), "Moid".into()]),
            ..plain
        };
        // SHA-256 of "iam/OAuthTokens?Name eq 'a'&$select=Name,Moid".
        assert_eq!(narrowed.stable_id(), "8e21de559763e1e1573b7df3");

        // What names or bounds a read does not change what it asks for.
        let same = ListQuery {
            read_id: "read-7".into(),
            timeout: Some(Duration::from_secs(1)),
            ..narrowed.clone()
        };
        assert_eq!(same.stable_id(), narrowed.stable_id());
        let other_selection = ListQuery {
            select: Some(vec!["Moid".into()]),
            ..narrowed.clone()
        };
        assert_ne!(other_selection.stable_id(), narrowed.stable_id());
    }
}
