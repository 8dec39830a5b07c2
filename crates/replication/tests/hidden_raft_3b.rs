//! Hidden graded test of lab `raft-3b`: clients read, write and
//! compare-and-set while the cluster is partitioned and nodes pause (no
//! crashes: persistence is `raft-3c`); the history must be linearizable,
//! the healed cluster must serve every final read, and the replicas must
//! converge. The [`RaftMonitor`] watches every step.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::check_linearizable;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replication::protocol::{NodeId, Time};
use replication::raft::{RaftConfig, ReadMode};
use replication::sim::workload::{Fault, Faults, RunConfig};

/// A crash-free fault script for a 5-node run, drawn from `seed`: random
/// two-way partitions, each healed after a while, and pauses.
fn partitions_and_pauses(seed: u64, safety_us: Time) -> Vec<(Time, Fault)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut script = Vec::new();
    let mut at: Time = 100_000;
    while at < safety_us {
        if rng.random_range(0..3) == 0 {
            let node = rng.random_range(0..5) as NodeId;
            let until = at + rng.random_range(50_000..600_000);
            script.push((at, Fault::Pause { node, until }));
        } else {
            let mut nodes: Vec<NodeId> = (0..5).collect();
            let cut = rng.random_range(1..=2);
            let mut side = Vec::new();
            for _ in 0..cut {
                side.push(nodes.remove(rng.random_range(0..nodes.len())));
            }
            script.push((at, Fault::Partition(vec![side, nodes])));
            script.push((at + rng.random_range(50_000..800_000), Fault::Heal));
        }
        at += rng.random_range(200_000..700_000);
    }
    script
}

fn check(name: &str, read_mode: ReadMode) {
    strata_lab::for_each_seed(8, |seed| {
        let mut config = RunConfig::new(seed);
        config.workload.retry_on_timeout = true;
        config.faults = Faults::Script(partitions_and_pauses(seed, config.safety_us));
        let raft = RaftConfig {
            read_mode,
            ..RaftConfig::default()
        };
        check_linearizable(name, &config, raft, Vec::new());
    });
}

/// Reads through the log, writes and compare-and-sets under partitions.
#[test]
fn linearizable_under_partitions() {
    check("linearizable_under_partitions", ReadMode::Log);
}
