//! The HNSW index: a hierarchy of proximity graphs searched greedily from
//! the top (Malkov & Yashunin, arXiv:1603.09320).
//!
//! Each node is one inserted vector. A node drawn at level `L` lives on
//! layers `0..=L`; the upper layers hold exponentially fewer nodes, like the
//! express lanes of a skip list, and a search walks down them to a good
//! starting point on layer 0, where every node lives.
//!
// ANCHOR: invariants
//! # Invariants
//!
//! Structure (checked by [`Hnsw::check_invariants`]):
//!
//! 1. **Degree.** A node has at most `m0` neighbours on layer 0 and at most
//!    `m` on every layer above.
//! 2. **Links are sane.** No node links to itself or twice to the same node;
//!    every neighbour on layer `l` lives on layer `l` or above.
//! 3. **Entry point.** The entry point is a node of the highest level.
//! 4. **Ids.** Every live id maps to exactly one node, which holds that id
//!    and is not removed; removed nodes (tombstones) keep their vector and
//!    links until [`Hnsw::compact`].
//! 5. **Reachability.** Every live node can be reached from the entry point
//!    by following layer-0 links (through tombstones too).
//!
//! Invariant 5 does not come for free: when a node with too many
//! neighbours prunes its list, it may drop the only link to some node,
//! which then can never be found (with small `m`, or many equal vectors,
//! the model test finds such cases within a few inserts). So the index keeps
//! a spanning tree inside the layer-0 links: every node but the entry point
//! has a *parent* that links to it, and pruning never drops a link to a
//! child. A node takes as parent its nearest new neighbour that has fewer
//! than `m0` children; a new entry point becomes the parent of the old one.
//!
//! Search (not checked by the checker, tested by the tests): results are
//! live, sorted by distance then id, unique, and `min(k, live)` long when
//! the graph is connected (invariant 5) — a filter can only shorten them
//! to the number of items it allows.
//!
//! Deliberately not guaranteed: that a result is the true nearest
//! neighbour. That is what `ef` trades against speed, and what
//! [`crate::recall_at_k`] measures.
// ANCHOR_END: invariants

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};
use crate::flat::{Neighbor, by_distance_then_id};
use crate::metric::{Kernels, Metric};
use crate::vector::prepare;
use crate::visited::Visited;

/// Highest level a node is given (the geometric law makes higher levels
/// vanishingly rare: P(level ≥ 32) = m^-32).
pub const LEVEL_MAX: usize = 32;
/// Largest `m` or `m0` accepted.
pub const DEGREE_MAX: usize = 4_096;
/// Nodes an index gets one at a time before [`Hnsw::insert_parallel`]
/// starts planning in batches (a tiny graph gives poor plans).
pub const PARALLEL_BOOTSTRAP: usize = 1_024;
/// Nodes planned together by [`Hnsw::insert_parallel`]: they do not see each
/// other while searching, so smaller batches cost less recall.
pub const PARALLEL_BATCH: usize = 256;

/// Where a new node links, found by [`Hnsw::plan`]: the entry point the
/// search started from and, per layer top down, the chosen neighbours and
/// all candidates found.
#[derive(Debug, Default)]
struct Plan {
    entry: Option<u32>,
    layers: Vec<PlannedLayer>,
}

/// One layer of a [`Plan`]: the layer, the neighbours chosen there, and the
/// candidates the search found (nearest first).
type PlannedLayer = (usize, Vec<u32>, Vec<Scored>);

/// The parent of the spanning tree's root.
pub(crate) const NO_PARENT: u32 = u32::MAX;

// ANCHOR: selection
/// How a node chooses its neighbours among the candidates a search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The paper's Algorithm 3: the nearest candidates.
    Simple,
    /// The paper's Algorithm 4: a candidate is kept only if it is at least
    /// as close to the new node as to every neighbour kept so far, so that
    /// links point in different directions (and bridge clusters).
    Heuristic {
        /// Also consider the candidates' own neighbours.
        extend_candidates: bool,
        /// Fill the remaining slots with the nearest discarded candidates.
        keep_pruned: bool,
    },
}
// ANCHOR_END: selection

// ANCHOR: params
/// Construction parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Neighbours chosen for a new node on each layer, and the most a node
    /// keeps on layers above 0 (the paper's `M` and `M_max`). At least 2.
    pub m: usize,
    /// The most neighbours a node keeps on layer 0 (`M_max0`), at least `m`.
    pub m0: usize,
    /// Candidates kept by the search that finds a new node's neighbours.
    pub ef_construction: usize,
    /// The paper's `m_L`: a node's level is ⌊−ln(U) · m_L⌋ for U uniform in
    /// (0, 1], so P(level ≥ l) = e^(−l / m_L).
    pub level_multiplier: f64,
    /// Seed of the level draws: the same seed and inserts give the same graph.
    pub seed: u64,
    /// How neighbours are chosen.
    pub selection: Selection,
}
// ANCHOR_END: params

impl Params {
    /// Defaults for `m`: the paper's `m0 = 2m` and `m_L = 1 / ln m` (so
    /// P(level ≥ l) = m^−l), hnswlib's `ef_construction = 200`, seed 0, and
    /// the heuristic without its two options (as hnswlib).
    pub fn new(m: usize) -> Params {
        Params {
            m,
            m0: 2 * m,
            ef_construction: 200,
            level_multiplier: 1.0 / (m as f64).ln(),
            seed: 0,
            selection: Selection::Heuristic {
                extend_candidates: false,
                keep_pruned: false,
            },
        }
    }

    fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidParameter(message));
        if self.m < 2 {
            return invalid(format!("m = {} but must be at least 2", self.m));
        }
        if self.m0 < self.m {
            return invalid(format!(
                "m0 = {} but must be at least m = {}",
                self.m0, self.m
            ));
        }
        if self.m0 > DEGREE_MAX {
            return invalid(format!("m0 = {} exceeds {DEGREE_MAX}", self.m0));
        }
        if self.ef_construction == 0 {
            return invalid("ef_construction must be at least 1".into());
        }
        if !(self.level_multiplier.is_finite() && self.level_multiplier > 0.0) {
            return invalid(format!(
                "level_multiplier = {} but must be finite and positive",
                self.level_multiplier
            ));
        }
        Ok(())
    }
}

/// A node and its distance to some base vector, ordered by distance then
/// node number (a total order, so ties break the same way every run).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored {
    distance: f32,
    node: u32,
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.node.cmp(&other.node))
    }
}

/// Watches a search from the inside: every distance it evaluates and
/// every node its greedy descent steps to. Searches that nobody watches use
/// [`Unwatched`], whose empty methods compile away.
trait Probe {
    /// A distance to `node` was computed on `layer`.
    fn evaluated(&mut self, _layer: usize, _node: u32) {}
    /// The greedy descent moved to `node` on `layer`.
    fn stepped(&mut self, _layer: usize, _node: u32) {}
}

struct Unwatched;
impl Probe for Unwatched {}

