//! Bearer-token authentication (API_COMPAT.md §Auth): HS256 JWTs signed with the
//! secret of the API key named in `iss`, carrying `sip` grants.

use std::collections::BTreeMap;
use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::error::AuthError;

/// Clock leeway for `exp` and `nbf`, in seconds. Zero: a token is valid exactly in
/// `[nbf, exp)` (RFC 7519 §4.1.4, §4.1.5). Named so nobody inherits a library's
/// default leeway without noticing (jsonwebtoken's is 60 s).
pub const LEEWAY_SECS: u64 = 0;

/// The `sip` grants of a token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct SipGrants {
    /// Trunk and dispatch-rule management.
    #[serde(default)]
    pub admin: bool,
    /// Create and transfer SIP participants; sipbridge's `Calls` service.
    #[serde(default)]
    pub call: bool,
}

/// The subset of the `video` grants sipbridge reads (informational; sipbridge
/// authorizes by the `sip` grants only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoGrants {
    /// The room the token is scoped to.
    #[serde(default)]
    pub room: String,
    /// Room administration.
    #[serde(default)]
    pub room_admin: bool,
    /// Joining a room.
    #[serde(default)]
    pub room_join: bool,
}

/// The verified claims of a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The API key.
    #[serde(default)]
    pub iss: String,
    /// The identity the token was issued to.
    #[serde(default)]
    pub sub: String,
    /// Expiry, seconds since the Unix epoch (required).
    #[serde(default)]
    pub exp: Option<u64>,
    /// Not-before, seconds since the Unix epoch.
    #[serde(default)]
    pub nbf: Option<u64>,
    /// SIP grants (absent = none).
    #[serde(default)]
    pub sip: SipGrants,
    /// Video grants (absent = none).
    #[serde(default)]
    pub video: VideoGrants,
}

/// Verifies bearer tokens against a set of API keys.
///
/// `Debug` prints the key names only, never the secrets.
#[derive(Clone)]
pub struct Authenticator {
    keys: BTreeMap<String, String>,
}

impl Authenticator {
    /// Accepts tokens whose `iss` is a key of `keys` and whose signature verifies
    /// with the mapped secret. A key with an empty secret accepts nothing.
    pub fn new(keys: BTreeMap<String, String>) -> Self {
        Self { keys }
    }

    /// Verifies the value of an `Authorization` header at `now_unix` (seconds since
    /// the Unix epoch) and returns the claims.
    pub fn verify(&self, authorization: Option<&str>, now_unix: u64) -> Result<Claims, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?;
        let token = bearer_token(value).ok_or(AuthError::NotBearer)?;

