//! What a server transaction echoes into its responses (§8.2.6.2), where responses go
//! (§18.2.2 with RFC 3581), and the messages written from a received one: responses and
//! the ACK for a non-2xx final response (§17.1.1.3).

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};

use crate::compose::{Writer, put_ip, put_u32, reason_phrase};
use crate::config::Config;
use crate::ids::Tag;
use crate::msg::Inbound;
use crate::transport::Transport;

/// What a server transaction copies from its request into every response (§8.2.6.2).
#[derive(Debug, Clone)]
pub(crate) struct Echo {
    /// The top Via with `received`/`rport` filled in (§18.2.1, RFC 3581 §4).
    pub top_via: Bytes,
    /// The other Via values, in order (usually none: no allocation then).
    pub lower_vias: Vec<Bytes>,
    pub from: Bytes,
    pub to: Bytes,
    pub to_has_tag: bool,
    /// The tag added to To when the request had none.
    pub to_tag: Tag,
    pub call_id: Bytes,
    pub cseq: Bytes,
    pub record_routes: Vec<Bytes>,
}

/// Computes the response echo and the response destination for request `m` received from
/// `from` (§18.2.1 received, RFC 3581 §4 rport, §18.2.2 response routing).
pub(crate) fn make_echo(
    m: &Inbound,
    transport: Transport,
    from: SocketAddr,
    to_tag: Tag,
) -> (Echo, SocketAddr) {
    let via = m.top_via();
    let raw_top = m.bytes(&via.value);
    let host_is_src = matches!(via.host, crate::msg::SentByHost::Ip(ip) if ip == from.ip());
    // §18.2.1: add received when sent-by differs from the source address; RFC 3581 §4:
    // with a valueless rport, fill in the source port and always add received.
    let add_received = via.received.is_none() && (via.rport == Some(None) || !host_is_src);
    // Where `;rport` (no value) ends inside the entry, to insert `=<port>` there.
    let rport_at = via.rport_end.map(|e| e - via.value.start);
    let top_via = if rport_at.is_none() && !add_received {
        m.slice(&via.value)
    } else {
        let mut top = BytesMut::with_capacity(raw_top.len() + 64);
        match rport_at {
            Some(end) => {
                top.extend_from_slice(&raw_top[..end]);
                top.extend_from_slice(b"=");
                put_u32(&mut top, u32::from(from.port()));
                top.extend_from_slice(&raw_top[end..]);
            }
            None => top.extend_from_slice(raw_top),
        }
        if add_received {
            top.extend_from_slice(b";received=");
            put_ip(&mut top, from.ip());
        }
        top.freeze()
    };
    // §18.2.2: reliable → the same connection (its peer address); unreliable → the
    // received address, at the rport (RFC 3581) or the sent-by port or the default port.
    let target = if transport.is_reliable() || via.rport.is_some() {
        from
    } else {
        SocketAddr::new(from.ip(), via.port.unwrap_or(transport.default_port()))
    };
    let echo = Echo {
        top_via,
        lower_vias: if m.via_count > 1 {
            m.lower_vias().map(|r| m.slice(&r)).collect()
        } else {
            Vec::new()
        },
        from: m.slice(&m.from),
        to: m.slice(&m.to),
        to_has_tag: m.to_tag.is_some(),
        to_tag,
        call_id: m.slice(&m.call_id),
        cseq: m.slice(&m.cseq_raw),
        record_routes: m.record_routes().map(|r| m.slice(&r)).collect(),
    };
    (echo, target)
}

/// Writes a response from an echo (§8.2.6.2).
#[allow(clippy::too_many_arguments)]
pub(crate) fn build_response(
    buf: &mut BytesMut,
    cfg: &Config,
    echo: &Echo,
    status: u16,
    reason: Option<&str>,
    with_record_route: bool,
    contact: Option<&[u8]>,
    headers: &[(String, String)],
    body: Option<&crate::api::Body>,
) -> Bytes {
    let mut w = Writer::response(buf, status, reason.unwrap_or_else(|| reason_phrase(status)));
    w.header("Via", &echo.top_via);
    for v in &echo.lower_vias {
        w.header("Via", v);
    }
    w.header("From", &echo.from);
    // §8.2.6.2: add a To tag unless the request had one (100 Trying may omit it).
    if echo.to_has_tag || status == 100 {
        w.header("To", &echo.to);
    } else {
        w.header_parts("To", &[&echo.to, b";tag=", echo.to_tag.as_bytes()]);
    }
    w.header("Call-ID", &echo.call_id);
    w.header("CSeq", &echo.cseq);
    if with_record_route {
        // §12.1.1: the UAS copies Record-Route into dialog-creating responses.
        for rr in &echo.record_routes {
            w.header("Record-Route", rr);
        }
    }
    if let Some(c) = contact {
        w.header_parts("Contact", &[b"<", c, b">"]);
    }
    if let Some(ua) = &cfg.user_agent {
        w.header("Server", ua.as_bytes());
    }
    for (n, v) in headers {
        w.header(n, v.as_bytes());
    }
    match body {
        Some(b) => w.finish(Some(&b.content_type), &b.data),
        None => w.finish(None, &[]),
    }
}

/// Builds the ACK for a non-2xx final response from the INVITE it answers (§17.1.1.3): same
/// Request-URI, Call-ID, From, CSeq number and top Via; To from the response; same Route.
pub(crate) fn build_non2xx_ack(buf: &mut BytesMut, invite: &Bytes, response: &Inbound) -> Bytes {
    let Ok(req) = Inbound::parse(invite.clone()) else {
        // We wrote the INVITE ourselves; an unparsable one cannot happen, but never panic.
        return Bytes::new();
    };
    let mut w = Writer::request(buf, "ACK", req.bytes(&req.request_uri_range()));
    w.header("Via", req.bytes(&req.top_via().value));
    w.header("Max-Forwards", b"70");
    w.header("From", req.bytes(&req.from));
    w.header("To", response.bytes(&response.to));
    w.header("Call-ID", req.bytes(&req.call_id));
    w.cseq(req.cseq, "ACK");
    for r in req.message().header_all(sip_message::HeaderName::Route) {
        w.header("Route", r.as_bytes());
    }
    w.finish(None, &[])
}
