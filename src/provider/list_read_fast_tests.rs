//! Pages decoded fast, and again exactly when the fast decode fails (see [`ScalarMode`]): the
//! same results and the same budget as an exact-only decode, and one decode for pages whose
//! numbers are all 64-bit integers.

use super::*;
use crate::provider::fields::{field, Field, FieldKind, CONCRETE_OBJECT_TYPE, MOID};

const OBJECT_TYPE: &str = "iam.OAuthToken";

/// `Sizes` is not declared: it stays in the page's text, checked and skipped.
const FIELDS: &[Field] = &[
    MOID,
    CONCRETE_OBJECT_TYPE,
    field("name", FieldKind::String, "A name."),
    field("size", FieldKind::Number, "A number."),
];

fn plan() -> Arc<flatten::Plan> {
    Arc::new(flatten::Plan::new(FIELDS))
}

/// A page of `n` objects; the object at `odd_one` (if any) has `size` = `odd_size`, the others
/// integers.
fn page(n: usize, odd_one: Option<usize>, odd_size: &str) -> String {
    let objects: Vec<String> = (0..n)
        .map(|i| {
            let size = if Some(i) == odd_one {
                odd_size.to_string()
            } else {
                (i as u64 * 1_000_003).to_string()
            };
            format!(
                r#"{{"Moid":"m{i:06}","ObjectType":"{OBJECT_TYPE}","Name":"n{i}","Size":{size},"Sizes":[{i},-{minus},{size}]}}"#,
                minus = i + 1
            )
        })
        .collect();
    format!(r#"{{"Count":{n},"Results":[{}]}}"#, objects.join(","))
}

/// Each object's encoding, or the error.
fn encodings(decoder: &ResultsDecoder, body: &str) -> Result<Vec<Box<[u8]>>, String> {
    decoder
        .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
        .map(|page| {
            page.results
                .unwrap_or_default()
                .into_iter()
                .map(|o| o.msgpack)
                .collect()
        })
        .map_err(|e| e.to_string())
}

fn decoders(limit: u64) -> (ResultsDecoder, ResultsDecoder) {
    let fast = ResultsDecoder::new(plan(), OBJECT_TYPE).with_budget(limit);
    let exact = ResultsDecoder::new(plan(), OBJECT_TYPE)
        .with_budget(limit)
        .exact_only();
    (fast, exact)
}

fn held(decoder: &ResultsDecoder) -> (u64, u64) {
    let share = decoder.share.as_ref().expect("a budget");
    let refused = share.refused().map_or(0, |r| r.objects);
    (share.held(), refused)
}

#[test]
fn a_page_of_integers_is_decoded_once() {
    let (fast, exact) = decoders(u64::MAX / 2);
    let body = page(50, None, "");
    assert_eq!(encodings(&fast, &body), encodings(&exact, &body));
    assert_eq!(fast.progress.decoded_again.load(Ordering::Relaxed), 0);
    assert_eq!(held(&fast), held(&exact));
}

/// One number the fast decode cannot hold, anywhere in the page (the last object, or a list
/// element): the whole page is decoded again, with the exact results, and what the first
/// decode took from the budget is given back.
#[test]
fn a_page_with_one_fraction_or_big_integer_is_decoded_again_exactly() {
    for odd in [
        "2.5",
        "-0",
        "1e3",
        "18446744073709551616",
        "-123456789012345678901",
    ] {
        for at in [0, 49] {
            let (fast, exact) = decoders(u64::MAX / 2);
            let body = page(50, Some(at), odd);
            let got = encodings(&fast, &body);
            assert!(got.is_ok(), "{odd} at {at}: {got:?}");
            assert_eq!(got, encodings(&exact, &body), "{odd} at {at}");
            assert_eq!(fast.progress.decoded_again.load(Ordering::Relaxed), 1);
            assert_eq!(fast.progress.pages.load(Ordering::Relaxed), 1);
            assert_eq!(fast.progress.objects.load(Ordering::Relaxed), 50);
            assert_eq!(held(&fast), held(&exact), "{odd} at {at}: the budget");
        }
    }
}

/// A page the exact decode refuses too: the same error, and nothing left taken beyond what the
/// exact decode takes.
#[test]
fn errors_are_the_exact_decodes() {
    let (fast, exact) = decoders(u64::MAX / 2);
    let body = page(5, Some(4), "\"\\ud800\"").replace(r#""Name":"n4""#, r#""Name":"\ud800""#);
    let got = encodings(&fast, &body);
    assert!(got.is_err());
    assert_eq!(got, encodings(&exact, &body));
    assert_eq!(held(&fast), held(&exact));
    assert_eq!(held(&fast).0, 0, "a failed page holds nothing");
}

/// A budget that refuses the page: the fast decode's refusal ends it (no second decode), with
/// the exact decode's diagnostic figures.
#[test]
fn a_refused_page_is_not_decoded_again() {
    let body = page(50, Some(49), "2.5");
    let (fast, exact) = decoders(2000);
    let got = encodings(&fast, &body);
    let want = encodings(&exact, &body);
    assert!(got.is_err() && want.is_err());
    assert_eq!(fast.progress.decoded_again.load(Ordering::Relaxed), 0);
    let refused = |d: &ResultsDecoder| d.share.as_ref().and_then(|s| s.refused());
    assert_eq!(refused(&fast), refused(&exact));
}
