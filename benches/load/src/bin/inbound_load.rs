//! Load benchmark for inbound calls (issue "inbound calls"), with SIPp as the caller.
//!
//! Starts the real `sipbridge` (release build) with an open loopback trunk and embedded rooms,
//! and SIPp (`tests/sipp/uac_load.xml`) calling in. Each call's SDP names one of this bench's
//! own UDP sockets, so the bench is every phone's media: it sends 20 ms PCMU packets to the
//! gateway (from the moment SIPp logs the gateway's RTP port) and counts what comes back.
//!
//! Two modes:
//! - `rate`: `--rate` new calls per second for `--seconds`, each held `--hold-ms`; one room per
//!   call (individual rule, random suffix). Goal: ≥ 1,000 calls/s for 60 s, no failed call.
//! - `rooms`: `--calls` calls (two per room: an individual rule without randomness and two
//!   calls per calling number) all held for `--seconds`, RTP both ways. Goal: 500 calls in
//!   250 rooms for 60 s with no packet lost.
//!
//! Reports SIPp's successful and failed calls, how the gateway ended them (its metrics), RTP
//! sent / received / lost per direction, the gateway's CPU time per call and per call-second,
//! RSS per call, and UDP receive-buffer errors (`/proc/net/snmp`).
//!
//! ```sh
//! cargo run --release -p api-load --bin inbound-load -- rate --rate 1000 --seconds 60 --hold-ms 1000
//! cargo run --release -p api-load --bin inbound-load -- rooms --calls 500 --seconds 60
//! ```
//!
//! Every loop is bounded by the run's length; SIPp gets `-timeout` and is killed at the end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_load::{cpu_seconds, metric_sum, rss_kib, udp_counter};
use sipbridge_e2e::{Gateway, scenario, sipp};

/// 20 ms of PCMU at 8 kHz.
const FRAME: usize = 160;
/// Media threads of the bench (each owns a share of the phones' sockets).
const MEDIA_THREADS: usize = 2;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Rate,
    Rooms,
}

struct Args {
    mode: Mode,
    rate: u64,
    seconds: u64,
    hold_ms: u64,
    calls: u64,
}

fn args() -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mode = match argv.first().map(String::as_str) {
        Some("rate") => Mode::Rate,
        Some("rooms") => Mode::Rooms,
        _ => usage("first argument: rate | rooms"),
    };
    let mut a = Args {
        mode,
        rate: 1000,
        seconds: 60,
        hold_ms: 1000,
        calls: 500,
    };
    for pair in argv[1..].chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse().ok());
        match (pair[0].as_str(), value) {
            ("--rate", Some(v)) => a.rate = v,
            ("--seconds", Some(v)) => a.seconds = v,
            ("--hold-ms", Some(v)) => a.hold_ms = v,
            ("--calls", Some(v)) => a.calls = v,
            (flag, _) => usage(&format!("bad {flag}")),
        }
    }
    if a.mode == Mode::Rooms && a.calls % 2 == 1 {
        usage("--calls must be even (two calls per room)");
    }
    a
}

fn usage(why: &str) -> ! {
    eprintln!(
        "usage: inbound-load rate [--rate N] [--seconds N] [--hold-ms N]\n       inbound-load rooms [--calls N] [--seconds N]\n({why})"
    );
    std::process::exit(2);
}

/// Drops per local UDP port (`/proc/net/udp`, last column), to tell whose socket overflowed.
fn udp_drops(into: &mut HashMap<u16, u64>) {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let port = cols
            .get(1)
            .and_then(|a| a.rsplit_once(':'))
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        let drops = cols.last().and_then(|d| d.parse::<u64>().ok());
        if let (Some(port), Some(drops)) = (port, drops)
            && drops > 0
        {
            let e = into.entry(port).or_default();
            *e = (*e).max(drops);
        }
    }
}

