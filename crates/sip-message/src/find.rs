//! Byte searches sized for SIP heads: a header line or value is tens of bytes, so the cost
//! of a search is its setup, not its loop. `memchr` dispatches through a function pointer
//! and prepares 32-byte vectors on every call (about 75 instructions per header line,
//! callgrind); these are inlined 16-byte SSE2 loops (SSE2 is part of every x86_64 target),
//! with `memchr` elsewhere.
//!
//! Every function answers exactly what the obvious byte loop answers; the tests pin that.

/// Index of the first `a` or `b` in `h`.
#[inline(always)]
pub(crate) fn find2(h: &[u8], a: u8, b: u8) -> Option<usize> {
    imp::find2(h, a, b)
}

/// Index of the first `a` in `h`.
#[inline(always)]
pub(crate) fn find1(h: &[u8], a: u8) -> Option<usize> {
    imp::find2(h, a, a)
}

/// Index of the first CR or LF in `h`; ORs into `high` a non-zero value if a byte with the
/// high bit set (not ASCII) is among those looked at, which include every byte before the
/// one found (all of `h` when none is). The header section's ASCII check comes from here
/// for free: a second pass over the head cost about 135 instructions a message.
#[inline(always)]
pub(crate) fn line_end(h: &[u8], high: &mut u32) -> Option<usize> {
    imp::line_end(h, high)
}

/// Bit k set where `c[k]` is `a`.
#[inline(always)]
pub(crate) fn mask16(c: &[u8; 16], a: u8) -> u32 {
    imp::mask16(c, a)
}

