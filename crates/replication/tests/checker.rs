//! The linearizability checker against an exhaustive one on thousands of
//! small random histories, and on textbook examples (Herlihy & Wing 1990);
//! its witnesses (the smallest set of operations that cannot be ordered)
//! against their definition; and its verdict on the large histories of the
//! performance targets (timed in `benches/benches/replication_checker.rs`,
//! not here).

use replication::history::{Effect, Event, HistoryError, Kind, Op, Operation, operations};
use replication::linearizability::{
    Budget, KeyVerdict, TARGET_HISTORIES, Verdict, Witness, check, check_register, register_history,
};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Every order of every subset of the indeterminate operations (plus all
/// the completed ones), checked directly against the definition.
fn brute_force(ops: &[Operation]) -> bool {
    let optional: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_none()).collect();
    for mask in 0..1u32 << optional.len() {
        let mut chosen: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_some()).collect();
        for (bit, &i) in optional.iter().enumerate() {
            if mask >> bit & 1 == 1 {
                chosen.push(i);
            }
        }
        if permutations_ok(ops, &mut chosen, 0) {
            return true;
        }
    }
    false
}

fn permutations_ok(ops: &[Operation], order: &mut Vec<usize>, from: usize) -> bool {
    if from == order.len() {
        return valid(ops, order);
    }
    for i in from..order.len() {
        order.swap(from, i);
        if permutations_ok(ops, order, from + 1) {
            order.swap(from, i);
            return true;
        }
        order.swap(from, i);
    }
    false
}

fn valid(ops: &[Operation], order: &[usize]) -> bool {
    // Real time: nothing placed after an operation completed before it.
    for (a, &x) in order.iter().enumerate() {
        for &y in &order[a + 1..] {
            if ops[y].ret.is_some_and(|ret| ret < ops[x].call) {
                return false;
            }
        }
    }
    let mut value = None;
    for &x in order {
        match ops[x].effect {
            Effect::Read(read) if read != value => return false,
            Effect::Read(_) => {}
            Effect::Write(v) => value = Some(v),
            Effect::Cas { expected, new } => {
                if value != Some(expected) {
                    return false;
                }
                value = Some(new);
            }
        }
    }
    true
}

/// A random history of `processes` clients on one key, produced by a real
/// register that applies each operation atomically at a random moment
/// between its invocation and completion (so it is linearizable); some
/// operations time out (`Info`), applied or not.
fn random_history(rng: &mut ChaCha8Rng, processes: u64, total: usize) -> Vec<Event> {
    #[derive(Clone, Copy)]
    struct Running {
        op: Op,
        applied: Option<Kind>,
    }
    let mut register: Option<i64> = None;
    let mut events = Vec::new();
    let mut running: Vec<Option<Running>> = vec![None; processes as usize];
    let mut ids: Vec<u64> = (0..processes).collect();
    let mut next_id = processes;
    let mut invoked = 0;
    let mut next_value = 1;
    while invoked < total || running.iter().any(Option::is_some) {
        let p = rng.random_range(0..processes as usize);
        match running[p] {
            None if invoked < total => {
                let op = match rng.random_range(0..3) {
                    0 => Op::Read(None),
                    1 => {
                        next_value += 1;
                        Op::Write(next_value)
                    }
                    _ => {
                        next_value += 1;
                        Op::Cas(rng.random_range(1..=next_value.max(2) - 1), next_value)
                    }
                };
                events.push(Event {
                    process: ids[p],
                    kind: Kind::Invoke,
                    op,
                    key: "k".into(),
                });
                running[p] = Some(Running { op, applied: None });
                invoked += 1;
            }
            None => {}
            Some(mut r) if r.applied.is_none() && rng.random_bool(0.5) => {
                // The linearization point.
                let (op, kind) = match r.op {
                    Op::Read(_) => (Op::Read(register), Kind::Ok),
                    Op::Write(v) => {
                        register = Some(v);
                        (Op::Write(v), Kind::Ok)
                    }
                    Op::Cas(e, n) if register == Some(e) => {
                        register = Some(n);
                        (Op::Cas(e, n), Kind::Ok)
                    }
                    Op::Cas(e, n) => (Op::Cas(e, n), Kind::Fail),
                };
                r.op = op;
                r.applied = Some(kind);
                running[p] = Some(r);
            }
            Some(r) => {
                let timeout = rng.random_bool(0.15);
                let kind = match r.applied {
                    _ if timeout => Kind::Info,
                    Some(kind) => kind,
                    None => continue, // must take effect before it completes
                };
                let op = match r.op {
                    Op::Read(_) if kind == Kind::Info => Op::Read(None),
                    op => op,
                };
                events.push(Event {
                    process: ids[p],
                    kind,
                    op,
                    key: "k".into(),
                });
                running[p] = None;
                if kind == Kind::Info {
                    ids[p] = next_id;
                    next_id += 1;
                }
            }
        }
    }
    events
}

