//! `message/sipfrag` status lines, as NOTIFYs about a REFER carry them (RFC 3515 §2.4.5).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::sipfrag_status;

fuzz_target!(|data: &[u8]| {
    match sipfrag_status(data) {
        Ok(status) => {
            assert!((100..=699).contains(&status.code));
            // The reason is a view into the body's first line.
            let start = status.reason.as_ptr() as usize;
            let base = data.as_ptr() as usize;
            assert!(
                status.reason.is_empty()
                    || (start >= base && start + status.reason.len() <= base + data.len())
            );
            assert!(!status.reason.contains(&b'\n'));
        }
        Err(e) => assert!(e.offset <= data.len()),
    }
});
