//! Field-level checks shared by [`CreateCall`] and [`TransferCall`] validation and by the
//! trunk and dispatch-rule checks of [`crate::catalog`].

use super::*;

pub(crate) fn ringing_timeout(
    field: &str,
    d: Option<pbjson_types::Duration>,
) -> Result<Duration, ApiError> {
    duration_field(
        field,
        d,
        DEFAULT_RINGING_TIMEOUT,
        MIN_RINGING_TIMEOUT,
        MAX_RINGING_TIMEOUT,
    )
}

/// Unset and zero both mean "default": proto3 JSON clients commonly send `"0s"` for
/// an unset duration, and a zero ring or call length is never meant literally.
pub(crate) fn duration_field(
    field: &str,
    d: Option<pbjson_types::Duration>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, ApiError> {
    let Some(d) = d else { return Ok(default) };
    let d = proto_duration(field, d)?;
    if d.is_zero() {
        return Ok(default);
    }
    if d < min || d > max {
        return Err(ApiError::invalid(
            field,
            format!(
                "{} ms is outside {}..={} ms",
                d.as_millis(),
                min.as_millis(),
                max.as_millis()
            ),
        ));
    }
    Ok(d)
}

pub(crate) fn proto_duration(field: &str, d: pbjson_types::Duration) -> Result<Duration, ApiError> {
    let secs =
        u64::try_from(d.seconds).map_err(|_| ApiError::invalid(field, "negative duration"))?;
    let nanos = u32::try_from(d.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| ApiError::invalid(field, "nanos out of range"))?;
    Ok(Duration::new(secs, nanos))
}

pub(crate) fn encryption(field: &str, value: i32) -> Result<(), ApiError> {
    match pb::SipMediaEncryption::try_from(value) {
        Ok(pb::SipMediaEncryption::SipMediaEncryptDisable) => Ok(()),
        // ALLOW lets the peer choose; sipbridge offers plain RTP/AVP, which ALLOW
        // permits, so it is honoured as "disable".
        Ok(pb::SipMediaEncryption::SipMediaEncryptAllow) => Ok(()),
        // REQUIRE needs SRTP (RFC 3711 / SDES RFC 4568), which sipbridge lacks.
        Ok(pb::SipMediaEncryption::SipMediaEncryptRequire) => Err(ApiError::unsupported(
            field,
            "SRTP is not available; use DISABLE or ALLOW",
        )),
        Err(_) => Err(ApiError::invalid(field, "unknown value")),
    }
}

pub(crate) fn transport(field: &str, value: i32) -> Result<Transport, ApiError> {
    match pb::SipTransport::try_from(value) {
        Ok(pb::SipTransport::Auto) => Ok(Transport::Auto),
        Ok(pb::SipTransport::Udp) => Ok(Transport::Udp),
        Ok(pb::SipTransport::Tcp) => Ok(Transport::Tcp),
        Ok(pb::SipTransport::Tls) => Ok(Transport::Tls),
        Err(_) => Err(ApiError::invalid(field, "unknown transport")),
    }
}

pub(crate) fn media_options(m: Option<pb::SipMediaConfig>) -> Result<MediaOptions, ApiError> {
    let Some(m) = m else {
        return Ok(MediaOptions::default());
    };
    if let Some(e) = m.encryption {
        encryption("media.encryption", e)?;
    }
    if m.codecs.len() > SUPPORTED_CODECS.len() * 2 {
        return Err(ApiError::invalid("media.codecs", "too many codecs"));
    }
    let mut codecs = Vec::with_capacity(m.codecs.len());
    for c in m.codecs {
        let name = SUPPORTED_CODECS
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&c.name))
            .ok_or_else(|| {
                if c.name.is_empty() {
                    ApiError::invalid("media.codecs", "codec name is empty")
                } else {
                    ApiError::unsupported(
                        "media.codecs",
                        format!(
                            "codec {:?} is not supported (supported: {})",
                            truncate(&c.name),
                            SUPPORTED_CODECS.join(", ")
                        ),
                    )
                }
            })?;
        if c.rate != 0 && !(8000..=48000).contains(&c.rate) {
            return Err(ApiError::invalid(
                "media.codecs",
                format!("rate {} out of range", c.rate),
            ));
        }
        codecs.push(Codec { name, rate: c.rate });
    }
    if m.only_listed_codecs && codecs.is_empty() {
        return Err(ApiError::invalid(
            "media.codecs",
            "only_listed_codecs with no codecs",
        ));
    }
    let media_timeout = m
        .media_timeout
        .map(|d| {
            let d = proto_duration("media.media_timeout", d)?;
            let (min, max) = MEDIA_TIMEOUT_RANGE;
            if d < min || d > max {
                return Err(ApiError::invalid(
                    "media.media_timeout",
                    "outside 1 s..=1 h",
                ));
            }
            Ok(d)
        })
        .transpose()?;
    Ok(MediaOptions {
        only_listed_codecs: m.only_listed_codecs,
        codecs,
        media_timeout,
    })
}

