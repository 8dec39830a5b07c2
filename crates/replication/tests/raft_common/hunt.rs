//! The run the teaching-bug hunts use (Part IV, "Exercises: teaching
//! bugs"). A hunt of your own includes it with
//! `#[path = "raft_common/hunt.rs"] mod hunt;` in a test file of
//! `crates/replication/tests/`, built with `--features teaching-bugs`.

use replication::checkers::lost_writes;
use replication::raft::{RaftBugs, RaftConfig, RaftMonitor, RaftNode};
use replication::sim::workload::{RunConfig, RunReport, run};

// ANCHOR: raft_run
/// A workload run of Raft with `bugs`, as `sim run --protocol raft
/// --nodes NODES --seed SEED --faults FAULTS` would run it.
pub(crate) fn raft_run(seed: u64, nodes: usize, faults: &str, bugs: RaftBugs) -> RunReport {
    let mut config = RunConfig::new(seed);
    config.nodes = nodes;
    config.faults = faults.parse().expect("a valid schedule");
    config.workload.retry_on_timeout = true;
    let raft = RaftConfig {
        bugs,
        ..RaftConfig::default()
    };
    run::<RaftNode>(&config, raft, vec![Box::new(RaftMonitor::new())])
}

/// Whether any checker flagged the run, as `sim run` would.
pub(crate) fn caught(report: &RunReport) -> bool {
    !report.passed() || !lost_writes(&report.history, &report.final_values).is_empty()
}
// ANCHOR_END: raft_run
