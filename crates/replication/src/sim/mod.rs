//! The deterministic simulator: virtual time, a faulty network, crashing
//! nodes and simulated disks, all derived from one `u64` seed.
//!
//! After FoundationDB's simulation and TigerBeetle's VOPR. [`Sim`] drives
//! any [`Node`] — the protocols never know they are simulated. Nothing in
//! the simulated path reads a clock, starts a thread or iterates a
//! `HashMap`: every choice (latency, loss, duplication, tear points, node
//! entropy) comes from one ChaCha8 stream seeded with the run's seed, and
//! events run in (time, sequence number) order. Running a seed twice
//! therefore yields the same trace, byte for byte (`tests/determinism.rs`).
//!
// ANCHOR: invariants
//! # Invariants
//!
//! 1. Events are processed in strictly increasing (time, sequence) order;
//!    `now` never decreases.
//! 2. Every random choice is drawn from the run's single ChaCha8 stream, in
//!    event order.
//! 3. A crashed node receives nothing: messages, client requests and timers
//!    addressed to it are dropped (timers of a previous incarnation too).
//! 4. A paused node's events wait until it resumes, in their original order.
//! 5. A message crosses a link only if the link is open both when it is sent
//!    and when it arrives; clogging delays, it never drops.
//! 6. Once a monitor reports a violation, no further event is processed, so
//!    the state that broke the rule is the state left to inspect.
// ANCHOR_END: invariants
//!
//! The workload runner in [`workload`] puts clients, fault schedules and
//! checkers around a `Sim`.
//!
//! # The trace
//!
//! With [`SimConfig::trace`], one line per event, each starting with the
//! virtual time in microseconds, right-aligned in 12 columns:
//!
//! ```text
//!        61234 n0->n3 sent 60120 AppendEntries { .. }   a delivery, and when it was sent
//!        61240 n3 timeout                               a timer fired
//!        61300 n3 role leader t2                        the node's role changed
//!        61302 client->n3 Request { .. }                a client request arrived
//!        62010 n3->client RequestId { .. } Done         a reply reached its client
//!        70000 crash n1                                 faults: crash, start, pause,
//!                                                       partition, block, clog, heal
//! ```
//!
//! Messages that are dropped (lost, blocked, or addressed to a crashed
//! node) leave no line, but do enter the trace hash, as every event does.
//!
// ANCHOR: disk_faults
//! # Disk faults
//!
//! With [`SimConfig::disk_faults`] the disks misbehave too, still from the
//! run's stream:
//!
//! * **failed fsyncs**: each `sync` or `sync_dir` of a node's storage fails
//!   with probability `sync_failure` (the data stays unsynced). A protocol
//!   must then stop rather than acknowledge ([`Node::stopped`]); the
//!   simulator crashes a stopped node, as a process that exits would be, and
//!   restarts it when the schedule restarts crashed nodes.
//! * **flipped bits in unsynced data**: at a crash, each file that keeps
//!   some of its unsynced bytes has one of them flipped with probability
//!   `flip_unsynced` (garbage in a torn write, rather than missing bytes).
//!   A node that then refuses to start on its log (`InvalidData`) is not a
//!   violation: it stays down, and the run counts it
//!   ([`DiskFaultCounts::refused_starts`]); so does a start cut short by a
//!   failed sync. Without disk faults a failed start is a violation, since
//!   nothing should have damaged the disk.
// ANCHOR_END: disk_faults

pub mod workload;

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::hash::{Hash, Hasher};

use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use kv::{Call, Crash, FaultyStorage, SimDisk, Storage, Then};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};

use crate::protocol::{
    Command, Node, NodeContext, NodeId, Output, Reply, Request, RequestId, Time,
};

/// How the network between nodes behaves. Times in virtual microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    /// Shortest one-way delay.
    pub latency_min_us: Time,
    /// Longest one-way delay (uniform between the two).
    pub latency_max_us: Time,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by an extra
    /// `reorder_delay_us`, so later messages overtake it.
    pub reorder: f64,
    /// The extra delay of a reordered message.
    pub reorder_delay_us: Time,
}

impl NetworkConfig {
    /// A LAN: 0.5–2 ms, nothing lost, duplicated or held back.
    pub fn reliable() -> Self {
        NetworkConfig {
            latency_min_us: 500,
            latency_max_us: 2_000,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_us: 0,
        }
    }

