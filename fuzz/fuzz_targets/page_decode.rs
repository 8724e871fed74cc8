//! A page body (raw bytes, or generated API-shaped JSON when the first byte is odd) decoded
//! as a read decodes it and flattened into `results` elements that must conform to the
//! element type.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    terraform_provider_intersight_fuzz::props::page_decode(data);
});
