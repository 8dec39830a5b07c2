//! Saving and loading: a round trip gives identical results, and any damage
//! to the file is refused as corrupt (never a panic, never a wrong graph).

use hnsw::{Error, Hnsw, Metric, Params, Selection, data};

fn small_index() -> Hnsw {
    let params = Params {
        selection: Selection::Heuristic {
            extend_candidates: true,
            keep_pruned: true,
        },
        seed: 9,
        ..Params::new(3)
    };
    let mut index = Hnsw::new(Metric::Cosine, 3, params).unwrap();
    for (id, v) in data::uniform(12, 3, 2).iter().enumerate() {
        index.insert(id as u64 * 10, v).unwrap();
    }
    index.remove(30).unwrap();
    index
}

#[test]
fn a_round_trip_gives_identical_results_and_continues_identically() {
    let dir = tempfile::tempdir().unwrap();
    let points = data::clustered(3_000, 16, 8, 0.2, 1);
    let mut index = Hnsw::new(Metric::L2, 16, Params::new(8)).unwrap();
    for (id, v) in points.iter().enumerate() {
        index.insert(id as u64, v).unwrap();
    }
    for id in (0..3_000).step_by(5) {
        index.remove(id).unwrap();
    }
    let path = dir.path().join("index.hnsw");
    index.save(&path).unwrap();
    let mut loaded = Hnsw::load(&path).unwrap();
    assert_eq!(loaded.to_bytes(), index.to_bytes());
    for q in data::clustered(50, 16, 8, 0.2, 2).iter() {
        assert_eq!(
            loaded.search(q, 10, 30).unwrap(),
            index.search(q, 10, 30).unwrap()
        );
    }
    // Later inserts draw the same levels as they would have without the trip.
    for (id, v) in data::uniform(100, 16, 3).iter().enumerate() {
        index.insert(10_000 + id as u64, v).unwrap();
        loaded.insert(10_000 + id as u64, v).unwrap();
    }
    assert_eq!(loaded.to_bytes(), index.to_bytes());
}

#[test]
fn an_empty_index_round_trips() {
    let index = Hnsw::new(Metric::InnerProduct, 5, Params::new(4)).unwrap();
    let loaded = Hnsw::from_bytes(&index.to_bytes()).unwrap();
    assert!(loaded.is_empty());
    assert_eq!(loaded.to_bytes(), index.to_bytes());
    assert!(loaded.search(&[1.0; 5], 3, 10).unwrap().is_empty());
}

#[test]
fn every_flipped_bit_and_every_truncation_is_refused() {
    let bytes = small_index().to_bytes();
    for at in 0..bytes.len() {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1 << bit;
            assert!(
                matches!(Hnsw::from_bytes(&damaged), Err(Error::Corrupt(_))),
                "bit {bit} of byte {at}"
            );
        }
    }
    for len in 0..bytes.len() {
        assert!(
            matches!(Hnsw::from_bytes(&bytes[..len]), Err(Error::Corrupt(_))),
            "{len} bytes"
        );
    }
}

#[test]
fn a_well_checksummed_file_with_a_broken_graph_is_refused() {
    let index = small_index();
    let mut bytes = index.to_bytes();
    bytes.truncate(bytes.len() - 4);
    // The last u32 of the links: make some neighbour point past the end.
    let last = bytes.len() - 4;
    let nodes = index.nodes() as u32;
    // Find a layer-0 slot count > 0 and aim its first neighbour at `nodes`.
    let header = 12 + 4 + 1 + 16 + 8 + 8 + 3 + 8 + 8 + index.nodes() * 10;
    let links = header + index.nodes() * 3 * 4;
    assert!(links < last);
    bytes[links + 4..links + 8].copy_from_slice(&nodes.to_le_bytes());
    let crc = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    match Hnsw::from_bytes(&bytes) {
        Err(Error::Corrupt(message)) => assert!(message.contains("inconsistent"), "{message}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn files_of_another_version_or_kind_are_refused() {
    let mut bytes = small_index().to_bytes();
    bytes[12] = 2; // version 2
    let len = bytes.len();
    let crc = crc32c::crc32c(&bytes[..len - 4]);
    bytes[len - 4..].copy_from_slice(&crc.to_le_bytes());
    match Hnsw::from_bytes(&bytes) {
        Err(Error::Corrupt(message)) => assert!(message.contains("version 2"), "{message}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|_| ())),
    }
    assert!(matches!(
        Hnsw::from_bytes(b"not an index at all"),
        Err(Error::Corrupt(_))
    ));
    assert!(matches!(
        Hnsw::load("/nonexistent/strata.hnsw"),
        Err(Error::Io(_))
    ));
}

/// `save_to` writes through any `kv::Storage` and is crash-safe: on a
/// simulated disk that loses everything unsynced (or keeps a torn prefix of
/// it), an index saved before the crash loads back whole, and a save
/// interrupted at any step leaves the old index or the new one, never a
/// damaged file.
#[test]
fn save_to_a_storage_survives_a_crash_at_every_step() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicI64;

    use kv::{Crash, SimDisk, Storage};

    let old = small_index();
    let mut new = small_index();
    new.insert(999, &[0.5, 0.5, 0.5]).unwrap();
    for budget in 0..8 {
        for crash in [
            Crash::DropUnsynced,
            Crash::Torn {
                seed: budget as u64,
            },
        ] {
            let disk = SimDisk::new();
            old.save_to(&disk, "index.hnsw").unwrap();
            let dying = kv::dies_after(disk.clone(), Arc::new(AtomicI64::new(budget)));
            let finished = new.save_to(&dying, "index.hnsw").is_ok();
            disk.crash(crash);
            let loaded = Hnsw::load_from(&disk, "index.hnsw").unwrap_or_else(|e| {
                panic!("budget {budget}, {crash:?}: the saved index is damaged: {e}")
            });
            let bytes = loaded.to_bytes();
            assert!(
                bytes == old.to_bytes() || bytes == new.to_bytes(),
                "budget {budget}, {crash:?}: neither the old index nor the new one"
            );
            if finished {
                assert_eq!(
                    bytes,
                    new.to_bytes(),
                    "budget {budget}: a finished save is durable"
                );
            }
            assert!(
                disk.list()
                    .unwrap()
                    .iter()
                    .all(|n| n.starts_with("index.hnsw"))
            );
        }
    }
}
