//! Raft (Ongaro & Ousterhout, 2014) as a sans-IO state machine: leader
//! election, log replication with fast backtracking, persistence,
//! exactly-once client sessions, linearizable reads (ReadIndex or through
//! the log) and snapshots with log compaction.
//!
//! Raft replicates any application that implements [`App`] (a
//! deterministic state machine over commands, with snapshots; its [module
//! documentation](app) numbers the contract): [`RaftNode<A>`](RaftNode)
//! orders the commands in its log and calls [`App::apply`] on each as it
//! commits. The default application is the [`Register`], the `u32 → i64`
//! map with client sessions that the workload and the checkers speak;
//! `RaftNode<Register>` implements [`Node`], and the simulator (or a real
//! network driver) calls it in the order fixed by the [protocol
//! module](crate::protocol). A node of any other application is driven the
//! same way through [`RaftNode::open`], [`RaftNode::handle_message`],
//! [`RaftNode::handle_request`], [`RaftNode::handle_timeout`],
//! [`RaftNode::poll_event`] (whose replies are [`ClientReply`]s) and
//! [`RaftNode::poll_timeout`]. [`RaftMonitor`] watches every node after
//! every input and checks Raft's safety properties (Figure 3 of the paper)
//! for any application: it compares entries, not states.
//!
// ANCHOR: invariants
//! # Invariants
//!
//! Durable state (`currentTerm`, `votedFor`, the log, the snapshot):
//!
//! 1. `currentTerm` never decreases, and a node votes at most once per term;
//!    both are synced before the vote (or any message of the new term)
//!    leaves the node.
//! 2. A log entry is synced before the node acknowledges it to a leader or
//!    replies to a client about it.
//!
//! Log:
//!
//! 3. Entry terms never decrease along a log; a leader never overwrites or
//!    deletes entries in its own log (it only appends).
//! 4. Log matching: if two logs hold an entry with the same index and term,
//!    the entries are identical and so are the logs up to that index.
//!
//! Commitment and application:
//!
//! 5. `snapshot index <= last_applied == commit_index <= last log index`
//!    after every input (committed entries are applied at once).
//! 6. A leader counts replicas only for entries of its own term (the commit
//!    rule of Figure 8); earlier entries commit with them.
//! 7. A client hears `Done` or `Read` only for a command applied (so
//!    committed) by this node, or for a read confirmed by ReadIndex.
//!
//! Deliberately not checked here: election safety, leader completeness and
//! state-machine safety are cluster-wide properties; [`RaftMonitor`] checks
//! them from outside.
// ANCHOR_END: invariants
//!
//! # Example: one node elects itself and serves a write
//!
//! ```
//! use replication::protocol::{Command, Node, NodeContext, Output, Reply, Request, RequestId};
//! use replication::raft::{RaftConfig, RaftNode};
//!
//! let ctx = NodeContext { id: 0, nodes: 1, entropy: 7 };
//! let mut node = <RaftNode>::start(ctx, &RaftConfig::default(), Box::new(kv::SimDisk::new()), 0)?;
//! let deadline = node.poll_timeout().expect("an election timer");
//! node.handle_timeout(deadline);
//! assert!(node.is_leader());
//! let id = RequestId { client: 1, seq: 1 };
//! node.handle_client(deadline, Request { id, command: Command::Write { key: 1, value: 10 } });
//! assert_eq!(node.poll_output(), Some(Output::Reply { request: id, reply: Reply::Done }));
//! assert_eq!(node.state().get(&1), Some(&10));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod app;
mod log;
mod monitor;
mod persist;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::marker::PhantomData;
use std::sync::Arc;

use kv::Storage;

pub use self::app::{App, ClientReply, ContractViolation, check_contract};
use self::log::Log;
pub use self::log::LogViolation;
pub use self::monitor::{RaftMonitor, RaftViolation};
use crate::durable::RecordLog;
use crate::protocol::{
    Command, Key, Node, NodeContext, NodeId, Output, Rejection, Reply, Request, RequestId, Time,
    Value,
};
use crate::register::Register;

/// A Raft term.
pub type Term = u64;

/// A position in the replicated log; the first entry has index 1.
pub type LogIndex = u64;

/// The name of the record log on the node's storage.
pub const LOG_FILE: &str = "raft.log";

/// What a log entry asks the application to do; `C` is the application's
/// command type ([`App::Command`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Payload<C = Command> {
    /// Nothing: the entry a new leader appends to commit its predecessors'
    /// entries (invariant 6).
    Noop,
    /// A client's command, with the request id that routes its reply (and
    /// lets the application make it exactly-once).
    Client(Request<C>),
}

/// One log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Entry<C = Command> {
    /// The term of the leader that created it.
    pub term: Term,
    /// What it does.
    pub payload: Payload<C>,
}

/// A snapshot: the application after applying every entry up to
/// `last_index`, as [`App::snapshot`]'s bytes. A node only ever writes a
/// snapshot to its log or sends it, so it keeps the bytes, shared (an
/// InstallSnapshot message, and the simulator's copies of one, copy no
/// state), and decodes them ([`Snapshot::restore`]) only to install them:
/// a restart rebuilds its state from the stored bytes once, instead of
/// rebuilding a snapshot and copying it into the live state.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot<A = Register> {
    /// The last log index the snapshot covers (0: empty snapshot).
    pub last_index: LogIndex,
    /// The term of that entry.
    pub last_term: Term,
    /// The application's state as [`App::snapshot`] wrote it (for the
    /// register: the key-value map and the client session table).
    pub data: Arc<[u8]>,
    app: PhantomData<fn() -> A>,
}

impl<A: App> Snapshot<A> {
    /// The snapshot of `state` after entry `last_index` of term `last_term`.
    pub fn new(last_index: LogIndex, last_term: Term, state: &A) -> Self {
        Snapshot::from_bytes(last_index, last_term, state.snapshot().into())
    }

    /// A snapshot of bytes that [`App::snapshot`] wrote (read from a log or
    /// a message; [`Snapshot::restore`] checks them).
    pub fn from_bytes(last_index: LogIndex, last_term: Term, data: Arc<[u8]>) -> Self {
        Snapshot {
            last_index,
            last_term,
            data,
            app: PhantomData,
        }
    }

    /// The application's state.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] for bytes [`App::snapshot`] did not
    /// write (contract 4 of [`App`]).
    pub fn restore(&self) -> io::Result<A> {
        A::restore(&self.data)
    }
}

/// The empty snapshot: the application before the first entry.
impl<A: App> Default for Snapshot<A> {
    fn default() -> Self {
        Snapshot::new(0, 0, &A::default())
    }
}

