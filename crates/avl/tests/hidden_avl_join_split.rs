//! Hidden grading tests of the lab `avl-join-split`: joins of trees of very
//! different heights, a split at every rank, and split-then-append round
//! trips on trees built by insertion.

use avl::AvlMap;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

// One key appended to a large map, or a large map appended after one key:
// the join walks down one spine, and the result grows by at most a level.
#[test]
fn join_of_very_different_heights() {
    for n in [1u32, 2, 3, 100, 1 << 12, 1 << 14] {
        let big: AvlMap<u32, ()> = (1..=n).map(|k| (k, ())).collect();
        let height = big.height();
        // The single key after the big map.
        let mut after = big.clone();
        after.append(&mut AvlMap::from([(n + 1, ())]));
        // The single key before the big map.
        let mut before = AvlMap::from([(0, ())]);
        before.append(&mut big.clone());
        for (name, map, expected) in [("after", &after, 1..=n + 1), ("before", &before, 0..=n)] {
            map.check_invariants()
                .unwrap_or_else(|e| panic!("{name}, n = {n}: {e}"));
            assert!(map.keys().copied().eq(expected), "{name}, n = {n}: keys");
            assert!(
                map.height() <= height + 1,
                "{name}, n = {n}: height {}",
                map.height()
            );
        }
    }
}

// split_off at every key (and past the end) of a tree built by insertion.
#[test]
fn split_at_every_rank() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut base = AvlMap::new();
    for _ in 0..300 {
        let k = rng.random_range(0..1000u32);
        base.insert(k, k);
    }
    let keys: Vec<u32> = base.keys().copied().collect();
    for (rank, &at) in keys.iter().enumerate().chain([(keys.len(), &1000)]) {
        let mut left = base.clone();
        let right = left.split_off(&at);
        left.check_invariants()
            .unwrap_or_else(|e| panic!("split_off({at}), left: {e}"));
        right
            .check_invariants()
            .unwrap_or_else(|e| panic!("split_off({at}), right: {e}"));
        assert!(
            left.keys().copied().eq(keys[..rank].iter().copied()),
            "split_off({at}), left"
        );
        assert!(
            right.keys().copied().eq(keys[rank..].iter().copied()),
            "split_off({at}), right"
        );
    }
}

// Splitting a map and appending the pieces back gives the map again.
#[test]
fn split_then_append_round_trips() {
    strata_lab::for_each_seed(16, |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut map = AvlMap::new();
        for _ in 0..rng.random_range(0..800) {
            let k = rng.random_range(0..5000u32);
            map.insert(k, k ^ 0x55);
        }
        let expected: Vec<(u32, u32)> = map.iter().map(|(&k, &v)| (k, v)).collect();
        let mut pieces = Vec::new();
        for _ in 0..5 {
            let at = rng.random_range(0..5000u32);
            pieces.push(map.split_off(&at));
        }
        for mut piece in pieces {
            map.append(&mut piece);
            map.check_invariants()
                .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
        assert!(
            map.iter().map(|(&k, &v)| (k, v)).eq(expected),
            "seed {seed}"
        );
    });
}
