//! Property tests: random and mutated SDP never panics, errors stay inside the input, and
//! everything accepted round-trips through the writer.

use bytes::BytesMut;
use proptest::prelude::*;
use sip_message::sdp::{SdpBuilder, SessionDescription};

const FIXTURES: [&[u8]; 4] = [
    include_bytes!("data/sdp/carrier_offer.sdp"),
    include_bytes!("data/sdp/carrier_answer_ipv6_lf.sdp"),
    include_bytes!("data/sdp/webrtc_offer.sdp"),
    include_bytes!("data/sdp/srtp_offer.sdp"),
];

/// Fragments that steer mutations towards the parser's edge cases.
const TOKENS: &[&str] = &[
    "\r\n",
    "\n",
    "\r",
    " ",
    "\t",
    "=",
    ":",
    "/",
    ";",
    "|",
    "m=audio 0 RTP/AVP 0",
    "t=0 0",
    "a=rtpmap:",
    "a=fmtp:",
    "a=crypto:",
    "a=candidate:",
    "inline:",
    "2^",
    "IN IP6 ::1",
    "IN IP4 ",
    "typ ",
    "raddr ",
    "rport ",
    "a=sendonly",
    "a=mid:",
    "c=",
    "v=0",
    "128",
    "65536",
    "0",
    "-",
    ".",
    "\u{e9}",
    "\0",
    "99999999999999999999999",
];

