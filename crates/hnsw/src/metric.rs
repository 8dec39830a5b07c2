//! Distances between vectors, and the kernels that compute them.
//!
// ANCHOR: metrics
//! Three metrics, each a "smaller is closer" distance:
//!
//! 1. [`Metric::L2`] — the squared Euclidean distance. Squaring keeps the
//!    order of neighbours and saves a square root per comparison.
//! 2. [`Metric::Cosine`] — `1 − cos(a, b)`. The index normalises every
//!    vector on insert (and every query), so this is `1 − a·b`.
//! 3. [`Metric::InnerProduct`] — `1 − a·b` on the vectors as given. This
//!    is **not a metric**: a vector need not be its own nearest neighbour
//!    (a longer vector in the same direction scores higher), and the
//!    triangle inequality fails. HNSW's neighbour selection assumes that
//!    near things are near each other's neighbours; under inner product
//!    long vectors become hubs that many searches funnel through, and
//!    recall depends on the norms of the data. Use it only for data whose
//!    norms carry meaning, and measure recall.
// ANCHOR_END: metrics
//!
//! On x86-64 CPUs with AVX2 and FMA (checked at run time) the kernels are
//! those of [`crate::simd`]: 32 components per step in four 8-wide
//! registers with fused multiply-adds. Elsewhere the portable kernels sum in
//! eight independent lanes, which the compiler keeps in vector registers
//! (SSE on baseline x86-64); the last `len % 8` components are added
//! separately. The two sum in different orders, so distances (and so, in
//! rare ties, graphs) can differ in the last bits between a CPU with AVX2
//! and one without; on one machine every run is the same.

/// How distance is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance.
    L2,
    /// One minus the cosine similarity; vectors are normalised on insert.
    Cosine,
    /// One minus the dot product (not a metric: see the module docs).
    InnerProduct,
}

impl Metric {
    /// The distance between `a` and `b` (of equal length), where for
    /// [`Metric::Cosine`] both are already normalised.
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::L2 => l2_squared(a, b),
            Metric::Cosine | Metric::InnerProduct => 1.0 - dot(a, b),
        }
    }

    /// The name used on command lines and in files: `l2`, `cosine`, `ip`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::L2 => "l2",
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Metric::L2 => 0,
            Metric::Cosine => 1,
            Metric::InnerProduct => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Metric> {
        match code {
            0 => Some(Metric::L2),
            1 => Some(Metric::Cosine),
            2 => Some(Metric::InnerProduct),
            _ => None,
        }
    }
}

impl std::str::FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Metric, String> {
        match s {
            "l2" => Ok(Metric::L2),
            "cosine" => Ok(Metric::Cosine),
            "ip" => Ok(Metric::InnerProduct),
            other => Err(format!("unknown metric {other:?}: use l2, cosine or ip")),
        }
    }
}

/// Lanes summed independently by the kernels.
/// The distance kernels this CPU runs, chosen once (an index keeps its
/// choice), so that a distance costs no feature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernels {
    /// AVX2 and FMA ([`crate::simd`]), with the proof that the CPU has them.
    #[cfg(target_arch = "x86_64")]
    Avx2Fma(crate::simd::Avx2Fma),
    /// The portable eight-lane kernels.
    Portable,
}

impl Kernels {
    /// The fastest kernels this CPU can run: the same choice the
    /// dispatching [`l2_squared`] and [`dot`] make on every call.
    pub(crate) fn detect() -> Kernels {
        #[cfg(target_arch = "x86_64")]
        if let Some(proof) = crate::simd::Avx2Fma::detect() {
            return Kernels::Avx2Fma(proof);
        }
        Kernels::Portable
    }
}

impl Metric {
    /// [`Metric::distance`] with kernels chosen beforehand: the same value,
    /// bit for bit.
    #[inline]
    pub(crate) fn distance_with(self, kernels: Kernels, a: &[f32], b: &[f32]) -> f32 {
        match (self, kernels) {
            #[cfg(target_arch = "x86_64")]
            (Metric::L2, Kernels::Avx2Fma(k)) => k.l2_squared(a, b),
            #[cfg(target_arch = "x86_64")]
            (Metric::Cosine | Metric::InnerProduct, Kernels::Avx2Fma(k)) => 1.0 - k.dot(a, b),
            (Metric::L2, Kernels::Portable) => l2_squared_portable(a, b),
            (Metric::Cosine | Metric::InnerProduct, Kernels::Portable) => 1.0 - dot_portable(a, b),
        }
    }
}

