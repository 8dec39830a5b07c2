//! Several writers and readers at once, with compaction running beside
//! them: no lost writes, and no reader ever sees a value go backwards or a
//! value that was never written.

use std::sync::atomic::{AtomicBool, Ordering};

use kv::{Crash, Durability, Options, SimDisk, Store};

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
