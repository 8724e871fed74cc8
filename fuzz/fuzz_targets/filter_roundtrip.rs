//! Filters built with the client's builder from generated arguments, rendered, parsed by the
//! simulator's OData parser and evaluated on generated objects: the verdict must match the
//! arguments' direct meaning; a raw filter must never absorb the terms after it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    terraform_provider_intersight_fuzz::props::filter_roundtrip(data);
});
