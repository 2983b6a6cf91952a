//! Table tests for every typed SDP attribute: good values parse to the expected type and
//! `Display` back to an equal one; bad values fail with the attribute's error kind.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sip_message::sdp::{
    AddrType, Attribute, CandidateType, Direction, ErrorKind, Host, Lifetime, Mki,
    SessionDescription, Setup,
};

fn attr(value: &str) -> Attribute<'_> {
    Attribute::parse(value).unwrap_or_else(|e| panic!("a={value}: {e}"))
}

/// Parses, checks the written form parses to the same attribute, and returns it.
fn round_trip(value: &str) -> Attribute<'_> {
    let a = attr(value);
    let written = a.to_string();
    let again = Attribute::parse(&written).unwrap_or_else(|e| panic!("a={written}: {e}"));
    assert_eq!(again, a, "a={value} written as a={written}");
    a
}

fn bad(value: &str) -> ErrorKind {
    match Attribute::parse(value) {
        Ok(a) => panic!("a={value} accepted as {a:?}"),
        Err(e) => {
            assert!(e.offset <= value.len(), "offset in range for {value}");
            e.kind
        }
    }
}

#[test]
fn rtpmap() {
    let cases: &[(&str, u8, &str, u32, Option<u16>)] = &[
        ("rtpmap:0 PCMU/8000", 0, "PCMU", 8000, None),
        ("rtpmap:111 opus/48000/2", 111, "opus", 48000, Some(2)),
        (
            "rtpmap:101 telephone-event/8000",
            101,
            "telephone-event",
            8000,
            None,
        ),
        ("rtpmap:9 G722/8000/1", 9, "G722", 8000, Some(1)),
        ("RTPMAP:127 H264/90000", 127, "H264", 90000, None),
        ("rtpmap:96  VP8/90000 ", 96, "VP8", 90000, None),
    ];
    for (input, pt, enc, clock, ch) in cases {
        let Attribute::Rtpmap(m) = round_trip(input) else {
            panic!("{input} not rtpmap")
        };
        assert_eq!(
            (m.payload_type, m.encoding, m.clock_rate, m.channels),
            (*pt, *enc, *clock, *ch)
        );
    }
    for (input, kind) in [
        ("rtpmap:128 PCMU/8000", ErrorKind::SdpPayloadType),
        ("rtpmap:x PCMU/8000", ErrorKind::SdpPayloadType),
        ("rtpmap:-1 PCMU/8000", ErrorKind::SdpPayloadType),
        ("rtpmap:0", ErrorKind::SdpRtpmap),
        ("rtpmap:0 PCMU", ErrorKind::SdpRtpmap),
        ("rtpmap:0 PCMU/", ErrorKind::SdpRtpmap),
        ("rtpmap:0 PCMU/0", ErrorKind::SdpRtpmap),
        ("rtpmap:0 PCMU/8000/0", ErrorKind::SdpRtpmap),
        ("rtpmap:0 PCMU/8000/1/2", ErrorKind::SdpRtpmap),
        ("rtpmap:0 /8000", ErrorKind::SdpRtpmap),
        ("rtpmap:0 PCMU/8000 extra", ErrorKind::SdpRtpmap),
        ("rtpmap", ErrorKind::SdpRtpmap),
        ("rtpmap:", ErrorKind::SdpRtpmap),
    ] {
        assert_eq!(bad(input), kind, "{input}");
    }
    // The payload-type error points at the payload type.
    assert_eq!(Attribute::parse("rtpmap:200 X/1").unwrap_err().offset, 7);
}

#[test]
fn fmtp() {
    let Attribute::Fmtp(f) = round_trip("fmtp:111 minptime=10; useinbandfec=1") else {
        panic!()
    };
    assert_eq!(f.payload_type(), Some(111));
    assert_eq!(
        f.params().collect::<Vec<_>>(),
        [("minptime", Some("10")), ("useinbandfec", Some("1"))]
    );
    assert_eq!(f.param("USEINBANDFEC"), Some("1"));
    let Attribute::Fmtp(f) = round_trip("fmtp:101 0-15") else {
        panic!()
    };
    assert_eq!(f.params().collect::<Vec<_>>(), [("0-15", None)]);
    let Attribute::Fmtp(f) = round_trip("fmtp:t38 T38FaxVersion=0") else {
        panic!()
    };
    assert_eq!((f.format, f.payload_type()), ("t38", None));
    let Attribute::Fmtp(f) = round_trip("fmtp:97 apt=96") else {
        panic!()
    };
    assert_eq!(f.param("apt"), Some("96"));
    let Attribute::Fmtp(f) = round_trip("fmtp:102") else {
        panic!()
    };
    assert_eq!(f.params().count(), 0);
    assert_eq!(bad("fmtp:"), ErrorKind::SdpFmtp);
    assert_eq!(bad("fmtp"), ErrorKind::SdpFmtp);
}

