//! Answers to the book's exercises, one test each. A chapter's exercise names
//! the test that checks it; try the exercise before reading the test.

mod support;

use std::ops::Bound::{Excluded, Included, Unbounded};
use std::panic::{AssertUnwindSafe, catch_unwind};

use avl::shapes::{fibonacci_tree, fibonacci_tree_size, zigzag};
use avl::{AvlMap, AvlSet, Bst};

fn avl_from(keys: impl IntoIterator<Item = u64>) -> AvlMap<u64, ()> {
    let mut map = AvlMap::new();
    for k in keys {
        map.insert(k, ());
    }
    map
}

// Chapter "Binary search trees": zig-zag order degenerates an unbalanced BST
// just as badly as sorted order.
#[test]
fn exercise_bst_zigzag_height() {
    for n in [1, 2, 10, 1000] {
        assert_eq!(Bst::from_keys(zigzag(n)).height(), n as usize);
    }
    // ...while the AVL tree stays logarithmic: not minimal (10), but far
    // below the bound (14 for 1,000 keys).
    assert_eq!(avl_from(zigzag(1000)).height(), 12);
}

// Chapter "The AVL invariant": which insertion orders of 1..=4 give an
// unbalanced BST? (Answer: those whose BST has a node with balance ±2.)
#[test]
fn exercise_which_orders_are_balanced() {
    let orders: [[u32; 4]; 4] = [[2, 1, 3, 4], [1, 2, 3, 4], [3, 1, 4, 2], [4, 1, 3, 2]];
    let balanced: Vec<bool> = orders
        .iter()
        .map(|keys| Bst::from_keys(*keys).shape().check_avl_balance().is_ok())
        .collect();
    assert_eq!(balanced, [true, false, true, false]);
}

// Chapter "The height bound": the fewest nodes an AVL tree of height 7 can
// have, and the tallest AVL tree with 1,000 nodes.
#[test]
fn exercise_min_nodes_height_7() {
    assert_eq!(fibonacci_tree_size(7), 33);
    let map = avl_from(fibonacci_tree(7));
    assert_eq!((map.len(), map.height()), (33, 7));
}

// Chapter "The height bound": the tallest AVL tree with 1,000 nodes.
#[test]
fn exercise_max_height_1000_nodes() {
    // N(14) = 986 ≤ 1000 < N(15) = 1596.
    let tallest = (0..30).filter(|&h| fibonacci_tree_size(h) <= 1000).max();
    assert_eq!(tallest, Some(14));
    // Build one: the Fibonacci tree of height 14 plus 14 keys hung below its
    // largest key keep height 14.
    let mut map = avl_from(fibonacci_tree(14));
    for k in 0..14 {
        map.insert(10_000 + k, ());
    }
    assert_eq!((map.len(), map.height()), (1000, 14));
}

// Chapter "Rotations and insertion": rotations to insert 1..=15 in order.
#[test]
fn exercise_rotations_sorted_15() {
    let map = avl_from(1..=15);
    let stats = map.rotation_stats().insert;
    assert_eq!((stats.single, stats.double), (11, 0));
    assert_eq!(map.height(), 4, "a perfect tree");
}

// Chapter "Rotations and insertion": for each insertion order of three keys,
// whether the last insertion rotates, and how (single, double).
#[test]
fn exercise_double_rotation_orders() {
    let orders = [
        [1, 2, 3],
        [1, 3, 2],
        [2, 1, 3],
        [2, 3, 1],
        [3, 1, 2],
        [3, 2, 1],
    ];
    let rotations: Vec<(u64, u64)> = orders
        .into_iter()
        .map(|keys| {
            let stats = avl_from(keys).rotation_stats().insert;
            (stats.single, stats.double)
        })
        .collect();
    assert_eq!(
        rotations,
        [(1, 0), (0, 1), (0, 0), (0, 0), (0, 1), (1, 0)],
        "ascending and descending rotate once, the zig-zags twice, root-first orders not at all"
    );
}

// Chapter "Deletion": a single deletion that rotates at two levels.
#[test]
fn exercise_cascading_deletion() {
    let tree = avl_from(fibonacci_tree(6));
    let cascading: Vec<u64> = (0..tree.len() as u64)
        .filter(|key| {
            let mut copy = tree.clone();
            copy.reset_rotation_stats();
            copy.remove(key);
            copy.rotation_stats().remove.total() >= 2
        })
        .collect();
    assert!(cascading.contains(&10), "{cascading:?}");
}

// Chapter "Iterators, ranges and the entry API": which of these ranges panic?
#[test]
fn exercise_range_panics() {
    let map: AvlMap<u32, ()> = (0..10).map(|k| (k, ())).collect();
    let panics = |lo, hi| catch_unwind(AssertUnwindSafe(|| map.range((lo, hi)).count())).is_err();
    support::quiet_expected_panics(&["range start"]);
    assert!(
        !panics(Included(3), Excluded(3)),
        "3..3 is empty, not an error"
    );
    assert!(panics(Excluded(3), Excluded(3)));
    assert!(!panics(Excluded(3), Included(3)), "empty, not an error");
    assert!(panics(Included(4), Included(3)));
    assert!(!panics(Unbounded, Excluded(0)));
}

// Chapter "Iterators, ranges and the entry API": count words with one entry
// per word.
#[test]
fn exercise_word_count_entry() {
    let text = "the quick brown fox jumps over the lazy dog the end";
    let mut counts = AvlMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_insert(0u32) += 1;
    }
    assert_eq!(counts["the"], 3);
    assert_eq!(counts.first_key_value(), Some((&"brown", &1)));
    assert_eq!(counts.len(), 9);
}

// Chapter "Augmentation": the median in O(log n), and how many keys lie in a
// range without iterating over them.
#[test]
fn exercise_median() {
    let set: AvlSet<u32> = [9, 1, 8, 2, 7, 3, 6].into_iter().collect();
    assert_eq!(set.select(set.len() / 2), Some(&6));
}

// Chapter "Augmentation": counting the keys in a range with two ranks.
#[test]
fn exercise_count_in_range() {
    let map: AvlMap<u32, ()> = (0..1000).step_by(7).map(|k| (k, ())).collect();
    let count = map.rank(&500) - map.rank(&100);
    assert_eq!(count, map.range(100..500).count());
    assert_eq!(count, 57);
}

// Chapter "Augmentation": joining a tall and a short tree walks down the tall
// tree's spine; the result is at most one taller than the taller input.
#[test]
fn exercise_join_height() {
    let mut tall: AvlMap<u32, ()> = (0..1000).map(|k| (k, ())).collect();
    let mut short: AvlMap<u32, ()> = (2000..2003).map(|k| (k, ())).collect();
    let (h_tall, h_short) = (tall.height(), short.height());
    tall.append(&mut short);
    assert!(tall.height() <= h_tall.max(h_short) + 1);
    assert!(tall.rotation_stats().join.total() <= 1);
    tall.check_invariants().unwrap();
}

// Chapter "Performance": bytes per node for u32 → u32 entries. The key comes
// first (`repr(C)`) and the child pointers need 8-byte alignment, so 4 bytes of
// padding follow a u32 key: 4 + 4 + 16 + 4 + 4 + 1 = 33, rounded up to 40.
#[test]
fn exercise_node_size_u32() {
    assert_eq!(AvlMap::<u32, u32>::NODE_BYTES, 40);
    assert_eq!(AvlMap::<u64, u64>::NODE_BYTES, 40);
    assert_eq!(AvlMap::<u64, ()>::NODE_BYTES, 32);
}
