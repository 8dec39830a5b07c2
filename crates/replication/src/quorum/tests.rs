//! Quorum nodes driven by hand through a tiny message pump: a fixed
//! latency, links that can be cut, crashes that drop unsynced bytes. Every
//! step checks every node's invariants.

use std::collections::{BTreeMap, BTreeSet};

use kv::{Crash, SimDisk};

use super::*;

const LATENCY_US: Time = 1_000;

/// A cluster on a perfectly ordered network with a fixed latency.
struct Cluster {
    now: Time,
    config: QuorumConfig,
    nodes: Vec<Option<QuorumNode>>,
    disks: Vec<SimDisk>,
    /// (delivery time, sequence) → (from, to, message).
    queue: BTreeMap<(Time, u64), (NodeId, NodeId, Message)>,
    seq: u64,
    /// One-way links that drop everything.
    cut: BTreeSet<(NodeId, NodeId)>,
    replies: BTreeMap<RequestId, Vec<Reply>>,
    next_client: u64,
    incarnation: u64,
}

impl Cluster {
    fn new(nodes: usize, config: QuorumConfig) -> Self {
        let mut c = Cluster {
            now: 0,
            config,
            nodes: (0..nodes).map(|_| None).collect(),
            disks: (0..nodes).map(|_| SimDisk::new()).collect(),
            queue: BTreeMap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            replies: BTreeMap::new(),
            next_client: 1,
            incarnation: 0,
        };
        for id in 0..nodes {
            c.restart(id);
        }
        c
    }

    fn node(&self, id: NodeId) -> &QuorumNode {
        self.nodes[id].as_ref().expect("node is up")
    }

    fn restart(&mut self, id: NodeId) {
        self.incarnation += 1;
        let ctx = NodeContext {
            id,
            nodes: self.nodes.len(),
            entropy: self.incarnation << 32,
        };
        let disk = Box::new(self.disks[id].clone());
        let node = QuorumNode::start(ctx, &self.config, disk, self.now).expect("start");
        self.nodes[id] = Some(node);
        self.drain(id);
    }

    fn crash(&mut self, id: NodeId) {
        self.nodes[id] = None;
        self.disks[id].crash(Crash::DropUnsynced);
    }

    fn isolate(&mut self, id: NodeId) {
        for other in 0..self.nodes.len() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    /// Collects node `id`'s outputs and checks its invariants.
    fn drain(&mut self, id: NodeId) {
        let Some(node) = self.nodes[id].as_mut() else {
            return;
        };
        if let Err(v) = node.check_invariants() {
            panic!("at {} µs: {v}", self.now);
        }
        while let Some(out) = node.poll_output() {
            match out {
                Output::Send { to, msg } => {
                    self.seq += 1;
                    self.queue
                        .insert((self.now + LATENCY_US, self.seq), (id, to, msg));
                }
                Output::Reply { request, reply } => {
                    self.replies.entry(request).or_default().push(reply);
                }
            }
        }
    }

    fn submit(&mut self, to: NodeId, command: Command) -> RequestId {
        let id = RequestId {
            client: self.next_client,
            seq: 0,
        };
        self.next_client += 1;
        self.resubmit(to, Request { id, command });
        id
    }

    fn resubmit(&mut self, to: NodeId, request: Request) {
        if let Some(node) = self.nodes[to].as_mut() {
            node.handle_client(self.now, request);
            self.drain(to);
        }
    }

    fn next_timer(&self) -> Option<(Time, NodeId)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(id, n)| Some((n.as_ref()?.poll_timeout()?, id)))
            .min()
    }

    fn run_until(&mut self, t: Time) {
        for _ in 0..1_000_000 {
            let msg_at = self.queue.keys().next().map(|&(at, _)| at);
            let timer = self.next_timer();
            let next = match (msg_at, timer) {
                (Some(m), Some((tt, _))) => m.min(tt),
                (Some(m), None) => m,
                (None, Some((tt, _))) => tt,
                (None, None) => break,
            };
            if next > t {
                break;
            }
            self.now = self.now.max(next);
            if msg_at == Some(next) {
                let (_, (from, to, msg)) = self.queue.pop_first().expect("queued");
                if self.cut.contains(&(from, to)) {
                    continue;
                }
                if let Some(node) = self.nodes[to].as_mut() {
                    node.handle_message(self.now, from, msg);
                    self.drain(to);
                }
            } else if let Some((_, id)) = timer {
                let now = self.now;
                if let Some(node) = self.nodes[id].as_mut() {
                    node.handle_timeout(now);
                }
                self.drain(id);
            }
        }
        self.now = self.now.max(t);
    }

    fn run_for(&mut self, d: Time) {
        self.run_until(self.now + d);
    }

    /// The one answer to `id`.
    fn reply(&self, id: RequestId) -> Option<Reply> {
        let replies = self.replies.get(&id)?;
        assert_eq!(replies.len(), 1, "{id:?} answered {replies:?}");
        Some(replies[0])
    }

    /// Runs a request to completion (or a second past its timeout).
    fn call(&mut self, to: NodeId, command: Command) -> Option<Reply> {
        let id = self.submit(to, command);
        let end = self.now + self.config.request_timeout_us + 1_000;
        while self.now < end && self.reply(id).is_none() {
            self.run_for(LATENCY_US);
        }
        self.reply(id)
    }

    /// Every preference replica of `key` holds the same version.
    fn replicas_agree(&self, key: Key) -> bool {
        let owners = preference_list(key, self.nodes.len(), self.config.n);
        let versions: BTreeSet<Option<Versioned>> = owners
            .iter()
            .map(|&o| self.node(o).versions().get(&key).copied())
            .collect();
        versions.len() == 1
    }
}

