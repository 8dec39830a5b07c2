//! What a user relies on: levels follow the paper's law, a stored vector
//! finds itself, recall is high on clustered data and grows with `ef`,
//! duplicates neither hang nor trap, filters and removals are respected.

use hnsw::{FlatIndex, Hnsw, Metric, Neighbor, Params, data, recall_at_k};

fn build(points: &data::Dataset, metric: Metric, params: Params) -> (Hnsw, FlatIndex) {
    let mut index = Hnsw::new(metric, points.dimension, params).unwrap();
    let mut exact = FlatIndex::new(metric, points.dimension).unwrap();
    for (id, v) in points.iter().enumerate() {
        index.insert(id as u64, v).unwrap();
        exact.insert(id as u64, v).unwrap();
    }
    (index, exact)
}

fn assert_well_formed(results: &[Neighbor], index: &Hnsw, query: &[f32], k: usize) {
    assert_eq!(results.len(), k.min(index.len()));
    for pair in results.windows(2) {
        assert!(
            (pair[0].distance, pair[0].id) < (pair[1].distance, pair[1].id),
            "sorted and unique: {pair:?}"
        );
    }
    let query = match index.metric() {
        Metric::Cosine => {
            let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
            query.iter().map(|x| x / norm).collect()
        }
        _ => query.to_vec(),
    };
    for r in results {
        let stored = index.vector(r.id).expect("results are live");
        let recomputed = index.metric().distance(&query, stored);
        assert!(
            (recomputed - r.distance).abs() <= 1e-5 * recomputed.abs().max(1.0),
            "distance of {} recomputes: {} vs {}",
            r.id,
            recomputed,
            r.distance
        );
    }
}

// ANCHOR: levels
#[test]
fn levels_follow_the_geometric_law_within_five_sigma() {
    let m = 16usize;
    let n = 50_000usize;
    let mut index = Hnsw::new(Metric::L2, 1, Params::new(m)).unwrap();
    for i in 0..n {
        index.insert(i as u64, &[i as f32]).unwrap();
    }
    for level in 1..=3u32 {
        let p = (m as f64).powi(-(level as i32));
        let observed = index
            .levels()
            .iter()
            .filter(|&&l| u32::from(l) >= level)
            .count() as f64;
        let expected = n as f64 * p;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (observed - expected).abs() <= 5.0 * sigma,
            "P(level >= {level}): {observed} observed, {expected:.1} ± {sigma:.1} expected"
        );
    }
}
// ANCHOR_END: levels

#[test]
fn a_stored_vector_finds_itself_first() {
    let points = data::uniform(2_000, 24, 11);
    let (index, _) = build(&points, Metric::L2, Params::new(12));
    for (id, v) in points.iter().enumerate() {
        let found = index.search(v, 1, 32).unwrap();
        assert_eq!(found[0].id, id as u64);
        assert_eq!(found[0].distance, 0.0);
    }
}

// ANCHOR: recall
#[test]
fn recall_at_10_is_at_least_0_95_at_ef_64_on_clustered_data() {
    // Queries come from the same clusters: generated with the base, split off.
    let mut points = data::clustered(10_200, 64, 10, 0.15, 42);
    let queries = points.split_off(10_000);
    let (index, exact) = build(&points, Metric::L2, Params::new(16));
    index.check_invariants().unwrap();
    let mut total = 0.0;
    for q in queries.iter() {
        let found = index.search(q, 10, 64).unwrap();
        assert_well_formed(&found, &index, q, 10);
        total += recall_at_k(&found, &exact.search(q, 10).unwrap(), 10);
    }
    let recall = total / queries.len() as f64;
    eprintln!("mean recall@10 at ef = 64: {recall:.4}");
    assert!(recall >= 0.95, "mean recall@10 {recall:.4} at ef = 64");
}
// ANCHOR_END: recall

#[test]
fn mean_recall_does_not_fall_as_ef_grows() {
    let mut points = data::clustered(5_200, 32, 40, 0.2, 5);
    let queries = points.split_off(5_000);
    let params = Params {
        ef_construction: 40,
        ..Params::new(6)
    };
    let (index, exact) = build(&points, Metric::L2, params);
    let truth: Vec<_> = queries
        .iter()
        .map(|q| exact.search(q, 10).unwrap())
        .collect();
    let mut previous = 0.0;
    for ef in [10, 20, 40, 80, 160] {
        let recall = queries
            .iter()
            .zip(&truth)
            .map(|(q, t)| recall_at_k(&index.search(q, 10, ef).unwrap(), t, 10))
            .sum::<f64>()
            / queries.len() as f64;
        assert!(
            recall >= previous,
            "recall {recall:.4} at ef {ef} < {previous:.4}"
        );
        previous = recall;
    }
    assert!(previous > 0.9, "recall at ef 160: {previous}");
}

#[test]
fn every_metric_gives_well_formed_results() {
    let points = data::uniform(1_000, 16, 3);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let (index, _) = build(&points, metric, Params::new(8));
        index.check_invariants().unwrap();
        for q in data::uniform(20, 16, 4).iter() {
            assert_well_formed(&index.search(q, 10, 40).unwrap(), &index, q, 10);
        }
    }
}

