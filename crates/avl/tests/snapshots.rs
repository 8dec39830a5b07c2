//! The four rotation cases and a cascading deletion, drawn in ASCII and
//! pinned with insta snapshots (`tests/snapshots/*.snap`, reviewed like code).
//!
//! Each case shows the unbalanced tree that plain BST insertion would build
//! (an [`avl::Bst`]: AVL trees never hold it) and the AVL tree after the
//! rotation, and checks the rotation counters name the right case.

use avl::{AvlMap, Bst, RotationStats, Rotations};

/// Inserts `keys` into both trees and renders "before" (BST) and "after" (AVL).
fn rotation_case(keys: [u32; 3]) -> (String, RotationStats) {
    let bst = Bst::from_keys(keys);
    let mut avl = AvlMap::new();
    for key in keys {
        avl.insert(key, ());
    }
    avl.check_invariants().unwrap();
    let before = bst.shape();
    let drawing = format!(
        "insert {keys:?}\n\nwithout rebalancing (balance check: {}):\n{}\nAVL tree:\n{}",
        match before.check_avl_balance() {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        },
        before.to_ascii(),
        avl.to_ascii()
    );
    (drawing, avl.rotation_stats())
}

fn single() -> RotationStats {
    RotationStats {
        insert: Rotations {
            single: 1,
            double: 0,
        },
        ..RotationStats::default()
    }
}

fn double() -> RotationStats {
    RotationStats {
        insert: Rotations {
            single: 0,
            double: 1,
        },
        ..RotationStats::default()
    }
}

// ANCHOR: ll
#[test]
fn rotation_ll() {
    let (drawing, stats) = rotation_case([3, 2, 1]);
    assert_eq!(stats, single());
    insta::assert_snapshot!(drawing);
}
// ANCHOR_END: ll

#[test]
fn rotation_rr() {
    let (drawing, stats) = rotation_case([1, 2, 3]);
    assert_eq!(stats, single());
    insta::assert_snapshot!(drawing);
}

#[test]
fn rotation_lr() {
    let (drawing, stats) = rotation_case([3, 1, 2]);
    assert_eq!(stats, double());
    insta::assert_snapshot!(drawing);
}

#[test]
fn rotation_rl() {
    let (drawing, stats) = rotation_case([1, 3, 2]);
    assert_eq!(stats, double());
    insta::assert_snapshot!(drawing);
}

/// The key of the Fibonacci tree of `height` whose deletion rotates most, the
/// smallest such key on a tie, and how many rotations it performs.
fn most_cascading_deletion(height: u32) -> (u64, u64) {
    let keys = avl::shapes::fibonacci_tree(height);
    let tree: AvlMap<u64, ()> = keys.iter().fold(AvlMap::new(), |mut m, &k| {
        m.insert(k, ());
        m
    });
    let mut best = (0, 0);
    for key in 0..keys.len() as u64 {
        let mut copy = tree.clone();
        copy.reset_rotation_stats();
        copy.remove(&key);
        let rotations = copy.rotation_stats().remove.total();
        if rotations > best.1 {
            best = (key, rotations);
        }
    }
    best
}

// ANCHOR: cascade
#[test]
fn cascading_deletion() {
    // In a Fibonacci tree every node already leans one way; removing a key on
    // the short side tips one node after another on the way up.
    let (key, rotations) = most_cascading_deletion(6);
    assert!(
        rotations >= 2,
        "a deletion in the Fibonacci tree of height 6 rotates {rotations} times"
    );
    // Insert one by one (`collect` would build a perfectly balanced tree).
    let mut tree = AvlMap::new();
    for k in avl::shapes::fibonacci_tree(6) {
        tree.insert(k, ());
    }
    let before = tree.to_ascii();
    tree.remove(&key);
    tree.check_invariants().unwrap();
    assert_eq!(tree.rotation_stats().remove.total(), rotations);
    insta::assert_snapshot!(format!(
        "Fibonacci tree of height 6, remove {key} ({rotations} rotations)\n\nbefore:\n{before}\nafter:\n{}",
        tree.to_ascii()
    ));
}
// ANCHOR_END: cascade
