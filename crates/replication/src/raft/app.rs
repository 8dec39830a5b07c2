//! [`App`]: what Raft replicates. Raft orders commands; the application
//! gives them meaning.
//!
//! A [`RaftNode<A>`](super::RaftNode) appends each client's command to its
//! log, and once the entry commits every replica calls [`App::apply`] on it
//! at the same index. Snapshots store [`App::snapshot`]'s bytes and a
//! restarted node (or a follower sent the leader's snapshot) rebuilds the
//! application with [`App::restore`]. Log entries are stored with
//! [`App::encode_command`] and read back with [`App::decode_command`].
//!
// ANCHOR: app_contract
//! # The contract an application keeps
//!
//! 1. **Deterministic apply.** [`App::apply`] depends only on the state and
//!    its arguments: no clock, no randomness, no iteration over a
//!    `HashMap`. Replicas that apply the same entries in the same order end
//!    in equal states (Raft's state-machine safety is about entries; this
//!    makes it about states).
//! 2. **Snapshot round trip.** `A::restore(&a.snapshot())` is equal to `a`,
//!    and applying the same entries to both gives equal states and outputs.
//!    Equal states have equal snapshot bytes (so replicas can be compared
//!    byte for byte).
//! 3. **Command round trip.** [`App::decode_command`] reads back exactly
//!    what [`App::encode_command`] wrote, consuming exactly those bytes
//!    (several entries share one record).
//! 4. **Bad bytes are errors.** `restore` and `decode_command` return
//!    [`io::ErrorKind::InvalidData`] for bytes they did not write; they
//!    never panic and never allocate in proportion to a length field they
//!    have not checked.
//! 5. **Reads do not change the state.** A command for which
//!    [`App::is_read`] holds is served by [`App::read`] (from `&self`) under
//!    ReadIndex, without a log entry; through the log it is applied, and
//!    `apply` must give the same output as `read` and leave the state as it
//!    was. [`App::read_batch`] answers each command as `read` would.
// ANCHOR_END: app_contract
//!
//! # Exactly-once: client sessions live in the application
//!
//! As in MIT 6.5840's key-value server, the deduplication table is part of
//! the replicated state: Raft hands [`App::apply`] the whole
//! [`Request`] (client id and sequence number) and asks
//! [`App::cached_reply`] before it appends a retried request. An
//! application that keeps a session table (the [`Register`] does) answers a
//! retry with the recorded reply and applies it once; since the table is in
//! the snapshot, the guarantee survives compaction, restarts and leader
//! changes. One that does not (the default `cached_reply` is `None`) applies
//! a retried command again. What Raft itself guarantees is the other half:
//! a client hears an application's output only for an entry this node
//! applied, and `Uncertain` when its entry may or may not commit.
//!
//! Raft does not check the contract: it cannot tell a non-deterministic
//! `apply` from a bug of its own (`RaftMonitor` compares entries, not
//! states). [`check_contract`] checks an application against it on given
//! requests; the register's and the journal's property tests call it, and
//! a student's application can too.
//!
//! [`Register`]: crate::register::Register

use std::fmt::Debug;
use std::hash::Hash;
use std::io;

use super::LogIndex;
use crate::durable::{Decoder, Encoder};
use crate::protocol::{NodeId, Request};

/// A replicated application: a deterministic state machine over commands
/// (see the [module documentation](self) for the contract).
///
/// `Hash` and `Eq` on the state let the simulator hash an InstallSnapshot
/// message into its trace and let tests compare replicas; `Default` is the
/// state before the first entry.
pub trait App: Clone + Debug + Default + PartialEq + Eq + Hash {
    /// What a client asks the application to do (one log entry's content).
    type Command: Clone + Debug + PartialEq + Eq + Hash;
    /// What applying a command answers the client.
    type Output: Clone + Debug + PartialEq;

