//! The contract between a replication protocol and whatever drives it.
//!
//! A protocol node is a sans-IO state machine (STYLE.md §7, after
//! `quinn-proto`): it never reads a clock, sleeps, spawns a thread or opens
//! a socket. Time arrives as an argument (`now`, in virtual microseconds),
//! messages and client requests arrive through `handle_*` calls, and
//! everything the node wants done leaves through [`Node::poll_output`]. The
//! only I/O a node performs is on the [`Storage`] it was started with —
//! in the simulator a `kv::sim::SimDisk` that loses unsynced bytes when the
//! node crashes.
//!
// ANCHOR: calling_order
//! # Calling order
//!
//! 1. [`Node::start`] builds a node from its storage (empty on first boot,
//!    whatever survived on a restart).
//! 2. Then, any number of times, one input: [`Node::handle_message`],
//!    [`Node::handle_client`] or [`Node::handle_timeout`] (only once `now`
//!    has reached [`Node::poll_timeout`]).
//! 3. After every input (and after `start`) the driver drains
//!    [`Node::poll_output`] until it returns `None`, then asks
//!    [`Node::poll_timeout`] for the next deadline.
//!
//! `now` never decreases between calls on one node. A crash is simply
//! dropping the node; its volatile state is gone and its storage keeps what
//! was synced.
// ANCHOR_END: calling_order

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

use kv::Storage;

pub use crate::history::Value;

/// Virtual time in microseconds since the simulation began.
pub type Time = u64;

/// A node's index in the cluster, `0..nodes`.
pub type NodeId = usize;

/// A key. Keys are few and small; histories print key `3` as `"k3"`.
pub type Key = u32;

/// The history's name for a key.
pub fn key_name(key: Key) -> String {
    format!("k{key}")
}

/// What a client asks a key-value store to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Read the key's value.
    Read {
        /// The key.
        key: Key,
    },
    /// Set the key to `value`.
    Write {
        /// The key.
        key: Key,
        /// The new value (unique per write in simulated workloads).
        value: Value,
    },
    /// Set the key to `new` if it currently holds `expected`.
    Cas {
        /// The key.
        key: Key,
        /// The value the key must hold.
        expected: Value,
        /// The value it then takes.
        new: Value,
    },
}

impl Command {
    /// The key the command acts on.
    pub fn key(&self) -> Key {
        match *self {
            Command::Read { key } | Command::Write { key, .. } | Command::Cas { key, .. } => key,
        }
    }

    /// Whether the command may change the store.
    pub fn is_update(&self) -> bool {
        !matches!(self, Command::Read { .. })
    }
}

/// Identifies a request for exactly-once execution: a client session and
/// the request's sequence number within it. A retried request keeps its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId {
    /// The client session.
    pub client: u64,
    /// Increases by one per request of the session.
    pub seq: u64,
}

/// A client request as a node receives it. `C` is the application's
/// command type: the key-value [`Command`] for every protocol behind
/// [`Node`]; Raft replicates any [`raft::App`](crate::raft::App)'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Request<C = Command> {
    /// Who asks, and which request of theirs this is.
    pub id: RequestId,
    /// What they ask for.
    pub command: C,
}

/// Why a request certainly took no effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// This node cannot serve the request; `leader` is its best guess of a
    /// node that can.
    NotLeader {
        /// A node to try next, if this one knows.
        leader: Option<NodeId>,
    },
    /// A compare-and-set found another value (`None`: the key was absent).
    CasMismatch {
        /// The value found.
        found: Option<Value>,
    },
    /// The node could not reach enough replicas and knows nothing changed.
    Unavailable,
}

// ANCHOR: reply
/// A node's answer to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reply {
    /// A read took effect and found this value (`None`: absent).
    Read(Option<Value>),
    /// A write or compare-and-set took effect.
    Done,
    /// The request certainly took no effect (a history's `fail`).
    Rejected(Rejection),
    /// The request may or may not take effect (a history's `info`): for
    /// example a quorum write that reached fewer than W replicas.
    Uncertain,
}
// ANCHOR_END: reply