#[test]
fn ptime_and_maxptime() {
    assert_eq!(
        round_trip("ptime:20"),
        Attribute::Ptime(Duration::from_millis(20))
    );
    assert_eq!(
        round_trip("ptime:30.0"),
        Attribute::Ptime(Duration::from_millis(30))
    );
    assert_eq!(
        round_trip("ptime:2.5"),
        Attribute::Ptime(Duration::from_micros(2500))
    );
    assert_eq!(
        round_trip("maxptime:150"),
        Attribute::MaxPtime(Duration::from_millis(150))
    );
    for input in [
        "ptime:0",
        "ptime:",
        "ptime:x",
        "ptime:-20",
        "ptime:20ms",
        "maxptime:1.",
        "ptime:9999999",
    ] {
        assert_eq!(bad(input), ErrorKind::SdpPtime, "{input}");
    }
}

#[test]
fn directions_and_flags() {
    for (input, d) in [
        ("sendrecv", Direction::SendRecv),
        ("sendonly", Direction::SendOnly),
        ("recvonly", Direction::RecvOnly),
        ("inactive", Direction::Inactive),
        ("SendOnly", Direction::SendOnly),
    ] {
        assert_eq!(round_trip(input), Attribute::Direction(d));
    }
    assert_eq!(Direction::SendOnly.reversed(), Direction::RecvOnly);
    assert_eq!(Direction::Inactive.reversed(), Direction::Inactive);
    assert_eq!(round_trip("rtcp-mux"), Attribute::RtcpMux);
    assert_eq!(attr("rtcp-mux:"), Attribute::RtcpMux);
    assert_eq!(round_trip("rtcp-rsize"), Attribute::RtcpRsize);
    assert_eq!(round_trip("ice-lite"), Attribute::IceLite);
    assert_eq!(round_trip("end-of-candidates"), Attribute::EndOfCandidates);
}

#[test]
fn rtcp() {
    let Attribute::Rtcp(r) = round_trip("rtcp:53020") else {
        panic!()
    };
    assert_eq!((r.port, r.address), (53020, None));
    let Attribute::Rtcp(r) = round_trip("rtcp:53020 IN IP4 126.16.64.4") else {
        panic!()
    };
    assert_eq!(
        r.address,
        Some((
            AddrType::Ip4,
            Host::Ip(IpAddr::V4(Ipv4Addr::new(126, 16, 64, 4)))
        ))
    );
    let Attribute::Rtcp(r) = round_trip("rtcp:9 IN IP6 2001:db8::2") else {
        panic!()
    };
    assert_eq!(r.address.map(|a| a.0), Some(AddrType::Ip6));
    for (input, kind) in [
        ("rtcp:", ErrorKind::SdpRtcp),
        ("rtcp:70000", ErrorKind::SdpPort),
        ("rtcp:5000 IN", ErrorKind::SdpRtcp),
        ("rtcp:5000 IN IP4", ErrorKind::SdpRtcp),
        ("rtcp:5000 IN IPX 1.2.3.4", ErrorKind::SdpAddrType),
        ("rtcp:5000 IN IP4 ::1", ErrorKind::SdpAddress),
        ("rtcp:5000 IN IP4 1.2.3.4 x", ErrorKind::SdpRtcp),
    ] {
        assert_eq!(bad(input), kind, "{input}");
    }
}

