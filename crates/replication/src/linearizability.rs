//! Deciding linearizability of key-value histories, and explaining a
//! failure with the smallest set of operations that cannot be ordered.
//!
//! A history of one register is linearizable if its operations can be put
//! in one order such that (1) each operation sits between its invocation
//! and its completion — an operation that completed before another was
//! invoked comes first — and (2) replaying them in that order on a single
//! register gives every read the value it returned and every
//! compare-and-set the value it expected. Indeterminate operations may be
//! placed anywhere after their invocation, or left out.
//!
//! # The search
//!
//! Wing & Gong's (1993) search with Lowe's (2017) memoisation, laid out as
//! in Porcupine (Athalye 2017): the invocations and completions of one
//! key's operations sit in a doubly linked list in history order; the
//! operations that may come next are those whose invocation comes before
//! the first completion still in the list. Placing an operation unlinks
//! both its entries; backtracking relinks them (the lists are restored in
//! last-in first-out order, as in Knuth's dancing links). A (set placed,
//! register value) pair seen before cannot lead anywhere new and is
//! skipped. The set is a bitset stored from its first word that is not
//! all ones, so a state costs a few words even on keys with thousands of
//! operations.
//!
// ANCHOR: pruning
//! # What the search leaves out, and why each is sound
//!
//! 1. **Keys apart.** A history is linearizable exactly when each key's
//!    is (P-compositionality, Herlihy & Wing 1990; Horn & Kroening 2015),
//!    so each key is searched on its own.
//! 2. **Only what may come next.** An operation may be placed only if it
//!    was invoked before every unplaced operation's completion; otherwise
//!    that operation completed before it was invoked and must come first.
//! 3. **Unobservable indeterminate writes are dropped.** An indeterminate
//!    write (or compare-and-set) of `v` that no other operation could
//!    observe — no read returning `v` and no compare-and-set expecting `v`
//!    that completes after it is invoked, or never completes — is removed
//!    before the search. In any order that places it, the operation right
//!    after it is not an observer, so it is a plain write (a read would
//!    return `v`, a compare-and-set would expect `v`) or nothing: removing
//!    it changes no other operation's outcome, and indeterminate operations
//!    may be left out. Indeterminate reads are dropped for the same reason:
//!    they change nothing and may be left out.
//! 4. **A matching read is placed at once.** If a read that may come next
//!    returned the register's current value, the search places it and
//!    tries nothing else at that point. Any order that places it later can
//!    move it here: a read changes nothing, so the operations it jumps over
//!    see the same values, and none of them completed before it was
//!    invoked (rule 2), so real time is kept.
//! 5. **An indeterminate write waits for its reader.** An indeterminate
//!    write of `v` is placed only when an operation that observes `v` (a
//!    read returning `v`, a compare-and-set expecting `v`) may come right
//!    after it. In any valid order, an indeterminate write not followed by
//!    an observer is followed by a plain write or by nothing (as in rule
//!    3), so it can be left out; leaving out every such write yields an
//!    order in which each remaining one is followed by an observer, which
//!    could therefore come next when it was placed. Rule 4 moves a read
//!    forward and may separate a write from its reader; the same leaving
//!    out repairs that without moving the read.
//! 6. **Memoisation.** What the search does from a state depends only on
//!    the set placed and the register's value (rules 2, 4, 5 and 7
//!    included), so a state seen before, and not on the current path, has
//!    already failed.
//! 7. **What is due goes first.** This rule changes only the order in
//!    which updates are tried, never which: the operation with the
//!    earliest completion still unplaced must come before anything invoked
//!    after it, so the search first tries a writer of the value it needs
//!    (or, if it is an update that may be placed now, itself), then every
//!    other candidate in invocation order. On histories with many
//!    overlapping writes this is what finds an order without backtracking.
// ANCHOR_END: pruning
//!
// ANCHOR: witness
//! # The smallest set of operations that cannot be ordered
//!
//! When a key is not linearizable, [`check_register`] returns a
//! [`Witness`]: a subset of the key's operations, with their original
//! invocation and completion positions (so the real-time order between
//! them is the history's), that is itself not linearizable. Any subset
//! will not do — a lone read that returned `7` is "not linearizable"
//! without the write of `7` — so a witness is **closed under reads-from**:
//!
//! 1. Whenever it holds an operation that needs the value `v` (a read that
//!    returned `v`, a compare-and-set that expected `v`), it holds every
//!    operation of the key that writes `v`.
//! 2. It is not linearizable. By 1, every closed subset of a linearizable
//!    history is linearizable (take the full history's order, keep the
//!    subset's operations: each read still follows the write it read, with
//!    no write of the subset between them), so a witness alone proves the
//!    key is not linearizable.
//! 3. It is **1-minimal**: removing any one operation, together with the
//!    operations that then lose the write they read (to keep 1), leaves a
//!    linearizable set. This is what "smallest" means: no single removal
//!    keeps the violation; a smaller witness elsewhere in the history may
//!    still exist (finding the least one is another NP-hard search).
//!
//! It is found by delta debugging (Zeller & Hildebrandt 2002). First the
//! shortest failing prefix: the history cut after event `t`, operations
//! still running at `t` turned indeterminate, is linearizable for small
//! `t` and stays so until some `t` (linearizability is prefix-closed), found
//! by binary search; the operations invoked before `t` (less the reads
//! still running at `t`) and the writes they read from are a closed set
//! that still fails. Then greedy deletion: try removing chunks of halving
//! size, then single operations, keeping each removal that still fails,
//! until no single removal does. Every candidate is judged by the same
//! search, with one shared budget; if it runs out the witness is still a
//! closed failing set, marked not [`Witness::minimal`].
// ANCHOR_END: witness
//!
//! # Cost
//!
//! The problem is NP-complete, so the search has a [`Budget`]; when it runs
//! out the verdict is [`Verdict::Unknown`], never a pass. A key of `n`
//! operations costs `O(n)` words of lists and bitset, plus one memo entry
//! (a few words) per state. On histories from a working store, where a few
//! operations of a key overlap at a time, the search places operations
//! with little backtracking: a 20,000-operation history of 100 clients on
//! 10 keys is decided in well under a second (see
//! `benches/benches/replication_checker.rs`). Explaining a failure costs
//! up to one more budget.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hasher;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::history::{Effect, Event, HistoryError, Kind, Op, Operation, Value, operations};
use crate::protocol::{Key, key_name};

