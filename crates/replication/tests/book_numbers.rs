//! The numbers Part IV of the book prints from single seeded runs, pinned.
//!
//! The chapters quote `sim run` outputs, trace lines and counts. Each test
//! here runs the same configuration through the library (the code `sim`
//! calls) and asserts exactly what the chapter prints, so a change that
//! moves a number fails here until the prose is updated with it. Each
//! test's doc comment names the chapter and the sentence it pins.
//!
//! The 1,000-seed sweeps of the results chapter are too slow for
//! `cargo test`; the `figures` step of `visualizations` computes them into
//! `book/src/figures/replication-numbers.md`, which the chapters include.

use replication::checkers::{LostWrite, lost_writes};
use replication::history::Event;
use replication::linearizability::Verdict;
use replication::primary_backup::{PrimaryBackupConfig, PrimaryBackupNode};
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::workload::{RunConfig, RunReport, Workload, run};

/// `sim run --protocol raft` with `sim`'s defaults (its clients retry
/// timed-out requests, as `sim` sets for Raft).
fn raft_run(config: RunConfig) -> RunReport {
    let config = RunConfig {
        workload: Workload {
            retry_on_timeout: true,
            ..config.workload
        },
        ..config
    };
    run::<RaftNode>(
        &config,
        RaftConfig::default(),
        vec![Box::new(RaftMonitor::new())],
    )
}

/// `sim run`'s first summary line.
fn operations_line(report: &RunReport) -> String {
    let [ok, fail, info] = report.outcomes;
    format!(
        "operations: {ok} ok, {fail} fail, {info} info; {} messages delivered; trace hash {:016x}",
        report.messages_delivered, report.trace_hash
    )
}

/// The failover run of the primary-backup chapter: `sim run --protocol
/// async --seed 1 --faults 'partition 0|1,2,3,4@500ms' --keys 50
/// --safety-ms 800 --trace FILE`.
fn failover_run() -> RunReport {
    let mut config = RunConfig::new(1);
    config.faults = "partition 0|1,2,3,4@500ms".parse().unwrap();
    config.safety_us = 800_000;
    config.workload.keys = 50;
    config.trace = true;
    run::<PrimaryBackupNode>(&config, PrimaryBackupConfig::default(), vec![])
}

/// simulation.md, "The trace, its hash, and the replay command": the output
/// of `sim run --protocol raft --seed 42`, "operations: 1628 ok, 250 fail, 1
/// info; 16932 messages delivered; trace hash 4566157fc7697da2", and its
/// verdicts.
#[test]
fn simulation_raft_seed_42_prints_1628_ok_and_its_hash() {
    let report = raft_run(RunConfig::new(42));
    assert_eq!(
        operations_line(&report),
        "operations: 1628 ok, 250 fail, 1 info; 16932 messages delivered; trace hash 4566157fc7697da2"
    );
    assert_eq!(report.linearizable, Verdict::Linearizable);
    assert!(lost_writes(&report.history, &report.final_values).is_empty());
    assert!(report.served_after_heal);
    assert_eq!(report.converged, Ok(()));
    assert_eq!(report.violation, None);
}

/// primary-backup.md, "Where acknowledged writes are lost": the output
/// "operations: 1485 ok, 241 fail, 0 info; 5450 messages delivered; trace
/// hash 9113fbd12db6c2b5", "NOT linearizable: key "k11"", "21 acknowledged
/// writes LOST", of which "absent (5 writes; the store has no delete)"; and
/// the trace lines quoted there and in simulation.md (641824 n1 role
/// primary e6, …, 803559 n0 role backup e6).
#[test]
fn primary_backup_failover_prints_1485_ok_and_loses_21_writes() {
    let report = failover_run();
    assert_eq!(
        operations_line(&report),
        "operations: 1485 ok, 241 fail, 0 info; 5450 messages delivered; trace hash 9113fbd12db6c2b5"
    );
    let Verdict::NotLinearizable { key, unplaced } = &report.linearizable else {
        panic!("{:?}", report.linearizable);
    };
    assert_eq!((key.as_str(), unplaced.len()), ("k11", 3));
    let lost = lost_writes(&report.history, &report.final_values);
    assert_eq!(lost.len(), 21);
    let absent = lost
        .iter()
        .filter(|l| {
            matches!(
                l,
                LostWrite::Lost {
                    final_value: None,
                    ..
                }
            )
        })
        .count();
    assert_eq!(absent, 5);
    let roles: Vec<&str> = report
        .trace
        .iter()
        .map(|line| line.as_str())
        .filter(|line| {
            line.contains(" role ") && !line.contains("role backup e0")
                || line.contains(" partition ")
                || line.ends_with(" heal")
        })
        .collect();
    assert_eq!(
        roles,
        [
            "           0 n0 role primary e0",
            "      500000 partition [[0], [1, 2, 3, 4]]",
            "      641824 n1 role primary e6",
            "      642644 n3 role backup e6",
            "      643147 n4 role backup e6",
            "      643421 n2 role backup e6",
            "      800000 heal",
            "      803559 n0 role backup e6",
        ]
    );
}

