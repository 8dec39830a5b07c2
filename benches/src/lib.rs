//! Shared pieces of Strata's benchmarks: seeded workloads and one trait over
//! the ordered maps being compared, so every map runs the same code.
//!
//! The criterion benches live in `benches/` (`cargo bench -p benches`); the
//! heap-bytes table comes from `cargo run --release -p benches --bin heap-bytes`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ann;
pub mod arena;
pub mod kv;

use std::collections::BTreeMap;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// The seed of every benchmark workload.
pub const SEED: u64 = 0x5EED_5EED;

/// Map sizes measured: 10³, 10⁵, 10⁶.
pub const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

/// Key orders measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Distinct keys drawn uniformly at random (seeded).
    Random,
    /// Keys 0, 1, 2, … inserted in increasing order.
    Sorted,
}

impl Order {
    /// Both orders.
    pub const ALL: [Order; 2] = [Order::Random, Order::Sorted];

    /// Name used in benchmark ids and figures.
    pub fn name(self) -> &'static str {
        match self {
            Order::Random => "random",
            Order::Sorted => "sorted",
        }
    }
}

/// `n` distinct `u64` keys in the given insertion order.
pub fn keys(n: usize, order: Order) -> Vec<u64> {
    match order {
        Order::Sorted => (0..n as u64).collect(),
        Order::Random => {
            let mut rng = ChaCha8Rng::seed_from_u64(SEED);
            let mut seen = std::collections::HashSet::with_capacity(n);
            let mut keys = Vec::with_capacity(n);
            while keys.len() < n {
                let key: u64 = rng.random();
                if seen.insert(key) {
                    keys.push(key);
                }
            }
            keys
        }
    }
}

/// `count` keys that are not among `keys(n, order)`, for insertions into a
/// map of `n` keys: for `Random`, the next distinct keys of the same seeded
/// stream; for `Sorted`, `n, n + 1, …` (each batch appends on the right).
pub fn fresh_keys(n: usize, order: Order, count: usize) -> Vec<u64> {
    match order {
        Order::Sorted => (n as u64..(n + count) as u64).collect(),
        Order::Random => keys(n + count, Order::Random).split_off(n),
    }
}

/// `count` keys picked (seeded) from `keys`, for look-ups of present keys.
pub fn probes(keys: &[u64], count: usize) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 1);
    (0..count)
        .map(|_| keys[rng.random_range(0..keys.len())])
        .collect()
}

/// `count` keys of `keys` (rounded down to a multiple of `batch`) for
/// removals: independent seeded shuffles of `keys`, each cut to a multiple
/// of `batch`, one after another. Every aligned window of `batch` keys is
/// therefore distinct and in random order, and the sequence does not repeat
/// within one pool even when `keys` is short.
pub fn removal_pool(keys: &[u64], batch: usize, count: usize) -> Vec<u64> {
    assert!(
        batch > 0 && batch <= keys.len(),
        "batch must fit in the map"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(SEED ^ 2);
    let per_shuffle = keys.len() - keys.len() % batch;
    let mut pool = Vec::with_capacity(count);
    let mut shuffled = keys.to_vec();
    while pool.len() + batch <= count {
        // Fisher–Yates, from the seeded stream.
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.random_range(0..=i));
        }
        let take = per_shuffle.min(count - count % batch - pool.len());
        pool.extend_from_slice(&shuffled[..take]);
    }
    pool
}

/// Keys inserted or removed per timed iteration in a map of `n` keys: 1,000,
/// but never more than a tenth of the map, so a batch changes the map's size
/// by at most 10% before it is undone.
pub fn mutation_batch(n: usize) -> usize {
    (n / 10).clamp(1, 1_000)
}

/// The operations the benchmarks time, over `u64 → u64` maps.
pub trait BenchMap: Default {
    /// Name in reports.
    const NAME: &'static str;
    /// Inserts or overwrites.
    fn put(&mut self, key: u64, value: u64);
    /// Looks a key up.
    fn fetch(&self, key: u64) -> Option<u64>;
    /// Removes a key.
    fn delete(&mut self, key: u64) -> Option<u64>;
    /// Sums every value in key order with a `for` loop (external iteration).
    fn sum_all(&self) -> u64;
    /// Sums every value in key order with `fold` (internal iteration, which
    /// an iterator may implement more cheaply than repeated `next`).
    fn fold_all(&self) -> u64;
    /// Sums the values of the first `count` keys at or after `start`.
    fn sum_range(&self, start: u64, count: usize) -> u64;

    /// A map holding `keys`, inserted in order, each mapped to itself.
    fn build(keys: &[u64]) -> Self {
        let mut map = Self::default();
        for &k in keys {
            map.put(k, k);
        }
        map
    }
}

impl BenchMap for avl::AvlMap<u64, u64> {
    const NAME: &'static str = "AvlMap";
    fn put(&mut self, key: u64, value: u64) {
        self.insert(key, value);
    }
    fn fetch(&self, key: u64) -> Option<u64> {
        self.get(&key).copied()
    }
    fn delete(&mut self, key: u64) -> Option<u64> {
        self.remove(&key)
    }
    fn sum_all(&self) -> u64 {
        let mut sum = 0u64;
        for value in self.values() {
            sum = sum.wrapping_add(*value);
        }
        sum
    }
    fn fold_all(&self) -> u64 {
        self.values().fold(0, |a, v| a.wrapping_add(*v))
    }
    fn sum_range(&self, start: u64, count: usize) -> u64 {
        self.range(start..)
            .take(count)
            .fold(0, |a, (_, v)| a.wrapping_add(*v))
    }
}

