//! What the provider's unit tests build configurations with and read diagnostics by.

use crate::cty::{Diagnostics, Value};

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
