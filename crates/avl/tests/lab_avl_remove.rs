//! Grades the lab `avl-remove`: removal, and the order statistics (`rank`,
//! `select`, and the by-rank operations behind `pop_first`, `pop_last` and
//! the entry API).
//!
//! Trees are built with `collect` or `insert` (lab `avl-insert`), then judged
//! with `check_invariants()` (invariants 1–4) and a `BTreeMap` or sorted
//! `Vec` model.

use std::collections::BTreeMap;

use avl::AvlMap;
use avl::shapes::fibonacci_tree;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

// Random inserts and removes against a BTreeMap: the same return values and
// entries, and the invariants after every operation.
#[test]
fn remove_matches_a_model() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let key_range = rng.random_range(4..300u32);
        let mut model: BTreeMap<u32, u32> = (0..key_range)
            .filter(|_| rng.random_bool(0.5))
            .map(|k| (k, k))
            .collect();
        let mut map: AvlMap<u32, u32> = model.iter().map(|(&k, &v)| (k, v)).collect();
        for step in 0..300u32 {
            let key = rng.random_range(0..key_range);
            if rng.random_bool(0.6) {
                assert_eq!(
                    map.remove(&key),
                    model.remove(&key),
                    "seed {seed}, step {step}: remove({key})"
                );
            } else {
                assert_eq!(map.insert(key, step), model.insert(key, step));
            }
            map.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}, step {step}, key {key}: {e}"));
            assert_eq!(map.len(), model.len(), "seed {seed}, step {step}: len");
        }
        assert!(map.iter().eq(model.iter()), "seed {seed}: entries differ");
    });
}

// Removing every key, in a random order, down to the empty map; a key that
// is absent (or already removed) gives None and changes nothing.
#[test]
fn remove_every_key_in_random_order() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(1..500u32);
        let mut map: AvlMap<u32, u32> = (0..n).map(|k| (2 * k, k)).collect();
        let mut keys: Vec<u32> = (0..n).collect();
        keys.shuffle(&mut rng);
        for (removed, &k) in keys.iter().enumerate() {
            assert_eq!(map.remove(&(2 * k + 1)), None, "seed {seed}: absent key");
            assert_eq!(
                map.remove(&(2 * k)),
                Some(k),
                "seed {seed}: remove({})",
                2 * k
            );
            assert_eq!(map.remove(&(2 * k)), None, "seed {seed}: removed twice");
            assert_eq!(map.len(), (n as usize) - removed - 1);
            map.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}, after remove({}): {e}", 2 * k));
        }
        assert!(map.is_empty());
        assert_eq!(map.height(), 0);
    });
}

// Every node of a Fibonacci tree leans left, so removing its largest key
// (a leaf on the short side of every node above it) rebalances on the way up
// at one level in two: a deletion, unlike an insertion, can rotate many times.
#[test]
fn removal_cascades_in_fibonacci_trees() {
    for height in 2..=14u32 {
        let mut map = AvlMap::new();
        for key in fibonacci_tree(height) {
            map.insert(key, ());
        }
        let (&largest, _) = map.last_key_value().unwrap();
        assert_eq!(map.remove(&largest), Some(()));
        map.check_invariants()
            .unwrap_or_else(|e| panic!("height {height}, after removing {largest}: {e}"));
        let stats = map.rotation_stats().remove;
        assert_eq!(
            (stats.single, stats.double),
            (u64::from((height - 1) / 2), 0),
            "Fibonacci tree of height {height}: (single, double) rotations of removing its largest key"
        );
        assert_eq!(map.height(), height as usize - 1, "height {height}");
    }
}

// select(i) is the i-th smallest key and rank(k) the number of smaller keys,
// present or not, as a sorted Vec says.
#[test]
fn rank_and_select_match_a_sorted_vec() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(0..400usize);
        let mut map = AvlMap::new();
        for _ in 0..n {
            map.insert(rng.random_range(0..1000u32), ());
        }
        let sorted: Vec<u32> = map.keys().copied().collect();
        for (i, key) in sorted.iter().enumerate() {
            assert_eq!(
                map.select(i).map(|(k, _)| k),
                Some(key),
                "seed {seed}: select({i})"
            );
        }
        assert_eq!(map.select(sorted.len()), None, "seed {seed}: select(len)");
        for probe in 0..=1000u32 {
            let expected = sorted.partition_point(|&k| k < probe);
            assert_eq!(map.rank(&probe), expected, "seed {seed}: rank({probe})");
        }
    });
}

// pop_first and pop_last remove by rank and drain the map in order.
#[test]
fn pop_first_and_pop_last_drain_in_order() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut model: BTreeMap<u32, u32> = (0..rng.random_range(0..300u32))
            .map(|i| (rng.random_range(0..10_000), i))
            .collect();
        let mut map: AvlMap<u32, u32> = model.iter().map(|(&k, &v)| (k, v)).collect();
        while !model.is_empty() {
            let (got, expected) = if rng.random_bool(0.5) {
                (map.pop_first(), model.pop_first())
            } else {
                (map.pop_last(), model.pop_last())
            };
            assert_eq!(got, expected, "seed {seed}");
            map.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
        assert_eq!((map.pop_first(), map.pop_last()), (None, None));
    });
}

// The entry API finds a key's rank once, then inserts, reads and removes by
// rank: the same steps through BTreeMap's entry API give the same map.
#[test]
fn entry_api_matches_a_model() {
    use std::collections::btree_map::Entry as ModelEntry;

    use avl::map::Entry;

    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut map: AvlMap<u32, u32> = AvlMap::new();
        let mut model: BTreeMap<u32, u32> = BTreeMap::new();
        for step in 0..400 {
            let key = rng.random_range(0..120u32);
            match rng.random_range(0..3) {
                0 => {
                    *map.entry(key).or_insert(0) += 1;
                    *model.entry(key).or_insert(0) += 1;
                }
                1 => {
                    let got = *map.entry(key).and_modify(|n| *n *= 2).or_insert(7);
                    let expected = *model.entry(key).and_modify(|n| *n *= 2).or_insert(7);
                    assert_eq!(
                        got, expected,
                        "seed {seed}, step {step}: and_modify/or_insert({key})"
                    );
                }
                _ => {
                    let got = match map.entry(key) {
                        Entry::Occupied(entry) => Some(entry.remove()),
                        Entry::Vacant(_) => None,
                    };
                    let expected = match model.entry(key) {
                        ModelEntry::Occupied(entry) => Some(entry.remove()),
                        ModelEntry::Vacant(_) => None,
                    };
                    assert_eq!(
                        got, expected,
                        "seed {seed}, step {step}: occupied remove({key})"
                    );
                }
            }
            map.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}, step {step}: {e}"));
        }
        assert!(map.iter().eq(model.iter()), "seed {seed}: entries differ");
    });
}