/// primary-backup.md, "Where acknowledged writes are lost", item 2:
/// "Counting the trace's `Done` replies, node 0 acknowledged 39 updates
/// between the partition and its demotion, and node 1 acknowledged 23
/// between its promotion and the heal."
#[test]
fn primary_backup_two_primaries_acknowledge_39_and_23_updates() {
    let report = failover_run();
    let done = |node: &str, from: u64, to: u64| {
        report
            .trace
            .iter()
            .filter(|line| {
                let mut words = line.split_whitespace();
                let time: u64 = words.next().unwrap().parse().unwrap();
                words.next() == Some(node) && line.ends_with(" Done") && (from..=to).contains(&time)
            })
            .count()
    };
    assert_eq!(done("n0->client", 500_000, 803_559), 39);
    assert_eq!(done("n1->client", 641_824, 800_000), 23);
}

/// checking.md, "Explaining a failure": `sim check pb.jsonl` on the
/// failover run's history prints the witness "process 0  write 224
/// invoked at event 445, ok at event 449", "process 1  write 343 …
/// 684 … 689", "process 3  read -> 224 … 754 … 759" (and primary-backup.md
/// names the writes of 224 and 343 and the read of 224).
#[test]
fn checking_the_failover_witness_is_three_operations_on_k11() {
    let report = failover_run();
    let events: Vec<Event> = report.history.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(
        report.linearizable.explain(&events).to_string(),
        "not linearizable: key \"k11\": no order places all 3 of these operations (events are 1-based):\n\
         \x20 process 0  write 224   invoked at event 445, ok at event 449\n\
         \x20 process 1  write 343   invoked at event 684, ok at event 689\n\
         \x20 process 3  read -> 224 invoked at event 754, ok at event 759\n"
    );
}

/// checking.md, "Unknown is not a pass": "`sim check` decided a
/// 76,480-event history (38,240 operations of 20 clients on 10 keys, from
/// `sim run --protocol raft --seed 1 --clients 20 --keys 10 --safety-ms
/// 30000 --history FILE`) linearizable".
#[test]
fn checking_the_long_raft_history_has_76480_events() {
    let mut config = RunConfig::new(1);
    config.workload.clients = 20;
    config.workload.keys = 10;
    config.safety_us = 30_000_000;
    let report = raft_run(config);
    assert_eq!(report.history.len(), 76_480);
    assert_eq!(report.outcomes.iter().sum::<usize>(), 38_240);
    assert_eq!(report.linearizable, Verdict::Linearizable);
}

/// primary-backup.md, "A pause is a partition in time": "A pause longer than the
/// failover timeout breaks linearizability on seeds 0 to 2 (lost writes
/// proven on seeds 1 and 2 only, one each; `sim run --protocol async
/// --faults 'pause 0 until 600ms@300ms' --keys 50 --safety-ms 1000 --seed
/// N`)", and the table's "on seeds 1 and 2 only".
#[test]
fn primary_backup_a_long_pause_loses_one_write_on_seeds_1_and_2() {
    let lost: Vec<usize> = (0..3)
        .map(|seed| {
            let mut config = RunConfig::new(seed);
            config.faults = "pause 0 until 600ms@300ms".parse().unwrap();
            config.safety_us = 1_000_000;
            config.workload.keys = 50;
            let report = run::<PrimaryBackupNode>(&config, PrimaryBackupConfig::default(), vec![]);
            assert_ne!(report.linearizable, Verdict::Linearizable, "seed {seed}");
            lost_writes(&report.history, &report.final_values).len()
        })
        .collect();
    assert_eq!(lost, [0, 1, 1]);
}
