//! Recovery: open replays the segments (or their hint files) in order and
//! rebuilds the index (invariant 4), cutting a torn tail off the newest
//! segment.

use std::sync::atomic::AtomicBool;
use std::sync::{Condvar, Mutex, RwLock};
use std::time::Duration;

use avl::AvlMap;

use super::{
    COMPACTING_SUFFIX, Location, Options, Stats, Store, SyncState, Writer, parse_segment,
    segment_name,
};
use crate::error::{Error, Result};
use crate::hint::{self, Hint};
use crate::key::Key;
use crate::record::{self, DecodeError, Kind};
use crate::storage::Storage;

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
        // BEGIN LAB kv-recovery
        // STUB: AvlMap::new()
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
        // END LAB
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
}

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
    // BEGIN LAB kv-recovery
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
    // END LAB
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
    let mut pending_seq: Option<u64> = None;
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
                // BEGIN LAB kv-recovery
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
                // END LAB
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
        // BEGIN LAB kv-recovery
        // STUB: let _ = (&record, &location, len);
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
        // END LAB
        // ANCHOR_END: replay_kinds
        offset += len;
    };
    // ANCHOR: replay_end
    // BEGIN LAB kv-recovery
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
    // END LAB
    // ANCHOR_END: replay_end
}
