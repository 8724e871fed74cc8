//! What the provider's unit tests build configurations and read contexts with and read
//! diagnostics by.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::cty::{Diagnostics, Value};
use crate::intersight::{Client, ClientConfig, Endpoint, SecretKey};
use crate::provider::budget::ResultsBudget;
use crate::provider::ReadContext;

/// An object value (a configuration, or a block's value) holding `attrs`.
pub(crate) fn object<const N: usize>(attrs: [(&str, Value); N]) -> Value {
    Value::Object(attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The attribute path of each diagnostic, as text (empty for one without a path).
pub(crate) fn attribute_paths(diagnostics: &Diagnostics) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            d.attribute
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// A read context whose client points at a port where nothing listens.
pub(crate) fn unreachable_context() -> ReadContext {
    let key = SecretKey::from_pem_or_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/signing/ec_sec1.pem"
    ))
    .unwrap();
    let config = ClientConfig::new(
        Endpoint::parse("http://127.0.0.1:9").unwrap(),
        "a/b/c".into(),
        key,
    );
    ReadContext {
        client: Arc::new(Client::new(config).unwrap()),
        cancel: CancellationToken::new(),
        auth: Arc::default(),
        results: Arc::new(ResultsBudget::new(u64::MAX).share()),
    }
}
