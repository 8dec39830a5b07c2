//! Unit tests over a tiny deterministic message pump (the full simulator
//! drives the scenario tests in `tests/raft_6824.rs`).

use std::collections::{BTreeMap, BTreeSet};

use kv::{Crash, SimDisk};

use super::*;

/// Delivers messages after a fixed latency (plus a little deterministic
/// jitter), fires timeouts, and checks every node with a monitor.
struct Pump<A: App = Register> {
    config: RaftConfig,
    nodes: Vec<Option<RaftNode<A>>>,
    disks: Vec<SimDisk>,
    queue: BTreeMap<(Time, u64), (NodeId, NodeId, RaftMessage<A>)>,
    cut: BTreeSet<NodeId>,
    now: Time,
    seq: u64,
    starts: u64,
    replies: BTreeMap<RequestId, ClientReply<A::Output>>,
    monitor: RaftMonitor<A>,
}

impl Pump {
    fn new(n: usize, config: RaftConfig) -> Self {
        Self::start(n, config)
    }

    /// The register's reply to `id`, as a client of [`Node`] hears it.
    fn reply(&self, id: RequestId) -> Option<Reply> {
        self.replies.get(&id).cloned().map(register_reply)
    }

    fn write(&mut self, client: u64, value: Value) -> RequestId {
        let leader = self.leader().expect("a leader");
        let id = self.submit(leader, client, 1, Command::Write { key: 1, value });
        self.run_for(100_000);
        id
    }
}

impl<A: App> Pump<A> {
    fn start(n: usize, config: RaftConfig) -> Self {
        let mut pump = Pump {
            config,
            nodes: (0..n).map(|_| None).collect(),
            disks: (0..n).map(|_| SimDisk::new()).collect(),
            queue: BTreeMap::new(),
            cut: BTreeSet::new(),
            now: 0,
            seq: 0,
            starts: 0,
            replies: BTreeMap::new(),
            monitor: RaftMonitor::default(),
        };
        for id in 0..n {
            pump.restart(id);
        }
        pump
    }

    fn restart(&mut self, id: NodeId) {
        self.starts += 1;
        let ctx = NodeContext {
            id,
            nodes: self.nodes.len(),
            entropy: splitmix64(self.starts),
        };
        let disk = Box::new(self.disks[id].clone());
        let node = RaftNode::open(ctx, &self.config, disk, self.now).unwrap();
        self.nodes[id] = Some(node);
        self.after(id);
    }

    fn crash(&mut self, id: NodeId) {
        self.nodes[id] = None;
        self.disks[id].crash(Crash::Torn { seed: self.now });
    }

    fn node(&self, id: NodeId) -> &RaftNode<A> {
        self.nodes[id].as_ref().unwrap()
    }

    fn after(&mut self, id: NodeId) {
        let node = self.nodes[id].as_mut().unwrap();
        let mut out = Vec::new();
        while let Some(o) = node.poll_event() {
            out.push(o);
        }
        self.monitor
            .check(self.now, id, self.nodes[id].as_ref().unwrap())
            .unwrap();
        for o in out {
            match o {
                Output::Send { to, msg } => {
                    self.seq += 1;
                    let latency = 1_000 + (splitmix64(self.seq) % 1_000);
                    self.queue
                        .insert((self.now + latency, self.seq), (id, to, msg));
                }
                Output::Reply { request, reply } => {
                    self.replies.insert(request, reply);
                }
            }
        }
    }

    fn run_until(&mut self, until: Time) {
        loop {
            let message = self.queue.keys().next().map(|&(t, _)| t);
            let timer = (0..self.nodes.len())
                .filter_map(|i| Some((self.nodes[i].as_ref()?.poll_timeout()?, i)))
                .min();
            let next = message.into_iter().chain(timer.map(|t| t.0)).min();
            let Some(next) = next.filter(|&t| t <= until) else {
                break;
            };
            self.now = next;
            if message == Some(next) {
                let (_, (from, to, msg)) = self.queue.pop_first().unwrap();
                let blocked = self.cut.contains(&from) || self.cut.contains(&to);
                if let (false, Some(node)) = (blocked, self.nodes[to].as_mut()) {
                    node.handle_message(next, from, msg);
                    self.after(to);
                }
            } else if let Some((_, id)) = timer {
                self.nodes[id].as_mut().unwrap().handle_timeout(next);
                self.after(id);
            }
        }
        self.now = until;
    }

    fn run_for(&mut self, d: Time) {
        self.run_until(self.now + d);
    }

    fn leader(&self) -> Option<NodeId> {
        (0..self.nodes.len())
            .filter(|i| !self.cut.contains(i))
            .filter(|&i| self.nodes[i].as_ref().is_some_and(RaftNode::is_leader))
            .max_by_key(|&i| self.node(i).term())
    }

