//! A local Cisco Intersight simulator for `iam/OAuthTokens`: it verifies HTTP
//! signatures as the service does, evaluates the OData subset with its own parser,
//! and injects faults on demand. It is an independent check of the provider, so it
//! shares no code with it.

// A test tool whose API only the workspace's tests use: the workspace lints apply, but its
// ~230 undocumented fields and variants stay so for now.
#![allow(missing_docs)]

pub mod auth;
pub mod dataset;
pub mod faults;
pub mod keys;
pub mod oauth;
pub mod odata;
pub mod scripted;
pub mod server;
pub mod tls;
