//! Hidden graded test of lab `raft-3d`: the linearizability run of
//! `raft-3c` (random faults with crashes) with a snapshot every few
//! entries, so nodes compact, restart from snapshots and catch up through
//! InstallSnapshot; on top of linearizability, some node must have
//! compacted its log.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use std::cell::Cell;
use std::rc::Rc;

use raft_common::check_linearizable;
use replication::protocol::{NodeId, Time};
use replication::raft::{LogIndex, RaftConfig, RaftNode};
use replication::sim::workload::RunConfig;
use replication::sim::{Monitor, MonitorError};

/// Records the highest snapshot index any node reached.
struct Compaction(Rc<Cell<LogIndex>>);

impl Monitor<RaftNode> for Compaction {
    fn after(&mut self, _now: Time, _id: NodeId, node: &RaftNode) -> Result<(), MonitorError> {
        self.0.set(self.0.get().max(node.snapshot_index()));
        Ok(())
    }
}

/// Random faults with crashes, a snapshot every 10 entries, ReadIndex
/// reads; the [`RaftMonitor`] watches every step.
#[test]
fn linearizable_with_snapshots() {
    strata_lab::for_each_seed(8, |seed| {
        let mut config = RunConfig::new(seed);
        config.workload.retry_on_timeout = true;
        let raft = RaftConfig {
            snapshot_threshold_entries: 10,
            ..RaftConfig::default()
        };
        let compacted = Rc::new(Cell::new(0));
        let watch: Box<dyn Monitor<RaftNode>> = Box::new(Compaction(Rc::clone(&compacted)));
        check_linearizable("linearizable_with_snapshots", &config, raft, vec![watch]);
        assert!(
            compacted.get() > 0,
            "linearizable_with_snapshots, seed {seed}: no node ever took a snapshot"
        );
    });
}
