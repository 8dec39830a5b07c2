//! Answers to the exercises of Part III of the book, one test each. A
//! chapter's exercise names the test that checks it; try the exercise
//! before reading the test.
//!
//! Every data set comes from `hnsw::data` or a ChaCha8 stream with a fixed
//! seed, and every index from `Params` with a fixed seed, so each run
//! checks the same graphs. The tests assert counts and relations (recall,
//! distance evaluations, links), never timings.

use std::cell::Cell;
use std::path::Path;
use std::process::Command;

use hnsw::data::{self, Dataset};
use hnsw::{Error, FlatIndex, Hnsw, Metric, Neighbor, Params, Selection, metric, recall_at_k};
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

const SEED: u64 = 0x5EED_5EED;

/// An index of `points` under ids 0, 1, 2, … in order.
fn build(points: &Dataset, metric: Metric, params: Params) -> Hnsw {
    let mut index = Hnsw::new(metric, points.dimension, params).unwrap();
    for (id, v) in points.iter().enumerate() {
        index.insert(id as u64, v).unwrap();
    }
    index
}

/// The exact index of the same points.
fn exact(points: &Dataset, metric: Metric) -> FlatIndex {
    let mut flat = FlatIndex::new(metric, points.dimension).unwrap();
    for (id, v) in points.iter().enumerate() {
        flat.insert(id as u64, v).unwrap();
    }
    flat
}

/// `single_layer` of `tests/book_numbers.rs` (the book's listing):
/// every node on layer 0.
fn single_layer(params: Params) -> Params {
    Params {
        level_multiplier: 1e-9,
        ..params
    }
}

/// Mean distance evaluations per search, and mean recall@k against `flat`.
fn cost_and_recall(
    index: &Hnsw,
    flat: &FlatIndex,
    queries: &Dataset,
    k: usize,
    ef: usize,
) -> (f64, f64) {
    let (mut evaluations, mut recall) = (0u64, 0.0);
    for q in queries.iter() {
        let (found, trace) = index.search_traced(q, k, ef).unwrap();
        evaluations += trace.distance_evaluations;
        recall += recall_at_k(&found, &flat.search(q, k).unwrap(), k);
    }
    let n = queries.len() as f64;
    (evaluations as f64 / n, recall / n)
}

fn ids(results: &[Neighbor]) -> Vec<u64> {
    results.iter().map(|r| r.id).collect()
}

// ---------------------------------------------------------------------------
// Chapter "Embeddings and vector search"
// ---------------------------------------------------------------------------

// An index answers with what it holds: never more results than live items,
// nearest first, each with its distance.
// An embedding has one fixed length per model: the index refuses anything
// else, and anything that is not a finite number.
#[test]
fn exercise_an_index_holds_one_dimension_of_finite_vectors() {
    let mut index = Hnsw::new(Metric::L2, 3, Params::new(4)).unwrap();
    assert!(matches!(
        index.insert(1, &[1.0, 2.0]),
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 2
        })
    ));
    assert!(matches!(
        index.insert(1, &[1.0, f32::INFINITY, 0.0]),
        Err(Error::NonFinite { index: 1, .. })
    ));
    index.insert(1, &[1.0, 2.0, 3.0]).unwrap();
    assert!(matches!(
        index.insert(1, &[0.0; 3]),
        Err(Error::DuplicateId(1))
    ));
    assert!(matches!(
        index.search(&[1.0; 4], 1, 10),
        Err(Error::DimensionMismatch {
            expected: 3,
            got: 4
        })
    ));
    assert_eq!(index.len(), 1);
}

// ---------------------------------------------------------------------------
// Chapter "Exact search and the curse of dimensionality"
// ---------------------------------------------------------------------------

// Equal distances are ordered by id, so the exact answer is unique.
#[test]
fn exercise_flat_search_breaks_ties_by_id() {
    let mut flat = FlatIndex::new(Metric::L2, 2).unwrap();
    for (id, point) in [
        (9, [1.0, 0.0]),
        (3, [0.0, 1.0]),
        (5, [-1.0, 0.0]),
        (7, [0.0, 0.5]),
    ] {
        flat.insert(id, &point).unwrap();
    }
    let found = flat.search(&[0.0, 0.0], 3).unwrap();
    assert_eq!(ids(&found), [7, 3, 5]);
}

// Relative contrast (farthest − nearest) / nearest, in Euclidean distance,
// averaged over queries: it falls as the dimension grows (Beyer et al.).
#[test]
fn exercise_distances_concentrate_as_dimension_grows() {
    let mut contrasts = Vec::new();
    for dimension in [2usize, 8, 32, 128, 512] {
        let points = data::uniform(1_000, dimension, SEED);
        let queries = data::uniform(20, dimension, SEED + 1);
        let mut total = 0.0f64;
        for q in queries.iter() {
            let distances: Vec<f64> = points
                .iter()
                .map(|p| f64::from(Metric::L2.distance(q, p)).sqrt())
                .collect();
            let nearest = distances.iter().copied().fold(f64::INFINITY, f64::min);
            let farthest = distances.iter().copied().fold(0.0, f64::max);
            total += (farthest - nearest) / nearest;
        }
        contrasts.push(total / queries.len() as f64);
    }
    eprintln!("relative contrast at d = 2, 8, 32, 128, 512: {contrasts:.3?}");
    for pair in contrasts.windows(2) {
        assert!(pair[1] < pair[0], "{contrasts:?}");
    }
    assert!(contrasts[0] > 10.0, "{contrasts:?}");
    assert!(contrasts[4] < 0.5, "{contrasts:?}");
}

