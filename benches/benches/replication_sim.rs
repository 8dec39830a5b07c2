//! The replication simulator's speed (issue 6's targets: at least
//! 1,000,000 delivered messages per second on one core, and a 1,000-seed
//! Raft sweep in at most 60 s on 2 cores).
//!
//! Groups (throughput counts delivered messages):
//! * `sim-pingpong`: 5 nodes bouncing 64 tokens between them — the
//!   simulator's own cost per message (event queue, network model, trace
//!   hash) with a protocol that does nothing;
//! * `sim-raft`: a 5-node Raft cluster under a steady stream of client
//!   writes, no faults — the cost per message of a real protocol;
//! * `sim-raft-run`: one whole seeded run as `sim sweep` does it (clients,
//!   random faults, safety monitor, linearizability check), 5 nodes; a
//!   1,000-seed sweep costs 1,000 times this divided by the cores.
//!
//! Run: `cargo bench -p benches --bench replication_sim` (about a minute).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kv::Storage;
use replication::protocol::{
    Command, Key, Node, NodeContext, NodeId, Output, Request, Time, Value,
};
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::workload::{RunConfig, Workload, run};
use replication::sim::{Sim, SimConfig};

/// A node that sends every token it receives on to the next node.
struct PingPong {
    id: NodeId,
    nodes: usize,
    out: Vec<Output<u64>>,
}

impl Node for PingPong {
    type Message = u64;
    type Config = usize;

    fn start(
        ctx: NodeContext,
        tokens: &usize,
        _storage: Box<dyn Storage>,
        _now: Time,
    ) -> std::io::Result<Self> {
        let next = (ctx.id + 1) % ctx.nodes;
        let out = (0..*tokens as u64)
            .map(|t| Output::Send { to: next, msg: t })
            .collect();
        Ok(PingPong {
            id: ctx.id,
            nodes: ctx.nodes,
            out,
        })
    }
    fn handle_message(&mut self, _now: Time, _from: NodeId, msg: u64) {
        let to = (self.id + 1) % self.nodes;
        self.out.push(Output::Send { to, msg: msg + 1 });
    }
    fn handle_client(&mut self, _now: Time, _request: Request) {}
    fn handle_timeout(&mut self, _now: Time) {}
    fn poll_output(&mut self) -> Option<Output<u64>> {
        self.out.pop()
    }
    fn poll_timeout(&self) -> Option<Time> {
        None
    }
    fn state(&self) -> BTreeMap<Key, Value> {
        BTreeMap::new()
    }
    fn role(&self) -> String {
        "node".into()
    }
}

/// Virtual time per measured step.
const STEP_US: Time = 100_000;

fn pingpong(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim-pingpong");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let mut sim: Sim<PingPong> = Sim::new(SimConfig::new(1, 5), 64);
    // Messages per step, measured once (the load is steady).
    let before = sim.messages_delivered();
    sim.run_for(STEP_US);
    let per_step = sim.messages_delivered() - before;
    group.throughput(Throughput::Elements(per_step));
    group.bench_function("5-nodes-64-tokens", |b| {
        b.iter(|| {
            sim.run_for(STEP_US);
            black_box(sim.messages_delivered())
        });
    });
    group.finish();
}

fn raft_writes(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim-raft");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    let mut sim: Sim<RaftNode> = Sim::new(SimConfig::new(1, 5), RaftConfig::default());
    sim.run_for(1_000_000); // elect a leader
    let leader = (0..5)
        .find(|&i| sim.node(i).is_some_and(RaftNode::is_leader))
        .expect("a leader within a second");
    let mut value = 0;
    let mut step = |sim: &mut Sim<RaftNode>| {
        // 100 writes per virtual 10 ms, each from a fresh client session.
        for _ in 0..10 {
            for _ in 0..10 {
                value += 1;
                sim.submit(
                    leader,
                    Command::Write {
                        key: (value % 10) as Key,
                        value,
                    },
                );
            }
            sim.run_for(STEP_US / 10);
            sim.take_replies();
        }
    };
    let before = sim.messages_delivered();
    step(&mut sim);
    group.throughput(Throughput::Elements(sim.messages_delivered() - before));
    group.bench_function("5-nodes-10k-writes-per-s", |b| {
        b.iter(|| {
            step(&mut sim);
            black_box(sim.messages_delivered())
        });
    });
    group.finish();
}

fn raft_run(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim-raft-run");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    let config = |seed| RunConfig {
        workload: Workload {
            retry_on_timeout: true,
            ..Workload::default()
        },
        ..RunConfig::new(seed)
    };
    let mut seed = 0;
    group.bench_function("5-nodes-random-2-faults-per-s", |b| {
        b.iter(|| {
            seed += 1;
            let report = run::<RaftNode>(
                &config(seed),
                RaftConfig::default(),
                vec![Box::new(RaftMonitor::new())],
            );
            black_box(report.messages_delivered)
        });
    });
    group.finish();
}

criterion_group!(benches, pingpong, raft_writes, raft_run);
criterion_main!(benches);