    /// Applies a committed `request` at log `index` (contract 1) and
    /// returns the client's answer.
    fn apply(&mut self, index: LogIndex, request: &Request<Self::Command>) -> Self::Output;

    /// The answer already given to `request` if the application applied it
    /// before (its session table); `None` if it must be appended. The
    /// default keeps no sessions.
    fn cached_reply(&self, request: &Request<Self::Command>) -> Option<Self::Output> {
        let _ = request;
        None
    }

    /// Whether `command` only reads (contract 5): then a leader in
    /// [`ReadMode::ReadIndex`](super::ReadMode::ReadIndex) serves it with
    /// [`App::read`] instead of appending it. The default: nothing is a
    /// read.
    fn is_read(command: &Self::Command) -> bool {
        let _ = command;
        false
    }

    /// Serves a read-only `command` from the current state (called only
    /// when [`App::is_read`] holds). The default applies it to a copy.
    fn read(&self, command: &Self::Command) -> Self::Output {
        let request = Request {
            id: crate::protocol::RequestId { client: 0, seq: 0 },
            command: command.clone(),
        };
        self.clone().apply(0, &request)
    }

    /// Serves several read-only commands from the current state: one
    /// answer per command, in order (Raft calls it with every read that ReadIndex confirmed in one
    /// input). The default calls [`App::read`] on each; an application
    /// whose reads are expensive may spread them over threads, as long as
    /// each answer is the one [`App::read`] would give.
    fn read_batch(&self, commands: &[&Self::Command]) -> Vec<Self::Output> {
        commands.iter().map(|command| self.read(command)).collect()
    }

    /// The state as bytes, complete and consistent (contract 2).
    fn snapshot(&self) -> Vec<u8>;

    /// Rebuilds the state from [`App::snapshot`]'s bytes.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] for bytes `snapshot` did not write
    /// (contract 4).
    fn restore(bytes: &[u8]) -> io::Result<Self>;

    /// Appends `command` to a log record (contract 3).
    fn encode_command(command: &Self::Command, e: Encoder) -> Encoder;

    /// Reads one command written by [`App::encode_command`].
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] for a short record or an unknown
    /// command (contract 4).
    fn decode_command(d: &mut Decoder<'_>) -> io::Result<Self::Command>;

    /// The `ack_before_quorum` teaching bug's premature answer to an update
    /// (`None`: the bug has nothing to say for this command). Only that bug
    /// uses it; the default never answers early.
    fn premature_reply(command: &Self::Command) -> Option<Self::Output> {
        let _ = command;
        None
    }
}

/// A Raft node's answer to a client of application `A`: the
/// application's output, or one of Raft's own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientReply<O> {
    /// The command was applied by this node (or the read served) and the
    /// application answered this.
    Applied(O),
    /// This node is not the leader; `leader` is its best guess of who is.
    /// The command certainly took no effect here.
    NotLeader {
        /// A node to try next, if this one knows.
        leader: Option<NodeId>,
    },
    /// The command may or may not take effect (its leader was deposed, or
    /// another entry took its index).
    Uncertain,
}

