//! Leaderless quorums in the simulator: what `R + W` buys and what it does
//! not.
//!
//! * With `R + W ≤ N` a read quorum can miss a write quorum entirely: the
//!   simulator finds *stale reads* — a read that misses a write
//!   acknowledged before the read began.
//! * With `R + W > N` acknowledged writes are always seen by fault-free,
//!   one-client workloads — yet the store is still not linearizable: a
//!   non-atomic compare-and-set, a write that reached fewer than `W`
//!   replicas, or a slow clock under last-writer-wins each yield a history
//!   no single-copy register explains.
//! * Hinted handoff and read repair bring every replica of a key to the
//!   same value once the faults heal.
//!
//! Seed sweeps scale with `STRATA_SEEDS` (the number of seeds to try).

use std::collections::BTreeMap;

use replication::history::{Event, Kind, Op};
use replication::linearizability::{Budget, Verdict, check};
use replication::protocol::{Command, Key, Node, NodeId, Reply, Time, Value};
use replication::quorum::{QuorumConfig, QuorumMonitor, QuorumNode, preference_list};
use replication::sim::workload::{Faults, RunConfig, RunReport, Workload, run};
use replication::sim::{NetworkConfig, Sim, SimConfig};

/// The seeds a sweep tries: `STRATA_SEEDS` of them (default `default`)
/// from `STRATA_FIRST_SEED` (default 0).
fn seeds(default: u64) -> std::ops::Range<u64> {
    let var = |name: &str| std::env::var(name).ok().and_then(|s| s.parse().ok());
    let first = var("STRATA_FIRST_SEED").unwrap_or(0);
    first..first + var("STRATA_SEEDS").unwrap_or(default)
}

/// A short run: 5 nodes, 1 s of faults, 1 s healed.
fn run_config(seed: u64, workload: Workload, faults: Faults) -> RunConfig {
    RunConfig {
        nodes: 5,
        network: NetworkConfig::reliable(),
        workload,
        faults,
        safety_us: 1_000_000,
        liveness_us: 1_000_000,
        ..RunConfig::new(seed)
    }
}

fn run_quorum(config: &RunConfig, quorum: &QuorumConfig) -> RunReport {
    let report = run::<QuorumNode>(config, quorum.clone(), vec![Box::new(QuorumMonitor)]);
    assert_eq!(report.violation, None, "replay: {}", report.replay);
    report
}

fn reads_and_writes(clients: usize) -> Workload {
    Workload {
        clients,
        cas_fraction: 0.0,
        ..Workload::default()
    }
}

fn random_faults() -> Faults {
    Faults::Random {
        intensity: 4.0,
        keep_majority: false,
    }
}

/// One operation of a history: its key, its completion (`Info` when it
/// never completed) and the positions of its events.
#[derive(Debug, Clone)]
struct Operation {
    key: String,
    op: Op,
    kind: Kind,
    invoke: usize,
    complete: Option<usize>,
}

fn operations(history: &[(Time, Event)]) -> Vec<Operation> {
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ops = Vec::new();
    for (i, (_, e)) in history.iter().enumerate() {
        if e.kind == Kind::Invoke {
            pending.insert(e.process, i);
        } else if let Some(invoke) = pending.remove(&e.process) {
            let (key, op, kind) = (e.key.clone(), e.op, e.kind);
            ops.push(Operation {
                key,
                op,
                kind,
                invoke,
                complete: Some(i),
            });
        }
    }
    for (_, invoke) in pending {
        let e = &history[invoke].1;
        let (key, op, kind) = (e.key.clone(), e.op, Kind::Info);
        ops.push(Operation {
            key,
            op,
            kind,
            invoke,
            complete: None,
        });
    }
    ops
}

/// The value an operation writes, if it writes one.
fn written(op: &Op) -> Option<Value> {
    match *op {
        Op::Write(v) | Op::Cas(_, v) => Some(v),
        Op::Read(_) => None,
    }
}

