//! Known-answer tests: our signer against signatures made by the official `intersight` Python
//! SDK (tests/fixtures/signing/generate.py), plus verification of our signatures with the
//! public keys.

use crate::key_material::{self, fixture};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use intersight_client::paging::encode_query;
use intersight_client::signing::{sign, RequestToSign};
use intersight_client::{KeyKind, SecretKey};
use serde_json::Value;

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("cases.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

#[test]
fn signatures_match_the_official_python_sdk() {
    let cases = cases();
    assert!(cases.len() >= 4);
    let mut kinds = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let key_path = fixture(case["key_file"].as_str().unwrap());
        let key = SecretKey::from_pem_or_path(key_path.to_str().unwrap()).unwrap();
        kinds.insert(format!("{}", key.kind()));
        let path_and_query = case["path_and_query"].as_str().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(case["unix_time"].as_u64().unwrap());
        let headers = sign(
            &RequestToSign {
                method: case["method"].as_str().unwrap(),
                path_and_query,
                host: case["host"].as_str().unwrap(),
                body: b"",
            },
            &key,
            case["key_id"].as_str().unwrap(),
            now,
        )
        .unwrap();
        let expected = &case["expected"];
        assert_eq!(
            headers.date,
            expected["date"].as_str().unwrap(),
            "{name}: date"
        );
        assert_eq!(
            headers.digest,
            expected["digest"].as_str().unwrap(),
            "{name}: digest"
        );
        let expected_authorization = expected["authorization"].as_str().unwrap();
        let key_pem = std::fs::read_to_string(&key_path).unwrap();
        if matches!(key.kind(), KeyKind::Rsa { .. }) {
            // RSASSA-PKCS1-v1_5 is deterministic: the same bytes as the SDK.
            assert_eq!(
                headers.authorization, expected_authorization,
                "{name}: authorization"
            );
        } else {
            // The SDK's ECDSA used RFC 6979 nonces, ours are random: everything but the
            // signature value is the SDK's byte for byte, ...
            assert_eq!(
                key_material::without_signature(&headers.authorization),
                key_material::without_signature(expected_authorization),
                "{name}: authorization"
            );
            // ... the SDK's signature verifies over our string to sign (so the string is the
            // one the SDK signed), ...
            assert!(
                key_material::verifies(
                    &key_pem,
                    headers.string_to_sign.as_bytes(),
                    &key_material::signature_of(expected_authorization)
                ),
                "{name}: the SDK's signature does not verify over our string to sign"
            );
        }
        // ... and ours verifies with the public key (both kinds).
        assert!(
            key_material::verifies(
                &key_pem,
                headers.string_to_sign.as_bytes(),
                &key_material::signature_of(&headers.authorization)
            ),
            "{name}: our signature does not verify"
        );
        // Our query encoding is the SDK's (`urlencode`) byte for byte.
        let params: Vec<(String, String)> = case["query_params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect();
        if !params.is_empty() {
            let refs: Vec<(&str, &str)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let query = path_and_query.split_once('?').unwrap().1;
            assert_eq!(encode_query(&refs), query, "{name}: query encoding");
        }
    }
    assert!(
        kinds.contains("RSA-2048") && kinds.contains("EC P-256"),
        "{kinds:?}"
    );
}

#[test]
fn signature_changes_with_every_signed_input() {
    let key = SecretKey::from_pem_or_path(fixture("rsa_pkcs1.pem").to_str().unwrap()).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let base = RequestToSign {
        method: "GET",
        path_and_query: "/api/v1/iam/OAuthTokens?%24top=1",
        host: "intersight.com",
        body: b"",
    };
    let reference = sign(&base, &key, "k", now).unwrap().authorization;
    let variants = [
        RequestToSign {
            method: "DELETE",
            ..base
        },
        RequestToSign {
            path_and_query: "/api/v1/iam/OAuthTokens?%24top=2",
            ..base
        },
        RequestToSign {
            host: "intersight.com:444",
            ..base
        },
        RequestToSign {
            body: b"{}",
            ..base
        },
    ];
    for v in variants {
        assert_ne!(
            sign(&v, &key, "k", now).unwrap().authorization,
            reference,
            "{v:?}"
        );
    }
    assert_ne!(
        sign(&base, &key, "k", now + Duration::from_secs(1))
            .unwrap()
            .authorization,
        reference
    );
    // Sub-second clock differences do not matter: (created) is whole seconds.
    assert_eq!(
        sign(&base, &key, "k", now + Duration::from_millis(999))
            .unwrap()
            .authorization,
        reference
    );
    let h = sign(&base, &key, "k", now).unwrap();
    assert!(h.string_to_sign.contains("\n(expires): 1700000600.000\n"));
    assert_eq!(h.date, "Tue, 14 Nov 2023 22:13:20 GMT");
    assert_eq!(h.host, "intersight.com");
    assert_eq!(h.content_type, "application/json");
    let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(5);
    assert!(sign(&base, &key, "k", before_epoch)
        .unwrap()
        .authorization
        .contains("created=0,"));
}

#[test]
fn ec_signatures_verify_with_the_public_key() {
    let pem = key_material::fixture_text("ec_pkcs8.pem");
    let other = key_material::fixture_text("ec_sec1.pem");
    let h = key_material::sign_one_request(&pem);
    assert!(key_material::headers_verify(&pem, &h));
    let signature = key_material::signature_of(&h.authorization);
    assert!(!key_material::verifies(&pem, b"other", &signature));
    assert!(!key_material::headers_verify(&other, &h));
    // Random nonces: signing the same request twice gives two different, valid signatures.
    let again = key_material::sign_one_request(&pem);
    assert_ne!(again.authorization, h.authorization);
    assert!(key_material::headers_verify(&pem, &again));
}