/// Whether every byte of `h` is ASCII (`<[u8]>::is_ascii`, 64 bytes a round).
#[inline]
pub(crate) fn is_ascii(h: &[u8]) -> bool {
    imp::is_ascii(h)
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod imp {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };

    /// Bit k set where byte k of the OR of `cs` has its high bit set.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn high_bits<const N: usize>(cs: [&[u8; 16]; N]) -> u32 {
        // SAFETY: as in `mask`: SSE2 is enabled for this build, and each load reads exactly
        // the 16 bytes behind a valid reference.
        let m = unsafe {
            let mut v = _mm_loadu_si128(cs[0].as_ptr().cast::<__m128i>());
            for c in &cs[1..] {
                v = _mm_or_si128(v, _mm_loadu_si128(c.as_ptr().cast::<__m128i>()));
            }
            _mm_movemask_epi8(v)
        };
        m as u32
    }

    #[inline]
    pub(super) fn is_ascii(h: &[u8]) -> bool {
        let n = h.len();
        if n < 16 {
            return h.is_ascii();
        }
        let mut k = 0;
        while k + 64 <= n {
            let c = |j: usize| chunk(h, k + 16 * j);
            if high_bits([c(0), c(1), c(2), c(3)]) != 0 {
                return false;
            }
            k += 64;
        }
        while k + 16 <= n {
            if high_bits([chunk(h, k)]) != 0 {
                return false;
            }
            k += 16;
        }
        // The last 16 bytes (some already seen: harmless).
        high_bits([chunk(h, n - 16)]) == 0
    }

    /// Bit k set where byte k of `c` is `a` or `b`.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn mask(c: &[u8; 16], a: u8, b: u8) -> u32 {
        // SAFETY: this module is compiled only when SSE2 is enabled for the build (it is part
        // of every x86_64 target), so calling the SSE2 intrinsics is sound. The load reads
        // exactly the 16 bytes behind `c`, a valid reference; `loadu` needs no alignment.
        let m = unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast::<__m128i>());
            let eq_a = _mm_cmpeq_epi8(v, _mm_set1_epi8(a as i8));
            let eq_b = _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            _mm_movemask_epi8(_mm_or_si128(eq_a, eq_b))
        };
        // 16 meaningful bits: never negative.
        m as u32
    }

    /// (bit k: byte k of `c` is CR or LF, `acc` OR the 16 bytes).
    #[allow(unsafe_code)]
    #[inline(always)]
    fn eol_mask(c: &[u8; 16], acc: __m128i) -> (u32, __m128i) {
        // SAFETY: as in `mask`: SSE2 is enabled for this build, and the load reads exactly
        // the 16 bytes behind a valid reference.
        let (m, acc) = unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast::<__m128i>());
            let cr = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8));
            let lf = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
            (
                _mm_movemask_epi8(_mm_or_si128(cr, lf)),
                _mm_or_si128(acc, v),
            )
        };
        // 16 meaningful bits: never negative.
        (m as u32, acc)
    }

    /// Bit k set where byte k of `v` has its high bit set.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn sign_bits(v: __m128i) -> u32 {
        // SAFETY: SSE2 is enabled for this build (see `mask`); no memory is read.
        let m = unsafe { _mm_movemask_epi8(v) };
        m as u32
    }

    /// An all-zero vector.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn zero() -> __m128i {
        // SAFETY: SSE2 is enabled for this build (see `mask`); no memory is read.
        unsafe { _mm_setzero_si128() }
    }

    #[inline(always)]
    pub(super) fn line_end(h: &[u8], high: &mut u32) -> Option<usize> {
        let n = h.len();
        if n < 16 {
            *high |= h.iter().fold(0, |a, &c| a | u32::from(c & 0x80));
            return h.iter().position(|&c| c == b'\r' || c == b'\n');
        }
        let mut k = 0;
        let mut acc = zero();
        // Two vectors a round, as in `find2`.
        while k + 32 <= n {
            let (m0, a) = eol_mask(chunk(h, k), acc);
            let (m1, a) = eol_mask(chunk(h, k + 16), a);
            acc = a;
            let m = m0 | m1 << 16;
            if m != 0 {
                *high |= sign_bits(acc);
                return Some(k + m.trailing_zeros() as usize);
            }
            k += 32;
        }
        if k + 16 <= n {
            let (m, a) = eol_mask(chunk(h, k), acc);
            acc = a;
            if m != 0 {
                *high |= sign_bits(acc);
                return Some(k + m.trailing_zeros() as usize);
            }
            k += 16;
        }
        // Fewer than 16 bytes left: the last 16 (some seen already).
        let (m, acc) = eol_mask(chunk(h, n - 16), acc);
        *high |= sign_bits(acc);
        let m = m >> (k - (n - 16));
        (m != 0).then(|| k + m.trailing_zeros() as usize)
    }

    #[inline(always)]
    pub(super) fn mask16(c: &[u8; 16], a: u8) -> u32 {
        mask(c, a, a)
    }

    #[inline(always)]
    fn chunk(h: &[u8], k: usize) -> &[u8; 16] {
        h[k..k + 16].try_into().unwrap_or(&[0; 16])
    }

    #[inline(always)]
    pub(super) fn find2(h: &[u8], a: u8, b: u8) -> Option<usize> {
        let n = h.len();
        if n < 16 {
            return h.iter().position(|&c| c == a || c == b);
        }
        let mut k = 0;
        // Two vectors a round: lines are mostly 30 to 100 bytes.
        while k + 32 <= n {
            let m = mask(chunk(h, k), a, b) | mask(chunk(h, k + 16), a, b) << 16;
            if m != 0 {
                return Some(k + m.trailing_zeros() as usize);
            }
            k += 32;
        }
        if k + 16 <= n {
            let m = mask(chunk(h, k), a, b);
            if m != 0 {
                return Some(k + m.trailing_zeros() as usize);
            }
            k += 16;
        }
        // Fewer than 16 bytes left: look at the last 16, skipping those already seen.
        let seen = k - (n - 16);
        let m = mask(chunk(h, n - 16), a, b) >> seen;
        (m != 0).then(|| k + m.trailing_zeros() as usize)
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod imp {
    #[inline]
    pub(super) fn line_end(h: &[u8], high: &mut u32) -> Option<usize> {
        let p = memchr::memchr2(b'\r', b'\n', h);
        let seen = &h[..p.map_or(h.len(), |p| p + 1)];
        *high |= u32::from(!seen.is_ascii());
        p
    }

    #[inline]
    pub(super) fn mask16(c: &[u8; 16], a: u8) -> u32 {
        c.iter()
            .enumerate()
            .filter(|&(_, &x)| x == a)
            .fold(0, |m, (k, _)| m | 1 << k)
    }

    #[inline]
    pub(super) fn is_ascii(h: &[u8]) -> bool {
        h.is_ascii()
    }

    #[inline(always)]
    pub(super) fn find2(h: &[u8], a: u8, b: u8) -> Option<usize> {
        if a == b {
            memchr::memchr(a, h)
        } else {
            memchr::memchr2(a, b, h)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_agree_with_a_byte_loop() {
        // Every length 0..=70 and every needle position, including the overlapping tail.
        for len in 0..=70usize {
            let base: Vec<u8> = (0..len).map(|k| b'a' + (k % 23) as u8).collect();
            let reference = |h: &[u8], a: u8, b: u8| h.iter().position(|&c| c == a || c == b);
            assert_eq!(imp::find2(&base, b'\r', b'\n'), None, "{len}");
            for p in 0..len {
                for q in p..len {
                    let mut h = base.clone();
                    h[q] = b'\n';
                    h[p] = b'\r';
                    assert_eq!(imp::find2(&h, b'\r', b'\n'), reference(&h, b'\r', b'\n'));
                    assert_eq!(find1(&h, b'\n'), reference(&h, b'\n', b'\n'));
                    assert_eq!(find1(&h, b'\r'), Some(p));
                    let mut high = 0;
                    assert_eq!(line_end(&h, &mut high), Some(p));
                    assert_eq!(high, 0);
                }
            }
        }
        // line_end reports a non-ASCII byte anywhere up to the line end.
        for len in 1..=70usize {
            for p in 0..len {
                for bad in 0..=p {
                    let mut h = vec![b'a'; len];
                    h[p] = b'\n';
                    h[bad] = if bad == p { b'\n' } else { 0xc3 };
                    let mut high = 0;
                    assert_eq!(line_end(&h, &mut high), Some(p));
                    assert_eq!(high != 0, bad != p, "{len} {p} {bad}");
                }
                let mut h = vec![b'a'; len];
                h[p] = 0x80;
                let mut high = 0;
                assert_eq!(line_end(&h, &mut high), None);
                assert_ne!(high, 0, "{len} {p}");
            }
        }
        // Bytes with the high bit set (the movemask reads sign bits).
        for len in 0..=200usize {
            let mut h = vec![b'a'; len];
            assert!(is_ascii(&h));
            for p in 0..len {
                h[p] = 0x80 | (p as u8);
                assert!(!is_ascii(&h), "{len} {p}");
                h[p] = 0x7f;
                assert!(is_ascii(&h), "{len} {p}");
            }
        }
        let mut c = [b'a'; 16];
        c[3] = b':';
        c[15] = b':';
        assert_eq!(mask16(&c, b':'), 1 << 3 | 1 << 15);
        let h = [0xffu8, 0x80, 0x7f, b':', 0xfe];
        assert_eq!(find1(&h, b':'), Some(3));
        assert_eq!(find1(&h, 0xfe), Some(4));
        assert_eq!(imp::find2(&[0x80u8; 40], b'\r', 0x80), Some(0));
    }
}