// recall@k compares sets of ids: order inside the first k does not matter,
// what lies beyond k does not count, and distances are never looked at.
#[test]
fn exercise_recall_counts_ids_not_positions() {
    let n = |id, distance| Neighbor { id, distance };
    let truth = [n(1, 0.1), n(2, 0.2), n(3, 0.3), n(4, 0.4)];
    let reversed = [n(3, 0.3), n(2, 0.2), n(1, 0.1)];
    assert_eq!(recall_at_k(&reversed, &truth, 3), 1.0);
    let one_wrong = [n(1, 0.1), n(2, 0.2), n(9, 0.35), n(4, 0.4)];
    assert!((recall_at_k(&one_wrong, &truth, 3) - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(recall_at_k(&[], &truth, 3), 0.0);
    assert_eq!(recall_at_k(&[], &[], 3), 1.0);
}

// ---------------------------------------------------------------------------
// Chapter "Navigable small worlds"
// ---------------------------------------------------------------------------

// On one layer, a search with ef = 1 is a greedy walk: it stops at the first
// node none of whose neighbours is closer, which need not be the nearest.
// A wider search (ef = 32) escapes most of those local minima.
#[test]
fn exercise_greedy_routing_stops_in_local_minima() {
    let mut points = data::clustered(3_050, 16, 20, 0.1, SEED);
    let queries = points.split_off(3_000);
    let params = single_layer(Params {
        ef_construction: 32,
        ..Params::new(4)
    });
    let index = build(&points, Metric::L2, params);
    assert!(index.levels().iter().all(|&level| level == 0));
    let flat = exact(&points, Metric::L2);
    let misses = |ef| {
        queries
            .iter()
            .filter(|q| {
                let found = index.search(q, 1, ef).unwrap();
                found[0].id != flat.search(q, 1).unwrap()[0].id
            })
            .count()
    };
    let (greedy, wide) = (misses(1), misses(32));
    eprintln!("nearest missed: {greedy} of 50 at ef = 1, {wide} at ef = 32");
    assert!(greedy > 0);
    assert!(wide < greedy);
}

// A single layer built from points on a line in sorted order has only short
// links, so a search from the first point must walk the whole way. Built in
// random order, early links are long (the graph was sparse when they were
// made) and the walk is far shorter.
#[test]
fn exercise_long_links_shorten_the_walk() {
    let n = 2_000usize;
    let params = single_layer(Params {
        ef_construction: 16,
        selection: Selection::Simple,
        ..Params::new(4)
    });
    let line = |order: &[usize]| {
        let mut index = Hnsw::new(Metric::L2, 1, params).unwrap();
        for &i in order {
            index.insert(i as u64, &[i as f32]).unwrap();
        }
        index
    };
    let sorted: Vec<usize> = (0..n).collect();
    let mut shuffled = sorted.clone();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(SEED));
    let mut rng = ChaCha8Rng::seed_from_u64(SEED + 1);
    let queries: Vec<f32> = (0..100).map(|_| rng.random_range(0.0..n as f32)).collect();
    let mean_evaluations = |index: &Hnsw| {
        queries
            .iter()
            .map(|&q| {
                index
                    .search_traced(&[q], 1, 8)
                    .unwrap()
                    .1
                    .distance_evaluations
            })
            .sum::<u64>() as f64
            / queries.len() as f64
    };
    let (short, long) = (
        mean_evaluations(&line(&sorted)),
        mean_evaluations(&line(&shuffled)),
    );
    eprintln!("mean distance evaluations: sorted {short:.0}, shuffled {long:.0}");
    assert!(long * 4.0 < short, "{long} vs {short}");
}

// ---------------------------------------------------------------------------
// Chapter "The hierarchy"
// ---------------------------------------------------------------------------

// With m = 4, P(level ≥ l) = 4^−l: each layer holds about a quarter of the
// nodes of the layer below, and the entry point is on the top level.
#[test]
fn exercise_levels_are_geometric() {
    let (m, n) = (4usize, 20_000usize);
    let params = Params {
        ef_construction: 8,
        ..Params::new(m)
    };
    let mut index = Hnsw::new(Metric::L2, 1, params).unwrap();
    for i in 0..n {
        index.insert(i as u64, &[i as f32]).unwrap();
    }
    let mut counts = Vec::new();
    for level in 1..=4 {
        let p = (m as f64).powi(-level);
        let observed = index
            .levels()
            .iter()
            .filter(|&&l| i32::from(l) >= level)
            .count() as f64;
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (observed - n as f64 * p).abs() <= 5.0 * sigma,
            "level {level}: {observed} vs {}",
            n as f64 * p
        );
        counts.push(observed);
    }
    let top = *index.levels().iter().max().unwrap() as usize;
    eprintln!("nodes at level >= 1..4: {counts:?}; top level {top}");
    assert_eq!(index.level(index.entry_point().unwrap()), Some(top));
    assert!(
        (5..=10).contains(&top),
        "log_4 20000 is about 7.1; top {top}"
    );
}