impl BenchMap for BTreeMap<u64, u64> {
    const NAME: &'static str = "BTreeMap";
    fn put(&mut self, key: u64, value: u64) {
        self.insert(key, value);
    }
    fn fetch(&self, key: u64) -> Option<u64> {
        self.get(&key).copied()
    }
    fn delete(&mut self, key: u64) -> Option<u64> {
        self.remove(&key)
    }
    fn sum_all(&self) -> u64 {
        let mut sum = 0u64;
        for value in self.values() {
            sum = sum.wrapping_add(*value);
        }
        sum
    }
    fn fold_all(&self) -> u64 {
        self.values().fold(0, |a, v| a.wrapping_add(*v))
    }
    fn sum_range(&self, start: u64, count: usize) -> u64 {
        self.range(start..)
            .take(count)
            .fold(0, |a, (_, v)| a.wrapping_add(*v))
    }
}

/// The published `avl` crate (0.8, parent pointers, `unsafe` inside).
pub type AvlCrateMap = avl_crate::AvlTreeMap<u64, u64>;

impl BenchMap for AvlCrateMap {
    const NAME: &'static str = "avl-crate";
    fn put(&mut self, key: u64, value: u64) {
        self.insert(key, value);
    }
    fn fetch(&self, key: u64) -> Option<u64> {
        self.get(&key).copied()
    }
    fn delete(&mut self, key: u64) -> Option<u64> {
        self.remove(&key)
    }
    fn sum_all(&self) -> u64 {
        let mut sum = 0u64;
        for value in self.values() {
            sum = sum.wrapping_add(*value);
        }
        sum
    }
    fn fold_all(&self) -> u64 {
        self.values().fold(0, |a, v| a.wrapping_add(*v))
    }
    fn sum_range(&self, start: u64, count: usize) -> u64 {
        self.range(start..)
            .take(count)
            .fold(0, |a, (_, v)| a.wrapping_add(*v))
    }
}

/// The arena experiment: removal is not implemented there, so `delete` is not
/// benchmarked for it (see [`arena`]).
impl BenchMap for arena::ArenaAvl {
    const NAME: &'static str = "arena-AVL";
    fn put(&mut self, key: u64, value: u64) {
        self.insert(key, value);
    }
    fn fetch(&self, key: u64) -> Option<u64> {
        self.get(key)
    }
    fn delete(&mut self, _key: u64) -> Option<u64> {
        unreachable!("the arena experiment does not implement removal")
    }
    fn sum_all(&self) -> u64 {
        arena::ArenaAvl::sum_all(self)
    }
    fn fold_all(&self) -> u64 {
        arena::ArenaAvl::sum_all(self)
    }
    fn sum_range(&self, _start: u64, _count: usize) -> u64 {
        unreachable!("the arena experiment does not implement ranges")
    }
}

/// The arena experiment with the branch-free descent
/// ([`arena::ArenaAvl::get_branch_free`]); only look-ups differ.
#[derive(Clone, Default)]
pub struct ArenaBranchFree(pub arena::ArenaAvl);

impl BenchMap for ArenaBranchFree {
    const NAME: &'static str = "arena-branch-free";
    fn put(&mut self, key: u64, value: u64) {
        self.0.insert(key, value);
    }
    fn fetch(&self, key: u64) -> Option<u64> {
        self.0.get_branch_free(key)
    }
    fn delete(&mut self, _key: u64) -> Option<u64> {
        unreachable!("the arena experiment does not implement removal")
    }
    fn sum_all(&self) -> u64 {
        self.0.sum_all()
    }
    fn fold_all(&self) -> u64 {
        self.0.sum_all()
    }
    fn sum_range(&self, _start: u64, _count: usize) -> u64 {
        unreachable!("the arena experiment does not implement ranges")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agree<M: BenchMap>() {
        let keys = keys(2_000, Order::Random);
        let reference = BTreeMap::build(&keys);
        let map = M::build(&keys);
        for &k in &probes(&keys, 100) {
            assert_eq!(map.fetch(k), reference.fetch(k), "{}", M::NAME);
            assert_eq!(
                map.sum_range(k, 50),
                reference.sum_range(k, 50),
                "{}",
                M::NAME
            );
        }
        assert_eq!(map.sum_all(), reference.sum_all(), "{}", M::NAME);
    }

    #[test]
    fn removal_batches_are_distinct_present_keys() {
        for n in [1_000, 4_321] {
            let keys = keys(n, Order::Random);
            let batch = mutation_batch(n);
            let pool = removal_pool(&keys, batch, 20_000);
            assert_eq!(pool.len(), 20_000 - 20_000 % batch);
            let present: std::collections::HashSet<u64> = keys.iter().copied().collect();
            for window in pool.chunks(batch) {
                let distinct: std::collections::HashSet<u64> = window.iter().copied().collect();
                assert_eq!(distinct.len(), batch, "n = {n}");
                assert!(window.iter().all(|k| present.contains(k)));
            }
            assert_ne!(pool[..batch], pool[per(n, batch)..per(n, batch) + batch]);
        }
        fn per(n: usize, batch: usize) -> usize {
            n - n % batch
        }
    }

    #[test]
    fn every_map_computes_the_same_answers() {
        agree::<avl::AvlMap<u64, u64>>();
        agree::<AvlCrateMap>();
    }

    #[test]
    fn fresh_keys_are_new() {
        for order in Order::ALL {
            let present: std::collections::HashSet<u64> = keys(1_000, order).into_iter().collect();
            let fresh = fresh_keys(1_000, order, 500);
            assert_eq!(fresh.len(), 500);
            assert!(fresh.iter().all(|k| !present.contains(k)), "{order:?}");
        }
    }

    #[test]
    fn random_keys_are_distinct_and_seeded() {
        let a = keys(10_000, Order::Random);
        assert_eq!(a, keys(10_000, Order::Random));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), a.len());
    }
}