/// What one search did, from [`Hnsw::search_traced`]: the work it cost and
/// the way it went, for figures, tests of the cost model and the curious.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchTrace {
    /// Distances evaluated, on all layers (the entry point's included): the
    /// cost model of the paper, independent of the machine.
    pub distance_evaluations: u64,
    /// The greedy descent through the layers above 0, top down: each layer
    /// and the ids the walk stood on there, starting where the layer above
    /// ended (the entry point on the top layer).
    pub descent: Vec<(usize, Vec<u64>)>,
    /// The ids whose distance the search evaluated on layer 0, in order.
    pub layer0_evaluated: Vec<u64>,
}

struct Tracer<'a> {
    ids: &'a [u64],
    trace: SearchTrace,
}

impl Probe for Tracer<'_> {
    fn evaluated(&mut self, layer: usize, node: u32) {
        self.trace.distance_evaluations += 1;
        if layer == 0 {
            self.trace.layer0_evaluated.push(self.ids[node as usize]);
        }
    }

    fn stepped(&mut self, layer: usize, node: u32) {
        let id = self.ids[node as usize];
        match self.trace.descent.last_mut() {
            Some((l, path)) if *l == layer => path.push(id),
            _ => self.trace.descent.push((layer, vec![id])),
        }
    }
}

/// A broken invariant, as found by [`Hnsw::check_invariants`]: which
/// invariant of the module docs (see [`Violation::invariant`]), where, and
/// with which numbers. Nodes are internal node numbers (insertion order
/// since the last compaction); ids are the user's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// Bookkeeping (invariant 0): the per-node arrays disagree on how many
    /// nodes there are.
    Arrays {
        /// Nodes according to the id array.
        nodes: usize,
    },
    /// Bookkeeping (invariant 0): a node's upper-layer link slots do not
    /// match its level.
    UpperSlots {
        /// The node.
        node: u32,
        /// Its level.
        level: usize,
    },
    /// Invariant 1: a node has more neighbours on a layer than the cap.
    Degree {
        /// The node.
        node: u32,
        /// The layer.
        layer: usize,
        /// Neighbours it has there.
        count: usize,
        /// `m0` on layer 0, `m` above.
        cap: usize,
    },
    /// Invariant 2: a link to a node that does not exist.
    LinkOutOfRange {
        /// The node holding the link.
        node: u32,
        /// The layer.
        layer: usize,
        /// The node it links to.
        neighbor: u32,
        /// Nodes in the index.
        nodes: usize,
    },
    /// Invariant 2: a node links to itself.
    SelfLink {
        /// The node.
        node: u32,
        /// The layer.
        layer: usize,
    },
    /// Invariant 2: a node links twice to the same neighbour.
    DuplicateLink {
        /// The node.
        node: u32,
        /// The layer.
        layer: usize,
        /// The neighbour listed twice.
        neighbor: u32,
    },
    /// Invariant 2: a link on a layer the neighbour does not live on.
    LinkAboveLevel {
        /// The node holding the link.
        node: u32,
        /// The layer of the link.
        layer: usize,
        /// The neighbour.
        neighbor: u32,
        /// The neighbour's level, below `layer`.
        neighbor_level: usize,
    },
    /// Invariant 3: the index has nodes but no entry point.
    NoEntryPoint {
        /// Nodes in the index.
        nodes: usize,
    },
    /// Invariant 3: the entry point is not a node.
    EntryOutOfRange {
        /// The entry point.
        entry: u32,
        /// Nodes in the index.
        nodes: usize,
    },
    /// Invariant 3: the entry point is not of the highest level.
    EntryNotTop {
        /// The entry point.
        entry: u32,
        /// Its level.
        level: usize,
        /// The highest level of any node.
        top: usize,
    },
    /// Invariant 4: an id maps to a node that does not hold it live.
    IdMap {
        /// The user's id.
        id: u64,
        /// The node it maps to.
        node: u32,
    },
    /// Invariant 4: the number of live nodes and of live ids differ.
    LiveCount {
        /// Nodes not removed.
        live_nodes: usize,
        /// Ids in the id map.
        live_ids: usize,
    },
    /// Invariant 5 (its spanning tree): the node without a parent is not the
    /// entry point, or the entry point has a parent.
    TreeRoot {
        /// The node.
        node: u32,
        /// Its tree parent, if any.
        parent: Option<u32>,
        /// The entry point.
        entry: Option<u32>,
    },
    /// Invariant 5 (its spanning tree): a node's tree parent does not link
    /// to it on layer 0.
    TreeParentLink {
        /// The node.
        node: u32,
        /// Its tree parent.
        parent: u32,
    },
    /// Invariant 5 (its spanning tree): a node's stored count of children
    /// disagrees with the parents, or exceeds `m0`.
    TreeChildren {
        /// The node.
        node: u32,
        /// Children it stores.
        stored: u32,
        /// Nodes naming it as parent.
        counted: u32,
    },
    /// Invariant 5 (its spanning tree): following tree parents from a node
    /// goes round a cycle and never reaches the entry point.
    TreeCycle {
        /// A node on the cycle.
        node: u32,
    },
    /// Invariant 5: a live node cannot be reached from the entry point on
    /// layer 0.
    Unreachable {
        /// The node.
        node: u32,
        /// Its id.
        id: u64,
    },
}

