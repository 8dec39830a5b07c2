//! Key sequences that stress a balanced tree: the adversarial inputs of the
//! tests, the figures and the book.
//!
//! * [`sorted`] and [`reversed`] turn an unbalanced BST into a linked list;
//! * [`zigzag`] alternates between the two ends, forcing a double rotation
//!   shape at every step of a naive tree;
//! * [`fibonacci_tree`] produces the *tallest* AVL tree for its size: the
//!   Fibonacci tree, whose height meets the bound
//!   h < 1.4405·log₂(n + 2) − 0.3277 as closely as any AVL tree can.

/// `0, 1, …, n − 1`.
///
/// ```
/// assert_eq!(avl::shapes::sorted(3), [0, 1, 2]);
/// ```
pub fn sorted(n: u64) -> Vec<u64> {
    (0..n).collect()
}

/// `n − 1, …, 1, 0`.
///
/// ```
/// assert_eq!(avl::shapes::reversed(3), [2, 1, 0]);
/// ```
pub fn reversed(n: u64) -> Vec<u64> {
    (0..n).rev().collect()
}

/// `0, n − 1, 1, n − 2, 2, …`: alternately the smallest and the largest key
/// not yet used.
///
/// ```
/// assert_eq!(avl::shapes::zigzag(5), [0, 4, 1, 3, 2]);
/// ```
pub fn zigzag(n: u64) -> Vec<u64> {
    let (mut low, mut high) = (0, n);
    let mut keys = Vec::with_capacity(n as usize);
    while low < high {
        keys.push(low);
        low += 1;
        if low < high {
            high -= 1;
            keys.push(high);
        }
    }
    keys
}

/// The minimum number of nodes of an AVL tree of height `height`:
/// N(0) = 0, N(1) = 1, N(h) = N(h − 1) + N(h − 2) + 1, which is F(h + 2) − 1.
///
/// ```
/// let sizes: Vec<u64> = (0..8).map(avl::shapes::fibonacci_tree_size).collect();
/// assert_eq!(sizes, [0, 1, 2, 4, 7, 12, 20, 33]);
/// ```
pub fn fibonacci_tree_size(height: u32) -> u64 {
    let (mut smaller, mut larger) = (0u64, 1u64); // N(h − 1), N(h) for h = 0 … height
    if height == 0 {
        return 0;
    }
    for _ in 1..height {
        (smaller, larger) = (larger, larger + smaller + 1);
    }
    larger
}

// ANCHOR: fibonacci
/// The keys `0 .. N(height)` in an order that, inserted one by one into an
/// AVL tree, builds the Fibonacci tree of that height without a single
/// rotation: level by level, top down.
///
/// The Fibonacci tree of height h has a Fibonacci tree of height h − 1 on its
/// left and one of height h − 2 on its right, so every node leans left by
/// exactly one level: as unbalanced as the AVL rule allows, everywhere.
///
/// Inserting level by level never rotates. Every intermediate tree is the
/// final tree cut off below some depth D, plus some of the nodes at depth
/// D + 1. At a node, each subtree's current height is its final height capped
/// at the remaining depth t, or at t + 1 if some of its deepest-level nodes
/// are already in. Two final heights that differ by at most one stay within one
/// under either cap: if the taller subtree reaches t + 1, the shorter one has
/// final height at least t and reaches t. (The book spells the cases out.)
///
/// ```
/// let keys = avl::shapes::fibonacci_tree(4);
/// assert_eq!(keys.len(), 7);
/// let mut map = avl::AvlMap::new();
/// for k in keys {
///     map.insert(k, ());
/// }
/// assert_eq!(map.height(), 4);
/// assert_eq!(map.rotation_stats().insert.total(), 0);
/// ```
pub fn fibonacci_tree(height: u32) -> Vec<u64> {
    /// Appends (depth, key) for the Fibonacci tree of `height` whose smallest
    /// key is `first`; returns its number of nodes.
    fn build(height: u32, first: u64, depth: u32, out: &mut Vec<(u32, u64)>) -> u64 {
        if height == 0 {
            return 0;
        }
        let left = build(height - 1, first, depth + 1, out);
        let key = first + left;
        out.push((depth, key));
        let right = build(height.saturating_sub(2), key + 1, depth + 1, out);
        left + 1 + right
    }
    let mut nodes = Vec::with_capacity(fibonacci_tree_size(height) as usize);
    build(height, 0, 0, &mut nodes);
    nodes.sort_unstable();
    nodes.into_iter().map(|(_, key)| key).collect()
}
// ANCHOR_END: fibonacci

/// Knuth's upper bound on the height of an AVL tree with `n` nodes:
/// h < 1.4405·log₂(n + 2) − 0.3277 (TAOCP vol. 3, §6.2.3).
///
/// ```
/// assert!(avl::shapes::avl_height_bound(12) > 5.0); // the Fibonacci tree of height 5
/// ```
pub fn avl_height_bound(n: u64) -> f64 {
    1.4405 * ((n + 2) as f64).log2() - 0.3277
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_is_a_permutation() {
        for n in 0..50 {
            let mut keys = zigzag(n);
            keys.sort_unstable();
            assert_eq!(keys, sorted(n));
        }
    }

    #[test]
    fn fibonacci_tree_has_the_minimum_size() {
        for h in 0..20 {
            let mut keys = fibonacci_tree(h);
            assert_eq!(keys.len() as u64, fibonacci_tree_size(h));
            keys.sort_unstable();
            assert_eq!(keys, sorted(fibonacci_tree_size(h)));
        }
    }
}