/// The first stale read of `history`: a read that returned nothing, or the
/// value of a write that had completed before some write `w` began, when
/// `w` was acknowledged before the read began. No register explains it.
fn stale_read(history: &[(Time, Event)]) -> Option<String> {
    let ops = operations(history);
    let acked_writes: Vec<&Operation> = ops
        .iter()
        .filter(|o| o.kind == Kind::Ok && written(&o.op).is_some())
        .collect();
    for r in ops.iter().filter(|o| o.kind == Kind::Ok) {
        let Op::Read(got) = r.op else { continue };
        for w in acked_writes.iter().filter(|w| w.key == r.key) {
            if w.complete.is_none_or(|c| c >= r.invoke) {
                continue;
            }
            let overwritten = match got {
                None => true,
                Some(x) => ops.iter().any(|o| {
                    o.key == r.key
                        && o.kind == Kind::Ok
                        && written(&o.op) == Some(x)
                        && o.complete.is_some_and(|c| c < w.invoke)
                }),
            };
            if overwritten {
                return Some(format!(
                    "read of {} (event {}) returned {got:?}, but {:?} was acknowledged (event {}) before it began",
                    r.key,
                    r.invoke,
                    w.op,
                    w.complete.unwrap_or(0),
                ));
            }
        }
    }
    None
}

/// The found case, and the one command that replays it.
fn describe(report: &RunReport, seed: u64, test: &str) -> String {
    format!(
        "seed {seed}: {:?}\n  outcomes ok/fail/info {:?}\n  faults {:?}\n  replay: \
         STRATA_FIRST_SEED={seed} STRATA_SEEDS=1 cargo test -p replication --test quorum {test} -- --nocapture",
        report.linearizable, report.outcomes, report.schedule
    )
}

#[test]
fn r_plus_w_at_most_n_reads_stale() {
    const TEST: &str = "r_plus_w_at_most_n_reads_stale";
    let quorum = QuorumConfig::new(3, 1, 1);
    for seed in seeds(20) {
        let config = run_config(seed, reads_and_writes(5), random_faults());
        let report = run_quorum(&config, &quorum);
        if let Some(stale) = stale_read(&report.history) {
            println!("R + W <= N: {stale}\n{}", describe(&report, seed, TEST));
            assert!(
                matches!(report.linearizable, Verdict::NotLinearizable { .. }),
                "a stale read, yet the checker says {:?}",
                report.linearizable
            );
            return;
        }
    }
    panic!(
        "no stale read with N = 3, R = 1, W = 1 in seeds {:?}",
        seeds(20)
    );
}

/// Searches seeds for a non-linearizable history; prints and returns it.
fn find_non_linearizable(
    test: &str,
    quorum: &QuorumConfig,
    config: impl Fn(u64) -> RunConfig,
) -> (u64, RunReport) {
    assert!(quorum.overlapping());
    for seed in seeds(20) {
        let report = run_quorum(&config(seed), quorum);
        if matches!(report.linearizable, Verdict::NotLinearizable { .. }) {
            let stale = stale_read(&report.history).unwrap_or_else(|| "none".into());
            println!(
                "R + W > N, {test}: stale read: {stale}\n{}",
                describe(&report, seed, test)
            );
            return (seed, report);
        }
    }
    panic!(
        "{test}: every history linearizable in seeds {:?}",
        seeds(20)
    );
}

#[test]
fn r_plus_w_over_n_is_not_linearizable_with_compare_and_set() {
    // Two coordinators read the expected value, then both write.
    let quorum = QuorumConfig::new(3, 2, 2);
    let workload = Workload {
        read_fraction: 0.3,
        cas_fraction: 0.4,
        ..Workload::default()
    };
    find_non_linearizable(
        "r_plus_w_over_n_is_not_linearizable_with_compare_and_set",
        &quorum,
        |seed| run_config(seed, workload.clone(), Faults::None),
    );
}

