//! Replication is not a security measure: Raft tolerates nodes that
//! *crash*, never nodes that *lie*.
//!
//! Raft's safety argument (and every argument of Part IV) assumes that a
//! node either follows the protocol or stops. One node that breaks that
//! assumption — a bug, a corrupted disk, or an attacker who controls it —
//! is enough to break a safety property, even in a five-node cluster with
//! only one such node and no other fault. Each test below puts one
//! *Byzantine* node (Lamport, Shostak and Pease, 1982) into a scripted run,
//! shows the [`RaftMonitor`] catch the broken property, and runs the same
//! script with an honest node as the control, where nothing breaks.
//! Tolerating `f` lying nodes takes a different protocol with `3f + 1`
//! nodes, such as PBFT (Castro and Liskov, OSDI 1999).
//!
//! The liar is an ordinary [`RaftNode`] whose messages are rewritten on the
//! way out (or in), so it keeps every other rule of the protocol.

use std::collections::{BTreeMap, VecDeque};
use std::io;

use kv::Storage;
use replication::protocol::{
    Command, Key, Node, NodeContext, NodeId, Output, Request, Time, Value,
};
use replication::raft::{RaftConfig, RaftMessage, RaftMonitor, RaftNode, RaftViolation};
use replication::sim::{Monitor, MonitorError, Sim, SimConfig};

/// How the Byzantine node lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lie {
    /// It grants every vote it is asked for, even twice in one term.
    VoteTwice,
    /// It acknowledges every AppendEntries as stored, and stores nothing.
    AckWithoutStoring,
}

/// The cluster's configuration: Raft's, and which node lies how.
#[derive(Debug, Clone)]
struct Config {
    raft: RaftConfig,
    liar: Option<(NodeId, Lie)>,
}

/// A Raft node that may lie.
#[derive(Debug)]
struct Member {
    raft: RaftNode,
    lie: Option<Lie>,
    outputs: VecDeque<Output<RaftMessage>>,
}

impl Member {
    /// Moves the inner node's outputs out, rewriting the lies in.
    fn collect(&mut self) {
        while let Some(out) = self.raft.poll_output() {
            let out = match (self.lie, out) {
                (
                    Some(Lie::VoteTwice),
                    Output::Send {
                        to,
                        msg: RaftMessage::RequestVoteReply { term, .. },
                    },
                ) => Output::Send {
                    to,
                    msg: RaftMessage::RequestVoteReply {
                        term,
                        granted: true,
                    },
                },
                (_, out) => out,
            };
            self.outputs.push_back(out);
        }
    }
}

impl Node for Member {
    type Message = RaftMessage;
    type Config = Config;

    fn start(
        ctx: NodeContext,
        config: &Config,
        storage: Box<dyn Storage>,
        now: Time,
    ) -> io::Result<Self> {
        let lie = config
            .liar
            .and_then(|(id, lie)| (id == ctx.id).then_some(lie));
        let raft = RaftNode::start(ctx, &config.raft, storage, now)?;
        let mut member = Member {
            raft,
            lie,
            outputs: VecDeque::new(),
        };
        member.collect();
        Ok(member)
    }

    fn handle_message(&mut self, now: Time, from: NodeId, msg: RaftMessage) {
        match (self.lie, msg) {
            (
                Some(Lie::AckWithoutStoring),
                RaftMessage::AppendEntries {
                    term,
                    prev_log_index,
                    prev_log_term,
                    entries,
                    round,
                    ..
                },
            ) => {
                // Follow the leader as a heartbeat (so terms stay honest),
                // drop the entries, and claim to have stored them all.
                let heartbeat = RaftMessage::AppendEntries {
                    term,
                    prev_log_index,
                    prev_log_term,
                    entries: Vec::new(),
                    leader_commit: 0,
                    round,
                };
                self.raft.handle_message(now, from, heartbeat);
                while self.raft.poll_output().is_some() {}
                if term >= self.raft.term() {
                    let match_index = prev_log_index + entries.len() as u64;
                    self.outputs.push_back(Output::Send {
                        to: from,
                        msg: RaftMessage::AppendEntriesReply {
                            term,
                            success: true,
                            match_index,
                            conflict_term: None,
                            conflict_index: 0,
                            round,
                        },
                    });
                }
            }
            (_, msg) => self.raft.handle_message(now, from, msg),
        }
        self.collect();
    }

    fn handle_client(&mut self, now: Time, request: Request) {
        self.raft.handle_client(now, request);
        self.collect();
    }

    fn handle_timeout(&mut self, now: Time) {
        self.raft.handle_timeout(now);
        self.collect();
    }

    fn poll_output(&mut self) -> Option<Output<RaftMessage>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.raft.poll_timeout()
    }

    fn state(&self) -> BTreeMap<Key, Value> {
        self.raft.state()
    }

    fn role(&self) -> String {
        self.raft.role()
    }
}

/// The unchanged [`RaftMonitor`], looking at each member's Raft node.
struct Watch(RaftMonitor);

impl Monitor<Member> for Watch {
    fn after(&mut self, now: Time, id: NodeId, node: &Member) -> Result<(), MonitorError> {
        Ok(self.0.check(now, id, &node.raft)?)
    }
}