/// How much search a key may cost before the verdict is `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Search states (placements tried) per key. Explaining a failure may
    /// spend as many again.
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
        /// The invocation positions (0-based event indices) of a smallest
        /// set of this key's operations that cannot be ordered: the key's
        /// [`Witness`] (see the [module docs](self)), in invocation order.
        /// [`Verdict::explain`] prints them with their processes,
        /// operations and completions.
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
    /// No order exists; the witness is a smallest set of operations that
    /// cannot be ordered.
    NotLinearizable(Witness),
    /// The budget ran out.
    Unknown,
}

/// A set of one key's operations that cannot be ordered (module docs,
/// "The smallest set of operations that cannot be ordered").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Witness {
    /// The operations, in invocation order, with their original positions.
    pub ops: Vec<Operation>,
    /// Whether removing any one of them (with the operations that read
    /// from it) leaves a linearizable set. `false` only if the budget ran
    /// out while shrinking the set.
    pub minimal: bool,
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
            KeyVerdict::NotLinearizable(witness) => {
                let unplaced = witness.ops.iter().map(|op| op.call).collect();
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

/// Checks the operations of one register that starts absent, and explains
/// a failure with a [`Witness`].
///
/// Operations may come in any order; an operation whose completion
/// position equals another's invocation position counts as concurrent
/// with it.
pub fn check_register(ops: &[Operation], budget: Budget) -> KeyVerdict {
    match decide(ops, budget.states).0 {
        Decision::Linearizable => KeyVerdict::Linearizable,
        Decision::Unknown => KeyVerdict::Unknown,
        Decision::NotLinearizable => KeyVerdict::NotLinearizable(witness(ops, budget)),
    }
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

/// The value an operation needs the register to hold, if any.
fn needs(effect: Effect) -> Option<Value> {
    match effect {
        Effect::Read(read) => read,
        Effect::Write(_) => None,
        Effect::Cas { expected, .. } => Some(expected),
    }
}

/// The value an operation leaves in the register, if it changes it.
fn writes(effect: Effect) -> Option<Value> {
    match effect {
        Effect::Read(_) => None,
        Effect::Write(value) | Effect::Cas { new: value, .. } => Some(value),
    }
}

/// A search's answer without explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Linearizable,
    NotLinearizable,
    Unknown,
}

/// Decides `ops` within `states_max` states; also returns the states spent.
fn decide(ops: &[Operation], states_max: u64) -> (Decision, u64) {
    let kept = prune(ops);
    Search::new(&kept).run(states_max)
}

// ANCHOR: prune
/// The operations the search needs (rule 3 of the module docs), sorted by
/// invocation.
fn prune(ops: &[Operation]) -> Vec<Operation> {
    // For each needed value, the latest completion among the operations
    // that need it (`usize::MAX`: one never completes).
    let mut latest_reader: std::collections::HashMap<Value, usize> = Default::default();
    for op in ops {
        if let Some(v) = needs(op.effect) {
            let ret = op.ret.unwrap_or(usize::MAX);
            let latest = latest_reader.entry(v).or_insert(ret);
            *latest = (*latest).max(ret);
        }
    }
    let observable = |op: &Operation| match writes(op.effect) {
        // (A compare-and-set expecting its own new value counts as its own
        // observer here: that only keeps an operation rule 3 could drop.)
        Some(v) => latest_reader.get(&v).is_some_and(|&ret| ret > op.call),
        None => false,
    };
    let mut kept: Vec<Operation> = ops
        .iter()
        .filter(|op| op.ret.is_some() || (writes(op.effect).is_some() && observable(op)))
        .copied()
        .collect();
    kept.sort_by_key(|op| op.call);
    kept
}
// ANCHOR_END: prune

/// A word-packed set of placed operations that knows its first word that
/// is not all ones and its last word that is not zero, so that the memo
/// stores only the words between.
struct Placed {
    words: Vec<u64>,
    /// Index of the first word that is not all ones (`words.len()` if none).
    lo: usize,
    /// One past the index of the last non-zero word (0 if none).
    hi: usize,
}

/// A memoised search state: the register's value and the placed set,
/// as `lo` and the words `lo..hi` (words before `lo` are all ones, words
/// from `hi` on are zero), which is canonical.
#[derive(Debug, PartialEq, Eq, Hash)]
struct State {
    value: Option<Value>,
    lo: u32,
    words: Box<[u64]>,
}

impl Placed {
    fn new(n: usize) -> Placed {
        Placed {
            words: vec![0; n.div_ceil(64)],
            lo: 0,
            hi: 0,
        }
    }

    fn contains(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
        self.hi = self.hi.max(i / 64 + 1);
        while self.lo < self.words.len() && self.words[self.lo] == u64::MAX {
            self.lo += 1;
        }
    }

    fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.lo = self.lo.min(i / 64);
        while self.hi > 0 && self.words[self.hi - 1] == 0 {
            self.hi -= 1;
        }
    }

    fn state(&self, value: Option<Value>) -> State {
        let lo = self.lo.min(self.hi);
        State {
            value,
            lo: self.lo as u32,
            words: self.words[lo..self.hi].into(),
        }
    }
}

