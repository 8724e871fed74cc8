//! The reference decoding: one JSON object into a cty [`Value`] of its object type, with no
//! fast path. The read path (`ObjectSeed`) uses it for the shapes it does not stream (maps), and
//! tests compare the two everywhere else.

use super::*;

/// Flattens one JSON object into a value of the object type `ty`.
pub(crate) fn object(
    ty: &BTreeMap<String, Type>,
    json: &JsonObject<'_>,
) -> serde_json::Result<Value> {
    let mut attrs = BTreeMap::new();
    // Property name → attribute type, for the properties that have an attribute.
    let mut mapped = HashMap::with_capacity(ty.len());
    for (name, attr_ty) in ty {
        if name == ADDITIONAL_PROPERTIES {
            continue;
        }
        let property = property_name(name);
        let value = match json.get(&property) {
            Some(raw) => convert(attr_ty, raw)?,
            None => absent(attr_ty),
        };
        attrs.insert(name.clone(), value);
        mapped.insert(property, attr_ty);
    }
    // The read checks every value it is sent, kept or not: earlier values of a repeated name
    // as their attribute's type, the others as text.
    for (name, value) in &json.replaced {
        match mapped.get(name.as_str()) {
            Some(attr_ty) => drop(convert(attr_ty, value)?),
            None => checked(value)?,
        }
    }
    let additional = property_name(ADDITIONAL_PROPERTIES);
    let mut extra = Vec::new();
    for (name, value) in json.iter() {
        if mapped.contains_key(name) {
            continue;
        }
        checked(value)?;
        if name != additional && !KNOWN_UNMAPPED.contains(&name) {
            extra.push((name, value));
        }
    }
    if ty.contains_key(ADDITIONAL_PROPERTIES) {
        let value = match extra.is_empty() {
            true => Value::Null,
            false => Value::String(extra_text(extra.into_iter())),
        };
        attrs.insert(ADDITIONAL_PROPERTIES.to_string(), value);
    }
    Ok(Value::Object(attrs))
}

/// `object` of the JSON text of one object.
pub fn object_from_text(ty: &BTreeMap<String, Type>, text: &str) -> serde_json::Result<Value> {
    object(ty, &JsonObject::parse(text)?)
}

/// The value of an absent or null property: an empty collection for lists and sets.
fn absent(ty: &Type) -> Value {
    match ty {
        Type::Set(_) => Value::Set(Vec::new()),
        Type::List(_) => Value::List(Vec::new()),
        _ => Value::Null,
    }
}

pub(super) fn convert(ty: &Type, raw: &RawValue) -> serde_json::Result<Value> {
    Ok(match (ty, classify(raw)?) {
        (_, Scalar::Null) => absent(ty),
        (Type::String, Scalar::String(s)) => Value::String(s.into_owned()),
        // Numbers digit for digit, booleans, and arrays or objects as the API's JSON text.
        (Type::String, _) => {
            checked(raw)?;
            Value::String(raw.get().to_string())
        }
        (Type::Bool, Scalar::Bool(b)) => Value::Bool(b),
        (Type::Number, Scalar::Number(text)) => Value::Number(number_from_text(text)),
        (Type::List(elem) | Type::Set(elem), Scalar::Array) => {
            let mut items = Vec::new();
            for item in serde_json::from_str::<Vec<&RawValue>>(raw.get())? {
                // `"Ancestors": [null]`: a list of blocks never holds a null block (a user's
                // `[for a in r.ancestors : a.moid]` would fail on it), so elements that are
                // not objects are left out.
                if matches!(**elem, Type::Object(_)) && !raw_is_object(item) {
                    checked(item)?;
                    continue;
                }
                items.push(convert(elem, item)?);
            }
            if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            }
        }
        // A single related object where the schema keeps a (max one item) list of them.
        (Type::List(elem), Scalar::Object) if matches!(**elem, Type::Object(_)) => {
            Value::List(vec![convert(elem, raw)?])
        }
        (Type::Object(attrs), Scalar::Object) => object(attrs, &JsonObject::parse(raw.get())?)?,
        (Type::Map(elem), Scalar::Object) => {
            let object = JsonObject::parse(raw.get())?;
            for (_, replaced) in &object.replaced {
                convert(elem, replaced)?;
            }
            let mut map = BTreeMap::new();
            for (k, v) in object.members {
                map.insert(k, convert(elem, v)?);
            }
            Value::Map(map)
        }
        // A shape the type cannot hold (the API changed under us): null rather than a guess.
        _ => {
            checked(raw)?;
            Value::Null
        }
    })
}

fn raw_is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}
