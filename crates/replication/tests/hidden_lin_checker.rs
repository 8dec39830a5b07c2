//! Hidden graded tests of lab `lin-checker` (`Search::run` in
//! `src/linearizability.rs`): larger random histories against the
//! brute-force model that tries every order, and the witness a failing
//! history is explained with, judged by its definition in the module docs
//! (closed under reads-from, not linearizable, 1-minimal), again by the
//! model. The witness is shrunk by code outside the lab, but every step of
//! the shrinking asks the search for a verdict.

use std::collections::HashSet;

use replication::history::{Effect, Operation};
use replication::linearizability::{Budget, KeyVerdict, check_register};

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

fn needs(effect: Effect) -> Option<i64> {
    match effect {
        Effect::Read(read) => read,
        Effect::Write(_) => None,
        Effect::Cas { expected, .. } => Some(expected),
    }
}

fn writes(effect: Effect) -> Option<i64> {
    match effect {
        Effect::Read(_) => None,
        Effect::Write(v) | Effect::Cas { new: v, .. } => Some(v),
    }
}

/// Up to nine operations, some indeterminate: the model still tries every
/// order.
#[test]
fn agrees_with_every_order_on_larger_histories() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut yes, mut no) = (0, 0);
        for _ in 0..40 {
            let n = rng.random_range(6..10);
            let ops = random_ops(&mut rng, n, 3, 0.2);
            let expected = brute_force(&ops);
            let got = match check_register(&ops, Budget::default()) {
                KeyVerdict::Linearizable => Some(true),
                KeyVerdict::NotLinearizable(_) => Some(false),
                KeyVerdict::Unknown => None,
            };
            assert_eq!(got, Some(expected), "{ops:#?}");
            if expected {
                yes += 1;
            } else {
                no += 1;
            }
        }
        assert!(yes > 0 && no > 0, "{yes} linearizable, {no} not");
    });
}

/// A witness is a subset of the history, closed under reads-from, not
/// linearizable, and 1-minimal: removing any member (with the members that
/// then lose the write they read) leaves a linearizable set.
#[test]
fn witnesses_are_closed_failing_and_one_minimal() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut failing = 0;
        for _ in 0..100 {
            let n = rng.random_range(2..8);
            let ops = random_ops(&mut rng, n, 3, 0.2);
            let witness = match check_register(&ops, Budget::default()) {
                KeyVerdict::NotLinearizable(witness) => witness,
                KeyVerdict::Linearizable => {
                    assert!(brute_force(&ops), "judged linearizable: {ops:#?}");
                    continue;
                }
                KeyVerdict::Unknown => panic!("unknown on {n} operations"),
            };
            failing += 1;
            assert!(!brute_force(&ops), "judged not linearizable: {ops:#?}");
            let set = witness.ops;
            assert!(witness.minimal, "the default budget shrinks {n} operations");
            for op in &set {
                assert!(
                    ops.contains(op),
                    "witness member {op:?} is not in the history"
                );
            }
            for op in &set {
                if let Some(v) = needs(op.effect) {
                    for w in ops.iter().filter(|w| writes(w.effect) == Some(v)) {
                        assert!(
                            set.contains(w),
                            "witness not closed: {op:?} needs {v}, written by {w:?}; {set:#?}"
                        );
                    }
                }
            }
            assert!(!brute_force(&set), "the witness is linearizable: {set:#?}");
            for x in 0..set.len() {
                let mut gone: HashSet<usize> = HashSet::from([x]);
                loop {
                    let lost: Vec<usize> = (0..set.len())
                        .filter(|&y| !gone.contains(&y))
                        .filter(|&y| {
                            needs(set[y].effect).is_some_and(|v| {
                                gone.iter().any(|&g| writes(set[g].effect) == Some(v))
                            })
                        })
                        .collect();
                    if lost.is_empty() {
                        break;
                    }
                    gone.extend(lost);
                }
                let rest: Vec<Operation> = (0..set.len())
                    .filter(|y| !gone.contains(y))
                    .map(|y| set[y])
                    .collect();
                assert!(
                    brute_force(&rest),
                    "witness not 1-minimal: without {:?} it still fails: {rest:#?}",
                    set[x]
                );
            }
        }
        assert!(failing > 0, "no failing history drawn");
    });
}
