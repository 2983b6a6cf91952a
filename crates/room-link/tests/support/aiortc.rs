//! A WHIP room server on Python's aiortc (tests/data/webrtc/aiortc_room.py): an
//! implementation independent of the link's webrtc-rs. The script plays a tone into every
//! session, keeps what it hears, and takes test commands over HTTP (`/control/{room}/…`).
//!
//! [`AiortcRoom::start`] returns `None` (with a note on stderr) when python3, aiortc or
//! aiohttp is missing, unless `SIPBRIDGE_REQUIRE_AIORTC` is set (tests/run.sh sets it after
//! installing them), in which case a missing dependency fails the test.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest the script may take to import aiortc and listen.
const STARTUP: Duration = Duration::from_secs(30);
/// Longest one control request may take.
const REQUEST: Duration = Duration::from_secs(10);
/// Largest control response read.
const MAX_RESPONSE: usize = 4 << 20;

/// The running script; killed when dropped.
pub struct AiortcRoom {
    child: Child,
    pub addr: SocketAddr,
}

/// A control response.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/webrtc/aiortc_room.py")
}

fn available() -> bool {
    Command::new("python3")
        .args(["-c", "import aiortc, aiohttp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl AiortcRoom {
    /// Starts the script with a room tone of `tone_hz`.
    pub fn start(tone_hz: f64) -> Option<AiortcRoom> {
        if !available() {
            assert!(
                std::env::var_os("SIPBRIDGE_REQUIRE_AIORTC").is_none(),
                "SIPBRIDGE_REQUIRE_AIORTC is set but python3 cannot import aiortc and aiohttp"
            );
            eprintln!(
                "SKIPPED: python3 with aiortc and aiohttp is not available \
                 (pip install aiortc aiohttp; set SIPBRIDGE_REQUIRE_AIORTC=1 to make this fatal)"
            );
            return None;
        }
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--tone-hz", &tone_hz.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn python3: {e}"));
        let stdout = child
            .stdout
            .take()
            .unwrap_or_else(|| panic!("no stdout pipe"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(STARTUP) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("aiortc room did not start within {STARTUP:?}");
            }
        };
        let port: u16 = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("aiortc room said {line:?}"));
        Some(AiortcRoom {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        })
    }

    pub fn url_template(&self) -> String {
        format!("http://{}/rooms/{{room}}/whip", self.addr)
    }

    /// The state of the room's latest session (JSON), `None` before there is one.
    pub async fn state(&self, room: &str) -> Option<serde_json::Value> {
        let r = self.request("GET", &format!("/control/{room}")).await;
        (r.status == 200)
            .then(|| serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("state JSON: {e}")))
    }

    /// The last `ms` of audio the room heard (mono) and its sample rate.
    pub async fn pcm(&self, room: &str, ms: u32) -> (Vec<i16>, u32) {
        let r = self
            .request("GET", &format!("/control/{room}/pcm?ms={ms}"))
            .await;
        assert_eq!(r.status, 200, "pcm of {room}");
        let rate = r
            .header("x-sample-rate")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let pcm = r
            .body
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        (pcm, rate)
    }

    /// Closes the room's peer connection (DTLS close_notify), no DELETE.
    pub async fn hangup(&self, room: &str) -> u16 {
        self.request("POST", &format!("/control/{room}/hangup"))
            .await
            .status
    }

    /// Sends a DTMF message on the data channel; 409 while it is not open.
    pub async fn dtmf(&self, room: &str, digit: char) -> u16 {
        let digit = match digit {
            '#' => "%23".to_owned(),
            d => d.to_string(),
        };
        self.request("POST", &format!("/control/{room}/dtmf/{digit}"))
            .await
            .status
    }

    async fn request(&self, method: &str, path: &str) -> Reply {
        tokio::time::timeout(REQUEST, self.request_inner(method, path))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within {REQUEST:?}"))
    }

    async fn request_inner(&self, method: &str, path: &str) -> Reply {
        let mut s = TcpStream::connect(self.addr)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.addr));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        s.write_all(head.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut raw = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut raw)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {} bytes", raw.len()));
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: raw[end + 4..].to_vec(),
        }
    }
}

impl Drop for AiortcRoom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
