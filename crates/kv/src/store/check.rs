//! The invariant checker: walks every segment and the whole index, and names
//! the first broken invariant of `store/mod.rs` precisely.
//!
//! It is public so that students can run it on their own changes; the model
//! test calls it after every operation. It takes the compaction, writer,
//! index (read) and stats locks, in the lock order, and reads every segment:
//! writers wait for it, readers do not. O(bytes in the log).
//!
//! Deliberately not checked: durability (invariant 3; the crash tests check
//! it against a model), that sequence numbers increase within a segment (a
//! compacted segment holds its records in key order), and records skipped by
//! [`Options::repair`](super::Options::repair), which the walk skips the same
//! way recovery did.

use std::collections::HashMap;
use std::fmt;

use super::{Location, Store, lock, parse_segment, segment_name};
use crate::hint::{self, Hint};
use crate::record::{self, DecodeError, Kind};
use crate::storage::Storage;

/// The first invariant a store breaks, as found by
/// [`Store::check_invariants`]. Numbers are those of the store's invariants.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The checker could not read a file, so it could not check it.
    Io {
        /// The file.
        file: String,
        /// The I/O error, as text.
        error: String,
    },
    /// Invariant 1: the active segment is not the newest segment file (or
    /// is missing).
    ActiveNotNewest {
        /// The writer's segment.
        active: u32,
        /// The newest segment file, if any.
        newest: Option<u32>,
    },
    /// Invariant 1: bytes of a segment do not decode as a record.
    Framing {
        /// The segment.
        segment: u32,
        /// Offset of the bytes.
        offset: u64,
        /// What the decoder found.
        reason: DecodeError,
    },
    /// Invariant 1: a segment other than the active one does not end with
    /// a seal holding its own offset, or a record follows a seal.
    Seal {
        /// The segment.
        segment: u32,
        /// Where the seal should be (the segment's length, if none was found).
        offset: u64,
    },
    /// Invariant 2: an index entry points at a record that cannot be read,
    /// does not decode, holds another key or is not a put.
    Unreadable {
        /// The key.
        key: Vec<u8>,
        /// Where the index says it lives.
        segment: u32,
        /// Offset there.
        offset: u64,
        /// The read's error, as text.
        error: String,
    },
    /// Invariant 2: an index entry's length is not its record's.
    Length {
        /// The key.
        key: Vec<u8>,
        /// Where the index says it lives.
        segment: u32,
        /// Offset there.
        offset: u64,
        /// Length in the index.
        index_len: u32,
        /// Length of the record.
        record_len: usize,
    },
    /// Invariant 2: the log holds a newer record for the key (a put
    /// elsewhere, or a delete) than the one the index points at.
    NotNewest {
        /// The key.
        key: Vec<u8>,
        /// Where the index says it lives, as (segment, offset).
        indexed: (u32, u64),
        /// Where its newest record is, and whether that is a put.
        newest: Option<(u32, u64, bool)>,
    },
    /// Invariant 2: the key's newest record in the log is a put, but the
    /// index does not hold the key.
    NotIndexed {
        /// The key.
        key: Vec<u8>,
        /// Segment of its newest record.
        segment: u32,
        /// Offset there.
        offset: u64,
    },
    /// Invariant 6: a hint file does not describe its segment.
    Hint {
        /// The hinted segment.
        segment: u32,
        /// What is wrong.
        problem: &'static str,
    },
    /// Invariant 7: a counter of [`Stats`](super::Stats) disagrees with
    /// what the log and index hold.
    Stats {
        /// The counter (`live_bytes`, `live_bytes + dead_bytes`, `segments`).
        counter: &'static str,
        /// What the store counts.
        stored: u64,
        /// What the checker counted.
        counted: u64,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Io { file, error } => {
                write!(f, "could not read {file} to check it: {error}")
            }
            Violation::ActiveNotNewest { active, newest } => write!(
                f,
                "invariant 1 (log order) broken: the active segment is {active}, the newest segment file {newest:?}"
            ),
            Violation::Framing {
                segment,
                offset,
                reason,
            } => write!(
                f,
                "invariant 1 (log order) broken in segment {segment} at offset {offset}: {reason}"
            ),
            Violation::Seal { segment, offset } => write!(
                f,
                "invariant 1 (log order) broken: sealed segment {segment} has no valid seal as its last record (at {offset})"
            ),
            Violation::Unreadable {
                key,
                segment,
                offset,
                error,
            } => write!(
                f,
                "invariant 2 (index) broken for key {key:?}: its record in segment {segment} at offset {offset} fails: {error}"
            ),
            Violation::Length {
                key,
                segment,
                offset,
                index_len,
                record_len,
            } => write!(
                f,
                "invariant 2 (index) broken for key {key:?}: the index says {index_len} bytes at segment {segment} offset {offset}, the record has {record_len}"
            ),
            Violation::NotNewest {
                key,
                indexed,
                newest,
            } => write!(
                f,
                "invariant 2 (index) broken for key {key:?}: the index points at {indexed:?}, the newest record is {newest:?} (segment, offset, is a put)"
            ),
            Violation::NotIndexed {
                key,
                segment,
                offset,
            } => write!(
                f,
                "invariant 2 (index) broken for key {key:?}: its newest record (segment {segment}, offset {offset}) is a put, but the index lacks the key"
            ),
            Violation::Hint { segment, problem } => write!(
                f,
                "invariant 6 (hints) broken for segment {segment}: {problem}"
            ),
            Violation::Stats {
                counter,
                stored,
                counted,
            } => write!(
                f,
                "invariant 7 (accounting) broken: {counter} is {stored}, the log holds {counted}"
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// What the walk of the log found.
#[derive(Default)]
struct Walk {
    /// Each key's newest record: (segment, offset, is a put).
    newest: HashMap<Vec<u8>, (u32, u64, bool)>,
    /// Bytes of all segments.
    bytes: u64,
    /// Each sealed segment's seal offset.
    seals: HashMap<u32, u64>,
}

impl<S: Storage> Store<S> {
    /// Walks every segment and the whole index and returns the first broken
    /// invariant (see [`Violation`]): segments are ordered, and sealed
    /// except the active one; every index entry points at a record that
    /// decodes, carries that key, has that length and is the key's newest;
    /// every key whose newest record is a put is indexed; hints describe
    /// their segments; the byte and segment counters add up.
    ///
    /// Writers wait while it runs; readers do not. A file it cannot read is
    /// reported as [`Violation::Io`].
    pub fn check_invariants(&self) -> Result<(), Violation> {
        let _compacting = lock(&self.compacting);
        let writer = lock(&self.writer);
        let index = self
            .index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let stats = *lock(&self.stats);
        let names = self.storage.list().map_err(|error| Violation::Io {
            file: "the directory".to_string(),
            error: error.to_string(),
        })?;
        let mut segments: Vec<u32> = names.iter().filter_map(|n| parse_segment(n)).collect();
        segments.sort_unstable();
        if segments.last() != Some(&writer.segment) {
            return Err(Violation::ActiveNotNewest {
                active: writer.segment,
                newest: segments.last().copied(),
            });
        }
        let mut walk = Walk::default();
        for &segment in &segments {
            self.walk_segment(segment, segment == writer.segment, &mut walk)?;
        }
        let mut live_bytes = 0;
        for (key, &location) in index.iter() {
            self.check_entry(key.as_bytes(), location, &walk)?;
            live_bytes += u64::from(location.len);
        }
        for (key, &(segment, offset, put)) in &walk.newest {
            if put && index.get(key.as_slice()).is_none() {
                return Err(Violation::NotIndexed {
                    key: key.clone(),
                    segment,
                    offset,
                });
            }
        }
        self.check_hints(&names, writer.segment, &walk)?;
        let counters = [
            ("live_bytes", stats.live_bytes, live_bytes),
            (
                "live_bytes + dead_bytes",
                stats.live_bytes + stats.dead_bytes,
                walk.bytes,
            ),
            ("segments", stats.segments, segments.len() as u64),
        ];
        for (counter, stored, counted) in counters {
            if stored != counted {
                return Err(Violation::Stats {
                    counter,
                    stored,
                    counted,
                });
            }
        }
        Ok(())
    }

    /// Decodes one segment record by record into `walk` (as replay does: a
    /// batch counts at its commit; with `repair`, damage is skipped).
    fn walk_segment(&self, segment: u32, active: bool, walk: &mut Walk) -> Result<(), Violation> {
        let name = segment_name(segment);
        let framing = |offset: u64, reason| Violation::Framing {
            segment,
            offset,
            reason,
        };
        let io = |error: std::io::Error| Violation::Io {
            file: name.clone(),
            error: error.to_string(),
        };
        let len = self.storage.len(&name).map_err(io)?;
        let mut bytes = vec![0; len as usize];
        self.storage.read_at(&name, 0, &mut bytes).map_err(io)?;
        walk.bytes += len;
        let limits = self.options.limits();
        let (mut offset, mut sealed) = (0usize, false);
        let mut pending: Vec<(Vec<u8>, u64, bool)> = Vec::new();
        while offset < bytes.len() {
            if sealed {
                return Err(Violation::Seal {
                    segment,
                    offset: offset as u64,
                });
            }
            let record = match record::decode(&bytes[offset..], limits) {
                Ok(record) => record,
                Err(reason) => {
                    let resume = (offset + 1..bytes.len())
                        .find(|&at| record::decode(&bytes[at..], limits).is_ok())
                        .or((!active).then_some(bytes.len()));
                    match resume {
                        Some(resume) if self.options.repair => {
                            pending.clear();
                            offset = resume;
                            continue;
                        }
                        _ => return Err(framing(offset as u64, reason)),
                    }
                }
            };
            let at = offset as u64;
            match record.kind {
                Kind::Put | Kind::Delete => {
                    let entry = (segment, at, record.kind.is_put());
                    walk.newest.insert(record.key.to_vec(), entry);
                }
                Kind::BatchPut | Kind::BatchDelete => {
                    pending.push((record.key.to_vec(), at, record.kind.is_put()));
                }
                Kind::Commit => {
                    for (key, at, put) in pending.drain(..) {
                        walk.newest.insert(key, (segment, at, put));
                    }
                }
                Kind::Seal if record.value == at.to_le_bytes() => {
                    sealed = true;
                    walk.seals.insert(segment, at);
                }
                Kind::Seal => {
                    return Err(Violation::Seal {
                        segment,
                        offset: at,
                    });
                }
            }
            offset += record.encoded_len();
        }
        if !active && !sealed && !self.options.repair {
            return Err(Violation::Seal {
                segment,
                offset: len,
            });
        }
        Ok(())
    }

    /// One index entry against its record and the walk (invariant 2).
    fn check_entry(&self, key: &[u8], location: Location, walk: &Walk) -> Result<(), Violation> {
        let (segment, offset) = (location.segment, location.offset);
        let found = self
            .read_record(key, location)
            .map_err(|error| Violation::Unreadable {
                key: key.to_vec(),
                segment,
                offset,
                error: error.to_string(),
            })?;
        if found.encoded_len() != location.len as usize {
            return Err(Violation::Length {
                key: key.to_vec(),
                segment,
                offset,
                index_len: location.len,
                record_len: found.encoded_len(),
            });
        }
        let newest = walk.newest.get(key).copied();
        if newest != Some((segment, offset, true)) {
            return Err(Violation::NotNewest {
                key: key.to_vec(),
                indexed: (segment, offset),
                newest,
            });
        }
        Ok(())
    }

    /// Every hint file describes its sealed segment (invariant 6): it
    /// decodes, its seal offset is the segment's, and each entry is a put
    /// of its key of that length.
    fn check_hints(&self, names: &[String], active: u32, walk: &Walk) -> Result<(), Violation> {
        for name in names {
            let Some(segment) = name.strip_suffix(".hint").and_then(|n| n.parse().ok()) else {
                continue;
            };
            debug_assert_eq!(*name, hint::hint_name(segment));
            let fail = |problem| Err(Violation::Hint { segment, problem });
            if segment == active || !walk.seals.contains_key(&segment) {
                return fail("the segment is not a sealed segment of the log");
            }
            let mut bytes = vec![0; self.storage.len(name).unwrap_or(0) as usize];
            let hint = match self.storage.read_at(name, 0, &mut bytes) {
                Ok(()) => Hint::decode(&bytes, self.options.key_len_max),
                Err(_) => None,
            };
            let Some(hint) = hint else {
                return fail("the hint file cannot be read or fails its checksum");
            };
            if walk.seals.get(&segment) != Some(&hint.seal_offset) {
                return fail("the seal is not where the hint says");
            }
            for entry in hint.entries {
                let location = Location {
                    segment,
                    offset: entry.offset,
                    len: entry.len,
                };
                match self.read_record(&entry.key, location) {
                    Ok(found) if found.encoded_len() == entry.len as usize => {}
                    _ => return fail("an entry is not a put of its key, of its length"),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;
    use crate::{Options, SimDisk};

    /// A store of three sealed segments and an active one, compacted once
    /// (so the oldest has a hint), that passes the checker.
    fn store() -> Store<SimDisk> {
        let options = Options {
            segment_size_bytes: 128,
            ..Options::default()
        };
        let store = Store::open(SimDisk::new(), options).unwrap();
        for i in 0..12u8 {
            store.put(&[b'k', i % 5], &[i; 10]).unwrap();
        }
        store.delete(&[b'k', 0]).unwrap();
        store.compact().unwrap();
        store.put(b"k\x01", b"newest").unwrap();
        store.check_invariants().unwrap();
        store
    }

    fn location(store: &Store<SimDisk>, key: &[u8]) -> Location {
        store.location(key).unwrap()
    }

    /// Breaks a fresh store with `damage`, and checks that the checker says
    /// so with `expected`.
    fn check(damage: impl FnOnce(&Store<SimDisk>), expected: impl Fn(&Violation) -> bool) {
        let store = store();
        damage(&store);
        let violation = store.check_invariants().unwrap_err();
        assert!(expected(&violation), "{violation}");
    }

    #[test]
    fn an_index_entry_at_the_wrong_record_is_caught() {
        check(
            |store| {
                let other = location(store, b"k\x02");
                store
                    .index
                    .write()
                    .unwrap()
                    .insert(Key::from(&b"k\x03"[..]), other);
            },
            |v| matches!(v, Violation::Unreadable { key, .. } if key == b"k\x03"),
        );
    }

    #[test]
    fn an_index_entry_at_an_older_record_is_caught() {
        check(
            |store| {
                let at = location(store, b"k\x01");
                store.put(b"k\x01", b"again").unwrap();
                store
                    .index
                    .write()
                    .unwrap()
                    .insert(Key::from(&b"k\x01"[..]), at);
            },
            |v| matches!(v, Violation::NotNewest { key, .. } if key == b"k\x01"),
        );
    }

    #[test]
    fn a_key_missing_from_the_index_is_caught() {
        check(
            |store| {
                store.index.write().unwrap().remove(&b"k\x04"[..]);
            },
            |v| matches!(v, Violation::NotIndexed { key, .. } if key == b"k\x04"),
        );
    }

    #[test]
    fn a_flipped_bit_in_a_sealed_segment_is_caught() {
        check(
            |store| {
                let at = location(store, b"k\x02");
                let name = segment_name(at.segment);
                store.storage.flip_bit(&name, at.offset + 25, 0).unwrap();
            },
            |v| matches!(v, Violation::Framing { .. }),
        );
    }

    #[test]
    fn a_missing_seal_is_caught() {
        check(
            |store| {
                let first = location(store, b"k\x02").segment;
                let name = segment_name(first);
                let len = store.storage.len(&name).unwrap();
                let seal_len = record::HEADER_LEN as u64 + 8;
                store.storage.truncate(&name, len - seal_len).unwrap();
            },
            |v| matches!(v, Violation::Seal { .. }),
        );
    }

    #[test]
    fn counters_that_do_not_add_up_are_caught() {
        check(
            |store| lock(&store.stats).dead_bytes += 1,
            |v| matches!(v, Violation::Stats { counter, .. } if counter.contains("dead")),
        );
        check(
            |store| lock(&store.stats).segments += 1,
            |v| {
                matches!(
                    v,
                    Violation::Stats {
                        counter: "segments",
                        ..
                    }
                )
            },
        );
    }

    #[test]
    fn a_stale_hint_is_caught() {
        check(
            |store| {
                let names = store.storage.list().unwrap();
                let hint = names.iter().find(|n| n.ends_with(".hint")).unwrap();
                store.storage.flip_bit(hint, 10, 3).unwrap();
            },
            |v| matches!(v, Violation::Hint { .. }),
        );
    }
}
