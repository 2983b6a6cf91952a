//! RFC 3264 offer/answer: table tests over codec order, telephone-event, ptime, directions
//! (including hold), rejected streams, RTCP, errors, and the `o=` version.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use room_link::Error;
use room_link::offer_answer::{
    LocalEndpoint, MediaConfig, NegotiatedMedia, RtcpMode, SdpSession, process_answer,
};
use rtp_relay::codec::{Codec, CodecKind};
use sip_message::sdp::{Direction, SessionDescription};

fn all_codecs() -> Vec<Codec> {
    vec![
        Codec::with_default_pt(CodecKind::Pcmu),
        Codec::with_default_pt(CodecKind::Pcma),
        Codec::with_default_pt(CodecKind::G722),
        Codec::with_default_pt(CodecKind::Opus),
    ]
}

fn local() -> LocalEndpoint {
    LocalEndpoint {
        address: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        rtp_port: 40000,
    }
}

fn offer(media: &str) -> String {
    format!(
        "v=0\r\no=- 7 7 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\n{media}"
    )
}

fn answer_ok(offer_sdp: &str, cfg: &MediaConfig) -> (String, NegotiatedMedia) {
    let mut s = SdpSession::new(1000);
    let (body, neg) = s
        .answer(offer_sdp.as_bytes(), cfg, local())
        .unwrap_or_else(|e| panic!("answer failed: {e}\n{offer_sdp}"));
    let text = String::from_utf8(body.to_vec()).unwrap_or_default();
    // Every answer we write must itself parse.
    assert!(
        SessionDescription::parse(text.as_bytes()).is_ok(),
        "answer does not parse:\n{text}"
    );
    (text, neg)
}

#[test]
fn codec_selection_table() {
    struct Case {
        name: &'static str,
        media: &'static str,
        prefer_local: bool,
        codecs: Vec<Codec>,
        want: (CodecKind, u8),
        want_te: Option<u8>,
    }
    let cases = vec![
        Case {
            name: "offerer order wins: PCMA first",
            media: "m=audio 5000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            prefer_local: false,
            codecs: all_codecs(),
            want: (CodecKind::Pcma, 8),
            want_te: Some(101),
        },
        Case {
            name: "prefer our order: PCMU although PCMA is first",
            media: "m=audio 5000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            prefer_local: true,
            codecs: all_codecs(),
            want: (CodecKind::Pcmu, 0),
            want_te: Some(101),
        },
        Case {
            name: "unknown codec first is skipped",
            media: "m=audio 5000 RTP/AVP 18 9\r\n",
            prefer_local: false,
            codecs: all_codecs(),
            want: (CodecKind::G722, 9),
            want_te: None,
        },
        Case {
            name: "opus with its dynamic number and telephone-event/48000",
            media: "m=audio 5000 RTP/AVP 96 126 101\r\na=rtpmap:96 opus/48000/2\r\n\
                    a=fmtp:96 useinbandfec=1\r\na=rtpmap:126 telephone-event/48000\r\n\
                    a=rtpmap:101 telephone-event/8000\r\n",
            prefer_local: false,
            codecs: all_codecs(),
            want: (CodecKind::Opus, 96),
            want_te: Some(126),
        },
        Case {
            name: "telephone-event at another clock than the codec is not echoed",
            media: "m=audio 5000 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\n\
                    a=rtpmap:101 telephone-event/8000\r\n",
            prefer_local: false,
            codecs: all_codecs(),
            want: (CodecKind::Opus, 96),
            want_te: None,
        },
        Case {
            name: "rtpmap names are case-insensitive",
            media: "m=audio 5000 RTP/AVP 97 100\r\na=rtpmap:97 OPUS/48000/2\r\n\
                    a=rtpmap:100 Telephone-Event/48000\r\n",
            prefer_local: false,
            codecs: all_codecs(),
            want: (CodecKind::Opus, 97),
            want_te: Some(100),
        },
        Case {
            name: "only our configured codecs count",
            media: "m=audio 5000 RTP/AVP 0 8\r\n",
            prefer_local: false,
            codecs: vec![Codec::with_default_pt(CodecKind::Pcma)],
            want: (CodecKind::Pcma, 8),
            want_te: None,
        },
    ];
    for c in cases {
        let mut cfg = MediaConfig::new(c.codecs.clone());
        cfg.prefer_local_order = c.prefer_local;
        let (text, neg) = answer_ok(&offer(c.media), &cfg);
        assert_eq!(
            (neg.codec.kind, neg.codec.payload_type),
            c.want,
            "{}",
            c.name
        );
        assert_eq!(neg.local_payload_type, c.want.1, "{}", c.name);
        assert_eq!(neg.telephone_event, c.want_te, "{}", c.name);
        assert_eq!(neg.clock_rate, c.want.0.clock_rate(), "{}", c.name);
        assert_eq!(
            neg.remote_rtp,
            SocketAddr::from(([198, 51, 100, 1], 5000)),
            "{}",
            c.name
        );
        // The answer lists exactly the chosen codec (and telephone-event when echoed).
        let sdp = SessionDescription::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let m = sdp.media().next().unwrap_or_else(|| panic!("{}", c.name));
        let pts: Vec<u8> = m.payload_types().collect();
        let mut want_pts = vec![c.want.1];
        want_pts.extend(c.want_te);
        assert_eq!(pts, want_pts, "{}: {text}", c.name);
        assert_eq!(m.port(), 40000, "{}", c.name);
    }
}