/// Changes one read's result at random: often, but not always, breaking
/// linearizability.
fn corrupt(rng: &mut ChaCha8Rng, events: &mut [Event]) {
    let reads: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].kind == Kind::Ok && matches!(events[i].op, Op::Read(_)))
        .collect();
    if let Some(&i) = reads.get(rng.random_range(0..reads.len().max(1))) {
        let value = rng.random_range(0..4);
        events[i].op = Op::Read((value > 0).then_some(value));
    }
}

#[test]
fn agrees_with_brute_force_on_thousands_of_small_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x11_4E_A7);
    let (mut yes, mut no) = (0, 0);
    for case in 0..4_000 {
        let (processes, total) = (rng.random_range(1..=3), rng.random_range(1..=6));
        let mut events = random_history(&mut rng, processes, total);
        if case % 2 == 1 {
            corrupt(&mut rng, &mut events);
        }
        // Every operation may have failed, leaving the key without any.
        let ops = operations(&events).unwrap().remove("k").unwrap_or_default();
        let ops = &ops;
        let expected = brute_force(ops);
        let found = check_register(ops, Budget::default());
        assert_eq!(
            found == KeyVerdict::Linearizable,
            expected,
            "case {case} (seed 0x114EA7): {found:?}, brute force says {expected}\n{events:#?}"
        );
        if case % 2 == 0 {
            assert!(
                expected,
                "case {case}: a register's own history must be linearizable"
            );
        }
        if expected { yes += 1 } else { no += 1 }
    }
    // Both verdicts are exercised, or the comparison proves little.
    assert!(yes > 2_000 && no > 300, "{yes} linearizable, {no} not");
}

fn ev(process: u64, kind: Kind, op: Op) -> Event {
    Event {
        process,
        kind,
        op,
        key: "x".into(),
    }
}

#[test]
fn herlihy_wing_style_examples() {
    use Kind::*;
    // Overlapping write and read: the read may see either value.
    let overlap = [
        ev(1, Invoke, Op::Write(1)),
        ev(2, Invoke, Op::Read(None)),
        ev(2, Ok, Op::Read(None)),
        ev(1, Ok, Op::Write(1)),
    ];
    assert_eq!(
        check(&overlap, Budget::default()).unwrap(),
        Verdict::Linearizable
    );
    // A read that starts after a completed write must see it (or a later one).
    let stale = [
        ev(1, Invoke, Op::Write(1)),
        ev(1, Ok, Op::Write(1)),
        ev(2, Invoke, Op::Write(2)),
        ev(3, Invoke, Op::Read(None)),
        ev(3, Ok, Op::Read(Some(1))),
        ev(3, Invoke, Op::Read(None)),
        ev(3, Ok, Op::Read(Some(2))),
        ev(3, Invoke, Op::Read(None)),
        ev(3, Ok, Op::Read(Some(1))),
        ev(2, Ok, Op::Write(2)),
    ];
    // 1, then 2, then 1 again: the second read fixes write 2 before the
    // third read, which cannot then see 1.
    assert!(matches!(
        check(&stale, Budget::default()).unwrap(),
        Verdict::NotLinearizable { .. }
    ));
    // An indeterminate write may explain a read...
    let info = [
        ev(1, Invoke, Op::Write(7)),
        ev(1, Info, Op::Write(7)),
        ev(2, Invoke, Op::Read(None)),
        ev(2, Ok, Op::Read(Some(7))),
    ];
    assert_eq!(
        check(&info, Budget::default()).unwrap(),
        Verdict::Linearizable
    );
    // ...or never happen.
    let never = [
        ev(1, Invoke, Op::Write(7)),
        ev(1, Info, Op::Write(7)),
        ev(2, Invoke, Op::Read(None)),
        ev(2, Ok, Op::Read(None)),
    ];
    assert_eq!(
        check(&never, Budget::default()).unwrap(),
        Verdict::Linearizable
    );
    // A failed compare-and-set took no effect.
    let failed = [
        ev(1, Invoke, Op::Cas(0, 5)),
        ev(1, Fail, Op::Cas(0, 5)),
        ev(2, Invoke, Op::Read(None)),
        ev(2, Ok, Op::Read(Some(5))),
    ];
    assert!(matches!(
        check(&failed, Budget::default()).unwrap(),
        Verdict::NotLinearizable { .. }
    ));
}