impl Violation {
    /// The number of the broken invariant in the module docs (1–5; 0 for
    /// internal bookkeeping).
    pub fn invariant(&self) -> u8 {
        match self {
            Violation::Arrays { .. } | Violation::UpperSlots { .. } => 0,
            Violation::Degree { .. } => 1,
            Violation::LinkOutOfRange { .. }
            | Violation::SelfLink { .. }
            | Violation::DuplicateLink { .. }
            | Violation::LinkAboveLevel { .. } => 2,
            Violation::NoEntryPoint { .. }
            | Violation::EntryOutOfRange { .. }
            | Violation::EntryNotTop { .. } => 3,
            Violation::IdMap { .. } | Violation::LiveCount { .. } => 4,
            Violation::TreeRoot { .. }
            | Violation::TreeParentLink { .. }
            | Violation::TreeChildren { .. }
            | Violation::TreeCycle { .. }
            | Violation::Unreachable { .. } => 5,
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.invariant();
        match self {
            Violation::Arrays { nodes } => write!(
                f,
                "bookkeeping broken: the node arrays disagree on the number of nodes ({nodes})"
            ),
            Violation::UpperSlots { node, level } => write!(
                f,
                "bookkeeping broken at node {node}: its upper link slots do not fit level {level}"
            ),
            Violation::Degree {
                node,
                layer,
                count,
                cap,
            } => write!(
                f,
                "invariant {n} (degree) broken at node {node}: {count} neighbours on layer {layer}, cap {cap}"
            ),
            Violation::LinkOutOfRange {
                node,
                layer,
                neighbor,
                nodes,
            } => write!(
                f,
                "invariant {n} (links) broken at node {node}: links on layer {layer} to {neighbor}, of {nodes} nodes"
            ),
            Violation::SelfLink { node, layer } => write!(
                f,
                "invariant {n} (links) broken at node {node}: links to itself on layer {layer}"
            ),
            Violation::DuplicateLink {
                node,
                layer,
                neighbor,
            } => write!(
                f,
                "invariant {n} (links) broken at node {node}: links twice to {neighbor} on layer {layer}"
            ),
            Violation::LinkAboveLevel {
                node,
                layer,
                neighbor,
                neighbor_level,
            } => write!(
                f,
                "invariant {n} (links) broken at node {node}: links on layer {layer} to {neighbor}, of level {neighbor_level}"
            ),
            Violation::NoEntryPoint { nodes } => write!(
                f,
                "invariant {n} (entry point) broken: {nodes} nodes but no entry point"
            ),
            Violation::EntryOutOfRange { entry, nodes } => write!(
                f,
                "invariant {n} (entry point) broken: entry point {entry} of {nodes} nodes"
            ),
            Violation::EntryNotTop { entry, level, top } => write!(
                f,
                "invariant {n} (entry point) broken: entry point {entry} has level {level}, the top level is {top}"
            ),
            Violation::IdMap { id, node } => write!(
                f,
                "invariant {n} (ids) broken: id {id} maps to node {node}, which does not hold it live"
            ),
            Violation::LiveCount {
                live_nodes,
                live_ids,
            } => write!(
                f,
                "invariant {n} (ids) broken: {live_nodes} live nodes but {live_ids} live ids"
            ),
            Violation::TreeRoot {
                node,
                parent,
                entry,
            } => write!(
                f,
                "invariant {n} (reachability tree) broken at node {node}: tree parent {parent:?}, entry point {entry:?}"
            ),
            Violation::TreeParentLink { node, parent } => write!(
                f,
                "invariant {n} (reachability tree) broken at node {node}: its tree parent {parent} does not link to it on layer 0"
            ),
            Violation::TreeChildren {
                node,
                stored,
                counted,
            } => write!(
                f,
                "invariant {n} (reachability tree) broken at node {node}: stores {stored} children, {counted} name it as parent"
            ),
            Violation::TreeCycle { node } => write!(
                f,
                "invariant {n} (reachability tree) broken at node {node}: its tree parents form a cycle"
            ),
            Violation::Unreachable { node, id } => write!(
                f,
                "invariant {n} (reachability) broken at node {node} (id {id}): not reachable from the entry point on layer 0"
            ),
        }
    }
}

impl std::error::Error for Violation {}

// ANCHOR: hnsw
/// An HNSW index over vectors of one dimension, under one metric.
#[derive(Debug)]
pub struct Hnsw {
    pub(crate) params: Params,
    pub(crate) metric: Metric,
    pub(crate) dimension: usize,
    /// Node `i`'s vector is `vectors[i * dimension..][..dimension]`.
    pub(crate) vectors: Vec<f32>,
    /// The user's id of each node.
    pub(crate) ids: Vec<u64>,
    /// Each node's level.
    pub(crate) levels: Vec<u8>,
    /// Tombstones.
    pub(crate) removed: Vec<bool>,
    /// Layer-0 links: node `i`'s slot is `layer0[i * (m0 + 1)..][..m0 + 1]`,
    /// holding the count, then the neighbours.
    pub(crate) layer0: Vec<u32>,
    /// Links above layer 0: node `i`'s layer `l ≥ 1` slot is
    /// `upper[i][(l - 1) * (m + 1)..][..m + 1]`, count first.
    pub(crate) upper: Vec<Vec<u32>>,
    pub(crate) entry: Option<u32>,
    /// Each node's parent in the layer-0 spanning tree ([`NO_PARENT`] for
    /// the entry point). Saved with the index: the links alone do not say
    /// which of a node's in-links is its parent.
    pub(crate) parent: Vec<u32>,
    /// How many nodes have each node as parent (at most `m0`).
    pub(crate) children: Vec<u32>,
    /// Live ids only.
    pub(crate) by_id: HashMap<u64, u32>,
    rng: ChaCha8Rng,
    /// The distance kernels, chosen when the index is made.
    kernels: Kernels,
    /// Visited sets for concurrent searches, reused.
    visited: Mutex<Vec<Visited>>,
}
// ANCHOR_END: hnsw

/// A copy of the index: the same graph, vectors, ids and tombstones, and
/// the same level generator state (its draws replayed, one per node, as a
/// loaded index does), so the copy and the original insert the same items
/// into the same graphs. Only the pool of reusable visited sets is not
/// copied (it is a cache).
impl Clone for Hnsw {
    fn clone(&self) -> Hnsw {
        Hnsw {
            params: self.params,
            metric: self.metric,
            dimension: self.dimension,
            vectors: self.vectors.clone(),
            ids: self.ids.clone(),
            levels: self.levels.clone(),
            removed: self.removed.clone(),
            layer0: self.layer0.clone(),
            upper: self.upper.clone(),
            entry: self.entry,
            parent: self.parent.clone(),
            children: self.children.clone(),
            by_id: self.by_id.clone(),
            rng: self.replayed_rng(),
            kernels: self.kernels,
            visited: Mutex::new(Vec::new()),
        }
    }
}

impl Hnsw {
    /// An empty index.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] if `dimension` is 0 or `params` are out
    /// of range (`m < 2`, `m0 < m`, `ef_construction == 0`, a non-positive
    /// level multiplier).
    pub fn new(metric: Metric, dimension: usize, params: Params) -> Result<Hnsw> {
        params.validate()?;
        if dimension == 0 {
            return Err(Error::InvalidParameter(
                "dimension must be at least 1".into(),
            ));
        }
        Ok(Hnsw {
            params,
            metric,
            dimension,
            vectors: Vec::new(),
            ids: Vec::new(),
            levels: Vec::new(),
            removed: Vec::new(),
            layer0: Vec::new(),
            upper: Vec::new(),
            entry: None,
            parent: Vec::new(),
            children: Vec::new(),
            by_id: HashMap::new(),
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            kernels: Kernels::detect(),
            visited: Mutex::new(Vec::new()),
        })
    }

    /// The construction parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// The metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Components per vector.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Number of live items.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are no live items.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Number of nodes, removed ones included (until [`Hnsw::compact`]).
    pub fn nodes(&self) -> usize {
        self.ids.len()
    }

