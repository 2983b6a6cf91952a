//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616 for SHA-256).
//!
//! Client side: [`DigestClient`] answers a `WWW-Authenticate`/`Proxy-Authenticate` challenge
//! with qop=auth (or the RFC 2069 form when the server offers no qop), counting `nc` per nonce
//! and taking its cnonce from the endpoint's seeded RNG.
//!
//! Server side: [`DigestServer`] issues stateless nonces — the issue time (seconds since a
//! caller-given epoch, derived from `now`) followed by an HMAC-SHA-256 of that time and the
//! realm under a secret — so any node sharing the secret can verify them, and they expire
//! without any table. Replay within the nonce lifetime is not detected (that would need
//! state); the lifetime bounds it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use md5::Md5;
use rand_core::RngCore;
use sha2::Sha256;

use crate::error::Error;

/// A digest hash algorithm (RFC 7616 §3.2: MD5 and SHA-256, plain and `-sess`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5` (the RFC 2617 default when `algorithm` is absent).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616).
    Sha256,
    /// `SHA-256-sess` (RFC 7616).
    Sha256Sess,
}

impl Algorithm {
    /// Parses the `algorithm` parameter (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(Self::Md5)
        } else if s.eq_ignore_ascii_case("MD5-sess") {
            Some(Self::Md5Sess)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(Self::Sha256)
        } else if s.eq_ignore_ascii_case("SHA-256-sess") {
            Some(Self::Sha256Sess)
        } else {
            None
        }
    }

    /// The token as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }

    /// Lower-case hex of the hash of `parts` joined by `:`.
    fn hash(self, parts: &[&str]) -> String {
        fn run<D: sha2::Digest>(parts: &[&str]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p.as_bytes());
            }
            hex(&d.finalize())
        }
        match self {
            Self::Md5 | Self::Md5Sess => run::<Md5>(parts),
            Self::Sha256 | Self::Sha256Sess => run::<Sha256>(parts),
        }
    }
}

/// Lower-case hex encoding.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The parameters of a `Digest` challenge or credentials header, parsed on demand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestParams {
    /// `realm`.
    pub realm: Option<String>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
    /// `algorithm` as written.
    pub algorithm: Option<String>,
    /// `qop` (a list in challenges, one value in credentials).
    pub qop: Option<String>,
    /// `stale`.
    pub stale: bool,
    /// `username` (credentials).
    pub username: Option<String>,
    /// `uri` (credentials).
    pub uri: Option<String>,
    /// `response` (credentials).
    pub response: Option<String>,
    /// `cnonce` (credentials).
    pub cnonce: Option<String>,
    /// `nc` (credentials).
    pub nc: Option<String>,
}

/// Upper bound on a digest header value we are willing to look at.
const MAX_DIGEST_HEADER: usize = 4096;

impl DigestParams {
    /// Parses `Digest k=v, k="v", …` (RFC 7616 §3.3/§3.4 syntax). Returns `None` when the
    /// scheme is not Digest or the syntax is broken; unknown parameters are ignored.
    pub fn parse(value: &str) -> Option<Self> {
        if value.len() > MAX_DIGEST_HEADER {
            return None;
        }
        let value = value.trim_start();
        let scheme_end = value.find(|c: char| c.is_ascii_whitespace())?;
        if !value[..scheme_end].eq_ignore_ascii_case("Digest") {
            return None;
        }
        let mut out = Self::default();
        let mut rest = value[scheme_end..].trim_start();
        while !rest.is_empty() {
            let eq = rest.find('=')?;
            let name = rest[..eq].trim();
            rest = rest[eq + 1..].trim_start();
            let val;
            if let Some(q) = rest.strip_prefix('"') {
                // quoted-string with quoted-pair escapes (RFC 3261 §25.1).
                let mut s = String::new();
                let mut chars = q.char_indices();
                let mut end = None;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => s.push(chars.next()?.1),
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        c => s.push(c),
                    }
                }
                let end = end?;
                val = s;
                rest = q[end + 1..].trim_start();
            } else {
                let end = rest.find(',').unwrap_or(rest.len());
                val = rest[..end].trim().to_owned();
                rest = &rest[end..];
            }
            if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
                return None;
            }
            match name.to_ascii_lowercase().as_str() {
                "realm" => out.realm = Some(val),
                "nonce" => out.nonce = Some(val),
                "opaque" => out.opaque = Some(val),
                "algorithm" => out.algorithm = Some(val),
                "qop" => out.qop = Some(val),
                "stale" => out.stale = val.eq_ignore_ascii_case("true"),
                "username" => out.username = Some(val),
                "uri" => out.uri = Some(val),
                "response" => out.response = Some(val),
                "cnonce" => out.cnonce = Some(val),
                "nc" => out.nc = Some(val),
                _ => {}
            }
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(',') {
                rest = r.trim_start();
            } else if !rest.is_empty() {
                return None;
            }
        }
        Some(out)
    }

    /// The algorithm, defaulting to MD5 when absent (RFC 2617 §3.2.1).
    pub fn algorithm(&self) -> Option<Algorithm> {
        match &self.algorithm {
            None => Some(Algorithm::Md5),
            Some(a) => Algorithm::parse(a),
        }
    }

    /// Whether the challenge offers `qop=auth`.
    pub fn offers_auth(&self) -> bool {
        self.qop
            .as_deref()
            .is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")))
    }
}

