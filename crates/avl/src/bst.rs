//! [`Bst`]: an unbalanced binary search tree, the baseline the book compares
//! the AVL tree against.
//!
//! Same node layout idea as the AVL tree (boxes, a `children` array) but no
//! size, no height and no rotations: the shape is whatever the insertion order
//! makes it. Random keys give height about 4.311·ln n on average (Devroye 1986);
//! sorted keys give a linked list of height n.
//!
//! Every walk here (insert, search, remove, height, iteration, drop) uses a
//! loop or an explicit stack rather than recursion, because the degenerate
//! trees this type exists to show are as deep as they are long.
//!
//! # Invariants
//! 1. Search order, as in the AVL tree.
//! 2. `len` equals the number of nodes.
//!
//! There is no balance invariant: that is the point.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;

use crate::check::{InvariantViolation, NodeId};
use crate::node::{LEFT, RIGHT, direction};
use crate::render::Shape;

type Link<K, V> = Option<Box<BstNode<K, V>>>;

struct BstNode<K, V> {
    key: K,
    value: V,
    children: [Link<K, V>; 2],
}

/// An unbalanced binary search tree map.
///
/// ```
/// use avl::Bst;
///
/// let sorted = Bst::from_keys(0..100u32);
/// assert_eq!(sorted.height(), 100); // a linked list
///
/// let mut map = Bst::new();
/// map.insert("b", 2);
/// map.insert("a", 1);
/// assert_eq!(map.get("a"), Some(&1));
/// ```
pub struct Bst<K, V = ()> {
    root: Link<K, V>,
    len: usize,
}

impl<K, V> Bst<K, V> {
    /// An empty tree.
    ///
    /// ```
    /// let tree: avl::Bst<u32> = avl::Bst::new();
    /// assert!(tree.is_empty());
    /// ```
    pub const fn new() -> Self {
        Bst { root: None, len: 0 }
    }

    /// Number of entries.
    ///
    /// ```
    /// assert_eq!(avl::Bst::from_keys([2, 1, 2]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the tree is empty.
    ///
    /// ```
    /// assert!(avl::Bst::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of levels (0 when empty), computed by walking the whole tree:
    /// O(n), with an explicit stack.
    ///
    /// ```
    /// assert_eq!(avl::Bst::from_keys([2, 1, 3]).height(), 2);
    /// ```
    pub fn height(&self) -> usize {
        let mut deepest = 0;
        let mut stack: Vec<(&BstNode<K, V>, usize)> =
            self.root.as_deref().map(|r| (r, 1)).into_iter().collect();
        while let Some((node, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            stack.extend(
                node.children
                    .iter()
                    .flatten()
                    .map(|child| (&**child, depth + 1)),
            );
        }
        deepest
    }

    /// The entries in key order.
    ///
    /// ```
    /// let tree = avl::Bst::from_keys([2, 1, 3]);
    /// assert_eq!(tree.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2, 3]);
    /// ```
    pub fn iter(&self) -> BstIter<'_, K, V> {
        let mut iter = BstIter { stack: Vec::new() };
        iter.push_left_spine(self.root.as_deref());
        iter
    }

    /// The shape of the tree, labelled with the keys, for drawing.
    ///
    /// ```
    /// let tree = avl::Bst::from_keys([1, 2, 3]);
    /// assert_eq!(tree.shape().height(), 3);
    /// ```
    pub fn shape(&self) -> Shape
    where
        K: fmt::Display,
    {
        Shape::from_tree(
            self.root.as_deref(),
            |node| {
                [
                    node.children[LEFT].as_deref(),
                    node.children[RIGHT].as_deref(),
                ]
            },
            |node| node.key.to_string(),
        )
    }
}

impl<K: Ord> Bst<K, ()> {
    /// Builds a tree by inserting `keys` in the given order.
    ///
    /// ```
    /// let tree = avl::Bst::from_keys([3, 1, 2]);
    /// assert_eq!(tree.len(), 3);
    /// ```
    pub fn from_keys(keys: impl IntoIterator<Item = K>) -> Self {
        let mut tree = Bst::new();
        for key in keys {
            tree.insert(key, ());
        }
        tree
    }
}

