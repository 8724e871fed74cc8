//! Turns Intersight JSON objects into `results` elements of a data source, generically (names
//! map as in [`super::naming::property_name`]):
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
//! - properties the type has no attribute for become the `additional_properties` JSON text
//!   (null when there are none), their values verbatim, except ones the API always adds to
//!   references (`link`).
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
//!   and `tests/fuzz_props.rs`) check they agree everywhere else.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher, RandomState};

use indexmap::IndexMap;
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
use super::naming::property_name;

/// JSON properties that are part of the API's known shapes but have no attribute: they are
/// not "additional" and must not be reported as such.
const KNOWN_UNMAPPED: &[&str] = &["link", "Selector"];

const ADDITIONAL_PROPERTIES: &str = "additional_properties";

// ---------------------------------------------------------------------------------------
// The reference: JSON text → value

/// A JSON object as the text of each member's value, in order; a repeated name keeps its first
/// position and its last value. Values stay text so numbers keep every digit the API sent
/// (serde_json's own tree would turn `123456789012345678901234567890` into a float and fail on
/// `1e400`).
///
/// Members are indexed by name, so a repeated name costs one lookup however wide the object
/// (a linear search made a token of 80,000 members take 9 s). The names are the server's
/// choice, so the index hashes them with SipHash under random keys (`RandomState`): colliding
/// names cannot be precomputed.
pub struct JsonObject<'a> {
    members: IndexMap<String, &'a RawValue, RandomState>,
    /// The earlier values of repeated names, which [`object`] checks as the read does (it sees
    /// every value it is sent).
    replaced: Vec<(String, &'a RawValue)>,
}

impl<'a> JsonObject<'a> {
    /// Parses the text of one JSON object (an error for anything else).
    pub fn parse(text: &'a str) -> serde_json::Result<JsonObject<'a>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let object = de.deserialize_map(MembersVisitor)?;
        de.end()?;
        Ok(object)
    }

    fn new() -> JsonObject<'a> {
        JsonObject {
            members: IndexMap::default(),
            replaced: Vec::new(),
        }
    }

    /// The text of the member `name`.
    pub fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.members.get(name).copied()
    }

    /// Adds a member; a name seen before keeps its position and takes the new value (the old
    /// one is returned with its name).
    fn insert(&mut self, name: String, value: &'a RawValue) -> Option<(String, &'a RawValue)> {
        match self.members.entry(name) {
            indexmap::map::Entry::Occupied(mut member) => {
                let old = member.insert(value);
                Some((member.key().clone(), old))
            }
            indexmap::map::Entry::Vacant(member) => {
                member.insert(value);
                None
            }
        }
    }

    /// The members, in order.
    fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.members
            .iter()
            .map(|(name, value)| (name.as_str(), *value))
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = JsonObject<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject<'de>, A::Error> {
        let mut object = JsonObject::new();
        while let Some((name, value)) = map.next_entry::<String, &'de RawValue>()? {
            if let Some(old) = object.insert(name, value) {
                object.replaced.push(old);
            }
        }
        Ok(object)
    }
}

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

/// The deepest nesting of arrays and objects accepted within one value that the read keeps as
/// text or skips (see [`check_value`]): the limit serde_json applies to the values it parses.
pub const MAX_DEPTH: usize = 128;

/// What [`check_value`] rejects in a value's text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadValue {
    /// Arrays and objects nested more than [`MAX_DEPTH`] levels.
    #[error(
        "a value nested more than {MAX_DEPTH} levels deep (arrays and objects within one \
         property; the limit is {MAX_DEPTH})"
    )]
    TooDeep,
    /// An escape that is not JSON's (`\q`, or `\u` without four hex digits).
    #[error("invalid escape in a string")]
    InvalidEscape,
    /// `\ud800`-`\udbff` not followed by an escaped low surrogate.
    #[error("lone leading surrogate in hex escape")]
    LoneLeadingSurrogate,
    /// `\udc00`-`\udfff` with no leading surrogate before it.
    #[error("lone trailing surrogate in hex escape")]
    LoneTrailingSurrogate,
    /// A string without its closing quote.
    #[error("a string without its closing quote")]
    UnterminatedString,
}

