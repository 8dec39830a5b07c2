//! The replicated vector store under faults: clusters of three and five
//! `RaftNode<VectorStore>`s in a deterministic simulation, over seeds and
//! fault mixes, with clients issuing `VADD`, `VREM`, `VEMB` and `VSIM`.
//!
//! The workspace's simulator (`replication::sim::Sim`) runs only nodes that
//! speak the register's commands, so this file has a compact harness of its
//! own, built the same way: virtual time in microseconds, one event queue
//! ordered by (time, sequence number), one ChaCha8 stream seeded by the
//! run's `u64` seed for every choice, each node on its own `kv::SimDisk`,
//! messages passed by value (cloned when duplicated), and Raft's own
//! `RaftMonitor` after every input of every node.
//!
//! # The run
//!
//! 1. **Faults.** 3–5 clients, each with at most one request outstanding,
//!    send it to the node they believe leads and retry elsewhere on
//!    `NotLeader`, `Uncertain` or a timeout. `VADD` adds an element under a
//!    fresh name (a seeded random 8-d vector, a JSON attribute); `VREM`
//!    removes one the client saw acknowledged; `VEMB` reads any element
//!    exactly; `VSIM … COUNT 10` searches. Reads go through ReadIndex.
//!    Meanwhile the mix strikes: crashes (a node, or now and then the whole
//!    cluster, losing its unsynced bytes or tearing them), partitions that
//!    heal, lost and duplicated messages, and disk faults (below).
//! 2. **Healing**, once 85% of the operations have been issued: links
//!    reopen, the network stops losing messages, the disks stop failing and
//!    every crashed node restarts. The remaining operations must all be
//!    acknowledged (liveness).
//! 3. **Failover.** Once every node has applied the leader's commit index,
//!    the leader crashes; a new one is elected without it (if the others
//!    are a majority), it restarts, and the cluster settles again.
//!
//! # What is checked
//!
//! After every input of every node: Raft's five safety properties
//! (`RaftMonitor`) and the node's own invariants. After the run, on every
//! node that is up (all of them, except nodes that refused a corrupt log):
//!
//! 1. **No acknowledged element is lost**: an element whose `VADD` was
//!    acknowledged and that no `VREM` was sent for is on every replica with
//!    exactly its vector (`VEMB`), and no `VREM` of an acknowledged element
//!    finds it missing. Every element a replica holds is one a client added
//!    (`VCARD` counts only known elements).
//! 2. **No resurrection**: an element whose `VREM` was acknowledged is on
//!    no replica.
//! 3. **Linearizability, per element** (below).
//! 4. **Replicas are byte-identical and equal to a rebuild**: every
//!    replica passes `check_invariants` (its index holds exactly its
//!    store's live elements, with their vectors), its snapshot (store
//!    checkpoint and index bytes) equals every other replica's, equals the
//!    snapshot of a fresh `VectorStore` that applied the committed log from
//!    index 1 (index bytes compared first, to say which part differs), and
//!    restores to the same bytes.
//! 5. **Recall after failover**: on the final leader, `VSIM … COUNT 10`
//!    finds at least 95% of what `VSIM … COUNT 10 TRUTH` finds, over 20
//!    random queries.
//!
//! # Linearizability, and why the check is sound
//!
//! Every element name is written by exactly one `VADD` operation and
//! removed by at most one `VREM` operation (an operation is all the
//! attempts of one client request, from the first send to the reply the
//! client accepts). So each element is a register that can only go absent
//! → present → absent: the history is linearizable for that element iff
//! there are points `a` in the `VADD`'s interval and `d` in the `VREM`'s
//! (or after everything, if there is none) such that every read that saw
//! the element has a point strictly between `a` and `d`, and every read
//! that did not has a point before `a` or after `d`. A read is `VEMB key
//! name` (present, with exactly the vector added, or absent) and also every
//! name a `VSIM` returned (present; an approximate search may omit an
//! element, so its omissions are not read as absences). Pushing `a` as late
//! and `d` as early as the present reads allow is optimal for the absent
//! reads, so [`check_element`] decides the property exactly for the
//! element, in one pass. Intervals are positions in one total order of
//! client events (invocations and replies, in the order the harness
//! processed them), so real-time order is exact even at equal
//! microseconds. Checking elements one at a time is weaker than checking
//! the whole history (one `VSIM` is one point for all its names), never
//! stronger: a reported violation is a real one.
//!
//! Retries are consistent with that model because every attempt of an
//! operation is the same request (client id and sequence number) and the
//! store keeps client sessions (invariant 6 of `state.rs`): an attempt that
//! reaches the log after an earlier one applied is answered with the first
//! answer and not applied again. So a `VADD` of a fresh name answered `0`
//! ("already there") or a `VREM` of an acknowledged element answered `0`
//! ("not there") is a violation whatever the earlier attempts did: a
//! duplicate applied twice, or a lost element. (Before the sessions, a
//! resubmitted write could apply twice, and this check had to accept a `0`
//! after an ambiguous attempt.)
//!
//! # Disk faults (the `everything` mix)
//!
//! Each `sync` and `sync_dir` fails with probability 1/500 through a
//! `kv::FaultyStorage`, and an incarnation's first one with probability
//! 1/10 (a process that dies while it recovers). A node whose write fails
//! stops itself (`RaftNode::failure`); the harness then crashes it, tearing
//! what the failed sync left unsynced, and restarts it later. A start that
//! fails is retried later on the same disk, without a power loss (the
//! operating system kept what the dead process wrote). At a crash that tears
//! unsynced bytes, a bit of what survived of them may be flipped. A node
//! that then refuses to start (`InvalidData`) is counted and **left down
//! for the rest of the run**: it serves nothing, and it is not wiped and
//! rejoined, since a node that forgot its votes and acknowledged entries
//! could help elect a leader without a committed entry. Bits are flipped
//! only while fewer than a minority of nodes are refused or at risk of
//! refusing, so a majority always remains. A refusal without a flipped bit,
//! or any failed start without an injected fault, is a violation.
//!
//! # Running
//!
//! Six tests (3 and 5 nodes × crashes, partitions, everything) of
//! `STRATA_SEEDS` seeds each (default 20), 200 operations per run, about
//! 10 s in all in a debug build; `three_nodes_everything_longer` runs
//! three seeds of 1,500 operations. A longer sweep scales with the
//! environment (STYLE.md §10, rather than an `#[ignore]`d test):
//! `STRATA_SEEDS=400 cargo test -p vecstore --test sim` takes about two
//! minutes. A failing run prints its seed and the command that replays it
//! alone (`VECSTORE_SIM_SEED=…`); `VECSTORE_SIM_TRACE=1` adds a line per
//! fault and role change. `same_seed_same_run` runs a seed twice and
//! compares the trace hashes; `a_lying_disk_is_caught` shows that the
//! history and replica checks, without Raft's monitor, catch the elements
//! a disk whose fsyncs do nothing loses.
//!
//! At this scale (at most a few hundred live elements in 8 dimensions,
//! `VSIM`'s default `EF` of 100) the index is close to exact, so check 5
//! guards against a graph broken by a restore or a replay more than it
//! measures the index's quality; check 4's byte equality with the rebuilt
//! index is the sharper test.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BTreeMap, BinaryHeap};
use std::hash::{Hash, Hasher};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use kv::{Call, Crash, FaultyStorage, SimDisk, Storage, Then};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};
use replication::protocol::{NodeContext, NodeId, Output, Request, RequestId, Time};
use replication::raft::{
    App, ClientReply, Payload, RaftConfig, RaftMessage, RaftMonitor, RaftNode,
};
use replication::sim::Fnv;
use vecstore::command::{Parsed, parse};
use vecstore::{Command, Reply, VectorStore};

type Node = RaftNode<VectorStore>;
type Message = RaftMessage<VectorStore>;
/// A position in the run's total order of client events.
type Stamp = u64;