// The greedy descent never moves away from the query: along the whole path,
// layer after layer, the distance only falls (or stays, on a tie broken
// towards the lower node number).
#[test]
fn exercise_the_descent_only_gets_closer() {
    let points = data::clustered(5_000, 2, 10, 0.05, SEED);
    let index = build(&points, Metric::L2, Params::new(4));
    let queries = data::uniform(100, 2, SEED + 1);
    let mut longest = 0;
    for q in queries.iter() {
        let (_, trace) = index.search_traced(q, 1, 1).unwrap();
        let path: Vec<f32> = trace
            .descent
            .iter()
            .flat_map(|(_, ids)| ids.iter())
            .map(|&id| Metric::L2.distance(q, index.vector(id).unwrap()))
            .collect();
        for pair in path.windows(2) {
            assert!(pair[1] <= pair[0], "{path:?}");
        }
        longest = longest.max(path.len());
    }
    eprintln!("longest descent: {longest} nodes");
    assert!(longest >= 5);
}

// The same points on one layer and in a hierarchy. On clustered data a
// greedy walk (ef = 1) on one layer often ends in the wrong cluster; the
// layers above take it near the query first. On uniform data both find the
// answer, the hierarchy with fewer distance evaluations.
#[test]
fn exercise_the_hierarchy_finds_a_better_start() {
    let params = Params {
        ef_construction: 32,
        ..Params::new(6)
    };
    let clustered = data::clustered(10_100, 4, 100, 0.01, SEED);
    let (points, queries) = {
        let mut points = clustered;
        let queries = points.split_off(10_000);
        (points, queries)
    };
    let flat = exact(&points, Metric::L2);
    let layered = build(&points, Metric::L2, params);
    let single = build(&points, Metric::L2, single_layer(params));
    let (_, layered_recall) = cost_and_recall(&layered, &flat, &queries, 1, 1);
    let (_, single_recall) = cost_and_recall(&single, &flat, &queries, 1, 1);
    eprintln!(
        "clustered, ef = 1: nearest found {layered_recall:.2} (layers), {single_recall:.2} (one layer)"
    );
    assert!(layered_recall >= 0.8);
    assert!(layered_recall > single_recall + 0.1);

    let points = data::uniform(20_000, 2, SEED);
    let queries = data::uniform(100, 2, SEED + 1);
    let flat = exact(&points, Metric::L2);
    let layered = build(&points, Metric::L2, params);
    let single = build(&points, Metric::L2, single_layer(params));
    let (layered_cost, layered_recall) = cost_and_recall(&layered, &flat, &queries, 10, 10);
    let (single_cost, single_recall) = cost_and_recall(&single, &flat, &queries, 10, 10);
    eprintln!(
        "uniform, ef = 10: {layered_cost:.0} evaluations, recall {layered_recall:.3} (layers); \
         {single_cost:.0}, {single_recall:.3} (one layer)"
    );
    assert!(layered_recall >= single_recall);
    assert!(layered_cost * 1.25 < single_cost);
}

// Flipping the sign of some coordinates of every vector changes no
// distance, so it changes nothing in the graph: HNSW never looks at a
// coordinate or a hyperplane, only at distances.
#[test]
fn exercise_the_graph_sees_only_distances() {
    let points = data::clustered(1_000, 16, 8, 0.2, SEED);
    let mut flipped = points.clone();
    for (i, x) in flipped.data.iter_mut().enumerate() {
        if i % 2 == 1 {
            *x = -*x;
        }
    }
    let params = Params {
        ef_construction: 32,
        ..Params::new(6)
    };
    let a = build(&points, Metric::L2, params);
    let b = build(&flipped, Metric::L2, params);
    assert_eq!(a.levels(), b.levels());
    assert_eq!(a.entry_point(), b.entry_point());
    for id in 0..points.len() as u64 {
        for layer in 0..=a.level(id).unwrap() {
            assert_eq!(
                a.links(id, layer),
                b.links(id, layer),
                "id {id} layer {layer}"
            );
        }
    }
    let q = points.vector(17);
    let q_flipped = flipped.vector(17);
    assert_eq!(
        a.search(q, 10, 20).unwrap(),
        b.search(q_flipped, 10, 20).unwrap()
    );
}

// ---------------------------------------------------------------------------
// Chapter "Insertion and neighbour selection"
// ---------------------------------------------------------------------------

