//! Distance kernels with AVX2 and FMA (x86-64), the one module of Strata
//! that uses `unsafe` (issue 5 allows it here and nowhere else).
//!
//! Why unsafe is needed: the kernels are compiled for AVX2 and FMA with
//! `#[target_feature]`, and calling such a function on a CPU without those
//! features is undefined behaviour, so each call is `unsafe` and justified
//! by the run-time check in [`has_avx2_fma`]. Inside, the unaligned loads
//! read through raw pointers; each `unsafe` block says why its reads stay in
//! bounds. [`prefetch`] asks the CPU to start loading a vector before the
//! search needs it (a hint, with no effect on results). The property tests below compare both kernels with the scalar
//! reference for every length from 0 to 1,024.

#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, _MM_HINT_T0, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_prefetch,
    _mm_shuffle_ps, _mm256_add_ps, _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_fmadd_ps,
    _mm256_loadu_ps, _mm256_setzero_ps, _mm256_sub_ps,
};

// ANCHOR: detect
/// Whether this CPU has AVX2 and FMA (std caches the answer).
#[inline]
pub fn has_avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Bytes in a cache line on x86-64 CPUs.
const CACHE_LINE: usize = 64;

/// Cache lines [`prefetch`] asks for at most. The CPU's own prefetcher
/// follows a sequential read once it has started, so asking for all of a
/// long vector mostly queues requests: on Fashion-MNIST (784 components,
/// 49 lines) capping at 8 lines searched 5–15% faster and built 5–10%
/// faster than prefetching every line (and than 1 line, hnswlib's choice);
/// on 384 components the three were within noise.
pub const PREFETCH_LINES: usize = 8;

/// Starts loading the first [`PREFETCH_LINES`] cache lines of `data` into
/// the CPU's caches, so that a distance computed (or a link list read) a
/// little later does not wait for memory. A hint only: nothing is read, and
/// results do not change.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    let bytes = std::mem::size_of_val(data);
    let start = data.as_ptr().cast::<i8>();
    for offset in (0..bytes).step_by(CACHE_LINE).take(PREFETCH_LINES) {
        // SAFETY: `_mm_prefetch` needs SSE, which every x86-64 CPU has (it
        // is in the target's baseline), and a prefetch never faults or
        // reads anything the program can observe, whatever the address.
        // The address is in bounds anyway: offset < size of `data`, so
        // `wrapping_add` stays inside the slice.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) }
    }
}

/// Proof that this CPU has AVX2 and FMA: [`Avx2Fma::detect`] is the only
/// way to make one, so its methods may call the AVX2 kernels without
/// checking again. The index detects once, when it is made, and keeps the
/// proof; [`l2_squared_avx2`] and [`dot_avx2`] detect on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avx2Fma(());

impl Avx2Fma {
    /// `Some` if this CPU has AVX2 and FMA.
    pub fn detect() -> Option<Avx2Fma> {
        has_avx2_fma().then_some(Avx2Fma(()))
    }

    /// Squared Euclidean distance (as [`l2_squared_avx2`]).
    #[inline]
    pub fn l2_squared(self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `self` exists, so `detect` found AVX2 and FMA on this CPU.
        unsafe { l2_squared_impl(a, b) }
    }

    /// Dot product (as [`dot_avx2`]).
    #[inline]
    pub fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        // SAFETY: `self` exists, so `detect` found AVX2 and FMA on this CPU.
        unsafe { dot_impl(a, b) }
    }
}

/// Squared Euclidean distance with AVX2 and FMA.
///
/// # Panics
///
/// If the CPU lacks AVX2 or FMA (callers check [`has_avx2_fma`] first).
#[inline]
pub fn l2_squared_avx2(a: &[f32], b: &[f32]) -> f32 {
    Avx2Fma::detect()
        .expect("l2_squared_avx2 needs AVX2 and FMA")
        .l2_squared(a, b)
}
// ANCHOR_END: detect

/// Dot product with AVX2 and FMA.
///
/// # Panics
///
/// If the CPU lacks AVX2 or FMA (callers check [`has_avx2_fma`] first).
#[inline]
pub fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    Avx2Fma::detect()
        .expect("dot_avx2 needs AVX2 and FMA")
        .dot(a, b)
}

/// Components per register.
const WIDTH: usize = 8;
/// Registers summed independently (hides the FMA latency).
const UNROLL: usize = 4;

