//! The HTTP side: Twirp routing, encodings, auth, deadlines, idempotency and
//! metrics, in front of a [`CallService`].
//!
//! No request timeout layer exists here on purpose: a synchronous create may
//! legitimately take `ringing_timeout` + setup. Each request is bounded by its own
//! [`Deadline`] instead.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method as HttpMethod, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use tracing::Instrument;

use crate::auth::{Authenticator, Claims};
use crate::catalog::{Catalog, CatalogError};
use crate::deadline::{ApiTimings, Deadline, TimeoutCause};
use crate::error::{ApiError, CallError, TwirpCode};
use crate::idempotency::{Claim, IdempotencyError, IdempotencyMap};
use crate::proto::livekit as pb;
use crate::proto::sipbridge as cb;
use crate::service::{CallDirection, CallFilter, CallId, CallInfo, CallService, CallState};
use crate::updates;
use crate::validate::{CreateCall, TransferCall};

/// Counter of API requests, labels `method`, `code` (`ok` or the Twirp code) and
/// `timeout_cause` (`none` unless a timeout).
pub const METRIC_REQUESTS: &str = "sipbridge_api_requests_total";
/// Histogram of API request durations in seconds, labels `method` and `code`.
pub const METRIC_DURATION: &str = "sipbridge_api_request_duration_seconds";
/// Header carrying the caller's remaining budget in milliseconds.
pub const DEADLINE_HEADER: &str = "x-deadline-ms";
/// Header carrying the idempotency key (sent by the LiveKit server SDKs, kept
/// across their retries).
pub const REQUEST_ID_HEADER: &str = "x-livekit-request-id";
/// Longest accepted idempotency key.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// What the gateway hands the router, all from its config file.
///
/// `Debug` prints the API key names, never their secrets.
#[derive(Clone)]
pub struct ApiConfig {
    /// API key → secret (`[api.keys]`).
    pub keys: BTreeMap<String, String>,
    /// Allowances used to build each request's [`Deadline`].
    pub timings: ApiTimings,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Most idempotency keys remembered at once.
    pub idempotency_max_entries: usize,
    /// How long a finished create is remembered for repeats, from its outcome.
    pub idempotency_retention: Duration,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("timings", &self.timings)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("idempotency_max_entries", &self.idempotency_max_entries)
            .field("idempotency_retention", &self.idempotency_retention)
            .finish()
    }
}

/// Builds the Twirp router: `POST /twirp/livekit.SIP/<Method>` and
/// `POST /twirp/sipbridge.Calls/<Method>`; everything else is Twirp `bad_route`.
///
/// Serve it with `axum::serve` (no timeout layers; the HTTP/1 header-read limits of
/// the server are the only connection-level timers, and they do not apply while a
/// handler runs).
pub fn router<S: CallService>(service: Arc<S>, catalog: Catalog, config: ApiConfig) -> Router {
    let shared = Arc::new(Shared {
        catalog,
        auth: Authenticator::new(config.keys),
        idempotency: IdempotencyMap::new(
            config.idempotency_max_entries,
            config.idempotency_retention,
        ),
        timings: config.timings,
        max_body_bytes: config.max_body_bytes,
        service,
    });
    Router::new()
        .route("/twirp/{service}/{method}", any(handle::<S>))
        .fallback(fallback)
        .with_state(shared)
}

type CreateOutcome = Result<CallInfo, CallError>;

struct Shared<S> {
    service: Arc<S>,
    catalog: Catalog,
    auth: Authenticator,
    timings: ApiTimings,
    max_body_bytes: usize,
    idempotency: IdempotencyMap<CreateOutcome>,
}

/// The methods served, with the grant each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    CreateSipParticipant,
    TransferSipParticipant,
    CreateSipInboundTrunk,
    UpdateSipInboundTrunk,
    GetSipInboundTrunk,
    ListSipInboundTrunk,
    CreateSipOutboundTrunk,
    UpdateSipOutboundTrunk,
    GetSipOutboundTrunk,
    ListSipOutboundTrunk,
    DeleteSipTrunk,
    CreateSipDispatchRule,
    UpdateSipDispatchRule,
    ListSipDispatchRule,
    DeleteSipDispatchRule,
    ListCalls,
    GetCall,
    HangupCall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    Call,
    Admin,
}

