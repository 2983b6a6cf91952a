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

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod imp {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

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
            assert_eq!(find2(&base, b'\r', b'\n'), None, "{len}");
            for p in 0..len {
                for q in p..len {
                    let mut h = base.clone();
                    h[q] = b'\n';
                    h[p] = b'\r';
                    assert_eq!(find2(&h, b'\r', b'\n'), reference(&h, b'\r', b'\n'));
                    assert_eq!(find1(&h, b'\n'), reference(&h, b'\n', b'\n'));
                    assert_eq!(find1(&h, b'\r'), Some(p));
                }
            }
        }
        // Bytes with the high bit set (the movemask reads sign bits).
        let h = [0xffu8, 0x80, 0x7f, b':', 0xfe];
        assert_eq!(find1(&h, b':'), Some(3));
        assert_eq!(find1(&h, 0xfe), Some(4));
        assert_eq!(find2(&[0x80u8; 40], b'\r', 0x80), Some(0));
    }
}
