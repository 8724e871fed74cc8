//! The reference decoding: one JSON object into a cty [`Value`] of its object type, with no
//! fast path. The read path (`ObjectSeed`) uses it for the shapes it does not stream (maps), and
//! tests compare the two everywhere else.

use super::*;

/// Flattens one JSON object into a value of the object type of `fields`.
pub(crate) fn object(fields: &[Field], json: &JsonObject<'_>) -> serde_json::Result<Value> {
    let mut attrs = BTreeMap::new();
    // Every property the table knows: with its field when it is an attribute's.
    let mut known: HashMap<Cow<'static, str>, Option<&Field>> = HashMap::new();
    let mut additional = None;
    for field in fields {
        let property = field.property();
        match field.kind {
            FieldKind::Ignored => {}
            FieldKind::AdditionalProperties => additional = Some(field.name),
            _ => {
                let value = match json.get(&property) {
                    Some(raw) => field_value(field, raw)?,
                    None => absent(&field_type(field)),
                };
                attrs.insert(field.name.to_string(), value);
                known.insert(property, Some(field));
                continue;
            }
        }
        known.insert(property, None);
    }
    // The read checks every value it is sent, kept or not: earlier values of a repeated name
    // as their attribute's type, the others as text.
    for (name, value) in &json.replaced {
        match known.get(name.as_str()) {
            Some(Some(field)) => drop(field_value(field, value)?),
            _ => checked(value)?,
        }
    }
    let mut extra = Vec::new();
    for (name, value) in json.iter() {
        match known.get(name) {
            Some(Some(_)) => continue,
            Some(None) => checked(value)?,
            None => {
                checked(value)?;
                extra.push((name, value));
            }
        }
    }
    if let Some(name) = additional {
        let value = match extra.is_empty() {
            true => Value::Null,
            false => Value::String(extra_text(extra.into_iter())),
        };
        attrs.insert(name.to_string(), value);
    }
    Ok(Value::Object(attrs))
}

/// `object` of the JSON text of one object whose attributes are `fields`.
pub fn object_from_text(fields: &[Field], text: &str) -> serde_json::Result<Value> {
    object(fields, &JsonObject::parse(text)?)
}

/// The value of `field`'s property.
fn field_value(field: &Field, raw: &RawValue) -> serde_json::Result<Value> {
    match field.kind {
        FieldKind::Block { fields, .. } => blocks(fields, raw),
        _ => convert(&field_type(field), raw),
    }
}

/// A nested block's value: a list of objects of `fields`, from an array of them or from a
/// single related object.
fn blocks(fields: &[Field], raw: &RawValue) -> serde_json::Result<Value> {
    Ok(match classify(raw)? {
        Scalar::Null => Value::List(Vec::new()),
        Scalar::Array => {
            let mut items = Vec::new();
            for item in serde_json::from_str::<Vec<&RawValue>>(raw.get())? {
                // `"Ancestors": [null]`: a list of blocks never holds a null block (a user's
                // `[for a in r.ancestors : a.moid]` would fail on it), so elements that are
                // not objects are left out.
                if !raw_is_object(item) {
                    checked(item)?;
                    continue;
                }
                items.push(object(fields, &JsonObject::parse(item.get())?)?);
            }
            Value::List(items)
        }
        // A single related object where the schema keeps a (max one item) list of them.
        Scalar::Object => Value::List(vec![object(fields, &JsonObject::parse(raw.get())?)?]),
        // A shape a list of blocks cannot hold (the API changed under us): null, not a guess.
        _ => {
            checked(raw)?;
            Value::Null
        }
    })
}

/// The value of an absent or null property: an empty collection for lists and sets.
fn absent(ty: &Type) -> Value {
    match ty {
        Type::Set(_) => Value::Set(Vec::new()),
        Type::List(_) => Value::List(Vec::new()),
        _ => Value::Null,
    }
}

/// The value of type `ty` (a type that holds no objects: only blocks do, see `blocks`).
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
                items.push(convert(elem, item)?);
            }
            if matches!(ty, Type::Set(_)) {
                Value::Set(items)
            } else {
                Value::List(items)
            }
        }
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
