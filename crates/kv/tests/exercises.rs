//! Answers to the exercises of Part II of the book, one test each. A
//! chapter's exercise names the test that checks it; try the exercise
//! before reading the test.
//!
//! Random choices come from the project's seed, 0x5EED_5EED: proptest's
//! through `support::seeded()` (`PROPTEST_RNG_SEED=<u64>` picks another),
//! and the one shuffle here from a ChaCha8 stream with the same seed.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kv::record::{self, DecodeError, HEADER_LEN, Kind, Limits};
use kv::{Crash, Durability, Error, Options, SimDisk, Storage, Store, WriteBatch};
use proptest::prelude::*;
use support::{Call, Hooked, Then};

const SEED: u64 = 0x5EED_5EED;

fn options(durability: Durability, segment_size_bytes: u64) -> Options {
    Options {
        durability,
        segment_size_bytes,
        ..Options::default()
    }
}

fn contents<S: Storage>(store: &Store<S>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    store.scan(..).map(Result::unwrap).collect()
}

fn map(entries: &[(&str, &str)]) -> BTreeMap<Vec<u8>, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// The segment files of `disk`, oldest first.
fn segments(disk: &SimDisk) -> Vec<String> {
    let mut names: Vec<String> = disk
        .list()
        .unwrap()
        .into_iter()
        .filter(|name| name.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

fn newest_segment(disk: &SimDisk) -> String {
    segments(disk)
        .pop()
        .expect("a store has at least one segment")
}

fn log_bytes(disk: &SimDisk) -> u64 {
    segments(disk)
        .iter()
        .map(|name| disk.len(name).unwrap())
        .sum()
}

// ---------------------------------------------------------------------------
// Chapter "What a key-value store really is"
// ---------------------------------------------------------------------------

// In `Never` mode a write survives a crash of the process (the operating
// system still holds its bytes) but not a power loss. Reopening after the
// process crash makes the replayed bytes durable, so they then survive a
// power loss too; the write made after the reopen does not.
#[test]
fn exercise_never_mode_survives_a_process_crash_not_a_power_loss() {
    let never = options(Durability::Never, 1 << 20);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), never).unwrap();
    store.put(b"a", b"1").unwrap();
    store.put(b"b", b"2").unwrap();
    drop(store); // the process dies; the page cache (SimDisk's written bytes) lives on

    let store = Store::open(disk.clone(), never).unwrap();
    assert_eq!(contents(&store), map(&[("a", "1"), ("b", "2")]));
    store.put(b"c", b"3").unwrap();
    drop(store);
    disk.crash(Crash::DropUnsynced); // the machine loses power

    let store = Store::open(disk.clone(), never).unwrap();
    assert_eq!(contents(&store), map(&[("a", "1"), ("b", "2")]));

    // The same last write in `Always` mode survives the power loss.
    let always = options(Durability::Always, 1 << 20);
    drop(store);
    let store = Store::open(disk.clone(), always).unwrap();
    store.put(b"c", b"3").unwrap();
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, always).unwrap();
    assert_eq!(store.get(b"c").unwrap(), Some(b"3".to_vec()));
}

// `delete` of a key that is not there still appends a record: a header and
// the key, all of it dead.
#[test]
fn exercise_a_delete_is_a_write_even_for_an_absent_key() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), Options::default()).unwrap();
    let before = log_bytes(&disk);
    assert!(!store.delete(b"ghost").unwrap());
    let record_len = (HEADER_LEN + b"ghost".len()) as u64;
    assert_eq!(log_bytes(&disk) - before, record_len);
    assert_eq!(store.stats().dead_bytes, record_len);
    assert_eq!(store.stats().live_bytes, 0);
}

