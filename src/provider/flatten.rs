//! Turns an Intersight JSON object into a cty value of a data source's `results` element
//! type, generically (names map as in [`super::naming::property_name`]).
//!
//! - strings, including date-times, exactly as the API gives them; numbers and booleans found
//!   where a string is expected are rendered as JSON text;
//! - a JSON property that is absent or null becomes a null scalar, or an empty list for
//!   nested-object and list attributes (so `length(r.tags)` always works);
//! - a related object becomes a one-element list, an array of them a list;
//! - properties the type has no attribute for become the `additional_properties` JSON text
//!   (null when there are none), except ones the API always adds to references (`link`).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::cty::{Number, Type, Value};

use super::naming::property_name;

/// JSON properties that are part of the API's known shapes but have no attribute: they are
/// not "additional" and must not be reported as such.
const KNOWN_UNMAPPED: &[&str] = &["link", "Selector"];

const ADDITIONAL_PROPERTIES: &str = "additional_properties";

/// Flattens one JSON object into a value of the object type `ty`.
pub fn object(ty: &BTreeMap<String, Type>, json: &serde_json::Map<String, Json>) -> Value {
    let mut attrs = BTreeMap::new();
    for (name, attr_ty) in ty {
        if name == ADDITIONAL_PROPERTIES {
            continue;
        }
        let value = json.get(&property_name(name)).unwrap_or(&Json::Null);
        attrs.insert(name.clone(), convert(attr_ty, value));
    }
    if ty.contains_key(ADDITIONAL_PROPERTIES) {
        attrs.insert(
            ADDITIONAL_PROPERTIES.to_string(),
            additional_properties(ty, json),
        );
    }
    Value::Object(attrs)
}

fn additional_properties(
    ty: &BTreeMap<String, Type>,
    json: &serde_json::Map<String, Json>,
) -> Value {
    let known: Vec<String> = ty.keys().map(|k| property_name(k)).collect();
    let extra: serde_json::Map<String, Json> = json
        .iter()
        .filter(|(k, _)| !known.iter().any(|n| n == *k) && !KNOWN_UNMAPPED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if extra.is_empty() {
        Value::Null
    } else {
        Value::String(Json::Object(extra).to_string())
    }
}

fn convert(ty: &Type, json: &Json) -> Value {
    match (ty, json) {
        (Type::List(_) | Type::Set(_), Json::Null) => empty_collection(ty),
        (_, Json::Null) => Value::Null,
        (Type::String, Json::String(s)) => Value::String(s.clone()),
        (Type::String, other) => Value::String(other.to_string()),
        (Type::Bool, Json::Bool(b)) => Value::Bool(*b),
        (Type::Number, Json::Number(n)) => Value::Number(number(n)),
        (Type::List(elem) | Type::Set(elem), Json::Array(items)) => {
            let items = items.iter().map(|item| convert(elem, item)).collect();
            if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            }
        }
        // A single related object where the schema keeps a (max one item) list of them.
        (Type::List(elem), Json::Object(_)) => Value::List(vec![convert(elem, json)]),
        (Type::Object(attrs), Json::Object(map)) => object(attrs, map),
        (Type::Map(elem), Json::Object(map)) => Value::Map(
            map.iter()
                .map(|(k, v)| (k.clone(), convert(elem, v)))
                .collect(),
        ),
        // A shape the type cannot hold (the API changed under us): null rather than a guess.
        _ => Value::Null,
    }
}

fn empty_collection(ty: &Type) -> Value {
    match ty {
        Type::Set(_) => Value::Set(Vec::new()),
        _ => Value::List(Vec::new()),
    }
}

fn number(n: &serde_json::Number) -> Number {
    if let Some(i) = n.as_i64() {
        Number::Int(i)
    } else if let Some(u) = n.as_u64() {
        Number::UInt(u)
    } else {
        match n.as_f64() {
            Some(f) => Number::Float(f),
            None => Number::Decimal(n.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ref_type() -> Type {
        Type::object([
            ("additional_properties", Type::String),
            ("class_id", Type::String),
            ("moid", Type::String),
            ("object_type", Type::String),
            ("selector", Type::String),
        ])
    }

    fn token_type() -> BTreeMap<String, Type> {
        let Type::Object(attrs) = Type::object([
            ("additional_properties", Type::String),
            ("create_time", Type::String),
            ("owners", Type::list(Type::String)),
            ("user", Type::list(ref_type())),
            ("ancestors", Type::list(ref_type())),
            ("display_names", Type::map(Type::list(Type::String))),
            ("nr_version", Type::String),
        ]) else {
            unreachable!()
        };
        attrs
    }

    #[test]
    fn maps_names_nesting_nulls_and_extras() {
        let json = json!({
            "CreateTime": "2024-05-01T10:20:30.123456Z",
            "Owners": null,
            "User": {"ClassId": "mo.MoRef", "ObjectType": "iam.User", "Moid": "u1", "link": "https://x/api/v1/iam/Users/u1"},
            "DisplayNames": {"short": ["a"]},
            "Version": "7",
            "ExtraFeature": {"on": true}
        });
        let Json::Object(map) = json else {
            unreachable!()
        };
        let v = object(&token_type(), &map);
        assert_eq!(
            v.get_attr("create_time"),
            Some(&Value::string("2024-05-01T10:20:30.123456Z"))
        );
        assert_eq!(v.get_attr("owners"), Some(&Value::List(vec![])));
        assert_eq!(v.get_attr("ancestors"), Some(&Value::List(vec![])));
        assert_eq!(v.get_attr("nr_version"), Some(&Value::string("7")));
        assert_eq!(
            v.get_attr("additional_properties"),
            Some(&Value::string(r#"{"ExtraFeature":{"on":true}}"#))
        );
        let user = &v.get_attr("user").and_then(Value::as_elements).unwrap()[0];
        assert_eq!(user.get_attr("moid"), Some(&Value::string("u1")));
        assert_eq!(user.get_attr("selector"), Some(&Value::Null));
        // `link` is a known part of a reference, not an additional property.
        assert_eq!(user.get_attr("additional_properties"), Some(&Value::Null));
        let names = v.get_attr("display_names").unwrap();
        assert_eq!(
            names,
            &Value::Map([("short".to_string(), Value::List(vec![Value::string("a")]))].into())
        );
    }
}
