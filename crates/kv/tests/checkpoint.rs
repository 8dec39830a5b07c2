//! Checkpoints: one consistent state, as bytes, restored into a new store.
//!
//! A checkpoint taken while writers run holds every batch whole and equals
//! the store at its sequence number; its encoding survives a round trip and
//! refuses any damage; a restore holds exactly the checkpoint, survives a
//! power loss, continues the sequence numbers, and refuses a storage that
//! already holds a store.

use std::sync::atomic::{AtomicBool, Ordering};

use kv::{
    Checkpoint, CheckpointError, Crash, Durability, Error, Options, SimDisk, Store, WriteBatch,
};

fn options() -> Options {
    Options {
        durability: Durability::Never,
        segment_size_bytes: 512,
        ..Options::default()
    }
}

fn contents(store: &Store<SimDisk>) -> Vec<(Vec<u8>, Vec<u8>)> {
    store.scan(..).map(Result::unwrap).collect()
}

/// A store that has seen puts, deletes, a batch and a compaction.
fn store() -> Store<SimDisk> {
    let store = Store::open(SimDisk::new(), options()).unwrap();
    for i in 0..60u32 {
        store
            .put(format!("k{:02}", i % 25).as_bytes(), &i.to_le_bytes())
            .unwrap();
    }
    store.delete(b"k03").unwrap();
    let mut batch = WriteBatch::new();
    batch.put("k04", "batched").delete("k05");
    store.write_batch(batch).unwrap();
    store.compact().unwrap();
    store.put(b"k06", b"after compaction").unwrap();
    store
}

#[test]
fn a_checkpoint_round_trips_and_restores_durably() {
    let store = store();
    let checkpoint = store.checkpoint().unwrap();
    assert_eq!(checkpoint.entries, contents(&store));
    let bytes = checkpoint.encode();
    assert_eq!(Checkpoint::decode(&bytes).unwrap(), checkpoint);

    let disk = SimDisk::new();
    let restored = Store::restore(disk.clone(), &checkpoint, options()).unwrap();
    assert_eq!(contents(&restored), checkpoint.entries);
    restored.check_invariants().unwrap();
    drop(restored);
    disk.crash(Crash::DropUnsynced);
    let reopened = Store::open(disk, options()).unwrap();
    assert_eq!(
        contents(&reopened),
        checkpoint.entries,
        "a restore is durable"
    );
    reopened.check_invariants().unwrap();
}

#[test]
fn a_restored_store_numbers_its_writes_after_the_checkpoint() {
    let checkpoint = store().checkpoint().unwrap();
    // Segments large enough that the next write does not rotate (a seal
    // would take a number too).
    let large = Options {
        segment_size_bytes: 1 << 20,
        ..options()
    };
    let restored = Store::restore(SimDisk::new(), &checkpoint, large).unwrap();
    assert_eq!(restored.checkpoint().unwrap().seq, checkpoint.seq);
    restored.put(b"new", b"write").unwrap();
    assert_eq!(restored.checkpoint().unwrap().seq, checkpoint.seq + 1);
    restored.check_invariants().unwrap();
}

#[test]
fn an_empty_checkpoint_restores_an_empty_store() {
    let checkpoint = Store::open(SimDisk::new(), options())
        .unwrap()
        .checkpoint()
        .unwrap();
    assert_eq!(
        checkpoint,
        Checkpoint {
            seq: 0,
            entries: vec![]
        }
    );
    let restored = Store::restore(SimDisk::new(), &checkpoint, options()).unwrap();
    assert!(restored.is_empty());
    restored.check_invariants().unwrap();
}

#[test]
fn restore_refuses_a_storage_that_holds_a_store() {
    let store = store();
    let checkpoint = store.checkpoint().unwrap();
    let disk = store.storage().clone();
    drop(store);
    let error = Store::restore(disk, &checkpoint, options()).err().unwrap();
    assert!(matches!(error, Error::NotEmpty { .. }), "{error}");
}

#[test]
fn restore_refuses_entries_beyond_the_limits() {
    let checkpoint = Checkpoint {
        seq: 1,
        entries: vec![(vec![b'k'; 20], b"v".to_vec())],
    };
    let small = Options {
        key_len_max: 16,
        ..options()
    };
    let error = Store::restore(SimDisk::new(), &checkpoint, small)
        .err()
        .unwrap();
    assert!(
        matches!(error, Error::KeyTooLarge { len: 20, max: 16 }),
        "{error}"
    );
}

#[test]
fn every_flipped_bit_and_every_cut_is_refused() {
    let checkpoint = Checkpoint {
        seq: 7,
        entries: vec![(b"a".to_vec(), b"1".to_vec()), (b"bc".to_vec(), Vec::new())],
    };
    let bytes = checkpoint.encode();
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1 << bit;
            assert!(
                Checkpoint::decode(&damaged).is_err(),
                "bit {bit} of byte {at}"
            );
        }
        assert!(Checkpoint::decode(&bytes[..at]).is_err(), "cut at {at}");
    }
    let unordered = Checkpoint {
        seq: 7,
        entries: vec![(b"b".to_vec(), Vec::new()), (b"a".to_vec(), Vec::new())],
    };
    assert_eq!(
        Checkpoint::decode(&unordered.encode()),
        Err(CheckpointError::Order { index: 1 })
    );
}

/// Writers keep `a` and `b` equal, each batch setting both to the next
/// number, while compaction runs; every checkpoint taken meanwhile sees them
/// equal (one state, batches whole), and a checkpoint's state never goes
/// backwards.
#[test]
fn checkpoints_taken_beside_writers_and_compaction_are_consistent() {
    let store = Store::open(SimDisk::new(), options()).unwrap();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (store_ref, done_ref) = (&store, &done);
        scope.spawn(move || {
            for i in 1..=400u32 {
                let mut batch = WriteBatch::new();
                batch.put("a", i.to_le_bytes()).put("b", i.to_le_bytes());
                store_ref.write_batch(batch).unwrap();
                store_ref
                    .put(format!("churn{}", i % 9).as_bytes(), b"x")
                    .unwrap();
                if i % 50 == 0 {
                    store_ref.compact().unwrap();
                }
            }
            done_ref.store(true, Ordering::Release);
        });
        let (mut last_seq, mut last_value) = (0, 0);
        let mut taken = 0;
        while !done.load(Ordering::Acquire) || taken == 0 {
            let checkpoint = store.checkpoint().unwrap();
            let get = |key: &[u8]| {
                checkpoint
                    .entries
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| u32::from_le_bytes(v.as_slice().try_into().unwrap()))
            };
            assert_eq!(
                get(b"a"),
                get(b"b"),
                "a batch is whole at seq {}",
                checkpoint.seq
            );
            let value = get(b"a").unwrap_or(0);
            assert!(
                checkpoint.seq >= last_seq && value >= last_value,
                "never backwards"
            );
            (last_seq, last_value) = (checkpoint.seq, value);
            taken += 1;
        }
    });
    store.check_invariants().unwrap();
}
