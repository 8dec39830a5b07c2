//! Grades the lab `kv-record`: `Record::encode_into` and `record::decode`,
//! the on-disk framing of one write (the record chapter's format table and
//! its invariants 1–3).
//!
//! Nothing here goes through the store: records are encoded, decoded, cut
//! and damaged directly, and judged against the format table, golden bytes
//! and the CRC-32C of the `crc32c` crate.

use kv::record::{self, DecodeError, HEADER_LEN, Kind, Limits, Record};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

const LIMITS: Limits = Limits {
    key_len_max: 64,
    value_len_max: 256,
};

const KINDS: [Kind; 6] = [
    Kind::Put,
    Kind::Delete,
    Kind::Commit,
    Kind::Seal,
    Kind::BatchPut,
    Kind::BatchDelete,
];

/// The key and value bytes of a random record that obeys invariant 3.
fn random_parts(rng: &mut ChaCha8Rng) -> (u64, Kind, Vec<u8>, Vec<u8>) {
    let kind = KINDS[rng.random_range(0..KINDS.len())];
    let seq = rng.random::<u64>();
    let random_bytes = |rng: &mut ChaCha8Rng, max: usize| -> Vec<u8> {
        let len = rng.random_range(0..=max);
        (0..len).map(|_| rng.random::<u8>()).collect()
    };
    let key = match kind {
        Kind::Commit | Kind::Seal => Vec::new(),
        _ => random_bytes(rng, LIMITS.key_len_max as usize),
    };
    let value = match kind {
        Kind::Put | Kind::BatchPut => random_bytes(rng, LIMITS.value_len_max as usize),
        Kind::Seal => rng.random::<u64>().to_le_bytes().to_vec(),
        _ => Vec::new(),
    };
    (seq, kind, key, value)
}

// The exact bytes of two records, as the format table lays them out.
#[test]
fn golden_bytes() {
    let put = Record {
        seq: 7,
        kind: Kind::Put,
        key: b"k",
        value: b"v",
    };
    assert_eq!(
        put.encode(),
        [
            83, 237, 80, 90, // crc
            1, 0, 0, 0, // key_len
            1, 0, 0, 0, // value_len
            7, 0, 0, 0, 0, 0, 0, 0,   // seq
            1,   // kind
            107, // key
            118, // value
        ]
    );
    let delete = Record {
        seq: 0x0102_0304_0506_0708,
        kind: Kind::BatchDelete,
        key: b"key",
        value: b"",
    };
    assert_eq!(
        delete.encode(),
        [
            104, 33, 92, 172, // crc
            3, 0, 0, 0, // key_len
            0, 0, 0, 0, // value_len
            8, 7, 6, 5, 4, 3, 2, 1,    // seq
            0x82, // kind
            107, 101, 121, // key
        ]
    );
}

// Every field sits where the format table says, and the checksum is the
// CRC-32C of everything after it.
#[test]
fn layout_matches_the_format_table() {
    strata_lab::for_each_seed(64, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (seq, kind, key, value) = random_parts(&mut rng);
        let bytes = Record {
            seq,
            kind,
            key: &key,
            value: &value,
        }
        .encode();
        let total = HEADER_LEN + key.len() + value.len();
        assert_eq!(bytes.len(), total, "seed {seed}: length");
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(0), crc32c::crc32c(&bytes[4..]), "seed {seed}: crc");
        assert_eq!(u32_at(4) as usize, key.len(), "seed {seed}: key_len");
        assert_eq!(u32_at(8) as usize, value.len(), "seed {seed}: value_len");
        assert_eq!(bytes[12..20], seq.to_le_bytes(), "seed {seed}: seq");
        assert_eq!(bytes[20], kind as u8, "seed {seed}: kind");
        assert_eq!(bytes[21..21 + key.len()], key[..], "seed {seed}: key");
        assert_eq!(bytes[21 + key.len()..], value[..], "seed {seed}: value");
    });
}