impl Method {
    fn parse(service: &str, method: &str) -> Option<Self> {
        Some(match (service, method) {
            ("livekit.SIP", "CreateSIPParticipant") => Self::CreateSipParticipant,
            ("livekit.SIP", "TransferSIPParticipant") => Self::TransferSipParticipant,
            ("livekit.SIP", "CreateSIPInboundTrunk") => Self::CreateSipInboundTrunk,
            ("livekit.SIP", "UpdateSIPInboundTrunk") => Self::UpdateSipInboundTrunk,
            ("livekit.SIP", "GetSIPInboundTrunk") => Self::GetSipInboundTrunk,
            ("livekit.SIP", "ListSIPInboundTrunk") => Self::ListSipInboundTrunk,
            ("livekit.SIP", "CreateSIPOutboundTrunk") => Self::CreateSipOutboundTrunk,
            ("livekit.SIP", "UpdateSIPOutboundTrunk") => Self::UpdateSipOutboundTrunk,
            ("livekit.SIP", "GetSIPOutboundTrunk") => Self::GetSipOutboundTrunk,
            ("livekit.SIP", "ListSIPOutboundTrunk") => Self::ListSipOutboundTrunk,
            ("livekit.SIP", "DeleteSIPTrunk") => Self::DeleteSipTrunk,
            ("livekit.SIP", "CreateSIPDispatchRule") => Self::CreateSipDispatchRule,
            ("livekit.SIP", "UpdateSIPDispatchRule") => Self::UpdateSipDispatchRule,
            ("livekit.SIP", "ListSIPDispatchRule") => Self::ListSipDispatchRule,
            ("livekit.SIP", "DeleteSIPDispatchRule") => Self::DeleteSipDispatchRule,
            ("sipbridge.Calls", "ListCalls") => Self::ListCalls,
            ("sipbridge.Calls", "GetCall") => Self::GetCall,
            ("sipbridge.Calls", "HangupCall") => Self::HangupCall,
            _ => return None,
        })
    }

    /// The method name, as a bounded metrics label.
    fn name(self) -> &'static str {
        match self {
            Self::CreateSipParticipant => "CreateSIPParticipant",
            Self::TransferSipParticipant => "TransferSIPParticipant",
            Self::CreateSipInboundTrunk => "CreateSIPInboundTrunk",
            Self::UpdateSipInboundTrunk => "UpdateSIPInboundTrunk",
            Self::GetSipInboundTrunk => "GetSIPInboundTrunk",
            Self::ListSipInboundTrunk => "ListSIPInboundTrunk",
            Self::CreateSipOutboundTrunk => "CreateSIPOutboundTrunk",
            Self::UpdateSipOutboundTrunk => "UpdateSIPOutboundTrunk",
            Self::GetSipOutboundTrunk => "GetSIPOutboundTrunk",
            Self::ListSipOutboundTrunk => "ListSIPOutboundTrunk",
            Self::DeleteSipTrunk => "DeleteSIPTrunk",
            Self::CreateSipDispatchRule => "CreateSIPDispatchRule",
            Self::UpdateSipDispatchRule => "UpdateSIPDispatchRule",
            Self::ListSipDispatchRule => "ListSIPDispatchRule",
            Self::DeleteSipDispatchRule => "DeleteSIPDispatchRule",
            Self::ListCalls => "ListCalls",
            Self::GetCall => "GetCall",
            Self::HangupCall => "HangupCall",
        }
    }

    /// API_COMPAT.md §Auth: creating/transferring participants needs `sip.call`,
    /// trunk and dispatch-rule management `sip.admin`; the Calls service acts on calls.
    fn grant(self) -> Grant {
        match self {
            Self::CreateSipParticipant
            | Self::TransferSipParticipant
            | Self::ListCalls
            | Self::GetCall
            | Self::HangupCall => Grant::Call,
            _ => Grant::Admin,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/protobuf")
            || mime.eq_ignore_ascii_case("application/x-protobuf")
        {
            Ok(Self::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Ok(Self::Json)
        } else {
            Err(ApiError::ContentType(ct.chars().take(64).collect()))
        }
    }

    fn decode<M>(self, body: &[u8]) -> Result<M, ApiError>
    where
        M: prost::Message + Default + serde::de::DeserializeOwned,
    {
        match self {
            Self::Protobuf => M::decode(body).map_err(|e| ApiError::Malformed(e.to_string())),
            Self::Json => {
                serde_json::from_slice(body).map_err(|e| ApiError::Malformed(e.to_string()))
            }
        }
    }

    fn respond<M: prost::Message + serde::Serialize>(self, msg: &M) -> Response {
        match self {
            Self::Protobuf => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/protobuf"),
                )],
                msg.encode_to_vec(),
            )
                .into_response(),
            Self::Json => match serde_json::to_vec(msg) {
                Ok(body) => (
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    body,
                )
                    .into_response(),
                Err(e) => ApiError::Call(CallError::new(
                    TwirpCode::Internal,
                    format!("encoding response: {e}"),
                ))
                .into_response(),
            },
        }
    }
}

