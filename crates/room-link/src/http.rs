//! The smallest HTTP/1.1 client the WHIP-style signaling needs: one request per connection,
//! every wait (DNS + connect, request, body) bounded by one deadline the caller passes. No
//! pooling, no retries, no redirects, no timeout of its own (DESIGN.md: no hidden defaults).
//!
//! Only `http://` is spoken; a TLS connector is a gap (see the crate report).

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::error::Error;

/// A response reduced to what signaling reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Bytes,
}

/// A request to send.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a Uri,
    pub(crate) bearer: Option<&'a str>,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) extra: &'a [(&'static str, &'a str)],
    pub(crate) body: Bytes,
    /// Largest response body read; more is [`Error::BadResponse`].
    pub(crate) max_body: usize,
}

/// POSTs an SDP offer the way both room links join (RFC 9725 §4.2, which the plain-RTP
/// link follows too): `201 Created` with a `Location` is the only success. Returns the
/// answer body and the session URL (the `Location` resolved against `url`).
pub(crate) async fn post_offer(
    url: &Uri,
    bearer: Option<&str>,
    extra: &[(&'static str, &str)],
    offer: Bytes,
    max_body: usize,
    deadline: Instant,
) -> Result<(Bytes, Uri), Error> {
    let resp = send(
        Outgoing {
            method: Method::POST,
            url,
            bearer,
            content_type: Some("application/sdp"),
            extra,
            body: offer,
            max_body,
        },
        deadline,
        "join",
    )
    .await?;
    if resp.status != 201 {
        return Err(Error::Rejected {
            status: resp.status,
        });
    }
    let location = resp
        .location
        .as_deref()
        .ok_or(Error::BadResponse("201 without Location"))?;
    let session_url = resolve(url, location)?;
    Ok((resp.body, session_url))
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `req`, waiting until `deadline` at most (`step` names the wait in a timeout error).
pub(crate) async fn send(
    req: Outgoing<'_>,
    deadline: Instant,
    step: &'static str,
) -> Result<Response, Error> {
    let started = Instant::now();
    let timeout = || Error::Timeout {
        step,
        after: deadline.saturating_duration_since(started),
    };
    if req.url.scheme_str() != Some("http") {
        return Err(Error::BadUrl("only http:// room server URLs are supported"));
    }
    let authority = req.url.authority().ok_or(Error::BadUrl("no host"))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(80);
    let stream = tokio::time::timeout_at(deadline, TcpStream::connect((host, port)))
        .await
        .map_err(|_| timeout())?
        .map_err(|e| Error::Unreachable(e.kind()))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = tokio::time::timeout_at(
        deadline,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| timeout())?
    .map_err(|_| Error::Http)?;
    // The connection task ends with the exchange (we send `Connection: close`) and is
    // aborted when this function returns, however it returns. It has no timer of its own:
    // one cut at the same deadline could fail the request just before `timeout_at` below
    // fires, turning a timeout into a transport error.
    let _conn = AbortOnDrop(tokio::spawn(conn));
    let path = req
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let mut builder = Request::builder()
        .method(req.method)
        .uri(path)
        .header(HOST, authority.as_str())
        .header(http::header::CONNECTION, "close");
    if let Some(t) = req.bearer {
        let v = HeaderValue::from_str(&format!("Bearer {t}"))
            .map_err(|_| Error::InvalidRequest("bearer token is not a valid header value"))?;
        builder = builder.header(AUTHORIZATION, v);
    }
    if let Some(ct) = req.content_type {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    for (name, value) in req.extra {
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::InvalidRequest("participant field is not a valid header value"))?;
        builder = builder.header(*name, v);
    }
    let request = builder
        .body(Full::new(req.body))
        .map_err(|_| Error::BadUrl("request could not be built"))?;
    let response = tokio::time::timeout_at(deadline, sender.send_request(request))
        .await
        .map_err(|_| timeout())?
        .map_err(|_| Error::Http)?;
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header(LOCATION);
    let content_type = header(CONTENT_TYPE);
    let body = tokio::time::timeout_at(
        deadline,
        Limited::new(response.into_body(), req.max_body).collect(),
    )
    .await
    .map_err(|_| timeout())?
    .map_err(|_| Error::BadResponse("body too large or cut short"))?
    .to_bytes();
    Ok(Response {
        status,
        location,
        content_type,
        body,
    })
}

/// Fills `{room}` in a URL template with the room name, percent-encoded (RFC 3986 §2.1) so
/// that any name stays one path segment.
pub(crate) fn expand(template: &str, room: &str) -> Result<Uri, Error> {
    let mut encoded = String::with_capacity(room.len() * 3);
    for b in room.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    template
        .replace("{room}", &encoded)
        .parse::<Uri>()
        .map_err(|_| Error::BadUrl("template does not give a valid URL"))
}

/// Resolves a `Location` value against the URL it answered (RFC 3986 §5.2; RFC 9110 §10.2.2
/// allows relative references).
pub(crate) fn resolve(base: &Uri, reference: &str) -> Result<Uri, Error> {
    let bad = || Error::BadResponse("Location is not a valid URI reference");
    if reference.is_empty() || reference.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(bad());
    }
    let scheme = base.scheme_str().ok_or_else(bad)?;
    let authority = base.authority().ok_or_else(bad)?.as_str();
    let has_scheme = reference
        .split_once(':')
        .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/') && !s.contains('?'));
    let full = if has_scheme {
        reference.to_owned()
    } else if let Some(rest) = reference.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if reference.starts_with('/') {
        let (path, query) = split_query(reference);
        format!("{scheme}://{authority}{}{query}", remove_dots(path))
    } else if reference.starts_with('?') {
        format!("{scheme}://{authority}{}{reference}", base.path())
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        let (path, query) = split_query(reference);
        let merged = format!("{dir}/{path}");
        format!("{scheme}://{authority}{}{query}", remove_dots(&merged))
    };
    full.parse::<Uri>().map_err(|_| bad())
}

fn split_query(s: &str) -> (&str, &str) {
    match s.find('?') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// RFC 3986 §5.2.4 for an absolute path.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => trailing = i == last,
            ".." => {
                out.pop();
                trailing = i == last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut s = String::with_capacity(path.len());
    for seg in &out {
        s.push('/');
        s.push_str(seg);
    }
    if trailing || s.is_empty() {
        s.push('/');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that takes the request and never answers: every attempt ends as a timeout
    /// at the deadline, never as a transport error (regression: the connection task had a
    /// timer of its own at the same instant and could win the race; 503 instead of 480 on
    /// inbound calls, seen in CI).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_server_is_always_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url: Uri = format!("http://{}/join/r", listener.local_addr().expect("addr"))
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        for attempt in 0..100 {
            let req = Outgoing {
                method: Method::POST,
                url: &url,
                bearer: None,
                content_type: Some("application/sdp"),
                extra: &[],
                body: Bytes::from_static(b"v=0"),
                max_body: 1024,
            };
            let deadline = Instant::now() + std::time::Duration::from_millis(5);
            let got = send(req, deadline, "join").await;
            assert!(
                matches!(got, Err(Error::Timeout { step: "join", .. })),
                "attempt {attempt}: {got:?}"
            );
        }
        server.abort();
    }

    #[test]
    fn location_resolution_table() {
        let base: Uri = "http://rooms.example:8080/v1/rooms/r1/whip?x=1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        for (reference, want) in [
            ("https://other.example/s/1", "https://other.example/s/1"),
            ("//cdn.example/s/2", "http://cdn.example/s/2"),
            ("/sessions/3", "http://rooms.example:8080/sessions/3"),
            (
                "sessions/4",
                "http://rooms.example:8080/v1/rooms/r1/sessions/4",
            ),
            (
                "../sessions/5?t=a",
                "http://rooms.example:8080/v1/rooms/sessions/5?t=a",
            ),
            ("./6", "http://rooms.example:8080/v1/rooms/r1/6"),
            ("?id=7", "http://rooms.example:8080/v1/rooms/r1/whip?id=7"),
            ("/a/./b/../c", "http://rooms.example:8080/a/c"),
        ] {
            let got = resolve(&base, reference).map(|u| u.to_string());
            assert_eq!(got.as_deref(), Ok(want), "{reference}");
        }
        assert!(resolve(&base, "").is_err());
        assert!(resolve(&base, "a b").is_err());
    }

    #[test]
    fn room_names_are_percent_encoded_into_one_segment() {
        let u = expand("http://h/rooms/{room}/whip", "my room/../x");
        assert_eq!(
            u.map(|u| u.to_string()).as_deref(),
            Ok("http://h/rooms/my%20room%2F..%2Fx/whip")
        );
        assert!(expand("not a url {room}", "r").is_err());
    }
}
