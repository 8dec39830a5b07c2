//! The on-disk record: how one write is framed in a segment.
//!
// ANCHOR: format
//! ```text
//! offset  size  field
//!      0     4  crc        CRC-32C (Castagnoli) of bytes 4.. of the record
//!      4     4  key_len    u32, little-endian
//!      8     4  value_len  u32, little-endian
//!     12     8  seq        u64, little-endian: the write's sequence number
//!     20     1  kind       1 = put, 2 = delete, 3 = batch commit,
//!                          4 = seal (last record of a full segment);
//!                          0x81 / 0x82 = put / delete inside a batch
//!     21     …  key        key_len bytes
//!      …     …  value      value_len bytes (empty for delete and commit)
//! ```
// ANCHOR_END: format
//!
// ANCHOR: invariants
//! # Invariants
//!
//! 1. **Framing.** A segment is a sequence of records, each exactly
//!    [`HEADER_LEN`] + `key_len` + `value_len` bytes long, with no gaps.
//! 2. **Checksum.** The checksum covers every byte of the record after
//!    itself, lengths and kind included. A CRC-32C detects every error burst
//!    of up to 32 bits, so a flipped bit in the checksum, seq, kind, key or
//!    value is always caught. A flip in a length field moves the end of the
//!    checksummed range instead; then the record reads as truncated, too
//!    long, or fails the checksum except with probability 2⁻³².
//! 3. **Kinds.** Only puts carry a value, and a seal, whose value is its
//!    own offset (8 bytes, little-endian); commits and seals carry no key.
//!    Puts and deletes inside a batch have bit 7 of the kind set, so that
//!    recovery can tell a lone write (which takes effect by itself) from a
//!    batch member (which waits for its commit).
//!
//! [`decode`] checks all three and never allocates more than the limits it
//! is given, whatever the length fields claim. Deliberately not checked here:
//! that sequence numbers increase, or that a batch's records are followed by
//! its commit. Those are properties of a whole log, checked by recovery.
// ANCHOR_END: invariants

use std::fmt;

/// Bytes before the key: crc, key_len, value_len, seq, kind.
pub const HEADER_LEN: usize = 4 + 4 + 4 + 8 + 1;

// ANCHOR: kind
/// What a record does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Sets a key to a value.
    Put = 1,
    /// Removes a key.
    Delete = 2,
    /// Ends a batch: the batch records before it with the same `seq` take
    /// effect together, or not at all.
    Commit = 3,
    /// Closes a full segment: its value is its own offset, so recovery can
    /// tell a complete segment from one cut at a record boundary.
    Seal = 4,
    /// Sets a key to a value, as part of a batch.
    BatchPut = 0x81,
    /// Removes a key, as part of a batch.
    BatchDelete = 0x82,
}
// ANCHOR_END: kind

impl Kind {
    fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Put),
            2 => Some(Kind::Delete),
            3 => Some(Kind::Commit),
            4 => Some(Kind::Seal),
            0x81 => Some(Kind::BatchPut),
            0x82 => Some(Kind::BatchDelete),
            _ => None,
        }
    }

    /// Whether this kind sets a key to a value (a put, in a batch or not).
    pub fn is_put(self) -> bool {
        matches!(self, Kind::Put | Kind::BatchPut)
    }

    /// Whether this is a put or delete inside a batch.
    pub fn in_batch(self) -> bool {
        matches!(self, Kind::BatchPut | Kind::BatchDelete)
    }
}

/// A decoded record, borrowing its key and value from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Sequence number of the write (a batch shares one).
    pub seq: u64,
    /// What the record does.
    pub kind: Kind,
    /// The key (empty for a commit).
    pub key: &'a [u8],
    /// The value (empty unless `kind` is a put).
    pub value: &'a [u8],
}

impl Record<'_> {
    /// Length of the record on disk.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.key.len() + self.value.len()
    }

    // ANCHOR: encode
    /// Appends the framed record to `out`.
    ///
    /// # Panics
    ///
    /// If the key or value is longer than `u32::MAX` bytes, or if a delete or
    /// commit carries a value, or a commit a key (invariant 3). The store
    /// checks its own, smaller limits before it gets here.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        // BEGIN LAB kv-record
        let key_len = u32::try_from(self.key.len()).expect("key longer than u32::MAX bytes");
        let value_len = u32::try_from(self.value.len()).expect("value longer than u32::MAX bytes");
        assert!(
            self.kind.is_put() || self.kind == Kind::Seal || self.value.is_empty(),
            "only a put or a seal carries a value"
        );
        assert!(
            !matches!(self.kind, Kind::Commit | Kind::Seal) || self.key.is_empty(),
            "a commit or seal carries no key"
        );
        assert!(
            self.kind != Kind::Seal || self.value.len() == 8,
            "a seal's value is its 8-byte offset"
        );
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(&value_len.to_le_bytes());
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.push(self.kind as u8);
        out.extend_from_slice(self.key);
        out.extend_from_slice(self.value);
        let crc = crc32c::crc32c(&out[start + 4..]);
        out[start..start + 4].copy_from_slice(&crc.to_le_bytes());
        // END LAB
    }
    // ANCHOR_END: encode

    /// The framed record as a new vector.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }
}