// Invariant 1: at most m0 = 2m links on layer 0 and m above, and full lists
// do occur (so pruning has run).
#[test]
fn exercise_degree_caps_hold_and_are_reached() {
    let (m, m0) = (6, 12);
    let points = data::clustered(3_000, 16, 10, 0.2, SEED);
    let index = build(&points, Metric::L2, Params::new(m));
    assert_eq!(index.params().m0, m0);
    let (mut widest0, mut widest_upper) = (0, 0);
    for id in 0..points.len() as u64 {
        widest0 = widest0.max(index.links(id, 0).unwrap().len());
        for layer in 1..=index.level(id).unwrap() {
            widest_upper = widest_upper.max(index.links(id, layer).unwrap().len());
        }
    }
    eprintln!("most links: {widest0} on layer 0, {widest_upper} above");
    assert_eq!(widest0, m0);
    assert_eq!(widest_upper, m);
}

/// `clusters` tight clusters far apart: point `i` belongs to cluster
/// `i % clusters`.
fn separated_clusters(count: usize, clusters: usize, dimension: usize) -> Dataset {
    let centres = data::uniform(clusters, dimension, SEED);
    let noise = data::uniform(count, dimension, SEED + 1);
    let mut data = Vec::with_capacity(count * dimension);
    for i in 0..count {
        let centre = centres.vector(i % clusters);
        data.extend(
            centre
                .iter()
                .zip(noise.vector(i))
                .map(|(c, e)| c + 0.02 * e),
        );
    }
    Dataset { dimension, data }
}

// On well-separated clusters the simple rule links each node to its own
// cluster only; the heuristic keeps links that point elsewhere, bridges
// between clusters, and a search from far away finds its way in.
#[test]
fn exercise_the_heuristic_links_across_clusters() {
    let clusters = 20;
    let points = separated_clusters(2_000, clusters, 8);
    let flat = exact(&points, Metric::L2);
    let queries = data::uniform(50, 8, SEED + 2);
    let measure = |selection| {
        // ef_construction above the cluster size (100), so that candidate
        // lists reach into other clusters.
        let params = Params {
            selection,
            ef_construction: 300,
            ..Params::new(6)
        };
        let index = build(&points, Metric::L2, params);
        let cross: usize = (0..points.len() as u64)
            .map(|id| {
                let links = index.links(id, 0).unwrap();
                links
                    .iter()
                    .filter(|&&n| n % clusters as u64 != id % clusters as u64)
                    .count()
            })
            .sum();
        (cross, cost_and_recall(&index, &flat, &queries, 10, 10).1)
    };
    let (simple, simple_recall) = measure(Selection::Simple);
    let (heuristic, heuristic_recall) = measure(Selection::Heuristic {
        extend_candidates: false,
        keep_pruned: false,
    });
    eprintln!(
        "layer-0 links between clusters: simple {simple}, heuristic {heuristic}; \
         recall@10 at ef = 10: simple {simple_recall:.3}, heuristic {heuristic_recall:.3}"
    );
    assert!(heuristic > 10 * simple, "{heuristic} vs {simple}");
    assert!(heuristic_recall > simple_recall + 0.2);
}

// With m = m0 = 2, the simple rule and many identical vectors, pruning
// would cut nodes off; the spanning tree keeps every one reachable, so a
// search with ef = n finds them all.
#[test]
fn exercise_every_item_stays_reachable_with_tiny_degrees() {
    let params = Params {
        m: 2,
        m0: 2,
        ef_construction: 4,
        selection: Selection::Simple,
        ..Params::new(2)
    };
    let base = data::uniform(200, 2, SEED);
    let mut index = Hnsw::new(Metric::L2, 2, params).unwrap();
    for copy in 0..5u64 {
        for (i, v) in base.iter().enumerate() {
            index.insert(copy * 1_000 + i as u64, v).unwrap();
        }
    }
    index.check_invariants().unwrap();
    let n = index.len();
    assert_eq!(n, 1_000);
    for q in base.iter().take(20) {
        let found = index.search(q, n, n).unwrap();
        assert_eq!(found.len(), n);
    }
}

// The first PARALLEL_BOOTSTRAP items go in one at a time, so a parallel
// build of fewer is exactly the sequential one; beyond, batches are planned
// against the graph before the batch, which changes the graph, but never
// with the number of threads.
#[test]
fn exercise_parallel_build_depends_on_batches_not_threads() {
    assert_eq!(hnsw::PARALLEL_BOOTSTRAP, 1_024);
    let points = data::clustered(2_000, 8, 10, 0.2, SEED);
    let items: Vec<(u64, &[f32])> = points
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, v))
        .collect();
    let params = Params {
        ef_construction: 32,
        ..Params::new(6)
    };
    let parallel = |items: &[(u64, &[f32])], threads| {
        let mut index = Hnsw::new(Metric::L2, 8, params).unwrap();
        index.insert_parallel(items, threads).unwrap();
        index.check_invariants().unwrap();
        index.to_bytes()
    };
    let sequential = |count: usize| {
        let mut index = Hnsw::new(Metric::L2, 8, params).unwrap();
        for &(id, v) in &items[..count] {
            index.insert(id, v).unwrap();
        }
        index.to_bytes()
    };
    assert_eq!(parallel(&items[..1_000], 2), sequential(1_000));
    let one = parallel(&items, 1);
    assert_eq!(parallel(&items, 3), one);
    assert_ne!(sequential(items.len()), one);
}