// A `Never`-mode store that loses power keeps a prefix of its writes, in
// order: never a later write without the ones before it.
#[test]
fn exercise_never_mode_keeps_a_prefix_of_the_writes() {
    let mut runner = proptest::test_runner::TestRunner::new(support::seeded());
    runner
        .run(&(1usize..40, any::<u64>()), |(writes, seed)| {
            let never = options(Durability::Never, 1 << 20);
            let disk = SimDisk::new();
            let store = Store::open(disk.clone(), never).unwrap();
            for i in 0..writes {
                store.put(format!("k{i:02}").as_bytes(), b"v").unwrap();
            }
            drop(store);
            disk.crash(Crash::Torn { seed });
            let store = Store::open(disk, never).unwrap();
            let kept = store.len();
            let want: BTreeMap<Vec<u8>, Vec<u8>> = (0..kept)
                .map(|i| (format!("k{i:02}").into_bytes(), b"v".to_vec()))
                .collect();
            prop_assert_eq!(contents(&store), want);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------
// Chapter "Log-structured storage"
// ---------------------------------------------------------------------------

// Record sizes are 21 header bytes plus the key plus the value; a batch
// adds one 21-byte commit record, which is dead from the start.
#[test]
fn exercise_record_sizes_add_up() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), Options::default()).unwrap();
    store.put(b"apple", b"red").unwrap();
    assert_eq!(log_bytes(&disk), 21 + 5 + 3);
    let mut batch = WriteBatch::new();
    batch.put(b"x".to_vec(), b"1".to_vec());
    batch.put(b"y".to_vec(), b"2".to_vec());
    store.write_batch(batch).unwrap();
    assert_eq!(log_bytes(&disk), 29 + 23 + 23 + 21);
    let stats = store.stats();
    assert_eq!((stats.live_bytes, stats.dead_bytes), (29 + 46, 21));
    store.put(b"apple", b"green").unwrap();
    let stats = store.stats();
    assert_eq!((stats.live_bytes, stats.dead_bytes), (31 + 46, 21 + 29));
}

// On disk, a batch is its members (kind byte with bit 7 set) followed by a
// commit, all with the same sequence number.
#[test]
fn exercise_a_batch_on_disk() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), Options::default()).unwrap();
    store.put(b"a", b"1").unwrap();
    let mut batch = WriteBatch::new();
    batch
        .put(b"b".to_vec(), b"2".to_vec())
        .delete(b"a".to_vec());
    store.write_batch(batch).unwrap();

    let bytes = disk.contents(&newest_segment(&disk)).unwrap();
    let limits = Limits {
        key_len_max: 16,
        value_len_max: 16,
    };
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let record = record::decode(&bytes[at..], limits).unwrap();
        at += record.encoded_len();
        records.push((record.seq, record.kind));
    }
    assert_eq!(
        records,
        [
            (1, Kind::Put),
            (2, Kind::BatchPut),
            (2, Kind::BatchDelete),
            (2, Kind::Commit)
        ]
    );
    assert_eq!(bytes[21 + 2 + 20], 0x81, "kind byte of the batch put");
}

// Whatever order keys arrive in, a scan returns a range of them sorted:
// the index is ordered. A prefix is a range: [b"user:", b"user;").
#[test]
fn exercise_a_prefix_scan_is_a_range() {
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    let store = Store::open(SimDisk::new(), options(Durability::Never, 1 << 20)).unwrap();
    let mut keys: Vec<String> = (0..50)
        .flat_map(|i| [format!("user:{i:03}"), format!("order:{i:03}")])
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.random_range(0..=i));
    }
    for key in &keys {
        store.put(key.as_bytes(), b"").unwrap();
    }
    let scanned: Vec<String> = store
        .scan(b"user:".to_vec()..b"user;".to_vec())
        .map(|entry| String::from_utf8(entry.unwrap().0).unwrap())
        .collect();
    let want: Vec<String> = (0..50).map(|i| format!("user:{i:03}")).collect();
    assert_eq!(scanned, want);
}

// ---------------------------------------------------------------------------
// Chapter "Checksums and torn writes"
// ---------------------------------------------------------------------------

/// A store of two puts, `a` then `b`, each 27 bytes, in one segment.
fn two_puts() -> SimDisk {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), Options::default()).unwrap();
    store.put(b"a", b"apple").unwrap();
    store.put(b"b", b"berry").unwrap();
    disk
}

