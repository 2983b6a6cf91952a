//! The other on-demand headers: content type, option tags, timers, events, identities.

use std::borrow::Cow;

use super::TypedHeader;
use crate::addr::NameAddr;
use crate::error::{ErrorKind, ParseError};
use crate::header_name::HeaderName;
use crate::lex::{Cursor, Params, generic_params, is_token, parse_u32, trim, unquote};
use crate::method::Method;

/// Reads `1*DIGIT` fitting 32 bits, then validates trailing generic params.
fn delta_with_params(value: &str, kind: ErrorKind) -> Result<(u32, &str), ParseError> {
    let mut c = Cursor::new(value, kind);
    c.ws();
    let n = c.take_while(|b| b.is_ascii_digit());
    let n = parse_u32(n).ok_or(c.err())?;
    let params = generic_params(&mut c)?;
    c.ws();
    if !c.at_end() {
        return Err(c.err());
    }
    Ok((n, params))
}

/// Parses `token *(;param)` and returns (token, params).
fn token_with_params(value: &str, kind: ErrorKind) -> Result<(&str, &str), ParseError> {
    let mut c = Cursor::new(value, kind);
    let t = c.token()?;
    let params = generic_params(&mut c)?;
    c.ws();
    if !c.at_end() {
        return Err(c.err());
    }
    Ok((t, params))
}

/// A single token (an option tag or a method), nothing else.
fn single_token(value: &str, kind: ErrorKind) -> Result<&str, ParseError> {
    let v = trim(value);
    if v.is_empty() || !v.bytes().all(is_token) {
        return Err(ParseError::new(kind, 0));
    }
    Ok(v)
}

/// Content-Type (RFC 3261 §20.15): `type/subtype *(;param)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Top-level type (`application`).
    pub type_: &'a str,
    /// Subtype (`sdp`).
    pub subtype: &'a str,
    params: &'a str,
}

impl<'a> MediaType<'a> {
    /// Parameters (`;boundary=...`).
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// Whether this is `type/subtype` (case-insensitive).
    pub fn is(&self, type_: &str, subtype: &str) -> bool {
        self.type_.eq_ignore_ascii_case(type_) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// Whether this is `application/sdp`.
    pub fn is_sdp(&self) -> bool {
        self.is("application", "sdp")
    }
}

impl<'a> TypedHeader<'a> for MediaType<'a> {
    const NAME: HeaderName<'static> = HeaderName::ContentType;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let mut c = Cursor::new(value, ErrorKind::BadHeader(HeaderName::ContentType));
        let type_ = c.token()?;
        if !c.eat(b'/') {
            return Err(c.err());
        }
        let subtype = c.token()?;
        let params = generic_params(&mut c)?;
        c.ws();
        if !c.at_end() {
            return Err(c.err());
        }
        Ok(MediaType {
            type_,
            subtype,
            params,
        })
    }
}

macro_rules! token_list_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty<'a>(pub &'a str);

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName<'static> = HeaderName::$name;
            const MULTI: bool = true;
            fn parse(value: &'a str) -> Result<Self, ParseError> {
                single_token(value, ErrorKind::BadHeader(HeaderName::$name)).map($ty)
            }
        }
    };
}

token_list_header!(/// One option tag of Supported (RFC 3261 §20.37).
    Supported, Supported);
token_list_header!(/// One option tag of Require (RFC 3261 §20.32).
    Require, Require);
token_list_header!(/// One option tag of Proxy-Require (RFC 3261 §20.29).
    ProxyRequire, ProxyRequire);
token_list_header!(/// One option tag of Unsupported (RFC 3261 §20.40).
    Unsupported, Unsupported);
token_list_header!(/// One method of Allow (RFC 3261 §20.5).
    Allow, Allow);

impl Allow<'_> {
    /// The method.
    pub fn method(&self) -> Method {
        Method::new(self.0)
    }
}

/// Expires (RFC 3261 §20.19): delta-seconds, at most 2^32-1 (RFC 4475 §3.1.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expires(pub u32);

impl<'a> TypedHeader<'a> for Expires {
    const NAME: HeaderName<'static> = HeaderName::Expires;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        parse_u32(trim(value)).map(Expires).ok_or(ParseError::new(
            ErrorKind::BadHeader(HeaderName::Expires),
            0,
        ))
    }
}

/// RSeq (RFC 3262 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RSeq(pub u32);

