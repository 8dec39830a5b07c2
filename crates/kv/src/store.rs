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
// ANCHOR_END: invariants

use std::ops::{Bound, RangeBounds};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use avl::AvlMap;

use crate::key::Key;

use crate::error::{Error, Result};
use crate::hint::{self, Hint};
use crate::record::{self, DecodeError, Kind, Limits, Record};
use crate::storage::{FsStorage, Storage};

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Always,
            segment_size_bytes: 64 << 20,
            key_len_max: 4 << 10,
            value_len_max: 16 << 20,
            repair: false,
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

/// Index entries a [`Store::scan`] takes per read lock.
pub const SCAN_CHUNK: usize = 128;

/// A leader whose last sync was shared waits this fraction of that sync's
/// duration before starting the next one. Measured on the 2-core VM of the
/// README with 8 writers and fsync'd puts: no delay gave 4.9 writes per
/// sync (the writers split into two cohorts, one appending while the other's
/// sync runs), ¼ gave 7.7 and 1.4× the throughput; ½ and 1 cost single-
/// and two-writer throughput.
const COMMIT_DELAY_DIVISOR: u32 = 4;

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

/// The index, rebuilt by replaying segments (invariant 4).
struct Replay {
    /// Every put and delete replayed, in log order. The index is built from
    /// them once, at the end ([`Replay::finish`]): one sort instead of a
    /// tree insertion in random key order per record, which at 10⁶ keys is
    /// several times slower (each insertion walks ~20 nodes scattered in
    /// memory).
    ops: Vec<(Key, Option<Location>)>,
    stats: Stats,
    next_seq: u64,
}

impl Replay {
    fn apply(&mut self, key: Key, location: Option<Location>) {
        self.ops.push((key, location));
    }

    // ANCHOR: replay_finish
    /// Builds the index from the replayed operations: the last operation
    /// on each key decides whether and where it lives. Counts live and dead
    /// bytes as applying the operations one by one would.
    fn finish(&mut self) -> AvlMap<Key, Location> {
        let mut ops = std::mem::take(&mut self.ops);
        // Stable: a key's operations stay in log order.
        ops.sort_by(|a, b| a.0.cmp(&b.0));
        let mut live: Vec<(Key, Location)> = Vec::with_capacity(ops.len());
        let mut current: Option<(Key, Option<Location>)> = None;
        for (key, location) in ops {
            let old = match current.take() {
                Some((current_key, old)) if current_key == key => old,
                Some((current_key, old)) => {
                    live.extend(old.map(|old| (current_key, old)));
                    None
                }
                None => None,
            };
            if let Some(location) = location {
                self.stats.live_bytes += u64::from(location.len);
            }
            if let Some(old) = old {
                self.stats.live_bytes -= u64::from(old.len);
                self.stats.dead_bytes += u64::from(old.len);
            }
            current = Some((key, location));
        }
        if let Some((key, Some(location))) = current {
            live.push((key, location));
        }
        // Already sorted and unique: collecting sorts a sorted run in O(n).
        live.into_iter().collect()
    }
    // ANCHOR_END: replay_finish
}