async fn fallback(method: HttpMethod, uri: axum::http::Uri) -> Response {
    ApiError::BadRoute {
        method: method.to_string(),
        path: bounded(uri.path()),
    }
    .into_response()
}

async fn handle<S: CallService>(
    State(shared): State<Arc<Shared<S>>>,
    Path((service, method)): Path<(String, String)>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let Some(m) = Method::parse(&service, &method).filter(|_| request.method() == HttpMethod::POST)
    else {
        let err = ApiError::BadRoute {
            method: request.method().to_string(),
            path: bounded(request.uri().path()),
        };
        record("unknown", &Err(&err), started);
        return err.into_response();
    };
    // The idempotency key ties the log lines of a create and of its repeats together.
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(bounded)
        .unwrap_or_default();
    let span = tracing::info_span!("api", method = m.name(), request_id = %request_id);
    let result = shared.dispatch(m, request).instrument(span).await;
    record(m.name(), &result.as_ref().map(|_| ()), started);
    match result {
        Ok(r) => {
            tracing::debug!(method = m.name(), request_id = %request_id, "api request ok");
            r
        }
        Err(e) => {
            let cause = e.timeout_cause().map_or("none", TimeoutCause::as_str);
            // `e` never holds secrets: tokens and passwords are not echoed in errors.
            tracing::info!(
                method = m.name(),
                request_id = %request_id,
                code = e.code().as_str(),
                timeout_cause = cause,
                error = %e,
                "api request failed"
            );
            e.into_response()
        }
    }
}

fn record(method: &'static str, result: &Result<(), &ApiError>, started: Instant) {
    let (code, cause) = match result {
        Ok(()) => ("ok", "none"),
        Err(e) => (
            e.code().as_str(),
            e.timeout_cause().map_or("none", TimeoutCause::as_str),
        ),
    };
    metrics::counter!(METRIC_REQUESTS, "method" => method, "code" => code, "timeout_cause" => cause).increment(1);
    metrics::histogram!(METRIC_DURATION, "method" => method, "code" => code)
        .record(started.elapsed().as_secs_f64());
}