pub(crate) fn inline_trunk(t: pb::SipOutboundConfig) -> Result<InlineTrunk, ApiError> {
    if !t.destination_country.is_empty() {
        // Region routing by destination country is not something sipbridge does.
        return Err(ApiError::unsupported(
            "trunk.destination_country",
            "region routing is not supported",
        ));
    }
    if t.hostname.is_empty() {
        return Err(ApiError::invalid("trunk.hostname", "required"));
    }
    host_port("trunk.hostname", &t.hostname)?;
    if !t.from_host.is_empty() {
        host_port("trunk.from_host", &t.from_host)?;
    }
    for header in t.headers_to_attributes.keys() {
        header_name("trunk.headers_to_attributes", header, false)?;
    }
    for header in t.attributes_to_headers.values() {
        header_name("trunk.attributes_to_headers", header, true)?;
    }
    Ok(InlineTrunk {
        transport: transport("trunk.transport", t.transport)?,
        auth_username: short_text("trunk.auth_username", &t.auth_username)?,
        auth_password: Secret(short_text("trunk.auth_password", &t.auth_password)?),
        headers_to_attributes: attributes("trunk.headers_to_attributes", t.headers_to_attributes)?,
        attributes_to_headers: attributes("trunk.attributes_to_headers", t.attributes_to_headers)?,
        from_host: t.from_host,
        hostname: t.hostname,
    })
}

pub(crate) fn named_dest(field: &str, d: pb::SipNamedDest) -> Result<NamedDest, ApiError> {
    let display_name = short_text(&format!("{field}.display_name"), &d.display_name)?;
    let uri = match d.uri {
        None => None,
        Some(pb::sip_named_dest::Uri::Raw(raw)) => {
            Some(sip_dest_raw(&format!("{field}.raw"), raw)?)
        }
        Some(pb::sip_named_dest::Uri::Values(v)) => {
            Some(sip_uri_parts(&format!("{field}.values"), v)?)
        }
    };
    Ok(NamedDest { display_name, uri })
}

pub(crate) fn sip_dest_raw(field: &str, raw: String) -> Result<SipDest, ApiError> {
    if raw.len() > MAX_URI_LEN {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_URI_LEN} bytes"),
        ));
    }
    let lower = raw
        .get(..5)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if !(lower.starts_with("sip:") || lower.starts_with("sips:") || lower.starts_with("tel:")) {
        return Err(ApiError::invalid(
            field,
            "must be a sip:, sips: or tel: URI",
        ));
    }
    // A URI goes into a header line as is: whitespace, controls or angle brackets
    // would let it break out of the header (RFC 3261 §25.1 has none of them).
    if raw
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
    {
        return Err(ApiError::invalid(
            field,
            "contains characters not allowed in a URI",
        ));
    }
    if raw.len() <= 4 || raw.ends_with(':') {
        return Err(ApiError::invalid(field, "URI has nothing after the scheme"));
    }
    Ok(SipDest::Raw(raw))
}

pub(crate) fn sip_uri_parts(field: &str, v: pb::SipUri) -> Result<SipDest, ApiError> {
    let user = if v.user.is_empty() {
        String::new()
    } else {
        user_part(&format!("{field}.user"), &v.user)?
    };
    let ip = if v.ip.is_empty() {
        None
    } else {
        Some(
            v.ip.parse::<IpAddr>()
                .map_err(|_| ApiError::invalid(format!("{field}.ip"), "not an IP address"))?,
        )
    };
    if v.host.is_empty() == ip.is_none() {
        return Err(ApiError::invalid(field, "needs exactly one of host and ip"));
    }
    if !v.host.is_empty() {
        host_name(&format!("{field}.host"), &v.host)?;
    }
    let port = match v.port {
        0 => None,
        p => Some(
            u16::try_from(p)
                .map_err(|_| ApiError::invalid(format!("{field}.port"), "out of range"))?,
        ),
    };
    Ok(SipDest::Parts(SipUriParts {
        user,
        host: v.host,
        ip,
        port,
        transport: transport(&format!("{field}.transport"), v.transport)?,
    }))
}