impl<S: Storage> Store<S> {
    // ANCHOR: open
    /// Opens the store in `storage`, replaying its segments. A torn record
    /// (or uncommitted batch) at the end of the newest segment is cut off and
    /// counted in [`Stats::truncated_bytes`]; damage anywhere else is an
    /// [`Error::Corruption`].
    pub fn open(storage: S, options: Options) -> Result<Self> {
        // A compaction that crashed before its rename left only a temporary
        // file; the segments it was made from are all still there.
        for name in storage.list()? {
            if name.ends_with(COMPACTING_SUFFIX) {
                storage.remove(&name)?;
            }
        }
        let mut segments: Vec<u32> = storage
            .list()?
            .iter()
            .filter_map(|name| parse_segment(name))
            .collect();
        segments.sort_unstable();
        let mut replay = Replay {
            ops: Vec::new(),
            stats: Stats::default(),
            next_seq: 1,
        };
        let mut active_len = 0;
        let mut sealed = false;
        let names = storage.list()?;
        for (i, &segment) in segments.iter().enumerate() {
            let newest = i + 1 == segments.len();
            let hinted = !newest
                && names.contains(&hint::hint_name(segment))
                && load_hint(&storage, segment, options, &mut replay)?;
            if hinted {
                replay.stats.segments_from_hints += 1;
            } else {
                (active_len, sealed) =
                    replay_segment(&storage, segment, newest, options, &mut replay)?;
            }
        }
        let mut active = segments.last().copied().unwrap_or(1);
        let mut segment_count = segments.len();
        if segments.is_empty() || sealed {
            // A crash after sealing the newest segment lost the next one's
            // name: start it again.
            if sealed {
                active += 1;
                active_len = 0;
            }
            storage.append(&segment_name(active), &[])?;
            storage.sync_dir()?;
            segment_count += 1;
        }
        // What recovery read may have been written, never synced, by a
        // process in `Never` mode; make it durable before serving it, so a
        // later `sync` has a true starting point (invariant 3).
        storage.sync(&segment_name(active))?;
        let index = replay.finish();
        replay.stats.segments = segment_count as u64;
        Ok(Store {
            storage,
            options,
            index: RwLock::new(index),
            writer: Mutex::new(Writer {
                segment: active,
                name: segment_name(active),
                segment_len: active_len,
                next_seq: replay.next_seq,
            }),
            sync_state: Mutex::new(SyncState {
                durable: (active, active_len),
                in_progress: false,
                synced_seq: replay.next_seq,
                last_batch: 0,
                last_sync: Duration::ZERO,
            }),
            synced: Condvar::new(),
            failed: AtomicBool::new(false),
            stats: Mutex::new(replay.stats),
            compacting: Mutex::new(()),
        })
    }
    // ANCHOR_END: open

