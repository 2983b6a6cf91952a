//! Table tests for SDP structure and the non-attribute lines (RFC 8866 §5).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sip_message::sdp::{
    AddrType, Bandwidth, BandwidthType, Connection, Direction, ErrorKind, Host, Key, Limits,
    MediaLine, MediaType, Origin, Proto, Repeat, SessionDescription, TimeZones, Timing,
};

/// `(input, addrtype, address, ttl, count)`.
type ConnectionCase<'a> = (&'a str, AddrType, Host<'a>, Option<u8>, Option<u32>);
/// `(input, media, port, port count, proto, formats)`.
type MediaLineCase<'a> = (
    &'a str,
    MediaType<'a>,
    u16,
    Option<u16>,
    Proto<'a>,
    &'a [&'a str],
);

const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";

/// A body made of `lines` joined with CRLF.
fn body(lines: &[&str]) -> String {
    let mut s = lines.join("\r\n");
    s.push_str("\r\n");
    s
}

/// The standard session head followed by `lines`.
fn with_head(lines: &[&str]) -> String {
    format!("{HEAD}{}", body(lines))
}

fn kind_at(input: &str) -> (ErrorKind, usize) {
    match SessionDescription::parse(input.as_bytes()) {
        Ok(_) => panic!("accepted but should fail: {input:?}"),
        Err(e) => (e.kind, e.offset),
    }
}

fn ok(input: &str) -> SessionDescription<'_> {
    match SessionDescription::parse(input.as_bytes()) {
        Ok(s) => s,
        Err(e) => panic!("rejected {input:?}: {e}"),
    }
}

#[test]
fn minimal_session_parses() {
    let s = ok(HEAD);
    assert_eq!(s.origin().session_id, 1);
    assert_eq!(s.name(), "-");
    assert_eq!(s.media_count(), 0);
    assert_eq!(s.media().count(), 0);
    assert_eq!(
        s.times().map(|t| t.timing).collect::<Vec<_>>(),
        [Timing::PERMANENT]
    );
}