    /// Whether `id` is live.
    pub fn contains(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The stored vector of `id` (normalised under cosine).
    pub fn vector(&self, id: u64) -> Option<&[f32]> {
        self.by_id.get(&id).map(|&node| self.vector_of(node))
    }

    /// The ids `id` links to on `layer`, in link order; `None` if `id` is
    /// not live or does not reach that layer. Links to removed nodes show
    /// their (former) ids.
    pub fn links(&self, id: u64, layer: usize) -> Option<Vec<u64>> {
        let &node = self.by_id.get(&id)?;
        if layer > self.levels[node as usize] as usize {
            return None;
        }
        Some(
            self.neighbors(node, layer)
                .iter()
                .map(|&n| self.ids[n as usize])
                .collect(),
        )
    }

    /// The level of live item `id` (it lives on layers `0..=level`).
    pub fn level(&self, id: u64) -> Option<usize> {
        self.by_id
            .get(&id)
            .map(|&node| self.levels[node as usize] as usize)
    }

    /// The id at the entry point (possibly removed: it stays the entry
    /// until [`Hnsw::compact`]).
    pub fn entry_point(&self) -> Option<u64> {
        self.entry.map(|node| self.ids[node as usize])
    }

    /// Each node's level, in insertion order (removed nodes included).
    pub fn levels(&self) -> &[u8] {
        &self.levels
    }

    // ANCHOR: memory_bytes
    /// Bytes of the vectors, the links and each node's bookkeeping: id (8),
    /// level (1), tombstone flag (1), spanning-tree parent and child count
    /// (4 + 4), and the header of its upper-layer link list (a `Vec`: 24
    /// bytes on 64-bit targets, even for a node with no upper layer). Not
    /// counted: the id map and allocator overhead.
    pub fn memory_bytes(&self) -> usize {
        let links: usize = self.upper.iter().map(Vec::len).sum::<usize>() + self.layer0.len();
        let per_node = 8 + 1 + 1 + 4 + 4 + std::mem::size_of::<Vec<u32>>();
        self.vectors.len() * 4 + links * 4 + self.ids.len() * per_node
    }
    // ANCHOR_END: memory_bytes

    /// The level generator as it is now: seeded, with one draw per node
    /// inserted since the index was made or compacted.
    fn replayed_rng(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
        for _ in 0..self.ids.len() {
            let _: f64 = rng.random();
        }
        rng
    }

    pub(crate) fn set_rng(&mut self, rng: ChaCha8Rng) {
        self.rng = rng;
    }

    pub(crate) fn vector_of(&self, node: u32) -> &[f32] {
        let start = node as usize * self.dimension;
        &self.vectors[start..start + self.dimension]
    }

    fn distance_to(&self, query: &[f32], node: u32) -> f32 {
        self.metric
            .distance_with(self.kernels, query, self.vector_of(node))
    }

    // ANCHOR: neighbors
    /// Node `node`'s link slot on `layer`: the count, then the neighbours.
    #[inline]
    fn neighbor_slot(&self, node: u32, layer: usize) -> &[u32] {
        if layer == 0 {
            let stride = self.params.m0 + 1;
            &self.layer0[node as usize * stride..][..stride]
        } else {
            let stride = self.params.m + 1;
            &self.upper[node as usize][(layer - 1) * stride..][..stride]
        }
    }

    /// Node `node`'s neighbours on `layer`.
    pub(crate) fn neighbors(&self, node: u32, layer: usize) -> &[u32] {
        let slot = self.neighbor_slot(node, layer);
        &slot[1..=slot[0] as usize]
    }
    // ANCHOR_END: neighbors

    fn set_neighbors(&mut self, node: u32, layer: usize, neighbors: &[u32]) {
        let slot = if layer == 0 {
            let stride = self.params.m0 + 1;
            &mut self.layer0[node as usize * stride..][..stride]
        } else {
            let stride = self.params.m + 1;
            &mut self.upper[node as usize][(layer - 1) * stride..][..stride]
        };
        debug_assert!(neighbors.len() < slot.len(), "degree cap (invariant 1)");
        slot[0] = neighbors.len() as u32;
        slot[1..=neighbors.len()].copy_from_slice(neighbors);
    }

    // ANCHOR: random_level
    /// ⌊−ln(U) · m_L⌋ for U uniform in (0, 1], capped at [`LEVEL_MAX`].
    fn random_level(&mut self) -> usize {
        let u: f64 = 1.0 - self.rng.random::<f64>();
        let level = (-u.ln() * self.params.level_multiplier).floor();
        (level as usize).min(LEVEL_MAX)
    }
    // ANCHOR_END: random_level

    fn take_visited(&self) -> Visited {
        let mut pool = self.visited.lock().unwrap_or_else(PoisonError::into_inner);
        let mut visited = pool.pop().unwrap_or_default();
        visited.reset(self.ids.len());
        visited
    }

    fn return_visited(&self, visited: Visited) {
        let mut pool = self.visited.lock().unwrap_or_else(PoisonError::into_inner);
        pool.push(visited);
    }

    // ANCHOR: insert
    /// Adds `vector` under `id`.
    ///
    /// # Errors
    ///
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], [`Error::ZeroVector`]
    /// (cosine), [`Error::DuplicateId`] if `id` is live, [`Error::Full`] if
    /// the index has 2³² − 1 nodes. A removed id may be inserted again.
    pub fn insert(&mut self, id: u64, vector: &[f32]) -> Result<()> {
        let prepared = prepare(self.metric, self.dimension, vector)?;
        if self.by_id.contains_key(&id) {
            return Err(Error::DuplicateId(id));
        }
        if self.ids.len() >= u32::MAX as usize {
            return Err(Error::Full(self.ids.len()));
        }
        self.insert_prepared(id, &prepared);
        Ok(())
    }

    /// Inserts a checked vector: the paper's Algorithm 1. Step 1 draws the
    /// level and stores the node, unlinked; `plan` does step 2 and the
    /// searches and selections of step 3; `apply` makes step 3's links and
    /// does step 4.
    pub(crate) fn insert_prepared(&mut self, id: u64, query: &[f32]) {
        let level = self.random_level();
        let node = self.push_node(id, query, level);
        let plan = self.plan(node);
        self.apply(node, plan);
    }
    // ANCHOR_END: insert

    // ANCHOR: plan
    /// Where `node` (pushed, not yet linked) should link: for each of its
    /// layers that the graph already has, top down, the candidates a search
    /// found and the neighbours the selection rule chose. Reads the graph
    /// only, so several plans can be made at once (the parallel build).
    fn plan(&self, node: u32) -> Plan {
        let Some(entry) = self.entry else {
            return Plan::default();
        };
        let query = self.vector_of(node);
        let level = self.levels[node as usize] as usize;
        let top = self.levels[entry as usize] as usize;
        let nearest = self.descend(query, entry, top, level);
        let layers = self.choose_neighbors(query, node, nearest, level.min(top));
        Plan {
            entry: Some(entry),
            layers,
        }
    }
    // ANCHOR_END: plan

    // ANCHOR: descend
    /// Step 2: from `entry` (on layer `top`), the greedy walk down through
    /// the layers above `level` to the node nearest `query` it can find.
    fn descend(&self, query: &[f32], entry: u32, top: usize, level: usize) -> Scored {
        let mut nearest = Scored {
            distance: self.distance_to(query, entry),
            node: entry,
        };
        for layer in (level + 1..=top).rev() {
            nearest = self.greedy(query, nearest, layer, &mut Unwatched);
        }
        nearest
    }
    // ANCHOR_END: descend

    // ANCHOR: choose_neighbors
    /// Step 3 without the links: on each layer from `highest` down to 0,
    /// the `ef_construction` candidates nearest `query` (for `node`), found
    /// from the layer above's candidates, and the neighbours selected among
    /// them, as `(layer, chosen, candidates)`.
    fn choose_neighbors(
        &self,
        query: &[f32],
        node: u32,
        nearest: Scored,
        highest: usize,
    ) -> Vec<PlannedLayer> {
        let mut layers = Vec::with_capacity(highest + 1);
        let mut entry_points = vec![nearest];
        for layer in (0..=highest).rev() {
            let found = self.search_layer(
                query,
                &entry_points,
                self.params.ef_construction,
                layer,
                |_| true,
                &mut Unwatched,
            );
            let chosen = self.select(query, &found, self.params.m, layer, node, &[]);
            layers.push((
                layer,
                chosen.iter().map(|s| s.node).collect(),
                found.clone(),
            ));
            entry_points = found;
        }
        layers
    }
    // ANCHOR_END: choose_neighbors

