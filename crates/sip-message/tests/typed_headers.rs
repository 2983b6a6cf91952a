//! On-demand typed headers through a whole message: compact forms, multi-line and
//! comma-separated lists, error offsets pointing into the message.

use bytes::Bytes;
use sip_message::headers::{
    Allow, Authorization, Diversion, Event, Expires, MediaType, MinSe, PAssertedIdentity,
    ProxyAuthenticate, RAck, RSeq, Reason, ReferTo, ReferredBy, Refresher, Replaces, Require,
    Server, SessionExpires, SubscriptionState, Supported, Unsupported, UserAgent, WwwAuthenticate,
};
use sip_message::{ErrorKind, HeaderName, Message, Method};

const MSG: &[u8] = b"NOTIFY sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnt1\r\n\
f: <sip:alice@example.com>;tag=a1\r\n\
t: <sip:bob@example.com>;tag=b1\r\n\
i: n1@192.0.2.1\r\n\
CSeq: 5 NOTIFY\r\n\
Max-Forwards: 70\r\n\
Allow: INVITE, ACK,\r\n BYE\r\n\
Allow: REFER\r\n\
k: timer, 100rel\r\n\
Require: timer\r\n\
Unsupported: foo\r\n\
o: refer;id=93809824\r\n\
Subscription-State: active;expires=60\r\n\
x: 1800;refresher=uas\r\n\
Min-SE: 90\r\n\
RSeq: 42\r\n\
RAck: 42 5 INVITE\r\n\
Expires: 0\r\n\
r: <sip:carol@example.com?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n\
b: <sip:alice@example.com>\r\n\
Replaces: a@b;to-tag=1;from-tag=2\r\n\
P-Asserted-Identity: \"Alice\" <sip:alice@example.com>, <tel:+15551230000>\r\n\
Diversion: <sip:+15550001111@example.com>;reason=no-answer;counter=1\r\n\
Reason: SIP;cause=200;text=\"Call completed elsewhere\", Q.850;cause=16\r\n\
Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:bob@192.0.2.4\", response=\"0123456789abcdef0123456789abcdef\"\r\n\
WWW-Authenticate: Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\"\r\n\
Proxy-Authenticate: Digest realm=\"proxy\", nonce=\"xyz\", stale=true\r\n\
User-Agent: softphone/1.0 (linux)\r\n\
Server: sipbridge/0.1\r\n\
c: message/sipfrag;version=2.0\r\n\
l: 20\r\n\
\r\n\
SIP/2.0 200 OK\r\n\r\n\r\n";

#[test]
fn every_typed_header_through_a_message() {
    let m = Message::parse(Bytes::from_static(MSG)).unwrap();
    m.validate().unwrap();
    let allow: Vec<_> = m
        .typed_all::<Allow<'_>>()
        .map(|a| a.unwrap().method())
        .collect();
    assert_eq!(
        allow,
        [Method::Invite, Method::Ack, Method::Bye, Method::Refer]
    );
    let sup: Vec<_> = m
        .typed_all::<Supported<'_>>()
        .map(|t| t.unwrap().0)
        .collect();
    assert_eq!(sup, ["timer", "100rel"]);
    assert_eq!(m.typed::<Require<'_>>().unwrap().unwrap().0, "timer");
    assert_eq!(m.typed::<Unsupported<'_>>().unwrap().unwrap().0, "foo");
    assert!(m.check_support(&["timer"]).is_ok());
    assert_eq!(m.check_support(&[]).unwrap_err().response, Some(420));
    assert_eq!(
        m.unsupported_requirements(&["100rel"]).collect::<Vec<_>>(),
        ["timer"]
    );
    let e = m.typed::<Event<'_>>().unwrap().unwrap();
    assert_eq!((e.package, e.id()), ("refer", Some("93809824")));
    assert_eq!(
        m.typed::<SubscriptionState<'_>>().unwrap().unwrap().expires,
        Some(60)
    );
    let se = m.typed::<SessionExpires<'_>>().unwrap().unwrap();
    assert_eq!((se.delta, se.refresher), (1800, Some(Refresher::Uas)));
    assert_eq!(m.typed::<MinSe<'_>>().unwrap().unwrap().delta, 90);
    assert_eq!(m.typed::<RSeq>().unwrap().unwrap(), RSeq(42));
    assert_eq!(
        m.typed::<RAck<'_>>().unwrap().unwrap().method,
        Method::Invite
    );
    assert_eq!(m.typed::<Expires>().unwrap().unwrap(), Expires(0));
    let r = m.typed::<ReferTo<'_>>().unwrap().unwrap();
    let (_, v) = r.uri.as_sip().unwrap().headers().next().unwrap();
    assert_eq!(sip_message::unescape(v), "a@b;to-tag=1;from-tag=2");
    assert!(m.typed::<ReferredBy<'_>>().unwrap().is_ok());
    let rep = m.typed::<Replaces<'_>>().unwrap().unwrap();
    assert_eq!((rep.call_id, rep.to_tag, rep.from_tag), ("a@b", "1", "2"));
    let pai: Vec<_> = m
        .typed_all::<PAssertedIdentity<'_>>()
        .map(|p| p.unwrap().uri.scheme())
        .collect();
    assert_eq!(pai, ["sip", "tel"]);
    assert_eq!(
        m.typed::<Diversion<'_>>().unwrap().unwrap().reason(),
        Some("no-answer")
    );
    let reasons: Vec<_> = m.typed_all::<Reason<'_>>().map(|r| r.unwrap()).collect();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].text().unwrap(), "Call completed elsewhere");
    assert_eq!((reasons[1].protocol, reasons[1].cause), ("Q.850", Some(16)));
    let a = m.typed::<Authorization<'_>>().unwrap().unwrap();
    assert_eq!(a.username().unwrap(), "alice");
    assert_eq!(
        m.typed::<WwwAuthenticate<'_>>()
            .unwrap()
            .unwrap()
            .qop_options()
            .collect::<Vec<_>>(),
        ["auth"]
    );
    assert!(m.typed::<ProxyAuthenticate<'_>>().unwrap().unwrap().stale());
    assert_eq!(
        m.typed::<UserAgent<'_>>()
            .unwrap()
            .unwrap()
            .products()
            .next(),
        Some("softphone/1.0")
    );
    assert_eq!(m.typed::<Server<'_>>().unwrap().unwrap().0, "sipbridge/0.1");
    let ct = m.typed::<MediaType<'_>>().unwrap().unwrap();
    assert!(ct.is("message", "sipfrag"));
    assert_eq!(m.body_bytes(), b"SIP/2.0 200 OK\r\n\r\n\r\n");
    assert_eq!(m.header_values(HeaderName::Allow).count(), 4);
    assert!(m.typed::<sip_message::headers::Date>().is_none());
}

#[test]
fn typed_errors_name_the_header_and_point_into_the_message() {
    let raw = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\n\
t: <sip:a@b>\r\ni: x\r\nCSeq: 1 OPTIONS\r\nRSeq: x1\r\nSession-Expires: 10;refresher=me\r\nl: 0\r\n\r\n";
    let m = Message::parse(Bytes::from_static(raw)).unwrap();
    let e = m.typed::<RSeq>().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadHeader(HeaderName::RSeq));
    assert_eq!(&raw[e.offset..e.offset + 2], b"x1");
    let e = m.typed::<SessionExpires<'_>>().unwrap().unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadHeader(HeaderName::SessionExpires));
    assert!(raw[e.offset..].starts_with(b"10;refresher=me"));
}
