//! The JSON form of cty types (`"string"`, `["list","string"]`, `["object",{...}]`), used in
//! schema attribute types and in `dynamic` values on the wire.
//!
//! The form is cty's own: primitives are bare strings, collections are `[kind, element]`,
//! objects are `["object", {name: type}]` (an optional third element listing optional
//! attributes is accepted and ignored: providers never receive type constraints with
//! defaults), tuples are `["tuple", [types]]`. Output is compact and object keys are sorted,
//! as cty writes it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::Type;

/// Deepest type nesting accepted. serde_json already refuses documents nested deeper than
/// 128 levels; this keeps the limit explicit and independent of that default.
pub(crate) const MAX_TYPE_DEPTH: usize = 128;

/// Why a type's JSON form was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TypeJsonError {
    /// The bytes are not JSON.
    #[error("type JSON is not valid JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// Valid JSON that names no cty type; the text says what is wrong.
    #[error("invalid type JSON: {0}")]
    Invalid(String),
    /// Types nested deeper than the limit (128 levels).
    #[error("type JSON is nested deeper than {MAX_TYPE_DEPTH} levels")]
    TooDeep,
}

impl Type {
    /// The type's JSON form as bytes, e.g. `["list","string"]` (what `Schema.Attribute.type` carries).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.write_json(&mut out);
        out
    }

    /// Appends the type's JSON form to `out` (used by the msgpack encoder for `dynamic` values).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Type::String => out.extend_from_slice(b"\"string\""),
            Type::Number => out.extend_from_slice(b"\"number\""),
            Type::Bool => out.extend_from_slice(b"\"bool\""),
            Type::Dynamic => out.extend_from_slice(b"\"dynamic\""),
            Type::List(e) => write_collection(out, "list", e),
            Type::Set(e) => write_collection(out, "set", e),
            Type::Map(e) => write_collection(out, "map", e),
            Type::Object(attrs) => {
                out.extend_from_slice(b"[\"object\",{");
                for (i, (name, ty)) in attrs.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_string(out, name);
                    out.push(b':');
                    ty.write_json(out);
                }
                out.extend_from_slice(b"}]");
            }
            Type::Tuple(elems) => {
                out.extend_from_slice(b"[\"tuple\",[");
                for (i, ty) in elems.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    ty.write_json(out);
                }
                out.extend_from_slice(b"]]");
            }
        }
    }

    /// Parses the JSON form of a type.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Type, TypeJsonError> {
        let json: Json = serde_json::from_slice(bytes)?;
        type_from_json(&json, 0)
    }
}

fn write_collection(out: &mut Vec<u8>, kind: &str, element: &Type) {
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",");
    element.write_json(out);
    out.push(b']');
}

fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn type_from_json(json: &Json, depth: usize) -> Result<Type, TypeJsonError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(TypeJsonError::TooDeep);
    }
    match json {
        Json::String(name) => match name.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "dynamic" => Ok(Type::Dynamic),
            other => Err(invalid(format!("unknown primitive type {other:?}"))),
        },
        Json::Array(parts) => {
            let kind = parts
                .first()
                .and_then(Json::as_str)
                .ok_or_else(|| invalid("a complex type must start with its kind as a string"))?;
            match kind {
                "list" | "set" | "map" => {
                    if parts.len() != 2 {
                        return Err(invalid(format!(
                            "{kind} type must have exactly one element type, got {} items",
                            parts.len().saturating_sub(1)
                        )));
                    }
                    let element = Box::new(type_from_json(&parts[1], depth + 1)?);
                    Ok(match kind {
                        "list" => Type::List(element),
                        "set" => Type::Set(element),
                        _ => Type::Map(element),
                    })
                }
                "object" => {
                    // The optional third element lists optional attributes; it only matters
                    // for type constraints with defaults, never for values.
                    if parts.len() != 2 && parts.len() != 3 {
                        return Err(invalid("object type must be [\"object\", {attributes}]"));
                    }
                    let attrs = parts[1]
                        .as_object()
                        .ok_or_else(|| invalid("object attributes must be a JSON object"))?;
                    if let Some(optional) = parts.get(2) {
                        let names = optional.as_array().ok_or_else(|| {
                            invalid("object optional attributes must be an array of names")
                        })?;
                        if !names
                            .iter()
                            .all(|n| n.as_str().is_some_and(|n| attrs.contains_key(n)))
                        {
                            return Err(invalid(
                                "object optional attributes must name attributes of the object",
                            ));
                        }
                    }
                    let mut out = BTreeMap::new();
                    for (name, ty) in attrs {
                        out.insert(name.clone(), type_from_json(ty, depth + 1)?);
                    }
                    Ok(Type::Object(out))
                }
                "tuple" => {
                    if parts.len() != 2 {
                        return Err(invalid("tuple type must be [\"tuple\", [types]]"));
                    }
                    let elems = parts[1]
                        .as_array()
                        .ok_or_else(|| invalid("tuple element types must be a JSON array"))?;
                    elems
                        .iter()
                        .map(|t| type_from_json(t, depth + 1))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Type::Tuple)
                }
                other => Err(invalid(format!("unknown complex type kind {other:?}"))),
            }
        }
        _ => Err(invalid("a type must be a JSON string or array")),
    }
}

