//! Checkpoints: every live key and value at one sequence number, as bytes a
//! backup can keep, and a store restored from them.
//!
//! ```text
//! "SCKP" | version u32 | seq u64 | count u64
//! count × ( key_len u32 | value_len u32 | key | value )     keys strictly increasing
//! crc32c of everything above, u32
//! ```
//!
//! All integers little-endian. A checkpoint is consistent because records
//! are never changed in place: the locations copied from the index at one
//! moment keep naming the values of that moment for as long as compaction
//! does not run, and the checkpoint holds the compaction lock while it
//! reads them.

use std::sync::PoisonError;

use super::{Location, Options, Store, lock, parse_segment, segment_name};
use crate::error::{Error, Result};
use crate::record::{Kind, Record};
use crate::storage::Storage;

const MAGIC: &[u8; 4] = b"SCKP";
const VERSION: u32 = 1;
/// Bytes of the header before the entries: magic, version, seq, count.
const HEADER_LEN: usize = 4 + 4 + 8 + 8;
/// Bytes [`Store::restore`] appends at a time.
const RESTORE_CHUNK_BYTES: usize = 1 << 20;

/// Every live key and its value at one sequence number; see
/// [`Store::checkpoint`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The newest sequence number whose write is included: the checkpoint
    /// holds exactly the writes numbered up to it.
    pub seq: u64,
    /// The live keys and their values, in strictly increasing key order.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Why bytes are not a checkpoint ([`Checkpoint::decode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Too short for the header and checksum, or an entry runs past the end.
    #[error("checkpoint cut short: {len} bytes (copy the whole file)")]
    Truncated {
        /// Length of the bytes.
        len: usize,
    },
    /// The checksum does not match: the bytes were damaged.
    #[error(
        "checkpoint checksum mismatch: stored {stored:#010x}, computed {computed:#010x} (the file is damaged: use another copy)"
    )]
    Checksum {
        /// Checksum in the bytes.
        stored: u32,
        /// Checksum of the bytes.
        computed: u32,
    },
    /// Not a checkpoint, or one of a version this build cannot read.
    #[error("not a checkpoint of version {VERSION} (magic or version {version} differ)")]
    Format {
        /// The version field, if the magic matched.
        version: u32,
    },
    /// Entry `index` does not sort strictly after the one before it.
    #[error("checkpoint entry {index} is out of key order")]
    Order {
        /// The entry.
        index: usize,
    },
    /// Bytes follow the last entry.
    #[error("checkpoint has {extra} bytes after its last entry")]
    Trailing {
        /// How many.
        extra: usize,
    },
}

