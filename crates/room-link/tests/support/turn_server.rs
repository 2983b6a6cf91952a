//! A real TURN server for tests: coturn's `turnserver` on 127.0.0.1 with an OS-chosen
//! port, long-term credentials (`--lt-cred-mech`, one user) and loopback peers allowed
//! (coturn refuses relaying to 127.0.0.1 otherwise). Its log is kept for assertions.
//!
//! [`TurnServer::start`] fails the test with a clear message when `turnserver` is missing
//! (tests/run.sh installs the `coturn` package), unless `SIPBRIDGE_SKIP_TURN` is set, in
//! which case it returns `None` and the test skips with a note.

#![allow(dead_code)] // each test binary uses a different part

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rtc::stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Message, TransactionId};

/// Longest coturn may take to answer a first Binding request.
const STARTUP: Duration = Duration::from_secs(15);
/// Realm the server is started with.
pub const REALM: &str = "sipbridge";
/// Free-port attempts (another process may take the port between our probe and coturn's
/// bind).
const PORT_ATTEMPTS: usize = 5;
/// Lines of log kept.
const MAX_LOG_LINES: usize = 20_000;

/// The running server; killed when dropped.
pub struct TurnServer {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
}

fn available() -> bool {
    Command::new("turnserver")
        .arg("-h")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both).
fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("{e}"));
        let port = udp.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

impl TurnServer {
    /// Starts coturn with user `username` / `password` in realm [`REALM`].
    pub fn start(username: &str, password: &str) -> Option<TurnServer> {
        Self::start_with(username, password, &[])
    }

    /// [`TurnServer::start`] with more `turnserver` arguments.
    pub fn start_with(username: &str, password: &str, extra: &[&str]) -> Option<TurnServer> {
        if !available() {
            assert!(
                std::env::var_os("SIPBRIDGE_SKIP_TURN").is_some(),
                "the TURN tests need coturn's `turnserver` (apt-get install coturn); \
                 set SIPBRIDGE_SKIP_TURN=1 to skip them"
            );
            eprintln!(
                "SKIPPED: turnserver (coturn) is not installed and SIPBRIDGE_SKIP_TURN is set"
            );
            return None;
        }
        for _ in 0..PORT_ATTEMPTS {
            if let Some(server) = Self::try_start(username, password, extra, free_port()) {
                return Some(server);
            }
        }
        panic!("coturn did not start in {PORT_ATTEMPTS} attempts");
    }

    fn try_start(username: &str, password: &str, extra: &[&str], port: u16) -> Option<TurnServer> {
        let dir =
            std::env::temp_dir().join(format!("sipbridge-turn-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("turnserver")
            .args([
                "-n",
                "--listening-ip",
                "127.0.0.1",
                "--relay-ip",
                "127.0.0.1",
            ])
            .args(["--listening-port", &port.to_string()])
            .args(["--user", &format!("{username}:{password}")])
            .args(["--realm", REALM, "--lt-cred-mech", "--allow-loopback-peers"])
            .args(["--no-tls", "--no-dtls", "--no-cli", "--no-tcp-relay"])
            // A file, not stdout: coturn flushes its log file per line, while a piped stdout
            // is block-buffered and would hide recent lines.
            .args(["--simple-log", "--verbose", "--log-file"])
            .arg(dir.join("turn.log"))
            .arg("--pidfile")
            .arg(dir.join("turnserver.pid"))
            .arg("--userdb")
            .arg(dir.join("turndb"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn turnserver: {e}"));
        let mut server = TurnServer {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        if server.answers_binding() {
            Some(server)
        } else {
            let _ = server.child.kill();
            None
        }
    }

    /// Whether the server answers a STUN Binding request within [`STARTUP`].
    fn answers_binding(&mut self) -> bool {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("{e}"));
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut request = Message::new();
        request
            .build(&[Box::new(TransactionId::new()), Box::new(BINDING_REQUEST)])
            .unwrap_or_else(|e| panic!("{e}"));
        let end = Instant::now() + STARTUP;
        let mut buf = [0u8; 1500];
        while Instant::now() < end {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return false; // exited: the port was taken
            }
            let _ = socket.send_to(&request.raw, self.addr);
            if let Ok((n, _)) = socket.recv_from(&mut buf) {
                let mut response = Message::new();
                if response.unmarshal_binary(&buf[..n]).is_ok()
                    && response.typ == BINDING_SUCCESS
                    && response.transaction_id == request.transaction_id
                {
                    return true;
                }
            }
        }
        false
    }

    /// The log lines so far (the first [`MAX_LOG_LINES`]).
    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("turn.log"))
            .unwrap_or_default()
            .lines()
            .take(MAX_LOG_LINES)
            .map(str::to_owned)
            .collect()
    }

    /// Waits (up to `bound`) for a log line containing every one of `parts`.
    /// The first log line containing all of `parts` within `bound`; panics with `what` and
    /// the whole log when there is none.
    pub async fn expect_log(&self, parts: &[&str], bound: Duration, what: &str) -> String {
        self.wait_for_log(parts, bound).await.unwrap_or_else(|| {
            panic!(
                "{what}: no {parts:?} in the coturn log:\n{}",
                self.log().join("\n")
            )
        })
    }

    pub async fn wait_for_log(&self, parts: &[&str], bound: Duration) -> Option<String> {
        let end = Instant::now() + bound;
        loop {
            if let Some(line) = self
                .log()
                .into_iter()
                .find(|l| parts.iter().all(|p| l.contains(p)))
            {
                return Some(line);
            }
            if Instant::now() >= end {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A UDP relay between one client and a TURN server that drops the first Refresh request
/// it sees, standing in for a lossy network; dropped (aborted) with the value.
pub struct DropFirstRefresh {
    pub addr: SocketAddr,
    dropped: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// STUN message type of a Refresh request (RFC 8656 §7: method 0x004, class request).
const REFRESH_REQUEST: [u8; 2] = [0x00, 0x04];

impl DropFirstRefresh {
    pub async fn start(server: SocketAddr) -> DropFirstRefresh {
        let front = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let back = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = front.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let dropped = Arc::new(AtomicUsize::new(0));
        let count = dropped.clone();
        let task = tokio::spawn(async move {
            let mut up = [0u8; 2048];
            let mut down = [0u8; 2048];
            let mut client = None;
            // Runs until aborted (dropped with the test).
            loop {
                tokio::select! {
                    r = front.recv_from(&mut up) => {
                        let Ok((n, from)) = r else { continue };
                        client = Some(from);
                        if up[..n].starts_with(&REFRESH_REQUEST)
                            && count.fetch_add(1, Ordering::SeqCst) == 0
                        {
                            continue;
                        }
                        let _ = back.send_to(&up[..n], server).await;
                    }
                    r = back.recv_from(&mut down) => {
                        let (Ok((n, _)), Some(to)) = (r, client) else { continue };
                        let _ = front.send_to(&down[..n], to).await;
                    }
                }
            }
        });
        DropFirstRefresh {
            addr,
            dropped,
            task,
        }
    }

    /// Refresh requests seen (the first was dropped).
    pub fn refreshes_seen(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for DropFirstRefresh {
    fn drop(&mut self) {
        self.task.abort();
    }
}
