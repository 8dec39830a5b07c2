//! Raft under the workload runner: clients read, write and compare-and-set
//! while random faults partition, clog, crash and pause nodes; the history
//! must be linearizable, every acknowledged write durable, the cluster
//! live after healing and the replicas converged — with reads served by
//! ReadIndex and, separately, through the log. The [`RaftMonitor`] watches
//! every step.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::seeds;
use replication::raft::{RaftConfig, RaftMonitor, RaftNode, ReadMode};
use replication::sim::NetworkConfig;
use replication::sim::workload::{RunConfig, run};

fn check(read_mode: ReadMode, network: NetworkConfig, name: &str) {
    for seed in seeds() {
        let mut config = RunConfig::new(seed);
        config.network = network.clone();
        config.workload.retry_on_timeout = true;
        let raft = RaftConfig {
            read_mode,
            ..RaftConfig::default()
        };
        let report = run::<RaftNode>(&config, raft, vec![Box::new(RaftMonitor::new())]);
        assert!(
            report.passed(),
            "{name}, seed {seed}: linearizable {:?}, violation {:?}, served after heal {}, converged {:?}\n  replay: {}",
            report.linearizable,
            report.violation,
            report.served_after_heal,
            report.converged,
            config.replay_command("raft"),
        );
        assert!(
            report.outcomes[0] > 20,
            "{name}, seed {seed}: only {} operations succeeded",
            report.outcomes[0]
        );
    }
}

#[test]
fn read_index_is_linearizable_under_faults() {
    check(
        ReadMode::ReadIndex,
        NetworkConfig::reliable(),
        "read_index_is_linearizable_under_faults",
    );
}

#[test]
fn log_reads_are_linearizable_under_faults() {
    check(
        ReadMode::Log,
        NetworkConfig::reliable(),
        "log_reads_are_linearizable_under_faults",
    );
}

#[test]
fn read_index_is_linearizable_on_an_unreliable_network() {
    check(
        ReadMode::ReadIndex,
        NetworkConfig::unreliable(),
        "read_index_is_linearizable_on_an_unreliable_network",
    );
}
