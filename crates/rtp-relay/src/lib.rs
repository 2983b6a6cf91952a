//! Sans-IO media core for sipbridge.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod codec;
pub mod demux;
pub mod dtmf;
pub mod error;
pub mod rtcp;
pub mod rtp;
pub mod stats;
pub mod tone;

pub use error::Error;