/// A URI user part: RFC 3261 §25.1 `user` characters (unreserved, escapes and
/// user-unreserved), which covers E.164 numbers (`+1555...`) and extensions (`*67`).
pub(crate) fn user_part(field: &str, s: &str) -> Result<String, ApiError> {
    if s.len() > MAX_SHORT_LEN {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_SHORT_LEN} bytes"),
        ));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "-_.!~*'()%&=+$,;?/".contains(c);
    if let Some(c) = s.chars().find(|c| !ok(*c)) {
        return Err(ApiError::invalid(
            field,
            format!("{c:?} is not allowed in a SIP user part"),
        ));
    }
    Ok(s.to_owned())
}

pub(crate) fn host_name(field: &str, s: &str) -> Result<(), ApiError> {
    if s.len() > MAX_SHORT_LEN
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '[' | ']' | ':'))
    {
        return Err(ApiError::invalid(field, "not a host name"));
    }
    Ok(())
}

/// `host`, `host:port`, `a.b.c.d:port` or `[v6]:port`.
pub(crate) fn host_port(field: &str, s: &str) -> Result<(), ApiError> {
    host_name(field, s)?;
    if let Some((host, port)) = s.rsplit_once(':')
        && !host.contains(':')
        && port.parse::<u16>().is_err()
    {
        return Err(ApiError::invalid(field, "bad port"));
    }
    Ok(())
}

/// A single-line text field: bounded, no control characters.
pub(crate) fn short_text(field: &str, s: &str) -> Result<String, ApiError> {
    if s.len() > MAX_SHORT_LEN {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_SHORT_LEN} bytes"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(ApiError::invalid(field, "contains control characters"));
    }
    Ok(s.to_owned())
}

pub(crate) fn long_text(field: &str, s: String) -> Result<String, ApiError> {
    if s.len() > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(ApiError::invalid(
            field,
            format!("longer than {MAX_ATTRIBUTE_VALUE_LEN} bytes"),
        ));
    }
    Ok(s)
}

pub(crate) fn attributes(
    field: &str,
    map: impl IntoIterator<Item = (String, String)>,
) -> Result<Attributes, ApiError> {
    let mut out = BTreeMap::new();
    for (k, v) in map {
        if out.len() == MAX_ATTRIBUTES {
            return Err(ApiError::invalid(
                field,
                format!("more than {MAX_ATTRIBUTES} entries"),
            ));
        }
        if k.is_empty() {
            return Err(ApiError::invalid(field, "empty key"));
        }
        let k = short_text(field, &k)?;
        out.insert(k, long_text(field, v)?);
    }
    Ok(out)
}

/// Extra SIP headers: RFC 3261 §25.1 token names, single-line values, none of the
/// [`RESERVED_HEADERS`].
pub(crate) fn sip_headers(
    field: &str,
    map: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (name, value) in map {
        if out.len() == MAX_HEADERS {
            return Err(ApiError::invalid(
                field,
                format!("more than {MAX_HEADERS} headers"),
            ));
        }
        header_name(field, &name, true)?;
        if value.len() > MAX_HEADER_VALUE_LEN {
            return Err(ApiError::invalid(
                field,
                format!("value of {name} longer than {MAX_HEADER_VALUE_LEN} bytes"),
            ));
        }
        // CR or LF would end the header line and let the value inject headers or a
        // body (RFC 3261 §7.3.1); other controls are not allowed in values either,
        // except HTAB.
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(ApiError::invalid(
                field,
                format!("value of {name} contains CR, LF or control characters"),
            ));
        }
        out.insert(name, value);
    }
    Ok(out)
}

pub(crate) fn header_name(field: &str, name: &str, check_reserved: bool) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > MAX_HEADER_NAME_LEN {
        return Err(ApiError::invalid(field, "header name empty or too long"));
    }
    // RFC 3261 §25.1: token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
    let token = |c: char| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c);
    if !name.chars().all(token) {
        return Err(ApiError::invalid(
            field,
            format!("{:?} is not a header name (RFC 3261 token)", truncate(name)),
        ));
    }
    if check_reserved
        && RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
    {
        return Err(ApiError::invalid(
            field,
            format!("{name} is set by sipbridge and cannot be overridden"),
        ));
    }
    Ok(())
}

/// Bounds echoes of peer input in error messages.
pub(crate) fn truncate(s: &str) -> &str {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
