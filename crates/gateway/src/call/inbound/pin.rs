//! PIN collection on an answered inbound call: a prompt tone toward the caller, DTMF digits
//! from the caller until `#`.
//!
//! Digits arrive as RFC 4733 telephone-events when they were negotiated, else they are
//! detected in the audio itself (Goertzel, `rtp_relay::analysis`). The prompt is a short
//! beep repeated while the caller has typed nothing, so a caller who missed it hears it again.
//! Everything is bounded: digits per attempt, the wait for the first digit and between digits.

use std::time::Duration;

use room_link::offer_answer::NegotiatedMedia;
use rtp_relay::analysis::DtmfDetector;
use rtp_relay::codec::{Decoder, Encoder, OpusConfig, samples_in_ms};
use rtp_relay::dtmf::{DtmfEvent, DtmfReceiver};
use rtp_relay::rtp::{RtpHeader, RtpPacket};
use rtp_relay::tone::{Cadence, ToneGenerator, ToneSpec, dbm0_to_amplitude};
use tokio::time::Instant;

use crate::call::media::PhoneMedia;

/// Largest RTP packet handled.
const MAX_PACKET: usize = 1500;
/// Samples of the largest decoded frame (120 ms at 48 kHz).
const MAX_FRAME: usize = 5760;
/// Prompt: 0.3 s of 1400 Hz, then 2.7 s of silence (an "enter your code" beep).
const PROMPT_HZ: f64 = 1400.0;
const PROMPT_ON_MS: u32 = 300;
const PROMPT_OFF_MS: u32 = 2700;
/// Error tone after a wrong PIN: 480 + 620 Hz (the North American reorder pair), 0.6 s.
const ERROR_MS: u32 = 600;
/// Level of both tones, in dBm0 (a comfortable speech level).
const TONE_DBM0: f64 = -13.0;
/// Consecutive 20 ms blocks an in-band digit must last (40 ms, ITU-T Q.24).
const INBAND_MIN_BLOCKS: u32 = 2;

/// Bounds of one PIN attempt.
#[derive(Debug, Clone, Copy)]
pub struct PinLimits {
    /// Most digits accepted before `#` (longer input is a wrong PIN).
    pub max_digits: usize,
    /// How long to wait for the first digit.
    pub first_digit: Duration,
    /// How long to wait between digits.
    pub between_digits: Duration,
}

/// Why collection stopped without a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinError {
    /// Nothing (or nothing more) was typed in time.
    Timeout,
    /// The phone's media stopped.
    Media,
    /// The negotiated codec cannot be played here.
    Codec,
}

/// Plays prompts and collects digits on the phone's media.
pub struct PinCollector<'a> {
    phone: &'a mut PhoneMedia,
    send_pt: u8,
    recv_pt: u8,
    local_te: Option<u8>,
    encoder: Encoder,
    decoder: Option<(Decoder, DtmfDetector)>,
    frame: usize,
    ptime: Duration,
    rtp_clock_per_frame: u32,
    ssrc: u32,
    seq: u16,
    ts: u32,
    dtmf: DtmfReceiver,
}

impl<'a> PinCollector<'a> {
    /// A collector for the negotiated media; `seed` picks SSRC, sequence and timestamp
    /// (RFC 3550 §5.1).
    pub fn new(
        phone: &'a mut PhoneMedia,
        media: &NegotiatedMedia,
        seed: u64,
    ) -> Result<Self, PinError> {
        let kind = media.codec.kind;
        let opus = OpusConfig {
            sample_rate: 8000,
            ..OpusConfig::default()
        };
        let encoder = Encoder::new(kind, &opus).map_err(|_| PinError::Codec)?;
        let rate = encoder.sample_rate();
        let ptime = media.ptime;
        let ms = u32::try_from(ptime.as_millis()).map_err(|_| PinError::Codec)?;
        let frame = samples_in_ms(rate, ms);
        let decoder = if media.local_telephone_event.is_none() {
            let decoder = Decoder::new(kind, rate).map_err(|_| PinError::Codec)?;
            Some((decoder, DtmfDetector::new(rate, INBAND_MIN_BLOCKS)))
        } else {
            None
        };
        let rtp_clock_per_frame = media.clock_rate * ms / 1000;
        Ok(Self {
            phone,
            send_pt: media.codec.payload_type,
            recv_pt: media.local_payload_type,
            local_te: media.local_telephone_event,
            encoder,
            decoder,
            frame,
            ptime,
            rtp_clock_per_frame,
            ssrc: (seed >> 32) as u32,
            seq: (seed >> 16) as u16,
            ts: seed as u32,
            dtmf: DtmfReceiver::new(),
        })
    }