#[test]
fn ptime_table() {
    let cfg = MediaConfig::new(all_codecs());
    let mut no_ptime = cfg.clone();
    no_ptime.ptime = None;
    for (name, media, cfg, want, want_line) in [
        (
            "offered ptime is honoured",
            "m=audio 5000 RTP/AVP 0\r\na=ptime:30\r\n",
            &cfg,
            30,
            Some("a=ptime:30"),
        ),
        (
            "no offered ptime: ours",
            "m=audio 5000 RTP/AVP 0\r\n",
            &cfg,
            20,
            Some("a=ptime:20"),
        ),
        (
            "neither: the default, and no line",
            "m=audio 5000 RTP/AVP 0\r\n",
            &no_ptime,
            20,
            None,
        ),
        (
            "Opus cannot do 30 ms: 20",
            "m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\na=ptime:30\r\n",
            &cfg,
            20,
            Some("a=ptime:20"),
        ),
        (
            "maxptime caps ptime",
            "m=audio 5000 RTP/AVP 8\r\na=ptime:60\r\na=maxptime:40\r\n",
            &cfg,
            40,
            Some("a=ptime:40"),
        ),
        (
            "odd sizes round down to whole 10 ms frames",
            "m=audio 5000 RTP/AVP 0\r\na=ptime:25\r\n",
            &cfg,
            20,
            Some("a=ptime:20"),
        ),
        (
            "over 120 ms is capped",
            "m=audio 5000 RTP/AVP 0\r\na=ptime:200\r\n",
            &cfg,
            120,
            Some("a=ptime:120"),
        ),
    ] {
        let (text, neg) = answer_ok(&offer(media), cfg);
        assert_eq!(neg.ptime, Duration::from_millis(want), "{name}");
        match want_line {
            Some(l) => assert!(text.contains(l), "{name}: {text}"),
            None => assert!(!text.contains("a=ptime"), "{name}: {text}"),
        }
    }
}

#[test]
fn direction_table() {
    let cases = [
        // (offered attribute, our config, expected answer / our direction)
        ("a=sendrecv\r\n", Direction::SendRecv, Direction::SendRecv),
        ("", Direction::SendRecv, Direction::SendRecv),
        ("a=sendonly\r\n", Direction::SendRecv, Direction::RecvOnly),
        ("a=recvonly\r\n", Direction::SendRecv, Direction::SendOnly),
        ("a=inactive\r\n", Direction::SendRecv, Direction::Inactive),
        ("a=sendonly\r\n", Direction::SendOnly, Direction::Inactive),
        ("a=sendrecv\r\n", Direction::SendOnly, Direction::SendOnly),
        ("a=recvonly\r\n", Direction::RecvOnly, Direction::Inactive),
    ];
    for (attr, ours, want) in cases {
        let mut cfg = MediaConfig::new(all_codecs());
        cfg.direction = ours;
        let media = format!("m=audio 5000 RTP/AVP 0\r\n{attr}");
        let (text, neg) = answer_ok(&offer(&media), &cfg);
        assert_eq!(neg.direction, want, "offer {attr:?} ours {ours:?}");
        assert!(
            text.contains(&format!("a={}\r\n", want.as_str())),
            "offer {attr:?}: {text}"
        );
        assert_eq!(
            neg.sends(),
            matches!(want, Direction::SendRecv | Direction::SendOnly)
        );
        assert_eq!(
            neg.receives(),
            matches!(want, Direction::SendRecv | Direction::RecvOnly)
        );
    }
}

