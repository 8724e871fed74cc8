//! Arbitrary bytes decoded as cty msgpack against one of a few types (first byte picks
//! it); whatever decodes must encode and decode back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    terraform_provider_intersight_fuzz::props::msgpack_decode(data);
});
