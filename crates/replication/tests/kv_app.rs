//! Raft replicating a real `kv::Store` (`replication::kv_app::KvApp`) in
//! the simulator, over seeds with the default random faults (crashes,
//! restarts, partitions): every run's history is linearizable on the
//! store's keys, no acknowledged write is lost across crashes, Raft's
//! monitor is silent, the healed replicas converge, and every up replica's
//! store has the same checkpoint digest. A second sweep snapshots every 20
//! entries, so restarts rebuild the store from a checkpoint and lagging
//! followers receive one by InstallSnapshot. `STRATA_SEEDS` scales both.

use replication::checkers::lost_writes;
use replication::kv_app::KvApp;
use replication::linearizability::Verdict;
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::workload::{Fault, RunConfig, Workload, run};

/// The seeds a sweep tries: `STRATA_SEEDS` of them (default `default`).
fn seeds(default: u64) -> std::ops::Range<u64> {
    let n = std::env::var("STRATA_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    0..n
}

/// Runs `seed` as `sim run --protocol raft --app kv` does and checks every
/// verdict; returns how many crashes the schedule held.
fn check_seed(seed: u64, raft: RaftConfig) -> usize {
    let config = RunConfig {
        workload: Workload {
            retry_on_timeout: true,
            ..Workload::default()
        },
        ..RunConfig::new(seed)
    };
    let report = run::<RaftNode<KvApp>>(
        &config,
        raft,
        vec![Box::new(RaftMonitor::<KvApp>::default())],
    );
    let at = format!("seed {seed}: {}", report.replay);
    assert_eq!(report.violation, None, "{at}");
    assert!(
        matches!(report.linearizable, Verdict::Linearizable),
        "{:?}; {at}",
        report.linearizable
    );
    let lost = lost_writes(&report.history, &report.final_values);
    assert!(lost.is_empty(), "lost {lost:?}; {at}");
    assert!(report.served_after_heal, "not served after healing; {at}");
    assert_eq!(report.converged, Ok(()), "{at}");
    assert!(
        report.digests.len() > config.nodes / 2,
        "digests of only {:?}; {at}",
        report.digests
    );
    assert!(
        report.digests_agree(),
        "checkpoint digests differ: {:x?}; {at}",
        report.digests
    );
    assert!(report.outcomes[0] > 50, "only {:?}; {at}", report.outcomes);
    report
        .schedule
        .iter()
        .filter(|(_, f)| matches!(f, Fault::Crash(_)))
        .count()
}

#[test]
fn raft_over_a_kv_store_is_linearizable_durable_and_byte_identical() {
    let crashes: usize = seeds(12)
        .map(|seed| check_seed(seed, RaftConfig::default()))
        .sum();
    assert!(crashes > 0, "no seed crashed a node");
}

#[test]
fn stores_rebuilt_from_snapshots_stay_byte_identical() {
    let raft = RaftConfig {
        snapshot_threshold_entries: 20,
        ..RaftConfig::default()
    };
    let crashes: usize = seeds(12).map(|seed| check_seed(seed, raft.clone())).sum();
    assert!(crashes > 0, "no seed crashed a node");
}
