//! The store against a `BTreeMap` model, through crashes.
//!
//! Random sequences of puts, deletes, batches, reads, scans, syncs,
//! compactions, checkpoints (each restored into a fresh store), process
//! crashes (drop and reopen) and power losses (`SimDisk::crash`, dropping
//! or tearing unsynced bytes), on tiny segments so that rotation happens
//! often.
//! After a power loss in `Always` mode the store must equal the model of
//! acknowledged writes; in `Never` mode it must equal the model after some
//! prefix of the writes, no shorter than the last explicit sync, with every
//! batch all or nothing. Reads never return a wrong value, and the store's
//! invariant checker passes after every operation.

mod support;

use std::collections::BTreeMap;

use kv::{Crash, Durability, Options, SimDisk, Storage, Store, WriteBatch};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, Vec<u8>),
    Delete(u8),
    Batch(Vec<(u8, Option<Vec<u8>>)>),
    Get(u8),
    Scan(u8, u8),
    Sync,
    Compact,
    Checkpoint,
    Reopen,
    PowerLoss { torn: bool, seed: u64 },
}

fn key(k: u8) -> Vec<u8> {
    vec![b'k', k % 12]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => any::<u8>().prop_map(Op::Delete),
        2 => prop::collection::vec((any::<u8>(), prop::option::of(value())), 1..5).prop_map(Op::Batch),
        3 => any::<u8>().prop_map(Op::Get),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Scan(a, b)),
        1 => Just(Op::Sync),
        1 => Just(Op::Compact),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
        2 => (any::<bool>(), any::<u64>()).prop_map(|(torn, seed)| Op::PowerLoss { torn, seed }),
    ]
}

fn options(durability: Durability) -> Options {
    Options {
        durability,
        segment_size_bytes: 256,
        ..Options::default()
    }
}

fn contents(store: &Store<SimDisk>) -> Model {
    store
        .scan(..)
        .collect::<Result<Model, _>>()
        .expect("a scan of an intact store succeeds")
}

/// Live and dead bytes account for every byte of every segment.
fn check_stats(store: &Store<SimDisk>, disk: &SimDisk) -> Result<(), TestCaseError> {
    let stats = store.stats();
    let segments: Vec<String> = disk
        .list()
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    let bytes: u64 = segments.iter().map(|name| disk.len(name).unwrap()).sum();
    prop_assert_eq!(stats.live_bytes + stats.dead_bytes, bytes, "{:?}", stats);
    prop_assert_eq!(stats.segments, segments.len() as u64);
    prop_assert_eq!(stats.keys, contents(store).len() as u64);
    Ok(())
}

fn run(durability: Durability, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let disk = SimDisk::new();
    let mut store = Store::open(disk.clone(), options(durability)).unwrap();
    let mut model = Model::new();
    // Model states after each acknowledged write since the last point that
    // is known durable (`Never` mode); `history[0]` is that point.
    let mut history = vec![model.clone()];
    let mut previous = None;
    for op in ops {
        check_invariants(&store, previous.as_ref())?;
        previous = Some(op.clone());
        match op {
            Op::Put(k, v) => {
                store.put(&key(k), &v).unwrap();
                model.insert(key(k), v);
            }
            Op::Delete(k) => {
                store.delete(&key(k)).unwrap();
                model.remove(&key(k));
            }
            Op::Batch(ops) => {
                let mut batch = WriteBatch::new();
                for (k, v) in ops {
                    match v {
                        Some(v) => {
                            batch.put(key(k), v.clone());
                            model.insert(key(k), v);
                        }
                        None => {
                            batch.delete(key(k));
                            model.remove(&key(k));
                        }
                    }
                }
                store.write_batch(batch).unwrap();
            }
            Op::Get(k) => {
                prop_assert_eq!(store.get(&key(k)).unwrap(), model.get(&key(k)).cloned());
                continue;
            }
            Op::Scan(a, b) => {
                let (a, b) = (key(a), key(b));
                let (lo, hi) = (a.clone().min(b.clone()), a.max(b));
                let got: Vec<_> = store
                    .scan(lo.clone()..hi.clone())
                    .map(Result::unwrap)
                    .collect();
                let want: Vec<_> = model
                    .range(lo..hi)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                prop_assert_eq!(got, want);
                continue;
            }
            Op::Sync => {
                store.sync().unwrap();
                history = vec![model.clone()];
                check_stats(&store, &disk)?;
                continue;
            }
            Op::Compact => {
                store.compact().unwrap();
                prop_assert_eq!(
                    contents(&store),
                    model.clone(),
                    "compaction changes nothing"
                );
                check_stats(&store, &disk)?;
                continue;
            }
            Op::Checkpoint => {
                let checkpoint = store.checkpoint().unwrap();
                let entries: Model = checkpoint.entries.iter().cloned().collect();
                prop_assert_eq!(&entries, &model, "a checkpoint holds the store");
                let bytes = checkpoint.encode();
                let decoded = kv::Checkpoint::decode(&bytes).unwrap();
                let restored =
                    Store::restore(SimDisk::new(), &decoded, options(durability)).unwrap();
                prop_assert_eq!(
                    contents(&restored),
                    model.clone(),
                    "and so does its restore"
                );
                check_invariants(&restored, Some(&Op::Checkpoint))?;
                continue;
            }
            Op::Reopen => {
                drop(store);
                store = Store::open(disk.clone(), options(durability)).unwrap();
                prop_assert_eq!(
                    contents(&store),
                    model.clone(),
                    "a process crash loses nothing"
                );
                check_stats(&store, &disk)?;
                continue;
            }
            Op::PowerLoss { torn, seed } => {
                drop(store);
                disk.crash(if torn {
                    Crash::Torn { seed }
                } else {
                    Crash::DropUnsynced
                });
                store = Store::open(disk.clone(), options(durability)).unwrap();
                let recovered = contents(&store);
                match durability {
                    Durability::Always => {
                        prop_assert_eq!(&recovered, &model, "acknowledged writes survive");
                    }
                    Durability::Never => {
                        prop_assert!(
                            history.contains(&recovered),
                            "recovered {:?} is no prefix of the writes since the last sync {:?}",
                            recovered,
                            history
                        );
                        model = recovered;
                    }
                }
                history = vec![model.clone()];
                check_stats(&store, &disk)?;
                continue;
            }
        }
        history.push(model.clone());
        prop_assert_eq!(contents(&store), model.clone());
        check_stats(&store, &disk)?;
    }
    check_invariants(&store, previous.as_ref())
}

/// The store's own checker (`Store::check_invariants`) finds nothing.
fn check_invariants(store: &Store<SimDisk>, after: Option<&Op>) -> Result<(), TestCaseError> {
    match store.check_invariants() {
        Ok(()) => Ok(()),
        Err(violation) => Err(TestCaseError::fail(format!("after {after:?}: {violation}"))),
    }
}

proptest! {
    #![proptest_config(support::seeded())]

    #[test]
    fn always_mode_keeps_every_acknowledged_write(ops in prop::collection::vec(op(), 1..60)) {
        run(Durability::Always, ops)?;
    }

    #[test]
    fn never_mode_keeps_a_prefix_of_the_writes(ops in prop::collection::vec(op(), 1..60)) {
        run(Durability::Never, ops)?;
    }
}