    fn submit(&mut self, to: NodeId, client: u64, seq: u64, command: A::Command) -> RequestId {
        let id = RequestId { client, seq };
        self.nodes[to]
            .as_mut()
            .unwrap()
            .handle_request(self.now, Request { id, command });
        self.after(to);
        id
    }
}

#[test]
fn three_nodes_elect_one_leader_and_replicate_writes() {
    let mut pump = Pump::new(3, RaftConfig::default());
    pump.run_for(1_000_000);
    let leader = pump.leader().expect("a leader after 1 s");
    for v in 0..10 {
        let id = pump.write(100 + v as u64, v);
        assert_eq!(pump.reply(id), Some(Reply::Done));
    }
    for i in 0..3 {
        assert_eq!(pump.node(i).state().get(&1), Some(&9), "node {i}");
        assert_eq!(
            pump.node(i).commit_index(),
            pump.node(leader).commit_index()
        );
    }
    let r = pump.submit(leader, 1, 1, Command::Read { key: 1 });
    pump.run_for(50_000);
    assert_eq!(pump.reply(r), Some(Reply::Read(Some(9))));
    let f = (leader + 1) % 3;
    let r = pump.submit(f, 1, 2, Command::Read { key: 1 });
    assert_eq!(
        pump.reply(r),
        Some(Reply::Rejected(Rejection::NotLeader {
            leader: Some(leader)
        }))
    );
}

#[test]
fn reads_through_the_log_see_the_last_write() {
    let config = RaftConfig {
        read_mode: ReadMode::Log,
        ..RaftConfig::default()
    };
    let mut pump = Pump::new(3, config);
    pump.run_for(1_000_000);
    pump.write(1, 42);
    let leader = pump.leader().unwrap();
    let last = pump.node(leader).last_log_index();
    let r = pump.submit(leader, 2, 1, Command::Read { key: 1 });
    pump.run_for(50_000);
    assert_eq!(pump.reply(r), Some(Reply::Read(Some(42))));
    assert_eq!(pump.node(leader).last_log_index(), last + 1);
}

#[test]
fn a_retried_write_is_applied_once() {
    let mut pump = Pump::new(3, RaftConfig::default());
    pump.run_for(1_000_000);
    let leader = pump.leader().unwrap();
    let cas = Command::Cas {
        key: 1,
        expected: 0,
        new: 1,
    };
    pump.write(9, 0);
    let id = pump.submit(leader, 7, 1, cas);
    // The retry arrives while the first is in flight, and again later.
    pump.submit(leader, 7, 1, cas);
    pump.run_for(100_000);
    assert_eq!(pump.reply(id), Some(Reply::Done));
    pump.write(8, 0);
    pump.replies.clear();
    pump.submit(leader, 7, 1, cas);
    assert_eq!(pump.reply(id), Some(Reply::Done));
    pump.run_for(100_000);
    assert_eq!(pump.node(leader).state().get(&1), Some(&0), "applied once");
}

#[test]
fn a_cluster_recovers_its_log_after_every_node_crashes() {
    let mut pump = Pump::new(3, RaftConfig::default());
    pump.run_for(1_000_000);
    for v in 0..5 {
        pump.write(v as u64 + 1, v);
    }
    let term = pump.node(0).term();
    for i in 0..3 {
        pump.crash(i);
    }
    for i in 0..3 {
        pump.restart(i);
        assert!(pump.node(i).term() >= term);
    }
    pump.run_for(1_000_000);
    pump.write(50, 50);
    for i in 0..3 {
        assert_eq!(pump.node(i).state().get(&1), Some(&50), "node {i}");
        assert!(pump.node(i).last_applied() >= 7);
    }
}

#[test]
fn a_lagging_follower_is_sent_the_snapshot() {
    let config = RaftConfig {
        snapshot_threshold_entries: 5,
        ..RaftConfig::default()
    };
    let mut pump = Pump::new(3, config);
    pump.run_for(1_000_000);
    let leader = pump.leader().unwrap();
    let lagging = (leader + 1) % 3;
    pump.cut.insert(lagging);
    for v in 0..20 {
        pump.write(v as u64 + 1, v);
    }
    assert!(pump.node(leader).snapshot_index() > 10);
    pump.cut.clear();
    pump.run_for(1_000_000);
    pump.write(99, 99);
    for i in 0..3 {
        assert_eq!(pump.node(i).state().get(&1), Some(&99), "node {i}");
        assert!(pump.node(i).snapshot_index() > 10, "node {i} snapshotted");
    }
    // A restart recovers from the compacted log.
    pump.crash(lagging);
    pump.restart(lagging);
    assert!(pump.node(lagging).snapshot_index() > 10);
    pump.run_for(500_000);
    assert_eq!(pump.node(lagging).state().get(&1), Some(&99));
}