// ---------------------------------------------------------------------------
// Chapter "Search and ef"
// ---------------------------------------------------------------------------

// ef is raised to k: a list of fewer than k candidates could not hold k
// results.
#[test]
fn exercise_ef_below_k_is_raised_to_k() {
    let points = data::clustered(2_000, 16, 10, 0.2, SEED);
    let index = build(&points, Metric::L2, Params::new(8));
    for q in data::uniform(20, 16, SEED + 1).iter() {
        let narrow = index.search(q, 10, 1).unwrap();
        assert_eq!(narrow.len(), 10);
        assert_eq!(narrow, index.search(q, 10, 10).unwrap());
    }
}

// With ef at least the number of items the layer-0 search expands every
// reachable node, and invariant 5 makes that every node: the answer is
// exact. With a small ef it is not always.
#[test]
fn exercise_ef_at_least_n_is_exact() {
    let points = data::uniform(600, 32, SEED);
    let params = Params {
        ef_construction: 16,
        ..Params::new(4)
    };
    let index = build(&points, Metric::L2, params);
    let flat = exact(&points, Metric::L2);
    let mut inexact = 0;
    for q in data::uniform(50, 32, SEED + 1).iter() {
        let truth = flat.search(q, 10).unwrap();
        assert_eq!(index.search(q, 10, 600).unwrap(), truth);
        if index.search(q, 10, 10).unwrap() != truth {
            inexact += 1;
        }
    }
    eprintln!("{inexact} of 50 searches at ef = 10 differ from the exact answer");
    assert!(inexact > 0);
}

// Each step up in ef costs more distance evaluations and finds at least as
// many of the true neighbours, on average.
#[test]
fn exercise_larger_ef_costs_more_and_finds_more() {
    let mut points = data::clustered(5_100, 32, 20, 0.2, SEED);
    let queries = points.split_off(5_000);
    let params = Params {
        ef_construction: 64,
        ..Params::new(8)
    };
    let index = build(&points, Metric::L2, params);
    let flat = exact(&points, Metric::L2);
    let mut previous = (0.0, 0.0);
    for ef in [10, 20, 40, 80, 160] {
        let (cost, recall) = cost_and_recall(&index, &flat, &queries, 10, ef);
        eprintln!("ef {ef}: {cost:.0} evaluations, recall@10 {recall:.4}");
        assert!(cost > previous.0, "ef {ef}");
        assert!(recall >= previous.1, "ef {ef}");
        previous = (cost, recall);
    }
    assert!(previous.1 >= 0.95);
}

// Ties are expanded. Every copy of a plateau of identical vectors is at the
// same distance from the query, and the one nearer vector can only be
// reached through the copies: the search must walk across the plateau. Had
// it admitted only nodes strictly nearer than the worst result (the paper's
// `<`), then with ef = 1 it would stop at the copies next to its start.
#[test]
fn exercise_a_search_walks_across_a_plateau_of_ties() {
    let copies = 1_000u64;
    let mut index = Hnsw::new(Metric::L2, 8, Params::new(4)).unwrap();
    for id in 0..copies {
        index.insert(id, &[0.5; 8]).unwrap();
    }
    let distinct = copies;
    index.insert(distinct, &[3.0; 8]).unwrap();
    // On layer 0 only, so the descent cannot land on it; and not a
    // neighbour of the entry point, where the search starts.
    assert_eq!(index.level(distinct), Some(0));
    let entry = index.entry_point().unwrap();
    assert!(!index.links(entry, 0).unwrap().contains(&distinct));
    let linked_from = (0..copies)
        .filter(|&id| index.links(id, 0).unwrap().contains(&distinct))
        .count();
    let (found, trace) = index.search_traced(&[3.0; 8], 1, 1).unwrap();
    eprintln!(
        "{linked_from} of {copies} copies link to the distinct vector; \
         the search evaluated {} distances on layer 0",
        trace.layer0_evaluated.len()
    );
    assert_eq!(found[0].id, distinct);
    assert_eq!(found[0].distance, 0.0);
}

/// Five copies of one vector under ids 14, 13, 12, 11, 10 (in that order),
/// among 500 other points.
fn five_copies() -> (Hnsw, FlatIndex) {
    let others = data::uniform(500, 4, SEED);
    let mut index = Hnsw::new(Metric::L2, 4, Params::new(8)).unwrap();
    let mut flat = FlatIndex::new(Metric::L2, 4).unwrap();
    for id in (10..15).rev() {
        index.insert(id, &[5.0; 4]).unwrap();
        flat.insert(id, &[5.0; 4]).unwrap();
    }
    for (i, v) in others.iter().enumerate() {
        index.insert(100 + i as u64, v).unwrap();
        flat.insert(100 + i as u64, v).unwrap();
    }
    (index, flat)
}

