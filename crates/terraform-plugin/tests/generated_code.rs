//! The generator of the checked-in protocol code in `src/generated/`, and its guard against
//! drift.
//!
//! The code that prost and tonic generate from `proto/*.proto` is checked in, so a build
//! compiles no protobuf compiler: protox and prost-reflect (and prost-build's own dependencies)
//! are dev-dependencies, built for this test only (BENCHMARKS.md, "Issue 18, item 3: the first build").
//! This test compiles the definitions again, with the options the code was made with, into a
//! temporary directory and fails when the result differs from the checked-in files.
//! `UPDATE_GENERATED=1 cargo test -p terraform-plugin --test generated_code` writes the result
//! over them instead (after a change to `proto/` or to a generator version).

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// The protocol definitions, as files under `proto/` at the top of the workspace.
const PROTOS: [&str; 3] = ["tfplugin5.proto", "tfplugin6.proto", "plugin.proto"];

/// The files prost-build writes for them: one per protobuf package.
const GENERATED: [&str; 3] = ["plugin.rs", "tfplugin5.rs", "tfplugin6.rs"];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first lines of each checked-in file: where it comes from and how to make it again.
fn header(file: &str) -> String {
    format!(
        "// @generated: do not edit. Made from proto/ ({}) by protox and tonic-prost-build in\n\
         // crates/terraform-plugin/tests/generated_code.rs; to make it again:\n\
         //   UPDATE_GENERATED=1 cargo test -p terraform-plugin --test generated_code\n\
         // ({file})\n",
        PROTOS.join(", ")
    )
}

/// Compiles `proto/` into `out` with the options the provider's code is generated with.
fn generate(proto_dir: &Path, out: &Path) -> Result<(), Box<dyn Error>> {
    let descriptors = protox::compile(PROTOS, [proto_dir])?;
    tonic_prost_build::configure()
        .out_dir(out)
        .emit_rerun_if_changed(false)
        .build_server(true)
        // Clients too: the integration tests talk to the binary through them.
        .build_client(true)
        // No `connect` constructors on the clients: they would need tonic's `channel` feature
        // (a client transport) in the provider's own build; the tests build their channels.
        .build_transport(false)
        // Every RPC we do not implement answers Unimplemented without hand-written stubs.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}

#[test]
fn checked_in_code_matches_the_protocol_definitions() -> Result<(), Box<dyn Error>> {
    let proto_dir = manifest_dir().join("../../proto");
    let checked_in_dir = manifest_dir().join("src/generated");
    let scratch = tempfile::tempdir()?;
    generate(&proto_dir, scratch.path())?;

    let mut made: Vec<String> = fs::read_dir(scratch.path())?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    made.sort();
    assert_eq!(
        made, GENERATED,
        "the protocol definitions now generate other files: update GENERATED and the modules that include them"
    );

    let update = std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1");
    let mut drifted = Vec::new();
    for file in GENERATED {
        let fresh = header(file) + &fs::read_to_string(scratch.path().join(file))?;
        let target = checked_in_dir.join(file);
        // A missing file is drift like any other difference.
        let current = fs::read_to_string(&target).unwrap_or_default();
        if fresh != current {
            if update {
                fs::create_dir_all(&checked_in_dir)?;
                fs::write(&target, fresh)?;
            } else {
                drifted.push(file);
            }
        }
    }
    assert!(
        drifted.is_empty(),
        "src/generated/{drifted:?} differ from what proto/ generates: run \
         `UPDATE_GENERATED=1 cargo test -p terraform-plugin --test generated_code` and commit the result"
    );
    Ok(())
}