    // ANCHOR: apply
    /// Links `node` as `plan` says (the paper's Algorithm 1, after the
    /// searches): its own links, a parent in the spanning tree, the links
    /// back (pruning full lists), and the entry point if it is the highest.
    fn apply(&mut self, node: u32, plan: Plan) {
        let Some(entry) = plan.entry else {
            self.entry = Some(node);
            return;
        };
        for (layer, links, found) in plan.layers {
            self.set_neighbors(node, layer, &links);
            if layer == 0 {
                self.adopt(node, &links, &found);
            }
            for &neighbor in &links {
                self.link(neighbor, node, layer);
            }
        }
        let top = self.levels[entry as usize];
        if self.levels[node as usize] > top {
            self.become_entry(node, entry);
        }
    }
    // ANCHOR_END: apply

    // ANCHOR: parallel
    /// Inserts every `(id, vector)` of `items`, searching for the new
    /// nodes' neighbours on `threads` threads at once.
    ///
    /// The items are taken in batches. For a batch, the levels are drawn
    /// in order (as [`Hnsw::insert`] would), the searches run in parallel
    /// against the graph as it was before the batch, and the links are then
    /// made one node at a time, in order. So the result depends on the batch
    /// size but not on the number of threads: the same seed and items give
    /// the same graph with 1 thread or 16. Nodes of one batch do not see
    /// each other while searching, which costs a little recall; the first
    /// [`PARALLEL_BOOTSTRAP`] nodes of an index, and any node that raises
    /// the top level, are inserted one at a time as by `insert`.
    ///
    /// # Errors
    ///
    /// As [`Hnsw::insert`], checked for every item before anything is
    /// inserted (so an error leaves the index unchanged); a duplicate id
    /// within `items` is [`Error::DuplicateId`].
    pub fn insert_parallel(&mut self, items: &[(u64, &[f32])], threads: usize) -> Result<()> {
        let mut prepared = Vec::with_capacity(items.len());
        let mut ids = std::collections::HashSet::with_capacity(items.len());
        for &(id, vector) in items {
            if self.by_id.contains_key(&id) || !ids.insert(id) {
                return Err(Error::DuplicateId(id));
            }
            prepared.push(prepare(self.metric, self.dimension, vector)?);
        }
        if self.ids.len() + items.len() > u32::MAX as usize {
            return Err(Error::Full(self.ids.len()));
        }
        let threads = threads.max(1);
        let mut next = 0;
        while next < items.len() && self.ids.len() < PARALLEL_BOOTSTRAP {
            self.insert_prepared(items[next].0, &prepared[next]);
            next += 1;
        }
        while next < items.len() {
            let end = (next + PARALLEL_BATCH).min(items.len());
            let top = self.entry.map_or(0, |e| self.levels[e as usize]);
            let nodes: Vec<u32> = (next..end)
                .map(|i| {
                    let level = self.random_level();
                    self.push_node(items[i].0, &prepared[i], level)
                })
                .collect();
            let plans = self.plan_all(&nodes, top, threads);
            for (&node, plan) in nodes.iter().zip(plans) {
                match plan {
                    Some(plan) => self.apply(node, plan),
                    // Raises the top level: plan against the graph as it is.
                    None => {
                        let plan = self.plan(node);
                        self.apply(node, plan);
                    }
                }
            }
            next = end;
        }
        Ok(())
    }

    /// Plans for `nodes` on `threads` threads (`None` for a node above
    /// `top`, which must be planned after the batch's earlier nodes link).
    fn plan_all(&self, nodes: &[u32], top: u8, threads: usize) -> Vec<Option<Plan>> {
        let chunk = nodes.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = nodes
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&node| {
                                (self.levels[node as usize] <= top).then(|| self.plan(node))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a planning thread panicked"))
                .collect()
        })
    }
    // ANCHOR_END: parallel

    // ANCHOR: adopt
    /// Gives the new `node` a parent in the layer-0 spanning tree: the
    /// nearest of its `links` with room for a child, else the nearest node
    /// the search `found` with room (which then links to it too), else any
    /// node with room (one exists: n − 1 children share n · m0 places).
    fn adopt(&mut self, node: u32, links: &[u32], found: &[Scored]) {
        let room =
            |this: &Self, p: u32| p != node && this.children[p as usize] < this.params.m0 as u32;
        let parent = links
            .iter()
            .copied()
            .find(|&p| room(self, p))
            .or_else(|| found.iter().map(|s| s.node).find(|&p| room(self, p)))
            .or_else(|| (0..self.ids.len() as u32).find(|&p| room(self, p)))
            .expect("some node has room for another child");
        self.parent[node as usize] = parent;
        self.children[parent as usize] += 1;
        if !links.contains(&parent) {
            self.link(parent, node, 0);
        }
    }

    /// Makes `node` (of a new top level) the entry point and the root of
    /// the spanning tree, with the old root as its child.
    fn become_entry(&mut self, node: u32, old: u32) {
        let parent = std::mem::replace(&mut self.parent[node as usize], NO_PARENT);
        if parent != NO_PARENT {
            self.children[parent as usize] -= 1;
        }
        self.parent[old as usize] = node;
        self.children[node as usize] += 1;
        let mut links = self.neighbors(node, 0).to_vec();
        if !links.contains(&old) {
            if links.len() == self.params.m0 {
                // A new node has no other children yet: drop its farthest link.
                let base = self.vector_of(node).to_vec();
                let farthest = (0..links.len())
                    .max_by(|&a, &b| {
                        let da = self.distance_to(&base, links[a]);
                        let db = self.distance_to(&base, links[b]);
                        da.total_cmp(&db).then(links[a].cmp(&links[b]))
                    })
                    .expect("m0 >= 2 links");
                links.remove(farthest);
            }
            links.push(old);
            self.set_neighbors(node, 0, &links);
        }
        self.entry = Some(node);
    }
    // ANCHOR_END: adopt

    fn push_node(&mut self, id: u64, vector: &[f32], level: usize) -> u32 {
        let node = self.ids.len() as u32;
        self.vectors.extend_from_slice(vector);
        self.ids.push(id);
        self.levels.push(level as u8);
        self.removed.push(false);
        self.layer0
            .extend(std::iter::repeat_n(0, self.params.m0 + 1));
        self.upper.push(vec![0; level * (self.params.m + 1)]);
        self.parent.push(NO_PARENT);
        self.children.push(0);
        self.by_id.insert(id, node);
        node
    }

