//! The paper's scaling claim, measured in the cost model that no machine
//! changes: the distance evaluations of a search grow far more slowly than
//! the number of vectors, while recall stays high, so the saving is not
//! bought by returning worse answers.
//!
//! What the paper establishes is narrower than "HNSW search is O(log n)":
//! Malkov & Yashunin (§4.2.1) derive an O(log n) bound only for layers that
//! are exact Delaunay graphs with bounded average degree, which the real
//! layers merely approximate, and confirm the logarithmic growth by
//! simulation on low-dimensional data; high dimension is left open. This
//! test is one more such experiment (8-d clustered data), not a proof —
//! as the book's hierarchy chapter says.
//!
//! One index is grown from `SMALL` to `16 × SMALL` vectors of clustered
//! 8-d data and searched at a fixed `ef` at both sizes. The same experiment,
//! up to 64,000 vectors and also at 32 dimensions, is the book's figure
//! `hnsw-scaling.svg` (`visualizations/src/hnsw_figures.rs`).

use hnsw::{FlatIndex, Hnsw, Metric, Params, data, recall_at_k};

const SMALL: usize = 1_000;
const GROWTH: usize = 16;
const DIMENSION: usize = 8;
const QUERIES: usize = 200;
const EF: usize = 64;
const K: usize = 10;

/// Mean distance evaluations per query and mean recall@10 at `EF`.
fn measure(index: &Hnsw, exact: &FlatIndex, queries: &data::Dataset) -> (f64, f64) {
    let mut evaluations = 0u64;
    let mut recall = 0.0;
    for q in queries.iter() {
        let (found, trace) = index.search_traced(q, K, EF).unwrap();
        evaluations += trace.distance_evaluations;
        recall += recall_at_k(&found, &exact.search(q, K).unwrap(), K);
    }
    let count = queries.len() as f64;
    (evaluations as f64 / count, recall / count)
}

// ANCHOR: scaling
#[test]
fn search_cost_grows_far_slower_than_n_while_recall_stays_high() {
    let large = SMALL * GROWTH;
    let mut points = data::clustered(large + QUERIES, DIMENSION, 10, 0.15, 2_024);
    let queries = points.split_off(large);
    let params = Params {
        ef_construction: 100,
        ..Params::new(16)
    };
    let mut index = Hnsw::new(Metric::L2, DIMENSION, params).unwrap();
    let mut exact = FlatIndex::new(Metric::L2, DIMENSION).unwrap();
    let mut measured = Vec::new();
    for n in [SMALL, large] {
        let items: Vec<(u64, &[f32])> = (index.len()..n)
            .map(|id| (id as u64, points.vector(id)))
            .collect();
        index.insert_parallel(&items, 2).unwrap();
        for &(id, v) in &items {
            exact.insert(id, v).unwrap();
        }
        measured.push(measure(&index, &exact, &queries));
    }
    let [(small_cost, small_recall), (large_cost, large_recall)] = measured[..] else {
        unreachable!("two sizes")
    };
    let growth = large_cost / small_cost;
    eprintln!(
        "n = {SMALL}: {small_cost:.0} evaluations, recall {small_recall:.4}; \
         n = {large}: {large_cost:.0} evaluations, recall {large_recall:.4}; growth {growth:.2}×"
    );
    // The answers stay good at both sizes (measured: 1.0000 at both).
    assert!(
        small_recall >= 0.98 && large_recall >= 0.98,
        "recall {small_recall:.4} at n = {SMALL}, {large_recall:.4} at n = {large}"
    );
    // An exact scan grows 16×; a cost ∝ √n would grow 4×. Measured here:
    // 173 → 493 evaluations, 2.85× (data seeds 1 to 8 instead of 2,024:
    // 2.69× to 2.79×). That is above the asymptotic log n ratio,
    // ln 16,000 / ln 1,000 = 1.4, because at n = 1,000 an ef of 64 already
    // covers much of a cluster of 100 vectors, so the small index is cheap
    // for its size. The bound 3.5 (23% above the measurement) fails if the
    // cost grows like n^0.45 or faster.
    assert!(
        growth < 3.5,
        "distance evaluations grew {growth:.2}× as n grew {GROWTH}× \
         ({small_cost:.0} → {large_cost:.0})"
    );
}
// ANCHOR_END: scaling