/// The bytes are summarised (a snapshot can be hundreds of megabytes).
impl<A> fmt::Debug for Snapshot<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("last_index", &self.last_index)
            .field("last_term", &self.last_term)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// Hashes the state the bytes restore (so a simulator's trace hash is the
/// one it was when snapshots held the application itself); bytes that do
/// not restore are hashed as bytes.
impl<A: App> Hash for Snapshot<A> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.last_index.hash(state);
        self.last_term.hash(state);
        match self.restore() {
            Ok(app) => app.hash(state),
            Err(_) => self.data.hash(state),
        }
    }
}

/// The messages Raft nodes exchange (Figure 2 of the paper, plus the
/// InstallSnapshot RPC of section 7), for application `A`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RaftMessage<A: App = Register> {
    /// A candidate asks for a vote.
    RequestVote {
        /// The candidate's term.
        term: Term,
        /// The index of the candidate's last log entry.
        last_log_index: LogIndex,
        /// The term of the candidate's last log entry.
        last_log_term: Term,
    },
    /// The answer to [`RaftMessage::RequestVote`].
    RequestVoteReply {
        /// The voter's current term.
        term: Term,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// The leader replicates entries (none: a heartbeat).
    AppendEntries {
        /// The leader's term.
        term: Term,
        /// The index of the entry just before `entries`.
        prev_log_index: LogIndex,
        /// The term of that entry.
        prev_log_term: Term,
        /// The entries to store, starting at `prev_log_index + 1`.
        entries: Vec<Entry<A::Command>>,
        /// The leader's commit index.
        leader_commit: LogIndex,
        /// The leader's heartbeat round, echoed by the reply (ReadIndex).
        round: u64,
    },
    /// The answer to [`RaftMessage::AppendEntries`].
    AppendEntriesReply {
        /// The follower's current term.
        term: Term,
        /// Whether the follower's log matched at `prev_log_index`.
        success: bool,
        /// On success, the index up to which the follower's log now matches
        /// the leader's.
        match_index: LogIndex,
        /// On failure, the term of the follower's conflicting entry (`None`:
        /// its log is too short).
        conflict_term: Option<Term>,
        /// On failure, the first index of `conflict_term` in the follower's
        /// log, or its log length + 1 if too short.
        conflict_index: LogIndex,
        /// The round of the request.
        round: u64,
    },
    /// The leader sends its snapshot to a follower that lags behind its
    /// compacted prefix.
    InstallSnapshot {
        /// The leader's term.
        term: Term,
        /// The snapshot.
        snapshot: Snapshot<A>,
        /// The leader's heartbeat round.
        round: u64,
    },
    /// The answer to [`RaftMessage::InstallSnapshot`].
    InstallSnapshotReply {
        /// The follower's current term.
        term: Term,
        /// The last index the follower now holds (its snapshot's).
        last_index: LogIndex,
        /// The round of the request.
        round: u64,
    },
}

/// How a leader serves reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Section 6.4 of the Raft dissertation: note the commit index, confirm
    /// leadership with a round of heartbeats, wait until that index is
    /// applied, read locally. No log entry, one round trip.
    #[default]
    ReadIndex,
    /// Append the read to the log like a write and answer when it applies.
    Log,
}

/// Teaching bugs: each re-introduces a classic Raft mistake.
#[cfg(feature = "teaching-bugs")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaftBugs {
    /// Commit an entry once a majority holds it, whatever its term
    /// (ignores the Figure 8 rule).
    pub commit_previous_term_by_counting: bool,
    /// Grant votes without persisting `votedFor` first.
    pub forget_to_persist_vote: bool,
    /// Reply `Done` to an update as soon as the leader has logged it, before
    /// a majority stores it.
    pub ack_before_quorum: bool,
}

/// Raft's parameters; times are virtual microseconds.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// The shortest election timeout.
    pub election_timeout_min_us: Time,
    /// The longest election timeout (timeouts are uniform in between).
    pub election_timeout_max_us: Time,
    /// How often a leader sends heartbeats.
    pub heartbeat_interval_us: Time,
    /// The most entries one AppendEntries carries.
    pub max_entries_per_append: usize,
    /// Take a snapshot once this many applied entries follow the last one
    /// (0: never).
    pub snapshot_threshold_entries: u64,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// Teaching bugs, all off by default.
    #[cfg(feature = "teaching-bugs")]
    pub bugs: RaftBugs,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout_min_us: 150_000,
            election_timeout_max_us: 300_000,
            heartbeat_interval_us: 50_000,
            max_entries_per_append: 64,
            snapshot_threshold_entries: 1_000,
            read_mode: ReadMode::ReadIndex,
            #[cfg(feature = "teaching-bugs")]
            bugs: RaftBugs::default(),
        }
    }
}

impl RaftConfig {
    /// Fails naming the first parameter out of range.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field and its value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.election_timeout_min_us, self.election_timeout_max_us);
        if min == 0 || min > max {
            return Err(ConfigError::ElectionTimeout { min, max });
        }
        let heartbeat = self.heartbeat_interval_us;
        if heartbeat == 0 || heartbeat >= min {
            return Err(ConfigError::Heartbeat { heartbeat, min });
        }
        if self.max_entries_per_append == 0 {
            return Err(ConfigError::MaxEntriesPerAppend);
        }
        Ok(())
    }
}

/// A [`RaftConfig`] parameter out of range, found by
/// [`RaftConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The election timeout range is empty or starts at 0.
    #[error(
        "election_timeout_min_us must be positive and at most election_timeout_max_us \
         (got {min} and {max})"
    )]
    ElectionTimeout {
        /// `election_timeout_min_us`.
        min: Time,
        /// `election_timeout_max_us`.
        max: Time,
    },
    /// The heartbeat interval is 0 or not below the election timeout, so
    /// followers would time out between heartbeats.
    #[error(
        "heartbeat_interval_us must be positive and below election_timeout_min_us \
         (got {heartbeat} and {min})"
    )]
    Heartbeat {
        /// `heartbeat_interval_us`.
        heartbeat: Time,
        /// `election_timeout_min_us`.
        min: Time,
    },
    /// `max_entries_per_append` is 0, so a leader could never replicate.
    #[error("max_entries_per_append must be at least 1")]
    MaxEntriesPerAppend,
}