impl Checkpoint {
    /// The checkpoint as bytes (the format in the module documentation).
    ///
    /// # Panics
    ///
    /// If a key or value is longer than `u32::MAX` bytes (no store holds one).
    pub fn encode(&self) -> Vec<u8> {
        let entry_bytes: usize = self
            .entries
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum();
        let mut out = Vec::with_capacity(HEADER_LEN + entry_bytes + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (key, value) in &self.entries {
            let key_len = u32::try_from(key.len()).expect("key longer than u32::MAX bytes");
            let value_len = u32::try_from(value.len()).expect("value longer than u32::MAX bytes");
            out.extend_from_slice(&key_len.to_le_bytes());
            out.extend_from_slice(&value_len.to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// The checkpoint in `bytes`. The checksum is checked before any length
    /// field is trusted, and no allocation is larger than `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let truncated = CheckpointError::Truncated { len: bytes.len() };
        let body_len = bytes.len().checked_sub(4).ok_or(truncated)?;
        let (body, crc) = bytes.split_at(body_len);
        let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(body);
        if stored != computed {
            return Err(CheckpointError::Checksum { stored, computed });
        }
        let mut rest = body;
        let mut take = |n: usize| -> Result<&[u8], CheckpointError> {
            let (head, tail) = rest.split_at_checked(n).ok_or(truncated)?;
            rest = tail;
            Ok(head)
        };
        let magic = take(4)?;
        let version = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
        if magic != MAGIC || version != VERSION {
            return Err(CheckpointError::Format { version });
        }
        let seq = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let count = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes"));
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for index in 0..count as usize {
            let key_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
            let value_len = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
            let key = take(key_len as usize)?.to_vec();
            let value = take(value_len as usize)?.to_vec();
            if entries.last().is_some_and(|(last, _)| *last >= key) {
                return Err(CheckpointError::Order { index });
            }
            entries.push((key, value));
        }
        if !rest.is_empty() {
            return Err(CheckpointError::Trailing { extra: rest.len() });
        }
        Ok(Checkpoint { seq, entries })
    }
}

impl<S: Storage> Store<S> {
    /// Every live key and value as of one sequence number: the writes
    /// numbered up to [`Checkpoint::seq`] and none after, batches whole.
    ///
    /// Writers wait only while the index's keys and locations are copied
    /// (no I/O); the values are then read with no lock a writer or reader
    /// needs. Compaction waits for the whole checkpoint, since it would move
    /// the records being read. Unlike [`Store::scan`], which takes the index
    /// a chunk at a time and may see writes made meanwhile, the result is
    /// one state the store was in.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let _compacting = lock(&self.compacting);
        let (seq, locations) = {
            let writer = lock(&self.writer);
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            let locations: Vec<(Vec<u8>, Location)> = index
                .iter()
                .map(|(key, location)| (key.as_bytes().to_vec(), *location))
                .collect();
            // Every write numbered below `next_seq` is applied to the index,
            // under the writer lock held here, and none after it.
            (writer.next_seq - 1, locations)
        };
        let mut entries = Vec::with_capacity(locations.len());
        for (key, location) in locations {
            let value = self.read_record(&key, location)?.into_value();
            entries.push((key, value));
        }
        Ok(Checkpoint { seq, entries })
    }

    /// A store in `storage` holding exactly `checkpoint`, whose next write
    /// is numbered after [`Checkpoint::seq`]. All or nothing: the entries
    /// are written as one batch in the first segment (which may therefore
    /// be larger than [`Options::segment_size_bytes`]) and take effect with
    /// its commit, so after a crash during the restore the storage opens as
    /// an empty store (clear it to restore again).
    ///
    /// # Panics
    ///
    /// If `checkpoint.seq` is `u64::MAX`, which leaves no number for the
    /// next write.
    ///
    /// # Errors
    ///
    /// [`Error::NotEmpty`] if `storage` already holds a segment;
    /// [`Error::KeyTooLarge`] / [`Error::ValueTooLarge`] if an entry
    /// exceeds `options`' limits; and whatever [`Store::open`] returns.
    pub fn restore(storage: S, checkpoint: &Checkpoint, options: Options) -> Result<Self> {
        assert!(
            checkpoint.seq < u64::MAX,
            "no sequence number after the checkpoint"
        );
        if let Some(name) = storage
            .list()?
            .into_iter()
            .find(|n| parse_segment(n).is_some())
        {
            return Err(Error::NotEmpty { file: name });
        }
        for (key, value) in &checkpoint.entries {
            options.check_sizes(key, Some(value))?;
        }
        let name = segment_name(1);
        storage.append(&name, &[])?;
        let mut bytes = Vec::new();
        let records = checkpoint.entries.iter().map(|(key, value)| Record {
            seq: checkpoint.seq,
            kind: Kind::BatchPut,
            key,
            value,
        });
        let commit = Record {
            seq: checkpoint.seq,
            kind: Kind::Commit,
            key: &[],
            value: &[],
        };
        for record in records.chain([commit]) {
            record.encode_into(&mut bytes);
            if bytes.len() >= RESTORE_CHUNK_BYTES {
                storage.append(&name, &bytes)?;
                bytes.clear();
            }
        }
        storage.append(&name, &bytes)?;
        storage.sync(&name)?;
        storage.sync_dir()?;
        Store::open(storage, options)
    }
}