    // ANCHOR: get
    /// The value of `key`, read from its record on disk.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.location(key) {
            Some(location) => self.read_current(key, location),
            None => Ok(None),
        }
    }

    fn location(&self, key: &[u8]) -> Option<Location> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index.get(key).copied()
    }

    /// Reads `key`'s value from `location`; if that fails because compaction
    /// moved the record meanwhile (the index now says elsewhere), follows
    /// the index. `None` if the key was deleted meanwhile.
    fn read_current(&self, key: &[u8], mut location: Location) -> Result<Option<Vec<u8>>> {
        loop {
            match self.read_value(key, location) {
                Ok(value) => return Ok(Some(value)),
                Err(error) => match self.location(key) {
                    None => return Ok(None),
                    Some(now) if now != location => location = now,
                    Some(_) => return Err(error),
                },
            }
        }
    }

    fn read_value(&self, key: &[u8], location: Location) -> Result<Vec<u8>> {
        let name = segment_name(location.segment);
        let mut bytes = vec![0; location.len as usize];
        self.storage.read_at(&name, location.offset, &mut bytes)?;
        let record =
            record::decode(&bytes, self.options.limits()).map_err(|reason| Error::Corruption {
                segment: name.clone(),
                offset: location.offset,
                reason,
            })?;
        if record.key != key || !record.kind.is_put() {
            return Err(Error::Mismatch {
                segment: name,
                offset: location.offset,
            });
        }
        // The value is the record's tail: keep the buffer, drop the front.
        let (value_start, end) = (
            record.encoded_len() - record.value.len(),
            record.encoded_len(),
        );
        bytes.truncate(end);
        bytes.drain(..value_start);
        Ok(bytes)
    }
    // ANCHOR_END: get

    /// Sets `key` to `value`.
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(&[(key, Some(value))], false).map(|_| ())
    }

    /// Removes `key`; returns whether it was present (the delete is logged
    /// either way).
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        self.write(&[(key, None)], false)
    }

    /// Applies every operation of `batch`, or after a crash none of them.
    pub fn write_batch(&self, batch: WriteBatch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let ops: Vec<(&[u8], Option<&[u8]>)> = batch
            .ops
            .iter()
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
            .collect();
        self.write(&ops, true).map(|_| ())
    }

    fn check_sizes(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        if key.len() > self.options.key_len_max as usize {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                max: self.options.key_len_max,
            });
        }
        if let Some(value) = value
            && value.len() > self.options.value_len_max as usize
        {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                max: self.options.value_len_max,
            });
        }
        Ok(())
    }

    // ANCHOR: write
    /// Logs and applies `batch`; returns whether its first key was present.
    fn write(&self, ops: &[(&[u8], Option<&[u8]>)], atomic: bool) -> Result<bool> {
        for &(key, value) in ops {
            self.check_sizes(key, value)?;
        }
        if self.failed.load(Ordering::Acquire) {
            return Err(Error::Failed);
        }
        let mut first_was_present = false;
        let end = {
            let mut writer = lock(&self.writer);
            let seq = writer.next_seq;
            let mut bytes = Vec::new();
            let mut starts = Vec::with_capacity(ops.len());
            for &(key, value) in ops {
                starts.push(bytes.len());
                let kind = match (value.is_some(), atomic) {
                    (true, false) => Kind::Put,
                    (false, false) => Kind::Delete,
                    (true, true) => Kind::BatchPut,
                    (false, true) => Kind::BatchDelete,
                };
                let value = value.unwrap_or_default();
                Record {
                    seq,
                    kind,
                    key,
                    value,
                }
                .encode_into(&mut bytes);
            }
            let commit_len = if atomic {
                let before = bytes.len();
                Record {
                    seq,
                    kind: Kind::Commit,
                    key: &[],
                    value: &[],
                }
                .encode_into(&mut bytes);
                bytes.len() - before
            } else {
                0
            };
            // ANCHOR: write_append
            if writer.segment_len > 0
                && writer.segment_len + bytes.len() as u64 > self.options.segment_size_bytes
            {
                // A failure half-way (sealed, no next segment) would leave
                // the log unwritable at its end: stop accepting writes.
                self.rotate(&mut writer).inspect_err(|_| self.fail())?;
            }
            // A failed append may have written part of the record, which
            // the next write would bury mid-segment: stop accepting writes.
            let offset = self
                .storage
                .append(&writer.name, &bytes)
                .inspect_err(|_| self.fail())?;
            writer.next_seq += 1;
            writer.segment_len = offset + bytes.len() as u64;
            // ANCHOR_END: write_append
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let mut stats = lock(&self.stats);
            stats.dead_bytes += commit_len as u64;
            for (i, &(key, value)) in ops.iter().enumerate() {
                let next = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(bytes.len() - commit_len);
                let len = (next - starts[i]) as u32;
                let old = match value {
                    Some(_) => {
                        stats.live_bytes += u64::from(len);
                        let location = Location {
                            segment: writer.segment,
                            offset: offset + starts[i] as u64,
                            len,
                        };
                        index.insert(Key::from(key), location)
                    }
                    None => {
                        stats.dead_bytes += u64::from(len);
                        index.remove(key)
                    }
                };
                if i == 0 {
                    first_was_present = old.is_some();
                }
                if let Some(old) = old {
                    stats.live_bytes -= u64::from(old.len);
                    stats.dead_bytes += u64::from(old.len);
                }
            }
            (writer.segment, writer.segment_len)
        };
        match self.options.durability {
            Durability::Always => self.sync_up_to(end)?,
            Durability::Never => {}
        }
        Ok(first_was_present)
    }
    // ANCHOR_END: write

    // ANCHOR: rotate
    /// Closes the active segment and starts the next one (invariant 3: the
    /// old segment is synced in full first, in both modes, so that a sync of
    /// the active segment always covers the whole log).
    fn rotate(&self, writer: &mut Writer) -> Result<()> {
        let old = segment_name(writer.segment);
        let seal_offset = writer.segment_len;
        let seal = Record {
            seq: writer.next_seq,
            kind: Kind::Seal,
            key: &[],
            value: &seal_offset.to_le_bytes(),
        }
        .encode();
        let at = self.storage.append(&old, &seal)?;
        debug_assert_eq!(at, seal_offset, "the writer tracks the segment's length");
        writer.next_seq += 1;
        lock(&self.stats).dead_bytes += seal.len() as u64;
        self.storage.sync(&old).inspect_err(|_| self.fail())?;
        let next = writer.segment + 1;
        self.storage.append(&segment_name(next), &[])?;
        self.storage.sync_dir().inspect_err(|_| self.fail())?;
        writer.segment = next;
        writer.name = segment_name(next);
        writer.segment_len = 0;
        lock(&self.stats).segments += 1;
        Ok(())
    }
    // ANCHOR_END: rotate

    // ANCHOR: fail
    fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }
    // ANCHOR_END: fail

    // ANCHOR: sync_up_to
    /// Waits until everything up to `end` is durable, syncing if no other
    /// writer is (group commit: one sync covers every write before it).
    fn sync_up_to(&self, end: (u32, u64)) -> Result<()> {
        let mut state = lock(&self.sync_state);
        loop {
            if state.durable >= end {
                return Ok(());
            }
            if self.failed.load(Ordering::Acquire) {
                return Err(Error::Failed);
            }
            if !state.in_progress {
                break;
            }
            state = self
                .synced
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.in_progress = true;
        // Commit delay: when the last sync was shared, writers are arriving
        // in a stream; wait a fraction of a sync for more of them to append,
        // so that this sync covers them too instead of the next one. A lone
        // writer never waits.
        let delay = if state.last_batch > 1 {
            state.last_sync / COMMIT_DELAY_DIVISOR
        } else {
            Duration::ZERO
        };
        drop(state);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let (target, seq) = {
            let writer = lock(&self.writer);
            ((writer.segment, writer.segment_len), writer.next_seq)
        };
        let started = Instant::now();
        let result = self.storage.sync(&segment_name(target.0));
        let mut state = lock(&self.sync_state);
        state.in_progress = false;
        state.last_sync = started.elapsed();
        state.last_batch = seq - state.synced_seq;
        state.synced_seq = seq;
        match result {
            Ok(()) => state.durable = state.durable.max(target),
            Err(_) => self.fail(),
        }
        self.synced.notify_all();
        drop(state);
        result?;
        debug_assert!(target >= end, "the sync started after our append");
        Ok(())
    }

    /// Makes every write so far durable, whatever the durability mode.
    pub fn sync(&self) -> Result<()> {
        let end = {
            let writer = lock(&self.writer);
            (writer.segment, writer.segment_len)
        };
        self.sync_up_to(end)
    }
    // ANCHOR_END: sync_up_to

    // ANCHOR: scan
    /// The entries with keys in `range`, in key order. Keys and locations
    /// are taken from the index [`SCAN_CHUNK`] at a time as the iterator
    /// advances, and values read one by one: a key present for the whole
    /// scan is returned exactly once, in order; one written or deleted
    /// meanwhile may or may not be.
    pub fn scan<R>(&self, range: R) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + '_
    where
        R: RangeBounds<Vec<u8>>,
    {
        let mut start: Bound<Vec<u8>> = range.start_bound().cloned();
        let end: Bound<Vec<u8>> = range.end_bound().cloned();
        let mut chunk: std::vec::IntoIter<(Vec<u8>, Location)> = Vec::new().into_iter();
        let mut exhausted = false;
        std::iter::from_fn(move || {
            loop {
                if let Some((key, location)) = chunk.next() {
                    match self.read_current(&key, location) {
                        Ok(Some(value)) => return Some(Ok((key, value))),
                        Ok(None) => continue,
                        Err(error) => return Some(Err(error)),
                    }
                }
                let bounds = (start.as_ref(), end.as_ref());
                if exhausted || is_empty_range(bounds) {
                    // `AvlMap::range` panics on an empty range, as
                    // `BTreeMap::range` does; for a store it is simply empty.
                    return None;
                }
                let next: Vec<(Vec<u8>, Location)> = {
                    let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
                    let bytes = (bounds.0.map(Vec::as_slice), bounds.1.map(Vec::as_slice));
                    index
                        .range::<[u8], _>(bytes)
                        .take(SCAN_CHUNK)
                        .map(|(k, l)| (k.as_bytes().to_vec(), *l))
                        .collect()
                };
                exhausted = next.len() < SCAN_CHUNK;
                match next.last() {
                    Some((last, _)) => start = Bound::Excluded(last.clone()),
                    None => return None,
                }
                chunk = next.into_iter();
            }
        })
    }
    // ANCHOR_END: scan

    // ANCHOR: compact_start
    /// Rewrites the sealed segments (all but the active one) into one,
    /// keeping only the records the index points to, and removes the rest.
    /// Readers and writers continue meanwhile, except for a short pause
    /// while the new segment replaces the oldest one.
    ///
    /// Crash-safe at every step (invariant 5): the new segment is written
    /// under a temporary name and synced, then renamed over the *oldest*
    /// sealed segment, and only then are the others removed, oldest first,
    /// each removal made durable before the next. Replaying any state in
    /// between gives the same index, because every surviving old segment is
    /// newer than the compacted one and is replayed after it.
    pub fn compact(&self) -> Result<()> {
        let _compacting = lock(&self.compacting);
        if self.failed.load(Ordering::Acquire) {
            return Err(Error::Failed);
        }
        let active = lock(&self.writer).segment;
        let mut sealed: Vec<u32> = self
            .storage
            .list()?
            .iter()
            .filter_map(|name| parse_segment(name))
            .filter(|&segment| segment < active)
            .collect();
        sealed.sort_unstable();
        let Some(&oldest) = sealed.first() else {
            return Ok(());
        };
        // The live records, and the end of the log at that moment. Records
        // that superseded the ones dropped here may not be durable yet; the
        // sync below makes them so before anything is dropped, or a crash
        // could lose both the old value and the new one.
        let (live, end) = {
            let writer = lock(&self.writer);
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            let live: Vec<(Vec<u8>, Location)> = index
                .iter()
                .filter(|(_, location)| sealed.contains(&location.segment))
                .map(|(key, location)| (key.as_bytes().to_vec(), *location))
                .collect();
            (live, (writer.segment, writer.segment_len))
        };
        self.sync_up_to(end)?;
        let mut old_bytes = 0;
        for &segment in &sealed {
            old_bytes += self.storage.len(&segment_name(segment))?;
        }
        // ANCHOR_END: compact_start

        // ANCHOR: compact_write
        // Write the survivors under a temporary name, sealed and synced.
        let temp = format!("{oldest:010}{COMPACTING_SUFFIX}");
        if self.storage.list()?.contains(&temp) {
            self.storage.remove(&temp)?;
        }
        let mut moved = Vec::with_capacity(live.len());
        let mut entries = Vec::with_capacity(live.len());
        let mut max_seq = 0;
        let mut offset = 0u64;
        self.storage.append(&temp, &[])?;
        for (key, location) in live {
            let name = segment_name(location.segment);
            let mut bytes = vec![0; location.len as usize];
            self.storage.read_at(&name, location.offset, &mut bytes)?;
            let record = record::decode(&bytes, self.options.limits()).map_err(|reason| {
                Error::Corruption {
                    segment: name.clone(),
                    offset: location.offset,
                    reason,
                }
            })?;
            if record.key != key.as_slice() || !record.kind.is_put() {
                return Err(Error::Mismatch {
                    segment: name,
                    offset: location.offset,
                });
            }
            // A batch member becomes a lone put: its batch committed long ago.
            let rewritten = Record {
                kind: Kind::Put,
                ..record
            }
            .encode();
            self.storage.append(&temp, &rewritten)?;
            max_seq = max_seq.max(record.seq);
            entries.push(hint::Entry {
                key: key.clone(),
                offset,
                len: location.len,
            });
            let new = Location {
                segment: oldest,
                offset,
                len: location.len,
            };
            offset += rewritten.len() as u64;
            moved.push((key, location, new));
        }
        let seal = Record {
            seq: 0,
            kind: Kind::Seal,
            key: &[],
            value: &offset.to_le_bytes(),
        }
        .encode();
        self.storage.append(&temp, &seal)?;
        let new_bytes = offset + seal.len() as u64;
        self.storage.sync(&temp)?;
        let hint_temp = format!("{}{COMPACTING_SUFFIX}", hint::hint_name(oldest));
        if self.storage.list()?.contains(&hint_temp) {
            self.storage.remove(&hint_temp)?;
        }
        let hint = Hint {
            seal_offset: offset,
            max_seq,
            entries,
        };
        self.storage.append(&hint_temp, &hint.encode())?;
        self.storage.sync(&hint_temp)?;
        // ANCHOR_END: compact_write

        // ANCHOR: compact_swap
        // Swap it in, and point the index at it, while no reader can
        // follow an old location into the new file. A segment's old hint
        // goes first, its new one last, so a hint never describes another
        // version of its segment (a crash in between leaves no hint, and
        // open reads the segment instead).
        let hint_file = hint::hint_name(oldest);
        {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            if self.storage.list()?.contains(&hint_file) {
                self.storage.remove(&hint_file)?;
                self.storage.sync_dir()?;
            }
            self.storage.rename(&temp, &segment_name(oldest))?;
            // The file under the index has changed: follow it at once.
            for (key, old, new) in moved {
                if index.get(key.as_slice()) == Some(&old) {
                    index.insert(Key::from(key), new);
                }
            }
        }
        // ANCHOR_END: compact_swap
        // ANCHOR: compact_finish
        // Make the swap durable, then the hint, then remove the rest, oldest
        // first (see above), each durably. A failure here leaves files the
        // in-memory state no longer describes exactly: stop writes, and let
        // a reopen (which handles every intermediate state) sort it out.
        let finish = || -> Result<()> {
            self.storage.sync_dir()?;
            self.storage.rename(&hint_temp, &hint_file)?;
            self.storage.sync_dir()?;
            let names = self.storage.list()?;
            for &segment in &sealed[1..] {
                self.storage.remove(&segment_name(segment))?;
                if names.contains(&hint::hint_name(segment)) {
                    self.storage.remove(&hint::hint_name(segment))?;
                }
                self.storage.sync_dir()?;
            }
            Ok(())
        };
        finish().inspect_err(|_| self.fail())?;
        let mut stats = lock(&self.stats);
        debug_assert!(
            stats.dead_bytes >= old_bytes - new_bytes,
            "only dead bytes go"
        );
        stats.dead_bytes = stats.dead_bytes.saturating_sub(old_bytes - new_bytes);
        stats.segments -= (sealed.len() - 1) as u64;
        Ok(())
    }
    // ANCHOR_END: compact_finish

    /// Number of live keys.
    pub fn len(&self) -> usize {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the store holds no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` is present (from the index alone, no disk read).
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.location(key).is_some()
    }

    // ANCHOR: keys_at
    /// Up to `count` keys in key order starting at rank `cursor` (the
    /// number of smaller keys), and the cursor to continue from: 0 once the
    /// end is reached. O(log n + count), through the index's ranks.
    pub fn keys_at(&self, cursor: usize, count: usize) -> (Vec<Vec<u8>>, usize) {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        let keys: Vec<Vec<u8>> = index
            .keys()
            .skip(cursor)
            .take(count)
            .map(|key| key.as_bytes().to_vec())
            .collect();
        let next = cursor + keys.len();
        (keys, if next >= index.len() { 0 } else { next })
    }
    // ANCHOR_END: keys_at

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

// ANCHOR: load_hint
/// Indexes a sealed `segment` from its hint file, if the hint is intact and
/// matches the segment (its seal where the hint says); `false` otherwise,
/// and then nothing has been applied.
fn load_hint<S: Storage>(
    storage: &S,
    segment: u32,
    options: Options,
    replay: &mut Replay,
) -> Result<bool> {
    let name = hint::hint_name(segment);
    let mut bytes = vec![0; storage.len(&name)? as usize];
    storage.read_at(&name, 0, &mut bytes)?;
    let Some(hint) = Hint::decode(&bytes, options.key_len_max) else {
        return Ok(false);
    };
    let segment_len = storage.len(&segment_name(segment))?;
    let Some(seal_len) = segment_len.checked_sub(hint.seal_offset) else {
        return Ok(false);
    };
    let mut seal = vec![0; seal_len as usize];
    storage.read_at(&segment_name(segment), hint.seal_offset, &mut seal)?;
    match record::decode(&seal, options.limits()) {
        Ok(record)
            if record.kind == Kind::Seal
                && record.encoded_len() == seal.len()
                && record.value == hint.seal_offset.to_le_bytes() => {}
        _ => return Ok(false),
    }
    // Every entry must lie before the seal; a hint that says otherwise is
    // not used at all.
    let fits = |entry: &hint::Entry| {
        entry
            .offset
            .checked_add(u64::from(entry.len))
            .is_some_and(|end| end <= hint.seal_offset)
    };
    if !hint.entries.iter().all(fits) {
        return Ok(false);
    }
    let mut live = 0;
    for entry in hint.entries {
        let location = Location {
            segment,
            offset: entry.offset,
            len: entry.len,
        };
        live += u64::from(entry.len);
        replay.apply(Key::from(entry.key), Some(location));
    }
    replay.stats.dead_bytes += segment_len.saturating_sub(live);
    replay.stats.recovered_bytes += segment_len;
    replay.next_seq = replay.next_seq.max(hint.max_seq + 1);
    Ok(true)
}
// ANCHOR_END: load_hint

/// Replays one segment into `replay` and returns its length after any
/// truncation, and whether it ends with a seal.
fn replay_segment<S: Storage>(
    storage: &S,
    segment: u32,
    newest: bool,
    options: Options,
    replay: &mut Replay,
) -> Result<(u64, bool)> {
    let name = segment_name(segment);
    let len = storage.len(&name)?;
    let mut bytes = vec![0; len as usize];
    storage.read_at(&name, 0, &mut bytes)?;
    let mut offset = 0usize;
    // A batch's records wait here until its commit.
    // Batch records since `pending_start` (contiguous up to `offset`): the
    // key, where a put lives, and the record's length.
    let mut pending: Vec<(Key, Option<Location>, usize)> = Vec::new();
    let mut pending_seq = None;
    let mut pending_start = 0usize;
    let mut sealed = false;
    let valid_end = loop {
        if offset == bytes.len() {
            break offset;
        }
        if sealed {
            // The writer never appends after a seal.
            return Err(Error::Corruption {
                segment: name,
                offset: offset as u64,
                reason: DecodeError::Malformed {
                    kind: Kind::Seal as u8,
                },
            });
        }
        // ANCHOR: replay_torn
        let record = match record::decode(&bytes[offset..], options.limits()) {
            Ok(record) => record,
            Err(reason) => {
                let reaches_end = match reason {
                    DecodeError::Truncated { .. } => true,
                    DecodeError::Checksum { .. } => {
                        // The last record, damaged: a torn write.
                        record::claimed_len(&bytes[offset..]) == Some(bytes.len() - offset)
                    }
                    _ => false,
                };
                // A torn write is the last write: nothing whole follows it.
                // A record that decodes further on means a damaged length
                // field made this one look longer, so it is corruption, and
                // cutting here would drop acknowledged writes.
                let torn = reaches_end
                    && !(offset + 1..bytes.len())
                        .any(|at| record::decode(&bytes[at..], options.limits()).is_ok());
                if newest && torn {
                    break offset;
                }
                if options.repair {
                    let resume = (offset + 1..bytes.len())
                        .find(|&at| record::decode(&bytes[at..], options.limits()).is_ok());
                    let Some(resume) = resume.or((!newest).then_some(bytes.len())) else {
                        // Nothing valid follows in the newest segment: cut it.
                        break offset;
                    };
                    replay.stats.repairs += 1;
                    replay.stats.skipped_bytes += (resume - offset) as u64;
                    replay.stats.dead_bytes += (resume - offset) as u64;
                    // A batch cut by the damage is dropped whole.
                    if pending_seq.take().is_some() {
                        replay.stats.dead_bytes += (offset - pending_start) as u64;
                        pending.clear();
                    }
                    offset = resume;
                    continue;
                }
                return Err(Error::Corruption {
                    segment: name,
                    offset: offset as u64,
                    reason,
                });
            } // ANCHOR_END: replay_torn
        };
        let len = record.encoded_len();
        let location = Location {
            segment,
            offset: offset as u64,
            len: len as u32,
        };
        replay.next_seq = replay.next_seq.max(record.seq + 1);
        if pending_seq.is_some_and(|seq| seq != record.seq) {
            // A batch without its commit, followed by more records: the
            // writer never leaves one behind except at a crash, so this is
            // damage, not a torn tail.
            return Err(Error::Corruption {
                segment: name,
                offset: offset as u64,
                reason: DecodeError::Malformed {
                    kind: record.kind as u8,
                },
            });
        }
        // ANCHOR: replay_kinds
        match record.kind {
            Kind::Put => replay.apply(Key::from(record.key), Some(location)),
            Kind::Delete => {
                replay.stats.dead_bytes += len as u64;
                replay.apply(Key::from(record.key), None);
            }
            Kind::BatchPut | Kind::BatchDelete => {
                if pending_seq.is_none() {
                    pending_start = offset;
                }
                pending_seq = Some(record.seq);
                let location = record.kind.is_put().then_some(location);
                pending.push((Key::from(record.key), location, len));
            }
            Kind::Seal => {
                if record.value != (offset as u64).to_le_bytes() {
                    return Err(Error::Corruption {
                        segment: name,
                        offset: offset as u64,
                        reason: DecodeError::Malformed {
                            kind: Kind::Seal as u8,
                        },
                    });
                }
                replay.stats.dead_bytes += len as u64;
                sealed = true;
            }
            Kind::Commit => {
                replay.stats.dead_bytes += len as u64;
                for (key, location, record_len) in std::mem::take(&mut pending) {
                    if location.is_none() {
                        replay.stats.dead_bytes += record_len as u64;
                    }
                    replay.apply(key, location);
                }
                pending_seq = None;
            }
        }
        // ANCHOR_END: replay_kinds
        offset += len;
    };
    // ANCHOR: replay_end
    // An uncommitted batch at the end is cut off with the torn tail.
    let valid_end = if pending_seq.is_some() && !newest && options.repair {
        replay.stats.repairs += 1;
        replay.stats.dead_bytes += (valid_end - pending_start) as u64;
        valid_end
    } else if pending_seq.is_some() {
        if !newest {
            return Err(Error::Corruption {
                segment: name,
                offset: pending_start as u64,
                reason: DecodeError::Truncated {
                    needed: 0,
                    available: valid_end - pending_start,
                },
            });
        }
        pending_start
    } else {
        valid_end
    };
    if !newest && !sealed && options.repair {
        replay.stats.repairs += 1;
    } else if !newest && !sealed {
        return Err(Error::MissingSeal {
            segment: name,
            len: valid_end as u64,
        });
    }
    replay.stats.recovered_bytes += valid_end as u64;
    if valid_end < bytes.len() {
        replay.stats.truncated_bytes += (bytes.len() - valid_end) as u64;
        storage.truncate(&name, valid_end as u64)?;
        storage.sync(&name)?;
    }
    Ok((valid_end as u64, sealed))
    // ANCHOR_END: replay_end
}

/// Whether `bounds` start after they end (or are one excluded point).
fn is_empty_range((start, end): (Bound<&Vec<u8>>, Bound<&Vec<u8>>)) -> bool {
    match (start, end) {
        (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => s > e,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engines chapter's memory estimate: one index node per key.
    #[test]
    fn an_index_node_takes_64_bytes() {
        assert_eq!(AvlMap::<Key, Location>::NODE_BYTES, 64);
    }
}