impl From<ConfigError> for io::Error {
    fn from(e: ConfigError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// The first node-local invariant (3 or 5 of the [module
/// documentation](self)) a node breaks, as found by
/// [`RaftNode::check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeViolation {
    /// Invariant 3: the node's log breaks its own invariant.
    #[error("node {node}: {violation}")]
    Log {
        /// The node.
        node: NodeId,
        /// What is wrong with its log.
        #[source]
        violation: LogViolation,
    },
    /// Invariant 5: `snapshot <= applied == commit <= last` does not hold.
    #[error(
        "node {node}: want snapshot {snapshot} <= applied {applied} == commit {commit} <= last {last}"
    )]
    Progress {
        /// The node.
        node: NodeId,
        /// Its snapshot index.
        snapshot: LogIndex,
        /// Its `last_applied`.
        applied: LogIndex,
        /// Its `commit_index`.
        commit: LogIndex,
        /// Its last log index.
        last: LogIndex,
    },
}

/// splitmix64's finaliser: a well-mixed 64-bit function of `x`.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// A read waiting for ReadIndex's conditions.
#[derive(Debug, Clone)]
struct PendingRead<C> {
    request: Request<C>,
    /// The commit index when the read arrived.
    read_index: LogIndex,
    /// The heartbeat round that must be acknowledged by a majority.
    round: u64,
}

/// What only a leader keeps.
#[derive(Debug)]
struct LeaderState<C> {
    /// Per node: the next index to send.
    next_index: Vec<LogIndex>,
    /// Per node: the highest index known to match.
    match_index: Vec<LogIndex>,
    /// When the next heartbeat is due.
    heartbeat_due: Time,
    /// The current heartbeat round (ReadIndex).
    round: u64,
    /// Per node: the highest round it acknowledged.
    acked_round: Vec<u64>,
    /// Whether a new round must start at the end of this input.
    round_needed: bool,
    /// The index of this term's no-op.
    term_start: LogIndex,
    /// Reads that wait for a round and for their index to apply.
    reads: Vec<PendingRead<C>>,
    /// Reads that arrived before this term's no-op committed.
    early_reads: Vec<Request<C>>,
    /// Log index → the client request this leader appended there.
    pending: BTreeMap<LogIndex, RequestId>,
}

/// A Raft node replicating application `A`. See the [module
/// documentation](self) for its invariants and [`crate::protocol`] for the
/// calling order.
#[derive(Debug)]
pub struct RaftNode<A: App = Register> {
    id: NodeId,
    nodes: usize,
    config: RaftConfig,
    entropy: u64,
    started_at: Time,
    store: RecordLog,
    /// Set when storage failed: the node stops (it can no longer promise
    /// durability).
    failed: Option<String>,
    // Durable state (invariants 1–2).
    term: Term,
    voted_for: Option<NodeId>,
    log: Log<A::Command>,
    snapshot: Snapshot<A>,
    // Volatile state.
    role: Role,
    leader_hint: Option<NodeId>,
    commit_index: LogIndex,
    last_applied: LogIndex,
    state: A,
    election_deadline: Time,
    timer_draws: u64,
    votes: BTreeSet<NodeId>,
    leader: Option<LeaderState<A::Command>>,
    outputs: VecDeque<Output<RaftMessage<A>, ClientReply<A::Output>>>,
    unsynced: bool,
    // Observations for monitors, reset by each input.
    log_changed_from: Option<LogIndex>,
    applied_now: Vec<(LogIndex, Entry<A::Command>)>,
}

// ---------------------------------------------------------------------------
// Read-only accessors (for tests and monitors).
// ---------------------------------------------------------------------------

impl<A: App> RaftNode<A> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }

    /// Whether this node is leader of [`RaftNode::term`].
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }

    /// Whether this node is a candidate.
    pub fn is_candidate(&self) -> bool {
        self.role == Role::Candidate
    }

    /// Whom this node voted for in the current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    /// The highest index known to be committed.
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }

    /// The highest index applied to the state machine.
    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }

    /// The last index of the log (the snapshot's if the log is empty).
    pub fn last_log_index(&self) -> LogIndex {
        self.log.last_index()
    }

    /// The last index covered by the snapshot (0: none).
    pub fn snapshot_index(&self) -> LogIndex {
        self.log.snapshot_index
    }

    /// The term of the snapshot's last entry.
    pub fn snapshot_term(&self) -> Term {
        self.log.snapshot_term
    }

    /// Live log entry `index` (`None` if compacted or absent).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry<A::Command>> {
        self.log.get(index)
    }

    /// The term of entry `index`, if known (live, or the snapshot's last).
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.log.term_at(index)
    }

    /// The live log entries with their indices, oldest first.
    pub fn log_entries(
        &self,
    ) -> impl DoubleEndedIterator<Item = (LogIndex, &Entry<A::Command>)> + '_ {
        self.log.iter()
    }

    /// The node this one believes leads the current term.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.leader_hint
    }

    /// The application's state (for the register: map and session table).
    pub fn state_machine(&self) -> &A {
        &self.state
    }

    /// Identifies this incarnation of the node: the time it started and
    /// its entropy (which the driver derives from the incarnation). A
    /// restart changes it, so a monitor can tell a reset of volatile state
    /// from a bug.
    pub fn incarnation(&self) -> (Time, u64) {
        (self.started_at, self.entropy)
    }

    /// The lowest log index the last input wrote or removed (`None`: the
    /// log was not touched). After `start` it is the first live index.
    pub fn log_changed_from(&self) -> Option<LogIndex> {
        self.log_changed_from
    }

    /// The entries the last input applied, in order.
    pub fn applied_by_last_input(&self) -> &[(LogIndex, Entry<A::Command>)] {
        &self.applied_now
    }

    /// Why the node stopped, if its storage failed.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Checks the node-local invariants 3 and 5.
    ///
    /// # Errors
    ///
    /// The broken invariant, naming the node.
    pub fn check_invariants(&self) -> Result<(), NodeViolation> {
        let node = self.id;
        self.log
            .check_invariants()
            .map_err(|violation| NodeViolation::Log { node, violation })?;
        let (s, a, c, l) = (
            self.log.snapshot_index,
            self.last_applied,
            self.commit_index,
            self.log.last_index(),
        );
        if !(s <= a && a == c && c <= l) {
            return Err(NodeViolation::Progress {
                node,
                snapshot: s,
                applied: a,
                commit: c,
                last: l,
            });
        }
        Ok(())
    }

    fn majority(&self) -> usize {
        self.nodes / 2 + 1
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> + use<A> {
        let id = self.id;
        (0..self.nodes).filter(move |&p| p != id)
    }

    #[cfg(feature = "teaching-bugs")]
    fn bugs(&self) -> RaftBugs {
        self.config.bugs
    }

    #[cfg(not(feature = "teaching-bugs"))]
    fn bugs(&self) -> NoBugs {
        NoBugs::default()
    }
}

