//! Checksummed frames: the framing every small durable log of the workspace
//! shares (Raft's log, the quorum store's replicas and hints, the
//! primary-backup log), with the store's rule for telling a torn tail from
//! corruption.
//!
// ANCHOR: format
//! ```text
//! offset  size  field
//!      0     4  len          u32, little-endian: payload bytes
//!      4     4  header_crc   CRC-32C of the 4 bytes of `len`
//!      8     4  payload_crc  CRC-32C of the payload
//!     12   len  payload
//! ```
// ANCHOR_END: format
//!
// ANCHOR: rule
//! # Torn tail or corruption
//!
//! A crash can tear only the last write, and only by losing its end: the
//! file then ends inside a frame whose bytes so far are right. Some file
//! systems instead leave the lost end as zeros. [`scan`] therefore accepts
//! exactly two kinds of damage as a torn tail, to be cut off:
//!
//! 1. the file ends inside a frame's header, or inside its payload after a
//!    header whose checksum holds;
//! 2. everything from the damaged frame to the end of the file is zero.
//!
//! Any other damage is [`FrameError::Corrupt`]: a header whose checksum
//! fails while non-zero bytes follow, or a complete payload whose checksum
//! fails. A flipped bit anywhere in a complete frame is therefore always
//! reported (CRC-32C catches every burst of up to 32 bits), never mistaken
//! for a torn write and silently cut, which would drop records that were
//! synced and acknowledged. The header checksum is what makes this
//! possible for the last frame too: without it, a flipped bit in the last
//! frame's length would make it look cut short by a crash.
// ANCHOR_END: rule

use std::ops::Range;

/// Bytes before a frame's payload.
pub const HEADER_LEN: usize = 12;

/// The largest payload [`encode`] accepts and [`scan`] believes: a length
/// beyond it in a header whose checksum holds is corruption, not a reason
/// to allocate.
pub const PAYLOAD_MAX_BYTES: usize = 1 << 30;

/// Appends `payload`, framed, to `out`.
///
/// # Panics
///
/// If `payload` is longer than [`PAYLOAD_MAX_BYTES`].
pub fn encode(payload: &[u8], out: &mut Vec<u8>) {
    assert!(
        payload.len() <= PAYLOAD_MAX_BYTES,
        "a frame's payload is at most {PAYLOAD_MAX_BYTES} bytes, got {}",
        payload.len()
    );
    let len = (payload.len() as u32).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc32c::crc32c(&len).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What [`scan`] found in a file of frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Each intact frame's payload, as a range of the scanned bytes, in
    /// order.
    pub payloads: Vec<Range<usize>>,
    /// Where the intact frames end: the length to cut the file to.
    pub valid_len: usize,
}

impl Scan {
    /// Whether a torn tail follows the intact frames.
    pub fn torn(&self, file_len: usize) -> bool {
        self.valid_len != file_len
    }
}

/// Which check a damaged frame failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The header's checksum does not match its length field.
    HeaderChecksum,
    /// The header holds, but claims more than [`PAYLOAD_MAX_BYTES`].
    TooLong {
        /// The claimed payload length.
        len: u64,
    },
    /// The payload is complete but its checksum does not match.
    PayloadChecksum,
}

/// Damage that a crash cannot explain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A frame that is not the torn end of the file fails a check.
    #[error(
        "corrupt frame at byte {offset}: {damage:?}; this is not a torn write (data follows it, or it is complete), so the file was damaged after it was written: restore it from a replica or a backup"
    )]
    Corrupt {
        /// The frame's first byte.
        offset: u64,
        /// The check it failed.
        damage: Damage,
    },
}

/// Reads every intact frame of `bytes`, in order, stopping at a torn tail
/// (see the [module documentation](self)).
///
/// # Errors
///
/// [`FrameError::Corrupt`] for damage that is not a torn tail.
pub fn scan(bytes: &[u8]) -> Result<Scan, FrameError> {
    let mut payloads = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let corrupt = |damage| {
            if rest.iter().all(|&b| b == 0) {
                None // Rule 2: a zero-filled tail.
            } else {
                Some(FrameError::Corrupt {
                    offset: at as u64,
                    damage,
                })
            }
        };
        let Some(header) = rest.get(..HEADER_LEN) else {
            break; // Rule 1: the file ends inside a header.
        };
        let word = |i: usize| u32::from_le_bytes(header[i..i + 4].try_into().expect("4 bytes"));
        if crc32c::crc32c(&header[..4]) != word(4) {
            match corrupt(Damage::HeaderChecksum) {
                Some(e) => return Err(e),
                None => break,
            }
        }
        let len = word(0) as usize;
        if len > PAYLOAD_MAX_BYTES {
            let damage = Damage::TooLong { len: len as u64 };
            match corrupt(damage) {
                Some(e) => return Err(e),
                None => break,
            }
        }
        let Some(payload) = rest.get(HEADER_LEN..HEADER_LEN + len) else {
            break; // Rule 1: the file ends inside a payload.
        };
        if crc32c::crc32c(payload) != word(8) {
            match corrupt(Damage::PayloadChecksum) {
                Some(e) => return Err(e),
                None => break,
            }
        }
        payloads.push(at + HEADER_LEN..at + HEADER_LEN + len);
        at += HEADER_LEN + len;
    }
    Ok(Scan {
        payloads,
        valid_len: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode(p, &mut out);
        }
        out
    }

    fn read(bytes: &[u8]) -> Result<Vec<Vec<u8>>, FrameError> {
        let scan = scan(bytes)?;
        Ok(scan
            .payloads
            .into_iter()
            .map(|r| bytes[r].to_vec())
            .collect())
    }

    const RECORDS: [&[u8]; 3] = [b"one", b"", b"three"];

    #[test]
    fn frames_read_back_in_order() {
        let bytes = framed(&RECORDS);
        assert_eq!(read(&bytes).unwrap(), RECORDS);
        assert!(!scan(&bytes).unwrap().torn(bytes.len()));
    }

    #[test]
    fn every_prefix_is_a_torn_tail_of_whole_frames() {
        let bytes = framed(&RECORDS);
        let ends: Vec<usize> = scan(&bytes)
            .unwrap()
            .payloads
            .iter()
            .map(|r| r.end)
            .collect();
        for cut in 0..bytes.len() {
            let scan = scan(&bytes[..cut]).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(scan.payloads.len(), whole, "cut at {cut}");
            let last_end = ends
                .iter()
                .copied()
                .filter(|&e| e <= cut)
                .max()
                .unwrap_or(0);
            assert_eq!(scan.valid_len, last_end, "cut at {cut}");
        }
    }

    #[test]
    fn a_zero_filled_tail_is_torn() {
        let mut bytes = framed(&RECORDS);
        let valid = bytes.len();
        bytes.extend_from_slice(&[0; 40]);
        let scan = scan(&bytes).unwrap();
        assert_eq!(scan.valid_len, valid);
        assert_eq!(scan.payloads.len(), 3);
    }

    #[test]
    fn every_flipped_bit_of_every_frame_is_corruption() {
        let bytes = framed(&RECORDS);
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                assert!(
                    matches!(scan(&damaged), Err(FrameError::Corrupt { .. })),
                    "bit {bit} of byte {at} went unnoticed"
                );
            }
        }
    }
}
