//! Graded tests of lab `hnsw-search`: the greedy descent through the upper
//! layers (`greedy`) and the beam search on one layer (`search_layer`) in
//! `src/index.rs`. Every index here gets a layer-0 cap `m0` of at least its
//! number of nodes, so no layer-0 list is ever pruned and every node stays
//! reachable whatever rule chose the links: the tests run through the
//! search alone, not through lab `hnsw-neighbours`. Searches are compared
//! with an exact scan (`FlatIndex`), the descent with the links the index
//! reports, and the work done with the size of the graph. Points sit on a
//! small integer grid, so every distance is exact (the same whichever way
//! it is summed) and ties between distances are common.

use hnsw::{FlatIndex, Hnsw, Metric, Neighbor, Params};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// `n` points of dimension `dimension` with integer coordinates in
/// `0..side`.
fn grid_points(rng: &mut ChaCha8Rng, n: usize, dimension: usize, side: u32) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| {
            (0..dimension)
                .map(|_| rng.random_range(0..side) as f32)
                .collect()
        })
        .collect()
}

/// Parameters with degree `m` whose layer-0 cap holds every node.
fn unpruned(m: usize, nodes: usize, seed: u64) -> Params {
    Params {
        m0: nodes.max(2 * m),
        seed,
        ..Params::new(m)
    }
}

/// The HNSW index and the exact index of `points`, under ids 0, 1, 2, ….
fn build(points: &[Vec<f32>], params: Params) -> (Hnsw, FlatIndex) {
    let dimension = points[0].len();
    let mut index = Hnsw::new(Metric::L2, dimension, params).unwrap();
    let mut flat = FlatIndex::new(Metric::L2, dimension).unwrap();
    for (id, v) in points.iter().enumerate() {
        index.insert(id as u64, v).unwrap();
        flat.insert(id as u64, v).unwrap();
    }
    (index, flat)
}

fn ids(results: &[Neighbor]) -> Vec<u64> {
    results.iter().map(|r| r.id).collect()
}

/// With `ef` at least the number of nodes the layer-0 search can never
/// stop early: it must find every node, so the answer is the exact one,
/// ties at the cut included (they break by id).
#[test]
fn search_with_ef_at_least_n_is_exact() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(1..300);
        let m = rng.random_range(2..8);
        let points = grid_points(&mut rng, n, 3, 8);
        let (index, flat) = build(&points, unpruned(m, n, seed));
        for query in grid_points(&mut rng, 20, 3, 8) {
            let k = rng.random_range(1..=15);
            let found = index.search(&query, k, n).unwrap();
            let truth = flat.search(&query, k).unwrap();
            assert_eq!(
                found, truth,
                "n = {n}, m = {m}, query {query:?}, k = {k}, ef = {n}: \
                 the search must equal the exact scan"
            );
        }
    });
}

/// A filter decides what is returned, not where the search may go: nodes
/// it rejects must still be expanded, or the search misses the allowed
/// nodes behind them.
#[test]
fn filtered_search_with_ef_at_least_n_is_exact() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(20..300);
        let points = grid_points(&mut rng, n, 3, 10);
        let (index, flat) = build(&points, unpruned(4, n, seed));
        for _ in 0..10 {
            // A tenth of the ids or more, chosen at random.
            let modulus = rng.random_range(2..10u64);
            let residue = rng.random_range(0..modulus);
            let allow = |id: u64| id % modulus == residue;
            let query = grid_points(&mut rng, 1, 3, 10).remove(0);
            let k = rng.random_range(1..=10);
            let found = index.search_filtered(&query, k, n, allow).unwrap();
            let truth = flat.search_filtered(&query, k, allow).unwrap();
            assert_eq!(
                found, truth,
                "n = {n}, ids ≡ {residue} mod {modulus}, query {query:?}, k = {k}, ef = {n}"
            );
        }
    });
}

/// Removed items stay in the graph as tombstones: the search must walk
/// through them (they may be the only way to the rest) but never return
/// them. The entry point itself may be a tombstone.
#[test]
fn removed_items_are_walked_through_but_never_returned() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(20..300);
        let points = grid_points(&mut rng, n, 3, 10);
        let (mut index, _) = build(&points, unpruned(3, n, seed));
        let mut live = FlatIndex::new(Metric::L2, 3).unwrap();
        let entry = index.entry_point().unwrap();
        for (id, v) in points.iter().enumerate() {
            let id = id as u64;
            if id == entry || rng.random_bool(0.5) {
                index.remove(id).unwrap();
            } else {
                live.insert(id, v).unwrap();
            }
        }
        for query in grid_points(&mut rng, 10, 3, 10) {
            let k = rng.random_range(1..=12);
            let found = index.search(&query, k, n).unwrap();
            let truth = live.search(&query, k).unwrap();
            assert_eq!(
                found,
                truth,
                "n = {n}, {} live, query {query:?}, k = {k}, ef = {n}",
                live.len()
            );
        }
    });
}