/// Without the feature every bug is off.
#[cfg(not(feature = "teaching-bugs"))]
#[derive(Default, Clone, Copy)]
struct NoBugs {
    commit_previous_term_by_counting: bool,
    forget_to_persist_vote: bool,
    ack_before_quorum: bool,
}

// ---------------------------------------------------------------------------
// Persistence.
// ---------------------------------------------------------------------------

// ANCHOR: persistence
impl<A: App> RaftNode<A> {
    /// Appends a record; it becomes durable at the end of the input
    /// (invariants 1–2: outputs are held until then).
    fn persist(&mut self, record: &[u8]) {
        // BEGIN LAB raft-3c
        // STUB: let _ = record;
        if self.failed.is_some() {
            return;
        }
        match self.store.append(record) {
            Ok(()) => self.unsynced = true,
            Err(e) => self.fail(e),
        }
        // END LAB
    }

    fn persist_term_vote(&mut self) {
        let record = persist::term_vote(self.term, self.voted_for);
        self.persist(&record);
    }

    /// Appends entries `first..` to the durable log.
    fn persist_entries(&mut self, first: LogIndex) {
        let entries = self.log.entries_from(first, usize::MAX);
        self.persist(&persist::append::<A>(first, &entries));
        self.note_change(first);
    }

    /// Rewrites the whole record log as `TermVote, Snapshot, Append(rest)`
    /// (persist invariant 3), durably.
    fn persist_compacted(&mut self) {
        // BEGIN LAB raft-3d
        if self.failed.is_some() {
            return;
        }
        let first = self.log.snapshot_index + 1;
        let rest = self.log.entries_from(first, usize::MAX);
        let mut records = vec![
            persist::term_vote(self.term, self.voted_for),
            persist::snapshot(&self.snapshot),
        ];
        if !rest.is_empty() {
            records.push(persist::append::<A>(first, &rest));
        }
        if let Err(e) = self.store.rewrite(records.iter().map(Vec::as_slice)) {
            self.fail(e);
        }
        // END LAB
    }

    /// Makes every record of this input durable before any output leaves.
    fn sync(&mut self) {
        // BEGIN LAB raft-3c
        // STUB: let _ = self;
        if self.unsynced && self.failed.is_none() {
            if let Err(e) = self.store.sync() {
                self.fail(e);
            }
            self.unsynced = false;
        }
        // END LAB
    }

    /// Storage failed: stop, and send nothing that might promise durability.
    fn fail(&mut self, e: io::Error) {
        self.failed = Some(format!("node {}: storage failed: {e}", self.id));
        self.outputs.clear();
        self.leader = None;
        self.role = Role::Follower;
    }
}
// ANCHOR_END: persistence

// ---------------------------------------------------------------------------
// Inputs: bookkeeping around every handler.
// ---------------------------------------------------------------------------

impl<A: App> RaftNode<A> {
    fn begin_input(&mut self) {
        self.log_changed_from = None;
        self.applied_now.clear();
    }

    /// Applies what committed, serves reads, snapshots, then syncs: every
    /// output of this input leaves only after its records are durable.
    fn end_input(&mut self, now: Time) {
        self.apply_committed();
        self.serve_reads(now);
        self.maybe_snapshot();
        self.sync();
        if self.failed.is_some() {
            self.outputs.clear();
        }
        debug_assert!(self.failed.is_some() || self.check_invariants().is_ok());
    }

    fn note_change(&mut self, index: LogIndex) {
        self.log_changed_from = Some(self.log_changed_from.map_or(index, |i| i.min(index)));
    }

    fn send(&mut self, to: NodeId, msg: RaftMessage<A>) {
        self.outputs.push_back(Output::Send { to, msg });
    }

    fn reply(&mut self, request: RequestId, reply: ClientReply<A::Output>) {
        self.outputs.push_back(Output::Reply { request, reply });
    }

    /// A fresh election deadline: uniform in the configured range, drawn
    /// from the node's entropy mixed with the term and a draw counter.
    fn reset_election_timer(&mut self, now: Time) {
        let min = self.config.election_timeout_min_us;
        let span = self.config.election_timeout_max_us - min + 1;
        self.timer_draws += 1;
        let x = splitmix64(self.entropy ^ splitmix64(self.term ^ (self.timer_draws << 32)));
        self.election_deadline = now + min + x % span;
    }
}

// ---------------------------------------------------------------------------
// Elections.
// ---------------------------------------------------------------------------