#[test]
fn old_style_hold_with_zero_address_stops_our_sending() {
    // RFC 3264 §8.4: c=0.0.0.0 in a re-offer means "hold"; we must not send to it.
    let sdp = "v=0\r\no=- 7 8 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
               m=audio 5000 RTP/AVP 0\r\n";
    let (_, neg) = answer_ok(sdp, &MediaConfig::new(all_codecs()));
    assert_eq!(neg.direction, Direction::RecvOnly);
    assert!(!neg.sends());
}

#[test]
fn other_media_lines_are_rejected_with_port_zero_keeping_count_and_order() {
    let media = "m=video 6000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                 m=audio 5000 RTP/AVP 0\r\n\
                 m=audio 5002 RTP/AVP 8\r\n\
                 m=image 7000 udptl t38\r\n";
    let (text, neg) = answer_ok(&offer(media), &MediaConfig::new(all_codecs()));
    assert_eq!(neg.media_index, 1);
    let sdp = SessionDescription::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<(String, u16)> = sdp
        .media()
        .map(|m| (m.kind().as_str().to_owned(), m.port()))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("video".to_owned(), 0),
            ("audio".to_owned(), 40000),
            ("audio".to_owned(), 0),
            ("image".to_owned(), 0),
        ]
    );
    assert!(text.contains("m=video 0 RTP/AVP 96\r\n"), "{text}");
    assert!(text.contains("m=image 0 udptl t38\r\n"), "{text}");
    assert!(
        !text.contains("H264"),
        "rejected lines carry no attributes: {text}"
    );
}

#[test]
fn rtcp_table() {
    let mut separate = MediaConfig::new(all_codecs());
    separate.rtcp = RtcpMode::Separate;
    let mux = MediaConfig::new(all_codecs());
    let cases = [
        (
            "mux offered and wanted",
            "m=audio 5000 RTP/AVP 0\r\na=rtcp-mux\r\n",
            &mux,
            true,
            None,
            "a=rtcp-mux",
        ),
        (
            "mux offered, we want separate",
            "m=audio 5000 RTP/AVP 0\r\na=rtcp-mux\r\n",
            &separate,
            false,
            Some(SocketAddr::from(([198, 51, 100, 1], 5001))),
            "a=rtcp:40001",
        ),
        (
            "no mux, a=rtcp port",
            "m=audio 5000 RTP/AVP 0\r\na=rtcp:5009\r\n",
            &mux,
            false,
            Some(SocketAddr::from(([198, 51, 100, 1], 5009))),
            "a=rtcp:40001",
        ),
        (
            "a=rtcp with its own address (RFC 3605)",
            "m=audio 5000 RTP/AVP 0\r\na=rtcp:6001 IN IP4 203.0.113.5\r\n",
            &mux,
            false,
            Some(SocketAddr::from(([203, 0, 113, 5], 6001))),
            "a=rtcp:40001",
        ),
        (
            "nothing: RTP port + 1",
            "m=audio 5000 RTP/AVP 0\r\n",
            &mux,
            false,
            Some(SocketAddr::from(([198, 51, 100, 1], 5001))),
            "a=rtcp:40001",
        ),
    ];
    for (name, media, cfg, want_mux, want_rtcp, want_line) in cases {
        let (text, neg) = answer_ok(&offer(media), cfg);
        assert_eq!(neg.rtcp_mux, want_mux, "{name}");
        assert_eq!(neg.remote_rtcp, want_rtcp, "{name}");
        assert!(text.contains(want_line), "{name}: {text}");
    }
}

#[test]
fn errors_map_to_sip_statuses() {
    let cfg = MediaConfig::new(all_codecs());
    let cases: [(&str, String, u16, Option<&str>); 6] = [
        (
            "no common codec",
            offer("m=audio 5000 RTP/AVP 18 4\r\n"),
            488,
            Some("no common codec"),
        ),
        (
            "only SRTP",
            offer(
                "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
            ),
            488,
            Some("secure RTP (SRTP) is not supported"),
        ),
        (
            "audio disabled",
            offer("m=audio 0 RTP/AVP 0\r\n"),
            488,
            Some("audio stream disabled in the offer"),
        ),
        (
            "video only",
            offer("m=video 6000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"),
            488,
            Some("no audio stream offered"),
        ),
        (
            "malformed",
            "v=0\r\nthis is not sdp\r\n".to_owned(),
            400,
            None,
        ),
        (
            "bad rtpmap",
            offer("m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n"),
            400,
            None,
        ),
    ];
    for (name, sdp, status, reason) in cases {
        let mut s = SdpSession::new(1);
        let err = match s.answer(sdp.as_bytes(), &cfg, local()) {
            Ok((body, _)) => panic!("{name}: answered {body:?}"),
            Err(e) => e,
        };
        assert_eq!(err.sip_status(), status, "{name}: {err}");
        assert!(err.is_sdp(), "{name}");
        if let Some(r) = reason {
            assert_eq!(err, Error::NotAcceptable { reason: r }, "{name}");
        }
    }
}