impl<'a> TypedHeader<'a> for RSeq {
    const NAME: HeaderName<'static> = HeaderName::RSeq;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        parse_u32(trim(value))
            .map(RSeq)
            .ok_or(ParseError::new(ErrorKind::BadHeader(HeaderName::RSeq), 0))
    }
}

/// RAck (RFC 3262 §7.2): `response-num CSeq-num Method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RAck<'a> {
    /// The RSeq being acknowledged.
    pub rseq: u32,
    /// The CSeq number of the response.
    pub cseq: u32,
    /// The CSeq method of the response.
    pub method: Method,
    /// The method as written.
    pub method_str: &'a str,
}

impl<'a> TypedHeader<'a> for RAck<'a> {
    const NAME: HeaderName<'static> = HeaderName::RAck;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let mut c = Cursor::new(value, ErrorKind::BadHeader(HeaderName::RAck));
        c.ws();
        let rseq = parse_u32(c.take_while(|b| b.is_ascii_digit())).ok_or(c.err())?;
        c.ws();
        let cseq = parse_u32(c.take_while(|b| b.is_ascii_digit())).ok_or(c.err())?;
        let method_str = c.token()?;
        c.ws();
        if !c.at_end() {
            return Err(c.err());
        }
        Ok(RAck {
            rseq,
            cseq,
            method: Method::new(method_str),
            method_str,
        })
    }
}

/// Min-SE (RFC 4028 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinSe<'a> {
    /// Minimum session interval, seconds.
    pub delta: u32,
    params: &'a str,
}

impl<'a> MinSe<'a> {
    /// Extension parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }
}

impl<'a> TypedHeader<'a> for MinSe<'a> {
    const NAME: HeaderName<'static> = HeaderName::MinSe;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let (delta, params) = delta_with_params(value, ErrorKind::BadHeader(HeaderName::MinSe))?;
        Ok(MinSe { delta, params })
    }
}

/// Who refreshes a session (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// `refresher=uac`
    Uac,
    /// `refresher=uas`
    Uas,
}

/// Session-Expires (RFC 4028 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// Session interval, seconds.
    pub delta: u32,
    /// The `refresher` parameter.
    pub refresher: Option<Refresher>,
    params: &'a str,
}

impl<'a> SessionExpires<'a> {
    /// All parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }
}

impl<'a> TypedHeader<'a> for SessionExpires<'a> {
    const NAME: HeaderName<'static> = HeaderName::SessionExpires;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let kind = ErrorKind::BadHeader(HeaderName::SessionExpires);
        let (delta, params) = delta_with_params(value, kind)?;
        let refresher = match Params::new(params).get("refresher") {
            None => None,
            Some(Some(v)) if v.eq_ignore_ascii_case("uac") => Some(Refresher::Uac),
            Some(Some(v)) if v.eq_ignore_ascii_case("uas") => Some(Refresher::Uas),
            Some(_) => return Err(ParseError::new(kind, 0)),
        };
        Ok(SessionExpires {
            delta,
            refresher,
            params,
        })
    }
}

/// One Reason value (RFC 3326): `SIP ;cause=200 ;text="Call completed elsewhere"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason<'a> {
    /// Protocol (`SIP`, `Q.850`).
    pub protocol: &'a str,
    /// The `cause` parameter.
    pub cause: Option<u16>,
    params: &'a str,
}

impl<'a> Reason<'a> {
    /// The `text` parameter, quoted-pairs removed.
    pub fn text(&self) -> Option<Cow<'a, str>> {
        let p = Params::new(self.params).find(|p| p.name.eq_ignore_ascii_case("text"))?;
        let v = p.value?;
        Some(if p.quoted {
            unquote(v)
        } else {
            Cow::Borrowed(v)
        })
    }

    /// All parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }
}

impl<'a> TypedHeader<'a> for Reason<'a> {
    const NAME: HeaderName<'static> = HeaderName::Reason;
    const MULTI: bool = true;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let kind = ErrorKind::BadHeader(HeaderName::Reason);
        let (protocol, params) = token_with_params(value, kind)?;
        let cause = match Params::new(params).get("cause") {
            None => None,
            Some(v) => Some(
                v.and_then(|v| v.parse::<u16>().ok())
                    .ok_or(ParseError::new(kind, 0))?,
            ),
        };
        Ok(Reason {
            protocol,
            cause,
            params,
        })
    }
}

