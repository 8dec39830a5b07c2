//! Seeded synthetic data sets: the same seed gives the same vectors.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// A set of `count` vectors of `dimension` components, stored row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Components per vector.
    pub dimension: usize,
    /// `count × dimension` components.
    pub data: Vec<f32>,
}

impl Dataset {
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dimension).unwrap_or(0)
    }

    /// Whether there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Vector `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.data[i * self.dimension..(i + 1) * self.dimension]
    }

    /// Splits off the vectors from `at` on (for example the queries of a
    /// data set generated together with its base, so both come from the
    /// same clusters).
    ///
    /// # Panics
    ///
    /// If `at > self.len()`.
    pub fn split_off(&mut self, at: usize) -> Dataset {
        assert!(at <= self.len(), "split at {at} of {}", self.len());
        Dataset {
            dimension: self.dimension,
            data: self.data.split_off(at * self.dimension),
        }
    }

    /// The vectors in order.
    pub fn iter(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dimension.max(1))
    }
}

/// `count` vectors with components uniform in [−1, 1).
pub fn uniform(count: usize, dimension: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..count * dimension)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    Dataset { dimension, data }
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

// ANCHOR: clustered
/// `count` vectors around `clusters` centres drawn uniformly from
/// [−1, 1)^dimension, each vector a centre (chosen uniformly) plus Gaussian
/// noise of standard deviation `spread` per component.
pub fn clustered(
    count: usize,
    dimension: usize,
    clusters: usize,
    spread: f32,
    seed: u64,
) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = uniform(clusters.max(1), dimension, rng.random());
    let mut data = Vec::with_capacity(count * dimension);
    for _ in 0..count {
        let centre = centres.vector(rng.random_range(0..clusters.max(1)));
        data.extend(centre.iter().map(|&c| c + spread * normal(&mut rng)));
    }
    Dataset { dimension, data }
}
// ANCHOR_END: clustered