    /// Plays the prompt and collects digits until `#`. Returns the digits without `#`; more
    /// than `limits.max_digits` digits are returned as typed (the caller checks them and
    /// finds them wrong).
    pub async fn collect(&mut self, limits: PinLimits) -> Result<String, PinError> {
        let spec = ToneSpec::new(
            &[(PROMPT_HZ, dbm0_to_amplitude(TONE_DBM0))],
            Cadence::on_off(PROMPT_ON_MS, PROMPT_OFF_MS),
        );
        let mut prompt = Some(ToneGenerator::new(spec, self.encoder.sample_rate()));
        let mut digits = String::new();
        let mut deadline = Instant::now() + limits.first_digit;
        let mut tick = tokio::time::interval(self.ptime);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Some(generator) = prompt.as_mut() {
                        self.send_tone(generator)?;
                    }
                }
                received = self.phone.recv() => {
                    let packet = received.ok_or(PinError::Media)?;
                    for digit in self.on_packet(&packet) {
                        // The first key press silences the prompt.
                        prompt = None;
                        if digit == '#' {
                            return Ok(digits);
                        }
                        if digits.len() <= limits.max_digits {
                            digits.push(digit);
                        }
                        deadline = Instant::now() + limits.between_digits;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return Err(PinError::Timeout),
            }
        }
    }

    /// Plays the error tone (after a wrong PIN), blocking for its length.
    pub async fn play_error(&mut self) -> Result<(), PinError> {
        let spec = ToneSpec::new(
            &[
                (480.0, dbm0_to_amplitude(TONE_DBM0)),
                (620.0, dbm0_to_amplitude(TONE_DBM0)),
            ],
            Cadence::continuous(),
        );
        let mut generator = ToneGenerator::new(spec, self.encoder.sample_rate());
        let frames = ERROR_MS / u32::try_from(self.ptime.as_millis()).unwrap_or(20).max(1);
        let mut tick = tokio::time::interval(self.ptime);
        for _ in 0..frames {
            tick.tick().await;
            self.send_tone(&mut generator)?;
        }
        Ok(())
    }

    fn send_tone(&mut self, generator: &mut ToneGenerator) -> Result<(), PinError> {
        let mut pcm = [0i16; MAX_FRAME];
        let pcm = &mut pcm[..self.frame];
        generator.fill(pcm);
        let mut payload = [0u8; MAX_PACKET];
        let n = self
            .encoder
            .encode(pcm, &mut payload)
            .map_err(|_| PinError::Codec)?;
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(self.rtp_clock_per_frame);
        let header = RtpHeader {
            marker: false,
            payload_type: self.send_pt,
            sequence: self.seq,
            timestamp: self.ts,
            ssrc: self.ssrc,
        };
        let mut out = [0u8; MAX_PACKET];
        let len = header
            .write(&payload[..n], &mut out)
            .map_err(|_| PinError::Codec)?;
        // A packet lost on the way out is not fatal: the caller's media may start later.
        self.phone.send(&out[..len]);
        Ok(())
    }

    /// Digits completed by one packet.
    fn on_packet(&mut self, packet: &[u8]) -> Vec<char> {
        let mut out = Vec::new();
        let Ok(rtp) = RtpPacket::parse(packet) else {
            return out;
        };
        let pt = rtp.payload_type();
        if Some(pt) == self.local_te {
            if self
                .dtmf
                .handle_payload(rtp.marker(), rtp.timestamp(), rtp.payload())
                .is_ok()
            {
                while let Some(event) = self.dtmf.poll_event() {
                    if let (DtmfEvent::Ended { .. }, Some(digit)) = (event, event.digit()) {
                        out.push(digit);
                    }
                }
            }
        } else if pt == self.recv_pt {
            if let Some((decoder, detector)) = &mut self.decoder {
                let mut pcm = [0i16; MAX_FRAME];
                if let Ok(n) = decoder.decode(rtp.payload(), &mut pcm) {
                    // Feed 20 ms blocks (the detector's unit), whatever the packet time.
                    let block = samples_in_ms(decoder.sample_rate(), 20);
                    for chunk in pcm[..n].chunks(block) {
                        if let Some(digit) = detector.feed(chunk) {
                            out.push(digit);
                        }
                    }
                }
            }
        }
        out
    }
}
