//! A 6.824-style `Cluster` harness over the simulator, shared by the Raft
//! test files: every run carries a [`RaftMonitor`], and every failure
//! names the seed and the command that replays it.

#![allow(dead_code, unreachable_pub)]

pub mod scenarios;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use replication::protocol::{Command, NodeId, Reply, Request, RequestId, Time, Value};
use replication::raft::{Entry, LogIndex, Payload, RaftConfig, RaftMonitor, RaftNode, Term};
use replication::sim::{Monitor, MonitorError, NetworkConfig, Sim, SimConfig};

/// One millisecond of virtual time.
pub const MS: Time = 1_000;

/// The longest election timeout of the default configuration.
pub const ELECTION_TIMEOUT: Time = 300 * MS;

/// The seeds a test runs: `STRATA_SEED=s` replays one, `STRATA_SEEDS=n`
/// runs `0..n` (default 5).
pub fn seeds() -> std::ops::Range<u64> {
    if let Some(seed) = std::env::var("STRATA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        return seed..seed + 1;
    }
    let n = std::env::var("STRATA_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    0..n
}

/// Shares one monitor between the simulator and the harness's queries.
struct Shared(Rc<RefCell<RaftMonitor>>);

impl Monitor<RaftNode> for Shared {
    fn after(&mut self, now: Time, id: NodeId, node: &RaftNode) -> Result<(), MonitorError> {
        Ok(self.0.borrow_mut().check(now, id, node)?)
    }
}

/// A simulated Raft cluster with 6.824's helpers.
pub struct Cluster {
    /// The simulator.
    pub sim: Sim<RaftNode>,
    /// The safety monitor attached to every node.
    pub monitor: Rc<RefCell<RaftMonitor>>,
    /// The run's seed.
    pub seed: u64,
    /// The test's name, for the replay command.
    pub name: &'static str,
    connected: Vec<bool>,
    next_value: Value,
    /// Every reply clients received, by request.
    pub replies: BTreeMap<RequestId, Reply>,
}

impl Cluster {
    /// `n` nodes on a reliable network.
    pub fn new(name: &'static str, seed: u64, n: usize, config: RaftConfig) -> Self {
        Self::with_network(name, seed, n, config, NetworkConfig::reliable())
    }

    /// `n` nodes on the given network.
    pub fn with_network(
        name: &'static str,
        seed: u64,
        n: usize,
        config: RaftConfig,
        network: NetworkConfig,
    ) -> Self {
        let mut sim_config = SimConfig::new(seed, n);
        sim_config.network = network;
        let mut sim = Sim::new(sim_config, config);
        let monitor = Rc::new(RefCell::new(RaftMonitor::new()));
        sim.add_monitor(Box::new(Shared(Rc::clone(&monitor))));
        let cluster = Cluster {
            sim,
            monitor,
            seed,
            name,
            connected: vec![true; n],
            next_value: 1,
            replies: BTreeMap::new(),
        };
        cluster.check_violation();
        cluster
    }

    /// Panics with the seed and the replay command.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n  seed {seed}; replay: STRATA_SEED={seed} cargo test -p replication --all-features {name}",
            seed = self.seed,
            name = self.name
        )
    }

    /// Fails unless `ok`.
    #[track_caller]
    pub fn ensure(&self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.fail(&what());
        }
    }

    /// Fails if the monitor reported a violation.
    #[track_caller]
    pub fn check_violation(&self) {
        if let Some(v) = self.sim.violation() {
            self.fail(&format!("safety violation: {v}"));
        }
    }

    /// The number of nodes.
    pub fn n(&self) -> usize {
        self.sim.nodes()
    }

    /// Runs for `d` microseconds, then checks the monitor.
    #[track_caller]
    pub fn run_for(&mut self, d: Time) {
        self.run_quietly(d);
        self.check_violation();
    }

    /// Runs for `d` microseconds, collecting replies, without failing on a
    /// violation (see [`Sim::violation`]).
    pub fn run_quietly(&mut self, d: Time) {
        self.sim.run_for(d);
        for (_, _, id, reply) in self.sim.take_replies() {
            self.replies.insert(id, reply);
        }
    }

    /// Runs in steps of `step` for at most `limit`, until `done` holds (or a
    /// violation stops the simulation). Returns whether `done` held.
    pub fn run_until_quietly(
        &mut self,
        step: Time,
        limit: Time,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let until = self.sim.now() + limit;
        while self.sim.now() < until && self.sim.violation().is_none() {
            if done(self) {
                return true;
            }
            self.run_quietly(step);
        }
        done(self)
    }

    /// A draw from the run's seeded stream.
    pub fn random(&mut self, bound: u64) -> u64 {
        self.sim.random_below(bound)
    }

    /// 6.824's `disconnect(i)`.
    pub fn disconnect(&mut self, i: NodeId) {
        self.connected[i] = false;
        self.sim.isolate(i);
    }

    /// 6.824's `connect(i)`: links to every connected node reopen.
    pub fn connect(&mut self, i: NodeId) {
        self.connected[i] = true;
        self.sim.connect(i);
        for j in 0..self.n() {
            if !self.connected[j] {
                self.sim.block(i, j);
                self.sim.block(j, i);
            }
        }
    }

    /// Crashes node `i` (its disk keeps what it synced).
    pub fn crash(&mut self, i: NodeId) {
        self.sim.crash(i);
    }

    /// Restarts node `i` from its disk.
    #[track_caller]
    pub fn restart(&mut self, i: NodeId) {
        self.sim.restart(i);
        self.check_violation();
    }

    /// Whether node `i` is up and connected.
    pub fn is_live(&self, i: NodeId) -> bool {
        self.connected[i] && self.sim.is_up(i)
    }

    /// Node `i`, if up.
    pub fn node(&self, i: NodeId) -> Option<&RaftNode> {
        self.sim.node(i)
    }

    /// The leaders among live nodes, by term.
    fn live_leaders(&self) -> BTreeMap<Term, Vec<NodeId>> {
        let mut leaders: BTreeMap<Term, Vec<NodeId>> = BTreeMap::new();
        for i in (0..self.n()).filter(|&i| self.is_live(i)) {
            if let Some(node) = self.node(i).filter(|n| n.is_leader()) {
                leaders.entry(node.term()).or_default().push(i);
            }
        }
        leaders
    }

    /// 6.824's `checkOneLeader`: within a few election timeouts, exactly
    /// one live node leads the newest term.
    #[track_caller]
    pub fn check_one_leader(&mut self) -> NodeId {
        for _ in 0..10 {
            let pause = 450 * MS + self.random(100 * MS);
            self.run_for(pause);
            let leaders = self.live_leaders();
            for (term, ids) in &leaders {
                self.ensure(ids.len() == 1, || {
                    format!("term {term} has {} leaders: {ids:?}", ids.len())
                });
            }
            if let Some((_, ids)) = leaders.last_key_value() {
                return ids[0];
            }
        }
        self.fail("expected one leader, got none")
    }

    /// 6.824's `checkTerms`: every live node is in the same term.
    #[track_caller]
    pub fn check_terms(&self) -> Term {
        let terms: Vec<(NodeId, Term)> = (0..self.n())
            .filter(|&i| self.is_live(i))
            .filter_map(|i| Some((i, self.node(i)?.term())))
            .collect();
        let first = terms.first().map_or(0, |t| t.1);
        self.ensure(terms.iter().all(|t| t.1 == first), || {
            format!("servers disagree on term: {terms:?}")
        });
        first
    }

    /// 6.824's `checkNoLeader`.
    #[track_caller]
    pub fn check_no_leader(&self) {
        let leaders = self.live_leaders();
        self.ensure(leaders.is_empty(), || {
            format!("expected no leader among connected servers, got {leaders:?}")
        });
    }

    /// How many up nodes applied `index`, and the committed entry there.
    pub fn n_committed(&self, index: LogIndex) -> (usize, Option<Entry>) {
        let count = (0..self.n())
            .filter_map(|i| self.node(i))
            .filter(|node| node.last_applied() >= index)
            .count();
        (count, self.monitor.borrow().committed(index))
    }

    /// A fresh value (unique per run).
    pub fn value(&mut self) -> Value {
        self.next_value += 1;
        self.next_value
    }

    /// 6.824's `rf.Start`: submits a write of `value` to node `to` as a
    /// fresh client request.
    pub fn start(&mut self, to: NodeId, value: Value) -> RequestId {
        self.sim.submit(to, Command::Write { key: 0, value })
    }

    /// Where request `id` committed, if it did.
    pub fn committed_index_of(&self, id: RequestId) -> Option<LogIndex> {
        self.monitor.borrow().committed_index_of(id)
    }

    /// 6.824's `one(cmd, expectedServers, retry)`: gets a write of `value`
    /// committed on at least `expected` nodes within 10 virtual seconds,
    /// offering it to whichever live node claims leadership (the same
    /// request id on every retry, so it applies once). Returns its index.
    #[track_caller]
    pub fn one(&mut self, value: Value, expected: usize, retry: bool) -> LogIndex {
        let deadline = self.sim.now() + 10_000 * MS;
        let mut id: Option<RequestId> = None;
        let mut next = 0;
        while self.sim.now() < deadline {
            let mut leader = None;
            for k in 0..self.n() {
                let i = (next + k) % self.n();
                if self.is_live(i) && self.node(i).is_some_and(RaftNode::is_leader) {
                    leader = Some(i);
                    break;
                }
            }
            let Some(leader) = leader else {
                self.run_for(20 * MS);
                continue;
            };
            next = leader + 1;
            let request = *id.get_or_insert_with(|| RequestId {
                client: 1_000_000 + value as u64,
                seq: 1,
            });
            self.sim.submit_as(
                leader,
                Request {
                    id: request,
                    command: Command::Write { key: 0, value },
                },
            );
            let waited_until = self.sim.now() + 2_000 * MS;
            while self.sim.now() < waited_until {
                self.run_for(20 * MS);
                if let Some(index) = self.committed_index_of(request) {
                    let (count, _) = self.n_committed(index);
                    if count >= expected {
                        return index;
                    }
                }
            }
            if !retry {
                self.fail(&format!("one({value}) failed to reach agreement"));
            }
        }
        self.fail(&format!(
            "one({value}) failed to reach agreement on {expected} servers in 10 s"
        ))
    }

    /// The writes a client heard `Done` for that no node applied.
    pub fn lost_acknowledged_writes(&self) -> Vec<RequestId> {
        self.replies
            .iter()
            .filter(|(id, reply)| **reply == Reply::Done && self.committed_index_of(**id).is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Checks that every write a client heard `Done` for is committed —
    /// an acknowledged write is never lost.
    #[track_caller]
    pub fn check_acknowledged_writes_committed(&self) {
        let lost = self.lost_acknowledged_writes();
        self.ensure(lost.is_empty(), || {
            format!("requests {lost:?} were acknowledged but are not in the committed log")
        });
    }

    /// Restarts every crashed node, reconnects every node, and waits until
    /// one more write commits on all of them.
    #[track_caller]
    pub fn recover_all(&mut self) -> LogIndex {
        for i in 0..self.n() {
            if !self.sim.is_up(i) {
                self.restart(i);
            }
            self.connect(i);
        }
        let v = self.value();
        let index = self.one(v, self.n(), true);
        // Wait until everyone applied everything the leader did.
        for _ in 0..100 {
            let last = self.monitor.borrow().last_committed();
            if self.n_committed(last).0 == self.n() {
                break;
            }
            self.run_for(20 * MS);
        }
        index
    }

    /// Checks that all nodes that applied through the same index hold the
    /// same map (state-machine safety, seen from outside).
    #[track_caller]
    pub fn check_converged(&self) {
        let states: Vec<_> = (0..self.n())
            .filter_map(|i| self.node(i))
            .map(|n| (n.id(), n.last_applied(), n.state_machine().kv.clone()))
            .collect();
        let Some(max) = states.iter().map(|s| s.1).max() else {
            return;
        };
        let done: Vec<_> = states.iter().filter(|s| s.1 == max).collect();
        for s in &done {
            self.ensure(s.2 == done[0].2, || {
                format!(
                    "nodes {} and {} applied through {max} but hold different maps",
                    done[0].0, s.0
                )
            });
        }
    }
}

/// Whether `entry` is a client write of `value`.
pub fn writes(entry: Option<Entry>, value: Value) -> bool {
    matches!(entry, Some(Entry { payload: Payload::Client(r), .. })
        if r.command == Command::Write { key: 0, value })
}

/// Runs Raft (`raft`) under the workload runner with `config` and a
/// [`RaftMonitor`] plus `extra` monitors, and fails unless the history is
/// linearizable, no monitor objected, the healed cluster served every final
/// read and the replicas converged. `name` names the test in the message.
#[track_caller]
pub fn check_linearizable(
    name: &str,
    config: &replication::sim::workload::RunConfig,
    raft: RaftConfig,
    extra: Vec<Box<dyn Monitor<RaftNode>>>,
) {
    let mut monitors: Vec<Box<dyn Monitor<RaftNode>>> = vec![Box::new(RaftMonitor::new())];
    monitors.extend(extra);
    let report = replication::sim::workload::run::<RaftNode>(config, raft, monitors);
    assert!(
        report.passed(),
        "{name}, seed {}: linearizable {:?}, violation {:?}, served after heal {}, converged {:?}\n  replay: {}",
        config.seed,
        report.linearizable,
        report.violation,
        report.served_after_heal,
        report.converged,
        report.replay,
    );
    assert!(
        report.outcomes[0] > 20,
        "{name}, seed {}: only {} operations succeeded",
        config.seed,
        report.outcomes[0]
    );
}