// A flipped bit in the *last* record of the newest segment cannot be told
// from a torn write: recovery cuts it and reports the cut. The write was
// acknowledged; only `truncated_bytes` says that something went.
#[test]
fn exercise_a_flip_in_the_last_record_looks_torn() {
    let disk = two_puts();
    disk.flip_bit(&newest_segment(&disk), 27 + 23, 0).unwrap(); // b's value
    let store = Store::open(disk, Options::default()).unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"apple".to_vec()));
    assert_eq!(store.get(b"b").unwrap(), None);
    assert_eq!(store.stats().truncated_bytes, 27);
}

// A flipped bit in a length field of the *first* record can make it claim
// more bytes than the file holds, so it reads as truncated, like a torn
// tail. But a whole record follows it, which a torn write (the last write)
// cannot leave: open reports corruption instead of cutting both records.
#[test]
fn exercise_a_length_flip_is_not_mistaken_for_a_torn_tail() {
    let disk = two_puts();
    // Byte 10 holds bits 16–23 of value_len: 5 becomes 65,541.
    disk.flip_bit(&newest_segment(&disk), 10, 0).unwrap();
    match Store::open(disk.clone(), Options::default()) {
        Err(Error::Corruption { offset, reason, .. }) => {
            assert_eq!(offset, 0);
            assert!(
                matches!(reason, DecodeError::Truncated { .. }),
                "{reason:?}"
            );
        }
        other => panic!("expected Corruption, got {:?}", other.map(|_| ())),
    }
    // Repair skips the damaged record and keeps the one after it.
    let repair = Options {
        repair: true,
        ..Options::default()
    };
    let store = Store::open(disk, repair).unwrap();
    assert_eq!(store.get(b"a").unwrap(), None);
    assert_eq!(store.get(b"b").unwrap(), Some(b"berry".to_vec()));
    assert_eq!(store.stats().truncated_bytes, 0);
}

// The documented limit: a newest segment cut exactly at a record boundary
// looks like a log whose later writes never happened. An older segment cut
// the same way has lost its seal, and open refuses it.
#[test]
fn exercise_a_cut_at_a_record_boundary() {
    let disk = two_puts();
    disk.truncate(&newest_segment(&disk), 27).unwrap();
    let store = Store::open(disk, Options::default()).unwrap();
    assert_eq!(store.get(b"b").unwrap(), None);
    assert_eq!(store.stats().truncated_bytes, 0, "nothing to report");

    // Segments of at most 64 bytes: two 27-byte puts, then a 29-byte seal.
    let small = options(Durability::Always, 64);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    for key in [b"a", b"b", b"c"] {
        store.put(key, b"apple").unwrap();
    }
    drop(store);
    let oldest = segments(&disk)[0].clone();
    assert_eq!(disk.len(&oldest).unwrap(), 27 + 27 + 29);
    disk.truncate(&oldest, 54).unwrap();
    match Store::open(disk, small) {
        Err(Error::MissingSeal { segment, len }) => assert_eq!((segment, len), (oldest, 54)),
        other => panic!("expected MissingSeal, got {:?}", other.map(|_| ())),
    }
}

// With `repair`, a damaged record in an older segment is skipped and
// reported; the key it held reads as absent (it had no earlier value).
#[test]
fn exercise_repair_skips_and_reports() {
    let small = options(Durability::Always, 64);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    for key in [b"a", b"b", b"c"] {
        store.put(key, b"apple").unwrap();
    }
    drop(store);
    let oldest = segments(&disk)[0].clone();
    disk.flip_bit(&oldest, 21, 0).unwrap(); // a's key
    assert!(matches!(
        Store::open(disk.clone(), small),
        Err(Error::Corruption { offset: 0, .. })
    ));
    let repair = Options {
        repair: true,
        ..small
    };
    let store = Store::open(disk, repair).unwrap();
    let stats = store.stats();
    assert_eq!((stats.repairs, stats.skipped_bytes), (1, 27));
    assert_eq!(
        contents(&store),
        map(&[("b", "apple"), ("c", "apple")]),
        "a is gone, the others are intact"
    );
}

// ---------------------------------------------------------------------------
// Chapter "Durability and fsync"
// ---------------------------------------------------------------------------

