//! `name-addr` / `addr-spec` header values (From, To, Contact, Route, Record-Route, Refer-To,
//! P-Asserted-Identity, ...): RFC 3261 §20.10, §25.1.

use std::borrow::Cow;

use crate::error::{ErrorKind, ParseError};
use crate::lex::{
    Cursor, Params, eq_folded, is_token, is_ws, parse_u32, scan_params, trim, unquote,
};
use crate::uri::Uri;

/// A `[display-name] <URI> *(;param)` or `addr-spec *(;param)` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<&'a str>,
    display_quoted: bool,
    /// The URI.
    pub uri: Uri<'a>,
    /// Whether the URI was enclosed in `<>`.
    pub bracketed: bool,
    params: &'a str,
    tag: Option<&'a str>,
}

impl<'a> NameAddr<'a> {
    /// Parses one value (no top-level commas). `kind` is the error kind to report.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        Self::parse_as(s, ErrorKind::Uri)
    }

    pub(crate) fn parse_as(s: &'a str, kind: ErrorKind) -> Result<Self, ParseError> {
        Self::parse_inline(s, kind)
    }

    /// [`NameAddr::parse_as`] for the accessors that only want the value: built in place
    /// in the `Option`. Converting a returned `Result` copied the 168-byte value with a
    /// `memcpy` call (about 4 % of parse + core headers, perf).
    pub(crate) fn parse_ok(s: &'a str, kind: ErrorKind) -> Option<Self> {
        Self::parse_inline(s, kind).ok()
    }

    #[inline(always)]
    fn parse_inline(s: &'a str, kind: ErrorKind) -> Result<Self, ParseError> {
        let mut c = Cursor::new(s, kind);
        c.ws();
        let b = s.as_bytes();
        let mut display = None;
        let mut display_quoted = false;
        let bracketed;
        let uri_str;
        match c.peek() {
            Some(b'"') => {
                display = Some(c.quoted()?);
                display_quoted = true;
                c.ws();
                if c.peek() != Some(b'<') {
                    return Err(c.err());
                }
                bracketed = true;
            }
            Some(b'<') => bracketed = true,
            Some(_) => {
                // Either `token *(LWS token) <uri>` or a bare addr-spec. RFC 4475 §3.1.1.6
                // allows no LWS between the display name and '<'.
                let start = c.pos;
                let mut i = start;
                let mut last_tok_end = start;
                while i < b.len() && (is_token(b[i]) || is_ws(b[i])) {
                    if is_token(b[i]) {
                        last_tok_end = i + 1;
                    }
                    i += 1;
                }
                if i < b.len() && b[i] == b'<' {
                    if last_tok_end > start {
                        display = s.get(start..last_tok_end);
                    }
                    c.pos = i;
                    bracketed = true;
                } else {
                    bracketed = false;
                }
            }
            None => return Err(c.err()),
        }
        if bracketed {
            // LAQUOT addr-spec RAQUOT: no LWS inside the brackets (RFC 4475 §3.1.2.14).
            c.pos += 1;
            let start = c.pos;
            let close = crate::find::find1(&b[start..], b'>')
                .map(|p| start + p)
                .ok_or(ParseError::new(kind, start))?;
            uri_str = &s[start..close];
            c.pos = close + 1;
        } else {
            // addr-spec without brackets: the URI cannot contain ',', '?' or ';'
            // (RFC 3261 §20.10); what follows ';' are header parameters.
            let start = c.pos;
            let mut i = start;
            while i < b.len() && b[i] != b';' && !is_ws(b[i]) {
                if b[i] == b'?' || b[i] == b',' {
                    return Err(ParseError::new(kind, i));
                }
                i += 1;
            }
            uri_str = &s[start..i];
            c.pos = i;
        }
        let uri_off = uri_str.as_ptr() as usize - s.as_ptr() as usize;
        let uri = Uri::parse(uri_str).map_err(|e| ParseError::new(e.kind, uri_off + e.offset))?;
        let mut tag = None;
        let params = scan_params(&mut c, |n, v, token| {
            if tag.is_none() && eq_folded(n, b"tag") {
                // tag = "tag" EQUAL token (RFC 3261 §25.1)
                tag = v.filter(|_| token);
                return tag.is_some();
            }
            true
        })?;
        c.ws();
        if !c.at_end() {
            return Err(c.err());
        }
        Ok(NameAddr {
            tag,
            display,
            display_quoted,
            uri,
            bracketed,
            params,
        })
    }

    /// The display name as written (quoted-string contents with quoted-pairs, or tokens).
    pub fn display_name_raw(&self) -> Option<&'a str> {
        self.display
    }

    /// The display name with quoted-pairs removed.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        self.display.map(|d| {
            if self.display_quoted {
                unquote(d)
            } else {
                Cow::Borrowed(d)
            }
        })
    }

    /// The header parameters (after the URI), e.g. `;tag=...`.
    pub fn params(&self) -> Params<'a> {
        Params::new(self.params)
    }

    /// A header parameter by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params().get(name)
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }
}

