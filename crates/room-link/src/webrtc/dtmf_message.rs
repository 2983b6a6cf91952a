//! DTMF over a data channel, for rooms that did not negotiate RFC 4733 telephone-events.
//!
//! Format: one UTF-8 JSON text message per digit, on the data channel named by
//! [`super::WebRtcLinkConfig::dtmf_data_channel`]:
//!
//! ```json
//! {"type":"dtmf","digit":"5","duration_ms":100}
//! ```
//!
//! `digit` is one of `0-9 * # A-D`. Messages of any other shape are ignored, so the channel
//! can carry other traffic.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Message<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    digit: String,
    #[serde(default)]
    duration_ms: u64,
}

/// The text message for `digit` pressed for `duration`.
pub(super) fn format(digit: char, duration: Duration) -> String {
    let m = Message {
        kind: "dtmf",
        digit: digit.to_string(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    };
    serde_json::to_string(&m).unwrap_or_default()
}

/// The digit of a DTMF message, or `None` for anything else.
pub(super) fn parse(data: &[u8]) -> Option<char> {
    let m: Message<'_> = serde_json::from_slice(data).ok()?;
    if m.kind != "dtmf" {
        return None;
    }
    let mut chars = m.digit.chars();
    let digit = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() || rtp_relay::dtmf::event_for_digit(digit).is_none() {
        return None;
    }
    Some(digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let s = format('#', Duration::from_millis(120));
        assert_eq!(s, r##"{"type":"dtmf","digit":"#","duration_ms":120}"##);
        assert_eq!(parse(s.as_bytes()), Some('#'));
        assert_eq!(parse(br#"{"type":"dtmf","digit":"b"}"#), Some('B'));
        for bad in [
            &br#"{"type":"chat","digit":"5"}"#[..],
            br#"{"type":"dtmf","digit":"55"}"#,
            br#"{"type":"dtmf","digit":"x"}"#,
            b"\xff\xfe",
            b"",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
