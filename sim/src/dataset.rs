//! Realistic `iam.OAuthToken` objects generated from a seed.
//!
//! Everything but the time fields is a pure function of the seed. Time fields are
//! offsets from an anchor instant (default: the simulator's "now" at start, so some
//! tokens always expire within 24 hours); pass a fixed anchor for fully reproducible data.

use rand::rngs::ChaCha8Rng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use time::{Duration, OffsetDateTime};

const LINK_BASE: &str = "https://www.intersight.com/api/v1";

/// Registered applications: (client name, client id prefix). Names carry quotes and
/// non-ASCII on purpose.
const APPS: &[&str] = &[
    "Terraform Automation",
    "O'Brien's app",
    "Zürich-Ops",
    "Grafana \"Exporter\"",
    "isctl",
    "ServiceNow Connector",
];

const USERS: &[&str] = &[
    "alice@example.com",
    "bob.o'neill@example.com",
    "jürgen.müller@example.ch",
    "ops-bot@example.com",
    "zoë@example.fr",
];

const IPS: &[&str] = &[
    "10.10.1.15",
    "10.10.1.16",
    "192.0.2.44",
    "198.51.100.23",
    "203.0.113.7",
    "2001:db8::7",
];

const DEVICES: &[(&str, &str)] = &[
    ("Macintosh", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"),
    ("Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"),
    ("Linux x86_64", "Terraform/1.15.5 terraform-provider-intersight/1.0.0"),
    ("iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"),
    ("Linux x86_64", "python-requests/2.31.0 intersight-python/1.0.11"),
];

const TAGS: &[(&str, &str)] = &[
    ("Site", "London"),
    ("Site", "Zürich"),
    ("Site", "Paris"),
    ("Env", "prod"),
    ("Env", "dev"),
    ("Owner", "O'Brien"),
    ("CostCenter", "4711"),
];

fn hex_id(rng: &mut ChaCha8Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

fn alnum_id(rng: &mut ChaCha8Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let h = hex_id(rng, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Formats like the service: `2024-05-01T10:20:30.123Z`, with `digits` fractional digits
/// (0 omits the fraction).
pub fn format_time(instant: OffsetDateTime, digits: usize) -> String {
    let instant = instant.to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        instant.year(),
        u8::from(instant.month()),
        instant.day(),
        instant.hour(),
        instant.minute(),
        instant.second()
    );
    if digits == 0 {
        return format!("{base}Z");
    }
    let nanos = format!("{:09}", instant.nanosecond());
    format!("{base}.{}Z", &nanos[..digits.min(9)])
}

fn moref(object_type: &str, collection: &str, moid: &str) -> Value {
    json!({
        "ClassId": "mo.MoRef",
        "ObjectType": object_type,
        "Moid": moid,
        "link": format!("{LINK_BASE}/{collection}/{moid}"),
    })
}

struct SharedEntity {
    name: &'static str,
    moid: String,
    client_id: String,
}

/// Generates tokens; keeps its RNG so later inserts (fault injection) continue the sequence.
pub struct Generator {
    rng: ChaCha8Rng,
    anchor: OffsetDateTime,
    account_moid: String,
    domain_group_moid: String,
    users: Vec<SharedEntity>,
    apps: Vec<SharedEntity>,
    permissions: Vec<String>,
    orgs: Vec<String>,
    tag_definitions: Vec<String>,
    serial: usize,
}

impl Generator {
    pub fn new(seed: u64, anchor: OffsetDateTime) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let account_moid = hex_id(&mut rng, 24);
        let domain_group_moid = hex_id(&mut rng, 24);
        let users = USERS
            .iter()
            .map(|name| SharedEntity {
                name,
                moid: hex_id(&mut rng, 24),
                client_id: String::new(),
            })
            .collect();
        let apps = APPS
            .iter()
            .map(|name| SharedEntity {
                name,
                moid: hex_id(&mut rng, 24),
                client_id: alnum_id(&mut rng, 32),
            })
            .collect();
        let permissions = (0..3).map(|_| hex_id(&mut rng, 24)).collect();
        let orgs = (0..2).map(|_| hex_id(&mut rng, 24)).collect();
        let tag_definitions = (0..2).map(|_| hex_id(&mut rng, 24)).collect();
        Generator {
            rng,
            anchor,
            account_moid,
            domain_group_moid,
            users,
            apps,
            permissions,
            orgs,
            tag_definitions,
            serial: 0,
        }
    }

    fn time_digits(&mut self) -> usize {
        // Mostly milliseconds, as the service writes them, with some other precisions.
        *[3, 3, 3, 3, 3, 0, 1, 2, 6, 9]
            .choose(&mut self.rng)
            .unwrap_or(&3)
    }

    fn time_at(&mut self, instant: OffsetDateTime) -> String {
        let digits = self.time_digits();
        format_time(instant, digits)
    }

    fn millis(&mut self, low: i64, high: i64) -> Duration {
        Duration::milliseconds(self.rng.random_range(low..high))
    }

    fn tag(&mut self) -> Value {
        let (key, value) = *TAGS.choose(&mut self.rng).unwrap_or(&("Site", "London"));
        let mut tag = Map::new();
        tag.insert("Key".into(), json!(key));
        tag.insert("Value".into(), json!(value));
        let path_tag = self.rng.random_bool(0.2);
        tag.insert(
            "Type".into(),
            json!(if path_tag { "PathTag" } else { "KeyValue" }),
        );
        tag.insert("SysTag".into(), json!(self.rng.random_bool(0.1)));
        tag.insert(
            "Propagated".into(),
            json!(path_tag && self.rng.random_bool(0.5)),
        );
        if path_tag {
            let definition =
                self.tag_definitions[self.rng.random_range(0..self.tag_definitions.len())].clone();
            tag.insert(
                "Definition".into(),
                moref("tag.Definition", "tag/Definitions", &definition),
            );
            let ancestors: Vec<Value> = self
                .tag_definitions
                .iter()
                .filter(|d| **d != definition)
                .map(|d| moref("tag.Definition", "tag/Definitions", d))
                .collect();
            tag.insert("AncestorDefinitions".into(), Value::Array(ancestors));
        }
        Value::Object(tag)
    }

    /// Produces the next token.
    pub fn token(&mut self) -> Value {
        self.serial += 1;
        let moid = hex_id(&mut self.rng, 24);
        let user_index = self.rng.random_range(0..self.users.len());
        let app_index = self.rng.random_range(0..self.apps.len());
        let user_moid = self.users[user_index].moid.clone();
        let user_name = self.users[user_index].name;
        let app_name = self.apps[app_index].name;
        let app_moid = self.apps[app_index].moid.clone();
        let client_id = self.apps[app_index].client_id.clone();
        let user_ref = moref("iam.User", "iam/Users", &user_moid);

        let anchor = self.anchor;
        let create = anchor - self.millis(3_600_000, 90 * 86_400_000);
        let since_create = (anchor - create).whole_milliseconds().max(2) as i64;
        let modified = create + self.millis(0, since_create);
        let last_login = create + self.millis(0, since_create);
        // A fifth of the tokens expire within the next 24 hours; the rest spread from
        // two days ago to thirty days ahead.
        let expiration = if self.rng.random_bool(0.2) {
            anchor + self.millis(60_000, 86_400_000 - 60_000)
        } else {
            anchor + self.millis(-2 * 86_400_000, 30 * 86_400_000)
        };
        let access_expiration = last_login + Duration::minutes(15);

        let tags = match self.rng.random_range(0..10) {
            0 => Value::Null,
            1 | 2 => json!([]),
            _ => {
                let count = self.rng.random_range(1..=3);
                Value::Array((0..count).map(|_| self.tag()).collect())
            }
        };
        let user_meta = if self.rng.random_bool(0.15) {
            Value::Null
        } else {
            let (device, agent) = *DEVICES.choose(&mut self.rng).unwrap_or(&DEVICES[0]);
            json!({"ClassId": "iam.ClientMeta", "ObjectType": "iam.ClientMeta", "DeviceModel": device, "UserAgent": agent})
        };
        let permission = if self.rng.random_bool(0.2) {
            Value::Null
        } else {
            let p = self.permissions[self.rng.random_range(0..self.permissions.len())].clone();
            moref("iam.Permission", "iam/Permissions", &p)
        };
        let app_registration = if self.rng.random_bool(0.1) {
            Value::Null
        } else {
            moref("iam.AppRegistration", "iam/AppRegistrations", &app_moid)
        };
        let owners = if self.rng.random_bool(0.1) {
            Value::Null
        } else {
            json!([self.account_moid, user_moid])
        };
        let org = self.orgs[self.rng.random_range(0..self.orgs.len())].clone();
        let version_type = *["Modified", "Configured", "Deployed"]
            .choose(&mut self.rng)
            .unwrap_or(&"Modified");
        let interested: Vec<Value> = if self.rng.random_bool(0.3) {
            vec![moref(
                "iam.AppRegistration",
                "iam/AppRegistrations",
                &app_moid,
            )]
        } else {
            Vec::new()
        };
        let ref_mo = moref("iam.OAuthToken", "iam/OAuthTokens", &moid);
        let ip = *IPS.choose(&mut self.rng).unwrap_or(&IPS[0]);
        let last_ip = if self.rng.random_bool(0.7) {
            ip
        } else {
            *IPS.choose(&mut self.rng).unwrap_or(&IPS[0])
        };

        let mut token = Map::new();
        token.insert("ClassId".into(), json!("iam.OAuthToken"));
        token.insert("Moid".into(), json!(moid));
        token.insert("ObjectType".into(), json!("iam.OAuthToken"));
        token.insert("AccountMoid".into(), json!(self.account_moid));
        token.insert(
            "Ancestors".into(),
            json!([
                user_ref,
                moref("iam.Account", "iam/Accounts", &self.account_moid)
            ]),
        );
        token.insert("CreateTime".into(), json!(self.time_at(create)));
        token.insert(
            "DisplayNames".into(),
            json!({"short": [app_name], "hierarchical": [format!("{user_name}/{app_name}")]}),
        );
        token.insert("DomainGroupMoid".into(), json!(self.domain_group_moid));
        token.insert("ModTime".into(), json!(self.time_at(modified)));
        token.insert("Owners".into(), owners);
        token.insert("Parent".into(), user_ref.clone());
        token.insert(
            "PermissionResources".into(),
            json!([moref(
                "organization.Organization",
                "organization/Organizations",
                &org
            )]),
        );
        token.insert("SharedScope".into(), json!(""));
        token.insert("Tags".into(), tags);
        let version_timestamp = self.time_at(modified);
        token.insert(
            "VersionContext".into(),
            json!({
                "ClassId": "mo.VersionContext",
                "ObjectType": "mo.VersionContext",
                "InterestedMos": interested,
                "MarkedForDeletion": false,
                "RefMo": ref_mo,
                "Timestamp": version_timestamp,
                "Version": "",
                "VersionType": version_type,
            }),
        );
        token.insert(
            "AccessExpirationTime".into(),
            json!(self.time_at(access_expiration)),
        );
        token.insert("AppRegistration".into(), app_registration);
        token.insert("ClientId".into(), json!(client_id));
        token.insert("ClientIpAddress".into(), json!(ip));
        token.insert("ClientName".into(), json!(app_name));
        token.insert("ExpirationTime".into(), json!(self.time_at(expiration)));
        token.insert("LastLoginClient".into(), json!(last_ip));
        token.insert("LastLoginTime".into(), json!(self.time_at(last_login)));
        token.insert("Permission".into(), permission);
        token.insert("TokenId".into(), json!(uuid(&mut self.rng)));
        token.insert("User".into(), user_ref);
        token.insert("UserMeta".into(), user_meta);
        if self.rng.random_bool(0.1) {
            // Properties the model does not know; clients keep them as additional properties.
            let level = self.rng.random_range(1..5);
            token.insert(
                "ExtraFeature".into(),
                json!({"Enabled": true, "Level": level, "Notes": ["beta", "ünïcode"]}),
            );
        }
        Value::Object(token)
    }

    pub fn tokens(&mut self, count: usize) -> Vec<Value> {
        (0..count).map(|_| self.token()).collect()
    }
    /// The `iam.User` objects the tokens refer to (`iam/Users`): a second, small collection.
    /// Built without the RNG, so it leaves the token sequence as it is.
    pub fn users(&self) -> Vec<Value> {
        self.users
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let created = self.anchor - Duration::days(400 - 30 * i as i64);
                json!({
                    "ClassId": "iam.User",
                    "ObjectType": "iam.User",
                    "Moid": user.moid,
                    "AccountMoid": self.account_moid,
                    "CreateTime": format_time(created, 3),
                    "ModTime": format_time(created + Duration::days(7), 3),
                    "Email": user.name,
                    "Name": user.name,
                    "UserIdOrEmail": user.name,
                    "UserType": if i % 2 == 0 { "Internal" } else { "External" },
                    "LastLoginTime": format_time(self.anchor - Duration::hours(1 + i as i64), 3),
                    "Owners": [self.account_moid],
                    "DisplayNames": {"short": [user.name]},
                    "link": format!("{LINK_BASE}/iam/Users/{}", user.moid),
                })
            })
            .collect()
    }
}