    // ANCHOR: link
    /// Adds the link `from → to` on `layer`; if `from` then has too many
    /// neighbours, it chooses again among them (with the same rule as a new
    /// node) and keeps the cap.
    fn link(&mut self, from: u32, to: u32, layer: usize) {
        // BEGIN LAB hnsw-neighbours
        // STUB: let cap = if layer == 0 { self.params.m0 } else { self.params.m };
        // STUB: let mut links = self.neighbors(from, layer).to_vec();
        // STUB: if links.len() < cap {
        // STUB:     links.push(to);
        // STUB:     self.set_neighbors(from, layer, &links);
        // STUB: }
        let cap = if layer == 0 {
            self.params.m0
        } else {
            self.params.m
        };
        let mut links = self.neighbors(from, layer).to_vec();
        debug_assert!(!links.contains(&to));
        links.push(to);
        if links.len() > cap {
            // On layer 0 the links to tree children stay (invariant 5); the
            // other places go to the rule's choice among the rest.
            let (kept, rest): (Vec<u32>, Vec<u32>) = links
                .iter()
                .partition(|&&n| layer == 0 && self.parent[n as usize] == from);
            let base = self.vector_of(from).to_vec();
            let mut candidates: Vec<Scored> = rest
                .iter()
                .map(|&n| Scored {
                    distance: self.distance_to(&base, n),
                    node: n,
                })
                .collect();
            candidates.sort_unstable();
            let chosen = self.select(&base, &candidates, cap - kept.len(), layer, from, &kept);
            links = kept;
            links.extend(chosen.iter().map(|s| s.node));
        }
        self.set_neighbors(from, layer, &links);
        // END LAB
    }
    // ANCHOR_END: link

    // ANCHOR: select
    /// Chooses up to `count` neighbours for `base` (node `base_node`) from
    /// `candidates`, sorted nearest first, never any of `exclude`.
    fn select(
        &self,
        base: &[f32],
        candidates: &[Scored],
        count: usize,
        layer: usize,
        base_node: u32,
        exclude: &[u32],
    ) -> Vec<Scored> {
        // BEGIN LAB hnsw-neighbours
        // STUB: let _ = (base, layer, base_node, exclude);
        // STUB: candidates.iter().copied().take(count).collect()
        let Selection::Heuristic {
            extend_candidates,
            keep_pruned,
        } = self.params.selection
        else {
            return candidates.iter().copied().take(count).collect();
        };
        let mut pool = candidates.to_vec();
        if extend_candidates {
            let mut seen: std::collections::HashSet<u32> = pool.iter().map(|s| s.node).collect();
            seen.insert(base_node);
            seen.extend(exclude);
            for candidate in candidates {
                for &n in self.neighbors(candidate.node, layer) {
                    if seen.insert(n) {
                        pool.push(Scored {
                            distance: self.distance_to(base, n),
                            node: n,
                        });
                    }
                }
            }
            pool.sort_unstable();
        }
        let mut chosen: Vec<Scored> = Vec::with_capacity(count);
        let mut pruned = Vec::new();
        for candidate in pool {
            if chosen.len() >= count {
                break;
            }
            // Kept if no chosen neighbour is closer to it than `base` is.
            // Ties are kept, so that identical vectors still link up.
            let vector = self.vector_of(candidate.node);
            let diverse = chosen.iter().all(|c| {
                self.metric.distance(vector, self.vector_of(c.node)) >= candidate.distance
            });
            if diverse {
                chosen.push(candidate);
            } else if keep_pruned {
                pruned.push(candidate);
            }
        }
        if keep_pruned {
            let room = count.saturating_sub(chosen.len());
            chosen.extend(pruned.into_iter().take(room));
        }
        chosen
        // END LAB
    }
    // ANCHOR_END: select

    // ANCHOR: greedy
    /// Greedy walk on `layer` from `start` to a local minimum (ef = 1).
    fn greedy(&self, query: &[f32], start: Scored, layer: usize, probe: &mut impl Probe) -> Scored {
        // BEGIN LAB hnsw-search
        let mut best = start;
        probe.stepped(layer, best.node);
        loop {
            let mut improved = false;
            for &n in self.neighbors(best.node, layer) {
                probe.evaluated(layer, n);
                let candidate = Scored {
                    distance: self.distance_to(query, n),
                    node: n,
                };
                if candidate < best {
                    best = candidate;
                    improved = true;
                }
            }
            if !improved {
                return best;
            }
            probe.stepped(layer, best.node);
        }
        // END LAB
    }
    // ANCHOR_END: greedy

    // ANCHOR: search_layer
    /// The paper's Algorithm 2 on `layer` from `entry_points`: up to `ef`
    /// nodes for which `accept` holds, nearest first. Every node reached is
    /// expanded, accepted or not (removed and filtered-out nodes still lead
    /// to others); the walk stops once `ef` accepted nodes are found and the
    /// nearest unexpanded candidate is farther than all of them.
    fn search_layer(
        &self,
        query: &[f32],
        entry_points: &[Scored],
        ef: usize,
        layer: usize,
        mut accept: impl FnMut(u32) -> bool,
        probe: &mut impl Probe,
    ) -> Vec<Scored> {
        // BEGIN LAB hnsw-search
        // STUB: strata_lab::todo!("hnsw-search", query, entry_points, ef, layer, &mut accept, probe)
        use crate::metric::prefetch;
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;

        let mut visited = self.take_visited();
        let mut candidates: BinaryHeap<Reverse<Scored>> = BinaryHeap::new();
        let mut results: BinaryHeap<Scored> = BinaryHeap::new();
        for &entry in entry_points {
            if visited.insert(entry.node) {
                candidates.push(Reverse(entry));
                if accept(entry.node) {
                    results.push(entry);
                }
            }
        }
        while results.len() > ef {
            results.pop();
        }
        let bound = |results: &BinaryHeap<Scored>| match results.peek() {
            Some(worst) if results.len() >= ef => worst.distance,
            _ => f32::INFINITY,
        };
        let mut worst = bound(&results);
        let mut fresh = Vec::with_capacity(self.params.m0);
        while let Some(Reverse(nearest)) = candidates.pop() {
            if nearest.distance > worst {
                break;
            }
            // First the neighbours not seen yet, each vector's loading
            // started at once (so the memory fetches overlap), then their
            // distances.
            fresh.clear();
            for &n in self.neighbors(nearest.node, layer) {
                if visited.insert(n) {
                    prefetch(self.vector_of(n));
                    fresh.push(n);
                }
            }
            for &n in &fresh {
                probe.evaluated(layer, n);
                let distance = self.distance_to(query, n);
                // Ties are expanded too: on a plateau of equal distances
                // (duplicates) the search must walk across it, not stop.
                if distance <= worst {
                    let scored = Scored { distance, node: n };
                    // It may be expanded soon: start loading its links.
                    prefetch(self.neighbor_slot(n, layer));
                    candidates.push(Reverse(scored));
                    if accept(n) {
                        results.push(scored);
                        if results.len() > ef {
                            results.pop();
                        }
                        worst = bound(&results);
                    }
                }
            }
        }
        self.return_visited(visited);
        results.into_sorted_vec()
        // END LAB
    }
    // ANCHOR_END: search_layer

