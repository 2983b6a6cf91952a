//! Properties of the answerer over generated offers: it never panics on any input, every
//! answer it writes parses and keeps the offer's m-line count and order, and the codec it
//! picks is the offerer's first supported one.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use room_link::offer_answer::{LocalEndpoint, MediaConfig, SdpSession};
use rtp_relay::codec::{Codec, CodecKind};
use sip_message::sdp::SessionDescription;

fn cfg() -> MediaConfig {
    MediaConfig::new(
        CodecKind::ALL
            .iter()
            .map(|k| Codec::with_default_pt(*k))
            .collect(),
    )
}

fn local() -> LocalEndpoint {
    LocalEndpoint {
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        rtp_port: 30000,
    }
}

/// Offered audio formats: (payload type, rtpmap or none for static types).
fn format() -> impl Strategy<Value = (u8, Option<&'static str>)> {
    prop_oneof![
        Just((0, None)),
        Just((8, None)),
        Just((9, None)),
        Just((18, None)),
        Just((3, None)),
        Just((96, Some("opus/48000/2"))),
        Just((97, Some("iLBC/8000"))),
        Just((98, Some("AMR-WB/16000"))),
        Just((101, Some("telephone-event/8000"))),
    ]
}

fn media_kind() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("audio"), Just("audio"), Just("video"), Just("image")]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut s = SdpSession::new(1);
        let _ = s.answer(&body, &cfg(), local());
    }

    #[test]
    fn answers_keep_the_m_lines_and_pick_the_offerers_first_supported_codec(
        sections in proptest::collection::vec(
            (media_kind(), proptest::collection::vec(format(), 1..5), any::<bool>()),
            1..5,
        )
    ) {
        let mut sdp = String::from(
            "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n",
        );
        let mut want = None;
        for (i, (kind, formats, disabled)) in sections.iter().enumerate() {
            let mut uniq: Vec<(u8, Option<&str>)> = Vec::new();
            for f in formats {
                if !uniq.iter().any(|u| u.0 == f.0) {
                    uniq.push(*f);
                }
            }
            let port = if *disabled { 0 } else { 5000 + 2 * i as u16 };
            let (proto, pts) = if *kind == "image" {
                ("udptl", "t38".to_owned())
            } else {
                let pts: Vec<String> = uniq.iter().map(|f| f.0.to_string()).collect();
                ("RTP/AVP", pts.join(" "))
            };
            sdp.push_str(&format!("m={kind} {port} {proto} {pts}\r\n"));
            if *kind != "image" {
                for (pt, map) in &uniq {
                    if let Some(m) = map {
                        sdp.push_str(&format!("a=rtpmap:{pt} {m}\r\n"));
                    }
                }
            }
            if want.is_none() && *kind == "audio" && !disabled {
                let first = uniq.iter().find_map(|(pt, _)| match pt {
                    0 => Some(CodecKind::Pcmu),
                    8 => Some(CodecKind::Pcma),
                    9 => Some(CodecKind::G722),
                    96 => Some(CodecKind::Opus),
                    _ => None,
                });
                if let Some(k) = first {
                    want = Some((i, k));
                }
            }
        }
        let mut s = SdpSession::new(1);
        match (s.answer(sdp.as_bytes(), &cfg(), local()), want) {
            (Ok((body, neg)), Some((index, kind))) => {
                prop_assert_eq!(neg.media_index, index);
                prop_assert_eq!(neg.codec.kind, kind);
                let ans = SessionDescription::parse(&body);
                prop_assert!(ans.is_ok(), "answer does not parse: {:?}", body);
                let (ans, offer) = match (ans, SessionDescription::parse(sdp.as_bytes())) {
                    (Ok(a), Ok(o)) => (a, o),
                    _ => return Err(TestCaseError::fail("parse")),
                };
                prop_assert_eq!(ans.media_count(), offer.media_count());
                for (i, (a, o)) in ans.media().zip(offer.media()).enumerate() {
                    prop_assert_eq!(a.kind(), o.kind());
                    prop_assert_eq!(a.port() != 0, i == index);
                }
            }
            (Err(e), None) => prop_assert_eq!(e.sip_status(), 488),
            (got, want) => {
                return Err(TestCaseError::fail(format!(
                    "got {:?}, wanted {want:?} for\n{sdp}",
                    got.map(|(_, n)| n)
                )));
            }
        }
    }
}