impl<A: App> RaftNode<A> {
    /// Adopts a higher term (forgetting the vote) and/or steps down.
    fn become_follower(&mut self, now: Time, term: Term, leader: Option<NodeId>) {
        // BEGIN LAB raft-3a
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_term_vote();
        }
        let was = self.role;
        self.role = Role::Follower;
        self.leader_hint = leader;
        self.votes.clear();
        if let Some(state) = self.leader.take() {
            self.abandon_clients(state);
        }
        if was != Role::Follower {
            self.reset_election_timer(now);
        }
        // END LAB
    }

    /// A deposed leader's clients: an update may still commit under the
    /// next leader, so it is `Uncertain`; a read took no effect.
    fn abandon_clients(&mut self, state: LeaderState<A::Command>) {
        for (_, request) in state.pending {
            self.reply(request, ClientReply::Uncertain);
        }
        let leader = self.leader_hint;
        let reads = state
            .reads
            .into_iter()
            .map(|r| r.request)
            .chain(state.early_reads);
        for read in reads.collect::<Vec<_>>() {
            self.reply(read.id, ClientReply::NotLeader { leader });
        }
    }

    fn start_election(&mut self, now: Time) {
        // BEGIN LAB raft-3a
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.leader_hint = None;
        self.persist_term_vote();
        self.votes = BTreeSet::from([self.id]);
        self.reset_election_timer(now);
        let msg = RaftMessage::RequestVote {
            term: self.term,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        for peer in self.peers() {
            self.send(peer, msg.clone());
        }
        if self.votes.len() >= self.majority() {
            self.become_leader(now);
        }
        // END LAB
    }

    // ANCHOR: request_vote
    fn on_request_vote(
        &mut self,
        now: Time,
        from: NodeId,
        term: Term,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        // BEGIN LAB raft-3a
        if term > self.term {
            self.become_follower(now, term, None);
        }
        // Section 5.4.1: vote only for a candidate whose log is at least as
        // up to date as ours (compare last terms, then lengths).
        let ours = (self.log.last_term(), self.log.last_index());
        let up_to_date = (last_log_term, last_log_index) >= ours;
        let free = self.voted_for.is_none() || self.voted_for == Some(from);
        let granted = term == self.term && free && up_to_date;
        if granted {
            self.voted_for = Some(from);
            if !self.bugs().forget_to_persist_vote {
                self.persist_term_vote();
            }
            self.reset_election_timer(now);
        }
        // The vote is synced in `end_input`, before this reply leaves.
        let term = self.term;
        self.send(from, RaftMessage::RequestVoteReply { term, granted });
        // END LAB
    }
    // ANCHOR_END: request_vote

    fn on_request_vote_reply(&mut self, now: Time, from: NodeId, term: Term, granted: bool) {
        // BEGIN LAB raft-3a
        if term > self.term {
            self.become_follower(now, term, None);
            return;
        }
        if self.role != Role::Candidate || term != self.term || !granted {
            return;
        }
        self.votes.insert(from);
        if self.votes.len() >= self.majority() {
            self.become_leader(now);
        }
        // END LAB
    }

    fn become_leader(&mut self, now: Time) {
        // BEGIN LAB raft-3a
        self.role = Role::Leader;
        self.leader_hint = Some(self.id);
        self.votes.clear();
        // A no-op of the new term lets the leader commit (invariant 6)
        // everything before it, and gives ReadIndex a current commit index.
        self.log.push(Entry {
            term: self.term,
            payload: Payload::Noop,
        });
        let term_start = self.log.last_index();
        self.persist_entries(term_start);
        let mut match_index = vec![0; self.nodes];
        match_index[self.id] = term_start;
        self.leader = Some(LeaderState {
            next_index: vec![term_start; self.nodes],
            match_index,
            heartbeat_due: now + self.config.heartbeat_interval_us,
            round: 0,
            acked_round: vec![0; self.nodes],
            round_needed: false,
            term_start,
            reads: Vec::new(),
            early_reads: Vec::new(),
            pending: BTreeMap::new(),
        });
        self.broadcast_append();
        self.advance_commit();
        // END LAB
    }
}

// ---------------------------------------------------------------------------
// Replication.
// ---------------------------------------------------------------------------

impl<A: App> RaftNode<A> {
    fn broadcast_append(&mut self) {
        for peer in self.peers() {
            self.send_append(peer);
        }
    }

    /// Sends `peer` the entries from its next index (or the snapshot, if
    /// they are compacted), optimistically advancing its next index.
    fn send_append(&mut self, peer: NodeId) {
        // BEGIN LAB raft-3b
        // STUB: // A bare heartbeat, enough for elections (raft-3a); it carries nothing yet.
        // STUB: let msg = RaftMessage::AppendEntries {
        // STUB:     term: self.term,
        // STUB:     prev_log_index: 0,
        // STUB:     prev_log_term: 0,
        // STUB:     entries: Vec::new(),
        // STUB:     leader_commit: 0,
        // STUB:     round: 0,
        // STUB: };
        // STUB: self.send(peer, msg);
        let Some(leader) = self.leader.as_mut() else {
            return;
        };
        let next = leader.next_index[peer];
        let round = leader.round;
        if next <= self.log.snapshot_index {
            return self.send_snapshot(peer);
        }
        let prev_log_index = next - 1;
        let prev_log_term = self.log.term_at(prev_log_index).unwrap_or(0);
        let entries = self
            .log
            .entries_from(next, self.config.max_entries_per_append);
        leader.next_index[peer] = next + entries.len() as LogIndex;
        let msg = RaftMessage::AppendEntries {
            term: self.term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
            round,
        };
        self.send(peer, msg);
        // END LAB
    }

    /// Sends `peer` the snapshot, because the entries it needs next are
    /// compacted, and sets its next index past the snapshot.
    fn send_snapshot(&mut self, peer: NodeId) {
        // BEGIN LAB raft-3d
        let Some(leader) = self.leader.as_mut() else {
            return;
        };
        leader.next_index[peer] = self.log.snapshot_index + 1;
        let msg = RaftMessage::InstallSnapshot {
            term: self.term,
            snapshot: self.snapshot.clone(),
            round: leader.round,
        };
        self.send(peer, msg);
        // END LAB
    }

    // ANCHOR: append_entries
    /// The follower's side of AppendEntries: a request of an older term is
    /// rejected; otherwise its sender leads our term, so we follow it,
    /// restart the election timer, and check and store its entries.
    #[allow(clippy::too_many_arguments)]
    fn on_append_entries(
        &mut self,
        now: Time,
        from: NodeId,
        term: Term,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry<A::Command>>,
        leader_commit: LogIndex,
        round: u64,
    ) {
        // BEGIN LAB raft-3a
        if term < self.term {
            let msg = self.reject_append(None, 0, round);
            return self.send(from, msg);
        }
        self.become_follower(now, term, Some(from));
        self.reset_election_timer(now);
        self.append_matching(
            from,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            round,
        );
        // END LAB
    }

    /// A failed AppendEntries reply carrying the conflict hints of fast
    /// backtracking (none, with `conflict_index` 0, for a stale request).
    fn reject_append(
        &self,
        conflict_term: Option<Term>,
        conflict_index: LogIndex,
        round: u64,
    ) -> RaftMessage<A> {
        RaftMessage::AppendEntriesReply {
            term: self.term,
            success: false,
            match_index: 0,
            conflict_term,
            conflict_index,
            round,
        }
    }

