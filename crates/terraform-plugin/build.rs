//! Compiles the plugin protocol definitions in `proto/` with protox (pure Rust, so no system
//! `protoc` is needed) and generates prost messages plus tonic servers and clients.
//! Clients are generated too: the integration tests talk to the binary through them.

use std::path::Path;

const PROTOS: [&str; 3] = ["tfplugin5.proto", "tfplugin6.proto", "plugin.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The protocol definitions stay at the top of the workspace (`proto/`).
    let proto_dir = Path::new("../../proto");
    for file in PROTOS {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }
    let descriptors = protox::compile(PROTOS, [proto_dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Every RPC we do not implement answers Unimplemented without hand-written stubs.
        .generate_default_stubs(true)
        .compile_fds(descriptors)?;
    Ok(())
}
