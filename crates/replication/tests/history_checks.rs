//! The history checkers of `replication::checkers` against a model store
//! whose faults are known: a single-copy store that may drop an
//! acknowledged write, or serve a read from a lagging copy. Each checker
//! must be sound — flag only what the store really did wrong, and never
//! overstate it — and, over many seeds, find what it did.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replication::checkers::{Freshness, LostWrite, convergence, lost_writes, read_staleness};
use replication::history::{Event, Kind, Op};
use replication::protocol::{Key, NodeId, Time, Value, key_name};

/// What a run of the model store did, beside its history.
struct Run {
    history: Vec<(Time, Event)>,
    final_values: BTreeMap<String, Option<Value>>,
    /// Invocation positions of acknowledged writes the store dropped.
    dropped: HashSet<usize>,
    /// For each `ok` read (by invocation position): how many applied
    /// writes it was behind.
    lag: HashMap<usize, usize>,
}

/// Faults the model store injects.
#[derive(Clone, Copy)]
struct Faults {
    /// Probability that an acknowledged write is not applied.
    drop: f64,
    /// A read returns the value up to this many writes old.
    lag_max: usize,
}

/// `operations` operations of `clients` clients on `keys` keys against a
/// store that applies each at one moment inside its call (less `faults`);
/// 10% of writes end `info`, applied or not. Events are 7 µs apart.
fn run(seed: u64, clients: usize, keys: Key, operations: usize, faults: Faults) -> Run {
    #[derive(Clone, Copy)]
    struct Running {
        call: usize,
        key: Key,
        op: Op,
        outcome: Option<Kind>,
        applies: bool,
        info: bool,
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Every value each key has held, oldest first.
    let mut store: Vec<Vec<Value>> = vec![Vec::new(); keys as usize];
    let mut running: Vec<Option<Running>> = vec![None; clients];
    let mut process: Vec<u64> = (0..clients as u64).collect();
    let mut next_process = clients as u64;
    let mut out = Run {
        history: Vec::new(),
        final_values: BTreeMap::new(),
        dropped: HashSet::new(),
        lag: HashMap::new(),
    };
    let (mut invoked, mut next_value) = (0, 0);
    for step in 0..4 * operations {
        let c = rng.random_range(0..clients);
        let time = step as Time * 7;
        let mut record = |kind, op, key, process| {
            out.history.push((
                time,
                Event {
                    process,
                    kind,
                    op,
                    key: key_name(key),
                },
            ));
            out.history.len() - 1
        };
        match running[c] {
            None if invoked < operations => {
                let key = rng.random_range(0..keys);
                next_value += 1;
                let op = match rng.random_range(0..10) {
                    0..5 => Op::Read(None),
                    5..9 => Op::Write(next_value),
                    _ => Op::Cas(store[key as usize].last().copied().unwrap_or(0), next_value),
                };
                let info = !matches!(op, Op::Read(_)) && rng.random_bool(0.1);
                let call = record(Kind::Invoke, op, key, process[c]);
                running[c] = Some(Running {
                    call,
                    key,
                    op,
                    outcome: None,
                    applies: !info || rng.random_bool(0.5),
                    info,
                });
                invoked += 1;
            }
            None => {}
            Some(mut r) if r.outcome.is_none() && r.applies => {
                let values = &mut store[r.key as usize];
                let lost = !r.info && rng.random_bool(faults.drop);
                let (op, kind) = match r.op {
                    Op::Read(_) => {
                        let lag = rng.random_range(0..=faults.lag_max).min(values.len());
                        out.lag.insert(r.call, lag);
                        let seen = values.len().checked_sub(lag + 1).map(|i| values[i]);
                        (Op::Read(seen), Kind::Ok)
                    }
                    Op::Write(v) => {
                        if lost {
                            out.dropped.insert(r.call);
                        } else {
                            values.push(v);
                        }
                        (r.op, Kind::Ok)
                    }
                    Op::Cas(expected, new) if values.last() == Some(&expected) => {
                        if lost {
                            out.dropped.insert(r.call);
                        } else {
                            values.push(new);
                        }
                        (r.op, Kind::Ok)
                    }
                    Op::Cas(..) => (r.op, Kind::Fail),
                };
                r.op = op;
                r.outcome = Some(kind);
                running[c] = Some(r);
            }
            Some(r) => {
                let kind = if r.info {
                    Kind::Info
                } else {
                    r.outcome.unwrap_or(Kind::Info)
                };
                let op = match r.op {
                    Op::Read(_) if kind == Kind::Info => Op::Read(None),
                    op => op,
                };
                record(kind, op, r.key, process[c]);
                running[c] = None;
                if kind == Kind::Info {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    for (key, values) in store.iter().enumerate() {
        out.final_values
            .insert(key_name(key as Key), values.last().copied());
    }
    out
}

const SEEDS: u64 = 300;

#[test]
fn a_correct_store_loses_nothing_and_serves_no_stale_read() {
    let correct = Faults {
        drop: 0.0,
        lag_max: 0,
    };
    for seed in 0..SEEDS {
        let run = run(seed, 6, 3, 200, correct);
        assert_eq!(
            lost_writes(&run.history, &run.final_values),
            vec![],
            "seed {seed}"
        );
        for s in read_staleness(&run.history) {
            assert_eq!(
                s.freshness,
                Freshness::Behind {
                    versions_behind: 0,
                    time_behind_us: 0
                },
                "seed {seed}: {s:?}"
            );
        }
    }
}

#[test]
fn only_writes_the_store_dropped_are_reported_lost() {
    let lossy = Faults {
        drop: 0.05,
        lag_max: 0,
    };
    let (mut flagged, mut dropped) = (0, 0);
    for seed in 0..SEEDS {
        let run = run(seed, 6, 3, 200, lossy);
        dropped += run.dropped.len();
        for lost in lost_writes(&run.history, &run.final_values) {
            match lost {
                LostWrite::Lost { call, .. } => {
                    assert!(run.dropped.contains(&call), "seed {seed}: {lost:?}");
                    flagged += 1;
                }
                LostWrite::Corrupt { .. } => panic!("seed {seed}: {lost:?}"),
            }
        }
    }
    // Most drops are overwritten before the end; the last ones are caught.
    assert!(flagged > 0 && flagged <= dropped, "{flagged} of {dropped}");
}

#[test]
fn staleness_never_overstates_a_lagging_store() {
    let lagging = Faults {
        drop: 0.0,
        lag_max: 3,
    };
    let (mut stale, mut reads) = (0, 0);
    for seed in 0..SEEDS {
        let run = run(seed, 6, 3, 200, lagging);
        for s in read_staleness(&run.history) {
            let Freshness::Behind {
                versions_behind,
                time_behind_us,
            } = s.freshness
            else {
                panic!("seed {seed}: {s:?}");
            };
            let lag = run.lag[&s.call];
            assert!(versions_behind <= lag, "seed {seed}: {s:?}, lag {lag}");
            assert_eq!(versions_behind == 0, time_behind_us == 0, "{s:?}");
            reads += 1;
            stale += usize::from(versions_behind > 0);
        }
    }
    assert!(stale > reads / 10, "{stale} of {reads} reads found stale");
}

#[test]
fn replicas_that_skip_an_update_diverge_on_its_key() {
    let mut rng = ChaCha8Rng::seed_from_u64(0xC0_4E);
    for case in 0..100 {
        let log: Vec<(Key, Value)> = (0..50).map(|v| (rng.random_range(0..5), v)).collect();
        let replay = |skip: Option<usize>| -> BTreeMap<Key, Value> {
            let mut state = BTreeMap::new();
            for (i, &(key, value)) in log.iter().enumerate() {
                if Some(i) != skip {
                    state.insert(key, value);
                }
            }
            state
        };
        let agreed: Vec<(NodeId, BTreeMap<Key, Value>)> =
            (0..3).map(|n| (n, replay(None))).collect();
        assert_eq!(convergence(&agreed), Ok(()));
        let skipped = rng.random_range(0..log.len());
        let mut states = agreed.clone();
        states[1].1 = replay(Some(skipped));
        let key = log[skipped].0;
        let overwritten = log[skipped + 1..].iter().any(|&(k, _)| k == key);
        match convergence(&states) {
            Ok(()) => assert!(overwritten, "case {case}"),
            Err(divergence) => {
                assert!(!overwritten, "case {case}");
                assert_eq!(divergence.key, key);
                assert_ne!(divergence.values[0].1, divergence.values[1].1);
                assert_eq!(divergence.values[0].1, divergence.values[2].1);
            }
        }
    }
}
