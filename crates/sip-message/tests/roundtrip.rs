//! parse -> write -> parse round-trips over every valid RFC 4475 message and over messages
//! built with the writer.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use sip_message::{HeaderName, Message, MessageWriter, Method};

fn valid_fixtures() -> Vec<(String, Bytes)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475/valid");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                Bytes::from(std::fs::read(&p).unwrap()),
            )
        })
        .collect();
    v.sort();
    v
}

/// Folding is the only thing canonical writing changes in a value.
fn unfold(v: &str) -> String {
    v.split("\r\n")
        .map(|p| p.trim_matches([' ', '\t']))
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_message(a: &Message, b: &Message, ctx: &str) {
    assert_eq!(a.is_request(), b.is_request(), "{ctx}");
    assert_eq!(a.method_str(), b.method_str(), "{ctx}");
    assert_eq!(a.request_uri_str(), b.request_uri_str(), "{ctx}");
    assert_eq!(a.status(), b.status(), "{ctx}");
    assert_eq!(a.reason(), b.reason(), "{ctx}");
    let ha: Vec<_> = a
        .headers()
        .filter(|(n, _)| *n != HeaderName::ContentLength)
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), unfold(v)))
        .collect();
    let hb: Vec<_> = b
        .headers()
        .filter(|(n, _)| *n != HeaderName::ContentLength)
        .map(|(n, v)| (n.as_str().to_ascii_lowercase(), unfold(v)))
        .collect();
    assert_eq!(ha, hb, "{ctx}");
    assert_eq!(a.body_bytes(), b.body_bytes(), "{ctx}");
    assert_eq!(a.cseq(), b.cseq(), "{ctx}");
    assert_eq!(a.call_id(), b.call_id(), "{ctx}");
    assert_eq!(a.top_via(), b.top_via(), "{ctx}");
    assert_eq!(
        a.from().map(|f| f.tag().map(str::to_owned)),
        b.from().map(|f| f.tag().map(str::to_owned)),
        "{ctx}"
    );
    assert_eq!(
        a.to().map(|f| f.tag().map(str::to_owned)),
        b.to().map(|f| f.tag().map(str::to_owned)),
        "{ctx}"
    );
    assert_eq!(a.vias().count(), b.vias().count(), "{ctx}");
    assert_eq!(a.contacts().count(), b.contacts().count(), "{ctx}");
}

#[test]
fn every_valid_torture_message_round_trips() {
    for (name, bytes) in valid_fixtures() {
        let a = Message::parse(bytes).unwrap();
        let written = a
            .to_bytes()
            .unwrap_or_else(|e| panic!("{name}: write: {e}"));
        let b = Message::parse(written.clone()).unwrap_or_else(|e| panic!("{name}: reparse: {e}"));
        b.validate()
            .unwrap_or_else(|e| panic!("{name}: revalidate: {e}"));
        same_message(&a, &b, &name);
        // Canonical form is a fixed point.
        assert_eq!(b.to_bytes().unwrap(), written, "{name}");
    }
}

#[test]
fn writer_into_a_reused_buffer_round_trips() {
    let mut buf = BytesMut::with_capacity(256);
    for i in 0..50u32 {
        let mut w = MessageWriter::request_for(
            &mut buf,
            Method::Options,
            "sip:[2001:db8::1]:5070;transport=tcp",
        );
        w.header_fmt(
            HeaderName::Via,
            format_args!("SIP/2.0/TCP [2001:db8::2]:5060;branch=z9hG4bK{i};rport"),
        )
        .header(HeaderName::MaxForwards, "70")
        .header(
            HeaderName::From,
            "\"A \\\"quoted\\\" name\" <sip:a@example.com>;tag=x",
        )
        .header(HeaderName::To, "sip:b@example.com")
        .header_fmt(HeaderName::CallId, format_args!("call-{i}@example.com"))
        .header_fmt(HeaderName::CSeq, format_args!("{i} OPTIONS"));
        let body = vec![b'x'; i as usize];
        let n = w.body(Some("text/plain"), &body).unwrap();
        let m = Message::parse(buf.split_to(n).freeze()).unwrap();
        m.validate().unwrap();
        assert_eq!(m.cseq().unwrap().seq, i);
        assert_eq!(m.top_via().unwrap().branch.unwrap(), format!("z9hG4bK{i}"));
        assert_eq!(
            m.from().unwrap().display_name().unwrap(),
            "A \"quoted\" name"
        );
        assert_eq!(m.body_bytes(), &body[..]);
        let again = Message::parse(m.to_bytes().unwrap()).unwrap();
        same_message(&m, &again, "built");
        assert!(buf.is_empty());
    }
}
