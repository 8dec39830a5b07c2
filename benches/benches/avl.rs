//! `AvlMap` against `std::collections::BTreeMap` and the published `avl`
//! crate: building a map, and insert, get, remove, full iteration and short
//! ranges on a map of 10³, 10⁵ and 10⁶ `u64` keys inserted in random and in
//! sorted order. Per-operation benchmarks draw their keys from a pool of
//! 200,000 so that a large map's caches are not warmed by repetition.
//!
//! Run: `cargo bench -p benches --bench avl` (about 25 minutes on 2 cores);
//! filter with e.g. `cargo bench -p benches --bench avl -- get-random`.
//! Results land in `target/criterion/`; `cargo xtask figures --timing` turns
//! them into the book's timing figure.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::arena::ArenaAvl;
use benches::{
    ArenaBranchFree, AvlCrateMap, BenchMap, Order, SIZES, fresh_keys, keys, mutation_batch, probes,
    removal_pool,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Look-ups, removals and range starts per timed iteration.
const BATCH: usize = 1_000;
/// Entries per range query.
const RANGE_LEN: usize = 100;

fn configure<'a>(
    c: &'a mut Criterion,
    group: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(group);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.sample_size(20);
    group
}

// ANCHOR: pool
/// Probes are drawn from a pool this large and used in turn, so that at 10⁶
/// keys the benchmark does not keep re-reading the same 1,000 cached paths
/// (the performance chapter measures what a pool of 1,000 does). Set
/// `STRATA_BENCH_POOL` to try another size.
fn pool_size() -> usize {
    std::env::var("STRATA_BENCH_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&p| p >= BATCH)
        .unwrap_or(200_000)
}

/// The next `len` keys from `pool`, moving `cursor` on.
fn next_batch<'a>(pool: &'a [u64], cursor: &mut usize, len: usize) -> &'a [u64] {
    if *cursor + len > pool.len() {
        *cursor = 0;
    }
    let batch = &pool[*cursor..*cursor + len];
    *cursor += len;
    batch
}
// ANCHOR_END: pool

/// Insertions of new keys into a map of n keys, [`mutation_batch`] (1,000,
/// or n/10 for small maps) per iteration from a pool of 200,000 (random
/// order: random new keys; sorted order: the next larger keys). Only the
/// insertions are timed; the keys are removed again afterwards so the map
/// keeps its size.
fn insert<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("insert-{}", order.name()));
        for n in SIZES {
            let mut map = M::build(&keys(n, order));
            let pool = fresh_keys(n, order, pool_size());
            let mut cursor = 0;
            let len = mutation_batch(n);
            group.throughput(Throughput::Elements(len as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let batch = next_batch(&pool, &mut cursor, len);
                        let started = Instant::now();
                        for &k in batch {
                            map.put(k, k);
                        }
                        timed += started.elapsed();
                        for &k in batch {
                            map.delete(k);
                        }
                    }
                    timed
                })
            });
        }
    }
}

/// Building a map of n keys from empty, per key (dropping it is not timed).
fn build<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("build-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter_with_large_drop(|| M::build(black_box(&keys)))
            });
        }
    }
}

// ANCHOR: get
/// Look-ups of present keys, 1,000 per iteration from a pool of 200,000.
fn get<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("get-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            let map = M::build(&keys);
            let pool = probes(&keys, pool_size());
            let mut cursor = 0;
            group.throughput(Throughput::Elements(BATCH as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter(|| {
                    let batch = next_batch(&pool, &mut cursor, BATCH);
                    batch
                        .iter()
                        .fold(0u64, |acc, &k| acc.wrapping_add(map.fetch(k).unwrap_or(0)))
                })
            });
        }
    }
}
// ANCHOR_END: get

/// Removals of present keys, [`mutation_batch`] distinct keys in random order
/// per iteration, from a pool of 200,000 ([`removal_pool`]). Only the
/// removals are timed; the keys are put back afterwards, so the map keeps
/// its size and most of its insertion-order memory layout (a clone would lay
/// the nodes out afresh, compactly, and flatter the cache).
fn remove<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("remove-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            let mut map = M::build(&keys);
            let len = mutation_batch(n);
            let pool = removal_pool(&keys, len, pool_size());
            let mut cursor = 0;
            group.throughput(Throughput::Elements(len as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let batch = next_batch(&pool, &mut cursor, len);
                        let started = Instant::now();
                        let removed = batch
                            .iter()
                            .fold(0u64, |acc, &k| acc.wrapping_add(map.delete(k).unwrap_or(0)));
                        timed += started.elapsed();
                        black_box(removed);
                        for &k in batch {
                            map.put(k, k);
                        }
                    }
                    timed
                })
            });
        }
    }
}

/// One full in-order iteration with a `for` loop (external iteration, the
/// common case), per entry.
fn iterate<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("iterate-{}", order.name()));
        for n in SIZES {
            let map = M::build(&keys(n, order));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| b.iter(|| map.sum_all()));
        }
    }
}

/// One full in-order iteration with `fold` (internal iteration), per entry.
fn fold<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("fold-{}", order.name()));
        for n in SIZES {
            let map = M::build(&keys(n, order));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| b.iter(|| map.fold_all()));
        }
    }
}

/// Range queries of 100 entries from a random present key, 100 per iteration.
fn range<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("range-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            let map = M::build(&keys);
            let pool = probes(&keys, pool_size());
            let mut cursor = 0;
            group.throughput(Throughput::Elements((BATCH / 10) as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter(|| {
                    let batch = &next_batch(&pool, &mut cursor, BATCH / 10);
                    batch.iter().fold(0u64, |acc, &k| {
                        acc.wrapping_add(map.sum_range(k, RANGE_LEN))
                    })
                })
            });
        }
    }
}

fn all<M: BenchMap>(c: &mut Criterion) {
    build::<M>(c);
    insert::<M>(c);
    get::<M>(c);
    remove::<M>(c);
    iterate::<M>(c);
    fold::<M>(c);
    range::<M>(c);
}

fn avl_map(c: &mut Criterion) {
    all::<avl::AvlMap<u64, u64>>(c);
}

fn btree_map(c: &mut Criterion) {
    all::<BTreeMap<u64, u64>>(c);
}

fn avl_crate(c: &mut Criterion) {
    all::<AvlCrateMap>(c);
}

/// The representation experiment (see `benches/src/arena.rs`): only the
/// operations it implements.
fn arena(c: &mut Criterion) {
    build::<ArenaAvl>(c);
    get::<ArenaAvl>(c);
    get::<ArenaBranchFree>(c);
    iterate::<ArenaAvl>(c);
}

criterion_group!(benches, avl_map, btree_map, avl_crate, arena);
criterion_main!(benches);
