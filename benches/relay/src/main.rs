//! `relay-bench`: the gateway's media shell under load, measured from outside.
//!
//! `relay-bench run` is the load generator. It binds two UDP sockets per simulated call
//! (the two phones), starts the relay under test as a **separate process**
//! (`relay-bench relay`, the real `gateway::media::MediaEngine`), and makes every phone
//! send 50 packets/s of RTP to its relay port for a warm-up and a measured window. It
//! reports, over the measured window: relay CPU per relayed packet (from the relay
//! process's `utime + stime` in `/proc/PID/stat`), loss, the latency of the whole path
//! (p50/p99/max: from the wall-clock stamp a packet carries when its batch is handed to
//! the kernel to the kernel's arrival stamp on the far phone's socket, see `phone_io`),
//! and the kernel's `RcvbufErrors` (`/proc/net/snmp`) before and after.
//! `--direct` sends phone to phone without a relay: the baseline latency of the loopback
//! path and the generator itself.
//!
//! Modes: `passthrough` (PCMU both ways, 172-byte packets carrying their send time) and
//! `transcode` (leg A speaks PCMU, leg B Opus — a SIP phone toward a WebRTC room: phone A
//! sends a 1 kHz tone as 172-byte PCMU packets, phone B sends pre-encoded 48 kHz Opus
//! frames of the same tone, full band unless `--room-maxplaybackrate` makes the room honour
//! the `maxplaybackrate` the relay declares toward a PCMU leg; the relay decodes and
//! re-encodes both ways).
//! A transcoded packet cannot carry its send time: in that mode arrivals in the window are
//! counted against packets sent in it, and latency is not measured.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use gateway::media::{
    BridgeConfig, Codec, CodecKind, EngineConfig, LegSpec, MediaEngine, MediaTag, MediaTimeouts,
    OpusConfig, RtcpPort,
};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::time::clock_gettime;
use rtp_relay::codec::{Encoder, InputPacket, Transcoder, TranscoderConfig};
use rtp_relay::rtp::{RtpHeader, RtpPacket};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec};

mod phone_io;
mod uring_relay;

/// RTP header (12) + 20 ms of G.711 (160).
const PCMU_PACKET: usize = 172;
const OPUS_PT: u8 = 111;
/// Packets per second per phone.
const RATE: u32 = 50;
/// A phone's packet period in µs (20 ms), divided into `--slot-us` send slots.
const PERIOD_US: u64 = 1_000_000 / RATE as u64;
/// Latency histogram: 10 µs buckets up to 2 s.
const BUCKET_NS: u64 = 10_000;
const BUCKETS: usize = 200_000;

#[derive(Parser)]
#[command(about = "Relay benchmark for the sipbridge media shell")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Mode {
    /// PCMU on both legs: no decoding, packets relayed in place.
    Passthrough,
    /// PCMU on leg A, Opus on leg B.
    Transcode,
}

#[derive(Subcommand)]
enum Cmd {
    /// The load generator (spawns the relay process).
    Run(RunArgs),
    /// The relay under test (spawned by `run`; reads the phones' addresses on stdin).
    Relay(RelayArgs),
    /// Measures this machine's cost of the system calls a relayed packet needs.
    Calibrate,
    /// CPU per packet of each transcoding direction, in this process (no sockets).
    Codec(CodecArgs),
    /// How much of a tone survives PCMU → Opus (the relay's narrowband encoder) → PCMU,
    /// without loss and with one Opus packet lost: the quality side of the encoder settings
    /// `codec` prices.
    Fidelity(FidelityArgs),
}

#[derive(Parser, Clone)]
struct FidelityArgs {
    /// Opus encoder complexity toward the Opus leg (0..=10).
    #[arg(long, default_value_t = 5)]
    opus_complexity: u8,
    /// Cap on the complexity at 8 kHz (`OpusConfig::narrowband_max_complexity`; 10 = none).
    #[arg(long, default_value_t = OpusConfig::default().narrowband_max_complexity)]
    opus_nb_max_complexity: u8,
    /// Opus bitrate toward the Opus leg in bit/s (default: `OpusConfig::effective_bitrate`).
    #[arg(long)]
    opus_bitrate: Option<i32>,
}

#[derive(Parser, Clone)]
struct CodecArgs {
    /// Packets per direction.
    #[arg(long, default_value_t = 20_000)]
    packets: usize,
    /// Also run both directions of this many calls interleaved, packet by packet and call
    /// by call as the relay meets them: every call has its own codec state, so this shows
    /// what falling out of the CPU caches costs.
    #[arg(long, default_value_t = 1)]
    calls: usize,
    /// Opus encoder complexity toward the Opus leg (0..=10).
    #[arg(long, default_value_t = 5)]
    opus_complexity: u8,
    /// Opus internal sample rate toward the Opus leg (capped at the PCMU leg's 8 kHz).
    #[arg(long, default_value_t = 48000)]
    opus_rate: u32,
    /// Cap on the complexity at 8 kHz (`OpusConfig::narrowband_max_complexity`; 10 = none).
    #[arg(long, default_value_t = OpusConfig::default().narrowband_max_complexity)]
    opus_nb_max_complexity: u8,
    /// Opus bitrate toward the Opus leg in bit/s (default: libopus's automatic choice).
    #[arg(long)]
    opus_bitrate: Option<i32>,
    /// Turn the relay's Opus in-band FEC off (on by default, RFC 7587 §3.3).
    #[arg(long)]
    no_fec: bool,
    /// Rate the Opus leg's own encoder runs at (48000: a WebRTC room's default).
    #[arg(long, default_value_t = 48000)]
    room_rate: u32,
    /// The room's encoder honours an `a=fmtp` `maxplaybackrate` of this many Hz (8000 is
    /// what `rtp_relay::codec::opus_fmtp_bridged_to` declares toward a PCMU leg).
    #[arg(long)]
    room_maxplaybackrate: Option<u32>,
    /// The room encoder's bitrate in bit/s (default: libopus's automatic choice, or
    /// `OpusConfig::effective_bitrate` at 8 kHz).
    #[arg(long)]
    room_bitrate: Option<i32>,
}