/// The (distance, id) pair that orders nodes: nearer first, ties by node
/// number (here equal to the id).
fn key(index: &Hnsw, query: &[f32], id: u64) -> (f32, u64) {
    (Metric::L2.distance(query, index.vector(id).unwrap()), id)
}

/// The descent starts at the entry point on the top layer, moves on each
/// layer only along links and only to a nearer node, stops on each layer
/// at a node none of whose neighbours there is nearer, and starts the next
/// layer down where it stopped.
#[test]
fn the_descent_is_greedy_and_ends_in_local_minima() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(100..400);
        let points = grid_points(&mut rng, n, 4, 12);
        let (index, _) = build(&points, unpruned(3, n, seed));
        let entry = index.entry_point().unwrap();
        let top = index.level(entry).unwrap();
        for query in grid_points(&mut rng, 10, 4, 12) {
            let (_, trace) = index.search_traced(&query, 5, 5).unwrap();
            let layers: Vec<usize> = trace.descent.iter().map(|(layer, _)| *layer).collect();
            assert_eq!(
                layers,
                (1..=top).rev().collect::<Vec<_>>(),
                "the descent visits every layer from the top ({top}) down to 1, once each"
            );
            let mut at = entry;
            for (layer, path) in &trace.descent {
                let layer = *layer;
                assert_eq!(
                    path.first(),
                    Some(&at),
                    "layer {layer}: the walk starts where the layer above ended \
                     (the entry point on the top layer)"
                );
                for step in path.windows(2) {
                    let (from, to) = (step[0], step[1]);
                    assert!(
                        index.links(from, layer).unwrap().contains(&to),
                        "layer {layer}: step {from} -> {to} does not follow a link"
                    );
                    assert!(
                        key(&index, &query, to) < key(&index, &query, from),
                        "layer {layer}: step {from} -> {to} does not get nearer to {query:?}"
                    );
                }
                at = *path.last().unwrap();
                for neighbour in index.links(at, layer).unwrap() {
                    assert!(
                        key(&index, &query, neighbour) > key(&index, &query, at),
                        "layer {layer}: the walk stopped at {at}, but its neighbour \
                         {neighbour} is nearer to {query:?}"
                    );
                }
            }
        }
    });
}

/// With a small `ef` the beam search must stop early: it finds most of
/// the true nearest neighbours while evaluating a small part of the
/// distances, and never evaluates a node twice.
#[test]
fn a_small_beam_is_cheap_and_finds_most_neighbours() {
    strata_lab::for_each_seed(4, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = 2_000;
        let points: Vec<Vec<f32>> = (0..n)
            .map(|_| (0..6).map(|_| rng.random::<f32>()).collect())
            .collect();
        let (index, flat) = build(
            &points,
            Params {
                ef_construction: 64,
                ..unpruned(8, n, seed)
            },
        );
        let (k, ef, queries) = (10, 32, 50);
        let (mut found_total, mut evaluations) = (0usize, 0u64);
        for _ in 0..queries {
            let query: Vec<f32> = (0..6).map(|_| rng.random::<f32>()).collect();
            let (found, trace) = index.search_traced(&query, k, ef).unwrap();
            let truth = ids(&flat.search(&query, k).unwrap());
            found_total += ids(&found).iter().filter(|id| truth.contains(id)).count();
            evaluations += trace.distance_evaluations;
            let mut seen = trace.layer0_evaluated.clone();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(
                seen.len(),
                trace.layer0_evaluated.len(),
                "a node's distance was evaluated twice on layer 0"
            );
        }
        let recall = found_total as f64 / (k * queries) as f64;
        let mean_evaluations = evaluations as f64 / queries as f64;
        assert!(
            recall >= 0.9,
            "recall@{k} at ef = {ef} is {recall:.3}, expected at least 0.9"
        );
        assert!(
            mean_evaluations <= n as f64 / 4.0,
            "{mean_evaluations:.0} distances per search on {n} nodes at ef = {ef}: \
             the search does not stop once its {ef} results are nearer than every candidate"
        );
    });
}