// One file sync per acknowledged write in `Always` mode (one writer, so no
// group commit); none in `Never` mode until `sync` is called.
#[test]
fn exercise_syncs_per_write() {
    // (mode, syncs per put, syncs that `sync` then adds: none if all is durable)
    for (durability, per_write, on_sync) in [(Durability::Always, 1, 0), (Durability::Never, 0, 1)]
    {
        let disk = SimDisk::new();
        let store = Store::open(disk.clone(), options(durability, 1 << 20)).unwrap();
        let (syncs, dir_syncs) = (disk.syncs(), disk.dir_syncs());
        for i in 0..10u8 {
            store.put(&[i], b"v").unwrap();
        }
        assert_eq!(disk.syncs() - syncs, 10 * per_write, "{durability:?}");
        assert_eq!(disk.dir_syncs(), dir_syncs, "no file was created");
        store.sync().unwrap();
        assert_eq!(disk.syncs() - syncs, 10 * per_write + on_sync);
    }
}

// Rotation, in either mode: seal and sync the full segment, create the
// next one, and sync the directory so that its name is durable.
#[test]
fn exercise_rotation_syncs_the_file_then_the_directory() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), options(Durability::Never, 64)).unwrap();
    store.put(b"a", b"apple").unwrap();
    store.put(b"b", b"apple").unwrap();
    let (syncs, dir_syncs) = (disk.syncs(), disk.dir_syncs());
    store.put(b"c", b"apple").unwrap(); // does not fit: rotate first
    assert_eq!((disk.syncs() - syncs, disk.dir_syncs() - dir_syncs), (1, 1));
    assert_eq!(segments(&disk).len(), 2);
    // The sealed segment is durable in full even in `Never` mode...
    let oldest = segments(&disk)[0].clone();
    assert_eq!(
        disk.durable_contents(&oldest).unwrap(),
        disk.contents(&oldest).unwrap()
    );
    // ...and the new write is not.
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, options(Durability::Never, 64)).unwrap();
    assert_eq!(store.len(), 2);
}

// Rule 2: syncing a new file is not enough. Without directory syncs, the
// segment that rotation creates has no durable name, and every write
// acknowledged into it, each one synced, is lost with it.
#[test]
fn exercise_without_directory_syncs_acknowledged_writes_vanish() {
    let small = options(Durability::Always, 64);
    let disk = SimDisk::new();
    drop(Store::open(disk.clone(), small).unwrap()); // segment 1, durably named
    // A disk that forgets to sync its directory: sync_dir does nothing.
    let no_dir_sync = Hooked {
        inner: disk.clone(),
        hook: |call: Call| {
            Ok(if call == Call::SyncDir {
                Then::Skip
            } else {
                Then::Forward
            })
        },
    };
    let store = Store::open(no_dir_sync, small).unwrap();
    for key in [b"a", b"b", b"c", b"d"] {
        store.put(key, b"apple").unwrap(); // c rotates into segment 2
    }
    assert_eq!(segments(&disk).len(), 2);
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, small).unwrap();
    assert_eq!(
        contents(&store),
        map(&[("a", "apple"), ("b", "apple")]),
        "c and d were acknowledged after an fsync, and are gone"
    );
}

// ---------------------------------------------------------------------------
// Chapter "Recovery"
// ---------------------------------------------------------------------------

// Every byte of the newest segment is either recovered or cut.
#[test]
fn exercise_recovery_accounts_for_every_byte() {
    let disk = two_puts();
    let segment = newest_segment(&disk);
    let len = disk.len(&segment).unwrap();
    disk.truncate(&segment, len - 3).unwrap();
    let store = Store::open(disk.clone(), Options::default()).unwrap();
    let stats = store.stats();
    assert_eq!(stats.recovered_bytes + stats.truncated_bytes, len - 3);
    assert_eq!((stats.recovered_bytes, stats.truncated_bytes), (27, 24));
    assert_eq!(disk.len(&segment).unwrap(), 27, "the cut is made on disk");
}