impl<S: CallService> Shared<S> {
    async fn dispatch(self: &Arc<Self>, m: Method, request: Request) -> Result<Response, ApiError> {
        let (parts, body) = request.into_parts();
        let claims = self.authenticate(&parts.headers)?;
        match m.grant() {
            Grant::Call if !claims.sip.call => {
                return Err(ApiError::PermissionDenied { grant: "call" });
            }
            Grant::Admin if !claims.sip.admin => {
                return Err(ApiError::PermissionDenied { grant: "admin" });
            }
            _ => {}
        }
        let enc = Encoding::from_headers(&parts.headers)?;
        if let Some(len) = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            && len > self.max_body_bytes as u64
        {
            return Err(ApiError::BodyTooLarge {
                limit: self.max_body_bytes,
            });
        }
        let body = axum::body::to_bytes(body, self.max_body_bytes)
            .await
            .map_err(|_| ApiError::BodyTooLarge {
                limit: self.max_body_bytes,
            })?;
        let headers = &parts.headers;
        let now = tokio::time::Instant::now().into_std();

        match m {
            Method::CreateSipParticipant => {
                let req = CreateCall::from_proto(enc.decode(&body)?)?;
                let deadline = self.create_deadline(
                    headers,
                    now,
                    req.ringing_timeout,
                    req.wait_until_answered,
                )?;
                let key = request_id(headers)?;
                let info = self.create(req, deadline, key).await?;
                Ok(enc.respond(&pb::SipParticipantInfo {
                    participant_id: info.participant_id,
                    participant_identity: info.participant_identity,
                    room_name: info.room_name,
                    sip_call_id: info.call_id.0,
                }))
            }
            Method::TransferSipParticipant => {
                let req = TransferCall::from_proto(enc.decode(&body)?)?;
                // A transfer rings its target and reports the outcome: sync budget.
                let deadline = self.create_deadline(headers, now, req.ringing_timeout, true)?;
                let out = observe(self.service.transfer(req, deadline), deadline).await?;
                Ok(enc.respond(&pb::TransferSipParticipantResponse {
                    transfer_id: out.transfer_id,
                    status: pb::SipTransferStatus::StsTransferSuccessful as i32,
                    reason: pb::SipTransferReason::StrCompleted as i32,
                    sip_status: out.sip_status.map(|s| pb::SipStatus {
                        code: i32::from(s.code),
                        status: s.reason,
                    }),
                }))
            }
            Method::ListCalls => {
                let req: cb::ListCallsRequest = enc.decode(&body)?;
                let deadline = self.short_deadline(headers, now)?;
                let filter = CallFilter {
                    room_name: (!req.room_name.is_empty()).then_some(req.room_name),
                    include_ended: req.include_ended,
                };
                let calls = observe(self.service.list_calls(filter, deadline), deadline).await?;
                Ok(enc.respond(&cb::ListCallsResponse {
                    calls: calls.into_iter().map(call_info_proto).collect(),
                }))
            }
            Method::GetCall => {
                let req: cb::GetCallRequest = enc.decode(&body)?;
                let id = call_id(req.call_id)?;
                let deadline = self.short_deadline(headers, now)?;
                let info = observe(self.service.get_call(id, deadline), deadline).await?;
                Ok(enc.respond(&call_info_proto(info)))
            }
            Method::HangupCall => {
                let req: cb::HangupCallRequest = enc.decode(&body)?;
                let id = call_id(req.call_id)?;
                let deadline = self.short_deadline(headers, now)?;
                let info = observe(self.service.hangup_call(id, deadline), deadline).await?;
                Ok(enc.respond(&cb::HangupCallResponse {
                    call: Some(call_info_proto(info)),
                }))
            }
            Method::ListSipOutboundTrunk => {
                let req: pb::ListSipOutboundTrunkRequest = enc.decode(&body)?;
                let items = self
                    .catalog
                    .outbound_trunks()
                    .into_iter()
                    .filter(|t| req.trunk_ids.is_empty() || req.trunk_ids.contains(&t.sip_trunk_id))
                    .filter(|t| {
                        req.numbers.is_empty() || t.numbers.iter().any(|n| req.numbers.contains(n))
                    })
                    .map(redact_outbound)
                    .collect();
                Ok(enc.respond(&pb::ListSipOutboundTrunkResponse { items }))
            }
            Method::GetSipOutboundTrunk => {
                let req: pb::GetSipOutboundTrunkRequest = enc.decode(&body)?;
                let trunk = self
                    .catalog
                    .outbound_trunk(&req.sip_trunk_id)
                    .ok_or_else(|| not_found("outbound trunk", &req.sip_trunk_id))?;
                Ok(enc.respond(&pb::GetSipOutboundTrunkResponse {
                    trunk: Some(redact_outbound(trunk)),
                }))
            }
            Method::ListSipInboundTrunk => {
                let req: pb::ListSipInboundTrunkRequest = enc.decode(&body)?;
                let items = self
                    .catalog
                    .inbound_trunks()
                    .into_iter()
                    .filter(|t| req.trunk_ids.is_empty() || req.trunk_ids.contains(&t.sip_trunk_id))
                    .filter(|t| {
                        req.numbers.is_empty() || t.numbers.iter().any(|n| req.numbers.contains(n))
                    })
                    .map(redact_inbound)
                    .collect();
                Ok(enc.respond(&pb::ListSipInboundTrunkResponse { items }))
            }
            Method::GetSipInboundTrunk => {
                let req: pb::GetSipInboundTrunkRequest = enc.decode(&body)?;
                let trunk = self
                    .catalog
                    .inbound_trunk(&req.sip_trunk_id)
                    .ok_or_else(|| not_found("inbound trunk", &req.sip_trunk_id))?;
                Ok(enc.respond(&pb::GetSipInboundTrunkResponse {
                    trunk: Some(redact_inbound(trunk)),
                }))
            }
            Method::ListSipDispatchRule => {
                let req: pb::ListSipDispatchRuleRequest = enc.decode(&body)?;
                let items = self
                    .catalog
                    .dispatch_rules()
                    .into_iter()
                    .filter(|r| {
                        req.dispatch_rule_ids.is_empty()
                            || req.dispatch_rule_ids.contains(&r.sip_dispatch_rule_id)
                    })
                    // A rule without trunk_ids applies to every trunk.
                    .filter(|r| {
                        req.trunk_ids.is_empty()
                            || r.trunk_ids.is_empty()
                            || r.trunk_ids.iter().any(|t| req.trunk_ids.contains(t))
                    })
                    .map(redact_rule)
                    .collect();
                Ok(enc.respond(&pb::ListSipDispatchRuleResponse { items }))
            }
            Method::CreateSipInboundTrunk => {
                let req: pb::CreateSipInboundTrunkRequest = enc.decode(&body)?;
                let trunk = req
                    .trunk
                    .ok_or_else(|| ApiError::invalid("trunk", "required"))?;
                let info = self.write(move |c| c.create_inbound(trunk)).await?;
                tracing::info!(trunk_id = %info.sip_trunk_id, "inbound trunk created");
                Ok(enc.respond(&redact_inbound(info)))
            }
            Method::UpdateSipInboundTrunk => {
                use pb::update_sip_inbound_trunk_request::Action;
                let req: pb::UpdateSipInboundTrunkRequest = enc.decode(&body)?;
                let id = required_id("sip_trunk_id", req.sip_trunk_id)?;
                let action = req
                    .action
                    .ok_or_else(|| ApiError::invalid("replace", "replace or update required"))?;
                let info = self
                    .write(move |c| {
                        let trunk = match action {
                            Action::Replace(trunk) => trunk,
                            Action::Update(u) => updates::inbound_trunk(
                                current(c.inbound_trunk(&id), "inbound trunk", &id)?,
                                u,
                            ),
                        };
                        c.update_inbound(&id, trunk)
                    })
                    .await?;
                tracing::info!(trunk_id = %info.sip_trunk_id, "inbound trunk updated");
                Ok(enc.respond(&redact_inbound(info)))
            }
            Method::CreateSipOutboundTrunk => {
                let req: pb::CreateSipOutboundTrunkRequest = enc.decode(&body)?;
                let trunk = req
                    .trunk
                    .ok_or_else(|| ApiError::invalid("trunk", "required"))?;
                let info = self.write(move |c| c.create_outbound(trunk)).await?;
                tracing::info!(trunk_id = %info.sip_trunk_id, "outbound trunk created");
                Ok(enc.respond(&redact_outbound(info)))
            }
            Method::UpdateSipOutboundTrunk => {
                use pb::update_sip_outbound_trunk_request::Action;
                let req: pb::UpdateSipOutboundTrunkRequest = enc.decode(&body)?;
                let id = required_id("sip_trunk_id", req.sip_trunk_id)?;
                let action = req
                    .action
                    .ok_or_else(|| ApiError::invalid("replace", "replace or update required"))?;
                let info = self
                    .write(move |c| {
                        let trunk = match action {
                            Action::Replace(trunk) => trunk,
                            Action::Update(u) => updates::outbound_trunk(
                                current(c.outbound_trunk(&id), "outbound trunk", &id)?,
                                u,
                            ),
                        };
                        c.update_outbound(&id, trunk)
                    })
                    .await?;
                tracing::info!(trunk_id = %info.sip_trunk_id, "outbound trunk updated");
                Ok(enc.respond(&redact_outbound(info)))
            }
            Method::DeleteSipTrunk => {
                let req: pb::DeleteSipTrunkRequest = enc.decode(&body)?;
                let id = required_id("sip_trunk_id", req.sip_trunk_id)?;
                let deleted = id.clone();
                self.write(move |c| c.delete_trunk(&deleted)).await?;
                tracing::info!(trunk_id = %id, "trunk deleted");
                Ok(enc.respond(&pb::SipTrunkDeleted { sip_trunk_id: id }))
            }
            Method::CreateSipDispatchRule => {
                let req: pb::CreateSipDispatchRuleRequest = enc.decode(&body)?;
                let rule = updates::created_rule(req)
                    .ok_or_else(|| ApiError::invalid("dispatch_rule", "required"))?;
                let info = self.write(move |c| c.create_rule(rule)).await?;
                tracing::info!(rule_id = %info.sip_dispatch_rule_id, "dispatch rule created");
                Ok(enc.respond(&redact_rule(info)))
            }
            Method::UpdateSipDispatchRule => {
                use pb::update_sip_dispatch_rule_request::Action;
                let req: pb::UpdateSipDispatchRuleRequest = enc.decode(&body)?;
                let id = required_id("sip_dispatch_rule_id", req.sip_dispatch_rule_id)?;
                let action = req
                    .action
                    .ok_or_else(|| ApiError::invalid("replace", "replace or update required"))?;
                let info = self
                    .write(move |c| {
                        let rule = match action {
                            Action::Replace(rule) => rule,
                            Action::Update(u) => updates::dispatch_rule(
                                current(c.dispatch_rule(&id), "dispatch rule", &id)?,
                                u,
                            ),
                        };
                        c.update_rule(&id, rule)
                    })
                    .await?;
                tracing::info!(rule_id = %info.sip_dispatch_rule_id, "dispatch rule updated");
                Ok(enc.respond(&redact_rule(info)))
            }
            Method::DeleteSipDispatchRule => {
                let req: pb::DeleteSipDispatchRuleRequest = enc.decode(&body)?;
                let id = required_id("sip_dispatch_rule_id", req.sip_dispatch_rule_id)?;
                let info = self.write(move |c| c.delete_rule(&id)).await?;
                tracing::info!(rule_id = %info.sip_dispatch_rule_id, "dispatch rule deleted");
                Ok(enc.respond(&redact_rule(info)))
            }
        }
    }

