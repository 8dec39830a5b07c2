//! Leaderless quorum replication, as in Amazon's Dynamo (DeCandia et al.,
//! SOSP 2007) and its descendants (Cassandra, Riak, Voldemort).
//!
//! There is no leader. Every key has a *preference list* of `N` replicas:
//! the `N` consecutive nodes starting at `key mod nodes` (wrapping around),
//! see [`preference_list`]. Any node can *coordinate* any request — a client
//! may talk to whichever node it likes:
//!
//! * **Write** — the coordinator stamps the value with a [`Version`] (its
//!   clock, its id, a counter), sends it to the `N` replicas and answers
//!   [`Reply::Done`] once `W` of them have acknowledged it durably. If the
//!   request times out first it answers [`Reply::Uncertain`], never
//!   `Rejected`: the write may have landed on some replicas and may surface
//!   later.
//! * **Read** — the coordinator asks the `N` replicas and answers with the
//!   highest-versioned value among the first `R` answers (`None` if none
//!   has the key). *Read repair*: every replica that answered with an older
//!   version — including ones that answer after the client got its reply —
//!   is sent the newest one.
//! * **Compare-and-set** — Dynamo has none; here it is a read (`R`)
//!   followed by a conditional write (`W`), both coordinated by the node.
//!   It is **not atomic**: two coordinators may both read `expected` and
//!   both write, and both answer `Done`. It is there to be caught by the
//!   linearizability checker.
//! * **Hinted handoff** — if a preference replica has not acknowledged a
//!   write within [`QuorumConfig::handoff_after_us`], the coordinator sends
//!   the value to the next node beyond the preference list
//!   ([`fallbacks`]) with a *hint* naming the intended owner. The holder
//!   keeps hints durably, retries delivering them every
//!   [`QuorumConfig::hint_retry_us`] and forgets a hint once the owner has
//!   acknowledged it. With [`QuorumConfig::sloppy`] a fallback's
//!   acknowledgement also counts towards `W` (Dynamo's *sloppy quorum*).
//!
//! # Not linearizable, even with R + W > N
//!
//! `R + W > N` only makes every read quorum overlap every write quorum of
//! a *completed* write. It does not make the store a single-copy register:
//!
//! 1. A write that reached fewer than `W` replicas answers `Uncertain` but
//!    stays on those replicas. One read may see it and a later read (from
//!    other replicas) may not: the value appears, then disappears.
//! 2. Read repair happens after the reply, so it does not close that gap.
//! 3. Last-writer-wins trusts clocks: a coordinator whose clock runs behind
//!    ([`QuorumConfig::clock_skew_us`]) stamps a later write with an older
//!    version, and the acknowledged write silently loses.
//! 4. Compare-and-set is a read then a write, not one atomic step.
//! 5. With a sloppy quorum the `W` acknowledgements may come from nodes
//!    outside the preference list, which no read quorum asks.
//!
//! With `R + W ≤ N` even a completed write may be missed by a later read
//! whose `R` replicas are all among the ones the write had not reached yet.
//!
//! # Linearizable reads and writes: [`QuorumConfig::atomic`]
//!
//! Attiya, Bar-Noy and Dolev ("Sharing memory robustly in message-passing
//! systems", JACM 1995) close gaps 1–3 for reads and writes with one more
//! round trip each:
//!
//! * a **read** that found the newest value on fewer than `W` of its `R`
//!   replicas first *writes it back* (same version) and waits for `W`
//!   acknowledgements, then answers. Once a read has returned a value, that
//!   value sits on a write quorum, so every later read quorum meets it: a
//!   value can no longer appear and then disappear.
//! * a **write** first reads the newest version from `R` replicas and
//!   stamps its value above it (the multi-writer form of Lynch and
//!   Shvartsman, 1997): a write that starts after another finished is
//!   ordered after it whatever the clocks say.
//!
//! Compare-and-set stays a read then a write: making it atomic needs
//! consensus, which registers alone cannot provide (Herlihy, 1991) — that is
//! what [Raft](crate::raft) is for.
//!
//! # Invariants
// ANCHOR: invariants
//! A replica (the [store](QuorumNode::versions) and hints):
//!
//! 1. A replica stores a key only if it is in the key's preference list.
//! 2. A replica keeps the highest version it has seen per key; a stored
//!    version never decreases, and one version always names one value.
//! 3. A hint is held only by a node outside its key's preference list, for
//!    an owner inside it, and is forgotten only once the owner has
//!    acknowledged that version or a newer one.
//! 4. Nothing is acknowledged before it is synced: a replica's `PutAck`,
//!    a holder's hint acknowledgement and an owner's `HandoffAck` all
//!    follow a synced log record.
//!
//! A coordinator:
//!
//! 5. Versions it issues strictly increase (clock, then counter), and the
//!    write of a compare-and-set or of an atomic write is stamped above the
//!    version its read found.
//! 6. A write answers `Done` only after `W` distinct acknowledgements (from
//!    preference replicas, plus fallbacks if sloppy); a read answers only
//!    after `R` distinct replicas answered and, if atomic, only once `W`
//!    replicas hold the value it returns; each request is answered at most
//!    once.
//! 7. A request that times out is answered `Uncertain` if it may have
//!    written a new value (a write, or a compare-and-set in its write
//!    phase), and `Rejected(Unavailable)` otherwise (an atomic read's
//!    write-back only copies a value that some write already wrote).
// ANCHOR_END: invariants
//!
//! [`QuorumNode::check_invariants`] checks 1, 3 (the holder's half) and 6
//! on one node; 2 and 4 are upheld by construction in the store and
//! exercised by the tests. Deliberately not checked or provided: Merkle-tree
//! anti-entropy (replicas that are never read and hold no hint stay stale),
//! vector clocks and siblings (concurrent writes are resolved by
//! last-writer-wins, losing one), membership changes, and deletes.
//!
//! # Example: a write, then a read, through different coordinators
//!
//! The nodes are driven by hand here; the simulator ([`crate::sim`]) does
//! the same with a network in between.
//!
//! ```
//! use replication::protocol::{Command, Node, NodeContext, Output, Reply, Request, RequestId};
//! use replication::quorum::{QuorumConfig, QuorumNode};
//!
//! let config = QuorumConfig::new(3, 2, 2);
//! let mut nodes: Vec<QuorumNode> = (0..3)
//!     .map(|id| {
//!         let ctx = NodeContext { id, nodes: 3, entropy: 0 };
//!         QuorumNode::start(ctx, &config, Box::new(kv::SimDisk::new()), 0)
//!     })
//!     .collect::<Result<_, _>>()?;
//! // Deliver every message at once, in order, until the network is quiet.
//! fn pump(nodes: &mut [QuorumNode], now: u64) -> Vec<Reply> {
//!     let mut replies = Vec::new();
//!     loop {
//!         let mut sent = Vec::new();
//!         for (from, node) in nodes.iter_mut().enumerate() {
//!             while let Some(out) = node.poll_output() {
//!                 match out {
//!                     Output::Send { to, msg } => sent.push((from, to, msg)),
//!                     Output::Reply { reply, .. } => replies.push(reply),
//!                 }
//!             }
//!         }
//!         if sent.is_empty() {
//!             return replies;
//!         }
//!         for (from, to, msg) in sent {
//!             nodes[to].handle_message(now, from, msg);
//!         }
//!     }
//! }
//! let id = RequestId { client: 1, seq: 0 };
//! nodes[0].handle_client(10, Request { id, command: Command::Write { key: 7, value: 42 } });
//! assert_eq!(pump(&mut nodes, 10), vec![Reply::Done]);
//! let id = RequestId { client: 1, seq: 1 };
//! nodes[2].handle_client(20, Request { id, command: Command::Read { key: 7 } });
//! assert_eq!(pump(&mut nodes, 20), vec![Reply::Read(Some(42))]);
//! # Ok::<(), std::io::Error>(())
//! ```

