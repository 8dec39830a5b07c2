//! The `hnsw` index against hnsw_rs and instant-distance (the adapters and
//! what "the same parameters" means for each are in `benches/src/ann.rs`):
//! k = 10, m = 16, ef_construction = 200, one thread.
//!
//! Groups:
//! * `hnsw-search-fashion-mnist` (if its files are installed: Debian's
//!   `dataset-fashion-mnist`, or `STRATA_FASHION_MNIST`) and
//!   `hnsw-search-clustered-384`: each engine at each ef, and the exact
//!   `flat` search. One iteration searches a batch of 200 queries (the
//!   throughput is in elements, so criterion reports queries per second).
//!   Recall@10 of each engine at each ef over 1,000 queries is not a time:
//!   it goes to `target/criterion/hnsw-recall.json`, with each index's
//!   build time (one build, wall clock), for the figures and the README.
//! * `hnsw-scaling`: this crate only, on seeded clustered 64-d sets of
//!   1,000 to 32,000 vectors: `build` (a whole build per iteration) and
//!   `query` (a batch at ef = 64).
//!
//! Run: `cargo bench -p benches --bench hnsw` (about 35 minutes on 2 cores,
//! most of it building the peers' indexes); pick engines with
//! `STRATA_BENCH_ENGINES=strata,hnsw_rs` and data sets with
//! `STRATA_HNSW_DATA=clustered-384`. `cargo xtask figures --timing hnsw`
//! draws the figures and prints the README table.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use benches::ann::{self, Ann, Bench, ENGINES, SEED};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hnsw::Metric;
use serde_json::{Value, json};

const K: usize = 10;
const M: usize = 16;
const EF_CONSTRUCTION: usize = 200;
/// Queries whose recall is measured.
const QUERIES: usize = 1_000;
/// Queries per timed iteration.
const BATCH: usize = 200;
/// The ef values searched.
const EFS: [usize; 12] = [10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 256];
/// Sizes of the scaling sets.
const SCALING: [usize; 6] = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000];
/// ef of the scaling queries.
const SCALING_EF: usize = 64;

fn wanted(list: &str, name: &str) -> bool {
    std::env::var(list).map_or(true, |list| {
        list.split(',').any(|e| name.starts_with(e.trim()))
    })
}

/// criterion's output directory, where the recall file goes beside it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("criterion")
}

/// Adds `rows` to `hnsw-recall.json`, replacing rows of the same data set,
/// engine and ef (so a filtered run keeps the others).
fn record(rows: &[Value]) {
    let path = criterion_dir().join("hnsw-recall.json");
    let mut all: Vec<Value> = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let key = |v: &Value| (v["dataset"].clone(), v["engine"].clone(), v["ef"].clone());
    all.retain(|old| rows.iter().all(|new| key(new) != key(old)));
    all.extend_from_slice(rows);
    std::fs::create_dir_all(criterion_dir()).expect("criterion directory");
    std::fs::write(&path, serde_json::to_vec_pretty(&all).expect("JSON")).expect("recall file");
}

fn search(c: &mut Criterion) {
    let mut sets = Vec::new();
    if wanted("STRATA_HNSW_DATA", "fashion-mnist") {
        match ann::fashion_mnist(QUERIES, K) {
            Some(set) => sets.push(set),
            None => eprintln!(
                "skipping Fashion-MNIST: no files in {} (install Debian's dataset-fashion-mnist or set STRATA_FASHION_MNIST)",
                ann::fashion_mnist_dir().display()
            ),
        }
    }
    if wanted("STRATA_HNSW_DATA", "clustered-384") {
        sets.push(ann::clustered_384(QUERIES, K));
    }
    for set in &sets {
        search_set(c, set);
    }
}

fn search_set(c: &mut Criterion, set: &Bench) {
    let mut group = c.benchmark_group(format!("hnsw-search-{}", set.name));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    let batch: Vec<&[f32]> = set.queries.iter().take(BATCH).collect();
    let mut rows = Vec::new();

    let exact = ann::flat(&set.base, set.metric);
    group.bench_function(BenchmarkId::new("flat", "exact"), |b| {
        b.iter(|| {
            for q in &batch {
                black_box(exact.search(q, K).expect("valid query"));
            }
        });
    });
    rows.push(
        json!({"dataset": set.name, "engine": "flat", "ef": null, "recall": 1.0,
                     "queries": BATCH, "build_seconds": 0.0}),
    );

    for engine in ENGINES {
        if !wanted("STRATA_BENCH_ENGINES", engine) {
            continue;
        }
        let started = Instant::now();
        let mut index: Box<dyn Ann> = ann::build(engine, &set.base, set.metric, M, EF_CONSTRUCTION);
        let build_seconds = started.elapsed().as_secs_f64();
        eprintln!("{}: built {engine} in {build_seconds:.1} s", set.name);
        for ef in EFS {
            index.set_ef(ef);
            let recall = set.recall(index.as_mut(), K);
            rows.push(
                json!({"dataset": set.name, "engine": engine, "ef": ef, "recall": recall,
                             "queries": BATCH, "build_seconds": build_seconds}),
            );
            let index = &*index;
            let mut out = Vec::with_capacity(ef);
            group.bench_function(BenchmarkId::new(engine, format!("ef={ef}")), |b| {
                b.iter(|| {
                    for q in &batch {
                        index.search(q, K, &mut out);
                        black_box(&out);
                    }
                });
            });
        }
    }
    group.finish();
    record(&rows);
}

fn scaling(c: &mut Criterion) {
    let mut group = c.benchmark_group("hnsw-scaling");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    let mut rows = Vec::new();
    for n in SCALING {
        let mut base = hnsw::data::clustered(n + BATCH, 64, 100, 0.1, SEED ^ n as u64);
        let queries = base.split_off(n);
        let set = Bench::new("scaling", base, queries, Metric::L2, K);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(BenchmarkId::new("build", format!("n={n}")), |b| {
            b.iter(|| {
                black_box(ann::Strata::build(
                    &set.base,
                    Metric::L2,
                    M,
                    EF_CONSTRUCTION,
                ))
            });
        });
        let mut index = ann::Strata::build(&set.base, Metric::L2, M, EF_CONSTRUCTION);
        index.set_ef(SCALING_EF);
        let recall = set.recall(&mut index, K);
        rows.push(
            json!({"dataset": format!("scaling-{n}"), "engine": "strata", "ef": SCALING_EF,
                         "recall": recall, "queries": BATCH, "build_seconds": null}),
        );
        group.throughput(Throughput::Elements(BATCH as u64));
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("query", format!("n={n}")), |b| {
            b.iter(|| {
                for q in set.queries.iter() {
                    index.search(q, K, &mut out);
                    black_box(&out);
                }
            });
        });
    }
    group.finish();
    record(&rows);
}

criterion_group!(benches, search, scaling);
criterion_main!(benches);
