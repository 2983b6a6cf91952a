//! The bearer token a join carries: an HS256 JWT (RFC 7519) that sipbridge mints for one
//! participant of one room from the configured API key and secret.
//!
//! Claims follow the room-server convention (LiveKit access tokens): `iss` is the API key,
//! `sub` the participant identity, `name` and `attributes` the participant's, and a `video`
//! grant that allows joining exactly this room. `nbf`/`exp` bound its use (RFC 7519 §4.1.4,
//! §4.1.5).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// API key and secret shared with the room server.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiCredentials {
    /// The API key (the token's `iss`).
    pub key: String,
    /// The HMAC secret the token is signed with.
    pub secret: String,
}

impl std::fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("ApiCredentials")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The room grant of a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoGrant {
    /// The one room the token admits to.
    pub room: String,
    /// Always `true`: the token is for joining.
    pub room_join: bool,
}

/// The claims of a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The API key.
    pub iss: String,
    /// The participant identity.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// Participant attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// The room grant.
    pub video: VideoGrant,
    /// Not before (seconds since the Unix epoch).
    pub nbf: u64,
    /// Expiry (seconds since the Unix epoch).
    pub exp: u64,
}

/// Mints the token for `identity` joining `room`, valid from `now` for `ttl`.
///
/// # Errors
/// [`Error::InvalidRequest`] if the claims cannot be signed (an empty secret).
pub fn mint(
    creds: &ApiCredentials,
    room: &str,
    identity: &str,
    name: &str,
    attributes: &[(String, String)],
    now: SystemTime,
    ttl: Duration,
) -> Result<String, Error> {
    if creds.secret.is_empty() {
        return Err(Error::InvalidRequest("empty API secret"));
    }
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = JoinClaims {
        iss: creds.key.clone(),
        sub: identity.to_owned(),
        name: name.to_owned(),
        attributes: attributes.iter().cloned().collect(),
        video: VideoGrant {
            room: room.to_owned(),
            room_join: true,
        },
        nbf: now,
        // Rounded up so a sub-second TTL still yields a usable token.
        exp: now + ttl.as_secs().max(1),
    };
    let key = EncodingKey::from_secret(creds.secret.as_bytes())
        .map_err(|_| Error::InvalidRequest("API secret is not a usable HMAC key"))?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|_| Error::InvalidRequest("join token could not be signed"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn token_carries_the_room_grant_and_verifies_with_the_secret() {
        let creds = ApiCredentials {
            key: "APIkey".into(),
            secret: "s3cret-s3cret-s3cret-s3cret-s3cret".into(),
        };
        let attrs = vec![("sip.callID".to_owned(), "abc".to_owned())];
        let now = SystemTime::now();
        let t = mint(
            &creds,
            "r1",
            "sip_1",
            "Caller",
            &attrs,
            now,
            Duration::from_secs(600),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut v = Validation::new(Algorithm::HS256);
        v.validate_nbf = true;
        let got = jsonwebtoken::decode::<JoinClaims>(
            &t,
            &DecodingKey::from_secret(creds.secret.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
            &v,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .claims;
        assert_eq!(got.iss, "APIkey");
        assert_eq!(got.sub, "sip_1");
        assert_eq!(got.name, "Caller");
        assert_eq!(
            got.attributes.get("sip.callID").map(String::as_str),
            Some("abc")
        );
        assert_eq!(
            got.video,
            VideoGrant {
                room: "r1".into(),
                room_join: true
            }
        );
        assert_eq!(got.exp - got.nbf, 600);
        // A wrong secret does not verify.
        assert!(
            jsonwebtoken::decode::<JoinClaims>(
                &t,
                &DecodingKey::from_secret(b"other").unwrap_or_else(|e| panic!("{e}")),
                &v
            )
            .is_err()
        );
    }

    #[test]
    fn empty_secret_is_refused() {
        let creds = ApiCredentials {
            key: "k".into(),
            secret: String::new(),
        };
        let r = mint(
            &creds,
            "r",
            "i",
            "n",
            &[],
            SystemTime::now(),
            Duration::from_secs(1),
        );
        assert!(matches!(r, Err(Error::InvalidRequest(_))));
    }
}