#[test]
fn a_thousand_identical_vectors_neither_hang_nor_trap() {
    let mut index = Hnsw::new(Metric::L2, 8, Params::new(4)).unwrap();
    for id in 0..1_000 {
        index.insert(id, &[0.5; 8]).unwrap();
    }
    index.insert(1_000, &[3.0; 8]).unwrap();
    index.check_invariants().unwrap();
    let found = index.search(&[0.5; 8], 50, 60).unwrap();
    assert_eq!(found.len(), 50);
    assert!(found.iter().all(|n| n.distance == 0.0));
    // The one different vector is still found from among the duplicates.
    assert_eq!(index.search(&[3.0; 8], 1, 10).unwrap()[0].id, 1_000);
    assert_eq!(index.search(&[0.5; 8], 1_001, 1_001).unwrap().len(), 1_001);
}

#[test]
fn filtered_search_returns_only_allowed_ids_and_enough_of_them() {
    let mut points = data::clustered(3_030, 16, 10, 0.1, 8);
    let queries = points.split_off(3_000);
    let (index, exact) = build(&points, Metric::L2, Params::new(8));
    for (i, q) in queries.iter().enumerate() {
        // Every 7th id, then a filter allowing only 5 items in all.
        let allow = |id: u64| id % 7 == i as u64 % 7;
        let found = index.search_filtered(q, 10, 40, allow).unwrap();
        assert_eq!(found.len(), 10);
        assert!(found.iter().all(|n| allow(n.id)));
        let truth = exact.search_filtered(q, 10, allow).unwrap();
        assert!(recall_at_k(&found, &truth, 10) >= 0.5);
        let few = |id: u64| id < 5;
        let found = index.search_filtered(q, 10, 10, few).unwrap();
        assert_eq!(found, exact.search_filtered(q, 10, few).unwrap());
    }
}

#[test]
fn removed_ids_never_come_back_until_inserted_again() {
    let points = data::uniform(2_000, 8, 12);
    let (mut index, _) = build(&points, Metric::L2, Params::new(8));
    for id in (0..2_000).step_by(3) {
        index.remove(id).unwrap();
    }
    assert!(matches!(index.remove(0), Err(hnsw::Error::UnknownId(0))));
    index.check_invariants().unwrap();
    for q in points.iter().take(300) {
        let found = index.search(q, 20, 40).unwrap();
        assert_eq!(found.len(), 20, "k results while enough live items remain");
        assert!(found.iter().all(|n| n.id % 3 != 0), "{found:?}");
    }
    // Re-inserting a removed id gives it back, with its new vector.
    index.insert(0, &[9.0; 8]).unwrap();
    assert_eq!(index.search(&[9.0; 8], 1, 10).unwrap()[0].id, 0);
    index.check_invariants().unwrap();
    // Compaction drops the tombstones and keeps every live item findable.
    let live = index.len();
    index.compact();
    index.check_invariants().unwrap();
    assert_eq!(index.nodes(), live);
    for (id, q) in points
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(id, _)| id % 3 != 0)
        .take(200)
    {
        assert_eq!(index.search(q, 1, 32).unwrap()[0].id, id as u64);
    }
}

#[test]
fn a_filter_that_allows_nothing_returns_nothing() {
    let points = data::uniform(500, 4, 1);
    let (index, _) = build(&points, Metric::L2, Params::new(4));
    assert!(
        index
            .search_filtered(points.vector(0), 5, 10, |_| false)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_traced_search_returns_what_search_returns_and_counts_its_work() {
    let points = data::clustered(3_000, 16, 8, 0.1, 41);
    let (index, _) = build(&points, Metric::L2, Params::new(8));
    let entry = index.entry_point().unwrap();
    let top = index.level(entry).unwrap();
    for q in 0..50 {
        let query = data::uniform(1, 16, 1_000 + q).vector(0).to_vec();
        let (found, trace) = index.search_traced(&query, 10, 40).unwrap();
        assert_eq!(found, index.search(&query, 10, 40).unwrap());
        // The descent starts at the entry point on the top layer and visits
        // each layer above 0 once, top down, each leg starting where the one
        // above ended.
        let layers: Vec<usize> = trace.descent.iter().map(|(l, _)| *l).collect();
        assert_eq!(layers, (1..=top).rev().collect::<Vec<_>>());
        if let Some((_, first)) = trace.descent.first() {
            assert_eq!(first[0], entry);
        }
        for pair in trace.descent.windows(2) {
            assert_eq!(pair[1].1[0], *pair[0].1.last().unwrap());
        }
        // Each layer-0 node is evaluated at most once (the visited set).
        let mut seen = trace.layer0_evaluated.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), trace.layer0_evaluated.len());
        assert!(top == 0 || trace.distance_evaluations > trace.layer0_evaluated.len() as u64);
        // A search is cheaper than the exact one.
        assert!(trace.distance_evaluations < points.len() as u64);
    }
}
