//! Grades the lab `kv-recovery`: rebuilding the index at open (replaying
//! segments, cutting a torn tail, batches all or nothing, using hints) and
//! compaction.
//!
//! The store is driven on a `SimDisk` with small segments, crashed, damaged
//! and reopened; what it serves is compared with a `BTreeMap` model of the
//! acknowledged writes, and `Store::check_invariants()` (which reads the log
//! itself) checks the index and the byte accounting (invariants 1, 2, 6, 7).

use std::collections::BTreeMap;

use kv::{Crash, Durability, Error, Options, SimDisk, Storage, Store, WriteBatch};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(durability: Durability) -> Options {
    Options {
        durability,
        segment_size_bytes: 200,
        key_len_max: 16,
        value_len_max: 64,
        repair: false,
        ..Options::default()
    }
}

fn contents(store: &Store<impl Storage>) -> Model {
    store.scan(..).map(Result::unwrap).collect()
}

/// Applies `steps` random writes (puts, deletes, batches) to `store` and
/// `model`; returns the model after each acknowledged write, oldest first.
fn random_writes(
    rng: &mut ChaCha8Rng,
    store: &Store<impl Storage>,
    model: &mut Model,
    steps: usize,
) -> Vec<Model> {
    let mut states = vec![model.clone()];
    for _ in 0..steps {
        let key = vec![b'k', rng.random_range(0..20u8)];
        match rng.random_range(0..10) {
            0..=5 => {
                let value = vec![rng.random::<u8>(); rng.random_range(0..20)];
                store.put(&key, &value).unwrap();
                model.insert(key, value);
            }
            6 | 7 => {
                assert_eq!(store.delete(&key).unwrap(), model.remove(&key).is_some());
            }
            _ => {
                let mut batch = WriteBatch::new();
                for i in 0..rng.random_range(1..4u8) {
                    let key = vec![b'b', rng.random_range(0..10u8)];
                    if rng.random_bool(0.3) {
                        batch.delete(key.clone());
                        model.remove(&key);
                    } else {
                        batch.put(key.clone(), vec![i; 3]);
                        model.insert(key, vec![i; 3]);
                    }
                }
                store.write_batch(batch).unwrap();
            }
        }
        states.push(model.clone());
    }
    states
}

// A store closed cleanly reopens with the same contents and the same
// accounting: keys, live and dead bytes, segments.
#[test]
fn reopen_rebuilds_the_index() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let disk = SimDisk::new();
        let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
        let mut model = Model::new();
        random_writes(&mut rng, &store, &mut model, 120);
        let before = store.stats();
        drop(store);
        let store = Store::open(disk.clone(), options(Durability::Always))
            .unwrap_or_else(|e| panic!("seed {seed}: reopen: {e}"));
        assert_eq!(
            contents(&store),
            model,
            "seed {seed}: contents after reopen"
        );
        let after = store.stats();
        assert_eq!(
            (
                after.keys,
                after.live_bytes,
                after.dead_bytes,
                after.segments
            ),
            (
                before.keys,
                before.live_bytes,
                before.dead_bytes,
                before.segments
            ),
            "seed {seed}: (keys, live_bytes, dead_bytes, segments) before and after reopen"
        );
        assert_eq!(after.truncated_bytes, 0, "seed {seed}: nothing was torn");
        store
            .check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        // The reopened store goes on where the old one stopped.
        random_writes(&mut rng, &store, &mut model, 20);
        drop(store);
        let store = Store::open(disk, options(Durability::Always)).unwrap();
        assert_eq!(
            contents(&store),
            model,
            "seed {seed}: contents after a second reopen"
        );
    });
}

// A power loss keeps some prefix of the writes: recovery serves exactly the
// state after one of them (a batch all or nothing), cuts the torn tail, and
// the log stays writable.
#[test]
fn a_crash_keeps_a_prefix_of_the_writes() {
    strata_lab::for_each_seed(32, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let disk = SimDisk::new();
        let store = Store::open(disk.clone(), options(Durability::Never)).unwrap();
        let mut model = Model::new();
        let states = random_writes(&mut rng, &store, &mut model, 60);
        drop(store);
        disk.crash(Crash::Torn { seed });
        let store = Store::open(disk.clone(), options(Durability::Never))
            .unwrap_or_else(|e| panic!("seed {seed}: open after a crash: {e}"));
        let recovered = contents(&store);
        assert!(
            states.contains(&recovered),
            "seed {seed}: the recovered contents are no prefix of the writes: {recovered:?}"
        );
        store
            .check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        store.put(b"after", b"crash").unwrap();
        store.sync().unwrap();
        drop(store);
        let store = Store::open(disk, options(Durability::Never)).unwrap();
        let mut expected = recovered;
        expected.insert(b"after".to_vec(), b"crash".to_vec());
        assert_eq!(
            contents(&store),
            expected,
            "seed {seed}: writes after recovery"
        );
    });
}

