//! Checking and preparing the vectors a user hands in.

use crate::error::{Error, Result};
use crate::metric::Metric;

// ANCHOR: prepare
/// Checks `vector` against `dimension` and the metric, and returns the form
/// the index stores and compares: normalised for cosine, as given otherwise.
///
/// # Errors
///
/// [`Error::DimensionMismatch`], [`Error::NonFinite`], and for cosine
/// [`Error::ZeroVector`] (also when the norm underflows to zero).
pub(crate) fn prepare(metric: Metric, dimension: usize, vector: &[f32]) -> Result<Vec<f32>> {
    if vector.len() != dimension {
        return Err(Error::DimensionMismatch {
            expected: dimension,
            got: vector.len(),
        });
    }
    if let Some((index, &value)) = vector.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { index, value });
    }
    let mut prepared = vector.to_vec();
    if metric == Metric::Cosine {
        let norm = prepared
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum::<f64>()
            .sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(Error::ZeroVector);
        }
        for x in &mut prepared {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
    Ok(prepared)
}
// ANCHOR_END: prepare