    /// The rest of the follower's side, once the sender is known to lead
    /// our term: the consistency check at `prev_log_index` (answered with
    /// the conflict hints of fast backtracking), then the entries are
    /// stored, truncating only at a real conflict.
    fn append_matching(
        &mut self,
        from: NodeId,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry<A::Command>>,
        leader_commit: LogIndex,
        round: u64,
    ) {
        // BEGIN LAB raft-3b
        // STUB: let _ = (from, prev_log_index, prev_log_term, entries, leader_commit, round);
        let mut entries = entries;
        let mut prev = prev_log_index;
        // Entries inside our snapshot are committed, hence identical: skip.
        if prev < self.log.snapshot_index {
            let skip = (self.log.snapshot_index - prev).min(entries.len() as LogIndex);
            entries.drain(..skip as usize);
            prev += skip;
            if prev < self.log.snapshot_index {
                let msg = self.accept(prev, 0, leader_commit, round);
                return self.send(from, msg);
            }
        } else if prev > self.log.last_index() {
            // Too short: the leader should back up to our end.
            let msg = self.reject_append(None, self.log.last_index() + 1, round);
            return self.send(from, msg);
        } else if let Some(ours) = self.log.term_at(prev).filter(|&t| t != prev_log_term) {
            // Conflict: name our term there and where its run begins, so the
            // leader can skip the whole run in one round trip.
            let conflict_index = self.log.first_index_of_run(prev);
            let msg = self.reject_append(Some(ours), conflict_index, round);
            return self.send(from, msg);
        }
        // Append, truncating only at a real conflict: a stale or duplicated
        // request must never cut entries a newer one added.
        let mut new_from = None;
        for (k, entry) in entries.iter().enumerate() {
            let index = prev + 1 + k as LogIndex;
            match self.log.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    self.log.truncate_from(index);
                    self.persist(&persist::truncate(index));
                    self.note_change(index);
                }
                None => {}
            }
            new_from = Some((index, k));
            break;
        }
        if let Some((index, k)) = new_from {
            for entry in &entries[k..] {
                self.log.push(entry.clone());
            }
            self.persist_entries(index);
        }
        let msg = self.accept(prev, entries.len(), leader_commit, round);
        self.send(from, msg);
        // END LAB
    }
    // ANCHOR_END: append_entries

    /// Success: our log matches the leader's through `prev + count`; commit
    /// what the leader committed, but never past what it just vouched for.
    fn accept(
        &mut self,
        prev: LogIndex,
        count: usize,
        leader_commit: LogIndex,
        round: u64,
    ) -> RaftMessage<A> {
        // BEGIN LAB raft-3b
        let match_index = prev + count as LogIndex;
        let commit = leader_commit.min(match_index);
        if commit > self.commit_index {
            self.commit_index = commit;
        }
        RaftMessage::AppendEntriesReply {
            term: self.term,
            success: true,
            match_index,
            conflict_term: None,
            conflict_index: 0,
            round,
        }
        // END LAB
    }

    /// The leader's side of an AppendEntries (or InstallSnapshot) reply.
    fn on_append_reply(
        &mut self,
        now: Time,
        from: NodeId,
        term: Term,
        outcome: Result<LogIndex, (Option<Term>, LogIndex)>,
        round: u64,
    ) {
        if term > self.term {
            return self.become_follower(now, term, None);
        }
        if term != self.term || from >= self.nodes {
            return;
        }
        // BEGIN LAB raft-3b
        // STUB: let _ = (outcome, round);
        let last = self.log.last_index();
        let hint_next = match outcome {
            Err((Some(conflict_term), conflict_index)) => self
                .log
                .last_index_of_term(conflict_term)
                .map_or(conflict_index, |i| i + 1),
            Err((None, conflict_index)) => conflict_index,
            Ok(_) => 0,
        };
        let Some(leader) = self.leader.as_mut() else {
            return;
        };
        leader.acked_round[from] = leader.acked_round[from].max(round);
        let resend = match outcome {
            Ok(matched) => {
                let matched = matched.min(last);
                leader.match_index[from] = leader.match_index[from].max(matched);
                leader.next_index[from] = leader.next_index[from].max(matched + 1);
                leader.match_index[from] < last && leader.next_index[from] <= last
            }
            Err(_) => {
                // Fast backtracking: skip the follower's whole conflicting
                // term (or to its end), never below what is known to match.
                let next = hint_next.max(leader.match_index[from] + 1).min(last + 1);
                leader.next_index[from] = next.max(1);
                true
            }
        };
        if resend {
            self.send_append(from);
        }
        self.advance_commit();
        // END LAB
    }

    // ANCHOR: commit_rule
    /// Figure 8's rule (invariant 6): the highest index a majority stores
    /// commits only if its entry is of the current term.
    fn advance_commit(&mut self) {
        // BEGIN LAB raft-3b
        // STUB: let _ = self;
        let Some(leader) = self.leader.as_ref() else {
            return;
        };
        let mut matched = leader.match_index.clone();
        matched[self.id] = self.log.last_index();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matched[self.majority() - 1];
        let current_term = self.log.term_at(candidate) == Some(self.term);
        let counting = self.bugs().commit_previous_term_by_counting;
        if candidate > self.commit_index && (current_term || counting) {
            self.commit_index = candidate;
        }
        // END LAB
    }
    // ANCHOR_END: commit_rule

    /// Applies every committed entry, answering this leader's clients.
    fn apply_committed(&mut self) {
        while self.last_applied < self.commit_index {
            let index = self.last_applied + 1;
            let Some(entry) = self.log.get(index).cloned() else {
                break;
            };
            self.last_applied = index;
            let reply = match &entry.payload {
                Payload::Noop => None,
                Payload::Client(request) => Some((request.id, self.state.apply(index, request))),
            };
            self.applied_now.push((index, entry));
            let waiting = self.leader.as_mut().and_then(|l| l.pending.remove(&index));
            match (waiting, reply) {
                (Some(asked), Some((id, reply))) if asked == id => {
                    self.reply(id, ClientReply::Applied(reply))
                }
                (Some(asked), _) => self.reply(asked, ClientReply::Uncertain),
                (None, _) => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Snapshots.
// ---------------------------------------------------------------------------

impl<A: App> RaftNode<A> {
    /// Snapshots the state machine once enough entries were applied since
    /// the last snapshot, and compacts the log.
    fn maybe_snapshot(&mut self) {
        // BEGIN LAB raft-3d
        // STUB: let _ = self;
        let threshold = self.config.snapshot_threshold_entries;
        if threshold == 0 || self.last_applied - self.log.snapshot_index < threshold {
            return;
        }
        let index = self.last_applied;
        let Some(term) = self.log.term_at(index) else {
            return;
        };
        self.snapshot = Snapshot::new(index, term, &self.state);
        self.log.compact_to(index, term);
        self.persist_compacted();
        // END LAB
    }

    // ANCHOR: install_snapshot
    fn on_install_snapshot(
        &mut self,
        now: Time,
        from: NodeId,
        term: Term,
        snapshot: Snapshot<A>,
        round: u64,
    ) {
        // BEGIN LAB raft-3d
        if term >= self.term {
            self.become_follower(now, term, Some(from));
            self.reset_election_timer(now);
            // Older than what we applied: nothing to learn. Bytes that do
            // not restore are not installed (the reply tells the leader how
            // far this node is, and it sends the snapshot again);
            // `wire::decode` refuses damaged ones before they get here.
            if snapshot.last_index > self.commit_index
                && let Ok(state) = snapshot.restore()
            {
                // Keep the log's suffix if it agrees with the snapshot's
                // last entry; otherwise the snapshot replaces it whole.
                let keeps_suffix =
                    self.log.term_at(snapshot.last_index) == Some(snapshot.last_term);
                if !keeps_suffix {
                    self.note_change(self.log.snapshot_index + 1);
                }
                self.log.compact_to(snapshot.last_index, snapshot.last_term);
                self.commit_index = snapshot.last_index;
                self.last_applied = snapshot.last_index;
                self.state = state;
                self.snapshot = snapshot;
                // The snapshot is durable (rewrite syncs) before we reply.
                self.persist_compacted();
            }
        }
        let last_index = self.log.snapshot_index.max(self.commit_index);
        let term = self.term;
        self.send(
            from,
            RaftMessage::InstallSnapshotReply {
                term,
                last_index,
                round,
            },
        );
        // END LAB
    }
    // ANCHOR_END: install_snapshot
}

// ---------------------------------------------------------------------------
// Clients and reads.
// ---------------------------------------------------------------------------

impl<A: App> RaftNode<A> {
    fn on_client(&mut self, request: Request<A::Command>) {
        let Some(leader) = self.leader.as_mut() else {
            let leader = self.leader_hint.filter(|&l| l != self.id);
            return self.reply(request.id, ClientReply::NotLeader { leader });
        };
        if A::is_read(&request.command) && self.config.read_mode == ReadMode::ReadIndex {
            if self.commit_index >= leader.term_start {
                leader.reads.push(PendingRead {
                    request,
                    read_index: self.commit_index,
                    round: leader.round + 1,
                });
                leader.round_needed = true;
            } else {
                leader.early_reads.push(request);
            }
            return;
        }
        // Exactly-once: an applied update gets its recorded reply; one
        // already in flight here gets its reply when it applies.
        if let Some(reply) = self.state.cached_reply(&request) {
            return self.reply(request.id, ClientReply::Applied(reply));
        }
        if leader.pending.values().any(|&id| id == request.id) {
            return;
        }
        let id = request.id;
        let premature = A::premature_reply(&request.command);
        self.log.push(Entry {
            term: self.term,
            payload: Payload::Client(request),
        });
        let index = self.log.last_index();
        self.persist_entries(index);
        match premature.filter(|_| self.bugs().ack_before_quorum) {
            Some(reply) => self.reply(id, ClientReply::Applied(reply)),
            None => {
                if let Some(leader) = self.leader.as_mut() {
                    leader.pending.insert(index, id);
                }
            }
        }
        self.broadcast_append();
        self.advance_commit();
    }

    // ANCHOR: read_index
    /// ReadIndex (dissertation §6.4): a read is served once (1) this
    /// term's no-op committed, (2) a majority acknowledged a heartbeat round
    /// that started after the read arrived — so no newer leader had
    /// committed anything when it was recorded — and (3) the state machine
    /// has applied the commit index recorded at arrival.
    fn serve_reads(&mut self, _now: Time) {
        let majority = self.majority();
        let id = self.id;
        let Some(leader) = self.leader.as_mut() else {
            return;
        };
        if self.commit_index >= leader.term_start && !leader.early_reads.is_empty() {
            for request in std::mem::take(&mut leader.early_reads) {
                leader.reads.push(PendingRead {
                    request,
                    read_index: self.commit_index,
                    round: leader.round + 1,
                });
            }
            leader.round_needed = true;
        }
        let start_round = std::mem::take(&mut leader.round_needed);
        if start_round {
            leader.round += 1;
        }
        let mut acked = leader.acked_round.clone();
        acked[id] = leader.round;
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = acked[majority - 1];
        let applied = self.last_applied;
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut leader.reads)
            .into_iter()
            .partition(|r| r.round <= confirmed && r.read_index <= applied);
        leader.reads = waiting;
        let commands: Vec<&A::Command> = ready.iter().map(|r| &r.request.command).collect();
        let replies = self.state.read_batch(&commands);
        debug_assert_eq!(
            replies.len(),
            ready.len(),
            "read_batch: one answer per read"
        );
        for (read, reply) in ready.iter().zip(replies) {
            self.reply(read.request.id, ClientReply::Applied(reply));
        }
        if start_round {
            self.broadcast_append();
        }
    }
    // ANCHOR_END: read_index
}

// ---------------------------------------------------------------------------
// Inputs and outputs, for any application.
// ---------------------------------------------------------------------------

/// The calling order is [`crate::protocol`]'s; for the register,
/// [`RaftNode`] implements [`Node`] with these methods (and `start` is
/// [`RaftNode::open`]).
impl<A: App> RaftNode<A> {
    /// Boots (or, after a crash, recovers) a node of application `A` from
    /// its storage ([`Node::start`] for any application).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] for a bad configuration or node id;
    /// an I/O error from `storage`; [`io::ErrorKind::InvalidData`] for a
    /// stored log or snapshot that does not decode.
    pub fn open(
        ctx: NodeContext,
        config: &RaftConfig,
        storage: Box<dyn Storage>,
        now: Time,
    ) -> io::Result<Self> {
        config.validate()?;
        if ctx.nodes == 0 || ctx.id >= ctx.nodes {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("node id {} outside a cluster of {}", ctx.id, ctx.nodes),
            ));
        }
        let (store, records) = RecordLog::open(storage, LOG_FILE)?;
        let recovered = persist::replay::<A>(&records)?;
        drop(records);
        // The live state, restored once from the snapshot's bytes (which
        // the node keeps as they are, to write or send).
        let state = recovered.snapshot.restore()?;
        let applied = recovered.log.snapshot_index;
        let first_live = applied + 1;
        let mut node = RaftNode {
            id: ctx.id,
            nodes: ctx.nodes,
            config: config.clone(),
            entropy: ctx.entropy,
            started_at: now,
            store,
            failed: None,
            term: recovered.term,
            voted_for: recovered.voted_for,
            log: recovered.log,
            state,
            snapshot: recovered.snapshot,
            role: Role::Follower,
            leader_hint: None,
            commit_index: applied,
            last_applied: applied,
            election_deadline: now,
            timer_draws: 0,
            votes: BTreeSet::new(),
            leader: None,
            outputs: VecDeque::new(),
            unsynced: false,
            log_changed_from: Some(first_live),
            applied_now: Vec::new(),
        };
        node.reset_election_timer(now);
        if node.nodes == 1 {
            // A cluster of one has no leader to hear from and no vote to
            // wait for: its first election is due at once, so a restarted
            // single server serves without waiting out a timeout.
            node.election_deadline = now;
        }
        Ok(node)
    }

    /// A message from node `from` arrives ([`Node::handle_message`]).
    pub fn handle_message(&mut self, now: Time, from: NodeId, msg: RaftMessage<A>) {
        self.begin_input();
        if self.failed.is_some() || from >= self.nodes || from == self.id {
            return;
        }
        match msg {
            RaftMessage::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => self.on_request_vote(now, from, term, last_log_index, last_log_term),
            RaftMessage::RequestVoteReply { term, granted } => {
                self.on_request_vote_reply(now, from, term, granted)
            }
            RaftMessage::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
            } => self.on_append_entries(
                now,
                from,
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
            ),
            RaftMessage::AppendEntriesReply {
                term,
                success,
                match_index,
                conflict_term,
                conflict_index,
                round,
            } => {
                let outcome = if success {
                    Ok(match_index)
                } else {
                    Err((conflict_term, conflict_index))
                };
                // A stale-term rejection carries no hint: ignore it.
                if success || conflict_index > 0 || term > self.term {
                    self.on_append_reply(now, from, term, outcome, round);
                }
            }
            RaftMessage::InstallSnapshot {
                term,
                snapshot,
                round,
            } => self.on_install_snapshot(now, from, term, snapshot, round),
            RaftMessage::InstallSnapshotReply {
                term,
                last_index,
                round,
            } => self.on_append_reply(now, from, term, Ok(last_index), round),
        }
        self.end_input(now);
    }

    /// A client request arrives ([`Node::handle_client`]).
    pub fn handle_request(&mut self, now: Time, request: Request<A::Command>) {
        self.begin_input();
        if self.failed.is_some() {
            return;
        }
        self.on_client(request);
        self.end_input(now);
    }

    /// Client requests that arrived together, taken as one input: in
    /// order, each as [`RaftNode::handle_request`] would, but with one sync
    /// of the log for all of them before any reply or message leaves (group
    /// commit). A server that drains its queue into this call pays one
    /// `fsync` per batch instead of one per request.
    pub fn handle_requests(
        &mut self,
        now: Time,
        requests: impl IntoIterator<Item = Request<A::Command>>,
    ) {
        self.begin_input();
        if self.failed.is_some() {
            return;
        }
        for request in requests {
            self.on_client(request);
            if self.failed.is_some() {
                break;
            }
        }
        self.end_input(now);
    }

    /// The deadline returned by [`RaftNode::poll_timeout`] has passed
    /// ([`Node::handle_timeout`]).
    pub fn handle_timeout(&mut self, now: Time) {
        self.begin_input();
        if self.failed.is_some() {
            return;
        }
        match self.role {
            Role::Leader => {
                let due = self.leader.as_ref().map_or(now, |l| l.heartbeat_due);
                if now >= due {
                    if let Some(leader) = self.leader.as_mut() {
                        leader.heartbeat_due = now + self.config.heartbeat_interval_us;
                    }
                    self.broadcast_append();
                }
            }
            Role::Follower | Role::Candidate => {
                if now >= self.election_deadline {
                    self.start_election(now);
                }
            }
        }
        self.end_input(now);
    }

    /// The next thing the node wants done, if any, with the application's
    /// own replies ([`Node::poll_output`]).
    pub fn poll_event(&mut self) -> Option<Output<RaftMessage<A>, ClientReply<A::Output>>> {
        self.outputs.pop_front()
    }

    /// When the node next wants [`RaftNode::handle_timeout`] called
    /// ([`Node::poll_timeout`]).
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.failed.is_some() {
            return None;
        }
        match &self.leader {
            Some(leader) => Some(leader.heartbeat_due),
            None => Some(self.election_deadline),
        }
    }

    /// A short description of the node's role for traces ("leader t3").
    pub fn role_name(&self) -> String {
        let role = match self.role {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        };
        format!("{role} t{}", self.term)
    }
}

