//! Authorization, Proxy-Authorization, WWW-Authenticate, Proxy-Authenticate
//! (RFC 3261 §20.7, §20.27, §20.28, §20.44; digest parameters per RFC 3261 §25.1 / RFC 8760).

use std::borrow::Cow;
use std::ops::Deref;

use super::TypedHeader;
use crate::error::{ErrorKind, ParseError};
use crate::header_name::HeaderName;
use crate::lex::{Cursor, is_token, trim, unquote};

/// A credentials or challenge value: `scheme` followed by comma-separated `name=value`
/// auth-params (values may be quoted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthValue<'a> {
    /// The scheme as written (`Digest`; compare case-insensitively).
    pub scheme: &'a str,
    params: &'a str,
    /// Whether `params` is a valid auth-param list (always true for `Digest`).
    well_formed: bool,
}

/// Credentials (Authorization / Proxy-Authorization).
pub type Credentials<'a> = AuthValue<'a>;
/// A challenge (WWW-Authenticate / Proxy-Authenticate).
pub type Challenge<'a> = AuthValue<'a>;

/// One auth-param.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value: quoted-string contents (quoted-pairs intact) or token.
    pub value: &'a str,
    /// Whether the value was quoted.
    pub quoted: bool,
}

impl AuthParam<'_> {
    /// The value with quoted-pairs removed.
    pub fn unquoted(&self) -> Cow<'_, str> {
        if self.quoted {
            unquote(self.value)
        } else {
            Cow::Borrowed(self.value)
        }
    }
}

/// Iterator over the auth-params of a well-formed value.
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    c: Cursor<'a>,
    ok: bool,
}

impl<'a> Iterator for AuthParams<'a> {
    type Item = AuthParam<'a>;

    fn next(&mut self) -> Option<AuthParam<'a>> {
        if !self.ok {
            return None;
        }
        next_param(&mut self.c).unwrap_or_default()
    }
}

/// Parses the next `name = value` (after an optional comma) or returns `Ok(None)` at the end.
fn next_param<'a>(c: &mut Cursor<'a>) -> Result<Option<AuthParam<'a>>, ParseError> {
    c.ws();
    if c.at_end() {
        return Ok(None);
    }
    if c.pos > 0 && !c.eat(b',') {
        return Err(c.err());
    }
    let name = c.token()?;
    if !c.eat(b'=') {
        return Err(c.err());
    }
    c.ws();
    let (value, quoted) = if c.peek() == Some(b'"') {
        (c.quoted()?, true)
    } else {
        let v = c.take_while(is_token);
        if v.is_empty() {
            return Err(c.err());
        }
        (v, false)
    };
    Ok(Some(AuthParam {
        name,
        value,
        quoted,
    }))
}

impl<'a> AuthValue<'a> {
    fn parse_as(value: &'a str, kind: ErrorKind) -> Result<Self, ParseError> {
        let mut c = Cursor::new(value, kind);
        let scheme = c.token()?;
        let params_start = c.pos;
        let raw = trim(c.rest());
        // Offsets of `raw` are relative to its own start for the param cursor.
        let mut pc = Cursor::new(raw, kind);
        let mut well_formed = true;
        loop {
            match next_param(&mut pc) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    if scheme.eq_ignore_ascii_case("Digest") {
                        return Err(ParseError::new(kind, params_start + e.offset));
                    }
                    // Other schemes (RFC 4475 §3.3.7) may use token68 or their own syntax.
                    well_formed = false;
                    break;
                }
            }
        }
        Ok(AuthValue {
            scheme,
            params: raw,
            well_formed,
        })
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Everything after the scheme, as written.
    pub fn params_str(&self) -> &'a str {
        self.params
    }

    /// The auth-params (empty when the value is not a param list).
    pub fn params(&self) -> AuthParams<'a> {
        AuthParams {
            c: Cursor::new(self.params, ErrorKind::Param),
            ok: self.well_formed,
        }
    }

    /// A parameter by name (case-insensitive), quoted-pairs removed.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| {
                if p.quoted {
                    unquote(p.value)
                } else {
                    Cow::Borrowed(p.value)
                }
            })
    }

    /// `username`.
    pub fn username(&self) -> Option<Cow<'a, str>> {
        self.param("username")
    }
    /// `realm`.
    pub fn realm(&self) -> Option<Cow<'a, str>> {
        self.param("realm")
    }
    /// `nonce`.
    pub fn nonce(&self) -> Option<Cow<'a, str>> {
        self.param("nonce")
    }
    /// `uri` (digest-uri).
    pub fn uri(&self) -> Option<Cow<'a, str>> {
        self.param("uri")
    }
    /// `response`.
    pub fn response(&self) -> Option<Cow<'a, str>> {
        self.param("response")
    }
    /// `algorithm` (MD5 when absent, RFC 3261 §22.4).
    pub fn algorithm(&self) -> Option<Cow<'a, str>> {
        self.param("algorithm")
    }
    /// `cnonce`.
    pub fn cnonce(&self) -> Option<Cow<'a, str>> {
        self.param("cnonce")
    }
    /// `opaque`.
    pub fn opaque(&self) -> Option<Cow<'a, str>> {
        self.param("opaque")
    }
    /// `qop`: one value in credentials, a comma list of options in a challenge.
    pub fn qop(&self) -> Option<Cow<'a, str>> {
        self.param("qop")
    }
    /// The qop options of a challenge (`"auth,auth-int"`), split.
    pub fn qop_options(&self) -> impl Iterator<Item = &'a str> {
        let raw = self
            .params()
            .find(|p| p.name.eq_ignore_ascii_case("qop"))
            .map_or("", |p| p.value);
        raw.split(',').map(trim).filter(|s| !s.is_empty())
    }
    /// `nc` (nonce count, 8 hex digits).
    pub fn nc(&self) -> Option<u32> {
        let v = self.param("nc")?;
        if v.len() != 8 {
            return None;
        }
        u32::from_str_radix(&v, 16).ok()
    }
    /// `stale=true` in a challenge.
    pub fn stale(&self) -> bool {
        self.param("stale")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
    /// `domain` of a challenge.
    pub fn domain(&self) -> Option<Cow<'a, str>> {
        self.param("domain")
    }
}