mod store;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;

use kv::Storage;

use crate::protocol::{
    Command, Key, Node, NodeContext, NodeId, Output, Rejection, Reply, Request, RequestId, Time,
    Value,
};
use store::{Durable, version_of};
pub use store::{Version, Versioned};

/// How many recent answers a coordinator remembers, to answer a retried
/// request again instead of executing it twice.
pub const RECENT_REPLIES_MAX: usize = 1024;

/// How many hints a holder sends per retry round.
pub const HINTS_PER_RETRY_MAX: usize = 64;

/// How many self-addressed messages one input may cause (a bound on the
/// loopback queue; real chains are a few messages long).
const LOOPBACK_STEPS_MAX: usize = 10_000;

/// Parameters of a quorum cluster, shared by all its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConfig {
    /// Replicas per key (the preference list's length). Default 3.
    pub n: usize,
    /// Replica answers a read waits for. Default 2.
    pub r: usize,
    /// Replica acknowledgements a write waits for. Default 2.
    pub w: usize,
    /// How long a coordinator waits for a quorum before answering
    /// `Uncertain` (writes) or `Rejected(Unavailable)` (reads). It also
    /// bounds how long it keeps collecting late answers for read repair and
    /// handoff. Default 50 000 µs.
    pub request_timeout_us: Time,
    /// How long a coordinator waits for a preference replica's
    /// acknowledgement before handing the write off to a fallback node.
    /// Must be below `request_timeout_us`. Default 10 000 µs.
    pub handoff_after_us: Time,
    /// How often a hint holder retries delivering its hints. Default
    /// 20 000 µs.
    pub hint_retry_us: Time,
    /// Send the newest version to replicas that answered a read with an
    /// older one. Default `true`.
    pub read_repair: bool,
    /// Hand writes off to fallback nodes when a replica does not answer.
    /// Default `true`.
    pub hinted_handoff: bool,
    /// Count fallback nodes' acknowledgements towards `W` (Dynamo's sloppy
    /// quorum). Default `false`: hints then only help replicas converge.
    pub sloppy: bool,
    /// Clock skew per node id in microseconds: node `i` reads its clock as
    /// `now + clock_skew_us[i]` (saturating at 0). Missing entries are 0.
    /// Default empty (perfect clocks). A teaching knob for last-writer-wins.
    pub clock_skew_us: Vec<i64>,
    /// Make reads and writes of one key linearizable, as in Attiya, Bar-Noy
    /// and Dolev's register (multi-writer form, Lynch and Shvartsman): a
    /// read writes the newest value it found back to `W` replicas before it
    /// answers, and a write first reads the newest version from `R`
    /// replicas and stamps its value above it, so clocks no longer decide.
    /// Needs `R + W > N` and no sloppy quorum. Compare-and-set stays a
    /// non-atomic read-then-write. Default `false`.
    pub atomic: bool,
}

impl Default for QuorumConfig {
    fn default() -> Self {
        QuorumConfig::new(3, 2, 2)
    }
}

impl QuorumConfig {
    /// `N`, `R` and `W` as given, everything else at its default.
    pub fn new(n: usize, r: usize, w: usize) -> Self {
        QuorumConfig {
            n,
            r,
            w,
            request_timeout_us: 50_000,
            handoff_after_us: 10_000,
            hint_retry_us: 20_000,
            read_repair: true,
            hinted_handoff: true,
            sloppy: false,
            clock_skew_us: Vec::new(),
            atomic: false,
        }
    }