macro_rules! name_addr_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, $multi:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty<'a>(pub NameAddr<'a>);

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName<'static> = HeaderName::$name;
            const MULTI: bool = $multi;
            fn parse(value: &'a str) -> Result<Self, ParseError> {
                NameAddr::parse_as(value, ErrorKind::BadHeader(HeaderName::$name)).map($ty)
            }
        }

        impl<'a> std::ops::Deref for $ty<'a> {
            type Target = NameAddr<'a>;
            fn deref(&self) -> &NameAddr<'a> {
                &self.0
            }
        }
    };
}

name_addr_header!(/// Refer-To (RFC 3515 §2.1); the URI may carry an embedded `?Replaces=`.
    ReferTo, ReferTo, false);
name_addr_header!(/// Referred-By (RFC 3892).
    ReferredBy, ReferredBy, false);
name_addr_header!(/// One P-Asserted-Identity value (RFC 3325 §9.1).
    PAssertedIdentity, PAssertedIdentity, true);
name_addr_header!(/// One Diversion value (RFC 5806): `reason`, `counter`, `limit`, `privacy`, `screen` params.
    Diversion, Diversion, true);

impl Diversion<'_> {
    /// The `reason` parameter (`unconditional`, `user-busy`, `no-answer`, ...).
    pub fn reason(&self) -> Option<&str> {
        self.0
            .param("reason")
            .flatten()
            .map(|r| r.trim_matches('"'))
    }

    /// The `counter` parameter.
    pub fn counter(&self) -> Option<u32> {
        self.0.param("counter").flatten().and_then(parse_u32)
    }
}

/// Event (RFC 6665 §8.2.1): `package[.template] *(;param)`, with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event package (`refer`, `presence`, `dialog`).
    pub package: &'a str,
    params: &'a str,
}

impl<'a> Event<'a> {
    /// The `id` parameter.
    pub fn id(&self) -> Option<&'a str> {
        Params::new(self.params).get("id").flatten()
    }

    /// All parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }
}

impl<'a> TypedHeader<'a> for Event<'a> {
    const NAME: HeaderName<'static> = HeaderName::Event;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let (package, params) = token_with_params(value, ErrorKind::BadHeader(HeaderName::Event))?;
        Ok(Event { package, params })
    }
}

/// Subscription-State (RFC 6665 §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// `active`, `pending`, `terminated` or an extension.
    pub state: &'a str,
    /// `expires`.
    pub expires: Option<u32>,
    /// `retry-after`.
    pub retry_after: Option<u32>,
    /// `reason`.
    pub reason: Option<&'a str>,
    params: &'a str,
}

impl<'a> SubscriptionState<'a> {
    /// All parameters.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// Whether the state is `terminated`.
    pub fn is_terminated(&self) -> bool {
        self.state.eq_ignore_ascii_case("terminated")
    }
}

impl<'a> TypedHeader<'a> for SubscriptionState<'a> {
    const NAME: HeaderName<'static> = HeaderName::SubscriptionState;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let kind = ErrorKind::BadHeader(HeaderName::SubscriptionState);
        let (state, params) = token_with_params(value, kind)?;
        let p = Params::new(params);
        let num = |n: &str| -> Result<Option<u32>, ParseError> {
            match p.get(n) {
                None => Ok(None),
                Some(v) => v
                    .and_then(parse_u32)
                    .map(Some)
                    .ok_or(ParseError::new(kind, 0)),
            }
        };
        Ok(SubscriptionState {
            state,
            expires: num("expires")?,
            retry_after: num("retry-after")?,
            reason: p.get("reason").flatten(),
            params,
        })
    }
}

/// Replaces (RFC 3891 §6.1): `callid;to-tag=..;from-tag=..[;early-only]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces<'a> {
    /// The Call-ID of the dialog to replace.
    pub call_id: &'a str,
    /// `to-tag`.
    pub to_tag: &'a str,
    /// `from-tag`.
    pub from_tag: &'a str,
    /// `early-only`.
    pub early_only: bool,
}

