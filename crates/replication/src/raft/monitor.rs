//! [`RaftMonitor`]: Raft's safety properties (Figure 3 of the paper),
//! checked continuously from outside the nodes.
//!
// ANCHOR: monitor_properties
//! # What is checked, after every input of every node
//!
//! 1. **Election safety**: at most one node is ever leader of a term, over
//!    the whole run (crashes included).
//! 2. **Log matching**: an `(index, term)` pair always names the same
//!    entry, on every node at every time (a global map, checked on every
//!    log change).
//! 3. **Leader completeness**: a node that becomes leader of term `T` holds
//!    every entry committed in a term below `T` (a compacted prefix counts
//!    as held).
//! 4. **State-machine safety**: no two nodes apply different entries at
//!    one index.
//! 5. **Monotonicity**: a node's term never decreases (it is durable), and
//!    its commit index never decreases within one incarnation (a restart
//!    may reset it to the snapshot index).
// ANCHOR_END: monitor_properties
//!
//! An entry counts as committed once some node applies it; it is stamped
//! with that node's term at the time, which is at least the term in which
//! the entry really committed — so property 3 may miss an entry, never
//! flag one wrongly. Entries that reach a node only inside a snapshot are
//! not seen applied; the node that took the snapshot applied them first.

use std::collections::BTreeMap;

use super::{App, Entry, LogIndex, Payload, RaftNode, Term};
use crate::protocol::{NodeId, RequestId, Time};
use crate::register::Register;

/// The first safety property a [`RaftMonitor`] saw broken, numbered as in
/// the [module documentation](self). Every variant names the node that
/// broke it and that node's term; entries and payloads are kept as their
/// `Debug` text, so the type does not depend on the application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RaftViolation {
    /// Property 1: two nodes led one term.
    #[error(
        "node {node} (term {term}): election safety: nodes {first} and {node} both led term {term}"
    )]
    ElectionSafety {
        /// The second leader of the term.
        node: NodeId,
        /// The term.
        term: Term,
        /// The node first seen leading it.
        first: NodeId,
    },
    /// Property 2: one `(index, term)` pair names two different entries.
    #[error(
        "node {node} (term {term}): log matching: index {index} term {entry_term} holds {here} here but {there} on node {first}"
    )]
    LogMatching {
        /// The node holding the differing entry.
        node: NodeId,
        /// Its current term.
        term: Term,
        /// The index of the pair.
        index: LogIndex,
        /// The term of the pair.
        entry_term: Term,
        /// The payload `node` holds there (`Debug`).
        here: String,
        /// The payload first seen there (`Debug`).
        there: String,
        /// The node it was first seen on.
        first: NodeId,
    },
    /// Property 3: a new leader lacks an entry committed in an earlier term.
    #[error(
        "node {node} (term {term}): leader completeness: new leader of term {term} holds {held} at index {index}, \
         but {committed} committed there (applied by node {applied_by} in term {applied_in})"
    )]
    LeaderCompleteness {
        /// The new leader.
        node: NodeId,
        /// The term it leads.
        term: Term,
        /// The index where its log differs.
        index: LogIndex,
        /// What it holds there (`Debug` of an `Option<&Entry>`).
        held: String,
        /// The committed entry (`Debug`).
        committed: String,
        /// The node first seen applying it.
        applied_by: NodeId,
        /// That node's term then.
        applied_in: Term,
    },
    /// Property 4: two nodes applied different entries at one index.
    #[error(
        "node {node} (term {term}): state-machine safety: applied {applied} at index {index}, but node {first} applied {first_applied} there"
    )]
    StateMachineSafety {
        /// The node that applied the second entry.
        node: NodeId,
        /// Its current term.
        term: Term,
        /// The index.
        index: LogIndex,
        /// What `node` applied (`Debug`).
        applied: String,
        /// The node first seen applying at `index`.
        first: NodeId,
        /// What it applied (`Debug`).
        first_applied: String,
    },
    /// Property 5: a node's term decreased.
    #[error(
        "node {node} (term {to}): term went back from {from} to {to} (currentTerm must be durable)"
    )]
    TermWentBack {
        /// The node.
        node: NodeId,
        /// The term last seen.
        from: Term,
        /// Its term now.
        to: Term,
    },
    /// Property 5: a node's commit index decreased within one incarnation.
    #[error(
        "node {node} (term {term}): commit index went back from {from} to {to} without a restart"
    )]
    CommitWentBack {
        /// The node.
        node: NodeId,
        /// Its current term.
        term: Term,
        /// The commit index last seen.
        from: LogIndex,
        /// Its commit index now.
        to: LogIndex,
    },
}

