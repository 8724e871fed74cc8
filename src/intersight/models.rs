//! The `iam.OAuthToken` model and its nested shapes, as the API sends them.
//!
//! Every property is optional (any may be null or absent); date-times are kept as the exact
//! strings the API gives; unknown properties are kept in `additional_properties` (on nested
//! shapes too).
//!
//! Memory: tens of thousands of tokens must fit in tens of MiB, and most of their strings repeat
//! (class names, account and user Moids, links, client names). So strings are [`Text`], a shared
//! `Arc<str>`: while a listing decodes its pages, equal strings are decoded into one allocation
//! (see [`Interner`]). Lists are boxed slices, references are boxed, and the
//! `additional_properties` map costs one pointer when empty (the usual case).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::HasMoid;

/// An immutable string, shared between equal values decoded in the same listing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Arc<str>);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Arc::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Arc::from(s))
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text, E> {
                Ok(Interner::intern_current(s))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Strings longer than this are not interned (they are rarely repeated).
const INTERN_MAX_LEN: usize = 256;

/// What identifies a reference without additional properties.
type RefKey = [Option<Text>; 5];

#[derive(Default)]
struct Tables {
    strings: HashSet<Arc<str>>,
    refs: HashMap<RefKey, Arc<MoRef>>,
}

thread_local! {
    // The interner of the decode running on this thread, if any (set by `Interner::decode`).
    static CURRENT: RefCell<Option<Arc<Mutex<Tables>>>> = const { RefCell::new(None) };
}

/// Shares equal strings, and equal references, between the objects decoded through it (one per
/// listing, dropped with it; the shared values live on in the objects).
#[derive(Default, Clone)]
pub struct Interner {
    set: Arc<Mutex<Tables>>,
}

impl fmt::Debug for Interner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Interner")
    }
}

impl Interner {
    pub fn new() -> Interner {
        Interner::default()
    }

    /// Decodes JSON with this interner active for every [`Text`] in it.
    pub fn decode<T: serde::de::DeserializeOwned>(&self, json: &[u8]) -> serde_json::Result<T> {
        // Decoding is synchronous, so the thread-local cannot leak into another task; the guard
        // restores the previous interner even if decoding panics.
        struct Restore(Option<Arc<Mutex<Tables>>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(self.set.clone()))));
        serde_json::from_slice(json)
    }

    /// Distinct strings and references held.
    pub fn len(&self) -> usize {
        self.set
            .lock()
            .map(|t| t.strings.len() + t.refs.len())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn intern_current(s: &str) -> Text {
        if s.len() > INTERN_MAX_LEN {
            return Text::from(s);
        }
        CURRENT.with(|c| match &*c.borrow() {
            Some(tables) => match tables.lock() {
                Ok(mut tables) => {
                    if let Some(existing) = tables.strings.get(s) {
                        return Text(existing.clone());
                    }
                    let new: Arc<str> = Arc::from(s);
                    tables.strings.insert(new.clone());
                    Text(new)
                }
                Err(_) => Text::from(s),
            },
            None => Text::from(s),
        })
    }

    fn intern_ref_current(r: MoRef) -> SharedRef {
        if !r.additional_properties.is_empty() {
            return SharedRef(Arc::new(r));
        }
        let key: RefKey = [
            r.class_id.clone(),
            r.object_type.clone(),
            r.moid.clone(),
            r.selector.clone(),
            r.link.clone(),
        ];
        CURRENT.with(|c| match &*c.borrow() {
            Some(tables) => match tables.lock() {
                Ok(mut tables) => SharedRef(
                    tables
                        .refs
                        .entry(key)
                        .or_insert_with(|| Arc::new(r))
                        .clone(),
                ),
                Err(_) => SharedRef(Arc::new(r)),
            },
            None => SharedRef(Arc::new(r)),
        })
    }
}

/// Properties not in the model (kept as JSON); costs one pointer when there are none.
#[derive(Clone, Default, PartialEq)]
pub struct Extra(Option<Box<Map<String, Value>>>);

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_empty())
    }

    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |m| m.len())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.as_ref().and_then(|m| m.get(key))
    }

    /// The properties in the order the API sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().flat_map(|m| m.iter())
    }

    pub fn as_map(&self) -> Option<&Map<String, Value>> {
        self.0.as_deref()
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0.map(|m| *m).unwrap_or_default()
    }
}

impl From<Map<String, Value>> for Extra {
    fn from(m: Map<String, Value>) -> Extra {
        Extra((!m.is_empty()).then(|| Box::new(m)))
    }
}

impl std::ops::Index<&str> for Extra {
    type Output = Value;
    /// Like `serde_json::Map`, but a missing key gives `Null` rather than panicking.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Extra {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Extra, D::Error> {
        Map::<String, Value>::deserialize(deserializer).map(Extra::from)
    }
}

