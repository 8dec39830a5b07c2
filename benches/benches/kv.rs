//! The `kv` store against redb, sled and fjall: random 16-byte keys and
//! 100-byte values, one write per commit, at the same durability (the
//! mapping is in `benches/src/kv.rs`).
//!
//! Groups:
//! * `kv-put-never`, `kv-put-always`: one put per call into a store of
//!   200,000 keys;
//! * `kv-put-always-threads`: 1 and 8 threads putting at once, fsync'd;
//! * `kv-get`: random existing keys of a 200,000-key store;
//! * `kv-scan-1000`: 1,000 entries in key order from a random key;
//! * `kv-recovery`: open a closed store of 10⁴, 10⁵, 10⁶ keys and read one
//!   key (`strata-log` replays its log, `strata-hints` was compacted first
//!   so its sealed segments have hint files);
//! * `kv-compaction`: compact a store of 100,000 keys each written twice
//!   (half the bytes dead); throughput counts the bytes written.
//!
//! Run: `cargo bench -p benches --bench kv` (about 15 minutes on 2 cores;
//! stores go to the temporary directory); filter with e.g.
//! `cargo bench -p benches --bench kv -- kv-get`, and pick engines with
//! `STRATA_BENCH_ENGINES=strata,fjall`. `cargo xtask figures
//! --timing` turns the results into the book's figures and the README table.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use benches::kv::{Engine, Fjall, KEY_LEN, Redb, SEED, Sled, Strata, VALUE_LEN, random_keys};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main,
};
use kv::{Durability, Options, Store};

/// Keys in the store that puts, gets and scans run against.
const PREFILL: usize = 200_000;
/// Fresh keys for puts, used in turn (a run that needs more overwrites).
const PUT_POOL: usize = 2_000_000;
/// Entries per scan.
const SCAN_LEN: usize = 1_000;
/// Store sizes for recovery.
const RECOVERY_SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
/// Keys in the compaction benchmark, each written twice.
const COMPACTION_KEYS: usize = 100_000;

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    group
}

/// Whether to run `engine`: all of them unless `STRATA_BENCH_ENGINES` lists
/// some (comma-separated, e.g. `strata,redb`). Criterion's own filter skips
/// the measurement but not the setup, which loads every store.
fn wanted(engine: &str) -> bool {
    std::env::var("STRATA_BENCH_ENGINES").map_or(true, |list| {
        list.split(',').any(|e| engine.starts_with(e.trim()))
    })
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// A store of [`PREFILL`] keys, opened at `durable`.
fn prefilled<E: Engine>(dir: &Path, durable: bool) -> E {
    let engine = E::open(dir, durable);
    engine.load(&random_keys(SEED, PREFILL));
    engine
}

fn put<E: Engine>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    durable: bool,
    fresh: &[[u8; KEY_LEN]],
) {
    if !wanted(E::NAME) {
        return;
    }
    let dir = tempdir();
    let engine = prefilled::<E>(dir.path(), durable);
    let value = [0x5a; VALUE_LEN];
    let mut next = 0;
    group.bench_function(E::NAME, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                engine.put(&fresh[next % fresh.len()], &value);
                next += 1;
            }
            started.elapsed()
        });
    });
}

fn puts(c: &mut Criterion) {
    let fresh = random_keys(SEED ^ 1, PUT_POOL);
    for (name, durable) in [("kv-put-never", false), ("kv-put-always", true)] {
        let mut group = configure(c, name);
        group.throughput(Throughput::Elements(1));
        put::<Strata>(&mut group, durable, &fresh);
        put::<Redb>(&mut group, durable, &fresh);
        put::<Sled>(&mut group, durable, &fresh);
        put::<Fjall>(&mut group, durable, &fresh);
        group.finish();
    }
}

