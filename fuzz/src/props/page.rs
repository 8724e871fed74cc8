//! `page_decode`: a page decoded the way a read decodes it, checked against a JSON-tree
//! reference; and the generators of API-shaped JSON pages.

use super::cost::page_cost;
use super::generate::arbitrary_string;
use super::{check_roundtrip, token_source};
use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use terraform_provider_intersight::cty::msgpack;
use terraform_provider_intersight::cty::{Type, Value};
use terraform_provider_intersight::intersight::paging::PageDecoder;
use terraform_provider_intersight::provider::flatten;
use terraform_provider_intersight::provider::list_read::ResultsDecoder;
use terraform_provider_intersight::provider::naming::property_name;

pub(super) const OBJECT_TYPE: &str = "iam.OAuthToken";

/// `page_decode`: the first byte picks what the rest is: raw bytes (`0b00`) or a generated
/// page of JSON shaped (mostly) like the API's (`0b01`), see [`check_page`]; or, with bit 1
/// set, a hostile page built at two sizes, see [`page_cost`].
pub fn page_decode(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 2 != 0 {
        page_cost(rest);
    } else if mode & 1 == 0 {
        check_page(rest);
    } else if let Ok(page) = arbitrary_page(&mut Unstructured::new(rest)) {
        check_page(page.to_string().as_bytes());
    }
}

/// The decoder [`check_page`] and [`page_cost`] use: the read's, with the plan the data
/// source's declaration makes.
pub fn token_decoder() -> ResultsDecoder {
    ResultsDecoder::new(token_source().plan(), OBJECT_TYPE)
}

/// A body is decoded the way a read decodes it (straight to encoded `results` elements) and,
/// independently, parsed as a JSON tree: the read accepts exactly the pages the tree says are
/// well-formed, and each element it produces is byte for byte the encoding of the reference
/// flattening ([`flatten::object`]) of that object. The elements are wholly known, have the
/// object's `Moid` as `moid`, extra properties as JSON object text, and the whole list
/// round-trips through msgpack.
pub fn check_page(body: &[u8]) {
    let source = token_source();
    let element_ty = source.results_element_type();
    let cancel = terraform_provider_intersight::intersight::Cancellation::new();
    let decoded = token_decoder().decode_page(body, usize::MAX, &cancel);
    let objects = match (decoded, reference_page(body)) {
        (Err(_), None) => return,
        // A number beyond f64's range (`1e999`) directly where a list or a nested block is
        // expected fails the read (serde_json cannot skip-parse it there); everywhere else it
        // is carried as text, as the reference does.
        (Err(_), Some(_)) if has_unrepresentable_number(body) => return,
        (Ok(_), None) => panic!("the read accepted a page the reference rejects"),
        (Err(e), Some(_)) => panic!("the read rejected a page the reference accepts: {e}"),
        (Ok(page), Some(reference)) => {
            let flat = page.results.unwrap_or_default();
            assert_eq!(flat.len(), reference.len(), "a different number of objects");
            flat.into_iter().zip(reference).collect::<Vec<_>>()
        }
    };
    let mut results = Vec::new();
    for (flat, json) in objects {
        let value = flatten::object_from_text(source.results_fields(), json)
            .unwrap_or_else(|e| panic!("the reference rejects an object it accepted: {e}"));
        let expected = msgpack::encode(&value, &element_ty).unwrap_or_else(|e| {
            panic!("a flattened result does not conform to the element type: {e}\nvalue: {value:?}")
        });
        assert!(
            *flat.msgpack == *expected,
            "the read's encoding differs from the reference's for {json}"
        );
        assert!(value.is_wholly_known(), "unknown in a result: {value:?}");
        assert_eq!(
            value.get_attr("moid"),
            Some(&Value::string(&flat.moid)),
            "moid differs from the object's Moid"
        );
        match value.get_attr("additional_properties") {
            Some(Value::Null) => {}
            Some(Value::String(text)) => assert!(
                text != "{}" && flatten::JsonObject::parse(text).is_ok(),
                "additional_properties is not a non-empty JSON object: {text}"
            ),
            other => panic!("additional_properties is {other:?}"),
        }
        results.push(Value::Encoded(flat.msgpack));
    }
    let list_ty = Type::list(element_ty);
    match msgpack::encode(&Value::List(results), &list_ty) {
        Ok(bytes) => check_roundtrip(&bytes, &list_ty),
        Err(e) => panic!("the results list does not encode: {e}"),
    }
}