/// Top-level property names of the model (`$filter`, `$orderby` and `$select` accept
/// these plus any key present in the dataset).
pub const MODEL_PROPERTIES: &[&str] = &[
    "ClassId",
    "ObjectType",
    "Moid",
    "AccountMoid",
    "Ancestors",
    "CreateTime",
    "DisplayNames",
    "DomainGroupMoid",
    "ModTime",
    "Owners",
    "Parent",
    "PermissionResources",
    "SharedScope",
    "Tags",
    "VersionContext",
    "AccessExpirationTime",
    "AppRegistration",
    "ClientId",
    "ClientIpAddress",
    "ClientName",
    "ExpirationTime",
    "LastLoginClient",
    "LastLoginTime",
    "Permission",
    "TokenId",
    "User",
    "UserMeta",
];

/// The known top-level property names for a dataset.
pub fn known_properties(items: &[Value]) -> BTreeSet<String> {
    let mut known: BTreeSet<String> = MODEL_PROPERTIES.iter().map(|s| s.to_string()).collect();
    for item in items {
        if let Some(object) = item.as_object() {
            known.extend(object.keys().cloned());
        }
    }
    known
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("dataset is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("dataset must be a JSON array of objects (or a list response with Results)")]
    NotArray,
    #[error("dataset entry {0} is not an object with a string Moid")]
    BadEntry(usize),
    #[error("dataset has the Moid {0} more than once")]
    DuplicateMoid(String),
}

/// Validates a loaded dataset: an array of objects (or `{"Results": [...]}`), each with a
/// unique string `Moid`.
pub fn parse_dataset(text: &str) -> Result<Vec<Value>, DatasetError> {
    let value: Value = serde_json::from_str(text)?;
    let items = match value {
        Value::Array(items) => items,
        Value::Object(mut object) => match object.remove("Results") {
            Some(Value::Array(items)) => items,
            _ => return Err(DatasetError::NotArray),
        },
        _ => return Err(DatasetError::NotArray),
    };
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        let moid = item
            .get("Moid")
            .and_then(Value::as_str)
            .ok_or(DatasetError::BadEntry(index))?;
        if !seen.insert(moid.to_string()) {
            return Err(DatasetError::DuplicateMoid(moid.to_string()));
        }
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    fn anchor() -> OffsetDateTime {
        OffsetDateTime::parse("2024-05-01T10:20:30Z", &Rfc3339).unwrap()
    }

    #[test]
    fn users_are_the_tokens_users_and_leave_the_token_sequence_alone() {
        let mut generator = Generator::new(7, anchor());
        let users = generator.users();
        let tokens = generator.tokens(200);
        assert_eq!(tokens, Generator::new(7, anchor()).tokens(200));
        assert_eq!(users.len(), USERS.len());
        let user_moids: BTreeSet<&str> = users.iter().filter_map(|u| u["Moid"].as_str()).collect();
        let referenced: BTreeSet<&str> = tokens
            .iter()
            .filter_map(|t| t["User"]["Moid"].as_str())
            .collect();
        assert_eq!(user_moids, referenced);
        for user in &users {
            assert_eq!(user["ObjectType"], "iam.User");
            assert!(OffsetDateTime::parse(user["CreateTime"].as_str().unwrap(), &Rfc3339).is_ok());
        }
    }

    #[test]
    fn same_seed_same_tokens_different_seed_different_tokens() {
        let a = Generator::new(7, anchor()).tokens(50);
        let b = Generator::new(7, anchor()).tokens(50);
        let c = Generator::new(8, anchor()).tokens(50);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn only_times_move_with_the_anchor() {
        let strip = |items: Vec<Value>| -> Vec<Value> {
            items
                .into_iter()
                .map(|mut item| {
                    let object = item.as_object_mut().unwrap();
                    for key in [
                        "CreateTime",
                        "ModTime",
                        "LastLoginTime",
                        "ExpirationTime",
                        "AccessExpirationTime",
                        "VersionContext",
                    ] {
                        object.remove(key);
                    }
                    item
                })
                .collect()
        };
        let later = anchor() + Duration::days(3);
        assert_eq!(
            strip(Generator::new(7, anchor()).tokens(20)),
            strip(Generator::new(7, later).tokens(20))
        );
    }

    #[test]
    fn shapes_match_the_model() {
        let items = Generator::new(3, anchor()).tokens(300);
        let is_hex24 = |s: &str| s.len() == 24 && s.chars().all(|c| c.is_ascii_hexdigit());
        let is_ref = |v: &Value, object_type: &str| {
            v["ClassId"] == "mo.MoRef"
                && v["ObjectType"] == object_type
                && is_hex24(v["Moid"].as_str().unwrap())
                && v["link"]
                    .as_str()
                    .unwrap()
                    .ends_with(v["Moid"].as_str().unwrap())
        };
        let mut moids = BTreeSet::new();
        for item in &items {
            assert_eq!(item["ClassId"], "iam.OAuthToken");
            assert_eq!(item["ObjectType"], "iam.OAuthToken");
            assert!(is_hex24(item["Moid"].as_str().unwrap()));
            assert!(moids.insert(item["Moid"].as_str().unwrap().to_string()));
            assert!(is_hex24(item["AccountMoid"].as_str().unwrap()));
            assert!(is_hex24(item["DomainGroupMoid"].as_str().unwrap()));
            assert_eq!(item["SharedScope"], "");
            for key in [
                "CreateTime",
                "ModTime",
                "LastLoginTime",
                "ExpirationTime",
                "AccessExpirationTime",
            ] {
                let text = item[key].as_str().unwrap();
                assert!(text.ends_with('Z'), "{text}");
                OffsetDateTime::parse(text, &Rfc3339).unwrap();
            }
            assert!(is_ref(&item["User"], "iam.User"));
            assert!(is_ref(&item["Parent"], "iam.User"));
            assert!(item["Permission"].is_null() || is_ref(&item["Permission"], "iam.Permission"));
            assert!(
                item["AppRegistration"].is_null()
                    || is_ref(&item["AppRegistration"], "iam.AppRegistration")
            );
            assert!(is_ref(
                &item["PermissionResources"][0],
                "organization.Organization"
            ));
            assert!(is_ref(&item["Ancestors"][1], "iam.Account"));
            let meta = &item["UserMeta"];
            assert!(
                meta.is_null()
                    || (meta["ObjectType"] == "iam.ClientMeta" && meta["UserAgent"].is_string())
            );
            let vc = &item["VersionContext"];
            assert_eq!(vc["ObjectType"], "mo.VersionContext");
            assert!(
                vc["InterestedMos"].is_array()
                    && vc["MarkedForDeletion"].is_boolean()
                    && vc["Timestamp"].is_string()
            );
            assert!(
                item["DisplayNames"]["short"].is_array()
                    && item["DisplayNames"]["hierarchical"].is_array()
            );
            if let Some(tags) = item["Tags"].as_array() {
                for tag in tags {
                    assert!(
                        tag["Key"].is_string()
                            && tag["Value"].is_string()
                            && tag["SysTag"].is_boolean()
                    );
                    assert!(tag.get("ClassId").is_none());
                    assert!(tag["Type"] == "KeyValue" || tag["Type"] == "PathTag");
                }
            }
        }
        let count = |pred: &dyn Fn(&Value) -> bool| items.iter().filter(|i| pred(i)).count();
        // The variety the brief asks for is actually present.
        assert!(count(&|i| i["Tags"].is_null()) > 0);
        assert!(count(&|i| i["Permission"].is_null()) > 0);
        assert!(count(&|i| i["UserMeta"].is_null()) > 0);
        assert!(count(&|i| i["Owners"].is_null()) > 0);
        assert!(count(&|i| i.get("ExtraFeature").is_some()) > 0);
        assert!(count(&|i| i["ClientName"] == "O'Brien's app") > 0);
        assert!(count(&|i| i["ClientName"] == "Zürich-Ops") > 0);
        assert!(
            count(&|i| i["Tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["Type"] == "PathTag")))
                > 0
        );
        let users: BTreeSet<&str> = items
            .iter()
            .map(|i| i["User"]["Moid"].as_str().unwrap())
            .collect();
        assert_eq!(users.len(), USERS.len());
        let precisions: BTreeSet<usize> = items
            .iter()
            .map(|i| {
                let text = i["CreateTime"].as_str().unwrap();
                text.split_once('.').map(|(_, f)| f.len() - 1).unwrap_or(0)
            })
            .collect();
        assert!(precisions.len() >= 4, "{precisions:?}");
        let soon = |i: &Value| {
            let t = OffsetDateTime::parse(i["ExpirationTime"].as_str().unwrap(), &Rfc3339).unwrap();
            t > anchor() && t < anchor() + Duration::hours(24)
        };
        assert!(count(&soon) > 20);
        assert!(
            count(
                &|i| OffsetDateTime::parse(i["ExpirationTime"].as_str().unwrap(), &Rfc3339)
                    .unwrap()
                    < anchor()
            ) > 0
        );
    }

    #[test]
    fn time_format() {
        let t = OffsetDateTime::parse("2024-05-01T10:20:30.123456789Z", &Rfc3339).unwrap();
        assert_eq!(format_time(t, 3), "2024-05-01T10:20:30.123Z");
        assert_eq!(format_time(t, 0), "2024-05-01T10:20:30Z");
        assert_eq!(format_time(t, 6), "2024-05-01T10:20:30.123456Z");
    }

    #[test]
    fn loading_validates_entries() {
        assert_eq!(
            parse_dataset(r#"[{"Moid":"a"},{"Moid":"b"}]"#)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_dataset(r#"{"Results":[{"Moid":"a"}]}"#)
                .unwrap()
                .len(),
            1
        );
        assert!(matches!(
            parse_dataset(r#"[{"Moid":"a"},{"Moid":"a"}]"#),
            Err(DatasetError::DuplicateMoid(_))
        ));
        assert!(matches!(
            parse_dataset(r#"[{"Name":"a"}]"#),
            Err(DatasetError::BadEntry(0))
        ));
        assert!(matches!(parse_dataset(r#"5"#), Err(DatasetError::NotArray)));
    }
}
