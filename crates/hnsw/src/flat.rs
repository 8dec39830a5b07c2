//! Exact nearest-neighbour search: the ground truth and the baseline.

use crate::error::{Error, Result};
use crate::metric::Metric;
use crate::vector::prepare;

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    /// The item's id.
    pub id: u64,
    /// Its distance to the query under the index's metric.
    pub distance: f32,
}

/// Orders by distance, then id, so that equal distances have one order.
pub(crate) fn by_distance_then_id(a: &Neighbor, b: &Neighbor) -> std::cmp::Ordering {
    a.distance
        .total_cmp(&b.distance)
        .then_with(|| a.id.cmp(&b.id))
}

// ANCHOR: flat
/// Every vector in one array, searched by computing every distance.
#[derive(Debug, Clone)]
pub struct FlatIndex {
    metric: Metric,
    dimension: usize,
    vectors: Vec<f32>,
    ids: Vec<u64>,
}
// ANCHOR_END: flat

impl FlatIndex {
    /// An empty index of `dimension`-dimensional vectors.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] if `dimension` is 0.
    pub fn new(metric: Metric, dimension: usize) -> Result<FlatIndex> {
        if dimension == 0 {
            return Err(Error::InvalidParameter(
                "dimension must be at least 1".into(),
            ));
        }
        Ok(FlatIndex {
            metric,
            dimension,
            vectors: Vec::new(),
            ids: Vec::new(),
        })
    }

    /// Adds `vector` under `id` (ids need not be unique here: the flat
    /// index is a list).
    ///
    /// # Errors
    ///
    /// As [`crate::Hnsw::insert`] for a bad vector.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<()> {
        let prepared = prepare(self.metric, self.dimension, vector)?;
        self.vectors.extend_from_slice(&prepared);
        self.ids.push(id);
        Ok(())
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `k` nearest vectors to `query`, nearest first (ties by id).
    ///
    /// # Errors
    ///
    /// As [`crate::Hnsw::search`] for a bad query.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Neighbor>> {
        self.search_filtered(query, k, |_| true)
    }

    // ANCHOR: flat_search
    /// As [`FlatIndex::search`], among the ids for which `allow` is true.
    ///
    /// # Errors
    ///
    /// As [`crate::Hnsw::search`] for a bad query.
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        mut allow: impl FnMut(u64) -> bool,
    ) -> Result<Vec<Neighbor>> {
        let query = prepare(self.metric, self.dimension, query)?;
        let mut all: Vec<Neighbor> = self
            .vectors
            .chunks_exact(self.dimension)
            .zip(&self.ids)
            .filter(|&(_, &id)| allow(id))
            .map(|(vector, &id)| Neighbor {
                id,
                distance: self.metric.distance(&query, vector),
            })
            .collect();
        let k = k.min(all.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        all.select_nth_unstable_by(k - 1, by_distance_then_id);
        all.truncate(k);
        all.sort_by(by_distance_then_id);
        Ok(all)
    }
    // ANCHOR_END: flat_search
}

// ANCHOR: recall
/// The fraction of the true `k` nearest ids found among the first `k`
/// results: |found ∩ truth| / |truth|, with `truth` cut to its first `k`.
/// 1.0 when `truth` is empty.
pub fn recall_at_k(found: &[Neighbor], truth: &[Neighbor], k: usize) -> f64 {
    let truth = &truth[..k.min(truth.len())];
    if truth.is_empty() {
        return 1.0;
    }
    let found = &found[..k.min(found.len())];
    let hits = truth
        .iter()
        .filter(|t| found.iter().any(|f| f.id == t.id))
        .count();
    hits as f64 / truth.len() as f64
}
// ANCHOR_END: recall
