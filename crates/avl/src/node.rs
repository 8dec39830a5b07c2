//! The node and the AVL core: sizes, heights, rotations and rebalancing.
//!
//! Every other module builds on the few functions here. They work on owned
//! subtrees (`Link`s), never on the map, so the same code serves insertion,
//! deletion, join and split.
//!
//! # Invariants
//!
//! The *structure* (what any augmented binary search tree needs):
//!
//! 1. **Search order.** An in-order walk meets the keys in strictly increasing
//!    order (`Ord` of `K`).
//! 2. **Stored size.** `node.size == 1 + size(left) + size(right)`.
//! 3. **Stored height.** `node.height == 1 + max(height(left), height(right))`,
//!    where an empty subtree has height 0 and a leaf height 1.
//!
//! The *balance rule* (what makes it an AVL tree):
//!
//! 4. **Balance.** At every node, `|height(right) − height(left)| ≤ 1`.
//!
//! The functions here keep 2 and 3 exact after every call. They restore 4
//! under one documented precondition (see [`rebalance`]): the two subtrees are
//! valid AVL trees whose heights differ by at most 2. They never compare keys,
//! so they cannot break 1 and cannot be interrupted by a panicking `Ord`.
//!
//! Deliberately *not* checked here: nothing verifies the invariants on the fly
//! (that is [`crate::AvlMap::check_invariants`]'s job, run by the tests after
//! every mutation).

use std::cmp::Ordering;

/// Index of the left child in [`Node::children`].
pub(crate) const LEFT: usize = 0;
/// Index of the right child in [`Node::children`].
pub(crate) const RIGHT: usize = 1;

/// The most entries a tree can hold: sizes are stored as `u32`.
pub(crate) const MAX_LEN: usize = u32::MAX as usize;

/// The tallest AVL tree with at most [`MAX_LEN`] nodes has height 45
/// (a Fibonacci tree of height 46 needs F(48) − 1 ≈ 4.8·10⁹ nodes).
/// This is why a `u8` is enough for a stored height (checked at compile time
/// below); iterators size their stacks from the actual height.
pub(crate) const MAX_HEIGHT: u8 = 45;
const _: () = assert!(MAX_HEIGHT < u8::MAX);

// ANCHOR: node
/// A subtree: empty, or an owned node.
pub(crate) type Link<K, V> = Option<Box<Node<K, V>>>;

/// One entry of the map and the two subtrees hanging from it.
///
/// For `u64` keys and values this is 40 bytes: 8 for the key, 2 × 8 for the
/// child pointers, 8 for the value, 4 for the size and 1 for the height,
/// padded to 8.
#[derive(Clone)]
#[repr(C)]
pub(crate) struct Node<K, V> {
    /// First, then the child pointers: a search reads only these two fields,
    /// and with the key first they share the node's first 24 bytes. `repr(C)`
    /// fixes this order (the compiler's own layout put the value in between).
    /// An early benchmark showed look-ups a quarter faster this way, but it
    /// repeated one batch of probes, which the performance chapter shows
    /// flatters tree searches, and the layouts have not been compared with
    /// the current benchmark. The price: a key smaller than a pointer is
    /// padded, so a `u32 → u32` node takes 40 bytes instead of 32.
    pub(crate) key: K,
    /// `children[LEFT]` holds smaller keys, `children[RIGHT]` larger ones.
    /// An array rather than two fields (as in libavl's `avl_link[2]`): code
    /// indexed by a direction handles both mirror cases at once.
    pub(crate) children: [Link<K, V>; 2],
    pub(crate) value: V,
    /// Number of nodes in this subtree (invariant 2).
    pub(crate) size: u32,
    /// Number of levels in this subtree; a leaf has height 1 (invariant 3).
    pub(crate) height: u8,
}
// ANCHOR_END: node

/// Height of a subtree; 0 when empty.
#[inline]
pub(crate) fn height<K, V>(link: &Link<K, V>) -> u8 {
    link.as_ref().map_or(0, |node| node.height)
}

