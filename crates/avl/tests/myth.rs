//! Myth: "a binary tree is AVL-balanced unless some node has a null child" (or
//! its cousin, "balanced means every node has two children or none").
//!
//! The AVL rule is about *heights*: at every node the two subtrees' heights
//! differ by at most one. These tests exhibit the two counter-examples the
//! book's Myth box shows: a tree in which every inner node has both children
//! and which is *not* balanced, and trees with null children that *are*.

use avl::{Bst, InvariantViolation};

/// Whether every inner node has exactly two children (no "null child" below
/// an inner node).
fn no_inner_null_children(keys: &[u32]) -> bool {
    let tree = Bst::from_keys(keys.iter().copied());
    let counts = tree.shape().child_counts();
    !counts.contains_key(&1)
}

// ANCHOR: myth
#[test]
fn two_children_everywhere_yet_unbalanced() {
    // 4 has a leaf on the left and a full tree of height 3 on the right.
    let keys = [4, 2, 8, 6, 10, 5, 7, 9, 11];
    assert!(
        no_inner_null_children(&keys),
        "every inner node has both children"
    );
    let shape = Bst::from_keys(keys).shape();
    let err = shape.check_avl_balance().unwrap_err();
    assert!(
        matches!(err, InvariantViolation::Balance { left_height: 1, right_height: 3, ref node } if node.path.is_empty()),
        "{err}"
    );
}

#[test]
fn null_children_yet_balanced() {
    // The Fibonacci tree of height 5: three of its twelve nodes have exactly
    // one child (and five are leaves), yet it is a valid AVL tree, the
    // tallest one of its size.
    let keys: Vec<u32> = avl::shapes::fibonacci_tree(5)
        .into_iter()
        .map(|k| k as u32)
        .collect();
    let shape = Bst::from_keys(keys.iter().copied()).shape();
    assert_eq!(
        shape.child_counts().get(&1).copied(),
        Some(3),
        "nodes with exactly one child"
    );
    assert_eq!(shape.check_avl_balance(), Ok(()));
}

#[test]
fn a_null_child_can_also_mean_unbalanced() {
    // The chain 1 → 2 → 3 has a null child at the root *and* breaks the rule;
    // the null child is not what makes it unbalanced: the heights 0 and 2 are.
    let err = Bst::from_keys([1, 2, 3])
        .shape()
        .check_avl_balance()
        .unwrap_err();
    assert!(matches!(
        err,
        InvariantViolation::Balance {
            left_height: 0,
            right_height: 2,
            ..
        }
    ));
}
// ANCHOR_END: myth
