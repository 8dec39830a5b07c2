//! Checkers other than linearizability: lost writes, stale reads and
//! replica convergence, each a pure function of what a run recorded.
//!
//! A run's history is `&[(Time, Event)]`: the client events of
//! [`history`](crate::history) in real-time order, each with the virtual
//! time (µs) it happened at. Order is taken from positions — operation
//! `a` *precedes* `b` when `a`'s completion comes before `b`'s invocation
//! in the history, as in the linearizability checker — and times only
//! measure how long ago something was.
//!
//! Each checker is **sound** in one direction: it reports only what no
//! correct single-copy store could have produced; a store may still be
//! wrong in ways a checker cannot see.
//!
// ANCHOR: lost_rules
//! # Lost writes ([`lost_writes`])
//!
//! Given the value of each key read once the cluster has healed, an
//! acknowledged (`ok`) write or compare-and-set `u` of key `k` is **lost**
//! when:
//!
//! 1. the final value is absent: there is no delete, so once `u` took
//!    effect (it was acknowledged) the key can never be absent again; or
//! 2. the final value is `v`, `u` does not write `v`, and every operation
//!    that writes `v` was acknowledged and completed before `u` was
//!    invoked. In any order of the history, each of them then comes before
//!    `u`; after `u` only a write of `v` could bring `v` back, and none
//!    comes after `u`, so the final `v` means `u`'s effect was undone. A
//!    write of `v` that ended `info` (or never completed) may take effect
//!    at any moment after its invocation, so it protects every `u`: it
//!    could have overwritten `u` legitimately.
//! 3. If no operation at all writes the final value `v`, the value is
//!    **corrupt**: this is reported once for the key
//!    ([`LostWrite::Corrupt`]) instead of listing its writes.
//!
//! Rules 1 and 2 never flag a write that a later write could legitimately
//! have overwritten: they flag `u` only when no write of the final value
//! can come after it.
// ANCHOR_END: lost_rules
//!
// ANCHOR: staleness_rules
//! # Stale reads ([`read_staleness`])
//!
//! For an `ok` read `r` of key `k` that returned `v`, the writes
//! **certainly newer** than the one it read are the acknowledged writes
//! and compare-and-sets of `k` that were invoked after the write of `v`
//! completed and completed before `r` was invoked: any order must place
//! them between that write and `r`.
//!
//! 1. `versions_behind` counts them; `time_behind_us` is `r`'s invocation
//!    time less the completion time of the earliest of them (0 if none).
//! 2. A read of absent counts every acknowledged write completed before
//!    it was invoked (the key starts absent).
//! 3. If several operations write `v`, the one that completed last is
//!    taken (the least staleness); if one of them ended `info` it may have
//!    taken effect just before `r`, so nothing is certainly newer.
//! 4. A read of a value no operation writes is flagged
//!    [`Freshness::NeverWritten`].
// ANCHOR_END: staleness_rules
//!
//! # Not checked
//!
//! These checkers assume a well-formed history (as
//! [`history::operations`](crate::history::operations) would accept); on
//! one that is not, they skip a completion that matches no running
//! invocation of its process and never panic. Run the linearizability
//! checker to have such a history refused.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::history::{Effect, Event, Kind, Op};
use crate::protocol::{Key, NodeId, Time, Value, key_name};

/// An operation of one key as these checkers see it.
#[derive(Debug, Clone, Copy)]
struct Timed {
    process: u64,
    effect: Effect,
    /// Position and time of the invocation.
    call: usize,
    call_us: Time,
    /// Position and time of the `ok` completion; `None` if it ended `info`
    /// or never completed.
    ret: Option<(usize, Time)>,
}

impl Timed {
    /// The value it writes, if it writes.
    fn writes(&self) -> Option<Value> {
        match self.effect {
            Effect::Write(v) | Effect::Cas { new: v, .. } => Some(v),
            Effect::Read(_) => None,
        }
    }

    /// Whether it completed before `other` was invoked.
    fn precedes(&self, other: &Timed) -> bool {
        self.ret.is_some_and(|(ret, _)| ret < other.call)
    }
}

