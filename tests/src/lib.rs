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