const LANES: usize = 8;

// ANCHOR: dispatch
/// Squared Euclidean distance. `a` and `b` must have equal lengths.
///
/// Uses AVX2 and FMA when the CPU has them (checked at run time; see
/// [`crate::simd`]), else [`l2_squared_portable`].
#[inline]
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx2_fma() {
        return crate::simd::l2_squared_avx2(a, b);
    }
    l2_squared_portable(a, b)
}
// ANCHOR_END: dispatch

/// Dot product. `a` and `b` must have equal lengths; AVX2 and FMA when the
/// CPU has them, else [`dot_portable`].
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx2_fma() {
        return crate::simd::dot_avx2(a, b);
    }
    dot_portable(a, b)
}

/// Asks the CPU to start loading `data`, a vector or a link list (see
/// [`crate::simd::prefetch`]); does nothing on other architectures.
#[inline]
pub(crate) fn prefetch<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    crate::simd::prefetch(data);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

// ANCHOR: l2
/// Squared Euclidean distance in eight lanes, for any CPU.
#[inline]
pub fn l2_squared_portable(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sums = [0.0f32; LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            let d = x[i] - y[i];
            sums[i] += d * d;
        }
    }
    let mut total = sums.iter().sum::<f32>();
    for (x, y) in a_rest.iter().zip(b_rest) {
        let d = x - y;
        total += d * d;
    }
    total
}
// ANCHOR_END: l2

/// Dot product in eight lanes, for any CPU.
#[inline]
pub fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sums = [0.0f32; LANES];
    let (a_chunks, a_rest) = a.as_chunks::<LANES>();
    let (b_chunks, b_rest) = b.as_chunks::<LANES>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..LANES {
            sums[i] += x[i] * y[i];
        }
    }
    let mut total = sums.iter().sum::<f32>();
    for (x, y) in a_rest.iter().zip(b_rest) {
        total += x * y;
    }
    total
}

// ANCHOR: reference
/// The simplest correct kernels, one multiply-add at a time, in order:
/// the reference the fast kernels are tested against.
pub mod reference {
    /// Squared Euclidean distance, summed left to right.
    pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    /// Dot product, summed left to right.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }
}
// ANCHOR_END: reference

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_and_portable_kernels_agree_with_the_reference_for_every_length_up_to_1024() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        };
        for len in 0..=1024 {
            let a: Vec<f32> = (0..len).map(|_| next()).collect();
            let b: Vec<f32> = (0..len).map(|_| next()).collect();
            // Summation order differs; the bound grows with the terms' size.
            let tolerance = 1e-5 * (len as f32 + 1.0);
            // The dispatchers (AVX2 on a CPU that has it) and the portable
            // kernels, whatever this CPU has.
            let l2 = reference::l2_squared(&a, &b);
            for (name, fast) in [
                ("dispatched", l2_squared(&a, &b)),
                ("portable", l2_squared_portable(&a, &b)),
            ] {
                assert!(
                    (fast - l2).abs() <= tolerance,
                    "{name} l2 len {len}: {fast} vs {l2}"
                );
            }
            for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
                let (chosen, dispatched) = (
                    metric.distance_with(Kernels::detect(), &a, &b),
                    metric.distance(&a, &b),
                );
                assert_eq!(
                    chosen.to_bits(),
                    dispatched.to_bits(),
                    "{metric:?} len {len}"
                );
            }
            let dot_product = reference::dot(&a, &b);
            for (name, fast) in [
                ("dispatched", dot(&a, &b)),
                ("portable", dot_portable(&a, &b)),
            ] {
                assert!(
                    (fast - dot_product).abs() <= tolerance,
                    "{name} dot len {len}: {fast} vs {dot_product}"
                );
            }
        }
    }
}