/// The operations of each key that may have taken effect, in invocation
/// order: `fail`ed ones and reads that did not return are left out.
fn timed_operations(history: &[(Time, Event)]) -> BTreeMap<&str, Vec<Timed>> {
    let mut running: HashMap<u64, usize> = HashMap::new();
    let mut by_key: BTreeMap<&str, Vec<Timed>> = BTreeMap::new();
    let mut push = |call: usize, ret: Option<(usize, Time)>, op: Op| {
        let (call_us, invoked) = &history[call];
        let effect = match op {
            Op::Read(value) => Effect::Read(value),
            Op::Write(value) => Effect::Write(value),
            Op::Cas(expected, new) => Effect::Cas { expected, new },
        };
        by_key.entry(&invoked.key).or_default().push(Timed {
            process: invoked.process,
            effect,
            call,
            call_us: *call_us,
            ret,
        });
    };
    for (i, (time, event)) in history.iter().enumerate() {
        if event.kind == Kind::Invoke {
            running.insert(event.process, i);
            continue;
        }
        let Some(call) = running.remove(&event.process) else {
            continue; // completes nothing: skipped (module docs)
        };
        match event.kind {
            Kind::Ok => push(call, Some((i, *time)), event.op),
            Kind::Info if !matches!(event.op, Op::Read(_)) => push(call, None, event.op),
            _ => {}
        }
    }
    let mut open: Vec<usize> = running.into_values().collect();
    open.sort_unstable();
    for call in open {
        if !matches!(history[call].1.op, Op::Read(_)) {
            push(call, None, history[call].1.op);
        }
    }
    for ops in by_key.values_mut() {
        ops.sort_by_key(|op| op.call);
    }
    by_key
}

/// Why [`lost_writes`] reports an acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LostWrite {
    /// An acknowledged write or compare-and-set whose effect is gone.
    Lost {
        /// The key.
        key: String,
        /// The process that ran it.
        process: u64,
        /// Its effect.
        effect: Effect,
        /// Position of its invocation in the history.
        call: usize,
        /// Time of its acknowledgement.
        acknowledged_us: Time,
        /// The key's final value (`None`: absent, rule 1).
        final_value: Option<Value>,
    },
    /// The key's final value was never written by any operation (rule 3).
    Corrupt {
        /// The key.
        key: String,
        /// The value found.
        value: Value,
    },
}

// ANCHOR: lost_writes
/// The acknowledged writes certainly lost, given each key's final value
/// (keys not in `final_values` are not judged), by the rules of the
/// [module docs](self); in key order, then invocation order.
pub fn lost_writes(
    history: &[(Time, Event)],
    final_values: &BTreeMap<String, Option<Value>>,
) -> Vec<LostWrite> {
    let by_key = timed_operations(history);
    let mut lost = Vec::new();
    for (key, &final_value) in final_values {
        let ops = by_key.get(key.as_str()).map_or(&[][..], Vec::as_slice);
        let writers: Vec<&Timed> = match final_value {
            Some(v) => ops.iter().filter(|op| op.writes() == Some(v)).collect(),
            None => Vec::new(),
        };
        if let Some(value) = final_value
            && writers.is_empty()
        {
            lost.push(LostWrite::Corrupt {
                key: key.clone(),
                value,
            });
            continue;
        }
        for u in ops {
            let Some((_, acknowledged_us)) = u.ret else {
                continue;
            };
            let Some(written) = u.writes() else {
                continue;
            };
            let gone = match final_value {
                None => true,
                Some(v) => written != v && writers.iter().all(|w| w.precedes(u)),
            };
            if gone {
                lost.push(LostWrite::Lost {
                    key: key.clone(),
                    process: u.process,
                    effect: u.effect,
                    call: u.call,
                    acknowledged_us,
                    final_value,
                });
            }
        }
    }
    lost
}
// ANCHOR_END: lost_writes

/// How far behind a read was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// It returned a value some operation wrote.
    Behind {
        /// Acknowledged writes certainly newer than the one it read.
        versions_behind: usize,
        /// Its invocation time less the completion time of the earliest
        /// certainly newer write (0 if none).
        time_behind_us: Time,
    },
    /// It returned a value no operation wrote.
    NeverWritten,
}

/// One `ok` read and its [`Freshness`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staleness {
    /// The key.
    pub key: String,
    /// The reading process.
    pub process: u64,
    /// Position of its invocation in the history.
    pub call: usize,
    /// The value it returned (`None`: absent).
    pub value: Option<Value>,
    /// How far behind it was.
    pub freshness: Freshness,
}

