//! One datagram: parse, validate, touch every accessor, write and re-parse.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_message::headers::{Authorization, MediaType, Reason, Supported, WwwAuthenticate};
use sip_message::{HeaderName, Limits, Message, receive};

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let _ = receive(bytes.clone(), &Limits::default());
    let Ok(m) = Message::parse(bytes) else {
        return;
    };
    let _ = m.validate();
    let _ = m.check_support(&["timer", "100rel"]);
    let _ = (
        m.method(),
        m.method_str(),
        m.status(),
        m.reason(),
        m.version(),
    );
    let _ = m.request_uri();
    let _ = m.top_via().map(|v| (v.branch, v.rport, v.received));
    for v in m.vias().flatten() {
        let _ = v.other_params().count();
    }
    let _ = m
        .from()
        .map(|f| (f.tag().map(str::len), f.display_name().map(|d| d.len())));
    let _ = m
        .to()
        .map(|t| t.uri.as_sip().map(|u| u.user_unescaped().map(|s| s.len())));
    let _ = (m.call_id(), m.cseq(), m.max_forwards(), m.content_length());
    for c in m.contacts().flatten() {
        let _ = (c.expires(), c.q());
    }
    let _ = m.routes().count() + m.record_routes().count();
    let _ = m.headers().count();
    let _ = m.header_values(HeaderName::Allow).count();
    let _ = m
        .typed::<Authorization<'_>>()
        .map(|a| a.map(|a| (a.username(), a.nc(), a.qop_options().count())));
    let _ = m
        .typed::<WwwAuthenticate<'_>>()
        .map(|a| a.map(|a| a.stale()));
    let _ = m.typed::<MediaType<'_>>();
    let _ = m.typed_all::<Supported<'_>>().count();
    let _ = m
        .typed_all::<Reason<'_>>()
        .map(|r| r.map(|r| r.text().map(|t| t.len())))
        .count();
    let _ = m.body();
    if let Ok(w) = m.to_bytes() {
        let again = Message::parse(w).expect("a written message must parse");
        assert_eq!(again.body_bytes(), m.body_bytes());
    }
    if m.is_request() {
        let mut buf = bytes::BytesMut::new();
        let _ = m.response_writer(&mut buf, 200, "OK", Some("t")).finish();
    }
});
