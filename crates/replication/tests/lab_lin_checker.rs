//! Graded tests of lab `lin-checker`: the search at the heart of the
//! linearizability checker (`Search::run` in `src/linearizability.rs`).
//! Small histories with verdicts worked out by hand; random tiny histories
//! of one register against a brute-force model that tries every order of
//! the operations (and every subset of the indeterminate ones) on a single
//! register; histories of a real single-copy register, linearizable as
//! made and not once one read is corrupted; and the budget, which must end
//! in `Unknown`, never in a pass. Every test has histories of both
//! verdicts, so a checker that always answers the same fails it.

use replication::history::{Effect, Event, Kind, Op, Operation};
use replication::linearizability::{
    Budget, KeyVerdict, Verdict, Workload, check, check_register, register_history,
};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Whether some order of all completed operations and some of the
/// indeterminate ones keeps real time and replays on one register (absent
/// at first) to every read's value and every compare-and-set's
/// expectation: tries them all, one placement at a time.
fn brute_force(ops: &[Operation]) -> bool {
    fn extend(ops: &[Operation], placed: &mut Vec<bool>, value: Option<i64>) -> bool {
        if (0..ops.len()).all(|i| placed[i] || ops[i].ret.is_none()) {
            return true;
        }
        for i in 0..ops.len() {
            if placed[i] {
                continue;
            }
            // Real time: an unplaced operation that completed before `i`
            // was invoked must come first.
            let blocked = (0..ops.len())
                .any(|j| !placed[j] && j != i && ops[j].ret.is_some_and(|r| r < ops[i].call));
            if blocked {
                continue;
            }
            let after = match ops[i].effect {
                Effect::Read(read) if read == value => value,
                Effect::Read(_) => continue,
                Effect::Write(v) => Some(v),
                Effect::Cas { expected, new } if value == Some(expected) => Some(new),
                Effect::Cas { .. } => continue,
            };
            placed[i] = true;
            let found = extend(ops, placed, after);
            placed[i] = false;
            if found {
                return true;
            }
        }
        false
    }
    extend(ops, &mut vec![false; ops.len()], None)
}

/// `n` operations with random effects on values `1..=values` and random
/// overlapping intervals (invocation and completion positions drawn as a
/// random interleaving); each is indeterminate with probability
/// `indeterminate`.
fn random_ops(rng: &mut ChaCha8Rng, n: usize, values: i64, indeterminate: f64) -> Vec<Operation> {
    // Each operation's two events, shuffled; an operation's first event is
    // its invocation.
    let mut events: Vec<usize> = (0..n).flat_map(|i| [i, i]).collect();
    for k in (1..events.len()).rev() {
        let j = rng.random_range(0..=k);
        events.swap(k, j);
    }
    let mut call = vec![None; n];
    let mut ret = vec![None; n];
    for (position, &i) in events.iter().enumerate() {
        if call[i].is_none() {
            call[i] = Some(position);
        } else {
            ret[i] = Some(position);
        }
    }
    let value = |rng: &mut ChaCha8Rng| rng.random_range(1..=values);
    (0..n)
        .map(|i| Operation {
            call: call[i].unwrap(),
            ret: if rng.random_bool(indeterminate) {
                None
            } else {
                ret[i]
            },
            process: i as u64,
            effect: match rng.random_range(0..4) {
                0 => Effect::Read(None),
                1 => Effect::Read(Some(value(rng))),
                2 => Effect::Write(value(rng)),
                _ => Effect::Cas {
                    expected: value(rng),
                    new: value(rng),
                },
            },
        })
        .collect()
}

fn decided(verdict: &KeyVerdict) -> Option<bool> {
    match verdict {
        KeyVerdict::Linearizable => Some(true),
        KeyVerdict::NotLinearizable(_) => Some(false),
        KeyVerdict::Unknown => None,
    }
}

