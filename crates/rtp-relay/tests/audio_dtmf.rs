//! In-band DTMF: generated tones are detected in order, exactly once, directly and after
//! crossing codecs.

use rtp_relay::analysis::DtmfDetector;
use rtp_relay::codec::{
    Codec, CodecKind, Decoder, InputPacket, OutputFrame, Packetizer, PacketizerConfig, Transcoder,
    TranscoderConfig,
};
use rtp_relay::tone::DtmfPlayer;

const DIGITS: &str = "0123456789*#ABCD";

/// 20 ms blocks of the digits played at `rate`, 80 ms on / 60 ms off, then 200 ms quiet.
fn played(rate: u32) -> Vec<Vec<i16>> {
    let mut player = DtmfPlayer::new(rate, 80, 60);
    assert_eq!(player.queue(DIGITS), DIGITS.len());
    let block = rate as usize / 50;
    let blocks = DIGITS.len() * 7 + 10;
    (0..blocks)
        .map(|_| {
            let mut b = vec![0i16; block];
            player.fill(&mut b);
            b
        })
        .collect()
}

fn detect(blocks: &[Vec<i16>], rate: u32) -> String {
    let mut d = DtmfDetector::new(rate, 2);
    blocks.iter().filter_map(|b| d.feed(b)).collect()
}

fn frames_to_packets(frames: Vec<OutputFrame>) -> Vec<InputPacket> {
    frames
        .into_iter()
        .map(|f| InputPacket {
            sequence: f.sequence,
            timestamp: f.timestamp,
            marker: f.marker,
            payload: f.payload,
        })
        .collect()
}

fn through(t: &mut Transcoder, packets: Vec<InputPacket>) -> Vec<OutputFrame> {
    let mut out = Vec::new();
    for p in packets {
        t.push(p).expect("push");
        out.extend(std::iter::from_fn(|| t.poll_frame()));
    }
    t.flush().expect("flush");
    out.extend(std::iter::from_fn(|| t.poll_frame()));
    out
}

#[test]
fn digits_are_detected_in_order_exactly_once() {
    for rate in [8000, 16000, 48000] {
        assert_eq!(detect(&played(rate), rate), DIGITS, "at {rate} Hz");
    }
}

#[test]
fn digits_survive_pcmu_and_opus() {
    let rate = 8000;
    let mut p = Packetizer::new(&PacketizerConfig::new(
        Codec::with_default_pt(CodecKind::Pcmu),
        rate,
    ))
    .expect("packetizer");
    let mut pcmu = Vec::new();
    for b in played(rate) {
        p.push_pcm(&b).expect("push");
        pcmu.extend(std::iter::from_fn(|| p.poll_frame()));
    }
    let cfg =
        |from, to| TranscoderConfig::new(Codec::with_default_pt(from), Codec::with_default_pt(to));
    let mut to_opus = Transcoder::new(cfg(CodecKind::Pcmu, CodecKind::Opus)).expect("t");
    let mut back = Transcoder::new(cfg(CodecKind::Opus, CodecKind::Pcmu)).expect("t");
    let opus = through(&mut to_opus, frames_to_packets(pcmu));
    let pcmu = through(&mut back, frames_to_packets(opus));
    let mut dec = Decoder::new(CodecKind::Pcmu, rate).expect("decoder");
    let mut buf = vec![0i16; dec.max_frame_samples()];
    let blocks: Vec<Vec<i16>> = pcmu
        .iter()
        .map(|f| {
            let n = dec.decode(&f.payload, &mut buf).expect("decode");
            buf[..n].to_vec()
        })
        .collect();
    assert_eq!(detect(&blocks, rate), DIGITS);
}