/// Checks what capturing or skipping a value does not: every string in it decodes (serde_json
/// checks only the syntax of the strings it skips, so a lone surrogate passes), and arrays and
/// objects nest at most [`MAX_DEPTH`] levels (serde_json's own depth limit never applies to
/// text it skips).
///
/// One pass over the text with a counter, no recursion and no re-parsing: the cost is linear
/// in the text's length whatever its shape (a recursive walk that re-parsed each level took
/// quadratic time and overflowed the stack at 15,000 levels).
pub fn check_value(raw: &RawValue) -> Result<(), BadValue> {
    let text = raw.get();
    // A string without escapes (the value most often skipped: a reference's `link`) holds
    // nothing to check, and a search for a backslash is faster than the scan.
    if text.starts_with('"') && memchr::memchr(b'\\', text.as_bytes()).is_none() {
        return Ok(());
    }
    check_text(text.as_bytes())
}

/// [`check_value`] of JSON text that serde_json has already parsed (so its syntax is valid).
fn check_text(text: &[u8]) -> Result<(), BadValue> {
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        at += 1;
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(BadValue::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => at = string_end(text, at)?,
            _ => {}
        }
    }
    Ok(())
}

/// Checks the escapes of the string whose content starts at `at`; returns the index after its
/// closing quote.
fn string_end(text: &[u8], mut at: usize) -> Result<usize, BadValue> {
    loop {
        let rest = text.get(at..).unwrap_or_default();
        let Some(next) = memchr::memchr2(b'"', b'\\', rest) else {
            return Err(BadValue::UnterminatedString);
        };
        at += next;
        if rest[next] == b'"' {
            return Ok(at + 1);
        }
        // `at` is at a backslash.
        match text.get(at + 1) {
            Some(b'u') => {
                let unit = hex_escape(text, at + 2)?;
                at += 6;
                match unit {
                    0xDC00..=0xDFFF => return Err(BadValue::LoneTrailingSurrogate),
                    0xD800..=0xDBFF => {
                        let low = match text.get(at..at + 2) {
                            Some(b"\\u") => hex_escape(text, at + 2)?,
                            _ => return Err(BadValue::LoneLeadingSurrogate),
                        };
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(BadValue::LoneLeadingSurrogate);
                        }
                        at += 6;
                    }
                    _ => {}
                }
            }
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
            _ => return Err(BadValue::InvalidEscape),
        }
    }
}

/// The UTF-16 unit of the four hex digits at `at` (after a `\u`).
fn hex_escape(text: &[u8], at: usize) -> Result<u16, BadValue> {
    let digits = text.get(at..at + 4).ok_or(BadValue::InvalidEscape)?;
    let digits = std::str::from_utf8(digits).map_err(|_| BadValue::InvalidEscape)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BadValue::InvalidEscape);
    }
    u16::from_str_radix(digits, 16).map_err(|_| BadValue::InvalidEscape)
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

