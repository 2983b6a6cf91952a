//! Generated protobuf messages (prost) with proto3-JSON serde impls (pbjson).
//!
//! Sources: `proto/livekit_sip.proto` and `proto/sipbridge_calls.proto`.

/// Package `livekit`: the SIP service messages.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod livekit {
    include!(concat!(env!("OUT_DIR"), "/livekit.rs"));
    include!(concat!(env!("OUT_DIR"), "/livekit.serde.rs"));
}

/// Package `sipbridge`: the Calls extension service messages.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod sipbridge {
    include!(concat!(env!("OUT_DIR"), "/sipbridge.rs"));
    include!(concat!(env!("OUT_DIR"), "/sipbridge.serde.rs"));
}
