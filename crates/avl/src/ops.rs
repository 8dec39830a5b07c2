//! Search, insertion and deletion on subtrees, by key and by rank.
//!
//! Every mutating function here follows the same discipline, which is what
//! makes the map safe against a panicking `Ord`:
//!
//! 1. **Compare first, change later.** All key comparisons happen on the way
//!    *down*; the tree is modified only on the way back *up*, after the last
//!    comparison. A panic in `Ord::cmp` therefore unwinds through a tree that
//!    has not been touched.
//! 2. **Rank operations never compare keys.** `insert_at`, `remove_at` and
//!    `select` navigate by subtree sizes, so `pop_first`, `pop_last` and the
//!    methods of an entry (once `entry` has found its rank) cannot run user
//!    code at all.

use std::borrow::Borrow;
use std::cmp::Ordering;

use crate::node::{LEFT, Link, Node, RIGHT, Rotations, direction, fix_after_change, height};

// ANCHOR: find
/// The node holding `key`, if any.
///
/// The child is chosen by indexing `children` with the comparison instead of
/// branching on it: for `u64` keys this compiles to a `seta` and an indexed
/// load, so the processor has no left-or-right guess to get wrong. The
/// performance chapter measures it: a clear gain in the arena variant, and
/// within run-to-run noise against the three-arm `match` in this tree.
pub(crate) fn find<'a, K, V, Q>(mut link: &'a Link<K, V>, key: &Q) -> Option<&'a Node<K, V>>
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    while let Some(node) = link {
        match key.cmp(node.key.borrow()) {
            Ordering::Equal => return Some(node),
            ord => link = &node.children[direction(ord)],
        }
    }
    None
}
// ANCHOR_END: find

/// The node holding `key`, if any, mutably.
pub(crate) fn find_mut<'a, K, V, Q>(
    mut link: &'a mut Link<K, V>,
    key: &Q,
) -> Option<&'a mut Node<K, V>>
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    while let Some(node) = link {
        match key.cmp(node.key.borrow()) {
            Ordering::Equal => return Some(node),
            ord => link = &mut node.children[direction(ord)],
        }
    }
    None
}

// ANCHOR: rank
/// The number of keys less than `key`, and whether `key` itself is present.
pub(crate) fn rank<K, V, Q>(mut link: &Link<K, V>, key: &Q) -> (usize, bool)
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    // BEGIN LAB avl-remove
    let mut less = 0;
    while let Some(node) = link {
        match key.cmp(node.key.borrow()) {
            Ordering::Less => link = &node.children[LEFT],
            Ordering::Equal => return (less + node.left_size(), true),
            Ordering::Greater => {
                less += node.left_size() + 1;
                link = &node.children[RIGHT];
            }
        }
    }
    (less, false)
    // END LAB
}

/// The node with exactly `index` smaller keys.
///
/// # Panics
/// If `index` is not less than the size of the subtree.
pub(crate) fn select<K, V>(mut link: &Link<K, V>, mut index: usize) -> &Node<K, V> {
    // BEGIN LAB avl-remove
    loop {
        let node = link.as_ref().expect("select: index within the tree");
        let left_size = node.left_size();
        match index.cmp(&left_size) {
            Ordering::Less => link = &node.children[LEFT],
            Ordering::Equal => return node,
            Ordering::Greater => {
                index -= left_size + 1;
                link = &node.children[RIGHT];
            }
        }
    }
    // END LAB
}
// ANCHOR_END: rank

/// [`select`], mutably.
pub(crate) fn select_mut<K, V>(mut link: &mut Link<K, V>, mut index: usize) -> &mut Node<K, V> {
    // BEGIN LAB avl-remove
    loop {
        let node = link.as_mut().expect("select_mut: index within the tree");
        let left_size = node.left_size();
        match index.cmp(&left_size) {
            Ordering::Less => link = &mut node.children[LEFT],
            Ordering::Equal => return node,
            Ordering::Greater => {
                index -= left_size + 1;
                link = &mut node.children[RIGHT];
            }
        }
    }
    // END LAB
}

