//! The API client's integration tests, in one binary: the client against in-process test
//! servers that script every answer (`client_common`), and its signing, keys and filters.
//! The modules keep the names of the binaries they were, so that the documents citing
//! `client_transport::...` still name a test.

mod client_common;
#[path = "../../../../tests/key_material/mod.rs"]
mod key_material;
#[path = "../client_common/tokens.rs"]
mod tokens;

mod client_decode;
mod client_filter;
mod client_http2;
mod client_keys;
mod client_oauth;
mod client_paging;
mod client_proxy;
mod client_signing;
mod client_tls;
mod client_transport;