    // ANCHOR: search
    /// The `k` approximate nearest live items to `query`, nearest first
    /// (ties by id); `ef` (raised to `k` if smaller) is the size of the
    /// candidate list on layer 0: larger is slower and finds more of the
    /// true neighbours. When more items tie at the cut than the list
    /// holds, which of them are kept depends on `ef` and on insertion order
    /// (node numbers), not on their ids, so results can differ from
    /// [`crate::FlatIndex`]'s there.
    ///
    /// # Errors
    ///
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`], or for cosine
    /// [`Error::ZeroVector`].
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<Neighbor>> {
        self.search_filtered(query, k, ef, |_| true)
    }

    /// As [`Hnsw::search`], returning only ids for which `allow` is true.
    /// The graph is walked through every node, so a selective filter makes
    /// the search visit more of it: with a filter that allows few items the
    /// search may visit them all.
    ///
    /// # Errors
    ///
    /// As [`Hnsw::search`].
    pub fn search_filtered(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        allow: impl FnMut(u64) -> bool,
    ) -> Result<Vec<Neighbor>> {
        let query = prepare(self.metric, self.dimension, query)?;
        Ok(self.search_prepared(&query, k, ef, allow, &mut Unwatched))
    }

    fn search_prepared(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        mut allow: impl FnMut(u64) -> bool,
        probe: &mut impl Probe,
    ) -> Vec<Neighbor> {
        let Some(entry) = self.entry else {
            return Vec::new();
        };
        if k == 0 || self.is_empty() {
            return Vec::new();
        }
        let top = self.levels[entry as usize] as usize;
        probe.evaluated(top, entry);
        let root = Scored {
            distance: self.distance_to(query, entry),
            node: entry,
        };
        let mut nearest = root;
        for layer in (1..=top).rev() {
            nearest = self.greedy(query, nearest, layer, probe);
        }
        // The entry point is the root of the layer-0 spanning tree: starting
        // from it as well, the search can reach every node (invariant 5),
        // wherever the descent ended. It costs one more candidate.
        let starts = if nearest.node == root.node {
            vec![nearest]
        } else {
            vec![nearest, root]
        };
        let found = self.search_layer(
            query,
            &starts,
            ef.max(k),
            0,
            |node| !self.removed[node as usize] && allow(self.ids[node as usize]),
            probe,
        );
        let mut results: Vec<Neighbor> = found
            .iter()
            .map(|s| Neighbor {
                id: self.ids[s.node as usize],
                distance: s.distance,
            })
            .collect();
        results.sort_by(by_distance_then_id);
        results.truncate(k);
        results
    }
    // ANCHOR_END: search

    /// As [`Hnsw::search`], also returning what the search did: how many
    /// distances it evaluated and which way its greedy descent went. The
    /// results are the same as `search`'s.
    ///
    /// # Errors
    ///
    /// As [`Hnsw::search`].
    pub fn search_traced(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
    ) -> Result<(Vec<Neighbor>, SearchTrace)> {
        let query = prepare(self.metric, self.dimension, query)?;
        let mut tracer = Tracer {
            ids: &self.ids,
            trace: SearchTrace::default(),
        };
        let found = self.search_prepared(&query, k, ef, |_| true, &mut tracer);
        Ok((found, tracer.trace))
    }

    // ANCHOR: remove
    /// Removes `id`. Its node stays in the graph as a tombstone (searches
    /// walk through it but never return it) until [`Hnsw::compact`]; the id
    /// may be inserted again at once, as a new node.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownId`] if `id` is not live.
    pub fn remove(&mut self, id: u64) -> Result<()> {
        let node = self.by_id.remove(&id).ok_or(Error::UnknownId(id))?;
        self.removed[node as usize] = true;
        Ok(())
    }
    // ANCHOR_END: remove

    // ANCHOR: compact
    /// Rebuilds the graph from the live items only, in insertion order and
    /// with the same parameters and seed: tombstones and their links go,
    /// and links are chosen again around the gaps they leave.
    pub fn compact(&mut self) {
        let mut fresh = Hnsw::new(self.metric, self.dimension, self.params)
            .expect("the parameters were validated when this index was made");
        for node in 0..self.ids.len() as u32 {
            if !self.removed[node as usize] {
                fresh.insert_prepared(self.ids[node as usize], self.vector_of(node));
            }
        }
        *self = fresh;
    }
    // ANCHOR_END: compact

    // ANCHOR: check
    /// Checks every invariant of the module docs; returns the first broken.
    ///
    /// # Errors
    ///
    /// The [`Violation`], naming the node and the numbers.
    pub fn check_invariants(&self) -> std::result::Result<(), Violation> {
        let n = self.ids.len();
        let (m, m0) = (self.params.m, self.params.m0);
        if self.vectors.len() != n * self.dimension
            || self.parent.len() != n
            || self.children.len() != n
            || self.levels.len() != n
            || self.removed.len() != n
            || self.layer0.len() != n * (m0 + 1)
            || self.upper.len() != n
        {
            return Err(Violation::Arrays { nodes: n });
        }
        for node in 0..n as u32 {
            let level = self.levels[node as usize] as usize;
            if self.upper[node as usize].len() != level * (m + 1) {
                return Err(Violation::UpperSlots { node, level });
            }
            for layer in 0..=level {
                let cap = if layer == 0 { m0 } else { m };
                let stride = cap + 1;
                let count = if layer == 0 {
                    self.layer0[node as usize * stride]
                } else {
                    self.upper[node as usize][(layer - 1) * stride]
                } as usize;
                if count > cap {
                    return Err(Violation::Degree {
                        node,
                        layer,
                        count,
                        cap,
                    });
                }
                let links = self.neighbors(node, layer);
                for (i, &neighbor) in links.iter().enumerate() {
                    if neighbor as usize >= n {
                        return Err(Violation::LinkOutOfRange {
                            node,
                            layer,
                            neighbor,
                            nodes: n,
                        });
                    }
                    if neighbor == node {
                        return Err(Violation::SelfLink { node, layer });
                    }
                    if links[..i].contains(&neighbor) {
                        return Err(Violation::DuplicateLink {
                            node,
                            layer,
                            neighbor,
                        });
                    }
                    let neighbor_level = self.levels[neighbor as usize] as usize;
                    if neighbor_level < layer {
                        return Err(Violation::LinkAboveLevel {
                            node,
                            layer,
                            neighbor,
                            neighbor_level,
                        });
                    }
                }
            }
        }
        match self.entry {
            None if n > 0 => return Err(Violation::NoEntryPoint { nodes: n }),
            Some(entry) if entry as usize >= n => {
                return Err(Violation::EntryOutOfRange { entry, nodes: n });
            }
            Some(entry) => {
                let top = self.levels.iter().copied().max().unwrap_or(0) as usize;
                let level = self.levels[entry as usize] as usize;
                if level != top {
                    return Err(Violation::EntryNotTop { entry, level, top });
                }
            }
            None => {}
        }
        for (&id, &node) in &self.by_id {
            if node as usize >= n || self.ids[node as usize] != id || self.removed[node as usize] {
                return Err(Violation::IdMap { id, node });
            }
        }
        let live_nodes = self.removed.iter().filter(|&&r| !r).count();
        if live_nodes != self.by_id.len() {
            return Err(Violation::LiveCount {
                live_nodes,
                live_ids: self.by_id.len(),
            });
        }
        self.check_tree()?;
        self.check_reachable()
    }
    // ANCHOR_END: check

    // ANCHOR: check_tree
    /// The spanning tree behind invariant 5: the entry point is its root,
    /// every other node has a parent that links to it on layer 0, no node
    /// has more than `m0` children, and following parents from any node
    /// ends at the root (no cycle).
    fn check_tree(&self) -> std::result::Result<(), Violation> {
        let n = self.ids.len();
        let mut children = vec![0u32; n];
        for node in 0..n as u32 {
            let parent = self.parent[node as usize];
            let is_root = self.entry == Some(node);
            if is_root != (parent == NO_PARENT) {
                return Err(Violation::TreeRoot {
                    node,
                    parent: (parent != NO_PARENT).then_some(parent),
                    entry: self.entry,
                });
            }
            if parent == NO_PARENT {
                continue;
            }
            if parent as usize >= n || !self.neighbors(parent, 0).contains(&node) {
                return Err(Violation::TreeParentLink { node, parent });
            }
            children[parent as usize] += 1;
        }
        for (node, (&counted, &stored)) in children.iter().zip(&self.children).enumerate() {
            if counted != stored || counted as usize > self.params.m0 {
                return Err(Violation::TreeChildren {
                    node: node as u32,
                    stored,
                    counted,
                });
            }
        }
        // 0: not yet seen, 1: on the current path, 2: leads to the root.
        let mut state = vec![0u8; n];
        for start in 0..n {
            let mut path = Vec::new();
            let mut node = start;
            while state[node] == 0 {
                state[node] = 1;
                path.push(node);
                match self.parent[node] {
                    NO_PARENT => break,
                    parent => node = parent as usize,
                }
            }
            if state[node] == 1 && self.parent[node] != NO_PARENT {
                return Err(Violation::TreeCycle { node: node as u32 });
            }
            for p in path {
                state[p] = 2;
            }
        }
        Ok(())
    }
    // ANCHOR_END: check_tree

    fn check_reachable(&self) -> std::result::Result<(), Violation> {
        let Some(entry) = self.entry else {
            return Ok(());
        };
        let mut seen = vec![false; self.ids.len()];
        let mut stack = vec![entry];
        seen[entry as usize] = true;
        while let Some(node) = stack.pop() {
            for &n in self.neighbors(node, 0) {
                if !std::mem::replace(&mut seen[n as usize], true) {
                    stack.push(n);
                }
            }
        }
        match (0..self.ids.len()).find(|&i| !seen[i] && !self.removed[i]) {
            Some(node) => Err(Violation::Unreachable {
                node: node as u32,
                id: self.ids[node],
            }),
            None => Ok(()),
        }
    }
}