#[test]
fn r_plus_w_over_n_loses_acknowledged_writes_to_a_slow_clock() {
    // Node 4's clock runs 50 ms behind: a write it coordinates loses to
    // earlier writes under last-writer-wins, and reads skip it.
    let mut quorum = QuorumConfig::new(3, 2, 2);
    quorum.clock_skew_us = vec![0, 0, 0, 0, -50_000];
    let (_, report) = find_non_linearizable(
        "r_plus_w_over_n_loses_acknowledged_writes_to_a_slow_clock",
        &quorum,
        |seed| run_config(seed, reads_and_writes(3), Faults::None),
    );
    assert!(stale_read(&report.history).is_some());
}

#[test]
fn a_sloppy_quorum_reads_stale_even_with_r_plus_w_over_n() {
    const TEST: &str = "a_sloppy_quorum_reads_stale_even_with_r_plus_w_over_n";
    // Fallbacks' acknowledgements count towards W, but reads ask only the
    // preference list: a read quorum need not overlap the write's.
    let mut quorum = QuorumConfig::new(3, 2, 2);
    quorum.sloppy = true;
    for seed in seeds(20) {
        let report = run_quorum(
            &run_config(seed, reads_and_writes(5), random_faults()),
            &quorum,
        );
        if let Some(stale) = stale_read(&report.history) {
            println!("sloppy quorum: {stale}\n{}", describe(&report, seed, TEST));
            assert!(matches!(
                report.linearizable,
                Verdict::NotLinearizable { .. }
            ));
            return;
        }
    }
    panic!(
        "no stale read with a sloppy quorum in seeds {:?}",
        seeds(20)
    );
}

/// An `Uncertain` write seen by one read and missed by a later one. The
/// script: node 0 takes a write of 1 to k0 and is cut off the moment it has
/// stored the value itself (so it reaches only node 0: `info`); then a read
/// quorum {0, 1} sees it; then a read quorum {1, 2} — which without read
/// repair has never heard of it — does not. With read repair the first read
/// copies the value to node 1 after answering; with atomic reads it writes
/// it back to node 1 before answering. Either way the value now sits on W
/// replicas, and the second read sees it too.
fn flicker(quorum: QuorumConfig) -> (Vec<Reply>, Verdict) {
    let mut sim: Sim<QuorumNode> = Sim::new(SimConfig::new(11, 3), quorum);
    sim.add_monitor(Box::new(QuorumMonitor));
    let mut replies = Vec::new();
    // The write: an atomic one first asks a read quorum for the newest
    // version, so node 0 is isolated only once it holds the value.
    sim.submit(0, Command::Write { key: 0, value: 1 });
    while sim.node(0).is_some_and(|n| !n.state().contains_key(&0)) {
        let next = sim.next_event_time().expect("the write is in flight");
        sim.run_until(next);
    }
    sim.isolate(0);
    sim.run_for(100_000);
    replies.extend(sim.take_replies().into_iter().map(|r| r.3));
    let mut step = |sim: &mut Sim<QuorumNode>, isolated: NodeId, to: NodeId, command| {
        sim.heal();
        sim.isolate(isolated);
        sim.submit(to, command);
        sim.run_for(100_000);
        replies.extend(sim.take_replies().into_iter().map(|r| r.3));
    };
    step(&mut sim, 2, 0, Command::Read { key: 0 });
    step(&mut sim, 0, 2, Command::Read { key: 0 });
    let kinds = |reply: &Reply| match reply {
        Reply::Read(_) | Reply::Done => Kind::Ok,
        Reply::Rejected(_) => Kind::Fail,
        Reply::Uncertain => Kind::Info,
    };
    let ops = [Op::Write(1), Op::Read(None), Op::Read(None)];
    let mut events = Vec::new();
    for (process, (op, reply)) in ops.iter().zip(&replies).enumerate() {
        let key = "k0".to_owned();
        let process = process as u64;
        events.push(Event {
            process,
            kind: Kind::Invoke,
            op: *op,
            key: key.clone(),
        });
        let op = match reply {
            Reply::Read(v) => Op::Read(*v),
            _ => *op,
        };
        events.push(Event {
            process,
            kind: kinds(reply),
            op,
            key,
        });
    }
    let verdict = check(&events, Budget::default()).expect("a well-formed history");
    (replies, verdict)
}