    /// `N`, `R` and `W` as given, with [`atomic`](Self::atomic) reads and
    /// writes.
    pub fn atomic(n: usize, r: usize, w: usize) -> Self {
        QuorumConfig {
            atomic: true,
            ..QuorumConfig::new(n, r, w)
        }
    }

    /// Whether every read quorum overlaps every write quorum (`R + W > N`).
    pub fn overlapping(&self) -> bool {
        self.r + self.w > self.n
    }

    /// Checks the parameters against a cluster of `nodes` nodes.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first parameter out of range.
    pub fn validate(&self, nodes: usize) -> Result<(), ConfigError> {
        if self.n == 0 || self.n > nodes {
            return Err(ConfigError::N { n: self.n, nodes });
        }
        if self.r == 0 || self.r > self.n {
            return Err(ConfigError::R {
                r: self.r,
                n: self.n,
            });
        }
        if self.w == 0 || self.w > self.n {
            return Err(ConfigError::W {
                w: self.w,
                n: self.n,
            });
        }
        if self.handoff_after_us >= self.request_timeout_us {
            return Err(ConfigError::Timeouts {
                handoff_after_us: self.handoff_after_us,
                request_timeout_us: self.request_timeout_us,
            });
        }
        if self.hint_retry_us == 0 {
            return Err(ConfigError::HintRetry);
        }
        if self.atomic && (!self.overlapping() || self.sloppy) {
            return Err(ConfigError::Atomic {
                r: self.r,
                w: self.w,
                n: self.n,
                sloppy: self.sloppy,
            });
        }
        Ok(())
    }
}

/// A [`QuorumConfig`] that cannot work on the cluster it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `N` is 0 or exceeds the cluster size.
    #[error(
        "N = {n} replicas per key, but the cluster has {nodes} nodes: choose 1 <= N <= {nodes}"
    )]
    N {
        /// The configured `N`.
        n: usize,
        /// The cluster size.
        nodes: usize,
    },
    /// `R` is 0 or exceeds `N`.
    #[error("R = {r}, but a read can ask only N = {n} replicas: choose 1 <= R <= {n}")]
    R {
        /// The configured `R`.
        r: usize,
        /// The configured `N`.
        n: usize,
    },
    /// `W` is 0 or exceeds `N`.
    #[error("W = {w}, but a write can reach only N = {n} replicas: choose 1 <= W <= {n}")]
    W {
        /// The configured `W`.
        w: usize,
        /// The configured `N`.
        n: usize,
    },
    /// The handoff delay is not below the request timeout.
    #[error(
        "handoff_after_us = {handoff_after_us} must be below request_timeout_us = {request_timeout_us}, or no write is ever handed off"
    )]
    Timeouts {
        /// The configured handoff delay.
        handoff_after_us: Time,
        /// The configured request timeout.
        request_timeout_us: Time,
    },
    /// `hint_retry_us` is 0.
    #[error("hint_retry_us must be positive: hints would be resent without pause")]
    HintRetry,
    /// Atomic reads and writes were asked for without overlapping, strict
    /// quorums.
    #[error(
        "atomic reads and writes need R + W > N and no sloppy quorum (R = {r}, W = {w}, N = {n}, sloppy = {sloppy}): raise R or W, or turn sloppy off"
    )]
    Atomic {
        /// The configured `R`.
        r: usize,
        /// The configured `W`.
        w: usize,
        /// The configured `N`.
        n: usize,
        /// Whether the quorum was sloppy.
        sloppy: bool,
    },
}

/// The `n` replicas of `key` in a cluster of `nodes`: `n` consecutive node
/// ids starting at `key mod nodes`, wrapping around. Empty if `nodes` is 0;
/// at most `nodes` long.
pub fn preference_list(key: Key, nodes: usize, n: usize) -> Vec<NodeId> {
    ring_from(key, nodes, 0, n.min(nodes))
}

/// The nodes beyond `key`'s preference list, nearest first: where hinted
/// handoff sends a write when a replica does not answer.
pub fn fallbacks(key: Key, nodes: usize, n: usize) -> Vec<NodeId> {
    let n = n.min(nodes);
    ring_from(key, nodes, n, nodes - n)
}

fn ring_from(key: Key, nodes: usize, skip: usize, count: usize) -> Vec<NodeId> {
    if nodes == 0 {
        return Vec::new();
    }
    let start = key as usize % nodes;
    (0..count).map(|i| (start + skip + i) % nodes).collect()
}

/// The messages quorum nodes exchange. `op` identifies a coordinator's
/// operation; acknowledgements echo the key and version so a stale
/// acknowledgement (from before a coordinator's restart) cannot count.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// Coordinator → replica: store `value` under `key` (if newer). With
    /// `hint_for`, the receiver is a fallback and holds it for that owner.
    Put {
        /// The coordinator's operation.
        op: u64,
        /// The key.
        key: Key,
        /// The versioned value.
        value: Versioned,
        /// The preference replica this copy stands in for, if any.
        hint_for: Option<NodeId>,
    },
    /// Replica → coordinator: `version` of `key` is durable here.
    PutAck {
        /// The coordinator's operation.
        op: u64,
        /// The key.
        key: Key,
        /// The version stored (or a hint of it held).
        version: Version,
    },
    /// Coordinator → replica: what do you hold for `key`?
    Get {
        /// The coordinator's operation.
        op: u64,
        /// The key.
        key: Key,
    },
    /// Replica → coordinator: the replica's newest version of `key`.
    GetReply {
        /// The coordinator's operation.
        op: u64,
        /// The key.
        key: Key,
        /// The replica's value, `None` if it has none.
        value: Option<Versioned>,
    },
    /// Coordinator → stale replica (read repair): store this if newer. Not
    /// acknowledged.
    Repair {
        /// The key.
        key: Key,
        /// The newest version the read found.
        value: Versioned,
    },
    /// Hint holder → owner: a write meant for you.
    Handoff {
        /// The key.
        key: Key,
        /// The hinted value.
        value: Versioned,
    },
    /// Owner → hint holder: `version` of `key` (or newer) is durable here.
    HandoffAck {
        /// The key.
        key: Key,
        /// The version delivered.
        version: Version,
    },
}

