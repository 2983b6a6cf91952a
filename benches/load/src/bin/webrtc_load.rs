//! Load benchmark for the WebRTC room link (issue 7): N concurrent transcoded calls.
//!
//! Two processes. The child (this binary with `--room`) is the far end: room-link's WebRTC
//! room fixture (axum + webrtc-rs `rtc`), one Opus session per call that plays a tone and
//! counts what it receives. The parent is the gateway side, and only it is measured: one
//! [`WebRtcRooms`] link (its single driver task, DTLS-SRTP, ICE consent, RTCP) and per call
//! what `gateway::call::media`'s pump does between the SIP leg and the room: PCMU → Opus
//! ([`Transcoder`], playout buffer, resampling, libopus) toward the room and Opus → PCMU
//! toward the phone, one task per call awaiting the room session. The phone's PCMU (a
//! 1 kHz tone, encoded once) is handed to the call's transcoder every 20 ms by one ticker
//! task; the SIP leg's own UDP socket is not part of this measurement.
//!
//! Reported: process CPU (utime + stime from `/proc/self/stat`, the counters `getrusage`
//! returns) per call-second and the calls per core that implies, audio loss both ways
//! (packets sent vs received, from both processes' counters), RSS per call, and RSS after
//! 1,000 join/leave cycles against before.
//!
//! ```sh
//! cargo run --release -p api-load --bin webrtc-load -- --calls 100,300 --seconds 20 --cycles 1000
//! ```
//!
//! With `--passthrough` the room accepts PCMU, which then passes through untranscoded: the
//! difference between the two runs is the transcoding, the rest is the link itself.
//!
//! Every loop is bounded (call counts, `--seconds`, `--cycles`, join deadlines); the child
//! is killed when the parent ends.
//!
//! # Measured (2026-12-05 21:12 UTC, HEAD ef1e5d8, 2-vCPU VM with no other jobs: load 1.2–1.9)
//!
//! | run | CPU per call-second | calls per core | loss to room / to phone | RSS per call |
//! |---|---|---|---|---|
//! | 100 transcoded | 3.31 ms | 303 | 0 / 0 (110,100 and 110,408 frames) | 192 KiB |
//! | 300 transcoded | 2.98 ms | 336 | 0 / 0 (329,400 and 334,291 frames) | 141 KiB |
//! | 1,000 join/leave cycles | | | | RSS −256 KiB (no growth) |
//!
//! Earlier, on the same VM shared with two other build/test jobs (load 3.3–5.7):
//!
//! | run | CPU per call-second | calls per core | loss to room / to phone | RSS per call |
//! |---|---|---|---|---|
//! | 100 transcoded | 3.0–3.7 ms | 271–328 | 0 / 0 (every run) | 194–209 KiB |
//! | 300 transcoded | 2.7–2.8 ms | 351–376 | 0–26 % / 0–11 % (host-load dependent) | 146–224 KiB |
//! | 300 PCMU pass-through | 1.1–1.2 ms | 843–896 | 0 / ≤0.02 % | 134 KiB |
//! | 1,000 join/leave cycles | | | | RSS −0.2 to −5.8 MiB (no growth) |
//!
//! The loss in the shared runs was all session-queue overflow (the link's consumer more than 640 ms
//! behind while the host was overloaded; no kernel drops except in the worst run); runs at
//! load ≤ 4.5 lost 0–1.3 %. Profile (perf, 300 transcoded calls): libopus ~45 % (SILK
//! encode of the PCMU leg ~25 %, decode of the room's 48 kHz Opus ~15 %), `rtc`'s
//! pipeline moving messages by value (memmove ~6 %, 17 % of the pass-through cost),
//! UDP syscalls ~10 %, task switches ~8 %; the link's own code is a few percent.

#[path = "../../../../crates/room-link/tests/support/room_server.rs"]
mod room_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_load::{cpu_seconds, rss_kib, udp_counter};
use bytes::Bytes;
use room_link::webrtc::{WebRtcLinkConfig, WebRtcRooms};
use room_link::{AudioFrame, JoinRequest, MediaCapabilities, RoomEvent, RoomLink, RoomSession};
use room_server::{LOOPBACK, RoomOptions, RoomServer};
use rtp_relay::codec::{Codec, CodecKind, InputPacket, Transcoder, TranscoderConfig, g711};

/// Calls joined at once while building up the load (and in the join/leave cycles).
const JOIN_BATCH: usize = 20;
/// Longest one join may take.
const JOIN_DEADLINE: Duration = Duration::from_secs(20);
/// 20 ms of PCMU.
const FRAME: usize = 160;

struct Args {
    calls: Vec<usize>,
    seconds: u64,
    cycles: usize,
    /// The room accepts PCMU: no transcoding, the link's own cost only.
    passthrough: bool,
}