#[test]
fn keys_are_judged_apart_and_the_budget_gives_unknown() {
    use Kind::*;
    let mut history = vec![
        Event {
            process: 1,
            kind: Invoke,
            op: Op::Write(1),
            key: "a".into(),
        },
        Event {
            process: 1,
            kind: Ok,
            op: Op::Write(1),
            key: "a".into(),
        },
        Event {
            process: 2,
            kind: Invoke,
            op: Op::Read(None),
            key: "b".into(),
        },
        Event {
            process: 2,
            kind: Ok,
            op: Op::Read(Some(1)),
            key: "b".into(),
        },
    ];
    // Key b was never written: its read of 1 is impossible, whatever a did.
    match check(&history, Budget::default()).unwrap() {
        Verdict::NotLinearizable { key, unplaced } => {
            assert_eq!(key, "b");
            assert_eq!(unplaced, vec![2]);
        }
        other => panic!("{other:?}"),
    }
    history.truncate(2);
    assert_eq!(
        check(&history, Budget { states: 0 }).unwrap(),
        Verdict::Unknown { key: "a".into() }
    );
}

#[test]
fn malformed_histories_are_refused_with_the_event() {
    use Kind::*;
    let twice = [ev(1, Invoke, Op::Write(1)), ev(1, Invoke, Op::Write(2))];
    assert_eq!(
        operations(&twice).unwrap_err(),
        HistoryError::AlreadyRunning {
            event: 1,
            process: 1,
            pending: 0
        }
    );
    let orphan = [ev(4, Ok, Op::Write(1))];
    assert_eq!(
        operations(&orphan).unwrap_err(),
        HistoryError::NotInvoked {
            event: 0,
            process: 4
        }
    );
    let after_info = [
        ev(1, Invoke, Op::Write(1)),
        ev(1, Info, Op::Write(1)),
        ev(1, Invoke, Op::Write(2)),
    ];
    assert_eq!(
        operations(&after_info).unwrap_err(),
        HistoryError::AfterInfo {
            event: 2,
            process: 1
        }
    );
    let mismatch = [ev(1, Invoke, Op::Write(1)), ev(1, Ok, Op::Write(2))];
    assert_eq!(
        operations(&mismatch).unwrap_err(),
        HistoryError::Mismatch {
            event: 1,
            process: 1,
            call: 0
        }
    );
}

/// `set` less `x` and, transitively, the operations that needed a value a
/// removed operation wrote (so the rest stays closed under reads-from).
fn remove_with_readers(set: &[Operation], x: usize) -> Vec<Operation> {
    let writes = |e: Effect| match e {
        Effect::Write(v) | Effect::Cas { new: v, .. } => Some(v),
        Effect::Read(_) => None,
    };
    let needs = |e: Effect| match e {
        Effect::Read(v) => v,
        Effect::Cas { expected, .. } => Some(expected),
        Effect::Write(_) => None,
    };
    let mut gone = vec![false; set.len()];
    gone[x] = true;
    let mut work = vec![x];
    while let Some(i) = work.pop() {
        for j in 0..set.len() {
            if !gone[j] && writes(set[i].effect).is_some_and(|v| needs(set[j].effect) == Some(v)) {
                gone[j] = true;
                work.push(j);
            }
        }
    }
    (0..set.len())
        .filter(|&i| !gone[i])
        .map(|i| set[i])
        .collect()
}

/// Checks a witness against its definition (module docs of
/// `linearizability`): a subset of `ops`, closed under reads-from, not
/// linearizable, and 1-minimal — judged by `linearizable`.
fn check_witness(
    ops: &[Operation],
    witness: &Witness,
    linearizable: impl Fn(&[Operation]) -> bool,
) {
    let w = &witness.ops;
    assert!(witness.minimal, "the default budget suffices here");
    assert!(w.iter().all(|op| ops.contains(op)), "a subset");
    assert!(
        w.windows(2).all(|p| p[0].call < p[1].call),
        "in invocation order"
    );
    for op in w {
        let need = match op.effect {
            Effect::Read(v) => v,
            Effect::Cas { expected, .. } => Some(expected),
            Effect::Write(_) => None,
        };
        if let Some(v) = need {
            for writer in ops {
                if matches!(writer.effect, Effect::Write(x) | Effect::Cas { new: x, .. } if x == v)
                {
                    assert!(
                        w.contains(writer),
                        "closed: {writer:?} writes what {op:?} needs"
                    );
                }
            }
        }
    }
    assert!(!linearizable(w), "the witness itself fails: {w:#?}");
    for x in 0..w.len() {
        let rest = remove_with_readers(w, x);
        assert!(
            linearizable(&rest),
            "1-minimal: removing {:?} still fails: {rest:#?}",
            w[x]
        );
    }
}