/// `DisplayNames`: name kind (`short`, `hierarchical`) to names, in the order sent.
#[derive(Clone, Default, PartialEq)]
pub struct DisplayNames(Box<[(Text, Box<[Text]>)]>);

impl DisplayNames {
    pub fn get(&self, kind: &str) -> Option<&[Text]> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == kind)
            .map(|(_, v)| &**v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Text, &[Text])> {
        self.0.iter().map(|(k, v)| (k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for DisplayNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for DisplayNames {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for DisplayNames {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DisplayNames, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = DisplayNames;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of name kind to a list of names")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<DisplayNames, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<Text, Option<Box<[Text]>>>()? {
                    entries.push((k, v.unwrap_or_default()));
                }
                Ok(DisplayNames(entries.into_boxed_slice()))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A reference, shared between equal references decoded in the same listing (most tokens of
/// a user point at the same user, account and permission).
#[derive(Clone, PartialEq)]
pub struct SharedRef(Arc<MoRef>);

impl Deref for SharedRef {
    type Target = MoRef;
    fn deref(&self) -> &MoRef {
        &self.0
    }
}

impl From<MoRef> for SharedRef {
    fn from(r: MoRef) -> SharedRef {
        SharedRef(Arc::new(r))
    }
}

impl fmt::Debug for SharedRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Serialize for SharedRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SharedRef, D::Error> {
        MoRef::deserialize(deserializer).map(Interner::intern_ref_current)
    }
}

/// A relationship (`mo.MoRef`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moid: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Text>,
    #[serde(default, rename = "link", skip_serializing_if = "Option::is_none")]
    pub link: Option<Text>,
    #[serde(flatten)]
    pub additional_properties: Extra,
}

/// A tag (`mo.Tag`); it has no `ClassId`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoTag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Text>,
    /// `KeyValue` or `PathTag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sys_tag: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<SharedRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestor_definitions: Option<Box<[SharedRef]>>,
    #[serde(flatten)]
    pub additional_properties: Extra,
}

/// `iam.ClientMeta` (the token's `UserMeta`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamClientMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Text>,
    #[serde(flatten)]
    pub additional_properties: Extra,
}

/// `mo.VersionContext`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MoVersionContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interested_mos: Option<Box<[SharedRef]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marked_for_deletion: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_mo: Option<SharedRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Text>,
    /// `Modified`, `Configured` or `Deployed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_type: Option<Text>,
    #[serde(flatten)]
    pub additional_properties: Extra,
}

/// `iam.OAuthToken`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamOAuthToken {
    // Own properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_type: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_expiration_time: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip_address: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_client: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login_time: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_meta: Option<Box<IamClientMeta>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_registration: Option<SharedRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<SharedRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<SharedRef>,
    // Inherited from mo.BaseMo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moid: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_moid: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mod_time: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_group_moid: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Box<[Text]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_scope: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Box<[MoTag]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_context: Option<Box<MoVersionContext>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ancestors: Option<Box<[SharedRef]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SharedRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_resources: Option<Box<[SharedRef]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_names: Option<DisplayNames>,
    #[serde(flatten)]
    pub additional_properties: Extra,
}

