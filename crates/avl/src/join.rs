//! Join and split, and the bulk operations built on them.
//!
//! Following Blelloch, Ferizovic and Sun, "Just Join for Parallel Ordered
//! Sets" (SPAA 2016), one primitive carries all the balancing knowledge:
//!
//! * [`join`]`(L, m, R)`: every key in `L` < `m` < every key in `R`; returns
//!   an AVL tree of all three in O(|height(L) − height(R)| + 1).
//!
//! Everything else is written against it and never rotates by itself:
//! [`split_at`] (by rank, O(log n)), [`split`] (by key), [`join2`] (no middle
//! entry), [`union`], [`intersection`], [`difference`],
//! [`symmetric_difference`] (O(m·log(n/m + 1)) work for sizes m ≤ n), and
//! [`filter`] (O(n)).
//!
//! Nodes move between trees; no function here allocates or frees one except
//! where an entry is deliberately dropped (the duplicate side of a union).

use std::cmp::Ordering;

use crate::node::{LEFT, Link, Node, RIGHT, Rotations, height, rebalance, size};
use crate::ops;

// ANCHOR: join
/// Joins `left`, the detached node `mid` and `right` into one AVL tree.
///
/// Precondition: every key in `left` < `mid.key` < every key in `right`.
pub(crate) fn join<K, V>(
    left: Link<K, V>,
    mid: Box<Node<K, V>>,
    right: Link<K, V>,
    rotations: &mut Rotations,
) -> Box<Node<K, V>> {
    // BEGIN LAB avl-join-split
    let (left_height, right_height) = (height(&left), height(&right));
    match (left, right) {
        (Some(big), small) if left_height > right_height + 1 => {
            join_side(big, mid, small, RIGHT, rotations)
        }
        (small, Some(big)) if right_height > left_height + 1 => {
            join_side(big, mid, small, LEFT, rotations)
        }
        (left, right) => {
            let mut mid = mid;
            mid.children = [left, right];
            mid.update();
            mid
        }
    }
    // END LAB
}

/// Hangs `mid` and `small` on the `side` spine of the taller tree `big`.
///
/// Walks down `big`'s spine on `side` until the subtree there is at most one
/// level taller than `small`, puts `mid` there with that subtree and `small` as
/// children, and rebalances on the way back up: at each level the new subtree
/// is at most one level taller than the one it replaced, which is exactly
/// [`rebalance`]'s precondition.
fn join_side<K, V>(
    mut big: Box<Node<K, V>>,
    mut mid: Box<Node<K, V>>,
    small: Link<K, V>,
    side: usize,
    rotations: &mut Rotations,
) -> Box<Node<K, V>> {
    // BEGIN LAB avl-join-split
    let spine = big.children[side].take();
    let joined = if height(&spine) <= height(&small) + 1 {
        mid.children[side] = small;
        mid.children[1 - side] = spine;
        mid.update();
        mid
    } else {
        let spine = spine.expect("a subtree taller than another is not empty");
        join_side(spine, mid, small, side, rotations)
    };
    big.children[side] = Some(joined);
    rebalance(&mut big, rotations);
    big
    // END LAB
}
// ANCHOR_END: join

// ANCHOR: split
/// Splits a tree into the first `index` entries and the rest, in O(log n),
/// without comparing keys.
pub(crate) fn split_at<K, V>(
    link: Link<K, V>,
    index: usize,
    rotations: &mut Rotations,
) -> (Link<K, V>, Link<K, V>) {
    // BEGIN LAB avl-join-split
    let total = size(&link);
    if index == 0 {
        return (None, link);
    }
    if index >= total {
        return (link, None);
    }
    let mut node = link.expect("0 < index < size, so the tree is not empty");
    let [left, right] = node.detach();
    let left_size = size(&left);
    if index <= left_size {
        let (left_left, left_right) = split_at(left, index, rotations);
        (left_left, Some(join(left_right, node, right, rotations)))
    } else {
        let (right_left, right_right) = split_at(right, index - left_size - 1, rotations);
        (Some(join(left, node, right_left, rotations)), right_right)
    }
    // END LAB
}
// ANCHOR_END: split

/// A tree split around a key: smaller keys, the node holding the key (if
/// any, detached), larger keys.
pub(crate) type Split<K, V> = (Link<K, V>, Option<Box<Node<K, V>>>, Link<K, V>);

/// Splits a tree by `key` into the keys less than it, the node holding it (if
/// any, detached), and the keys greater than it.
///
/// Comparisons all happen first (a read-only [`ops::rank`]); the split itself
/// is by rank.
pub(crate) fn split<K: Ord, V>(
    link: Link<K, V>,
    key: &K,
    rotations: &mut Rotations,
) -> Split<K, V> {
    // BEGIN LAB avl-join-split
    let (less, found) = ops::rank(&link, key);
    let (left, mut rest) = split_at(link, less, rotations);
    if !found {
        return (left, None, rest);
    }
    let middle = ops::remove_at(&mut rest, 0, rotations);
    (left, Some(middle), rest)
    // END LAB
}

