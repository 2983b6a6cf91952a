//! Wire compatibility with a real SDK: the official LiveKit Python server SDK
//! (`livekit-api` on PyPI) drives the router over loopback.
//!
//! Skips (passes with a message) when `python3` or the `livekit-api` package is
//! missing; set `SIPBRIDGE_REQUIRE_SDK=1` to make that a failure instead.

mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::*;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

async fn sdk_available() -> Result<(), String> {
    let out = tokio::process::Command::new(python())
        .args(["-c", "import livekit.api"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| format!("{} not runnable: {e}", python()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "livekit-api not importable ({}); install with `pip install livekit-api`",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))
    }
}

/// Runs `tests/sdk/<script>` against a test server with `fake` as the call service,
/// bounded: a hung SDK fails the test instead of hanging it. Returns (stdout, stderr) after
/// checking the script succeeded and printed SDK-OK; `None` when the SDK is unavailable
/// (and not required), after saying so.
async fn run_sdk_script(test: &str, script: &str, fake: &Arc<Fake>) -> Option<(String, String)> {
    if let Err(why) = sdk_available().await {
        if std::env::var_os("SIPBRIDGE_REQUIRE_SDK").is_some() {
            panic!("SDK required but unavailable: {why}");
        }
        eprintln!("SKIPPED {test}: {why}");
        return None;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, app(fake)).into_future());
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let child = tokio::process::Command::new(python())
        .args([path.as_str(), &url, KEY, SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("SDK script finished within 120 s")
        .expect("SDK script ran");
    server.abort();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains("SDK-OK"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    Some((stdout, stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_create_sip_participant() {
    let fake = Fake::with_delay(Duration::ZERO);
    let Some(_) = run_sdk_script(
        "python_sdk_create_sip_participant",
        "create_participant.py",
        &fake,
    )
    .await
    else {
        return;
    };

    // What the SDK sent, as the call service saw it.
    let seen = fake.seen.lock().unwrap().clone();
    let first = &seen[0];
    assert!(first.req.wait_until_answered);
    assert_eq!(first.req.ringing_timeout, Duration::from_secs(20));
    assert_eq!(first.req.headers["X-Test"], "1");
    assert_eq!(first.req.dtmf.as_str(), "1w2");
    // The SDK sends an idempotency key on every request, fresh per call.
    let keys: Vec<_> = seen
        .iter()
        .map(|s| s.key.clone().expect("X-Livekit-Request-Id"))
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "{keys:?}");
    // Sync budget: setup 5 s + ring 20 s + margin 1 s, measured on the real clock
    // some moments later: at most 26 s, and certainly more than the ring alone.
    assert!(
        first.budget <= Duration::from_secs(26) && first.budget > Duration::from_secs(20),
        "{:?}",
        first.budget
    );
}

/// Trunk and dispatch-rule management through the SDK: create (both forms of
/// `CreateSIPDispatchRuleRequest`), filtered lists, partial updates, conflicts, read-only
/// config entries, deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_manages_trunks_and_dispatch_rules() {
    let fake = Fake::with_delay(Duration::ZERO);
    let Some((stdout, stderr)) = run_sdk_script(
        "python_sdk_manages_trunks_and_dispatch_rules",
        "manage.py",
        &fake,
    )
    .await
    else {
        return;
    };
    assert!(
        !stdout.contains("sdk-secret-pw") && !stderr.contains("sdk-secret-pw"),
        "the trunk password never comes back"
    );
    assert_eq!(fake.creates(), 0, "management never places calls");
}
