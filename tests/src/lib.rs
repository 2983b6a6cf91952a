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
        // Test executables live in target/<profile>/deps/.
        let exe = std::env::current_exe().expect("current test executable");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps layout");
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