/// Adds the eight lanes of `v`.
#[target_feature(enable = "avx2,fma")]
fn horizontal_sum(v: __m256) -> f32 {
    let low = _mm256_castps256_ps128(v);
    let high = _mm256_extractf128_ps::<1>(v);
    let quad = _mm_add_ps(low, high);
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let single = _mm_add_ss(pair, _mm_shuffle_ps::<0b01>(pair, pair));
    _mm_cvtss_f32(single)
}

// ANCHOR: l2_avx2
#[target_feature(enable = "avx2,fma")]
fn l2_squared_impl(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let mut sums = [_mm256_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + WIDTH * UNROLL <= len {
        for (lane, sum) in sums.iter_mut().enumerate() {
            let at = i + lane * WIDTH;
            // SAFETY: at + WIDTH <= i + WIDTH * UNROLL <= len, and both
            // slices hold at least `len` floats, so the eight reads from
            // `at` are in bounds; loadu has no alignment requirement.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(at)),
                    _mm256_loadu_ps(b.as_ptr().add(at)),
                )
            };
            let d = _mm256_sub_ps(x, y);
            *sum = _mm256_fmadd_ps(d, d, *sum);
        }
        i += WIDTH * UNROLL;
    }
    while i + WIDTH <= len {
        // SAFETY: i + WIDTH <= len, as above.
        let (x, y) = unsafe {
            (
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
            )
        };
        let d = _mm256_sub_ps(x, y);
        sums[0] = _mm256_fmadd_ps(d, d, sums[0]);
        i += WIDTH;
    }
    let total = _mm256_add_ps(
        _mm256_add_ps(sums[0], sums[1]),
        _mm256_add_ps(sums[2], sums[3]),
    );
    let mut result = horizontal_sum(total);
    for j in i..len {
        let d = a[j] - b[j];
        result += d * d;
    }
    result
}
// ANCHOR_END: l2_avx2

#[target_feature(enable = "avx2,fma")]
fn dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let mut sums = [_mm256_setzero_ps(); UNROLL];
    let mut i = 0;
    while i + WIDTH * UNROLL <= len {
        for (lane, sum) in sums.iter_mut().enumerate() {
            let at = i + lane * WIDTH;
            // SAFETY: at + WIDTH <= i + WIDTH * UNROLL <= len, and both
            // slices hold at least `len` floats; loadu is unaligned.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(a.as_ptr().add(at)),
                    _mm256_loadu_ps(b.as_ptr().add(at)),
                )
            };
            *sum = _mm256_fmadd_ps(x, y, *sum);
        }
        i += WIDTH * UNROLL;
    }
    while i + WIDTH <= len {
        // SAFETY: i + WIDTH <= len, as above.
        let (x, y) = unsafe {
            (
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
            )
        };
        sums[0] = _mm256_fmadd_ps(x, y, sums[0]);
        i += WIDTH;
    }
    let total = _mm256_add_ps(
        _mm256_add_ps(sums[0], sums[1]),
        _mm256_add_ps(sums[2], sums[3]),
    );
    let mut result = horizontal_sum(total);
    for j in i..len {
        result += a[j] * b[j];
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::reference;
    use proptest::prelude::*;

    fn close(fast: f32, slow: f32, len: usize) -> bool {
        (fast - slow).abs() <= 1e-5 * (len as f32 + 1.0) * slow.abs().max(1.0)
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 16,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_5EED),
            ..ProptestConfig::default()
        })]

        /// Every length from 0 to 1,024, each with random components.
        #[test]
        fn avx2_kernels_agree_with_the_reference(seed in any::<u64>()) {
            if !has_avx2_fma() {
                return Ok(());
            }
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
            };
            for len in 0..=1024 {
                let a: Vec<f32> = (0..len).map(|_| next()).collect();
                let b: Vec<f32> = (0..len).map(|_| next()).collect();
                let (fast, slow) = (l2_squared_avx2(&a, &b), reference::l2_squared(&a, &b));
                prop_assert!(close(fast, slow, len), "l2 len {}: {} vs {}", len, fast, slow);
                let (fast, slow) = (dot_avx2(&a, &b), reference::dot(&a, &b));
                prop_assert!(close(fast, slow, len), "dot len {}: {} vs {}", len, fast, slow);
            }
        }
    }
}
