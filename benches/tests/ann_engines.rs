//! Every HNSW adapter of the benchmarks finds the true neighbours on a small
//! seeded set, under both metrics, and `set_ef` takes effect (for
//! instant-distance it rebuilds the map from its serde form).

use benches::ann::{self, Bench, ENGINES};
use hnsw::{Metric, data};

#[test]
fn every_engine_reaches_high_recall_and_honours_ef() {
    for metric in [Metric::L2, Metric::Cosine] {
        // Uniform 24-d data: hard enough that ef = k misses some neighbours
        // (so raising ef has something to find) for every engine.
        let mut base = data::uniform(2_100, 24, 3);
        let queries = base.split_off(2_000);
        let set = Bench::new("small", base, queries, metric, 10);
        for engine in ENGINES {
            let mut index = ann::build(engine, &set.base, metric, 8, 64);
            assert_eq!(index.name(), engine);
            index.set_ef(1);
            let low = set.recall(index.as_mut(), 10);
            index.set_ef(128);
            let high = set.recall(index.as_mut(), 10);
            assert!(high >= 0.95, "{engine} {metric:?}: recall {high} at ef 128");
            assert!(
                high > low,
                "{engine} {metric:?}: ef 128 ({high}) no better than ef 1 ({low})"
            );
            let mut out = Vec::new();
            index.search(set.queries.vector(0), 10, &mut out);
            assert_eq!(out.len(), 10, "{engine} returns k ids");
        }
    }
}