/// One Contact value: `*` or an address with `expires` / `q` parameters (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (REGISTER removal of all bindings, RFC 3261 §10.2.2).
    Star,
    /// An address.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact value.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        if trim(s) == "*" {
            return Ok(Contact::Star);
        }
        let na = NameAddr::parse_as(s, ErrorKind::BadHeader(crate::HeaderName::Contact))?;
        if let Some(e) = na.param("expires") {
            // contact-params-expires = "expires" EQUAL delta-seconds; 2^32-1 at most
            // (RFC 4475 §3.1.2.4).
            if e.and_then(parse_u32).is_none() {
                return Err(ParseError::new(
                    ErrorKind::BadHeader(crate::HeaderName::Contact),
                    0,
                ));
            }
        }
        if let Some(q) = na.param("q") {
            if q.and_then(parse_qvalue).is_none() {
                return Err(ParseError::new(
                    ErrorKind::BadHeader(crate::HeaderName::Contact),
                    0,
                ));
            }
        }
        Ok(Contact::Addr(na))
    }

    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The `expires` parameter in seconds.
    pub fn expires(&self) -> Option<u32> {
        self.addr()?.param("expires").flatten().and_then(parse_u32)
    }

    /// The `q` parameter in thousandths (`q=0.7` is 700).
    pub fn q(&self) -> Option<u16> {
        self.addr()?.param("q").flatten().and_then(parse_qvalue)
    }
}

/// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
pub(crate) fn parse_qvalue(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if b.is_empty() || frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut v: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut scale = 100;
    for d in frac.bytes() {
        v += u16::from(d - b'0') * scale;
        scale /= 10;
    }
    (v <= 1000).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Host;

    #[test]
    fn name_addr_table() {
        let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
            ("<sip:a@b>;tag=1", None, "sip:a@b", Some("1")),
            (
                "\"Alice\" <sip:a@b>;tag=x",
                Some("Alice"),
                "sip:a@b",
                Some("x"),
            ),
            ("Bob Smith <sip:b@c>", Some("Bob Smith"), "sip:b@c", None),
            (
                "caller<sip:caller@example.com>;tag=323",
                Some("caller"),
                "sip:caller@example.com",
                Some("323"),
            ),
            (
                " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
                None,
                "sip:vivekg@chair-dnrc.example.com",
                Some("1918181833n"),
            ),
            (
                "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
                Some("J Rosenberg \\\""),
                "sip:jdrosen@example.com",
                Some("98asjd8"),
            ),
            (
                "sip:+19725552222@gw1.example.net;unknownparam",
                None,
                "sip:+19725552222@gw1.example.net",
                None,
            ),
            (
                "<http://www.example.com>;tag=3234233",
                None,
                "http://www.example.com",
                Some("3234233"),
            ),
            ("isbn:2983792873", None, "isbn:2983792873", None),
            (
                "<sip:[2001:db8::1]:5060>",
                None,
                "sip:[2001:db8::1]:5060",
                None,
            ),
            (
                "\"%Z%45\" <sip:resource@example.com>",
                Some("%Z%45"),
                "sip:resource@example.com",
                None,
            ),
        ];
        for &(s, dn, uri, tag) in cases {
            let na = NameAddr::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
            assert_eq!(na.display_name().as_deref(), dn, "{s:?}");
            assert_eq!(na.uri.as_str(), uri, "{s:?}");
            assert_eq!(na.tag(), tag, "{s:?}");
        }
        let na = NameAddr::parse("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(na.param("unknownparam").is_some());
        assert!(na.uri.as_sip().unwrap().params().next().is_none());
        assert!(matches!(
            NameAddr::parse("<sip:[2001:db8::1]>")
                .unwrap()
                .uri
                .as_sip()
                .unwrap()
                .host,
            Host::V6(_)
        ));
    }

    #[test]
    fn name_addr_rejects() {
        for s in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "< sip:t.watson@example.org >",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b",
            "<sip:a@b>;",
            "<sip:a@b> junk",
            "",
            "\"Joe\" <sip:joe@example.org>;;;;",
        ] {
            assert!(NameAddr::parse(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn contact_star_expires_q() {
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Star);
        let c = Contact::parse("<sip:a@b>;expires=3600;q=0.7").unwrap();
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(c.q(), Some(700));
        assert!(
            Contact::parse("<sip:user@host129.example.com>\r\n  ;expires=280297596632815").is_err()
        );
        assert!(Contact::parse("<sip:a@b>;q=1.5").is_err());
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.33"), Some(330));
    }
}