/// Something a node wants done. `R` is the reply type: [`Reply`] for every
/// protocol behind [`Node`]; a Raft node replicating another
/// [`raft::App`](crate::raft::App) answers with
/// [`raft::ClientReply`](crate::raft::ClientReply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<M, R = Reply> {
    /// Send `msg` to node `to`. The network may delay, drop, duplicate or
    /// reorder it.
    Send {
        /// The destination.
        to: NodeId,
        /// The message.
        msg: M,
    },
    /// Answer the client request `request`.
    Reply {
        /// The request being answered.
        request: RequestId,
        /// The answer.
        reply: R,
    },
}

/// What every node knows when it starts.
#[derive(Debug, Clone)]
pub struct NodeContext {
    /// This node.
    pub id: NodeId,
    /// How many nodes the cluster has (ids `0..nodes`).
    pub nodes: usize,
    /// Entropy for randomised choices such as election timeouts. Derived by
    /// the driver from the run's seed, the node and its incarnation, so a
    /// node needs no random generator of its own and a run stays
    /// reproducible.
    pub entropy: u64,
}

// ANCHOR: node
/// A replication protocol's node, driven by the simulator or a real
/// network. See the [module documentation](self) for the calling order.
pub trait Node: Sized {
    /// The protocol's name on the `sim` command line (`async`, `raft`,
    /// `quorum`).
    const NAME: &'static str = "custom";

    /// The messages nodes exchange. `Hash` feeds the trace hash.
    type Message: Clone + Debug + Hash;
    /// Protocol parameters shared by all nodes (timeouts, quorum sizes).
    type Config: Clone + Debug;

    /// Boots (or, after a crash, recovers) a node from its storage.
    ///
    /// # Errors
    ///
    /// An I/O error from `storage`, or stored state that does not decode.
    fn start(
        ctx: NodeContext,
        config: &Self::Config,
        storage: Box<dyn Storage>,
        now: Time,
    ) -> std::io::Result<Self>;

    /// A message from node `from` arrives.
    fn handle_message(&mut self, now: Time, from: NodeId, msg: Self::Message);

    /// A client request arrives.
    fn handle_client(&mut self, now: Time, request: Request);

    /// The deadline returned by [`Node::poll_timeout`] has passed.
    fn handle_timeout(&mut self, now: Time);

    /// The next thing the node wants done, if any.
    fn poll_output(&mut self) -> Option<Output<Self::Message>>;

    /// When the node next wants [`Node::handle_timeout`] called.
    fn poll_timeout(&self) -> Option<Time>;

    /// The key-value state this node's replica has applied, for the
    /// convergence checker.
    fn state(&self) -> BTreeMap<Key, Value>;

    /// A digest of the replica's whole application state as bytes (for
    /// Raft over a `kv::Store`, its checkpoint's), which replicas that
    /// applied the same history share; `None` (the default) if the
    /// protocol has no such bytes. The simulator compares the digests of
    /// the nodes that are up after healing.
    fn state_digest(&self) -> Option<u64> {
        None
    }

    /// A short description of the node's role for traces ("leader t3").
    fn role(&self) -> String;

    /// Whether this node is meant to hold a replica of `key` (all nodes do,
    /// except in partitioned designs such as leaderless quorums, where only
    /// the key's preference list does). The convergence checker compares
    /// only the nodes that hold a key.
    fn holds(&self, key: Key) -> bool {
        let _ = key;
        true
    }

    /// Why the node has stopped itself, if it has: its storage failed (an
    /// fsync error), so it can no longer promise durability and sends
    /// nothing more. A real process would exit; the simulator crashes it
    /// (with disk faults on), and a restart recovers from what is on disk.
    fn stopped(&self) -> Option<&str> {
        None
    }
}
// ANCHOR_END: node