impl HasMoid for IamOAuthToken {
    fn moid(&self) -> &str {
        self.moid.as_deref().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_full_token_and_keeps_unknown_properties() {
        let json = r#"{
          "ClassId":"iam.OAuthToken","ObjectType":"iam.OAuthToken","Moid":"5f0000000000000000000001",
          "AccessExpirationTime":"2022-09-20T10:43:18.327Z","ClientName":"c","Owners":["a","b"],
          "User":{"ClassId":"mo.MoRef","ObjectType":"iam.User","Moid":"u1","link":"https://x/api/v1/iam/Users/u1","Extra":1},
          "Tags":[{"Key":"k","Value":"v","Type":"KeyValue","SysTag":false,"Propagated":true,"Definition":null,"Other":"o"}],
          "UserMeta":{"ClassId":"iam.ClientMeta","ObjectType":"iam.ClientMeta","DeviceModel":"d","UserAgent":"ua","Z":[1]},
          "VersionContext":{"InterestedMos":[{"Moid":"i"}],"MarkedForDeletion":false,"RefMo":null,"Timestamp":"2022-09-20T10:43:18.3271234Z","Version":"1","VersionType":"Modified"},
          "DisplayNames":{"short":["s"]},
          "Ancestors":null,"Parent":null,"NewThing":{"a":true}
        }"#;
        let t: IamOAuthToken = serde_json::from_str(json).unwrap();
        assert_eq!(t.moid(), "5f0000000000000000000001");
        assert_eq!(
            t.access_expiration_time.as_deref(),
            Some("2022-09-20T10:43:18.327Z")
        );
        let user = t.user.as_ref().unwrap();
        assert_eq!(user.link.as_deref(), Some("https://x/api/v1/iam/Users/u1"));
        assert_eq!(user.additional_properties["Extra"], 1);
        let tag = &t.tags.as_ref().unwrap()[0];
        assert_eq!(tag.r#type.as_deref(), Some("KeyValue"));
        assert_eq!(tag.propagated, Some(true));
        assert!(tag.definition.is_none());
        assert_eq!(tag.additional_properties["Other"], "o");
        assert_eq!(
            t.user_meta.as_ref().unwrap().additional_properties["Z"][0],
            1
        );
        let vc = t.version_context.as_ref().unwrap();
        assert_eq!(
            vc.timestamp.as_deref(),
            Some("2022-09-20T10:43:18.3271234Z")
        );
        assert_eq!(
            vc.interested_mos.as_ref().unwrap()[0].moid.as_deref(),
            Some("i")
        );
        let names = t.display_names.as_ref().unwrap();
        assert_eq!(names.get("short").unwrap(), &[Text::from("s")]);
        assert_eq!(names.get("hierarchical"), None);
        assert!(t.ancestors.is_none() && t.parent.is_none());
        assert_eq!(t.additional_properties.len(), 1);
        assert_eq!(t.additional_properties["NewThing"]["a"], true);
    }

    #[test]
    fn empty_object_decodes_to_all_none() {
        let t: IamOAuthToken = serde_json::from_str("{}").unwrap();
        assert_eq!(t, IamOAuthToken::default());
        assert_eq!(t.moid(), "");
    }

    #[test]
    fn an_interner_shares_equal_strings_and_references() {
        let json = br#"[
          {"Moid":"a","ClassId":"iam.OAuthToken","User":{"ObjectType":"iam.User","Moid":"u","link":"l"},"Parent":{"ObjectType":"iam.User","Moid":"u","link":"l"}},
          {"Moid":"b","ClassId":"iam.OAuthToken","User":{"ObjectType":"iam.User","Moid":"u","link":"l"},"Parent":{"ObjectType":"iam.User","Moid":"u","link":"l","X":1}}
        ]"#;
        let interner = Interner::new();
        let tokens: Vec<IamOAuthToken> = interner.decode(json).unwrap();
        let (a, b) = (&tokens[0], &tokens[1]);
        let ptr = |t: &Option<Text>| Arc::as_ptr(&t.as_ref().unwrap().0) as *const u8;
        assert_eq!(ptr(&a.class_id), ptr(&b.class_id));
        assert_ne!(ptr(&a.moid), ptr(&b.moid));
        let user = |t: &IamOAuthToken| Arc::as_ptr(&t.user.as_ref().unwrap().0);
        assert_eq!(user(a), user(b));
        assert_eq!(Arc::as_ptr(&a.parent.as_ref().unwrap().0), user(a));
        // A reference with extra properties is never shared (and keeps them).
        let parent_b = b.parent.as_ref().unwrap();
        assert_ne!(Arc::as_ptr(&parent_b.0), user(b));
        assert_eq!(parent_b.additional_properties["X"], 1);
        assert!(!interner.is_empty());

        // Outside an interner nothing is shared, and decoding still works.
        let plain: Vec<IamOAuthToken> = serde_json::from_slice(json).unwrap();
        assert_ne!(ptr(&plain[0].class_id), ptr(&plain[1].class_id));
        assert_eq!(plain, tokens);
    }

    #[test]
    fn extra_is_compact_and_forgiving() {
        let e = Extra::default();
        assert!(e.is_empty() && e.as_map().is_none());
        assert_eq!(e.len(), 0);
        assert_eq!(e["missing"], Value::Null);
        let e: Extra = serde_json::from_str("{}").unwrap();
        assert!(e.as_map().is_none(), "an empty map must not allocate");
        let e: Extra = serde_json::from_str(r#"{"b":1,"a":[true]}"#).unwrap();
        let keys: Vec<&String> = e.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a"], "order as sent");
        assert_eq!(e.clone().into_map().len(), 2);
        assert_eq!(std::mem::size_of::<Extra>(), 8);
    }

    #[test]
    fn serializes_back_with_additional_properties_flattened() {
        let json = r#"{"ClassId":"iam.OAuthToken","Moid":"m","User":{"Moid":"u","link":"l","Q":2},"DisplayNames":{"short":["s"],"hierarchical":["h1","h2"]},"Z":null}"#;
        let t: IamOAuthToken = serde_json::from_str(json).unwrap();
        let back = serde_json::to_value(&t).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
        let names: Vec<(&str, usize)> = t
            .display_names
            .as_ref()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.len()))
            .collect();
        assert_eq!(names, [("short", 1), ("hierarchical", 2)]);
    }

    #[test]
    fn wrong_types_are_decode_errors() {
        assert!(serde_json::from_str::<IamOAuthToken>(r#"{"Moid":5}"#).is_err());
        assert!(serde_json::from_str::<IamOAuthToken>(r#"{"Owners":"x"}"#).is_err());
        assert!(serde_json::from_str::<IamOAuthToken>(r#"{"DisplayNames":[]}"#).is_err());
    }
}
