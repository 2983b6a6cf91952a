//! Request validation: turns a decoded `CreateSIPParticipantRequest` /
//! `TransferSIPParticipantRequest` into a typed [`CreateCall`] / [`TransferCall`],
//! or refuses it with a named field.
//!
//! Every field of the request is handled here. A field sipbridge cannot honour yet
//! is refused (`unimplemented`), never silently dropped.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::error::ApiError;
use crate::proto::livekit as pb;
use crate::service::Attributes;

pub(crate) mod fields;
use fields::*;

/// `ringing_timeout` when the request leaves it unset (or zero): **the** one
/// documented default (API_COMPAT.md §Semantics).
pub const DEFAULT_RINGING_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest accepted `ringing_timeout`; anything shorter is almost surely a unit
/// mistake (milliseconds sent as seconds).
pub const MIN_RINGING_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest accepted `ringing_timeout` (10 minutes): beyond what any carrier lets a
/// phone ring, and the longest ring the design tests.
pub const MAX_RINGING_TIMEOUT: Duration = Duration::from_secs(600);
/// `max_call_duration` when unset (or zero): 24 hours.
pub const DEFAULT_MAX_CALL_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Shortest accepted `max_call_duration`.
pub const MIN_MAX_CALL_DURATION: Duration = Duration::from_secs(1);
/// Longest accepted `max_call_duration` (7 days).
pub const MAX_MAX_CALL_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Bounds of `media.media_timeout` when set.
pub const MEDIA_TIMEOUT_RANGE: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(3600));
/// Most extra SIP headers a request may add.
pub const MAX_HEADERS: usize = 32;
/// Longest extra header name.
pub const MAX_HEADER_NAME_LEN: usize = 64;
/// Longest extra header value.
pub const MAX_HEADER_VALUE_LEN: usize = 1024;
/// Most participant attributes (and attribute/header mapping entries).
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest participant attribute value and participant metadata.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 16 * 1024;
/// Longest DTMF string.
pub const MAX_DTMF_LEN: usize = 256;
/// Longest short text field (ids, names, numbers, hosts, identities).
pub const MAX_SHORT_LEN: usize = 256;
/// Longest URI.
pub const MAX_URI_LEN: usize = 1024;
/// The pause a `w` in `dtmf` stands for.
pub const DTMF_PAUSE: Duration = Duration::from_millis(500);

/// Headers a request may not set: sipbridge owns them (RFC 3261 §8.1.1 mandatory
/// request headers, routing, body framing, our own digest credentials, and a
/// transfer's target: a REFER has exactly one Refer-To, RFC 3515 §2.4.1), plus their
/// compact forms (§7.3.3).
pub const RESERVED_HEADERS: &[&str] = &[
    "via",
    "v",
    "from",
    "f",
    "to",
    "t",
    "call-id",
    "i",
    "cseq",
    "contact",
    "m",
    "max-forwards",
    "content-length",
    "l",
    "content-type",
    "c",
    "route",
    "record-route",
    "authorization",
    "proxy-authorization",
    "refer-to",
    "r",
];

/// Codec names sipbridge can negotiate (case-insensitive, SDP encoding names).
pub const SUPPORTED_CODECS: &[&str] = &["PCMU", "PCMA", "G722", "opus", "telephone-event"];

/// A secret (trunk password) whose `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<empty>)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

/// SIP transport (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Whatever the trunk / URI implies (UDP unless the URI says otherwise).
    Auto,
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
}

/// Which trunk to dial through.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrunkRef {
    /// A configured outbound trunk, by `sip_trunk_id`.
    Id(String),
    /// A trunk given inline in the request (`trunk`).
    Inline(InlineTrunk),
}

/// An inline outbound trunk (`SIPOutboundConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InlineTrunk {
    /// `host` or `host:port` of the trunk.
    pub hostname: String,
    /// Transport.
    pub transport: Transport,
    /// Digest username (empty: no auth).
    pub auth_username: String,
    /// Digest password.
    pub auth_password: Secret,
    /// SIP response header → participant attribute.
    pub headers_to_attributes: BTreeMap<String, String>,
    /// Participant attribute → SIP header on the INVITE.
    pub attributes_to_headers: BTreeMap<String, String>,
    /// Host for the From URI (empty: sipbridge's own).
    pub from_host: String,
}