/// Joins two trees whose keys are ordered (all of `left` < all of `right`).
pub(crate) fn join2<K, V>(
    left: Link<K, V>,
    right: Link<K, V>,
    rotations: &mut Rotations,
) -> Link<K, V> {
    // BEGIN LAB avl-join-split
    let Some(left) = left else { return right };
    if right.is_none() {
        return Some(left);
    }
    let last = left.size as usize - 1;
    let mut rest = Some(left);
    let mid = ops::remove_at(&mut rest, last, rotations);
    Some(join(rest, mid, right, rotations))
    // END LAB
}

/// Which side's entry survives when both trees hold a key.
#[derive(Clone, Copy)]
pub(crate) enum Keep {
    /// The entry from the first tree (`a`).
    First,
    /// The entry from the second tree (`b`).
    Second,
}

// ANCHOR: union
/// All entries of `a` and `b`; for a key in both, the entry chosen by `keep`.
pub(crate) fn union<K: Ord, V>(
    a: Link<K, V>,
    b: Link<K, V>,
    keep: Keep,
    rotations: &mut Rotations,
) -> Link<K, V> {
    let Some(a) = a else { return b };
    let Some(mut b) = b else { return Some(a) };
    let [b_left, b_right] = b.detach();
    let (a_left, a_mid, a_right) = split(Some(a), &b.key, rotations);
    let left = union(a_left, b_left, keep, rotations);
    let right = union(a_right, b_right, keep, rotations);
    let mid = match (keep, a_mid) {
        (Keep::First, Some(a_mid)) => a_mid,
        _ => b,
    };
    Some(join(left, mid, right, rotations))
}
// ANCHOR_END: union

/// Entries of `a` whose key is also in `b`.
pub(crate) fn intersection<K: Ord, V>(
    a: Link<K, V>,
    b: Link<K, V>,
    rotations: &mut Rotations,
) -> Link<K, V> {
    let (Some(a), Some(mut b)) = (a, b) else {
        return None;
    };
    let [b_left, b_right] = b.detach();
    let (a_left, a_mid, a_right) = split(Some(a), &b.key, rotations);
    let left = intersection(a_left, b_left, rotations);
    let right = intersection(a_right, b_right, rotations);
    match a_mid {
        Some(mid) => Some(join(left, mid, right, rotations)),
        None => join2(left, right, rotations),
    }
}

/// Entries of `a` whose key is not in `b`.
pub(crate) fn difference<K: Ord, V>(
    a: Link<K, V>,
    b: Link<K, V>,
    rotations: &mut Rotations,
) -> Link<K, V> {
    let a = a?;
    let Some(mut b) = b else { return Some(a) };
    let [b_left, b_right] = b.detach();
    let (a_left, _, a_right) = split(Some(a), &b.key, rotations);
    let left = difference(a_left, b_left, rotations);
    let right = difference(a_right, b_right, rotations);
    join2(left, right, rotations)
}

/// Entries whose key is in exactly one of `a` and `b`.
pub(crate) fn symmetric_difference<K: Ord, V>(
    a: Link<K, V>,
    b: Link<K, V>,
    rotations: &mut Rotations,
) -> Link<K, V> {
    let Some(a) = a else { return b };
    let Some(mut b) = b else { return Some(a) };
    let [b_left, b_right] = b.detach();
    let (a_left, a_mid, a_right) = split(Some(a), &b.key, rotations);
    let left = symmetric_difference(a_left, b_left, rotations);
    let right = symmetric_difference(a_right, b_right, rotations);
    match a_mid {
        Some(_) => join2(left, right, rotations),
        None => Some(join(left, b, right, rotations)),
    }
}

/// Keeps the entries whose flag in `keep` (indexed by rank) is set, in O(n),
/// without comparing keys or running user code.
pub(crate) fn filter<K, V>(
    link: Link<K, V>,
    keep: &mut impl Iterator<Item = bool>,
    rotations: &mut Rotations,
) -> Link<K, V> {
    let mut node = link?;
    let [left, right] = node.detach();
    let left = filter(left, keep, rotations);
    let kept = keep.next().expect("filter: one flag per entry");
    let right = filter(right, keep, rotations);
    if kept {
        Some(join(left, node, right, rotations))
    } else {
        join2(left, right, rotations)
    }
}

/// Whether every key of `a` is less than every key of `b` (either may be empty).
pub(crate) fn precedes<K: Ord, V>(a: &Link<K, V>, b: &Link<K, V>) -> bool {
    match (last(a), first(b)) {
        (Some(a_last), Some(b_first)) => a_last.key.cmp(&b_first.key) == Ordering::Less,
        _ => true,
    }
}

/// The leftmost node.
pub(crate) fn first<K, V>(link: &Link<K, V>) -> Option<&Node<K, V>> {
    extreme(link, LEFT)
}

/// The rightmost node.
pub(crate) fn last<K, V>(link: &Link<K, V>) -> Option<&Node<K, V>> {
    extreme(link, RIGHT)
}

fn extreme<K, V>(link: &Link<K, V>, side: usize) -> Option<&Node<K, V>> {
    let mut node = link.as_deref()?;
    while let Some(child) = node.children[side].as_deref() {
        node = child;
    }
    Some(node)
}