#[test]
fn crypto() {
    let input =
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";
    let Attribute::Crypto(c) = round_trip(input) else {
        panic!()
    };
    assert_eq!((c.tag, c.suite), (1, "AES_CM_128_HMAC_SHA1_80"));
    let key = c.keys().next().unwrap().inline().unwrap();
    assert_eq!(key.key_salt, "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
    assert_eq!(key.lifetime, Some(Lifetime::PowerOfTwo(20)));
    assert_eq!(
        key.mki,
        Some(Mki {
            value: 1,
            length: 4
        })
    );
    assert_eq!(c.session_params().count(), 0);

    // Session params, a plain lifetime, no MKI, several keys.
    let Attribute::Crypto(c) = round_trip(
        "crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|1048576;inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0|1:4 UNENCRYPTED_SRTCP KDR=1",
    ) else {
        panic!()
    };
    let keys: Vec<_> = c.keys().map(|k| k.inline().unwrap()).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].lifetime, Some(Lifetime::Packets(1048576)));
    assert_eq!(keys[0].mki, None);
    assert_eq!(
        (keys[1].lifetime, keys[1].mki),
        (
            None,
            Some(Mki {
                value: 1,
                length: 4
            })
        )
    );
    assert_eq!(
        c.session_params().collect::<Vec<_>>(),
        ["UNENCRYPTED_SRTCP", "KDR=1"]
    );

    // A key method other than inline is kept but has no inline view.
    let Attribute::Crypto(c) = round_trip("crypto:3 F8_128_HMAC_SHA1_80 uri:https://kms.example/k")
    else {
        panic!()
    };
    assert_eq!(c.keys().next().unwrap().method, "uri");
    assert!(c.keys().next().unwrap().inline().is_none());

    for input in [
        "crypto:",
        "crypto:1",
        "crypto:1 AES_CM_128_HMAC_SHA1_80",
        "crypto:x AES_CM_128_HMAC_SHA1_80 inline:abcd",
        "crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:abcd",
        "crypto:1 AES-CM AES inline:abcd",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:ab#cd",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|2^64",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|2^x",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|1:0",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|1:129",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|1:4|2^20",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd|2^20|2^20",
        "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abcd;",
    ] {
        assert_eq!(bad(input), ErrorKind::SdpCrypto, "{input}");
    }
}

#[test]
fn ice_credentials_and_options() {
    assert_eq!(round_trip("ice-ufrag:Yx4N"), Attribute::IceUfrag("Yx4N"));
    assert_eq!(
        round_trip("ice-pwd:t6bHzqOYiMBlHcSZy/pQ7Tkz"),
        Attribute::IcePwd("t6bHzqOYiMBlHcSZy/pQ7Tkz")
    );
    let Attribute::IceOptions(o) = round_trip("ice-options:trickle renomination") else {
        panic!()
    };
    assert_eq!(o.tags().collect::<Vec<_>>(), ["trickle", "renomination"]);
    let long = format!("ice-pwd:{}", "a".repeat(257));
    for input in [
        "ice-ufrag:",
        "ice-ufrag:ab-cd",
        "ice-pwd:has space",
        long.as_str(),
        "ice-options:",
        "ice-options:a(b",
    ] {
        assert_eq!(bad(input), ErrorKind::SdpIce, "{input}");
    }
}

#[test]
fn candidate() {
    let Attribute::Candidate(c) = round_trip(
        "candidate:1853887674 1 udp 1686052607 198.51.100.7 46243 typ srflx raddr 192.168.0.196 rport 46243 generation 0 network-id 1",
    ) else {
        panic!()
    };
    assert_eq!(
        (c.foundation, c.component, c.transport, c.priority),
        ("1853887674", 1, "udp", 1686052607)
    );
    assert_eq!(c.address, Host::Ip("198.51.100.7".parse().unwrap()));
    assert_eq!((c.port, c.kind), (46243, CandidateType::Srflx));
    assert_eq!(
        c.related_address,
        Some(Host::Ip("192.168.0.196".parse().unwrap()))
    );
    assert_eq!(c.related_port, Some(46243));
    assert_eq!(
        c.extensions().collect::<Vec<_>>(),
        [("generation", "0"), ("network-id", "1")]
    );
    assert_eq!(c.extension("network-id"), Some("1"));

    let Attribute::Candidate(c) =
        round_trip("candidate:a+/b 2 TCP 1518280447 2001:db8::5 9 typ host tcptype active")
    else {
        panic!()
    };
    assert_eq!((c.component, c.kind), (2, CandidateType::Host));
    assert_eq!(c.extension("tcptype"), Some("active"));
    assert_eq!(c.related_address, None);

    let Attribute::Candidate(c) =
        round_trip("candidate:3 1 udp 2113937151 6c1a36f5-2d57-4d05.local 53000 typ host")
    else {
        panic!()
    };
    assert_eq!(c.address, Host::Name("6c1a36f5-2d57-4d05.local"));
    let Attribute::Candidate(c) =
        round_trip("candidate:4 1 UDP 16777215 203.0.113.9 3478 typ relay raddr 0.0.0.0 rport 0")
    else {
        panic!()
    };
    assert_eq!((c.kind, c.related_port), (CandidateType::Relay, Some(0)));
    let Attribute::Candidate(c) = round_trip("candidate:5 1 udp 1 203.0.113.9 1 typ prflx rport 9")
    else {
        panic!()
    };
    assert_eq!(
        (c.kind, c.related_address, c.related_port),
        (CandidateType::Prflx, None, Some(9))
    );

    for (input, kind) in [
        ("candidate:", ErrorKind::SdpCandidate),
        ("candidate:1 1 udp 1 1.2.3.4 5", ErrorKind::SdpCandidate),
        ("candidate:1 1 udp 1 1.2.3.4 5 typ", ErrorKind::SdpCandidate),
        (
            "candidate:1 1 udp 1 1.2.3.4 5 type host",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 0 udp 1 1.2.3.4 5 typ host",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 257 udp 1 1.2.3.4 5 typ host",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 1 udp 4294967296 1.2.3.4 5 typ host",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 1 udp 1 1.2.3.999 5 typ host",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 65536 typ host",
            ErrorKind::SdpPort,
        ),
        (
            "candidate:f-o 1 udp 1 1.2.3.4 5 typ host",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 5 typ host raddr",
            ErrorKind::SdpCandidate,
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 5 typ host rport x",
            ErrorKind::SdpPort,
        ),
        (
            "candidate:1 1 udp 1 1.2.3.4 5 typ host generation",
            ErrorKind::SdpCandidate,
        ),
    ] {
        assert_eq!(bad(input), kind, "{input}");
    }
    let long_foundation = format!("candidate:{} 1 udp 1 1.2.3.4 5 typ host", "a".repeat(33));
    assert_eq!(bad(&long_foundation), ErrorKind::SdpCandidate);
}