#[test]
fn structure_table() {
    // (name, input, expected error kind, expected offset or usize::MAX for "don't care")
    let cases: &[(&str, String, ErrorKind, usize)] = &[
        ("empty body", String::new(), ErrorKind::SdpMissingVersion, 0),
        (
            "missing v=",
            body(&["o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0"]),
            ErrorKind::SdpMissingVersion,
            0,
        ),
        (
            "v=1",
            body(&["v=1", "o=- 1 1 IN IP4 192.0.2.1", "s=-"]),
            ErrorKind::SdpVersion,
            2,
        ),
        (
            "second v=",
            with_head(&["v=0"]),
            ErrorKind::SdpDuplicateLine,
            HEAD.len(),
        ),
        (
            "missing o=",
            body(&["v=0", "s=-", "t=0 0"]),
            ErrorKind::SdpMissingOrigin,
            usize::MAX,
        ),
        (
            "missing s=",
            body(&[
                "v=0",
                "o=- 1 1 IN IP4 192.0.2.1",
                "t=0 0",
                "m=audio 1 RTP/AVP 0",
            ]),
            ErrorKind::SdpMissingSessionName,
            usize::MAX,
        ),
        (
            "m= before t= (t= in a media section)",
            body(&[
                "v=0",
                "o=- 1 1 IN IP4 192.0.2.1",
                "s=-",
                "m=audio 1 RTP/AVP 0",
                "t=0 0",
            ]),
            ErrorKind::SdpLineOrder,
            usize::MAX,
        ),
        (
            "r= without t=",
            body(&["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "r=1d 1h 0"]),
            ErrorKind::SdpLineOrder,
            usize::MAX,
        ),
        (
            "o= in media",
            with_head(&["m=audio 1 RTP/AVP 0", "o=- 1 1 IN IP4 192.0.2.1"]),
            ErrorKind::SdpLineOrder,
            usize::MAX,
        ),
        (
            "u= in media",
            with_head(&["m=audio 1 RTP/AVP 0", "u=http://x"]),
            ErrorKind::SdpLineOrder,
            usize::MAX,
        ),
        (
            "z= in media",
            with_head(&["m=audio 1 RTP/AVP 0", "z=0 0"]),
            ErrorKind::SdpLineOrder,
            usize::MAX,
        ),
        (
            "unknown letter",
            with_head(&["x=whatever"]),
            ErrorKind::SdpUnknownLineType,
            HEAD.len(),
        ),
        (
            "unknown letter in media",
            with_head(&["m=audio 1 RTP/AVP 0", "y=1"]),
            ErrorKind::SdpUnknownLineType,
            usize::MAX,
        ),
        (
            "upper-case letter",
            with_head(&["A=sendrecv"]),
            ErrorKind::SdpLine,
            HEAD.len(),
        ),
        (
            "no equals sign",
            with_head(&["a sendrecv"]),
            ErrorKind::SdpLine,
            HEAD.len(),
        ),
        (
            "space before =",
            with_head(&["a =sendrecv"]),
            ErrorKind::SdpLine,
            HEAD.len(),
        ),
        (
            "lone letter",
            with_head(&["a"]),
            ErrorKind::SdpLine,
            HEAD.len(),
        ),
        (
            "NUL inside a line",
            with_head(&["s2\0"]),
            ErrorKind::SdpLine,
            usize::MAX,
        ),
        (
            "bare CR inside a line",
            with_head(&["a=x\ry"]),
            ErrorKind::SdpLine,
            HEAD.len() + 3,
        ),
        (
            "duplicate o=",
            with_head(&["o=- 1 1 IN IP4 192.0.2.1"]),
            ErrorKind::SdpDuplicateLine,
            HEAD.len(),
        ),
        (
            "duplicate s=",
            with_head(&["s=again"]),
            ErrorKind::SdpDuplicateLine,
            HEAD.len(),
        ),
        (
            "duplicate session c=",
            with_head(&["c=IN IP4 192.0.2.2"]),
            ErrorKind::SdpDuplicateLine,
            HEAD.len(),
        ),
        (
            "duplicate session i=",
            with_head(&["i=a", "i=b"]),
            ErrorKind::SdpDuplicateLine,
            usize::MAX,
        ),
        (
            "duplicate media i=",
            with_head(&["m=audio 1 RTP/AVP 0", "i=a", "i=b"]),
            ErrorKind::SdpDuplicateLine,
            usize::MAX,
        ),
        (
            "duplicate media k=",
            with_head(&["m=audio 1 RTP/AVP 0", "k=prompt", "k=prompt"]),
            ErrorKind::SdpDuplicateLine,
            usize::MAX,
        ),
        (
            "duplicate z=",
            with_head(&["z=0 0", "z=0 0"]),
            ErrorKind::SdpDuplicateLine,
            usize::MAX,
        ),
    ];
    for (name, input, kind, offset) in cases {
        let (k, o) = kind_at(input);
        assert_eq!(k, *kind, "{name}: {input:?}");
        if *offset != usize::MAX {
            assert_eq!(o, *offset, "{name}: offset");
        }
        assert!(o <= input.len(), "{name}: offset in range");
    }
}

#[test]
fn liberal_structure_is_accepted() {
    // Bare LF endings, no final newline, blank lines, reordered session lines, missing t=.
    let lf = "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nc=IN IP4 192.0.2.1\n\nb=AS:64\nm=audio 1 RTP/AVP 0";
    let s = ok(lf);
    assert_eq!(s.media_count(), 1);
    assert_eq!(s.bandwidths().count(), 1);
    let m = s.media().next().unwrap();
    assert_eq!(m.as_str(), "m=audio 1 RTP/AVP 0");
    assert_eq!(m.offset(), lf.find("m=").unwrap());

    let no_t = body(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "m=audio 1 RTP/AVP 0",
    ]);
    assert_eq!(ok(&no_t).times().count(), 0);

    // Empty s= and trailing CRLFs.
    let empty_s = format!(
        "{}\r\n\r\n",
        body(&["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s="])
    );
    assert_eq!(ok(&empty_s).name(), "");

    // Mixed CRLF and LF.
    let mixed = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\ns=x\r\nt=0 0\n";
    assert_eq!(ok(mixed).name(), "x");
}

#[test]
fn session_text_fields() {
    let s = with_head(&[
        "i=Info here",
        "u=http://example.com/s",
        "e=j@example.com (J)",
        "p=+1 617 555-6011",
        "e=k@example.com",
    ]);
    // RFC 8866 order puts i u e p before c; the parser does not insist.
    let sdp = ok(&s);
    assert_eq!(sdp.information(), Some("Info here"));
    assert_eq!(sdp.uri(), Some("http://example.com/s"));
    assert_eq!(
        sdp.emails().collect::<Vec<_>>(),
        ["j@example.com (J)", "k@example.com"]
    );
    assert_eq!(sdp.phones().collect::<Vec<_>>(), ["+1 617 555-6011"]);
}

#[test]
fn origin_table() {
    let good: &[(&str, Origin<'_>)] = &[
        (
            "- 4611731400430051336 2 IN IP4 127.0.0.1",
            Origin {
                username: "-",
                session_id: 4611731400430051336,
                session_version: 2,
                addrtype: AddrType::Ip4,
                address: Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            },
        ),
        (
            "jdoe 2890844526 2890842807 IN IP6 2001:db8::1",
            Origin {
                username: "jdoe",
                session_id: 2890844526,
                session_version: 2890842807,
                addrtype: AddrType::Ip6,
                address: Host::Ip("2001:db8::1".parse().unwrap()),
            },
        ),
        (
            "Cisco SIP GW 1 2 in ip4 gw.example.com",
            Origin {
                username: "Cisco SIP GW",
                session_id: 1,
                session_version: 2,
                addrtype: AddrType::Ip4,
                address: Host::Name("gw.example.com"),
            },
        ),
    ];
    for (input, want) in good {
        assert_eq!(Origin::parse(input).as_ref(), Ok(want), "{input}");
        let written = want.to_string();
        assert_eq!(Origin::parse(&written).as_ref(), Ok(want), "{written}");
    }
    let bad: &[(&str, ErrorKind, usize)] = &[
        ("- 1 1 IN IP4", ErrorKind::SdpOrigin, 0),
        ("- x 1 IN IP4 192.0.2.1", ErrorKind::SdpOrigin, 2),
        (
            "- 1 99999999999999999999999 IN IP4 192.0.2.1",
            ErrorKind::SdpOrigin,
            4,
        ),
        ("- 1 1 ATM NSAP 47.0005", ErrorKind::SdpNetType, 6),
        ("- 1 1 IN IPX 192.0.2.1", ErrorKind::SdpAddrType, 9),
        ("- 1 1 IN IP4 ::1", ErrorKind::SdpAddress, 13),
        ("- 1 1 IN IP6 192.0.2.1", ErrorKind::SdpAddress, 13),
        ("- 1 1 IN IP4 300.1.1.1", ErrorKind::SdpAddress, 13),
    ];
    for (input, kind, offset) in bad {
        let e = Origin::parse(input).unwrap_err();
        assert_eq!((e.kind, e.offset), (*kind, *offset), "{input}");
    }
    // In a body the offset is absolute.
    let input = body(&["v=0", "o=- 1 1 IN IPX 192.0.2.1", "s=-"]);
    assert_eq!(kind_at(&input), (ErrorKind::SdpAddrType, 5 + 2 + 9));
}

#[test]
fn connection_table() {
    let v4 = |a: [u8; 4]| Host::Ip(IpAddr::V4(Ipv4Addr::from(a)));
    let v6 = |s: &str| Host::Ip(IpAddr::V6(s.parse::<Ipv6Addr>().unwrap()));
    let good: &[ConnectionCase<'_>] = &[
        (
            "IN IP4 192.0.2.1",
            AddrType::Ip4,
            v4([192, 0, 2, 1]),
            None,
            None,
        ),
        (
            "IN IP4 0.0.0.0",
            AddrType::Ip4,
            v4([0, 0, 0, 0]),
            None,
            None,
        ),
        (
            "IN IP4 224.2.36.42/127",
            AddrType::Ip4,
            v4([224, 2, 36, 42]),
            Some(127),
            None,
        ),
        (
            "IN IP4 224.2.1.1/127/3",
            AddrType::Ip4,
            v4([224, 2, 1, 1]),
            Some(127),
            Some(3),
        ),
        (
            "IN IP6 2001:db8::1",
            AddrType::Ip6,
            v6("2001:db8::1"),
            None,
            None,
        ),
        ("IN IP6 ::", AddrType::Ip6, v6("::"), None, None),
        (
            "IN IP6 ::ffff:192.0.2.1",
            AddrType::Ip6,
            v6("::ffff:192.0.2.1"),
            None,
            None,
        ),
        (
            "IN IP6 ff15::101/3",
            AddrType::Ip6,
            v6("ff15::101"),
            None,
            Some(3),
        ),
        (
            "IN IP4 media.example.com",
            AddrType::Ip4,
            Host::Name("media.example.com"),
            None,
            None,
        ),
        (
            "in ip4 192.0.2.1  ",
            AddrType::Ip4,
            v4([192, 0, 2, 1]),
            None,
            None,
        ),
    ];
    for (input, addrtype, address, ttl, count) in good {
        let want = Connection {
            addrtype: *addrtype,
            address: *address,
            ttl: *ttl,
            count: *count,
        };
        assert_eq!(Connection::parse(input), Ok(want), "{input}");
        assert_eq!(
            Connection::parse(&want.to_string()),
            Ok(want),
            "round trip {input}"
        );
    }
    let bad: &[(&str, ErrorKind)] = &[
        ("IN IP4", ErrorKind::SdpConnection),
        ("IN", ErrorKind::SdpConnection),
        ("", ErrorKind::SdpConnection),
        ("TN RFC2543 +15551234", ErrorKind::SdpNetType),
        ("IN IP5 192.0.2.1", ErrorKind::SdpAddrType),
        ("IN IP4 2001:db8::1", ErrorKind::SdpAddress),
        ("IN IP6 192.0.2.1", ErrorKind::SdpAddress),
        ("IN IP6 2001:db8::zz", ErrorKind::SdpAddress),
        ("IN IP4 192.0.2.256", ErrorKind::SdpAddress),
        ("IN IP4 bad!host", ErrorKind::SdpAddress),
        ("IN IP4 224.2.1.1/256", ErrorKind::SdpConnection),
        ("IN IP4 224.2.1.1/127/0", ErrorKind::SdpConnection),
        ("IN IP4 224.2.1.1/1/2/3", ErrorKind::SdpConnection),
        ("IN IP6 ff15::1/3/4", ErrorKind::SdpConnection),
        ("IN IP4 192.0.2.1 extra", ErrorKind::SdpConnection),
    ];
    for (input, kind) in bad {
        assert_eq!(
            Connection::parse(input).map_err(|e| e.kind),
            Err(*kind),
            "{input}"
        );
    }
    // The IPv6 connection survives in a body and is found by the media section.
    let s = body(&[
        "v=0",
        "o=- 1 1 IN IP6 2001:db8::1",
        "s=-",
        "c=IN IP6 2001:db8::1",
        "t=0 0",
        "m=audio 5004 RTP/AVP 0",
    ]);
    let sdp = ok(&s);
    let m = sdp.media().next().unwrap();
    assert_eq!(
        m.connection().and_then(|c| c.address.ip()),
        Some("2001:db8::1".parse().unwrap())
    );
}

#[test]
fn media_line_table() {
    let good: &[MediaLineCase<'_>] = &[
        (
            "audio 49170 RTP/AVP 0 8 101",
            MediaType::Audio,
            49170,
            None,
            Proto::RtpAvp,
            &["0", "8", "101"],
        ),
        (
            "video 51372/2 RTP/AVP 99",
            MediaType::Video,
            51372,
            Some(2),
            Proto::RtpAvp,
            &["99"],
        ),
        (
            "audio 0 RTP/SAVP 0",
            MediaType::Audio,
            0,
            None,
            Proto::RtpSavp,
            &["0"],
        ),
        (
            "audio 9 UDP/TLS/RTP/SAVPF 111 0",
            MediaType::Audio,
            9,
            None,
            Proto::UdpTlsRtpSavpf,
            &["111", "0"],
        ),
        (
            "audio 9 RTP/SAVPF 111",
            MediaType::Audio,
            9,
            None,
            Proto::RtpSavpf,
            &["111"],
        ),
        (
            "image 6000 udptl t38",
            MediaType::Image,
            6000,
            None,
            Proto::Udptl,
            &["t38"],
        ),
        (
            "application 9 UDP/DTLS/SCTP webrtc-datachannel",
            MediaType::Application,
            9,
            None,
            Proto::UdpDtlsSctp,
            &["webrtc-datachannel"],
        ),
        (
            "audio 65535 TCP/RTP/AVP 0",
            MediaType::Audio,
            65535,
            None,
            Proto::Other("TCP/RTP/AVP"),
            &["0"],
        ),
        (
            "audio 0 RTP/AVP",
            MediaType::Audio,
            0,
            None,
            Proto::RtpAvp,
            &[],
        ),
        (
            "AUDIO 1000 rtp/avp  0   8 ",
            MediaType::Audio,
            1000,
            None,
            Proto::RtpAvp,
            &["0", "8"],
        ),
        (
            "game 5 foo/bar x",
            MediaType::Other("game"),
            5,
            None,
            Proto::Other("foo/bar"),
            &["x"],
        ),
    ];
    for (input, media, port, count, proto, formats) in good {
        let m = MediaLine::parse(input, 128).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (m.media, m.port, m.port_count, m.proto),
            (*media, *port, *count, *proto),
            "{input}"
        );
        assert_eq!(m.formats().collect::<Vec<_>>(), *formats, "{input}");
        assert_eq!(
            MediaLine::parse(&m.to_string(), 128),
            Ok(m),
            "round trip {input}"
        );
    }
    assert!(Proto::UdpTlsRtpSavpf.is_rtp() && Proto::UdpTlsRtpSavpf.is_secure());
    assert!(Proto::Other("TCP/RTP/AVP").is_rtp() && !Proto::Other("TCP/RTP/AVP").is_secure());
    assert!(!Proto::Udptl.is_rtp());
    let bad: &[(&str, ErrorKind, usize)] = &[
        ("audio 65536 RTP/AVP 0", ErrorKind::SdpPort, 6),
        ("audio -1 RTP/AVP 0", ErrorKind::SdpPort, 6),
        ("audio abc RTP/AVP 0", ErrorKind::SdpPort, 6),
        ("audio 5000/0 RTP/AVP 0", ErrorKind::SdpPort, 11),
        ("audio 5000/x RTP/AVP 0", ErrorKind::SdpPort, 11),
        ("audio 5000 RTP/AVP 128", ErrorKind::SdpPayloadType, 19),
        ("audio 5000 RTP/AVP 0 PCMU", ErrorKind::SdpPayloadType, 21),
        ("audio 5000 RTP/AVP -1", ErrorKind::SdpPayloadType, 19),
        ("audio 5000", ErrorKind::SdpMedia, 10),
        ("audio", ErrorKind::SdpMedia, 5),
        ("audio 5000 RTP//AVP 0", ErrorKind::SdpMedia, 11),
        ("aud(io 5000 RTP/AVP 0", ErrorKind::SdpMedia, 0),
    ];
    for (input, kind, offset) in bad {
        let e = MediaLine::parse(input, 128).unwrap_err();
        assert_eq!((e.kind, e.offset), (*kind, *offset), "{input}");
    }
    assert_eq!(
        MediaLine::parse("audio 1 RTP/AVP 0 8 9", 2).map_err(|e| e.kind),
        Err(ErrorKind::SdpTooManyFormats)
    );
}

#[test]
fn media_line_errors_in_a_body_point_at_the_field() {
    for (line, kind, field) in [
        ("m=audio 1 RTP/AVP 0 200", ErrorKind::SdpPayloadType, "200"),
        ("m=audio 70000 RTP/AVP 0", ErrorKind::SdpPort, "70000"),
        (
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 opus",
            ErrorKind::SdpPayloadType,
            "opus",
        ),
    ] {
        let input = with_head(&["m=audio 5 RTP/AVP 0", "a=sendrecv", line]);
        let at = input.rfind(field).unwrap();
        assert_eq!(kind_at(&input), (kind, at), "{line}");
    }
}

#[test]
fn bandwidth_timing_key_table() {
    let bw: &[(&str, BandwidthType<'_>, u64)] = &[
        ("AS:64", BandwidthType::As, 64),
        ("CT:128", BandwidthType::Ct, 128),
        ("TIAS:64000", BandwidthType::Tias, 64000),
        ("RS:800", BandwidthType::Rs, 800),
        ("rr:2400", BandwidthType::Rr, 2400),
        ("X-YZ:1", BandwidthType::Other("X-YZ"), 1),
    ];
    for (input, kind, value) in bw {
        let b = Bandwidth::parse(input).unwrap();
        assert_eq!((b.kind, b.value), (*kind, *value));
        assert_eq!(Bandwidth::parse(&b.to_string()), Ok(b));
    }
    for bad in [
        "AS",
        "AS:",
        "AS:x",
        ":64",
        "AS:-1",
        "A S:1",
        "AS:99999999999999999999999",
    ] {
        assert_eq!(
            Bandwidth::parse(bad).map_err(|e| e.kind),
            Err(ErrorKind::SdpBandwidth),
            "{bad}"
        );
    }

    assert_eq!(Timing::parse("0 0"), Ok(Timing::PERMANENT));
    assert_eq!(
        Timing::parse("3034423619 3042462419"),
        Ok(Timing {
            start: 3034423619,
            stop: 3042462419
        })
    );
    for bad in ["0", "", "a b", "0 0 0", "-1 0"] {
        assert_eq!(
            Timing::parse(bad).map_err(|e| e.kind),
            Err(ErrorKind::SdpTiming),
            "{bad}"
        );
    }

    let r = Repeat::parse("7d 1h 0 25h").unwrap();
    assert_eq!((r.interval, r.duration), (604800, 3600));
    assert_eq!(r.offsets().collect::<Vec<_>>(), [0, 90000]);
    assert_eq!(
        Repeat::parse("604800 3600 0 90000")
            .unwrap()
            .offsets()
            .collect::<Vec<_>>(),
        [0, 90000]
    );
    for bad in ["7d 1h", "7x 1h 0", "7d 1h 0 y", ""] {
        assert_eq!(
            Repeat::parse(bad).map_err(|e| e.kind),
            Err(ErrorKind::SdpTiming),
            "{bad}"
        );
    }

    let z = TimeZones::parse("2882844526 -1h 2898848070 0").unwrap();
    assert_eq!(
        z.adjustments().collect::<Vec<_>>(),
        [(2882844526, -3600), (2898848070, 0)]
    );
    for bad in ["2882844526", "x 1h", "", "1 --1h"] {
        assert_eq!(
            TimeZones::parse(bad).map_err(|e| e.kind),
            Err(ErrorKind::SdpTiming),
            "{bad}"
        );
    }

    assert_eq!(
        Key::parse("prompt"),
        Ok(Key {
            method: "prompt",
            key: None
        })
    );
    assert_eq!(
        Key::parse("clear:secret"),
        Ok(Key {
            method: "clear",
            key: Some("secret")
        })
    );
    assert_eq!(Key::parse(":x").map_err(|e| e.kind), Err(ErrorKind::SdpKey));

    // All of them in one body, with r= after t= and z= and k= at session level.
    let s = body(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "b=CT:1000",
        "t=3034423619 3042462419",
        "r=7d 1h 0 25h",
        "r=1d 1h 0",
        "t=0 0",
        "z=2882844526 -1h",
        "k=prompt",
        "m=audio 1 RTP/AVP 0",
        "b=AS:64",
        "b=RR:0",
        "k=clear:x",
    ]);
    let sdp = ok(&s);
    let times: Vec<_> = sdp.times().collect();
    assert_eq!(times.len(), 2);
    assert_eq!(times[0].repeats().count(), 2);
    assert_eq!(times[1].repeats().count(), 0);
    assert_eq!(sdp.zones().map(|z| z.0), Some("2882844526 -1h"));
    assert_eq!(sdp.key().map(|k| k.method), Some("prompt"));
    let m = sdp.media().next().unwrap();
    assert_eq!(m.bandwidths().count(), 2);
    assert_eq!(m.key().and_then(|k| k.key), Some("x"));
    // A bad value inside a body is reported at its absolute offset.
    let bad = with_head(&["m=audio 1 RTP/AVP 0", "b=AS:x"]);
    assert_eq!(
        kind_at(&bad),
        (ErrorKind::SdpBandwidth, bad.find("x\r").unwrap())
    );
}

#[test]
fn effective_connection_and_direction() {
    let s = body(&[
        "v=0",
        "o=- 1 1 IN IP4 192.0.2.1",
        "s=-",
        "c=IN IP4 192.0.2.1",
        "t=0 0",
        "a=sendonly",
        "m=audio 1000 RTP/AVP 0",
        "m=audio 2000 RTP/AVP 0",
        "c=IN IP4 198.51.100.1",
        "a=inactive",
    ]);
    let sdp = ok(&s);
    assert_eq!(sdp.direction(), Some(Direction::SendOnly));
    let m: Vec<_> = sdp.media().collect();
    assert_eq!(
        m[0].connection().map(|c| c.address.to_string()).as_deref(),
        Some("192.0.2.1")
    );
    assert_eq!(m[0].direction(), Direction::SendOnly);
    assert_eq!(
        m[1].connection().map(|c| c.address.to_string()).as_deref(),
        Some("198.51.100.1")
    );
    assert_eq!(m[1].direction(), Direction::Inactive);
    // No direction anywhere: sendrecv.
    let plain = ok(&with_head(&["m=audio 1000 RTP/AVP 0"]))
        .media()
        .next()
        .unwrap()
        .direction();
    assert_eq!(plain, Direction::SendRecv);
    // Multiple media c= lines (layered multicast) are allowed; the first applies.
    let multi = with_head(&[
        "m=video 1 RTP/AVP 31",
        "c=IN IP4 224.2.1.1/127",
        "c=IN IP4 224.2.1.2/127",
    ]);
    let sdp = ok(&multi);
    let m = sdp.media().next().unwrap();
    assert_eq!(m.connections().count(), 2);
    assert_eq!(m.connection().and_then(|c| c.ttl), Some(127));
}

#[test]
fn limits_are_enforced() {
    let tight = Limits {
        max_size: 4096,
        max_media: 2,
        max_attributes: 3,
        max_lines: 2,
        max_formats: 4,
    };
    let parse = |s: &str| {
        SessionDescription::parse_with(s.as_bytes(), &tight)
            .map(drop)
            .map_err(|e| e.kind)
    };

    let three_media = with_head(&[
        "m=audio 1 RTP/AVP 0",
        "m=audio 2 RTP/AVP 0",
        "m=audio 3 RTP/AVP 0",
    ]);
    assert_eq!(parse(&three_media).err(), Some(ErrorKind::SdpTooManyMedia));
    let attrs = with_head(&["a=a", "a=b", "a=c", "a=d"]);
    assert_eq!(parse(&attrs).err(), Some(ErrorKind::SdpTooManyAttributes));
    // The counter is per section.
    let per_section = with_head(&[
        "a=a",
        "a=b",
        "a=c",
        "m=audio 1 RTP/AVP 0",
        "a=a",
        "a=b",
        "a=c",
    ]);
    assert!(parse(&per_section).is_ok());
    let lines = with_head(&["b=AS:1", "b=AS:2"]);
    assert_eq!(parse(&lines).err(), Some(ErrorKind::SdpTooManyLines));
    let formats = with_head(&["m=audio 1 RTP/AVP 0 1 2 3 4"]);
    assert_eq!(parse(&formats).err(), Some(ErrorKind::SdpTooManyFormats));
    let big = "a".repeat(5000);
    let e = SessionDescription::parse_with(big.as_bytes(), &tight).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::SdpTooLarge, 4096));
}

#[test]
fn non_utf8_is_rejected_with_offset() {
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(b"i=caf\xe9\r\n");
    let e = SessionDescription::parse(&bytes).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::SdpNotUtf8, HEAD.len() + 5));
    // UTF-8 text is fine.
    let s = with_head(&["i=café ☎"]);
    assert_eq!(ok(&s).information(), Some("café ☎"));
}

#[test]
fn parses_from_bytes_zero_copy() {
    let bytes = bytes::Bytes::from(with_head(&["m=audio 1 RTP/AVP 0"]));
    let sdp = SessionDescription::parse(&bytes).unwrap();
    let name = sdp.name();
    // The view points into the Bytes buffer, and slice_ref turns it into a shared Bytes.
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    assert!(range.contains(&(name.as_ptr() as usize)));
    assert_eq!(bytes.slice_ref(name.as_bytes()), "-");
}
