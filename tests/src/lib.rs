//! Shared helpers for the end-to-end tests: find (and build) the real `sipbridge` binary,
//! pick free loopback ports, run processes with bounded lifetimes.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root (the directory holding the virtual `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace")
}

/// Path to the `sipbridge` binary of this build profile, built on first use so that a test run
/// never exercises a stale binary.
pub fn sipbridge_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "--bin",
            "sipbridge",
            "-p",
            "gateway",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build for sipbridge");
        assert!(status.success(), "building sipbridge failed");
        // Test executables live in target/<profile>/deps/, binaries in target/<profile>/.
        let exe = std::env::current_exe().expect("current executable");
        let mut profile_dir = exe.parent().expect("executable has a directory");
        if profile_dir.file_name().is_some_and(|n| n == "deps") {
            profile_dir = profile_dir.parent().expect("target/<profile>");
        }
        let bin = profile_dir.join("sipbridge");
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
}

/// A command for the `sipbridge` binary.
pub fn sipbridge() -> Command {
    Command::new(sipbridge_bin())
}

/// A loopback UDP port that was free a moment ago (the OS picked it).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind an ephemeral UDP port")
        .port()
}

/// A loopback port free on both UDP and TCP a moment ago.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let port = free_udp_port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free on both UDP and TCP");
}

/// Path of a SIPp scenario under `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    workspace_root().join("tests/sipp").join(name)
}

/// A running process that is killed when dropped, so a failing test never leaves it behind.
pub struct Child(pub std::process::Child);

