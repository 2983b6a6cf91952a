//! Real-world SDP fixtures (tests/data/sdp), the offer/answer conveniences, the writer and
//! parse → write → parse round trips.

use std::net::IpAddr;
use std::time::Duration;

use bytes::BytesMut;
use sip_message::sdp::{
    AddrType, Attribute, Bandwidth, BandwidthType, CandidateType, Connection, Crypto, Direction,
    Fingerprint, Format, Host, Lifetime, MediaBuilder, MediaType, Mki, Origin, Proto, Rtcp,
    SdpBuilder, SessionDescription, Setup, Timing,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/sdp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(bytes: &[u8]) -> SessionDescription<'_> {
    SessionDescription::parse(bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Parse → write → parse, and check both parses describe the same session.
fn assert_round_trip(bytes: &[u8]) -> BytesMut {
    let first = parse(bytes);
    let built = SdpBuilder::from(&first);
    let mut buf = BytesMut::new();
    built.write(&mut buf);
    let second = SessionDescription::parse(&buf).unwrap_or_else(|e| {
        panic!(
            "written SDP does not parse: {e}\n{}",
            String::from_utf8_lossy(&buf)
        )
    });
    assert_eq!(
        SdpBuilder::from(&second),
        built,
        "{}",
        String::from_utf8_lossy(&buf)
    );
    // Writing is deterministic: the written form is a fixed point.
    let mut again = BytesMut::new();
    SdpBuilder::from(&second).write(&mut again);
    assert_eq!(again, buf);
    buf
}

#[test]
fn carrier_offer() {
    let bytes = fixture("carrier_offer.sdp");
    let sdp = parse(&bytes);
    assert_eq!(sdp.origin().username, "SBC-Carrier");
    assert_eq!(sdp.name(), "SIP Call");
    assert_eq!(sdp.media_count(), 1);
    let audio = sdp.media().next().unwrap();
    assert_eq!(
        (audio.kind(), audio.port(), audio.proto()),
        (MediaType::Audio, 31998, Proto::RtpAvp)
    );
    assert_eq!(
        audio.connection(),
        Some(Connection::ip("203.0.113.10".parse().unwrap()))
    );
    let codecs: Vec<_> = audio
        .codecs()
        .map(|c| (c.payload_type, c.encoding, c.clock_rate))
        .collect();
    assert_eq!(
        codecs,
        [
            (0, "PCMU", 8000),
            (8, "PCMA", 8000),
            (18, "G729", 8000),
            (101, "telephone-event", 8000)
        ]
    );
    let g729 = audio.codec(18).unwrap();
    assert_eq!(g729.fmtp.and_then(|f| f.param("annexb")), Some("no"));
    let dtmf = audio.telephone_event(8000).unwrap();
    assert_eq!(dtmf.payload_type, 101);
    assert_eq!(dtmf.fmtp.map(|f| f.params), Some("0-15"));
    assert_eq!(audio.ptime(), Some(Duration::from_millis(20)));
    assert_eq!(audio.maxptime(), Some(Duration::from_millis(40)));
    assert_eq!(audio.direction(), Direction::SendRecv);
    assert!(!audio.rtcp_mux());
    assert_round_trip(&bytes);
}

#[test]
fn carrier_answer_ipv6_with_lf_endings_and_static_payload_types() {
    let bytes = fixture("carrier_answer_ipv6_lf.sdp");
    assert!(!bytes.contains(&b'\r'), "fixture must use bare LF");
    let sdp = parse(&bytes);
    assert_eq!(sdp.origin().addrtype, AddrType::Ip6);
    let audio = sdp.media().next().unwrap();
    let ip: IpAddr = "2001:db8::10".parse().unwrap();
    assert_eq!(audio.connection().and_then(|c| c.address.ip()), Some(ip));
    // 8 and 9 have no rtpmap: the RFC 3551 table fills in (G722 clock is 8000, §4.5.2).
    let pcma = audio.codec(8).unwrap();
    assert_eq!(
        (pcma.encoding, pcma.clock_rate, pcma.is_static),
        ("PCMA", 8000, true)
    );
    let g722 = audio.codec(9).unwrap();
    assert_eq!((g722.encoding, g722.clock_rate), ("G722", 8000));
    assert!(!audio.codec(101).unwrap().is_static);
    assert_eq!(
        audio.rtcp(),
        Some(Rtcp {
            port: 40001,
            address: Some((AddrType::Ip6, Host::Ip("2001:db8::11".parse().unwrap())))
        })
    );
    assert_eq!(audio.direction(), Direction::RecvOnly);
    let written = assert_round_trip(&bytes);
    assert!(written.ends_with(b"\r\n"), "the writer always uses CRLF");
}

#[test]
fn webrtc_offer() {
    let bytes = fixture("webrtc_offer.sdp");
    let sdp = parse(&bytes);
    assert_eq!(sdp.origin().session_id, 4611731400430051336);
    let bundle = sdp.groups().next().unwrap();
    assert_eq!(
        (bundle.semantics, bundle.mids().collect::<Vec<_>>()),
        ("BUNDLE", vec!["0", "1", "2"])
    );
    assert!(!sdp.ice_lite());
    assert_eq!(sdp.connection(), None);
    let media: Vec<_> = sdp.media().collect();
    assert_eq!(media.len(), 3);

    let audio = &media[0];
    assert_eq!(audio.proto(), Proto::UdpTlsRtpSavpf);
    assert_eq!(audio.mid(), Some("0"));
    assert_eq!(
        audio.connection().map(|c| c.address.to_string()).as_deref(),
        Some("0.0.0.0")
    );
    assert!(audio.rtcp_mux());
    assert_eq!(audio.setup(), Some(Setup::ActPass));
    assert_eq!(audio.ice_ufrag(), Some("Yx4N"));
    assert_eq!(audio.ice_pwd(), Some("t6bHzqOYiMBlHcSZy/pQ7Tkz"));
    assert_eq!(
        audio.ice_options().map(|o| o.tags().collect::<Vec<_>>()),
        Some(vec!["trickle"])
    );
    let fp: Vec<Fingerprint<'_>> = audio.fingerprints().collect();
    assert_eq!(
        (fp.len(), fp[0].hash, fp[0].bytes().count()),
        (1, "sha-256", 32)
    );
    let opus = audio.codec(111).unwrap();
    assert_eq!(
        (opus.encoding, opus.clock_rate, opus.channels),
        ("opus", 48000, Some(2))
    );
    assert_eq!(opus.fmtp.and_then(|f| f.param("useinbandfec")), Some("1"));
    assert_eq!(audio.codecs().count(), 8);
    // Two telephone-event clocks: the lookup prefers the asked-for one.
    assert_eq!(
        audio.telephone_event(8000).map(|c| c.payload_type),
        Some(126)
    );
    assert_eq!(
        audio.telephone_event(48000).map(|c| c.payload_type),
        Some(110)
    );
    let cands: Vec<_> = audio.candidates().collect();
    assert_eq!(cands.len(), 5);
    assert_eq!(cands[1].kind, CandidateType::Srflx);
    assert_eq!(cands[2].extension("tcptype"), Some("active"));
    assert_eq!(cands[3].address, Host::Ip("2001:db8::196".parse().unwrap()));
    assert!(matches!(cands[4].address, Host::Name(n) if n.ends_with(".local")));
    assert!(audio.end_of_candidates());
    let extmaps = audio
        .attributes()
        .filter(|a| matches!(a, Attribute::Extmap(_)))
        .count();
    assert_eq!(extmaps, 3);
    let ssrcs: Vec<_> = audio
        .attributes()
        .filter_map(|a| match a {
            Attribute::Ssrc(s) => Some((s.ssrc, s.attribute)),
            _ => None,
        })
        .collect();
    assert_eq!(ssrcs, [(3735928559, "cname"), (3735928559, "msid")]);

    let video = &media[1];
    assert_eq!(
        (video.kind(), video.mid(), video.direction()),
        (MediaType::Video, Some("1"), Direction::RecvOnly)
    );
    assert_eq!(
        video.bandwidths().next(),
        Some(Bandwidth {
            kind: BandwidthType::As,
            value: 2500
        })
    );
    assert_eq!(
        video
            .codec(97)
            .and_then(|c| c.fmtp)
            .and_then(|f| f.param("apt")),
        Some("96")
    );
    assert!(video.attributes().any(|a| a == Attribute::RtcpRsize));
    assert!(!video.end_of_candidates() || audio.end_of_candidates());

    let data = &media[2];
    assert_eq!(
        (data.kind(), data.proto()),
        (MediaType::Application, Proto::UdpDtlsSctp)
    );
    assert_eq!(data.formats().collect::<Vec<_>>(), ["webrtc-datachannel"]);
    assert_eq!(data.payload_types().count(), 0);
    assert_eq!(data.codecs().count(), 0);
    assert!(data.attributes().any(|a| a
        == Attribute::Other {
            name: "sctp-port",
            value: Some("5000")
        }));
    assert_round_trip(&bytes);
}

#[test]
fn srtp_offer() {
    let bytes = fixture("srtp_offer.sdp");
    let sdp = parse(&bytes);
    assert_eq!(sdp.information(), Some("Secure audio"));
    assert_eq!(
        sdp.bandwidths().next(),
        Some(Bandwidth {
            kind: BandwidthType::Ct,
            value: 128
        })
    );
    let audio = sdp.media().next().unwrap();
    assert!(audio.proto().is_secure());
    let crypto: Vec<Crypto<'_>> = audio.crypto().collect();
    assert_eq!(
        crypto.iter().map(|c| (c.tag, c.suite)).collect::<Vec<_>>(),
        [
            (1, "AES_CM_128_HMAC_SHA1_80"),
            (2, "AES_CM_128_HMAC_SHA1_32"),
            (3, "AEAD_AES_256_GCM"),
        ]
    );
    let key = crypto[0].keys().next().and_then(|k| k.inline()).unwrap();
    assert_eq!(
        (key.lifetime, key.mki),
        (
            Some(Lifetime::PowerOfTwo(20)),
            Some(Mki {
                value: 1,
                length: 4
            })
        )
    );
    assert_eq!(
        crypto[1].session_params().collect::<Vec<_>>(),
        ["UNENCRYPTED_SRTCP"]
    );
    assert_eq!(
        crypto[2]
            .keys()
            .next()
            .and_then(|k| k.inline())
            .map(|k| k.lifetime),
        Some(None)
    );
    assert_eq!(audio.direction(), Direction::SendOnly);
    assert!(audio.rtcp_mux());
    assert_eq!(
        audio.codecs().map(|c| c.encoding).collect::<Vec<_>>(),
        ["G722", "PCMU", "telephone-event"]
    );
    assert_round_trip(&bytes);
}

#[test]
fn every_fixture_rejects_truncation_at_any_line_start_cleanly() {
    // Cutting a valid body at any byte never panics; at a line boundary it still parses or
    // fails with an error inside the input.
    for name in [
        "carrier_offer.sdp",
        "carrier_answer_ipv6_lf.sdp",
        "webrtc_offer.sdp",
        "srtp_offer.sdp",
    ] {
        let bytes = fixture(name);
        for cut in 0..bytes.len() {
            if let Err(e) = SessionDescription::parse(&bytes[..cut]) {
                assert!(e.offset <= cut, "{name} cut at {cut}: {e}");
            }
        }
    }
}

#[test]
fn builder_writes_a_gateway_offer_in_canonical_order() {
    let ip: IpAddr = "192.0.2.55".parse().unwrap();
    let origin = Origin {
        username: "sipbridge",
        session_id: 42,
        session_version: 1,
        addrtype: AddrType::Ip4,
        address: Host::Ip(ip),
    };
    assert_eq!(Origin::new("sipbridge", 42, 1, ip), origin);
    let crypto = Crypto {
        tag: 1,
        suite: "AES_CM_128_HMAC_SHA1_80",
        key_params: "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
        session_params: None,
    };
    // Fields filled in a scrambled order; the writer still emits RFC 8866 order.
    let audio = MediaBuilder::new(MediaType::Audio, 20000, Proto::RtpSavp)
        .attribute(Attribute::Crypto(crypto))
        .codec(0, "PCMU", 8000, None)
        .codec(8, "PCMA", 8000, None)
        .codec(101, "telephone-event", 8000, None)
        .fmtp(101, "0-16")
        .ptime(Duration::from_millis(20))
        .rtcp(20001)
        .rtcp_mux()
        .direction(Direction::SendRecv)
        .bandwidth(Bandwidth {
            kind: BandwidthType::As,
            value: 80,
        })
        .connection(Connection::ip(ip));
    let sdp = SdpBuilder::new(origin, "sipbridge")
        .media(audio)
        .attribute(Attribute::Other {
            name: "tool",
            value: Some("sipbridge"),
        })
        .connection(Connection::ip(ip));
    let mut buf = BytesMut::with_capacity(1024);
    sdp.write(&mut buf);
    let expected = "v=0\r\n\
        o=sipbridge 42 1 IN IP4 192.0.2.55\r\n\
        s=sipbridge\r\n\
        c=IN IP4 192.0.2.55\r\n\
        t=0 0\r\n\
        a=tool:sipbridge\r\n\
        m=audio 20000 RTP/SAVP 0 8 101\r\n\
        c=IN IP4 192.0.2.55\r\n\
        b=AS:80\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=ptime:20\r\n\
        a=rtcp:20001\r\n\
        a=rtcp-mux\r\n\
        a=sendrecv\r\n";
    assert_eq!(std::str::from_utf8(&buf).unwrap(), expected);
    let parsed = parse(&buf);
    let m = parsed.media().next().unwrap();
    assert_eq!(m.telephone_event(8000).map(|c| c.payload_type), Some(101));
    assert_eq!(m.crypto().next(), Some(crypto));

    // The buffer is reusable: clear and write again, same bytes, no growth needed.
    let cap = buf.capacity();
    buf.clear();
    sdp.write(&mut buf);
    assert_eq!(std::str::from_utf8(&buf).unwrap(), expected);
    assert_eq!(buf.capacity(), cap);
}

#[test]
fn builder_writes_a_webrtc_answer_from_a_parsed_offer() {
    let bytes = fixture("webrtc_offer.sdp");
    let offer = parse(&bytes);
    let audio_offer = offer.media().next().unwrap();
    let candidate = "candidate:1 1 udp 2130706431 192.0.2.55 40000 typ host";
    let Attribute::Candidate(cand) = Attribute::parse(candidate).unwrap() else {
        panic!()
    };
    let fp = "sha-256 0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F:20:21:22:23:24:25:26:27:28:29";
    let fp_line = format!("fingerprint:{fp}");
    let Attribute::Fingerprint(fingerprint) = Attribute::parse(&fp_line).unwrap() else {
        panic!()
    };
    let mid = audio_offer.mid().unwrap();
    let opus = audio_offer.codec(111).unwrap();
    let mut audio = MediaBuilder::new(MediaType::Audio, 40000, audio_offer.proto())
        .connection(Connection::ip("192.0.2.55".parse().unwrap()))
        .codec(
            opus.payload_type,
            opus.encoding,
            opus.clock_rate,
            opus.channels,
        )
        .mid(mid)
        .ice_credentials("sb01", "abcdefghijklmnopqrstuvwx")
        .fingerprint(fingerprint.hash, fingerprint.value)
        .setup(Setup::Passive)
        .attribute(Attribute::Candidate(cand))
        .attribute(Attribute::EndOfCandidates)
        .rtcp_mux()
        .direction(audio_offer.direction().reversed());
    if let Some(f) = opus.fmtp {
        audio = audio.attribute(Attribute::Fmtp(f));
    }
    // Reject the other two sections with port 0, keeping their formats (RFC 3264 §6).
    let mut answer = SdpBuilder::new(
        Origin {
            username: "-",
            session_id: 7,
            session_version: 1,
            addrtype: AddrType::Ip4,
            address: Host::Name("gw.example.net"),
        },
        "-",
    )
    .attribute(Attribute::Group(sip_message::sdp::Group {
        semantics: "BUNDLE",
        mids: mid,
    }))
    .media(audio);
    for m in offer.media().skip(1) {
        let mut rejected = MediaBuilder::from(&m);
        rejected.port = 0;
        rejected.attributes.clear();
        answer.media.push(rejected);
    }
    let mut buf = BytesMut::new();
    answer.write(&mut buf);
    let parsed = parse(&buf);
    let media: Vec<_> = parsed.media().collect();
    assert_eq!(media.len(), 3);
    assert_eq!(media[0].setup(), Some(Setup::Passive));
    assert_eq!(media[0].candidates().next().map(|c| c.port), Some(40000));
    assert_eq!(
        media[0].fingerprints().next().map(|f| f.value),
        Some(&fp[8..])
    );
    assert_eq!(
        media[0].codec(111).and_then(|c| c.fmtp).map(|f| f.params),
        Some("minptime=10;useinbandfec=1")
    );
    assert_eq!(
        (media[1].port(), media[1].formats().collect::<Vec<_>>()),
        (0, vec!["96", "97"])
    );
    assert_eq!(
        media[2].formats().collect::<Vec<_>>(),
        ["webrtc-datachannel"]
    );
    assert_eq!(SdpBuilder::from(&parsed), answer);
}

#[test]
fn writer_cannot_inject_lines() {
    let origin = Origin {
        username: "a\r\nb",
        session_id: 1,
        session_version: 1,
        addrtype: AddrType::Ip4,
        address: Host::Name("h"),
    };
    let sdp = SdpBuilder::new(origin, "x\r\nm=video 1 RTP/AVP 0\0")
        .attribute(Attribute::Other {
            name: "tool",
            value: Some("y\nz"),
        })
        .timing(Timing::PERMANENT);
    let buf = sdp.to_bytes();
    let parsed = parse(&buf);
    assert_eq!(parsed.media_count(), 0);
    assert_eq!(parsed.name(), "xm=video 1 RTP/AVP 0");
    assert_eq!(parsed.origin().username, "ab");
    assert_eq!(
        parsed.attributes().next(),
        Some(Attribute::Other {
            name: "tool",
            value: Some("yz")
        })
    );
}

#[test]
fn empty_name_and_no_times_are_written_legally() {
    let origin = Origin {
        username: "-",
        session_id: 1,
        session_version: 2,
        addrtype: AddrType::Ip6,
        address: Host::Ip("::1".parse().unwrap()),
    };
    let buf = SdpBuilder::new(origin, "")
        .media(MediaBuilder::new(MediaType::Image, 6000, Proto::Udptl).format(Format::Token("t38")))
        .to_bytes();
    assert_eq!(
        std::str::from_utf8(&buf).unwrap(),
        "v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=image 6000 udptl t38\r\n"
    );
}
