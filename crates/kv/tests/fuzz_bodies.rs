//! The fuzz targets' checks (`fuzz/bodies.rs`), run on stable in CI over
//! seeded inputs: real segments written by the store, then damaged by
//! random bit flips, truncations, insertions and splices. `cargo xtask
//! fuzz` runs the same checks under libFuzzer, which searches far wider.

#[path = "../../../fuzz/bodies.rs"]
mod bodies;

use kv::{Durability, Options, SimDisk, Storage, Store, WriteBatch};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};

const SEED: u64 = 0xF022_0001;
const CASES: usize = 600;

/// The segment files of a small store with puts, deletes and batches.
fn real_segments(rng: &mut ChaCha8Rng) -> Vec<Vec<u8>> {
    let disk = SimDisk::new();
    let options = Options {
        durability: Durability::Never,
        segment_size_bytes: 400,
        ..Options::default()
    };
    let store = Store::open(disk.clone(), options).unwrap();
    for i in 0..60u32 {
        let key = format!("k{}", rng.random_range(0..12u32)).into_bytes();
        match rng.random_range(0..4u32) {
            0 => {
                store.delete(&key).unwrap();
            }
            1 => {
                let mut batch = WriteBatch::new();
                batch.put(key.clone(), i.to_le_bytes().to_vec());
                batch.delete(format!("k{}", i % 12).into_bytes());
                store.write_batch(batch).unwrap();
            }
            _ => store.put(&key, &i.to_le_bytes().repeat(3)).unwrap(),
        }
    }
    drop(store);
    let mut names = disk.list().unwrap();
    names.retain(|name| name.ends_with(".seg"));
    names.sort();
    names
        .iter()
        .map(|name| disk.contents(name).unwrap())
        .collect()
}

fn damage(rng: &mut ChaCha8Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(1..4u32) {
        let len = bytes.len();
        match rng.random_range(0..5u32) {
            0 if len > 0 => {
                let at = rng.random_range(0..len);
                bytes[at] ^= 1 << rng.random_range(0..8u32);
            }
            1 => bytes.truncate(rng.random_range(0..=len)),
            2 => {
                let at = rng.random_range(0..=len);
                let mut noise = vec![0; rng.random_range(1..30usize)];
                rng.fill_bytes(&mut noise);
                bytes.splice(at..at, noise);
            }
            3 if len > 0 => {
                let start = rng.random_range(0..len);
                let end = rng.random_range(start..=len);
                let copy = bytes[start..end].to_vec();
                let at = rng.random_range(0..=len);
                bytes.splice(at..at, copy);
            }
            _ => {}
        }
    }
    bytes
}

#[test]
fn fuzz_bodies_hold_on_damaged_real_segments() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let segments = real_segments(&mut rng);
    assert!(
        segments.len() >= 3,
        "the store rotated: {} segments",
        segments.len()
    );
    for case in 0..CASES {
        let first = &segments[rng.random_range(0..segments.len())];
        let data = if rng.random_bool(0.2) {
            first.clone()
        } else {
            damage(&mut rng, first.clone())
        };
        bodies::decode_records(&data);
        // Flags byte, then (when split) the split offset, then the bytes.
        let flags: u8 = rng.random_range(0..4);
        let mut input = vec![flags];
        if flags & 2 != 0 {
            let pick = rng.random_range(0..segments.len());
            let second = damage(&mut rng, segments[pick].clone());
            let at = u16::try_from(data.len()).unwrap();
            input.extend_from_slice(&at.to_le_bytes());
            input.extend_from_slice(&data);
            input.extend_from_slice(&second);
        } else {
            input.extend_from_slice(&data);
        }
        let result = std::panic::catch_unwind(|| bodies::open_segments(&input));
        assert!(
            result.is_ok(),
            "case {case} (seed {SEED:#x}) panicked on input {input:?}"
        );
    }
}

#[test]
fn fuzz_bodies_accept_undamaged_segments() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    for segment in real_segments(&mut rng) {
        bodies::decode_records(&segment);
        let mut input = vec![0];
        input.extend_from_slice(&segment);
        bodies::open_segments(&input);
    }
}
