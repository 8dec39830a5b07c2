//! Recovery and bad input, one scenario each: torn batches, damage in the
//! middle of the log, damage under a key, and oversized keys and values.

mod support;

use std::collections::BTreeMap;

use kv::{Crash, Durability, Error, Options, SimDisk, Storage, Store, WriteBatch};
use support::{Call, Hooked, Then, dies_after};

fn options(durability: Durability) -> Options {
    Options {
        durability,
        segment_size_bytes: 1 << 20,
        key_len_max: 16,
        value_len_max: 64,
        repair: false,
        ..Options::default()
    }
}

fn contents(store: &Store<SimDisk>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    store.scan(..).map(Result::unwrap).collect()
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn a_torn_batch_is_all_or_nothing_and_the_log_stays_writable() {
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let disk = SimDisk::new();
        let store = Store::open(disk.clone(), options(Durability::Never)).unwrap();
        store.put(b"a", b"1").unwrap();
        let mut batch = WriteBatch::new();
        batch
            .put(b"b".to_vec(), b"2".to_vec())
            .put(b"c".to_vec(), b"3".to_vec());
        store.write_batch(batch).unwrap();
        drop(store);
        disk.crash(Crash::Torn { seed });

        let store = Store::open(disk.clone(), options(Durability::Never)).unwrap();
        let recovered = contents(&store);
        let allowed = [
            map(&[]),
            map(&[("a", "1")]),
            map(&[("a", "1"), ("b", "2"), ("c", "3")]),
        ];
        assert!(allowed.contains(&recovered), "seed {seed}: {recovered:?}");
        outcomes.insert(recovered.len());

        // Whatever was cut, new writes must follow it cleanly.
        store.put(b"d", b"4").unwrap();
        drop(store);
        let store = Store::open(disk, options(Durability::Never)).unwrap();
        assert_eq!(store.get(b"d").unwrap(), Some(b"4".to_vec()), "seed {seed}");
    }
    assert_eq!(
        outcomes.into_iter().collect::<Vec<_>>(),
        [0, 1, 3],
        "every outcome occurs"
    );
}

#[test]
fn a_torn_tail_is_cut_and_reported() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
    store.put(b"a", b"1").unwrap();
    drop(store);
    // Half a record at the end of the newest segment.
    let segment = disk.list().unwrap().pop().unwrap();
    let len = disk.len(&segment).unwrap();
    disk.truncate(&segment, len - 3).unwrap();
    let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.stats().truncated_bytes, len - 3);
    assert_eq!(disk.len(&segment).unwrap(), 0);
}