#[test]
fn fingerprint_and_setup() {
    let Attribute::Fingerprint(f) = round_trip(
        "fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F",
    ) else {
        panic!()
    };
    assert_eq!(f.hash, "sha-256");
    let bytes: Vec<u8> = f.bytes().collect();
    assert_eq!(bytes.len(), 32);
    assert_eq!(&bytes[..3], &[0xD2, 0xFA, 0x0E]);
    let Attribute::Fingerprint(f) =
        round_trip("fingerprint:sha-1 4a:ad:b9:b1:3f:82:18:3b:54:02:12:df:3e:5d:49:6b:19:e5:7c:ab")
    else {
        panic!()
    };
    assert_eq!(f.bytes().count(), 20);
    let too_long = format!("fingerprint:sha-512 {}", ["AA"; 65].join(":"));
    for input in [
        "fingerprint:",
        "fingerprint:sha-256",
        "fingerprint:sha-256 D2:FA:0",
        "fingerprint:sha-256 D2:FA:",
        "fingerprint:sha-256 D2FA",
        "fingerprint:sha-256 G2:FA",
        "fingerprint:sha-256 D2:FA extra",
        too_long.as_str(),
    ] {
        assert_eq!(bad(input), ErrorKind::SdpFingerprint, "{input}");
    }

    for (input, s) in [
        ("setup:active", Setup::Active),
        ("setup:passive", Setup::Passive),
        ("setup:actpass", Setup::ActPass),
        ("setup:holdconn", Setup::HoldConn),
        ("setup:ACTPASS", Setup::ActPass),
    ] {
        assert_eq!(round_trip(input), Attribute::Setup(s));
    }
    assert_eq!(bad("setup:both"), ErrorKind::SdpSetup);
    assert_eq!(bad("setup:"), ErrorKind::SdpSetup);
}