/// Whether the body's JSON tree fails only because a number is out of f64's range.
fn has_unrepresentable_number(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Err(e) if e.to_string().contains("number out of range")
    )
}

/// The objects of a well-formed page (each as its JSON text), by the rules a read applies:
/// UTF-8 text of a JSON object whose strings all decode (skipped ones included), whose `Count`
/// is null or a non-negative integer, whose other members pass [`flatten::check_value`]
/// (nesting, escapes) and whose `Results` is null or an array of objects, each with a non-null
/// `Moid`, the expected `ObjectType`, and accepted by the reference flattening (which checks
/// every member the same way). Values are taken as text, so numbers of any size are fine.
fn reference_page(body: &[u8]) -> Option<Vec<&str>> {
    use serde_json::value::RawValue;
    // serde's derive rejects a repeated `Count` or `Results`, as a read does.
    #[derive(serde::Deserialize)]
    struct RefPage<'a> {
        #[serde(rename = "Count", default, borrow)]
        count: Option<&'a RawValue>,
        #[serde(rename = "Results", default, borrow)]
        results: Option<&'a RawValue>,
    }
    // A read requires UTF-8 throughout, skipped properties included.
    let text = std::str::from_utf8(body).ok()?;
    // A page is a JSON object (serde's derive would also take `[count, results]`) whose
    // strings all decode, skipped ones included.
    let whole = serde_json::from_str::<&RawValue>(text).ok()?;
    if !whole.get().starts_with('{') || !strings_decode(whole.get()) {
        return None;
    }
    let page = serde_json::from_str::<RefPage<'_>>(text).ok()?;
    for (name, value) in all_members(text)? {
        if name != "Count" && name != "Results" {
            flatten::check_value(value).ok()?;
        }
    }
    if let Some(count) = page.count.filter(|c| c.get() != "null") {
        count.get().parse::<u64>().ok()?;
    }
    let results = match page.results.filter(|r| r.get() != "null") {
        None => return Some(Vec::new()),
        Some(raw) => serde_json::from_str::<Vec<&RawValue>>(raw.get()).ok()?,
    };
    // How a string attribute renders a JSON value (as the flattening does).
    let text = |v: &RawValue| -> Option<String> {
        match v.get() {
            "null" => None,
            s if s.starts_with('"') => serde_json::from_str(s).ok(),
            other => Some(other.to_string()),
        }
    };
    let source = token_source();
    let mut objects = Vec::new();
    for item in results {
        let object = flatten::JsonObject::parse(item.get()).ok()?;
        object.get("Moid").and_then(text)?;
        if object.get("ObjectType").and_then(text)? != OBJECT_TYPE {
            return None;
        }
        flatten::object_from_text(source.results_fields(), item.get()).ok()?;
        objects.push(item.get());
    }
    Some(objects)
}

/// Every member of the JSON object `text`, repeated names included (`None` if it is not one).
fn all_members(text: &str) -> Option<Vec<(String, &serde_json::value::RawValue)>> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};
    use serde_json::value::RawValue;
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(member) = map.next_entry()? {
                out.push(member);
            }
            Ok(out)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_map(Members)
        .ok()
}

/// Whether every string literal in the JSON text decodes (a lone surrogate does not), by
/// serde_json's own string decoder: the oracle's check, independent of the provider's scan.
fn strings_decode(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] != b'"' {
            at += 1;
            continue;
        }
        let start = at;
        at += 1;
        let mut escaped = false;
        while at < bytes.len() && (escaped || bytes[at] != b'"') {
            escaped = !escaped && bytes[at] == b'\\';
            at += 1;
        }
        at += 1;
        let literal = &text[start..at.min(text.len())];
        if literal.contains('\\') && serde_json::from_str::<String>(literal).is_err() {
            return false;
        }
    }
    true
}

