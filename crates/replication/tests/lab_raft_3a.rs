//! Graded tests of lab `raft-3a` (leader election): on a reliable network a
//! cluster elects exactly one leader and keeps it while nothing fails; a
//! new leader takes over when the old one is cut off; no leader emerges
//! without a majority; and elections keep settling while random minorities
//! come and go. Every step of every node is watched by the
//! [`RaftMonitor`] (election safety: at most one leader per term).
//!
//! Replay a failing seed with
//! `STRATA_SEED=S cargo test -p replication --test lab_raft_3a -- --exact NAME`.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::scenarios;

/// A leader is elected, and the term stays put without failures.
#[test]
fn initial_election() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::initial_election("initial_election", seed);
    });
}

/// A new leader is elected when the old one disconnects; without a quorum
/// nobody leads; a returning node does not disturb the leader.
#[test]
fn reelection() {
    strata_lab::for_each_seed(16, |seed| scenarios::reelection("reelection", seed));
}

/// Seven nodes, three random ones disconnected at a time, ten times.
#[test]
fn many_elections() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::many_elections("many_elections", seed);
    });
}