/// `threads` writers share the `iters` fsync'd puts of one measurement.
fn put_threads<E: Engine>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    threads: usize,
    fresh: &[[u8; KEY_LEN]],
) {
    if !wanted(E::NAME) {
        return;
    }
    let dir = tempdir();
    let engine = prefilled::<E>(dir.path(), true);
    let value = [0x5a; VALUE_LEN];
    let next = AtomicUsize::new(0);
    group.bench_with_input(
        BenchmarkId::new(E::NAME, threads),
        &threads,
        |b, &threads| {
            b.iter_custom(|iters| {
                let iters = usize::try_from(iters).expect("iterations fit in usize");
                let started = Instant::now();
                std::thread::scope(|scope| {
                    for thread in 0..threads {
                        let (engine, next, value) = (&engine, &next, &value);
                        // Thread t does puts t, t + threads, …: `iters` in all.
                        let mine = (iters + threads - 1 - thread) / threads;
                        scope.spawn(move || {
                            for _ in 0..mine {
                                let i = next.fetch_add(1, Ordering::Relaxed);
                                engine.put(&fresh[i % fresh.len()], value);
                            }
                        });
                    }
                });
                started.elapsed()
            });
        },
    );
}

fn writers(c: &mut Criterion) {
    let fresh = random_keys(SEED ^ 2, PUT_POOL);
    let mut group = configure(c, "kv-put-always-threads");
    group.throughput(Throughput::Elements(1));
    for threads in [1, 8] {
        put_threads::<Strata>(&mut group, threads, &fresh);
        put_threads::<Redb>(&mut group, threads, &fresh);
        put_threads::<Sled>(&mut group, threads, &fresh);
        put_threads::<Fjall>(&mut group, threads, &fresh);
    }
    group.finish();
}

fn get<E: Engine>(group: &mut BenchmarkGroup<'_, WallTime>, probes: &[[u8; KEY_LEN]]) {
    if !wanted(E::NAME) {
        return;
    }
    let dir = tempdir();
    let engine = prefilled::<E>(dir.path(), false);
    let mut next = 0;
    group.bench_function(E::NAME, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let found = engine.get(&probes[next % probes.len()]);
                assert_eq!(black_box(found), Some(VALUE_LEN));
                next += 1;
            }
            started.elapsed()
        });
    });
}

fn scan<E: Engine>(group: &mut BenchmarkGroup<'_, WallTime>, starts: &[[u8; KEY_LEN]]) {
    if !wanted(E::NAME) {
        return;
    }
    let dir = tempdir();
    let engine = prefilled::<E>(dir.path(), false);
    let mut next = 0;
    group.bench_function(E::NAME, |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                // Starts are absent keys, uniformly spread: a scan from one
                // near the end returns fewer than SCAN_LEN entries, for
                // every engine alike.
                black_box(engine.scan(&starts[next % starts.len()], SCAN_LEN));
                next += 1;
            }
            started.elapsed()
        });
    });
}

fn reads(c: &mut Criterion) {
    // The prefilled keys, in a different random order.
    let mut probes = random_keys(SEED, PREFILL);
    let order = random_keys(SEED ^ 3, PREFILL);
    let mut keyed: Vec<_> = order.into_iter().zip(probes.drain(..)).collect();
    keyed.sort_unstable();
    let probes: Vec<_> = keyed.into_iter().map(|(_, key)| key).collect();

    let mut group = configure(c, "kv-get");
    group.throughput(Throughput::Elements(1));
    get::<Strata>(&mut group, &probes);
    get::<Redb>(&mut group, &probes);
    get::<Sled>(&mut group, &probes);
    get::<Fjall>(&mut group, &probes);
    group.finish();

    let starts = random_keys(SEED ^ 4, 10_000);
    let mut group = configure(c, "kv-scan-1000");
    group.throughput(Throughput::Elements(SCAN_LEN as u64));
    scan::<Strata>(&mut group, &starts);
    scan::<Redb>(&mut group, &starts);
    scan::<Sled>(&mut group, &starts);
    scan::<Fjall>(&mut group, &starts);
    group.finish();
}