// Results are sorted by distance, then id. But which of several equally
// near items make the cut is decided during the search, by node number
// (insertion order): with ef = k the first-inserted copies win, with ef
// large enough to hold every copy the smallest ids do, as in the exact
// answer.
#[test]
fn exercise_ties_at_the_cut_depend_on_ef() {
    let (index, flat) = five_copies();
    let query = [5.0; 4];
    assert_eq!(ids(&index.search(&query, 3, 3).unwrap()), [12, 13, 14]);
    assert_eq!(ids(&index.search(&query, 3, 5).unwrap()), [10, 11, 12]);
    assert_eq!(ids(&flat.search(&query, 3).unwrap()), [10, 11, 12]);
}

// ---------------------------------------------------------------------------
// Chapter "Deletion, compaction and filters"
// ---------------------------------------------------------------------------

// remove marks a tombstone: the node stays (and can stay the entry point),
// the id is free at once, and re-inserting it makes a new node.
#[test]
fn exercise_remove_leaves_a_tombstone() {
    let points = data::uniform(300, 4, SEED);
    let mut index = build(&points, Metric::L2, Params::new(4));
    let entry = index.entry_point().unwrap();
    index.remove(entry).unwrap();
    index.remove(7).unwrap();
    assert!(matches!(index.remove(7), Err(Error::UnknownId(7))));
    assert_eq!((index.len(), index.nodes()), (298, 300));
    assert_eq!(index.entry_point(), Some(entry));
    assert_eq!(index.vector(7), None);
    index.check_invariants().unwrap();
    let everything = index.search(points.vector(7), 300, 300).unwrap();
    assert_eq!(everything.len(), 298);
    assert!(everything.iter().all(|r| r.id != 7 && r.id != entry));
    index.insert(7, &[9.0; 4]).unwrap();
    assert_eq!((index.len(), index.nodes()), (299, 301));
    assert_eq!(index.search(&[9.0; 4], 1, 10).unwrap()[0].id, 7);
}

// compact rebuilds from the live items in insertion order with the same
// parameters and seed: byte for byte what building them afresh gives.
#[test]
fn exercise_compact_is_a_fresh_build_of_the_live_items() {
    let points = data::clustered(2_000, 8, 10, 0.2, SEED);
    let params = Params {
        ef_construction: 32,
        ..Params::new(6)
    };
    let mut index = build(&points, Metric::L2, params);
    for id in (0..2_000).step_by(3) {
        index.remove(id).unwrap();
    }
    index.compact();
    assert_eq!(index.nodes(), index.len());
    let mut fresh = Hnsw::new(Metric::L2, 8, params).unwrap();
    for (id, v) in points.iter().enumerate().filter(|(id, _)| id % 3 != 0) {
        fresh.insert(id as u64, v).unwrap();
    }
    assert_eq!(index.to_bytes(), fresh.to_bytes());
}

// A filter that allows fewer than k items can never fill the result list,
// so the search never stops early: it asks the filter about every live node.
// An unrestrictive filter is asked about a small part of the graph.
#[test]
fn exercise_a_selective_filter_visits_the_whole_graph() {
    let points = data::clustered(5_000, 16, 20, 0.2, SEED);
    let index = build(&points, Metric::L2, Params::new(8));
    let q = data::uniform(1, 16, SEED + 1).vector(0).to_vec();
    let asked = Cell::new(0usize);
    let found = index
        .search_filtered(&q, 10, 10, |id| {
            asked.set(asked.get() + 1);
            id < 5
        })
        .unwrap();
    assert_eq!(found.len(), 5);
    assert_eq!(asked.get(), 5_000);
    let selective = asked.replace(0);
    index
        .search_filtered(&q, 10, 10, |_| {
            asked.set(asked.get() + 1);
            true
        })
        .unwrap();
    let open = asked.get();
    let one_percent = Cell::new(0usize);
    index
        .search_filtered(&q, 10, 10, |id| {
            one_percent.set(one_percent.get() + 1);
            id.is_multiple_of(100)
        })
        .unwrap();
    eprintln!(
        "filter asked {selective} times (5 allowed), {} (1% allowed), {open} (all allowed)",
        one_percent.get()
    );
    assert!(open * 10 < selective);
}

// Searching first and filtering after (a post-filter) returns only the
// allowed few among the k found; the filtered search returns k.
#[test]
fn exercise_post_filtering_loses_results() {
    let mut points = data::clustered(5_050, 16, 20, 0.2, SEED);
    let queries = points.split_off(5_000);
    let index = build(&points, Metric::L2, Params::new(8));
    let allow = |id: u64| id.is_multiple_of(10);
    let (mut post, mut filtered) = (0, 0);
    for q in queries.iter() {
        post += index
            .search(q, 10, 40)
            .unwrap()
            .iter()
            .filter(|r| allow(r.id))
            .count();
        let found = index.search_filtered(q, 10, 40, allow).unwrap();
        assert_eq!(found.len(), 10);
        filtered += found.len();
    }
    eprintln!("results kept: post-filter {post}, filtered search {filtered} (of 500)");
    assert!(post * 3 < filtered);
}