#[derive(Parser, Clone)]
struct RunArgs {
    /// Simultaneous calls.
    #[arg(long, default_value_t = 100)]
    calls: usize,
    /// What the relay does with the media.
    #[arg(long, value_enum, default_value_t = Mode::Passthrough)]
    mode: Mode,
    /// Relay worker threads (`[rtp] workers`).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Seconds of traffic before measuring.
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Load-generator threads.
    #[arg(long, default_value_t = 2)]
    gen_threads: usize,
    /// The generator sleeps until its next 1 ms send slot and only then reads what arrived,
    /// instead of waiting in `epoll_wait` for every arrival. On loopback the relay's
    /// `sendto` delivers into the phone's socket itself, and waking a phone thread that
    /// sleeps in `epoll_wait` (an inter-processor interrupt, a VM exit here) is charged to
    /// the relay: a NIC would not charge the far end's wake-ups to the sender. Latency
    /// then includes up to 1 ms of the generator's sleep: use it for CPU figures.
    #[arg(long)]
    gen_rx_per_slot: bool,
    /// Each generator thread sends all its A phones' packets from one socket and all its B
    /// phones' from another (like a trunk's media gateway), `sendmmsg` by `sendmmsg`; the
    /// relay latches each leg to that address as to any peer. The generator then needs a
    /// fraction of the CPU of a socket per phone, which leaves the relay a core of its own
    /// on a 2-core machine at 3,000 calls.
    #[arg(long)]
    shared_sockets: bool,
    /// Length of a send slot in µs: each call sends in one slot of every 20 ms period, so
    /// shorter slots spread the load more evenly (1000: bursts of calls/20 per ms). Must
    /// divide 20000 evenly.
    #[arg(long, default_value_t = 1000)]
    slot_us: u64,
    /// Also print, for every 100 ms of the window whose slowest packet took over 1 ms, that
    /// packet's latency and how many packets took over 1 ms: when the tail happens.
    #[arg(long)]
    latency_timeline: bool,
    /// Run the relay process on these CPUs (`taskset -c LIST`), e.g. with the generator
    /// itself started under `taskset -c 0` and `--relay-cpus 1`.
    #[arg(long)]
    relay_cpus: Option<String>,
    /// The relay's `[rtp] worker_priority`: its media workers under `SCHED_FIFO` at this
    /// priority (1..=99), so kernel threads (e.g. `kdamond`) run in the relay's idle time
    /// instead of preempting it for milliseconds; 0 = normal scheduling.
    #[arg(long, default_value_t = 0)]
    worker_priority: u8,
    /// Phones send straight to each other: no relay (baseline).
    #[arg(long)]
    direct: bool,
    /// Instead of the media engine, relay with a plain tokio relay (the anchor: a
    /// task per socket, `recv_from` then `send_to` to the other phone, no RTP parsing):
    /// the same machine's reference for what a straightforward async relay costs.
    /// Pass-through only.
    #[arg(long)]
    plain_tokio: bool,
    /// Like `--plain-tokio`, with the system calls batched through io_uring (one receive in
    /// flight per socket, one `io_uring_enter` per loop, no `epoll_wait`): what the socket
    /// API costs without per-packet system calls. Pass-through only.
    #[arg(long, conflicts_with = "plain_tokio")]
    plain_uring: bool,
    /// First port of the relay's range.
    #[arg(long, default_value_t = 20000)]
    port_base: u16,
    /// Opus encoder complexity in the relay (0..=10).
    #[arg(long, default_value_t = 5)]
    opus_complexity: u8,
    /// Opus internal sample rate in the relay.
    #[arg(long, default_value_t = 48000)]
    opus_rate: u32,
    /// Cap on the relay's Opus complexity at 8 kHz (10 = none).
    #[arg(long, default_value_t = OpusConfig::default().narrowband_max_complexity)]
    opus_nb_max_complexity: u8,
    /// Transcode mode: the room's encoder (phone B) honours an `a=fmtp` `maxplaybackrate`
    /// of this many Hz (8000: what the relay declares toward a PCMU leg); default: a
    /// full-band 48 kHz room.
    #[arg(long)]
    room_maxplaybackrate: Option<u32>,
    /// The room encoder's bitrate in bit/s (default: libopus's automatic choice, or
    /// `OpusConfig::effective_bitrate` at 8 kHz).
    #[arg(long)]
    room_bitrate: Option<i32>,
}

#[derive(Parser, Clone)]
struct RelayArgs {
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long)]
    workers: usize,
    #[arg(long)]
    port_base: u16,
    #[arg(long)]
    opus_complexity: u8,
    #[arg(long)]
    opus_rate: u32,
    #[arg(long)]
    opus_nb_max_complexity: u8,
    #[arg(long)]
    worker_priority: u8,
    #[arg(long)]
    plain_tokio: bool,
    #[arg(long)]
    plain_uring: bool,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::Run(args) => run(&args),
        Cmd::Relay(args) => relay(&args),
        Cmd::Calibrate => calibrate(),
        Cmd::Codec(args) => codec(&args),
        Cmd::Fidelity(args) => fidelity(&args),
    }
}

/// CPU per operation of: a `recvfrom` that finds nothing (`WouldBlock`, the end of every
/// drain), and a 172-byte loopback `sendto` plus the `recvfrom` that reads it. A relayed
/// packet costs at least one of each plus its share of `epoll_wait`.
fn calibrate() -> Result<()> {
    const N: u32 = 200_000;
    let a = bind_phone()?;
    let b = bind_phone()?;
    let to = b.local_addr()?;
    let mut buf = [0u8; 2048];
    let me = std::process::id();
    let c0 = process_cpu(me)?;
    for _ in 0..N {
        if a.recv_from(&mut buf).is_ok() {
            bail!("unexpected datagram");
        }
    }
    let c1 = process_cpu(me)?;
    let packet = [0x80u8; PCMU_PACKET];
    for _ in 0..N {
        a.send_to(&packet, to)?;
        while b.recv_from(&mut buf).is_err() {}
    }
    let c2 = process_cpu(me)?;
    let per = |d: f64| d * 1e6 / f64::from(N);
    println!(
        "empty recvfrom (WouldBlock): {:.2} µs; loopback sendto + recvfrom of 172 bytes: {:.2} µs",
        per(c1 - c0),
        per(c2 - c1)
    );
    Ok(())
}

/// Thread CPU per packet of the two transcoders of a PCMU ↔ Opus bridge, fed the same
/// frames as the load generator sends.
fn codec(args: &CodecArgs) -> Result<()> {
    ensure!(args.packets > 0, "--packets must be positive");
    let opus = OpusConfig {
        complexity: args.opus_complexity,
        sample_rate: args.opus_rate,
        narrowband_max_complexity: args.opus_nb_max_complexity,
        fec: !args.no_fec,
        bitrate: args.opus_bitrate,
        ..OpusConfig::default()
    };
    let pcmu = Codec::with_default_pt(CodecKind::Pcmu);
    let opus_codec = Codec {
        kind: CodecKind::Opus,
        payload_type: OPUS_PT,
    };
    let mut to_opus = TranscoderConfig::new(pcmu, opus_codec);
    to_opus.opus = opus;
    let mut to_pcmu = TranscoderConfig::new(opus_codec, pcmu);
    to_pcmu.opus = opus;
    let pcmu_frames = pcmu_tone_frames();
    let room_frames =
        opus_tone_frames_at(args.room_rate, args.room_maxplaybackrate, args.room_bitrate)?;
    let run = |cfg: TranscoderConfig, frames: &[Vec<u8>], ticks: u32| -> Result<(f64, u64)> {
        let mut t = Transcoder::new(cfg)?;
        let inputs: Vec<Bytes> = frames.iter().map(|f| Bytes::copy_from_slice(f)).collect();
        let mut out = 0u64;
        let c0 = thread_cpu()?;
        for i in 0..args.packets {
            t.push(InputPacket {
                sequence: i as u16,
                timestamp: (i as u32).wrapping_mul(ticks),
                marker: i == 0,
                payload: inputs[i % inputs.len()].clone(),
            })?;
            while let Some(f) = t.poll_frame() {
                out += f.payload.len() as u64;
            }
        }
        let c1 = thread_cpu()?;
        Ok(((c1 - c0) * 1e6 / args.packets as f64, out))
    };
    let (ab, ab_bytes) = run(to_opus, &pcmu_frames, 160)?;
    let (ba, ba_bytes) = run(to_pcmu, &room_frames, 960)?;
    let interleaved = if args.calls > 1 {
        let mut calls = (0..args.calls)
            .map(|_| Ok((Transcoder::new(to_opus)?, Transcoder::new(to_pcmu)?)))
            .collect::<Result<Vec<_>>>()?;
        let pcmu_in: Vec<Bytes> = pcmu_frames
            .iter()
            .map(|f| Bytes::copy_from_slice(f))
            .collect();
        let room_in: Vec<Bytes> = room_frames
            .iter()
            .map(|f| Bytes::copy_from_slice(f))
            .collect();
        let mut out = 0u64;
        let c0 = thread_cpu()?;
        for i in 0..args.packets {
            let (a, b) = &mut calls[i % args.calls];
            let k = i / args.calls;
            for (t, inputs, ticks) in [(a, &pcmu_in, 160u32), (b, &room_in, 960)] {
                t.push(InputPacket {
                    sequence: k as u16,
                    timestamp: (k as u32).wrapping_mul(ticks),
                    marker: k == 0,
                    payload: inputs[k % inputs.len()].clone(),
                })?;
                while let Some(f) = t.poll_frame() {
                    out += f.payload.len() as u64;
                }
            }
        }
        let c1 = thread_cpu()?;
        ensure!(out > 0, "nothing transcoded");
        Some((c1 - c0) * 1e6 / (2 * args.packets) as f64)
    } else {
        None
    };
    let n = args.packets as f64;
    println!(
        "PCMU → Opus (complexity {} asked, {} at 8 kHz; bitrate {:?} at 8 kHz): {ab:.2} µs/packet ({:.0} bytes out per packet)",
        args.opus_complexity,
        OpusConfig {
            sample_rate: 8000,
            ..opus
        }
        .effective_complexity(),
        OpusConfig {
            sample_rate: 8000,
            ..opus
        }
        .effective_bitrate(),
        ab_bytes as f64 / n
    );
    println!(
        "Opus ({} Hz room encoder, maxplaybackrate {:?}, bitrate {:?}; frames {}, {:.0} bytes each) → PCMU: {ba:.2} µs/packet ({:.0} bytes out per packet)",
        args.room_rate,
        args.room_maxplaybackrate,
        args.room_bitrate,
        frame_kinds(&room_frames),
        room_frames.iter().map(Vec::len).sum::<usize>() as f64 / room_frames.len().max(1) as f64,
        ba_bytes as f64 / n
    );
    println!(
        "mean over both directions: {:.2} µs per relayed packet",
        (ab + ba) / 2.0
    );
    if let Some(us) = interleaved {
        println!(
            "both directions of {} calls interleaved: {us:.2} µs per relayed packet",
            args.calls
        );
    }
    Ok(())
}