/// The one vector set every client uses.
const KEY: &[u8] = b"users";
const DIMENSION: usize = 8;
/// Operations per run, and the share issued before the faults heal.
const OPS: usize = 200;
const OPS_BEFORE_HEAL_PERCENT: usize = 85;
/// One-way latency of every link, node to node and client to node.
const LATENCY_US: (Time, Time) = (1_000, 20_000);
/// How long a client waits for one attempt, and for one operation (while
/// the faults last, and after they heal).
const ATTEMPT_TIMEOUT_US: Time = 400_000;
const OPERATION_TIMEOUT_US: Time = 1_500_000;
const OPERATION_TIMEOUT_HEALED_US: Time = 4_000_000;
// The soundness argument for retries (module docs) needs every attempt to
// arrive before it times out.
const _: () = assert!(ATTEMPT_TIMEOUT_US > LATENCY_US.1);
const _: () = assert!(OPERATION_TIMEOUT_US > ATTEMPT_TIMEOUT_US);
/// A client's pause between operations.
const THINK_US: (Time, Time) = (1_000, 10_000);
/// Faults arrive about every `FAULT_GAP_MEAN_US` and last within `FAULT_LASTS_US`.
const FAULT_GAP_MEAN_US: f64 = 250_000.0;
const FAULT_LASTS_US: (Time, Time) = (50_000, 800_000);
/// The share of crash faults that take the whole cluster down.
const POWER_LOSS_P: f64 = 0.08;
/// The `everything` mix: lost and duplicated node-to-node messages, failed
/// syncs, and flipped bits at a tearing crash.
const LOSS_P: f64 = 0.05;
const DUPLICATE_P: f64 = 0.05;
const SYNC_FAILURE_P: f64 = 0.002;
const FAILED_FIRST_SYNC_P: f64 = 0.1;
const FLIP_P: f64 = 0.5;
/// Bounds: the fault phase, each settling, the whole run, its steps.
const FAULT_PHASE_US_MAX: Time = 30_000_000;
const SETTLE_US_MAX: Time = 20_000_000;
const STEPS_MAX: u64 = 50_000_000;
/// Recall@10 on the final leader.
const RECALL_QUERIES: usize = 20;
const RECALL_COUNT: usize = 10;
const RECALL_MIN: f64 = 0.95;
/// Seeds per test without `STRATA_SEEDS`.
const SEEDS_DEFAULT: u64 = 20;

// ---------------------------------------------------------------------------
// The matrix.
// ---------------------------------------------------------------------------

#[test]
fn three_nodes_crashes() {
    sweep("three_nodes_crashes", 3, Mix::Crashes);
}

#[test]
fn three_nodes_partitions() {
    sweep("three_nodes_partitions", 3, Mix::Partitions);
}

#[test]
fn three_nodes_everything() {
    sweep("three_nodes_everything", 3, Mix::Everything);
}

#[test]
fn five_nodes_crashes() {
    sweep("five_nodes_crashes", 5, Mix::Crashes);
}

#[test]
fn five_nodes_partitions() {
    sweep("five_nodes_partitions", 5, Mix::Partitions);
}

#[test]
fn five_nodes_everything() {
    sweep("five_nodes_everything", 5, Mix::Everything);
}

/// Longer runs (1,500 operations, about 450 live elements: more than the
/// search's `EF` of 100, so `VSIM` is approximate) with every fault.
#[test]
fn three_nodes_everything_longer() {
    for seed in seeds().take(3) {
        let params = Params {
            seed,
            nodes: 3,
            mix: Mix::Everything,
            lying_disk: false,
            ops: 1_500,
        };
        let report = run(params).unwrap_or_else(|v| {
            panic!(
                "seed {seed}: {v}\nreplay: VECSTORE_SIM_SEED={seed} cargo test -p vecstore \
                 --test sim -- --exact three_nodes_everything_longer"
            )
        });
        println!(
            "three_nodes_everything_longer: seed {seed}: {}",
            report.stats
        );
    }
}

/// STYLE.md §8: the same seed gives the same run, event for event.
#[test]
fn same_seed_same_run() {
    for (nodes, mix) in [(3, Mix::Everything), (5, Mix::Crashes)] {
        let params = Params {
            seed: 7,
            nodes,
            mix,
            lying_disk: false,
            ops: OPS,
        };
        let first = run(params).unwrap_or_else(|v| panic!("{params:?}: {v}"));
        let second = run(params).unwrap_or_else(|v| panic!("{params:?}: {v}"));
        assert_eq!(first.trace_hash, second.trace_hash, "{params:?}");
        assert_eq!(first.stats, second.stats, "{params:?}");
    }
}

/// The checks have teeth: with fsyncs that do nothing (and Raft's monitor
/// off), crashes lose acknowledged elements, and the history and replica
/// checks say so.
#[test]
fn a_lying_disk_is_caught() {
    let mut caught = Vec::new();
    for seed in 0..10 {
        let params = Params {
            seed,
            nodes: 3,
            mix: Mix::Crashes,
            lying_disk: true,
            ops: OPS,
        };
        if let Err(violation) = run(params) {
            caught.push(violation);
        }
    }
    println!(
        "a lying disk: {} of 10 runs caught: {caught:#?}",
        caught.len()
    );
    assert!(
        caught.len() >= 5,
        "only {} of 10 runs caught: {caught:?}",
        caught.len()
    );
}

/// What strikes during the fault phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Node crashes (torn or dropping unsynced bytes) and power losses.
    Crashes,
    /// Partitions that heal.
    Partitions,
    /// Both, lost and duplicated messages, failed syncs, flipped bits.
    Everything,
}

impl Mix {
    fn disk_faults(self) -> bool {
        self == Mix::Everything
    }
}

#[derive(Debug, Clone, Copy)]
struct Params {
    seed: u64,
    nodes: usize,
    mix: Mix,
    /// Every `sync` reports success and does nothing, and Raft's monitor
    /// is off: the harness's own checks must catch what is lost
    /// (`a_lying_disk_is_caught`).
    lying_disk: bool,
    /// Operations in the run.
    ops: usize,
}

/// `VECSTORE_SIM_SEED` alone, or `STRATA_SEEDS` seeds from 0.
fn seeds() -> std::ops::Range<u64> {
    let var = |name| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    match var("VECSTORE_SIM_SEED") {
        Some(seed) => seed..seed + 1,
        None => 0..var("STRATA_SEEDS").unwrap_or(SEEDS_DEFAULT),
    }
}

/// Runs every seed of one combination, failing with the seed and the
/// command that replays it; then checks that the faults really struck.
fn sweep(test: &str, nodes: usize, mix: Mix) {
    let mut total = Stats::default();
    for seed in seeds() {
        let params = Params {
            seed,
            nodes,
            mix,
            lying_disk: false,
            ops: OPS,
        };
        let replay = format!(
            "replay: VECSTORE_SIM_SEED={seed} cargo test -p vecstore --test sim -- --exact {test}"
        );
        match catch_unwind(AssertUnwindSafe(|| run(params))) {
            Ok(Ok(report)) => total.add(&report.stats),
            Ok(Err(violation)) => panic!("{test}: seed {seed}: {violation}\n{replay}"),
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{test}: seed {seed} panicked: {text}\n{replay}")
            }
        }
    }
    println!("{test}: {total}");
    if total.runs < 5 {
        return; // a replay of one seed: nothing to count
    }
    assert!(
        total.acked_adds >= total.runs * 40,
        "{test}: too few acknowledged adds: {total}"
    );
    assert!(total.acked_removes > 0, "{test}: {total}");
    assert!(total.reads_checked > total.runs * 20, "{test}: {total}");
    if mix != Mix::Partitions {
        assert!(total.crashes > total.runs, "{test}: {total}");
        assert!(total.power_losses > 0, "{test}: {total}");
    }
    if mix != Mix::Crashes {
        assert!(total.partitions > total.runs, "{test}: {total}");
    }
    if mix.disk_faults() {
        assert!(
            total.stopped > 0,
            "{test}: no node stopped on a failed sync: {total}"
        );
        assert!(total.flipped_bits > 0, "{test}: no bit flipped: {total}");
        assert!(total.failed_starts > 0, "{test}: no start failed: {total}");
    }
}

