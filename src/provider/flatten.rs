//! Turns Intersight JSON objects into `results` elements of a data source, generically, from
//! the data source's field table (the [`Field`]s its schema comes from): each attribute is read
//! from its field's API property ([`Field::property`]), and the field's kind, not its name,
//! says what a property holds:
//!
//! - strings, including date-times, exactly as the API gives them; numbers, booleans, arrays
//!   and objects found where a string is expected are the API's JSON text, verbatim (numbers
//!   digit for digit);
//! - numbers keep every digit: an integer within 64 bits is written as one, anything else as
//!   its decimal text, which Terraform parses exactly (cty numbers are arbitrary precision);
//! - a JSON property that is absent or null becomes a null scalar, or an empty list for
//!   nested-object and list attributes (so `length(r.tags)` always works);
//! - a related object becomes a one-element list, an array of them a list; elements of such an
//!   array that are not objects (`null`) are left out: a list of blocks never holds a null;
//! - properties the table has no field for become the text of its additional-properties
//!   field ([`FieldKind::AdditionalProperties`]; null when there are none), their values
//!   verbatim; properties the table declares [`FieldKind::Ignored`] (a reference's `link`) are
//!   known and dropped.
//!
//! Two implementations of one mapping:
//! - `object`: JSON text → cty value, each member's value kept as its text
//!   ([`JsonObject`]). The reference: short and obviously right.
//! - [`Plan`] + [`flatten_object`] / `ObjectSeed`: the read path. It decodes a page's JSON
//!   and writes each object's msgpack encoding (the bytes Terraform receives) in one pass, with
//!   no JSON tree and no value tree in between; attribute lookups are precomputed once per
//!   read. Scalars are read as serde_json decodes them, and a page where that cannot be exact
//!   (a number that is not a 64-bit integer) again as their JSON text, so numbers of any size
//!   pass (see [`ScalarMode`]); shapes it has no fast path for (maps) go through the
//!   reference on just that property, so the two agree by construction there, and tests (here
//!   and `tests/fuzz_props/`) check they agree everywhere else.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as _;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::cty::msgpack::{
    self, is_nil, read_str, write_array_len, write_bool, write_map_len, write_nil, write_number,
    write_str,
};
use crate::cty::{Number, Type, Value};
use crate::intersight::HasMoid;

use super::budget::ResultsShare;
use super::fields::{field_type, object_type, Field, FieldKind, Role};

// ---------------------------------------------------------------------------------------
// The reference: JSON text → value

mod check;
mod json_object;
mod reference;
mod scalar;
mod walk;

#[cfg(test)]
use check::check_text;
pub use check::{check_value, BadValue, MAX_DEPTH};
pub use json_object::JsonObject;
use scalar::FastScalar;
pub use scalar::ScalarMode;

use reference::convert;
pub use reference::object_from_text;
use walk::Walk;
pub(crate) use walk::RESERVE_EVERY;

/// One JSON value, classified from its text.
enum Scalar<'a> {
    Null,
    Bool(bool),
    /// The number's text, exactly as sent.
    Number(&'a str),
    String(Cow<'a, str>),
    Array,
    Object,
}

/// What the JSON text `raw` is. Strings with escapes are decoded in full here (a lone
/// surrogate is an error), since serde_json only checks their syntax while skipping them.
fn classify(raw: &RawValue) -> serde_json::Result<Scalar<'_>> {
    let text = raw.get();
    Ok(match text.as_bytes().first() {
        Some(b'n') => Scalar::Null,
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'"') if memchr::memchr(b'\\', text.as_bytes()).is_none() => {
            Scalar::String(Cow::Borrowed(&text[1..text.len() - 1]))
        }
        Some(b'"') => Scalar::String(Cow::Owned(serde_json::from_str(text)?)),
        Some(b'[') => Scalar::Array,
        Some(b'{') => Scalar::Object,
        _ => Scalar::Number(text),
    })
}

/// [`check_value`] for the reference, whose errors are serde_json's.
fn checked(raw: &RawValue) -> serde_json::Result<()> {
    check_value(raw).map_err(de::Error::custom)
}

/// A JSON number as a cty number: an integer when it is one (within 64 bits), otherwise its
/// decimal text, which Terraform parses exactly (cty numbers are arbitrary precision).
fn number_from_text(text: &str) -> Number {
    if let Ok(i) = text.parse::<i64>() {
        Number::Int(i)
    } else if let Ok(u) = text.parse::<u64>() {
        Number::UInt(u)
    } else {
        Number::Decimal(text.to_string())
    }
}