/// Upper bounds that [`decode`] enforces before trusting a length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest key accepted, in bytes.
    pub key_len_max: u32,
    /// Longest value accepted, in bytes.
    pub value_len_max: u32,
}

// ANCHOR: decode_error
/// Why bytes are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends inside the record: `needed` bytes are required and
    /// only `available` remain. At the tail of the newest segment this is
    /// what a torn write looks like.
    Truncated {
        /// Bytes the record needs (the header's, if the header is cut).
        needed: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// A length field exceeds the limits: the header is corrupt (or the
    /// store was written with larger limits than it is opened with).
    TooLong {
        /// The key length the header claims.
        key_len: u32,
        /// The value length the header claims.
        value_len: u32,
    },
    /// The stored checksum does not match the record's bytes.
    Checksum {
        /// Checksum stored in the record.
        stored: u32,
        /// Checksum of the bytes as read.
        computed: u32,
    },
    /// The kind byte is not a [`Kind`], or the lengths do not fit the kind
    /// (invariant 3), although the checksum matched.
    Malformed {
        /// The kind byte.
        kind: u8,
    },
}
// ANCHOR_END: decode_error

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed, available } => write!(
                f,
                "record truncated: needs {needed} bytes, {available} remain"
            ),
            DecodeError::TooLong { key_len, value_len } => write!(
                f,
                "record header claims a {key_len}-byte key and a {value_len}-byte value, \
                 beyond the configured limits"
            ),
            DecodeError::Checksum { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            DecodeError::Malformed { kind } => {
                write!(
                    f,
                    "checksum matches but kind {kind} and lengths are invalid"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The length of the record whose header starts `bytes`, as its length
/// fields claim (unchecked), or `None` if the header is incomplete.
pub fn claimed_len(bytes: &[u8]) -> Option<usize> {
    (bytes.len() >= HEADER_LEN)
        .then(|| HEADER_LEN + u32_at(bytes, 4) as usize + u32_at(bytes, 8) as usize)
}

// ANCHOR: decode
/// Decodes the record at the start of `bytes`; the record's length is
/// [`Record::encoded_len`]. Checks invariants 1–3 and the limits.
pub fn decode(bytes: &[u8], limits: Limits) -> Result<Record<'_>, DecodeError> {
    // BEGIN LAB kv-record
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: HEADER_LEN,
            available: bytes.len(),
        });
    }
    let key_len = u32_at(bytes, 4);
    let value_len = u32_at(bytes, 8);
    if key_len > limits.key_len_max || value_len > limits.value_len_max {
        return Err(DecodeError::TooLong { key_len, value_len });
    }
    let total = HEADER_LEN + key_len as usize + value_len as usize;
    if bytes.len() < total {
        return Err(DecodeError::Truncated {
            needed: total,
            available: bytes.len(),
        });
    }
    let stored = u32_at(bytes, 0);
    let computed = crc32c::crc32c(&bytes[4..total]);
    if stored != computed {
        return Err(DecodeError::Checksum { stored, computed });
    }
    let kind_byte = bytes[20];
    let kind = Kind::from_byte(kind_byte).ok_or(DecodeError::Malformed { kind: kind_byte })?;
    let fits = match kind {
        Kind::Put | Kind::BatchPut => true,
        Kind::Delete | Kind::BatchDelete => value_len == 0,
        Kind::Commit => key_len == 0 && value_len == 0,
        Kind::Seal => key_len == 0 && value_len == 8,
    };
    if !fits {
        return Err(DecodeError::Malformed { kind: kind_byte });
    }
    let key_end = HEADER_LEN + key_len as usize;
    Ok(Record {
        seq: u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes")),
        kind,
        key: &bytes[HEADER_LEN..key_end],
        value: &bytes[key_end..total],
    })
    // END LAB
}
// ANCHOR_END: decode
