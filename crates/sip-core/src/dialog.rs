//! Dialog state (RFC 3261 §12) and the requests sent within a dialog (§12.2.1.1).

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use crate::ids::DialogId;
use crate::msg::{addr_uri, find};
use crate::transport::Transport;

/// One dialog of a call. A UAC call may hold several early dialogs (forking); at most one
/// becomes the call's confirmed dialog.
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub id: DialogId,
    /// Early (from a 1xx with To tag) or confirmed (2xx).
    pub confirmed: bool,
    /// Remote target: the peer's Contact URI (§12.1.1/§12.1.2), replaced by target refreshes.
    pub remote_target: Bytes,
    /// Route set, in the order requests carry it (§12.1.2: the UAC reverses Record-Route).
    pub route_set: Vec<Bytes>,
    /// Local CSeq, incremented per new request (§12.2.1.1).
    pub local_seq: u32,
    /// Highest CSeq seen from the peer (§12.2.2), `None` until the first request.
    pub remote_seq: Option<u32>,
    /// Our From/To value, tag included.
    pub local_header: Bytes,
    /// The peer's From/To value, tag included.
    pub remote_header: Bytes,
    /// UAC: the ACK sent for the 2xx of `ack_cseq`, resent when the 2xx is retransmitted.
    pub ack: Option<(u32, Bytes)>,
}

/// Where an in-dialog request goes (§12.2.1.1 with §16.12.1.1 loose/strict routing).
pub(crate) struct NextHop {
    pub request_uri: Bytes,
    pub routes: Vec<Bytes>,
    /// Destination resolved from an IP-literal URI; `None` means "use the flow".
    pub destination: Option<SocketAddr>,
}

impl Dialog {
    /// Computes the Request-URI, Route headers and next hop for a new request.
    pub(crate) fn next_hop(&self, transport: Transport) -> NextHop {
        let Some(first) = self.route_set.first() else {
            return NextHop {
                request_uri: self.remote_target.clone(),
                routes: Vec::new(),
                destination: uri_socket_addr(&self.remote_target, transport),
            };
        };
        let first_uri = uri_of(first);
        if uri_has_lr(&first_uri) {
            NextHop {
                request_uri: self.remote_target.clone(),
                routes: self.route_set.clone(),
                destination: uri_socket_addr(&first_uri, transport),
            }
        } else {
            // Strict router: its URI becomes the Request-URI and the remote target is
            // appended to the Route set (§12.2.1.1).
            let mut routes: Vec<Bytes> = self.route_set[1..].to_vec();
            let mut target = Vec::with_capacity(self.remote_target.len() + 2);
            target.push(b'<');
            target.extend_from_slice(&self.remote_target);
            target.push(b'>');
            routes.push(Bytes::from(target));
            NextHop {
                destination: uri_socket_addr(&first_uri, transport),
                request_uri: first_uri,
                routes,
            }
        }
    }
}

/// The URI inside a Route/Record-Route name-addr.
pub(crate) fn uri_of(name_addr: &Bytes) -> Bytes {
    let r = addr_uri(name_addr, 0..name_addr.len());
    name_addr.slice(r)
}

fn uri_has_lr(uri: &[u8]) -> bool {
    uri.split(|b| *b == b';').skip(1).any(|p| {
        p.eq_ignore_ascii_case(b"lr") || p.len() > 3 && p[..3].eq_ignore_ascii_case(b"lr=")
    })
}

/// Resolves `sip:user@1.2.3.4:5060;…` (or an IPv6 literal) to a socket address; host names
/// need DNS, which is the shell's job, so they yield `None`.
pub(crate) fn uri_socket_addr(uri: &[u8], transport: Transport) -> Option<SocketAddr> {
    let colon = uri.iter().position(|b| *b == b':')?;
    let rest = &uri[colon + 1..];
    let rest = match find(rest, 0, b"@") {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    let end = rest
        .iter()
        .position(|b| matches!(b, b';' | b'?' | b'>'))
        .unwrap_or(rest.len());
    let hostport = std::str::from_utf8(&rest[..end]).ok()?;
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let close = h.find(']')?;
        let port = h[close + 1..]
            .strip_prefix(':')
            .map(str::parse)
            .transpose()
            .ok()?;
        (&h[..close], port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (hostport, None),
        }
    };
    let ip: IpAddr = host.parse().ok()?;
    let default = if uri.starts_with(b"sips:") {
        5061
    } else {
        transport.default_port()
    };
    Some(SocketAddr::new(ip, port.unwrap_or(default)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_ip_literal_uris_only() {
        let t = Transport::Udp;
        assert_eq!(
            uri_socket_addr(b"sip:bob@192.0.2.7:5080;transport=udp", t),
            Some("192.0.2.7:5080".parse().expect("addr"))
        );
        assert_eq!(
            uri_socket_addr(b"sip:[2001:db8::1]", t),
            Some("[2001:db8::1]:5060".parse().expect("addr"))
        );
        assert_eq!(
            uri_socket_addr(b"sips:10.0.0.1", t),
            Some("10.0.0.1:5061".parse().expect("addr"))
        );
        assert_eq!(uri_socket_addr(b"sip:bob@example.com", t), None);
    }

    #[test]
    fn loose_and_strict_routing() {
        let id = DialogId {
            call_id: crate::CallId::new("c"),
            local_tag: crate::Tag::new("a"),
            remote_tag: crate::Tag::new("b"),
        };
        let mut d = Dialog {
            id,
            confirmed: true,
            remote_target: Bytes::from_static(b"sip:bob@10.0.0.2:5062"),
            route_set: vec![Bytes::from_static(b"<sip:10.0.0.9;lr>")],
            local_seq: 1,
            remote_seq: None,
            local_header: Bytes::new(),
            remote_header: Bytes::new(),
            ack: None,
        };
        let hop = d.next_hop(Transport::Udp);
        assert_eq!(&hop.request_uri[..], b"sip:bob@10.0.0.2:5062");
        assert_eq!(
            hop.destination,
            Some("10.0.0.9:5060".parse().expect("addr"))
        );
        d.route_set = vec![Bytes::from_static(b"<sip:10.0.0.9>")];
        let hop = d.next_hop(Transport::Udp);
        assert_eq!(&hop.request_uri[..], b"sip:10.0.0.9");
        assert_eq!(&hop.routes[0][..], b"<sip:bob@10.0.0.2:5062>");
    }
}
