//! Reads: point look-ups, scans in key order and key listings. A reader
//! holds the index's read lock only to copy locations out, never during I/O.

use std::ops::{Bound, RangeBounds};
use std::sync::PoisonError;

use super::{Location, Store, segment_name};
use crate::error::{Error, Result};
use crate::record;
use crate::storage::Storage;

/// Index entries a [`Store::scan`] takes per read lock.
pub const SCAN_CHUNK: usize = 128;

/// A put record read back from its location by [`Store::read_record`],
/// decoded and checked against the key the index filed it under.
pub(super) struct ReadRecord {
    /// The record, exactly its encoded length.
    bytes: Vec<u8>,
    /// Its sequence number.
    pub(super) seq: u64,
    /// Where its value starts in `bytes`.
    value_start: usize,
}

impl ReadRecord {
    /// The record's value.
    pub(super) fn value(&self) -> &[u8] {
        &self.bytes[self.value_start..]
    }

    /// The record's length on disk.
    pub(super) fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// The value, without a copy: the value is the record's tail, so keep
    /// the buffer and drop the front.
    pub(super) fn into_value(mut self) -> Vec<u8> {
        self.bytes.drain(..self.value_start);
        self.bytes
    }
}

impl<S: Storage> Store<S> {
    // ANCHOR: get
    /// The value of `key`, read from its record on disk.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.location(key) {
            Some(location) => self.read_current(key, location),
            None => Ok(None),
        }
    }

    pub(super) fn location(&self, key: &[u8]) -> Option<Location> {
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index.get(key).copied()
    }

    /// Reads `key`'s value from `location`; if that fails because compaction
    /// moved the record meanwhile (the index now says elsewhere), follows
    /// the index. `None` if the key was deleted meanwhile.
    fn read_current(&self, key: &[u8], mut location: Location) -> Result<Option<Vec<u8>>> {
        loop {
            match self.read_record(key, location).map(ReadRecord::into_value) {
                Ok(value) => return Ok(Some(value)),
                Err(error) => match self.location(key) {
                    None => return Ok(None),
                    Some(now) if now != location => location = now,
                    Some(_) => return Err(error),
                },
            }
        }
    }

    /// Reads the record at `location` and checks that it is what the index
    /// says: it decodes (checksum, framing, limits), carries `key`, and is a
    /// put. The one way the store reads a record back by its location: get,
    /// scan, compaction's copy and [`Store::check_invariants`] all come
    /// through here, so none of them can return or copy bytes that fail a
    /// check.
    pub(super) fn read_record(&self, key: &[u8], location: Location) -> Result<ReadRecord> {
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
        let (seq, value_start, len) = (
            record.seq,
            record.encoded_len() - record.value.len(),
            record.encoded_len(),
        );
        bytes.truncate(len);
        Ok(ReadRecord {
            bytes,
            seq,
            value_start,
        })
    }
    // ANCHOR_END: get

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
}

/// Whether `bounds` start after they end (or are one excluded point).
fn is_empty_range((start, end): (Bound<&Vec<u8>>, Bound<&Vec<u8>>)) -> bool {
    match (start, end) {
        (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => s > e,
        _ => false,
    }
}
