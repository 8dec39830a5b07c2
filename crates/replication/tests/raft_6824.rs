//! The Raft tests of MIT 6.824/6.5840 (labs 3A–3D), as scripts over the
//! deterministic simulator. Each runs several seeds (`STRATA_SEEDS=n`,
//! default 5; `STRATA_SEED=s` replays one) with a [`RaftMonitor`] checking
//! election safety, log matching, leader completeness and state-machine
//! safety after every step of every node; a failure prints its seed. The
//! scenarios themselves live in `raft_common/scenarios.rs`, shared with the
//! graded lab tests (`lab_raft_3a.rs` …), which also say how they differ
//! from the Go tests.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::{scenarios, seeds};
use replication::sim::NetworkConfig;

// --- 3A: leader election ----------------------------------------------------

/// A leader is elected, and the term stays put without failures.
#[test]
fn initial_election_3a() {
    for seed in seeds() {
        scenarios::initial_election("initial_election_3a", seed);
    }
}

/// A new leader is elected when the old one disconnects; without a
/// quorum nobody leads; a returning node does not disturb the leader.
#[test]
fn reelection_3a() {
    for seed in seeds() {
        scenarios::reelection("reelection_3a", seed);
    }
}

/// Seven nodes, three random ones disconnected at a time, ten times.
#[test]
fn many_elections_3a() {
    for seed in seeds() {
        scenarios::many_elections("many_elections_3a", seed);
    }
}

// --- 3B: log replication ----------------------------------------------------

/// Three commands commit on every node, at increasing indices.
#[test]
fn basic_agree_3b() {
    for seed in seeds() {
        scenarios::basic_agree("basic_agree_3b", seed);
    }
}

/// A follower's failure does not stop agreement, and it catches up.
#[test]
fn fail_agree_3b() {
    for seed in seeds() {
        scenarios::fail_agree("fail_agree_3b", seed);
    }
}

/// Nothing commits without a majority; afterwards agreement resumes.
#[test]
fn fail_no_agree_3b() {
    for seed in seeds() {
        scenarios::fail_no_agree("fail_no_agree_3b", seed);
    }
}

/// Several commands started at once on one leader all commit.
#[test]
fn concurrent_starts_3b() {
    for seed in seeds() {
        scenarios::concurrent_starts("concurrent_starts_3b", seed);
    }
}

/// A partitioned leader's uncommitted entries are overwritten when it
/// rejoins.
#[test]
fn rejoin_3b() {
    for seed in seeds() {
        scenarios::rejoin("rejoin_3b", seed);
    }
}

/// Fast backtracking: a leader brings followers with 50 conflicting
/// entries back in line quickly.
#[test]
fn backup_3b() {
    for seed in seeds() {
        scenarios::backup("backup_3b", seed);
    }
}

// --- 3C: persistence --------------------------------------------------------

/// Crashes and restarts of everyone, the leader, and a follower.
#[test]
fn persist1_3c() {
    for seed in seeds() {
        scenarios::persist1("persist1_3c", seed);
    }
}

/// Rolling crashes of minorities over several rounds.
#[test]
fn persist2_3c() {
    for seed in seeds() {
        scenarios::persist2("persist2_3c", seed);
    }
}

/// A partitioned follower restarts along with the leader.
#[test]
fn persist3_3c() {
    for seed in seeds() {
        scenarios::persist3("persist3_3c", seed);
    }
}

/// Figure 8 with crashes (6.824's TestFigure83C, 100 iterations).
#[test]
fn figure8_3c() {
    for seed in seeds() {
        scenarios::figure8("figure8_3c", seed, 100);
    }
}

/// Agreement on a lossy, duplicating, reordering network.
#[test]
fn unreliable_agree_3c() {
    for seed in seeds() {
        scenarios::unreliable_agree("unreliable_agree_3c", seed);
    }
}

/// Figure 8 with disconnections instead of crashes on an unreliable
/// network, with long reordering part of the way.
#[test]
fn figure8_unreliable_3c() {
    for seed in seeds() {
        scenarios::figure8_unreliable("figure8_unreliable_3c", seed);
    }
}

/// 6.824's TestReliableChurn3C.
#[test]
fn reliable_churn_3c() {
    for seed in seeds() {
        scenarios::churn("reliable_churn_3c", seed, NetworkConfig::reliable());
    }
}

/// 6.824's TestUnreliableChurn3C.
#[test]
fn unreliable_churn_3c() {
    for seed in seeds() {
        scenarios::churn("unreliable_churn_3c", seed, NetworkConfig::unreliable());
    }
}

// --- 3D: snapshots ----------------------------------------------------------

/// Snapshots are taken and logs stay short.
#[test]
fn snapshot_basic_3d() {
    for seed in seeds() {
        scenarios::snapshot_basic("snapshot_basic_3d", seed);
    }
}

/// A disconnected follower catches up through InstallSnapshot.
#[test]
fn snapshot_install_3d() {
    for seed in seeds() {
        scenarios::snapshot_common("snapshot_install_3d", seed, true, true, false);
    }
}

/// The same on an unreliable network.
#[test]
fn snapshot_install_unreliable_3d() {
    for seed in seeds() {
        scenarios::snapshot_common("snapshot_install_unreliable_3d", seed, true, false, false);
    }
}

/// A crashed follower restarts from its snapshot and catches up.
#[test]
fn snapshot_install_crash_3d() {
    for seed in seeds() {
        scenarios::snapshot_common("snapshot_install_crash_3d", seed, false, true, true);
    }
}

/// Everyone restarts from snapshots, and the state survives.
#[test]
fn snapshot_all_crash_3d() {
    for seed in seeds() {
        scenarios::snapshot_all_crash("snapshot_all_crash_3d", seed);
    }
}
