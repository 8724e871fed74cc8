//! Bodies the list faults send instead of or inside a page: floods, padding, bad strings
//! and hostile members, spliced into the serialized page by marker.

use crate::faults::{BadStringKind, HostileMember, HostileShape};
use serde_json::{json, Value};

/// A list body of about `bytes` bytes whose `Results` are tiny objects of the collection's
/// type (`{"Moid":"","ObjectType":"iam.OAuthToken"}`), as many as fit (`flood_page`). They have
/// an `ObjectType`, which a client may require, so that only `$top` stops them.
pub(super) fn flood_page(count: i64, bytes: usize) -> Vec<u8> {
    const OBJECT: &[u8] = br#"{"Moid":"","ObjectType":"iam.OAuthToken"},"#;
    let head = format!(r#"{{"ObjectType":"iam.OAuthToken.List","Count":{count},"Results":["#);
    let objects = bytes.saturating_sub(head.len() + 2) / OBJECT.len();
    let mut body = Vec::with_capacity(head.len() + objects * OBJECT.len() + 2);
    body.extend_from_slice(head.as_bytes());
    for _ in 0..objects {
        body.extend_from_slice(OBJECT);
    }
    if objects > 0 {
        body.pop();
    }
    body.extend_from_slice(b"]}");
    body
}

/// Adds `SimPadding`, a string of `bytes` bytes, to an object (`pad_object_bytes`).
pub(super) fn pad_object(object: &mut Value, bytes: usize) {
    if bytes == 0 {
        return;
    }
    if let Value::Object(map) = object {
        map.insert("SimPadding".into(), Value::String(".".repeat(bytes)));
    }
}

/// Puts a `null` first in an object's `Ancestors` list (`null_in_ancestors`).
pub(super) fn prepend_null_ancestor(object: &mut Value) {
    if let Value::Object(map) = object {
        match map.get_mut("Ancestors") {
            Some(Value::Array(items)) => items.insert(0, Value::Null),
            _ => {
                map.insert("Ancestors".into(), json!([null]));
            }
        }
    }
}

/// Gives an object another class (`wrong_object_type`).
pub(super) fn set_object_type(object: &mut Value, class: &str) {
    if let Value::Object(map) = object {
        map.insert("ObjectType".into(), json!(class));
        map.insert("ClassId".into(), json!(class));
    }
}

/// Stands in for the bad escape until the body is serialized: plain ASCII, so it is serialized
/// verbatim, and not something a dataset holds.
const BAD_STRING_MARKER: &str = "SIM-BAD-STRING-7f3a9c1e";

/// Appends [`BAD_STRING_MARKER`] to a string value of `object`: `property`'s, else the first
/// string property other than `Moid`, `ClassId` and `ObjectType`; one is created if needed.
pub(super) fn mark_bad_string(object: &mut Value, property: Option<&str>) {
    let Value::Object(map) = object else {
        return;
    };
    let name = match property {
        Some(p) => p.to_string(),
        None => map
            .iter()
            .find(|(k, v)| {
                v.is_string() && !matches!(k.as_str(), "Moid" | "ClassId" | "ObjectType")
            })
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| "SimBadString".to_string()),
    };
    let text = match map.get(&name) {
        Some(Value::String(s)) => format!("{s}{BAD_STRING_MARKER}"),
        _ => BAD_STRING_MARKER.to_string(),
    };
    map.insert(name, Value::String(text));
}

/// The serialized body with the marker replaced by the raw bytes of `kind`'s bad escape.
pub(super) fn replace_marker(body: &[u8], kind: BadStringKind) -> Vec<u8> {
    let marker = BAD_STRING_MARKER.as_bytes();
    match body.windows(marker.len()).position(|w| w == marker) {
        Some(at) => {
            let mut out = Vec::with_capacity(body.len() + 8);
            out.extend_from_slice(&body[..at]);
            out.extend_from_slice(kind.raw());
            out.extend_from_slice(&body[at + marker.len()..]);
            out
        }
        None => body.to_vec(),
    }
}

/// Stands in for the hostile member until the body is serialized (see [`BAD_STRING_MARKER`]).
const HOSTILE_MARKER: &str = "SIM-HOSTILE-MEMBER-2b8d41f0";

/// Adds the member `"<name>":"<marker>"` to `object`, replaced after serialization.
pub(super) fn mark_hostile_member(object: &mut Value, hostile: &HostileMember) {
    if let Value::Object(map) = object {
        let name = hostile.property.as_deref().unwrap_or("SimHostile");
        map.insert(name.to_string(), Value::String(HOSTILE_MARKER.to_string()));
    }
}

/// The raw text of a hostile member: for the deep shapes the value that replaces the quoted
/// marker, for `wide_object` the members that replace the whole `"name":"marker"` member.
fn hostile_text(hostile: &HostileMember) -> Vec<u8> {
    let n = hostile.size;
    let mut out = Vec::new();
    match hostile.shape {
        HostileShape::DeepArray => {
            out.extend(std::iter::repeat_n(b'[', n));
            out.extend_from_slice(br#""a\nb""#);
            out.extend(std::iter::repeat_n(b']', n));
        }
        HostileShape::DeepObject => {
            for _ in 0..n {
                out.extend_from_slice(br#"{"a":"#);
            }
            out.extend_from_slice(br#""a\nb""#);
            out.extend(std::iter::repeat_n(b'}', n));
        }
        HostileShape::WideObject => {
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(format!(r#""SimW{i}":0"#).as_bytes());
            }
        }
    }
    out
}

/// The serialized body with the hostile marker replaced (see [`hostile_text`]).
pub(super) fn replace_hostile_marker(body: &[u8], hostile: &HostileMember) -> Vec<u8> {
    let name = hostile.property.as_deref().unwrap_or("SimHostile");
    let find = match hostile.shape {
        HostileShape::WideObject => format!(r#""{name}":"{HOSTILE_MARKER}""#),
        _ => format!(r#""{HOSTILE_MARKER}""#),
    };
    let find = find.as_bytes();
    let Some(at) = body.windows(find.len()).position(|w| w == find) else {
        return body.to_vec();
    };
    let text = hostile_text(hostile);
    let mut out = Vec::with_capacity(body.len() + text.len());
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(&text);
    out.extend_from_slice(&body[at + find.len()..]);
    out
}
