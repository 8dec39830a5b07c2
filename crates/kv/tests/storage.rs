//! The `Storage` contract, checked on both implementations, and the crash
//! semantics of `SimDisk` (written versus durable bytes).

use std::io::ErrorKind;

use kv::{Crash, FsStorage, SimDisk, Storage};

/// The behaviour every `Storage` must share.
fn conformance(storage: &dyn Storage) {
    assert_eq!(storage.list().unwrap(), Vec::<String>::new());
    assert_eq!(storage.append("b.log", b"hello").unwrap(), 0);
    assert_eq!(storage.append("b.log", b", world").unwrap(), 5);
    assert_eq!(storage.len("b.log").unwrap(), 12);

    let mut buf = [0u8; 5];
    storage.read_at("b.log", 7, &mut buf).unwrap();
    assert_eq!(&buf, b"world");
    let past_end = storage.read_at("b.log", 8, &mut buf).unwrap_err();
    assert_eq!(past_end.kind(), ErrorKind::UnexpectedEof);
    let missing = storage.read_at("nope", 0, &mut buf).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);

    storage.truncate("b.log", 5).unwrap();
    assert_eq!(storage.len("b.log").unwrap(), 5);
    assert_eq!(
        storage.append("b.log", b"!").unwrap(),
        5,
        "appends go to the new end"
    );
    storage.sync("b.log").unwrap();

    storage.append("a.log", b"first").unwrap();
    assert_eq!(storage.list().unwrap(), ["a.log", "b.log"], "sorted");

    storage.rename("a.log", "b.log").unwrap();
    assert_eq!(storage.list().unwrap(), ["b.log"], "rename replaces");
    assert_eq!(storage.len("b.log").unwrap(), 5);
    assert_eq!(storage.append("b.log", b"!").unwrap(), 5);

    storage.remove("b.log").unwrap();
    assert!(storage.list().unwrap().is_empty());
    assert_eq!(
        storage.len("b.log").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    storage.sync_dir().unwrap();

    for bad in ["", ".", "..", "a/b", "a\\b", "nul\0"] {
        let err = storage.append(bad, b"x").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
}

#[test]
fn fs_storage_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let storage = FsStorage::open(dir.path().join("data")).unwrap();
    conformance(&storage);
}

#[test]
fn sim_disk_keeps_the_contract() {
    conformance(&SimDisk::new());
}

#[test]
fn fs_storage_reopens_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    {
        let storage = FsStorage::open(dir.path()).unwrap();
        storage.append("x", b"persisted").unwrap();
        storage.sync("x").unwrap();
        storage.sync_dir().unwrap();
    }
    let storage = FsStorage::open(dir.path()).unwrap();
    let mut buf = [0u8; 9];
    storage.read_at("x", 0, &mut buf).unwrap();
    assert_eq!(&buf, b"persisted");
}

#[test]
fn power_loss_drops_unsynced_bytes_and_entries() {
    let disk = SimDisk::new();
    disk.append("old", b"durable").unwrap();
    disk.sync("old").unwrap();
    disk.sync_dir().unwrap();
    disk.append("old", b"+lost").unwrap();
    disk.append("new", b"synced but never named").unwrap();
    disk.sync("new").unwrap();

    disk.crash(Crash::DropUnsynced);
    assert_eq!(disk.list().unwrap(), ["old"], "a new file needs sync_dir");
    assert_eq!(disk.contents("old").unwrap(), b"durable");
}

#[test]
fn renames_and_removals_need_sync_dir() {
    let disk = SimDisk::new();
    for name in ["a", "b"] {
        disk.append(name, name.as_bytes()).unwrap();
        disk.sync(name).unwrap();
    }
    disk.sync_dir().unwrap();
    disk.rename("a", "c").unwrap();
    disk.remove("b").unwrap();
    disk.crash(Crash::DropUnsynced);
    assert_eq!(disk.list().unwrap(), ["a", "b"], "both undone");

    disk.rename("a", "c").unwrap();
    disk.remove("b").unwrap();
    disk.sync_dir().unwrap();
    disk.crash(Crash::DropUnsynced);
    assert_eq!(disk.list().unwrap(), ["c"]);
    assert_eq!(disk.contents("c").unwrap(), b"a");
}

#[test]
fn a_truncation_into_durable_bytes_is_undone_by_a_crash_before_sync() {
    let disk = SimDisk::new();
    disk.append("f", b"0123456789").unwrap();
    disk.sync("f").unwrap();
    disk.sync_dir().unwrap();
    disk.truncate("f", 4).unwrap();
    disk.append("f", b"xy").unwrap();
    assert_eq!(disk.contents("f").unwrap(), b"0123xy");
    disk.crash(Crash::Torn { seed: 1 });
    assert_eq!(disk.contents("f").unwrap(), b"0123456789");

    disk.truncate("f", 4).unwrap();
    disk.sync("f").unwrap();
    disk.crash(Crash::DropUnsynced);
    assert_eq!(disk.contents("f").unwrap(), b"0123");
}

#[test]
fn a_torn_write_keeps_a_prefix_and_every_tear_point_is_reachable() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let disk = SimDisk::new();
        disk.append("f", b"ok").unwrap();
        disk.sync("f").unwrap();
        disk.sync_dir().unwrap();
        disk.append("f", b"abcd").unwrap();
        disk.crash(Crash::Torn { seed });
        let kept = disk.contents("f").unwrap();
        assert!(b"okabcd".starts_with(&kept), "seed {seed}: {kept:?}");
        assert!(kept.len() >= 2, "seed {seed}: durable bytes survive");
        assert_eq!(
            disk.durable_contents("f").unwrap(),
            kept,
            "after a crash all is durable"
        );
        seen.insert(kept.len());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [2, 3, 4, 5, 6]);
}

#[test]
fn the_same_seed_tears_the_same_way() {
    let run = |seed| {
        let disk = SimDisk::new();
        for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
            disk.append(name, &[b'x'; 16][..4 + i]).unwrap();
            disk.sync(name).unwrap();
            disk.append(name, &[b'y'; 64]).unwrap();
        }
        disk.sync_dir().unwrap();
        disk.crash(Crash::Torn { seed });
        ["a", "b", "c"].map(|name| disk.contents(name).unwrap().len())
    };
    assert_eq!(run(42), run(42));
    assert_ne!(
        run(42),
        run(43),
        "different seeds may differ (and do for these two)"
    );
}

#[test]
fn flipped_bits_reach_reads_and_forks_are_independent() {
    let disk = SimDisk::new();
    disk.append("f", &[0u8; 8]).unwrap();
    let fork = disk.fork();
    disk.flip_bit("f", 3, 7).unwrap();
    let mut buf = [0u8; 8];
    disk.read_at("f", 0, &mut buf).unwrap();
    assert_eq!(buf, [0, 0, 0, 0x80, 0, 0, 0, 0]);
    fork.read_at("f", 0, &mut buf).unwrap();
    assert_eq!(buf, [0; 8], "the fork does not see the flip");
    let err = disk.flip_bit("f", 8, 0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
}

#[test]
fn syncs_are_counted() {
    let disk = SimDisk::new();
    disk.append("f", b"x").unwrap();
    disk.sync("f").unwrap();
    disk.sync("f").unwrap();
    disk.sync_dir().unwrap();
    assert_eq!((disk.syncs(), disk.dir_syncs()), (2, 1));
    // Clones share the disk, and its counters.
    let clone = disk.clone();
    clone.sync("f").unwrap();
    assert_eq!(disk.syncs(), 3);
}