fn args() -> Args {
    let mut a = Args {
        calls: vec![100, 300],
        seconds: 20,
        cycles: 1000,
        passthrough: false,
    };
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = argv.iter().position(|a| a == "--passthrough") {
        argv.remove(i);
        a.passthrough = true;
    }
    for pair in argv.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        match pair[0].as_str() {
            "--calls" => a.calls = value.split(',').filter_map(|v| v.parse().ok()).collect(),
            "--seconds" => a.seconds = value.parse().unwrap_or(a.seconds),
            "--cycles" => a.cycles = value.parse().unwrap_or(a.cycles),
            flag => {
                eprintln!(
                    "usage: webrtc_load [--calls N,M] [--seconds N] [--cycles N] [--passthrough] (bad {flag})"
                );
                std::process::exit(2);
            }
        }
    }
    a
}

/// The 1-minute load average (the host is shared; figures are noisier when it is high).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// The far end: the room fixture, until stdin closes.
fn room_main(accept_pcmu: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let server = RoomServer::start(RoomOptions {
            keep_audio: false,
            accept_pcmu,
            ..RoomOptions::default()
        })
        .await;
        println!("url {}", server.url_template());
        println!("addr {}", server.addr);
        let _ = std::io::stdout().flush();
        // Ends when the parent goes away (stdin closes).
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
    });
}

/// The far end's process and where it listens.
struct Room {
    child: Child,
    url: String,
    addr: SocketAddr,
}

