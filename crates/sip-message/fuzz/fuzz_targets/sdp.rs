//! SDP bodies (h2-sdp's parser): parse, walk every media section and attribute.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let _ = format!("{sdp:?}");
    }
});
