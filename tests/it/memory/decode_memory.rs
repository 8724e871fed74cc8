//! Memory one object can cost while it is decoded: a token whose `Tags` list holds millions of
//! empty objects (`{}`, 3 bytes of JSON each, written as a tag with every attribute null,
//! about 20 times that). The attack: a 24 MB page took 2.2 GiB before the read was refused
//! by `max_results_mib`, which was charged only once the object was whole. The buffers an
//! object is built in are now reserved from the budget as they grow, so the bytes allocated
//! at once stay within a small multiple of the budget plus the page.
//!
//! The peak of live heap bytes is measured in a process of its own (see `memory`).

use std::sync::Arc;

use terraform_provider_intersight::intersight::paging::PageDecoder;
use terraform_provider_intersight::provider::fields::{
    block, field, Cardinality, Field, FieldKind, ADDITIONAL_PROPERTIES, CLASS_ID,
    CONCRETE_OBJECT_TYPE, MOID,
};
use terraform_provider_intersight::provider::flatten::Plan;
use terraform_provider_intersight::provider::list_read::ResultsDecoder;
use tokio_util::sync::CancellationToken;

use super::{in_own_process, peak_since, start_measuring, MIB};

#[test]
fn an_object_of_millions_of_empty_tags_is_refused_within_its_budget() {
    in_own_process(
        module_path!(),
        "an_object_of_millions_of_empty_tags_is_refused_within_its_budget",
        refused_within_its_budget,
    );
}

/// A tag's five attributes.
const TAG: &[Field] = &[
    ADDITIONAL_PROPERTIES,
    CLASS_ID,
    field("key", FieldKind::String, "A key."),
    field("object_type", FieldKind::String, "Its type."),
    field("value", FieldKind::String, "A value."),
];

/// A token of `moid`, `object_type` and `tags`.
const TOKEN: &[Field] = &[
    MOID,
    CONCRETE_OBJECT_TYPE,
    block("tags", Cardinality::Many, TAG, "Tags."),
];

fn refused_within_its_budget() {
    let budget = 16 * MIB;
    let decoder = ResultsDecoder::new(Arc::new(Plan::new(TOKEN)), "iam.OAuthToken")
        .with_budget(budget as u64);
    // 6 MB of JSON; 118 MB once encoded.
    let tags = vec!["{}"; 2_000_000].join(",");
    let body = format!(
        r#"{{"Count":1,"Results":[{{"Moid":"m","ObjectType":"iam.OAuthToken","Tags":[{tags}]}}]}}"#
    );
    drop(tags);

    let base = start_measuring();
    let result = decoder.decode_page(body.as_bytes(), 1000, &CancellationToken::new());
    let peak = peak_since(base);
    let err = result.err().expect("refused");
    eprintln!(
        "{} MB page: peak {} MiB allocated under a {} MiB budget: {err}",
        body.len() / 1_000_000,
        peak / MIB,
        budget / MIB
    );
    assert!(err.to_string().contains("max_results_mib"), "{err}");
    // The buffers reserved (each copy counted) stay within the budget; their capacity may be
    // up to twice their length. Before: 3 copies of the whole 118 MB encoding, 350 MiB.
    assert!(peak < 3 * budget, "peak {} MiB", peak / MIB);
}
