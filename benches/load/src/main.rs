//! Load benchmark for outbound calls (issue "create SIP participants").
//!
//! Starts the real `sipbridge` (release build) and a SIPp callee that answers at once and hangs
//! up after `--talk-ms`, then sends asynchronous `CreateSIPParticipant` requests at `--rate` per
//! second for `--seconds`, each from a fresh loopback HTTP connection. Reports the achieved
//! rate, API failures, how every call ended (from sipbridge's own metrics), create latency,
//! memory per active call (RSS), and UDP receive-buffer errors (`/proc/net/snmp`).
//!
//! ```sh
//! cargo run --release -p api-load -- --rate 1000 --seconds 60 --talk-ms 1000
//! ```
//!
//! Every loop is bounded by `--seconds`; SIPp gets `-timeout` and is killed at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_load::{metric_sum, rss_kib, udp_counter};
use sipbridge_e2e::{Gateway, free_port, scenario, sipp};

struct Args {
    rate: u64,
    seconds: u64,
    talk_ms: u64,
    threads: u64,
}

fn args() -> Args {
    let mut a = Args {
        rate: 1000,
        seconds: 60,
        talk_ms: 1000,
        threads: 16,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse().ok());
        match (pair[0].as_str(), value) {
            ("--rate", Some(v)) => a.rate = v,
            ("--seconds", Some(v)) => a.seconds = v,
            ("--talk-ms", Some(v)) => a.talk_ms = v,
            ("--threads", Some(v)) => a.threads = v,
            (flag, _) => {
                eprintln!(
                    "usage: api-load [--rate N] [--seconds N] [--talk-ms N] [--threads N] (bad {flag})"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

fn main() {
    let a = args();
    // Build sipbridge first: SIPp's -timeout starts counting when SIPp starts.
    sipbridge_e2e::sipbridge_bin();
    let sipp_port = free_port();
    let xml = scenario("uas_hangup.xml").to_string_lossy().into_owned();
    let talk = a.talk_ms.to_string();
    let sipp_limit = (a.seconds + 60) as u32;
    let _callee = sipp(
        &[
            "-sf",
            &xml,
            "-i",
            "127.0.0.1",
            "-p",
            &sipp_port.to_string(),
            "-d",
            &talk,
            "-buff_size",
            "4194304",
            "-max_socket",
            "65000",
        ],
        sipp_limit,
    );
    std::thread::sleep(Duration::from_millis(500));
    let trunk = format!(
        "[[outbound_trunks]]\nsip_trunk_id = \"ST_load\"\naddress = \"127.0.0.1:{sipp_port}\"\ntransport = \"udp\"\nnumbers = [\"+15550100000\"]\n"
    );
    let gw = Gateway::start_sized("load", &trunk, 40_000, 50_000);
    let pid = gw.child.0.id();
    let rss_idle = rss_kib(pid);
    let rcvbuf_before = udp_counter("RcvbufErrors");

    let sent = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let start = Instant::now();
    let total = a.rate * a.seconds;
    let mut workers = Vec::new();
    for w in 0..a.threads {
        let (sent, ok, failed, latencies, first_error) = (
            sent.clone(),
            ok.clone(),
            failed.clone(),
            latencies.clone(),
            first_error.clone(),
        );
        let api = gw.api;
        let (rate, threads) = (a.rate, a.threads);
        workers.push(std::thread::spawn(move || {
            let token = sipbridge_e2e::token(&["call"]);
            let auth = format!("Bearer {token}");
            // Call k of this worker is due at (k * threads + w) / rate seconds.
            let mut k = 0u64;
            loop {
                let n = k * threads + w;
                if n >= total {
                    break;
                }
                let due = start + Duration::from_secs_f64(n as f64 / rate as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let body = format!(
                    r#"{{"sip_trunk_id":"ST_load","sip_call_to":"+1555{n:07}","room_name":"load-{n}","wait_until_answered":false}}"#
                );
                let t0 = Instant::now();
                sent.fetch_add(1, Ordering::Relaxed);
                let res = sipbridge_e2e::http(
                    api,
                    "POST",
                    "/twirp/livekit.SIP/CreateSIPParticipant",
                    &[("Content-Type", "application/json"), ("Authorization", &auth)],
                    &body,
                    Duration::from_secs(30),
                );
                let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
                match res {
                    Ok(r) if r.status == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut e = first_error.lock().expect("lock");
                        if e.is_none() {
                            *e = Some(format!("{other:?}"));
                        }
                    }
                }
                latencies.lock().expect("lock").push(us);
                k += 1;
            }
        }));
    }
    // Sample memory and active calls once a second while the load runs.
    let mut peak = (0u64, 0.0f64);
    while workers.iter().any(|w| !w.is_finished())
        && start.elapsed() < Duration::from_secs(a.seconds + 30)
    {
        std::thread::sleep(Duration::from_secs(1));
        let rss = rss_kib(pid);
        let active = sipbridge_e2e::http_get(gw.http, "/metrics")
            .map(|r| metric_sum(&r.body, "sipbridge_calls_active", ""))
            .unwrap_or(0.0);
        if active > peak.1 {
            peak = (rss, active);
        }
    }
    for w in workers {
        let _ = w.join();
    }
    let load_time = start.elapsed();
    // Let the last calls finish (talk time + teardown).
    std::thread::sleep(Duration::from_millis(a.talk_ms + 3000));
    let metrics = sipbridge_e2e::http_get(gw.http, "/metrics")
        .map(|r| r.body)
        .unwrap_or_default();
    let started = metric_sum(&metrics, "sipbridge_calls_started_total", "");
    let remote_hangup = metric_sum(
        &metrics,
        "sipbridge_calls_ended_total",
        "outcome=\"remote_hangup\"",
    );
    let ended_all = metric_sum(&metrics, "sipbridge_calls_ended_total", "");
    let mut lat = latencies.lock().expect("lock").clone();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let (ok, failed, sent) = (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        sent.load(Ordering::Relaxed),
    );
    println!(
        "api-load: rate {} /s for {} s, talk {} ms, {} client threads",
        a.rate, a.seconds, a.talk_ms, a.threads
    );
    println!(
        "creates sent {sent}, ok {ok}, failed {failed}; achieved {:.0} creates/s",
        ok as f64 / load_time.as_secs_f64()
    );
    println!(
        "create latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.5) as f64 / 1e3,
        pct(0.99) as f64 / 1e3,
        lat.last().copied().unwrap_or(0) as f64 / 1e3
    );
    println!(
        "calls started {started}, ended {ended_all}, ended by callee BYE (success) {remote_hangup}, other ends {}",
        ended_all - remote_hangup
    );
    println!(
        "RSS idle {} KiB, at peak {} KiB with {} active calls: {:.1} KiB per active call",
        rss_idle,
        peak.0,
        peak.1,
        if peak.1 > 0.0 {
            (peak.0.saturating_sub(rss_idle)) as f64 / peak.1
        } else {
            0.0
        }
    );
    println!(
        "UDP RcvbufErrors during the run: {}",
        udp_counter("RcvbufErrors") - rcvbuf_before
    );
    if let Some(e) = first_error.lock().expect("lock").as_ref() {
        println!("first API error: {e}");
    }
    let other: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("sipbridge_calls_ended_total") && !l.contains("remote_hangup"))
        .collect();
    for l in other {
        println!("  {l}");
    }
}