/// `QuorumConfig::new(3, 2, 2)` with or without read repair.
fn n3_r2_w2(read_repair: bool) -> QuorumConfig {
    QuorumConfig {
        read_repair,
        ..QuorumConfig::new(3, 2, 2)
    }
}

#[test]
fn r_plus_w_over_n_an_uncertain_write_appears_then_disappears() {
    let (replies, verdict) = flicker(n3_r2_w2(false));
    let expect = [Reply::Uncertain, Reply::Read(Some(1)), Reply::Read(None)];
    assert_eq!(replies, expect);
    assert!(
        matches!(verdict, Verdict::NotLinearizable { .. }),
        "{verdict:?}"
    );
    // Read repair closes this particular window (not the asynchronous one
    // before a repair lands, nor one where the repair is lost).
    let (replies, verdict) = flicker(n3_r2_w2(true));
    let expect = [Reply::Uncertain, Reply::Read(Some(1)), Reply::Read(Some(1))];
    assert_eq!(replies, expect);
    assert_eq!(verdict, Verdict::Linearizable);
}

#[test]
fn atomic_reads_write_back_before_answering() {
    // Without read repair, so that only the write-back can copy the value.
    let quorum = QuorumConfig {
        read_repair: false,
        ..QuorumConfig::atomic(3, 2, 2)
    };
    let (replies, verdict) = flicker(quorum);
    let expect = [Reply::Uncertain, Reply::Read(Some(1)), Reply::Read(Some(1))];
    assert_eq!(replies, expect);
    assert_eq!(verdict, Verdict::Linearizable);
}

/// Read repair happens *after* the client has its answer: a replica whose
/// answer arrives late is repaired then. Node 2 misses a write; when a
/// later read asks it, its stale answer is held back 50 ms, so the read is
/// answered by nodes 0 and 1 first, and node 2 is repaired only once its
/// answer arrives — or never, with read repair off.
fn late_answer_repaired(read_repair: bool) -> (Vec<Reply>, bool, bool) {
    let quorum = QuorumConfig {
        hinted_handoff: false,
        ..n3_r2_w2(read_repair)
    };
    let mut sim: Sim<QuorumNode> = Sim::new(SimConfig::new(5, 3), quorum);
    sim.add_monitor(Box::new(QuorumMonitor));
    let holds_5 =
        |sim: &Sim<QuorumNode>| sim.node(2).and_then(|n| n.state().get(&0).copied()) == Some(5);
    sim.isolate(2);
    sim.submit(0, Command::Write { key: 0, value: 5 });
    sim.run_for(100_000);
    sim.heal();
    sim.clog(2, 0, sim.now() + 50_000);
    sim.submit(0, Command::Read { key: 0 });
    sim.run_for(20_000);
    let replies = sim.take_replies().into_iter().map(|r| r.3).collect();
    let at_reply = holds_5(&sim);
    sim.run_for(100_000);
    assert_eq!(sim.violation(), None);
    (replies, at_reply, holds_5(&sim))
}

#[test]
fn read_repair_reaches_a_replica_that_answers_after_the_reply() {
    let (replies, at_reply, later) = late_answer_repaired(true);
    assert_eq!(replies, [Reply::Done, Reply::Read(Some(5))]);
    assert!(!at_reply, "node 2 had the value before its answer arrived");
    assert!(later, "node 2's late answer was not repaired");
    // The control: without read repair node 2 stays stale.
    let (replies, at_reply, later) = late_answer_repaired(false);
    assert_eq!(replies, [Reply::Done, Reply::Read(Some(5))]);
    assert!(!at_reply && !later);
}