// ---------------------------------------------------------------------------
// The Node contract, for applications that speak the register's language.
// ---------------------------------------------------------------------------

/// An [`App`] the simulator can run: it takes the register's commands and
/// answers its replies, and shows its state as the register's map (what
/// the convergence check compares). The [`Register`] is one; a store of
/// another shape (`crate::kv_app::KvApp`, a real `kv::Store`) is another.
pub trait RegisterApp: App<Command = Command, Output = Reply> {
    /// Every key and its value, read from the application's state.
    fn register_state(&self) -> BTreeMap<Key, Value>;

    /// [`Node::state_digest`]: a digest of the state's bytes, if the
    /// application has a byte image worth comparing (default: none).
    fn state_digest(&self) -> Option<u64> {
        None
    }
}

impl RegisterApp for Register {
    fn register_state(&self) -> BTreeMap<Key, Value> {
        self.kv.clone()
    }
}

/// Raft's replies in the register's language: Raft's own answers become
/// [`Reply`]'s rejections and `Uncertain`.
fn register_reply(reply: ClientReply<Reply>) -> Reply {
    match reply {
        ClientReply::Applied(reply) => reply,
        ClientReply::NotLeader { leader } => Reply::Rejected(Rejection::NotLeader { leader }),
        ClientReply::Uncertain => Reply::Uncertain,
    }
}