// A batch whose commit record is missing is cut whole, its members too.
#[test]
fn exercise_an_uncommitted_batch_is_cut_whole() {
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), Options::default()).unwrap();
    store.put(b"a", b"apple").unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"b".to_vec(), b"berry".to_vec());
    batch.put(b"c".to_vec(), b"cherry".to_vec());
    store.write_batch(batch).unwrap();
    drop(store);
    let segment = newest_segment(&disk);
    let len = disk.len(&segment).unwrap();
    disk.truncate(&segment, len - 21).unwrap(); // exactly the commit record
    let store = Store::open(disk, Options::default()).unwrap();
    assert_eq!(contents(&store), map(&[("a", "apple")]));
    assert_eq!(store.stats().truncated_bytes, 27 + 28);
}

// A segment indexed from its hint file is not read at open: damage in it
// shows up on the read that meets it, as a typed error. Without the hint,
// open replays the segment and refuses it.
#[test]
fn exercise_a_hinted_segment_is_checked_on_read() {
    let small = options(Durability::Always, 96);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    for i in 0..30u8 {
        store.put(&[b'k', i % 5], &[i; 6]).unwrap();
    }
    store.compact().unwrap();
    drop(store);
    let compacted = segments(&disk)[0].clone();
    disk.flip_bit(&compacted, 21, 0).unwrap(); // the first record's key

    let store = Store::open(disk.clone(), small).unwrap();
    assert_eq!(store.stats().segments_from_hints, 1);
    let errors = store.scan(..).filter(Result::is_err).count();
    assert_eq!(errors, 1, "exactly the damaged record fails to read");
    drop(store);

    let hint = compacted.replace(".seg", ".hint");
    disk.remove(&hint).unwrap();
    assert!(matches!(
        Store::open(disk, small),
        Err(Error::Corruption { offset: 0, .. })
    ));
}

// ---------------------------------------------------------------------------
// Chapter "Compaction"
// ---------------------------------------------------------------------------

// After compaction the sealed segments are one file with the oldest
// number, holding at most one record per key plus its seal; reads are
// unchanged and every byte on disk is still counted as live or dead.
#[test]
fn exercise_compaction_keeps_one_record_per_key() {
    let small = options(Durability::Never, 200);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    for i in 0..100u8 {
        store.put(&[b'k', i % 5], &[i; 10]).unwrap(); // 33-byte records
    }
    let before = contents(&store);
    let sealed_before = segments(&disk).len() - 1;
    assert!(sealed_before > 5, "{sealed_before} sealed segments");
    store.compact().unwrap();
    assert_eq!(contents(&store), before);

    let names = segments(&disk);
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0], "0000000001.seg");
    let records = (disk.len(&names[0]).unwrap() - 29) / 33;
    assert_eq!((disk.len(&names[0]).unwrap() - 29) % 33, 0);
    assert!(records <= 5, "{records} records for 5 keys");
    let stats = store.stats();
    assert_eq!(stats.live_bytes + stats.dead_bytes, log_bytes(&disk));
}

// Why compaction syncs the log before it drops anything: in `Never` mode
// the newest value of a key may still be unsynced when its old record is
// dropped. Without that sync, a power loss right after compaction would
// lose the key altogether.
#[test]
fn exercise_compaction_makes_newer_values_durable_first() {
    let small = options(Durability::Never, 64);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    store.put(b"a", b"old-1").unwrap();
    store.put(b"b", b"filler").unwrap();
    store.put(b"c", b"filler").unwrap(); // rotates: segment 1 is sealed
    store.put(b"a", b"new-2").unwrap(); // unsynced, in the active segment
    store.compact().unwrap(); // drops a = old-1
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, small).unwrap();
    assert_eq!(store.get(b"a").unwrap(), Some(b"new-2".to_vec()));
}

// ---------------------------------------------------------------------------
// Chapter "Concurrency and group commit"
// ---------------------------------------------------------------------------

#[test]
fn exercise_a_store_is_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Store<SimDisk>>();
    shareable::<Store<kv::FsStorage>>();
}