#[test]
fn damage_before_the_tail_is_corruption_not_truncation() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    drop(store);
    let segment = disk.list().unwrap().pop().unwrap();
    disk.flip_bit(&segment, 21, 0).unwrap(); // the first record's key
    match Store::open(disk, options(Durability::Always)) {
        Err(Error::Corruption {
            segment: s, offset, ..
        }) => {
            assert_eq!((s, offset), (segment, 0));
        }
        other => panic!("expected corruption, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_damaged_value_is_an_error_never_a_wrong_value() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options(Durability::Always)).unwrap();
    store.put(b"key", b"value").unwrap();
    let segment = disk.list().unwrap().pop().unwrap();
    disk.flip_bit(&segment, 21 + 3, 2).unwrap(); // the value's first byte
    assert!(matches!(store.get(b"key"), Err(Error::Corruption { .. })));
    assert!(store.scan(..).next().unwrap().is_err());
}

#[test]
fn oversized_keys_and_values_are_typed_errors() {
    let store = Store::open(SimDisk::new(), options(Durability::Always)).unwrap();
    assert!(matches!(
        store.put(&[0; 17], b""),
        Err(Error::KeyTooLarge { len: 17, max: 16 })
    ));
    assert!(matches!(
        store.put(b"k", &[0; 65]),
        Err(Error::ValueTooLarge { len: 65, max: 64 })
    ));
    let mut batch = WriteBatch::new();
    batch.put(b"ok".to_vec(), b"v".to_vec()).delete(vec![0; 17]);
    assert!(matches!(
        store.write_batch(batch),
        Err(Error::KeyTooLarge { .. })
    ));
    assert_eq!(
        store.get(b"ok").unwrap(),
        None,
        "a rejected batch writes nothing"
    );
    // Error messages say which limit to raise.
    let message = store.put(&[0; 17], b"").unwrap_err().to_string();
    assert!(message.contains("key_len_max"), "{message}");
}

#[test]
fn backwards_and_empty_ranges_scan_nothing() {
    let store = Store::open(SimDisk::new(), options(Durability::Always)).unwrap();
    store.put(b"m", b"1").unwrap();
    assert_eq!(store.scan(b"z".to_vec()..b"a".to_vec()).count(), 0);
    let m = b"m".to_vec();
    let excluded = (
        std::ops::Bound::Excluded(m.clone()),
        std::ops::Bound::Excluded(m),
    );
    assert_eq!(store.scan(excluded).count(), 0);
}

#[test]
fn group_commit_shares_syncs_between_threads() {
    let disk = SimDisk::new();
    // A disk whose fsync takes a while, as a real one does.
    let slow_sync = Hooked {
        inner: disk.clone(),
        hook: |call: Call| {
            if call == Call::Sync {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Ok(Then::Forward)
        },
    };
    let store = Store::open(slow_sync, options(Durability::Always)).unwrap();
    let before = disk.syncs();
    let (threads, writes) = (8u8, 50u8);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let store = &store;
            scope.spawn(move || {
                for i in 0..writes {
                    store.put(&[t, i], &[i]).unwrap();
                }
            });
        }
    });
    let total = u64::from(threads) * u64::from(writes);
    let syncs = disk.syncs() - before;
    // While one writer syncs, the others append and wait; the next sync
    // covers all of them. One sync per write would be 400.
    assert!(
        syncs <= total / 2,
        "{syncs} syncs for {total} writes: no sharing"
    );
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, options(Durability::Always)).unwrap();
    assert_eq!(
        contents(&store).len() as u64,
        total,
        "every acknowledged write is durable"
    );
}

/// Group commit reads time only through `Options::clock`. On a
/// `ManualClock` that a sync moves by one second, a lone writer's puts cost
/// exactly one simulated second per sync plus a quarter of one (the commit
/// delay) after each rotation, whose seal makes the last sync look shared;
/// no real time is spent sleeping, and two runs agree to the nanosecond.
#[test]
fn group_commit_measures_and_waits_on_the_injected_clock() {
    use std::time::{Duration, Instant};
    const SYNC: Duration = Duration::from_secs(1);

    fn run(clock: &'static kv::ManualClock) -> (Duration, u64, u64) {
        let disk = SimDisk::new();
        let timed = Hooked::new(disk.clone(), move |call: Call| {
            if call == Call::Sync {
                clock.advance(SYNC);
            }
            Ok(Then::Forward)
        });
        let options = Options {
            segment_size_bytes: 128,
            clock,
            ..options(Durability::Always)
        };
        let store = Store::open(timed, options).unwrap();
        for i in 0..40u8 {
            store.put(&[i], &[i; 8]).unwrap();
        }
        (kv::Clock::now(clock), disk.syncs(), store.stats().segments)
    }

    static FIRST: kv::ManualClock = kv::ManualClock::new();
    static SECOND: kv::ManualClock = kv::ManualClock::new();
    let started = Instant::now();
    let (now, syncs, segments) = run(&FIRST);
    let wall = started.elapsed();
    let delays = now - SYNC * syncs as u32;
    assert!(segments > 2, "the puts rotate: {segments} segments");
    assert_eq!(
        delays,
        SYNC / 4 * (segments - 1) as u32,
        "one commit delay after each of the {} rotations",
        segments - 1
    );
    assert!(
        wall < delays,
        "slept {wall:?} of real time for {delays:?} of delays"
    );
    assert_eq!(run(&SECOND), (now, syncs, segments), "deterministic");
}