/// Fraction of a tone's power left at its frequency after PCMU → Opus → PCMU, for tones
/// across the telephone band, with no loss and with Opus packet 30 of 60 lost (concealed, or
/// rebuilt from in-band FEC); the first quarter (decoder start-up) is not counted.
fn fidelity(args: &FidelityArgs) -> Result<()> {
    use rtp_relay::analysis::{dominant_frequency, tone_fraction};
    const FRAMES: u32 = 60;
    const LOST: usize = 30;
    let pcmu = Codec::with_default_pt(CodecKind::Pcmu);
    let opus_codec = Codec {
        kind: CodecKind::Opus,
        payload_type: OPUS_PT,
    };
    let mut to_opus = TranscoderConfig::new(pcmu, opus_codec);
    to_opus.opus = OpusConfig {
        complexity: args.opus_complexity,
        narrowband_max_complexity: args.opus_nb_max_complexity,
        bitrate: args.opus_bitrate,
        ..OpusConfig::default()
    };
    let to_pcmu = TranscoderConfig::new(opus_codec, pcmu);
    let nb = OpusConfig {
        sample_rate: 8000,
        ..to_opus.opus
    };
    println!(
        "PCMU → Opus at 8 kHz, complexity {}, bitrate {:?} → PCMU",
        nb.effective_complexity(),
        nb.effective_bitrate()
    );
    let mut sums = [0.0f64; 2];
    let mut worst = [1.0f64; 2];
    let freqs = [300.0, 440.0, 700.0, 1000.0, 1500.0, 2000.0, 2600.0, 3200.0];
    for &freq in &freqs {
        let mut tone =
            ToneGenerator::new(ToneSpec::new(&[(freq, 0.3)], Cadence::continuous()), 8000);
        let mut pcm = [0i16; 160];
        let mut a = Transcoder::new(to_opus)?;
        let mut opus = Vec::new();
        for i in 0..FRAMES {
            tone.fill(&mut pcm);
            let payload: Vec<u8> = pcm
                .iter()
                .map(|&s| rtp_relay::codec::g711::encode_ulaw(s))
                .collect();
            a.push(InputPacket {
                sequence: i as u16,
                timestamp: i * 160,
                marker: i == 0,
                payload: Bytes::from(payload),
            })?;
            while let Some(f) = a.poll_frame() {
                opus.push(f);
            }
        }
        let mut line = format!("{freq:>6.0} Hz:");
        for (k, lose) in [false, true].into_iter().enumerate() {
            let mut b = Transcoder::new(to_pcmu)?;
            let mut back = Vec::new();
            for (i, f) in opus.iter().enumerate() {
                if lose && i == LOST {
                    continue;
                }
                b.push(InputPacket {
                    sequence: f.sequence,
                    timestamp: f.timestamp,
                    marker: f.marker,
                    payload: f.payload.clone(),
                })?;
                while let Some(f) = b.poll_frame() {
                    back.extend(
                        f.payload
                            .iter()
                            .map(|&u| rtp_relay::codec::g711::decode_ulaw(u)),
                    );
                }
            }
            let steady = &back[back.len() / 4..];
            let frac = tone_fraction(steady, 8000, freq);
            let dominant = dominant_frequency(steady, 8000).unwrap_or(0.0);
            sums[k] += frac;
            worst[k] = worst[k].min(frac);
            line += &format!(
                " {}: {:.3} of the power at the tone (dominant {dominant:.0} Hz)",
                if lose { "one lost" } else { "no loss" },
                frac
            );
        }
        println!("{line}");
    }
    let n = freqs.len() as f64;
    println!(
        "no loss: mean {:.3}, worst {:.3}; one packet lost: mean {:.3}, worst {:.3}",
        sums[0] / n,
        worst[0],
        sums[1] / n,
        worst[1]
    );
    Ok(())
}

/// CPU seconds of the calling thread (`/proc/thread-self/schedstat`, first field in ns).
fn thread_cpu() -> Result<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let ns: u64 = s.split_whitespace().next().context("schedstat")?.parse()?;
    Ok(ns as f64 / 1e9)
}

// ---------------------------------------------------------------------------------------
// The relay under test.

