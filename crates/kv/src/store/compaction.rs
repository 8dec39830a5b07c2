//! Compaction: the sealed segments rewritten into one that replaces the
//! oldest, with a hint file (invariants 5 and 6).

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::{COMPACTING_SUFFIX, Location, Store, lock, parse_segment, segment_name};
use crate::error::{Error, Result};
use crate::hint::{self, Hint};
use crate::key::Key;
use crate::record::{Kind, Record};
use crate::storage::Storage;

impl<S: Storage> Store<S> {
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
        // BEGIN LAB kv-recovery
        // STUB: strata_lab::todo!("kv-recovery", self);
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
        // END LAB
        // ANCHOR_END: compact_start

        // ANCHOR: compact_write
        // BEGIN LAB kv-recovery
        // STUB: strata_lab::todo!("kv-recovery", self);
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
            let found = self.read_record(&key, location)?;
            // A batch member becomes a lone put: its batch committed long ago.
            let rewritten = Record {
                seq: found.seq,
                kind: Kind::Put,
                key: &key,
                value: found.value(),
            }
            .encode();
            self.storage.append(&temp, &rewritten)?;
            max_seq = max_seq.max(found.seq);
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
        // END LAB
        // ANCHOR_END: compact_write

        // ANCHOR: compact_swap
        // BEGIN LAB kv-recovery
        // STUB: strata_lab::todo!("kv-recovery", self);
        // A segment's old hint goes first, its new one last, so a hint never
        // describes another version of its segment (a crash in between
        // leaves no hint, and open reads the segment instead). Only open
        // reads hints, so the removal and its directory sync need no lock:
        // no fsync runs under the index's write lock.
        let hint_file = hint::hint_name(oldest);
        if self.storage.list()?.contains(&hint_file) {
            self.storage.remove(&hint_file)?;
            self.storage.sync_dir()?;
        }
        // Swap the new segment in, and point the index at it, while no
        // reader can follow an old location into the new file.
        {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            self.storage.rename(&temp, &segment_name(oldest))?;
            // The file under the index has changed: follow it at once.
            for (key, old, new) in moved {
                if index.get(key.as_slice()) == Some(&old) {
                    index.insert(Key::from(key), new);
                }
            }
        }
        // END LAB
        // ANCHOR_END: compact_swap
        // ANCHOR: compact_finish
        // BEGIN LAB kv-recovery
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
        // END LAB
    }
    // ANCHOR_END: compact_finish
}