#[test]
fn mid_group_ssrc_extmap() {
    assert_eq!(round_trip("mid:0"), Attribute::Mid("0"));
    assert_eq!(round_trip("mid:audio"), Attribute::Mid("audio"));
    assert_eq!(bad("mid:"), ErrorKind::SdpMid);
    assert_eq!(bad("mid:a b"), ErrorKind::SdpMid);

    let Attribute::Group(g) = round_trip("group:BUNDLE 0 1 2") else {
        panic!()
    };
    assert_eq!(
        (g.semantics, g.mids().collect::<Vec<_>>()),
        ("BUNDLE", vec!["0", "1", "2"])
    );
    let Attribute::Group(g) = round_trip("group:BUNDLE") else {
        panic!()
    };
    assert_eq!(g.mids().count(), 0);
    assert_eq!(bad("group:"), ErrorKind::SdpGroup);
    assert_eq!(bad("group:BUNDLE a(b"), ErrorKind::SdpGroup);

    let Attribute::Ssrc(s) = round_trip("ssrc:3735928559 msid:stream0 track-audio0") else {
        panic!()
    };
    assert_eq!(
        (s.ssrc, s.attribute, s.value),
        (3735928559, "msid", Some("stream0 track-audio0"))
    );
    let Attribute::Ssrc(s) = round_trip("ssrc:1 cname:x") else {
        panic!()
    };
    assert_eq!(s.value, Some("x"));
    let Attribute::Ssrc(s) = round_trip("ssrc:1 foo") else {
        panic!()
    };
    assert_eq!(s.value, None);
    for input in [
        "ssrc:",
        "ssrc:4294967296 cname:x",
        "ssrc:1",
        "ssrc:x cname:y",
    ] {
        assert_eq!(bad(input), ErrorKind::SdpSsrc, "{input}");
    }

    let Attribute::Extmap(e) = round_trip("extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level")
    else {
        panic!()
    };
    assert_eq!((e.id, e.direction, e.attributes), (1, None, None));
    let Attribute::Extmap(e) =
        round_trip("extmap:3/sendonly urn:ietf:params:rtp-hdrext:sdes:mid vad=on")
    else {
        panic!()
    };
    assert_eq!(
        (e.id, e.direction, e.attributes),
        (3, Some(Direction::SendOnly), Some("vad=on"))
    );
    assert_eq!(attr("extmap:4096 urn:x").to_string(), "extmap:4096 urn:x");
    for input in [
        "extmap:",
        "extmap:0 urn:x",
        "extmap:15 urn:x",
        "extmap:256 urn:x",
        "extmap:1/both urn:x",
        "extmap:1",
    ] {
        assert_eq!(bad(input), ErrorKind::SdpExtmap, "{input}");
    }
}

#[test]
fn unknown_attributes_are_kept() {
    assert_eq!(
        round_trip("rtcp-fb:96 nack pli"),
        Attribute::Other {
            name: "rtcp-fb",
            value: Some("96 nack pli")
        }
    );
    assert_eq!(
        round_trip("extmap-allow-mixed"),
        Attribute::Other {
            name: "extmap-allow-mixed",
            value: None
        }
    );
    assert_eq!(
        round_trip("msid-semantic: WMS *"),
        Attribute::Other {
            name: "msid-semantic",
            value: Some(" WMS *")
        }
    );
    assert_eq!(
        round_trip("x-empty:"),
        Attribute::Other {
            name: "x-empty",
            value: Some("")
        }
    );
    assert_eq!(bad(""), ErrorKind::SdpAttribute);
    assert_eq!(bad(":value"), ErrorKind::SdpAttribute);
    assert_eq!(bad("na me:value"), ErrorKind::SdpAttribute);
}

#[test]
fn conflicting_attributes_in_a_section() {
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0 8\r\n";
    let cases: &[(&str, Option<ErrorKind>)] = &[
        (
            "a=sendonly\r\na=recvonly\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        ("a=sendonly\r\na=sendonly\r\n", None),
        (
            "a=mid:0\r\na=mid:1\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        (
            "a=ptime:20\r\na=ptime:30\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        ("a=ptime:20\r\na=ptime:20\r\n", None),
        (
            "a=setup:active\r\na=setup:passive\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        (
            "a=ice-ufrag:abcd\r\na=ice-ufrag:efgh\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        (
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:8 PCMU/8000\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        (
            "a=rtpmap:8 PCMA/8000\r\na=rtpmap:8 PCMA/8000\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        (
            "a=fingerprint:sha-256 AA:BB\r\na=fingerprint:sha-1 CC:DD\r\n",
            None,
        ),
        (
            "a=rtcp:5\r\na=rtcp:6\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
        (
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:0 PCMU/8000/1\r\n",
            Some(ErrorKind::SdpDuplicateAttribute),
        ),
    ];
    for (attrs, want) in cases {
        let input = format!("{head}{attrs}");
        let got = SessionDescription::parse(input.as_bytes())
            .err()
            .map(|e| e.kind);
        assert_eq!(got, *want, "{attrs:?}");
    }
    // A bad known attribute inside a body is reported at its absolute offset.
    let input = format!("{head}a=ptime:abc\r\n");
    let e = SessionDescription::parse(input.as_bytes()).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::SdpPtime, head.len() + 8));
}