fn relay(args: &RelayArgs) -> Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let n: usize = lines
        .next()
        .context("call count on stdin")??
        .trim()
        .parse()?;
    let mut phones = Vec::with_capacity(n);
    for _ in 0..n {
        let line = lines.next().context("phone addresses on stdin")??;
        let mut it = line.split_whitespace();
        let a: SocketAddr = it.next().context("phone A")?.parse()?;
        let b: SocketAddr = it.next().context("phone B")?.parse()?;
        phones.push((a, b));
    }
    if args.plain_tokio || args.plain_uring {
        return plain_relay(args.plain_uring, &phones, lines);
    }
    // Two even ports per call, each with its odd neighbour; the slack covers ports other
    // processes hold in the range (the pool skips a port the OS refuses).
    let ports = u16::try_from(4 * n + 1024).context("too many calls for one port range")?;
    // The engine's own packet counter (what `/metrics` would show), read in O(1) per request.
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (engine, _events) = MediaEngine::start_with(EngineConfig {
        address: "127.0.0.1".parse()?,
        port_range: [args.port_base, args.port_base.saturating_add(ports)],
        port_drain: Duration::ZERO,
        udp_recv_buffer: 4 << 20,
        workers: args.workers,
        worker_priority: args.worker_priority,
        event_capacity: 1 << 16,
        timeouts: MediaTimeouts::default(),
    })?;
    let opus = OpusConfig {
        complexity: args.opus_complexity,
        sample_rate: args.opus_rate,
        narrowband_max_complexity: args.opus_nb_max_complexity,
        ..OpusConfig::default()
    };
    let mut out = std::io::stdout().lock();
    let mut ids = Vec::with_capacity(n);
    for (i, (pa, pb)) in phones.iter().enumerate() {
        let a = engine.allocate(RtcpPort::Mux)?;
        let b = engine.allocate(RtcpPort::Mux)?;
        writeln!(out, "{} {}", a.local_addr(), b.local_addr())?;
        let mut leg_a = LegSpec::new(Codec::with_default_pt(CodecKind::Pcmu));
        leg_a.remote_rtp = Some(*pa);
        let b_codec = match args.mode {
            Mode::Passthrough => Codec::with_default_pt(CodecKind::Pcmu),
            Mode::Transcode => Codec {
                kind: CodecKind::Opus,
                payload_type: OPUS_PT,
            },
        };
        let mut leg_b = LegSpec::new(b_codec);
        leg_b.remote_rtp = Some(*pb);
        let mut cfg = BridgeConfig::new(MediaTag(i as u64), leg_a, leg_b, MediaTimeouts::default());
        cfg.opus = opus;
        ids.push(rt.block_on(engine.bridge(a, b, cfg))?);
    }
    writeln!(out, "ready")?;
    out.flush()?;
    // "received" asks for the packet counter, any other line for the totals; EOF ends.
    for line in lines {
        if line?.trim() == "received" {
            let text = metrics.render();
            let received = text
                .lines()
                .find(|l| l.starts_with("sipbridge_rtp_packets_total{direction=\"in\"}"))
                .and_then(|l| l.split_whitespace().last())
                .unwrap_or("0");
            writeln!(out, "received={received}")?;
            out.flush()?;
            continue;
        }
        let (mut received, mut forwarded, mut dropped, mut encoded) = (0u64, 0u64, 0u64, 0u64);
        for id in &ids {
            let s = rt.block_on(engine.stats(*id))?;
            for leg in s.legs {
                received += leg.rtp_packets;
                forwarded += leg.forwarded;
                dropped += leg.dropped_invalid
                    + leg.dropped_source
                    + leg.dropped_payload_type
                    + leg.dropped_no_destination;
            }
            if let Some(t) = s.transcoders {
                encoded += t[0].encoded + t[1].encoded;
            }
        }
        writeln!(
            out,
            "received={received} forwarded={forwarded} dropped={dropped} encoded={encoded}"
        )?;
        out.flush()?;
    }
    Ok(())
}

/// The baseline relays: what a straightforward relay costs on this machine. Two sockets per
/// call, one thread (one core, like one media worker); what arrives on one socket is sent
/// on from the call's other socket to the other phone. No parsing, latching or statistics:
/// everything the engine does on top is extra work these relays do not do. `uring`: through
/// io_uring ([`uring_relay`]); else a current-thread tokio runtime with one task per socket.
fn plain_relay(
    uring: bool,
    phones: &[(SocketAddr, SocketAddr)],
    lines: impl Iterator<Item = std::io::Result<String>>,
) -> Result<()> {
    use std::sync::atomic::AtomicU64;
    let received = Arc::new(AtomicU64::new(0));
    let mut out = std::io::stdout().lock();
    let mut sockets = Vec::with_capacity(phones.len());
    for _ in phones {
        let pair = [
            UdpSocket::bind("127.0.0.1:0")?,
            UdpSocket::bind("127.0.0.1:0")?,
        ];
        for s in &pair {
            phone_io::large_buffers(s, 4 << 20)?;
            s.set_nonblocking(true)?;
        }
        writeln!(out, "{} {}", pair[0].local_addr()?, pair[1].local_addr()?)?;
        sockets.push(pair);
    }
    drop(out);
    if uring {
        let peers = phones.iter().flat_map(|&(a, b)| [a, b]).collect();
        let sockets = sockets.into_iter().flatten().collect();
        let count = received.clone();
        std::thread::Builder::new()
            .name("plain-uring".into())
            .spawn(move || {
                if let Err(e) = uring_relay::run(sockets, peers, count) {
                    eprintln!("plain-uring: {e:#}");
                    std::process::exit(1);
                }
            })?;
        return serve_count(&received, "plain io_uring relay", lines);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let stop = {
        let _guard = rt.enter();
        for ((pa, pb), [a, b]) in phones.iter().zip(sockets) {
            let a = Arc::new(tokio::net::UdpSocket::from_std(a)?);
            let b = Arc::new(tokio::net::UdpSocket::from_std(b)?);
            for (from, to, peer) in [(a.clone(), b.clone(), *pb), (b, a, *pa)] {
                let received = received.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1500];
                    while let Ok((len, _)) = from.recv_from(&mut buf).await {
                        received.fetch_add(1, Ordering::Relaxed);
                        let _ = to.send_to(&buf[..len], peer).await;
                    }
                });
            }
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("plain-tokio".into())
            .spawn(move || rt.block_on(async move { rx.await.ok() }))?;
        tx
    };
    serve_count(&received, "plain tokio relay", lines)?;
    drop(stop);
    Ok(())
}