/// An entry known to be committed.
#[derive(Debug, Clone)]
struct Committed<C> {
    entry: Entry<C>,
    /// The first node seen applying it.
    node: NodeId,
    /// That node's term then: at least the term the entry committed in.
    term_seen: Term,
}

/// The payload first seen at an `(index, term)` pair, and the node that
/// held it.
type FirstSeen<C> = (Payload<C>, NodeId);

/// What the monitor last saw of a node.
#[derive(Debug, Clone, Copy)]
struct Seen {
    incarnation: (Time, u64),
    term: Term,
    commit: LogIndex,
    /// The last term in which leader completeness was checked for it.
    led: Option<Term>,
}

/// Checks Raft's safety properties after every input (see the [module
/// documentation](self)) for nodes of any application `A`: it compares
/// entries (terms, request ids and commands), never application states.
/// Attach one to a simulation; its queries also serve test harnesses (what
/// committed, and where).
#[derive(Debug)]
pub struct RaftMonitor<A: App = Register> {
    leaders: BTreeMap<Term, NodeId>,
    pairs: BTreeMap<(LogIndex, Term), FirstSeen<A::Command>>,
    committed: BTreeMap<LogIndex, Committed<A::Command>>,
    requests: BTreeMap<RequestId, LogIndex>,
    seen: BTreeMap<NodeId, Seen>,
}

impl<A: App> Default for RaftMonitor<A> {
    fn default() -> Self {
        RaftMonitor {
            leaders: BTreeMap::new(),
            pairs: BTreeMap::new(),
            committed: BTreeMap::new(),
            requests: BTreeMap::new(),
            seen: BTreeMap::new(),
        }
    }
}

impl RaftMonitor {
    /// A monitor for register nodes that has seen nothing (for another
    /// application: `RaftMonitor::<A>::default()`).
    pub fn new() -> Self {
        Self::default()
    }
}

impl<A: App> RaftMonitor<A> {
    /// The committed entry at `index`, if some node applied one.
    pub fn committed(&self, index: LogIndex) -> Option<Entry<A::Command>> {
        self.committed.get(&index).map(|c| c.entry.clone())
    }

    /// The highest index some node applied.
    pub fn last_committed(&self) -> LogIndex {
        self.committed.keys().next_back().copied().unwrap_or(0)
    }

    /// The first index at which a client request committed.
    pub fn committed_index_of(&self, request: RequestId) -> Option<LogIndex> {
        self.requests.get(&request).copied()
    }

    /// Term → the node that led it.
    pub fn leaders(&self) -> &BTreeMap<Term, NodeId> {
        &self.leaders
    }

    /// Checks node `id` right after it handled an input (or started) at
    /// `now`.
    ///
    /// # Errors
    ///
    /// The first violated property, naming the node, term and index (the
    /// simulator adds the time).
    pub fn check(
        &mut self,
        _now: Time,
        id: NodeId,
        node: &RaftNode<A>,
    ) -> Result<(), RaftViolation> {
        self.check_monotone(id, node)?;
        self.check_election(id, node)?;
        self.check_log_matching(id, node)?;
        self.check_applied(id, node)?;
        self.check_leader_completeness(id, node)
    }

