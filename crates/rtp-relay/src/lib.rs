//! Sans-IO media core for sipbridge.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod tone;