#[test]
fn offer_lists_codecs_events_and_attributes() {
    let mut s = SdpSession::new(42);
    let body = s
        .offer(&MediaConfig::new(all_codecs()), local())
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(body.to_vec()).unwrap_or_default();
    let sdp = SessionDescription::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let m = sdp
        .media()
        .next()
        .unwrap_or_else(|| panic!("no m-line: {text}"));
    assert_eq!(
        m.payload_types().collect::<Vec<_>>(),
        vec![0, 8, 9, 111, 101, 110],
        "{text}"
    );
    assert!(text.contains("a=rtpmap:111 opus/48000/2\r\n"), "{text}");
    assert!(
        text.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"),
        "{text}"
    );
    assert!(
        text.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{text}"
    );
    assert!(
        text.contains("a=rtpmap:110 telephone-event/48000\r\n"),
        "{text}"
    );
    assert!(text.contains("a=fmtp:101 0-16\r\n"), "{text}");
    assert!(
        text.contains("a=ptime:20\r\na=rtcp-mux\r\na=sendrecv\r\n"),
        "{text}"
    );
    assert!(text.contains("c=IN IP4 192.0.2.10\r\n"), "{text}");
    assert!(
        text.contains("o=sipbridge 42 42 IN IP4 192.0.2.10\r\n"),
        "{text}"
    );
    assert_eq!(m.port(), 40000);

    // Without Opus, no 48 kHz telephone-event.
    let mut s = SdpSession::new(1);
    let body = s
        .offer(
            &MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Pcmu)]),
            local(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(body.to_vec()).unwrap_or_default();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 101\r\n"), "{text}");
    assert!(!text.contains("48000"), "{text}");
}

#[test]
fn invalid_configs_are_refused() {
    let mut s = SdpSession::new(1);
    let empty = MediaConfig::new(Vec::new());
    assert!(matches!(
        s.offer(&empty, local()),
        Err(Error::InvalidRequest(_))
    ));
    let mut dup = MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Pcmu)]);
    dup.telephone_event = Some(0);
    assert!(matches!(
        s.offer(&dup, local()),
        Err(Error::InvalidRequest(_))
    ));
}

#[test]
fn session_version_grows_only_when_the_description_changes() {
    // RFC 3264 §8: a changed re-offer increments the version by one; an unchanged one
    // keeps it.
    let mut s = SdpSession::new(500);
    let mut cfg = MediaConfig::new(all_codecs());
    let version = |b: &[u8]| {
        SessionDescription::parse(b)
            .map(|d| d.origin().session_version)
            .unwrap_or(0)
    };
    let first = s.offer(&cfg, local()).unwrap_or_default();
    assert_eq!(version(&first), 500);
    let again = s.offer(&cfg, local()).unwrap_or_default();
    assert_eq!(version(&again), 500);
    assert_eq!(first, again);
    cfg.direction = Direction::SendOnly; // hold
    let hold = s.offer(&cfg, local()).unwrap_or_default();
    assert_eq!(version(&hold), 501);
    assert!(String::from_utf8_lossy(&hold).contains("a=sendonly"));
    cfg.direction = Direction::SendRecv; // resume
    let resume = s.offer(&cfg, local()).unwrap_or_default();
    assert_eq!(version(&resume), 502);
    assert_eq!(s.version(), 502);
    // The answer in the same session continues the sequence.
    let (ans, _) = s
        .answer(
            offer("m=audio 5000 RTP/AVP 0\r\n").as_bytes(),
            &cfg,
            local(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(version(&ans), 503);
}

#[test]
fn offer_then_answer_round_trip_uses_each_sides_numbers() {
    // We offer Opus at 111; the peer answers with 97 for Opus and 98 for the events.
    let ours = MediaConfig::new(vec![
        Codec::with_default_pt(CodecKind::Opus),
        Codec::with_default_pt(CodecKind::Pcmu),
    ]);
    let mut s = SdpSession::new(9);
    let offered = s.offer(&ours, local()).unwrap_or_default();
    assert!(!offered.is_empty());
    let answer = "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n\
                  m=audio 7000 RTP/AVP 97 98\r\na=rtpmap:97 opus/48000/2\r\n\
                  a=rtpmap:98 telephone-event/48000\r\na=ptime:40\r\na=rtcp-mux\r\na=recvonly\r\n";
    let neg = process_answer(&ours, answer.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        neg.codec,
        Codec {
            kind: CodecKind::Opus,
            payload_type: 97
        }
    );
    assert_eq!(neg.local_payload_type, 111);
    assert_eq!(neg.telephone_event, Some(98));
    assert_eq!(neg.local_telephone_event, Some(110));
    assert_eq!(neg.ptime, Duration::from_millis(40));
    assert!(neg.rtcp_mux);
    assert_eq!(neg.remote_rtcp, None);
    assert_eq!(neg.remote_rtp, SocketAddr::from(([203, 0, 113, 9], 7000)));
    // The answerer only receives: we only send.
    assert_eq!(neg.direction, Direction::SendOnly);

    // Our own answerer's answer is accepted by our own offer processing.
    let mut peer = SdpSession::new(77);
    let peer_cfg = MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Pcmu)]);
    let (peer_answer, peer_neg) = peer
        .answer(&offered, &peer_cfg, local())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(peer_neg.codec.kind, CodecKind::Pcmu);
    let neg = process_answer(&ours, &peer_answer).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(neg.codec, Codec::with_default_pt(CodecKind::Pcmu));
    assert_eq!(neg.telephone_event, Some(101));
}

