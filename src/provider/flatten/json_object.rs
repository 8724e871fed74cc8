//! The reference flattening's view of a JSON object: each member's value as its text.

use std::fmt;
use std::hash::RandomState;

use indexmap::IndexMap;
use serde::de::{MapAccess, Visitor};
use serde::Deserializer as _;
use serde_json::value::RawValue;

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
    pub(super) members: IndexMap<String, &'a RawValue, RandomState>,
    /// The earlier values of repeated names, which [`object`] checks as the read does (it sees
    /// every value it is sent).
    pub(super) replaced: Vec<(String, &'a RawValue)>,
}

impl<'a> JsonObject<'a> {
    /// Parses the text of one JSON object (an error for anything else).
    pub fn parse(text: &'a str) -> serde_json::Result<JsonObject<'a>> {
        let mut de = serde_json::Deserializer::from_str(text);
        let object = de.deserialize_map(MembersVisitor)?;
        de.end()?;
        Ok(object)
    }

    pub(super) fn new() -> JsonObject<'a> {
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
    pub(super) fn insert(
        &mut self,
        name: String,
        value: &'a RawValue,
    ) -> Option<(String, &'a RawValue)> {
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
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &'a RawValue)> + '_ {
        self.members
            .iter()
            .map(|(name, value)| (name.as_str(), *value))
    }

    pub(super) fn is_empty(&self) -> bool {
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
