//! `hnsw-eval`: build an index from a file, search it at several `ef`, and
//! report recall and speed against the exact answer.
//!
//! ```text
//! hnsw-eval --base FILE --queries FILE [--truth FILE] --metric l2|cosine|ip
//!           --k 10 --m 16 --ef-construction 200 --ef 10,20,40,80,160
//!           --threads 1 [--json]
//! ```
//!
//! Formats go by extension (`hnsw::io::read_vectors`); ground truth is an
//! `.ivecs` of true neighbour ids per query, computed exactly when absent.
//! Per `ef` it prints recall@k, queries per second (queries spread over
//! `--threads` threads; one by default), mean and 99th-percentile latency,
//! with the build time and the index's memory. With `--json`, one JSON
//! object per line with at least `ef`, `recall`, `qps` and `build_seconds`.
//! With `--threads` above 1 the build uses `Hnsw::insert_parallel` on that
//! many threads too.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hnsw::data::Dataset;
use hnsw::{FlatIndex, Hnsw, Metric, Params};

#[derive(Parser, Debug)]
#[command(
    name = "hnsw-eval",
    about = "Build an HNSW index and measure recall and speed"
)]
struct Args {
    /// Vectors to index (.fvecs, .bvecs, .ivecs, .npy, IDX, optionally .gz).
    #[arg(long)]
    base: PathBuf,
    /// Query vectors, same formats.
    #[arg(long)]
    queries: PathBuf,
    /// True neighbour ids per query (.ivecs); computed exactly if absent.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Distance: l2 (squared Euclidean), cosine, or ip (inner product).
    #[arg(long, default_value = "l2")]
    metric: Metric,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Links per node (m0 = 2m on layer 0).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// Candidates kept while inserting.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Candidates kept while searching, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,80,160")]
    ef: Vec<usize>,
    /// Threads searching at once, and building (1: `insert`, one at a time).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Seed of the level draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Use only the first N base vectors.
    #[arg(long)]
    max_base: Option<usize>,
    /// Use only the first N queries.
    #[arg(long)]
    max_queries: Option<usize>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

fn truncate(mut data: Dataset, max: Option<usize>) -> Dataset {
    if let Some(max) = max
        && max < data.len()
    {
        data.split_off(max);
    }
    data
}

/// One query's result ids and how long it took.
type Timed = (Vec<u64>, Duration);

/// Searches every query at `ef` on `threads` threads; returns the results
/// (in query order), each query's latency, and the wall time.
fn run_queries(
    index: &Hnsw,
    queries: &Dataset,
    k: usize,
    ef: usize,
    threads: usize,
) -> Result<(Vec<Vec<u64>>, Vec<Duration>, Duration)> {
    let n = queries.len();
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let started = Instant::now();
    let parts: Vec<Result<Vec<Timed>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    (start..(start + chunk).min(n))
                        .map(|i| {
                            let t = Instant::now();
                            let found = index.search(queries.vector(i), k, ef)?;
                            Ok((found.iter().map(|r| r.id).collect(), t.elapsed()))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a search thread panicked"))
            .collect()
    });
    let wall = started.elapsed();
    let mut results = Vec::with_capacity(n);
    let mut latencies = Vec::with_capacity(n);
    for part in parts {
        for (ids, latency) in part? {
            results.push(ids);
            latencies.push(latency);
        }
    }
    Ok((results, latencies, wall))
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.k == 0 || args.ef.is_empty() || args.threads == 0 {
        bail!("--k, --ef and --threads must be positive");
    }
    let base = truncate(hnsw::io::read_vectors(&args.base)?, args.max_base);
    let queries = truncate(hnsw::io::read_vectors(&args.queries)?, args.max_queries);
    if base.dimension != queries.dimension {
        bail!(
            "base vectors have {} components, queries {}",
            base.dimension,
            queries.dimension
        );
    }
    let params = Params {
        ef_construction: args.ef_construction,
        seed: args.seed,
        ..Params::new(args.m)
    };
    let mut index = Hnsw::new(args.metric, base.dimension, params)?;
    let started = Instant::now();
    if args.threads == 1 {
        for (id, v) in base.iter().enumerate() {
            index
                .insert(id as u64, v)
                .with_context(|| format!("base vector {id}"))?;
        }
    } else {
        let items: Vec<(u64, &[f32])> = base
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect();
        index.insert_parallel(&items, args.threads)?;
    }
    let build = started.elapsed();
    let truth: Vec<Vec<u64>> = match &args.truth {
        Some(path) => {
            let lists = hnsw::io::read_ids(path)?;
            if lists.len() < queries.len() {
                bail!("{} truth lists for {} queries", lists.len(), queries.len());
            }
            lists
        }
        None => {
            let mut exact = FlatIndex::new(args.metric, base.dimension)?;
            for (id, v) in base.iter().enumerate() {
                exact.insert(id as u64, v)?;
            }
            queries
                .iter()
                .map(|q| Ok(exact.search(q, args.k)?.iter().map(|r| r.id).collect()))
                .collect::<Result<_>>()?
        }
    };
    if !args.json {
        println!(
            "{} base vectors × {} components, {} queries, metric {}, m {}, ef_construction {}",
            base.len(),
            base.dimension,
            queries.len(),
            args.metric.name(),
            args.m,
            args.ef_construction
        );
        println!(
            "build {:.2} s ({} thread{}), index memory {:.1} MiB",
            build.as_secs_f64(),
            args.threads,
            if args.threads == 1 { "" } else { "s" },
            index.memory_bytes() as f64 / (1 << 20) as f64
        );
        println!(
            "{:>6} {:>9} {:>10} {:>12} {:>12}",
            "ef", "recall@k", "QPS", "mean µs", "p99 µs"
        );
    }
    for &ef in &args.ef {
        let (results, mut latencies, wall) =
            run_queries(&index, &queries, args.k, ef, args.threads)?;
        let mut hits = 0usize;
        let mut wanted = 0usize;
        for (found, truth) in results.iter().zip(&truth) {
            let truth: HashSet<u64> = truth.iter().take(args.k).copied().collect();
            wanted += truth.len();
            hits += found.iter().filter(|id| truth.contains(id)).count();
        }
        let recall = if wanted == 0 {
            1.0
        } else {
            hits as f64 / wanted as f64
        };
        let qps = queries.len() as f64 / wall.as_secs_f64();
        latencies.sort_unstable();
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let mean =
            latencies.iter().map(|&d| micros(d)).sum::<f64>() / latencies.len().max(1) as f64;
        let p99 = latencies
            .get((latencies.len() * 99).div_ceil(100).saturating_sub(1))
            .map_or(0.0, |&d| micros(d));
        if args.json {
            println!(
                "{{\"ef\": {ef}, \"recall\": {recall:.6}, \"qps\": {qps:.1}, \"mean_latency_us\": {mean:.2}, \"p99_latency_us\": {p99:.2}, \"build_seconds\": {:.3}, \"memory_bytes\": {}, \"k\": {}, \"m\": {}, \"ef_construction\": {}, \"threads\": {}, \"metric\": \"{}\", \"base\": {}, \"queries\": {}}}",
                build.as_secs_f64(),
                index.memory_bytes(),
                args.k,
                args.m,
                args.ef_construction,
                args.threads,
                args.metric.name(),
                base.len(),
                queries.len()
            );
        } else {
            println!("{ef:>6} {recall:>9.4} {qps:>10.0} {mean:>12.1} {p99:>12.1}");
        }
    }
    Ok(())
}