#[test]
fn bad_answers_are_reported() {
    let ours = MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Pcmu)]);
    let head = "v=0\r\no=- 1 1 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n";
    let cases = [
        (
            "two m-lines",
            format!("{head}m=audio 7000 RTP/AVP 0\r\nm=audio 7002 RTP/AVP 0\r\n"),
            Error::BadAnswer("m-line count differs from the offer"),
        ),
        (
            "rejected",
            format!("{head}m=audio 0 RTP/AVP 0\r\n"),
            Error::NotAcceptable {
                reason: "the answerer rejected the audio stream",
            },
        ),
        (
            "a codec we never offered",
            format!("{head}m=audio 7000 RTP/AVP 8\r\n"),
            Error::BadAnswer("no offered codec in the answer"),
        ),
    ];
    for (name, sdp, want) in cases {
        assert_eq!(process_answer(&ours, sdp.as_bytes()), Err(want), "{name}");
    }
    assert!(matches!(
        process_answer(&ours, b"garbage"),
        Err(Error::MalformedSdp(_))
    ));
}

/// RFC 7587 §6.1: an Opus leg bridged to a narrower one declares that leg's rate as
/// `maxplaybackrate` and `sprop-maxcapturerate`; by default no rate is declared.
#[test]
fn opus_fmtp_declares_the_bridged_legs_rate() {
    let cases = [
        (None, "minptime=10;useinbandfec=1", None),
        (
            Some(CodecKind::Pcmu),
            "maxplaybackrate=8000",
            Some("sprop-maxcapturerate=8000"),
        ),
        (
            Some(CodecKind::Pcma),
            "maxplaybackrate=8000",
            Some("sprop-maxcapturerate=8000"),
        ),
        (
            Some(CodecKind::G722),
            "maxplaybackrate=16000",
            Some("sprop-maxcapturerate=16000"),
        ),
        (Some(CodecKind::Opus), "minptime=10;useinbandfec=1", None),
    ];
    for (bridged, want, also) in cases {
        let mut cfg = MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Opus)]);
        if let Some(other) = bridged {
            cfg.opus_fmtp = rtp_relay::codec::opus_fmtp_bridged_to(other);
        }
        let pt = Codec::with_default_pt(CodecKind::Opus).payload_type;
        let body = SdpSession::new(1)
            .offer(&cfg, local())
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(body.to_vec()).unwrap_or_default();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("a=fmtp:{pt} ")))
            .unwrap_or_else(|| panic!("{bridged:?}: no Opus fmtp in\n{text}"));
        assert!(line.contains(want), "{bridged:?}: {line}");
        match also {
            Some(a) => assert!(line.contains(a), "{bridged:?}: {line}"),
            None => assert!(!line.contains("maxplaybackrate"), "{bridged:?}: {line}"),
        }
        // The answer to an Opus offer carries the same parameters.
        let (answer, _) = answer_ok(
            &offer(&format!(
                "m=audio 5000 RTP/AVP {pt}\r\na=rtpmap:{pt} opus/48000/2\r\n"
            )),
            &cfg,
        );
        assert!(answer.contains(want), "{bridged:?} answer:\n{answer}");
    }
}
