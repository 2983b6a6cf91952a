//! Shared test fixtures: a fake `CallService`, tokens, and a tiny Twirp client.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use control::proto::livekit as pb;
use control::service::{CallDirection, CallFilter, CallState, TransferOutcome};
use control::{
    ApiConfig, ApiTimings, CallError, CallId, CallInfo, CallService, CreateCall, Deadline,
    SipStatus, TimeoutCause, TransferCall, TwirpCode,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tower::ServiceExt;

pub const KEY: &str = "devkey";
pub const SECRET: &str = "a-secret-of-at-least-32-characters......";
pub const SETUP: Duration = Duration::from_secs(5);
pub const MARGIN: Duration = Duration::from_secs(1);
pub const MAX_BODY: usize = 64 * 1024;

/// What the fake saw of one create.
#[derive(Debug, Clone)]
pub struct SeenCreate {
    pub req: CreateCall,
    /// Remaining budget of the deadline when the fake was called.
    pub budget: Duration,
    pub key: Option<String>,
}

/// A `CallService` whose behaviour is chosen by `sip_call_to`:
/// - `busy` → 486 Busy Here
/// - `ringout` → `RingNoAnswer` at once
/// - `noanswer` → rings for `ringing_timeout`, then `RingNoAnswer`
/// - anything else → answers after `delay`.
#[derive(Default)]
pub struct Fake {
    pub creates: AtomicUsize,
    pub completed: AtomicUsize,
    pub delay: Mutex<Duration>,
    pub seen: Mutex<Vec<SeenCreate>>,
    pub seen_deadlines: Mutex<Vec<Duration>>,
}

impl Fake {
    pub fn with_delay(delay: Duration) -> Arc<Self> {
        let f = Self::default();
        *f.delay.lock().unwrap() = delay;
        Arc::new(f)
    }

    pub fn creates(&self) -> usize {
        self.creates.load(Ordering::SeqCst)
    }

    pub fn last(&self) -> SeenCreate {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a create was seen")
    }

    fn info(id: &str, req_identity: &str, room: &str) -> CallInfo {
        CallInfo {
            call_id: CallId(id.to_owned()),
            participant_id: format!("PA_{id}"),
            participant_identity: req_identity.to_owned(),
            room_name: room.to_owned(),
            state: CallState::Active,
            direction: CallDirection::Outbound,
            trunk_id: "ST_test".into(),
            from_number: "+15550000000".into(),
            to_number: "+15551234567".into(),
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            answered_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_005)),
            ended_at: None,
            end: None,
        }
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl CallService for Fake {
    async fn create_call(
        &self,
        req: CreateCall,
        deadline: Deadline,
        idempotency_key: Option<String>,
    ) -> Result<CallInfo, CallError> {
        let n = self.creates.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.lock().unwrap().push(SeenCreate {
            req: req.clone(),
            budget: deadline.remaining(now()),
            key: idempotency_key,
        });
        let delay = *self.delay.lock().unwrap();
        let out = match req.call_to.as_str() {
            "busy" => Err(CallError::sip(SipStatus {
                code: 486,
                reason: "Busy Here".into(),
            })),
            // A ring-out reported at once (for real-time tests).
            "ringout" => Err(CallError::timeout(
                TimeoutCause::RingNoAnswer,
                "callee did not answer",
            )
            .with_sip_status(SipStatus {
                code: 408,
                reason: "Request Timeout".into(),
            })),
            "noanswer" => {
                tokio::time::sleep(req.ringing_timeout).await;
                Err(CallError::timeout(
                    TimeoutCause::RingNoAnswer,
                    "callee did not answer",
                ))
            }
            _ => {
                tokio::time::sleep(delay).await;
                Ok(Self::info(
                    &format!("SCL_{n}"),
                    &req.participant_identity,
                    &req.room_name,
                ))
            }
        };
        self.completed.fetch_add(1, Ordering::SeqCst);
        out
    }

    async fn list_calls(
        &self,
        filter: CallFilter,
        deadline: Deadline,
    ) -> Result<Vec<CallInfo>, CallError> {
        self.seen_deadlines
            .lock()
            .unwrap()
            .push(deadline.remaining(now()));
        let all = vec![
            Self::info("SCL_a", "sip_a", "room1"),
            Self::info("SCL_b", "sip_b", "room2"),
        ];
        Ok(all
            .into_iter()
            .filter(|c| filter.room_name.as_ref().is_none_or(|r| *r == c.room_name))
            .collect())
    }

    async fn get_call(&self, call_id: CallId, _deadline: Deadline) -> Result<CallInfo, CallError> {
        if call_id.0 == "SCL_a" {
            Ok(Self::info("SCL_a", "sip_a", "room1"))
        } else {
            Err(CallError::new(TwirpCode::NotFound, "no such call"))
        }
    }

    async fn hangup_call(
        &self,
        call_id: CallId,
        _deadline: Deadline,
    ) -> Result<CallInfo, CallError> {
        let mut info = self.get_call(call_id, _deadline).await?;
        info.state = CallState::Ended;
        info.ended_at = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_100));
        info.end = Some(control::service::CallEnd {
            cause: control::service::EndCause::ApiHangup,
            sip_status: None,
            timeout_cause: None,
        });
        Ok(info)
    }

    async fn transfer(
        &self,
        _req: TransferCall,
        _deadline: Deadline,
    ) -> Result<TransferOutcome, CallError> {
        Err(CallError::new(
            TwirpCode::Unimplemented,
            "REFER is not supported yet",
        ))
    }
}

