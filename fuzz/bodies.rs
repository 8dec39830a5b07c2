//! What the fuzz targets check, shared with the stable test
//! `crates/kv/tests/fuzz_bodies.rs`, which runs them on seeded inputs in CI.
//! Each function must never panic, whatever `data` is; an `assert!` that
//! fails is a bug the fuzzer found.

use kv::record::{HEADER_LEN, Limits, claimed_len, decode};
use kv::{Durability, Options, SimDisk, Storage, Store};

const LIMITS: Limits = Limits {
    key_len_max: 1 << 12,
    value_len_max: 1 << 16,
};

/// Decodes `data` as a segment, record after record, skipping one byte past
/// anything that is not a record (as repair does). Every record that decodes
/// re-encodes to exactly the bytes it came from.
pub(crate) fn decode_records(data: &[u8]) {
    let mut at = 0;
    while at < data.len() {
        match decode(&data[at..], LIMITS) {
            Ok(record) => {
                let len = record.encoded_len();
                assert!(len >= HEADER_LEN && at + len <= data.len());
                assert_eq!(claimed_len(&data[at..]), Some(len));
                assert_eq!(record.encode(), &data[at..at + len], "re-encoding at {at}");
                at += len;
            }
            Err(_) => at += 1,
        }
    }
}

/// Opens a store whose directory holds `data` as one or two segment files.
/// The first byte picks the options (bit 0: repair) and whether to split the
/// rest in two (bit 1) at the offset in the next two bytes. Opening either
/// fails with a typed error or gives a store whose scan and gets agree,
/// that accepts a write, and that shows the write after reopening.
pub(crate) fn open_segments(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let disk = SimDisk::new();
    let files: Vec<&[u8]> = if flags & 2 != 0 && rest.len() >= 2 {
        let (at, rest) = rest.split_at(2);
        let at = usize::from(u16::from_le_bytes([at[0], at[1]])) % (rest.len() + 1);
        let (first, second) = rest.split_at(at);
        vec![first, second]
    } else {
        vec![rest]
    };
    for (i, bytes) in files.iter().enumerate() {
        let name = format!("{i:010}.seg");
        disk.append(&name, bytes).expect("SimDisk append");
        disk.sync(&name).expect("SimDisk sync");
    }
    disk.sync_dir().expect("SimDisk sync_dir");
    let options = Options {
        durability: Durability::Always,
        segment_size_bytes: 1 << 20,
        key_len_max: LIMITS.key_len_max,
        value_len_max: LIMITS.value_len_max,
        repair: flags & 1 != 0,
        ..Options::default()
    };
    let Ok(store) = Store::open(disk.clone(), options) else {
        return;
    };
    let entries: Vec<_> = store.scan(..).collect();
    assert_eq!(entries.len(), store.len(), "scan visits every key");
    for entry in entries {
        let (key, value) = entry.expect("a store that opened reads its own records");
        assert_eq!(store.get(&key).expect("get"), Some(value));
    }
    store
        .put(b"fuzz", b"written")
        .expect("a store that opened accepts a write");
    drop(store);
    let store = Store::open(disk, options).expect("reopening after a clean close");
    assert_eq!(store.get(b"fuzz").expect("get"), Some(b"written".to_vec()));
}