// ---------------------------------------------------------------------------
// Counts.
// ---------------------------------------------------------------------------

/// What a run (or a sweep) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Stats {
    runs: usize,
    crashes: usize,
    power_losses: usize,
    partitions: usize,
    /// Nodes that stopped on a failed sync.
    stopped: usize,
    failed_syncs: usize,
    flipped_bits: usize,
    /// Starts refused on a corrupt log (the node stays down).
    refused: usize,
    /// Starts cut short by a failed sync (retried).
    failed_starts: usize,
    acked_adds: usize,
    acked_removes: usize,
    /// Writes acknowledged after an attempt that may have applied too.
    retried_writes: usize,
    /// Writes whose outcome the client never learned.
    uncertain_writes: usize,
    /// `VEMB` answers and `VSIM` names checked against the history.
    reads_checked: usize,
    /// Committed log entries of the run (its last commit index).
    committed: u64,
    recall_hits: usize,
    recall_truth: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.runs += o.runs;
        self.crashes += o.crashes;
        self.power_losses += o.power_losses;
        self.partitions += o.partitions;
        self.stopped += o.stopped;
        self.failed_syncs += o.failed_syncs;
        self.flipped_bits += o.flipped_bits;
        self.refused += o.refused;
        self.failed_starts += o.failed_starts;
        self.acked_adds += o.acked_adds;
        self.acked_removes += o.acked_removes;
        self.retried_writes += o.retried_writes;
        self.uncertain_writes += o.uncertain_writes;
        self.reads_checked += o.reads_checked;
        self.committed += o.committed;
        self.recall_hits += o.recall_hits;
        self.recall_truth += o.recall_truth;
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let recall = self.recall_hits as f64 / self.recall_truth.max(1) as f64;
        write!(
            f,
            "{} runs, {} crashes ({} power losses), {} partitions, {} stopped on {} failed syncs, \
             {} bits flipped, {} refused starts, {} failed starts; {} adds and {} removes \
             acknowledged ({} after an ambiguous attempt), {} writes uncertain, {} reads \
             checked, {} entries committed; recall@10 {recall:.4} ({} answers)",
            self.runs,
            self.crashes,
            self.power_losses,
            self.partitions,
            self.stopped,
            self.failed_syncs,
            self.flipped_bits,
            self.refused,
            self.failed_starts,
            self.acked_adds,
            self.acked_removes,
            self.retried_writes,
            self.uncertain_writes,
            self.reads_checked,
            self.committed,
            self.recall_truth,
        )
    }
}

struct RunReport {
    stats: Stats,
    trace_hash: u64,
}

// ---------------------------------------------------------------------------
// The history.
// ---------------------------------------------------------------------------

/// One write operation on an element: its interval and what is known of it.
#[derive(Debug, Clone, Copy)]
struct Write {
    invoked: Stamp,
    /// The reply the client accepted (`None`: never learned, or failed).
    acked: Option<Stamp>,
    /// Certainly took no effect (every attempt was refused).
    failed: bool,
}

impl Write {
    fn new(invoked: Stamp) -> Write {
        Write {
            invoked,
            acked: None,
            failed: false,
        }
    }
}

/// An element: one `VADD` and at most one `VREM` ever write it.
#[derive(Debug)]
struct Element {
    name: Vec<u8>,
    vector: Vec<f32>,
    add: Write,
    remove: Option<Write>,
}

/// A read that saw element `element` present or absent.
#[derive(Debug, Clone, Copy)]
struct Observation {
    element: usize,
    invoked: Stamp,
    completed: Stamp,
    present: bool,
    what: &'static str,
}

