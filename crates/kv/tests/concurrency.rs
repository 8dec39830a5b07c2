//! Several writers and readers at once, with compaction running beside
//! them: no lost writes, and no reader ever sees a value go backwards or a
//! value that was never written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use kv::{Call, Crash, Durability, FaultyStorage, Options, SimDisk, Store, Then};

#[test]
fn writers_readers_and_compaction_agree() {
    let options = Options {
        durability: Durability::Always,
        segment_size_bytes: 4 << 10,
        ..Options::default()
    };
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options).unwrap();
    let (writers, keys_per_writer, rounds) = (4u8, 16u8, 40u32);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let writer_handles: Vec<_> = (0..writers)
            .map(|w| {
                let store = &store;
                scope.spawn(move || {
                    // Each writer owns its keys and writes 1, 2, 3, … to them.
                    for round in 1..=rounds {
                        for k in 0..keys_per_writer {
                            store.put(&[w, k], &round.to_le_bytes()).unwrap();
                        }
                    }
                })
            })
            .collect();
        for _ in 0..2 {
            let (store, done) = (&store, &done);
            scope.spawn(move || {
                let mut last_seen = std::collections::HashMap::new();
                while !done.load(Ordering::Acquire) {
                    for w in 0..writers {
                        for k in 0..keys_per_writer {
                            let Some(value) = store.get(&[w, k]).unwrap() else {
                                continue;
                            };
                            let round = u32::from_le_bytes(value.try_into().expect("4 bytes"));
                            assert!((1..=rounds).contains(&round), "never written: {round}");
                            let last = last_seen.entry((w, k)).or_insert(0);
                            assert!(round >= *last, "{w}/{k} went back from {last} to {round}");
                            *last = round;
                        }
                    }
                }
            });
        }
        {
            let (store, done) = (&store, &done);
            scope.spawn(move || {
                while !done.load(Ordering::Acquire) {
                    store.compact().unwrap();
                    std::thread::yield_now();
                }
            });
        }
        for handle in writer_handles {
            handle.join().unwrap();
        }
        done.store(true, Ordering::Release);
    });
    store.check_invariants().unwrap();
    let expected = u32::from(writers) * u32::from(keys_per_writer);
    assert_eq!(store.len() as u32, expected);
    for w in 0..writers {
        for k in 0..keys_per_writer {
            assert_eq!(
                store.get(&[w, k]).unwrap(),
                Some(rounds.to_le_bytes().to_vec())
            );
        }
    }
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, options).unwrap();
    assert_eq!(
        store.len() as u32,
        expected,
        "all acknowledged, all durable"
    );
    for (key, value) in store.scan(..).map(Result::unwrap) {
        assert_eq!(value, rounds.to_le_bytes(), "{key:?}");
    }
}

/// `scan` takes the index 128 entries at a time, so writers run between
/// its chunks. Keys present for the whole scan must still come back exactly
/// once each, in order, with their values, while other keys between them
/// are inserted and deleted and compaction moves records.
#[test]
fn a_scan_returns_every_stable_key_once_while_others_change() {
    let options = Options {
        durability: Durability::Never,
        segment_size_bytes: 8 << 10,
        ..Options::default()
    };
    let store = Store::open(SimDisk::new(), options).unwrap();
    let stable = |i: u32| format!("k-{i:05}-s").into_bytes();
    let churn = |i: u32| format!("k-{i:05}-t").into_bytes();
    let count = 1_000;
    assert!(count as usize > 5 * kv::SCAN_CHUNK);
    for i in 0..count {
        store.put(&stable(i), &i.to_le_bytes()).unwrap();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (store, done) = (&store, &done);
        scope.spawn(move || {
            let mut round = 0u32;
            while !done.load(Ordering::Acquire) {
                for i in (round % 7..count).step_by(7) {
                    if round.is_multiple_of(2) {
                        store.put(&churn(i), b"churn").unwrap();
                    } else {
                        store.delete(&churn(i)).unwrap();
                    }
                }
                if round % 5 == 4 {
                    store.compact().unwrap();
                }
                round += 1;
            }
        });
        for _ in 0..20 {
            let mut seen = Vec::new();
            let mut previous: Option<Vec<u8>> = None;
            for entry in store.scan(..) {
                let (key, value) = entry.unwrap();
                if let Some(previous) = &previous {
                    assert!(previous < &key, "keys in strictly increasing order");
                }
                previous = Some(key.clone());
                if key.ends_with(b"-s") {
                    let i = seen.len() as u32;
                    assert_eq!(key, stable(i), "stable key {i} once, in order");
                    assert_eq!(value, i.to_le_bytes());
                    seen.push(key);
                }
            }
            assert_eq!(seen.len(), count as usize);
        }
        done.store(true, Ordering::Release);
    });
}

/// No sync of a compaction holds a lock a reader needs. The storage's hook
/// parks every `sync` and `sync_dir` compaction makes until the test lets it
/// go, and while each is parked a `get` must complete. The second compaction
/// here replaces a segment that has a hint, whose removal is made durable
/// with a directory sync: that sync used to run under the index's write
/// lock, and the `get` beside it waited for it.
#[test]
fn a_get_completes_while_each_of_compactions_syncs_is_held() {
    const PARKED_MAX: Duration = Duration::from_secs(30);
    const GET_WAIT: Duration = Duration::from_secs(5);
    let (entered_tx, entered_rx) = mpsc::sync_channel::<Call>(0);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    let armed = AtomicBool::new(false);
    let storage = FaultyStorage::new(SimDisk::new(), |call| {
        if armed.load(Ordering::Acquire) && matches!(call, Call::Sync | Call::SyncDir) {
            entered_tx.lock().unwrap().send(call).unwrap();
            let released = release_rx.lock().unwrap().recv_timeout(PARKED_MAX);
            released.expect("the test releases every parked sync");
        }
        Ok(Then::Forward)
    });
    let options = Options {
        durability: Durability::Never,
        segment_size_bytes: 256,
        ..Options::default()
    };
    let store = Store::open(storage, options).unwrap();
    let key = |i: u32| format!("key-{i:02}").into_bytes();
    for round in 0..2u32 {
        for i in 0..20 {
            store.put(&key(i), &[round as u8; 8]).unwrap();
        }
        // The first compaction leaves a hint beside the oldest segment.
        if round == 0 {
            store.compact().unwrap();
        }
    }
    armed.store(true, Ordering::Release);
    let mut parked = Vec::new();
    std::thread::scope(|scope| {
        let compaction = scope.spawn(|| store.compact());
        while !compaction.is_finished() {
            let Ok(call) = entered_rx.recv_timeout(Duration::from_millis(10)) else {
                continue;
            };
            let (done_tx, done_rx) = mpsc::channel();
            let store = &store;
            let reader = scope.spawn(move || done_tx.send(store.get(&key(7)).unwrap()).unwrap());
            let got = done_rx.recv_timeout(GET_WAIT);
            release_tx.send(()).unwrap();
            reader.join().unwrap();
            parked.push((call, got.ok()));
        }
        compaction.join().unwrap().unwrap();
    });
    armed.store(false, Ordering::Release);
    assert!(
        parked.iter().any(|(call, _)| *call == Call::SyncDir),
        "compaction syncs the directory: {parked:?}"
    );
    for (call, got) in &parked {
        assert_eq!(
            got,
            &Some(Some(vec![1u8; 8])),
            "a get waited for compaction's {call:?}; all parked calls: {parked:?}"
        );
    }
}