/// Parses; on success walks every accessor and checks parse → write → parse equality.
fn exercise(input: &[u8]) {
    let sdp = match SessionDescription::parse(input) {
        Ok(s) => s,
        Err(e) => {
            assert!(
                e.offset <= input.len(),
                "offset {} past end {}",
                e.offset,
                input.len()
            );
            return;
        }
    };
    let _ = (
        sdp.origin(),
        sdp.name(),
        sdp.information(),
        sdp.uri(),
        sdp.connection(),
    );
    let _ = (
        sdp.emails().count(),
        sdp.phones().count(),
        sdp.bandwidths().count(),
    );
    for t in sdp.times() {
        let _ = t.repeats().count();
    }
    let _ = (
        sdp.zones().map(|z| z.adjustments().count()),
        sdp.key(),
        sdp.direction(),
    );
    let _ = (
        sdp.attributes().count(),
        sdp.groups().count(),
        sdp.ice_lite(),
    );
    assert_eq!(sdp.media().count(), sdp.media_count());
    for m in sdp.media() {
        let _ = (
            m.kind(),
            m.port(),
            m.proto(),
            m.formats().count(),
            m.information(),
            m.key(),
        );
        let _ = (
            m.connections().count(),
            m.connection(),
            m.bandwidths().count(),
            m.direction(),
        );
        for c in m.codecs() {
            let _ = c.fmtp.map(|f| f.params().count());
        }
        let _ = (
            m.telephone_event(8000),
            m.ptime(),
            m.maxptime(),
            m.rtcp(),
            m.rtcp_mux(),
        );
        let _ = (
            m.mid(),
            m.setup(),
            m.ice_ufrag(),
            m.ice_pwd(),
            m.ice_options(),
        );
        for c in m.crypto() {
            let _ = c.keys().filter_map(|k| k.inline()).count() + c.session_params().count();
        }
        for c in m.candidates() {
            let _ = c.extensions().count();
        }
        for f in m.fingerprints() {
            let _ = f.bytes().count();
        }
        let _ = m.end_of_candidates();
    }
    let built = SdpBuilder::from(&sdp);
    let mut buf = BytesMut::new();
    built.write(&mut buf);
    let again = SessionDescription::parse(&buf).unwrap_or_else(|e| {
        panic!(
            "accepted input wrote an unparsable SDP: {e}\ninput: {:?}\nwritten: {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&buf)
        )
    });
    assert_eq!(
        SdpBuilder::from(&again),
        built,
        "written: {:?}",
        String::from_utf8_lossy(&buf)
    );
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] = b;
                }
            }
            Mutation::Delete(i, n) => {
                let start = (i % len).min(bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert(i, t) => {
                let at = (i % len).min(bytes.len());
                bytes.splice(at..at, TOKENS[t].bytes());
            }
            Mutation::DuplicateLine(i) | Mutation::SwapLines(i, _) | Mutation::Truncate(i)
                if bytes.is_empty() =>
            {
                let _ = i;
            }
            Mutation::DuplicateLine(i) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let l = lines[i % lines.len()].clone();
                lines.insert(i % lines.len(), l);
                bytes = lines.join(&b'\n');
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<Vec<u8>> =
                    bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
                let n = lines.len();
                lines.swap(a % n, b % n);
                bytes = lines.join(&b'\n');
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

/// Lines drawn from a vocabulary of plausible SDP, so that many bodies are valid and the
/// round trip is exercised on varied accepted input.
fn plausible_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("c=IN IP4 192.0.2.1".to_string()),
        Just("c=IN IP6 2001:db8::1".to_string()),
        Just("c=IN IP4 224.2.1.1/127/3".to_string()),
        Just("t=0 0".to_string()),
        Just("r=7d 1h 0 25h".to_string()),
        Just("b=AS:64".to_string()),
        Just("i=some info".to_string()),
        Just("k=prompt".to_string()),
        (1u16..1000, 0u8..128).prop_map(|(p, pt)| format!("m=audio {p} RTP/AVP {pt} 101")),
        Just("m=image 6000 udptl t38".to_string()),
        Just("m=application 9 UDP/DTLS/SCTP webrtc-datachannel".to_string()),
        (0u8..128, "[A-Za-z0-9-]{1,12}", 1u32..100_000)
            .prop_map(|(pt, e, c)| format!("a=rtpmap:{pt} {e}/{c}")),
        (0u8..128, "[a-z]{1,6}=[0-9]{1,3}(;[a-z]{1,6}=[0-9]{1,3}){0,2}")
            .prop_map(|(pt, p)| format!("a=fmtp:{pt} {p}")),
        (1u32..200).prop_map(|p| format!("a=ptime:{p}")),
        prop_oneof![Just("sendrecv"), Just("sendonly"), Just("recvonly"), Just("inactive")]
            .prop_map(|d| format!("a={d}")),
        Just("a=rtcp:9 IN IP4 0.0.0.0".to_string()),
        Just("a=rtcp-mux".to_string()),
        (1u32..1000).prop_map(|t| format!(
            "a=crypto:{t} AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
        )),
        ("[a-zA-Z0-9+/]{4,8}").prop_map(|u| format!("a=ice-ufrag:{u}")),
        (any::<u32>(), 1u16..65535).prop_map(|(p, port)| format!(
            "a=candidate:1 1 udp {p} 192.0.2.9 {port} typ srflx raddr 10.0.0.1 rport 9 generation 0"
        )),
        Just("a=fingerprint:sha-256 AB:CD:EF".to_string()),
        Just("a=setup:actpass".to_string()),
        ("[a-z0-9]{1,4}").prop_map(|m| format!("a=mid:{m}")),
        Just("a=group:BUNDLE 0  1".to_string()),
        (any::<u32>()).prop_map(|s| format!("a=ssrc:{s} msid:a b")),
        (1u16..15).prop_map(|i| format!("a=extmap:{i}/sendonly urn:x:y attr")),
        ("[a-z-]{1,10}", proptest::option::of("[ -~]{0,12}")).prop_map(|(n, v)| match v {
            Some(v) => format!("a={n}:{v}"),
            None => format!("a={n}"),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn random_sdp_shaped_text_never_panics(
        lines in proptest::collection::vec("[a-z]=[ -~]{0,40}", 0..20),
        lf in any::<bool>(),
    ) {
        let eol = if lf { "\n" } else { "\r\n" };
        exercise(lines.join(eol).as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        exercise(&apply(FIXTURES[which].to_vec(), &mutations));
    }

    #[test]
    fn plausible_bodies_round_trip(
        session in proptest::collection::vec(plausible_line(), 0..6),
        media in proptest::collection::vec(plausible_line(), 0..20),
        lf in any::<bool>(),
    ) {
        let eol = if lf { "\n" } else { "\r\n" };
        let mut body = format!("v=0{eol}o=- 1 1 IN IP4 192.0.2.1{eol}s=-{eol}");
        for l in session.iter().filter(|l| !l.starts_with("m=")) {
            body.push_str(l);
            body.push_str(eol);
        }
        body.push_str(&format!("m=audio 5004 RTP/AVP 0{eol}"));
        for l in &media {
            body.push_str(l);
            body.push_str(eol);
        }
        exercise(body.as_bytes());
    }
}

#[test]
fn fixtures_are_accepted() {
    for f in FIXTURES {
        assert!(SessionDescription::parse(f).is_ok());
        exercise(f);
    }
}
