//! Grades the lab `avl-insert`: rotations, rebalancing and insertion.
//!
//! Every test builds trees with `AvlMap::insert` only, and judges them with
//! things the lab does not write: `check_invariants()` (invariants 1–4), a
//! `BTreeMap` model, the drawing of a perfectly balanced tree built by
//! `collect` (which never rotates), and the rotation counters.

use std::collections::BTreeMap;

use avl::AvlMap;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

fn inserted(keys: impl IntoIterator<Item = u32>) -> AvlMap<u32, ()> {
    let mut map = AvlMap::new();
    for key in keys {
        map.insert(key, ());
        map.check_invariants()
            .unwrap_or_else(|e| panic!("after inserting {key}: {e}"));
    }
    map
}

/// A perfectly balanced tree of `keys`, built without any insertion.
fn balanced(keys: impl IntoIterator<Item = u32>) -> AvlMap<u32, ()> {
    keys.into_iter().map(|k| (k, ())).collect()
}

// The four cases of the rotations chapter: three keys in each order that
// unbalances the root end as the same balanced tree, with one single (LL,
// RR) or one double (LR, RL) rotation.
#[test]
fn four_rotation_cases() {
    let cases: [(&str, [u32; 3], u64, u64); 4] = [
        ("LL", [3, 2, 1], 1, 0),
        ("RR", [1, 2, 3], 1, 0),
        ("LR", [3, 1, 2], 0, 1),
        ("RL", [1, 3, 2], 0, 1),
    ];
    let expected = balanced(1..=3).to_ascii();
    for (name, order, single, double) in cases {
        let map = inserted(order);
        assert_eq!(
            map.to_ascii(),
            expected,
            "case {name}: inserting {order:?} gives this tree:\n{}",
            map.to_ascii()
        );
        let stats = map.rotation_stats().insert;
        assert_eq!(
            (stats.single, stats.double),
            (single, double),
            "case {name}: (single, double) rotations counted; a double rotation counts once, as a double"
        );
    }
}

// Random inserts, with repeated keys, against a BTreeMap: the same return
// values, the same entries, and the invariants after every insert.
#[test]
fn insert_matches_a_model() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let key_range = rng.random_range(4..400u32);
        let mut map = AvlMap::new();
        let mut model = BTreeMap::new();
        for step in 0..300u32 {
            let key = rng.random_range(0..key_range);
            assert_eq!(
                map.insert(key, step),
                model.insert(key, step),
                "seed {seed}, step {step}: insert({key}) returned the wrong old value"
            );
            map.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}, step {step}, after insert({key}): {e}"));
            assert_eq!(map.len(), model.len(), "seed {seed}, step {step}: len");
        }
        assert!(
            map.iter().eq(model.iter()),
            "seed {seed}: the entries differ from the model's"
        );
        for key in 0..key_range {
            assert_eq!(map.get(&key), model.get(&key), "seed {seed}: get({key})");
        }
    });
}

// Sorted and reverse-sorted keys, the worst orders for a plain BST, build a
// perfectly balanced AVL tree when there are 2^k − 1 of them, with one
// single rotation for every key but k of them.
#[test]
fn sorted_inserts_build_perfect_trees() {
    for k in 1..=10u32 {
        let n = (1u32 << k) - 1;
        for (name, map) in [
            ("ascending", inserted(0..n)),
            ("descending", inserted((0..n).rev())),
        ] {
            assert_eq!(map.len(), n as usize, "{name} 0..{n}: len");
            assert_eq!(map.height(), k as usize, "{name} 0..{n}: height");
            let stats = map.rotation_stats().insert;
            assert_eq!(
                (stats.single, stats.double),
                (u64::from(n - k), 0),
                "{name} 0..{n}: (single, double) rotations"
            );
            if k <= 5 {
                assert_eq!(
                    map.to_ascii(),
                    balanced(0..n).to_ascii(),
                    "{name} 0..{n}: the tree is not the perfectly balanced one"
                );
            }
        }
    }
}

// An insertion rotates at most once, and only when a new key arrives:
// replacing a value leaves the tree's shape and the counters alone.
#[test]
fn at_most_one_rotation_per_insert() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut map = AvlMap::new();
        for step in 0..400u32 {
            let key = rng.random_range(0..200u32);
            let before = map.rotation_stats().insert.total();
            let shape = map.contains_key(&key).then(|| map.shape());
            let old = map.insert(key, step);
            let rotations = map.rotation_stats().insert.total() - before;
            if old.is_some() {
                assert_eq!(
                    rotations, 0,
                    "seed {seed}, step {step}: replacing the value of {key} rotated"
                );
                assert_eq!(
                    Some(map.shape()),
                    shape,
                    "seed {seed}, step {step}: replacing the value of {key} changed the tree"
                );
            } else {
                assert!(
                    rotations <= 1,
                    "seed {seed}, step {step}: inserting {key} counted {rotations} rotations"
                );
            }
        }
        map.check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    });
}

/// A key whose `Ord` ignores its tag, to see which of two equal keys is kept.
#[derive(Debug, Clone, Copy)]
struct Tagged {
    key: u32,
    tag: u32,
}

impl PartialEq for Tagged {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Tagged {}
impl PartialOrd for Tagged {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Tagged {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

// As in BTreeMap, inserting a key that is already present replaces the value
// and keeps the key that was stored first.
#[test]
fn equal_keys_keep_the_first_key() {
    let mut map = AvlMap::new();
    for key in [5, 2, 8, 1, 9, 3] {
        assert_eq!(map.insert(Tagged { key, tag: 0 }, 'a'), None);
    }
    for key in [5, 1, 9] {
        assert_eq!(map.insert(Tagged { key, tag: 1 }, 'b'), Some('a'));
    }
    let entries: Vec<(u32, u32, char)> = map.iter().map(|(k, v)| (k.key, k.tag, *v)).collect();
    assert_eq!(
        entries,
        [
            (1, 0, 'b'),
            (2, 0, 'a'),
            (3, 0, 'a'),
            (5, 0, 'b'),
            (8, 0, 'a'),
            (9, 0, 'b')
        ]
    );
    map.check_invariants().unwrap();
}