impl Child {
    /// Waits up to `limit` for the process to exit; kills it and panics past the limit.
    pub fn wait_for(mut self, limit: std::time::Duration) -> std::process::Output {
        let start = std::time::Instant::now();
        loop {
            if self.0.try_wait().expect("try_wait").is_some() {
                break;
            }
            if start.elapsed() > limit {
                let _ = self.0.kill();
                panic!("process did not exit within {limit:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Take the child out so Drop doesn't kill it twice.
        let child = std::mem::replace(
            &mut self.0,
            Command::new("true")
                .spawn()
                .expect("spawn placeholder true"),
        );
        child.wait_with_output().expect("collect output")
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts SIPp with `args` plus a hard `-timeout`, capturing its output.
///
/// Every run gets `-timeout <limit> -timeout_error` so a stuck call can never hang a test.
pub fn sipp(args: &[&str], limit_s: u32) -> Child {
    let mut cmd = Command::new("sipp");
    cmd.args(args)
        .args([
            "-timeout",
            &format!("{limit_s}s"),
            "-timeout_error",
            "-nostdin",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Child(
        cmd.spawn()
            .expect("start sipp (apt-get install sip-tester)"),
    )
}

/// Result of an HTTP request: status code and body.
#[derive(Debug)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: String,
}

/// A minimal HTTP/1.1 request over loopback (`Connection: close`), bounded by `limit`.
///
/// The tests need only this, so no HTTP client crate (with its own hidden timeouts) is used.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    limit: std::time::Duration,
) -> std::io::Result<HttpResponse> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, limit)?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP header end"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(HttpResponse { status, body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A running `sipbridge` process with its own config on free loopback ports.
pub struct Gateway {
    /// The process (killed on drop).
    pub child: Child,
    /// SIP address (UDP and TCP).
    pub sip: std::net::SocketAddr,
    /// API address.
    pub api: std::net::SocketAddr,
    /// Health and metrics address.
    pub http: std::net::SocketAddr,
    /// Where the config and logs live.
    pub dir: PathBuf,
}

/// API key and secret written into every test config.
pub const API_KEY: &str = "testkey";
/// The secret of [`API_KEY`].
pub const API_SECRET: &str = "test-secret-test-secret-test-secret-0123";

impl Gateway {
    /// Starts sipbridge with `extra` TOML appended (trunks etc.) and waits for `/healthz`.
    pub fn start(name: &str, extra: &str) -> Self {
        Self::start_sized(name, extra, 1000, 1000)
    }

    /// Like [`Gateway::start`] with `rtp_ports` RTP ports and room for `max_calls` calls.
    pub fn start_sized(name: &str, extra: &str, rtp_ports: u16, max_calls: usize) -> Self {
        Self::start_with(name, extra, rtp_ports, max_calls, [30, 60])
    }

    /// Like [`Gateway::start`] with `[rtp]` media timeouts `[first_packet_timeout_s,
    /// silence_timeout_s]`.
    pub fn start_with_media_timeouts(name: &str, extra: &str, timeouts_s: [u64; 2]) -> Self {
        Self::start_with(name, extra, 1000, 1000, timeouts_s)
    }

    fn start_with(
        name: &str,
        extra: &str,
        rtp_ports: u16,
        max_calls: usize,
        [first_packet_s, silence_s]: [u64; 2],
    ) -> Self {
        let dir = std::env::temp_dir().join(format!("sipbridge-e2e-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (sip, api, http) = (free_port(), free_port(), free_port());
        // A private RTP window per test process and test name keeps parallel tests apart.
        let base = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (name, std::process::id()).hash(&mut h);
            if rtp_ports > 1000 {
                10_000
            } else {
                20_000 + (h.finish() % 40) as u16 * 1000
            }
        };
        let config = format!(
            r#"
[sip]
listen = "127.0.0.1:{sip}"
t1_ms = 500
t2_ms = 4000
t4_ms = 5000
udp_recv_buffer = 4194304
max_message_size = 65535
tcp_idle_timeout_s = 60
max_calls = {max_calls}

[rtp]
address = "127.0.0.1"
port_range = [{base}, {end}]
port_drain_s = 2
udp_recv_buffer = 1048576
first_packet_timeout_s = {first_packet_s}
silence_timeout_s = {silence_s}
workers = 1

[api]
listen = "127.0.0.1:{api}"
setup_allowance_ms = 5000
answer_margin_ms = 1000
max_body_bytes = 1048576
idempotency_max_entries = 1000
idempotency_retention_s = 600

[api.keys]
{API_KEY} = "{API_SECRET}"

[http]
listen = "127.0.0.1:{http}"
{extra}
"#,
            end = base + (rtp_ports - 1)
        );
        std::fs::write(dir.join("sipbridge.toml"), config).expect("write config");
        let mut gw = Self {
            child: Child(
                Command::new("true")
                    .spawn()
                    .expect("spawn placeholder true"),
            ),
            sip: std::net::SocketAddr::from(([127, 0, 0, 1], sip)),
            api: std::net::SocketAddr::from(([127, 0, 0, 1], api)),
            http: std::net::SocketAddr::from(([127, 0, 0, 1], http)),
            dir,
        };
        gw.spawn();
        gw
    }

    /// Stops the process (SIGKILL: nothing is flushed on the way out) and starts it again
    /// with the same config and ports; the log continues in the same file.
    pub fn restart(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
        self.spawn();
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sipbridge.log"))
            .expect("log file");
        let child = sipbridge()
            .current_dir(&self.dir)
            .args(["run", "--config"])
            .arg(self.dir.join("sipbridge.toml"))
            .env(
                "SIPBRIDGE_LOG",
                std::env::var("SIPBRIDGE_E2E_LOG").unwrap_or_else(|_| "info".to_owned()),
            )
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("start sipbridge");
        self.child = Child(child);
        for _ in 0..300 {
            let ok = http_get(self.http, "/healthz").is_ok_and(|r| r.status == 200);
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("sipbridge did not become healthy; log:\n{}", self.log());
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sipbridge.log")).unwrap_or_default()
    }

    /// Calls a Twirp method with a JSON body and a valid `sip.call` + `sip.admin` token.
    pub fn twirp(
        &self,
        service_method: &str,
        json: &str,
        extra_headers: &[(&str, &str)],
    ) -> HttpResponse {
        let token = token(&["call", "admin"]);
        let auth = format!("Bearer {token}");
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Authorization", auth.as_str()),
        ];
        headers.extend_from_slice(extra_headers);
        http(
            self.api,
            "POST",
            &format!("/twirp/{service_method}"),
            &headers,
            json,
            std::time::Duration::from_secs(120),
        )
        .expect("API request")
    }

    /// `/metrics` text.
    pub fn metrics(&self) -> String {
        http_get(self.http, "/metrics").expect("metrics").body
    }
}

/// GET with a 5 s bound.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    http(
        addr,
        "GET",
        path,
        &[],
        "",
        std::time::Duration::from_secs(5),
    )
}

/// An HS256 token for [`API_KEY`] with the given `sip` grants, valid for 10 minutes.
pub fn token(sip_grants: &[&str]) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let grants: Vec<String> = sip_grants
        .iter()
        .map(|g| format!("\"{g}\": true"))
        .collect();
    let claims = format!(
        r#"{{"iss":"{API_KEY}","sub":"e2e","nbf":{},"exp":{},"sip":{{{}}}}}"#,
        now - 5,
        now + 600,
        grants.join(",")
    );
    let claims: serde_json::Value = serde_json::from_str(&claims).expect("claims json");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(API_SECRET.as_bytes()).expect("HMAC key"),
    )
    .expect("sign token")
}
