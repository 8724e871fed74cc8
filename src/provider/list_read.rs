//! The read shared by list data sources: arguments → filter → every matching object through
//! the paginated client → `results`, with the arguments echoed back and a deterministic `id`.

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::cty::{Diagnostic, Diagnostics, Type, Value};
use crate::intersight::{HasMoid, ListQuery};

use super::query::{build_filter, QuerySpec};
use super::schema::Schema;
use super::{flatten, ReadContext};

/// What a list data source declares: its API collection and how its arguments filter it.
pub struct ListSpec {
    /// The collection below `/api/v1/`, e.g. `iam/OAuthTokens`.
    pub resource: &'static str,
    pub query: QuerySpec,
}

/// One API object kept as its raw JSON text until it is flattened: far smaller than a parsed
/// tree while the remaining pages arrive.
pub struct RawObject {
    moid: String,
    json: Box<RawValue>,
}

impl RawObject {
    /// The object's JSON text as the API sent it.
    pub fn json(&self) -> &str {
        self.json.get()
    }
}

impl HasMoid for RawObject {
    fn moid(&self) -> &str {
        &self.moid
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct MoidOnly {
            #[serde(rename = "Moid")]
            moid: String,
        }
        let json = Box::<RawValue>::deserialize(d)?;
        let MoidOnly { moid } = serde_json::from_str(json.get())
            .map_err(|e| D::Error::custom(format!("object without a Moid: {e}")))?;
        Ok(RawObject { moid, json })
    }
}

pub async fn read(
    spec: &ListSpec,
    schema: &Schema,
    ctx: ReadContext,
    config: Value,
) -> Result<(Value, Diagnostics), Diagnostics> {
    let mut diags = Diagnostics::new();
    let Ok(filter) = build_filter(&spec.query, &schema.block, &config, &mut diags) else {
        return Err(diags);
    };
    let Some(Type::List(element)) = schema.block.attribute("results").map(|a| &a.ty) else {
        return Err(Diagnostic::error(
            "Internal error",
            "the data source schema has no `results` list",
        )
        .into());
    };
    let Type::Object(element) = element.as_ref() else {
        return Err(
            Diagnostic::error("Internal error", "`results` elements are not objects").into(),
        );
    };
    let query = ListQuery {
        resource: spec.resource.to_string(),
        filter,
    };
    let id = query_id(&query);
    let started = std::time::Instant::now();

    let listing = match ctx.client.list::<RawObject>(&query, &ctx.cancel).await {
        Ok(listing) => listing,
        Err(e) => {
            diags.push(super::errors::api_error_diagnostic(&e, spec.resource));
            return Err(diags);
        }
    };

    let mut results = Vec::with_capacity(listing.items.len());
    for raw in listing.items {
        match flatten_raw(element, &raw) {
            Ok(value) => results.push(value),
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Intersight returned an object the provider cannot read",
                    format!(
                        "Object {} in {} is not a JSON object: {e}",
                        raw.moid, spec.resource
                    ),
                ));
                return Err(diags);
            }
        }
    }

    // One line per read, so benchmarks (scripts/bench) can take the provider's own read time
    // from the log instead of Terraform's whole plan.
    crate::logging::debug(
        "list read done",
        &[
            ("resource", &spec.resource),
            ("elapsed_ms", &started.elapsed().as_millis()),
            ("objects", &results.len()),
            ("requests", &listing.stats.requests),
            ("pages", &listing.stats.pages),
            ("retries", &listing.stats.retries),
        ],
    );

    let Value::Object(mut state) = config else {
        return Err(
            Diagnostic::error("Internal error", "the configuration is not an object").into(),
        );
    };
    state.insert("id".to_string(), Value::String(id));
    state.insert("results".to_string(), Value::List(results));
    Ok((Value::Object(state), diags))
}

/// One API object as a `results` element (of the object type `element`); fails when the
/// object's JSON text is not a JSON object.
pub fn flatten_raw(
    element: &std::collections::BTreeMap<String, Type>,
    raw: &RawObject,
) -> Result<Value, serde_json::Error> {
    let map = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw.json.get())?;
    Ok(flatten::object(element, &map))
}

/// A stable id for a query: the same arguments always give the same id.
fn query_id(query: &ListQuery) -> String {
    let mut hasher = Sha256::new();
    hasher.update(query.resource.as_bytes());
    hasher.update(b"?");
    if let Some(filter) = &query.filter {
        hasher.update(filter.render().as_bytes());
    }
    let digest = hasher.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}