/// One phone's media socket and its counters.
struct Phone {
    socket: UdpSocket,
    gateway: Option<SocketAddr>,
    seq: u16,
    ts: u32,
    /// When this phone's current call started sending (rate mode stops after the hold).
    since: Option<Instant>,
    sent: u64,
    received: u64,
    /// Packets lost in the phone's earlier calls.
    lost_before: u64,
    /// Highest and lowest sequence numbers received (extended), for loss.
    first_seq: Option<u64>,
    max_seq: u64,
    last_seq16: u16,
    cycles: u64,
    received_now: u64,
}

impl Phone {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind phone socket");
        socket.set_nonblocking(true).expect("nonblocking");
        Phone {
            socket,
            gateway: None,
            since: None,
            lost_before: 0,
            seq: 0,
            ts: 0,
            sent: 0,
            received: 0,
            first_seq: None,
            max_seq: 0,
            last_seq16: 0,
            cycles: 0,
            received_now: 0,
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().expect("addr").port()
    }

    fn send(&mut self, ssrc: u32) {
        let Some(to) = self.gateway else { return };
        let mut p = [0xFFu8; 12 + FRAME];
        p[0] = 0x80;
        p[1] = 0; // PCMU
        p[2..4].copy_from_slice(&self.seq.to_be_bytes());
        p[4..8].copy_from_slice(&self.ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        // A quiet sawtooth so the mixer has something non-silent to mix.
        for (i, b) in p[12..].iter_mut().enumerate() {
            *b = 0x70 + (i % 16) as u8;
        }
        if self.socket.send_to(&p, to).is_ok() {
            self.sent += 1;
            self.seq = self.seq.wrapping_add(1);
            self.ts = self.ts.wrapping_add(FRAME as u32);
        }
    }

    fn drain(&mut self, buf: &mut [u8]) {
        while let Ok((n, from)) = self.socket.recv_from(buf) {
            // Only the current call's PCMU audio counts (not telephone-events, not late
            // packets of this phone's previous call).
            if n < 12 || buf[1] & 0x7F != 0 || Some(from) != self.gateway {
                continue;
            }
            self.received += 1;
            self.received_now += 1;
            let s = u16::from_be_bytes([buf[2], buf[3]]);
            // RFC 3550 A.1-style extension of the 16-bit sequence number.
            if self.first_seq.is_none() {
                self.first_seq = Some(u64::from(s));
                self.max_seq = u64::from(s);
            } else {
                if s < self.last_seq16 && self.last_seq16.wrapping_sub(s) > 0x8000 {
                    self.cycles += 1 << 16;
                }
                self.max_seq = self.max_seq.max(self.cycles + u64::from(s));
            }
            self.last_seq16 = s;
        }
    }

    /// Loss of the current call (RFC 3550 A.3: expected minus received).
    fn lost_now(&self) -> u64 {
        self.first_seq.map_or(0, |f| {
            (self.max_seq + 1 - f).saturating_sub(self.received_now)
        })
    }

    fn lost(&self) -> u64 {
        self.lost_before + self.lost_now()
    }

    /// A new call on this phone (SIPp reuses injection lines): new stream both ways.
    fn new_call(&mut self, gateway: SocketAddr) {
        self.lost_before += self.lost_now();
        self.first_seq = None;
        self.received_now = 0;
        self.cycles = 0;
        self.gateway = Some(gateway);
        self.since = Some(Instant::now());
    }
}

/// Watches SIPp's log for "rtp <phone port> <gateway port>" lines (bounded by `stop`).
fn follow_log(
    path: std::path::PathBuf,
    found: Arc<Mutex<HashMap<u16, u16>>>,
    stop: Arc<AtomicBool>,
) {
    let mut pos = 0u64;
    while !stop.load(Ordering::Relaxed) {
        if let Ok(mut f) = std::fs::File::open(&path) {
            let _ = f.seek(SeekFrom::Start(pos));
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if !line.ends_with('\n') {
                    break; // a partial line: read it again next time
                }
                pos += line.len() as u64;
                let mut it = line.split_whitespace();
                if it.next() == Some("rtp")
                    && let (Some(Ok(phone)), Some(Ok(gw))) =
                        (it.next().map(str::parse), it.next().map(str::parse))
                {
                    found.lock().expect("lock").insert(phone, gw);
                }
                line.clear();
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let a = args();
    let (calls, rate, hold_ms) = match a.mode {
        Mode::Rate => (a.rate * a.seconds, a.rate, a.hold_ms),
        // All calls placed within about a second and held for the whole run.
        Mode::Rooms => (a.calls, a.calls.min(500), a.seconds * 1000),
    };
    // Phones: in rate mode every concurrent call needs a socket; sockets are reused in turn.
    let concurrent = match a.mode {
        Mode::Rate => (rate * (hold_ms / 1000 + 3)).min(calls),
        Mode::Rooms => calls,
    } as usize;
    let mut phones: Vec<Phone> = (0..concurrent).map(|_| Phone::new()).collect();
    let dir = std::env::temp_dir().join(format!("sipbridge-inbound-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let inf = dir.join("callers.csv");
    let mut csv = String::from("SEQUENTIAL\n");
    for (i, phone) in phones.iter().enumerate() {
        let caller = match a.mode {
            Mode::Rate => format!("+1555{i:07}"),
            Mode::Rooms => format!("+1666{:07}", i / 2),
        };
        csv.push_str(&format!("{caller};{};\n", phone.port()));
    }
    std::fs::write(&inf, csv).expect("write injection file");

    let randomness = match a.mode {
        Mode::Rate => "",
        Mode::Rooms => "no_randomness = true",
    };
    let cfg = format!(
        r#"
[inbound]
invites_per_source_per_s = 0
max_calls_per_trunk = 0

[[inbound_trunks]]
sip_trunk_id = "ST_load"
allowed_addresses = ["127.0.0.0/8"]

[[dispatch_rules]]
sip_dispatch_rule_id = "SDR_load"
[dispatch_rules.rule.dispatch_rule_individual]
room_prefix = "load"
{randomness}
"#
    );
    // RTP ports 10000-29999: below the OS ephemeral range (32768+) the phones and SIPp use.
    let gw = Gateway::start_sized("inbound-load", &cfg, 20_000, 50_000);
    let pid = gw.child.0.id();
    let rss_idle = rss_kib(pid);
    let (rcvbuf0, inerr0) = (udp_counter("RcvbufErrors"), udp_counter("InErrors"));

    let log = dir.join("sipp.log");
    let found = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (log, found, stop) = (log.clone(), found.clone(), stop.clone());
        std::thread::spawn(move || follow_log(log, found, stop))
    };

    let target = gw.sip.to_string();
    let sipp_port = sipbridge_e2e::free_udp_port();
    let phone_ports: std::collections::HashSet<u16> = phones.iter().map(Phone::port).collect();
    let xml = scenario("uac_load.xml").to_string_lossy().into_owned();
    let run_s = calls / rate.max(1) + hold_ms / 1000 + 30;
    let start = Instant::now();
    let cpu0 = Duration::from_secs_f64(cpu_seconds(pid));
    let mut caller = sipp(
        &[
            target.as_str(),
            "-sf",
            &xml,
            "-inf",
            &inf.to_string_lossy(),
            "-s",
            "+15557770000",
            "-i",
            "127.0.0.1",
            "-p",
            &sipp_port.to_string(),
            "-r",
            &rate.to_string(),
            "-rp",
            "1000",
            "-m",
            &calls.to_string(),
            "-l",
            &(concurrent + 100).to_string(),
            "-d",
            &hold_ms.to_string(),
            "-buff_size",
            "4194304",
            "-trace_logs",
            "-log_file",
            &log.to_string_lossy(),
            "-trace_stat",
            "-stf",
            &dir.join("stat.csv").to_string_lossy(),
        ],
        run_s as u32,
    );

    // Media: every 20 ms each phone with a known gateway port sends one packet, then reads.
    let sent = Arc::new(AtomicU64::new(0));
    let phones_per_thread = phones.len().div_ceil(MEDIA_THREADS).max(1);
    let mut shares: Vec<Vec<Phone>> = Vec::new();
    while !phones.is_empty() {
        let rest = phones.split_off(phones.len().min(phones_per_thread));
        shares.push(std::mem::replace(&mut phones, rest));
    }
    let media_stop = Arc::new(AtomicBool::new(false));
    let media: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(t, mut share)| {
            let (found, stop, sent) = (found.clone(), media_stop.clone(), sent.clone());
            let limit = Duration::from_secs(run_s + 10);
            // Stop sending a little before SIPp's BYE, so no packet is sent into a call
            // that is ending (it would count as sent and never arrive).
            let hold = Duration::from_millis(hold_ms.saturating_sub(200));
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                let t0 = Instant::now();
                let mut tick = 0u64;
                while !stop.load(Ordering::Relaxed) && t0.elapsed() < limit {
                    {
                        let map = found.lock().expect("lock");
                        for p in share.iter_mut() {
                            if let Some(port) = map.get(&p.port()) {
                                let addr = SocketAddr::from(([127, 0, 0, 1], *port));
                                if p.gateway != Some(addr) {
                                    p.new_call(addr);
                                }
                            }
                        }
                    }
                    for (i, p) in share.iter_mut().enumerate() {
                        // Send while the call lasts (SIPp hangs up after the hold).
                        if p.since.is_some_and(|t| t.elapsed() < hold) {
                            p.send(0x5EED_0000 + (t * 100_000 + i) as u32);
                        }
                        p.drain(&mut buf);
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    tick += 1;
                    let due = t0 + Duration::from_millis(20 * tick);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                share
            })
        })
        .collect();

    // Sample RSS and active calls while SIPp runs.
    let mut peak = (0u64, 0.0f64);
    let mut drops = HashMap::new();
    let mut steady_cpu: Option<(Instant, Duration, f64)> = None;
    let out = loop {
        if let Ok(Some(_)) = caller.0.try_wait() {
            break caller.wait_for(Duration::from_secs(5));
        }
        if start.elapsed() > Duration::from_secs(run_s + 5) {
            break caller.wait_for(Duration::from_secs(5));
        }
        std::thread::sleep(Duration::from_secs(1));
        udp_drops(&mut drops);
        let rss = rss_kib(pid);
        let active = sipbridge_e2e::http_get(gw.http, "/metrics")
            .map(|r| metric_sum(&r.body, "sipbridge_calls_active", ""))
            .unwrap_or(0.0);
        if active > peak.1 {
            peak = (rss, active);
        }
        // Rooms mode: CPU over the steady part (all calls up).
        if a.mode == Mode::Rooms && steady_cpu.is_none() && active >= a.calls as f64 {
            steady_cpu = Some((
                Instant::now(),
                Duration::from_secs_f64(cpu_seconds(pid)),
                active,
            ));
        }
    };
    let wall = start.elapsed();
    let cpu_total = Duration::from_secs_f64(cpu_seconds(pid)) - cpu0;
    let steady = steady_cpu.map(|(t, c, n)| {
        let secs = t.elapsed().as_secs_f64();
        (
            (Duration::from_secs_f64(cpu_seconds(pid)) - c).as_secs_f64(),
            secs,
            n,
        )
    });
    media_stop.store(true, Ordering::Relaxed);
    let phones: Vec<Phone> = media
        .into_iter()
        .flat_map(|h| h.join().expect("media thread"))
        .collect();
    stop.store(true, Ordering::Relaxed);
    let _ = follower.join();
    std::thread::sleep(Duration::from_secs(2));
    let metrics = sipbridge_e2e::http_get(gw.http, "/metrics")
        .map(|r| r.body)
        .unwrap_or_default();

    // SIPp's own verdict: the last line of its statistics file.
    let stats = std::fs::read_to_string(dir.join("stat.csv")).unwrap_or_default();
    let header: Vec<&str> = stats.lines().next().unwrap_or("").split(';').collect();
    let last: Vec<&str> = stats.lines().last().unwrap_or("").split(';').collect();
    let stat = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .and_then(|i| last.get(i))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (ok, failed) = (stat("SuccessfulCall(C)"), stat("FailedCall(C)"));

    let (p_sent, p_recv, p_lost): (u64, u64, u64) = phones.iter().fold((0, 0, 0), |acc, p| {
        (acc.0 + p.sent, acc.1 + p.received, acc.2 + p.lost())
    });
    let gw_dropped = metric_sum(&metrics, "sipbridge_rtp_drops_total", "");
    let gw_in = metric_sum(&metrics, "sipbridge_rtp_packets_total", "direction=\"in\"");
    println!(
        "inbound-load {}: {calls} calls at {rate}/s, held {hold_ms} ms; SIPp exit {:?}",
        if a.mode == Mode::Rate {
            "rate"
        } else {
            "rooms"
        },
        out.status.code()
    );
    // Calls are placed during the run minus the last call's hold and teardown.
    let placing = (wall.as_secs_f64() - hold_ms as f64 / 1e3).max(1e-3);
    println!(
        "SIPp: successful {ok}, failed {failed}; placed at {:.0} calls/s ({:.1} s run, {placing:.1} s placing)",
        ok as f64 / placing,
        wall.as_secs_f64()
    );
    println!(
        "gateway: calls started {}, ended {}, of them by caller BYE {}; refusals {}",
        metric_sum(&metrics, "sipbridge_calls_started_total", ""),
        metric_sum(&metrics, "sipbridge_calls_ended_total", ""),
        metric_sum(
            &metrics,
            "sipbridge_calls_ended_total",
            "outcome=\"remote_hangup\""
        ),
        metric_sum(&metrics, "sipbridge_inbound_refused_total", ""),
    );
    println!(
        "RTP phone->gateway: sent {p_sent}, gateway counted received {gw_in}, dropped {gw_dropped}; gateway->phone: received {p_recv}, lost {p_lost}"
    );
    println!(
        "gateway CPU {:.2} s over {:.1} s wall: {:.3} ms CPU per call",
        cpu_total.as_secs_f64(),
        wall.as_secs_f64(),
        cpu_total.as_secs_f64() * 1e3 / calls.max(1) as f64
    );
    if let Some((cpu, secs, n)) = steady {
        println!(
            "steady state ({n} calls up, {secs:.1} s): {:.2} % of a core per call, {:.0} calls per core",
            cpu / secs / n * 100.0,
            n * secs / cpu.max(1e-9)
        );
    }
    println!(
        "RSS idle {rss_idle} KiB, at peak {} KiB with {} active calls: {:.1} KiB per call",
        peak.0,
        peak.1,
        if peak.1 > 0.0 {
            peak.0.saturating_sub(rss_idle) as f64 / peak.1
        } else {
            0.0
        }
    );
    println!(
        "RSS after every call ended: {} KiB (ended calls stay listed for the registry's retention)",
        rss_kib(pid)
    );
    println!(
        "UDP RcvbufErrors {}, InErrors {} during the run",
        udp_counter("RcvbufErrors") - rcvbuf0,
        udp_counter("InErrors") - inerr0
    );
    let (mut d_sip, mut d_sipp, mut d_phones, mut d_other) = (0, 0, 0, 0);
    for (port, n) in &drops {
        match *port {
            p if p == gw.sip.port() => d_sip += n,
            p if p == sipp_port => d_sipp += n,
            p if phone_ports.contains(&p) => d_phones += n,
            _ => d_other += n,
        }
    }
    println!(
        "socket drops: gateway SIP {d_sip}, SIPp {d_sipp}, phones {d_phones}, other (gateway RTP, ...) {d_other}"
    );
    for l in metrics.lines().filter(|l| {
        (l.starts_with("sipbridge_calls_ended_total") && !l.contains("remote_hangup"))
            || l.starts_with("sipbridge_inbound_refused_total")
    }) {
        println!("  {l}");
    }
    if failed > 0 || out.status.code() != Some(0) {
        println!(
            "SIPp stderr (tail): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
}
