//! Hidden graded tests of lab `hnsw-search` (`greedy` and `search_layer`
//! in `src/index.rs`): the search's contract from the module docs, at any
//! `ef`, on indexes with tombstones. As in the visible tests, the layer-0
//! cap holds every node, so the graph is connected whatever rule chose its
//! links, and points sit on an integer grid so distances are exact.

use std::collections::HashSet;

use hnsw::{Hnsw, Metric, Params};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn grid_point(rng: &mut ChaCha8Rng, dimension: usize, side: u32) -> Vec<f32> {
    (0..dimension)
        .map(|_| rng.random_range(0..side) as f32)
        .collect()
}

/// At every `ef`, even below `k`, results are live, unique, sorted by
/// distance then id, carry their true distance, and number `min(k, live)`:
/// a search that has not yet found `ef` items must keep going until it has
/// seen every node it can reach.
#[test]
fn results_are_live_sorted_unique_and_k_long_at_any_ef() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(1..250);
        let m = rng.random_range(2..6);
        let params = Params {
            m0: n.max(2 * m),
            seed,
            ..Params::new(m)
        };
        let mut index = Hnsw::new(Metric::L2, 3, params).unwrap();
        for id in 0..n as u64 {
            index.insert(id, &grid_point(&mut rng, 3, 6)).unwrap();
        }
        let mut live: HashSet<u64> = (0..n as u64).collect();
        for id in 0..n as u64 {
            if rng.random_bool(0.4) {
                index.remove(id).unwrap();
                live.remove(&id);
            }
        }
        for _ in 0..20 {
            let query = grid_point(&mut rng, 3, 6);
            let k = rng.random_range(1..=2 * n);
            let ef = rng.random_range(1..=20);
            let found = index.search(&query, k, ef).unwrap();
            let context = format!("n = {n}, {} live, k = {k}, ef = {ef}", live.len());
            assert_eq!(found.len(), k.min(live.len()), "{context}: result count");
            let mut seen = HashSet::new();
            for r in &found {
                assert!(live.contains(&r.id), "{context}: {} is not live", r.id);
                assert!(seen.insert(r.id), "{context}: {} returned twice", r.id);
                let distance = Metric::L2.distance(&query, index.vector(r.id).unwrap());
                assert_eq!(r.distance, distance, "{context}: distance of {}", r.id);
            }
            for pair in found.windows(2) {
                assert!(
                    (pair[0].distance, pair[0].id) < (pair[1].distance, pair[1].id),
                    "{context}: not sorted by distance then id: {pair:?}"
                );
            }
        }
    });
}
