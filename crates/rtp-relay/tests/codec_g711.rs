//! G.711 against every code and every 16-bit input (ITU-T G.711 tables 1a/2a).

use rtp_relay::codec::g711::{
    Law, decode_alaw, decode_ulaw, encode_alaw, encode_alaw_reference, encode_ulaw,
    encode_ulaw_reference,
};

#[test]
fn ulaw_every_code_round_trips() {
    for code in 0..=255u8 {
        let back = encode_ulaw(decode_ulaw(code));
        if code == 0x7F {
            // "Negative zero" decodes to 0, which encodes as positive zero.
            assert_eq!(back, 0xFF);
        } else {
            assert_eq!(back, code, "code {code:#04x}");
        }
    }
}

#[test]
fn alaw_every_code_round_trips() {
    for code in 0..=255u8 {
        assert_eq!(encode_alaw(decode_alaw(code)), code, "code {code:#04x}");
    }
}

#[test]
fn ulaw_reference_values() {
    // Both zeros, the extremes and a few interior codes (16-bit scale: 14-bit × 4).
    assert_eq!(decode_ulaw(0xFF), 0);
    assert_eq!(decode_ulaw(0x7F), 0);
    assert_eq!(decode_ulaw(0x80), 32124);
    assert_eq!(decode_ulaw(0x00), -32124);
    assert_eq!(decode_ulaw(0xFE), 8); // segment 0, step 1: (2·1+33−33)·4
    assert_eq!(decode_ulaw(0xEF), 132); // segment 1, mantissa 0: ((33)·2−33)·4
    assert_eq!(decode_ulaw(0x8F), 16764); // segment 7, mantissa 0: (33·128−33)·4
    assert_eq!(encode_ulaw(0), 0xFF);
    assert_eq!(encode_ulaw(-1), 0x7F);
    assert_eq!(encode_ulaw(i16::MAX), 0x80);
    assert_eq!(encode_ulaw(i16::MIN), 0x00);
}

#[test]
fn alaw_reference_values_and_even_bit_inversion() {
    // 0xD5 / 0x55 are the smallest positive / negative values: 0x80 / 0x00 with the even
    // bits (0x55) inverted.
    assert_eq!(decode_alaw(0xD5), 8);
    assert_eq!(decode_alaw(0x55), -8);
    assert_eq!(decode_alaw(0xAA), 32256);
    assert_eq!(decode_alaw(0x2A), -32256);
    assert_eq!(encode_alaw(0), 0xD5);
    assert_eq!(encode_alaw(-1), 0x55);
    assert_eq!(encode_alaw(i16::MAX), 0xAA);
    assert_eq!(encode_alaw(i16::MIN), 0x2A);
    for code in 0..=255u8 {
        // Inverting the even bits of the wire code gives the plain sign/segment/mantissa.
        let plain = code ^ 0x55;
        let positive = plain & 0x80 != 0;
        assert_eq!(decode_alaw(code) > 0, positive, "code {code:#04x}");
    }
}

#[test]
fn decoding_is_symmetric_and_monotonic() {
    // Sign-magnitude codes: mirror pairs decode to opposite values, and within one sign
    // the magnitude grows with the (de-inverted) code.
    for code in 0..=127u8 {
        assert_eq!(decode_ulaw(code), -decode_ulaw(code | 0x80));
        assert_eq!(decode_alaw(code), -decode_alaw(code | 0x80));
    }
    let ulaw: Vec<i16> = (0..128u8).map(|m| decode_ulaw(!m & 0x7F | 0x80)).collect();
    assert!(ulaw.windows(2).all(|w| w[0] < w[1]), "{ulaw:?}");
    let alaw: Vec<i16> = (0..128u8).map(|m| decode_alaw((m | 0x80) ^ 0x55)).collect();
    assert!(alaw.windows(2).all(|w| w[0] < w[1]), "{alaw:?}");
}

#[test]
fn quantisation_error_is_within_half_a_step_for_every_input() {
    // The decoded value is the centre of the interval that contains the input, so the
    // error is at most half the interval: the segment's step (µ-law 4·2^(s+1) in 16 bits,
    // A-law 8·2^max(s,1)), plus clipping at the top.
    for x in i16::MIN..=i16::MAX {
        let u = decode_ulaw(encode_ulaw(x));
        let seg = (!encode_ulaw(x) >> 4) & 7;
        let half_step = 4i32 << seg;
        let clip = i32::from(x).abs().saturating_sub(32124).max(0);
        assert!(
            (i32::from(u) - i32::from(x)).abs() <= half_step + clip + 4,
            "µ {x}: {u}"
        );
        let a = decode_alaw(encode_alaw(x));
        let seg = ((encode_alaw(x) ^ 0x55) >> 4) & 7;
        let half_step = 8i32 << seg.saturating_sub(1);
        let clip = i32::from(x).abs().saturating_sub(32256).max(0);
        assert!(
            (i32::from(a) - i32::from(x)).abs() <= half_step + clip + 8,
            "A {x}: {a}"
        );
    }
}

#[test]
fn tables_agree_with_segment_search() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(encode_ulaw(x), encode_ulaw_reference(x));
        assert_eq!(encode_alaw(x), encode_alaw_reference(x));
    }
}

#[test]
fn pcma_pcmu_conversion_is_close_for_every_code() {
    for code in 0..=255u8 {
        let a = Law::Ulaw.transcode(code, Law::Alaw);
        let (lin_u, lin_a) = (i32::from(decode_ulaw(code)), i32::from(decode_alaw(a)));
        // A-law's step is never finer than µ-law's at the same level by more than 2×, so
        // the converted value stays within one A-law step (≤ 1024 at the top).
        let tolerance = (lin_u.abs() / 16).max(16);
        assert!(
            (lin_u - lin_a).abs() <= tolerance,
            "{code:#04x}: {lin_u} vs {lin_a}"
        );
        // And back: the µ-law code is the same or an adjacent one.
        let u = Law::Alaw.transcode(a, Law::Ulaw);
        let back = i32::from(decode_ulaw(u));
        assert!(
            (back - lin_u).abs() <= tolerance * 2,
            "{code:#04x} -> {a:#04x} -> {u:#04x}"
        );
    }
}

#[test]
fn slice_api_matches_per_sample_functions() {
    let pcm: Vec<i16> = (0..160).map(|i| (i * 409 - 32000) as i16).collect();
    let mut u = [0u8; 160];
    let mut a = [0u8; 160];
    assert_eq!(Law::Ulaw.encode(&pcm, &mut u), 160);
    assert_eq!(Law::Alaw.encode(&pcm, &mut a), 160);
    let mut back = [0i16; 160];
    assert_eq!(Law::Ulaw.decode(&u, &mut back), 160);
    for i in 0..160 {
        assert_eq!(u[i], encode_ulaw(pcm[i]));
        assert_eq!(a[i], encode_alaw(pcm[i]));
        assert_eq!(back[i], decode_ulaw(u[i]));
    }
    // Short output buffer: only what fits is written.
    assert_eq!(Law::Alaw.encode(&pcm, &mut a[..10]), 10);
}
