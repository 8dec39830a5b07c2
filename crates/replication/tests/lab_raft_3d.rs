//! Graded tests of lab `raft-3d` (snapshots): with a snapshot every few
//! entries, every node compacts its log and keeps it short; a follower
//! that missed more than a snapshot's worth of entries (disconnected or
//! crashed) catches up through InstallSnapshot; and nodes restart from
//! their snapshots with the state intact. The [`RaftMonitor`] checks
//! Raft's safety properties after every step.
//!
//! Replay a failing seed with
//! `STRATA_SEED=S cargo test -p replication --test lab_raft_3d -- --exact NAME`.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::scenarios;

/// Snapshots are taken and logs stay short.
#[test]
fn snapshot_basic() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::snapshot_basic("snapshot_basic", seed);
    });
}

/// A disconnected follower catches up through InstallSnapshot.
#[test]
fn snapshot_install() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::snapshot_common("snapshot_install", seed, true, true, false);
    });
}

/// The same on an unreliable network.
#[test]
fn snapshot_install_unreliable() {
    strata_lab::for_each_seed(16, |seed| {
        let name = "snapshot_install_unreliable";
        scenarios::snapshot_common(name, seed, true, false, false);
    });
}

/// A crashed follower restarts from its snapshot and catches up.
#[test]
fn snapshot_install_crash() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::snapshot_common("snapshot_install_crash", seed, false, true, true);
    });
}

/// Everyone restarts from snapshots, and the state survives.
#[test]
fn snapshot_all_crash() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::snapshot_all_crash("snapshot_all_crash", seed);
    });
}