/// Any JSON value, at most `depth` levels deep.
pub fn arbitrary_json(u: &mut Unstructured<'_>, depth: usize) -> ArbResult<serde_json::Value> {
    use serde_json::Value as Json;
    let max = if depth == 0 { 4 } else { 6 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Json::Null,
        1 => Json::Bool(u.arbitrary()?),
        2 => match u.int_in_range(0..=2)? {
            0 => Json::from(i64::arbitrary(u)?),
            1 => Json::from(u64::arbitrary(u)?),
            _ => serde_json::Number::from_f64(f64::arbitrary(u)?)
                .map(Json::Number)
                .unwrap_or(Json::Null),
        },
        3 | 4 => Json::String(arbitrary_string(u)?),
        5 => Json::Array(
            (0..u.int_in_range(0..=3)?)
                .map(|_| arbitrary_json(u, depth - 1))
                .collect::<ArbResult<_>>()?,
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                map.insert(arbitrary_string(u)?, arbitrary_json(u, depth - 1)?);
            }
            Json::Object(map)
        }
    })
}

/// JSON for a value of `ty` as the API would send it (attribute names as property names,
/// a related object bare or in an array), or now and then anything at all.
pub fn arbitrary_api_json(
    u: &mut Unstructured<'_>,
    ty: &Type,
    depth: usize,
) -> ArbResult<serde_json::Value> {
    use serde_json::Value as Json;
    if depth == 0 || u.ratio(1u8, 10u8)? {
        return arbitrary_json(u, depth.min(2));
    }
    Ok(match ty {
        Type::String => Json::String(arbitrary_string(u)?),
        Type::Bool => Json::Bool(u.arbitrary()?),
        Type::Number => Json::from(i64::arbitrary(u)?),
        Type::List(e) | Type::Set(e) => {
            if matches!(**e, Type::Object(_)) && u.arbitrary()? {
                // A single related object, which the schema keeps as a one-element list.
                arbitrary_api_json(u, e, depth - 1)?
            } else {
                Json::Array(
                    (0..u.int_in_range(0..=3)?)
                        .map(|_| arbitrary_api_json(u, e, depth - 1))
                        .collect::<ArbResult<_>>()?,
                )
            }
        }
        Type::Map(e) => {
            let mut map = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                map.insert(arbitrary_string(u)?, arbitrary_api_json(u, e, depth - 1)?);
            }
            Json::Object(map)
        }
        Type::Object(attrs) => {
            let mut map = serde_json::Map::new();
            for (name, aty) in attrs {
                if u.arbitrary()? {
                    map.insert(property_name(name), arbitrary_api_json(u, aty, depth - 1)?);
                }
            }
            // Properties the type does not know, including the ones references always have.
            if u.ratio(1u8, 3u8)? {
                let key = if u.arbitrary()? {
                    "link".to_string()
                } else {
                    arbitrary_string(u)?
                };
                map.insert(key, arbitrary_json(u, 2)?);
            }
            Json::Object(map)
        }
        Type::Tuple(_) | Type::Dynamic => arbitrary_json(u, depth.min(2))?,
    })
}

/// A page: `ObjectType`, `Count` and `Results` (each with a `Moid`), fields sometimes
/// missing or of the wrong kind.
pub fn arbitrary_page(u: &mut Unstructured<'_>) -> ArbResult<serde_json::Value> {
    use serde_json::Value as Json;
    let element_ty = token_source().results_element_type();
    let mut results = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let mut object = arbitrary_api_json(u, &element_ty, 5)?;
        if let Json::Object(map) = &mut object {
            if u.ratio(7u8, 8u8)? {
                map.insert("Moid".to_string(), Json::String(arbitrary_string(u)?));
            }
            if u.ratio(7u8, 8u8)? {
                map.insert("ObjectType".to_string(), Json::from(OBJECT_TYPE));
            }
        }
        results.push(object);
    }
    let mut page = serde_json::Map::new();
    page.insert("ObjectType".to_string(), Json::from("iam.OAuthToken.List"));
    if u.arbitrary()? {
        page.insert("Count".to_string(), Json::from(results.len()));
    }
    let results = if u.ratio(1u8, 16u8)? {
        Json::Null
    } else {
        Json::Array(results)
    };
    page.insert("Results".to_string(), results);
    Ok(Json::Object(page))
}