fn convert(ty: &Type, raw: &RawValue) -> serde_json::Result<Value> {
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

// ---------------------------------------------------------------------------------------
// The read path: JSON text → msgpack, one pass

/// The precomputed shape of a `results` element type.
pub struct Plan {
    root: ObjectPlan,
    /// The element type the plan writes (for [`Value::expanded`] and the fallback).
    ty: Type,
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
    /// Index in `attrs` of `additional_properties`, when the type has it.
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
    /// Known, but not an attribute (`link`, the `AdditionalProperties` name itself).
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
    /// The plan for objects of type `element` (the `results` element type).
    pub fn new(element: &BTreeMap<String, Type>) -> Plan {
        Plan {
            root: ObjectPlan::new(element),
            ty: Type::Object(element.clone()),
        }
    }

    /// The `results` element type the plan writes.
    pub fn element_type(&self) -> &Type {
        &self.ty
    }
}

impl ObjectPlan {
    fn new(attrs: &BTreeMap<String, Type>) -> ObjectPlan {
        let mut plan = ObjectPlan {
            attrs: Vec::with_capacity(attrs.len()),
            by_property: HashMap::with_capacity_and_hasher(
                attrs.len() + KNOWN_UNMAPPED.len(),
                BuildHasherDefault::default(),
            ),
            additional: None,
        };
        for unmapped in KNOWN_UNMAPPED {
            plan.by_property
                .insert((*unmapped).to_string(), Slot::Ignore);
        }
        for (i, (name, ty)) in attrs.iter().enumerate() {
            let mut key = Vec::with_capacity(name.len() + 2);
            // Names are short ASCII; an encoding error is impossible below 4 GiB.
            let _ = write_str(&mut key, name);
            let absent = match ty {
                Type::List(_) | Type::Set(_) => Absent::EmptyCollection,
                _ => Absent::Null,
            };
            plan.attrs.push(AttrPlan {
                key: key.into(),
                node: Node::new(ty),
                absent,
            });
            if name == ADDITIONAL_PROPERTIES {
                plan.additional = Some(i);
                plan.by_property.insert(property_name(name), Slot::Ignore);
            } else {
                plan.by_property.insert(property_name(name), Slot::Attr(i));
            }
        }
        plan
    }
}

impl Node {
    fn new(ty: &Type) -> Node {
        let kind = match ty {
            Type::String => Kind::String,
            Type::Number => Kind::Number,
            Type::Bool => Kind::Bool,
            Type::List(e) | Type::Set(e) => Kind::Collection(Box::new(Node::new(e))),
            Type::Object(attrs) => Kind::Object(Box::new(ObjectPlan::new(attrs))),
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
    let object = ObjectSeedIn {
        seed: ObjectSeed {
            plan,
            cancel: None,
            share: None,
        },
        mode,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(object)
}

/// How the scalars of a page (strings, numbers, booleans) are decoded. Both write the same
/// bytes wherever `Fast` succeeds; a page is decoded `Fast` first and again `Exact` when that
/// fails (see `ResultsDecoder`), so the result is always `Exact`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScalarMode {
    /// serde_json's own scalars (`visit_u64`, `visit_borrowed_str`, ...): no second look at
    /// each value's text. It fails on what it cannot write exactly as `Exact` does: a number
    /// that is not an integer within 64 bits (a fraction, an exponent, `-0`, a big integer:
    /// serde_json makes each a float and its digits are lost), and an array or an object
    /// where a scalar is expected (whose text a string attribute would keep verbatim).
    Fast,
    /// Each scalar read as its JSON text (`RawValue`): numbers of any size keep every digit.
    Exact,
}

/// Decodes one API object (a JSON object with a `Moid`) into a [`FlatObject`].
#[derive(Clone, Copy)]
pub(crate) struct ObjectSeed<'p> {
    pub(crate) plan: &'p Plan,
    /// The read's cancellation: once it is cancelled, decoding stops with an error within
    /// [`CANCEL_CHECK_EVERY`] members or elements (`None`: nothing to cancel).
    pub(crate) cancel: Option<&'p CancellationToken>,
    /// The read's share of the results budget: the buffers the object is built in are reserved
    /// from it as they grow, and given back once the object is built (`None`: unbounded, for
    /// tests, benchmarks and fuzzing).
    pub(crate) share: Option<&'p ResultsShare>,
}

/// An [`ObjectSeed`] whose scalars are decoded in `mode` (an `ObjectSeed` alone decodes them
/// [`ScalarMode::Exact`]).
#[derive(Clone, Copy)]
pub(crate) struct ObjectSeedIn<'p> {
    pub(crate) seed: ObjectSeed<'p>,
    pub(crate) mode: ScalarMode,
}

/// How many bytes an object's decoding writes between two reservations from the results
/// budget: an object smaller than this never touches the budget's shared counter until it is
/// built; a larger one holds at most this much that is not reserved.
pub(crate) const RESERVE_EVERY: u64 = 64 * 1024;

/// What one member kept for `additional_properties` costs besides its name while the object
/// is decoded (its entry in the index of members).
const EXTRA_MEMBER_BYTES: usize = 64;

/// How many members and array elements are decoded between two looks at the cancellation token
/// (it also is looked at once per object). A look takes the token's lock.
pub(crate) const CANCEL_CHECK_EVERY: u32 = 1024;

/// What the decoding of one object carries through its nested values: the count of members and
/// elements until the next look at the cancellation token, and the buffers of finished nested
/// objects and lists, which the next ones reuse (a token has a dozen references and lists: an
/// allocation each cost more than the checks this decoding makes).
struct Walk<'p> {
    mode: ScalarMode,
    cancel: Option<&'p CancellationToken>,
    share: Option<&'p ResultsShare>,
    /// Bytes written since the last reservation.
    pending: Cell<u64>,
    /// Bytes reserved from `share`, given back when the walk ends.
    reserved: Cell<u64>,
    /// Steps until the next look; 0: look at the next step.
    countdown: Cell<u32>,
    spare_bytes: RefCell<Vec<Vec<u8>>>,
    spare_slots: RefCell<Vec<Slots>>,
}

