//! Deciding linearizability of key-value histories.
//!
//! A history of one register is linearizable if its operations can be put
//! in one order such that (1) each operation sits between its invocation
//! and its completion — an operation that completed before another was
//! invoked comes first — and (2) replaying them in that order on a single
//! register gives every read the value it returned and every
//! compare-and-set the value it expected. Indeterminate operations may be
//! placed anywhere after their invocation, or left out.
//!
//! The search is Wing & Gong's (1993) with Lowe's (2017) memoisation: it
//! builds the order one operation at a time, trying each operation that
//! may come next (invoked before every unplaced operation's completion),
//! and backtracks; a (set placed, register value) pair it has seen before
//! cannot lead anywhere new and is skipped. Keys are independent
//! (P-compositionality, Horn & Kroening 2015): a history is linearizable
//! exactly when each key's is, so each key is searched on its own.
//!
//! The problem is NP-complete, so the search has a [`Budget`]; when it runs
//! out the verdict is [`Verdict::Unknown`], never a pass.

use std::collections::HashSet;

use crate::history::{Effect, Event, HistoryError, Operation, Value, operations};

/// How much search a key may cost before the verdict is `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Search states (placements tried) per key.
    pub states: u64,
}

impl Default for Budget {
    /// Ten million states per key.
    fn default() -> Budget {
        Budget { states: 10_000_000 }
    }
}

/// The answer for a whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's operations can be ordered.
    Linearizable,
    /// Some key's cannot.
    NotLinearizable {
        /// The first such key (in key order).
        key: String,
        /// The operations (by invocation position) still unplaced when the
        /// search got furthest: among them is one that no order explains.
        unplaced: Vec<usize>,
    },
    /// The budget ran out on this key before an answer (no other key
    /// failed).
    Unknown {
        /// The key.
        key: String,
    },
}

/// The answer for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVerdict {
    /// An order exists.
    Linearizable,
    /// No order exists; the operations unplaced at the furthest point.
    NotLinearizable(Vec<usize>),
    /// The budget ran out.
    Unknown,
}

/// Checks a whole history, key by key.
///
/// # Errors
///
/// A [`HistoryError`] if the history is malformed.
pub fn check(events: &[Event], budget: Budget) -> Result<Verdict, HistoryError> {
    let mut unknown = None;
    for (key, ops) in operations(events)? {
        match check_register(&ops, budget) {
            KeyVerdict::Linearizable => {}
            KeyVerdict::NotLinearizable(unplaced) => {
                return Ok(Verdict::NotLinearizable { key, unplaced });
            }
            KeyVerdict::Unknown => {
                unknown.get_or_insert(key);
            }
        }
    }
    Ok(match unknown {
        Some(key) => Verdict::Unknown { key },
        None => Verdict::Linearizable,
    })
}

/// The register after `effect`, or `None` if `effect` cannot happen in
/// state `value` (a read of another value, a compare-and-set that would
/// not match).
fn apply(value: Option<Value>, effect: Effect) -> Option<Option<Value>> {
    match effect {
        Effect::Read(read) => (read == value).then_some(value),
        Effect::Write(written) => Some(Some(written)),
        Effect::Cas { expected, new } => (value == Some(expected)).then_some(Some(new)),
    }
}

/// Checks the operations of one register that starts absent.
pub fn check_register(ops: &[Operation], budget: Budget) -> KeyVerdict {
    let n = ops.len();
    let words = n.div_ceil(64).max(1);
    let mut placed = vec![0u64; words];
    let is_placed = |placed: &[u64], i: usize| placed[i / 64] >> (i % 64) & 1 == 1;
    let required = ops.iter().filter(|op| op.ret.is_some()).count();
    let mut seen: HashSet<(Vec<u64>, Option<Value>)> = HashSet::new();
    // The search path: (operation placed, register before it).
    let mut path: Vec<(usize, Option<Value>)> = Vec::new();
    let mut value: Option<Value> = None;
    let mut placed_required = 0usize;
    let mut states = 0u64;
    let mut furthest: (usize, Vec<u64>) = (0, placed.clone());
    // Next candidate index to try at the current depth.
    let mut next = 0usize;
    loop {
        if placed_required == required {
            return KeyVerdict::Linearizable;
        }
        // The earliest completion among unplaced operations: whatever comes
        // next must have been invoked before it.
        let bound = (0..n)
            .filter(|&i| !is_placed(&placed, i))
            .filter_map(|i| ops[i].ret)
            .min()
            .unwrap_or(usize::MAX);
        let mut advanced = false;
        let mut i = next;
        while i < n {
            if !is_placed(&placed, i)
                && ops[i].call < bound
                && let Some(after) = apply(value, ops[i].effect)
            {
                placed[i / 64] |= 1 << (i % 64);
                if seen.insert((placed.clone(), after)) {
                    states += 1;
                    if states > budget.states {
                        return KeyVerdict::Unknown;
                    }
                    path.push((i, value));
                    value = after;
                    if ops[i].ret.is_some() {
                        placed_required += 1;
                    }
                    if path.len() > furthest.0 {
                        furthest = (path.len(), placed.clone());
                    }
                    next = 0;
                    advanced = true;
                    break;
                }
                placed[i / 64] &= !(1 << (i % 64));
            }
            i += 1;
        }
        if advanced {
            continue;
        }
        // Nothing more from here: take back the last placement, try the
        // next candidate in its place.
        let Some((last, before)) = path.pop() else {
            let unplaced = (0..n)
                .filter(|&i| !is_placed(&furthest.1, i))
                .map(|i| ops[i].call)
                .collect();
            return KeyVerdict::NotLinearizable(unplaced);
        };
        placed[last / 64] &= !(1 << (last % 64));
        if ops[last].ret.is_some() {
            placed_required -= 1;
        }
        value = before;
        next = last + 1;
    }
}
