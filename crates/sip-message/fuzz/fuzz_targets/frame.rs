//! Stream framing: split a byte stream into messages as a TCP reader would.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_message::{Frame, Limits, Message, frame};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_message_size: 4096,
        ..Limits::default()
    };
    let mut rest = data;
    // Every step consumes at least one byte, so this terminates.
    while !rest.is_empty() {
        match frame(rest, &limits) {
            Ok(Frame::Complete(n)) => {
                assert!(n > 0 && n <= rest.len());
                let _ = Message::parse_with(Bytes::copy_from_slice(&rest[..n]), &limits);
                rest = &rest[n..];
            }
            Ok(Frame::KeepAlive(n)) => {
                assert!(n > 0 && n <= rest.len());
                rest = &rest[n..];
            }
            Ok(Frame::NeedMore) | Err(_) => break,
        }
    }
});