/// The first broken invariant (numbered as in the [module
/// documentation](self)), found by [`QuorumNode::check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// Invariant 1: a node stores a key outside its preference list.
    #[error(
        "quorum invariant 1 broken: node {node} stores k{key} but is not in its preference list {owners:?}"
    )]
    NotOwner {
        /// The node.
        node: NodeId,
        /// The key.
        key: Key,
        /// The key's preference list.
        owners: Vec<NodeId>,
    },
    /// Invariant 3: a node holds a hint although it owns the key, or for a
    /// node that does not.
    #[error(
        "quorum invariant 3 broken: node {node} holds a hint of k{key} for node {owner}; preference list {owners:?}"
    )]
    StrayHint {
        /// The node holding the hint.
        node: NodeId,
        /// The key.
        key: Key,
        /// The node the hint is for.
        owner: NodeId,
        /// The key's preference list.
        owners: Vec<NodeId>,
    },
    /// Invariant 6: a write answered `Done` with fewer than `W`
    /// acknowledgements.
    #[error(
        "quorum invariant 6 broken: write op {op} answered Done with {counted} < W = {w} acknowledgements"
    )]
    WriteBelowW {
        /// The coordinator's operation number.
        op: u64,
        /// Acknowledgements counted.
        counted: usize,
        /// The configured `W`.
        w: usize,
    },
    /// Invariant 6: a read answered with fewer than `R` answers.
    #[error("quorum invariant 6 broken: read op {op} answered with {answers} < R = {r} answers")]
    ReadBelowR {
        /// The coordinator's operation number.
        op: u64,
        /// Answers received.
        answers: usize,
        /// The configured `R`.
        r: usize,
    },
}

impl Violation {
    /// The number of the broken invariant in the [module
    /// documentation](self).
    pub fn invariant(&self) -> u8 {
        match self {
            Violation::NotOwner { .. } => 1,
            Violation::StrayHint { .. } => 3,
            Violation::WriteBelowW { .. } | Violation::ReadBelowR { .. } => 6,
        }
    }
}

/// Why a coordinator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WritePurpose {
    /// A client's write, or a compare-and-set's write phase: answered
    /// `Done`, or `Uncertain` on a timeout.
    Write,
    /// An atomic read's write-back of the value it found: answered with
    /// that value, or `Rejected(Unavailable)` on a timeout (it only copies
    /// a value some write already wrote).
    WriteBack,
}

/// A coordinator's write in flight (a client write, a compare-and-set's
/// write phase, or an atomic read's write-back).
#[derive(Debug)]
struct WriteOp {
    request: RequestId,
    purpose: WritePurpose,
    key: Key,
    value: Versioned,
    owners: Vec<NodeId>,
    /// Preference replicas that acknowledged.
    acked: BTreeSet<NodeId>,
    /// Fallback node → the owner it stands in for.
    fallbacks: BTreeMap<NodeId, NodeId>,
    /// Owners whose fallback acknowledged.
    hint_acked: BTreeSet<NodeId>,
    handoff_at: Option<Time>,
    deadline: Time,
    replied: bool,
}

impl WriteOp {
    /// Acknowledgements that count towards `W`.
    fn counted(&self, sloppy: bool) -> usize {
        let hinted = if sloppy {
            self.hint_acked.difference(&self.acked).count()
        } else {
            0
        };
        self.acked.len() + hinted
    }

    /// Every owner has the value, or a fallback holds it for them.
    fn covered(&self) -> bool {
        self.owners
            .iter()
            .all(|o| self.acked.contains(o) || self.hint_acked.contains(o))
    }

    /// The client's answer once `W` replicas acknowledged.
    fn done(&self) -> Reply {
        match self.purpose {
            WritePurpose::Write => Reply::Done,
            WritePurpose::WriteBack => Reply::Read(Some(self.value.value)),
        }
    }

    /// The client's answer if the request times out first (invariant 7).
    fn timed_out(&self) -> Reply {
        match self.purpose {
            WritePurpose::Write => Reply::Uncertain,
            WritePurpose::WriteBack => Reply::Rejected(Rejection::Unavailable),
        }
    }
}

/// Why a coordinator reads.
#[derive(Debug, Clone, Copy)]
enum ReadPurpose {
    Read,
    Cas {
        expected: Value,
        new: Value,
    },
    /// An atomic write's first phase: find the newest version to stamp
    /// `value` above.
    Write {
        value: Value,
    },
}

/// A coordinator's read in flight (a client read, or a compare-and-set's
/// read phase).
#[derive(Debug)]
struct ReadOp {
    request: RequestId,
    key: Key,
    owners: Vec<NodeId>,
    purpose: ReadPurpose,
    /// Replica → what it answered (first answer only).
    answers: BTreeMap<NodeId, Option<Versioned>>,
    /// Replica → the version it was last sent by read repair.
    repaired: BTreeMap<NodeId, Version>,
    deadline: Time,
    /// The client was answered (or, for a compare-and-set, the write phase
    /// took over).
    replied: bool,
}

