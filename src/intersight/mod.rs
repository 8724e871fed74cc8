//! The Intersight REST API client: signing, query/filter building, paging, retries, errors.
//! It knows nothing of Terraform.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use terraform_provider_intersight::intersight::{self as api, filter::{Filter, Literal}};
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
//! let listing = client.list::<api::models::IamOAuthToken>(&query, &cancel).await?;
//! println!("{} tokens in {} requests", listing.items.len(), listing.stats.requests);
//! # Ok(()) }
//! ```

pub mod endpoint;
pub mod error;
pub mod filter;
pub mod keys;
pub mod models;
pub mod paging;
pub mod pem_source;
pub mod signing;
pub mod transport;

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

pub use endpoint::Endpoint;
pub use error::{ConfigError, EndpointError, Error, KeyError};
pub use filter::{Filter, Literal, Property};
pub use keys::{KeyKind, SecretKey};
pub use tokio_util::sync::CancellationToken as Cancellation;
pub use transport::{Backoff, TlsOptions};

/// Default per-request timeout (a page of 1000 objects is a few MiB).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default retries after the first attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// Default `$top`: the documented maximum, as Cisco recommends for large collections.
pub const DEFAULT_PAGE_SIZE: u32 = 1000;
/// The largest `$top` the API documents.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Default number of page requests in flight at once.
pub const DEFAULT_PARALLELISM: usize = 4;
/// Default cap on one response body.
pub const DEFAULT_MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Everything needed to talk to one Intersight account.
pub struct ClientConfig {
    pub endpoint: Endpoint,
    pub key_id: String,
    pub secret_key: SecretKey,
    pub tls: TlsOptions,
    /// Limit for one request, from sending it to the end of its body.
    pub request_timeout: Duration,
    /// Retries after the first attempt for transient failures.
    pub max_retries: u32,
    /// `$top`, 1..=1000.
    pub page_size: u32,
    /// Page requests in flight at once, at least 1.
    pub parallelism: usize,
    pub backoff: Backoff,
    /// Responses larger than this fail with [`Error::BodyTooLarge`].
    pub max_page_bytes: usize,
    /// How collections are paged (the default, or the official provider's way for benchmarks).
    pub paging: paging::Paging,
}

impl ClientConfig {
    /// A configuration with the defaults for everything but the account.
    pub fn new(endpoint: Endpoint, key_id: String, secret_key: SecretKey) -> ClientConfig {
        ClientConfig {
            endpoint,
            key_id,
            secret_key,
            tls: TlsOptions::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            page_size: DEFAULT_PAGE_SIZE,
            parallelism: DEFAULT_PARALLELISM,
            backoff: Backoff::default(),
            max_page_bytes: DEFAULT_MAX_PAGE_BYTES,
            paging: paging::Paging::default(),
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("endpoint", &self.endpoint.to_string())
            .field("key_id", &self.key_id)
            .field("secret_key", &self.secret_key)
            .field("tls", &self.tls)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("page_size", &self.page_size)
            .field("parallelism", &self.parallelism)
            .field("backoff", &self.backoff)
            .field("max_page_bytes", &self.max_page_bytes)
            .field("paging", &self.paging)
            .finish()
    }
}

/// What to list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListQuery {
    /// Resource path under `/api/v1`, e.g. `iam/OAuthTokens`.
    pub resource: String,
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
}

/// A listed collection and what reading it took.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    /// The objects, ordered by Moid, each Moid once.
    pub items: Vec<T>,
    pub stats: ListStats,
}

/// Counters of one [`Client::list`] call.
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

/// An Intersight API client; cheap to share behind an `Arc`, reuses connections.
pub struct Client {
    transport: std::sync::Arc<transport::Transport>,
    page_size: u32,
    parallelism: usize,
    paging: paging::Paging,
    key_kind: KeyKind,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.transport.endpoint().to_string())
            .field("key", &self.key_kind)
            .field("page_size", &self.page_size)
            .field("parallelism", &self.parallelism)
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
        if config.key_id.trim().is_empty() || config.key_id.contains(['"', '\r', '\n']) {
            return Err(ConfigError::Setting {
                name: "key_id",
                reason: "must be a non-empty API key id without quotes or line breaks".into(),
            });
        }
        let key_kind = config.secret_key.kind();
        let transport = transport::Transport::new(transport::TransportSettings {
            endpoint: config.endpoint,
            key_id: config.key_id,
            key: config.secret_key,
            tls: config.tls,
            timeout: config.request_timeout,
            max_retries: config.max_retries,
            backoff: config.backoff,
            body_limit: config.max_page_bytes,
            max_connections: config.parallelism,
        })?;
        Ok(Client {
            transport: std::sync::Arc::new(transport),
            page_size: config.page_size,
            parallelism: config.parallelism,
            paging: config.paging,
            key_kind,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        self.transport.endpoint()
    }

    /// Reads every object of the collection that matches the filter, ordered by Moid.
    pub async fn list<T>(
        &self,
        query: &ListQuery,
        cancel: &CancellationToken,
    ) -> Result<Listing<T>, Error>
    where
        T: DeserializeOwned + HasMoid + Send + 'static,
    {
        self.list_with(query, &paging::SerdePages::<T>::new(), cancel)
            .await
    }

    /// As [`Client::list`], with each page decoded by `decoder` as it arrives.
    pub async fn list_with<D: paging::PageDecoder>(
        &self,
        query: &ListQuery,
        decoder: &D,
        cancel: &CancellationToken,
    ) -> Result<Listing<D::Item>, Error> {
        match self.paging {
            paging::Paging::Overlapping => {
                paging::list(
                    &self.transport,
                    query,
                    decoder,
                    self.page_size,
                    self.parallelism,
                    cancel,
                )
                .await
            }
            paging::Paging::OfficialEmulation => {
                paging::list_like_official(&self.transport, query, decoder, self.page_size, cancel)
                    .await
            }
        }
    }
}