/// FxHash (as in rustc), with a final mix so the high bits hashbrown
/// uses are spread: memo keys are a few words, hashed millions of times.
#[derive(Default)]
struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // SplitMix64's finaliser.
        let mut x = self.0;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}

/// The list's first node, before every entry.
const HEAD: usize = 0;

/// How an operation on the search path was chosen, and so what to try
/// in its place when it leads nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A matching read (rule 4): nothing else is tried.
    Forced,
    /// The preferred update (rule 7): next, every other candidate.
    Preferred,
    /// A candidate in list order, skipping the preferred one if any.
    Scan(Option<usize>),
}

/// One placement on the search path.
#[derive(Debug, Clone, Copy)]
struct Frame {
    op: usize,
    /// The register before it.
    before: Option<Value>,
    mode: Mode,
}

// ANCHOR: search
/// The search over one key's (pruned, sorted) operations.
struct Search<'a> {
    ops: &'a [Operation],
    /// The entry list: node `HEAD`, entries `1..=m`, node `tail` = m + 1.
    next: Vec<usize>,
    prev: Vec<usize>,
    /// For each node: its operation, and whether it is the invocation.
    node: Vec<(usize, bool)>,
    tail: usize,
    call_node: Vec<usize>,
    ret_node: Vec<Option<usize>>,
    /// For each indeterminate writer: the other operations needing its value.
    observers: Vec<Vec<usize>>,
    /// For each value: the operations writing it.
    writers: std::collections::HashMap<Value, Vec<usize>>,
    placed: Placed,
}