fn write(key: Key, value: Value) -> Command {
    Command::Write { key, value }
}

fn read(key: Key) -> Command {
    Command::Read { key }
}

fn cas(key: Key, expected: Value, new: Value) -> Command {
    Command::Cas { key, expected, new }
}

fn no_handoff(mut c: QuorumConfig) -> QuorumConfig {
    c.hinted_handoff = false;
    c
}

#[test]
fn preference_lists_wrap_around_the_ring() {
    assert_eq!(preference_list(3, 5, 3), vec![3, 4, 0]);
    assert_eq!(fallbacks(3, 5, 3), vec![1, 2]);
    assert_eq!(preference_list(9, 3, 3), vec![0, 1, 2]);
    assert!(fallbacks(9, 3, 3).is_empty());
    assert_eq!(preference_list(1, 2, 5), vec![1, 0]);
    assert!(preference_list(1, 0, 3).is_empty());
}

#[test]
fn bad_configurations_are_refused_not_panicked_on() {
    let check = |config: QuorumConfig, nodes: usize, expect: ConfigError| {
        assert_eq!(config.validate(nodes), Err(expect.clone()));
        let ctx = NodeContext {
            id: 0,
            nodes,
            entropy: 0,
        };
        let err = QuorumNode::start(ctx, &config, Box::new(SimDisk::new()), 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("choose") || err.to_string().contains("must"));
    };
    check(
        QuorumConfig::new(4, 1, 1),
        3,
        ConfigError::N { n: 4, nodes: 3 },
    );
    check(QuorumConfig::new(3, 0, 1), 3, ConfigError::R { r: 0, n: 3 });
    check(QuorumConfig::new(3, 1, 4), 3, ConfigError::W { w: 4, n: 3 });
    let mut c = QuorumConfig::new(3, 2, 2);
    c.handoff_after_us = c.request_timeout_us;
    check(
        c.clone(),
        3,
        ConfigError::Timeouts {
            handoff_after_us: c.request_timeout_us,
            request_timeout_us: c.request_timeout_us,
        },
    );
    assert!(QuorumConfig::default().overlapping());
    assert!(!QuorumConfig::new(3, 1, 1).overlapping());
}

#[test]
fn a_write_is_read_back_through_any_coordinator() {
    let mut c = Cluster::new(5, QuorumConfig::new(3, 2, 2));
    for key in 0..5 {
        assert_eq!(
            c.call(key as NodeId, write(key, 10 + i64::from(key))),
            Some(Reply::Done)
        );
    }
    for key in 0..5 {
        for coordinator in 0..5 {
            let got = c.call(coordinator, read(key));
            assert_eq!(got, Some(Reply::Read(Some(10 + i64::from(key)))));
        }
    }
    assert_eq!(c.call(0, read(99)), Some(Reply::Read(None)));
    // Key 1 lives on nodes 1, 2, 3 only.
    c.run_for(100_000);
    assert!(!c.node(0).state().contains_key(&1));
    assert_eq!(c.node(3).state().get(&1), Some(&11));
    assert!(c.replicas_agree(1));
    assert_eq!(c.node(0).operations_in_flight(), 0);
}

#[test]
fn r_plus_w_at_most_n_reads_stale() {
    // N = 3, R = 1, W = 1: node 0 acknowledges its own copy alone; node 1
    // answers a read from its own (empty) copy.
    let mut c = Cluster::new(3, no_handoff(QuorumConfig::new(3, 1, 1)));
    c.cut.insert((0, 1));
    c.cut.insert((0, 2));
    assert_eq!(c.call(0, write(0, 7)), Some(Reply::Done));
    assert_eq!(c.call(1, read(0)), Some(Reply::Read(None)), "a stale read");
}