    /// 6.824's unreliable network, roughly: 10% loss, 5% duplication, 10%
    /// of messages held back by 25 ms.
    pub fn unreliable() -> Self {
        NetworkConfig {
            loss: 0.1,
            duplicate: 0.05,
            reorder: 0.1,
            reorder_delay_us: 25_000,
            ..Self::reliable()
        }
    }
}

/// What a [`Sim`] is built from.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The seed every choice derives from.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// The network between nodes.
    pub network: NetworkConfig,
    /// Keep one text line per event (the trace hash is kept regardless).
    pub trace: bool,
    /// Virtual time a node spends on each input (message, request or
    /// timeout); inputs queue behind it. 0 (the default) models infinitely
    /// fast nodes; throughput experiments set it to model a node's capacity.
    pub service_us: Time,
    /// Disk faults (default: none).
    pub disk_faults: DiskFaults,
}

impl SimConfig {
    /// `nodes` nodes on a reliable network, no text trace.
    pub fn new(seed: u64, nodes: usize) -> Self {
        SimConfig {
            seed,
            nodes,
            network: NetworkConfig::reliable(),
            trace: false,
            service_us: 0,
            disk_faults: DiskFaults::default(),
        }
    }
}

/// How often the simulated disks misbehave (see the [module
/// documentation](self#disk-faults)). The default is a perfect disk.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DiskFaults {
    /// Probability that one `sync` or `sync_dir` call fails.
    pub sync_failure: f64,
    /// Probability, per file that keeps unsynced bytes through a crash,
    /// that one bit of them is flipped.
    pub flip_unsynced: f64,
}

impl DiskFaults {
    /// Both kinds of fault at probability `p`.
    pub fn uniform(p: f64) -> Self {
        DiskFaults {
            sync_failure: p,
            flip_unsynced: p,
        }
    }

    /// Whether any fault is switched on.
    pub fn any(&self) -> bool {
        self.sync_failure > 0.0 || self.flip_unsynced > 0.0
    }
}

/// What the disk faults of a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskFaultCounts {
    /// `sync` and `sync_dir` calls that failed.
    pub failed_syncs: u64,
    /// Bits flipped in unsynced bytes that survived a crash.
    pub flipped_bits: u64,
    /// Nodes that stopped themselves after a storage error (and were
    /// crashed by the simulator).
    pub stopped_nodes: u64,
    /// Restarts a node refused because its disk was corrupt.
    pub refused_starts: u64,
    /// Restarts that failed on an injected I/O error (a failed sync while
    /// recovering); the node stays down until the next restart.
    pub failed_starts: u64,
}

/// Checks a rule after every step of a node (Raft's safety properties, for
/// example). An `Err` stops the simulation (invariant 6).
pub trait Monitor<N: Node> {
    /// Called after node `id` handled an input, or just started, at `now`.
    ///
    /// # Errors
    ///
    /// The rule broken, naming what broke it.
    fn after(&mut self, now: Time, id: NodeId, node: &N) -> Result<(), MonitorError>;
}

/// The rule a [`Monitor`] found broken. The simulator keeps its `Display`
/// text (prefixed with the time) as the run's
/// [`violation`](Sim::violation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// One of Raft's safety properties (see [`RaftMonitor`](crate::raft::RaftMonitor)).
    #[error(transparent)]
    Raft(#[from] crate::raft::RaftViolation),
    /// A node-local invariant of a quorum node, checked by
    /// [`QuorumMonitor`](crate::quorum::QuorumMonitor).
    #[error("node {node} at {now} µs: {violation}")]
    Quorum {
        /// The node that broke it.
        node: NodeId,
        /// When.
        now: Time,
        /// The invariant broken.
        violation: crate::quorum::Violation,
    },
    /// A rule of a monitor written for one test or experiment.
    #[error("{0}")]
    Other(String),
}

enum EventKind<M> {
    Deliver {
        from: NodeId,
        to: NodeId,
        sent: Time,
        msg: M,
    },
    Timer {
        node: NodeId,
        generation: u64,
    },
    Request {
        to: NodeId,
        request: Request,
    },
    Reply {
        from: NodeId,
        id: RequestId,
        reply: Reply,
    },
}

struct Event<M> {
    time: Time,
    seq: u64,
    kind: EventKind<M>,
}