impl<'a> Search<'a> {
    fn new(ops: &'a [Operation]) -> Search<'a> {
        let n = ops.len();
        // (position, 0 = invocation / 1 = completion, op): invocations
        // first on ties, so equal positions count as concurrent.
        let mut entries: Vec<(usize, u8, usize)> = Vec::with_capacity(2 * n);
        for (i, op) in ops.iter().enumerate() {
            entries.push((op.call, 0, i));
            if let Some(ret) = op.ret {
                entries.push((ret, 1, i));
            }
        }
        entries.sort_unstable();
        let tail = entries.len() + 1;
        let mut node = vec![(usize::MAX, false); tail + 1];
        let mut call_node = vec![0; n];
        let mut ret_node = vec![None; n];
        for (k, &(_, kind, i)) in entries.iter().enumerate() {
            node[k + 1] = (i, kind == 0);
            if kind == 0 {
                call_node[i] = k + 1;
            } else {
                ret_node[i] = Some(k + 1);
            }
        }
        let next = (1..=tail + 1).map(|k| k.min(tail)).collect();
        let prev = (0..=tail).map(|k: usize| k.saturating_sub(1)).collect();
        let mut readers: std::collections::HashMap<Value, Vec<usize>> = Default::default();
        let mut writers: std::collections::HashMap<Value, Vec<usize>> = Default::default();
        for (i, op) in ops.iter().enumerate() {
            if let Some(v) = needs(op.effect) {
                readers.entry(v).or_default().push(i);
            }
            if let Some(v) = writes(op.effect) {
                writers.entry(v).or_default().push(i);
            }
        }
        let observers = ops
            .iter()
            .enumerate()
            .map(|(i, op)| match (op.ret, writes(op.effect)) {
                (None, Some(v)) => readers
                    .get(&v)
                    .map(|r| r.iter().copied().filter(|&o| o != i).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            })
            .collect();
        Search {
            ops,
            next,
            prev,
            node,
            tail,
            call_node,
            ret_node,
            observers,
            writers,
            placed: Placed::new(n),
        }
    }

    fn unlink(&mut self, k: usize) {
        let (p, q) = (self.prev[k], self.next[k]);
        self.next[p] = q;
        self.prev[q] = p;
    }

    fn relink(&mut self, k: usize) {
        let (p, q) = (self.prev[k], self.next[k]);
        self.next[p] = k;
        self.prev[q] = k;
    }

    /// Takes operation `i`'s entries out of the list.
    fn lift(&mut self, i: usize) {
        self.unlink(self.call_node[i]);
        if let Some(r) = self.ret_node[i] {
            self.unlink(r);
        }
    }

    /// Undoes the latest `lift`, which must have been of `i`.
    fn unlift(&mut self, i: usize) {
        if let Some(r) = self.ret_node[i] {
            self.relink(r);
        }
        self.relink(self.call_node[i]);
    }

    /// From node `k` on, the first read that may come next and returns
    /// `value`, and the operation with the earliest completion still in
    /// the list (whose completion is the bound of rule 2).
    fn window(&self, mut k: usize, value: Option<Value>) -> (Option<usize>, Option<usize>) {
        let mut read = None;
        while k != self.tail && self.node[k].1 {
            let i = self.node[k].0;
            if read.is_none() && self.ops[i].effect == Effect::Read(value) {
                read = Some(i);
            }
            k = self.next[k];
        }
        let due = (k != self.tail).then(|| self.node[k].0);
        (read, due)
    }

    /// The completion position of `due`, the bound of rule 2.
    fn bound(&self, due: Option<usize>) -> usize {
        due.and_then(|i| self.ops[i].ret).unwrap_or(usize::MAX)
    }

    /// The update to try first (rule 7): if the operation due first needs
    /// a value the register does not hold, a writer of it that may come
    /// next; otherwise that operation itself, if it is an update that may
    /// be placed now.
    fn preferred(
        &self,
        due: Option<usize>,
        value: Option<Value>,
    ) -> Option<(usize, Option<Value>)> {
        let b = due?;
        let bound = self.bound(due);
        match needs(self.ops[b].effect) {
            Some(u) if Some(u) != value => self.writers.get(&u)?.iter().find_map(|&w| {
                let ok = !self.placed.contains(w) && self.ops[w].call < bound;
                ok.then(|| apply(value, self.ops[w].effect))
                    .flatten()
                    .map(|after| (w, after))
            }),
            _ if matches!(self.ops[b].effect, Effect::Read(_)) => None,
            _ => apply(value, self.ops[b].effect).map(|after| (b, after)),
        }
    }

    /// From node `k` on, the first write or compare-and-set other than
    /// `skip` that may come next (rules 2 and 5), with the register after it.
    fn next_update(
        &self,
        mut k: usize,
        value: Option<Value>,
        bound: usize,
        skip: Option<usize>,
    ) -> Option<(usize, Option<Value>)> {
        while k != self.tail && self.node[k].1 {
            let i = self.node[k].0;
            let op = &self.ops[i];
            if !matches!(op.effect, Effect::Read(_))
                && Some(i) != skip
                && let Some(after) = apply(value, op.effect)
                && (op.ret.is_some() || self.observable(i, bound))
            {
                return Some((i, after));
            }
            k = self.next[k];
        }
        None
    }

    /// Whether an unplaced observer of indeterminate writer `i` may come
    /// next (rule 5).
    fn observable(&self, i: usize, bound: usize) -> bool {
        self.observers[i]
            .iter()
            .any(|&o| !self.placed.contains(o) && self.ops[o].call < bound)
    }

    /// Decides the (pruned, sorted) operations of one key within
    /// `states_max` states; also returns the states spent. A state is a
    /// new (placed set, register value) pair; `Unknown` once more than
    /// `states_max` were needed.
    fn run(&mut self, states_max: u64) -> (Decision, u64) {
        // BEGIN LAB lin-checker
        // STUB: let _ = states_max;
        // STUB: (Decision::Linearizable, 0)
        use std::hash::BuildHasherDefault;

        let mut memo: HashSet<State, BuildHasherDefault<FxHasher>> = HashSet::default();
        let mut path: Vec<Frame> = Vec::new();
        let mut value: Option<Value> = None;
        let mut required = self.ops.iter().filter(|op| op.ret.is_some()).count();
        let mut states = 0u64;
        // `None`: at a new state. `Some((k, skip))`: back at a state, look
        // for the next update from node `k` on, skipping `skip`.
        let mut resume: Option<(usize, Option<usize>)> = None;
        loop {
            if required == 0 {
                return (Decision::Linearizable, states);
            }
            let choice = match resume.take() {
                None => {
                    let (read, due) = self.window(self.next[HEAD], value);
                    match (read, self.preferred(due, value)) {
                        (Some(read), _) => Some((read, value, Mode::Forced)),
                        (None, Some((i, after))) => Some((i, after, Mode::Preferred)),
                        (None, None) => self
                            .next_update(self.next[HEAD], value, self.bound(due), None)
                            .map(|(i, after)| (i, after, Mode::Scan(None))),
                    }
                }
                Some((k, skip)) => {
                    let (_, due) = self.window(k, value);
                    self.next_update(k, value, self.bound(due), skip)
                        .map(|(i, after)| (i, after, Mode::Scan(skip)))
                }
            };
            if let Some((i, after, mode)) = choice {
                self.placed.insert(i);
                if memo.insert(self.placed.state(after)) {
                    states += 1;
                    if states > states_max {
                        return (Decision::Unknown, states);
                    }
                    path.push(Frame {
                        op: i,
                        before: value,
                        mode,
                    });
                    value = after;
                    self.lift(i);
                    required -= usize::from(self.ops[i].ret.is_some());
                    continue;
                }
                self.placed.remove(i);
                match mode {
                    // A forced read leads only to a failed state: so does this one.
                    Mode::Forced => {}
                    Mode::Preferred => {
                        resume = Some((self.next[HEAD], Some(i)));
                        continue;
                    }
                    Mode::Scan(skip) => {
                        resume = Some((self.next[self.call_node[i]], skip));
                        continue;
                    }
                }
            }
            // Nothing more from here: take back placements until one whose
            // alternatives are not yet tried.
            loop {
                let Some(frame) = path.pop() else {
                    return (Decision::NotLinearizable, states);
                };
                self.placed.remove(frame.op);
                self.unlift(frame.op);
                value = frame.before;
                required += usize::from(self.ops[frame.op].ret.is_some());
                match frame.mode {
                    Mode::Forced => {}
                    Mode::Preferred => {
                        resume = Some((self.next[HEAD], Some(frame.op)));
                        break;
                    }
                    Mode::Scan(skip) => {
                        resume = Some((self.next[self.call_node[frame.op]], skip));
                        break;
                    }
                }
            }
        }
        // END LAB
    }
}
// ANCHOR_END: search

// ANCHOR: minimise
/// A smallest failing set of `ops`, which the search found not
/// linearizable (module docs, "The smallest set…").
fn witness(ops: &[Operation], budget: Budget) -> Witness {
    let mut pool = budget.states;
    // Some(true): fails; Some(false): linearizable; None: budget spent.
    let mut fails = |set: &[Operation]| -> Option<bool> {
        let (decision, spent) = decide(set, pool);
        pool = pool.saturating_sub(spent);
        match decision {
            Decision::NotLinearizable => Some(true),
            Decision::Linearizable => Some(false),
            Decision::Unknown => None,
        }
    };
    let all: Vec<usize> = (0..ops.len()).collect();
    let pick = |set: &[usize]| -> Vec<Operation> { set.iter().map(|&i| ops[i]).collect() };
    // The shortest failing prefix: cut(0) is empty, cut(end) is everything.
    let end = ops
        .iter()
        .map(|op| op.call.max(op.ret.unwrap_or(0)) + 1)
        .max()
        .unwrap_or(0);
    let (mut lo, mut hi) = (0usize, end);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match fails(&cut(ops, mid)) {
            Some(true) => hi = mid,
            Some(false) => lo = mid,
            None => {
                return Witness {
                    ops: pick(&closure(ops, &all)),
                    minimal: false,
                };
            }
        }
    }
    let start: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            let op = &ops[i];
            let running_read =
                matches!(op.effect, Effect::Read(_)) && op.ret.is_none_or(|ret| ret >= hi);
            op.call < hi && !running_read
        })
        .collect();
    let mut set = closure(ops, &start);
    debug_assert_ne!(fails(&pick(&set)), Some(false), "a closed failing prefix");
    // Greedy deletion, in chunks of halving size.
    let mut chunk = (set.len() / 2).max(1);
    loop {
        let mut removed_any = false;
        let mut at = 0;
        while at < set.len() {
            let remove = dependents(ops, &set, &set[at..(at + chunk).min(set.len())]);
            let rest: Vec<usize> = set
                .iter()
                .copied()
                .filter(|i| !remove.contains(i))
                .collect();
            match fails(&pick(&rest)) {
                Some(true) => {
                    set = rest;
                    removed_any = true;
                }
                Some(false) => at += chunk,
                None => {
                    return Witness {
                        ops: pick(&set),
                        minimal: false,
                    };
                }
            }
        }
        if chunk == 1 && !removed_any {
            return Witness {
                ops: pick(&set),
                minimal: true,
            };
        }
        chunk = (chunk / 2).max(1);
    }
}