    /// Runs a catalog write (a database commit, fsynced) off the async workers.
    async fn write<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Catalog) -> Result<T, CatalogError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || op(&catalog))
            .await
            .map_err(|e| {
                ApiError::Call(CallError::new(
                    TwirpCode::Internal,
                    format!("catalog write failed: {e}"),
                ))
            })?
            .map_err(ApiError::from)
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<Claims, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().map_err(|_| crate::error::AuthError::NotBearer));
        let value = value.transpose()?;
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(self.auth.verify(value, now_unix)?)
    }

    /// The create (and transfer) deadline: from the request, then shortened by the
    /// caller's `X-Deadline-Ms`, refused up front when that cannot fit the ring.
    fn create_deadline(
        &self,
        headers: &HeaderMap,
        now: Instant,
        ringing_timeout: Duration,
        wait_until_answered: bool,
    ) -> Result<Deadline, ApiError> {
        let own = self
            .timings
            .deadline_for_create(now, ringing_timeout, wait_until_answered);
        let Some(declared_ms) = declared_budget_ms(headers)? else {
            return Ok(own);
        };
        if wait_until_answered {
            let needed = self.timings.min_sync_budget(ringing_timeout);
            if Duration::from_millis(declared_ms) < needed {
                return Err(ApiError::BudgetTooSmall {
                    declared_ms,
                    needed_ms: u64::try_from(needed.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
        live(own.min(Deadline::from_wire_ms(now, declared_ms)), now)
    }

    fn short_deadline(&self, headers: &HeaderMap, now: Instant) -> Result<Deadline, ApiError> {
        let own = self.timings.deadline_for_short_op(now);
        match declared_budget_ms(headers)? {
            Some(ms) => live(own.min(Deadline::from_wire_ms(now, ms)), now),
            None => Ok(own),
        }
    }

    /// Runs a create on its own task — so a caller that disconnects does not cancel
    /// it — and attaches repeats with the same idempotency key to the first attempt.
    async fn create(
        self: &Arc<Self>,
        req: CreateCall,
        deadline: Deadline,
        key: Option<String>,
    ) -> Result<CallInfo, ApiError> {
        let Some(key) = key else {
            let service = Arc::clone(&self.service);
            return observe(spawn_create(service, req, deadline, None, None), deadline).await;
        };
        let fingerprint = fingerprint(&req);
        let now = tokio::time::Instant::now().into_std();
        match self.idempotency.claim(&key, fingerprint, now) {
            Ok(Claim::First(publisher)) => {
                let service = Arc::clone(&self.service);
                observe(
                    spawn_create(service, req, deadline, Some(key), Some(publisher)),
                    deadline,
                )
                .await
            }
            Ok(Claim::Attached(waiter)) => {
                tracing::info!(request_id = %key, "repeated create attached to the first attempt");
                let outcome = async {
                    waiter.wait().await.unwrap_or_else(|| {
                        Err(CallError::new(
                            TwirpCode::Internal,
                            "the first attempt with this request id ended without an outcome",
                        ))
                    })
                };
                observe(outcome, deadline).await
            }
            Err(IdempotencyError::Conflict) => Err(ApiError::IdempotencyConflict),
            Err(IdempotencyError::Full) => Err(ApiError::Overloaded),
        }
    }
}

/// Starts `create_call` on a task that outlives the HTTP request and publishes the
/// outcome for repeats.
fn spawn_create<S: CallService>(
    service: Arc<S>,
    req: CreateCall,
    deadline: Deadline,
    key: Option<String>,
    publisher: Option<crate::idempotency::Publisher<CreateOutcome>>,
) -> impl Future<Output = CreateOutcome> + Send {
    let task = tokio::spawn(async move {
        let outcome = service.create_call(req, deadline, key).await;
        if let Some(p) = publisher {
            p.publish(tokio::time::Instant::now().into_std(), outcome.clone());
        }
        outcome
    });
    async move {
        task.await.unwrap_or_else(|e| {
            Err(CallError::new(
                TwirpCode::Internal,
                format!("call task failed: {e}"),
            ))
        })
    }
}

/// Waits for `fut`, but never past `deadline`: the service is expected to answer
/// by then itself; if it does not, the caller gets `caller_deadline` and the work
/// (already on its own task for creates) goes on.
async fn observe<T>(
    fut: impl Future<Output = Result<T, CallError>>,
    deadline: Deadline,
) -> Result<T, ApiError> {
    match tokio::time::timeout_at(deadline.instant().into(), fut).await {
        Ok(r) => r.map_err(|e| {
            // DESIGN.md §4: every timeout names its cause. A carrier's own 408 carries
            // its SIP status instead; anything else is a gateway bug worth a warning.
            if e.code == TwirpCode::DeadlineExceeded && e.timeout_cause.is_none() && e.sip_status.is_none() {
                tracing::warn!(error = %e, "call service reported a timeout without a TimeoutCause");
            }
            ApiError::Call(e)
        }),
        Err(_) => Err(ApiError::Call(CallError::timeout(
            TimeoutCause::CallerDeadline,
            "the request's deadline passed before the call service answered",
        ))),
    }
}

fn live(deadline: Deadline, now: Instant) -> Result<Deadline, ApiError> {
    if deadline.expired(now) {
        Err(ApiError::DeadlineAlreadyPassed)
    } else {
        Ok(deadline)
    }
}

fn declared_budget_ms(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(DEADLINE_HEADER) else {
        return Ok(None);
    };
    let s = v.to_str().map_err(|_| ApiError::BadDeadlineHeader)?.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadDeadlineHeader);
    }
    // All digits: the only parse failure left is overflow, which clamps.
    Ok(Some(s.parse::<u64>().unwrap_or(u64::MAX)))
}

fn request_id(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get(REQUEST_ID_HEADER) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| ApiError::invalid("X-Livekit-Request-Id", "not ASCII"))?
        .trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.len() > MAX_REQUEST_ID_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "X-Livekit-Request-Id",
            format!("must be 1..={MAX_REQUEST_ID_LEN} visible ASCII characters"),
        ));
    }
    Ok(Some(s.to_owned()))
}

