//! Unit tests of [`super`].

use super::*;
use crate::cty::{msgpack, Severity};
use crate::provider::fields::{
    block, field, Cardinality, FieldKind, ADDITIONAL_PROPERTIES, CLASS_ID, CONCRETE_OBJECT_TYPE,
    MOID,
};
use crate::provider::test_values::unreachable_context;
use std::collections::BTreeMap;

/// An element of `moid` and `object_type` only.
const IDENTIFIED: &[Field] = &[MOID, CONCRETE_OBJECT_TYPE];

/// A plan of `moid` and `object_type` only.
fn identified_plan() -> Arc<flatten::Plan> {
    Arc::new(flatten::Plan::new(IDENTIFIED))
}

fn decode(body: &str) -> serde_json::Result<Page<FlatObject>> {
    const NAMED: &[Field] = &[
        MOID,
        CONCRETE_OBJECT_TYPE,
        field("name", FieldKind::String, "A name."),
    ];
    ResultsDecoder::new(Arc::new(flatten::Plan::new(NAMED)), "iam.OAuthToken").decode_page(
        body.as_bytes(),
        1000,
        &CancellationToken::new(),
    )
}

/// A decoder of elements with only a `moid`, holding a share of `budget`.
fn moid_decoder(budget: &Arc<ResultsBudget>) -> ResultsDecoder {
    ResultsDecoder {
        share: Some(Arc::new(budget.share())),
        ..ResultsDecoder::new(identified_plan(), "iam.OAuthToken")
    }
}