// ANCHOR: check_element
/// Decides whether element `e`'s history — its `VADD`, its `VREM` if any,
/// and the reads `seen` — is linearizable for a register that goes absent
/// → present → absent (module docs). Points are counted in half stamps,
/// so a point can fall strictly between two events.
fn check_element(
    e: &Element,
    seen: &[Observation],
    at: &dyn Fn(Stamp) -> Time,
) -> Result<(), String> {
    const NEVER: u128 = u128::MAX;
    let half = |s: Stamp| 2 * u128::from(s);
    let name = String::from_utf8_lossy(&e.name);
    let show = |o: &Observation| {
        format!(
            "{} invoked at {} µs and answered at {} µs",
            o.what,
            at(o.invoked),
            at(o.completed)
        )
    };
    let (present, absent): (Vec<&Observation>, Vec<&Observation>) =
        seen.iter().partition(|o| o.present);
    if let (true, Some(o)) = (e.add.failed, present.first()) {
        return Err(format!(
            "{name} was seen (a {}) though every attempt of its VADD was refused",
            show(o)
        ));
    }
    // The latest the add can have taken effect.
    let mut a = e.add.acked.map_or(NEVER, half);
    for o in &present {
        a = a.min(half(o.completed) - 1);
    }
    if a < half(e.add.invoked) {
        let o = present
            .iter()
            .min_by_key(|o| o.completed)
            .expect("a bounded a");
        return Err(format!(
            "{name} was seen by a {} before its VADD was invoked at {} µs",
            show(o),
            at(e.add.invoked)
        ));
    }
    // The earliest the remove can have taken effect.
    let (mut d, d_max) = match e.remove {
        None => (NEVER, NEVER),
        Some(r) => (half(r.invoked), r.acked.map_or(NEVER, half)),
    };
    for o in &present {
        d = d.max(half(o.invoked) + 1);
    }
    if d > d_max {
        let o = present
            .iter()
            .max_by_key(|o| o.invoked)
            .expect("a raised d");
        let r = e.remove.expect("a finite d_max");
        return Err(format!(
            "{name} was seen by a {} after its VREM was acknowledged at {} µs (resurrected)",
            show(o),
            at(r.acked.expect("finite"))
        ));
    }
    for o in absent {
        if half(o.invoked) >= a && half(o.completed) <= d {
            return Err(format!(
                "{name} was missing from a {}, though its VADD was acknowledged at {:?} µs \
                 (or seen by then) and its VREM {} (lost)",
                show(o),
                e.add.acked.map(at),
                match e.remove {
                    None => "was never sent".to_string(),
                    Some(r) => format!("was invoked only at {} µs", at(r.invoked)),
                }
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: check_element

// ---------------------------------------------------------------------------
// Clients.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Add(usize),
    Remove(usize),
    Embedding(usize),
    Similar,
}

impl Op {
    fn is_write(&self) -> bool {
        matches!(self, Op::Add(_) | Op::Remove(_))
    }
}

/// An operation in progress: all the attempts of one request.
#[derive(Debug)]
struct Pending {
    op: Op,
    command: Command,
    invoked: Stamp,
    /// The attempt in flight (`None`: waiting to retry).
    attempt: Option<RequestId>,
    give_up: Time,
    /// Some attempt may have applied (it timed out, or was `Uncertain`).
    maybe_applied: bool,
    /// Issued after healing: it must succeed.
    after_heal: bool,
}

#[derive(Debug)]
struct Client {
    /// The node this client believes leads.
    guess: NodeId,
    /// When it next acts: an attempt's deadline, a retry, or the end of a
    /// pause (`None`: done).
    wake: Option<Time>,
    op: Option<Pending>,
    /// Elements this client added, saw acknowledged, and has not removed.
    live: Vec<usize>,
    seq: u64,
}

/// How an operation ended.
enum Outcome {
    Applied(Reply),
    GaveUp,
}

// ---------------------------------------------------------------------------
// Events.
// ---------------------------------------------------------------------------

enum Kind {
    Message {
        from: NodeId,
        to: NodeId,
        /// Boxed: an InstallSnapshot holds a whole `VectorStore`.
        msg: Box<Message>,
    },
    Request {
        to: NodeId,
        request: Request<Command>,
    },
    Reply {
        from: NodeId,
        id: RequestId,
        reply: ClientReply<Reply>,
    },
}

struct Event {
    time: Time,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed: `BinaryHeap` is a max-heap and the earliest event goes first.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// What the harness does next (ties in time go in this order).
#[derive(Debug, Clone, Copy)]
enum Next {
    Fault,
    HealPartition,
    Restart(NodeId),
    Timer(NodeId),
    Client(usize),
    Event,
}

// ---------------------------------------------------------------------------
// The world.
// ---------------------------------------------------------------------------

struct Slot {
    node: Option<Node>,
    disk: SimDisk,
    /// When a crashed node restarts (`None`: it stays down for now).
    restart_at: Option<Time>,
    /// It refused a corrupt log: down for good.
    refused: bool,
    /// A bit of its disk was flipped since it last started.
    flipped: bool,
}

struct World {
    params: Params,
    raft: RaftConfig,
    rng: ChaCha8Rng,
    now: Time,
    seq: u64,
    steps: u64,
    queue: BinaryHeap<Event>,
    slots: Vec<Slot>,
    /// Partition side of each node: a link is open between equal sides.
    side: Vec<u8>,
    loss: f64,
    duplicate: f64,
    faults_on: bool,
    next_fault: Option<Time>,
    partition_heals_at: Option<Time>,
    sync_faults_on: Arc<AtomicBool>,
    failed_syncs: Arc<AtomicU64>,
    monitor: RaftMonitor<VectorStore>,
    violation: Option<String>,
    clients: Vec<Client>,
    issued: usize,
    elements: Vec<Element>,
    by_name: BTreeMap<Vec<u8>, usize>,
    observations: Vec<Observation>,
    /// The time of each stamp (index: stamp).
    stamp_times: Vec<Time>,
    stats: Stats,
    hash: Fnv,
    trace: bool,
}

/// One run; `Err` names the first broken property.
fn run(params: Params) -> Result<RunReport, String> {
    let mut w = World::new(params);
    let ops = params.ops;
    let heal_after = ops * OPS_BEFORE_HEAL_PERCENT / 100;
    w.run_until(FAULT_PHASE_US_MAX, |w| w.issued >= heal_after)?;
    w.heal();
    let deadline = w.now + 2 * OPERATION_TIMEOUT_HEALED_US + SETTLE_US_MAX;
    if !w.run_until(deadline, |w| {
        w.issued >= ops && w.clients.iter().all(|c| c.op.is_none())
    })? {
        return Err(format!("the clients did not finish within {deadline} µs"));
    }
    w.settle("after healing")?;
    w.failover()?;
    w.settle("after the failover")?;
    w.check_final()?;
    w.stats.runs = 1;
    w.stats.failed_syncs = w.failed_syncs.load(Ordering::Relaxed) as usize;
    Ok(RunReport {
        stats: w.stats,
        trace_hash: w.hash.finish(),
    })
}

impl World {
    fn new(params: Params) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let clients = rng.random_range(3..=5usize);
        let nodes = params.nodes;
        let mut w = World {
            params,
            raft: RaftConfig {
                // Small, so that snapshots, log compaction and
                // InstallSnapshot happen in every run.
                snapshot_threshold_entries: 24,
                ..RaftConfig::default()
            },
            now: 0,
            seq: 0,
            steps: 0,
            queue: BinaryHeap::new(),
            slots: (0..nodes)
                .map(|_| Slot {
                    node: None,
                    disk: SimDisk::new(),
                    restart_at: Some(0),
                    refused: false,
                    flipped: false,
                })
                .collect(),
            side: vec![0; nodes],
            loss: 0.0,
            duplicate: 0.0,
            faults_on: true,
            next_fault: None,
            partition_heals_at: None,
            sync_faults_on: Arc::new(AtomicBool::new(params.mix.disk_faults())),
            failed_syncs: Arc::new(AtomicU64::new(0)),
            monitor: RaftMonitor::default(),
            violation: None,
            clients: (0..clients)
                .map(|_| Client {
                    guess: rng.random_range(0..nodes),
                    wake: Some(rng.random_range(THINK_US.0..=THINK_US.1)),
                    op: None,
                    live: Vec::new(),
                    seq: 0,
                })
                .collect(),
            issued: 0,
            elements: Vec::new(),
            by_name: BTreeMap::new(),
            observations: Vec::new(),
            stamp_times: vec![0],
            stats: Stats::default(),
            hash: Fnv::default(),
            trace: std::env::var_os("VECSTORE_SIM_TRACE").is_some(),
            rng,
        };
        if params.mix == Mix::Everything {
            w.loss = LOSS_P;
            w.duplicate = DUPLICATE_P;
        }
        w.next_fault = Some(w.fault_gap());
        w
    }

    fn note(&mut self, what: std::fmt::Arguments<'_>) {
        let line = format!("{:>12} {what}", self.now);
        line.hash(&mut self.hash);
        if self.trace {
            eprintln!("{line}");
        }
    }

    fn stamp(&mut self) -> Stamp {
        self.stamp_times.push(self.now);
        (self.stamp_times.len() - 1) as Stamp
    }

    fn latency(&mut self) -> Time {
        self.rng.random_range(LATENCY_US.0..=LATENCY_US.1)
    }

    fn push(&mut self, time: Time, kind: Kind) {
        self.seq += 1;
        let seq = self.seq;
        self.queue.push(Event { time, seq, kind });
    }

    fn minority(&self) -> usize {
        (self.params.nodes - 1) / 2
    }

    fn up(&self) -> impl Iterator<Item = (NodeId, &Node)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.node.as_ref().map(|n| (id, n)))
    }

    // --- the loop ----------------------------------------------------------

    /// Runs until `done` holds (`Ok(true)`) or nothing is left to do before
    /// `deadline` (`Ok(false)`); `Err` on a violation.
    fn run_until(&mut self, deadline: Time, done: impl Fn(&World) -> bool) -> Result<bool, String> {
        loop {
            if let Some(v) = &self.violation {
                return Err(v.clone());
            }
            if done(self) {
                return Ok(true);
            }
            let Some((time, next)) = self.next() else {
                return Ok(false);
            };
            if time > deadline {
                self.now = self.now.max(deadline);
                return Ok(false);
            }
            self.steps += 1;
            if self.steps > STEPS_MAX {
                return Err(format!("more than {STEPS_MAX} steps by {} µs", self.now));
            }
            self.now = self.now.max(time);
            self.dispatch(next);
        }
    }

    /// The earliest thing due; ties go in [`Next`]'s order, then by index.
    fn next(&self) -> Option<(Time, Next)> {
        let mut best: Option<(Time, Next)> = None;
        let mut consider = |time: Option<Time>, next: Next| {
            if let Some(t) = time
                && best.is_none_or(|(b, _)| t < b)
            {
                best = Some((t, next));
            }
        };
        consider(self.next_fault.filter(|_| self.faults_on), Next::Fault);
        consider(self.partition_heals_at, Next::HealPartition);
        for (id, slot) in self.slots.iter().enumerate() {
            if slot.node.is_none() {
                consider(slot.restart_at, Next::Restart(id));
            }
        }
        for (id, node) in self.up() {
            consider(node.poll_timeout(), Next::Timer(id));
        }
        for (c, client) in self.clients.iter().enumerate() {
            consider(client.wake, Next::Client(c));
        }
        consider(self.queue.peek().map(|e| e.time), Next::Event);
        best
    }

    fn dispatch(&mut self, next: Next) {
        let now = self.now;
        match next {
            Next::Fault => self.inject_fault(),
            Next::HealPartition => {
                self.partition_heals_at = None;
                self.side.fill(0);
                self.note(format_args!("heal partition"));
            }
            Next::Restart(id) => self.boot(id),
            Next::Timer(id) => {
                (now, 1u8, id).hash(&mut self.hash);
                if let Some(node) = self.slots[id].node.as_mut() {
                    node.handle_timeout(now);
                }
                self.after_input(id);
            }
            Next::Client(c) => self.client_wakes(c),
            Next::Event => {
                let event = self.queue.pop().expect("peeked");
                self.deliver(event.kind);
            }
        }
    }

    fn deliver(&mut self, kind: Kind) {
        let now = self.now;
        match kind {
            Kind::Message { from, to, msg } => {
                let open = self.side[from] == self.side[to];
                (now, 2u8, from, to, open, &msg).hash(&mut self.hash);
                let Some(node) = self.slots[to].node.as_mut().filter(|_| open) else {
                    return;
                };
                node.handle_message(now, from, *msg);
                self.after_input(to);
            }
            Kind::Request { to, request } => {
                (now, 3u8, to, &request).hash(&mut self.hash);
                let Some(node) = self.slots[to].node.as_mut() else {
                    return;
                };
                node.handle_request(now, request);
                self.after_input(to);
            }
            Kind::Reply { from, id, reply } => {
                (now, 4u8, from, &id, format!("{reply:?}")).hash(&mut self.hash);
                self.client_reply(from, id, reply);
            }
        }
    }

    /// Drains node `id`'s outputs into the network, stops it if its storage
    /// failed, and runs the monitor and the node's own checker.
    fn after_input(&mut self, id: NodeId) {
        let Some(node) = self.slots[id].node.as_mut() else {
            return;
        };
        let mut outputs = Vec::new();
        while let Some(output) = node.poll_event() {
            outputs.push(output);
        }
        if let Some(why) = node.failure() {
            let why = why.to_string();
            if !outputs.is_empty() {
                self.violation = Some(format!(
                    "node {id} failed ({why}) yet sent {} outputs",
                    outputs.len()
                ));
                return;
            }
            self.stats.stopped += 1;
            self.note(format_args!("n{id} stops: {why}"));
            let back = self.now + self.rng.random_range(FAULT_LASTS_US.0..=FAULT_LASTS_US.1);
            // The failed sync left bytes unsynced: tear them (and perhaps
            // flip one of the survivors).
            self.crash_as(id, Some(back), true);
            return;
        }
        // With a lying disk the monitor only records what committed.
        let checked = self.monitor.check(self.now, id, node);
        if let Err(e) = checked
            && !self.params.lying_disk
        {
            self.violation = Some(format!("at {} µs: Raft monitor: {e}", self.now));
            return;
        }
        if let Err(e) = node.check_invariants() {
            self.violation = Some(format!("at {} µs: {e}", self.now));
            return;
        }
        let role = node.role_name();
        if self.trace {
            eprintln!("{:>12} n{id} {role}", self.now);
        }
        for output in outputs {
            match output {
                Output::Send { to, msg } => self.send(id, to, msg),
                Output::Reply { request, reply } => {
                    let at = self.now + self.latency();
                    let kind = Kind::Reply {
                        from: id,
                        id: request,
                        reply,
                    };
                    self.push(at, kind);
                }
            }
        }
    }

    /// Puts a message on a node-to-node link: partitions, loss and
    /// duplication apply when it is sent, partitions again on arrival.
    fn send(&mut self, from: NodeId, to: NodeId, msg: Message) {
        if self.side[from] != self.side[to] {
            return;
        }
        if self.loss > 0.0 && self.rng.random_bool(self.loss) {
            return;
        }
        if self.duplicate > 0.0 && self.rng.random_bool(self.duplicate) {
            let at = self.now + self.latency();
            let msg = Box::new(msg.clone());
            self.push(at, Kind::Message { from, to, msg });
        }
        let at = self.now + self.latency();
        let msg = Box::new(msg);
        self.push(at, Kind::Message { from, to, msg });
    }

    // --- nodes -------------------------------------------------------------

    /// Starts (or restarts) node `id` from its disk.
    fn boot(&mut self, id: NodeId) {
        self.slots[id].restart_at = None;
        let ctx = NodeContext {
            id,
            nodes: self.params.nodes,
            entropy: self.rng.next_u64(),
        };
        let storage = self.storage(id);
        match Node::open(ctx, &self.raft, storage, self.now) {
            Ok(node) => {
                self.slots[id].node = Some(node);
                self.slots[id].flipped = false;
                self.note(format_args!("start n{id}"));
                self.after_input(id);
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData && self.slots[id].flipped => {
                // Refusing a corrupt log is right; serving it never is.
                self.slots[id].refused = true;
                self.stats.refused += 1;
                self.note(format_args!("n{id} refuses to start: {e}"));
            }
            Err(e) if self.sync_faults_on.load(Ordering::Relaxed) => {
                self.stats.failed_starts += 1;
                self.slots[id].restart_at = Some(self.now + FAULT_LASTS_US.0);
                self.note(format_args!("n{id} cannot start: {e}"));
            }
            Err(e) => {
                self.violation = Some(format!(
                    "at {} µs: node {id} failed to recover from its disk: {e}",
                    self.now
                ));
            }
        }
    }

    /// Node `id`'s storage: its disk, behind a hook that fails syncs while
    /// disk faults are on (each incarnation with a seeded stream of its own).
    fn storage(&mut self, id: NodeId) -> Box<dyn Storage> {
        let disk = self.slots[id].disk.clone();
        if self.params.lying_disk {
            return Box::new(FaultyStorage::new(disk, |call| {
                Ok(match call {
                    Call::Sync | Call::SyncDir => Then::Skip,
                    _ => Then::Forward,
                })
            }));
        }
        if !self.params.mix.disk_faults() {
            return Box::new(disk);
        }
        let on = Arc::clone(&self.sync_faults_on);
        // A process that dies while it recovers: this incarnation's first
        // sync fails (during `open` on a fresh disk or a torn tail,
        // otherwise at its first write).
        let fail_first = AtomicBool::new(
            on.load(Ordering::Relaxed) && self.rng.random_bool(FAILED_FIRST_SYNC_P),
        );
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(self.rng.next_u64()));
        let failed = Arc::clone(&self.failed_syncs);
        Box::new(FaultyStorage::new(disk, move |call| {
            if matches!(call, Call::Sync | Call::SyncDir)
                && on.load(Ordering::Relaxed)
                && (fail_first.swap(false, Ordering::Relaxed)
                    || rng
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .random_bool(SYNC_FAILURE_P))
            {
                failed.fetch_add(1, Ordering::Relaxed);
                return Err(io::Error::other("injected fsync failure"));
            }
            Ok(Then::Forward)
        }))
    }

    /// Crashes node `id` (no-op if it is down): unsynced bytes are dropped,
    /// or torn at a random point (and then, with disk faults, perhaps one
    /// of the survivors flipped).
    fn crash(&mut self, id: NodeId, restart_at: Option<Time>) {
        let torn = self.rng.random_bool(0.5);
        self.crash_as(id, restart_at, torn);
    }

    fn crash_as(&mut self, id: NodeId, restart_at: Option<Time>, torn: bool) {
        if self.slots[id].node.take().is_none() {
            return;
        }
        self.stats.crashes += 1;
        self.slots[id].restart_at = restart_at;
        let disk = self.slots[id].disk.clone();
        if !torn {
            disk.crash(Crash::DropUnsynced);
            self.note(format_args!("crash n{id} (unsynced bytes dropped)"));
            return;
        }
        let at_risk = self.slots.iter().filter(|s| s.refused || s.flipped).count();
        let flip = self.params.mix.disk_faults()
            && self.faults_on
            && at_risk < self.minority()
            && self.rng.random_bool(FLIP_P);
        let durable: Vec<(String, u64)> = if flip {
            let names = disk.list().unwrap_or_default();
            names
                .into_iter()
                .filter_map(|n| Some((n.clone(), disk.durable_contents(&n).ok()?.len() as u64)))
                .collect()
        } else {
            Vec::new()
        };
        disk.crash(Crash::Torn {
            seed: self.rng.next_u64(),
        });
        self.note(format_args!("crash n{id} (unsynced bytes torn)"));
        for (name, synced) in durable {
            let len = disk.len(&name).unwrap_or(0);
            if len <= synced {
                continue;
            }
            let offset = synced + self.rng.random_range(0..len - synced);
            let bit = self.rng.random_range(0..8u8);
            if disk.flip_bit(&name, offset, bit).is_ok() {
                self.stats.flipped_bits += 1;
                self.slots[id].flipped = true;
                self.note(format_args!("flip n{id} {name} byte {offset} bit {bit}"));
            }
        }
    }

    // --- faults ------------------------------------------------------------

    fn fault_gap(&mut self) -> Time {
        let u: f64 = self.rng.random();
        (-FAULT_GAP_MEAN_US * (1.0 - u).ln()) as Time + 1
    }

    fn inject_fault(&mut self) {
        self.next_fault = Some(self.now + self.fault_gap());
        let lasts = self.rng.random_range(FAULT_LASTS_US.0..=FAULT_LASTS_US.1);
        let crash = match self.params.mix {
            Mix::Crashes => true,
            Mix::Partitions => false,
            Mix::Everything => self.rng.random_bool(0.5),
        };
        if !crash {
            return self.partition(lasts);
        }
        let nodes = self.params.nodes;
        if self.rng.random_bool(POWER_LOSS_P) {
            self.stats.power_losses += 1;
            self.note(format_args!("power loss"));
            for id in 0..nodes {
                let back = self.now + self.rng.random_range(20_000..=200_000);
                self.crash(id, Some(back));
            }
            return;
        }
        // One node, keeping a majority up.
        let down = self.slots.iter().filter(|s| s.node.is_none()).count();
        let id = self.rng.random_range(0..nodes);
        if down < self.minority() {
            let back = self.now + lasts;
            self.crash(id, Some(back));
        }
    }

    /// Splits the nodes in two random non-empty sides until `now + lasts`
    /// (replacing any partition in force).
    fn partition(&mut self, lasts: Time) {
        let nodes = self.params.nodes;
        loop {
            for s in self.side.iter_mut() {
                *s = u8::from(self.rng.random_bool(0.5));
            }
            let ones = self.side.iter().filter(|&&s| s == 1).count();
            if ones > 0 && ones < nodes {
                break;
            }
        }
        self.partition_heals_at = Some(self.now + lasts);
        self.stats.partitions += 1;
        let side = self.side.clone();
        self.note(format_args!("partition {side:?}"));
    }

    /// Stops every fault: links reopen, nothing is lost any more, disks
    /// stop failing, crashed nodes restart (refused ones stay down).
    fn heal(&mut self) {
        self.faults_on = false;
        self.next_fault = None;
        self.partition_heals_at = None;
        self.side.fill(0);
        self.loss = 0.0;
        self.duplicate = 0.0;
        self.sync_faults_on.store(false, Ordering::Relaxed);
        let now = self.now;
        for slot in &mut self.slots {
            if slot.node.is_none() && !slot.refused {
                slot.restart_at = Some(now);
            }
        }
        self.note(format_args!("heal"));
    }

    /// The leader, if the up nodes agree on one that has committed its
    /// whole log (its term's no-op included).
    fn leader(&self) -> Option<NodeId> {
        let term = self.up().map(|(_, n)| n.term()).max()?;
        let mut leaders = self.up().filter(|(_, n)| n.is_leader());
        let (id, node) = leaders.next()?;
        let settled = leaders.next().is_none()
            && node.term() == term
            && node.commit_index() == node.last_log_index();
        settled.then_some(id)
    }

    /// Whether every node that can be up is, and all have applied the
    /// leader's commit index.
    fn settled(&self) -> bool {
        let all_up = self.slots.iter().all(|s| s.node.is_some() || s.refused);
        let Some(leader) = self.leader() else {
            return false;
        };
        let commit = self.slots[leader]
            .node
            .as_ref()
            .map_or(0, |n| n.commit_index());
        all_up
            && self
                .up()
                .all(|(_, n)| n.commit_index() == commit && n.last_applied() == commit)
    }

    fn settle(&mut self, when: &str) -> Result<(), String> {
        let deadline = self.now + SETTLE_US_MAX;
        if self.run_until(deadline, World::settled)? {
            return Ok(());
        }
        let roles: Vec<String> = (0..self.params.nodes)
            .map(|id| match &self.slots[id].node {
                Some(n) => format!(
                    "n{id} {} commit {} applied {}",
                    n.role_name(),
                    n.commit_index(),
                    n.last_applied()
                ),
                None if self.slots[id].refused => format!("n{id} refused"),
                None => format!("n{id} down"),
            })
            .collect();
        Err(format!(
            "the cluster did not settle {when} within {SETTLE_US_MAX} µs: {roles:?}"
        ))
    }

    /// The last failover: the settled leader crashes; if the others are a
    /// majority they elect a new one before it comes back.
    fn failover(&mut self) -> Result<(), String> {
        let old = self.leader().ok_or("no leader after settling")?;
        self.crash(old, None);
        self.note(format_args!("failover: crash leader n{old}"));
        let majority = self.params.nodes / 2 + 1;
        if self.up().count() >= majority {
            let deadline = self.now + SETTLE_US_MAX;
            if !self.run_until(deadline, |w| w.leader().is_some_and(|l| l != old))? {
                return Err(format!(
                    "no new leader within {SETTLE_US_MAX} µs of crashing n{old}"
                ));
            }
        }
        self.slots[old].restart_at = Some(self.now);
        Ok(())
    }

    // --- clients -----------------------------------------------------------

    fn client_wakes(&mut self, c: usize) {
        let now = self.now;
        let Some(op) = self.clients[c].op.as_mut() else {
            if self.issued < self.params.ops {
                self.start_op(c);
            } else {
                self.clients[c].wake = None;
            }
            return;
        };
        if op.attempt.take().is_some() {
            // The attempt timed out: it may yet apply.
            op.maybe_applied |= op.op.is_write();
            let nodes = self.params.nodes;
            self.clients[c].guess = self.rng.random_range(0..nodes);
        }
        if now >= self.clients[c].op.as_ref().expect("just seen").give_up {
            self.finish(c, Outcome::GaveUp);
        } else {
            self.attempt(c);
        }
    }

    fn random_vector(&mut self) -> Vec<f32> {
        loop {
            let v: Vec<f32> = (0..DIMENSION)
                .map(|_| self.rng.random_range(-1.0f32..1.0))
                .collect();
            if v.iter().any(|&x| x != 0.0) {
                return v;
            }
        }
    }

    fn start_op(&mut self, c: usize) {
        self.issued += 1;
        let invoked = self.stamp();
        let roll = self.rng.random_range(0..100);
        let live = self.clients[c].live.len();
        let op = if roll < 15 && live > 0 {
            let e = self.clients[c]
                .live
                .swap_remove(self.rng.random_range(0..live));
            self.elements[e].remove = Some(Write::new(invoked));
            Op::Remove(e)
        } else if roll < 40 && !self.elements.is_empty() {
            Op::Embedding(self.rng.random_range(0..self.elements.len()))
        } else if roll < 55 {
            Op::Similar
        } else {
            let name = format!("c{c}-e{}", self.elements.len()).into_bytes();
            let vector = self.random_vector();
            self.by_name.insert(name.clone(), self.elements.len());
            self.elements.push(Element {
                name,
                vector,
                add: Write::new(invoked),
                remove: None,
            });
            Op::Add(self.elements.len() - 1)
        };
        let command = self.command_of(c, &op);
        self.clients[c].seq += 1;
        self.clients[c].op = Some(Pending {
            op,
            command,
            invoked,
            attempt: None,
            give_up: self.now
                + if self.faults_on {
                    OPERATION_TIMEOUT_US
                } else {
                    OPERATION_TIMEOUT_HEALED_US
                },
            maybe_applied: false,
            after_heal: !self.faults_on,
        });
        self.attempt(c);
    }

    /// The command of `op`, through the RESP parser as a client's would go.
    fn command_of(&mut self, c: usize, op: &Op) -> Command {
        let blob = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let text = |s: &str| s.as_bytes().to_vec();
        let args: Vec<Vec<u8>> = match *op {
            Op::Add(e) => {
                let e = &self.elements[e];
                let attributes = format!("{{\"client\":{c},\"n\":{}}}", e.name.len());
                vec![
                    text("VADD"),
                    KEY.to_vec(),
                    text("FP32"),
                    blob(&e.vector),
                    e.name.clone(),
                    text("SETATTR"),
                    attributes.into_bytes(),
                ]
            }
            Op::Remove(e) => vec![text("VREM"), KEY.to_vec(), self.elements[e].name.clone()],
            Op::Embedding(e) => vec![text("VEMB"), KEY.to_vec(), self.elements[e].name.clone()],
            Op::Similar => {
                let query = self.random_vector();
                vec![text("VSIM"), KEY.to_vec(), text("FP32"), blob(&query)]
            }
        };
        command(&args)
    }

    /// Sends the operation's next attempt to the node the client believes
    /// leads, over a link with latency but no loss.
    fn attempt(&mut self, c: usize) {
        let client = &mut self.clients[c];
        // Every attempt of an operation is the same request (client ids
        // from 1: client 0 has no session).
        let id = RequestId {
            client: c as u64 + 1,
            seq: client.seq,
        };
        let op = client.op.as_mut().expect("an operation to attempt");
        op.attempt = Some(id);
        let request = Request {
            id,
            command: op.command.clone(),
        };
        let to = client.guess;
        client.wake = Some(self.now + ATTEMPT_TIMEOUT_US);
        let at = self.now + self.latency();
        self.push(at, Kind::Request { to, request });
    }

    fn client_reply(&mut self, from: NodeId, id: RequestId, reply: ClientReply<Reply>) {
        let Some(c) = (id.client as usize).checked_sub(1) else {
            return;
        };
        let now = self.now;
        let nodes = self.params.nodes;
        let Some(op) = self.clients[c]
            .op
            .as_mut()
            .filter(|op| op.attempt == Some(id))
        else {
            return; // an attempt the client gave up on
        };
        let backoff = match reply {
            ClientReply::Applied(reply) => return self.finish(c, Outcome::Applied(reply)),
            ClientReply::NotLeader { leader } => {
                op.attempt = None;
                match leader {
                    Some(l) => {
                        self.clients[c].guess = l;
                        1_000
                    }
                    None => {
                        self.clients[c].guess = (from + 1) % nodes;
                        self.rng.random_range(10_000..=50_000)
                    }
                }
            }
            ClientReply::Uncertain => {
                op.attempt = None;
                op.maybe_applied |= op.op.is_write();
                self.clients[c].guess = self.rng.random_range(0..nodes);
                10_000
            }
        };
        self.clients[c].wake = Some(now + backoff);
    }

    /// Ends client `c`'s operation and records what it learned.
    fn finish(&mut self, c: usize, outcome: Outcome) {
        let op = self.clients[c].op.take().expect("an operation to finish");
        let completed = self.stamp();
        let pause = self.rng.random_range(THINK_US.0..=THINK_US.1);
        self.clients[c].wake = Some(self.now + pause);
        if let Err(v) = self.record(c, &op, completed, outcome)
            && self.violation.is_none()
        {
            self.violation = Some(format!("at {} µs: {v}", self.now));
        }
    }

    fn record(
        &mut self,
        c: usize,
        op: &Pending,
        completed: Stamp,
        outcome: Outcome,
    ) -> Result<(), String> {
        let reply = match outcome {
            Outcome::Applied(reply) => reply,
            Outcome::GaveUp if op.after_heal => {
                return Err(format!("{:?} issued after healing never succeeded", op.op));
            }
            Outcome::GaveUp => {
                self.gave_up(c, op);
                return Ok(());
            }
        };
        let unexpected =
            |reply: &Reply| Err::<(), _>(format!("{:?} was answered {reply:?}", op.op));
        if op.op.is_write() && op.maybe_applied && matches!(reply, Reply::Integer(_)) {
            self.stats.retried_writes += 1;
        }
        match (&op.op, &reply) {
            (&Op::Add(e), Reply::Integer(n @ (0 | 1))) => {
                // Every attempt is the same request, and the store's
                // sessions answer a repeat with the first answer.
                if *n == 0 {
                    return Err(format!(
                        "VADD of the fresh element {} answered 0: it was there already (a duplicate applied twice, or another add)",
                        String::from_utf8_lossy(&self.elements[e].name)
                    ));
                }
                self.elements[e].add.acked = Some(completed);
                self.clients[c].live.push(e);
                self.stats.acked_adds += 1;
            }
            (&Op::Remove(e), Reply::Integer(n @ (0 | 1))) => {
                if *n == 0 {
                    return Err(format!(
                        "VREM of the acknowledged element {} answered 0: it was lost, or a duplicate applied twice",
                        String::from_utf8_lossy(&self.elements[e].name)
                    ));
                }
                let remove = self.elements[e].remove.as_mut().expect("a remove");
                remove.acked = Some(completed);
                self.stats.acked_removes += 1;
            }
            (&Op::Embedding(e), Reply::Array(found)) => {
                let present = match found {
                    None => false,
                    Some(items) => {
                        let want = &self.elements[e].vector;
                        if !same_vector(parse_vector(items).as_deref(), want) {
                            return Err(format!(
                                "VEMB of {} answered {items:?}, not its vector {want:?}",
                                String::from_utf8_lossy(&self.elements[e].name)
                            ));
                        }
                        true
                    }
                };
                self.observe(e, op.invoked, completed, present, "VEMB");
            }
            (Op::Similar, Reply::Array(Some(items))) => {
                for item in items {
                    let Reply::Bulk(Some(name)) = item else {
                        return unexpected(&reply);
                    };
                    let Some(&e) = self.by_name.get(name) else {
                        return Err(format!(
                            "VSIM returned {}, which no client added",
                            String::from_utf8_lossy(name)
                        ));
                    };
                    self.observe(e, op.invoked, completed, true, "VSIM");
                }
            }
            _ => return unexpected(&reply),
        }
        Ok(())
    }

    /// A client gave up on a write: it may or may not have applied, unless
    /// every attempt was refused.
    fn gave_up(&mut self, c: usize, op: &Pending) {
        match op.op {
            Op::Add(_) if op.maybe_applied => self.stats.uncertain_writes += 1,
            Op::Add(e) => self.elements[e].add.failed = true,
            Op::Remove(_) if op.maybe_applied => self.stats.uncertain_writes += 1,
            Op::Remove(e) => {
                // No effect: as if never sent; the client may try again.
                self.elements[e].remove = None;
                self.clients[c].live.push(e);
            }
            Op::Embedding(_) | Op::Similar => {}
        }
    }

    fn observe(
        &mut self,
        element: usize,
        invoked: Stamp,
        completed: Stamp,
        present: bool,
        what: &'static str,
    ) {
        self.stats.reads_checked += 1;
        self.observations.push(Observation {
            element,
            invoked,
            completed,
            present,
            what,
        });
    }

    // --- the checks after the run -----------------------------------------

    fn check_final(&mut self) -> Result<(), String> {
        let leader = self.leader().ok_or("no leader after settling")?;
        let leader_node = self.slots[leader].node.as_ref().expect("up");
        let commit = leader_node.commit_index();
        self.stats.committed = commit;
        // 4: every replica equals a replay of the committed log.
        let mut rebuilt = VectorStore::default();
        for index in 1..=commit {
            let entry = self
                .monitor
                .committed(index)
                .ok_or_else(|| format!("no node was seen applying index {index}"))?;
            if let Payload::Client(request) = &entry.payload {
                rebuilt.apply(index, request);
            }
        }
        let want_index = rebuilt.index(KEY).map(|i| i.to_bytes());
        let want = rebuilt.snapshot();
        for (id, node) in self.up() {
            let state = node.state_machine();
            state
                .check_invariants()
                .map_err(|v| format!("replica {id}: {v}"))?;
            if state.index(KEY).map(|i| i.to_bytes()) != want_index {
                return Err(format!(
                    "replica {id}'s index differs from one rebuilt from the committed log \
                     ({} vs {} live elements)",
                    state.card(KEY),
                    rebuilt.card(KEY)
                ));
            }
            let bytes = state.snapshot();
            if bytes != want {
                return Err(format!(
                    "replica {id}'s state differs from one rebuilt from the committed log"
                ));
            }
            let restored = VectorStore::restore(&bytes)
                .map_err(|e| format!("replica {id}'s snapshot does not restore: {e}"))?;
            if restored.snapshot() != bytes {
                return Err(format!("replica {id}'s snapshot restores to other bytes"));
            }
        }
        self.check_elements()?;
        self.check_recall(leader)
    }

    /// Properties 1–3: the history, then every replica's final state.
    fn check_elements(&self) -> Result<(), String> {
        let mut seen: Vec<Vec<Observation>> = vec![Vec::new(); self.elements.len()];
        for o in &self.observations {
            seen[o.element].push(*o);
        }
        let at = |s: Stamp| self.stamp_times[s as usize];
        for (e, reads) in self.elements.iter().zip(&seen) {
            check_element(e, reads, &at)?;
        }
        for (id, node) in self.up() {
            let state = node.state_machine();
            let mut present = 0;
            for e in &self.elements {
                let name = String::from_utf8_lossy(&e.name);
                let command = Command::Embedding {
                    key: KEY.to_vec(),
                    element: e.name.clone(),
                };
                let found = match state.read(&command) {
                    Reply::Array(None) => None,
                    Reply::Array(Some(items)) => Some(parse_vector(&items)),
                    other => return Err(format!("replica {id}: VEMB {name} answered {other:?}")),
                };
                if let Some(vector) = &found {
                    present += 1;
                    if !same_vector(vector.as_deref(), &e.vector) {
                        return Err(format!("replica {id} holds {name} with another vector"));
                    }
                }
                let removed = e.remove.and_then(|r| r.acked).is_some();
                let must = e.add.acked.is_some() && e.remove.is_none();
                if found.is_none() && must {
                    return Err(format!("replica {id} lost the acknowledged element {name}"));
                }
                if found.is_some() && (removed || e.add.failed) {
                    return Err(format!(
                        "replica {id} holds {name}, whose {}",
                        if removed {
                            "VREM was acknowledged (resurrected)"
                        } else {
                            "VADD was refused by every node"
                        }
                    ));
                }
            }
            if state.card(KEY) != present {
                return Err(format!(
                    "replica {id} holds {} elements, {present} of them added by a client",
                    state.card(KEY)
                ));
            }
        }
        Ok(())
    }

    /// Property 5 on the node that leads after the failover.
    fn check_recall(&mut self, leader: NodeId) -> Result<(), String> {
        let (mut hits, mut truth) = (0, 0);
        for _ in 0..RECALL_QUERIES {
            let query = self.random_vector();
            let blob: Vec<u8> = query.iter().flat_map(|x| x.to_le_bytes()).collect();
            let count = RECALL_COUNT.to_string().into_bytes();
            let mut args = vec![b"VSIM".to_vec(), KEY.to_vec(), b"FP32".to_vec(), blob];
            args.extend([b"COUNT".to_vec(), count]);
            let state = self.slots[leader]
                .node
                .as_ref()
                .expect("up")
                .state_machine();
            let found = names(&state.read(&command(&args)))?;
            args.push(b"TRUTH".to_vec());
            let exact = names(&state.read(&command(&args)))?;
            truth += exact.len();
            hits += exact.iter().filter(|n| found.contains(n)).count();
        }
        self.stats.recall_hits += hits;
        self.stats.recall_truth += truth;
        let recall = hits as f64 / truth.max(1) as f64;
        if truth > 0 && recall < RECALL_MIN {
            return Err(format!(
                "recall@{RECALL_COUNT} on leader n{leader} after the failover is {recall:.3} \
                 ({hits} of {truth}), below {RECALL_MIN}"
            ));
        }
        Ok(())
    }
}

/// Parses a store command from RESP arguments.
fn command(args: &[Vec<u8>]) -> Command {
    match parse(args) {
        Ok(Parsed::Store(command)) => command,
        other => panic!("the harness built a bad command: {other:?}"),
    }
}

/// `VEMB`'s components, each the shortest text of an `f32`.
fn parse_vector(items: &[Reply]) -> Option<Vec<f32>> {
    items
        .iter()
        .map(|item| match item {
            Reply::Bulk(Some(text)) => std::str::from_utf8(text).ok()?.parse::<f32>().ok(),
            // As a RESP client reads it: the double's text, as an f32.
            Reply::Double(value) => format!("{value}").parse::<f32>().ok(),
            _ => None,
        })
        .collect()
}

/// Whether `found` is exactly `want`, bit for bit.
fn same_vector(found: Option<&[f32]>, want: &[f32]) -> bool {
    found.is_some_and(|f| {
        f.len() == want.len() && f.iter().zip(want).all(|(a, b)| a.to_bits() == b.to_bits())
    })
}

/// `VSIM`'s names.
fn names(reply: &Reply) -> Result<Vec<Vec<u8>>, String> {
    let not_names = || format!("VSIM answered {reply:?}");
    let Reply::Array(Some(items)) = reply else {
        return Err(not_names());
    };
    items
        .iter()
        .map(|i| match i {
            Reply::Bulk(Some(name)) => Ok(name.clone()),
            _ => Err(not_names()),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The checker, on hand-made histories.
// ---------------------------------------------------------------------------

/// `check_element` on one element added over stamps `add`, removed over
/// `remove`, and reads `(invoked, completed, present)`.
fn check(
    add: (Stamp, Option<Stamp>),
    remove: Option<(Stamp, Option<Stamp>)>,
    reads: &[(Stamp, Stamp, bool)],
) -> bool {
    let e = Element {
        name: b"x".to_vec(),
        vector: vec![1.0],
        add: Write {
            invoked: add.0,
            acked: add.1,
            failed: false,
        },
        remove: remove.map(|(invoked, acked)| Write {
            invoked,
            acked,
            failed: false,
        }),
    };
    let seen: Vec<Observation> = reads
        .iter()
        .map(|&(invoked, completed, present)| Observation {
            element: 0,
            invoked,
            completed,
            present,
            what: "VEMB",
        })
        .collect();
    check_element(&e, &seen, &|s| s).is_ok()
}

#[test]
fn the_element_checker_accepts_exactly_the_linearizable_histories() {
    // Added over [10, 20], removed over [30, 40].
    let (add, remove) = ((10, Some(20)), Some((30, Some(40))));
    // Reads inside, overlapping or between the writes.
    assert!(check(
        add,
        remove,
        &[(21, 29, true), (41, 50, false), (1, 9, false)]
    ));
    assert!(check(
        add,
        remove,
        &[(15, 16, false), (15, 16, true), (35, 36, false)]
    ));
    assert!(check(add, remove, &[(35, 45, true), (5, 12, true)]));
    // Seen before the add was invoked; after the remove was acknowledged.
    assert!(!check(add, remove, &[(1, 9, true)]));
    assert!(!check(add, remove, &[(41, 50, true)]));
    // Missing between an acknowledged add and the remove: lost.
    assert!(!check(add, remove, &[(21, 29, false)]));
    // Seen, then missing, then seen again: no pair of points explains it.
    assert!(!check(
        add,
        remove,
        &[(12, 14, true), (15, 16, false), (17, 18, true)]
    ));
    // Missing then seen while the remove runs: absent must be after it.
    assert!(!check(add, remove, &[(31, 32, false), (33, 34, true)]));
    assert!(check(add, remove, &[(31, 32, true), (33, 34, false)]));
    // A remove never acknowledged may take effect at any later time.
    assert!(check(
        add,
        Some((30, None)),
        &[(31, 32, true), (100, 101, false), (102, 103, false)]
    ));
    assert!(!check(
        add,
        Some((30, None)),
        &[(100, 101, false), (102, 103, true)]
    ));
    // An add never acknowledged may take effect, or not.
    assert!(check(
        (10, None),
        None,
        &[(11, 12, false), (13, 14, true), (100, 101, true)]
    ));
    assert!(!check((10, None), None, &[(13, 14, true), (15, 16, false)]));
    assert!(check((10, None), None, &[(100, 101, false)]));
}
