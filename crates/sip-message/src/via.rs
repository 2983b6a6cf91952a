//! The Via header value (RFC 3261 §20.42, §18.2.2; rport RFC 3581; IPv6 RFC 5118).

use std::fmt;

use crate::HeaderName;
use crate::error::{ErrorKind, ParseError};
use crate::lex::{Cursor, Params, eq_folded, scan_params, starts_folded};
use crate::uri::{Host, classify_host, parse_host, parse_port};

const KIND: ErrorKind = ErrorKind::BadHeader(HeaderName::Via);

/// One Via value (`SIP/2.0/UDP host:port;branch=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via<'a> {
    /// protocol-name/protocol-version, e.g. `SIP` and `2.0`.
    pub protocol: (&'a str, &'a str),
    /// The transport.
    pub transport: Transport<'a>,
    /// sent-by host.
    pub host: Host<'a>,
    /// sent-by port.
    pub port: Option<u16>,
    /// `branch` (RFC 3261 §8.1.1.7); `z9hG4bK` marks RFC 3261 branches.
    pub branch: Option<&'a str>,
    /// `received` (RFC 3261 §18.2.1), as written (IPv6 may be bracketed or not, RFC 5118 §4.5).
    pub received: Option<&'a str>,
    /// `rport` (RFC 3581): `Some(None)` when present without value.
    pub rport: Option<Option<u16>>,
    /// `maddr`.
    pub maddr: Option<&'a str>,
    /// `ttl` (0..=255).
    pub ttl: Option<u8>,
    params: &'a str,
}

/// Via transport (RFC 3261 §20.42, RFC 7118 for WS/WSS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport<'a> {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS
    Tls,
    /// SCTP
    Sctp,
    /// TLS-SCTP
    TlsSctp,
    /// WS
    Ws,
    /// WSS
    Wss,
    /// An extension transport, as written (RFC 4475 §3.1.1.10).
    Other(&'a str),
}

impl<'a> Transport<'a> {
    /// Classifies a transport token (case-insensitive).
    pub fn new(s: &'a str) -> Self {
        // The usual spellings first.
        match s.as_bytes() {
            b"UDP" => return Transport::Udp,
            b"TCP" => return Transport::Tcp,
            b"TLS" => return Transport::Tls,
            _ => {}
        }
        const T: [(&str, Transport<'static>); 7] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("TLS-SCTP", Transport::TlsSctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        for (n, t) in T {
            if s.eq_ignore_ascii_case(n) {
                return t;
            }
        }
        Transport::Other(s)
    }

    /// The canonical upper-case name.
    pub fn as_str(&self) -> &'a str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::TlsSctp => "TLS-SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// Whether the transport is reliable / stream based (RFC 3261 §17.1.1.2 Timer A rule).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp | Transport::Other(_))
    }
}

