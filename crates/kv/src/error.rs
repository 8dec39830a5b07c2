//! The store's error type.

use std::io;

use crate::record::DecodeError;

// ANCHOR: error
/// Everything that can go wrong in a [`crate::Store`] operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage failed. After a failed append or sync the store refuses
    /// further writes ([`Error::Failed`]): a failed append may have left part
    /// of a record behind, and after a failed sync the kernel may have
    /// dropped the unsynced pages, so a retry could report success for lost
    /// data.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// Bytes on disk are not what the store wrote: a record fails its
    /// checksum or framing somewhere other than the torn tail of the newest
    /// segment. The store never returns a value from such bytes.
    #[error(
        "corrupt data in segment {segment} at offset {offset}: {reason} \
         (restore the directory from a replica or backup)"
    )]
    Corruption {
        /// The segment file.
        segment: String,
        /// Offset of the damaged record in it.
        offset: u64,
        /// What the decoder found.
        reason: DecodeError,
    },
    /// A segment other than the newest ends without its seal record: it was
    /// cut short (at a record boundary, or records would fail to decode).
    #[error(
        "segment {segment} ends at byte {len} without its seal: it was truncated \
         (restore the directory from a replica or backup)"
    )]
    MissingSeal {
        /// The segment file.
        segment: String,
        /// Its length.
        len: u64,
    },
    /// A record read back for a key holds a different key: the index and
    /// the log disagree, which only corruption can cause.
    #[error("segment {segment} at offset {offset} holds another key than the index says")]
    Mismatch {
        /// The segment file.
        segment: String,
        /// Offset of the record.
        offset: u64,
    },
    /// A key longer than [`crate::Options::key_len_max`].
    #[error("key of {len} bytes is longer than the limit of {max} (Options::key_len_max)")]
    KeyTooLarge {
        /// Length of the key.
        len: usize,
        /// The configured limit.
        max: u32,
    },
    /// A value longer than [`crate::Options::value_len_max`].
    #[error("value of {len} bytes is longer than the limit of {max} (Options::value_len_max)")]
    ValueTooLarge {
        /// Length of the value.
        len: usize,
        /// The configured limit.
        max: u32,
    },
    /// Another store has the directory open.
    #[error("{} is in use by another store: close it first", dir.display())]
    Locked {
        /// The directory.
        dir: std::path::PathBuf,
    },
    /// [`crate::Store::restore`] was given a storage that already holds a
    /// store.
    #[error("{file} exists: restore a checkpoint into an empty directory")]
    NotEmpty {
        /// A segment file found there.
        file: String,
    },
    /// An earlier append or sync failed; reopen the store to recover what
    /// is durable.
    #[error("an earlier write to disk failed, so the store accepts no more writes: reopen it")]
    Failed,
}
// ANCHOR_END: error

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
