//! IPv6 in SIP (RFC 5118 torture cases) through whole messages: Request-URI, Via sent-by and
//! received, Contact.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use sip_message::{ErrorKind, Host, Message, Uri};

fn msg(ruri: &str, via: &str, contact: &str) -> Result<Message, sip_message::ParseError> {
    let s = format!(
        "REGISTER {ruri} SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:user@example.com;tag=81x2\r\n\
         Call-ID: SSG9559905523997077@hlau_4100\r\nMax-Forwards: 70\r\nCSeq: 1 REGISTER\r\n\
         Via: {via}\r\nContact: {contact}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(Bytes::from(s))
}

fn v6(s: &str) -> Host<'static> {
    Host::V6(s.parse::<Ipv6Addr>().unwrap())
}

#[test]
fn rfc5118_valid_cases() {
    // §4.1 basic; §4.3 with port; §4.4 unnecessary zeros; §4.6 IPv4-mapped.
    let cases: &[(&str, Host<'static>, Option<u16>)] = &[
        ("sip:[2001:db8::10]", v6("2001:db8::10"), None),
        ("sip:[2001:db8::10]:5070", v6("2001:db8::10"), Some(5070)),
        ("sip:[2001:db8::10:5070]", v6("2001:db8::10:5070"), None),
        ("sip:[2001:db8:0:0:0:0:0:10]", v6("2001:db8::10"), None),
        (
            "sip:user@[::ffff:192.0.2.10]",
            v6("::ffff:192.0.2.10"),
            None,
        ),
        (
            "sip:user@192.0.2.10:5060",
            Host::V4(Ipv4Addr::new(192, 0, 2, 10)),
            Some(5060),
        ),
    ];
    for &(ruri, host, port) in cases {
        let m = msg(
            ruri,
            "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111",
            &format!("<{ruri}>"),
        )
        .unwrap_or_else(|e| panic!("{ruri}: {e}"));
        m.validate().unwrap_or_else(|e| panic!("{ruri}: {e}"));
        let Some(Uri::Sip(u)) = m.request_uri() else {
            panic!("{ruri}")
        };
        assert_eq!((u.host, u.port), (host, port), "{ruri}");
        let c = m.contacts().next().unwrap().unwrap();
        assert_eq!(c.addr().unwrap().uri.as_sip().unwrap().host, host, "{ruri}");
    }
    // §4.5: received with and without brackets.
    for via in [
        "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
        "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3-111",
    ] {
        let m = msg("sip:[2001:db8::10]", via, "<sip:[2001:db8::9:1]>").unwrap();
        m.validate().unwrap();
        let top = m.top_via().unwrap();
        assert_eq!(top.host, v6("2001:db8::9:1"));
        assert!(top.received.unwrap().contains("2001:db8::9:255"));
    }
}

#[test]
fn rfc5118_invalid_cases() {
    // §4.7: mismatched brackets in the Request-URI are rejected at parse time.
    for ruri in [
        "sip:[2001:db8::10",
        "sip:2001:db8::10]",
        "sip:2001:db8::10",
        "sip:[2001:db8::10]x",
    ] {
        let e = msg(
            ruri,
            "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111",
            "<sip:a@b>",
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::RequestUri, "{ruri}");
    }
    // In headers the same faults are value-level: validation answers 400.
    for (via, contact) in [
        (
            "SIP/2.0/UDP [2001:db8::9:1;branch=z9hG4bKas3-111",
            "<sip:a@b>",
        ),
        (
            "SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bKas3-111",
            "<sip:a@b>",
        ),
        (
            "SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111",
            "<sip:[2001:db8::10>",
        ),
        (
            "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255;branch=z9",
            "<sip:a@b>",
        ),
    ] {
        let m = msg("sip:[2001:db8::10]", via, contact).unwrap();
        let r = m.validate().unwrap_err();
        assert_eq!(r.response, Some(400), "{via} / {contact}: {r}");
    }
}