impl<'a> TypedHeader<'a> for Replaces<'a> {
    const NAME: HeaderName<'static> = HeaderName::Replaces;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        let kind = ErrorKind::BadHeader(HeaderName::Replaces);
        let v = trim(value);
        let semi = v.find(';').unwrap_or(v.len());
        let call_id = trim(&v[..semi]);
        if call_id.is_empty() {
            return Err(ParseError::new(kind, 0));
        }
        let mut c = Cursor::new(&v[semi..], kind);
        let params = generic_params(&mut c).map_err(|e| ParseError::new(kind, semi + e.offset))?;
        c.ws();
        if !c.at_end() {
            return Err(ParseError::new(kind, semi + c.pos));
        }
        let p = Params::new(params);
        let to_tag = p
            .get("to-tag")
            .flatten()
            .ok_or(ParseError::new(kind, semi))?;
        let from_tag = p
            .get("from-tag")
            .flatten()
            .ok_or(ParseError::new(kind, semi))?;
        Ok(Replaces {
            call_id,
            to_tag,
            from_tag,
            early_only: p.contains("early-only"),
        })
    }
}

macro_rules! text_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty<'a>(pub &'a str);

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName<'static> = HeaderName::$name;
            fn parse(value: &'a str) -> Result<Self, ParseError> {
                let v = trim(value);
                if v.is_empty() {
                    return Err(ParseError::new(ErrorKind::BadHeader(HeaderName::$name), 0));
                }
                Ok($ty(v))
            }
        }

        impl<'a> $ty<'a> {
            /// The product tokens (`name/version`), comments skipped.
            pub fn products(&self) -> impl Iterator<Item = &'a str> {
                products(self.0)
            }
        }
    };
}

text_header!(/// User-Agent (RFC 3261 §20.41), as written.
    UserAgent, UserAgent);
text_header!(/// Server (RFC 3261 §20.35), as written.
    Server, Server);

/// Splits `product *(LWS (product / comment))`, skipping parenthesised comments.
fn products(s: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0u32;
    let mut rest = s;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start();
            let b = rest.as_bytes();
            if b.is_empty() {
                return None;
            }
            if b[0] == b'(' || depth > 0 {
                // Skip a comment (nested parentheses allowed, RFC 3261 §25.1).
                let mut i = 0;
                while i < b.len() {
                    match b[i] {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                rest = rest.get(i.min(b.len())..).unwrap_or("");
                continue;
            }
            let end = b
                .iter()
                .position(|&c| c == b' ' || c == b'\t' || c == b'(')
                .unwrap_or(b.len());
            let (p, r) = rest.split_at(end);
            rest = r;
            return Some(p);
        }
    })
}

/// Date (RFC 3261 §20.17): rfc1123-date, and only `GMT` (RFC 4475 §3.1.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
}