impl fmt::Display for Transport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a> Via<'a> {
    /// Parses one Via value (no top-level commas).
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        Self::parse_inline(s)
    }

    /// [`Via::parse`] built in place in the `Option` (see `NameAddr::parse_ok`).
    pub(crate) fn parse_ok(s: &'a str) -> Option<Self> {
        Self::parse_inline(s).ok()
    }

    #[inline(always)]
    fn parse_inline(s: &'a str) -> Result<Self, ParseError> {
        let mut c = Cursor::new(s, KIND);
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport, LWS around
        // the slashes allowed (RFC 4475 §3.1.1.1); "SIP/2.0/" is the common fast path.
        let protocol = if s.len() > 8 && starts_folded(s.as_bytes(), b"sip/2.0/") {
            c.pos = 8;
            (&s[..3], &s[4..7])
        } else {
            let name = c.token()?;
            if !c.eat(b'/') {
                return Err(c.err());
            }
            let version = c.token()?;
            if !c.eat(b'/') {
                return Err(c.err());
            }
            (name, version)
        };
        let transport = Transport::new(c.token()?);
        // LWS sent-by
        let before = c.pos;
        c.ws();
        if c.pos == before {
            return Err(c.err());
        }
        let (host, after) = parse_host(s, c.pos).map_err(|e| ParseError::new(KIND, e.offset))?;
        c.pos = after;
        let mut port = None;
        if c.eat(b':') {
            c.ws();
            // port = 1*DIGIT, at most 65535 (the same rule as `parse_port`), read in one pass.
            let b = s.as_bytes();
            let start = c.pos;
            let mut v: u32 = 0;
            while let Some(&d) = b.get(c.pos) {
                if !d.is_ascii_digit() {
                    break;
                }
                if c.pos - start < 5 {
                    v = v * 10 + u32::from(d - b'0');
                }
                c.pos += 1;
            }
            let p = (1..=5)
                .contains(&(c.pos - start))
                .then(|| u16::try_from(v).ok())
                .flatten();
            port = Some(p.ok_or(c.err())?);
        }
        let (mut branch, mut received, mut rport, mut maddr, mut ttl) =
            (None, None, None, None, None);
        // One pass: validate every parameter and pick out the known ones.
        let params = scan_params(&mut c, |n, v, token| match n.len() {
            6 if eq_folded(n, b"branch") => {
                branch = v.filter(|_| token);
                branch.is_some()
            }
            8 if eq_folded(n, b"received") => {
                received = v.filter(|v| classify_host(v).is_some_and(|h| h.is_ip()));
                received.is_some()
            }
            5 if eq_folded(n, b"rport") => match v {
                None => {
                    rport = Some(None);
                    true
                }
                Some(v) => {
                    rport = parse_port(v).map(Some);
                    rport.is_some()
                }
            },
            5 if eq_folded(n, b"maddr") => {
                maddr = v.filter(|v| classify_host(v).is_some());
                maddr.is_some()
            }
            3 if eq_folded(n, b"ttl") => {
                ttl = v
                    .filter(|v| v.len() <= 3)
                    .and_then(|v| v.parse::<u8>().ok());
                ttl.is_some()
            }
            _ => true,
        })
        .map_err(|e| ParseError::new(KIND, e.offset))?;
        c.ws();
        if !c.at_end() {
            return Err(c.err());
        }
        Ok(Via {
            protocol,
            transport,
            host,
            port,
            branch,
            received,
            rport,
            maddr,
            ttl,
            params,
        })
    }

    /// All parameters, known ones included.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// Parameters other than branch, received, rport, maddr and ttl.
    pub fn other_params(&self) -> impl Iterator<Item = crate::Param<'a>> + 'a {
        self.params().filter(|p| {
            !["branch", "received", "rport", "maddr", "ttl"]
                .iter()
                .any(|k| p.name.eq_ignore_ascii_case(k))
        })
    }

    /// Whether the branch carries the RFC 3261 magic cookie `z9hG4bK` (§8.1.1.7).
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch.is_some_and(|b| b.starts_with("z9hG4bK"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn via_table() {
        let v = Via::parse("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds").unwrap();
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.host, Host::Domain("pc33.atlanta.com"));
        assert_eq!(v.port, None);
        assert_eq!(v.branch, Some("z9hG4bK776asdhds"));
        assert!(v.is_rfc3261_branch());

        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v.protocol, ("SIP", "2.0"));
        assert_eq!(v.branch, Some("390skdjuw"));
        assert!(!v.is_rfc3261_branch());

        let v = Via::parse("SIP/2.0/TCP client.example.com:5060;rport;received=192.0.2.4;ttl=16;maddr=224.2.0.1;x=y").unwrap();
        assert_eq!(v.port, Some(5060));
        assert_eq!(v.rport, Some(None));
        assert_eq!(v.received, Some("192.0.2.4"));
        assert_eq!(v.ttl, Some(16));
        assert_eq!(v.maddr, Some("224.2.0.1"));
        assert_eq!(
            v.other_params().map(|p| p.name).collect::<Vec<_>>(),
            vec!["x"]
        );

        let v = Via::parse("SIP/2.0/UDP [2001:db8::9:1]:5070;received=[2001:db8::9:255];branch=z9hG4bKas3;rport=5070").unwrap();
        assert_eq!(
            v.host,
            Host::V6("2001:db8::9:1".parse::<Ipv6Addr>().unwrap())
        );
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.rport, Some(Some(5070)));
        let v =
            Via::parse("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(v.received, Some("2001:db8::9:255"));

        let v = Via::parse("SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en").unwrap();
        assert_eq!(v.transport, Transport::Other("UNKNOWN"));
        let v = Via::parse("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK").unwrap();
        assert_eq!(v.transport, Transport::Wss);
        assert!(v.transport.is_reliable());
    }

    #[test]
    fn via_ports_follow_parse_port() {
        // Pins the one-pass port read against the shared rule (1..=5 digits, <= 65535).
        for (p, want) in [
            ("0", Some(0)),
            ("5060", Some(5060)),
            ("65535", Some(65535)),
            ("00080", Some(80)),
            ("65536", None),
            ("000080", None),
            ("99999999999", None),
            ("", None),
        ] {
            let text = format!("SIP/2.0/UDP h.example.com:{p};branch=z9hG4bKx");
            let v = Via::parse(&text);
            assert_eq!(v.ok().and_then(|v| v.port), want, "{p:?}");
            assert_eq!(parse_port(p), want, "{p:?}");
        }
        let v = Via::parse("SIP/2.0/TLS h : 5061 ;branch=z9hG4bKx").unwrap();
        assert_eq!((v.transport, v.port), (Transport::Tls, Some(5061)));
        assert_eq!(Transport::new("udp"), Transport::Udp);
    }

    #[test]
    fn via_rejects() {
        for s in [
            "SIP/2.0/UDP 192.0.2.15;;",
            ";",
            "",
            "SIP/2.0/UDP",
            "SIP/2.0 host",
            "SIP/2.0/UDP host;branch=",
            "SIP/2.0/UDP host:70000",
            "SIP/2.0/UDP host;rport=x",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP [::1;branch=z",
            "SIP/2.0/UDP host junk",
        ] {
            assert!(Via::parse(s).is_err(), "{s:?} should be rejected");
        }
    }
}
