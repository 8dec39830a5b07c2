//! An HNSW vector index (Malkov & Yashunin, "Efficient and robust
//! approximate nearest neighbor search using Hierarchical Navigable Small
//! World graphs", arXiv:1603.09320), with an exact baseline and recall
//! tooling: Part III of the [Strata book](https://github.com/strata-db/strata).
//!
//! - [`Hnsw`]: insert (one at a time, or in parallel batches with
//!   [`Hnsw::insert_parallel`]), search (optionally filtered), remove
//!   (tombstones), compact, save and load, and a public
//!   [`Hnsw::check_invariants`].
//! - [`FlatIndex`]: exact search by computing every distance, the ground
//!   truth for [`recall_at_k`].
//! - [`Metric`]: squared L2, cosine (vectors normalised on insert) and inner
//!   product (not a metric; see [`metric`]).
//! - [`data`]: seeded synthetic data sets; [`io`]: readers for `.fvecs`,
//!   `.ivecs`, `.bvecs`, `.npy` and (gzipped) IDX files.
//!
//! # Example: find a vector's neighbours
//!
//! ```
//! use hnsw::{Hnsw, Metric, Params};
//!
//! let mut index = Hnsw::new(Metric::L2, 2, Params::new(16))?;
//! for (id, point) in [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]].iter().enumerate() {
//!     index.insert(id as u64, point)?;
//! }
//! let nearest = index.search(&[0.9, 0.1], 2, 10)?;
//! assert_eq!(nearest[0].id, 1);
//! assert_eq!(nearest[1].id, 0);
//! # Ok::<(), hnsw::Error>(())
//! ```
//!
//! # Example: measure recall against the exact answer
//!
//! ```
//! use hnsw::{FlatIndex, Hnsw, Metric, Params, data, recall_at_k};
//!
//! let points = data::clustered(2_000, 16, 10, 0.1, 7);
//! let mut index = Hnsw::new(Metric::L2, 16, Params::new(8))?;
//! let mut exact = FlatIndex::new(Metric::L2, 16)?;
//! for (id, v) in points.iter().enumerate() {
//!     index.insert(id as u64, v)?;
//!     exact.insert(id as u64, v)?;
//! }
//! let query = points.vector(0);
//! let recall = recall_at_k(&index.search(query, 10, 64)?, &exact.search(query, 10)?, 10);
//! assert!(recall >= 0.9, "recall {recall}");
//! # Ok::<(), hnsw::Error>(())
//! ```
//!
// ANCHOR: costs
//! # Costs
//!
//! Memory: 4 bytes per component, plus `4 (m0 + 1)` bytes of layer-0 links
//! per node and `4 (m + 1)` per upper layer (a node has `1 / (m − 1)` upper
//! layers on average), 42 bytes of bookkeeping per node on 64-bit targets
//! (id, level, tombstone, spanning-tree parent and child count, the header
//! of the upper-layer list), plus the id map.
//! Search: about `log n` greedy steps
//! down the layers, then an `ef`-wide search on layer 0.
//!
//! # Limits
//!
//! 1. At most 2³² − 1 nodes, removed ones included until [`Hnsw::compact`].
//! 2. Removed items stay in the graph as tombstones: they cost memory and
//!    search time until `compact`, which rebuilds the graph.
//! 3. A search returns fewer than `k` results only if fewer live (and
//!    allowed) items are reachable; with a selective filter it may visit
//!    the whole graph.
// ANCHOR_END: costs

#![deny(unsafe_code)] // `simd` alone allows it (see its docs); everything else is safe.
#![deny(missing_docs)]

pub mod data;
mod error;
mod flat;
pub mod homework;
mod index;
pub mod io;
pub mod metric;
mod persist;
#[cfg(target_arch = "x86_64")]
pub mod simd;
mod vector;
mod visited;

pub use error::{Error, Result};
pub use flat::{FlatIndex, Neighbor, recall_at_k};
pub use index::{
    DEGREE_MAX, Hnsw, LEVEL_MAX, PARALLEL_BATCH, PARALLEL_BOOTSTRAP, Params, SearchTrace,
    Selection, Violation,
};
pub use metric::Metric;
pub use persist::FORMAT_VERSION;