/// A SIP URI given either raw or as parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SipDest {
    /// A full `sip:`/`sips:`/`tel:` URI.
    Raw(String),
    /// A URI built from parts.
    Parts(SipUriParts),
}

/// A SIP URI as parts (`SIPUri`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUriParts {
    /// User part (may be empty).
    pub user: String,
    /// Host name (empty when `ip` is set).
    pub host: String,
    /// IP address (when no `host`).
    pub ip: Option<IpAddr>,
    /// Port; `None` = default for the transport.
    pub port: Option<u16>,
    /// Transport parameter.
    pub transport: Transport,
}

/// A From/To header destination (`SIPNamedDest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedDest {
    /// Display name (no control characters; the gateway quotes it, RFC 3261 §25.1).
    pub display_name: String,
    /// The URI; `None` = sipbridge's default URI with this display name.
    pub uri: Option<SipDest>,
}

/// A validated codec preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codec {
    /// One of [`SUPPORTED_CODECS`], in its canonical spelling.
    pub name: &'static str,
    /// Clock rate; 0 = the codec's default.
    pub rate: u32,
}

/// Media options (`media`, plus the top-level `media_encryption`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MediaOptions {
    /// Offer only `codecs` (otherwise they are a preference order).
    pub only_listed_codecs: bool,
    /// Codec preference.
    pub codecs: Vec<Codec>,
    /// Hang up when no RTP arrives for this long; `None` = gateway config.
    pub media_timeout: Option<Duration>,
}

/// One step of a DTMF string, as RFC 4733 §3.2 events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtmfStep {
    /// Event code 0-15 (`0-9` → 0-9, `*` → 10, `#` → 11, `A-D` → 12-15).
    Digit(u8),
    /// `w`: wait [`DTMF_PAUSE`].
    Pause,
}

/// A validated DTMF string (`0-9 * # A-D` and `w`), sent after answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Dtmf(String);

impl Dtmf {
    /// The string as given (letters upper-cased, `w` lower-case).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The steps to play, in order.
    pub fn steps(&self) -> impl Iterator<Item = DtmfStep> + '_ {
        self.0.bytes().filter_map(|b| match b {
            b'0'..=b'9' => Some(DtmfStep::Digit(b - b'0')),
            b'*' => Some(DtmfStep::Digit(10)),
            b'#' => Some(DtmfStep::Digit(11)),
            b'A'..=b'D' => Some(DtmfStep::Digit(12 + (b - b'A'))),
            b'w' => Some(DtmfStep::Pause),
            // Unreachable: `parse` admits nothing else.
            _ => None,
        })
    }

    /// Validates `s`: `0-9 * # A-D a-d w W`, at most [`MAX_DTMF_LEN`] characters.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        if s.len() > MAX_DTMF_LEN {
            return Err(ApiError::invalid(
                "dtmf",
                format!("longer than {MAX_DTMF_LEN} characters"),
            ));
        }
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '0'..='9' | '*' | '#' | 'A'..='D' => out.push(c),
                'a'..='d' => out.push(c.to_ascii_uppercase()),
                'w' | 'W' => out.push('w'),
                _ => {
                    return Err(ApiError::invalid(
                        "dtmf",
                        format!("{c:?} is not a DTMF digit (0-9 * # A-D) or pause (w)"),
                    ));
                }
            }
        }
        Ok(Self(out))
    }
}