/// Ten objects with Moids `m<from>`, `m<from + 1>`, ...
fn page_of_ten(from: usize) -> String {
    let objects: Vec<String> = (from..from + 10)
        .map(|i| format!(r#"{{"Moid":"m{i:08}","ObjectType":"iam.OAuthToken"}}"#))
        .collect();
    format!(r#"{{"Count":100,"Results":[{}]}}"#, objects.join(","))
}

/// Decodes pages of ten until one fails; the objects decoded before, and the error.
fn decode_until_refused(decoder: &ResultsDecoder) -> (usize, String) {
    for from in (0..1000).step_by(10) {
        let page = page_of_ten(from);
        if let Err(e) = decoder.decode_page(page.as_bytes(), 1000, &CancellationToken::new()) {
            return (from, e.to_string());
        }
    }
    panic!("the budget never stopped the read");
}

/// A server may promise and send millions of small objects in honest pages: what reads
/// hold is bounded as a whole, across pages and across the reads of one provider, each
/// object counted as its encoding, its Moid twice and `PER_OBJECT_BYTES`.
#[test]
fn the_reads_of_a_provider_share_one_results_budget() {
    // One element: a map (1 byte) of "moid" (5) and a 9-character string (10), and of
    // "object_type" (12) and "iam.OAuthToken" (15): 43 bytes.
    let per_object = 43 + 2 * 9 + PER_OBJECT_BYTES;
    let budget = ResultsBudget::new(50 * per_object);
    let first = moid_decoder(&budget);
    let (stopped_at, text) = decode_until_refused(&first);
    assert_eq!(stopped_at, 50, "{text}");
    assert!(
        text.contains("would pass `max_results_mib` (0 MiB)"),
        "{text}"
    );
    let refused = first.share.as_ref().and_then(|s| s.refused()).unwrap();
    assert_eq!(
        (refused.this_read, refused.other_reads),
        (51 * per_object, 0)
    );
    // A second read of the same provider gets only what the first left (nothing: its
    // page of ten does not fit), until the first is over.
    let second = moid_decoder(&budget);
    assert_eq!(decode_until_refused(&second).0, 0);
    let refused = second.share.as_ref().and_then(|s| s.refused()).unwrap();
    assert_eq!(refused.other_reads, 50 * per_object);
    drop(first);
    let third = moid_decoder(&budget);
    assert_eq!(decode_until_refused(&third).0, 50);
}

/// A token whose `Tags` is `n` empty objects (`{}`, 3 bytes of JSON, each written as a
/// tag with all five attributes null: 59 bytes), and a decoder of such tokens holding a
/// share of `budget`, selecting `tags` when `select`.
fn tags_page_and_decoder(
    n: usize,
    budget: &Arc<ResultsBudget>,
    select: bool,
) -> (String, ResultsDecoder) {
    const TAG: &[Field] = &[
        ADDITIONAL_PROPERTIES,
        CLASS_ID,
        field("key", FieldKind::String, "A key."),
        field("object_type", FieldKind::String, "Its type."),
        field("value", FieldKind::String, "A value."),
    ];
    const ELEMENT: &[Field] = &[
        MOID,
        field("name", FieldKind::String, "A name."),
        CONCRETE_OBJECT_TYPE,
        block("tags", Cardinality::Many, TAG, "Tags."),
    ];
    let projection = select.then(|| Projection::new(ELEMENT, BTreeSet::from(["tags".to_string()])));
    let decoder = ResultsDecoder {
        share: Some(Arc::new(budget.share())),
        plan: projection
            .as_ref()
            .map_or_else(|| Arc::new(flatten::Plan::new(ELEMENT)), |p| p.plan.clone()),
        widen: projection.map(Arc::new),
        ..ResultsDecoder::new(Arc::new(flatten::Plan::new(ELEMENT)), "iam.OAuthToken")
    };
    let tags = vec!["{}"; n].join(",");
    let body = format!(
        r#"{{"Count":1,"Results":[{{"Moid":"m","ObjectType":"iam.OAuthToken","Tags":[{tags}]}}]}}"#
    );
    (body, decoder)
}

/// One object of many empty blocks is refused while it is built, as soon as its buffers
/// reach the budget (the attack: a 24 MB page of `{}` tags took 2.2 GiB before the
/// finished object was refused), and what was reserved for them is given back.
#[test]
fn an_object_of_many_empty_blocks_is_refused_while_it_is_built() {
    // 600 KB of JSON, 11.8 MB encoded.
    let budget = ResultsBudget::new(MIB);
    let (body, decoder) = tags_page_and_decoder(200_000, &budget, false);
    let err = decoder
        .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("max_results_mib"), "{err}");
    let refused = decoder.share.as_ref().and_then(|s| s.refused()).unwrap();
    assert_eq!(refused.objects, 0);
    assert!(
        refused.this_read <= MIB + 2 * flatten::RESERVE_EVERY,
        "refused at {} bytes",
        refused.this_read
    );
    drop(decoder);
    assert_eq!(budget.used(), 0);

    // Under a budget it fits in, it is read whole, and only its size stays taken.
    let budget = ResultsBudget::new(64 * MIB);
    let (body, decoder) = tags_page_and_decoder(200_000, &budget, false);
    let page = decoder
        .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
        .unwrap();
    let object = &page.results.unwrap()[0];
    assert_eq!(
        object.msgpack.len(),
        1 + 5 + 2 + 5 + 1 + 12 + 15 + 5 + 5 + 200_000 * 59
    );
    assert_eq!(budget.used(), held_bytes(object));
}

/// With a `select`, widening goes through a value tree several times the encoding's size:
/// reserved while it exists, so the same bound holds.
#[test]
fn widening_a_large_selected_object_is_reserved_from_the_budget() {
    // 1.2 MB narrow, about 3.5 MB reserved while decoding, 19 MB while widening.
    let budget = ResultsBudget::new(8 * MIB);
    let (body, decoder) = tags_page_and_decoder(20_000, &budget, true);
    let err = decoder
        .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
        .err()
        .expect("refused");
    assert!(err.to_string().contains("max_results_mib"), "{err}");
    drop(decoder);
    assert_eq!(budget.used(), 0);
    let budget = ResultsBudget::new(32 * MIB);
    let (body, decoder) = tags_page_and_decoder(20_000, &budget, true);
    let page = decoder
        .decode_page(body.as_bytes(), 1000, &CancellationToken::new())
        .unwrap();
    assert_eq!(budget.used(), held_bytes(&page.results.unwrap()[0]));
}

/// A read that times out while a page is being decoded says so (it said "0 pages with 0
/// objects had arrived").
#[test]
fn a_timeout_during_decoding_counts_the_page_being_decoded() {
    let decl = &crate::provider::data_sources::iam_o_auth_token::DECLARATION;
    let got = |decoding| ReadProgress {
        pages: 0,
        objects: 0,
        decoding,
        requests: Some((1, 0)),
    };
    let text = timeout_diagnostic(decl, Duration::from_secs(5), got(1)).detail;
    assert!(
        text.contains(
            "0 pages with 0 objects had arrived (1 request of which 0 were retries), 1 more \
                 page had arrived and was still being decoded, and no partial list"
        ),
        "{text}"
    );
    let text = timeout_diagnostic(decl, Duration::from_secs(5), got(0)).detail;
    assert!(text.contains("retries), and no partial list"), "{text}");
    // The decoder counts the page while it decodes it, and not after.
    let decoder = ResultsDecoder::new(identified_plan(), "iam.OAuthToken");
    let progress = decoder.progress.clone();
    let during = std::sync::Mutex::new(None);
    let cancel = CancellationToken::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            // A page large enough to be caught mid-decode, then cancelled.
            let objects: Vec<String> = (0..200_000)
                .map(|i| format!(r#"{{"Moid":"m{i:08}","ObjectType":"iam.OAuthToken"}}"#))
                .collect();
            let page = format!(r#"{{"Count":1,"Results":[{}]}}"#, objects.join(","));
            let _ = decoder.decode_page(page.as_bytes(), 1_000_000, &cancel);
        });
        let started = std::time::Instant::now();
        while progress.decoding.load(Ordering::Relaxed) == 0
            && started.elapsed() < Duration::from_secs(60)
        {
            std::thread::yield_now();
        }
        *during.lock().unwrap() = Some(ReadProgress::of(&progress).decoding);
        cancel.cancel();
    });
    assert_eq!(*during.lock().unwrap(), Some(1));
    assert_eq!(ReadProgress::of(&progress).decoding, 0);
}

/// The decoder stops at the next object once its read no longer wants the page.
#[test]
fn a_cancelled_page_stops_decoding() {
    let decoder = ResultsDecoder::new(Arc::new(flatten::Plan::new(&[MOID])), "iam.OAuthToken");
    let cancel = CancellationToken::new();
    cancel.cancel();
    let err = decoder
        .decode_page(page_of_ten(0).as_bytes(), 1000, &cancel)
        .err()
        .expect("cancelled");
    assert!(err.to_string().contains("the read ended"), "{err}");
    assert_eq!(decoder.progress.objects.load(Ordering::Relaxed), 0);
}

#[test]
fn pages_decode_to_encoded_results() {
    let page = decode(
        r#"{"ObjectType":"mo.List","Count":2,"Results":[
                {"Moid":"a","ObjectType":"iam.OAuthToken","Name":"x"},
                {"Moid":"b","ObjectType":"iam.OAuthToken","Name":null}]}"#,
    )
    .unwrap();
    assert_eq!(page.count, Some(2));
    let results = page.results.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].moid, "b");
    let ty = Type::object([
        ("moid", Type::String),
        ("object_type", Type::String),
        ("name", Type::String),
    ]);
    let first = msgpack::decode(&results[0].msgpack, &ty).unwrap();
    assert_eq!(first.get_attr("name"), Some(&Value::string("x")));
    for empty in [r#"{"Count":0,"Results":null}"#, r#"{"Count":0}"#] {
        let page = decode(empty).unwrap();
        assert!(page.results.unwrap_or_default().is_empty());
    }
    assert_eq!(decode(r#"{"Results":[]}"#).unwrap().count, None);
}

#[test]
fn a_selected_element_is_encoded_whole_with_the_other_attributes_null() {
    const ELEMENT: &[Field] = &[
        MOID,
        CONCRETE_OBJECT_TYPE,
        field("client_name", FieldKind::String, "A name."),
        field("token_id", FieldKind::String, "An id."),
        field("tags", FieldKind::StringList, "Strings."),
    ];
    let projection = Projection::new(ELEMENT, BTreeSet::from(["client_name".to_string()]));
    assert_eq!(projection.properties, ["ClientName", "Moid", "ObjectType"]);
    let narrow = msgpack::encode(
        &Value::Object(BTreeMap::from([
            ("client_name".to_string(), Value::string("isctl")),
            ("moid".to_string(), Value::string("m1")),
            ("object_type".to_string(), Value::string("iam.OAuthToken")),
        ])),
        &projection.narrow,
    )
    .unwrap();
    // Kept as bytes (no value tree per element until the state is encoded), and those bytes
    // are the whole element: selected attributes filled, the rest (`moid` too) null.
    let bytes = projection.widen_encoded(&narrow).unwrap();
    let whole = msgpack::decode(&bytes, &object_type(ELEMENT)).unwrap();
    assert_eq!(whole.get_attr("client_name"), Some(&Value::string("isctl")));
    for null in ["moid", "object_type", "token_id", "tags"] {
        assert_eq!(whole.get_attr(null), Some(&Value::Null), "{null}");
    }
    assert!(
        projection.widen_encoded(b"\x90").is_err(),
        "a narrow list is not an object"
    );
}

/// A page nesting 15,000 levels deep anywhere is a decode error, on a 256 KiB stack (so
/// no walk of it recurses per level): in a result's property (kept or not), in a page
/// member the read skips, and where the page, `Count` or `Results` should be.
#[test]
fn deep_pages_are_decode_errors_not_stack_overflows() {
    let errors = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let deep = "[".repeat(15_000) + r#""a\nb""# + &"]".repeat(15_000);
            let token = r#""Moid":"a","ObjectType":"iam.OAuthToken""#;
            [
                format!(r#"{{"Count":1,"Results":[{{{token},"Name":{deep}}}]}}"#),
                format!(r#"{{"Count":1,"Results":[{{{token},"Other":{deep}}}]}}"#),
                format!(r#"{{"Count":1,"Results":[{{{token},"link":{deep}}}]}}"#),
                format!(r#"{{"Count":1,"Deep":{deep},"Results":[{{{token}}}]}}"#),
                format!(r#"{{"Count":{deep},"Results":[]}}"#),
                format!(r#"{{"Count":1,"Results":{deep}}}"#),
                format!(r#"{{"Count":1,"Results":[{deep}]}}"#),
                deep,
            ]
            .map(|body| decode(&body).err().map(|e| e.to_string()))
        })
        .expect("a thread starts")
        .join()
        .expect("no panic, no overflow");
    for (i, error) in errors.iter().enumerate() {
        let error = error
            .as_deref()
            .unwrap_or_else(|| panic!("page {i} was accepted"));
        if i < 4 {
            assert!(
                error.contains("nested more than 128 levels deep"),
                "{i}: {error}"
            );
        }
    }
}

/// Intersight always sends `ObjectType` (under `$select` too): an object without one, or
/// with a null one, could be of any class, so it fails the read, naming the object.
#[test]
fn an_object_without_an_object_type_is_an_error_naming_it() {
    for object in [
        r#"{"Moid":"m-without"}"#,
        r#"{"Moid":"m-without","ObjectType":null}"#,
        r#"{"ObjectType":null,"Moid":"m-without","Name":"x"}"#,
    ] {
        let body = format!(
            r#"{{"Count":2,"Results":[{{"Moid":"m-ok","ObjectType":"iam.OAuthToken"}},{object}]}}"#
        );
        let text = decode(&body).err().expect(object).to_string();
        assert!(
            text.contains("object m-without has no ObjectType")
                && text.contains("\"iam.OAuthToken\" was expected"),
            "{text}"
        );
    }
}

#[test]
fn wrong_object_types_and_malformed_pages_are_errors() {
    let err = decode(r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.User"}]}"#)
        .err()
        .expect("a user is not a token");
    let text = err.to_string();
    assert!(
        text.contains("\"iam.User\"") && text.contains("\"iam.OAuthToken\""),
        "{text}"
    );
    for bad in [
        r#"{"Count":1,"Count":1,"Results":[]}"#,
        r#"{"Results":[],"Results":[]}"#,
        r#"{"Count":-1,"Results":[]}"#,
        r#"{"Count":1,"Results":[1]}"#,
        r#"{"Count":1,"Results":{"Moid":"a"}}"#,
        r#"{"Count":1,"Results":[{"Name":"no moid"}]}"#,
        r#"[]"#,
        r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken"}]} trailing"#,
        r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken","Name":"\ud800"}]}"#,
        // In values the read skips, too (serde_json checks only their syntax).
        r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken","link":"\udc00"}]}"#,
        r#"{"Count":1,"Results":[{"Moid":"a","ObjectType":"iam.OAuthToken","X":["\ud800"]}]}"#,
        r#"{"Count":1,"Next":{"a":"\ud800"},"Results":[]}"#,
    ] {
        assert!(decode(bad).is_err(), "{bad}");
    }
    // Invalid UTF-8, even in a property the read skips (found by the page_decode fuzzer).
    let body = b"{\"Count\":1,\"Results\":[{\"Moid\":\"a\",\"link\":\"x\xff\"}]}";
    let err = ResultsDecoder::new(Arc::new(flatten::Plan::new(&[MOID])), "iam.OAuthToken")
        .decode_page(body, 1000, &CancellationToken::new())
        .err()
        .expect("not UTF-8");
    assert!(err.to_string().contains("not UTF-8"), "{err}");
}

#[tokio::test]
async fn a_warning_raised_before_an_error_is_returned_with_it() {
    use crate::provider::data_sources::iam_o_auth_token::DECLARATION;
    use crate::provider::list_source::ListDataSource;
    use crate::provider::DataSource;
    let source = ListDataSource::new(&DECLARATION);
    // `selector` is ignored with a warning; then the connection is refused: an error.
    let reference = Value::List(vec![Value::Object(BTreeMap::from([(
        "selector".to_string(),
        Value::string("Name eq 'x'"),
    )]))]);
    let config = Value::Object(BTreeMap::from([("user".to_string(), reference)]));
    let response = source.read(unreachable_context(), config).await;
    let summaries: Vec<(Severity, &str)> = response
        .diagnostics
        .iter()
        .map(|d| (d.severity, d.summary.as_str()))
        .collect();
    assert_eq!(
        summaries,
        [
            (Severity::Warning, "Argument not used for filtering"),
            (Severity::Error, "Failed to read Intersight iam/OAuthTokens"),
        ],
        "{:?}",
        response.diagnostics
    );
    assert!(response.state.is_none());
}
