//! The store: an append-only log of segments and an ordered in-memory index.
//!
// ANCHOR: invariants
//! # Invariants
//!
//! 1. **Log order.** Segments are numbered; records are appended only to the
//!    highest-numbered (active) segment, in increasing `seq` order, and a
//!    batch (its records and its commit) lies within one segment. Every
//!    segment but the newest ends with a seal record holding its own offset,
//!    so a segment cut at a record boundary is detected.
//! 2. **Index.** For every live key, the index holds the location of the
//!    newest record that set it; a deleted key is absent. Index updates
//!    happen under the writer lock, in log order.
//! 3. **Durability.** A segment is synced in full, in both modes, before the
//!    next one is created (and the new name is made durable), so syncing the
//!    active segment covers the whole log. In `Always` mode a write is
//!    acknowledged only after a sync that covers its bytes.
//! 4. **Recovery.** Replaying the segments in order rebuilds exactly the
//!    index of invariant 2 for the writes whose records (and, for a batch,
//!    commit) survived intact.
//!
//! 5. **Compaction.** A compacted segment takes the number of the oldest
//!    segment it replaces and holds, for each key whose newest record was in
//!    those segments, that record; every other segment it replaces is
//!    removed, oldest first.
//!
//! 6. **Hints.** A hint file describes exactly the current version of its
//!    segment: compaction removes the old hint before replacing the segment
//!    and renames the new hint in last; open uses a hint only if its
//!    checksum holds and the segment's seal is where it says.
//!
//! 7. **Accounting.** `Stats::live_bytes` is the sum of the lengths of
//!    the records the index points at; live and dead bytes add up to the
//!    bytes of all segments; `Stats::segments` counts the segment files.
//!
//! `Store::check_invariants` (`check.rs`) checks 1, 2, 6 and 7.
// ANCHOR_END: invariants
//!
// ANCHOR: lock_order
//! # Lock order
//!
//! | lock | protects | held across an fsync? |
//! |---|---|---|
//! | `compacting` (`Mutex<()>`) | one compaction at a time, and none while a checkpoint reads values or the checker runs | yes: all of a compaction |
//! | `writer` (`Mutex<Writer>`) | the active segment, its length, the next sequence number; appends happen under it, so the log is in `seq` order | only a rotation's (the sealed segment's sync and the directory sync: a segment must be durable before the next exists); never group commit's |
//! | `index` (`RwLock`) | the map from keys to locations, and the files under it during compaction's rename | **never**: compaction's swap holds the write lock for a rename, and syncs the directory before and after it |
//! | `stats` (`Mutex<Stats>`) | the byte and segment counters | **never** |
//! | `sync_state` (`Mutex<SyncState>`) + `synced` (`Condvar`) | how far the log is durable, whether a sync is running | **never**: the leader drops it to sync |
//!
//! A thread that holds several takes them in this order:
//!
//! 1. `compacting`
//! 2. `writer`
//! 3. `index` (read or write)
//! 4. `stats`
//!
//! `sync_state` is a leaf: no lock is taken while holding it, and the only
//! one held when it is taken (or waited on) is `compacting`, by the
//! compaction that syncs the log before dropping records. `failed` is an atomic, read
//! and set under any lock or none. Reads hold the `index` read lock only to
//! copy locations out, and do their I/O with no lock held.
// ANCHOR_END: lock_order

use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use avl::AvlMap;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::record::Limits;
use crate::storage::{FsStorage, Storage};

mod check;
mod checkpoint;
mod commit;
mod compaction;
mod read;
mod replay;

pub use check::Violation;
pub use checkpoint::{Checkpoint, CheckpointError};
pub use read::SCAN_CHUNK;

// ANCHOR: durability
/// When a write is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// After an fsync that covers it: survives power loss. Concurrent
    /// writers share one fsync (group commit).
    Always,
    /// After the bytes reach the operating system: survives a crash of the
    /// process but not of the machine, which may lose any suffix of the
    /// writes (never a write without the ones before it).
    Never,
}
// ANCHOR_END: durability

// ANCHOR: options
/// How a store is opened.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// When writes are acknowledged.
    pub durability: Durability,
    /// The active segment is rotated once it would grow beyond this.
    pub segment_size_bytes: u64,
    /// Longest key accepted, in bytes.
    pub key_len_max: u32,
    /// Longest value accepted, in bytes.
    pub value_len_max: u32,
    /// Open a damaged store anyway: skip records that fail to decode
    /// (checksum, length or kind), resuming at the next record that decodes,
    /// and accept older segments without their seal, counting each in
    /// [`Stats::repairs`]. In the newest segment, damage with nothing valid
    /// after it is cut as a torn tail ([`Stats::truncated_bytes`]). Keys whose
    /// newest record was skipped read as their previous value, or absent.
    /// Off by default: damage is then an error.
    pub repair: bool,
    /// The clock group commit measures its syncs and waits its commit delay
    /// on: [`SystemClock`] by default; a [`ManualClock`](crate::ManualClock)
    /// makes a simulation deterministic.
    pub clock: &'static dyn Clock,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Always,
            segment_size_bytes: 64 << 20,
            key_len_max: 4 << 10,
            value_len_max: 16 << 20,
            repair: false,
            clock: &SystemClock,
        }
    }
}
// ANCHOR_END: options