impl<A: RegisterApp> Node for RaftNode<A> {
    type Message = RaftMessage<A>;
    type Config = RaftConfig;

    fn start(
        ctx: NodeContext,
        config: &RaftConfig,
        storage: Box<dyn Storage>,
        now: Time,
    ) -> io::Result<Self> {
        RaftNode::open(ctx, config, storage, now)
    }

    fn handle_message(&mut self, now: Time, from: NodeId, msg: RaftMessage<A>) {
        RaftNode::handle_message(self, now, from, msg);
    }

    fn handle_client(&mut self, now: Time, request: Request) {
        self.handle_request(now, request);
    }

    fn handle_timeout(&mut self, now: Time) {
        RaftNode::handle_timeout(self, now);
    }

    fn poll_output(&mut self) -> Option<Output<RaftMessage<A>>> {
        Some(match self.poll_event()? {
            Output::Send { to, msg } => Output::Send { to, msg },
            Output::Reply { request, reply } => Output::Reply {
                request,
                reply: register_reply(reply),
            },
        })
    }

    fn poll_timeout(&self) -> Option<Time> {
        RaftNode::poll_timeout(self)
    }

    fn state(&self) -> BTreeMap<Key, Value> {
        self.state.register_state()
    }

    fn state_digest(&self) -> Option<u64> {
        self.state.state_digest()
    }

    fn stopped(&self) -> Option<&str> {
        self.failure()
    }

    fn role(&self) -> String {
        self.role_name()
    }
}

#[cfg(test)]
mod tests;
