//! Adversarial insertion orders: sorted, reversed, zig-zag, Fibonacci-tree
//! shapes and seeded random keys. After every single insertion the height
//! must stay below Knuth's bound 1.4405·log₂(n + 2) − 0.3277 and the insertion
//! must have performed at most one rotation (single or double). Deletions
//! keep the bound too, and may rotate more than once.

mod support;

use avl::AvlMap;
use avl::shapes::{self, avl_height_bound, fibonacci_tree, fibonacci_tree_size};
use proptest::prelude::*;

/// Insert `keys` one at a time, checking the bound and the single-rotation
/// rule after each; returns the map.
fn insert_checked(keys: &[u64]) -> AvlMap<u64, ()> {
    let mut map = AvlMap::new();
    for (i, &key) in keys.iter().enumerate() {
        let before = map.rotation_stats().insert.total();
        map.insert(key, ());
        let rotations = map.rotation_stats().insert.total() - before;
        assert!(
            rotations <= 1,
            "insertion {i} (key {key}) performed {rotations} rotations"
        );
        let n = map.len() as u64;
        assert!(
            (map.height() as f64) < avl_height_bound(n),
            "height {} with {n} keys breaks the bound {:.3}",
            map.height(),
            avl_height_bound(n)
        );
    }
    map.check_invariants().expect("valid after all insertions");
    map
}

const N: u64 = 50_000;

// ANCHOR: adversarial
#[test]
fn sorted_keys_stay_within_the_bound() {
    insert_checked(&shapes::sorted(N));
}

#[test]
fn reversed_keys_stay_within_the_bound() {
    insert_checked(&shapes::reversed(N));
}

#[test]
fn zigzag_keys_stay_within_the_bound() {
    insert_checked(&shapes::zigzag(N));
}

#[test]
fn random_keys_stay_within_the_bound() {
    let keys = support::sample(prop::collection::vec(any::<u64>(), N as usize));
    insert_checked(&keys);
}
// ANCHOR_END: adversarial

// ANCHOR: fibonacci_bound
#[test]
fn fibonacci_trees_are_the_tallest_avl_trees() {
    for height in 1..=22u32 {
        let keys = fibonacci_tree(height);
        let map = insert_checked(&keys);
        assert_eq!(map.len() as u64, fibonacci_tree_size(height));
        assert_eq!(
            map.height(),
            height as usize,
            "Fibonacci tree of height {height}"
        );
        assert_eq!(
            map.rotation_stats().insert.total(),
            0,
            "level-order insertion never rotates"
        );
        // The bound leaves no room for a taller tree of this size: the
        // Fibonacci tree is as tall as an AVL tree with N(h) nodes can be.
        let bound = avl_height_bound(fibonacci_tree_size(height));
        assert!(
            bound - (height as f64) < 1.0,
            "h = {height}, bound {bound:.3}"
        );
    }
}
// ANCHOR_END: fibonacci_bound

#[test]
fn every_node_of_a_fibonacci_tree_leans_left() {
    let map = insert_checked(&fibonacci_tree(8));
    let shape = map.shape();
    // The drawing marks no node unbalanced...
    assert!(!shape.to_svg().contains("#c0392b"));
    // ...and every inner node has balance −1 (the right side is one shorter).
    assert_eq!(shape.check_avl_balance(), Ok(()));
    let balances = shape.balance_factor_counts();
    assert_eq!(balances.get(&1), None, "no node leans right");
    // Balance 0 only at the leaves: F(8) = 21 of them; −1 everywhere else.
    assert_eq!(balances.get(&0).copied(), Some(21));
    assert_eq!(balances.get(&-1).copied(), Some(map.len() - 21));
}

#[test]
fn deletions_keep_the_bound_and_may_cascade() {
    let keys = support::sample(prop::collection::vec(any::<u16>(), 20_000));
    let mut map: AvlMap<u16, ()> = AvlMap::new();
    for &k in &keys {
        map.insert(k, ());
    }
    let mut most_rotations = 0;
    for &k in keys.iter().rev().step_by(2) {
        let before = map.rotation_stats().remove.total();
        map.remove(&k);
        most_rotations = most_rotations.max(map.rotation_stats().remove.total() - before);
        assert!((map.height() as f64) < avl_height_bound(map.len() as u64));
    }
    map.check_invariants().expect("valid after deletions");
    assert!(most_rotations >= 1, "deletions rotated at least once");
}