fn cluster(seed: u64, liar: Option<(NodeId, Lie)>) -> Sim<Member> {
    let config = Config {
        raft: RaftConfig::default(),
        liar,
    };
    let mut sim = Sim::new(SimConfig::new(seed, 5), config);
    sim.add_monitor(Box::new(Watch(RaftMonitor::new())));
    sim
}

fn leaders(sim: &Sim<Member>) -> Vec<NodeId> {
    (0..sim.nodes())
        .filter(|&id| sim.node(id).is_some_and(|m| m.raft.is_leader()))
        .collect()
}

/// Nodes 0 and 1 cannot reach nodes 2 and 3; node 4 reaches everyone. An
/// honest node 4 votes once per term, so only one side can win a term. A
/// node 4 that votes for both sides' candidates gives each side a majority
/// of three in the same term.
fn two_sides(liar: Option<(NodeId, Lie)>) -> Sim<Member> {
    let mut sim = cluster(1, liar);
    for a in [0, 1] {
        for b in [2, 3] {
            sim.block(a, b);
            sim.block(b, a);
        }
    }
    sim.run_for(2_000_000);
    sim
}

#[test]
fn a_node_that_votes_twice_elects_two_leaders_in_one_term() {
    let sim = two_sides(Some((4, Lie::VoteTwice)));
    let violation = sim.violation().expect("the monitor must catch two leaders");
    println!("caught: {violation}");
    assert!(
        matches!(
            sim.monitor_error(),
            Some(MonitorError::Raft(RaftViolation::ElectionSafety { .. }))
        ),
        "{violation}"
    );
}

#[test]
fn an_honest_node_in_the_same_place_elects_one_leader_per_term() {
    let sim = two_sides(None);
    assert_eq!(sim.violation(), None);
    assert!(!leaders(&sim).is_empty(), "some side elected a leader");
}

/// A leader among nodes {0, 1, 4} (nodes 2 and 3 cut off) commits a write
/// counting node 4's acknowledgement. Then nodes 0 and 1 are cut off
/// instead, and {2, 3, 4} elect a leader. If node 4 stored the entry,
/// only it can win (its log is the most up to date), and it carries the
/// entry forward. If it lied, nobody in {2, 3, 4} has the committed
/// entry, and the new leader lacks it. `None` if this seed's first leader
/// was node 4 itself (it does not lie as a leader), so the script does
/// not apply.
/// Also returns the key-value map the first leader applied.
fn lost_commit(
    seed: u64,
    liar: Option<(NodeId, Lie)>,
) -> Option<(Sim<Member>, BTreeMap<Key, Value>)> {
    let mut sim = cluster(seed, liar);
    sim.partition(&[&[0, 1, 4], &[2, 3]]);
    sim.run_for(1_000_000);
    let leader = *leaders(&sim).iter().find(|&&l| l < 2)?;
    for value in 1..=3 {
        sim.submit(leader, Command::Write { key: 0, value });
    }
    sim.run_for(500_000);
    let committed = sim.take_replies().len();
    assert_eq!(committed, 3, "the writes must commit on {{0, 1, 4}}");
    let applied = sim.node(leader).map(Node::state).unwrap_or_default();
    sim.heal();
    sim.partition(&[&[0, 1], &[2, 3, 4]]);
    sim.run_for(3_000_000);
    Some((sim, applied))
}

#[test]
fn a_node_that_acknowledges_without_storing_loses_a_committed_write() {
    let (seed, sim) = (0..50)
        .find_map(|seed| {
            lost_commit(seed, Some((4, Lie::AckWithoutStoring))).map(|(s, _)| (seed, s))
        })
        .expect("some seed elects node 0 or 1 first");
    let violation = sim
        .violation()
        .unwrap_or_else(|| panic!("seed {seed}: the monitor must catch the lost entry"));
    println!("seed {seed}: caught: {violation}");
    // The new leader lacks a committed entry (leader completeness), or
    // overwrites it (log matching / state-machine safety) — whichever the
    // monitor sees first.
    assert!(
        matches!(
            sim.monitor_error(),
            Some(MonitorError::Raft(
                RaftViolation::LeaderCompleteness { .. }
                    | RaftViolation::LogMatching { .. }
                    | RaftViolation::StateMachineSafety { .. }
            ))
        ),
        "seed {seed}: {violation}"
    );
}

#[test]
fn an_honest_node_in_the_same_place_keeps_the_committed_write() {
    let (seed, sim, applied) = (0..50)
        .find_map(|seed| lost_commit(seed, None).map(|(s, applied)| (seed, s, applied)))
        .expect("some seed elects node 0 or 1 first");
    assert_eq!(sim.violation(), None, "seed {seed}");
    // Node 0 or 1 may still believe it leads its old term, cut off.
    let majority_side: Vec<NodeId> = leaders(&sim).into_iter().filter(|&l| l >= 2).collect();
    assert_eq!(majority_side, vec![4], "seed {seed}: only node 4 can win");
    assert_eq!(
        applied.len(),
        1,
        "seed {seed}: the first leader applied the writes"
    );
    let state = sim.node(4).map(Node::state);
    assert_eq!(
        state,
        Some(applied),
        "seed {seed}: node 4 carries them forward"
    );
}
