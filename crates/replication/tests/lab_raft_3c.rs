//! Graded tests of lab `raft-3c` (persistence): nodes crash and restart
//! (all of them, the leader, a follower, rolling minorities, at random
//! moments of Figure 8, and under client churn), and the cluster must keep
//! every committed and acknowledged entry and agree again. A crash keeps
//! exactly what the node synced on its simulated disk. The
//! [`RaftMonitor`] also checks that a node's term never goes back across a
//! restart.
//!
//! Replay a failing seed with
//! `STRATA_SEED=S cargo test -p replication --test lab_raft_3c -- --exact NAME`.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::scenarios;
use replication::sim::NetworkConfig;

/// Crashes and restarts of everyone, the leader, and a follower.
#[test]
fn persist1() {
    strata_lab::for_each_seed(16, |seed| scenarios::persist1("persist1", seed));
}

/// Rolling crashes of minorities over several rounds.
#[test]
fn persist2() {
    strata_lab::for_each_seed(16, |seed| scenarios::persist2("persist2", seed));
}

/// A partitioned follower restarts along with the leader.
#[test]
fn persist3() {
    strata_lab::for_each_seed(16, |seed| scenarios::persist3("persist3", seed));
}

/// Figure 8 of the paper: leaders crash at random moments, mostly right
/// after accepting a command.
#[test]
fn figure8() {
    strata_lab::for_each_seed(16, |seed| scenarios::figure8("figure8", seed, 100));
}

/// Clients hammer random nodes while nodes crash, restart, disconnect and
/// reconnect on a reliable network.
#[test]
fn reliable_churn() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::churn("reliable_churn", seed, NetworkConfig::reliable());
    });
}

/// The same on an unreliable network.
#[test]
fn unreliable_churn() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::churn("unreliable_churn", seed, NetworkConfig::unreliable());
    });
}