impl<'p> Walk<'p> {
    fn new(
        mode: ScalarMode,
        cancel: Option<&'p CancellationToken>,
        share: Option<&'p ResultsShare>,
    ) -> Walk<'p> {
        Walk {
            mode,
            cancel,
            share,
            pending: Cell::new(0),
            reserved: Cell::new(0),
            countdown: Cell::new(0),
            spare_bytes: RefCell::new(Vec::new()),
            spare_slots: RefCell::new(Vec::new()),
        }
    }

    /// One more member or element: an error once the read is cancelled.
    fn step<E: de::Error>(&self) -> Result<(), E> {
        let Some(cancel) = self.cancel else {
            return Ok(());
        };
        match self.countdown.get() {
            0 if cancel.is_cancelled() => Err(E::custom("the read was cancelled")),
            0 => {
                self.countdown.set(CANCEL_CHECK_EVERY - 1);
                Ok(())
            }
            left => {
                self.countdown.set(left - 1);
                Ok(())
            }
        }
    }

    /// `bytes` more were (or are about to be) written to the object's buffers: reserved from
    /// the results budget every [`RESERVE_EVERY`] bytes, an error once the budget refuses.
    ///
    /// Every byte an element or a member writes is counted once where it is written and once
    /// more for each copy into an enclosing buffer (a list's elements, an object's members in
    /// attribute order): the buffers alive at once hold about that many bytes, so what is
    /// reserved follows the memory the object takes, whatever its shape (a list of millions of
    /// empty objects, each written as all its attributes null, took 95 times its JSON).
    fn wrote<E: de::Error>(&self, bytes: usize) -> Result<(), E> {
        let Some(share) = self.share else {
            return Ok(());
        };
        let pending = self.pending.get().saturating_add(bytes as u64);
        if pending < RESERVE_EVERY {
            self.pending.set(pending);
            return Ok(());
        }
        share.reserve(pending).map_err(E::custom)?;
        self.pending.set(0);
        self.reserved.set(self.reserved.get() + pending);
        Ok(())
    }

    /// An empty byte buffer, reused when one is spare.
    fn bytes(&self) -> Vec<u8> {
        match self.spare_bytes.borrow_mut().pop() {
            Some(mut bytes) => {
                bytes.clear();
                bytes
            }
            None => Vec::with_capacity(1024),
        }
    }

    /// `n` empty slots, reused when a buffer is spare.
    fn slots(&self, n: usize) -> Slots {
        let mut slots = self.spare_slots.borrow_mut().pop().unwrap_or_default();
        slots.clear();
        slots.resize(n, None);
        slots
    }

    fn give_back(&self, bytes: Vec<u8>, slots: Option<Slots>) {
        self.spare_bytes.borrow_mut().push(bytes);
        if let Some(slots) = slots {
            self.spare_slots.borrow_mut().push(slots);
        }
    }
}

/// The buffers are freed with the walk: what was reserved for them goes back to the budget
/// (the built object is then taken whole, by its size).
impl Drop for Walk<'_> {
    fn drop(&mut self) {
        if let Some(share) = self.share {
            share.release(self.reserved.get());
        }
    }
}

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
        ObjectSeedIn {
            seed: self,
            mode: ScalarMode::Exact,
        }
        .visit_map(map)
    }
}

impl<'de> DeserializeSeed<'de> for ObjectSeedIn<'_> {
    type Value = FlatObject;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<FlatObject, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeedIn<'_> {
    type Value = FlatObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an API object (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FlatObject, A::Error> {
        let ObjectSeedIn { seed, mode } = self;
        let plan = &seed.plan.root;
        let walk = Walk::new(mode, seed.cancel, seed.share);
        let mut out = Vec::with_capacity(2048);
        let mut slots = Slots::new();
        write_object(plan, map, &mut out, &walk, Some(&mut slots))?;
        let text = |property: &str| {
            let Some(Slot::Attr(i)) = plan.by_property.get(property) else {
                return None;
            };
            let (start, end) = slots.get(*i).copied().flatten()?;
            read_str(&out[start..end]).map(str::to_string)
        };
        let Some(moid) = text("Moid") else {
            return Err(de::Error::custom("an object without a Moid"));
        };
        let object_type = text("ObjectType");
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

/// A string, number or bool node's value as serde_json decodes it ([`ScalarMode::Fast`]): each
/// arm writes what [`NodeSeed::raw`] writes for the same JSON value, and what it cannot write
/// the same (see [`ScalarMode::Fast`]) is an error, after which the page is decoded again
/// exactly.
struct FastScalar<'a>(NodeSeed<'a>);

impl FastScalar<'_> {
    /// A JSON integer's text is canonical (no sign but `-`, no leading zero; `-0` reaches
    /// serde_json's float), so its decimal form is the text the API sent.
    fn integer<E: de::Error>(self, number: Number, text: impl fmt::Display) -> Result<(), E> {
        let out = self.0.out;
        match self.0.node.kind {
            Kind::Number => write_number(out, &number).map_err(E::custom),
            Kind::String => write_str(out, &text.to_string()).map_err(E::custom),
            _ => {
                write_nil(out);
                Ok(())
            }
        }
    }

    fn string<E: de::Error>(self, s: &str) -> Result<(), E> {
        match self.0.node.kind {
            Kind::String => write_str(self.0.out, s).map_err(E::custom),
            _ => {
                write_nil(self.0.out);
                Ok(())
            }
        }
    }
}