pub fn config() -> ApiConfig {
    ApiConfig {
        keys: BTreeMap::from([(KEY.to_owned(), SECRET.to_owned())]),
        timings: ApiTimings {
            setup_allowance: SETUP,
            answer_margin: MARGIN,
        },
        max_body_bytes: MAX_BODY,
        idempotency_max_entries: 1024,
        idempotency_retention: Duration::from_secs(600),
    }
}

/// The catalog every test app serves: one outbound trunk from the "config file".
pub fn catalog() -> control::Catalog {
    let file = control::FileEntries {
        outbound: vec![pb::SipOutboundTrunkInfo {
            sip_trunk_id: "ST_test".into(),
            name: "test trunk".into(),
            address: "127.0.0.1:5080".into(),
            numbers: vec!["+15550000000".into()],
            auth_username: "user".into(),
            auth_password: "hunter2".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    control::Catalog::open_seeded(None, file, 1).unwrap()
}

pub fn app(fake: &Arc<Fake>) -> Router {
    control::router(Arc::clone(fake), catalog(), config())
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token for `KEY` with the given `sip` grants, valid for 10 minutes.
pub fn token(call: bool, admin: bool) -> String {
    token_with(
        serde_json::json!({
            "iss": KEY, "sub": "room-server", "nbf": unix_now() - 5, "exp": unix_now() + 600,
            "sip": {"call": call, "admin": admin}, "video": {}
        }),
        SECRET,
    )
}

pub fn token_with(claims: serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a Twirp error with `code` and HTTP `status`; returns its JSON.
    pub fn twirp_error(&self, status: u16, code: &str) -> serde_json::Value {
        let v = self.json();
        assert_eq!(self.status.as_u16(), status, "status for {v}");
        assert_eq!(self.content_type, "application/json");
        assert_eq!(v["code"], code, "{v}");
        assert!(v["msg"].is_string(), "{v}");
        assert!(v["meta"].is_object(), "{v}");
        v
    }

    pub fn proto<M: prost::Message + Default>(&self) -> M {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type, "application/protobuf");
        M::decode(self.body.as_slice()).expect("decode")
    }
}

/// One request through the router without a socket.
pub async fn post(
    app: &Router,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    headers: &[(&str, String)],
) -> Reply {
    let mut req = Request::post(path).header("content-type", content_type);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

pub fn bearer(t: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {t}"))
}

/// POST a JSON body with a `sip.call` token.
pub async fn post_json(
    app: &Router,
    method: &str,
    body: serde_json::Value,
    extra: &[(&str, String)],
) -> Reply {
    let mut headers = vec![bearer(&token(true, false))];
    headers.extend(extra.iter().cloned());
    post(
        app,
        &format!("/twirp/livekit.SIP/{method}"),
        "application/json",
        body.to_string().into_bytes(),
        &headers,
    )
    .await
}

/// A minimal valid create request.
pub fn create_req() -> pb::CreateSipParticipantRequest {
    pb::CreateSipParticipantRequest {
        sip_trunk_id: "ST_test".into(),
        sip_call_to: "+15551234567".into(),
        room_name: "room1".into(),
        ..Default::default()
    }
}

/// A hand-written HTTP/1.1 POST over a real socket (`Connection: close`), returning
/// status and de-chunked body.
pub async fn raw_post(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        token(true, false),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    // Bounded: Connection: close ends the read; the byte count is capped too.
    (&mut s).take(1 << 20).read_to_end(&mut buf).await.unwrap();
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = buf[head_end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + n]);
        b = &b[line_end + 2 + n + 2..];
    }
    out
}
