//! Media security attributes: SDES `crypto` (RFC 4568) and DTLS `fingerprint` (RFC 8122).

use core::fmt;

use super::lex::{Fail, Tokens, fail, is_token, is_visible, is_ws, next_token, parse_u64};
use crate::error::ErrorKind;

/// `a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]` (RFC 4568 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crypto<'a> {
    /// Tag (1–9 digits) that the answer echoes to select this line (RFC 4568 §5.1).
    pub tag: u32,
    /// Crypto suite, e.g. `AES_CM_128_HMAC_SHA1_80`.
    pub suite: &'a str,
    /// The `;`-separated key parameters as written; see [`Crypto::keys`].
    pub key_params: &'a str,
    /// Session parameters (`UNENCRYPTED_SRTCP`, `KDR=…`, …) as written, if any.
    pub session_params: Option<&'a str>,
}

impl<'a> Crypto<'a> {
    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpCrypto;
        let mut t = Tokens::new(value);
        let tag_s = next_token(&mut t, kind, value)?;
        let tag = match parse_u64(tag_s, 9) {
            Some(v) => v as u32,
            None => return fail(kind, tag_s),
        };
        let suite = next_token(&mut t, kind, value)?;
        if !suite
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return fail(kind, suite);
        }
        let key_params = next_token(&mut t, kind, value)?;
        for kp in key_params.split(';') {
            KeyParam::parse(kp)?;
        }
        let rest = t.remainder().trim_end_matches(is_ws);
        if let Some(bad) = Tokens::new(rest).find(|p| !is_visible(p)) {
            return fail(kind, bad);
        }
        Ok(Crypto {
            tag,
            suite,
            key_params,
            session_params: (!rest.is_empty()).then_some(rest),
        })
    }

    /// The key parameters in order.
    pub fn keys(&self) -> impl Iterator<Item = KeyParam<'a>> + use<'a> {
        self.key_params
            .split(';')
            .filter_map(|kp| KeyParam::parse(kp).ok())
    }

    /// The session parameters, one token each.
    pub fn session_params(&self) -> Tokens<'a> {
        Tokens::new(self.session_params.unwrap_or(""))
    }
}

impl fmt::Display for Crypto<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.tag, self.suite, self.key_params)?;
        if let Some(s) = self.session_params {
            write!(f, " {s}")?;
        }
        Ok(())
    }
}

/// One `<key-method>:<key-info>` of a crypto line (RFC 4568 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyParam<'a> {
    /// Key method; `inline` is the only one defined.
    pub method: &'a str,
    /// Key info as written.
    pub info: &'a str,
}

impl<'a> KeyParam<'a> {
    fn parse(s: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpCrypto;
        let (method, info) = s.split_once(':').ok_or(Fail::at(kind, s))?;
        if !is_token(method) || !is_visible(info) {
            return fail(kind, s);
        }
        let kp = KeyParam { method, info };
        if method.eq_ignore_ascii_case("inline") {
            InlineKey::parse(info)?;
        }
        Ok(kp)
    }

    /// The SRTP inline key (RFC 4568 §6.1), when the method is `inline`.
    pub fn inline(&self) -> Option<InlineKey<'a>> {
        if self.method.eq_ignore_ascii_case("inline") {
            InlineKey::parse(self.info).ok()
        } else {
            None
        }
    }
}

/// `inline:<key||salt>[|<lifetime>][|<MKI>:<length>]` (RFC 4568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineKey<'a> {
    /// Master key and salt, base64 encoded (decode with any base64 crate).
    pub key_salt: &'a str,
    /// Master key lifetime.
    pub lifetime: Option<Lifetime>,
    /// Master key identifier.
    pub mki: Option<Mki>,
}

/// Master key lifetime in packets (RFC 4568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Written `2^n`.
    PowerOfTwo(u8),
    /// Written as a plain number.
    Packets(u64),
}

/// Master key identifier value and its length in bytes (1–128) (RFC 4568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// MKI value.
    pub value: u64,
    /// Length of the MKI field in SRTP packets, in bytes.
    pub length: u8,
}

impl<'a> InlineKey<'a> {
    fn parse(info: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpCrypto;
        let mut parts = info.split('|');
        let key_salt = parts.next().unwrap_or(info);
        let b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
        if key_salt.is_empty() || !key_salt.bytes().all(b64) {
            return fail(kind, info);
        }
        let mut lifetime = None;
        let mut mki = None;
        for part in parts {
            // The MKI contains ':', the lifetime never does; each may appear once, lifetime
            // first.
            if let Some((v, l)) = part.split_once(':') {
                let value = parse_u64(v, 20).ok_or(Fail::at(kind, part))?;
                let length = match parse_u64(l, 3) {
                    Some(n @ 1..=128) => n as u8,
                    _ => return fail(kind, l),
                };
                if mki.is_some() {
                    return fail(kind, part);
                }
                mki = Some(Mki { value, length });
            } else {
                if lifetime.is_some() || mki.is_some() {
                    return fail(kind, part);
                }
                lifetime = Some(match part.strip_prefix("2^") {
                    Some(exp) => match parse_u64(exp, 2) {
                        Some(e @ 0..=63) => Lifetime::PowerOfTwo(e as u8),
                        _ => return fail(kind, part),
                    },
                    None => Lifetime::Packets(parse_u64(part, 20).ok_or(Fail::at(kind, part))?),
                });
            }
        }
        Ok(InlineKey {
            key_salt,
            lifetime,
            mki,
        })
    }
}

/// `a=fingerprint:<hash-func> <fingerprint>` (RFC 8122 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint<'a> {
    /// Hash function, e.g. `sha-256`.
    pub hash: &'a str,
    /// Colon-separated hex bytes as written; see [`Fingerprint::bytes`].
    pub value: &'a str,
}

impl<'a> Fingerprint<'a> {
    /// Longest digest accepted, in bytes (SHA-512).
    const MAX_BYTES: usize = 64;

    pub(crate) fn parse_inner(value: &'a str) -> Result<Self, Fail> {
        let kind = ErrorKind::SdpFingerprint;
        let mut t = Tokens::new(value);
        let hash = next_token(&mut t, kind, value)?;
        if !is_token(hash) {
            return fail(kind, hash);
        }
        let fp = next_token(&mut t, kind, value)?;
        if let Some(extra) = t.next() {
            return fail(kind, extra);
        }
        // RFC 8122 requires upper-case hex; lower case is unambiguous and common, so accepted.
        // Shape: `HH(:HH)*`, at most MAX_BYTES pairs.
        let b = fp.as_bytes();
        let pairs = b.len().div_ceil(3);
        let ok = b.len() % 3 == 2
            && pairs <= Self::MAX_BYTES
            && b.iter().enumerate().all(|(i, &c)| {
                if i % 3 == 2 {
                    c == b':'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if !ok {
            return fail(kind, fp);
        }
        Ok(Fingerprint { hash, value: fp })
    }

    /// The digest bytes.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + use<'a> {
        self.value
            .split(':')
            .filter_map(|h| u8::from_str_radix(h, 16).ok())
    }
}

impl fmt::Display for Fingerprint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.hash, self.value)
    }
}
