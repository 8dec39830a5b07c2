//! An experiment, not a product: the same AVL tree with its nodes in one
//! `Vec` linked by `u32` indices instead of one `Box` per node.
//!
//! The book's performance chapter asks which representation `crates/avl`
//! should use. This is the other candidate, reduced to what the comparison
//! needs (insert, get, in-order iteration; no removal), with the same
//! rebalancing rules as `crates/avl/src/node.rs`. A node is 32 bytes for
//! `u64 → u64` (two `u32` links instead of two pointers) and nodes sit
//! back to back in insertion order, with no allocator header between them.

use std::cmp::Ordering;

/// Index of "no node".
const NIL: u32 = u32::MAX;

#[derive(Clone)]
struct ArenaNode {
    key: u64,
    value: u64,
    children: [u32; 2],
    size: u32,
    height: u8,
}

/// An AVL map from `u64` to `u64` whose nodes live in one vector.
#[derive(Clone, Default)]
pub struct ArenaAvl {
    nodes: Vec<ArenaNode>,
    root: Option<u32>,
}

impl ArenaAvl {
    fn height(&self, index: u32) -> u8 {
        if index == NIL {
            0
        } else {
            self.nodes[index as usize].height
        }
    }

    fn size(&self, index: u32) -> u32 {
        if index == NIL {
            0
        } else {
            self.nodes[index as usize].size
        }
    }

    fn update(&mut self, index: u32) {
        let [left, right] = self.nodes[index as usize].children;
        let height = 1 + self.height(left).max(self.height(right));
        let size = 1 + self.size(left) + self.size(right);
        let node = &mut self.nodes[index as usize];
        node.height = height;
        node.size = size;
    }

    fn balance(&self, index: u32) -> i16 {
        let [left, right] = self.nodes[index as usize].children;
        i16::from(self.height(right)) - i16::from(self.height(left))
    }

    /// Rotates the subtree at `root` so that it moves down towards `dir`;
    /// returns the new subtree root.
    fn rotate(&mut self, root: u32, dir: usize) -> u32 {
        let other = 1 - dir;
        let pivot = self.nodes[root as usize].children[other];
        self.nodes[root as usize].children[other] = self.nodes[pivot as usize].children[dir];
        self.update(root);
        self.nodes[pivot as usize].children[dir] = root;
        self.update(pivot);
        pivot
    }

    fn rebalance(&mut self, root: u32) -> u32 {
        self.update(root);
        let balance = self.balance(root);
        if balance.abs() <= 1 {
            return root;
        }
        let (heavy, light) = if balance > 0 { (1, 0) } else { (0, 1) };
        let child = self.nodes[root as usize].children[heavy];
        let inwards = if heavy == 1 {
            self.balance(child) < 0
        } else {
            self.balance(child) > 0
        };
        if inwards {
            let new_child = self.rotate(child, heavy);
            self.nodes[root as usize].children[heavy] = new_child;
        }
        self.rotate(root, light)
    }

    fn insert_at(&mut self, index: u32, key: u64, value: u64) -> (u32, bool) {
        if index == NIL {
            let new = self.nodes.len() as u32;
            self.nodes.push(ArenaNode {
                key,
                value,
                children: [NIL, NIL],
                size: 1,
                height: 1,
            });
            return (new, true);
        }
        let node = &mut self.nodes[index as usize];
        let dir = match key.cmp(&node.key) {
            Ordering::Less => 0,
            Ordering::Greater => 1,
            Ordering::Equal => {
                node.value = value;
                return (index, false);
            }
        };
        let child = node.children[dir];
        let before = self.height(child);
        let (new_child, added) = self.insert_at(child, key, value);
        self.nodes[index as usize].children[dir] = new_child;
        if !added {
            return (index, false);
        }
        if self.height(new_child) == before {
            self.nodes[index as usize].size += 1;
            (index, true)
        } else {
            (self.rebalance(index), true)
        }
    }

    /// Inserts or overwrites.
    pub fn insert(&mut self, key: u64, value: u64) {
        let root = self.root.unwrap_or(NIL);
        let (root, _) = self.insert_at(root, key, value);
        self.root = Some(root);
    }

    /// The value for `key`.
    pub fn get(&self, key: u64) -> Option<u64> {
        let mut index = self.root.unwrap_or(NIL);
        while index != NIL {
            let node = &self.nodes[index as usize];
            match key.cmp(&node.key) {
                Ordering::Less => index = node.children[0],
                Ordering::Greater => index = node.children[1],
                Ordering::Equal => return Some(node.value),
            }
        }
        None
    }

    /// The value for `key`, choosing the child by indexing with the
    /// comparison (`children[(key > node.key) as usize]`) instead of
    /// branching on it: the "branch-free" descent the book's BST chapter
    /// asks about. Only the equality test is a branch.
    pub fn get_branch_free(&self, key: u64) -> Option<u64> {
        let mut index = self.root.unwrap_or(NIL);
        while index != NIL {
            let node = &self.nodes[index as usize];
            if key == node.key {
                return Some(node.value);
            }
            index = node.children[usize::from(key > node.key)];
        }
        None
    }

    /// Sums the values in key order (explicit stack, as `AvlMap::iter`).
    pub fn sum_all(&self) -> u64 {
        let mut stack = Vec::with_capacity(64);
        let mut sum = 0u64;
        let mut index = self.root.unwrap_or(NIL);
        loop {
            while index != NIL {
                stack.push(index);
                index = self.nodes[index as usize].children[0];
            }
            let Some(top) = stack.pop() else { return sum };
            let node = &self.nodes[top as usize];
            sum = sum.wrapping_add(node.value);
            index = node.children[1];
        }
    }

    /// Height of the tree.
    pub fn tree_height(&self) -> usize {
        usize::from(self.height(self.root.unwrap_or(NIL)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_avl_map() {
        let keys = crate::keys(5_000, crate::Order::Random);
        let mut arena = ArenaAvl::default();
        let mut map = avl::AvlMap::new();
        for &k in &keys {
            arena.insert(k, k / 2);
            map.insert(k, k / 2);
        }
        assert_eq!(arena.tree_height(), map.height(), "same rules, same shape");
        for &k in keys.iter().step_by(7) {
            assert_eq!(arena.get(k), map.get(&k).copied());
            assert_eq!(arena.get_branch_free(k), map.get(&k).copied());
            assert_eq!(arena.get_branch_free(k + 1), map.get(&(k + 1)).copied());
        }
        assert_eq!(
            arena.sum_all(),
            map.values().fold(0u64, |a, v| a.wrapping_add(*v))
        );
        assert_eq!(std::mem::size_of::<ArenaNode>(), 32);
    }
}
