//! Generates the protobuf types and their proto3-JSON serde impls from `proto/`.
//!
//! protox is a pure-Rust protobuf compiler, so building needs no system `protoc`.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const PROTOS: [&str; 2] = ["proto/livekit_sip.proto", "proto/sipbridge_calls.proto"];
    for p in PROTOS {
        println!("cargo:rerun-if-changed={p}");
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let fds = protox::compile(PROTOS, ["proto"])?;
    let descriptor_bytes = fds.encode_to_vec();

    let mut config = prost_build::Config::new();
    // Well-known types come from pbjson-types, which carries their proto3-JSON
    // forms (Duration as "30s", Timestamp as RFC 3339).
    config.compile_well_known_types();
    config.extern_path(".google.protobuf", "::pbjson_types");
    config.out_dir(&out_dir);
    config.compile_fds(fds)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .out_dir(&out_dir)
        .build(&[".livekit", ".sipbridge"])?;
    Ok(())
}
