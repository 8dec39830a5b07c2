//! The corruption sweep: on a small store, flip every bit of every segment
//! and cut every segment at every offset, one damage at a time. Opening and
//! reading must give the right value or a typed error: never a wrong value,
//! never a panic. A key may go missing only when recovery reports that it
//! cut a torn tail (`Stats::truncated_bytes`), since a damaged last record
//! cannot be told apart from a torn write, or when the newest segment is cut
//! exactly at a record boundary, which looks like a crash before those
//! writes were made (the limit of per-record checksums: older segments end
//! with a seal, the newest cannot).

use std::collections::BTreeMap;

use kv::{Durability, Options, SimDisk, Storage, Store, WriteBatch};

fn options() -> Options {
    Options {
        durability: Durability::Always,
        segment_size_bytes: 160,
        key_len_max: 16,
        value_len_max: 64,
        repair: false,
        ..Options::default()
    }
}

/// A store with overwrites, a delete and a batch across three segments, and
/// the values it must hold.
fn small_store() -> (SimDisk, BTreeMap<Vec<u8>, Vec<u8>>) {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options()).unwrap();
    let mut model = BTreeMap::new();
    for (k, v) in [
        ("a", "apple"),
        ("b", "banana"),
        ("c", "cherry"),
        ("a", "apricot"),
    ] {
        store.put(k.as_bytes(), v.as_bytes()).unwrap();
        model.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    store.delete(b"b").unwrap();
    model.remove(b"b".as_slice());
    let mut batch = WriteBatch::new();
    batch
        .put(b"d".to_vec(), b"date".to_vec())
        .put(b"e".to_vec(), b"elderberry".to_vec());
    store.write_batch(batch).unwrap();
    model.insert(b"d".to_vec(), b"date".to_vec());
    model.insert(b"e".to_vec(), b"elderberry".to_vec());
    assert!(
        disk.list().unwrap().len() >= 2,
        "the sweep should cover several segments"
    );
    (disk, model)
}

/// Opens `disk` and checks every key against `model`; returns whether the
/// store opened. `may_lose` allows missing keys without a reported cut.
fn check(disk: SimDisk, model: &BTreeMap<Vec<u8>, Vec<u8>>, what: &str, may_lose: bool) -> bool {
    let Ok(store) = Store::open(disk, options()) else {
        return false; // a typed error: acceptable
    };
    let truncated = may_lose || store.stats().truncated_bytes > 0;
    for (key, value) in model {
        match store.get(key) {
            Ok(Some(got)) => assert_eq!(&got, value, "{what}: wrong value for {key:?}"),
            Ok(None) => assert!(
                truncated,
                "{what}: {key:?} lost without a reported truncation"
            ),
            Err(_) => {}
        }
    }
    // Entries that read back must be right; errors are allowed.
    for (key, value) in store.scan(..).flatten() {
        assert_eq!(
            model.get(&key),
            Some(&value),
            "{what}: scan returned {key:?}"
        );
    }
    true
}

#[test]
fn every_flipped_bit_gives_the_right_value_or_an_error() {
    let (disk, model) = small_store();
    let mut opened = 0;
    let mut cases = 0;
    for segment in disk.list().unwrap() {
        let len = disk.len(&segment).unwrap();
        for offset in 0..len {
            for bit in 0..8 {
                let damaged = disk.fork();
                damaged.flip_bit(&segment, offset, bit).unwrap();
                let what = format!("{segment} byte {offset} bit {bit}");
                opened += usize::from(check(damaged, &model, &what, false));
                cases += 1;
            }
        }
    }
    assert!(cases > 1000, "{cases} cases");
    assert!(
        opened > 0,
        "some damage (in a torn-looking tail) still opens"
    );
}

#[test]
fn every_truncation_gives_the_right_value_or_an_error() {
    let (disk, model) = small_store();
    let segments = disk.list().unwrap();
    let newest = segments.last().unwrap().clone();
    let mut refused = 0;
    for segment in &segments {
        let len = disk.len(segment).unwrap();
        for cut in 0..len {
            let damaged = disk.fork();
            damaged.truncate(segment, cut).unwrap();
            let what = format!("{segment} cut at {cut}");
            let opened = check(damaged, &model, &what, *segment == newest);
            refused += usize::from(!opened);
        }
    }
    assert!(refused > 0, "cuts into sealed segments are refused");
}

/// With `repair`, every single flipped bit still opens; values are right,
/// absent, or an error (a key whose newest record was skipped may read as
/// an older value it really had), and the damage is reported.
#[test]
fn repair_opens_every_damaged_store_and_reports_it() {
    let (disk, model) = small_store();
    let repair = Options {
        repair: true,
        ..options()
    };
    // Every value each key ever had in `small_store`.
    let history: BTreeMap<&[u8], Vec<&[u8]>> = BTreeMap::from([
        (b"a".as_slice(), vec![b"apple".as_slice(), b"apricot"]),
        (b"b", vec![b"banana"]),
        (b"c", vec![b"cherry"]),
        (b"d", vec![b"date"]),
        (b"e", vec![b"elderberry"]),
    ]);
    let mut repaired = 0;
    for segment in disk.list().unwrap() {
        let len = disk.len(&segment).unwrap();
        for offset in 0..len {
            let damaged = disk.fork();
            damaged.flip_bit(&segment, offset, 3).unwrap();
            let what = format!("{segment} byte {offset}");
            let store = Store::open(damaged, repair).unwrap_or_else(|e| panic!("{what}: {e}"));
            let stats = store.stats();
            repaired += usize::from(stats.repairs > 0);
            for key in model.keys().chain([&b"b".to_vec()]) {
                if let Ok(Some(value)) = store.get(key) {
                    assert!(
                        history[key.as_slice()].contains(&value.as_slice()),
                        "{what}: {key:?} = {value:?}, never written"
                    );
                }
            }
        }
    }
    assert!(repaired > 0, "repair was needed somewhere");
}