// ANCHOR: read_staleness
/// The freshness of every `ok` read, by the rules of the
/// [module docs](self), in key order, then invocation order.
///
/// Costs `O(reads × writes)` per key.
pub fn read_staleness(history: &[(Time, Event)]) -> Vec<Staleness> {
    let mut out = Vec::new();
    for (key, ops) in timed_operations(history) {
        let acked: Vec<&Timed> = ops
            .iter()
            .filter(|op| op.ret.is_some() && op.writes().is_some())
            .collect();
        for r in &ops {
            let (Effect::Read(value), Some(_)) = (r.effect, r.ret) else {
                continue;
            };
            let freshness = match value {
                None => behind(&acked, None, r),
                Some(v) => {
                    let writers: Vec<&Timed> =
                        ops.iter().filter(|op| op.writes() == Some(v)).collect();
                    if writers.is_empty() {
                        Freshness::NeverWritten
                    } else if writers.iter().any(|w| w.ret.is_none()) {
                        behind(&[], None, r)
                    } else {
                        let last = writers
                            .iter()
                            .filter_map(|w| w.ret)
                            .map(|(ret, _)| ret)
                            .max();
                        behind(&acked, last, r)
                    }
                }
            };
            out.push(Staleness {
                key: key.to_owned(),
                process: r.process,
                call: r.call,
                value,
                freshness,
            });
        }
    }
    out
}

/// The writes of `acked` invoked after position `after` (`None`: from the
/// start) and completed before `r` was invoked.
fn behind(acked: &[&Timed], after: Option<usize>, r: &Timed) -> Freshness {
    let newer = acked
        .iter()
        .filter(|u| after.is_none_or(|a| u.call > a) && u.precedes(r));
    let (versions_behind, earliest) = newer.fold((0, None::<Time>), |(n, e), u| {
        let t = u.ret.map_or(Time::MAX, |(_, t)| t);
        (n + 1, Some(e.map_or(t, |e| e.min(t))))
    });
    Freshness::Behind {
        versions_behind,
        time_behind_us: earliest.map_or(0, |t| r.call_us.saturating_sub(t)),
    }
}
// ANCHOR_END: read_staleness

/// Replicas that do not hold the same state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "replicas diverge on {}: {}; wait longer before comparing, or look for a lost or misapplied update",
    key_name(*.key),
    describe(.values)
)]
pub struct Divergence {
    /// The first key (in key order) on which they differ.
    pub key: Key,
    /// Every listed replica's value of it (`None`: absent), in the order
    /// given.
    pub values: Vec<(NodeId, Option<Value>)>,
}

fn describe(values: &[(NodeId, Option<Value>)]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|(node, value)| match value {
            Some(v) => format!("node {node} holds {v}"),
            None => format!("node {node} holds nothing"),
        })
        .collect();
    parts.join(", ")
}

