//! The invariant checker: walks the whole tree and names the first broken
//! invariant precisely.
//!
//! It is public so that students can run it on their own changes, and the
//! property tests call it after every mutation. The numbering follows the
//! invariants listed in the crate documentation (and in `node.rs`).

use std::cmp::Ordering;
use std::fmt;

use crate::map::AvlMap;
use crate::node::{LEFT, Link, RIGHT};

/// A node of a tree, named by its rank (in-order position, from 0) and by the
/// path from the root (`L`/`R` steps; empty for the root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeId {
    /// Number of keys before this node's key.
    pub rank: usize,
    /// Steps from the root: `"LR"` is the root's left child's right child;
    /// `"?"` where the checker does not track paths (the [`Bst`](crate::Bst)
    /// checker walks with an iterator).
    pub path: String,
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "root"
        } else {
            &self.path
        };
        write!(f, "node of rank {} (path {path})", self.rank)
    }
}

/// The first invariant a tree breaks, as found by `check_invariants`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvariantViolation {
    /// Invariant 1: the key of `node` is not greater than the key before it
    /// in in-order.
    Order {
        /// The offending node; its predecessor has rank `node.rank − 1`.
        node: NodeId,
    },
    /// Invariant 2: a stored subtree size is wrong. At the root this is the
    /// map's `len()`.
    Size {
        /// The offending node.
        node: NodeId,
        /// Size stored in the node.
        stored: usize,
        /// Nodes actually counted in its subtree.
        actual: usize,
    },
    /// Invariant 3: a stored height is wrong.
    Height {
        /// The offending node.
        node: NodeId,
        /// Height stored in the node.
        stored: usize,
        /// `1 + max(height(left), height(right))`, computed.
        actual: usize,
    },
    /// Invariant 4: the heights of the two subtrees differ by more than one.
    Balance {
        /// The offending node.
        node: NodeId,
        /// Height of its left subtree.
        left_height: usize,
        /// Height of its right subtree.
        right_height: usize,
    },
    /// A tree that stores its length separately (the unbalanced
    /// [`Bst`](crate::Bst)) reports a different number than it holds.
    Len {
        /// What `len()` reports.
        reported: usize,
        /// Nodes actually counted.
        counted: usize,
    },
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvariantViolation::Order { node } => write!(
                f,
                "invariant 1 (search order) broken at {node}: its key is not greater than the key of rank {}",
                node.rank.wrapping_sub(1)
            ),
            InvariantViolation::Size {
                node,
                stored,
                actual,
            } => write!(
                f,
                "invariant 2 (stored size) broken at {node}: stores {stored}, its subtree holds {actual}"
            ),
            InvariantViolation::Height {
                node,
                stored,
                actual,
            } => write!(
                f,
                "invariant 3 (stored height) broken at {node}: stores {stored}, its subtree has height {actual}"
            ),
            InvariantViolation::Balance {
                node,
                left_height,
                right_height,
            } => write!(
                f,
                "invariant 4 (AVL balance) broken at {node}: left height {left_height}, right height {right_height}"
            ),
            InvariantViolation::Len { reported, counted } => {
                write!(
                    f,
                    "len() reports {reported} but the tree holds {counted} nodes"
                )
            }
        }
    }
}

impl std::error::Error for InvariantViolation {}

// ANCHOR: checker
struct Checker<'a, K> {
    previous_key: Option<&'a K>,
    visited: usize,
    path: String,
}

