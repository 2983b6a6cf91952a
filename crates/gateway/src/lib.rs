//! The sipbridge gateway: configuration, I/O shells, call orchestration, metrics and health.
//!
//! The `sipbridge` binary (`src/main.rs`) is a thin CLI over this library; the end-to-end tests
//! drive the binary itself.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod call;
pub mod config;
pub mod health;
pub mod media;
pub mod runtime;
pub mod sip;