        // `alg: none` and every non-HS256 algorithm stop here: jsonwebtoken has no
        // "none" algorithm, so such a header does not even parse.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::Algorithm);
        }
        // The key is chosen by `iss`, so the claims must be read before the signature
        // can be checked; nothing read here is trusted until `decode` below verifies.
        let unverified: Claims = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| AuthError::Malformed)?;
        let secret = self
            .keys
            .get(&unverified.iss)
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::UnknownKey)?;
        let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|_| AuthError::UnknownKey)?;

        let mut validation = Validation::new(Algorithm::HS256);
        // Time claims are checked below against the caller's `now_unix` with
        // LEEWAY_SECS; the library's own checks read the system clock with its own
        // leeway, so they are switched off rather than half-used.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = LEEWAY_SECS;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
                _ => AuthError::Malformed,
            })?
            .claims;

        let exp = claims.exp.ok_or(AuthError::NoExpiry)?;
        // RFC 7519 §4.1.4: the current time MUST be before `exp`.
        if now_unix >= exp.saturating_add(LEEWAY_SECS) {
            return Err(AuthError::Expired);
        }
        // RFC 7519 §4.1.5: the current time MUST be after or equal to `nbf`.
        if let Some(nbf) = claims.nbf
            && now_unix.saturating_add(LEEWAY_SECS) < nbf
        {
            return Err(AuthError::NotYetValid);
        }
        Ok(claims)
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `Bearer <token>`; the scheme is case-insensitive (RFC 7235 §2.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    pub(crate) const KEY: &str = "devkey";
    pub(crate) const SECRET: &str = "a-secret-of-at-least-32-characters......";
    pub(crate) const NOW: u64 = 1_800_000_000;

    pub(crate) fn authenticator() -> Authenticator {
        Authenticator::new(BTreeMap::from([(KEY.to_owned(), SECRET.to_owned())]))
    }

    pub(crate) fn token(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).expect("key"),
        )
        .expect("encode")
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": KEY, "sub": "svc", "nbf": NOW - 10, "exp": NOW + 600,
            "sip": {"call": true}, "video": {"room": "r", "roomAdmin": true}
        })
    }

    fn bearer(t: &str) -> String {
        format!("Bearer {t}")
    }

    #[test]
    fn accepts_a_good_token() {
        let c = authenticator()
            .verify(Some(&bearer(&token(claims(), SECRET))), NOW)
            .expect("ok");
        assert_eq!(c.iss, KEY);
        assert!(c.sip.call && !c.sip.admin);
        assert!(c.video.room_admin);
        // Scheme is case-insensitive.
        let t = token(claims(), SECRET);
        assert!(
            authenticator()
                .verify(Some(&format!("bearer {t}")), NOW)
                .is_ok()
        );
    }

    #[test]
    fn refusals() {
        let a = authenticator();
        let mut expired = claims();
        expired["exp"] = (NOW - 1).into();
        let mut at_exp = claims();
        at_exp["exp"] = NOW.into();
        let mut future = claims();
        future["nbf"] = (NOW + 1).into();
        let mut no_exp = claims();
        no_exp.as_object_mut().expect("object").remove("exp");
        let mut unknown = claims();
        unknown["iss"] = "otherkey".into();
        let mut no_iss = claims();
        no_iss.as_object_mut().expect("object").remove("iss");

        let cases: Vec<(Option<String>, AuthError)> = vec![
            (None, AuthError::Missing),
            (Some("Basic abc".into()), AuthError::NotBearer),
            (Some("Bearer".into()), AuthError::NotBearer),
            (Some(bearer("not.a.jwt")), AuthError::Malformed),
            (
                Some(bearer(&token(
                    claims(),
                    "wrong-secret-wrong-secret-wrong!!",
                ))),
                AuthError::BadSignature,
            ),
            (Some(bearer(&token(expired, SECRET))), AuthError::Expired),
            (Some(bearer(&token(at_exp, SECRET))), AuthError::Expired),
            (Some(bearer(&token(future, SECRET))), AuthError::NotYetValid),
            (Some(bearer(&token(no_exp, SECRET))), AuthError::NoExpiry),
            (Some(bearer(&token(unknown, SECRET))), AuthError::UnknownKey),
            (Some(bearer(&token(no_iss, SECRET))), AuthError::UnknownKey),
        ];
        for (header, want) in cases {
            assert_eq!(a.verify(header.as_deref(), NOW), Err(want), "{header:?}");
        }
    }

    #[test]
    fn unsigned_and_foreign_algorithms_are_refused() {
        let payload = base64_url(serde_json::to_vec(&claims()).expect("json"));
        let none = format!(
            "{}.{payload}.",
            base64_url(br#"{"alg":"none","typ":"JWT"}"#.to_vec())
        );
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()).expect("key"),
        )
        .expect("encode");
        // A valid HS256 signature glued under a header that claims `none`.
        let good = token(claims(), SECRET);
        let sig = good.rsplit('.').next().expect("sig");
        let none_signed = format!(
            "{}.{payload}.{sig}",
            base64_url(br#"{"alg":"none"}"#.to_vec())
        );
        for t in [none, none_signed] {
            assert!(
                matches!(
                    authenticator().verify(Some(&bearer(&t)), NOW),
                    Err(AuthError::Malformed | AuthError::Algorithm)
                ),
                "{t}"
            );
        }
        assert_eq!(
            authenticator().verify(Some(&bearer(&hs512)), NOW),
            Err(AuthError::Algorithm)
        );
    }

    #[test]
    fn empty_secret_accepts_nothing() {
        let a = Authenticator::new(BTreeMap::from([(KEY.to_owned(), String::new())]));
        // Whatever the token was signed with, an empty configured secret never matches.
        assert_eq!(
            a.verify(Some(&bearer(&token(claims(), "x"))), NOW),
            Err(AuthError::UnknownKey)
        );
    }

    #[test]
    fn debug_hides_secrets() {
        let s = format!("{:?}", authenticator());
        assert!(s.contains(KEY) && !s.contains(SECRET));
    }

    /// Unpadded base64url (RFC 4648 §5), enough to forge test headers.
    fn base64_url(data: Vec<u8>) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    }
}