// decode(encode(r)) == r; encode_into appends after what the buffer holds,
// and decode reads only the first of several records.
#[test]
fn round_trip() {
    strata_lab::for_each_seed(64, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut buffer = vec![0xAB; rng.random_range(0..8)];
        let prefix = buffer.len();
        let mut parts = Vec::new();
        for _ in 0..3 {
            let (seq, kind, key, value) = random_parts(&mut rng);
            Record {
                seq,
                kind,
                key: &key,
                value: &value,
            }
            .encode_into(&mut buffer);
            parts.push((seq, kind, key, value));
        }
        assert!(
            buffer[..prefix].iter().all(|&b| b == 0xAB),
            "seed {seed}: encode_into overwrote the buffer"
        );
        let mut at = prefix;
        for (seq, kind, key, value) in &parts {
            let record = record::decode(&buffer[at..], LIMITS)
                .unwrap_or_else(|e| panic!("seed {seed}: decoding at {at}: {e}"));
            let expected = Record {
                seq: *seq,
                kind: *kind,
                key,
                value,
            };
            assert_eq!(record, expected, "seed {seed}: record at {at}");
            assert_eq!(record.encoded_len(), expected.encoded_len());
            at += record.encoded_len();
        }
        assert_eq!(at, buffer.len(), "seed {seed}: the records fill the buffer");
    });
}

// Every cut of a record reads as Truncated, needing the header first and
// then the whole record (a torn write at the end of the log looks like this).
#[test]
fn every_prefix_is_truncated() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (seq, kind, key, value) = random_parts(&mut rng);
        let bytes = Record {
            seq,
            kind,
            key: &key,
            value: &value,
        }
        .encode();
        for cut in 0..bytes.len() {
            let needed = if cut < HEADER_LEN {
                HEADER_LEN
            } else {
                bytes.len()
            };
            assert_eq!(
                record::decode(&bytes[..cut], LIMITS),
                Err(DecodeError::Truncated {
                    needed,
                    available: cut
                }),
                "seed {seed}: the first {cut} of {} bytes",
                bytes.len()
            );
        }
    });
}

// A flipped bit anywhere but in the length fields is a checksum mismatch
// (invariant 2); in a length field it is an error of some kind, never a
// record.
#[test]
fn every_flipped_bit_is_caught() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (seq, kind, key, value) = random_parts(&mut rng);
        let bytes = Record {
            seq,
            kind,
            key: &key,
            value: &value,
        }
        .encode();
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                let outcome = record::decode(&damaged, LIMITS);
                if (4..12).contains(&at) {
                    assert!(
                        outcome.is_err(),
                        "seed {seed}: byte {at} bit {bit}: {outcome:?}"
                    );
                } else {
                    assert!(
                        matches!(outcome, Err(DecodeError::Checksum { .. })),
                        "seed {seed}: byte {at} bit {bit}: {outcome:?}"
                    );
                }
            }
        }
    });
}

// Lengths beyond the limits are refused before the decoder reads (or
// allocates) that far: a header alone is enough to say TooLong.
#[test]
fn limits_are_checked_before_the_lengths_are_trusted() {
    let key = vec![b'k'; LIMITS.key_len_max as usize];
    let value = vec![b'v'; LIMITS.value_len_max as usize];
    let at_limit = Record {
        seq: 1,
        kind: Kind::Put,
        key: &key,
        value: &value,
    }
    .encode();
    assert!(
        record::decode(&at_limit, LIMITS).is_ok(),
        "a record at the limits decodes"
    );
    let tighter = Limits {
        key_len_max: LIMITS.key_len_max - 1,
        ..LIMITS
    };
    assert_eq!(
        record::decode(&at_limit, tighter),
        Err(DecodeError::TooLong {
            key_len: LIMITS.key_len_max,
            value_len: LIMITS.value_len_max
        })
    );
    let tighter = Limits {
        value_len_max: LIMITS.value_len_max - 1,
        ..LIMITS
    };
    assert!(matches!(
        record::decode(&at_limit, tighter),
        Err(DecodeError::TooLong { .. })
    ));
    // A header that claims 4 GiB of value, and nothing after it.
    let mut header = Record {
        seq: 1,
        kind: Kind::Put,
        key: b"",
        value: b"",
    }
    .encode();
    header[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        record::decode(&header, LIMITS),
        Err(DecodeError::TooLong {
            key_len: 0,
            value_len: u32::MAX
        })
    );
}