/// A validated `CreateSIPParticipant` request: everything the gateway needs to
/// dial, with defaults applied and nothing left to re-check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreateCall {
    /// The trunk (exactly one of `sip_trunk_id` / `trunk`).
    pub trunk: TrunkRef,
    /// Calling number (`sip_number`); empty = the trunk's first number.
    pub sip_number: String,
    /// Called number / user (`sip_call_to`); may be empty only with `request_uri`.
    pub call_to: String,
    /// Explicit Request-URI (`sip_request_uri`).
    pub request_uri: Option<SipDest>,
    /// Explicit To header (`sip_to_header`).
    pub to_header: Option<NamedDest>,
    /// Explicit From header (`sip_from_header`).
    pub from_header: Option<NamedDest>,
    /// Replaces the user part of To (`to_user_override`).
    pub to_user_override: Option<String>,
    /// From display name: `None` = default (the calling number), `Some("")` = none.
    pub display_name: Option<String>,
    /// The room to join.
    pub room_name: String,
    /// Participant identity (default `"sip_" + sip_call_to`).
    pub participant_identity: String,
    /// Participant display name.
    pub participant_name: String,
    /// Participant metadata.
    pub participant_metadata: String,
    /// Participant attributes.
    pub participant_attributes: Attributes,
    /// Digits to send after answer.
    pub dtmf: Dtmf,
    /// Play a ringing tone into the room while dialing (`play_dialtone`, or the
    /// older `play_ringtone`).
    pub play_dialtone: bool,
    /// Hide the phone number from room participants.
    pub hide_phone_number: bool,
    /// Extra SIP headers for the INVITE (validated, none reserved).
    pub headers: BTreeMap<String, String>,
    /// How long the callee may ring.
    pub ringing_timeout: Duration,
    /// Hard cap on the call.
    pub max_call_duration: Duration,
    /// Media options. Encryption is always "none" for now (no SRTP yet).
    pub media: MediaOptions,
    /// Return on answer (true) or once dialing started (false).
    pub wait_until_answered: bool,
}

/// A validated `TransferSIPParticipant` request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransferCall {
    /// The participant to transfer.
    pub participant_identity: String,
    /// Its room.
    pub room_name: String,
    /// The transfer target (`sip:`, `sips:` or `tel:` URI).
    pub transfer_to: String,
    /// Play a ringing tone into the room during the transfer.
    pub play_dialtone: bool,
    /// Extra SIP headers for the REFER.
    pub headers: BTreeMap<String, String>,
    /// How long the transfer target may ring.
    pub ringing_timeout: Duration,
}