impl<K: Ord, V> Bst<K, V> {
    /// The link where `key` is or would be.
    fn seek<Q>(&mut self, key: &Q) -> &mut Link<K, V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut link = &mut self.root;
        loop {
            let dir = match link {
                Some(node) => match key.cmp(node.key.borrow()) {
                    Ordering::Equal => return link,
                    ord => direction(ord),
                },
                None => return link,
            };
            link = &mut link.as_mut().expect("matched Some above").children[dir];
        }
    }

    /// Inserts `key → value`; returns the old value if the key was present.
    ///
    /// ```
    /// let mut tree = avl::Bst::new();
    /// assert_eq!(tree.insert(1, 'a'), None);
    /// assert_eq!(tree.insert(1, 'b'), Some('a'));
    /// ```
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let link = self.seek(&key);
        if let Some(node) = link {
            return Some(std::mem::replace(&mut node.value, value));
        }
        *link = Some(Box::new(BstNode {
            key,
            value,
            children: [None, None],
        }));
        self.len += 1;
        None
    }

    /// The value for `key`, if present.
    ///
    /// ```
    /// let tree = avl::Bst::from_keys([5]);
    /// assert_eq!(tree.get(&5), Some(&()));
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut link = &self.root;
        while let Some(node) = link {
            match key.cmp(node.key.borrow()) {
                Ordering::Equal => return Some(&node.value),
                ord => link = &node.children[direction(ord)],
            }
        }
        None
    }

    /// The depth of `key` (the root is at depth 1): the number of key
    /// comparisons a successful search for it makes.
    ///
    /// ```
    /// let tree = avl::Bst::from_keys([2, 1, 3, 4]);
    /// assert_eq!(tree.depth_of(&2), Some(1));
    /// assert_eq!(tree.depth_of(&4), Some(3));
    /// assert_eq!(tree.depth_of(&5), None);
    /// ```
    pub fn depth_of<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let mut link = &self.root;
        let mut depth = 1;
        while let Some(node) = link {
            match key.cmp(node.key.borrow()) {
                Ordering::Equal => return Some(depth),
                ord => link = &node.children[direction(ord)],
            }
            depth += 1;
        }
        None
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// assert!(avl::Bst::from_keys([5]).contains_key(&5));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.get(key).is_some()
    }

    /// Removes `key`, returning its value. A node with two children is
    /// replaced by its in-order successor (Hibbard deletion).
    ///
    /// ```
    /// let mut tree = avl::Bst::from_keys([2, 1, 3]);
    /// assert_eq!(tree.remove(&2), Some(()));
    /// assert_eq!(tree.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3]);
    /// ```
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let link = self.seek(key);
        let mut node = link.take()?;
        *link = match std::mem::take(&mut node.children) {
            [None, child] | [child, None] => child,
            [left, Some(mut right)] => {
                // Detach the leftmost node of the right subtree.
                let mut successor_link = &mut right.children[LEFT];
                if successor_link.is_none() {
                    right.children[LEFT] = left;
                    Some(right)
                } else {
                    while successor_link
                        .as_ref()
                        .is_some_and(|s| s.children[LEFT].is_some())
                    {
                        successor_link =
                            &mut successor_link.as_mut().expect("checked").children[LEFT];
                    }
                    let mut successor = successor_link.take().expect("checked");
                    *successor_link = successor.children[RIGHT].take();
                    successor.children = [left, Some(right)];
                    Some(successor)
                }
            }
        };
        self.len -= 1;
        Some(node.value)
    }

    /// Checks search order and `len`, O(n) with an explicit stack.
    ///
    /// ```
    /// assert_eq!(avl::Bst::from_keys([3, 1, 2]).check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut previous: Option<&K> = None;
        let mut counted = 0;
        for (key, _) in self.iter() {
            if previous.is_some_and(|p| p.cmp(key) != Ordering::Less) {
                return Err(InvariantViolation::Order {
                    node: NodeId {
                        rank: counted,
                        path: String::from("?"),
                    },
                });
            }
            previous = Some(key);
            counted += 1;
        }
        if counted != self.len {
            return Err(InvariantViolation::Len {
                reported: self.len,
                counted,
            });
        }
        Ok(())
    }
}

impl<K, V> Default for Bst<K, V> {
    fn default() -> Self {
        Bst::new()
    }
}

impl<K, V> Drop for Bst<K, V> {
    /// Frees nodes with an explicit stack: the default recursive drop would
    /// overflow the call stack on a degenerate tree.
    fn drop(&mut self) {
        let mut stack: Vec<Box<BstNode<K, V>>> = self.root.take().into_iter().collect();
        while let Some(mut node) = stack.pop() {
            stack.extend(std::mem::take(&mut node.children).into_iter().flatten());
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Bst<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// In-order iterator over a [`Bst`].
pub struct BstIter<'a, K, V> {
    stack: Vec<&'a BstNode<K, V>>,
}

impl<'a, K, V> BstIter<'a, K, V> {
    fn push_left_spine(&mut self, mut link: Option<&'a BstNode<K, V>>) {
        while let Some(node) = link {
            self.stack.push(node);
            link = node.children[LEFT].as_deref();
        }
    }
}

impl<'a, K, V> Iterator for BstIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.stack.pop()?;
        self.push_left_spine(node.children[RIGHT].as_deref());
        Some((&node.key, &node.value))
    }
}

impl<K, V> std::iter::FusedIterator for BstIter<'_, K, V> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_degenerate_tree_drops_and_checks_without_recursion() {
        let mut tree = Bst::from_keys(0..10_000u32);
        assert_eq!(tree.height(), 10_000);
        assert_eq!(tree.check_invariants(), Ok(()));
        assert_eq!(tree.remove(&0), Some(()));
        assert_eq!(tree.height(), 9_999);
    }

    #[test]
    fn remove_matches_a_model() {
        let mut tree = Bst::new();
        let mut model = std::collections::BTreeMap::new();
        let mut x = 7u32;
        for step in 0..2_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let key = (x >> 16) % 64;
            if step % 3 == 0 {
                assert_eq!(tree.remove(&key), model.remove(&key));
            } else {
                assert_eq!(tree.insert(key, step), model.insert(key, step));
            }
            assert_eq!(tree.check_invariants(), Ok(()));
            assert_eq!(tree.len(), model.len());
        }
        assert!(tree.iter().map(|(k, v)| (*k, *v)).eq(model.into_iter()));
    }
}
