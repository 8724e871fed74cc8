//! Arbitrary bytes decoded as the data source's configuration, validated, and turned into
//! a filter; nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    terraform_provider_intersight_fuzz::props::config_decode(data);
});
