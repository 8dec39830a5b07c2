// ANCHOR: format
//! Hint files: the index of a compacted segment, so that opening the store
//! need not read the segment itself.
//!
//! ```text
//! "SHNT" | version u32 | seal_offset u64 | max_seq u64 | count u64
//! count × ( key_len u32 | offset u64 | len u32 | key )
//! crc32c of everything above, u32
//! ```
//!
//! All integers little-endian. A hint is only trusted if its checksum
//! matches and its segment ends with a seal at `seal_offset`; otherwise the
//! store replays the segment instead. Reads still verify every record's own
//! checksum and key, so even a forged hint cannot produce a wrong value.
// ANCHOR_END: format

const MAGIC: &[u8; 4] = b"SHNT";
const VERSION: u32 = 1;

/// The name of the hint file of `segment`.
pub(crate) fn hint_name(segment: u32) -> String {
    format!("{segment:010}.hint")
}

/// One live record of the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: Vec<u8>,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

/// A decoded hint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    /// Offset of the segment's seal record.
    pub(crate) seal_offset: u64,
    /// Largest sequence number in the segment.
    pub(crate) max_seq: u64,
    pub(crate) entries: Vec<Entry>,
}

impl Hint {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.seal_offset.to_le_bytes());
        out.extend_from_slice(&self.max_seq.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for entry in &self.entries {
            let key_len = u32::try_from(entry.key.len()).expect("keys fit the record format");
            out.extend_from_slice(&key_len.to_le_bytes());
            out.extend_from_slice(&entry.offset.to_le_bytes());
            out.extend_from_slice(&entry.len.to_le_bytes());
            out.extend_from_slice(&entry.key);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// The hint in `bytes`, or `None` if it is damaged, of another version,
    /// or claims keys longer than `key_len_max`.
    pub(crate) fn decode(bytes: &[u8], key_len_max: u32) -> Option<Hint> {
        let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
        if crc32c::crc32c(body) != u32::from_le_bytes(crc.try_into().ok()?) {
            return None;
        }
        let mut reader = Reader(body);
        if reader.take(4)? != MAGIC || reader.u32()? != VERSION {
            return None;
        }
        let seal_offset = reader.u64()?;
        let max_seq = reader.u64()?;
        let count = reader.u64()?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let key_len = reader.u32()?;
            if key_len > key_len_max {
                return None;
            }
            let offset = reader.u64()?;
            let len = reader.u32()?;
            let key = reader.take(key_len as usize)?.to_vec();
            entries.push(Entry { key, offset, len });
        }
        reader.0.is_empty().then_some(Hint {
            seal_offset,
            max_seq,
            entries,
        })
    }
}

/// Reads integers off the front of a slice; `None` past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_damage_rejected() {
        let hint = Hint {
            seal_offset: 1234,
            max_seq: 99,
            entries: vec![
                Entry {
                    key: b"apple".to_vec(),
                    offset: 0,
                    len: 40,
                },
                Entry {
                    key: Vec::new(),
                    offset: 40,
                    len: 21,
                },
            ],
        };
        let bytes = hint.encode();
        assert_eq!(Hint::decode(&bytes, 16), Some(hint));
        assert_eq!(Hint::decode(&bytes, 4), None, "key longer than the limit");
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x10;
            assert_eq!(Hint::decode(&damaged, 16), None, "flip at {i}");
            assert_eq!(Hint::decode(&bytes[..i], 16), None, "cut at {i}");
        }
    }
}