/// Checks contracts 1–5 for application `A` from `state` over `requests`:
/// applying them to two copies gives equal outputs and states (1); at every
/// step `restore(snapshot)` equals the state, and its snapshot bytes are
/// the same (2); each command decodes back from a record shared with
/// another, consuming exactly its bytes (3); every truncation of a snapshot
/// is refused or restored without a panic (4: a panic fails the caller);
/// and a read's `read` answer equals its `apply` output, with the state
/// unchanged (5).
///
/// # Errors
///
/// The first broken contract, naming the step and the request.
pub fn check_contract<A: App>(
    state: &A,
    requests: &[Request<A::Command>],
) -> Result<(), ContractViolation> {
    let (mut a, mut b) = (state.clone(), state.clone());
    for (step, request) in requests.iter().enumerate() {
        let at = || At {
            step,
            request: format!("{request:?}"),
        };
        let bytes = a.snapshot();
        let restored = A::restore(&bytes).map_err(|e| ContractViolation::RestoreFailed {
            at: at(),
            error: e.to_string(),
        })?;
        if restored != a || restored.snapshot() != bytes {
            return Err(ContractViolation::RestoreDiffers { at: at() });
        }
        for cut in 0..bytes.len() {
            let _ = A::restore(&bytes[..cut]);
        }
        let record = A::encode_command(
            &request.command,
            A::encode_command(&request.command, Encoder::new()),
        )
        .finish();
        let mut d = Decoder::new(&record);
        for _ in 0..2 {
            let decoded = A::decode_command(&mut d).map_err(|e| ContractViolation::Decode {
                at: at(),
                error: e.to_string(),
            })?;
            if decoded != request.command {
                return Err(ContractViolation::DecodedAs {
                    at: at(),
                    decoded: format!("{decoded:?}"),
                });
            }
        }
        d.end().map_err(|e| ContractViolation::Trailing {
            at: at(),
            error: e.to_string(),
        })?;
        let read = A::is_read(&request.command).then(|| {
            let answer = a.read(&request.command);
            let batch = a.read_batch(&[&request.command; 3]);
            (answer, batch, a.clone())
        });
        let index = step as LogIndex + 1;
        let (out_a, out_b) = (a.apply(index, request), b.apply(index, request));
        if out_a != out_b || a != b {
            return Err(ContractViolation::NotDeterministic { at: at() });
        }
        if let Some((answer, batch, before)) = read
            && (answer != out_a || before != a || batch.iter().any(|b| *b != answer))
        {
            return Err(ContractViolation::ReadDiffers {
                at: at(),
                answer: format!("{answer:?}"),
                output: format!("{out_a:?}"),
            });
        }
    }
    Ok(())
}

/// Where [`check_contract`] found a contract broken: the step (from 0) and
/// the request's `Debug` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    /// The position of the request in the list checked.
    pub step: usize,
    /// The request (`Debug`).
    pub request: String,
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step {} ({})", self.step, self.request)
    }
}

/// The first contract clause (numbered as in the [module
/// documentation](self)) an application breaks, as found by
/// [`check_contract`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContractViolation {
    /// Clause 1: two copies applying the same request gave different
    /// outputs or states; `apply` must depend only on the state and the
    /// request.
    #[error("{at}: apply is not deterministic")]
    NotDeterministic {
        /// Where.
        at: At,
    },
    /// Clause 2: `restore` refused the state's own snapshot.
    #[error("{at}: restore failed: {error}")]
    RestoreFailed {
        /// Where.
        at: At,
        /// `restore`'s error, as text.
        error: String,
    },
    /// Clause 2: `restore(snapshot)` is not the state, or snapshots to
    /// other bytes.
    #[error("{at}: restore(snapshot) differs from the state")]
    RestoreDiffers {
        /// Where.
        at: At,
    },
    /// Clause 3: a command does not decode from its own encoding.
    #[error("{at}: decode: {error}")]
    Decode {
        /// Where.
        at: At,
        /// The decoder's error, as text.
        error: String,
    },
    /// Clause 3: a command decodes as another command.
    #[error("{at}: command decoded as {decoded}")]
    DecodedAs {
        /// Where.
        at: At,
        /// What it decoded as (`Debug`).
        decoded: String,
    },
    /// Clause 3: decoding did not consume exactly the command's bytes.
    #[error("{at}: {error}")]
    Trailing {
        /// Where.
        at: At,
        /// The decoder's error, as text.
        error: String,
    },
    /// Clause 5: a read's `read` answer differs from its `apply` output,
    /// or `read` changed the state.
    #[error("{at}: read answered {answer} but apply {output}, or changed the state")]
    ReadDiffers {
        /// Where.
        at: At,
        /// What `read` answered (`Debug`).
        answer: String,
        /// What `apply` returned (`Debug`).
        output: String,
    },
}