/// The history cut after event `t`: operations invoked before `t`, those
/// still running at `t` indeterminate, reads still running left out.
fn cut(ops: &[Operation], t: usize) -> Vec<Operation> {
    ops.iter()
        .filter(|op| op.call < t)
        .map(|op| Operation {
            ret: op.ret.filter(|&ret| ret < t),
            ..*op
        })
        .filter(|op| op.ret.is_some() || !matches!(op.effect, Effect::Read(_)))
        .collect()
}

/// `set` (indices into `ops`) plus, transitively, every operation that
/// writes a value some member needs; sorted.
fn closure(ops: &[Operation], set: &[usize]) -> Vec<usize> {
    let mut member = vec![false; ops.len()];
    let mut work: Vec<usize> = set.to_vec();
    for &i in set {
        member[i] = true;
    }
    while let Some(i) = work.pop() {
        let Some(v) = needs(ops[i].effect) else {
            continue;
        };
        for (j, op) in ops.iter().enumerate() {
            if !member[j] && writes(op.effect) == Some(v) {
                member[j] = true;
                work.push(j);
            }
        }
    }
    (0..ops.len()).filter(|&i| member[i]).collect()
}

/// The members of `set` to remove with `remove` to keep the set closed:
/// `remove` plus, transitively, every member needing a value one of them
/// writes.
fn dependents(ops: &[Operation], set: &[usize], remove: &[usize]) -> HashSet<usize> {
    let mut gone: HashSet<usize> = remove.iter().copied().collect();
    let mut work: Vec<usize> = remove.to_vec();
    while let Some(i) = work.pop() {
        let Some(v) = writes(ops[i].effect) else {
            continue;
        };
        for &j in set {
            if !gone.contains(&j) && needs(ops[j].effect) == Some(v) {
                gone.insert(j);
                work.push(j);
            }
        }
    }
    gone
}
// ANCHOR_END: minimise