impl Options {
    fn limits(&self) -> Limits {
        Limits {
            key_len_max: self.key_len_max,
            value_len_max: self.value_len_max,
        }
    }

    /// Whether a write of `key` (and `value`, for a put) fits the limits.
    fn check_sizes(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if key.len() > self.key_len_max as usize {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                max: self.key_len_max,
            });
        }
        if let Some(value) = value
            && value.len() > self.value_len_max as usize
        {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                max: self.value_len_max,
            });
        }
        Ok(())
    }
}

// ANCHOR: location
/// Where a key's newest record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Location {
    segment: u32,
    offset: u64,
    len: u32,
}
// ANCHOR_END: location

/// A group of puts and deletes applied atomically.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a put.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push((key.into(), Some(value.into())));
        self
    }

    /// Adds a delete.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push((key.into(), None));
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

// ANCHOR: stats
/// What the store holds and what recovery found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live keys.
    pub keys: u64,
    /// Bytes of records the index points to.
    pub live_bytes: u64,
    /// Bytes of all other records (overwritten, deleted, commits).
    pub dead_bytes: u64,
    /// Segment files.
    pub segments: u64,
    /// Bytes of segments the last open recovered, replayed or (for a
    /// segment with a valid hint file) accounted for by its hint without
    /// being read.
    pub recovered_bytes: u64,
    /// Bytes of torn tail (or uncommitted batch) cut off by the last open.
    pub truncated_bytes: u64,
    /// Segments the last open indexed from their hint files, unread.
    pub segments_from_hints: u64,
    /// Damaged regions skipped and unsealed segments accepted by the last
    /// open ([`Options::repair`]).
    pub repairs: u64,
    /// Bytes skipped by repair (they stay in the file, counted as dead).
    pub skipped_bytes: u64,
}
// ANCHOR_END: stats

// ANCHOR: store
struct Writer {
    segment: u32,
    /// `segment_name(segment)`, kept rather than formatted per write.
    name: String,
    segment_len: u64,
    next_seq: u64,
}

#[derive(Default)]
struct SyncState {
    /// Everything up to this (segment, length) is durable.
    durable: (u32, u64),
    in_progress: bool,
    /// The writer's `next_seq` when the last sync began: the writes since
    /// then are what the next sync covers.
    synced_seq: u64,
    /// Writes the last sync covered, and how long it took.
    last_batch: u64,
    last_sync: Duration,
}

/// A log-structured key-value store on a [`Storage`].
pub struct Store<S: Storage> {
    storage: S,
    options: Options,
    index: RwLock<AvlMap<Key, Location>>,
    writer: Mutex<Writer>,
    sync_state: Mutex<SyncState>,
    synced: Condvar,
    failed: AtomicBool,
    stats: Mutex<Stats>,
    /// Held for the whole of a compaction: one at a time.
    compacting: Mutex<()>,
}
// ANCHOR_END: store

fn segment_name(segment: u32) -> String {
    format!("{segment:010}.seg")
}

/// Suffix of a compacted segment before it replaces the oldest one.
const COMPACTING_SUFFIX: &str = ".compacting";

fn parse_segment(name: &str) -> Option<u32> {
    name.strip_suffix(".seg")?.parse().ok()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: Storage> Store<S> {
    /// The options the store was opened with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// Counters; see [`Stats`].
    pub fn stats(&self) -> Stats {
        Stats {
            keys: self.len() as u64,
            ..*lock(&self.stats)
        }
    }

    /// The storage underneath (tests crash it).
    pub fn storage(&self) -> &S {
        &self.storage
    }
}

// ANCHOR: open_dir
impl Store<FsStorage> {
    /// Opens (or creates) the store in the directory `dir`, locking it.
    ///
    /// # Errors
    ///
    /// [`Error::Locked`] if another store has `dir` open, and whatever
    /// [`Store::open`] returns.
    pub fn open_dir(dir: impl AsRef<std::path::Path>, options: Options) -> Result<Self> {
        let dir = dir.as_ref();
        let storage = FsStorage::open(dir).map_err(|error| {
            if error.kind() == std::io::ErrorKind::WouldBlock {
                Error::Locked {
                    dir: dir.to_path_buf(),
                }
            } else {
                Error::Io(error)
            }
        })?;
        Store::open(storage, options)
    }
}
// ANCHOR_END: open_dir

#[cfg(test)]
mod tests {
    use super::*;

    /// The engines chapter's memory estimate: one index node per key.
    #[test]
    fn an_index_node_takes_64_bytes() {
        assert_eq!(AvlMap::<Key, Location>::NODE_BYTES, 64);
    }
}