/// Tells the generator the relay is ready, then answers its requests with the count of
/// packets received so far.
fn serve_count(
    received: &std::sync::atomic::AtomicU64,
    label: &str,
    lines: impl Iterator<Item = std::io::Result<String>>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    for line in lines {
        let count = received.load(Ordering::Relaxed);
        if line?.trim() == "received" {
            writeln!(out, "received={count}")?;
        } else {
            writeln!(
                out,
                "received={count} forwarded={count} dropped=0 encoded=0 ({label})"
            )?;
        }
        out.flush()?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The load generator.

/// One phone of a call.
struct Phone {
    /// Index of its socket among its generator thread's sockets.
    socket: usize,
    target: SocketAddr,
    ssrc: u32,
    seq: u16,
    sent: u64,
}

/// What a generator thread measured.
struct Tally {
    sent_in_window: u64,
    received_in_window: u64,
    sent_total: u64,
    received_total: u64,
    /// Datagrams the kernel refused to send (full send buffer).
    send_refused: u64,
    latency: Vec<u64>,
    /// Per 100 ms of the window (by send time): slowest latency in ns, packets over 1 ms.
    timeline: Vec<(u64, u64)>,
}

impl Tally {
    fn new() -> Self {
        Self {
            sent_in_window: 0,
            received_in_window: 0,
            sent_total: 0,
            received_total: 0,
            send_refused: 0,
            latency: vec![0; BUCKETS],
            timeline: Vec::new(),
        }
    }

    fn add(&mut self, t: &Self) {
        self.sent_in_window += t.sent_in_window;
        self.received_in_window += t.received_in_window;
        self.sent_total += t.sent_total;
        self.received_total += t.received_total;
        self.send_refused += t.send_refused;
        for (x, y) in self.latency.iter_mut().zip(&t.latency) {
            *x += y;
        }
        if self.timeline.len() < t.timeline.len() {
            self.timeline.resize(t.timeline.len(), (0, 0));
        }
        for (x, y) in self.timeline.iter_mut().zip(&t.timeline) {
            x.0 = x.0.max(y.0);
            x.1 += y.1;
        }
    }
}

/// A generator thread's sockets and calls; phone A of call `i` is `sockets[a_socket[i]]`.
struct Thread {
    sockets: Vec<UdpSocket>,
    /// (socket of phone A, socket of phone B, call number) per call.
    calls: Vec<(usize, usize, usize)>,
}

/// What one generator thread drives: its sockets and its calls' phones.
struct Load {
    sockets: Vec<mio::net::UdpSocket>,
    /// (phone A, phone B, call number).
    calls: Vec<(Phone, Phone, usize)>,
}

fn run(args: &RunArgs) -> Result<()> {
    ensure!(args.calls > 0, "--calls must be positive");
    ensure!(
        !(args.plain_tokio || args.plain_uring) || args.mode == Mode::Passthrough,
        "--plain-tokio and --plain-uring relay packets as they are: pass-through only"
    );
    ensure!(
        (1..=PERIOD_US).contains(&args.slot_us) && PERIOD_US % args.slot_us == 0,
        "--slot-us must divide the {PERIOD_US} µs packet period evenly (e.g. 100, 250, 500, \
         1000), so that every send slot is equally long; got {}",
        args.slot_us
    );
    let n = args.calls;
    let threads = args.gen_threads.clamp(1, n);
    let mut gen_threads: Vec<Thread> = (0..threads)
        .map(|_| Thread {
            sockets: Vec::new(),
            calls: Vec::new(),
        })
        .collect();
    if args.shared_sockets {
        for t in &mut gen_threads {
            for _ in 0..2 {
                let s = bind_phone()?;
                phone_io::large_buffers(&s, 4 << 20)?;
                t.sockets.push(s);
            }
        }
    }
    // Call i runs on thread i % threads, as its (i / threads)-th call.
    for i in 0..n {
        let t = &mut gen_threads[i % threads];
        let (a, b) = if args.shared_sockets {
            (0, 1)
        } else {
            t.sockets.push(bind_phone()?);
            t.sockets.push(bind_phone()?);
            (t.sockets.len() - 2, t.sockets.len() - 1)
        };
        t.calls.push((a, b, i));
    }
    for t in &gen_threads {
        for s in &t.sockets {
            phone_io::stamp_arrivals(s)?;
        }
    }
    let addr_of = |i: usize| -> Result<(SocketAddr, SocketAddr)> {
        let t = &gen_threads[i % threads];
        let (a, b, call) = t.calls[i / threads];
        debug_assert_eq!(call, i);
        Ok((t.sockets[a].local_addr()?, t.sockets[b].local_addr()?))
    };
    let mut child: Option<Child> = None;
    let targets: Vec<(SocketAddr, SocketAddr)> = if args.direct {
        (0..n)
            .map(|i| addr_of(i).map(|(a, b)| (b, a)))
            .collect::<Result<_>>()?
    } else {
        let exe = std::env::current_exe()?.to_string_lossy().into_owned();
        // taskset -c LIST relay-bench relay ... when asked for CPUs.
        let mut argv: Vec<String> = Vec::new();
        if let Some(cpus) = &args.relay_cpus {
            argv.extend(["taskset".into(), "-c".into(), cpus.clone()]);
        }
        argv.push(exe);
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        let mut c = cmd
            .args([
                "relay",
                "--mode",
                match args.mode {
                    Mode::Passthrough => "passthrough",
                    Mode::Transcode => "transcode",
                },
                "--workers",
                &args.workers.to_string(),
                "--worker-priority",
                &args.worker_priority.to_string(),
                "--port-base",
                &args.port_base.to_string(),
                "--opus-complexity",
                &args.opus_complexity.to_string(),
                "--opus-rate",
                &args.opus_rate.to_string(),
                "--opus-nb-max-complexity",
                &args.opus_nb_max_complexity.to_string(),
            ])
            .args(args.plain_tokio.then_some("--plain-tokio"))
            .args(args.plain_uring.then_some("--plain-uring"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("spawn the relay process")?;
        let mut stdin = c.stdin.take().context("relay stdin")?;
        writeln!(stdin, "{n}")?;
        for i in 0..n {
            let (a, b) = addr_of(i)?;
            writeln!(stdin, "{a} {b}")?;
        }
        stdin.flush()?;
        let mut stdout = BufReader::new(c.stdout.take().context("relay stdout")?);
        let mut targets = Vec::with_capacity(n);
        let mut line = String::new();
        loop {
            line.clear();
            ensure!(stdout.read_line(&mut line)? > 0, "relay exited early");
            let l = line.trim();
            if l == "ready" {
                break;
            }
            let mut it = l.split_whitespace();
            let a: SocketAddr = it.next().context("relay port A")?.parse()?;
            let b: SocketAddr = it.next().context("relay port B")?.parse()?;
            targets.push((a, b));
        }
        ensure!(
            targets.len() == n,
            "relay set up {} of {n} calls",
            targets.len()
        );
        // Keep the pipes: stdin for the stats request, stdout for the answer.
        relay_io::set(stdin, stdout);
        child = Some(c);
        targets
    };

    let opus_frames = if args.mode == Mode::Transcode {
        let frames = opus_tone_frames_at(48000, args.room_maxplaybackrate, args.room_bitrate)?;
        println!(
            "room (phone B) Opus: 48000 Hz encoder, maxplaybackrate {:?}, bitrate {:?}; frames {}",
            args.room_maxplaybackrate,
            args.room_bitrate,
            frame_kinds(&frames)
        );
        frames
    } else {
        Vec::new()
    };
    let pcmu_tone = pcmu_tone_frames();
    let epoch = Instant::now();
    let warmup = Duration::from_secs_f64(args.warmup);
    let window = Duration::from_secs_f64(args.duration);
    let start_at = epoch + Duration::from_millis(200);
    let measure_from = start_at + warmup;
    let measure_to = measure_from + window;
    let stop_at = measure_to + Duration::from_millis(500);

    let snmp_before = rcvbuf_errors()?;
    let rx_per_slot = args.gen_rx_per_slot;
    let slot = Duration::from_micros(args.slot_us);
    let mut work = Vec::with_capacity(threads);
    for t in gen_threads {
        let calls = t
            .calls
            .iter()
            .map(|&(a, b, i)| {
                let (ta, tb) = targets[i];
                (
                    phone(a, ta, 2 * i as u32 + 1),
                    phone(b, tb, 2 * i as u32 + 2),
                    i,
                )
            })
            .collect();
        let sockets = t
            .sockets
            .into_iter()
            .map(mio::net::UdpSocket::from_std)
            .collect();
        work.push(Load { sockets, calls });
    }
    let pid = child.as_ref().map(Child::id);
    let cpu_marks = Arc::new(std::sync::Mutex::new((None, None, 0u64, Sched::default())));
    let direct = args.direct;
    let steal_marks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sampler = {
        let marks = cpu_marks.clone();
        let steal = steal_marks.clone();
        std::thread::spawn(move || -> Result<()> {
            // Direct mode: the generator's own CPU only.
            let pid = pid.unwrap_or_else(std::process::id);
            sleep_until(measure_from);
            let c0 = process_cpu_split(pid)?;
            let s0 = Sched::of(pid)?;
            let g0 = process_cpu(std::process::id())?;
            let r0 = if direct { 0 } else { relay_io::received()? };
            let t0 = steal_ticks()?;
            sleep_until(measure_to);
            let t1 = steal_ticks()?;
            let c1 = process_cpu_split(pid)?;
            let s1 = Sched::of(pid)?;
            let g1 = process_cpu(std::process::id())?;
            let r1 = if direct { 0 } else { relay_io::received()? };
            *marks.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = (
                Some((c1.0 - c0.0, c1.1 - c0.1)),
                Some(g1 - g0),
                r1 - r0,
                s1.since(&s0),
            );
            *steal.lock().map_err(|_| anyhow::anyhow!("poisoned"))? = t1
                .iter()
                .zip(&t0)
                .map(|((cpu, b), (_, a))| (cpu.clone(), b.saturating_sub(*a)))
                .collect();
            Ok(())
        })
    };
    let mode = args.mode;
    let failed = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = work
        .into_iter()
        .map(|load| {
            let opus = opus_frames.clone();
            let pcmu = pcmu_tone.clone();
            let failed = failed.clone();
            std::thread::spawn(move || {
                let r = generate(
                    load,
                    mode,
                    rx_per_slot,
                    slot,
                    &opus,
                    &pcmu,
                    epoch,
                    start_at,
                    measure_from,
                    measure_to,
                    stop_at,
                );
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                r
            })
        })
        .collect();
    let mut tally = Tally::new();
    for h in handles {
        let t = h
            .join()
            .map_err(|_| anyhow::anyhow!("generator thread panicked"))??;
        tally.add(&t);
    }
    sampler
        .join()
        .map_err(|_| anyhow::anyhow!("sampler panicked"))??;
    let snmp_after = rcvbuf_errors()?;
    let relay_totals = match child {
        Some(_) => relay_io::totals()?,
        None => String::from("(direct: no relay)"),
    };
    if let Some(mut c) = child {
        relay_io::close();
        c.wait()?;
    }

    // (relay CPU, generator CPU, packets the relay received) over the measured window.
    let (cpu0, cpu1, relayed, sched) =
        *cpu_marks.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let secs = window.as_secs_f64();
    let lost = tally
        .sent_in_window
        .saturating_sub(tally.received_in_window);
    println!(
        "mode={:?} calls={n} relay_workers={} gen_threads={threads} gen_rx_per_slot={rx_per_slot} shared_sockets={} slot_us={} relay_cpus={:?} worker_priority={} direct={} plain_tokio={} plain_uring={} window={secs}s",
        args.mode,
        args.workers,
        args.shared_sockets,
        args.slot_us,
        args.relay_cpus,
        args.worker_priority,
        args.direct,
        args.plain_tokio,
        args.plain_uring
    );
    println!(
        "packets: sent_in_window={} received_in_window={} lost={} loss={:.4}% ({:.0} pkt/s into the relay)",
        tally.sent_in_window,
        tally.received_in_window,
        lost,
        100.0 * lost as f64 / tally.sent_in_window.max(1) as f64,
        tally.sent_in_window as f64 / secs
    );
    println!(
        "whole run: sent={} received={} refused by the generator's send buffer={}",
        tally.sent_total, tally.received_total, tally.send_refused
    );
    if let Some(gen_cpu) = cpu1 {
        println!(
            "generator cpu: {gen_cpu:.2} s = {:.2} µs per packet sent+received",
            gen_cpu * 1e6 / tally.sent_in_window.max(1) as f64
        );
    }
    if let (Some((user, system)), false) = (cpu0, args.direct) {
        let cpu = user + system;
        println!("relay cpu split: user {user:.2} s, system {system:.2} s");
        println!(
            "relay scheduling: {:.2} s runnable but waiting for a CPU; {} voluntary and {} involuntary context switches",
            sched.run_delay_ns as f64 / 1e9,
            sched.voluntary,
            sched.involuntary
        );
        println!(
            "relay received {relayed} packets in the window ({:.0} pkt/s)",
            relayed as f64 / secs
        );
        let per_packet_us = cpu * 1e6 / relayed.max(1) as f64;
        println!(
            "relay cpu: {cpu:.2} s over {secs} s = {:.1}% of one core; {per_packet_us:.2} µs per relayed packet; {:.0} calls per core at this cost",
            100.0 * cpu / secs,
            1e6 / per_packet_us / (2.0 * f64::from(RATE))
        );
    }
    let total: u64 = tally.latency.iter().sum();
    if total > 0 {
        let pct = |p: f64| {
            let want = (p * total as f64).ceil() as u64;
            let mut acc = 0;
            for (i, c) in tally.latency.iter().enumerate() {
                acc += c;
                if acc >= want {
                    return (i as u64 + 1) * BUCKET_NS;
                }
            }
            BUCKETS as u64 * BUCKET_NS
        };
        let max = tally
            .latency
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0, |i| (i as u64 + 1) * BUCKET_NS);
        println!(
            "latency (generator's send → kernel arrival at the phone, whole path): p50={:.3} ms p90={:.3} ms p99={:.3} ms p99.9={:.3} ms max={:.3} ms over {total} packets",
            pct(0.50) as f64 / 1e6,
            pct(0.90) as f64 / 1e6,
            pct(0.99) as f64 / 1e6,
            pct(0.999) as f64 / 1e6,
            max as f64 / 1e6
        );
    }
    let hz = clock_ticks()?;
    let steal: Vec<String> = steal_marks
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .iter()
        .map(|(cpu, ticks)| format!("{cpu} {:.0} ms", *ticks as f64 * 1000.0 / hz))
        .collect();
    println!(
        "time the hypervisor ran something else on our vCPUs (steal, /proc/stat) in the window: {}",
        steal.join(", ")
    );
    if args.latency_timeline {
        for (i, &(max, over)) in tally.timeline.iter().enumerate() {
            if max > 1_000_000 {
                println!(
                    "  window +{:.1} s: slowest {:.2} ms, {over} packets over 1 ms",
                    i as f64 / 10.0,
                    max as f64 / 1e6
                );
            }
        }
    }
    println!(
        "RcvbufErrors (system-wide /proc/net/snmp): before={snmp_before} after={snmp_after} delta={}",
        snmp_after - snmp_before
    );
    println!("relay totals: {relay_totals}");
    if failed.load(Ordering::Relaxed) {
        bail!("a generator thread failed");
    }
    Ok(())
}

/// The relay's stdin and stdout, kept for stats requests.
mod relay_io {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{ChildStdin, ChildStdout};
    use std::sync::Mutex;

    use anyhow::{Context, Result};

    type Pipes = (ChildStdin, BufReader<ChildStdout>);
    static PIPES: Mutex<Option<Pipes>> = Mutex::new(None);

    pub(crate) fn set(stdin: ChildStdin, stdout: BufReader<ChildStdout>) {
        if let Ok(mut g) = PIPES.lock() {
            *g = Some((stdin, stdout));
        }
    }

    /// Closing stdin ends the relay.
    pub(crate) fn close() {
        if let Ok(mut g) = PIPES.lock() {
            g.take();
        }
    }

    /// The relay's totals line (`received=… forwarded=… dropped=… encoded=…`).
    pub(crate) fn totals() -> Result<String> {
        let mut g = PIPES.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let (stdin, stdout) = g.as_mut().context("relay pipes")?;
        writeln!(stdin, "stats")?;
        stdin.flush()?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        Ok(line.trim().to_string())
    }

    /// RTP packets the relay has received so far (its metrics counter).
    pub(crate) fn received() -> Result<u64> {
        let mut g = PIPES.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let (stdin, stdout) = g.as_mut().context("relay pipes")?;
        writeln!(stdin, "received")?;
        stdin.flush()?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let v = line
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("received="))
            .context("received= in the relay's totals")?;
        Ok(v.parse()?)
    }
}

fn bind_phone() -> Result<UdpSocket> {
    let s = UdpSocket::bind("127.0.0.1:0")?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn phone(socket: usize, target: SocketAddr, ssrc: u32) -> Phone {
    Phone {
        socket,
        target,
        ssrc,
        seq: (ssrc as u16).wrapping_mul(7919),
        sent: 0,
    }
}

/// 50 frames (one second) of a 1 kHz tone as PCMU payloads.
fn pcmu_tone_frames() -> Vec<Vec<u8>> {
    let mut tone = ToneGenerator::new(ToneSpec::new(&[(1000.0, 0.3)], Cadence::continuous()), 8000);
    let mut pcm = [0i16; 160];
    (0..RATE)
        .map(|_| {
            tone.fill(&mut pcm);
            pcm.iter()
                .map(|&s| rtp_relay::codec::g711::encode_ulaw(s))
                .collect()
        })
        .collect()
}

/// 50 frames of the same tone as Opus from a room's encoder running at `rate` (48000: what
/// a WebRTC room sends), complexity 5, libopus's automatic bitrate. With `maxplaybackrate`
/// it honours that `a=fmtp` parameter of ours the way `OpusConfig::with_fmtp` does (the
/// internal rate drops to it; libwebrtc limits the encoded bandwidth instead, with the
/// same narrowband SILK frames as the result). Not the relay's encoder: no narrowband
/// complexity cap.
fn opus_tone_frames_at(
    rate: u32,
    maxplaybackrate: Option<u32>,
    bitrate: Option<i32>,
) -> Result<Vec<Vec<u8>>> {
    let cap = maxplaybackrate.map(|r| r.to_string());
    let cfg = OpusConfig {
        sample_rate: rate,
        bitrate,
        narrowband_max_complexity: 10,
        ..OpusConfig::default()
    }
    .with_fmtp(cap.as_deref().map(|r| ("maxplaybackrate", Some(r))));
    let rate = cfg.sample_rate;
    let mut tone = ToneGenerator::new(ToneSpec::new(&[(1000.0, 0.3)], Cadence::continuous()), rate);
    let mut enc = Encoder::new(CodecKind::Opus, &cfg)?;
    let mut pcm = vec![0i16; rate as usize / 50];
    let mut out = [0u8; 1500];
    (0..RATE)
        .map(|_| {
            tone.fill(&mut pcm);
            let n = enc.encode(&pcm, &mut out)?;
            Ok(out[..n].to_vec())
        })
        .collect()
}

/// What a room's encoder chose, since the cost of decoding depends on it: counts of SILK-only,
/// hybrid and CELT-only frames (RFC 6716 §3.1: TOC configurations 0–11, 12–15, 16–31) and
/// the widest audio bandwidth.
fn frame_kinds(frames: &[Vec<u8>]) -> String {
    let (mut silk, mut hybrid, mut celt, mut widest) = (0, 0, 0, 0);
    for f in frames {
        let Some(config) = f.first().map(|toc| toc >> 3) else {
            continue;
        };
        let bandwidth_hz = match config {
            0..=3 | 16..=19 => 4000,
            4..=7 => 6000,
            8..=11 | 20..=23 => 8000,
            12..=13 | 24..=27 => 12000,
            _ => 20000,
        };
        widest = widest.max(bandwidth_hz);
        match config {
            0..=11 => silk += 1,
            12..=15 => hybrid += 1,
            _ => celt += 1,
        }
    }
    format!("SILK/hybrid/CELT {silk}/{hybrid}/{celt}, audio bandwidth up to {widest} Hz")
}

/// One generator thread: sends every call's packets in its slot, reads what comes back.
#[allow(clippy::too_many_arguments)]
fn generate(
    load: Load,
    mode: Mode,
    rx_per_slot: bool,
    slot: Duration,
    opus: &[Vec<u8>],
    pcmu: &[Vec<u8>],
    epoch: Instant,
    start_at: Instant,
    measure_from: Instant,
    measure_to: Instant,
    stop_at: Instant,
) -> Result<Tally> {
    let Load { mut sockets, calls } = load;
    let mut poll = Poll::new()?;
    for (i, s) in sockets.iter_mut().enumerate() {
        poll.registry().register(s, Token(i), Interest::READABLE)?;
    }
    // The window on the wall clock, which send stamps and kernel arrival stamps use.
    let wall_epoch = phone_io::wall_ns().saturating_sub(epoch.elapsed().as_nanos() as u64);
    let wall = |t: Instant| wall_epoch + t.duration_since(epoch).as_nanos() as u64;
    let (from_ns, to_ns) = (wall(measure_from), wall(measure_to));
    let mut tally = Tally::new();
    // Call i sends in slot (i % slots) of every 20 ms period, so the load is spread evenly
    // instead of arriving in one burst per period. The calls are grouped by slot once, in
    // call order, so that a tick touches only its own slot's calls.
    let slots = (PERIOD_US / (slot.as_micros() as u64).max(1)).max(1) as usize;
    let mut by_slot: Vec<Vec<(Phone, Phone, usize)>> = (0..slots).map(|_| Vec::new()).collect();
    for c in calls {
        by_slot[c.2 % slots].push(c);
    }
    let mut next = start_at;
    let mut tick: u64 = 0;
    // Token past the sockets': its events match no socket and are skipped.
    let slot_timer = SlotTimer::new()?;
    poll.registry().register(
        &mut SourceFd(&slot_timer.fd()),
        Token(sockets.len()),
        Interest::READABLE,
    )?;
    let mut armed_for: Option<Instant> = None;
    let mut events = Events::with_capacity(4096);
    let mut rx = phone_io::Receiver::new();
    let mut tx = phone_io::Sender::new();
    // After sending stops, keep receiving until the path is quiet (or a bound), so that
    // packets still queued count as late, not lost.
    let mut last_rx = stop_at;
    loop {
        let now = Instant::now();
        let sending = now < stop_at;
        if !sending
            && (now >= stop_at + Duration::from_secs(3)
                || now.saturating_duration_since(last_rx.max(stop_at))
                    >= Duration::from_millis(300))
        {
            break;
        }
        if sending && now >= next {
            let s = (tick % slots as u64) as usize;
            let frame = (tick / slots as u64) as usize;
            // All A phones of the slot, then all B phones: with shared sockets each side
            // goes out in `sendmmsg` batches.
            for is_b in [false, true] {
                for (a, b, call) in &mut by_slot[s] {
                    let phone = if is_b { b } else { a };
                    let (pt, payload): (u8, &[u8]) = match (mode, is_b) {
                        (Mode::Transcode, true) => (OPUS_PT, &opus[frame % opus.len()]),
                        (Mode::Transcode, false) | (Mode::Passthrough, _) => {
                            (0, &pcmu[frame % pcmu.len()])
                        }
                    };
                    let ticks = if pt == OPUS_PT { 960 } else { 160 };
                    let header = RtpHeader {
                        marker: phone.sent == 0,
                        payload_type: pt,
                        sequence: phone.seq,
                        timestamp: (phone.sent as u32).wrapping_mul(ticks),
                        ssrc: phone.ssrc,
                    };
                    let buf = tx.next(phone.socket, phone.target);
                    let len = header.write(payload, buf)?;
                    ensure!(
                        pt == OPUS_PT || len == PCMU_PACKET,
                        "PCMU packets are 172 bytes"
                    );
                    if mode == Mode::Passthrough {
                        // Identity in the payload (the relay leaves it alone); the send
                        // time goes in at [12..20] when the batch leaves.
                        buf[20..24].copy_from_slice(&(*call as u32).to_be_bytes());
                    }
                    tx.commit(len);
                    phone.seq = phone.seq.wrapping_add(1);
                    phone.sent += 1;
                }
            }
            let sent = tx.flush(
                &sockets,
                |packet, t| {
                    if mode == Mode::Passthrough {
                        packet[12..20].copy_from_slice(&t.to_be_bytes());
                    }
                },
                |t, n| {
                    tally.sent_total += n;
                    if (from_ns..to_ns).contains(&t) {
                        tally.sent_in_window += n;
                    }
                },
            );
            tally.send_refused += sent.refused;
            tick += 1;
            next += slot;
        }
        // Behind schedule this is a zero wait: receiving must not starve behind sending.
        let wait = if sending {
            next.saturating_duration_since(Instant::now())
        } else {
            Duration::from_millis(50)
        };
        let wait = if sending && rx_per_slot {
            // Asleep outside `epoll_wait`, arrivals only queue (nobody to wake).
            std::thread::sleep(wait);
            Duration::ZERO
        } else {
            if sending && armed_for != Some(next) {
                // mio rounds a poll timeout up to whole milliseconds (the unit of
                // `epoll_wait`), which would push the sends of slots under 1 ms together:
                // the slot timer ends the wait at `next` exactly, while arrivals still wake
                // the thread as before.
                slot_timer.at(next)?;
                armed_for = Some(next);
            }
            wait
        };
        poll.poll(&mut events, Some(wait))?;
        for ev in events.iter() {
            let Some(socket) = sockets.get(ev.token().0) else {
                continue;
            };
            let got = rx.drain(socket, |datagram, arrived| {
                tally.received_total += 1;
                let Ok(p) = RtpPacket::parse(datagram) else {
                    return;
                };
                match mode {
                    Mode::Passthrough => {
                        let pl = p.payload();
                        if pl.len() < 8 {
                            return;
                        }
                        let mut t = [0u8; 8];
                        t.copy_from_slice(&pl[..8]);
                        let sent_at = u64::from_be_bytes(t);
                        if (from_ns..to_ns).contains(&sent_at) {
                            tally.received_in_window += 1;
                            let ns = arrived.saturating_sub(sent_at);
                            tally.latency[((ns / BUCKET_NS) as usize).min(BUCKETS - 1)] += 1;
                            let slot = ((sent_at - from_ns) / 100_000_000) as usize;
                            if tally.timeline.len() <= slot {
                                tally.timeline.resize(slot + 1, (0, 0));
                            }
                            let t = &mut tally.timeline[slot];
                            t.0 = t.0.max(ns);
                            t.1 += u64::from(ns > 1_000_000);
                        }
                    }
                    Mode::Transcode => {
                        // Re-encoded audio carries no send time: count arrivals in the
                        // window (at a steady state as many as were sent in it).
                        if (from_ns..to_ns).contains(&arrived) {
                            tally.received_in_window += 1;
                        }
                    }
                }
            })?;
            if got > 0 {
                last_rx = Instant::now();
            }
        }
    }
    Ok(tally)
}

/// A one-shot `timerfd` on `CLOCK_MONOTONIC` (the clock of [`Instant`] on Linux), armed at
/// an absolute time with nanosecond precision, to end an `epoll_wait` between whole
/// milliseconds. Re-arming it resets its expiration count, so it is never read: each
/// expiry wakes the (edge-triggered) poll once.
struct SlotTimer {
    timer: TimerFd,
    /// The same moment on both clocks, to map an `Instant` onto `CLOCK_MONOTONIC`.
    base: (Instant, Duration),
}

impl SlotTimer {
    fn new() -> Result<Self> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .context("timerfd_create")?;
        let base = (
            Instant::now(),
            Duration::from(clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?),
        );
        Ok(Self { timer, base })
    }

    fn fd(&self) -> std::os::fd::RawFd {
        self.timer.as_fd().as_raw_fd()
    }

    /// Fires at `t` (at once if `t` is past).
    fn at(&self, t: Instant) -> Result<()> {
        let (i0, m0) = self.base;
        // Not zero: an all-zero `it_value` would disarm the timer instead.
        let mono = (m0 + t.saturating_duration_since(i0)).max(Duration::from_nanos(1));
        self.timer
            .set(
                Expiration::OneShot(TimeSpec::from_duration(mono)),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            )
            .context("timerfd_settime")
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// Scheduler counters of a process, summed over its threads.
#[derive(Debug, Default, Clone, Copy)]
struct Sched {
    /// Time runnable but not running (`/proc/PID/task/TID/schedstat`, second field).
    run_delay_ns: u64,
    /// Context switches because the thread waited (`voluntary_ctxt_switches`).
    voluntary: u64,
    /// Context switches because the thread was preempted (`nonvoluntary_ctxt_switches`).
    involuntary: u64,
}

impl Sched {
    fn of(pid: u32) -> Result<Self> {
        let mut s = Self::default();
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
            let dir = task?.path();
            // A thread may end between the listing and the reads: skip it.
            if let Ok(stat) = std::fs::read_to_string(dir.join("schedstat")) {
                s.run_delay_ns += stat
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
            if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
                for line in status.lines() {
                    let value = |l: &str| {
                        l.split_whitespace()
                            .nth(1)
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    if line.starts_with("voluntary_ctxt_switches:") {
                        s.voluntary += value(line);
                    } else if line.starts_with("nonvoluntary_ctxt_switches:") {
                        s.involuntary += value(line);
                    }
                }
            }
        }
        Ok(s)
    }

    fn since(&self, earlier: &Self) -> Self {
        Self {
            run_delay_ns: self.run_delay_ns.saturating_sub(earlier.run_delay_ns),
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }
}

/// User + system CPU seconds of a process (all threads), from `/proc/PID/stat`.
fn process_cpu(pid: u32) -> Result<f64> {
    let (user, system) = process_cpu_split(pid)?;
    Ok(user + system)
}

/// User and system CPU seconds of a process.
fn process_cpu_split(pid: u32) -> Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("utime")?.parse()?;
    let stime: f64 = fields.get(12).context("stime")?.parse()?;
    let hz = clock_ticks()?;
    Ok((utime / hz, stime / hz))
}

fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}

/// Steal ticks (`/proc/stat`, the eighth value) of every CPU: time the hypervisor gave
/// this vCPU's host thread to something else.
fn steal_ticks() -> Result<Vec<(String, u64)>> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let mut it = l.split_whitespace();
            let cpu = it.next().unwrap_or_default().to_owned();
            let steal = it.nth(7).context("steal column")?.parse()?;
            Ok((cpu, steal))
        })
        .collect()
}

/// The `RcvbufErrors` counter of the `Udp:` line in `/proc/net/snmp`.
fn rcvbuf_errors() -> Result<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp")?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp
        .next()
        .context("Udp header")?
        .split_whitespace()
        .collect();
    let values: Vec<&str> = udp
        .next()
        .context("Udp values")?
        .split_whitespace()
        .collect();
    let i = names
        .iter()
        .position(|&n| n == "RcvbufErrors")
        .context("RcvbufErrors column")?;
    Ok(values.get(i).context("RcvbufErrors value")?.parse()?)
}
