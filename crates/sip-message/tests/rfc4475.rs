//! RFC 4475 torture messages: every `valid/` message parses and validates; every `invalid/`
//! message is rejected with the reason (and response) the RFC text calls for.

use std::path::PathBuf;

use bytes::Bytes;
use sip_message::{ErrorKind, HeaderName, Limits, Message, Method, Rejection, receive};

fn data(rel: &str) -> Bytes {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rfc4475")
        .join(rel);
    Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

fn manifest() -> Vec<(String, String)> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475/MANIFEST.tsv");
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[3].to_string())
        })
        .collect()
}

#[test]
fn manifest_covers_every_file() {
    let m = manifest();
    for dir in ["valid", "invalid"] {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/rfc4475")
            .join(dir);
        for e in std::fs::read_dir(p).unwrap() {
            let name = format!("{dir}/{}", e.unwrap().file_name().to_string_lossy());
            assert!(
                m.iter().any(|(f, _)| *f == name),
                "{name} not in MANIFEST.tsv"
            );
        }
    }
    assert_eq!(m.len(), 49);
}

#[test]
fn every_valid_message_parses_and_validates() {
    for (file, _) in manifest()
        .into_iter()
        .filter(|(f, _)| f.starts_with("valid/"))
    {
        let msg = Message::parse(data(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        msg.validate().unwrap_or_else(|e| panic!("{file}: {e}"));
        // Every core accessor works on a validated message.
        assert!(msg.top_via().is_some(), "{file}: top Via");
        assert!(
            msg.from().is_some() && msg.to().is_some(),
            "{file}: From/To"
        );
        assert!(
            msg.call_id().is_some() && msg.cseq().is_some(),
            "{file}: Call-ID/CSeq"
        );
        assert_eq!(msg.vias().filter(Result::is_err).count(), 0, "{file}");
        assert_eq!(msg.contacts().filter(Result::is_err).count(), 0, "{file}");
        if let Some(cl) = msg.content_length() {
            assert_eq!(msg.body_bytes().len(), cl as usize, "{file}");
        }
    }
}

/// The expected rejection per invalid file: (kind, response code or None for drop).
fn expected(file: &str) -> (ErrorKind, Option<u16>) {
    use ErrorKind::*;
    match file {
        "invalid/badinv01.dat" => (BadHeader(HeaderName::Via), Some(400)),
        "invalid/clerr.dat" => (BodyTruncated, Some(400)),
        "invalid/ncl.dat" => (ContentLength, Some(400)),
        "invalid/scalar02.dat" => (BadHeader(HeaderName::CSeq), Some(400)),
        "invalid/scalarlg.dat" => (BadHeader(HeaderName::CSeq), None),
        "invalid/quotbal.dat" => (BadHeader(HeaderName::To), Some(400)),
        "invalid/ltgtruri.dat" => (RequestUri, Some(400)),
        "invalid/lwsruri.dat" => (RequestUri, Some(400)),
        "invalid/lwsstart.dat" => (StartLine, Some(400)),
        "invalid/trws.dat" => (Version, Some(400)),
        "invalid/escruri.dat" => (RequestUriHeaders, Some(400)),
        "invalid/baddate.dat" => (BadHeader(HeaderName::Date), Some(400)),
        "invalid/regbadct.dat" => (BadHeader(HeaderName::Contact), Some(400)),
        "invalid/badaspec.dat" => (BadHeader(HeaderName::To), Some(400)),
        "invalid/baddn.dat" => (Incomplete, Some(400)),
        "invalid/badvers.dat" => (UnsupportedVersion, Some(505)),
        "invalid/mismatch01.dat" => (CSeqMethodMismatch, Some(400)),
        "invalid/mismatch02.dat" => (CSeqMethodMismatch, Some(501)),
        "invalid/bigcode.dat" => (StatusCode, None),
        "invalid/insuf.dat" => (MissingHeader(HeaderName::From), Some(400)),
        "invalid/multi01.dat" => (DuplicateHeader(HeaderName::From), Some(400)),
        "invalid/mcl01.dat" => (ContentLengthConflict, Some(400)),
        other => panic!("no expectation for {other}"),
    }
}

#[test]
fn every_invalid_message_is_rejected_with_the_right_reason() {
    for (file, expectation) in manifest()
        .into_iter()
        .filter(|(f, _)| f.starts_with("invalid/"))
    {
        let bytes = data(&file);
        let parsed = Message::parse(bytes.clone());
        let rejection = match &parsed {
            Err(e) => Rejection::from_parse_error(*e, &bytes),
            Ok(m) => m.validate().expect_err(&file),
        };
        // MANIFEST "parse OK, then reject": the parser must not be the one refusing.
        if expectation.starts_with("parse OK") && file != "invalid/mcl01.dat" {
            assert!(parsed.is_ok(), "{file} must parse: {parsed:?}");
        }
        let (kind, code) = expected(&file);
        assert_eq!(
            (rejection.error.kind, rejection.response),
            (kind, code),
            "{file}: {rejection}"
        );
        assert!(rejection.error.offset <= bytes.len(), "{file}");
        // receive() agrees with the two-step path.
        assert_eq!(
            receive(bytes, &Limits::default()).unwrap_err(),
            rejection,
            "{file}"
        );
    }
}

#[test]
fn baddn_with_final_crlf_is_rejected_for_its_display_name() {
    // RFC 4475 §3.1.2.15 proper: the archive copy lacks the final CRLF, this one has it.
    let mut v = data("invalid/baddn.dat").to_vec();
    v.extend_from_slice(b"\r\n");
    let m = Message::parse(Bytes::from(v)).unwrap();
    let r = m.validate().unwrap_err();
    assert_eq!(r.error.kind, ErrorKind::BadHeader(HeaderName::From));
    assert_eq!(r.response, Some(400));
}

#[test]
fn dblreq_yields_the_register_only() {
    let bytes = data("valid/dblreq.dat");
    let m = Message::parse(bytes.clone()).unwrap();
    assert_eq!(m.method(), Method::Register);
    assert_eq!(m.body_bytes(), b"");
    assert!(m.as_bytes().len() < bytes.len());
    assert!(m.as_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));
    assert_eq!(m.call_id(), Some("dblreq.0ha0isndaksdj99sdfafnl3lk233412"));
}

#[test]
fn torture_details() {
    // §3.1.1.1 wsinv: folding, LWS, compact forms, unknown headers kept opaque.
    let m = Message::parse(data("valid/wsinv.dat")).unwrap();
    assert_eq!(m.max_forwards(), Some(68));
    assert_eq!(m.cseq().unwrap().seq, 9);
    assert_eq!(m.to().unwrap().tag(), Some("1918181833n"));
    assert_eq!(
        m.from().unwrap().display_name().unwrap(),
        "J Rosenberg \\\""
    );
    assert_eq!(
        m.header(&HeaderName::Other("UnknownHeaderWithUnusualValue")),
        Some(";;,,;;,;")
    );
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].branch, Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch, Some("z9hG4bK30239"));
    let c = m.contacts().next().unwrap().unwrap();
    assert_eq!(c.q(), Some(330));
    assert_eq!(c.addr().unwrap().param("newparam"), Some(Some("newvalue")));
    assert_eq!(m.header(&HeaderName::Subject), Some(""));

    // §3.1.1.2 intmeth: extension method, quoted NUL.
    let m = Message::parse(data("valid/intmeth.dat")).unwrap();
    assert_eq!(m.method(), Method::Other);
    assert_eq!(
        m.method_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert!(m.to().unwrap().display_name().unwrap().contains('\0'));

    // §3.1.1.3 esc01: escapes decoded once.
    let m = Message::parse(data("valid/esc01.dat")).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    let uri = c.addr().unwrap().uri.as_sip().unwrap().clone();
    assert_eq!(uri.user_unescaped().unwrap(), "caller");
    let p: Vec<_> = uri
        .params()
        .map(|p| {
            (
                sip_message::unescape(p.name).into_owned(),
                p.value.map(|v| sip_message::unescape(v).into_owned()),
            )
        })
        .collect();
    assert_eq!(p[1], ("name".to_string(), Some("value%41".to_string())));

    // §3.1.1.4 escnull: %00 kept distinct.
    let m = Message::parse(data("valid/escnull.dat")).unwrap();
    let users: Vec<_> = m
        .contacts()
        .map(|c| {
            c.unwrap()
                .addr()
                .unwrap()
                .uri
                .as_sip()
                .unwrap()
                .user_unescaped()
                .unwrap()
                .into_owned()
        })
        .collect();
    assert_eq!(users, ["\0", "\0\0"]);

    // §3.1.1.5 esc02: RE%47IST%45R is not REGISTER; C%6Fntact is not Contact.
    let m = Message::parse(data("valid/esc02.dat")).unwrap();
    assert_eq!(m.method(), Method::Other);
    assert_eq!(m.contacts().count(), 2);

    // §3.1.1.10 transports.
    let m = Message::parse(data("valid/transports.dat")).unwrap();
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport.as_str()).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);

    // §3.1.1.11 mpart01: binary body framed by Content-Length.
    let m = Message::parse(data("valid/mpart01.dat")).unwrap();
    assert_eq!(m.body().len(), 553);

    // §3.1.1.12/13 reason phrases.
    let m = Message::parse(data("valid/noreason.dat")).unwrap();
    assert_eq!((m.status(), m.reason()), (Some(100), Some("")));
    let m = Message::parse(data("valid/unreason.dat")).unwrap();
    assert!(m.reason().unwrap().contains('='));

    // §3.3.2/3.3.3: unknown schemes parse; policy answers 416.
    for f in ["valid/unkscm.dat", "valid/novelsc.dat"] {
        let m = Message::parse(data(f)).unwrap();
        assert_eq!(m.check_support(&[]).unwrap_err().response, Some(416), "{f}");
    }
    // §3.3.5 bext01: 420 listing the Require tags.
    let m = Message::parse(data("valid/bext01.dat")).unwrap();
    assert_eq!(m.check_support(&["timer"]).unwrap_err().response, Some(420));
    assert!(m.unsupported_requirements(&[]).count() >= 1);
    // §3.1.1.2: extension method -> 501 by policy.
    let m = Message::parse(data("valid/intmeth.dat")).unwrap();
    assert_eq!(m.check_support(&[]).unwrap_err().response, Some(501));

    // §3.3.12/13 contact-param vs url-param.
    let m = Message::parse(data("valid/cparam01.dat")).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    assert!(c.addr().unwrap().param("unknownparam").is_some());
    let m = Message::parse(data("valid/cparam02.dat")).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    assert!(
        c.addr()
            .unwrap()
            .uri
            .as_sip()
            .unwrap()
            .param("unknownparam")
            .is_some()
    );

    // §3.3.14 regescrt: escaped header legal inside <>.
    let m = Message::parse(data("valid/regescrt.dat")).unwrap();
    let c = m.contacts().next().unwrap().unwrap();
    assert_eq!(
        c.addr().unwrap().uri.as_sip().unwrap().headers().next(),
        Some(("Route", "%3Csip:sip.example.com%3E"))
    );

    // §3.4.1 inv2543: no Content-Length on UDP, body to datagram end.
    let m = Message::parse(data("valid/inv2543.dat")).unwrap();
    assert_eq!(m.content_length(), None);
    assert!(m.body_bytes().starts_with(b"v=0"));
    assert_eq!(m.max_forwards(), None);
}