// Tombstones still cost distance evaluations: a search walks through them.
// After compact the same searches are cheaper.
#[test]
fn exercise_tombstones_cost_work_until_compact() {
    let mut points = data::clustered(5_050, 16, 20, 0.2, SEED);
    let queries = points.split_off(5_000);
    let params = Params {
        ef_construction: 64,
        ..Params::new(8)
    };
    let mut index = build(&points, Metric::L2, params);
    for id in 0..5_000 {
        if id % 5 != 0 {
            index.remove(id).unwrap();
        }
    }
    let cost = |index: &Hnsw| {
        queries
            .iter()
            .map(|q| {
                index
                    .search_traced(q, 10, 10)
                    .unwrap()
                    .1
                    .distance_evaluations
            })
            .sum::<u64>()
    };
    let before = cost(&index);
    index.compact();
    let after = cost(&index);
    eprintln!("distance evaluations: {before} with tombstones, {after} after compact");
    assert!(after * 2 < before);
}

// ---------------------------------------------------------------------------
// Chapter "Making it fast"
// ---------------------------------------------------------------------------

// memory_bytes is the layout, counted: 4 bytes a component, (m0 + 1) u32
// slots on layer 0 and (m + 1) per upper layer, and 42 bytes per node: id 8,
// level 1, tombstone 1, spanning-tree parent 4 and child count 4, and the
// 24-byte `Vec` header of its upper-layer list (on 64-bit targets).
#[test]
fn exercise_memory_bytes_follow_the_layout() {
    let (dimension, m) = (24, 8);
    let points = data::uniform(1_000, dimension, SEED);
    let index = build(&points, Metric::L2, Params::new(m));
    let upper_layers: usize = index.levels().iter().map(|&l| l as usize).sum();
    let n = index.nodes();
    let expected = 4 * n * dimension + 4 * n * (2 * m + 1) + 4 * upper_layers * (m + 1) + 42 * n;
    assert_eq!(index.memory_bytes(), expected);
    // About 1 / (m − 1) upper layers per node.
    let mean = upper_layers as f64 / n as f64;
    eprintln!(
        "upper layers per node: {mean:.4} (1 / (m − 1) = {:.4})",
        1.0 / 7.0
    );
    assert!((mean - 1.0 / 7.0).abs() < 0.05);
}

// Cosine normalises on insert (and the query): a vector and any positive
// multiple of it are the same item as far as the index can tell.
#[test]
fn exercise_cosine_stores_unit_vectors() {
    let mut index = Hnsw::new(Metric::Cosine, 2, Params::new(4)).unwrap();
    index.insert(1, &[3.0, 4.0]).unwrap();
    index.insert(2, &[30.0, 40.0]).unwrap();
    index.insert(3, &[-4.0, 3.0]).unwrap();
    assert_eq!(index.vector(1), Some(&[0.6, 0.8][..]));
    assert_eq!(index.vector(1), index.vector(2));
    assert!(matches!(
        index.insert(4, &[0.0, 0.0]),
        Err(Error::ZeroVector)
    ));
    let found = index.search(&[0.3, 0.4], 3, 10).unwrap();
    assert_eq!(ids(&found), [1, 2, 3]);
    assert!(found[0].distance.abs() < 1e-6);
    assert!((found[2].distance - 1.0).abs() < 1e-6, "orthogonal: 1 − 0");
}

// Inner product is not a metric: a longer vector in the same direction is
// nearer to v than v itself, and distances can be negative.
#[test]
fn exercise_inner_product_is_not_a_metric() {
    let mut index = Hnsw::new(Metric::InnerProduct, 2, Params::new(4)).unwrap();
    index.insert(1, &[0.5, 0.5]).unwrap();
    index.insert(2, &[1.0, 1.0]).unwrap();
    index.insert(3, &[-1.0, 0.0]).unwrap();
    let found = index.search(&[0.5, 0.5], 3, 10).unwrap();
    assert_eq!(ids(&found), [2, 1, 3]);
    assert_eq!(found[0].distance, 0.0);
    assert_eq!(found[1].distance, 0.5, "its own distance is not 0");
    let found = index.search(&[1.0, 1.0], 1, 10).unwrap();
    assert_eq!(found[0].distance, -1.0);
}