// A put whose fsync fails returns an error, yet its value is already in
// the index: readers see it until the store is reopened. Later writes are
// refused, even once fsync works again; a power loss takes the value away.
#[test]
fn exercise_a_failed_fsync_stops_writes_but_not_reads() {
    let disk = SimDisk::new();
    let failing = Arc::new(AtomicBool::new(false));
    // A disk whose file syncs fail while `failing` is set.
    let flag = failing.clone();
    let storage = Hooked {
        inner: disk.clone(),
        hook: move |call: Call| {
            if call == Call::Sync && flag.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("simulated EIO from fsync"));
            }
            Ok(Then::Forward)
        },
    };
    let store = Store::open(storage, Options::default()).unwrap();
    store.put(b"a", b"1").unwrap();
    failing.store(true, Ordering::SeqCst);
    assert!(matches!(store.put(b"b", b"2"), Err(Error::Io(_))));
    assert_eq!(store.get(b"b").unwrap(), Some(b"2".to_vec()), "visible");
    failing.store(false, Ordering::SeqCst);
    assert!(matches!(store.put(b"c", b"3"), Err(Error::Failed)));
    assert!(matches!(store.sync(), Err(Error::Failed)));
    assert!(matches!(store.compact(), Err(Error::Failed)));
    drop(store);
    disk.crash(Crash::DropUnsynced);
    let store = Store::open(disk, Options::default()).unwrap();
    assert_eq!(contents(&store), map(&[("a", "1")]));
}

// ---------------------------------------------------------------------------
// Chapter "Talking to it with redis-cli"
// ---------------------------------------------------------------------------

// The SCAN cursor is a rank. Deleting a key before the cursor shifts every
// later key down by one, so the next call starts one key too far.
#[test]
fn exercise_a_scan_cursor_can_skip_a_key() {
    let store = Store::open(SimDisk::new(), Options::default()).unwrap();
    for key in [b"a", b"b", b"c", b"d"] {
        store.put(key, b"").unwrap();
    }
    let (first, cursor) = store.keys_at(0, 2);
    assert_eq!((first, cursor), (vec![b"a".to_vec(), b"b".to_vec()], 2));
    store.delete(b"a").unwrap();
    let (second, cursor) = store.keys_at(cursor, 2);
    assert_eq!((second, cursor), (vec![b"d".to_vec()], 0));
    // c was present for the whole scan and was never returned.
}

// Replies of `execute`, the server's command table, without a network.
#[test]
fn exercise_replies_on_the_wire() {
    let store = Store::open(SimDisk::new(), Options::default()).unwrap();
    let reply = |words: &[&str]| {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let mut out = Vec::new();
        kv::server::execute(&store, &args, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(reply(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(reply(&["get", "k"]), "$1\r\nv\r\n");
    assert_eq!(reply(&["GET", "nope"]), "$-1\r\n");
    assert_eq!(reply(&["PING", "hi"]), "$2\r\nhi\r\n");
    assert_eq!(reply(&["DEL", "k", "k"]), ":1\r\n");
    assert_eq!(
        reply(&["SET", "k", "v", "EX", "10"]),
        "-ERR SET options are not supported\r\n"
    );
    assert_eq!(reply(&["ECHO", "x"]), "-ERR unknown command 'ECHO'\r\n");
}

// ---------------------------------------------------------------------------
// Chapter "B-trees, LSM trees and this store"
// ---------------------------------------------------------------------------

// Open replays the whole log, whatever the number of live keys: recovery
// work grows with the bytes on disk. Compaction shrinks the log, and its
// hint file spares open the reading of the compacted segment.
#[test]
fn exercise_open_replays_the_log_not_the_live_data() {
    let small = options(Durability::Never, 4 << 10);
    let disk = SimDisk::new();
    let store = Store::open(disk.clone(), small).unwrap();
    for i in 0..1000u32 {
        store.put(b"one key", &i.to_le_bytes()).unwrap();
    }
    drop(store);
    let store = Store::open(disk.clone(), small).unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(store.stats().recovered_bytes, log_bytes(&disk));
    assert_eq!(store.stats().segments_from_hints, 0);
    let before = log_bytes(&disk);
    store.compact().unwrap();
    drop(store);
    let store = Store::open(disk.clone(), small).unwrap();
    assert!(log_bytes(&disk) < before / 2);
    assert_eq!(store.stats().segments_from_hints, 1);
}
