//! Where the test keys are. The client crate's unit tests include this file alone (they read
//! one key file); `encoding.rs` includes it for the integration tests.

use std::path::{Path, PathBuf};

/// A file of `tests/fixtures/signing` at the workspace root. This module serves the root
/// package's tests and `crates/intersight-client`'s, so the directory is looked up from the
/// including package's manifest directory upwards.
pub(crate) fn fixture(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("tests/fixtures/signing"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| manifest.join("tests/fixtures/signing"))
        .join(name)
}