#[test]
fn atomic_reads_and_writes_are_linearizable_under_faults() {
    const TEST: &str = "atomic_reads_and_writes_are_linearizable_under_faults";
    // Reads and writes only: compare-and-set stays non-atomic.
    let quorum = QuorumConfig::atomic(3, 2, 2);
    for seed in seeds(20) {
        let mut config = run_config(seed, reads_and_writes(5), random_faults());
        if seed % 2 == 1 {
            config.network = NetworkConfig::unreliable();
        }
        let report = run_quorum(&config, &quorum);
        let context = describe(&report, seed, TEST);
        assert_eq!(report.linearizable, Verdict::Linearizable, "{context}");
        assert!(report.outcomes[0] > 50, "{context}");
        assert_eq!(report.converged, Ok(()), "{context}");
    }
}

#[test]
fn atomic_writes_ignore_a_slow_clock() {
    const TEST: &str = "atomic_writes_ignore_a_slow_clock";
    // The setup of `r_plus_w_over_n_loses_acknowledged_writes_to_a_slow_clock`:
    // a write now reads the newest version first and stamps itself above it.
    let mut quorum = QuorumConfig::atomic(3, 2, 2);
    quorum.clock_skew_us = vec![0, 0, 0, 0, -50_000];
    for seed in seeds(20) {
        let report = run_quorum(
            &run_config(seed, reads_and_writes(3), Faults::None),
            &quorum,
        );
        let context = describe(&report, seed, TEST);
        assert_eq!(stale_read(&report.history), None, "{context}");
        assert_eq!(report.linearizable, Verdict::Linearizable, "{context}");
    }
}

#[test]
fn atomic_needs_strict_overlapping_quorums() {
    assert!(QuorumConfig::atomic(3, 2, 2).validate(5).is_ok());
    assert!(QuorumConfig::atomic(3, 1, 2).validate(5).is_err());
    let sloppy = QuorumConfig {
        sloppy: true,
        ..QuorumConfig::atomic(3, 2, 2)
    };
    let err = sloppy.validate(5).unwrap_err().to_string();
    assert!(err.contains("no sloppy quorum"), "{err}");
}

#[test]
fn r_plus_w_over_n_one_client_no_faults_never_reads_stale() {
    const TEST: &str = "r_plus_w_over_n_one_client_no_faults_never_reads_stale";
    // One client with no pause between operations, on a network whose
    // delays vary from 1 to 30 ms: a read can reach a replica before the
    // write just acknowledged does. Overlapping quorums must hide that;
    // R = W = 1 must show it (so this setup can catch a stale read).
    let config = |seed| {
        let mut config = run_config(
            seed,
            Workload {
                think_us: 0,
                ..reads_and_writes(1)
            },
            Faults::None,
        );
        config.network.latency_min_us = 1_000;
        config.network.latency_max_us = 30_000;
        config
    };
    let quorum = QuorumConfig::new(3, 2, 2);
    for seed in seeds(5) {
        let report = run_quorum(&config(seed), &quorum);
        assert_eq!(
            stale_read(&report.history),
            None,
            "{}",
            describe(&report, seed, TEST)
        );
        assert_eq!(
            report.linearizable,
            Verdict::Linearizable,
            "{}",
            describe(&report, seed, TEST)
        );
        assert!(report.outcomes[0] > 50, "{}", describe(&report, seed, TEST));
    }
    let one = QuorumConfig::new(3, 1, 1);
    let stale =
        seeds(5).find(|&seed| stale_read(&run_quorum(&config(seed), &one).history).is_some());
    assert!(
        stale.is_some(),
        "R = W = 1 never read stale: the setup cannot tell"
    );
}

#[test]
fn replicas_converge_after_healing() {
    const TEST: &str = "replicas_converge_after_healing";
    // Random faults (on a lossy network for odd seeds), then the run
    // heals, reads every key and idles: hinted handoff and read repair must
    // leave each key's replicas equal.
    let quorum = QuorumConfig::new(3, 2, 2);
    for seed in seeds(6) {
        let mut config = run_config(seed, Workload::default(), random_faults());
        if seed % 2 == 1 {
            config.network = NetworkConfig::unreliable();
        }
        let report = run_quorum(&config, &quorum);
        assert_eq!(
            report.converged,
            Ok(()),
            "{}",
            describe(&report, seed, TEST)
        );
        assert!(
            report.served_after_heal,
            "{}",
            describe(&report, seed, TEST)
        );
    }
}