/// The `additional_properties` text of the members `extra`: a JSON object whose values are the
/// API's text verbatim.
fn extra_text<'a>(extra: impl Iterator<Item = (&'a str, &'a RawValue)>) -> String {
    let mut text = String::from("{");
    for (name, value) in extra {
        if text.len() > 1 {
            text.push(',');
        }
        // Serializing a string to a String cannot fail.
        text.push_str(&serde_json::to_string(name).unwrap_or_default());
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    text
}

// ---------------------------------------------------------------------------------------
// The read path: JSON text → msgpack, one pass

/// The precomputed shape of a `results` element, from its field table.
pub struct Plan {
    root: ObjectPlan,
    /// The element type the plan writes (for [`Value::expanded`] and the fallback).
    ty: Type,
    /// The attribute with [`Role::Identity`], which every object must have.
    identity: Option<RoleAttr>,
    /// The attribute with [`Role::ObjectType`].
    object_type: Option<RoleAttr>,
}

/// Where a top-level attribute with a role is, and its API property (for messages).
struct RoleAttr {
    /// Its index in the root's attributes.
    index: usize,
    property: String,
}

/// One API object flattened to the msgpack encoding of a `results` element.
pub struct FlatObject {
    /// The object's `Moid`, which orders and checks the pages.
    pub moid: String,
    /// The object's `ObjectType` property, when it has one.
    pub(crate) object_type: Option<String>,
    /// The msgpack encoding of the `results` element.
    pub msgpack: Box<[u8]>,
}

impl HasMoid for FlatObject {
    fn moid(&self) -> &str {
        &self.moid
    }
}

struct ObjectPlan {
    /// In attribute-name order (the order the encoding needs).
    attrs: Vec<AttrPlan>,
    /// JSON property name → what to do with it.
    by_property: HashMap<String, Slot, BuildHasherDefault<Fnv1a>>,
    /// Index in `attrs` of the additional-properties field, when the table has one.
    additional: Option<usize>,
}

/// FNV-1a: every property name of every object is looked up once per read, and these keys are
/// short, few and not attacker-chosen in a way that matters (a collision only slows a lookup),
/// so a simple hash beats SipHash's per-lookup cost.
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The value of an absent or null property.
#[derive(Clone, Copy)]
enum Absent {
    Null,
    /// Lists and sets: `length(r.tags)` works without a null check.
    EmptyCollection,
}

impl Absent {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Absent::Null => write_nil(out),
            // An empty array cannot exceed the size limits.
            Absent::EmptyCollection => drop(write_array_len(out, 0)),
        }
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Attr(usize),
    /// Known, but not an attribute: an [`FieldKind::Ignored`] property, or the
    /// additional-properties field's own property (which holds the others, not itself).
    Ignore,
}

struct AttrPlan {
    /// The attribute name, msgpack-encoded (written before every value).
    key: Box<[u8]>,
    node: Node,
    /// What is written when the property is absent: nil, or for collections an empty one.
    absent: Absent,
}

/// What to write for one JSON value of a given type.
struct Node {
    ty: Type,
    kind: Kind,
}

enum Kind {
    String,
    Number,
    Bool,
    /// List or set: the element node.
    Collection(Box<Node>),
    Object(Box<ObjectPlan>),
    /// Written through the reference (maps, tuples, dynamic).
    Fallback,
}

impl Plan {
    /// The plan for objects whose attributes are `fields` (a `results` element's: the
    /// declaration's table, plus `display_names`).
    pub fn new(fields: &[Field]) -> Plan {
        let attributes = attributes_in_order(fields);
        let with_role = |role| {
            let index = attributes.iter().position(|f| f.role == Some(role))?;
            Some(RoleAttr {
                index,
                property: attributes[index].property().into_owned(),
            })
        };
        Plan {
            identity: with_role(Role::Identity),
            object_type: with_role(Role::ObjectType),
            root: ObjectPlan::new(fields),
            ty: object_type(fields),
        }
    }

    /// The `results` element type the plan writes.
    pub fn element_type(&self) -> &Type {
        &self.ty
    }
}

/// The attributes of `fields` in name order (the order of an object's encoding).
fn attributes_in_order(fields: &[Field]) -> Vec<&Field> {
    let mut attributes: Vec<&Field> = fields.iter().filter(|f| f.is_attribute()).collect();
    attributes.sort_by_key(|f| f.name);
    attributes
}