#[test]
fn witnesses_are_closed_failing_and_one_minimal_by_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x3171_4E55);
    let mut failures = 0;
    let mut sizes = [0usize; 8];
    for case in 0..3_000 {
        let (processes, total) = (rng.random_range(1..=3), rng.random_range(2..=7));
        let mut events = random_history(&mut rng, processes, total);
        corrupt(&mut rng, &mut events);
        let ops = operations(&events).unwrap().remove("k").unwrap_or_default();
        if let KeyVerdict::NotLinearizable(witness) = check_register(&ops, Budget::default()) {
            failures += 1;
            sizes[witness.ops.len().min(7)] += 1;
            check_witness(&ops, &witness, brute_force);
            let _ = case;
        }
    }
    assert!(failures > 500, "{failures} failing histories");
    // Not always the trivial one-operation witness.
    assert!(
        sizes[2..].iter().sum::<usize>() > 100,
        "witness sizes {sizes:?}"
    );
}

#[test]
fn witnesses_of_longer_histories_are_one_minimal() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x1_0461);
    let mut failures = 0;
    for _ in 0..300 {
        let (processes, total) = (rng.random_range(2..=6), rng.random_range(20..=60));
        let mut events = random_history(&mut rng, processes, total);
        corrupt(&mut rng, &mut events);
        let ops = operations(&events).unwrap().remove("k").unwrap_or_default();
        if let KeyVerdict::NotLinearizable(witness) = check_register(&ops, Budget::default()) {
            failures += 1;
            assert!(witness.ops.len() < ops.len(), "smaller than the history");
            check_witness(&ops, &witness, |set| {
                check_register(set, Budget::default()) == KeyVerdict::Linearizable
            });
        }
    }
    assert!(failures > 50, "{failures} failing histories");
}

#[test]
fn explanations_name_the_key_and_the_operations() {
    use Kind::*;
    let history = [
        ev(1, Invoke, Op::Write(1)),
        ev(1, Ok, Op::Write(1)),
        ev(2, Invoke, Op::Write(2)),
        ev(3, Invoke, Op::Read(None)),
        ev(3, Ok, Op::Read(Some(2))),
        ev(3, Invoke, Op::Read(None)),
        ev(3, Ok, Op::Read(Some(1))),
        ev(4, Invoke, Op::Write(9)),
        ev(4, Info, Op::Write(9)),
        ev(2, Info, Op::Write(2)),
    ];
    let verdict = check(&history, Budget::default()).unwrap();
    // The write of 9 is neither needed nor kept.
    assert_eq!(
        verdict,
        Verdict::NotLinearizable {
            key: "x".into(),
            unplaced: vec![0, 2, 3, 5]
        }
    );
    assert_eq!(
        verdict.explain(&history).to_string(),
        "not linearizable: key \"x\": no order places all 4 of these operations (events are 1-based):
  process 1  write 1     invoked at event 1, ok at event 2
  process 2  write 2     invoked at event 3, info (indeterminate) at event 10
  process 3  read -> 2   invoked at event 4, ok at event 5
  process 3  read -> 1   invoked at event 6, ok at event 7
"
    );
    assert_eq!(
        verdict.to_string(),
        "not linearizable: key \"x\": no order places all of the operations invoked at events 1, 3, 4, 6 (1-based)"
    );
}

#[test]
fn the_target_histories_are_decided_linearizable_within_the_default_budget() {
    for (workload, seed) in TARGET_HISTORIES {
        let history = register_history(&workload, seed);
        let infos = history.iter().filter(|e| e.kind == Kind::Info).count();
        assert_eq!(infos > 0, workload.info_per_mille > 0, "{workload:?}");
        assert_eq!(
            check(&history, Budget::default()).unwrap(),
            Verdict::Linearizable,
            "{workload:?}, seed {seed:#x}"
        );
    }
}

#[test]
fn a_corrupted_target_history_is_explained_by_a_few_operations() {
    let (workload, seed) = TARGET_HISTORIES[0];
    let mut history = register_history(&workload, seed);
    // A read late in the history returns a value its key held long before.
    let late = (history.len() * 3 / 4..history.len())
        .find(|&i| history[i].kind == Kind::Ok && matches!(history[i].op, Op::Read(Some(_))))
        .unwrap();
    let key = history[late].key.clone();
    let old = history
        .iter()
        .find(|e| e.key == key && e.kind == Kind::Ok && matches!(e.op, Op::Write(_)))
        .map(|e| match e.op {
            Op::Write(v) => v,
            _ => unreachable!(),
        })
        .unwrap();
    history[late].op = Op::Read(Some(old));
    let ops = operations(&history).unwrap().remove(&key).unwrap();
    let KeyVerdict::NotLinearizable(witness) = check_register(&ops, Budget::default()) else {
        panic!("a stale read must fail");
    };
    assert!(witness.minimal);
    assert!(
        witness.ops.len() <= 5,
        "the stale read, the old write, a newer write: {:#?}",
        witness.ops
    );
    check_witness(&ops, &witness, |set| {
        check_register(set, Budget::default()) == KeyVerdict::Linearizable
    });
}