#[test]
fn a_directory_is_opened_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_dir(dir.path(), options(Durability::Always)).unwrap();
    store.put(b"k", b"v").unwrap();
    match Store::open_dir(dir.path(), options(Durability::Always)) {
        Err(Error::Locked { dir: locked }) => assert_eq!(locked, dir.path()),
        other => panic!("expected Locked, got {:?}", other.map(|_| ())),
    }
    drop(store);
    let store = Store::open_dir(dir.path(), options(Durability::Always)).unwrap();
    assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn a_crash_at_any_step_of_compaction_loses_nothing() {
    let small = Options {
        segment_size_bytes: 96,
        ..options(Durability::Always)
    };
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..40u8 {
        let (key, value) = ([b'k', i % 7], [i; 5]);
        if i % 5 == 4 {
            store.delete(&key).unwrap();
            model.remove(key.as_slice());
        } else {
            store.put(&key, &value).unwrap();
            model.insert(key.to_vec(), value.to_vec());
        }
    }
    assert!(store.stats().segments >= 4, "{:?}", store.stats());
    drop(store);

    let mut completed = false;
    for budget in 0..200 {
        for crash in [Crash::DropUnsynced, Crash::Torn { seed: budget }] {
            let fork = disk.fork();
            let counter = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX));
            let dying = dies_after(fork.clone(), counter.clone());
            let store = Store::open(dying, small).unwrap();
            counter.store(budget as i64, std::sync::atomic::Ordering::SeqCst);
            completed |= store.compact().is_ok();
            drop(store);
            fork.crash(crash);
            let store = Store::open(fork, small).unwrap();
            assert_eq!(
                contents(&store),
                model,
                "crash after {budget} writes, {crash:?}"
            );
        }
        if completed {
            break;
        }
    }
    assert!(completed, "some budget lets compaction finish");
}

#[test]
fn compaction_leaves_a_hint_that_open_trusts_only_when_intact() {
    let small = Options {
        segment_size_bytes: 96,
        ..options(Durability::Always)
    };
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    for i in 0..30u8 {
        store.put(&[b'k', i % 5], &[i; 6]).unwrap();
    }
    store.compact().unwrap();
    let want = contents(&store);
    drop(store);

    let store = Store::open(disk.clone(), small).unwrap();
    assert_eq!(store.stats().segments_from_hints, 1);
    assert_eq!(contents(&store), want);
    drop(store);

    let hint = disk
        .list()
        .unwrap()
        .into_iter()
        .find(|name| name.ends_with(".hint"))
        .expect("a hint file");
    disk.flip_bit(&hint, 30, 1).unwrap();
    let store = Store::open(disk, small).unwrap();
    assert_eq!(
        store.stats().segments_from_hints,
        0,
        "a damaged hint is ignored"
    );
    assert_eq!(contents(&store), want);
}

#[test]
fn after_a_failed_write_the_store_refuses_more_until_reopened() {
    let disk = SimDisk::new();
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(i64::MAX));
    let dying = dies_after(disk.clone(), budget.clone());
    let store = Store::open(dying, options(Durability::Always)).unwrap();
    store.put(b"a", b"1").unwrap();
    budget.store(0, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(store.put(b"b", b"2"), Err(Error::Io(_))));
    budget.store(i64::MAX, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(store.put(b"c", b"3"), Err(Error::Failed)));
    assert!(matches!(store.compact(), Err(Error::Failed)));
    assert_eq!(
        store.get(b"a").unwrap(),
        Some(b"1".to_vec()),
        "reads still work"
    );
    drop(store);
    let store = Store::open(disk, options(Durability::Always)).unwrap();
    assert_eq!(contents(&store), map(&[("a", "1")]));
    store.put(b"c", b"3").unwrap();
}