#[test]
fn a_write_short_of_w_is_uncertain_and_may_surface_later() {
    let mut c = Cluster::new(3, no_handoff(QuorumConfig::new(3, 2, 2)));
    c.isolate(0);
    assert_eq!(c.call(0, write(0, 7)), Some(Reply::Uncertain));
    assert_eq!(c.node(0).state().get(&0), Some(&7), "it landed on node 0");
    c.heal();
    // Nodes 1 and 2 alone say "absent"; node 0 with one other says 7.
    c.cut.insert((0, 1));
    c.cut.insert((0, 2));
    assert_eq!(c.call(1, read(0)), Some(Reply::Read(None)));
    c.heal();
    assert_eq!(c.call(0, read(0)), Some(Reply::Read(Some(7))));
    c.run_for(10_000);
    assert!(c.replicas_agree(0), "read repair spread it");
}

#[test]
fn read_repair_updates_replicas_that_answered_stale() {
    let mut c = Cluster::new(3, no_handoff(QuorumConfig::new(3, 2, 2)));
    c.isolate(2);
    assert_eq!(c.call(0, write(0, 1)), Some(Reply::Done));
    c.heal();
    assert!(!c.replicas_agree(0));
    assert_eq!(c.call(2, read(0)), Some(Reply::Read(Some(1))));
    c.run_for(10_000);
    assert!(c.replicas_agree(0));
    assert_eq!(c.node(2).state().get(&0), Some(&1));

    // Without read repair the stale replica stays stale.
    let mut config = no_handoff(QuorumConfig::new(3, 2, 2));
    config.read_repair = false;
    let mut c = Cluster::new(3, config);
    c.isolate(2);
    assert_eq!(c.call(0, write(0, 1)), Some(Reply::Done));
    c.heal();
    assert_eq!(c.call(2, read(0)), Some(Reply::Read(Some(1))));
    c.run_for(100_000);
    assert!(!c.replicas_agree(0));
}

#[test]
fn hinted_handoff_delivers_to_the_owner_after_healing() {
    // Key 0 lives on 0, 1, 2; node 3 is the first fallback.
    let mut c = Cluster::new(4, QuorumConfig::new(3, 2, 2));
    c.isolate(2);
    assert_eq!(c.call(0, write(0, 5)), Some(Reply::Done));
    c.run_for(c.config.handoff_after_us + 5_000);
    assert_eq!(c.node(3).hints().len(), 1, "node 3 holds a hint for node 2");
    assert!(c.node(3).state().is_empty(), "a hint is not a replica");
    assert_eq!(c.node(3).role(), "replica, 1 hints");
    c.run_for(100_000);
    assert_eq!(c.node(3).hints().len(), 1, "node 2 is still unreachable");
    c.heal();
    c.run_for(2 * c.config.hint_retry_us);
    assert!(c.node(3).hints().is_empty());
    assert!(c.replicas_agree(0));
    assert_eq!(c.node(2).state().get(&0), Some(&5));
}

#[test]
fn hints_survive_a_crash_of_their_holder() {
    let mut c = Cluster::new(4, QuorumConfig::new(3, 2, 2));
    c.isolate(2);
    assert_eq!(c.call(0, write(0, 5)), Some(Reply::Done));
    c.run_for(c.config.handoff_after_us + 5_000);
    c.crash(3);
    c.restart(3);
    assert_eq!(c.node(3).hints().len(), 1);
    c.heal();
    c.run_for(2 * c.config.hint_retry_us);
    assert!(c.replicas_agree(0));
}

#[test]
fn a_sloppy_quorum_counts_fallbacks() {
    let check = |sloppy: bool, expect: Reply| {
        let mut config = QuorumConfig::new(3, 3, 3);
        config.sloppy = sloppy;
        let mut c = Cluster::new(4, config);
        c.isolate(2);
        assert_eq!(c.call(0, write(0, 5)), Some(expect), "sloppy: {sloppy}");
    };
    check(true, Reply::Done);
    check(false, Reply::Uncertain);
}

#[test]
fn acknowledged_writes_survive_crashes_of_every_replica() {
    let mut c = Cluster::new(3, QuorumConfig::new(3, 3, 3));
    assert_eq!(c.call(1, write(2, 9)), Some(Reply::Done));
    for id in 0..3 {
        c.crash(id);
    }
    for id in 0..3 {
        c.restart(id);
    }
    assert_eq!(c.call(0, read(2)), Some(Reply::Read(Some(9))));
    // The restarted coordinator issues versions above its old ones.
    assert_eq!(c.call(1, write(2, 10)), Some(Reply::Done));
    assert_eq!(c.call(2, read(2)), Some(Reply::Read(Some(10))));
}

