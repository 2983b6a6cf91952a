//! `sipbridge parse FILE…` against the RFC 4475 torture messages.

use std::path::PathBuf;

use sipbridge_e2e::{sipbridge, workspace_root};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = workspace_root()
        .join("crates/sip-message/tests/data/rfc4475")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "dat"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "fixtures missing in {}", dir.display());
    files
}

#[test]
fn every_valid_torture_message_is_ok() {
    let files = fixtures("valid");
    let out = sipbridge()
        .arg("parse")
        .args(&files)
        .output()
        .expect("run sipbridge");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for file in &files {
        let line = format!("{}: ok", file.display());
        assert!(
            stdout.lines().any(|l| l == line),
            "missing `{line}` in:\n{stdout}"
        );
    }
    assert!(out.status.success(), "{stdout}");
}

#[test]
fn every_invalid_torture_message_is_reported_with_offset_and_action() {
    let files = fixtures("invalid");
    let out = sipbridge()
        .arg("parse")
        .args(&files)
        .output()
        .expect("run sipbridge");
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), files.len(), "{stdout}");
    for line in stdout.lines() {
        let (_, verdict) = line.split_once(": ").expect("FILE: verdict");
        assert!(verdict.starts_with("error: "), "{line}");
        assert!(verdict.contains(" at byte "), "{line}");
        assert!(
            verdict.ends_with("(drop)") || verdict.contains("(would answer "),
            "{line}"
        );
    }
    // Spot checks where RFC 4475 names the answer.
    let find = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name))
            .expect(name)
            .to_owned()
    };
    assert!(find("badvers.dat").ends_with("(would answer 505)"));
    assert!(find("bigcode.dat").ends_with("(drop)"));
    assert!(find("scalarlg.dat").ends_with("(drop)"));
}

#[test]
fn one_bad_file_among_good_ones_fails_the_run() {
    let mut files = fixtures("valid");
    files.truncate(2);
    files.push(workspace_root().join("does-not-exist.sip"));
    let out = sipbridge()
        .arg("parse")
        .args(&files)
        .output()
        .expect("run sipbridge");
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("does-not-exist.sip: error: cannot read"),
        "{stdout}"
    );
}