/// Number of nodes in a subtree; 0 when empty.
#[inline]
pub(crate) fn size<K, V>(link: &Link<K, V>) -> usize {
    link.as_ref().map_or(0, |node| node.size as usize)
}

/// The direction of the child to descend into when searching for a key that
/// compares as `ord` to this node's key (`Less` → left, `Greater` → right).
#[inline]
pub(crate) fn direction(ord: Ordering) -> usize {
    usize::from(ord == Ordering::Greater)
}

impl<K, V> Node<K, V> {
    /// A new node without children.
    pub(crate) fn leaf(key: K, value: V) -> Box<Self> {
        Box::new(Node {
            key,
            value,
            children: [None, None],
            size: 1,
            height: 1,
        })
    }

    /// Recomputes `size` and `height` from the children (invariants 2 and 3).
    #[inline]
    pub(crate) fn update(&mut self) {
        let [left, right] = &self.children;
        self.height = 1 + height(left).max(height(right));
        let size = 1 + size(left) + size(right);
        debug_assert!(size <= MAX_LEN, "subtree size {size} overflows u32");
        self.size = size as u32;
    }

    /// `height(right) − height(left)`: positive when the right side is taller.
    #[inline]
    pub(crate) fn balance(&self) -> i16 {
        i16::from(height(&self.children[RIGHT])) - i16::from(height(&self.children[LEFT]))
    }

    /// Size of the left subtree: the rank of this node's key within its subtree.
    #[inline]
    pub(crate) fn left_size(&self) -> usize {
        size(&self.children[LEFT])
    }

    /// Takes both children out, leaving a detached node of size 1.
    pub(crate) fn detach(&mut self) -> [Link<K, V>; 2] {
        let children = std::mem::take(&mut self.children);
        self.size = 1;
        self.height = 1;
        children
    }
}

/// How many rotations one kind of operation performed.
///
/// A double rotation counts once, as a double, not as two singles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rotations {
    /// Single rotations (the LL and RR cases).
    pub single: u64,
    /// Double rotations (the LR and RL cases).
    pub double: u64,
}

impl Rotations {
    /// `single + double`: the number of rebalancing steps.
    pub fn total(&self) -> u64 {
        self.single + self.double
    }
}

// ANCHOR: rotate
/// Rotates the subtree rooted at `root` so that `root` moves down towards
/// `dir` and its child on the other side moves up to take its place.
///
/// `rotate(root, LEFT)` is the classic left rotation:
///
/// ```text
///     a                 b
///    / \               / \
///   x   b     ==>     a   z
///      / \           / \
///     y   z         x   y
/// ```
///
/// Search order is preserved (x < a < y < b < z); sizes and heights of `a`
/// and `b` are recomputed, bottom-up.
///
/// # Panics
/// If `root` has no child on the side opposite `dir`. Rebalancing only rotates
/// towards the lighter side, whose opposite child is non-empty.
pub(crate) fn rotate<K, V>(root: &mut Box<Node<K, V>>, dir: usize) {
    // BEGIN LAB avl-insert
    let other = 1 - dir;
    let mut pivot = root.children[other]
        .take()
        .expect("a rotation needs a child on the side that moves up");
    // `y` moves from under `b` into the slot of `a` that `b` leaves.
    root.children[other] = pivot.children[dir].take();
    root.update();
    // `b` becomes the root of this subtree and `a` its child.
    std::mem::swap(root, &mut pivot);
    root.children[dir] = Some(pivot);
    root.update();
    // END LAB
}
// ANCHOR_END: rotate