#[test]
fn compare_and_set_reads_then_writes() {
    let mut c = Cluster::new(3, QuorumConfig::new(3, 2, 2));
    let mismatch = |found| Some(Reply::Rejected(Rejection::CasMismatch { found }));
    assert_eq!(c.call(0, cas(0, 1, 2)), mismatch(None));
    assert_eq!(c.call(0, write(0, 1)), Some(Reply::Done));
    assert_eq!(c.call(1, cas(0, 1, 2)), Some(Reply::Done));
    assert_eq!(c.call(2, cas(0, 1, 3)), mismatch(Some(2)));
    assert_eq!(c.call(2, read(0)), Some(Reply::Read(Some(2))));
}

#[test]
fn two_concurrent_compare_and_sets_both_succeed() {
    // Not atomic: both coordinators read 1 before either writes.
    let mut c = Cluster::new(3, QuorumConfig::new(3, 2, 2));
    assert_eq!(c.call(0, write(0, 1)), Some(Reply::Done));
    let a = c.submit(1, cas(0, 1, 2));
    let b = c.submit(2, cas(0, 1, 3));
    c.run_for(20_000);
    assert_eq!(c.reply(a), Some(Reply::Done));
    assert_eq!(c.reply(b), Some(Reply::Done), "a non-linearizable history");
}

#[test]
fn a_slow_clock_loses_an_acknowledged_write() {
    // Node 1's clock runs 100 ms behind: its later write gets an older
    // version, and last-writer-wins keeps the earlier one.
    let mut config = QuorumConfig::new(3, 2, 2);
    config.clock_skew_us = vec![0, -100_000, 0];
    let mut c = Cluster::new(3, config);
    c.run_until(200_000);
    assert_eq!(c.call(0, write(0, 1)), Some(Reply::Done));
    assert_eq!(c.call(1, write(0, 2)), Some(Reply::Done));
    assert_eq!(c.call(2, read(0)), Some(Reply::Read(Some(1))));
}

#[test]
fn unavailable_reads_are_rejected() {
    let mut c = Cluster::new(3, QuorumConfig::new(3, 2, 2));
    c.isolate(0);
    assert_eq!(
        c.call(0, read(0)),
        Some(Reply::Rejected(Rejection::Unavailable))
    );
    assert_eq!(
        c.call(0, cas(0, 1, 2)),
        Some(Reply::Rejected(Rejection::Unavailable))
    );
    assert_eq!(c.node(0).operations_in_flight(), 0);
}

#[test]
fn a_retried_request_is_answered_once_per_execution() {
    let mut c = Cluster::new(3, QuorumConfig::new(3, 2, 2));
    let id = RequestId { client: 77, seq: 0 };
    let request = Request {
        id,
        command: cas(0, 0, 1),
    };
    c.call(0, write(0, 0));
    c.resubmit(1, request);
    c.resubmit(1, request); // In flight: ignored.
    c.run_for(20_000);
    assert_eq!(c.reply(id), Some(Reply::Done));
    c.resubmit(1, request); // Done: answered again, not executed again.
    c.run_for(20_000);
    assert_eq!(c.replies[&id], vec![Reply::Done, Reply::Done]);
    assert_eq!(c.call(2, read(0)), Some(Reply::Read(Some(1))));
}

#[test]
fn misaddressed_messages_are_ignored() {
    let mut c = Cluster::new(4, QuorumConfig::new(3, 2, 2));
    let value = Versioned {
        version: Version {
            timestamp_us: 1,
            coordinator: 0,
            counter: 0,
        },
        value: 1,
    };
    let node = c.nodes[3].as_mut().unwrap();
    // Node 3 is not a replica of key 0, nor may it hold a hint for itself.
    node.handle_message(
        1,
        0,
        Message::Put {
            op: 1,
            key: 0,
            value,
            hint_for: None,
        },
    );
    node.handle_message(
        1,
        0,
        Message::Put {
            op: 1,
            key: 0,
            value,
            hint_for: Some(3),
        },
    );
    node.handle_message(1, 0, Message::Repair { key: 0, value });
    node.handle_message(1, 99, Message::Get { op: 1, key: 0 });
    assert!(node.poll_output().is_none());
    assert!(node.state().is_empty());
    node.check_invariants().unwrap();
}

#[test]
fn versions_never_go_back_after_a_compare_and_set_bumps_them() {
    // Node 0's clock is 1 s ahead: its write forces node 1's compare-and-set
    // above node 1's own clock; node 1's next write must still be newer.
    let mut config = QuorumConfig::new(3, 2, 2);
    config.clock_skew_us = vec![1_000_000];
    let mut c = Cluster::new(3, config);
    assert_eq!(c.call(0, write(0, 1)), Some(Reply::Done));
    assert_eq!(c.call(1, cas(0, 1, 2)), Some(Reply::Done));
    assert_eq!(c.call(1, write(0, 3)), Some(Reply::Done));
    assert_eq!(c.call(2, read(0)), Some(Reply::Read(Some(3))));
}
