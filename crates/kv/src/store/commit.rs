//! Writes: the writer appends records under the writer lock and applies
//! them to the index in log order; group commit makes them durable, one
//! fsync for every writer waiting (invariants 1–3).

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Durability, Location, Store, WriteBatch, Writer, lock, segment_name};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::record::{Kind, Record};
use crate::storage::Storage;

/// A leader whose last sync was shared waits this fraction of that sync's
/// duration before starting the next one. Measured on the 2-core VM of the
/// README with 8 writers and fsync'd puts: no delay gave 4.9 writes per
/// sync (the writers split into two cohorts, one appending while the other's
/// sync runs), ¼ gave 7.7 and 1.4× the throughput; ½ and 1 cost single-
/// and two-writer throughput.
const COMMIT_DELAY_DIVISOR: u32 = 4;

impl<S: Storage> Store<S> {
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

    // ANCHOR: write
    /// Logs and applies `batch`; returns whether its first key was present.
    fn write(&self, ops: &[(&[u8], Option<&[u8]>)], atomic: bool) -> Result<bool> {
        for &(key, value) in ops {
            self.options.check_sizes(key, value)?;
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
    pub(super) fn fail(&self) {
        self.failed.store(true, Ordering::Release);
    }
    // ANCHOR_END: fail

    // ANCHOR: sync_up_to
    /// Waits until everything up to `end` is durable, syncing if no other
    /// writer is (group commit: one sync covers every write before it).
    pub(super) fn sync_up_to(&self, end: (u32, u64)) -> Result<()> {
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
            self.options.clock.sleep(delay);
        }
        let (target, seq) = {
            let writer = lock(&self.writer);
            ((writer.segment, writer.segment_len), writer.next_seq)
        };
        let started = self.options.clock.now();
        let result = self.storage.sync(&segment_name(target.0));
        let mut state = lock(&self.sync_state);
        state.in_progress = false;
        state.last_sync = self.options.clock.now().saturating_sub(started);
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
}