impl ObjectPlan {
    fn new(fields: &[Field]) -> ObjectPlan {
        let attributes = attributes_in_order(fields);
        let mut plan = ObjectPlan {
            attrs: Vec::with_capacity(attributes.len()),
            by_property: HashMap::with_capacity_and_hasher(
                fields.len(),
                BuildHasherDefault::default(),
            ),
            additional: None,
        };
        for known in fields.iter().filter(|f| !f.is_attribute()) {
            plan.by_property
                .insert(known.property().into_owned(), Slot::Ignore);
        }
        for (i, field) in attributes.into_iter().enumerate() {
            let mut key = Vec::with_capacity(field.name.len() + 2);
            // Names are short ASCII; an encoding error is impossible below 4 GiB.
            let _ = write_str(&mut key, field.name);
            let node = Node::of_field(field);
            let absent = match node.ty {
                Type::List(_) | Type::Set(_) => Absent::EmptyCollection,
                _ => Absent::Null,
            };
            plan.attrs.push(AttrPlan {
                key: key.into(),
                node,
                absent,
            });
            let slot = match field.kind {
                FieldKind::AdditionalProperties => {
                    plan.additional = Some(i);
                    Slot::Ignore
                }
                _ => Slot::Attr(i),
            };
            plan.by_property.insert(field.property().into_owned(), slot);
        }
        plan
    }
}

impl Node {
    /// The node of one attribute: a nested block is a list of objects of its own table.
    fn of_field(field: &Field) -> Node {
        match field.kind {
            FieldKind::Block { fields, .. } => {
                let object = Node {
                    ty: object_type(fields),
                    kind: Kind::Object(Box::new(ObjectPlan::new(fields))),
                };
                Node {
                    ty: Type::list(object.ty.clone()),
                    kind: Kind::Collection(Box::new(object)),
                }
            }
            _ => Node::of_type(&field_type(field)),
        }
    }

    /// The node of a value of a type that holds no objects (only blocks do, see `of_field`).
    fn of_type(ty: &Type) -> Node {
        let kind = match ty {
            Type::String => Kind::String,
            Type::Number => Kind::Number,
            Type::Bool => Kind::Bool,
            Type::List(e) | Type::Set(e) => Kind::Collection(Box::new(Node::of_type(e))),
            _ => Kind::Fallback,
        };
        Node {
            ty: ty.clone(),
            kind,
        }
    }
}

/// Flattens one object's JSON text (tests, benchmarks and fuzzing use this; reads decode whole
/// pages through `ObjectSeed`): as a read does, [`ScalarMode::Fast`] first and
/// [`ScalarMode::Exact`] when that fails.
pub fn flatten_object(plan: &Plan, json: &str) -> Result<FlatObject, serde_json::Error> {
    flatten_object_in(plan, json, ScalarMode::Fast)
        .or_else(|_| flatten_object_in(plan, json, ScalarMode::Exact))
}

/// Flattens one object's JSON text with scalars decoded in `mode` only (no fallback).
pub fn flatten_object_in(
    plan: &Plan,
    json: &str,
    mode: ScalarMode,
) -> Result<FlatObject, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    let object = ObjectSeed {
        plan,
        cancel: None,
        share: None,
        mode,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(object)
}

/// Decodes one API object (a JSON object with a `Moid`) into a [`FlatObject`].
#[derive(Clone, Copy)]
pub(crate) struct ObjectSeed<'p> {
    pub(crate) plan: &'p Plan,
    /// The read's cancellation: once it is cancelled, decoding stops with an error within
    /// [`walk::CANCEL_CHECK_EVERY`] members or elements (`None`: nothing to cancel).
    pub(crate) cancel: Option<&'p CancellationToken>,
    /// The read's share of the results budget: the buffers the object is built in are reserved
    /// from it as they grow, and given back once the object is built (`None`: unbounded, for
    /// tests, benchmarks and fuzzing).
    pub(crate) share: Option<&'p ResultsShare>,
    /// How its scalars are decoded (a page is decoded `Fast` first, see [`ScalarMode`]).
    pub(crate) mode: ScalarMode,
}

/// What one member kept for `additional_properties` costs besides its name while the object
/// is decoded (its entry in the index of members).
const EXTRA_MEMBER_BYTES: usize = 64;

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = FlatObject;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FlatObject, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = FlatObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an API object (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FlatObject, A::Error> {
        let plan = &self.plan.root;
        let walk = Walk::new(self.mode, self.cancel, self.share);
        let mut out = Vec::with_capacity(2048);
        let mut slots = Slots::new();
        write_object(plan, map, &mut out, &walk, Some(&mut slots))?;
        let text = |attr: Option<&RoleAttr>| {
            let (start, end) = slots.get(attr?.index).copied().flatten()?;
            read_str(&out[start..end]).map(str::to_string)
        };
        let Some(moid) = text(self.plan.identity.as_ref()) else {
            return Err(match &self.plan.identity {
                Some(identity) => {
                    de::Error::custom(format_args!("an object without a {}", identity.property))
                }
                None => de::Error::custom("the field table declares no identity field"),
            });
        };
        let object_type = text(self.plan.object_type.as_ref());
        Ok(FlatObject {
            moid,
            object_type,
            msgpack: out.into_boxed_slice(),
        })
    }
}

