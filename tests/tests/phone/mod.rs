//! The phone side of the end-to-end tests: one RTP socket that sends PCMU tones and
//! RFC 4733 digits and decodes what it receives, shared by `inbound.rs` and `webrtc.rs`.

#![allow(dead_code)] // each test binary uses a different part

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtp_relay::codec::g711;
use rtp_relay::rtp::{RtpHeader, RtpPacket};

/// PCMU's sample rate.
pub const RATE: u32 = 8000;
/// Samples in one 20 ms PCMU frame.
pub const FRAME: usize = 160;

/// The phone's media: one UDP socket, a receiver thread decoding PCMU into a buffer.
pub struct Phone {
    socket: Arc<UdpSocket>,
    pub port: u16,
    heard: Arc<Mutex<Vec<i16>>>,
    stop: Arc<AtomicBool>,
    seq: u16,
    ts: u32,
}

impl Phone {
    pub fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind phone RTP");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let port = socket.local_addr().expect("addr").port();
        let socket = Arc::new(socket);
        let heard = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (socket, heard, stop) = (socket.clone(), heard.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    let Ok(n) = socket.recv(&mut buf) else {
                        continue;
                    };
                    let Ok(p) = RtpPacket::parse(&buf[..n]) else {
                        continue;
                    };
                    if p.payload_type() == 0 {
                        let mut heard = heard.lock().expect("lock");
                        heard.extend(p.payload().iter().map(|&b| g711::decode_ulaw(b)));
                    }
                }
            });
        }
        Self {
            socket,
            port,
            heard,
            stop,
            seq: 1,
            ts: 0,
        }
    }

    fn packet(&mut self, pt: u8, marker: bool, payload: &[u8], advance: bool) -> Vec<u8> {
        let header = RtpHeader {
            marker,
            payload_type: pt,
            sequence: self.seq,
            timestamp: self.ts,
            ssrc: 0x5eed_0000 | u32::from(self.port),
        };
        self.seq = self.seq.wrapping_add(1);
        if advance {
            self.ts = self.ts.wrapping_add(FRAME as u32);
        }
        let mut out = vec![0u8; 12 + payload.len()];
        let n = header.write(payload, &mut out).expect("write RTP");
        out.truncate(n);
        out
    }

    /// Sends `ms` of a `freq` Hz tone as paced 20 ms PCMU packets.
    pub fn send_tone(&mut self, to: SocketAddr, freq: f64, ms: u64) {
        let start = Instant::now();
        let mut n = 0u64;
        let mut phase = 0f64;
        while n * 20 < ms {
            let payload: Vec<u8> = (0..FRAME)
                .map(|_| {
                    phase += freq / f64::from(RATE);
                    let s = (phase * std::f64::consts::TAU).sin() * 8000.0;
                    g711::encode_ulaw(s as i16)
                })
                .collect();
            let p = self.packet(0, n == 0, &payload, true);
            let _ = self.socket.send_to(&p, to);
            n += 1;
            let due = start + Duration::from_millis(n * 20);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }

    /// Sends `digits` as RFC 4733 telephone-events (PT 101), each 100 ms with three end
    /// packets, 100 ms apart.
    pub fn send_digits(&mut self, to: SocketAddr, digits: &str) {
        for d in digits.chars() {
            let event = rtp_relay::dtmf::event_for_digit(d).expect("DTMF digit");
            for i in 1..=5u16 {
                let payload = [event, 10, ((i * 160) >> 8) as u8, (i * 160) as u8];
                let p = self.packet(101, i == 1, &payload, false);
                let _ = self.socket.send_to(&p, to);
                std::thread::sleep(Duration::from_millis(20));
            }
            for _ in 0..3 {
                let payload = [event, 0x80 | 10, (800u16 >> 8) as u8, 800u16 as u8];
                let p = self.packet(101, false, &payload, false);
                let _ = self.socket.send_to(&p, to);
            }
            self.ts = self.ts.wrapping_add(800 + FRAME as u32);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clears what was heard so far.
    pub fn clear(&self) {
        self.heard.lock().expect("lock").clear();
    }

    pub fn heard(&self) -> Vec<i16> {
        self.heard.lock().expect("lock").clone()
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