    fn check_monotone(&mut self, id: NodeId, node: &RaftNode<A>) -> Result<(), RaftViolation> {
        let now = Seen {
            incarnation: node.incarnation(),
            term: node.term(),
            commit: node.commit_index(),
            led: None,
        };
        let Some(before) = self.seen.insert(id, now) else {
            return Ok(());
        };
        if now.term < before.term {
            return Err(RaftViolation::TermWentBack {
                node: id,
                from: before.term,
                to: now.term,
            });
        }
        if now.incarnation == before.incarnation && now.commit < before.commit {
            return Err(RaftViolation::CommitWentBack {
                node: id,
                term: now.term,
                from: before.commit,
                to: now.commit,
            });
        }
        if let Some(seen) = self.seen.get_mut(&id) {
            seen.led = before.led.filter(|_| now.incarnation == before.incarnation);
        }
        Ok(())
    }

    fn check_election(&mut self, id: NodeId, node: &RaftNode<A>) -> Result<(), RaftViolation> {
        if !node.is_leader() {
            return Ok(());
        }
        let leader = *self.leaders.entry(node.term()).or_insert(id);
        if leader != id {
            return Err(RaftViolation::ElectionSafety {
                node: id,
                term: node.term(),
                first: leader,
            });
        }
        Ok(())
    }

    fn check_log_matching(&mut self, id: NodeId, node: &RaftNode<A>) -> Result<(), RaftViolation> {
        let Some(from) = node.log_changed_from() else {
            return Ok(());
        };
        let from = from.max(node.snapshot_index() + 1);
        for index in from..=node.last_log_index() {
            let Some(entry) = node.entry(index) else {
                break;
            };
            let (payload, first) = self
                .pairs
                .entry((index, entry.term))
                .or_insert_with(|| (entry.payload.clone(), id));
            if *payload != entry.payload {
                return Err(RaftViolation::LogMatching {
                    node: id,
                    term: node.term(),
                    index,
                    entry_term: entry.term,
                    here: format!("{:?}", entry.payload),
                    there: format!("{payload:?}"),
                    first: *first,
                });
            }
        }
        Ok(())
    }

    fn check_applied(&mut self, id: NodeId, node: &RaftNode<A>) -> Result<(), RaftViolation> {
        for (index, entry) in node.applied_by_last_input() {
            let index = *index;
            let committed = self.committed.entry(index).or_insert_with(|| Committed {
                entry: entry.clone(),
                node: id,
                term_seen: node.term(),
            });
            if committed.entry != *entry {
                return Err(RaftViolation::StateMachineSafety {
                    node: id,
                    term: node.term(),
                    index,
                    applied: format!("{entry:?}"),
                    first: committed.node,
                    first_applied: format!("{:?}", committed.entry),
                });
            }
            if let Payload::Client(request) = &entry.payload {
                self.requests.entry(request.id).or_insert(index);
            }
        }
        Ok(())
    }

    fn check_leader_completeness(
        &mut self,
        id: NodeId,
        node: &RaftNode<A>,
    ) -> Result<(), RaftViolation> {
        let term = node.term();
        let Some(seen) = self.seen.get_mut(&id) else {
            return Ok(());
        };
        if !node.is_leader() || seen.led == Some(term) {
            return Ok(());
        }
        seen.led = Some(term);
        let held_from = node.snapshot_index() + 1;
        for (&index, c) in self.committed.range(held_from..) {
            if c.term_seen >= term {
                continue;
            }
            let held = node.entry(index);
            if held != Some(&c.entry) {
                return Err(RaftViolation::LeaderCompleteness {
                    node: id,
                    term,
                    index,
                    held: format!("{held:?}"),
                    committed: format!("{:?}", c.entry),
                    applied_by: c.node,
                    applied_in: c.term_seen,
                });
            }
        }
        Ok(())
    }
}

impl<A: App> crate::sim::Monitor<RaftNode<A>> for RaftMonitor<A>
where
    RaftNode<A>: crate::protocol::Node,
{
    fn after(
        &mut self,
        now: Time,
        id: NodeId,
        node: &RaftNode<A>,
    ) -> Result<(), crate::sim::MonitorError> {
        Ok(self.check(now, id, node)?)
    }
}
