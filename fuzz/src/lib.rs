//! Shared code of the fuzz targets. The properties live in [`props`], which
//! `tests/fuzz_props/` also compiles (by path) so `cargo test` checks them too.

pub mod props;