#[test]
fn bad_configuration_and_corrupt_storage_are_errors() {
    let ctx = NodeContext {
        id: 0,
        nodes: 1,
        entropy: 0,
    };
    let bad = RaftConfig {
        heartbeat_interval_us: 500_000,
        ..RaftConfig::default()
    };
    assert_eq!(
        bad.validate(),
        Err(ConfigError::Heartbeat {
            heartbeat: 500_000,
            min: 150_000
        })
    );
    let err = <RaftNode>::start(ctx.clone(), &bad, Box::new(SimDisk::new()), 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let empty_range = RaftConfig {
        election_timeout_min_us: 400_000,
        election_timeout_max_us: 300_000,
        ..RaftConfig::default()
    };
    assert_eq!(
        empty_range.validate(),
        Err(ConfigError::ElectionTimeout {
            min: 400_000,
            max: 300_000
        })
    );
    let stuck = RaftConfig {
        max_entries_per_append: 0,
        ..RaftConfig::default()
    };
    assert_eq!(stuck.validate(), Err(ConfigError::MaxEntriesPerAppend));
    let disk = SimDisk::new();
    let (mut log, _) = RecordLog::open(Box::new(disk.clone()), LOG_FILE).unwrap();
    log.append(&[42, 1, 2]).unwrap();
    log.sync().unwrap();
    let err = <RaftNode>::start(ctx, &RaftConfig::default(), Box::new(disk), 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn election_timeouts_are_spread_over_the_range() {
    let config = RaftConfig::default();
    let mut seen = BTreeSet::new();
    for entropy in 0..50 {
        let ctx = NodeContext {
            id: 0,
            nodes: 3,
            entropy,
        };
        let node = <RaftNode>::start(ctx, &config, Box::new(SimDisk::new()), 0).unwrap();
        let t = node.poll_timeout().unwrap();
        assert!((150_000..=300_000).contains(&t), "{t}");
        seen.insert(t / 30_000);
    }
    assert!(seen.len() >= 4, "timeouts cluster: {seen:?}");
}

/// The second application: a 3-node cluster replicates a [`Journal`]
/// through elections, a partitioned follower caught up by InstallSnapshot,
/// a crash and a restart from disk, and ends with every replica's snapshot
/// bytes equal (App contract 1 and 2, through Raft).
#[test]
fn a_journal_replicates_and_every_replica_snapshots_the_same_bytes() {
    use crate::journal::{Journal, JournalCommand, JournalOutput};
    let config = RaftConfig {
        snapshot_threshold_entries: 4,
        ..RaftConfig::default()
    };
    let mut pump = Pump::<Journal>::start(3, config);
    pump.run_for(1_000_000);
    let leader = pump.leader().expect("a leader after 1 s");
    let lagging = (leader + 1) % 3;
    pump.cut.insert(lagging);
    let mut appended = Vec::new();
    for k in 0..10u64 {
        let item = k as i64 * 7 - 20;
        let id = pump.submit(leader, 1, k + 1, JournalCommand::Append { item });
        pump.run_for(100_000);
        let want = ClientReply::Applied(JournalOutput::Appended { position: k });
        assert_eq!(pump.replies.get(&id), Some(&want), "append {k}");
        appended.push(item);
    }
    // A retry is answered from the session table and appended once; one
    // older than the client's last append is known applied, not where.
    let retry = pump.submit(leader, 1, 10, JournalCommand::Append { item: 43 });
    let want = ClientReply::Applied(JournalOutput::Appended { position: 9 });
    assert_eq!(pump.replies.get(&retry), Some(&want));
    let old = pump.submit(leader, 1, 3, JournalCommand::Append { item: -6 });
    let want = ClientReply::Applied(JournalOutput::Forgotten);
    assert_eq!(pump.replies.get(&old), Some(&want));
    // Reads are served by ReadIndex, without a log entry.
    let last = pump.node(leader).last_log_index();
    let read = pump.submit(leader, 2, 1, JournalCommand::Read { position: 9 });
    pump.run_for(100_000);
    let want = ClientReply::Applied(JournalOutput::Item(Some(43)));
    assert_eq!(pump.replies.get(&read), Some(&want));
    assert_eq!(pump.node(leader).last_log_index(), last);
    // The cut follower lags behind the compacted prefix: heal it, then
    // crash and restart the third node, which restores from its disk.
    assert!(pump.node(leader).snapshot_index() > pump.node(lagging).last_log_index());
    pump.cut.clear();
    pump.run_for(1_000_000);
    let third = (leader + 2) % 3;
    pump.crash(third);
    pump.restart(third);
    pump.run_for(2_000_000);
    let bytes = pump.node(leader).state_machine().snapshot();
    for i in 0..3 {
        let node = pump.node(i);
        assert_eq!(node.state_machine().items, appended, "node {i}");
        assert_eq!(node.state_machine().snapshot(), bytes, "node {i}");
        node.state_machine().check_invariants().unwrap();
    }
}