fn call_id(s: String) -> Result<CallId, ApiError> {
    if s.is_empty() {
        return Err(ApiError::invalid("call_id", "required"));
    }
    if s.len() > 256 || s.chars().any(char::is_control) {
        return Err(ApiError::invalid("call_id", "not a call id"));
    }
    Ok(CallId(s))
}

fn fingerprint(req: &CreateCall) -> u64 {
    // Only compared within this process, so std's fixed-key SipHash is enough.
    let mut h = DefaultHasher::new();
    req.hash(&mut h);
    h.finish()
}

fn required_id(field: &str, id: String) -> Result<String, ApiError> {
    if id.is_empty() {
        return Err(ApiError::invalid(field, "required"));
    }
    Ok(id)
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::Call(CallError::new(
        TwirpCode::NotFound,
        format!("{what} {:?} not found", bounded(id)),
    ))
}

fn bounded(s: &str) -> String {
    s.chars().take(128).collect()
}

/// Trunk passwords never leave through the API.
fn redact_outbound(mut t: pb::SipOutboundTrunkInfo) -> pb::SipOutboundTrunkInfo {
    t.auth_password.clear();
    t
}

fn redact_inbound(mut t: pb::SipInboundTrunkInfo) -> pb::SipInboundTrunkInfo {
    t.auth_password.clear();
    t
}