impl ReadOp {
    fn newest(&self) -> Option<Versioned> {
        self.answers
            .values()
            .flatten()
            .max_by_key(|v| v.version)
            .copied()
    }

    /// How many replicas answered with `version`.
    fn holding(&self, version: Version) -> usize {
        self.answers
            .values()
            .filter(|v| version_of(v.as_ref()) == Some(version))
            .count()
    }
}

/// A node of a leaderless quorum store: replica, coordinator and hint
/// holder at once. See the [module documentation](self).
#[derive(Debug)]
pub struct QuorumNode {
    id: NodeId,
    nodes: usize,
    config: QuorumConfig,
    durable: Durable,
    /// The next version counter (invariant 5).
    next_counter: u64,
    /// The last version issued, for invariant 5.
    last_version: Option<Version>,
    next_op: u64,
    writes: BTreeMap<u64, WriteOp>,
    reads: BTreeMap<u64, ReadOp>,
    /// Requests in flight → their current operation.
    in_flight: BTreeMap<RequestId, u64>,
    recent: BTreeMap<RequestId, Reply>,
    recent_order: VecDeque<RequestId>,
    next_hint_retry: Option<Time>,
    loopback: VecDeque<Message>,
    outputs: VecDeque<Output<Message>>,
}

impl QuorumNode {
    /// The replica's store: key → the highest version it holds.
    pub fn versions(&self) -> &BTreeMap<Key, Versioned> {
        self.durable.store()
    }

    /// The hints this node holds: (intended owner, key) → value.
    pub fn hints(&self) -> &BTreeMap<(NodeId, Key), Versioned> {
        self.durable.hints()
    }

    /// Operations this node is coordinating (reads and writes, including
    /// ones already answered that still collect late answers).
    pub fn operations_in_flight(&self) -> usize {
        self.reads.len() + self.writes.len()
    }

    /// This node's clock: virtual time plus its configured skew.
    fn clock(&self, now: Time) -> Time {
        let skew = self.config.clock_skew_us.get(self.id).copied().unwrap_or(0);
        let t = i128::from(now) + i128::from(skew);
        u64::try_from(t.max(0)).unwrap_or(u64::MAX)
    }

    /// A fresh version, above `floor` if given and above every version
    /// issued since start (invariant 5): the timestamp never goes back even
    /// if a compare-and-set pushed it past this node's clock.
    fn new_version(&mut self, now: Time, floor: Option<Version>) -> Version {
        let mut timestamp_us = self.clock(now);
        if let Some(f) = floor {
            timestamp_us = timestamp_us.max(f.timestamp_us.saturating_add(1));
        }
        if let Some(last) = self.last_version {
            timestamp_us = timestamp_us.max(last.timestamp_us);
        }
        let version = Version {
            timestamp_us,
            coordinator: self.id,
            counter: self.next_counter,
        };
        self.next_counter += 1;
        debug_assert!(self.last_version.is_none_or(|last| last < version));
        self.last_version = Some(version);
        version
    }

    fn owners(&self, key: Key) -> Vec<NodeId> {
        preference_list(key, self.nodes, self.config.n)
    }

    fn is_owner(&self, key: Key) -> bool {
        self.owners(key).contains(&self.id)
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        if to == self.id {
            self.loopback.push_back(msg);
        } else {
            self.outputs.push_back(Output::Send { to, msg });
        }
    }