impl CreateCall {
    /// Validates a request.
    pub fn from_proto(req: pb::CreateSipParticipantRequest) -> Result<Self, ApiError> {
        // Fields sipbridge cannot honour yet: refused, never ignored.
        if req.krisp_enabled {
            // Noise cancellation is a proprietary model sipbridge does not ship.
            return Err(ApiError::unsupported(
                "krisp_enabled",
                "noise cancellation is not available",
            ));
        }
        encryption("media_encryption", req.media_encryption)?;
        if req.include_headers != pb::SipHeaderOptions::SipNoHeaders as i32 {
            // Copying SIP response headers into attributes needs gateway support
            // that does not exist yet; only SIP_NO_HEADERS is honoured.
            pb::SipHeaderOptions::try_from(req.include_headers)
                .map_err(|_| ApiError::invalid("include_headers", "unknown value"))?;
            return Err(ApiError::unsupported(
                "include_headers",
                "only SIP_NO_HEADERS is supported",
            ));
        }
        if let Some(d) = &req.destination
            && !(d.city.is_empty() && d.country.is_empty() && d.region.is_empty())
        {
            // Region routing belongs to a multi-region deployment sipbridge is not.
            return Err(ApiError::unsupported(
                "destination",
                "region routing is not supported",
            ));
        }

        let trunk = match (req.sip_trunk_id.is_empty(), req.trunk) {
            (false, None) => TrunkRef::Id(short_text("sip_trunk_id", &req.sip_trunk_id)?),
            (true, Some(t)) => TrunkRef::Inline(inline_trunk(t)?),
            (false, Some(_)) => {
                return Err(ApiError::invalid(
                    "trunk",
                    "give either sip_trunk_id or trunk, not both",
                ));
            }
            (true, None) => {
                return Err(ApiError::invalid(
                    "sip_trunk_id",
                    "required (or an inline trunk)",
                ));
            }
        };

        let request_uri = req
            .sip_request_uri
            .map(|d| match d.uri {
                Some(pb::sip_request_dest::Uri::Raw(raw)) => {
                    sip_dest_raw("sip_request_uri.raw", raw)
                }
                Some(pb::sip_request_dest::Uri::Values(v)) => {
                    sip_uri_parts("sip_request_uri.values", v)
                }
                None => Err(ApiError::invalid("sip_request_uri", "needs raw or values")),
            })
            .transpose()?;
        if !req.sip_call_to.is_empty() {
            user_part("sip_call_to", &req.sip_call_to)?;
        } else if request_uri.is_none() {
            return Err(ApiError::invalid(
                "sip_call_to",
                "required (or sip_request_uri)",
            ));
        }
        if !req.sip_number.is_empty() {
            user_part("sip_number", &req.sip_number)?;
        }
        let to_header = req
            .sip_to_header
            .map(|d| named_dest("sip_to_header", d))
            .transpose()?;
        let from_header = req
            .sip_from_header
            .map(|d| named_dest("sip_from_header", d))
            .transpose()?;
        let to_user_override = if req.to_user_override.is_empty() {
            None
        } else {
            Some(user_part("to_user_override", &req.to_user_override)?)
        };
        let display_name = req
            .display_name
            .map(|n| short_text("display_name", &n))
            .transpose()?;

        if req.room_name.is_empty() {
            return Err(ApiError::invalid("room_name", "required"));
        }
        let room_name = short_text("room_name", &req.room_name)?;
        let participant_identity = if !req.participant_identity.is_empty() {
            short_text("participant_identity", &req.participant_identity)?
        } else if !req.sip_call_to.is_empty() {
            format!("sip_{}", req.sip_call_to)
        } else {
            match &request_uri {
                Some(SipDest::Parts(p)) if !p.user.is_empty() => format!("sip_{}", p.user),
                _ => {
                    return Err(ApiError::invalid(
                        "participant_identity",
                        "required when neither sip_call_to nor a request URI user is given",
                    ));
                }
            }
        };
        let participant_name = short_text("participant_name", &req.participant_name)?;
        let participant_metadata = long_text("participant_metadata", req.participant_metadata)?;
        let participant_attributes =
            attributes("participant_attributes", req.participant_attributes)?;

        let media = media_options(req.media)?;

        Ok(Self {
            trunk,
            sip_number: req.sip_number,
            call_to: req.sip_call_to,
            request_uri,
            to_header,
            from_header,
            to_user_override,
            display_name,
            room_name,
            participant_identity,
            participant_name,
            participant_metadata,
            participant_attributes,
            dtmf: Dtmf::parse(&req.dtmf)?,
            play_dialtone: req.play_dialtone || req.play_ringtone,
            hide_phone_number: req.hide_phone_number,
            headers: sip_headers("headers", req.headers)?,
            ringing_timeout: ringing_timeout("ringing_timeout", req.ringing_timeout)?,
            max_call_duration: duration_field(
                "max_call_duration",
                req.max_call_duration,
                DEFAULT_MAX_CALL_DURATION,
                MIN_MAX_CALL_DURATION,
                MAX_MAX_CALL_DURATION,
            )?,
            media,
            wait_until_answered: req.wait_until_answered,
        })
    }
}

impl TransferCall {
    /// Validates a request.
    pub fn from_proto(req: pb::TransferSipParticipantRequest) -> Result<Self, ApiError> {
        if req.participant_identity.is_empty() {
            return Err(ApiError::invalid("participant_identity", "required"));
        }
        if req.room_name.is_empty() {
            return Err(ApiError::invalid("room_name", "required"));
        }
        if req.transfer_to.is_empty() {
            return Err(ApiError::invalid("transfer_to", "required"));
        }
        let SipDest::Raw(transfer_to) = sip_dest_raw("transfer_to", req.transfer_to)? else {
            return Err(ApiError::invalid("transfer_to", "must be a URI"));
        };
        Ok(Self {
            participant_identity: short_text("participant_identity", &req.participant_identity)?,
            room_name: short_text("room_name", &req.room_name)?,
            transfer_to,
            play_dialtone: req.play_dialtone,
            headers: sip_headers("headers", req.headers)?,
            ringing_timeout: ringing_timeout("ringing_timeout", req.ringing_timeout)?,
        })
    }
}