/// Username and password a UAC answers challenges with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log the password.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Client-side digest state for one call: the last nonce and its `nc` counter.
#[derive(Debug, Clone, Default)]
pub struct DigestClient {
    nonce: String,
    nc: u32,
}

impl DigestClient {
    /// Computes the `Authorization`/`Proxy-Authorization` value answering `challenge` for a
    /// request of `method` to `uri`.
    ///
    /// `nc` restarts at 1 for a new nonce and counts up while the server reuses one
    /// (RFC 7616 §3.4).
    pub fn authorize(
        &mut self,
        challenge: &DigestParams,
        credentials: &Credentials,
        method: &str,
        uri: &str,
        rng: &mut impl RngCore,
    ) -> Result<String, Error> {
        let algorithm = challenge.algorithm().ok_or(Error::AuthUnsupported)?;
        let realm = challenge.realm.as_deref().ok_or(Error::AuthMalformed)?;
        let nonce = challenge.nonce.as_deref().ok_or(Error::AuthMalformed)?;
        if challenge.qop.is_some() && !challenge.offers_auth() {
            // Only auth-int is offered: we do not hash bodies.
            return Err(Error::AuthUnsupported);
        }
        if self.nonce != nonce {
            self.nonce = nonce.to_owned();
            self.nc = 0;
        }
        self.nc = self.nc.wrapping_add(1);
        let cnonce = {
            let mut b = [0u8; 12];
            rng.fill_bytes(&mut b);
            hex(&b)
        };
        let nc = format!("{:08x}", self.nc);
        let qop = challenge.offers_auth();
        let response = compute_response(
            algorithm,
            &credentials.username,
            realm,
            &credentials.password,
            nonce,
            qop.then_some((nc.as_str(), cnonce.as_str())),
            method,
            uri,
        );
        let mut v = String::with_capacity(256);
        let _ = write!(
            v,
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
            quote(&credentials.username),
            quote(realm),
            quote(nonce),
            quote(uri),
            response,
            algorithm.as_str()
        );
        if qop {
            let _ = write!(v, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
        }
        if let Some(opaque) = &challenge.opaque {
            let _ = write!(v, ", opaque=\"{}\"", quote(opaque));
        }
        Ok(v)
    }
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The digest `response` value (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1).
/// `qop` is `Some((nc, cnonce))` for qop=auth, `None` for the RFC 2069 form.
#[allow(clippy::too_many_arguments)]
pub fn compute_response(
    algorithm: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
    method: &str,
    uri: &str,
) -> String {
    let mut ha1 = algorithm.hash(&[username, realm, password]);
    if algorithm.is_sess() {
        let cnonce = qop.map_or("", |(_, c)| c);
        ha1 = algorithm.hash(&[&ha1, nonce, cnonce]);
    }
    let ha2 = algorithm.hash(&[method, uri]);
    match qop {
        Some((nc, cnonce)) => algorithm.hash(&[&ha1, nonce, nc, cnonce, "auth", &ha2]),
        None => algorithm.hash(&[&ha1, nonce, &ha2]),
    }
}

/// Server-side digest: stateless, expiring nonces and response verification.
#[derive(Clone)]
pub struct DigestServer {
    realm: String,
    keyed: Hmac<Sha256>,
    epoch: Instant,
    lifetime: Duration,
    algorithm: Algorithm,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestServer")
            .field("realm", &self.realm)
            .field("lifetime", &self.lifetime)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Length in hex characters of the MAC part of a nonce (128 bits).
const NONCE_MAC_HEX: usize = 32;

impl DigestServer {
    /// A verifier for `realm`. `secret` keys the nonce MAC; `epoch` is the instant nonce
    /// timestamps count from (any instant not after the first `now` passed in); nonces are
    /// accepted for `lifetime` after issue and reported stale afterwards.
    /// Fails with [`Error::InvalidArgument`] for an empty secret.
    pub fn new(
        realm: impl Into<String>,
        secret: &[u8],
        epoch: Instant,
        lifetime: Duration,
        algorithm: Algorithm,
    ) -> Result<Self, Error> {
        if secret.is_empty() {
            return Err(Error::InvalidArgument("digest secret must not be empty"));
        }
        let keyed = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|_| Error::InvalidArgument("digest secret"))?;
        Ok(Self {
            realm: realm.into(),
            keyed,
            epoch,
            lifetime,
            algorithm,
        })
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn mac(&self, ts: u64) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(&ts.to_be_bytes());
        mac.update(self.realm.as_bytes());
        mac
    }

    /// A fresh nonce for `now`.
    pub fn nonce(&self, now: Instant) -> String {
        let ts = now.saturating_duration_since(self.epoch).as_secs();
        let tag = self.mac(ts).finalize().into_bytes();
        let mut n = format!("{ts:016x}");
        n.push_str(&hex(&tag)[..NONCE_MAC_HEX]);
        n
    }

    /// The `WWW-Authenticate`/`Proxy-Authenticate` value challenging with a fresh nonce;
    /// `stale` tells the client its old nonce expired but its credentials were right.
    pub fn challenge(&self, now: Instant, stale: bool) -> String {
        let mut v = format!(
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
            quote(&self.realm),
            self.nonce(now),
            self.algorithm.as_str()
        );
        if stale {
            v.push_str(", stale=true");
        }
        v
    }

    /// Checks that `nonce` was issued by us and is still fresh.
    fn check_nonce(&self, now: Instant, nonce: &str) -> Result<(), Error> {
        if nonce.len() != 16 + NONCE_MAC_HEX || !nonce.is_ascii() {
            return Err(Error::AuthBadNonce);
        }
        let ts = u64::from_str_radix(&nonce[..16], 16).map_err(|_| Error::AuthBadNonce)?;
        let tag = unhex(&nonce[16..]).ok_or(Error::AuthBadNonce)?;
        // Constant-time comparison of the truncated MAC.
        self.mac(ts)
            .verify_truncated_left(&tag)
            .map_err(|_| Error::AuthBadNonce)?;
        let age = now
            .saturating_duration_since(self.epoch)
            .as_secs()
            .checked_sub(ts)
            .ok_or(Error::AuthBadNonce)?;
        if age > self.lifetime.as_secs() {
            return Err(Error::AuthStale);
        }
        Ok(())
    }

    /// Verifies credentials (the parsed `Authorization` value) for a request of `method`,
    /// given the user's `password`. Returns [`Error::AuthStale`] when only the nonce expired
    /// (answer with a new challenge carrying `stale=true`).
    pub fn verify(
        &self,
        now: Instant,
        credentials: &DigestParams,
        method: &str,
        password: &str,
    ) -> Result<(), Error> {
        let username = credentials
            .username
            .as_deref()
            .ok_or(Error::AuthMalformed)?;
        let realm = credentials.realm.as_deref().ok_or(Error::AuthMalformed)?;
        let nonce = credentials.nonce.as_deref().ok_or(Error::AuthMalformed)?;
        let uri = credentials.uri.as_deref().ok_or(Error::AuthMalformed)?;
        let given = credentials
            .response
            .as_deref()
            .ok_or(Error::AuthMalformed)?;
        if realm != self.realm {
            return Err(Error::AuthWrongResponse);
        }
        let algorithm = credentials.algorithm().ok_or(Error::AuthUnsupported)?;
        let qop = match credentials.qop.as_deref() {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some((
                credentials.nc.as_deref().ok_or(Error::AuthMalformed)?,
                credentials.cnonce.as_deref().ok_or(Error::AuthMalformed)?,
            )),
            Some(_) => return Err(Error::AuthUnsupported),
        };
        let expected = compute_response(
            algorithm, username, realm, password, nonce, qop, method, uri,
        );
        // Check the response before the nonce age, so that `AuthStale` is only reported
        // to a client that knows the password (RFC 7616 §3.3 stale semantics).
        if !constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
            self.check_nonce(now, nonce)?;
            return Err(Error::AuthWrongResponse);
        }
        self.check_nonce(now, nonce)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn rfc2617_md5_example() {
        // RFC 2617 §3.5 (HTTP example; the algorithm is the same for SIP).
        let r = compute_response(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b")),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_sha256_example() {
        // RFC 7616 §3.9.1.
        let r = compute_response(
            Algorithm::Sha256,
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            Some(("00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn parses_challenge_with_escapes_and_lists() {
        let p = DigestParams::parse(
            "Digest realm=\"a \\\"b\\\"\", qop=\"auth,auth-int\", nonce=\"n1\", algorithm=SHA-256, stale=TRUE, opaque=\"o\"",
        )
        .expect("parses");
        assert_eq!(p.realm.as_deref(), Some("a \"b\""));
        assert!(p.offers_auth());
        assert!(p.stale);
        assert_eq!(p.algorithm(), Some(Algorithm::Sha256));
        assert_eq!(p.opaque.as_deref(), Some("o"));
        assert!(DigestParams::parse("Basic realm=\"x\"").is_none());
        assert!(DigestParams::parse("Digest realm=\"unterminated").is_none());
        assert!(DigestParams::parse("Digest realm=\"x\" nonce=\"y\"").is_none());
    }

    #[test]
    fn server_round_trip_stale_and_forgery() {
        // Tests need some Instant to start from; the code under test never reads the clock.
        #[allow(clippy::disallowed_methods)]
        let epoch = Instant::now();
        let server = DigestServer::new(
            "sipbridge",
            b"secret",
            epoch,
            Duration::from_secs(300),
            Algorithm::Sha256,
        )
        .expect("server");
        let creds = Credentials {
            username: "alice".into(),
            password: "pw".into(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let t0 = epoch + Duration::from_secs(10);
        let challenge = DigestParams::parse(&server.challenge(t0, false)).expect("challenge");
        let mut client = DigestClient::default();
        let auth = client
            .authorize(
                &challenge,
                &creds,
                "INVITE",
                "sip:bob@example.com",
                &mut rng,
            )
            .expect("authorize");
        let parsed = DigestParams::parse(&auth).expect("credentials");
        assert_eq!(parsed.nc.as_deref(), Some("00000001"));
        assert_eq!(server.verify(t0, &parsed, "INVITE", "pw"), Ok(()));
        assert_eq!(
            server.verify(t0, &parsed, "INVITE", "wrong"),
            Err(Error::AuthWrongResponse)
        );
        assert_eq!(
            server.verify(t0, &parsed, "BYE", "pw"),
            Err(Error::AuthWrongResponse)
        );
        let late = t0 + Duration::from_secs(301);
        assert_eq!(
            server.verify(late, &parsed, "INVITE", "pw"),
            Err(Error::AuthStale)
        );
        // A nonce with a forged timestamp fails the MAC.
        let mut forged = parsed.clone();
        let nonce = forged.nonce.clone().expect("nonce");
        forged.nonce = Some(format!("{:016x}{}", 9999u64, &nonce[16..]));
        assert_eq!(
            server.verify(t0, &forged, "INVITE", "pw"),
            Err(Error::AuthBadNonce)
        );
        // Same nonce again: nc counts up.
        let auth2 = client
            .authorize(
                &challenge,
                &creds,
                "INVITE",
                "sip:bob@example.com",
                &mut rng,
            )
            .expect("authorize");
        let parsed2 = DigestParams::parse(&auth2).expect("credentials");
        assert_eq!(parsed2.nc.as_deref(), Some("00000002"));
        assert_eq!(server.verify(t0, &parsed2, "INVITE", "pw"), Ok(()));
    }
}