    fn reply(&mut self, request: RequestId, reply: Reply) {
        self.in_flight.remove(&request);
        self.outputs.push_back(Output::Reply { request, reply });
        if self.recent.insert(request, reply).is_none() {
            self.recent_order.push_back(request);
        }
        while self.recent_order.len() > RECENT_REPLIES_MAX {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
    }

    fn fresh_op(&mut self) -> u64 {
        let op = self.next_op;
        self.next_op = self.next_op.wrapping_add(1);
        op
    }

    /// Handles self-addressed messages until none are left.
    fn drain_loopback(&mut self, now: Time) {
        for _ in 0..LOOPBACK_STEPS_MAX {
            let Some(msg) = self.loopback.pop_front() else {
                return;
            };
            self.on_message(now, self.id, msg);
        }
        debug_assert!(self.loopback.is_empty(), "loopback chain too long");
    }

    fn on_message(&mut self, now: Time, from: NodeId, msg: Message) {
        match msg {
            Message::Put {
                op,
                key,
                value,
                hint_for,
            } => self.on_put(now, from, op, key, value, hint_for),
            Message::PutAck { op, key, version } => self.on_put_ack(from, op, key, version),
            Message::Get { op, key } => self.on_get(from, op, key),
            Message::GetReply { op, key, value } => self.on_get_reply(now, from, op, key, value),
            Message::Repair { key, value } => self.on_repair(key, value),
            Message::Handoff { key, value } => self.on_handoff(from, key, value),
            Message::HandoffAck { key, version } => self.on_handoff_ack(from, key, version),
        }
    }

    // ANCHOR: write_start
    /// Starts a write of `value` (already versioned) to `key`'s replicas.
    fn start_write(
        &mut self,
        now: Time,
        request: RequestId,
        purpose: WritePurpose,
        key: Key,
        value: Versioned,
    ) {
        let op = self.fresh_op();
        let owners = self.owners(key);
        for &to in &owners {
            let hint_for = None;
            self.send(
                to,
                Message::Put {
                    op,
                    key,
                    value,
                    hint_for,
                },
            );
        }
        let handoff_at = self
            .config
            .hinted_handoff
            .then(|| now + self.config.handoff_after_us);
        self.writes.insert(
            op,
            WriteOp {
                request,
                purpose,
                key,
                value,
                owners,
                acked: BTreeSet::new(),
                fallbacks: BTreeMap::new(),
                hint_acked: BTreeSet::new(),
                handoff_at,
                deadline: now + self.config.request_timeout_us,
                replied: false,
            },
        );
        self.in_flight.insert(request, op);
    }
    // ANCHOR_END: write_start

    // ANCHOR: write_put
    /// A replica (or, with `hint_for`, a fallback) is asked to store a value.
    fn on_put(
        &mut self,
        now: Time,
        from: NodeId,
        op: u64,
        key: Key,
        value: Versioned,
        hint_for: Option<NodeId>,
    ) {
        let stored = match hint_for {
            // Invariant 1: only a preference replica stores the key.
            None if self.is_owner(key) => self.durable.put(key, value).map(|_| ()),
            // Invariant 3: hints only outside the preference list, for owners inside.
            Some(owner) if !self.is_owner(key) && self.owners(key).contains(&owner) => {
                let r = self.durable.add_hint(owner, key, value);
                if r.is_ok() && self.next_hint_retry.is_none() {
                    self.next_hint_retry = Some(now + self.config.hint_retry_us);
                }
                r
            }
            _ => return, // Misaddressed: ignore it.
        };
        // Invariant 4: acknowledge only what is synced.
        if stored.is_ok() {
            let version = value.version;
            self.send(from, Message::PutAck { op, key, version });
        }
    }
    // ANCHOR_END: write_put

    // ANCHOR: write_ack
    /// A replica or fallback acknowledged a write this node coordinates.
    fn on_put_ack(&mut self, from: NodeId, op: u64, key: Key, version: Version) {
        let sloppy = self.config.sloppy;
        let w = self.config.w;
        let Some(write) = self.writes.get_mut(&op) else {
            return; // Late: the operation is over.
        };
        if write.key != key || write.value.version != version {
            return; // Stale: an operation of an earlier incarnation.
        }
        if write.owners.contains(&from) {
            write.acked.insert(from);
        } else if let Some(&owner) = write.fallbacks.get(&from) {
            write.hint_acked.insert(owner);
        }
        let reply_now = !write.replied && write.counted(sloppy) >= w;
        if reply_now {
            write.replied = true;
        }
        let (request, answer) = (write.request, write.done());
        if write.covered() && write.replied {
            self.writes.remove(&op);
        }
        if reply_now {
            self.reply(request, answer);
        }
    }

    /// The request timed out, or the handoff delay passed.
    fn write_timers(&mut self, now: Time, op: u64) {
        let Some(write) = self.writes.get_mut(&op) else {
            return;
        };
        if write.handoff_at.is_some_and(|t| t <= now) {
            write.handoff_at = None;
            self.hand_off(op);
        }
        let Some(write) = self.writes.get(&op) else {
            return;
        };
        if write.deadline <= now {
            let (request, replied, answer) = (write.request, write.replied, write.timed_out());
            self.writes.remove(&op);
            if !replied {
                // Invariant 7: a write may have stored its value somewhere.
                self.reply(request, answer);
            }
        }
    }
    // ANCHOR_END: write_ack

    // ANCHOR: read_start
    /// Starts a read of `key` from its replicas.
    fn start_read(&mut self, now: Time, request: RequestId, key: Key, purpose: ReadPurpose) {
        let op = self.fresh_op();
        let owners = self.owners(key);
        for &to in &owners {
            self.send(to, Message::Get { op, key });
        }
        self.reads.insert(
            op,
            ReadOp {
                request,
                key,
                owners,
                purpose,
                answers: BTreeMap::new(),
                repaired: BTreeMap::new(),
                deadline: now + self.config.request_timeout_us,
                replied: false,
            },
        );
        self.in_flight.insert(request, op);
    }

    fn on_get(&mut self, from: NodeId, op: u64, key: Key) {
        if self.is_owner(key) {
            let value = self.durable.store().get(&key).copied();
            self.send(from, Message::GetReply { op, key, value });
        }
    }
    // ANCHOR_END: read_start

    // ANCHOR: read_reply
    /// A replica answered a read this node coordinates.
    fn on_get_reply(
        &mut self,
        now: Time,
        from: NodeId,
        op: u64,
        key: Key,
        value: Option<Versioned>,
    ) {
        let r = self.config.r;
        let Some(read) = self.reads.get_mut(&op) else {
            return;
        };
        if read.key != key || !read.owners.contains(&from) || read.answers.contains_key(&from) {
            return; // Stale, misaddressed or duplicated.
        }
        read.answers.insert(from, value);
        let quorum_now = !read.replied && read.answers.len() >= r;
        if quorum_now {
            read.replied = true;
            let (request, purpose, newest) = (read.request, read.purpose, read.newest());
            let holders = newest.map_or(0, |n| read.holding(n.version));
            self.read_quorum(now, request, key, purpose, newest, holders);
        }
        // Repair after answering the client, as Dynamo does.
        self.repair(op);
        if self
            .reads
            .get(&op)
            .is_some_and(|read| read.answers.len() == read.owners.len())
        {
            self.reads.remove(&op);
        }
    }
    // ANCHOR_END: read_reply

    // ANCHOR: read_quorum
    /// `R` replicas answered, `holders` of them with the `newest` version:
    /// answer the client, write the value back first (atomic reads), or
    /// start a write phase (compare-and-set, atomic write).
    fn read_quorum(
        &mut self,
        now: Time,
        request: RequestId,
        key: Key,
        purpose: ReadPurpose,
        newest: Option<Versioned>,
        holders: usize,
    ) {
        match purpose {
            // Attiya, Bar-Noy and Dolev: before answering, make sure `W`
            // replicas hold the value, so that every later read quorum
            // meets one of them. No write-back if they already do.
            ReadPurpose::Read => match newest {
                Some(newest) if self.config.atomic && holders < self.config.w => {
                    self.start_write(now, request, WritePurpose::WriteBack, key, newest);
                }
                _ => self.reply(request, Reply::Read(newest.map(|v| v.value))),
            },
            ReadPurpose::Write { value } => {
                let version = self.new_version(now, version_of(newest.as_ref()));
                let value = Versioned { version, value };
                self.start_write(now, request, WritePurpose::Write, key, value);
            }
            ReadPurpose::Cas { expected, new } if newest.map(|v| v.value) == Some(expected) => {
                // Not atomic: another coordinator may be doing the same.
                let version = self.new_version(now, version_of(newest.as_ref()));
                let value = Versioned {
                    version,
                    value: new,
                };
                self.start_write(now, request, WritePurpose::Write, key, value);
            }
            ReadPurpose::Cas { .. } => {
                let found = newest.map(|v| v.value);
                self.reply(request, Reply::Rejected(Rejection::CasMismatch { found }));
            }
        }
    }
    // ANCHOR_END: read_quorum

    // ANCHOR: read_repair
    /// Read repair: sends the newest version seen to every replica that
    /// answered with an older one and has not been sent it yet.
    fn repair(&mut self, op: u64) {
        if !self.config.read_repair {
            return;
        }
        let Some(read) = self.reads.get_mut(&op) else {
            return;
        };
        let Some(newest) = read.newest() else {
            return;
        };
        if !read.replied {
            return;
        }
        let stale: Vec<NodeId> = read
            .answers
            .iter()
            .filter(|(node, v)| {
                version_of(v.as_ref()) < Some(newest.version)
                    && read.repaired.get(node) < Some(&newest.version)
            })
            .map(|(&node, _)| node)
            .collect();
        let key = read.key;
        for &node in &stale {
            read.repaired.insert(node, newest.version);
        }
        for node in stale {
            self.send(node, Message::Repair { key, value: newest });
        }
    }

    fn on_repair(&mut self, key: Key, value: Versioned) {
        if self.is_owner(key) {
            // Nobody waits for it; an I/O error only leaves the replica stale.
            let _ = self.durable.put(key, value);
        }
    }
    // ANCHOR_END: read_repair

    // ANCHOR: read_timeout
    fn read_timer(&mut self, now: Time, op: u64) {
        let Some(read) = self.reads.get(&op) else {
            return;
        };
        if read.deadline <= now {
            let (request, replied) = (read.request, read.replied);
            self.reads.remove(&op);
            if !replied {
                // Invariant 7: nothing was written.
                self.reply(request, Reply::Rejected(Rejection::Unavailable));
            }
        }
    }
    // ANCHOR_END: read_timeout

    // ANCHOR: handoff
    /// Sends the write to a fallback node for every owner that has not
    /// acknowledged it: the first fallbacks beyond the preference list not
    /// yet used by this operation. One round per write.
    fn hand_off(&mut self, op: u64) {
        let Some(write) = self.writes.get_mut(&op) else {
            return;
        };
        let mut spare = fallbacks(write.key, self.nodes, self.config.n)
            .into_iter()
            .filter(|f| !write.fallbacks.contains_key(f));
        let missing: Vec<NodeId> = write
            .owners
            .iter()
            .copied()
            .filter(|o| !write.acked.contains(o) && !write.fallbacks.values().any(|x| x == o))
            .collect();
        let mut sends = Vec::new();
        for owner in missing {
            let Some(fallback) = spare.next() else {
                break; // No node left beyond the preference list.
            };
            sends.push((fallback, owner));
        }
        let (key, value) = (write.key, write.value);
        for &(fallback, owner) in &sends {
            write.fallbacks.insert(fallback, owner);
        }
        for (fallback, owner) in sends {
            let hint_for = Some(owner);
            self.send(
                fallback,
                Message::Put {
                    op,
                    key,
                    value,
                    hint_for,
                },
            );
        }
    }

    /// Sends up to [`HINTS_PER_RETRY_MAX`] held hints to their owners.
    fn deliver_hints(&mut self, now: Time) {
        let batch: Vec<((NodeId, Key), Versioned)> = self
            .durable
            .hints()
            .iter()
            .take(HINTS_PER_RETRY_MAX)
            .map(|(&k, &v)| (k, v))
            .collect();
        for ((owner, key), value) in batch {
            self.send(owner, Message::Handoff { key, value });
        }
        self.next_hint_retry =
            (!self.durable.hints().is_empty()).then(|| now + self.config.hint_retry_us);
    }

    /// The owner receives a hinted write.
    fn on_handoff(&mut self, from: NodeId, key: Key, value: Versioned) {
        if self.is_owner(key) && self.durable.put(key, value).is_ok() {
            let version = value.version;
            self.send(from, Message::HandoffAck { key, version });
        }
    }

    /// The owner has the hinted version (or newer): forget the hint.
    fn on_handoff_ack(&mut self, from: NodeId, key: Key, version: Version) {
        // An I/O error keeps the hint; it is delivered again, harmlessly.
        let _ = self.durable.hint_delivered(from, key, version);
    }
    // ANCHOR_END: handoff

    /// Checks invariants 1, 3 and 6 on this node (see the
    /// [module documentation](self)).
    ///
    /// # Errors
    ///
    /// The first broken invariant, naming the key, node or operation.
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let node = self.id;
        for &key in self.durable.store().keys() {
            if !self.is_owner(key) {
                let owners = self.owners(key);
                return Err(Violation::NotOwner { node, key, owners });
            }
        }
        for &(owner, key) in self.durable.hints().keys() {
            let owners = self.owners(key);
            if owners.contains(&self.id) || !owners.contains(&owner) {
                return Err(Violation::StrayHint {
                    node,
                    key,
                    owner,
                    owners,
                });
            }
        }
        for (&op, write) in &self.writes {
            let counted = write.counted(self.config.sloppy);
            if write.replied && counted < self.config.w {
                let w = self.config.w;
                return Err(Violation::WriteBelowW { op, counted, w });
            }
        }
        for (&op, read) in &self.reads {
            if read.replied && read.answers.len() < self.config.r {
                let (answers, r) = (read.answers.len(), self.config.r);
                return Err(Violation::ReadBelowR { op, answers, r });
            }
        }
        Ok(())
    }
}