fn invalid(msg: impl Into<String>) -> TypeJsonError {
    TypeJsonError::Invalid(msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str, ty: Type) {
        assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), json);
        assert_eq!(Type::from_json_bytes(json.as_bytes()).unwrap(), ty);
    }

    #[test]
    fn primitives() {
        round_trip("\"string\"", Type::String);
        round_trip("\"number\"", Type::Number);
        round_trip("\"bool\"", Type::Bool);
        round_trip("\"dynamic\"", Type::Dynamic);
    }

    #[test]
    fn collections_objects_tuples() {
        round_trip("[\"list\",\"string\"]", Type::list(Type::String));
        round_trip("[\"set\",\"number\"]", Type::set(Type::Number));
        round_trip(
            "[\"map\",[\"list\",\"bool\"]]",
            Type::map(Type::list(Type::Bool)),
        );
        round_trip(
            "[\"object\",{\"a\":\"string\",\"b\":[\"list\",\"number\"]}]",
            Type::object([("b", Type::list(Type::Number)), ("a", Type::String)]),
        );
        round_trip("[\"object\",{}]", Type::object::<_, String>([]));
        round_trip(
            "[\"tuple\",[\"string\",\"dynamic\"]]",
            Type::Tuple(vec![Type::String, Type::Dynamic]),
        );
    }

    #[test]
    fn object_keys_are_escaped() {
        let ty = Type::object([("a\"b\\c\n\u{1}", Type::String)]);
        let json = ty.to_json_bytes();
        let parsed: Json = serde_json::from_slice(&json).unwrap();
        assert!(parsed[1].get("a\"b\\c\n\u{1}").is_some());
        assert_eq!(Type::from_json_bytes(&json).unwrap(), ty);
    }

    #[test]
    fn optional_attribute_list_is_accepted_and_ignored() {
        let ty = Type::from_json_bytes(br#"["object",{"a":"string","b":"number"},["b"]]"#).unwrap();
        assert_eq!(ty, Type::object([("a", Type::String), ("b", Type::Number)]));
        assert!(Type::from_json_bytes(br#"["object",{"a":"string"},["zz"]]"#).is_err());
    }

    #[test]
    fn whitespace_is_accepted() {
        let ty = Type::from_json_bytes(b" [ \"list\" , \"string\" ] ").unwrap();
        assert_eq!(ty, Type::list(Type::String));
    }

    #[test]
    fn invalid_forms_are_rejected() {
        for bad in [
            "",
            "1",
            "null",
            "\"str\"",
            "[]",
            "[\"list\"]",
            "[\"list\",\"string\",\"string\"]",
            "[\"object\",[]]",
            "[\"tuple\",{}]",
            "[\"capsule\",\"x\"]",
            "{\"a\":1}",
            "[1,\"string\"]",
        ] {
            assert!(Type::from_json_bytes(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let depth = 10_000;
        let json = "[\"list\",".repeat(depth) + "\"string\"" + &"]".repeat(depth);
        assert!(Type::from_json_bytes(json.as_bytes()).is_err());
    }
}
