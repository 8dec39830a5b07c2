//! The parallel build: the same graph whatever the number of threads, a
//! sound graph, recall like the sequential build's, and all-or-nothing
//! input checking.

use hnsw::{FlatIndex, Hnsw, Metric, Params, data, recall_at_k};

fn items(points: &data::Dataset) -> Vec<(u64, &[f32])> {
    points
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, v))
        .collect()
}

#[test]
fn the_graph_does_not_depend_on_the_number_of_threads() {
    let points = data::clustered(3_000, 16, 10, 0.2, 21);
    let build = |threads| {
        let mut index = Hnsw::new(Metric::L2, 16, Params::new(8)).unwrap();
        index.insert_parallel(&items(&points), threads).unwrap();
        index.check_invariants().unwrap();
        index.to_bytes()
    };
    let one = build(1);
    assert_eq!(build(2), one);
    assert_eq!(build(5), one);
}

#[test]
fn recall_matches_the_sequential_build() {
    let mut points = data::clustered(10_200, 64, 10, 0.15, 42);
    let queries = points.split_off(10_000);
    let mut parallel = Hnsw::new(Metric::L2, 64, Params::new(16)).unwrap();
    parallel.insert_parallel(&items(&points), 2).unwrap();
    parallel.check_invariants().unwrap();
    let mut exact = FlatIndex::new(Metric::L2, 64).unwrap();
    for (id, v) in points.iter().enumerate() {
        exact.insert(id as u64, v).unwrap();
    }
    let recall = queries
        .iter()
        .map(|q| {
            recall_at_k(
                &parallel.search(q, 10, 64).unwrap(),
                &exact.search(q, 10).unwrap(),
                10,
            )
        })
        .sum::<f64>()
        / queries.len() as f64;
    eprintln!("parallel build: mean recall@10 at ef = 64: {recall:.4}");
    assert!(recall >= 0.95, "{recall}");
}

#[test]
fn bad_input_anywhere_inserts_nothing() {
    let points = data::uniform(2_000, 4, 3);
    let mut index = Hnsw::new(Metric::L2, 4, Params::new(4)).unwrap();
    index.insert(5_000, &[0.0; 4]).unwrap();
    let mut bad = items(&points);
    let nan = [0.0, f32::NAN, 0.0, 0.0];
    bad[1_500].1 = &nan;
    assert!(matches!(
        index.insert_parallel(&bad, 2),
        Err(hnsw::Error::NonFinite { .. })
    ));
    let mut twice = items(&points);
    twice[1_999].0 = 7;
    assert!(matches!(
        index.insert_parallel(&twice, 2),
        Err(hnsw::Error::DuplicateId(7))
    ));
    let clash = [(5_000u64, &[1.0f32; 4][..])];
    assert!(matches!(
        index.insert_parallel(&clash, 2),
        Err(hnsw::Error::DuplicateId(5_000))
    ));
    assert_eq!(index.len(), 1);
    // After the failures, a good batch goes in, mixed with removals.
    index.insert_parallel(&items(&points), 2).unwrap();
    for id in (0..2_000).step_by(4) {
        index.remove(id).unwrap();
    }
    index.check_invariants().unwrap();
    assert_eq!(index.len(), 1 + 1_500);
}