// A batch whose commit record never reached the disk is cut off whole, and
// the cut is reported.
#[test]
fn an_uncommitted_batch_at_the_end_is_cut() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
    store.put(b"a", b"1").unwrap();
    let segment = disk
        .list()
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .max()
        .unwrap();
    let before_batch = disk.len(&segment).unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put(b"b".to_vec(), b"2".to_vec())
        .delete(b"a".to_vec());
    store.write_batch(batch).unwrap();
    drop(store);
    // The commit record has no key and no value: the last HEADER_LEN bytes.
    let len = disk.len(&segment).unwrap();
    disk.truncate(&segment, len - kv::record::HEADER_LEN as u64)
        .unwrap();

    let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(b"b").unwrap(), None);
    assert_eq!(
        store.stats().truncated_bytes,
        len - kv::record::HEADER_LEN as u64 - before_batch,
        "the batch's records are reported as truncated"
    );
    assert_eq!(
        disk.len(&segment).unwrap(),
        before_batch,
        "and cut from the file"
    );
    store.check_invariants().unwrap();
}

// Damage with intact records after it is not a torn tail: open refuses
// with Error::Corruption naming the segment and the damaged record's offset.
#[test]
fn damage_before_intact_records_is_corruption() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let disk = SimDisk::new();
        let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
        let mut model = Model::new();
        random_writes(&mut rng, &store, &mut model, 40);
        drop(store);
        // Pick a record that is not the last of the newest segment, by
        // walking a segment's records with the (already written) decoder.
        let segments: Vec<String> = disk
            .list()
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".seg"))
            .collect();
        let segment = &segments[rng.random_range(0..segments.len())];
        let bytes = disk.contents(segment).unwrap();
        let limits = kv::record::Limits {
            key_len_max: 16,
            value_len_max: 64,
        };
        let mut starts = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            starts.push(at);
            at += kv::record::decode(&bytes[at..], limits)
                .unwrap()
                .encoded_len();
        }
        if starts.len() < 2 {
            return;
        }
        let victim = starts[rng.random_range(0..starts.len() - 1)];
        // A bit of the seq field: the checksum fails, the length holds.
        disk.flip_bit(segment, (victim + 12) as u64, rng.random_range(0..8))
            .unwrap();
        match Store::open(disk, options(Durability::Always)) {
            Err(Error::Corruption {
                segment: name,
                offset,
                ..
            }) => {
                assert_eq!((&name, offset), (segment, victim as u64), "seed {seed}");
            }
            Err(other) => panic!("seed {seed}: expected Corruption, got {other}"),
            Ok(_) => panic!("seed {seed}: opened a store damaged at {segment}:{victim}"),
        }
    });
}

// Compaction keeps the contents, leaves one sealed segment beside the
// active one, drops the dead bytes, and its hint lets the next open skip
// reading the compacted segment.
#[test]
fn compaction_keeps_the_contents_and_frees_space() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let disk = SimDisk::new();
        let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
        let mut model = Model::new();
        random_writes(&mut rng, &store, &mut model, 150);
        let before = store.stats();
        assert!(before.segments >= 3, "seed {seed}: {before:?}");
        store
            .compact()
            .unwrap_or_else(|e| panic!("seed {seed}: compact: {e}"));
        let after = store.stats();
        assert_eq!(
            contents(&store),
            model,
            "seed {seed}: contents after compaction"
        );
        assert_eq!(after.segments, 2, "seed {seed}: segments after compaction");
        assert_eq!(
            after.live_bytes, before.live_bytes,
            "seed {seed}: live bytes"
        );
        assert!(
            after.dead_bytes < before.dead_bytes,
            "seed {seed}: {before:?} -> {after:?}"
        );
        store
            .check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: after compaction: {e}"));
        random_writes(&mut rng, &store, &mut model, 10);
        let stats = store.stats();
        drop(store);
        let store = Store::open(disk, options(Durability::Always)).unwrap();
        assert_eq!(
            contents(&store),
            model,
            "seed {seed}: contents after reopen"
        );
        assert_eq!(
            store.stats().segments_from_hints,
            1,
            "seed {seed}: the hint was used"
        );
        let reopened = store.stats();
        assert_eq!(
            (
                reopened.keys,
                reopened.live_bytes,
                reopened.dead_bytes,
                reopened.segments
            ),
            (
                stats.keys,
                stats.live_bytes,
                stats.dead_bytes,
                stats.segments
            ),
            "seed {seed}: accounting after reopen"
        );
        store
            .check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed}: after reopen: {e}"));
    });
}