impl<'a, K: Ord> Checker<'a, K> {
    /// Checks the subtree at `link`; returns its actual (height, size).
    fn walk<V>(&mut self, link: &'a Link<K, V>) -> Result<(usize, usize), InvariantViolation> {
        let Some(node) = link else { return Ok((0, 0)) };
        self.path.push('L');
        let (left_height, left_size) = self.walk(&node.children[LEFT])?;
        self.path.pop();

        let id = NodeId {
            rank: self.visited,
            path: self.path.clone(),
        };
        self.visited += 1;
        if let Some(previous) = self.previous_key
            && previous.cmp(&node.key) != Ordering::Less
        {
            return Err(InvariantViolation::Order { node: id });
        }
        self.previous_key = Some(&node.key);

        self.path.push('R');
        let (right_height, right_size) = self.walk(&node.children[RIGHT])?;
        self.path.pop();

        let size = 1 + left_size + right_size;
        if node.size as usize != size {
            let stored = node.size as usize;
            return Err(InvariantViolation::Size {
                node: id,
                stored,
                actual: size,
            });
        }
        let height = 1 + left_height.max(right_height);
        if usize::from(node.height) != height {
            let stored = usize::from(node.height);
            return Err(InvariantViolation::Height {
                node: id,
                stored,
                actual: height,
            });
        }
        if left_height.abs_diff(right_height) > 1 {
            return Err(InvariantViolation::Balance {
                node: id,
                left_height,
                right_height,
            });
        }
        Ok((height, size))
    }
}
// ANCHOR_END: checker

impl<K: Ord, V> AvlMap<K, V> {
    /// Walks the whole tree, O(n), and returns the first broken invariant:
    /// search order, stored sizes (and so `len()`), stored heights, and
    /// |balance| ≤ 1 at every node.
    ///
    /// The map's own operations keep these invariants; the tests call this
    /// after every mutation to prove it.
    ///
    /// ```
    /// let map: avl::AvlMap<u32, ()> = (0..100).map(|k| (k, ())).collect();
    /// assert_eq!(map.check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        Checker {
            previous_key: None,
            visited: 0,
            path: String::new(),
        }
        .walk(&self.root)
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(keys: std::ops::Range<u32>) -> AvlMap<u32, ()> {
        keys.map(|k| (k, ())).collect()
    }

    fn root_mut(map: &mut AvlMap<u32, ()>) -> &mut crate::node::Node<u32, ()> {
        map.root.as_deref_mut().unwrap()
    }

    #[test]
    fn reports_wrong_order_with_the_rank() {
        let mut map = map(0..7); // perfectly balanced: root 3
        root_mut(&mut map).key = 10;
        let err = map.check_invariants().unwrap_err();
        assert_eq!(
            err,
            InvariantViolation::Order {
                node: NodeId {
                    rank: 4,
                    path: "RL".into()
                }
            }
        );
        assert!(err.to_string().contains("rank 4"), "{err}");
    }

    #[test]
    fn reports_wrong_size_at_the_root_as_the_length() {
        let mut map = map(0..7);
        root_mut(&mut map).size = 8;
        assert_eq!(map.len(), 8, "len() is the root's stored size");
        let err = map.check_invariants().unwrap_err();
        assert!(
            matches!(
                err,
                InvariantViolation::Size {
                    stored: 8,
                    actual: 7,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn reports_wrong_height() {
        let mut map = map(0..7);
        root_mut(&mut map).children[LEFT].as_mut().unwrap().height = 5;
        let err = map.check_invariants().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invariant 3 (stored height) broken at node of rank 1 (path L): stores 5, its subtree has height 2"
        );
    }

    #[test]
    fn reports_imbalance() {
        let mut map = map(0..3);
        // Hang the left child under the right child: 1 → right 2 → left... keep order valid:
        // make a chain 0 → 1 → 2 by moving nodes.
        let root = root_mut(&mut map);
        let left = root.children[LEFT].take().unwrap(); // key 0
        let mut middle = crate::node::Node::leaf(1, ());
        let right = root.children[RIGHT].take().unwrap(); // key 2
        middle.children[RIGHT] = Some(right);
        middle.update();
        let mut top = left;
        top.children[RIGHT] = Some(middle);
        top.update();
        map.root = Some(top);
        let err = map.check_invariants().unwrap_err();
        assert_eq!(
            err,
            InvariantViolation::Balance {
                node: NodeId {
                    rank: 0,
                    path: String::new()
                },
                left_height: 0,
                right_height: 2
            }
        );
    }
}
