//! The replicated log in memory: a compacted prefix (named by the last
//! index and term it covers) followed by the live entries.
//!
//! # Invariants
//!
//! 1. Entry `i` lives at `entries[i - snapshot_index - 1]`; indices start
//!    at 1, and index 0 with term 0 stands for "before the first entry".
//! 2. Entry terms never decrease along the log, and no entry's term is
//!    below `snapshot_term`.
//!
//! The log checks neither (they are properties of the protocol that writes
//! it); [`Log::check_invariants`] does.

use super::{Entry, LogIndex, Term};
use crate::protocol::Command;

/// A compacted prefix plus the live entries after it; `C` is the
/// application's command type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Log<C = Command> {
    /// The last index the snapshot covers (0: none).
    pub(crate) snapshot_index: LogIndex,
    /// The term of entry `snapshot_index` (0: none).
    pub(crate) snapshot_term: Term,
    entries: Vec<Entry<C>>,
}

impl<C> Default for Log<C> {
    fn default() -> Self {
        Log {
            snapshot_index: 0,
            snapshot_term: 0,
            entries: Vec::new(),
        }
    }
}

impl<C: Clone> Log<C> {
    /// Where entry `index` lives in `entries`, if it is live.
    fn slot(&self, index: LogIndex) -> Option<usize> {
        let offset = index.checked_sub(self.snapshot_index)?.checked_sub(1)?;
        let slot = usize::try_from(offset).ok()?;
        (slot < self.entries.len()).then_some(slot)
    }

    /// The index of the last entry (the snapshot's if the log is empty).
    pub(crate) fn last_index(&self) -> LogIndex {
        self.snapshot_index + self.entries.len() as LogIndex
    }

    /// The term of the last entry.
    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term of entry `index`: known for the snapshot's last index and
    /// for live entries, `None` inside the compacted prefix or past the end.
    pub(crate) fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.slot(index).map(|s| self.entries[s].term)
    }

    /// Live entry `index`.
    pub(crate) fn get(&self, index: LogIndex) -> Option<&Entry<C>> {
        self.slot(index).map(|s| &self.entries[s])
    }

    /// The live entries, with their indices.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (LogIndex, &Entry<C>)> + '_ {
        let first = self.snapshot_index + 1;
        self.entries
            .iter()
            .enumerate()
            .map(move |(k, e)| (first + k as LogIndex, e))
    }

    /// Up to `max` entries starting at `from` (which must be live or one
    /// past the end).
    pub(crate) fn entries_from(&self, from: LogIndex, max: usize) -> Vec<Entry<C>> {
        let Some(start) = from
            .checked_sub(self.snapshot_index + 1)
            .and_then(|s| usize::try_from(s).ok())
        else {
            return Vec::new();
        };
        let start = start.min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        self.entries[start..end].to_vec()
    }

    /// Appends one entry at `last_index() + 1`.
    pub(crate) fn push(&mut self, entry: Entry<C>) {
        self.entries.push(entry);
    }

    /// Removes entry `from` and every later one (never the compacted
    /// prefix).
    pub(crate) fn truncate_from(&mut self, from: LogIndex) {
        let keep = from.saturating_sub(self.snapshot_index + 1);
        self.entries
            .truncate(usize::try_from(keep).unwrap_or(usize::MAX));
    }

    /// Compacts every entry up to `index` (of term `term`) into the
    /// snapshot. If the live log does not hold `(index, term)` it is
    /// discarded whole: a snapshot from the leader replaces a log that
    /// disagrees with it.
    pub(crate) fn compact_to(&mut self, index: LogIndex, term: Term) {
        if index <= self.snapshot_index {
            return;
        }
        match self.slot(index) {
            Some(slot) if self.entries[slot].term == term => {
                self.entries.drain(..=slot);
            }
            _ => self.entries.clear(),
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
    }

    /// The first live index of the run of `term` entries that contains
    /// `index` (the "conflict index" hint of fast backtracking).
    pub(crate) fn first_index_of_run(&self, index: LogIndex) -> LogIndex {
        let Some(term) = self.term_at(index) else {
            return index;
        };
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last live index holding an entry of `term`, if any.
    pub(crate) fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        self.iter()
            .rev()
            .find(|(_, e)| e.term == term)
            .map(|(i, _)| i)
    }

    /// Checks invariant 2.
    pub(crate) fn check_invariants(&self) -> Result<(), LogViolation> {
        let mut previous = self.snapshot_term;
        for (index, entry) in self.iter() {
            if entry.term < previous {
                return Err(LogViolation::TermDecreases {
                    index,
                    term: entry.term,
                    previous,
                });
            }
            previous = entry.term;
        }
        Ok(())
    }
}

/// The first invariant of this module a Raft log breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogViolation {
    /// Invariant 2: an entry's term is below its predecessor's (or the
    /// snapshot's, for the first live entry).
    #[error("log entry {index} has term {term} below its predecessor's {previous}")]
    TermDecreases {
        /// The entry's index.
        index: LogIndex,
        /// Its term.
        term: Term,
        /// The term before it.
        previous: Term,
    },
}
