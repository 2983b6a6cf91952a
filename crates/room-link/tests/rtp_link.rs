//! The plain-RTP room link against an in-test room server (axum on loopback, OS-chosen
//! ports): it answers the SDP offer with this crate's own answerer and echoes RTP back.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use room_link::offer_answer::{LocalEndpoint, MediaConfig, SdpSession};
use room_link::rtp::{RtpLinkConfig, RtpRooms};
use room_link::{AudioFrame, Error, JoinRequest, MediaCapabilities, RoomEvent, RoomLink};
use rtp_relay::codec::{Codec, CodecKind};
use rtp_relay::rtp::RtpPacket;
use tokio::net::{TcpListener, UdpSocket};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Safety bound on every wait in these tests (not a speed assertion).
const BOUND: Duration = Duration::from_secs(10);

/// One POST as the server saw it: room, Authorization, Content-Type, identity header.
type Post = (String, Option<String>, Option<String>, Option<String>);

#[derive(Default)]
struct Seen {
    posts: Vec<Post>,
    deletes: Vec<(String, Option<String>)>,
    datagrams: Vec<Vec<u8>>,
    /// The SDP offers as posted.
    offers: Vec<String>,
}

#[derive(Clone)]
struct Fixture {
    seen: Arc<Mutex<Seen>>,
    echo: SocketAddr,
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn join(
    State(f): State<Fixture>,
    Path(room): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    f.seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .posts
        .push((
            room.clone(),
            header_str(&headers, header::AUTHORIZATION),
            header_str(&headers, header::CONTENT_TYPE),
            headers
                .get("x-participant-identity")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        ));
    f.seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .offers
        .push(String::from_utf8_lossy(&body).into_owned());
    match room.as_str() {
        "full" => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "empty" => {
            let mut resp = StatusCode::CREATED.into_response();
            resp.headers_mut().insert(
                header::LOCATION,
                header::HeaderValue::from_static("session/empty"),
            );
            return resp;
        }
        "forbidden" => return StatusCode::FORBIDDEN.into_response(),
        "slow" => {
            // Never answers within the test's deadline.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return StatusCode::OK.into_response();
        }
        _ => {}
    }
    let cfg = MediaConfig::new(vec![Codec::with_default_pt(CodecKind::Pcmu)]);
    let local = LocalEndpoint {
        address: f.echo.ip(),
        rtp_port: f.echo.port(),
    };
    let answer = match SdpSession::new(99).answer(&body, &cfg, local) {
        Ok((a, _)) => a,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let mut resp = (StatusCode::CREATED, answer.to_vec()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/sdp"),
    );
    if room != "nolocation" {
        // Relative to the POST URL: /rooms/{room}/session/{room}.
        if let Ok(v) = header::HeaderValue::from_str(&format!("session/{room}")) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    resp
}

async fn leave(
    State(f): State<Fixture>,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> StatusCode {
    f.seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .deletes
        .push((
            format!("{room}/{id}"),
            header_str(&headers, header::AUTHORIZATION),
        ));
    StatusCode::NO_CONTENT
}

/// Starts the room server: HTTP signaling and a UDP socket that echoes every datagram.
async fn start_fixture() -> (SocketAddr, Fixture) {
    let udp = UdpSocket::bind((LOOPBACK, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let echo = udp.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            seen2
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .datagrams
                .push(buf[..n].to_vec());
            if udp.send_to(&buf[..n], from).await.is_err() {
                break;
            }
        }
    });
    let fixture = Fixture { seen, echo };
    let app = Router::new()
        .route("/rooms/{room}/whip", post(join))
        .route("/rooms/{room}/session/{id}", delete(leave))
        .with_state(fixture.clone());
    let listener = TcpListener::bind((LOOPBACK, 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, fixture)
}

fn request(room: &str, codecs: Vec<Codec>) -> JoinRequest {
    JoinRequest {
        room: room.to_owned(),
        identity: "sip_+15550100".to_owned(),
        name: "Phone".to_owned(),
        attributes: Vec::new(),
        media: MediaCapabilities {
            codecs,
            telephone_event: Some(101),
            ptime: Duration::from_millis(20),
        },
    }
}

fn link(http: SocketAddr) -> RtpRooms {
    let mut cfg = RtpLinkConfig::new(format!("http://{http}/rooms/{{room}}/whip"), LOOPBACK);
    cfg.bearer_token = Some("secret-token".to_owned());
    cfg.seed = 3;
    RtpRooms::new(cfg)
}

fn deadline() -> std::time::Instant {
    tokio::time::Instant::now().into_std() + BOUND
}

#[tokio::test]
async fn payloads_pass_through_untouched_both_ways_and_leave_deletes() {
    let (http, fixture) = start_fixture().await;
    let link = link(http);
    assert_eq!(link.kind(), "rtp");
    // The phone leg is G.722 first, then PCMU; the room only takes PCMU.
    let codecs = vec![
        Codec::with_default_pt(CodecKind::G722),
        Codec::with_default_pt(CodecKind::Pcmu),
    ];
    let session = link
        .join(request("r1", codecs), deadline())
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    let media = session.info().media;
    assert_eq!(media.codec, Codec::with_default_pt(CodecKind::Pcmu));
    assert_eq!(media.telephone_event, Some(101));

    let payloads: Vec<Vec<u8>> = (0..20u8)
        .map(|i| {
            (0..160)
                .map(|j| i.wrapping_mul(31).wrapping_add(j as u8))
                .collect()
        })
        .collect();
    for (i, p) in payloads.iter().enumerate() {
        session
            .send_audio(AudioFrame {
                payload_type: 0,
                sequence: 1000 + i as u16,
                timestamp: 8000 + 160 * i as u32,
                marker: i == 0,
                payload: Bytes::from(p.clone()),
            })
            .unwrap_or_else(|e| panic!("{e}"));
        // Pace like a phone would, so the echo keeps order on loopback.
        tokio::task::yield_now().await;
    }
    let mut echoed = Vec::new();
    while echoed.len() < payloads.len() {
        match tokio::time::timeout(BOUND, session.recv()).await {
            Ok(Some(RoomEvent::Audio(f))) => echoed.push(f),
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) | Err(_) => panic!("echo incomplete: {} frames", echoed.len()),
        }
    }
    let got: Vec<Vec<u8>> = echoed.iter().map(|f| f.payload.to_vec()).collect();
    assert_eq!(
        got, payloads,
        "payload bytes identical after the round trip"
    );
    assert!(echoed.iter().all(|f| f.payload_type == 0));
    assert_eq!(echoed[0].timestamp, 8000);

    // What the room server received: PCMU, one SSRC, consecutive sequence numbers.
    {
        let seen = fixture.seen.lock().unwrap_or_else(|e| e.into_inner());
        let pkts: Vec<RtpPacket<'_>> = seen
            .datagrams
            .iter()
            .filter_map(|d| RtpPacket::parse(d).ok())
            .collect();
        assert_eq!(pkts.len(), 20);
        for (i, p) in pkts.iter().enumerate() {
            assert_eq!(p.payload_type(), 0);
            assert_eq!(p.payload(), payloads[i].as_slice());
            assert_eq!(p.ssrc(), pkts[0].ssrc());
            assert_eq!(p.sequence(), pkts[0].sequence().wrapping_add(i as u16));
            assert_eq!(p.marker(), i == 0);
        }
        let (room, auth, ct, identity) = &seen.posts[0];
        assert_eq!(room, "r1");
        assert_eq!(auth.as_deref(), Some("Bearer secret-token"));
        assert_eq!(ct.as_deref(), Some("application/sdp"));
        assert_eq!(identity.as_deref(), Some("sip_+15550100"));
    }

    // DTMF toward the room goes out as RFC 4733 events; the echo brings them back, and the
    // digit surfaces exactly once.
    session
        .send_dtmf('7', Duration::from_millis(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut digits = Vec::new();
    let quiet = Duration::from_millis(300);
    while let Ok(Some(ev)) = tokio::time::timeout(quiet, session.recv()).await {
        if let RoomEvent::Dtmf { digit, .. } = ev {
            digits.push(digit);
        }
    }
    assert_eq!(digits, vec!['7']);
    {
        let seen = fixture.seen.lock().unwrap_or_else(|e| e.into_inner());
        let te = seen
            .datagrams
            .iter()
            .filter_map(|d| RtpPacket::parse(d).ok())
            .filter(|p| p.payload_type() == 101)
            .count();
        assert!(te >= 4, "first, updates and three end packets: {te}");
    }

    session
        .leave()
        .await
        .unwrap_or_else(|e| panic!("leave: {e}"));
    let seen = fixture.seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(
        seen.deletes,
        vec![("r1/r1".to_owned(), Some("Bearer secret-token".to_owned()))]
    );
}

#[tokio::test]
async fn dropping_the_session_still_deletes() {
    let (http, fixture) = start_fixture().await;
    let link = link(http);
    let session = link
        .join(
            request("dropped", vec![Codec::with_default_pt(CodecKind::Pcmu)]),
            deadline(),
        )
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    drop(session);
    for _ in 0..200 {
        if !fixture
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .deletes
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = fixture.seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(seen.deletes.len(), 1);
    assert_eq!(seen.deletes[0].0, "dropped/dropped");
}

#[tokio::test]
async fn room_server_errors_are_mapped() {
    let (http, fixture) = start_fixture().await;
    let link = link(http);
    let pcmu = || vec![Codec::with_default_pt(CodecKind::Pcmu)];
    let cases = [
        ("full", Error::Rejected { status: 503 }),
        ("forbidden", Error::Rejected { status: 403 }),
        ("nolocation", Error::BadResponse("201 without Location")),
        ("empty", Error::BadResponse("201 without an SDP answer")),
    ];
    for (room, want) in cases {
        let err = link
            .join(request(room, pcmu()), deadline())
            .await
            .err()
            .unwrap_or_else(|| panic!("{room}: joined"));
        assert_eq!(err, want, "{room}");
        assert_eq!(err.cause(), "room_link_failed", "{room}");
        assert_eq!(err.sip_status(), 503, "{room}");
    }
    // The session created without an answer was removed again.
    assert_eq!(
        fixture
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .deletes
            .iter()
            .map(|d| d.0.as_str())
            .collect::<Vec<_>>(),
        vec!["empty/empty"]
    );
    // No common codec with the room: the answerer's 400 comes back as a rejection.
    let err = link
        .join(
            request("r2", vec![Codec::with_default_pt(CodecKind::G722)]),
            deadline(),
        )
        .await
        .err();
    assert_eq!(err, Some(Error::Rejected { status: 400 }));

    // The caller's deadline bounds a server that never answers.
    let short = tokio::time::Instant::now().into_std() + Duration::from_millis(200);
    let err = link.join(request("slow", pcmu()), short).await.err();
    assert!(
        matches!(err, Some(Error::Timeout { step: "join", .. })),
        "{err:?}"
    );
    assert_eq!(err.map(|e| e.cause()), Some("room_link_timeout"));
}

#[tokio::test]
async fn unreachable_and_unsupported_urls_are_mapped() {
    // A port nobody listens on: bind, read the port, close.
    let port = {
        let l = TcpListener::bind((LOOPBACK, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
    };
    let link = RtpRooms::new(RtpLinkConfig::new(
        format!("http://127.0.0.1:{port}/rooms/{{room}}"),
        LOOPBACK,
    ));
    let pcmu = vec![Codec::with_default_pt(CodecKind::Pcmu)];
    let err = link
        .join(request("r", pcmu.clone()), deadline())
        .await
        .err();
    assert!(matches!(err, Some(Error::Unreachable(_))), "{err:?}");

    let link = RtpRooms::new(RtpLinkConfig::new("https://rooms.invalid/{room}", LOOPBACK));
    let err = link.join(request("r", pcmu), deadline()).await.err();
    assert!(matches!(err, Some(Error::BadUrl(_))), "{err:?}");
}

#[tokio::test]
async fn silence_from_the_room_ends_the_session_as_a_link_failure() {
    let (http, fixture) = start_fixture().await;
    let mut cfg = RtpLinkConfig::new(format!("http://{http}/rooms/{{room}}/whip"), LOOPBACK);
    cfg.media_timeout = Some(Duration::from_millis(300));
    let link = RtpRooms::new(cfg);
    let session = link
        .join(
            request("quiet", vec![Codec::with_default_pt(CodecKind::Pcmu)]),
            deadline(),
        )
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    // We send nothing, so the echo server sends nothing back.
    let mut end = None;
    while let Ok(Some(ev)) = tokio::time::timeout(BOUND, session.recv()).await {
        if let RoomEvent::Closed(reason) = ev {
            end = Some(reason);
        }
    }
    assert_eq!(end, Some(room_link::CloseReason::LinkFailed));
    assert!(
        session
            .send_audio(AudioFrame {
                payload_type: 0,
                sequence: 0,
                timestamp: 0,
                marker: false,
                payload: Bytes::from_static(&[0xff; 160]),
            })
            .is_err()
    );
    // Leaving still removes the server's session.
    session
        .leave()
        .await
        .unwrap_or_else(|e| panic!("leave: {e}"));
    let seen = fixture.seen.lock().unwrap_or_else(|e| e.into_inner());
    assert_eq!(seen.deletes.len(), 1);
}

/// A phone on PCMU that also lets the room choose Opus: the offer tells the room the bridge
/// plays and captures 8 kHz (RFC 7587 §6.1), so a compliant room sends narrowband Opus.
#[tokio::test]
async fn an_opus_offer_for_a_narrowband_phone_declares_8_khz() {
    let (http, fixture) = start_fixture().await;
    let link = link(http);
    let codecs = vec![
        Codec::with_default_pt(CodecKind::Pcmu),
        Codec::with_default_pt(CodecKind::Opus),
    ];
    let session = link
        .join(request("narrow", codecs), deadline())
        .await
        .unwrap_or_else(|e| panic!("join: {e}"));
    let offer = fixture
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .offers
        .last()
        .cloned()
        .unwrap_or_default();
    let pt = Codec::with_default_pt(CodecKind::Opus).payload_type;
    let fmtp = offer
        .lines()
        .find(|l| l.starts_with(&format!("a=fmtp:{pt} ")))
        .unwrap_or_else(|| panic!("no Opus fmtp in\n{offer}"));
    assert!(
        fmtp.contains("maxplaybackrate=8000") && fmtp.contains("sprop-maxcapturerate=8000"),
        "{fmtp}"
    );
    let _ = session.leave().await;
}
