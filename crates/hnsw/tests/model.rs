//! The index against a model: a map of the live items, searched exactly.
//! After every mutation the checker runs; a search with `ef` at least the
//! number of live items must equal the exact answer, because the layer-0
//! search then visits every reachable node (invariant 5).

use std::collections::BTreeMap;

use hnsw::{FlatIndex, Hnsw, Metric, Params, Selection};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, [i8; 3]),
    Remove(u8),
    Search([i8; 3], u8),
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40, any::<[i8; 3]>()).prop_map(|(id, v)| Op::Insert(id, v)),
        2 => (0u8..40).prop_map(Op::Remove),
        3 => (any::<[i8; 3]>(), 1u8..12).prop_map(|(q, k)| Op::Search(q, k)),
        1 => Just(Op::Compact),
    ]
}

fn vector(v: [i8; 3]) -> Vec<f32> {
    // Small integer grids make equal distances common: ties must be handled.
    v.iter().map(|&x| f32::from(x / 16)).collect()
}

fn config() -> Config {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    match config.rng_seed {
        RngSeed::Random => Config {
            rng_seed: RngSeed::Fixed(0x5EED_5EED),
            ..config
        },
        RngSeed::Fixed(_) => config,
    }
}

fn run(params: Params, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut index = Hnsw::new(Metric::L2, 3, params).unwrap();
    let mut model: BTreeMap<u64, Vec<f32>> = BTreeMap::new();
    for op in ops {
        match *op {
            Op::Insert(id, v) => {
                let id = u64::from(id);
                let result = index.insert(id, &vector(v));
                match model.entry(id) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        prop_assert!(matches!(result, Err(hnsw::Error::DuplicateId(d)) if d == id));
                    }
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        prop_assert!(result.is_ok());
                        slot.insert(vector(v));
                    }
                }
            }
            Op::Remove(id) => {
                let id = u64::from(id);
                let result = index.remove(id);
                prop_assert_eq!(result.is_ok(), model.remove(&id).is_some());
            }
            Op::Search(q, k) => {
                let query = vector(q);
                let k = usize::from(k);
                let mut exact = FlatIndex::new(Metric::L2, 3).unwrap();
                for (&id, v) in &model {
                    exact.insert(id, v).unwrap();
                }
                let found = index.search(&query, k, model.len().max(1)).unwrap();
                let truth = exact.search(&query, k).unwrap();
                prop_assert_eq!(found, truth);
            }
            Op::Compact => {
                index.compact();
                prop_assert_eq!(index.nodes(), model.len());
            }
        }
        prop_assert_eq!(index.len(), model.len());
        if let Err(violation) = index.check_invariants() {
            return Err(TestCaseError::fail(format!("after {op:?}: {violation}")));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn heuristic_selection_matches_the_model(ops in prop::collection::vec(op(), 1..120)) {
        let params = Params { m: 3, m0: 6, ef_construction: 8, ..Params::new(3) };
        run(params, &ops)?;
    }

    #[test]
    fn simple_selection_matches_the_model(ops in prop::collection::vec(op(), 1..120)) {
        let params = Params {
            m: 2,
            m0: 4,
            ef_construction: 4,
            selection: Selection::Simple,
            ..Params::new(2)
        };
        run(params, &ops)?;
    }

    #[test]
    fn heuristic_with_both_options_matches_the_model(
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let params = Params {
            m: 2,
            m0: 4,
            ef_construction: 6,
            selection: Selection::Heuristic { extend_candidates: true, keep_pruned: true },
            ..Params::new(2)
        };
        run(params, &ops)?;
    }
}

// ANCHOR: first_search
#[test]
fn a_search_returns_at_most_the_live_items() {
    let mut index = Hnsw::new(Metric::L2, 2, Params::new(4)).unwrap();
    for (id, point) in [[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0]]
        .iter()
        .enumerate()
    {
        index.insert(id as u64, point).unwrap();
    }
    let found = index.search(&[0.0, 0.0], 10, 10).unwrap();
    let ids: Vec<u64> = found.iter().map(|r| r.id).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
    let distances: Vec<f32> = found.iter().map(|r| r.distance).collect();
    assert_eq!(distances, [0.0, 1.0, 4.0, 18.0], "squared L2 distances");
}
// ANCHOR_END: first_search
