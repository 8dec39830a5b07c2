//! Same seed, same run: the simulator's traces are byte-identical, and a
//! different seed gives a different run (so the first assertion is not
//! vacuous).

use replication::primary_backup::{PrimaryBackupConfig, PrimaryBackupNode};
use replication::sim::workload::{Faults, RunConfig, run};
use replication::sim::{NetworkConfig, Sim, SimConfig};

fn traced(seed: u64) -> RunConfig {
    let mut config = RunConfig::new(seed);
    config.trace = true;
    config.network = NetworkConfig::unreliable();
    config.safety_us = 1_000_000;
    config.liveness_us = 500_000;
    config
}

#[test]
fn the_same_seed_gives_a_byte_identical_trace() {
    for seed in [1, 2, 3] {
        let a = run::<PrimaryBackupNode>(&traced(seed), PrimaryBackupConfig::default(), vec![]);
        let b = run::<PrimaryBackupNode>(&traced(seed), PrimaryBackupConfig::default(), vec![]);
        assert!(
            a.trace.len() > 1_000,
            "seed {seed}: only {} trace lines",
            a.trace.len()
        );
        assert_eq!(a.trace.join("\n"), b.trace.join("\n"), "seed {seed}");
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.history, b.history, "seed {seed}");
        assert_eq!(a.history_jsonl(), b.history_jsonl(), "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let a = run::<PrimaryBackupNode>(&traced(1), PrimaryBackupConfig::default(), vec![]);
    let b = run::<PrimaryBackupNode>(&traced(2), PrimaryBackupConfig::default(), vec![]);
    assert_ne!(a.trace_hash, b.trace_hash);
    assert_ne!(a.history, b.history);
}

#[test]
fn the_hash_does_not_depend_on_keeping_the_trace() {
    let mut quiet = traced(7);
    quiet.trace = false;
    let a = run::<PrimaryBackupNode>(&traced(7), PrimaryBackupConfig::default(), vec![]);
    let b = run::<PrimaryBackupNode>(&quiet, PrimaryBackupConfig::default(), vec![]);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(b.trace.is_empty());
}

#[test]
fn fault_schedules_round_trip_through_their_text() {
    for text in [
        "none",
        "random:2.5",
        "majority:1",
        "partition 0,1|2,3,4@1s; heal@2500ms; crash 2@3s; restart 2@3500ms",
        "block 0->1@10ms; clog 1->2 until 900ms@100ms; pause 3 until 2s@1s",
    ] {
        let faults: Faults = text.parse().unwrap();
        let again: Faults = faults.to_string().parse().unwrap();
        assert_eq!(faults, again, "{text}");
    }
    for bad in [
        "",
        "random:x",
        "crash two@1s",
        "heal",
        "explode 1@1s",
        "crash 1@soon",
    ] {
        assert!(bad.parse::<Faults>().is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_crashed_node_gets_nothing_and_a_paused_one_gets_it_later() {
    let mut sim: Sim<PrimaryBackupNode> =
        Sim::new(SimConfig::new(5, 3), PrimaryBackupConfig::default());
    sim.run_for(100_000);
    let delivered = sim.messages_delivered();
    assert!(delivered > 0, "heartbeats flow");
    sim.crash(1);
    sim.crash(2);
    sim.run_for(100_000);
    assert_eq!(
        sim.messages_delivered(),
        delivered,
        "nothing reaches a crashed node"
    );
    sim.restart(1);
    sim.pause(1, sim.now() + 300_000);
    sim.run_for(200_000);
    assert_eq!(
        sim.messages_delivered(),
        delivered,
        "a paused node handles nothing"
    );
    sim.run_for(200_000);
    assert!(
        sim.messages_delivered() > delivered,
        "it catches up once it resumes"
    );
}