impl Room {
    fn start(passthrough: bool) -> Room {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
        let mut child = Command::new(exe)
            .arg("--room")
            .args(passthrough.then_some("--pcmu"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn room: {e}"));
        let out = child.stdout.take().unwrap_or_else(|| panic!("room stdout"));
        let mut lines = BufReader::new(out).lines();
        let mut next = |what: &str| {
            lines
                .next()
                .and_then(Result::ok)
                .and_then(|l| l.strip_prefix(what).map(str::to_owned))
                .unwrap_or_else(|| panic!("room did not say {what}"))
        };
        let url = next("url ");
        let addr = next("addr ")
            .parse()
            .unwrap_or_else(|e| panic!("room addr: {e}"));
        Room { child, url, addr }
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// The fixture's packet counters.
    fn stats(&self) -> (u64, u64, u64) {
        let body = self.http("GET", "/stats");
        let get = |k: &str| {
            body.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        (get("active "), get("audio_in "), get("audio_out "))
    }

    /// Stops (`true`) or resumes the room's audio in every session.
    fn mute(&self, on: bool) {
        let path = if on { "/mute" } else { "/unmute" };
        let reply = self.http("POST", path);
        assert!(reply.starts_with("HTTP/1.1 200"), "{path}: {reply}");
    }

    /// One request, bounded by 5 s; the whole response.
    fn http(&self, method: &str, path: &str) -> String {
        let mut s = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("room {path}: {e}"));
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        let _ = s.write_all(req.as_bytes());
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One bridged call on the gateway side.
struct Call {
    session: Arc<RoomSession>,
    /// Phone → room.
    to_room: Mutex<Transcoder>,
    seq: AtomicU64,
}

/// Counters of the gateway side.
#[derive(Default)]
struct Counters {
    /// PCMU frames the phones handed over.
    phone_frames: AtomicU64,
    /// Opus frames sent to the room (transcoder output).
    to_room: AtomicU64,
    /// Opus frames received from the room.
    from_room: AtomicU64,
    /// PCMU frames produced for the phones.
    to_phone: AtomicU64,
}

fn request(room: &str) -> JoinRequest {
    JoinRequest {
        room: room.into(),
        identity: format!("sip_{room}"),
        name: "load".into(),
        attributes: Vec::new(),
        media: MediaCapabilities {
            // What an inbound PCMU call joins with: the link adds Opus, the room takes it.
            codecs: vec![Codec::with_default_pt(CodecKind::Pcmu)],
            telephone_event: Some(101),
            ptime: Duration::from_millis(20),
        },
    }
}

async fn join(link: &WebRtcRooms, name: String) -> RoomSession {
    link.join(request(&name), Instant::now() + JOIN_DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("join {name}: {e}"))
}

/// The room → phone half of a call: what the gateway's pump does with room audio.
async fn room_to_phone(call: Arc<Call>, counters: Arc<Counters>) {
    let room_codec = call.session.info().media.codec;
    let phone = Codec::with_default_pt(CodecKind::Pcmu);
    let Ok(mut to_phone) = Transcoder::new(TranscoderConfig::new(room_codec, phone)) else {
        return;
    };
    while let Some(event) = call.session.recv().await {
        let RoomEvent::Audio(frame) = event else {
            continue;
        };
        counters.from_room.fetch_add(1, Ordering::Relaxed);
        let input = InputPacket {
            sequence: frame.sequence,
            timestamp: frame.timestamp,
            marker: frame.marker,
            payload: frame.payload,
        };
        if to_phone.push(input).is_ok() {
            while let Some(out) = to_phone.poll_frame() {
                // The pump would send `out` to the phone's socket here.
                std::hint::black_box(&out);
                counters.to_phone.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Every 20 ms, every call's phone hands one PCMU frame to its transcoder, whose Opus
/// frames go to the room.
async fn phones(calls: Arc<Vec<Arc<Call>>>, counters: Arc<Counters>, stop: Arc<AtomicBool>) {
    let tone: Vec<Bytes> = (0..50)
        .map(|n| {
            let payload: Vec<u8> = (0..FRAME)
                .map(|i| {
                    let t = (n * FRAME + i) as f64 / 8000.0;
                    let s = (t * 1000.0 * std::f64::consts::TAU).sin() * 8000.0;
                    g711::encode_ulaw(s as i16)
                })
                .collect();
            Bytes::from(payload)
        })
        .collect();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    // A late tick sends the missed frames at once, as a phone's jitter would: the offered
    // load stays 50 frames per second per call however busy the host is.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for call in calls.iter() {
            let seq = call.seq.fetch_add(1, Ordering::Relaxed);
            let input = InputPacket {
                sequence: seq as u16,
                timestamp: (seq as u32).wrapping_mul(FRAME as u32),
                marker: seq == 0,
                payload: tone[(n % 50) as usize].clone(),
            };
            counters.phone_frames.fetch_add(1, Ordering::Relaxed);
            let mut t = call.to_room.lock().unwrap_or_else(|e| e.into_inner());
            if t.push(input).is_ok() {
                while let Some(frame) = t.poll_frame() {
                    let sent = call.session.send_audio(AudioFrame {
                        payload_type: frame.payload_type,
                        sequence: frame.sequence,
                        timestamp: frame.timestamp,
                        marker: frame.marker,
                        payload: frame.payload,
                    });
                    if sent.is_ok() {
                        counters.to_room.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        n += 1;
    }
}

/// Runs `n` calls for `seconds` and prints the figures.
async fn load(link: &WebRtcRooms, room: &Room, n: usize, seconds: u64) {
    let me = "self";
    let rss_before = rss_kib(me);
    let (_, room_in0, room_out0) = room.stats();
    let mut calls = Vec::with_capacity(n);
    let started = Instant::now();
    for start in (0..n).step_by(JOIN_BATCH) {
        let joins: Vec<_> = (start..(start + JOIN_BATCH).min(n))
            .map(|i| {
                let link = link.clone();
                tokio::spawn(async move { join(&link, format!("load-{n}-{i}")).await })
            })
            .collect();
        for j in joins {
            let session = j.await.unwrap_or_else(|e| panic!("join task: {e}"));
            let room_codec = session.info().media.codec;
            let to_room = Transcoder::new(TranscoderConfig::new(
                Codec::with_default_pt(CodecKind::Pcmu),
                room_codec,
            ))
            .unwrap_or_else(|e| panic!("transcoder: {e}"));
            calls.push(Arc::new(Call {
                session: Arc::new(session),
                to_room: Mutex::new(to_room),
                seq: AtomicU64::new(0),
            }));
        }
    }
    let join_time = started.elapsed();
    let kinds: Vec<CodecKind> = calls
        .iter()
        .map(|c| c.session.info().media.codec.kind)
        .collect();
    let opus = kinds.iter().filter(|k| **k == CodecKind::Opus).count();
    let calls = Arc::new(calls);
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = calls
        .iter()
        .map(|c| tokio::spawn(room_to_phone(c.clone(), counters.clone())))
        .collect();
    let ticker = tokio::spawn(phones(calls.clone(), counters.clone(), stop.clone()));
    // Settle (connect bursts, first frames), then measure a steady window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu0 = cpu_seconds(me);
    let drops0 = udp_counter("RcvbufErrors");
    let phone0 = counters.phone_frames.load(Ordering::Relaxed);
    let from_room0 = counters.from_room.load(Ordering::Relaxed);
    let room_cpu0 = cpu_seconds(room.pid());
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let window = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(me) - cpu0;
    let phone_rate =
        (counters.phone_frames.load(Ordering::Relaxed) - phone0) as f64 / window / n as f64;
    let room_rate =
        (counters.from_room.load(Ordering::Relaxed) - from_room0) as f64 / window / n as f64;
    let room_cpu = cpu_seconds(room.pid()) - room_cpu0;
    let rss_during = rss_kib(me);
    let load = loadavg();
    stop.store(true, Ordering::Relaxed);
    let _ = ticker.await;
    room.mute(true);
    // Let the last packets land, then compare what was sent with what arrived.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, room_in1, room_out1) = room.stats();
    let to_room = counters.to_room.load(Ordering::Relaxed);
    let from_room = counters.from_room.load(Ordering::Relaxed);
    let drops = udp_counter("RcvbufErrors") - drops0;
    // Frames the session queues dropped (oldest first) because their consumer lagged.
    let (lane_out, lane_in) = calls.iter().fold((0, 0), |(o, i), c| {
        let st = c.session.stats();
        (o + st.outbound.media_dropped, i + st.inbound.media_dropped)
    });
    room.mute(false);
    let room_in = room_in1 - room_in0;
    let room_out = room_out1 - room_out0;
    // Teardown as the gateway does it: media tasks first, then the room leg.
    for r in readers {
        r.abort();
        let _ = r.await;
    }
    let calls = Arc::try_unwrap(calls).unwrap_or_else(|_| panic!("calls still shared"));
    for c in calls {
        let Ok(call) = Arc::try_unwrap(c) else {
            panic!("call still shared")
        };
        let Ok(session) = Arc::try_unwrap(call.session) else {
            panic!("session still shared")
        };
        let _ = session.leave().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib(me);

    let call_seconds = n as f64 * window;
    let ms_per_call_second = cpu * 1000.0 / call_seconds;
    let loss = |sent: u64, got: u64| {
        if sent == 0 {
            0.0
        } else {
            100.0 * (sent.saturating_sub(got)) as f64 / sent as f64
        }
    };
    println!(
        "--- {n} calls (PCMU phone, {opus} of {n} with Opus toward the room, the others PCMU passed through) ---"
    );
    println!(
        "joins: {n} in {:.2} s ({JOIN_BATCH} at a time)",
        join_time.as_secs_f64()
    );
    println!(
        "gateway CPU: {cpu:.2} s over {window:.1} s = {:.1}% of one core; {ms_per_call_second:.3} ms per call-second; {:.0} calls per core",
        100.0 * cpu / window,
        1000.0 / ms_per_call_second
    );
    println!(
        "offered load in the window: {phone_rate:.1} phone frames and {room_rate:.1} room frames per call-second (50 each when the host keeps up)"
    );
    println!(
        "room (far end, not the gateway) CPU: {:.1}% of one core; host load average {load}",
        100.0 * room_cpu / window
    );
    println!(
        "UDP datagrams dropped by full receive buffers (host-wide): {drops}; frames dropped by session queues: {lane_out} toward the room, {lane_in} toward the phone"
    );
    println!(
        "audio to room: {to_room} frames sent, {room_in} received ({:.3}% lost)",
        loss(to_room, room_in)
    );
    println!(
        "audio to phone: {room_out} frames sent by the room, {from_room} received ({:.3}% lost); {} PCMU frames for the phones",
        loss(room_out, from_room),
        counters.to_phone.load(Ordering::Relaxed)
    );
    println!(
        "RSS: {rss_before} KiB before, {rss_during} KiB with {n} calls ({:.1} KiB per call), {rss_after} KiB after all left",
        (rss_during.saturating_sub(rss_before)) as f64 / n as f64
    );
}

/// Joins and leaves `cycles` times, `JOIN_BATCH` at a time, without media.
async fn cycles(link: &WebRtcRooms, cycles: usize) -> Duration {
    let started = Instant::now();
    for start in (0..cycles).step_by(JOIN_BATCH) {
        let tasks: Vec<_> = (start..(start + JOIN_BATCH).min(cycles))
            .map(|i| {
                let link = link.clone();
                tokio::spawn(async move {
                    let s = join(&link, format!("cycle-{i}")).await;
                    let _ = s.leave().await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap_or_else(|e| panic!("cycle task: {e}"));
        }
    }
    started.elapsed()
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--room") {
        room_main(std::env::args().nth(2).as_deref() == Some("--pcmu"));
        return;
    }
    let args = args();
    let room = Room::start(args.passthrough);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let mut cfg = WebRtcLinkConfig::new(room.url.clone(), LOOPBACK);
        cfg.join_timeout = JOIN_DEADLINE;
        let link = WebRtcRooms::new(cfg);
        println!(
            "webrtc_load: room at {}, {} CPU(s) online",
            room.url,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        // Warm up allocator pools, the driver and the HTTP client before any baseline.
        cycles(&link, 40).await;
        for n in &args.calls {
            load(&link, &room, *n, args.seconds).await;
        }
        let before = rss_kib("self");
        let took = cycles(&link, args.cycles).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib("self");
        println!("--- {} join/leave cycles ---", args.cycles);
        println!(
            "took {:.1} s; RSS {before} KiB before, {after} KiB after ({:+} KiB)",
            took.as_secs_f64(),
            after as i64 - before as i64
        );
        let (active, _, _) = room.stats();
        println!("room sessions still running: {active}");
    });
}
