//! Asynchronous primary-backup loses acknowledged writes, and the
//! simulator finds such a run and replays it from its printed command.
//!
//! The primary acknowledges a write once it is on its own disk and ships it
//! afterwards. Cut the primary off from its backups while clients still
//! reach it: it goes on acknowledging writes that no backup receives, a
//! backup promotes itself, and when the partition heals the old primary
//! adopts the new epoch's state — the writes it acknowledged are gone.

use replication::checkers::lost_writes;
use replication::linearizability::Verdict;
use replication::primary_backup::{PrimaryBackupConfig, PrimaryBackupNode};
use replication::sim::workload::{Faults, RunConfig, RunReport, run};

fn run_async(config: &RunConfig) -> RunReport {
    run::<PrimaryBackupNode>(config, PrimaryBackupConfig::default(), vec![])
}

#[test]
fn a_partitioned_primary_loses_the_writes_it_acknowledged() {
    let mut config = RunConfig::new(1);
    // Clients keep writing to node 0 after the partition; the backups
    // promote node 1 at about 650 ms; the liveness phase heals the
    // partition at 800 ms and node 0 adopts node 1's state. Many keys, so
    // that some key's last write went to node 0: the durability checker
    // can only prove a loss from the final values.
    config.faults = "partition 0|1,2,3,4@500ms".parse().unwrap();
    config.safety_us = 800_000;
    config.workload.keys = 50;
    let report = run_async(&config);
    let lost = lost_writes(&report.history, &report.final_values);
    assert!(!lost.is_empty(), "no write lost; replay: {}", report.replay);
    assert!(
        matches!(report.linearizable, Verdict::NotLinearizable { .. }),
        "{:?}",
        report.linearizable
    );
    // The system heals: afterwards it serves and its replicas agree.
    assert!(report.served_after_heal, "replay: {}", report.replay);
    assert_eq!(report.converged, Ok(()), "replay: {}", report.replay);
}

#[test]
fn without_faults_nothing_is_lost_and_the_history_is_linearizable() {
    for seed in 0..5 {
        let mut config = RunConfig::new(seed);
        config.faults = Faults::None;
        config.safety_us = 1_000_000;
        let report = run_async(&config);
        assert!(report.passed(), "seed {seed}: {:?}", report.linearizable);
        assert!(
            lost_writes(&report.history, &report.final_values).is_empty(),
            "seed {seed}"
        );
        assert!(
            report.outcomes[0] > 100,
            "seed {seed}: {:?}",
            report.outcomes
        );
    }
}

/// Reads `--seed N` and `--faults '…'` back out of a replay command.
fn parse_replay(command: &str) -> (u64, Faults) {
    let seed = command
        .split("--seed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("the replay command names the seed");
    let faults = command
        .split("--faults '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .and_then(|s| s.parse().ok())
        .expect("the replay command names the faults");
    (seed, faults)
}

#[test]
fn random_faults_find_a_lost_write_and_its_seed_replays_it() {
    let found = (0..50).find_map(|seed| {
        let report = run_async(&RunConfig::new(seed));
        let lost = lost_writes(&report.history, &report.final_values);
        (!lost.is_empty()).then_some((report, lost))
    });
    let (report, lost) = found.expect("no lost write in 50 seeds of random faults");
    let (seed, faults) = parse_replay(&report.replay);
    let mut again = RunConfig::new(seed);
    again.faults = faults;
    let replayed = run_async(&again);
    assert_eq!(replayed.trace_hash, report.trace_hash, "{}", report.replay);
    assert_eq!(lost_writes(&replayed.history, &replayed.final_values), lost);
}

#[test]
fn backups_serve_stale_reads_when_allowed_to() {
    let mut config = RunConfig::new(3);
    config.faults = Faults::None;
    config.network.latency_min_us = 5_000;
    config.network.latency_max_us = 20_000;
    let report = run::<PrimaryBackupNode>(
        &config,
        PrimaryBackupConfig {
            read_from_backups: true,
            ..PrimaryBackupConfig::default()
        },
        vec![],
    );
    assert!(
        matches!(report.linearizable, Verdict::NotLinearizable { .. }),
        "reads from lagging backups should be caught: {:?}",
        report.linearizable
    );
}
