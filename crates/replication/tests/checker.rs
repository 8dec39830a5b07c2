//! The linearizability checker against an exhaustive one on thousands of
//! small random histories, and on textbook examples (Herlihy & Wing 1990).

use replication::history::{Effect, Event, HistoryError, Kind, Op, Operation, operations};
use replication::linearizability::{Budget, KeyVerdict, Verdict, check, check_register};

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