/// Dispatch-rule PINs are secrets too.
fn redact_rule(mut r: pb::SipDispatchRuleInfo) -> pb::SipDispatchRuleInfo {
    use pb::sip_dispatch_rule::Rule;
    if let Some(rule) = r.rule.as_mut().and_then(|r| r.rule.as_mut()) {
        match rule {
            Rule::DispatchRuleDirect(d) => d.pin.clear(),
            Rule::DispatchRuleIndividual(d) => d.pin.clear(),
            Rule::DispatchRuleCallee(d) => d.pin.clear(),
        }
    }
    r
}

fn timestamp(t: SystemTime) -> pbjson_types::Timestamp {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    pbjson_types::Timestamp {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// The wire form of a [`CallInfo`].
pub fn call_info_proto(c: CallInfo) -> cb::CallInfo {
    let state = match c.state {
        CallState::Dialing => cb::CallState::Dialing,
        CallState::Ringing => cb::CallState::Ringing,
        CallState::Active => cb::CallState::Active,
        CallState::Ended => cb::CallState::Ended,
    };
    let direction = match c.direction {
        CallDirection::Inbound => cb::CallDirection::Inbound,
        CallDirection::Outbound => cb::CallDirection::Outbound,
    };
    let end = c.end.as_ref();
    let sip = end.and_then(|e| e.sip_status.as_ref());
    cb::CallInfo {
        call_id: c.call_id.0,
        state: state as i32,
        direction: direction as i32,
        room_name: c.room_name,
        participant_id: c.participant_id,
        participant_identity: c.participant_identity,
        sip_trunk_id: c.trunk_id,
        from_number: c.from_number,
        to_number: c.to_number,
        created_at: Some(timestamp(c.created_at)),
        answered_at: c.answered_at.map(timestamp),
        ended_at: c.ended_at.map(timestamp),
        end_cause: end.map(|e| e.cause.as_str().to_owned()).unwrap_or_default(),
        sip_status_code: sip.map_or(0, |s| u32::from(s.code)),
        sip_status: sip.map(|s| s.reason.clone()).unwrap_or_default(),
        timeout_cause: end
            .and_then(|e| e.timeout_cause)
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
    }
}

/// The entry a partial update applies to.
fn current<T>(entry: Option<T>, kind: &'static str, id: &str) -> Result<T, CatalogError> {
    entry.ok_or_else(|| CatalogError::not_found(kind, id))
}
