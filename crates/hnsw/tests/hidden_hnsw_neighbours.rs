//! Hidden graded tests of lab `hnsw-neighbours` (`select` and `link` in
//! `src/index.rs`): the heuristic's two options and the simple rule. With
//! `extend_candidates` a new node's links must still be pairwise diverse;
//! with either option, or with the simple rule, pruning must keep every
//! invariant of the module docs after every insert.

use hnsw::{Hnsw, Metric, Params, Selection};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn grid_point(rng: &mut ChaCha8Rng, dimension: usize, side: u32) -> Vec<f32> {
    (0..dimension)
        .map(|_| rng.random_range(0..side) as f32)
        .collect()
}

fn distance(index: &Hnsw, a: u64, b: u64) -> f32 {
    Metric::L2.distance(index.vector(a).unwrap(), index.vector(b).unwrap())
}

/// With the candidates' own neighbours added to the pool, the rule is the
/// same: no kept neighbour is strictly nearer to a farther kept one than
/// the new node is, and at most `m` are kept.
#[test]
fn extended_candidates_still_give_diverse_links() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(30..200);
        let m = rng.random_range(2..8);
        let params = Params {
            m0: n.max(2 * m),
            ef_construction: rng.random_range(1..20),
            seed,
            selection: Selection::Heuristic {
                extend_candidates: true,
                keep_pruned: false,
            },
            ..Params::new(m)
        };
        let mut index = Hnsw::new(Metric::L2, 2, params).unwrap();
        for id in 0..n as u64 {
            let entry = index.entry_point();
            index.insert(id, &grid_point(&mut rng, 2, 16)).unwrap();
            if entry.is_some() && index.entry_point() == Some(id) {
                continue;
            }
            let links = index.links(id, 0).unwrap();
            assert!(
                links.len() <= m,
                "item {id}: {} links, m = {m}",
                links.len()
            );
            let key = |c: u64| (distance(&index, id, c), c);
            for &a in &links {
                for &b in &links {
                    if key(a) < key(b) {
                        assert!(
                            distance(&index, b, a) >= distance(&index, b, id),
                            "item {id} keeps {b}, which is nearer to the kept {a} than to {id}; \
                             links {links:?}"
                        );
                    }
                }
            }
        }
    });
}

/// Every selection rule prunes full lists without breaking an invariant.
#[test]
fn every_rule_keeps_the_invariants_with_tiny_degrees() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let selection = match seed % 3 {
            0 => Selection::Simple,
            1 => Selection::Heuristic {
                extend_candidates: false,
                keep_pruned: true,
            },
            _ => Selection::Heuristic {
                extend_candidates: true,
                keep_pruned: true,
            },
        };
        let m = rng.random_range(2..4);
        let params = Params {
            seed,
            selection,
            ..Params::new(m)
        };
        let mut index = Hnsw::new(Metric::L2, 2, params).unwrap();
        for id in 0..200 {
            index.insert(id, &grid_point(&mut rng, 2, 6)).unwrap();
            if let Err(violation) = index.check_invariants() {
                panic!("{selection:?}, m = {m}, after inserting item {id}: {violation}");
            }
        }
    });
}