/// Segments small enough that most of a large store is sealed (and so
/// compacted, with hint files) rather than in the one active segment.
fn small_segments(durability: Durability) -> Options {
    Options {
        durability,
        segment_size_bytes: 16 << 20,
        ..Options::default()
    }
}

fn recover<E: Engine>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    keys: &[[u8; KEY_LEN]],
    setup: impl FnOnce(&Path, &[[u8; KEY_LEN]]),
    open: impl Fn(&Path) -> E,
) {
    if !wanted(name) {
        return;
    }
    let dir = tempdir();
    setup(dir.path(), keys);
    let probe = keys[keys.len() / 2];
    group.bench_with_input(BenchmarkId::new(name, keys.len()), &keys.len(), |b, _| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let started = Instant::now();
                let engine = open(dir.path());
                assert_eq!(engine.get(&probe), Some(VALUE_LEN));
                total += started.elapsed();
                drop(engine);
            }
            total
        });
    });
}

fn recovery(c: &mut Criterion) {
    let mut group = configure(c, "kv-recovery");
    group.warm_up_time(Duration::from_millis(500));
    for n in RECOVERY_SIZES {
        let keys = random_keys(SEED, n);
        let open_strata = |dir: &Path| {
            Strata(Store::open_dir(dir, small_segments(Durability::Never)).expect("open"))
        };
        recover(
            &mut group,
            "strata-log",
            &keys,
            |dir, keys| open_strata(dir).load(keys),
            open_strata,
        );
        recover(
            &mut group,
            "strata-hints",
            &keys,
            |dir, keys| {
                let mut store = open_strata(dir);
                store.load(keys);
                store.compact();
            },
            open_strata,
        );
        let setup = |dir: &Path, keys: &[[u8; KEY_LEN]]| Redb::open(dir, false).load(keys);
        recover(&mut group, Redb::NAME, &keys, setup, |dir| {
            Redb::open(dir, false)
        });
        let setup = |dir: &Path, keys: &[[u8; KEY_LEN]]| Sled::open(dir, false).load(keys);
        recover(&mut group, Sled::NAME, &keys, setup, |dir| {
            Sled::open(dir, false)
        });
        let setup = |dir: &Path, keys: &[[u8; KEY_LEN]]| Fjall::open(dir, false).load(keys);
        recover(&mut group, Fjall::NAME, &keys, setup, |dir| {
            Fjall::open(dir, false)
        });
    }
    group.finish();
}

/// Times `compact` on a fresh store of [`COMPACTION_KEYS`] keys, each
/// written twice.
fn compact<E: Engine>(group: &mut BenchmarkGroup<'_, WallTime>, open: impl Fn(&Path) -> E) {
    if !wanted(E::NAME) {
        return;
    }
    let keys = random_keys(SEED, COMPACTION_KEYS);
    group.bench_function(E::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempdir();
                let mut engine = open(dir.path());
                engine.load(&keys);
                engine.load(&keys);
                let started = Instant::now();
                assert!(engine.compact());
                total += started.elapsed();
            }
            total
        });
    });
}

fn compaction(c: &mut Criterion) {
    let mut group = configure(c, "kv-compaction");
    group.warm_up_time(Duration::from_millis(100));
    group.throughput(Throughput::Bytes(
        (2 * COMPACTION_KEYS * (KEY_LEN + VALUE_LEN)) as u64,
    ));
    compact(&mut group, |dir| {
        let options = Options {
            segment_size_bytes: 4 << 20,
            ..small_segments(Durability::Always)
        };
        Strata(Store::open_dir(dir, options).expect("open"))
    });
    compact(&mut group, |dir| Redb::open(dir, true));
    compact(&mut group, |dir| Fjall::open(dir, true));
    // sled 0.34 compacts in the background and has no call to time.
    group.finish();
}

criterion_group!(benches, puts, writers, reads, recovery, compaction);
criterion_main!(benches);