impl fmt::Display for Verdict {
    /// One line, as `sim check` prints it: event numbers are 1-based.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Linearizable => write!(f, "linearizable"),
            Verdict::NotLinearizable { key, unplaced } => {
                let events: Vec<String> = unplaced.iter().map(|e| (e + 1).to_string()).collect();
                write!(
                    f,
                    "not linearizable: key {key:?}: no order places all of the operations invoked at events {} (1-based)",
                    events.join(", ")
                )
            }
            Verdict::Unknown { key } => {
                write!(f, "unknown: key {key:?} needs more search than the budget")
            }
        }
    }
}

impl Verdict {
    /// The verdict with each operation of a failure spelled out from the
    /// history it was found in: process, operation and the (1-based)
    /// events that invoked and completed it.
    ///
    /// ```
    /// use replication::history::{Event, Kind, Op};
    /// use replication::linearizability::{check, Budget};
    ///
    /// let ev = |process, kind, op| Event { process, kind, op, key: "k1".into() };
    /// let history = [
    ///     ev(1, Kind::Invoke, Op::Write(1)),
    ///     ev(1, Kind::Ok, Op::Write(1)),
    ///     ev(2, Kind::Invoke, Op::Read(None)),
    ///     ev(2, Kind::Ok, Op::Read(None)),
    /// ];
    /// let verdict = check(&history, Budget::default())?;
    /// assert_eq!(
    ///     verdict.explain(&history).to_string(),
    ///     "not linearizable: key \"k1\": no order places all 2 of these operations \
    ///      (events are 1-based):\n\
    ///      \x20 process 1  write 1     invoked at event 1, ok at event 2\n\
    ///      \x20 process 2  read -> nil invoked at event 3, ok at event 4\n"
    /// );
    /// # Ok::<(), replication::history::HistoryError>(())
    /// ```
    pub fn explain<'a>(&'a self, events: &'a [Event]) -> Explanation<'a> {
        Explanation {
            verdict: self,
            events,
        }
    }
}