// ANCHOR: rebalance
/// Recomputes `root`'s size and height and, if its balance is ±2, restores
/// invariant 4 with one single or one double rotation, counted in `rotations`.
///
/// Precondition: both subtrees are valid AVL trees and their heights differ
/// by at most 2. Insertion, deletion and join all guarantee it, because each
/// changes a subtree's height by at most one level before calling here.
pub(crate) fn rebalance<K, V>(root: &mut Box<Node<K, V>>, rotations: &mut Rotations) {
    // BEGIN LAB avl-insert
    root.update();
    let balance = root.balance();
    debug_assert!(
        balance.abs() <= 2,
        "rebalance precondition: balance {balance}"
    );
    if balance.abs() <= 1 {
        return;
    }
    // The taller side and the side the root will move down to.
    let (heavy, light) = if balance > 0 {
        (RIGHT, LEFT)
    } else {
        (LEFT, RIGHT)
    };
    let child = root.children[heavy]
        .as_mut()
        .expect("the taller side of an unbalanced node is not empty");
    // A child leaning towards the inside (LR or RL case) is first rotated so
    // that it leans outwards; then one rotation at the root finishes the job.
    let child_leans_inwards = if heavy == RIGHT {
        child.balance() < 0
    } else {
        child.balance() > 0
    };
    if child_leans_inwards {
        rotate(child, heavy);
        rotations.double += 1;
    } else {
        rotations.single += 1;
    }
    rotate(root, light);
    // END LAB
}
// ANCHOR_END: rebalance

// ANCHOR: fix
/// After the subtree `root.children[dir]` gained or lost `delta` nodes and its
/// height went from `height_before` to its current value, restore `root`.
///
/// When the child's height did not change, nothing above it can become
/// unbalanced and only the size needs adjusting; this avoids touching the
/// sibling, which at a million keys is a cache miss per level.
#[inline]
pub(crate) fn fix_after_change<K, V>(
    root: &mut Box<Node<K, V>>,
    dir: usize,
    height_before: u8,
    grew: bool,
    rotations: &mut Rotations,
) {
    // BEGIN LAB avl-insert
    if height(&root.children[dir]) == height_before {
        if grew {
            root.size += 1;
        } else {
            root.size -= 1;
        }
    } else {
        rebalance(root, rotations);
    }
    // END LAB
}
// ANCHOR_END: fix

/// Builds a perfectly balanced tree from entries already sorted by key with
/// no duplicates, in O(n) without comparing keys.
pub(crate) fn build_sorted<K, V>(
    entries: &mut impl Iterator<Item = (K, V)>,
    len: usize,
) -> Link<K, V> {
    if len == 0 {
        return None;
    }
    let left_len = (len - 1) / 2;
    let left = build_sorted(entries, left_len);
    let (key, value) = entries
        .next()
        .expect("build_sorted: the iterator yields `len` entries");
    let right = build_sorted(entries, len - 1 - left_len);
    let mut node = Node::leaf(key, value);
    node.children = [left, right];
    node.update();
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(key: u32) -> Link<u32, ()> {
        Some(Node::leaf(key, ()))
    }

    #[test]
    fn node_of_u64_pairs_is_40_bytes() {
        assert_eq!(std::mem::size_of::<Node<u64, u64>>(), 40);
    }

    #[test]
    fn rotate_left_preserves_order_and_fixes_heights() {
        // a=2 with right child b=4 (children 3 and 5), left child 1.
        let mut b = Node::leaf(4, ());
        b.children = [leaf(3), leaf(5)];
        b.update();
        let mut a = Node::leaf(2, ());
        a.children = [leaf(1), Some(b)];
        a.update();
        assert_eq!(a.height, 3);
        rotate(&mut a, LEFT);
        assert_eq!(a.key, 4);
        assert_eq!(a.height, 3);
        assert_eq!(a.size, 5);
        let left = a.children[LEFT].as_ref().unwrap();
        assert_eq!((left.key, left.height, left.size), (2, 2, 3));
        let keys: Vec<u32> = [
            &left.children[LEFT],
            &left.children[RIGHT],
            &a.children[RIGHT],
        ]
        .iter()
        .map(|c| c.as_ref().unwrap().key)
        .collect();
        assert_eq!(keys, [1, 3, 5]);
    }

    #[test]
    fn build_sorted_is_balanced() {
        for n in 0..100usize {
            let tree = build_sorted(&mut (0..n).map(|k| (k, ())), n);
            assert_eq!(size(&tree), n);
            let expected = usize::BITS - n.leading_zeros(); // ceil(log2(n + 1))
            assert_eq!(u32::from(height(&tree)), expected, "n = {n}");
        }
    }
}
