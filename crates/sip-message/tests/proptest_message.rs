//! Property tests: random and mutated input never panics, never yields offsets past the
//! input, and whatever parses can be written and parsed again.

use std::path::PathBuf;

use bytes::Bytes;
use proptest::prelude::*;
use sip_message::{Frame, Limits, Message, frame, receive};

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(load_seeds)
}

fn load_seeds() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475");
    let mut v = Vec::new();
    for sub in ["valid", "invalid"] {
        let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            v.push(std::fs::read(f).unwrap());
        }
    }
    v
}

/// Touches every accessor; none may panic.
fn exercise(m: &Message) {
    let _ = m.validate();
    let _ = m.check_support(&["timer"]);
    let _ = (
        m.method(),
        m.method_str(),
        m.status(),
        m.reason(),
        m.version(),
    );
    let _ = m.request_uri().map(|u| u.as_str().len());
    let _ = m.top_via().map(|v| v.branch);
    let _ = m.vias().count();
    let _ = m.from().map(|f| (f.tag(), f.display_name()));
    let _ = m.to().map(|f| (f.tag(), f.display_name()));
    let _ = (m.call_id(), m.cseq(), m.max_forwards(), m.content_length());
    for c in m.contacts().flatten() {
        let _ = (c.expires(), c.q());
    }
    let _ = m.routes().count() + m.record_routes().count();
    let _ = m.headers().count();
    let _ = m
        .typed::<sip_message::headers::Authorization<'_>>()
        .map(|a| a.map(|a| a.username()));
    let _ = m.typed::<sip_message::headers::MediaType<'_>>();
    let _ = m.typed_all::<sip_message::headers::Supported<'_>>().count();
    let _ = m.typed::<sip_message::headers::Date>();
    let _ = m.body().len();
    if let Ok(w) = m.to_bytes() {
        let again = Message::parse(w).expect("written message must parse");
        assert_eq!(again.body_bytes(), m.body_bytes());
        let no_cl = |m: &Message| {
            m.headers()
                .filter(|(n, _)| *n != sip_message::HeaderName::ContentLength)
                .count()
        };
        assert_eq!(no_cl(&again), no_cl(m));
    }
}

fn check(input: Vec<u8>) {
    let len = input.len();
    let b = Bytes::from(input);
    match Message::parse(b.clone()) {
        Ok(m) => exercise(&m),
        Err(e) => assert!(e.offset <= len, "{e:?} past {len}"),
    }
    let _ = receive(b.clone(), &Limits::default());
    match frame(&b, &Limits::default()) {
        Ok(Frame::Complete(n)) | Ok(Frame::KeepAlive(n)) => assert!(n <= len && n > 0),
        Ok(Frame::NeedMore) => {}
        Err(e) => assert!(e.offset <= len.max(Limits::default().max_message_size)),
    }
    if let Ok(s) = std::str::from_utf8(&b) {
        let _ = sip_message::Uri::parse(s);
        let _ = sip_message::Via::parse(s);
        let _ = sip_message::NameAddr::parse(s);
        let _ = sip_message::Contact::parse(s);
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b"\r\n".to_vec(),
        b" ".to_vec(),
        b";".to_vec(),
        b",".to_vec(),
        b"\"".to_vec(),
        b"<".to_vec(),
        b">".to_vec(),
        b":".to_vec(),
        b"%".to_vec(),
        b"[".to_vec(),
        b"]".to_vec(),
        b"\\".to_vec(),
        b"\r\n ".to_vec(),
        b"\0".to_vec(),
        vec![0xff],
        b"99999999999999999999".to_vec(),
        b"Content-Length: 5\r\n".to_vec(),
        b"@".to_vec(),
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![interesting, prop::collection::vec(any::<u8>(), 1..8)]
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = v.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if !v.is_empty() {
                    let i = i % v.len();
                    v[i] = *b;
                }
            }
            Mutation::Insert(i, bytes) => {
                let i = i % (v.len() + 1);
                v.splice(i..i, bytes.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let i = i % len;
                let e = (i + n).min(v.len());
                if i < e {
                    v.drain(i..e);
                }
            }
            Mutation::Truncate(i) => v.truncate(i % len),
            Mutation::Duplicate(i, n) => {
                let i = i % len;
                let e = (i + n).min(v.len());
                if i < e {
                    let part = v[i..e].to_vec();
                    v.splice(e..e, part);
                }
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(v in prop::collection::vec(any::<u8>(), 0..512)) {
        check(v);
    }

    #[test]
    fn random_sip_alphabet_never_panics(v in prop::collection::vec(prop::sample::select(
        b"SIP/2.0 INVITE sip:@;=<>\",:%[]\r\n\t 0123456789abcvVlLfti-".to_vec()), 0..400)) {
        let mut input = b"INVITE sip:a@b SIP/2.0\r\n".to_vec();
        input.extend(v);
        input.extend_from_slice(b"\r\n\r\n");
        check(input);
    }

    #[test]
    fn mutated_torture_messages_never_panic(
        seed in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let base = seeds[seed.index(seeds.len())].clone();
        check(apply(base, &muts));
    }
}