// ANCHOR: convergence
/// Whether all listed replicas hold identical maps.
///
/// # Errors
///
/// A [`Divergence`] naming the first key on which two replicas differ and
/// every replica's value of it.
pub fn convergence(states: &[(NodeId, BTreeMap<Key, Value>)]) -> Result<(), Divergence> {
    let Some((_, first)) = states.first() else {
        return Ok(());
    };
    if states.iter().all(|(_, state)| state == first) {
        return Ok(());
    }
    let keys: BTreeSet<Key> = states
        .iter()
        .flat_map(|(_, state)| state.keys().copied())
        .collect();
    for key in keys {
        let values: Vec<(NodeId, Option<Value>)> = states
            .iter()
            .map(|(node, state)| (*node, state.get(&key).copied()))
            .collect();
        if values.iter().any(|(_, v)| *v != values[0].1) {
            return Err(Divergence { key, values });
        }
    }
    Ok(()) // unreachable in practice: unequal maps differ on some key
}
// ANCHOR_END: convergence

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a timed history from `(time, process, kind, op)` on key "k1".
    fn history(events: &[(Time, u64, Kind, Op)]) -> Vec<(Time, Event)> {
        events
            .iter()
            .map(|&(t, process, kind, op)| {
                (
                    t,
                    Event {
                        process,
                        kind,
                        op,
                        key: "k1".into(),
                    },
                )
            })
            .collect()
    }

    fn finals(value: Option<Value>) -> BTreeMap<String, Option<Value>> {
        BTreeMap::from([("k1".to_string(), value)])
    }

    use Kind::{Info, Invoke, Ok};

    #[test]
    fn a_write_acknowledged_after_the_final_value_was_written_is_lost() {
        let h = history(&[
            (0, 1, Invoke, Op::Write(1)),
            (10, 1, Ok, Op::Write(1)),
            (20, 2, Invoke, Op::Write(2)),
            (30, 2, Ok, Op::Write(2)),
        ]);
        let lost = lost_writes(&h, &finals(Some(1)));
        assert_eq!(
            lost,
            vec![LostWrite::Lost {
                key: "k1".into(),
                process: 2,
                effect: Effect::Write(2),
                call: 2,
                acknowledged_us: 30,
                final_value: Some(1),
            }]
        );
        assert!(lost_writes(&h, &finals(Some(2))).is_empty());
        assert_eq!(lost_writes(&h, &finals(None)).len(), 2, "absent: both lost");
    }

    #[test]
    fn overlapping_or_indeterminate_writes_of_the_final_value_protect() {
        // Write 1 overlaps write 2: it may have come last.
        let overlap = history(&[
            (0, 1, Invoke, Op::Write(1)),
            (1, 2, Invoke, Op::Write(2)),
            (2, 2, Ok, Op::Write(2)),
            (3, 1, Ok, Op::Write(1)),
        ]);
        assert!(lost_writes(&overlap, &finals(Some(1))).is_empty());
        // A write of 1 ended info: it may have taken effect last.
        let info = history(&[
            (0, 1, Invoke, Op::Write(1)),
            (1, 1, Info, Op::Write(1)),
            (2, 2, Invoke, Op::Write(2)),
            (3, 2, Ok, Op::Write(2)),
        ]);
        assert!(lost_writes(&info, &finals(Some(1))).is_empty());
        // Nobody wrote 9: corrupt, reported once.
        assert_eq!(
            lost_writes(&info, &finals(Some(9))),
            vec![LostWrite::Corrupt {
                key: "k1".into(),
                value: 9
            }]
        );
        // Keys without a final value are not judged.
        assert!(lost_writes(&info, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn staleness_counts_certainly_newer_writes() {
        let h = history(&[
            (0, 1, Invoke, Op::Write(1)),
            (10, 1, Ok, Op::Write(1)),
            (20, 1, Invoke, Op::Write(2)),
            (30, 1, Ok, Op::Write(2)),
            (40, 1, Invoke, Op::Write(3)),
            (50, 1, Ok, Op::Write(3)),
            (60, 2, Invoke, Op::Read(None)),
            (70, 2, Ok, Op::Read(Some(1))),
            (80, 2, Invoke, Op::Read(None)),
            (90, 2, Ok, Op::Read(None)),
            (95, 2, Invoke, Op::Read(None)),
            (99, 2, Ok, Op::Read(Some(7))),
        ]);
        let found: Vec<Freshness> = read_staleness(&h).iter().map(|s| s.freshness).collect();
        assert_eq!(
            found,
            vec![
                Freshness::Behind {
                    versions_behind: 2,
                    time_behind_us: 60 - 30
                },
                Freshness::Behind {
                    versions_behind: 3,
                    time_behind_us: 80 - 10
                },
                Freshness::NeverWritten,
            ]
        );
    }

    #[test]
    fn fresh_and_indeterminate_reads_are_zero_behind() {
        let h = history(&[
            (0, 1, Invoke, Op::Write(1)),
            (5, 2, Invoke, Op::Read(None)),
            (10, 1, Info, Op::Write(1)),
            (11, 3, Invoke, Op::Write(2)),
            (12, 3, Ok, Op::Write(2)),
            (20, 2, Ok, Op::Read(Some(1))),
        ]);
        let zero = Freshness::Behind {
            versions_behind: 0,
            time_behind_us: 0,
        };
        assert_eq!(read_staleness(&h)[0].freshness, zero);
    }

    #[test]
    fn malformed_histories_do_not_panic() {
        let h = history(&[
            (5, 1, Ok, Op::Write(1)),
            (0, 2, Invoke, Op::Read(None)),
            (0, 2, Invoke, Op::Write(3)),
        ]);
        assert!(read_staleness(&h).is_empty());
        assert_eq!(lost_writes(&h, &finals(None)), vec![]);
    }

    #[test]
    fn convergence_names_the_first_differing_key() {
        let a = BTreeMap::from([(1, 10), (2, 20)]);
        let b = BTreeMap::from([(1, 10), (2, 21)]);
        let c = BTreeMap::from([(1, 10)]);
        assert_eq!(convergence(&[]), Result::Ok(()));
        assert_eq!(
            convergence(&[(0, a.clone()), (1, a.clone())]),
            Result::Ok(())
        );
        let err = convergence(&[(0, a.clone()), (1, b), (2, c)]).unwrap_err();
        assert_eq!(
            err,
            Divergence {
                key: 2,
                values: vec![(0, Some(20)), (1, Some(21)), (2, None)]
            }
        );
        assert!(
            err.to_string().starts_with(
                "replicas diverge on k2: node 0 holds 20, node 1 holds 21, node 2 holds nothing;"
            ),
            "{err}"
        );
    }
}