/// The error that sends a page to [`ScalarMode::Exact`].
fn needs_exact<E: de::Error>(what: &str) -> E {
    E::custom(format_args!(
        "{what} where the fast path needs an exact decode"
    ))
}

impl<'de> Visitor<'de> for FastScalar<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        write_nil(self.0.out);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        match self.0.node.kind {
            Kind::Bool => write_bool(self.0.out, b),
            Kind::String => {
                write_str(self.0.out, if b { "true" } else { "false" }).map_err(E::custom)?;
            }
            _ => write_nil(self.0.out),
        }
        Ok(())
    }

    /// As `number_from_text`: an `i64` when the integer fits one.
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<(), E> {
        let number = i64::try_from(u).map_or(Number::UInt(u), Number::Int);
        self.integer(number, u)
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<(), E> {
        self.integer(Number::Int(i), i)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(needs_exact("a number that is not a 64-bit integer"))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(needs_exact("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(needs_exact("an object"))
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
mod tests {
    use super::*;
    use serde_json::{json, Value as Json};

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
            ("moid", Type::String),
            ("object_type", Type::String),
            ("owners", Type::list(Type::String)),
            ("user", Type::list(ref_type())),
            ("ancestors", Type::list(ref_type())),
            ("display_names", Type::map(Type::list(Type::String))),
            ("nr_version", Type::String),
            ("count", Type::Number),
            ("enabled", Type::Bool),
            ("scores", Type::set(Type::Number)),
        ]) else {
            unreachable!()
        };
        attrs
    }

    /// Both implementations on one JSON object: the fast one must give exactly the encoding of
    /// the reference's value.
    fn both(json: &Json) -> Value {
        both_text(&json.to_string())
    }

    /// [`both`] on JSON text (numbers no JSON tree holds).
    fn both_text(text: &str) -> Value {
        let ty = token_type();
        let reference = object_from_text(&ty, text).expect("the reference flattens");
        let plan = Plan::new(&ty);
        let json = text;
        let flat = flatten_object(&plan, text).expect("flattens");
        let expected = msgpack::encode(&reference, plan.element_type()).expect("encodes");
        assert_eq!(
            &*flat.msgpack,
            &expected[..],
            "fast path differs for {json}"
        );
        assert_eq!(
            Some(flat.moid.as_str()),
            reference.get_attr("moid").and_then(Value::as_str)
        );
        reference
    }

    #[test]
    fn maps_names_nesting_nulls_and_extras() {
        let v = both(&json!({
            "Moid": "m1",
            "ObjectType": "iam.OAuthToken",
            "CreateTime": "2024-05-01T10:20:30.123456Z",
            "Owners": null,
            "User": {"ClassId": "mo.MoRef", "ObjectType": "iam.User", "Moid": "u1", "link": "https://x/api/v1/iam/Users/u1"},
            "DisplayNames": {"short": ["a"]},
            "Version": "7",
            "ExtraFeature": {"on": true}
        }));
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

    #[test]
    fn surprising_shapes_agree_with_the_reference() {
        for json in [
            json!({"Moid": "m", "Version": 7, "Count": "x", "Enabled": 1, "Owners": "o"}),
            json!({"Moid": "m", "Version": true, "Count": 1.5, "Enabled": true, "Owners": [1, null, "a", {"k": [1]}]}),
            json!({"Moid": "m", "Version": {"a": [1, 2]}, "Count": -3, "Enabled": "yes", "User": [{"Moid": "u"}, null, 3]}),
            json!({"Moid": "m", "Version": [1, "a"], "Count": 18446744073709551615u64, "User": "u", "Ancestors": {"Moid": "a"}}),
            json!({"Moid": "m", "Count": 1e300, "Scores": [1, 2.5, -1], "DisplayNames": null, "AdditionalProperties": {"x": 1}}),
            json!({"Moid": "m", "DisplayNames": {"a": "b", "c": [1, true]}, "Scores": {"x": 1}, "Selector": "s", "link": "l"}),
            json!({"Moid": "m", "Z": null, "A": [], "Moid2": "x", "Version": null, "Count": null, "Owners": []}),
            json!({"Moid": "m", "Version": "a\u{0}b\"c\\d\u{1F600}", "Count": 12345678901234567890u64}),
        ] {
            both(&json);
        }
    }

    #[test]
    fn numbers_are_carried_digit_for_digit() {
        let v = both_text(
            r#"{"Moid":"m","Version":123456789012345678901234567890,"Count":123456789012345678901234567890,
               "Scores":[-0,1e400,0.1,1.0,18446744073709551616,-9223372036854775809],
               "Big":12345678901234567890123,"Neg":-0,"Huge":1e400,"Nested":{"x":[1.50,-0.0]},
               "User":{"Moid":-0,"Deep":1E+400}}"#,
        );
        assert_eq!(
            v.get_attr("nr_version"),
            Some(&Value::string("123456789012345678901234567890"))
        );
        assert_eq!(
            v.get_attr("count"),
            Some(&Value::Number(Number::Decimal(
                "123456789012345678901234567890".into()
            )))
        );
        let Some(Value::Set(scores)) = v.get_attr("scores") else {
            panic!("scores: {v:?}")
        };
        assert_eq!(
            scores,
            &[
                Value::Number(Number::Int(0)),
                Value::Number(Number::Decimal("1e400".into())),
                Value::Number(Number::Decimal("0.1".into())),
                Value::Number(Number::Decimal("1.0".into())),
                Value::Number(Number::Decimal("18446744073709551616".into())),
                Value::Number(Number::Decimal("-9223372036854775809".into())),
            ]
        );
        assert_eq!(
            v.get_attr("additional_properties"),
            Some(&Value::string(
                r#"{"Big":12345678901234567890123,"Neg":-0,"Huge":1e400,"Nested":{"x":[1.50,-0.0]}}"#
            ))
        );
        let user = &v.get_attr("user").and_then(Value::as_elements).unwrap()[0];
        assert_eq!(user.get_attr("moid"), Some(&Value::string("-0")));
        assert_eq!(
            user.get_attr("additional_properties"),
            Some(&Value::string(r#"{"Deep":1E+400}"#))
        );
    }

    #[test]
    fn duplicate_properties_keep_the_last_value() {
        let plan = Plan::new(&token_type());
        let flat = flatten_object(
            &plan,
            r#"{"Moid":"a","Version":"1","Moid":"b","Version":"2","X":1,"X":2}"#,
        )
        .unwrap();
        assert_eq!(flat.moid, "b");
        let v = msgpack::decode(&flat.msgpack, plan.element_type()).unwrap();
        assert_eq!(v.get_attr("nr_version"), Some(&Value::string("2")));
        assert_eq!(
            v.get_attr("additional_properties"),
            Some(&Value::string(r#"{"X":2}"#))
        );
    }

    #[test]
    fn objects_without_a_moid_or_not_objects_are_errors() {
        let plan = Plan::new(&token_type());
        for bad in [
            r#"{"Version":"1"}"#,
            r#"{"Moid":null}"#,
            "[1]",
            "\"x\"",
            "null",
            r#"{"Moid":"a"} x"#,
        ] {
            assert!(flatten_object(&plan, bad).is_err(), "{bad}");
        }
        let flat = flatten_object(&plan, r#"{"Moid":"a","ObjectType":"iam.User"}"#).unwrap();
        assert_eq!(flat.object_type.as_deref(), Some("iam.User"));
    }

    #[test]
    fn invalid_strings_are_errors_not_guesses() {
        let plan = Plan::new(&token_type());
        for bad in [
            r#"{"Moid":"a","Version":"\ud800"}"#,
            r#"{"Moid":"a","Version":"\q"}"#,
            r#"{"Moid":"a","Extra":"\udc00x"}"#,
        ] {
            assert!(flatten_object(&plan, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn null_and_non_object_elements_of_block_lists_are_left_out() {
        let v = both(&json!({
            "Moid": "m",
            "Ancestors": [null],
            "User": [null, {"Moid": "u1"}, 3, "x", [], {"Moid": "u2"}, null],
            "Owners": [null, "o"],
        }));
        assert_eq!(v.get_attr("ancestors"), Some(&Value::List(vec![])));
        let users = v.get_attr("user").and_then(Value::as_elements).unwrap();
        let moids: Vec<_> = users.iter().map(|u| u.get_attr("moid").unwrap()).collect();
        assert_eq!(moids, [&Value::string("u1"), &Value::string("u2")]);
        // Lists of strings keep their nulls: Terraform handles null strings in a list.
        assert_eq!(
            v.get_attr("owners"),
            Some(&Value::List(vec![Value::Null, Value::string("o")]))
        );
    }

    /// Runs `f` on a thread with a 256 KiB stack. Every test below nests 10,000 levels or
    /// more: a walk whose recursion follows the input's nesting overflows such a stack long
    /// before (the old `check_strings` took hundreds of bytes per level), so passing shows the
    /// walk is iterative or bounded, not that the stack is big.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("a thread starts")
            .join()
            .expect("no panic, no overflow")
    }

    /// `[[…["a\nb"]…]]`, `depth` arrays deep around a string with an escape (the issue's
    /// shape: the old walk re-parsed each level only when an escape was inside).
    fn deep_array(depth: usize) -> String {
        "[".repeat(depth) + r#""a\nb""# + &"]".repeat(depth)
    }

    /// `{"a":{"a":…"a\nb"…}}`, `depth` objects deep.
    fn deep_object(depth: usize) -> String {
        r#"{"a":"#.repeat(depth) + r#""a\nb""# + &"}".repeat(depth)
    }

    /// `[[…[]…]]` with no string at all (the old walk accepted it without looking).
    fn deep_plain(depth: usize) -> String {
        "[".repeat(depth) + &"]".repeat(depth)
    }

    /// Every place a deep value can sit in an object, for every kind of walk: kept as text
    /// (unmapped, where a string, a number or a bool is expected), skipped (`link`), inside a
    /// typed list or nested block, in a map (the reference's fallback), where a list or block
    /// is expected. Each is the usual decode error, in the read's path and the reference.
    #[test]
    fn values_nested_beyond_the_limit_are_decode_errors_at_any_depth_and_place() {
        on_small_stack(|| {
            let plan = Plan::new(&token_type());
            // Typed levels (a list, a nested block) come on top of the value's own: 3 more
            // levels are beyond the limit in every place below.
            for depth in [MAX_DEPTH + 3, 10_000, 20_000] {
                for value in [deep_array(depth), deep_object(depth), deep_plain(depth)] {
                    for object in [
                        format!(r#"{{"Moid":"m","Extra":{value}}}"#),
                        format!(r#"{{"Moid":"m","Version":{value}}}"#),
                        format!(r#"{{"Moid":"m","Count":{value},"Enabled":{value}}}"#),
                        format!(r#"{{"Moid":"m","link":{value}}}"#),
                        format!(r#"{{"Moid":"m","AdditionalProperties":{value}}}"#),
                        format!(r#"{{"Moid":"m","Owners":{value}}}"#),
                        format!(r#"{{"Moid":"m","Owners":["o",{value}]}}"#),
                        format!(r#"{{"Moid":"m","User":{value}}}"#),
                        format!(r#"{{"Moid":"m","Ancestors":[{value}]}}"#),
                        format!(r#"{{"Moid":"m","User":{{"Moid":"u","Deep":{value}}}}}"#),
                        format!(r#"{{"Moid":"m","User":[{{"Moid":{value}}}]}}"#),
                        format!(r#"{{"Moid":"m","DisplayNames":{{"short":{value}}}}}"#),
                        format!(r#"{{"Moid":"m","Extra":1,"Extra":{value},"Extra":2}}"#),
                    ] {
                        let shown = &object[..object.len().min(60)];
                        let fast = flatten_object(&plan, &object).err().expect(shown);
                        assert!(
                            fast.to_string()
                                .contains("nested more than 128 levels deep"),
                            "{shown}: {fast}"
                        );
                        let reference = object_from_text(&token_type(), &object).expect_err(shown);
                        assert!(
                            reference
                                .to_string()
                                .contains("nested more than 128 levels deep"),
                            "{shown}: {reference}"
                        );
                    }
                }
            }
        });
    }

    #[test]
    fn values_nested_up_to_the_limit_are_kept_verbatim() {
        on_small_stack(|| {
            let value = deep_array(MAX_DEPTH);
            let v = both_text(&format!(
                r#"{{"Moid":"m","Extra":{value},"Version":{value}}}"#
            ));
            assert_eq!(v.get_attr("nr_version"), Some(&Value::string(&value)));
            assert_eq!(
                v.get_attr("additional_properties"),
                Some(&Value::string(format!(r#"{{"Extra":{value}}}"#)))
            );
        });
    }

    /// The check is one pass whatever the shape: 10 MB of nesting and escapes takes about as
    /// long as 10 MB of a flat array (the old walk re-parsed the rest at every level).
    #[test]
    fn check_value_is_iterative_and_agrees_with_serde_json_on_strings() {
        on_small_stack(|| {
            let wide = format!("[{}]", vec![r#""\ud83d\ude00\n""#; 600_000].join(","));
            let raw: Box<RawValue> = serde_json::from_str(&wide).unwrap();
            assert_eq!(check_value(&raw), Ok(()));
            let deep = "[{\"k\":".repeat(60) + "1" + &"}]".repeat(60);
            let raw: Box<RawValue> = serde_json::from_str(&deep).unwrap();
            assert_eq!(check_value(&raw), Ok(()));
        });
        for (text, expected) in [
            (r#""plain""#, Ok(())),
            (r#""\"\\\/\b\f\n\r\t\u0041\u00e9\uFFFF""#, Ok(())),
            (r#""\ud83d\ude00""#, Ok(())),
            (r#"["x\ud83d\ude00y",{"\ud83d\ude00":1}]"#, Ok(())),
            (r#""\ud800""#, Err(BadValue::LoneLeadingSurrogate)),
            (r#""\ud800x""#, Err(BadValue::LoneLeadingSurrogate)),
            (r#""\ud800\n""#, Err(BadValue::LoneLeadingSurrogate)),
            (r#""\ud800\u0041""#, Err(BadValue::LoneLeadingSurrogate)),
            (r#""\ud800\ud800""#, Err(BadValue::LoneLeadingSurrogate)),
            (r#""\udc00""#, Err(BadValue::LoneTrailingSurrogate)),
            (r#"{"\udfff":1}"#, Err(BadValue::LoneTrailingSurrogate)),
            (
                r#"[1,{"a":["\ud83d"]}]"#,
                Err(BadValue::LoneLeadingSurrogate),
            ),
        ] {
            let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
            assert_eq!(check_value(&raw), expected, "{text}");
            // serde_json decodes strings with the same rules.
            let decoded = serde_json::from_str::<serde_json::Value>(text);
            assert_eq!(decoded.is_ok(), expected.is_ok(), "{text}");
        }
        // Text serde_json never hands over (it checks the syntax of what it skips): errors,
        // not panics.
        for bad in [
            &b"\"abc"[..],
            b"\"\\q\"",
            b"\"\\u12\"",
            b"\"\\u12g4\"",
            b"\"\\",
            b"[\"\\ud800\\u",
        ] {
            assert!(check_text(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_cancelled_read_stops_decoding_with_an_error() {
        let plan = Plan::new(&token_type());
        let members: Vec<String> = (0..5000).map(|i| format!(r#""X{i}":{i}"#)).collect();
        let object = format!(r#"{{"Moid":"m",{}}}"#, members.join(","));
        let decode = |cancel: Option<&CancellationToken>| {
            let mut de = serde_json::Deserializer::from_str(&object);
            ObjectSeed {
                plan: &plan,
                cancel,
                share: None,
            }
            .deserialize(&mut de)
        };
        let token = CancellationToken::new();
        let flat = decode(Some(&token)).expect("not cancelled");
        assert_eq!(*flat.msgpack, *decode(None).unwrap().msgpack);
        token.cancel();
        let err = decode(Some(&token)).err().expect("cancelled");
        assert!(err.to_string().contains("the read was cancelled"), "{err}");
    }

    /// A wide object costs one hash lookup per member: 200,000 distinct unmapped members
    /// decode (a linear search per member took minutes), and a repeated name keeps its first
    /// position and its last value.
    #[test]
    fn wide_objects_decode_in_linear_time() {
        let plan = Plan::new(&token_type());
        let members: Vec<String> = (0..200_000).map(|i| format!(r#""W{i}":{i}"#)).collect();
        let object = format!(r#"{{"Moid":"m",{},"W0":"last"}}"#, members.join(","));
        let started = std::time::Instant::now();
        let flat = flatten_object(&plan, &object).unwrap();
        let elapsed = started.elapsed();
        let v = msgpack::decode(&flat.msgpack, plan.element_type()).unwrap();
        let Some(Value::String(extra)) = v.get_attr("additional_properties") else {
            panic!("no additional_properties")
        };
        assert!(
            extra.starts_with(r#"{"W0":"last","W1":1,"#),
            "{}",
            &extra[..40]
        );
        // Generous for a debug build on a shared machine; the quadratic search took ~100 s.
        assert!(elapsed < std::time::Duration::from_secs(20), "{elapsed:?}");
    }
}
