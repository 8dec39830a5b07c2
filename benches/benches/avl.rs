//! `AvlMap` against `std::collections::BTreeMap` and the published `avl`
//! crate: insert, get, remove, full iteration and short ranges, at 10³, 10⁵
//! and 10⁶ `u64` keys inserted in random and in sorted order.
//!
//! Run: `cargo bench -p benches --bench avl` (about 15 minutes on 2 cores);
//! filter with e.g. `cargo bench -p benches --bench avl -- get-random`.
//! Results land in `target/criterion/`; `cargo xtask figures --timing` turns
//! them into the book's timing figure.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use benches::arena::ArenaAvl;
use benches::{AvlCrateMap, BenchMap, Order, SIZES, keys, probes};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

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

/// Building a map of n keys from empty, per key.
fn insert<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("insert-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter(|| M::build(black_box(&keys)))
            });
        }
    }
}

/// Look-ups of present keys (1,000 per iteration).
fn get<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("get-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            let map = M::build(&keys);
            let probes = probes(&keys, BATCH);
            group.throughput(Throughput::Elements(BATCH as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter(|| {
                    probes
                        .iter()
                        .fold(0u64, |acc, &k| acc.wrapping_add(map.fetch(k).unwrap_or(0)))
                })
            });
        }
    }
}

/// Removals of present keys (1,000 per iteration, from a fresh copy).
fn remove<M: BenchMap + Clone>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("remove-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            let map = M::build(&keys);
            let mut victims = probes(&keys, BATCH);
            victims.sort_unstable();
            victims.dedup();
            group.throughput(Throughput::Elements(victims.len() as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter_batched_ref(
                    || map.clone(),
                    |map| {
                        victims
                            .iter()
                            .fold(0u64, |acc, &k| acc.wrapping_add(map.delete(k).unwrap_or(0)))
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
}

/// One full in-order iteration, per entry.
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

/// Range queries of 100 entries from a random present key, per query.
fn range<M: BenchMap>(c: &mut Criterion) {
    for order in Order::ALL {
        let mut group = configure(c, &format!("range-{}", order.name()));
        for n in SIZES {
            let keys = keys(n, order);
            let map = M::build(&keys);
            let starts = probes(&keys, BATCH / 10);
            group.throughput(Throughput::Elements(starts.len() as u64));
            group.bench_function(BenchmarkId::new(M::NAME, n), |b| {
                b.iter(|| {
                    starts.iter().fold(0u64, |acc, &k| {
                        acc.wrapping_add(map.sum_range(k, RANGE_LEN))
                    })
                })
            });
        }
    }
}

fn all<M: BenchMap + Clone>(c: &mut Criterion) {
    insert::<M>(c);
    get::<M>(c);
    remove::<M>(c);
    iterate::<M>(c);
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
    insert::<ArenaAvl>(c);
    get::<ArenaAvl>(c);
    iterate::<ArenaAvl>(c);
}

criterion_group!(benches, avl_map, btree_map, avl_crate, arena);
criterion_main!(benches);