/// Runs `cases` random histories of `n` operations (`n` drawn from
/// `sizes`) through the checker and the model; both verdicts must occur.
fn against_the_model(seed: u64, cases: usize, sizes: std::ops::Range<usize>, indeterminate: f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut yes, mut no) = (0, 0);
    for _ in 0..cases {
        let n = rng.random_range(sizes.clone());
        let ops = random_ops(&mut rng, n, 3, indeterminate);
        let expected = brute_force(&ops);
        let got = decided(&check_register(&ops, Budget::default()));
        assert_eq!(
            got,
            Some(expected),
            "the checker says {got:?} (None: unknown), every order tried says {expected}: {ops:#?}"
        );
        if expected {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(
        yes > 0 && no > 0,
        "the generator gave {yes} linearizable and {no} other histories"
    );
}

/// Completed operations only: the plain search.
#[test]
fn agrees_with_every_order_on_tiny_histories() {
    strata_lab::for_each_seed(32, |seed| against_the_model(seed, 200, 1..7, 0.0));
}

/// Indeterminate operations may take effect anywhere after their
/// invocation, or never.
#[test]
fn agrees_with_every_order_with_indeterminate_operations() {
    strata_lab::for_each_seed(32, |seed| against_the_model(seed, 200, 1..7, 0.3));
}

fn ev(process: u64, kind: Kind, op: Op) -> Event {
    ev_on("k", process, kind, op)
}

fn ev_on(key: &str, process: u64, kind: Kind, op: Op) -> Event {
    Event {
        process,
        kind,
        op,
        key: key.into(),
    }
}

use Kind::{Fail, Info, Invoke, Ok as Done};
use Op::{Cas, Read, Write};

/// `history`'s verdict must be `expected`: `Ok(())` for linearizable,
/// `Err(key)` for not linearizable on `key`.
fn judge(name: &str, history: &[Event], expected: Result<(), &str>) {
    let verdict = check(history, Budget::default()).expect("a well-formed history");
    match (&verdict, expected) {
        (Verdict::Linearizable, Ok(())) => {}
        (Verdict::NotLinearizable { key, .. }, Err(want)) if key == want => {}
        _ => panic!("{name}: expected {expected:?}, the checker says {verdict}"),
    }
}

/// Textbook histories with the verdict worked out by hand.
#[test]
fn small_histories_get_their_known_verdicts() {
    judge(
        "a read after a write returns it",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(2, Invoke, Read(None)),
            ev(2, Done, Read(Some(1))),
        ],
        Ok(()),
    );
    judge(
        "a read after a completed write misses it",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(2, Invoke, Read(None)),
            ev(2, Done, Read(None)),
        ],
        Err("k"),
    );
    judge(
        "a read returns a value nobody wrote",
        &[ev(1, Invoke, Read(None)), ev(1, Done, Read(Some(7)))],
        Err("k"),
    );
    judge(
        "a read overlapping a write may see either value",
        &[
            ev(1, Invoke, Write(1)),
            ev(2, Invoke, Read(None)),
            ev(2, Done, Read(None)),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(1))),
            ev(1, Done, Write(1)),
        ],
        Ok(()),
    );
    judge(
        "once a read saw the new value, a later read cannot see the old",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(1, Invoke, Write(2)),
            ev(2, Invoke, Read(None)),
            ev(2, Done, Read(Some(2))),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(1))),
            ev(1, Done, Write(2)),
        ],
        Err("k"),
    );
    judge(
        "overlapping writes may land in either order",
        &[
            ev(1, Invoke, Write(1)),
            ev(2, Invoke, Write(2)),
            ev(1, Done, Write(1)),
            ev(2, Done, Write(2)),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(1))),
        ],
        Ok(()),
    );
    judge(
        "a stale read after two sequential writes",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(1, Invoke, Write(2)),
            ev(1, Done, Write(2)),
            ev(2, Invoke, Read(None)),
            ev(2, Done, Read(Some(1))),
        ],
        Err("k"),
    );
    judge(
        "a compare-and-set finds the value written before it",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(2, Invoke, Cas(1, 2)),
            ev(2, Done, Cas(1, 2)),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(2))),
        ],
        Ok(()),
    );
    judge(
        "a compare-and-set succeeds on a value never written",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(2, Invoke, Cas(5, 2)),
            ev(2, Done, Cas(5, 2)),
        ],
        Err("k"),
    );
    judge(
        "a failed compare-and-set changes nothing",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(2, Invoke, Cas(5, 2)),
            ev(2, Fail, Cas(5, 2)),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(1))),
        ],
        Ok(()),
    );
    judge(
        "a timed-out write may have taken effect later",
        &[
            ev(1, Invoke, Write(3)),
            ev(1, Info, Write(3)),
            ev(2, Invoke, Read(None)),
            ev(2, Done, Read(None)),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(3))),
        ],
        Ok(()),
    );
    judge(
        "a timed-out write may never have taken effect",
        &[
            ev(1, Invoke, Write(1)),
            ev(1, Done, Write(1)),
            ev(2, Invoke, Write(3)),
            ev(2, Info, Write(3)),
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(1))),
        ],
        Ok(()),
    );
    judge(
        "a timed-out write cannot be read before it was invoked",
        &[
            ev(3, Invoke, Read(None)),
            ev(3, Done, Read(Some(3))),
            ev(1, Invoke, Write(3)),
            ev(1, Info, Write(3)),
        ],
        Err("k"),
    );
    judge(
        "keys are judged apart: only b fails",
        &[
            ev_on("a", 1, Invoke, Write(1)),
            ev_on("a", 1, Done, Write(1)),
            ev_on("b", 2, Invoke, Write(1)),
            ev_on("b", 2, Done, Write(1)),
            ev_on("a", 3, Invoke, Read(None)),
            ev_on("a", 3, Done, Read(Some(1))),
            ev_on("b", 4, Invoke, Read(None)),
            ev_on("b", 4, Done, Read(None)),
        ],
        Err("b"),
    );
}