impl<M> PartialEq for Event<M> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<M> Eq for Event<M> {}
impl<M> PartialOrd for Event<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
// ANCHOR: event_order
impl<M> Ord for Event<M> {
    /// Reversed: `BinaryHeap` is a max-heap and we want the earliest event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}
// ANCHOR_END: event_order

struct Slot<N> {
    node: Option<N>,
    disk: SimDisk,
    incarnation: u64,
    /// The deadline a timer event is queued for, and its generation.
    timer: Option<Time>,
    generation: u64,
    paused_until: Time,
    /// When the node finishes its current input (with a service time).
    busy_until: Time,
    /// The role last written to the trace.
    traced_role: String,
}

/// FNV-1a, 64-bit: a tiny hash that is the same on every platform and Rust
/// version, for trace hashes.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A cluster of `N` nodes in virtual time. See the [module docs](self).
pub struct Sim<N: Node> {
    config: SimConfig,
    node_config: N::Config,
    now: Time,
    seq: u64,
    queue: BinaryHeap<Event<N::Message>>,
    slots: Vec<Slot<N>>,
    rng: ChaCha8Rng,
    blocked: BTreeSet<(NodeId, NodeId)>,
    clogged: BTreeMap<(NodeId, NodeId), Time>,
    monitors: Vec<Box<dyn Monitor<N>>>,
    violation: Option<String>,
    /// The typed form of `violation`, when a monitor reported it.
    monitor_error: Option<MonitorError>,
    replies: Vec<(Time, NodeId, RequestId, Reply)>,
    next_client: u64,
    hash: Fnv,
    trace: Vec<String>,
    delivered: u64,
    /// Failed syncs, counted by the faulty storages' hooks.
    failed_syncs: Arc<AtomicU64>,
    /// Whether the hooks still fail syncs (off once disk faults heal).
    sync_faults_on: Arc<std::sync::atomic::AtomicBool>,
    disk_counts: DiskFaultCounts,
}

impl<N: Node> std::fmt::Debug for Sim<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.config.seed)
            .field("now", &self.now)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<N: Node> Sim<N> {
    /// Boots every node at time 0 on an empty disk.
    pub fn new(config: SimConfig, node_config: N::Config) -> Self {
        let mut sim = Sim {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            slots: (0..config.nodes)
                .map(|_| Slot {
                    node: None,
                    disk: SimDisk::new(),
                    incarnation: 0,
                    timer: None,
                    generation: 0,
                    paused_until: 0,
                    busy_until: 0,
                    traced_role: String::new(),
                })
                .collect(),
            config,
            node_config,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            blocked: BTreeSet::new(),
            clogged: BTreeMap::new(),
            monitors: Vec::new(),
            violation: None,
            monitor_error: None,
            replies: Vec::new(),
            next_client: 1 << 32,
            hash: Fnv::default(),
            trace: Vec::new(),
            delivered: 0,
            failed_syncs: Arc::new(AtomicU64::new(0)),
            sync_faults_on: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            disk_counts: DiskFaultCounts::default(),
        };
        for id in 0..sim.config.nodes {
            sim.boot(id);
        }
        sim
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Cluster size.
    pub fn nodes(&self) -> usize {
        self.slots.len()
    }

    /// Node `id`, or `None` while it is crashed.
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.slots[id].node.as_ref()
    }

    /// Whether node `id` is running (possibly paused).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.slots[id].node.is_some()
    }

    /// How many times node `id` has been (re)started.
    pub fn incarnation(&self, id: NodeId) -> u64 {
        self.slots[id].incarnation
    }

    /// Node `id`'s disk.
    pub fn disk(&self, id: NodeId) -> &SimDisk {
        &self.slots[id].disk
    }

    /// Adds a monitor, called after every step of every node from now on.
    pub fn add_monitor(&mut self, monitor: Box<dyn Monitor<N>>) {
        self.monitors.push(monitor);
    }

    /// The first rule a monitor reported broken, if any.
    pub fn violation(&self) -> Option<&str> {
        self.violation.as_deref()
    }

    /// The rule a monitor reported broken, typed, if a monitor stopped the
    /// run ([`violation`](Sim::violation) also reports a node that could
    /// not recover from its disk).
    pub fn monitor_error(&self) -> Option<&MonitorError> {
        self.monitor_error.as_ref()
    }

    /// Hash of every event processed so far (FNV-1a over times, endpoints
    /// and message contents): equal traces have equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.hash.finish()
    }

    /// One line per event, if the run was configured to keep them.
    pub fn trace(&self) -> &[String] {
        &self.trace
    }

    /// Messages delivered between nodes so far.
    pub fn messages_delivered(&self) -> u64 {
        self.delivered
    }

    /// Events waiting in the queue.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }

    /// Replaces the network's behaviour from now on.
    pub fn set_network(&mut self, network: NetworkConfig) {
        self.note(format_args!("network {network:?}"));
        self.config.network = network;
    }

    /// The current network behaviour.
    pub fn network(&self) -> &NetworkConfig {
        &self.config.network
    }

    /// A uniform draw from the run's stream, for drivers built on the
    /// simulator (the workload runner) so that they too derive every
    /// choice from the seed.
    pub fn random_below(&mut self, bound: u64) -> u64 {
        self.rng.random_range(0..bound.max(1))
    }

    /// A probability draw from the run's stream.
    pub fn random_bool(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn push(&mut self, time: Time, kind: EventKind<N::Message>) {
        self.seq += 1;
        self.queue.push(Event {
            time,
            seq: self.seq,
            kind,
        });
    }

    fn note(&mut self, what: std::fmt::Arguments<'_>) {
        let line = format!("{:>12} {what}", self.now);
        line.hash(&mut self.hash);
        if self.config.trace {
            self.trace.push(line);
        }
    }

    fn latency(&mut self) -> Time {
        let net = &self.config.network;
        let (lo, hi) = (
            net.latency_min_us,
            net.latency_max_us.max(net.latency_min_us),
        );
        self.rng.random_range(lo..=hi)
    }

    // --- node faults -------------------------------------------------------

    fn boot(&mut self, id: NodeId) {
        let slot = &mut self.slots[id];
        slot.incarnation += 1;
        let ctx = NodeContext {
            id,
            nodes: self.config.nodes,
            entropy: self.rng.next_u64(),
        };
        let storage = self.storage(id);
        match N::start(ctx, &self.node_config, storage, self.now) {
            Ok(node) => {
                self.slots[id].node = Some(node);
                let incarnation = self.slots[id].incarnation;
                self.note(format_args!("start n{id} (incarnation {incarnation})"));
                self.after_input(id);
            }
            Err(e) if self.config.disk_faults.any() => {
                // Refusing a corrupt log is the right answer, and a failed
                // sync while recovering may stop a start: stay down.
                if e.kind() == std::io::ErrorKind::InvalidData {
                    self.disk_counts.refused_starts += 1;
                    self.note(format_args!("n{id} refuses to start: {e}"));
                } else {
                    self.disk_counts.failed_starts += 1;
                    self.note(format_args!("n{id} cannot start: {e}"));
                }
            }
            Err(e) => {
                self.violation = Some(format!("node {id} failed to recover from its disk: {e}"));
            }
        }
    }

    /// Node `id`'s storage: its disk, behind a hook that fails syncs when
    /// disk faults are on (each incarnation with its own seeded stream).
    fn storage(&mut self, id: NodeId) -> Box<dyn Storage> {
        let disk = self.slots[id].disk.clone();
        let p = self.config.disk_faults.sync_failure;
        if p <= 0.0 {
            return Box::new(disk);
        }
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(self.rng.next_u64()));
        let failed = Arc::clone(&self.failed_syncs);
        let on = Arc::clone(&self.sync_faults_on);
        Box::new(FaultyStorage::new(disk, move |call| {
            if matches!(call, Call::Sync | Call::SyncDir)
                && on.load(AtomicOrdering::Relaxed)
                && rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .random_bool(p)
            {
                failed.fetch_add(1, AtomicOrdering::Relaxed);
                return Err(std::io::Error::other("injected fsync failure"));
            }
            Ok(Then::Forward)
        }))
    }

    /// Heals the disks: from now on no sync fails and no crash flips a
    /// bit (what was damaged stays damaged). Nodes that restart afterwards
    /// still start on plain disks.
    pub fn heal_disks(&mut self) {
        if self.config.disk_faults.any() {
            self.sync_faults_on.store(false, AtomicOrdering::Relaxed);
            self.config.disk_faults.flip_unsynced = 0.0;
            self.note(format_args!("heal disks"));
        }
    }

    /// What the disk faults have done so far.
    pub fn disk_fault_counts(&self) -> DiskFaultCounts {
        DiskFaultCounts {
            failed_syncs: self.failed_syncs.load(AtomicOrdering::Relaxed),
            ..self.disk_counts
        }
    }

    // ANCHOR: crash
    /// Crashes node `id`: its volatile state is gone, and its disk keeps its
    /// synced bytes plus a seeded random prefix of the unsynced ones (a torn
    /// write). No-op if it is already down.
    pub fn crash(&mut self, id: NodeId) {
        if self.slots[id].node.take().is_none() {
            return;
        }
        let seed = self.rng.next_u64();
        let flip = self.config.disk_faults.flip_unsynced;
        let synced = if flip > 0.0 {
            self.durable_lengths(id)
        } else {
            BTreeMap::new()
        };
        let slot = &mut self.slots[id];
        slot.disk.crash(Crash::Torn { seed });
        slot.timer = None;
        slot.generation += 1;
        slot.paused_until = 0;
        self.note(format_args!("crash n{id}"));
        if flip > 0.0 {
            self.flip_unsynced(id, &synced, flip);
        }
    }
    // ANCHOR_END: crash

    /// Each file's durable length on node `id`'s disk.
    fn durable_lengths(&self, id: NodeId) -> BTreeMap<String, u64> {
        let disk = &self.slots[id].disk;
        let names = disk.list().unwrap_or_default();
        names
            .into_iter()
            .filter_map(|n| Some((n.clone(), disk.durable_contents(&n).ok()?.len() as u64)))
            .collect()
    }

    /// After a crash of node `id`: flips one bit, with probability `p`, in
    /// each file's unsynced bytes that survived (beyond `synced`).
    fn flip_unsynced(&mut self, id: NodeId, synced: &BTreeMap<String, u64>, p: f64) {
        let disk = self.slots[id].disk.clone();
        for name in disk.list().unwrap_or_default() {
            let from = synced.get(&name).copied().unwrap_or(0);
            let len = disk.len(&name).unwrap_or(0);
            if len <= from || !self.rng.random_bool(p) {
                continue;
            }
            let offset = from + self.rng.random_range(0..len - from);
            let bit = self.rng.random_range(0..8u8);
            if disk.flip_bit(&name, offset, bit).is_ok() {
                self.disk_counts.flipped_bits += 1;
                self.note(format_args!("flip n{id} {name} byte {offset} bit {bit}"));
            }
        }
    }

    /// Restarts a crashed node from its disk. No-op if it is up.
    pub fn restart(&mut self, id: NodeId) {
        if self.slots[id].node.is_none() && self.violation.is_none() {
            self.boot(id);
        }
    }

    /// Freezes node `id` until `until` (a long GC pause, a stopped VM):
    /// events addressed to it wait (invariant 4).
    pub fn pause(&mut self, id: NodeId, until: Time) {
        if self.slots[id].node.is_some() {
            self.slots[id].paused_until = until;
            self.note(format_args!("pause n{id} until {until}"));
        }
    }

    // --- network faults ----------------------------------------------------

    /// Cuts every link between nodes of different groups, both ways. Nodes
    /// in no group keep their links.
    pub fn partition(&mut self, groups: &[&[NodeId]]) {
        for (i, a) in groups.iter().enumerate() {
            for b in &groups[i + 1..] {
                for &x in *a {
                    for &y in *b {
                        self.blocked.insert((x, y));
                        self.blocked.insert((y, x));
                    }
                }
            }
        }
        self.note(format_args!("partition {groups:?}"));
    }

    /// Cuts the link from `from` to `to` only: a one-way partition.
    pub fn block(&mut self, from: NodeId, to: NodeId) {
        self.blocked.insert((from, to));
        self.note(format_args!("block n{from}->n{to}"));
    }

    /// Cuts every link to and from node `id` (6.824's `disconnect`).
    pub fn isolate(&mut self, id: NodeId) {
        for other in 0..self.slots.len() {
            if other != id {
                self.blocked.insert((id, other));
                self.blocked.insert((other, id));
            }
        }
        self.note(format_args!("isolate n{id}"));
    }

    /// Reopens every link to and from node `id` (6.824's `connect`).
    pub fn connect(&mut self, id: NodeId) {
        self.blocked.retain(|&(a, b)| a != id && b != id);
        self.note(format_args!("connect n{id}"));
    }

    /// Delays every message from `from` to `to` until `until` (a congested
    /// or flapping link).
    pub fn clog(&mut self, from: NodeId, to: NodeId, until: Time) {
        self.clogged.insert((from, to), until);
        self.note(format_args!("clog n{from}->n{to} until {until}"));
    }

    /// Opens every link and clears every clog.
    pub fn heal(&mut self) {
        self.blocked.clear();
        self.clogged.clear();
        self.note(format_args!("heal"));
    }

    /// Whether messages from `from` to `to` currently get through.
    pub fn link_open(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.contains(&(from, to))
    }

    // --- clients -----------------------------------------------------------

    /// Sends `command` to node `to` as the first request of a fresh client
    /// session, and returns the request's id.
    pub fn submit(&mut self, to: NodeId, command: Command) -> RequestId {
        let id = RequestId {
            client: self.next_client,
            seq: 0,
        };
        self.next_client += 1;
        self.submit_as(to, Request { id, command });
        id
    }

    /// Sends `request` to node `to` over a client link: latency, but no loss
    /// (faults are between nodes). Lost if the node is down when it arrives.
    pub fn submit_as(&mut self, to: NodeId, request: Request) {
        let at = self.now + self.latency();
        self.push(at, EventKind::Request { to, request });
    }

    /// Replies received by clients since the last call: (time, node that
    /// replied, request, reply).
    pub fn take_replies(&mut self) -> Vec<(Time, NodeId, RequestId, Reply)> {
        std::mem::take(&mut self.replies)
    }

    // --- running -----------------------------------------------------------

    /// Processes every event due at or before `t`, then sets the clock to
    /// `t` — unless a monitor reports a violation first (invariant 6).
    pub fn run_until(&mut self, t: Time) {
        while self.violation.is_none() {
            match self.queue.peek() {
                Some(event) if event.time <= t => {}
                _ => break,
            }
            let event = self.queue.pop().expect("peeked");
            self.now = event.time;
            self.dispatch(event);
        }
        if self.violation.is_none() {
            self.now = self.now.max(t);
        }
    }

    /// Runs for `d` more microseconds.
    pub fn run_for(&mut self, d: Time) {
        self.run_until(self.now + d);
    }

    /// The time of the next queued event.
    pub fn next_event_time(&self) -> Option<Time> {
        self.queue.peek().map(|e| e.time)
    }

    fn target(kind: &EventKind<N::Message>) -> Option<NodeId> {
        match *kind {
            EventKind::Deliver { to, .. } | EventKind::Request { to, .. } => Some(to),
            EventKind::Timer { node, .. } => Some(node),
            EventKind::Reply { .. } => None,
        }
    }

    fn dispatch(&mut self, event: Event<N::Message>) {
        let now = self.now;
        if let Some(id) = Self::target(&event.kind) {
            let slot = &self.slots[id];
            if slot.node.is_none() {
                // Invariant 3: dropped. Only hash it; a trace line per dropped
                // timer would drown the interesting ones.
                (now, 0u8, id).hash(&mut self.hash);
                return;
            }
            let until = slot.paused_until.max(slot.busy_until);
            if until > now {
                self.push(until, event.kind);
                return;
            }
            self.slots[id].busy_until = now + self.config.service_us;
        }
        match event.kind {
            EventKind::Deliver {
                from,
                to,
                sent,
                msg,
            } => {
                if !self.link_open(from, to) {
                    (now, 1u8, from, to).hash(&mut self.hash);
                    return;
                }
                self.delivered += 1;
                (now, 2u8, from, to, &msg).hash(&mut self.hash);
                if self.config.trace {
                    self.trace
                        .push(format!("{now:>12} n{from}->n{to} sent {sent} {msg:?}"));
                }
                self.slots[to]
                    .node
                    .as_mut()
                    .expect("checked up")
                    .handle_message(now, from, msg);
                self.after_input(to);
            }
            EventKind::Timer { node, generation } => {
                let slot = &mut self.slots[node];
                if slot.generation != generation {
                    return;
                }
                slot.timer = None;
                (now, 3u8, node).hash(&mut self.hash);
                if self.config.trace {
                    self.trace.push(format!("{now:>12} n{node} timeout"));
                }
                slot.node.as_mut().expect("checked up").handle_timeout(now);
                self.after_input(node);
            }
            EventKind::Request { to, request } => {
                (now, 4u8, to, &request).hash(&mut self.hash);
                if self.config.trace {
                    self.trace
                        .push(format!("{now:>12} client->n{to} {request:?}"));
                }
                self.slots[to]
                    .node
                    .as_mut()
                    .expect("checked up")
                    .handle_client(now, request);
                self.after_input(to);
            }
            EventKind::Reply { from, id, reply } => {
                (now, 5u8, from, &id, &reply).hash(&mut self.hash);
                if self.config.trace {
                    self.trace
                        .push(format!("{now:>12} n{from}->client {id:?} {reply:?}"));
                }
                self.replies.push((now, from, id, reply));
            }
        }
    }

    /// Drains the node's outputs into the network, re-arms its timer and
    /// runs the monitors.
    fn after_input(&mut self, id: NodeId) {
        while let Some(output) = self.slots[id].node.as_mut().and_then(N::poll_output) {
            match output {
                Output::Send { to, msg } => self.send(id, to, msg),
                Output::Reply { request, reply } => {
                    let at = self.now + self.latency();
                    self.push(
                        at,
                        EventKind::Reply {
                            from: id,
                            id: request,
                            reply,
                        },
                    );
                }
            }
        }
        if self.config.trace
            && let Some(role) = self.slots[id].node.as_ref().map(N::role)
            && role != self.slots[id].traced_role
        {
            self.trace
                .push(format!("{:>12} n{id} role {role}", self.now));
            self.slots[id].traced_role = role;
        }
        let deadline = self.slots[id].node.as_ref().and_then(N::poll_timeout);
        let slot = &mut self.slots[id];
        if deadline != slot.timer {
            slot.generation += 1;
            slot.timer = deadline;
            if let Some(t) = deadline {
                let generation = slot.generation;
                let at = t.max(self.now);
                self.push(
                    at,
                    EventKind::Timer {
                        node: id,
                        generation,
                    },
                );
            }
        }
        if self.config.disk_faults.any()
            && let Some(why) = self.slots[id].node.as_ref().and_then(N::stopped)
        {
            // A node that cannot sync stops; its process would exit.
            let why = why.to_owned();
            self.disk_counts.stopped_nodes += 1;
            self.note(format_args!("n{id} stops: {why}"));
            self.crash(id);
            return;
        }
        if self.monitors.is_empty() {
            return;
        }
        if let Some(node) = self.slots[id].node.as_ref() {
            for monitor in &mut self.monitors {
                if let Err(e) = monitor.after(self.now, id, node) {
                    self.violation = Some(format!("t={} {e}", self.now));
                    self.monitor_error = Some(e);
                    break;
                }
            }
        }
    }

    // ANCHOR: send
    /// Puts a message on the wire, where the network's faults apply
    /// (invariant 5).
    fn send(&mut self, from: NodeId, to: NodeId, msg: N::Message) {
        if to >= self.slots.len() || !self.link_open(from, to) {
            return;
        }
        let net = &self.config.network;
        let (loss, duplicate, reorder) = (net.loss, net.duplicate, net.reorder);
        if loss > 0.0 && self.rng.random_bool(loss) {
            return;
        }
        let clogged_until = self.clogged.get(&(from, to)).copied().unwrap_or(0);
        if duplicate > 0.0 && self.rng.random_bool(duplicate) {
            let copy = msg.clone();
            self.deliver_later(from, to, clogged_until, reorder, copy);
        }
        self.deliver_later(from, to, clogged_until, reorder, msg);
    }

    /// Queues one copy of a message for delivery after the link's latency
    /// (and its clog, and perhaps a reordering delay).
    fn deliver_later(
        &mut self,
        from: NodeId,
        to: NodeId,
        clogged_until: Time,
        reorder: f64,
        msg: N::Message,
    ) {
        let at = self.arrival(clogged_until, reorder);
        let sent = self.now;
        self.push(
            at,
            EventKind::Deliver {
                from,
                to,
                sent,
                msg,
            },
        );
    }

    fn arrival(&mut self, clogged_until: Time, reorder: f64) -> Time {
        let mut at = self.now.max(clogged_until) + self.latency();
        if reorder > 0.0 && self.rng.random_bool(reorder) {
            at += self.config.network.reorder_delay_us;
        }
        at
    }
    // ANCHOR_END: send
}
