//! `CreateCall` / `TransferCall` validation, called directly.

use std::collections::HashMap;
use std::time::Duration;

use control::error::ApiError;
use control::proto::livekit as pb;
use control::validate::{
    DTMF_PAUSE, Dtmf, DtmfStep, MAX_ATTRIBUTES, MAX_HEADERS, SipDest, TrunkRef,
};
use control::{CreateCall, TransferCall, TwirpCode};

fn req() -> pb::CreateSipParticipantRequest {
    pb::CreateSipParticipantRequest {
        sip_trunk_id: "ST_1".into(),
        sip_call_to: "+15551234567".into(),
        room_name: "room".into(),
        ..Default::default()
    }
}

fn field(e: &ApiError) -> String {
    match e {
        ApiError::InvalidArgument { field, .. } | ApiError::Unsupported { field, .. } => {
            field.clone()
        }
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn defaults() {
    let c = CreateCall::from_proto(req()).unwrap();
    assert_eq!(
        c.ringing_timeout,
        control::validate::DEFAULT_RINGING_TIMEOUT
    );
    assert_eq!(c.ringing_timeout, Duration::from_secs(30));
    assert_eq!(c.max_call_duration, Duration::from_secs(86_400));
    assert_eq!(c.participant_identity, "sip_+15551234567");
    assert_eq!(c.trunk, TrunkRef::Id("ST_1".into()));
    assert!(c.dtmf.is_empty());
    assert!(c.media.codecs.is_empty());
    assert_eq!(c.display_name, None);
}

#[test]
fn zero_durations_mean_default_and_bounds_are_inclusive() {
    let mut r = req();
    r.ringing_timeout = Some(pbjson_types_duration(0, 0));
    r.max_call_duration = Some(pbjson_types_duration(0, 0));
    let c = CreateCall::from_proto(r).unwrap();
    assert_eq!(c.ringing_timeout, Duration::from_secs(30));
    assert_eq!(c.max_call_duration, Duration::from_secs(86_400));
    for (secs, ok) in [(1, true), (600, true), (601, false)] {
        let mut r = req();
        r.ringing_timeout = Some(pbjson_types_duration(secs, 0));
        assert_eq!(CreateCall::from_proto(r).is_ok(), ok, "{secs}");
    }
    let mut r = req();
    r.ringing_timeout = Some(pbjson_types_duration(5, 1_000_000_000));
    assert_eq!(
        field(&CreateCall::from_proto(r).unwrap_err()),
        "ringing_timeout"
    );
}

fn pbjson_types_duration(seconds: i64, nanos: i32) -> pbjson_types::Duration {
    pbjson_types::Duration { seconds, nanos }
}

#[test]
fn dtmf_steps_are_rfc4733_events() {
    let d = Dtmf::parse("0159*#abcdw").unwrap();
    let steps: Vec<_> = d.steps().collect();
    use DtmfStep::*;
    assert_eq!(
        steps,
        [
            Digit(0),
            Digit(1),
            Digit(5),
            Digit(9),
            Digit(10),
            Digit(11),
            Digit(12),
            Digit(13),
            Digit(14),
            Digit(15),
            Pause
        ]
    );
    assert_eq!(DTMF_PAUSE, Duration::from_millis(500));
    for bad in ["e", "1 2", "٣", "x", "1,2"] {
        assert!(Dtmf::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn header_and_attribute_counts_are_bounded() {
    let mut r = req();
    r.headers = (0..=MAX_HEADERS)
        .map(|i| (format!("X-H{i}"), "v".into()))
        .collect::<HashMap<_, _>>();
    assert_eq!(field(&CreateCall::from_proto(r).unwrap_err()), "headers");
    let mut r = req();
    r.headers = (0..MAX_HEADERS)
        .map(|i| (format!("X-H{i}"), "v\tw".into()))
        .collect::<HashMap<_, _>>();
    assert!(
        CreateCall::from_proto(r).is_ok(),
        "exactly the maximum, HTAB allowed"
    );
    let mut r = req();
    r.participant_attributes = (0..=MAX_ATTRIBUTES)
        .map(|i| (format!("k{i}"), "v".into()))
        .collect::<HashMap<_, _>>();
    assert_eq!(
        field(&CreateCall::from_proto(r).unwrap_err()),
        "participant_attributes"
    );
}

#[test]
fn reserved_headers_in_any_case_and_compact_form() {
    for name in [
        "VIA",
        "v",
        "From",
        "f",
        "TO",
        "t",
        "Call-Id",
        "i",
        "cseq",
        "Contact",
        "m",
        "Max-Forwards",
        "content-length",
        "l",
        "Content-Type",
        "c",
        "Route",
        "Record-Route",
        "Authorization",
        "Proxy-Authorization",
        "Refer-To",
        "r",
    ] {
        let mut r = req();
        r.headers = HashMap::from([(name.to_owned(), "x".to_owned())]);
        let e = CreateCall::from_proto(r).unwrap_err();
        assert_eq!(e.code(), TwirpCode::InvalidArgument, "{name}");
    }
    let mut r = req();
    r.headers = HashMap::from([
        ("X-Customer".to_owned(), "42".to_owned()),
        ("User-to-User".to_owned(), "abc;encoding=hex".to_owned()),
    ]);
    assert!(CreateCall::from_proto(r).is_ok());
}

#[test]
fn request_uri_alone_is_enough() {
    let mut r = req();
    r.sip_call_to.clear();
    r.sip_request_uri = Some(pb::SipRequestDest {
        uri: Some(pb::sip_request_dest::Uri::Raw(
            "sip:+1555@carrier.example;user=phone".into(),
        )),
    });
    r.participant_identity = "p".into();
    let c = CreateCall::from_proto(r).unwrap();
    assert_eq!(
        c.request_uri,
        Some(SipDest::Raw("sip:+1555@carrier.example;user=phone".into()))
    );
    // Without an identity and without a user to derive one from: refused.
    let mut r = req();
    r.sip_call_to.clear();
    r.sip_request_uri = Some(pb::SipRequestDest {
        uri: Some(pb::sip_request_dest::Uri::Raw("sip:carrier.example".into())),
    });
    assert_eq!(
        field(&CreateCall::from_proto(r).unwrap_err()),
        "participant_identity"
    );
    // An empty oneof is not a URI.
    let mut r = req();
    r.sip_request_uri = Some(pb::SipRequestDest { uri: None });
    assert_eq!(
        field(&CreateCall::from_proto(r).unwrap_err()),
        "sip_request_uri"
    );
}

#[test]
fn unknown_enum_values_are_invalid_not_ignored() {
    let mut r = req();
    r.media_encryption = 7;
    assert_eq!(
        CreateCall::from_proto(r).unwrap_err().code(),
        TwirpCode::InvalidArgument
    );
    let mut r = req();
    r.include_headers = 9;
    assert_eq!(
        CreateCall::from_proto(r).unwrap_err().code(),
        TwirpCode::InvalidArgument
    );
    let mut r = req();
    r.sip_trunk_id.clear();
    r.trunk = Some(pb::SipOutboundConfig {
        hostname: "h".into(),
        transport: 9,
        ..Default::default()
    });
    assert_eq!(
        field(&CreateCall::from_proto(r).unwrap_err()),
        "trunk.transport"
    );
}

#[test]
fn transfer() {
    let ok = pb::TransferSipParticipantRequest {
        participant_identity: "sip_1".into(),
        room_name: "room".into(),
        transfer_to: "sip:bob@example.com".into(),
        ..Default::default()
    };
    let t = TransferCall::from_proto(ok.clone()).unwrap();
    assert_eq!(t.ringing_timeout, Duration::from_secs(30));
    // 100 ns is not "unset": it is below the 1 s minimum.
    let mut bad = ok.clone();
    bad.ringing_timeout = Some(pbjson_types_duration(0, 100));
    assert_eq!(
        field(&TransferCall::from_proto(bad).unwrap_err()),
        "ringing_timeout"
    );
    for name in ["CSeq", "Refer-To", "r"] {
        let mut bad = ok.clone();
        bad.headers = HashMap::from([(name.to_owned(), "sip:eve@example.com".to_owned())]);
        assert_eq!(
            field(&TransferCall::from_proto(bad).unwrap_err()),
            "headers",
            "{name}"
        );
    }
    let mut bad = ok;
    bad.transfer_to = "sip:".into();
    assert!(TransferCall::from_proto(bad).is_err());
}