/// A single-copy store's histories (many overlapping operations, some
/// timed out) are linearizable; replacing the value one completed read
/// returned by a value never written makes them not.
#[test]
fn a_real_register_passes_and_a_corrupted_read_fails() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let workload = Workload {
            operations: rng.random_range(50..400),
            clients: rng.random_range(2..12),
            keys: rng.random_range(1..4),
            info_per_mille: rng.random_range(0..200),
        };
        let mut history = register_history(&workload, seed);
        assert_eq!(
            check(&history, Budget::default()),
            Ok(Verdict::Linearizable),
            "{workload:?}, seed {seed}: a single copy's history"
        );
        let reads: Vec<usize> = (0..history.len())
            .filter(|&i| history[i].kind == Kind::Ok && matches!(history[i].op, Read(_)))
            .collect();
        if reads.is_empty() {
            return;
        }
        let victim = reads[rng.random_range(0..reads.len())];
        history[victim].op = Read(Some(-1));
        let key = history[victim].key.clone();
        match check(&history, Budget::default()) {
            Ok(Verdict::NotLinearizable { key: bad, .. }) if bad == key => {}
            other => panic!(
                "{workload:?}, seed {seed}: event {victim} now reads a value never written \
                 on key {key}, but the checker says {other:?}"
            ),
        }
    });
}

/// The budget counts placements; a search that runs out of it answers
/// `Unknown`, never `Linearizable`, and a history it can decide is decided
/// once the budget is large enough.
#[test]
fn a_search_out_of_budget_says_unknown() {
    let op = |call, ret, effect| Operation {
        call,
        ret: Some(ret),
        process: call as u64,
        effect,
    };
    let sequential = [
        op(0, 1, Effect::Write(1)),
        op(2, 3, Effect::Write(2)),
        op(4, 5, Effect::Write(3)),
        op(6, 7, Effect::Read(Some(3))),
    ];
    assert_eq!(
        check_register(&sequential, Budget { states: 1 }),
        KeyVerdict::Unknown,
        "four operations cannot be placed within one state"
    );
    assert_eq!(
        check_register(&sequential, Budget::default()),
        KeyVerdict::Linearizable
    );
    let stale = [
        op(0, 1, Effect::Write(1)),
        op(2, 3, Effect::Write(2)),
        op(4, 5, Effect::Read(Some(1))),
    ];
    assert_eq!(
        check_register(&stale, Budget { states: 0 }),
        KeyVerdict::Unknown,
        "no state to spend: not even the first placement"
    );
    assert!(matches!(
        check_register(&stale, Budget::default()),
        KeyVerdict::NotLinearizable(_)
    ));
}
