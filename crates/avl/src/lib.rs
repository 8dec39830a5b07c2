//! An ordered map and set built on an AVL tree, written to be read.
//!
//! This crate is Part I of the [Strata book](https://github.com/strata-db/strata):
//! the index under the log-structured store of Part II. It offers
//!
//! * [`AvlMap`] and [`AvlSet`], with the surface and semantics of
//!   [`BTreeMap`](std::collections::BTreeMap) and
//!   [`BTreeSet`](std::collections::BTreeSet): `Borrow` look-ups, the entry
//!   API, double-ended ranges, `append` and `split_off`, the same panics;
//! * **order statistics** from stored subtree sizes: [`AvlMap::rank`],
//!   [`AvlMap::select`] and `iter().nth(i)` in O(log n);
//! * **join-based bulk operations** (Blelloch, Ferizovic and Sun, SPAA 2016):
//!   `append` of ordered maps and `split_off` in O(log n), set union,
//!   intersection and differences by split and join;
//! * **instruments for teaching**: a public invariant checker
//!   ([`AvlMap::check_invariants`]), rotation counters
//!   ([`AvlMap::rotation_stats`]), drawings of the tree ([`AvlMap::to_ascii`],
//!   [`AvlMap::to_svg`]), an unbalanced [`Bst`] to compare against, and
//!   adversarial key orders in [`shapes`].
//!
//! All in safe Rust, with no dependencies.
//!
//! # Example: a map
//!
//! ```
//! use avl::AvlMap;
//!
//! let mut stock = AvlMap::new();
//! stock.insert("pear", 3);
//! stock.insert("apple", 7);
//! stock.insert("fig", 0);
//! *stock.entry("pear").or_insert(0) += 2;
//!
//! let in_stock: Vec<&str> = stock.iter().filter(|(_, n)| **n > 0).map(|(k, _)| *k).collect();
//! assert_eq!(in_stock, ["apple", "pear"]);
//! assert_eq!(stock.range("b".."g").count(), 1); // "fig"
//! stock.check_invariants()?;
//! # Ok::<(), avl::InvariantViolation>(())
//! ```
//!
//! # Example: order statistics
//!
//! ```
//! use avl::AvlSet;
//!
//! let scores: AvlSet<u32> = [70, 95, 88, 61, 79].into_iter().collect();
//! // The median is the element of rank len/2.
//! assert_eq!(scores.select(scores.len() / 2), Some(&79));
//! // 88 beats three scores.
//! assert_eq!(scores.rank(&88), 3);
//! ```
//!
//! # Example: watching the tree balance itself
//!
//! ```
//! use avl::{AvlMap, Bst};
//!
//! let keys = 1..=7u32;
//! let avl: AvlMap<u32, ()> = keys.clone().fold(AvlMap::new(), |mut m, k| {
//!     m.insert(k, ());
//!     m
//! });
//! let bst = Bst::from_keys(keys);
//! assert_eq!(bst.height(), 7); // sorted input: a linked list
//! assert_eq!(avl.height(), 3); // perfectly balanced
//! assert_eq!(avl.rotation_stats().insert.single, 4);
//! print!("{}", avl.to_ascii());
//! //    ___4___
//! //   /       \
//! //  _2_     _6_
//! // /   \   /   \
//! // 1   3   5   7
//! # Ok::<(), avl::InvariantViolation>(())
//! ```
//!
//! # Invariants
//!
//! The *structure* (any size- and height-augmented binary search tree):
//!
//! 1. **Search order**: an in-order walk meets strictly increasing keys.
//! 2. **Stored size**: each node stores the number of nodes in its subtree; the
//!    root's is [`AvlMap::len`].
//! 3. **Stored height**: each node stores 1 + the larger of its children's
//!    heights (an empty subtree has height 0).
//!
//! The *balance rule* (what makes it AVL):
//!
//! 4. **Balance**: at *every* node the heights of the two subtrees differ by at
//!    most one.
//!
//! Invariant 4 is about heights, not about null children: a node may have two
//! children and be out of balance, or one child and be perfectly fine (see the
//! book's "Myth" box and `tests/myth.rs`).
//!
//! # Cost model
//!
//! n is the number of entries; m ≤ n the size of the smaller operand.
//!
//! | operation | time | notes |
//! |---|---|---|
//! | `get`, `contains_key`, `rank`, `select` | O(log n) | height < 1.4405·log₂(n + 2) |
//! | `insert` | O(log n) | at most one (single or double) rotation |
//! | `remove`, `pop_first`, `pop_last` | O(log n) | may rotate at every level |
//! | `entry` | O(log n) | one search by key, then by rank |
//! | `range`, `iter().nth(i)` | O(log n) to position | then O(1) amortized per step |
//! | `split_off`, `append` (ordered) | O(log n) | join-based |
//! | `append` (overlapping), set operators | O(m·log(n/m + 1)) | join-based union |
//! | `retain`, `from_iter` | O(n) | `from_iter` sorts first: O(n log n) |
//! | `check_invariants` | O(n) | |
//!
//! Memory: one heap node per entry holding the key, the value, two child
//! pointers, a `u32` size and a `u8` height: 40 bytes for `u64 → u64`.
//! Iterators allocate a stack (shared) or a deque (mutable, owning) of
//! O(log n) entries.
//!
//! # Quirks and limits
//!
//! 1. At most `u32::MAX` entries (sizes are `u32`); inserting beyond panics.
//! 2. Entries hold a *rank*, not a pointer, so each entry method walks from the
//!    root again (O(log n), no key comparisons).
//! 3. If `K`'s `Ord` panics, single-key operations (`insert`, `remove`, `get`,
//!    `entry`, `range`, `split_off`) leave the map exactly as it was: they
//!    compare keys before changing anything. An overlapping `append` or a set
//!    operator may drop the entries in flight but leaves valid, empty trees.
//!    `retain` runs the predicate on every entry before changing the tree, so a
//!    panicking predicate removes nothing.
//! 4. Iteration follows pointers from node to node, so iterating a large map
//!    built in random order misses the cache at almost every step, unlike a
//!    B-tree. The book measures this.
//! 5. Drop and clone recurse over the height (at most 45 levels), never over
//!    the length.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bst;
mod check;
mod entry;
mod iter;
mod join;
pub mod map;
mod node;
mod ops;
pub mod render;
pub mod set;
pub mod shapes;

pub use bst::{Bst, BstIter};
pub use check::{InvariantViolation, NodeId};
pub use map::{AvlMap, RotationStats};
pub use node::Rotations;
pub use render::Shape;
pub use set::AvlSet;