/// A simulator [`Monitor`](crate::sim::Monitor) that runs
/// [`QuorumNode::check_invariants`] after every step of every node.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuorumMonitor;

impl crate::sim::Monitor<QuorumNode> for QuorumMonitor {
    fn after(
        &mut self,
        now: Time,
        id: NodeId,
        node: &QuorumNode,
    ) -> Result<(), crate::sim::MonitorError> {
        node.check_invariants()
            .map_err(|violation| crate::sim::MonitorError::Quorum {
                node: id,
                now,
                violation,
            })
    }
}

impl Node for QuorumNode {
    const NAME: &'static str = "quorum";

    type Message = Message;
    type Config = QuorumConfig;

    /// Recovers the store and hints from `storage`; answers nothing it had
    /// in flight before a crash (its clients see a timeout).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `config` does not fit the cluster
    /// ([`QuorumConfig::validate`]); any error reading the log.
    fn start(
        ctx: NodeContext,
        config: &QuorumConfig,
        storage: Box<dyn Storage>,
        now: Time,
    ) -> io::Result<Self> {
        config
            .validate(ctx.nodes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let durable = Durable::open(storage)?;
        // Invariant 5 across restarts: continue above every counter of ours
        // that survived.
        let next_counter = durable
            .store()
            .values()
            .chain(durable.hints().values())
            .filter(|v| v.version.coordinator == ctx.id)
            .map(|v| v.version.counter + 1)
            .max()
            .unwrap_or(0);
        let next_hint_retry = (!durable.hints().is_empty()).then(|| now + config.hint_retry_us);
        Ok(QuorumNode {
            id: ctx.id,
            nodes: ctx.nodes,
            config: config.clone(),
            durable,
            next_counter,
            last_version: None,
            // Operation ids of different incarnations differ (almost surely).
            next_op: ctx.entropy,
            writes: BTreeMap::new(),
            reads: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            recent: BTreeMap::new(),
            recent_order: VecDeque::new(),
            next_hint_retry,
            loopback: VecDeque::new(),
            outputs: VecDeque::new(),
        })
    }

    fn handle_message(&mut self, now: Time, from: NodeId, msg: Message) {
        if from < self.nodes {
            self.on_message(now, from, msg);
            self.drain_loopback(now);
        }
    }

    fn handle_client(&mut self, now: Time, request: Request) {
        if let Some(&reply) = self.recent.get(&request.id) {
            self.outputs.push_back(Output::Reply {
                request: request.id,
                reply,
            });
            return;
        }
        if self.in_flight.contains_key(&request.id) {
            return; // A retry of a request in flight: it will be answered.
        }
        match request.command {
            Command::Read { key } => self.start_read(now, request.id, key, ReadPurpose::Read),
            Command::Write { key, value } if self.config.atomic => {
                let purpose = ReadPurpose::Write { value };
                self.start_read(now, request.id, key, purpose);
            }
            Command::Write { key, value } => {
                let version = self.new_version(now, None);
                let value = Versioned { version, value };
                self.start_write(now, request.id, WritePurpose::Write, key, value);
            }
            Command::Cas { key, expected, new } => {
                let purpose = ReadPurpose::Cas { expected, new };
                self.start_read(now, request.id, key, purpose);
            }
        }
        self.drain_loopback(now);
    }

    fn handle_timeout(&mut self, now: Time) {
        let due_writes: Vec<u64> = self
            .writes
            .iter()
            .filter(|(_, w)| w.deadline <= now || w.handoff_at.is_some_and(|t| t <= now))
            .map(|(&op, _)| op)
            .collect();
        for op in due_writes {
            self.write_timers(now, op);
        }
        let due_reads: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, r)| r.deadline <= now)
            .map(|(&op, _)| op)
            .collect();
        for op in due_reads {
            self.read_timer(now, op);
        }
        if self.next_hint_retry.is_some_and(|t| t <= now) {
            self.deliver_hints(now);
        }
        self.drain_loopback(now);
    }

    fn poll_output(&mut self) -> Option<Output<Message>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        let writes = self
            .writes
            .values()
            .flat_map(|w| [Some(w.deadline), w.handoff_at])
            .flatten();
        let reads = self.reads.values().map(|r| r.deadline);
        writes.chain(reads).chain(self.next_hint_retry).min()
    }

    fn state(&self) -> BTreeMap<Key, Value> {
        self.durable
            .store()
            .iter()
            .map(|(&k, v)| (k, v.value))
            .collect()
    }

    fn role(&self) -> String {
        match self.durable.hints().len() {
            0 => "replica".to_owned(),
            h => format!("replica, {h} hints"),
        }
    }

    /// Whether this node is in `key`'s preference list.
    fn holds(&self, key: Key) -> bool {
        self.is_owner(key)
    }
}

#[cfg(test)]
mod tests;
