//! Hidden graded test of lab `raft-3c`: clients read, write and
//! compare-and-set while random faults partition, clog, pause, crash and
//! restart nodes; the history must be linearizable, the healed cluster
//! live and the replicas converged. The [`RaftMonitor`] watches every step
//! (a term that goes back across a restart is a violation).
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::check_linearizable;
use replication::raft::{RaftConfig, ReadMode};
use replication::sim::workload::RunConfig;

fn check(name: &str, read_mode: ReadMode) {
    strata_lab::for_each_seed(8, |seed| {
        let mut config = RunConfig::new(seed);
        config.workload.retry_on_timeout = true;
        let raft = RaftConfig {
            read_mode,
            ..RaftConfig::default()
        };
        check_linearizable(name, &config, raft, Vec::new());
    });
}

/// Reads through the log, under random faults with crashes.
#[test]
fn linearizable_with_crashes() {
    check("linearizable_with_crashes", ReadMode::Log);
}