impl<'a> TypedHeader<'a> for Date {
    const NAME: HeaderName<'static> = HeaderName::Date;
    fn parse(value: &'a str) -> Result<Self, ParseError> {
        // wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"
        let err = ParseError::new(ErrorKind::BadHeader(HeaderName::Date), 0);
        let v = trim(value).as_bytes();
        if v.len() != 29 || &v[3..5] != b", " || &v[25..] != b" GMT" {
            return Err(err);
        }
        const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
        const MONTHS: [&[u8]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        if !DAYS.contains(&&v[..3]) {
            return Err(err);
        }
        let num = |r: std::ops::Range<usize>| -> Result<u16, ParseError> {
            let d = &v[r];
            if d.iter().all(u8::is_ascii_digit) {
                Ok(d.iter().fold(0u16, |a, c| a * 10 + u16::from(c - b'0')))
            } else {
                Err(err)
            }
        };
        if v[7] != b' ' || v[11] != b' ' || v[16] != b' ' || v[19] != b':' || v[22] != b':' {
            return Err(err);
        }
        let month = MONTHS.iter().position(|m| *m == &v[8..11]).ok_or(err)? as u8 + 1;
        let d = Date {
            day: num(5..7)? as u8,
            month,
            year: num(12..16)?,
            hour: num(17..19)? as u8,
            minute: num(20..22)? as u8,
            second: num(23..25)? as u8,
        };
        if d.day == 0 || d.day > 31 || d.hour > 23 || d.minute > 59 || d.second > 60 {
            return Err(err);
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type() {
        let m = MediaType::parse("application/sdp").unwrap();
        assert!(m.is_sdp());
        let m = MediaType::parse("multipart/mixed;boundary=7a9cbec02ceef655").unwrap();
        assert_eq!(m.params().get("boundary"), Some(Some("7a9cbec02ceef655")));
        assert!(MediaType::parse("application").is_err());
        assert!(MediaType::parse("application/sdp junk").is_err());
    }

    #[test]
    fn numbers_and_timers() {
        assert_eq!(Expires::parse(" 3600 ").unwrap(), Expires(3600));
        assert!(Expires::parse("10000000000000000000000").is_err());
        assert_eq!(RSeq::parse("988789").unwrap(), RSeq(988789));
        let r = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!((r.rseq, r.cseq, r.method), (776656, 1, Method::Invite));
        assert!(RAck::parse("776656 INVITE").is_err());
        let s = SessionExpires::parse("1800;refresher=uac").unwrap();
        assert_eq!((s.delta, s.refresher), (1800, Some(Refresher::Uac)));
        assert!(SessionExpires::parse("1800;refresher=x").is_err());
        assert_eq!(MinSe::parse("90").unwrap().delta, 90);
    }

    #[test]
    fn tokens_reason_event_state() {
        assert_eq!(Supported::parse(" timer ").unwrap(), Supported("timer"));
        assert!(Require::parse("a b").is_err());
        assert_eq!(Allow::parse("INVITE").unwrap().method(), Method::Invite);
        let r = Reason::parse("SIP ;cause=200 ;text=\"Call completed elsewhere\"").unwrap();
        assert_eq!(r.protocol, "SIP");
        assert_eq!(r.cause, Some(200));
        assert_eq!(r.text().unwrap(), "Call completed elsewhere");
        let r = Reason::parse("Q.850;cause=16;text=\"Terminated\"").unwrap();
        assert_eq!(r.protocol, "Q.850");
        let e = Event::parse("refer;id=93809824").unwrap();
        assert_eq!((e.package, e.id()), ("refer", Some("93809824")));
        let s = SubscriptionState::parse("terminated;reason=noresource;retry-after=30").unwrap();
        assert!(s.is_terminated());
        assert_eq!(s.reason, Some("noresource"));
        assert_eq!(s.retry_after, Some(30));
        let s = SubscriptionState::parse("active;expires=60").unwrap();
        assert_eq!(s.expires, Some(60));
    }

    #[test]
    fn identities_and_replaces() {
        let r = ReferTo::parse("<sip:carol@cleveland.example.org?Replaces=12345%40192.168.118.3%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>").unwrap();
        assert_eq!(
            r.uri.as_sip().unwrap().headers().next().unwrap().0,
            "Replaces"
        );
        let b = ReferredBy::parse(
            "<sip:referrer@referrer.example>;cid=\"20398823.2UWQFN309shb3@referrer.example\"",
        )
        .unwrap();
        assert!(b.param("cid").is_some());
        let p = PAssertedIdentity::parse("\"Cullen Jennings\" <sip:fluffy@cisco.com>").unwrap();
        assert_eq!(p.display_name().unwrap(), "Cullen Jennings");
        assert!(PAssertedIdentity::parse("tel:+14085264000").is_ok());
        let d = Diversion::parse("<sip:+15551234567@example.com>;reason=unconditional;counter=1")
            .unwrap();
        assert_eq!(d.reason(), Some("unconditional"));
        assert_eq!(d.counter(), Some(1));
        let r =
            Replaces::parse("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only")
                .unwrap();
        assert_eq!(
            (r.call_id, r.to_tag, r.from_tag, r.early_only),
            ("98732@sip.example.com", "ff87ff", "r33th4x0r", true)
        );
        assert!(Replaces::parse("98732@sip.example.com;from-tag=x").is_err());
    }

    #[test]
    fn user_agent_date() {
        let u = UserAgent::parse("SIPimp.org/0.2.5 (curses)").unwrap();
        assert_eq!(u.products().collect::<Vec<_>>(), vec!["SIPimp.org/0.2.5"]);
        let s = Server::parse("sipbridge/0.1 (nested (comment)) other/2").unwrap();
        assert_eq!(
            s.products().collect::<Vec<_>>(),
            vec!["sipbridge/0.1", "other/2"]
        );
        let d = Date::parse("Sat, 15 Oct 2005 04:44:56 GMT").unwrap();
        assert_eq!((d.year, d.month, d.day, d.hour), (2005, 10, 15, 4));
        assert!(Date::parse("Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(Date::parse("Fri, 01 Foo 2010 16:00:00 GMT").is_err());
    }
}
