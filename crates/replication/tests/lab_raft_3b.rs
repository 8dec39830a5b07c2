//! Graded tests of lab `raft-3b` (log replication): commands commit on
//! every node at increasing indices; a lagging or partitioned follower is
//! brought back in line (its conflicting entries overwritten, quickly, by
//! fast backtracking); nothing commits without a majority; and the commit
//! rule of Figure 8 holds while leaders are cut off at random moments on
//! an unreliable network. No node crashes here (that is `raft-3c`). The
//! [`RaftMonitor`] checks log matching, leader completeness and
//! state-machine safety after every step.
//!
//! Replay a failing seed with
//! `STRATA_SEED=S cargo test -p replication --test lab_raft_3b -- --exact NAME`.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::scenarios;

/// Three commands commit on every node, at increasing indices.
#[test]
fn basic_agree() {
    strata_lab::for_each_seed(16, |seed| scenarios::basic_agree("basic_agree", seed));
}

/// A follower's failure does not stop agreement, and it catches up.
#[test]
fn fail_agree() {
    strata_lab::for_each_seed(16, |seed| scenarios::fail_agree("fail_agree", seed));
}

/// Nothing commits without a majority; afterwards agreement resumes.
#[test]
fn fail_no_agree() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::fail_no_agree("fail_no_agree", seed);
    });
}

/// Several commands started at once on one leader all commit.
#[test]
fn concurrent_starts() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::concurrent_starts("concurrent_starts", seed);
    });
}

/// A partitioned leader's uncommitted entries are overwritten when it
/// rejoins.
#[test]
fn rejoin() {
    strata_lab::for_each_seed(16, |seed| scenarios::rejoin("rejoin", seed));
}

/// Fast backtracking: a leader brings followers with 50 conflicting
/// entries back in line quickly.
#[test]
fn backup() {
    strata_lab::for_each_seed(16, |seed| scenarios::backup("backup", seed));
}

/// Figure 8 with disconnections instead of crashes, on an unreliable
/// network with long reordering part of the way.
#[test]
fn figure8_unreliable() {
    strata_lab::for_each_seed(16, |seed| {
        scenarios::figure8_unreliable("figure8_unreliable", seed);
    });
}
