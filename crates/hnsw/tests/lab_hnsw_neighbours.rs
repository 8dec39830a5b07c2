//! Graded tests of lab `hnsw-neighbours`: the selection rule (`select`,
//! the paper's heuristic) and linking with pruning (`link`) in
//! `src/index.rs`. Inserting runs through the search of lab `hnsw-search`,
//! which this lab requires. The rule is checked by its defining property
//! on every new node's links (each kept neighbour is diverse, each dropped
//! candidate is covered by a kept one), pruning by the index's own checker
//! after every insert (degree caps, links, the reachability tree), by exact
//! search through tiny degrees, and by full lists that must make room for a
//! much nearer node. Points sit on a small integer grid, so distances are
//! exact and ties (duplicates included) are common.

use hnsw::{FlatIndex, Hnsw, Metric, Params, Selection};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn grid_point(rng: &mut ChaCha8Rng, dimension: usize, side: u32) -> Vec<f32> {
    (0..dimension)
        .map(|_| rng.random_range(0..side) as f32)
        .collect()
}

const HEURISTIC: Selection = Selection::Heuristic {
    extend_candidates: false,
    keep_pruned: false,
};

/// The distance between two items' stored vectors.
fn distance(index: &Hnsw, a: u64, b: u64) -> f32 {
    Metric::L2.distance(index.vector(a).unwrap(), index.vector(b).unwrap())
}

/// Checks that `chosen` (the links item `base` got when it was inserted)
/// is what the heuristic picks with at most `m` places among `candidates`,
/// taken nearest first (ties by id): a candidate is kept when no kept
/// nearer candidate is strictly nearer to it than `base` is, until `m` are
/// kept.
fn check_heuristic(index: &Hnsw, base: u64, candidates: &[u64], chosen: &[u64], m: usize) {
    let key = |id: u64| (distance(index, base, id), id);
    let mut order = candidates.to_vec();
    order.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).unwrap());
    let mut kept: Vec<u64> = chosen.to_vec();
    kept.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).unwrap());
    assert!(
        kept.len() <= m,
        "item {base} got {} links, more than m = {m}",
        kept.len()
    );
    for &c in &kept {
        assert!(
            candidates.contains(&c),
            "item {base} links to {c}, which is not an earlier item"
        );
    }
    let last = kept.last().map(|&c| key(c));
    for &y in &order {
        let to_base = distance(index, base, y);
        let blocker = kept
            .iter()
            .copied()
            .filter(|&c| key(c) < key(y))
            .find(|&c| distance(index, y, c) < to_base);
        if kept.contains(&y) {
            assert!(
                blocker.is_none(),
                "item {base} keeps {y}, but {y} is nearer to the kept {} ({}) than to {base} ({to_base}): \
                 not diverse; links {chosen:?}",
                blocker.unwrap(),
                distance(index, y, blocker.unwrap())
            );
        } else if kept.len() < m || Some(key(y)) < last {
            assert!(
                blocker.is_some(),
                "item {base} drops {y} (distance {to_base}), but no nearer kept neighbour is nearer \
                 to {y} than {base} is; links {chosen:?}"
            );
        }
    }
}

/// Every new node's layer-0 links, right after its insert, are the
/// heuristic's choice among all earlier nodes: with `ef_construction` and
/// `m0` at least the number of nodes, the search finds every node and no
/// list is ever pruned on layer 0.
#[test]
fn a_new_node_links_to_a_diverse_and_covering_set() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(30..150);
        let m = rng.random_range(2..8);
        let dimension = rng.random_range(2..4);
        let params = Params {
            m0: n.max(2 * m),
            ef_construction: n,
            seed,
            selection: HEURISTIC,
            ..Params::new(m)
        };
        let mut index = Hnsw::new(Metric::L2, dimension, params).unwrap();
        for id in 0..n as u64 {
            let entry = index.entry_point();
            index
                .insert(id, &grid_point(&mut rng, dimension, 8))
                .unwrap();
            if entry.is_some() && index.entry_point() == Some(id) {
                // A new entry point also links to the old one.
                continue;
            }
            let candidates: Vec<u64> = (0..id).collect();
            let chosen = index.links(id, 0).unwrap();
            check_heuristic(&index, id, &candidates, &chosen, m);
        }
    });
}

/// With tiny degrees most lists overflow and are pruned; after every insert
/// the index's checker must find every invariant of the module docs intact
/// (degree caps, sane links, and the tree that keeps every node reachable).
#[test]
fn every_insert_keeps_the_invariants_with_tiny_degrees() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(100..300);
        let m = rng.random_range(2..5);
        let params = Params {
            seed,
            ..Params::new(m)
        };
        let mut index = Hnsw::new(Metric::L2, 2, params).unwrap();
        for id in 0..n as u64 {
            index.insert(id, &grid_point(&mut rng, 2, 12)).unwrap();
            if let Err(violation) = index.check_invariants() {
                panic!("m = {m}, after inserting item {id}: {violation}");
            }
        }
    });
}

/// Pruning must never cut a node off: with `ef` at least the number of
/// nodes, the search visits every reachable node, so it finds the exact
/// answer only if every node is still reachable.
#[test]
fn tiny_degrees_still_find_everything_at_large_ef() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(100..300);
        let m = rng.random_range(2..4);
        let params = Params {
            seed,
            ..Params::new(m)
        };
        let mut index = Hnsw::new(Metric::L2, 3, params).unwrap();
        let mut flat = FlatIndex::new(Metric::L2, 3).unwrap();
        for id in 0..n as u64 {
            let v = grid_point(&mut rng, 3, 10);
            index.insert(id, &v).unwrap();
            flat.insert(id, &v).unwrap();
        }
        for _ in 0..20 {
            let query = grid_point(&mut rng, 3, 10);
            let k = rng.random_range(1..10);
            assert_eq!(
                index.search(&query, k, n).unwrap(),
                flat.search(&query, k).unwrap(),
                "m = {m}, n = {n}, query {query:?}, k = {k}, ef = {n}"
            );
        }
    });
}

/// A node whose list is full must still make room when a much nearer node
/// arrives: its list is chosen again, and the newcomer (its nearest
/// candidate by far) wins a place. The test drops a point right next to
/// full nodes and counts how often they link to it; a list that only
/// grows until full and then refuses every newcomer scores zero.
#[test]
fn a_full_list_makes_room_for_a_much_nearer_node() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 300;
        let params = Params {
            seed,
            ..Params::new(4)
        };
        let m0 = params.m0;
        let mut index = Hnsw::new(Metric::L2, 3, params).unwrap();
        for id in 0..n {
            // Coordinates far apart, so that a point one unit from a node is
            // nearer to it than any other node.
            let v: Vec<f32> = grid_point(&mut rng, 3, 1000)
                .iter()
                .map(|x| x * 10.0)
                .collect();
            index.insert(id, &v).unwrap();
        }
        let (mut trials, mut made_room) = (0, 0);
        for host in 0..n {
            if trials == 20 {
                break;
            }
            if index.links(host, 0).unwrap().len() < m0 {
                continue;
            }
            let mut near = index.vector(host).unwrap().to_vec();
            near[0] += 1.0;
            let newcomer = n + host;
            index.insert(newcomer, &near).unwrap();
            trials += 1;
            if index.links(host, 0).unwrap().contains(&newcomer) {
                made_room += 1;
            }
        }
        assert!(trials >= 10, "only {trials} full nodes to try");
        assert!(
            2 * made_room >= trials,
            "only {made_room} of {trials} full nodes linked to a new point one unit away"
        );
    });
}