macro_rules! auth_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $ty<'a>(pub AuthValue<'a>);

        impl<'a> TypedHeader<'a> for $ty<'a> {
            const NAME: HeaderName<'static> = HeaderName::$name;
            fn parse(value: &'a str) -> Result<Self, ParseError> {
                AuthValue::parse_as(value, ErrorKind::BadHeader(HeaderName::$name)).map($ty)
            }
        }

        impl<'a> Deref for $ty<'a> {
            type Target = AuthValue<'a>;
            fn deref(&self) -> &AuthValue<'a> {
                &self.0
            }
        }
    };
}

auth_header!(/// Authorization (RFC 3261 §20.7).
    Authorization, Authorization);
auth_header!(/// Proxy-Authorization (RFC 3261 §20.28).
    ProxyAuthorization, ProxyAuthorization);
auth_header!(/// WWW-Authenticate (RFC 3261 §20.44).
    WwwAuthenticate, WwwAuthenticate);
auth_header!(/// Proxy-Authenticate (RFC 3261 §20.27).
    ProxyAuthenticate, ProxyAuthenticate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let v = r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let a = Authorization::parse(v).unwrap();
        assert!(a.is_digest());
        assert_eq!(a.username().unwrap(), "bob");
        assert_eq!(a.realm().unwrap(), "biloxi.com");
        assert_eq!(a.uri().unwrap(), "sip:bob@biloxi.com");
        assert_eq!(a.qop().unwrap(), "auth");
        assert_eq!(a.nc(), Some(1));
        assert_eq!(a.cnonce().unwrap(), "0a4f113b");
        assert_eq!(a.response().unwrap(), "6629fae49393a05397450978507c4ef1");
        assert_eq!(a.opaque().unwrap(), "5ccc069c403ebaf9f0171e9517f40e41");
        assert_eq!(a.algorithm(), None);
    }

    #[test]
    fn digest_challenge() {
        let v = "Digest realm=\"atlanta.com\",\r\n domain=\"sip:ss1.carrier.com\", qop=\"auth,auth-int\", nonce=\"f84f1cec41e6cbe5aea9c8e88d359\", opaque=\"\", stale=TRUE, algorithm=MD5";
        let c = WwwAuthenticate::parse(v).unwrap();
        assert_eq!(c.realm().unwrap(), "atlanta.com");
        assert_eq!(
            c.qop_options().collect::<Vec<_>>(),
            vec!["auth", "auth-int"]
        );
        assert!(c.stale());
        assert_eq!(c.opaque().unwrap(), "");
        assert_eq!(c.algorithm().unwrap(), "MD5");
        assert_eq!(c.domain().unwrap(), "sip:ss1.carrier.com");
        let p = ProxyAuthenticate::parse("Digest realm=\"a\\\"b\", nonce=x").unwrap();
        assert_eq!(p.realm().unwrap(), "a\"b");
    }

    #[test]
    fn unknown_scheme_is_kept_and_bad_digest_rejected() {
        let a = Authorization::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!a.is_digest());
        assert_eq!(a.param("opaque-data").unwrap(), "here");
        let b = Authorization::parse("Bearer abc.def/ghi==").unwrap();
        assert_eq!(b.params_str(), "abc.def/ghi==");
        assert_eq!(b.params().count(), 0);
        assert!(Authorization::parse("Digest realm=\"unterminated").is_err());
        assert!(Authorization::parse("Digest realm").is_err());
        assert!(Authorization::parse("Digest realm=a,,").is_err());
        assert!(Authorization::parse("").is_err());
    }
}
