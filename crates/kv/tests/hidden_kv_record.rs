//! Hidden grading tests of the lab `kv-record`: records whose checksum
//! matches but whose kind or lengths break invariant 3, and the checksum
//! error's fields.

use kv::record::{self, DecodeError, HEADER_LEN, Kind, Limits, Record};

const LIMITS: Limits = Limits {
    key_len_max: 64,
    value_len_max: 256,
};

/// Raw record bytes with a correct checksum, whatever the fields say.
fn forged(kind: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0; 4];
    bytes.extend_from_slice(&(key.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&9u64.to_le_bytes());
    bytes.push(kind);
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(value);
    let crc = crc32c::crc32c(&bytes[4..]);
    bytes[..4].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(bytes.len(), HEADER_LEN + key.len() + value.len());
    bytes
}

// A matching checksum is not enough: the kind must exist and the lengths
// must fit it (invariant 3).
#[test]
fn malformed_records_with_a_valid_checksum() {
    let bad = [
        (0u8, &b"k"[..], &b"v"[..]),
        (5, b"k", b"v"),
        (0x80, b"k", b""),
        (0x83, b"", b""),
        (Kind::Delete as u8, b"k", b"v"),
        (Kind::BatchDelete as u8, b"k", b"v"),
        (Kind::Commit as u8, b"k", b""),
        (Kind::Commit as u8, b"", b"v"),
        (Kind::Seal as u8, b"", b"1234567"),
        (Kind::Seal as u8, b"k", b"12345678"),
    ];
    for (kind, key, value) in bad {
        assert_eq!(
            record::decode(&forged(kind, key, value), LIMITS),
            Err(DecodeError::Malformed { kind }),
            "kind {kind:#x}, key {key:?}, value {value:?}"
        );
    }
    let good = [
        (Kind::Put, &b"k"[..], &b"v"[..]),
        (Kind::Put, b"", b""),
        (Kind::Delete, b"k", b""),
        (Kind::Commit, b"", b""),
        (Kind::Seal, b"", b"12345678"),
        (Kind::BatchPut, b"k", b"v"),
        (Kind::BatchDelete, b"k", b""),
    ];
    for (kind, key, value) in good {
        let bytes = forged(kind as u8, key, value);
        let record = record::decode(&bytes, LIMITS).unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(
            (record.seq, record.kind, record.key, record.value),
            (9, kind, key, value)
        );
    }
}

// The checksum error reports the stored and the computed checksum.
#[test]
fn checksum_error_reports_both_checksums() {
    let bytes = Record {
        seq: 3,
        kind: Kind::Put,
        key: b"apple",
        value: b"red",
    }
    .encode();
    let stored = u32::from_le_bytes(bytes[..4].try_into().unwrap());
    let mut damaged = bytes.clone();
    damaged[HEADER_LEN] ^= 0x20; // 'a' -> 'A'
    assert_eq!(
        record::decode(&damaged, LIMITS),
        Err(DecodeError::Checksum {
            stored,
            computed: crc32c::crc32c(&damaged[4..])
        })
    );
    // Bytes after the record are not the record's business.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"trailing garbage");
    assert_eq!(record::decode(&longer, LIMITS).unwrap().value, b"red");
}