/// Where each attribute's encoding sits in the output (by attribute index).
type Slots = Vec<Option<(usize, usize)>>;

/// Checks a value the read does not keep (see [`check_value`]).
fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    let value: &'de RawValue = map.next_value()?;
    check_value(value).map_err(de::Error::custom)
}

/// Writes the object encoding of `map` to `out`, and where each attribute's value went to
/// `placed` when given.
fn write_object<'de, A: MapAccess<'de>>(
    plan: &ObjectPlan,
    mut map: A,
    out: &mut Vec<u8>,
    walk: &Walk<'_>,
    mut placed: Option<&mut Slots>,
) -> Result<(), A::Error> {
    // Properties arrive in the API's order, the encoding wants attribute order: values go to a
    // scratch buffer first and are copied out in order.
    let mut scratch = walk.bytes();
    let mut slots = walk.slots(plan.attrs.len());
    let mut extra: Option<JsonObject<'de>> = None;
    while let Some(key) = map.next_key_seed(PropertySeed { plan })? {
        walk.step()?;
        match key {
            Property::Attr(i) => {
                let start = scratch.len();
                let node = &plan.attrs[i].node;
                map.next_value_seed(NodeSeed {
                    node,
                    out: &mut scratch,
                    walk,
                })?;
                // Lists and objects counted what they wrote themselves.
                if !matches!(node.kind, Kind::Collection(_) | Kind::Object(_)) {
                    walk.wrote(scratch.len() - start)?;
                }
                slots[i] = Some((start, scratch.len()));
            }
            Property::Other(name) if plan.additional.is_some() => {
                let value: &'de RawValue = map.next_value()?;
                check_value(value).map_err(de::Error::custom)?;
                // The value stays in the page's text; its name and entry are new.
                walk.wrote(name.len() + EXTRA_MEMBER_BYTES)?;
                extra
                    .get_or_insert_with(JsonObject::new)
                    .insert(name, value);
            }
            Property::Ignore | Property::Other(_) => skip_value(&mut map)?,
        }
    }
    // The copy in attribute order, counted before it is made.
    walk.wrote(scratch.len())?;
    write_map_len(out, plan.attrs.len()).map_err(de::Error::custom)?;
    if let Some(placed) = placed.as_mut() {
        placed.clear();
        placed.resize(plan.attrs.len(), None);
    }
    for (i, attr) in plan.attrs.iter().enumerate() {
        out.extend_from_slice(&attr.key);
        let start = out.len();
        if Some(i) == plan.additional {
            match extra.take() {
                Some(extra) if !extra.is_empty() => {
                    let text = extra_text(extra.iter());
                    walk.wrote(text.len())?;
                    write_str(out, &text).map_err(de::Error::custom)?;
                }
                _ => write_nil(out),
            }
        } else if let Some((s, e)) = slots[i] {
            out.extend_from_slice(&scratch[s..e]);
        } else {
            attr.absent.write(out);
        }
        if let Some(placed) = placed.as_mut() {
            placed[i] = Some((start, out.len()));
        }
    }
    walk.give_back(scratch, Some(slots));
    Ok(())
}

enum Property {
    Attr(usize),
    Ignore,
    Other(String),
}

struct PropertySeed<'p> {
    plan: &'p ObjectPlan,
}

impl<'de> DeserializeSeed<'de> for PropertySeed<'_> {
    type Value = Property;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Property, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for PropertySeed<'_> {
    type Value = Property;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Property, E> {
        Ok(match self.plan.by_property.get(name) {
            Some(Slot::Attr(i)) => Property::Attr(*i),
            Some(Slot::Ignore) => Property::Ignore,
            None => Property::Other(name.to_string()),
        })
    }
}

/// Writes the encoding of one JSON value as `node`'s type.
struct NodeSeed<'a> {
    node: &'a Node,
    out: &'a mut Vec<u8>,
    walk: &'a Walk<'a>,
}