/// Every preference replica of `key` holds the same value.
fn agree(sim: &Sim<QuorumNode>, key: Key) -> Result<(), String> {
    let owners = preference_list(key, sim.nodes(), 3);
    let states: Vec<(NodeId, Option<Value>)> = owners
        .iter()
        .map(|&o| (o, sim.node(o).and_then(|n| n.state().get(&key).copied())))
        .collect();
    if states.windows(2).all(|w| w[0].1 == w[1].1) {
        Ok(())
    } else {
        Err(format!("k{key}: {states:?}"))
    }
}

#[test]
fn hinted_handoff_alone_repairs_a_partitioned_replica() {
    // Read repair off, and nobody reads: only the hints can fix node 2.
    let mut quorum = QuorumConfig::new(3, 2, 2);
    quorum.read_repair = false;
    let mut sim: Sim<QuorumNode> = Sim::new(SimConfig::new(7, 5), quorum.clone());
    sim.add_monitor(Box::new(QuorumMonitor));
    sim.isolate(2);
    // Keys 0, 1 and 2 all have node 2 in their preference lists.
    for key in 0..3 {
        sim.submit(
            (key as NodeId + 3) % 5,
            Command::Write {
                key,
                value: 100 + i64::from(key),
            },
        );
    }
    sim.run_for(200_000);
    let replies = sim.take_replies();
    assert_eq!(replies.len(), 3);
    assert!(replies.iter().all(|r| r.3 == Reply::Done), "{replies:?}");
    let hints: usize = (0..5)
        .filter_map(|n| sim.node(n))
        .map(|n| n.hints().len())
        .sum();
    assert_eq!(hints, 3, "one hint per key for node 2");
    assert!(agree(&sim, 0).is_err());
    sim.heal();
    sim.run_for(5 * quorum.hint_retry_us);
    for key in 0..3 {
        agree(&sim, key).unwrap();
    }
    let hints: usize = (0..5)
        .filter_map(|n| sim.node(n))
        .map(|n| n.hints().len())
        .sum();
    assert_eq!(hints, 0, "delivered hints are forgotten");
    assert_eq!(sim.violation(), None);
}

#[test]
fn read_repair_alone_repairs_a_partitioned_replica() {
    let mut quorum = QuorumConfig::new(3, 2, 2);
    quorum.hinted_handoff = false;
    let mut sim: Sim<QuorumNode> = Sim::new(SimConfig::new(8, 3), quorum);
    sim.isolate(1);
    sim.submit(0, Command::Write { key: 0, value: 5 });
    sim.run_for(100_000);
    sim.heal();
    sim.run_for(100_000);
    assert!(agree(&sim, 0).is_err(), "no handoff: node 1 is still stale");
    sim.submit(2, Command::Read { key: 0 });
    sim.run_for(100_000);
    let replies = sim.take_replies();
    assert_eq!(replies.last().map(|r| r.3), Some(Reply::Read(Some(5))));
    agree(&sim, 0).unwrap();
}

#[test]
fn runs_replay_byte_identically() {
    let quorum = QuorumConfig::new(3, 2, 2);
    let config = RunConfig {
        trace: true,
        ..run_config(3, Workload::default(), random_faults())
    };
    let a = run_quorum(&config, &quorum);
    let b = run_quorum(&config, &quorum);
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.history, b.history);
}

#[test]
fn the_name_and_roles_are_reported() {
    assert_eq!(QuorumNode::NAME, "quorum");
    let sim: Sim<QuorumNode> = Sim::new(SimConfig::new(1, 3), QuorumConfig::default());
    assert_eq!(sim.node(0).map(|n| n.role()), Some("replica".to_owned()));
}