/// The checker catches each kind of break: a sound index is corrupted by
/// hand, one field at a time, and the checker must name what was broken.
#[cfg(test)]
mod checker_tests {
    use super::*;

    fn index() -> Hnsw {
        let mut index = Hnsw::new(Metric::L2, 2, Params::new(4)).unwrap();
        for id in 0..40u64 {
            let x = id as f32;
            index.insert(id, &[x.sin() * x, x.cos() * x]).unwrap();
        }
        index.check_invariants().unwrap();
        index
    }

    /// Node `node`'s layer-0 slot: count, then links.
    fn slot(index: &mut Hnsw, node: u32) -> &mut [u32] {
        let stride = index.params.m0 + 1;
        &mut index.layer0[node as usize * stride..][..stride]
    }

    #[test]
    fn a_clone_grows_into_the_same_graph() {
        let mut original = index();
        let mut copy = original.clone();
        for id in 40..80u64 {
            let x = id as f32;
            original.insert(id, &[x.sin() * x, x.cos() * x]).unwrap();
            copy.insert(id, &[x.sin() * x, x.cos() * x]).unwrap();
        }
        copy.check_invariants().unwrap();
        assert_eq!(
            original.levels, copy.levels,
            "the level draws continue alike"
        );
        assert_eq!(original.layer0, copy.layer0);
        assert_eq!(original.upper, copy.upper);
        assert_eq!(original.entry, copy.entry);
    }

    #[test]
    fn a_self_link_breaks_invariant_2() {
        let mut index = index();
        slot(&mut index, 5)[1] = 5;
        let violation = index.check_invariants().unwrap_err();
        assert_eq!(violation, Violation::SelfLink { node: 5, layer: 0 });
        assert_eq!(violation.invariant(), 2);
    }

    #[test]
    fn a_count_above_the_cap_breaks_invariant_1() {
        let mut index = index();
        let cap = index.params.m0;
        slot(&mut index, 7)[0] = cap as u32 + 1;
        let violation = index.check_invariants().unwrap_err();
        assert_eq!(violation.invariant(), 1);
        assert!(
            matches!(violation, Violation::Degree { node: 7, layer: 0, count, .. } if count == cap + 1),
            "{violation}"
        );
    }

    #[test]
    fn an_entry_point_below_the_top_breaks_invariant_3() {
        let mut index = index();
        let low = (0..index.ids.len() as u32)
            .find(|&n| index.levels[n as usize] == 0)
            .unwrap();
        index.entry = Some(low);
        let violation = index.check_invariants().unwrap_err();
        assert_eq!(violation.invariant(), 3);
        assert!(
            matches!(violation, Violation::EntryNotTop { entry, level: 0, .. } if entry == low)
        );
    }

    #[test]
    fn a_stale_id_breaks_invariant_4() {
        let mut index = index();
        index.removed[9] = true;
        let violation = index.check_invariants().unwrap_err();
        assert_eq!(violation, Violation::IdMap { id: 9, node: 9 });
        assert_eq!(violation.invariant(), 4);
    }

    #[test]
    fn cutting_every_link_to_a_node_breaks_invariant_5() {
        let mut index = index();
        let victim = (0..index.ids.len() as u32)
            .find(|&n| index.entry != Some(n) && index.levels[n as usize] == 0)
            .unwrap();
        for node in 0..index.ids.len() as u32 {
            let links: Vec<u32> = index
                .neighbors(node, 0)
                .iter()
                .copied()
                .filter(|&n| n != victim)
                .collect();
            let slot = slot(&mut index, node);
            slot.fill(0);
            slot[0] = links.len() as u32;
            slot[1..=links.len()].copy_from_slice(&links);
        }
        let violation = index.check_invariants().unwrap_err();
        assert_eq!(violation.invariant(), 5);
        // The tree check runs first and finds the parent that lost its link.
        assert!(
            matches!(violation, Violation::TreeParentLink { node, .. } if node == victim),
            "{violation}"
        );
    }

    #[test]
    fn a_wrong_child_count_breaks_invariant_5() {
        let mut index = index();
        index.children[0] += 1;
        let violation = index.check_invariants().unwrap_err();
        assert_eq!(violation.invariant(), 5);
        assert!(
            matches!(violation, Violation::TreeChildren { node: 0, .. }),
            "{violation}"
        );
        assert!(
            violation
                .to_string()
                .starts_with("invariant 5 (reachability tree) broken at node 0")
        );
    }
}
