//! Grades the lab `avl-join-split`: `join`, `join2`, `split_at` and `split`,
//! through what is built on them: `append`, `split_off`, `retain` and the set
//! operators.
//!
//! Inputs are built with `collect` (no rotation) or `insert`; results are
//! judged with `check_invariants()` and `BTreeMap` / `BTreeSet` models.

use std::collections::{BTreeMap, BTreeSet};

use avl::{AvlMap, AvlSet};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// `n` distinct sorted keys drawn from `low..high`.
fn keys(rng: &mut ChaCha8Rng, n: usize, low: u32, high: u32) -> BTreeSet<u32> {
    let mut keys = BTreeSet::new();
    while keys.len() < n.min((high - low) as usize) {
        keys.insert(rng.random_range(low..high));
    }
    keys
}

// Appending a map whose keys all follow (or all precede) the other's joins
// the two trees: same entries as the model, a valid tree, and only as many
// rotations as the trees are tall, never one per entry.
#[test]
fn append_of_ordered_maps_matches_a_model() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let small = rng.random_range(1..50usize);
        let large = rng.random_range(1..3000usize);
        let (a_len, b_len) = if rng.random_bool(0.5) {
            (small, large)
        } else {
            (large, small)
        };
        let low = keys(&mut rng, a_len, 0, 100_000);
        let high = keys(&mut rng, b_len, 100_000, 200_000);
        // Half the time the receiving map holds the larger keys.
        let (mine, theirs) = if rng.random_bool(0.5) {
            (low, high)
        } else {
            (high, low)
        };
        let mut map: AvlMap<u32, u32> = mine.iter().map(|&k| (k, k)).collect();
        let mut other: AvlMap<u32, u32> = theirs.iter().map(|&k| (k, k)).collect();
        let tallest = map.height().max(other.height()) as u64;
        map.append(&mut other);
        assert!(
            other.is_empty(),
            "seed {seed}: append leaves the other map empty"
        );
        map.check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: after append: {e}"));
        let expected: Vec<u32> = mine.union(&theirs).copied().collect();
        assert!(
            map.keys().copied().eq(expected.iter().copied()),
            "seed {seed}: entries"
        );
        assert!(
            map.iter().all(|(k, v)| k == v),
            "seed {seed}: a value moved to another key"
        );
        let rotations = map.rotation_stats().join.total();
        assert!(
            rotations <= 2 * tallest + 2,
            "seed {seed}: appending two trees of height at most {tallest} rotated {rotations} times"
        );
        assert_eq!(
            map.rotation_stats().insert.total(),
            0,
            "seed {seed}: append inserted one by one"
        );
    });
}

// split_off at any key, present or not, below or above every key, matches
// BTreeMap::split_off, and leaves two valid trees.
#[test]
fn split_off_matches_a_model() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.random_range(0..2000usize);
        let keys = keys(&mut rng, n, 0, 10_000);
        let mut model: BTreeMap<u32, u32> = keys.iter().map(|&k| (k, k / 2)).collect();
        let mut map: AvlMap<u32, u32> = model.iter().map(|(&k, &v)| (k, v)).collect();
        let at = rng.random_range(0..10_002u32).saturating_sub(1);
        let right = map.split_off(&at);
        let model_right = model.split_off(&at);
        for (name, tree, expected) in [("left", &map, &model), ("right", &right, &model_right)] {
            tree.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}: split_off({at}), {name} part: {e}"));
            assert!(
                tree.iter().eq(expected.iter()),
                "seed {seed}: split_off({at}), {name} part"
            );
        }
    });
}

// Union, intersection, difference and symmetric difference (split and join
// all the way down) match BTreeSet's.
#[test]
fn set_operations_match_a_model() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let range = rng.random_range(10..5000u32);
        let a_keys_len = rng.random_range(0..600);
        let a_keys = keys(&mut rng, a_keys_len, 0, range);
        let b_keys_len = rng.random_range(0..600);
        let b_keys = keys(&mut rng, b_keys_len, 0, range);
        let a: AvlSet<u32> = a_keys.iter().copied().collect();
        let b: AvlSet<u32> = b_keys.iter().copied().collect();
        let cases = [
            ("|", &a | &b, &a_keys | &b_keys),
            ("&", &a & &b, &a_keys & &b_keys),
            ("-", &a - &b, &a_keys - &b_keys),
            ("^", &a ^ &b, &a_keys ^ &b_keys),
        ];
        for (op, got, expected) in cases {
            got.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}: a {op} b: {e}"));
            assert!(got.iter().eq(expected.iter()), "seed {seed}: a {op} b");
        }
    });
}

// Appending maps whose keys interleave is a union: on a shared key, the
// appended map's value wins, as in BTreeMap::append.
#[test]
fn overlapping_append_keeps_the_other_maps_values() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let a_keys_len = rng.random_range(1..500);
        let a_keys = keys(&mut rng, a_keys_len, 0, 1000);
        let b_keys_len = rng.random_range(1..500);
        let b_keys = keys(&mut rng, b_keys_len, 0, 1000);
        let mut model: BTreeMap<u32, char> = a_keys.iter().map(|&k| (k, 'a')).collect();
        let mut model_other: BTreeMap<u32, char> = b_keys.iter().map(|&k| (k, 'b')).collect();
        let mut map: AvlMap<u32, char> = model.iter().map(|(&k, &v)| (k, v)).collect();
        let mut other: AvlMap<u32, char> = model_other.iter().map(|(&k, &v)| (k, v)).collect();
        map.append(&mut other);
        model.append(&mut model_other);
        assert!(other.is_empty());
        map.check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(map.iter().eq(model.iter()), "seed {seed}: entries");
    });
}

// retain drops entries by joining what is kept, in one pass.
#[test]
fn retain_matches_a_model() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let modulus = rng.random_range(1..7u32);
        let mut model: BTreeMap<u32, u32> = (0..rng.random_range(0..2000u32))
            .map(|k| (k, k % 13))
            .collect();
        let mut map: AvlMap<u32, u32> = model.iter().map(|(&k, &v)| (k, v)).collect();
        map.retain(|_, v| *v % modulus == 0);
        model.retain(|_, v| *v % modulus == 0);
        map.check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(map.iter().eq(model.iter()), "seed {seed}: entries");
    });
}