// Below sixteen components each of the portable kernel's eight lanes holds
// at most one term, the lanes are added in order and then the rest, which is
// the reference's order: they agree to the bit. From sixteen on a lane sums
// two or more terms, the order differs, and they agree only to a rounding
// error. On a CPU with AVX2 and FMA the dispatching function is the AVX2
// kernel.
#[test]
fn exercise_kernels_agree_exactly_only_below_sixteen_components() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut first_difference = None;
    for len in 0..=1_024usize {
        let a: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f32> = (0..len).map(|_| rng.random_range(-1.0..1.0)).collect();
        let (portable, reference) = (
            metric::l2_squared_portable(&a, &b),
            metric::reference::l2_squared(&a, &b),
        );
        if len < 16 {
            // `==`, not bits: the reference's empty sum is −0.0.
            assert_eq!(portable, reference, "len {len}");
        } else if portable != reference && first_difference.is_none() {
            first_difference = Some(len);
        }
        assert!((portable - reference).abs() <= 1e-5 * (len as f32 + 1.0));
        #[cfg(target_arch = "x86_64")]
        if hnsw::simd::has_avx2_fma() {
            let avx2 = hnsw::simd::l2_squared_avx2(&a, &b);
            assert_eq!(metric::l2_squared(&a, &b).to_bits(), avx2.to_bits());
            assert!((avx2 - reference).abs() <= 1e-5 * (len as f32 + 1.0));
        }
    }
    eprintln!("first length where the portable kernel differs: {first_difference:?}");
    assert!(first_difference.is_some());
}

// ---------------------------------------------------------------------------
// Chapter "Evaluating ANN honestly"
// ---------------------------------------------------------------------------

// recall@k by id counts a tie at the k-th place as a miss: the search below
// returns distances equal to the exact ones, yet its recall is 1/3. Counting
// results no farther than the true k-th distance (as ann-benchmarks does,
// with a small epsilon) gives 1.
#[test]
fn exercise_recall_by_id_undercounts_ties() {
    let (index, flat) = five_copies();
    let query = [5.0; 4];
    let found = index.search(&query, 3, 3).unwrap();
    let truth = flat.search(&query, 3).unwrap();
    let distances = |r: &[Neighbor]| r.iter().map(|n| n.distance).collect::<Vec<_>>();
    assert_eq!(distances(&found), distances(&truth));
    assert!((recall_at_k(&found, &truth, 3) - 1.0 / 3.0).abs() < 1e-12);
    let kth = truth[2].distance;
    let by_distance = found.iter().filter(|r| r.distance <= kth).count() as f64 / 3.0;
    assert_eq!(by_distance, 1.0);
}

fn write_fvecs(path: &Path, points: &Dataset) {
    let mut out = Vec::new();
    for v in points.iter() {
        out.extend_from_slice(&(v.len() as i32).to_le_bytes());
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, out).unwrap();
}

// hnsw-eval with one thread builds with insert (seed 0) and measures recall
// against the exact answer: the same number the library gives.
#[test]
fn exercise_hnsw_eval_reports_the_recall_the_library_computes() {
    let dir = tempfile::tempdir().unwrap();
    let mut points = data::clustered(2_100, 16, 10, 0.2, SEED);
    let queries = points.split_off(2_000);
    let (base_path, query_path) = (
        dir.path().join("base.fvecs"),
        dir.path().join("queries.fvecs"),
    );
    write_fvecs(&base_path, &points);
    write_fvecs(&query_path, &queries);
    let output = Command::new(env!("CARGO_BIN_EXE_hnsw-eval"))
        .args(["--base", base_path.to_str().unwrap()])
        .args(["--queries", query_path.to_str().unwrap()])
        .args([
            "--metric",
            "l2",
            "--k",
            "10",
            "--m",
            "8",
            "--ef-construction",
            "64",
        ])
        .args(["--ef", "10,80", "--threads", "1", "--json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let params = Params {
        ef_construction: 64,
        ..Params::new(8)
    };
    let index = build(&points, Metric::L2, params);
    let flat = exact(&points, Metric::L2);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, ef) in lines.iter().zip([10, 80]) {
        let at = line.find("\"recall\": ").unwrap() + "\"recall\": ".len();
        let reported: f64 = line[at..line[at..].find(',').unwrap() + at]
            .parse()
            .unwrap();
        let (_, recall) = cost_and_recall(&index, &flat, &queries, 10, ef);
        eprintln!("ef {ef}: hnsw-eval {reported}, library {recall:.6}");
        assert!((reported - recall).abs() < 1e-6, "{line}");
    }
}

// Distance evaluations per search grow far more slowly than n: sixteen
// times the points costs well under twice the evaluations.
#[test]
fn exercise_distance_evaluations_grow_slowly_with_n() {
    let queries = data::uniform(100, 4, SEED + 1);
    let params = Params {
        ef_construction: 32,
        ..Params::new(8)
    };
    let mut costs = Vec::new();
    for n in [1_000, 16_000] {
        let points = data::uniform(n, 4, SEED);
        let index = build(&points, Metric::L2, params);
        let total: u64 = queries
            .iter()
            .map(|q| {
                index
                    .search_traced(q, 10, 10)
                    .unwrap()
                    .1
                    .distance_evaluations
            })
            .sum();
        costs.push(total as f64 / queries.len() as f64);
    }
    eprintln!("mean distance evaluations at n = 1,000 and 16,000: {costs:.0?}");
    assert!(costs[1] < 2.0 * costs[0]);
}