impl NodeSeed<'_> {
    /// Scalars (and the types the fast path does not stream) are taken as their JSON text:
    /// numbers keep every digit, and one beyond any float's range is no error.
    fn raw<E: de::Error>(self, raw: &RawValue) -> Result<(), E> {
        let scalar = classify(raw).map_err(E::custom)?;
        match (&self.node.kind, scalar) {
            (Kind::Fallback, _) => {
                let value = convert(&self.node.ty, raw).map_err(E::custom)?;
                return msgpack::encode_into(&value, &self.node.ty, self.out).map_err(E::custom);
            }
            (Kind::String, Scalar::String(s)) => write_str(self.out, &s).map_err(E::custom)?,
            (Kind::String, Scalar::Null) => write_nil(self.out),
            (Kind::String, _) => {
                check_value(raw).map_err(E::custom)?;
                write_str(self.out, raw.get()).map_err(E::custom)?;
            }
            (Kind::Number, Scalar::Number(text)) => {
                write_number(self.out, &number_from_text(text)).map_err(E::custom)?;
            }
            (Kind::Bool, Scalar::Bool(b)) => write_bool(self.out, b),
            _ => {
                check_value(raw).map_err(E::custom)?;
                write_nil(self.out);
            }
        }
        Ok(())
    }

    /// Null, for a value whose shape the type cannot hold (as `convert` does).
    fn nil_after<E: de::Error>(self) -> Result<(), E> {
        write_nil(self.out);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.node.kind {
            Kind::Collection(_) | Kind::Object(_) => d.deserialize_any(self),
            Kind::String | Kind::Number | Kind::Bool if self.walk.mode == ScalarMode::Fast => {
                d.deserialize_any(FastScalar(self))
            }
            _ => {
                let raw = <&'de RawValue>::deserialize(d)?;
                self.raw(raw)
            }
        }
    }
}

/// Only collection and object nodes are visited: other nodes take their value's text.
impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        match self.node.kind {
            Kind::Collection(_) => Absent::EmptyCollection.write(self.out),
            _ => write_nil(self.out),
        }
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    // A scalar where a collection or an object is expected: null (as `convert` does).
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.nil_after()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.nil_after()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.nil_after()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.nil_after()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.nil_after()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Kind::Collection(element) = &self.node.kind else {
            // An array where an object is expected.
            while let Some(item) = seq.next_element::<&'de RawValue>()? {
                self.walk.step()?;
                check_value(item).map_err(de::Error::custom)?;
            }
            return self.nil_after();
        };
        // The header needs the count: elements go to a buffer of their own first.
        let mut items = self.walk.bytes();
        let mut count = 0usize;
        let blocks = matches!(element.kind, Kind::Object(_));
        loop {
            self.walk.step()?;
            let start = items.len();
            let more = seq.next_element_seed(NodeSeed {
                node: element,
                out: &mut items,
                walk: self.walk,
            })?;
            if more.is_none() {
                break;
            }
            // Every element counted, even one dropped below: a list of a million `{}` blocks
            // writes each with all its attributes null, many times the JSON's bytes.
            self.walk.wrote(items.len() - start)?;
            // A block element is written as nil only for a JSON value that is not an object
            // (`null`, mostly): never a null block in a list, so it is dropped (see `convert`).
            if blocks && is_nil(&items[start..]) {
                items.truncate(start);
            } else {
                count += 1;
            }
        }
        // The copy into the enclosing buffer, counted before it is made.
        self.walk.wrote(items.len())?;
        write_array_len(self.out, count).map_err(de::Error::custom)?;
        self.out.extend_from_slice(&items);
        self.walk.give_back(items, None);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match &self.node.kind {
            Kind::Object(plan) => write_object(plan, map, self.out, self.walk, None),
            // A single related object where the schema keeps a (max one item) list of them.
            Kind::Collection(element)
                if matches!(self.node.ty, Type::List(_))
                    && matches!(element.kind, Kind::Object(_)) =>
            {
                let Kind::Object(plan) = &element.kind else {
                    unreachable!("checked by the guard")
                };
                write_array_len(self.out, 1).map_err(de::Error::custom)?;
                write_object(plan, map, self.out, self.walk, None)
            }
            // An object where a list of strings (say) is expected.
            _ => {
                while let Some((_, value)) = map.next_entry::<String, &'de RawValue>()? {
                    self.walk.step()?;
                    check_value(value).map_err(de::Error::custom)?;
                }
                self.nil_after()
            }
        }
    }
}

#[cfg(test)]
#[path = "flatten_fast_tests.rs"]
mod fast_tests;

#[cfg(test)]
mod tests;