#[test]
fn stream_framing_of_the_torture_messages() {
    use sip_message::{Frame, frame};
    let l = Limits::default();
    // RFC 4475 §3.1.2.2: on TCP, a Content-Length larger than what arrived means "wait".
    assert_eq!(frame(&data("invalid/clerr.dat"), &l), Ok(Frame::NeedMore));
    // §3.1.2.3: negative Content-Length is an unrecoverable framing error.
    assert_eq!(
        frame(&data("invalid/ncl.dat"), &l).unwrap_err().kind,
        ErrorKind::ContentLength
    );
    // §3.3.9: conflicting values cannot be framed.
    assert_eq!(
        frame(&data("invalid/mcl01.dat"), &l).unwrap_err().kind,
        ErrorKind::ContentLengthConflict
    );
    // §3.4.1 over a stream: no Content-Length is fatal (RFC 3261 §18.3).
    assert_eq!(
        frame(&data("valid/inv2543.dat"), &l).unwrap_err().kind,
        ErrorKind::ContentLengthMissing
    );
    // §3.1.1.8: the REGISTER is framed alone; the rest is the next message.
    let dbl = data("valid/dblreq.dat");
    let Ok(Frame::Complete(n)) = frame(&dbl, &l) else {
        panic!("dblreq must frame")
    };
    assert_eq!(
        Message::parse(dbl.slice(..n)).unwrap().method(),
        Method::Register
    );
    assert!(matches!(frame(&dbl[n..], &l), Ok(Frame::KeepAlive(2))));
    // Every valid message that carries a Content-Length frames to exactly the parsed message.
    for (file, _) in manifest()
        .into_iter()
        .filter(|(f, _)| f.starts_with("valid/"))
    {
        let bytes = data(&file);
        let m = Message::parse(bytes.clone()).unwrap();
        if m.content_length().is_some() {
            assert_eq!(
                frame(&bytes, &l),
                Ok(Frame::Complete(m.as_bytes().len())),
                "{file}"
            );
        }
    }
}