// ANCHOR: insert
/// Inserts `key → value`. If the key is present, replaces and returns the old
/// value and leaves the key and the shape alone.
pub(crate) fn insert<K: Ord, V>(
    link: &mut Link<K, V>,
    key: K,
    value: V,
    rotations: &mut Rotations,
) -> Option<V> {
    // BEGIN LAB avl-insert
    let Some(node) = link else {
        *link = Some(Node::leaf(key, value));
        return None;
    };
    let dir = match key.cmp(&node.key) {
        Ordering::Equal => return Some(std::mem::replace(&mut node.value, value)),
        ord => direction(ord),
    };
    let height_before = height(&node.children[dir]);
    let old = insert(&mut node.children[dir], key, value, rotations);
    if old.is_none() {
        // The subtree grew by one node; on the way back up, fix sizes and
        // heights and rotate where the balance reached ±2.
        fix_after_change(node, dir, height_before, true, rotations);
    }
    old
    // END LAB
}
// ANCHOR_END: insert

/// Inserts a new entry so that it gets rank `index`, without comparing keys.
///
/// The caller guarantees that this position is the key's place in search
/// order (the entry API computed it with [`rank`]).
pub(crate) fn insert_at<K, V>(
    link: &mut Link<K, V>,
    index: usize,
    key: K,
    value: V,
    rotations: &mut Rotations,
) {
    // BEGIN LAB avl-remove
    let Some(node) = link else {
        debug_assert_eq!(index, 0);
        *link = Some(Node::leaf(key, value));
        return;
    };
    let left_size = node.left_size();
    let (dir, index) = if index <= left_size {
        (LEFT, index)
    } else {
        (RIGHT, index - left_size - 1)
    };
    let height_before = height(&node.children[dir]);
    insert_at(&mut node.children[dir], index, key, value, rotations);
    fix_after_change(node, dir, height_before, true, rotations);
    // END LAB
}

// ANCHOR: remove
/// Removes the node holding `key` and returns it detached (no children).
pub(crate) fn remove<K, V, Q>(
    link: &mut Link<K, V>,
    key: &Q,
    rotations: &mut Rotations,
) -> Option<Box<Node<K, V>>>
where
    K: Borrow<Q>,
    Q: Ord + ?Sized,
{
    // BEGIN LAB avl-remove
    let node = link.as_mut()?;
    let dir = match key.cmp(node.key.borrow()) {
        Ordering::Equal => return Some(remove_root(link, rotations)),
        ord => direction(ord),
    };
    let height_before = height(&node.children[dir]);
    let removed = remove(&mut node.children[dir], key, rotations)?;
    fix_after_change(node, dir, height_before, false, rotations);
    Some(removed)
    // END LAB
}

/// Removes the root of a non-empty subtree and returns it detached.
///
/// A root with two children is replaced by its in-order successor (the
/// leftmost node of the right subtree), whose removal may in turn rotate at
/// every level on the way back: deletion, unlike insertion, can cascade.
fn remove_root<K, V>(link: &mut Link<K, V>, rotations: &mut Rotations) -> Box<Node<K, V>> {
    // BEGIN LAB avl-remove
    let root = link.as_mut().expect("remove_root: a non-empty subtree");
    if root.children.iter().all(Option::is_some) {
        let height_before = height(&root.children[RIGHT]);
        let mut successor = remove_at(&mut root.children[RIGHT], 0, rotations);
        // The successor's node carries the removed entry out; the root node
        // stays in place and takes over the successor's entry.
        std::mem::swap(&mut root.key, &mut successor.key);
        std::mem::swap(&mut root.value, &mut successor.value);
        fix_after_change(root, RIGHT, height_before, false, rotations);
        return successor;
    }
    // At most one child: it takes the root's place (an AVL node with one
    // child has a leaf there, so nothing needs rebalancing at this level).
    let mut root = link.take().expect("checked above");
    let [left, right] = root.detach();
    *link = left.or(right);
    root
    // END LAB
}
// ANCHOR_END: remove

/// Removes the node of rank `index` and returns it detached, without
/// comparing keys.
///
/// # Panics
/// If `index` is not less than the size of the subtree.
pub(crate) fn remove_at<K, V>(
    link: &mut Link<K, V>,
    index: usize,
    rotations: &mut Rotations,
) -> Box<Node<K, V>> {
    // BEGIN LAB avl-remove
    let node = link.as_mut().expect("remove_at: index within the tree");
    let left_size = node.left_size();
    let (dir, index) = match index.cmp(&left_size) {
        Ordering::Less => (LEFT, index),
        Ordering::Equal => return remove_root(link, rotations),
        Ordering::Greater => (RIGHT, index - left_size - 1),
    };
    let height_before = height(&node.children[dir]);
    let removed = remove_at(&mut node.children[dir], index, rotations);
    fix_after_change(node, dir, height_before, false, rotations);
    removed
    // END LAB
}