/// A [`Verdict`] with its history, to print; made by [`Verdict::explain`].
#[derive(Debug, Clone, Copy)]
pub struct Explanation<'a> {
    verdict: &'a Verdict,
    events: &'a [Event],
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Verdict::NotLinearizable { key, unplaced } = self.verdict else {
            return write!(f, "{}", self.verdict);
        };
        writeln!(
            f,
            "not linearizable: key {key:?}: no order places all {} of these operations \
             (events are 1-based):",
            unplaced.len()
        )?;
        for &call in unplaced {
            let Some(invoked) = self.events.get(call) else {
                writeln!(f, "  event {} (not in this history)", call + 1)?;
                continue;
            };
            let completion = self.events[call + 1..]
                .iter()
                .position(|e| e.process == invoked.process && e.kind != Kind::Invoke)
                .map(|offset| call + 1 + offset);
            let op = completion.map_or(invoked.op, |c| self.events[c].op);
            let what = match op {
                Op::Read(Some(v)) => format!("read -> {v}"),
                Op::Read(None) => "read -> nil".to_string(),
                Op::Write(v) => format!("write {v}"),
                Op::Cas(expected, new) => format!("cas {expected} -> {new}"),
            };
            let end = match completion.map(|c| (c, self.events[c].kind)) {
                Some((c, Kind::Ok)) => format!("ok at event {}", c + 1),
                Some((c, Kind::Fail)) => format!("fail at event {}", c + 1),
                Some((c, _)) => format!("info (indeterminate) at event {}", c + 1),
                None => "never completed (indeterminate)".to_string(),
            };
            writeln!(
                f,
                "  process {:<2} {what:<11} invoked at event {}, {end}",
                invoked.process,
                call + 1
            )?;
        }
        Ok(())
    }
}

/// The performance targets' histories (issue 6): 2,000 operations of 50
/// clients on 10 keys; 20,000 of 100 clients on 10 keys, 10% of updates
/// indeterminate, each with its seed. `tests/checker.rs` checks they are
/// decided within the default budget; `benches/replication_checker.rs`
/// times them.
pub const TARGET_HISTORIES: [(Workload, u64); 2] = [
    (
        Workload {
            operations: 2_000,
            clients: 50,
            keys: 10,
            info_per_mille: 0,
        },
        0x2000,
    ),
    (
        Workload {
            operations: 20_000,
            clients: 100,
            keys: 10,
            info_per_mille: 100,
        },
        0x20_000,
    ),
];

// ANCHOR: generator
/// The shape of a random workload for [`register_history`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Operations invoked in all.
    pub operations: usize,
    /// Clients, each running one operation at a time.
    pub clients: usize,
    /// Keys `k0..k{keys-1}`.
    pub keys: Key,
    /// Per mille of writes and compare-and-sets that end `info` (half of
    /// them having taken effect); their client continues as a fresh
    /// process.
    pub info_per_mille: u32,
}

/// A history of `workload` on a single-copy store, which applies each
/// operation atomically at some moment between its invocation and its
/// completion — so the history is linearizable.
///
/// Each step picks a client at random and moves its operation one stage
/// on: invoked, applied, completed. Half the operations are reads, 40%
/// writes of a fresh value, 10% compare-and-sets (expecting the current
/// value half the time). With many clients, operations overlap: each
/// spans about three steps of its own client, so about `clients` steps of
/// the others. Seeded: the same arguments give the same history.
pub fn register_history(workload: &Workload, seed: u64) -> Vec<Event> {
    #[derive(Clone, Copy)]
    struct Running {
        key: Key,
        op: Op,
        /// `None` until applied; then how it completes.
        outcome: Option<Kind>,
        /// Applied at its next step (else completes `info` unapplied).
        applies: bool,
        info: bool,
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut events = Vec::with_capacity(2 * workload.operations);
    if workload.clients == 0 || workload.keys == 0 {
        return events;
    }
    let mut store: Vec<Option<Value>> = vec![None; workload.keys as usize];
    let mut process: Vec<u64> = (0..workload.clients as u64).collect();
    let mut next_process = workload.clients as u64;
    let mut running: Vec<Option<Running>> = vec![None; workload.clients];
    let mut busy: Vec<usize> = Vec::new(); // clients with an operation
    let (mut invoked, mut next_value) = (0usize, 0 as Value);
    // Each step moves one operation one stage on: at most three per operation.
    for _ in 0..3 * workload.operations + 1 {
        let c = if invoked < workload.operations {
            rng.random_range(0..workload.clients)
        } else if let Some(&c) = busy.get(rng.random_range(0..busy.len().max(1))) {
            c
        } else {
            break;
        };
        let event = |kind, op, key| Event {
            process: process[c],
            kind,
            op,
            key: key_name(key),
        };
        match running[c] {
            None => {
                let key = rng.random_range(0..workload.keys);
                let op = match rng.random_range(0..10) {
                    0..5 => Op::Read(None),
                    5..9 => {
                        next_value += 1;
                        Op::Write(next_value)
                    }
                    _ => {
                        let expected = match store[key as usize] {
                            Some(v) if rng.random_bool(0.5) => v,
                            _ => rng.random_range(0..=next_value),
                        };
                        next_value += 1;
                        Op::Cas(expected, next_value)
                    }
                };
                let info = !matches!(op, Op::Read(_))
                    && rng.random_range(0..1000) < workload.info_per_mille;
                events.push(event(Kind::Invoke, op, key));
                running[c] = Some(Running {
                    key,
                    op,
                    outcome: None,
                    applies: !info || rng.random_bool(0.5),
                    info,
                });
                busy.push(c);
                invoked += 1;
            }
            Some(mut r) if r.outcome.is_none() && r.applies => {
                // The linearisation point.
                let cell = &mut store[r.key as usize];
                let (op, kind) = match r.op {
                    Op::Read(_) => (Op::Read(*cell), Kind::Ok),
                    Op::Write(v) => {
                        *cell = Some(v);
                        (r.op, Kind::Ok)
                    }
                    Op::Cas(expected, new) if *cell == Some(expected) => {
                        *cell = Some(new);
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
                events.push(event(kind, r.op, r.key));
                running[c] = None;
                busy.retain(|&b| b != c);
                if kind == Kind::Info {
                    process[c] = next_process;
                    next_process += 1;
                }
            }
        }
    }
    events
}
// ANCHOR_END: generator

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call: usize, ret: Option<usize>, effect: Effect) -> Operation {
        Operation {
            call,
            ret,
            process: call as u64,
            effect,
        }
    }

    #[test]
    fn placed_set_states_are_canonical() {
        let mut a = Placed::new(200);
        let mut b = Placed::new(200);
        for i in 0..70 {
            a.insert(i);
        }
        for i in (0..70).rev() {
            b.insert(i);
        }
        a.insert(150);
        b.insert(150);
        assert_eq!(a.state(Some(1)), b.state(Some(1)));
        assert_eq!(a.state(None).words.len(), 2, "words 1 and 2 only");
        a.remove(150);
        a.remove(3);
        b.remove(150);
        b.remove(3);
        assert_eq!(a.state(None), b.state(None));
        assert_eq!((a.lo, a.hi), (0, 2));
    }

    #[test]
    fn unobservable_indeterminate_writes_are_pruned() {
        let ops = [
            op(0, None, Effect::Write(1)),         // never read: dropped
            op(1, None, Effect::Write(2)),         // read later: kept
            op(2, Some(3), Effect::Read(Some(2))), // reader of 2
            op(4, None, Effect::Read(Some(9))),    // indeterminate read: dropped
            op(5, None, Effect::Write(7)),         // never read: dropped
            op(6, Some(8), Effect::Read(Some(1))), // reader of 1, after it: keeps it
        ];
        let kept: Vec<usize> = prune(&ops).iter().map(|o| o.call).collect();
        assert_eq!(kept, vec![0, 1, 2, 6]);
        let early = [
            op(0, Some(1), Effect::Read(Some(7))),
            op(2, None, Effect::Write(7)),
        ];
        assert_eq!(prune(&early).len(), 1, "a reader done before the write");
    }

    #[test]
    fn the_generator_is_seeded_and_well_formed() {
        let w = Workload {
            operations: 300,
            clients: 8,
            keys: 3,
            info_per_mille: 200,
        };
        let a = register_history(&w, 7);
        assert_eq!(a, register_history(&w, 7));
        assert_ne!(a, register_history(&w, 8));
        let invoked = a.iter().filter(|e| e.kind == Kind::Invoke).count();
        assert_eq!(invoked, 300);
        assert_eq!(a.len(), 600, "every operation completes");
        assert!(a.iter().any(|e| e.kind == Kind::Info));
        assert_eq!(check(&a, Budget::default()), Ok(Verdict::Linearizable));
    }
}
