//! `hnsw-data`: make and convert the files `hnsw-eval` and other tools read.
//!
//! ```text
//! hnsw-data clustered --count 20000 --dimension 384 --clusters 100 --spread 0.3 --seed 1 --out base.fvecs
//! hnsw-data uniform   --count 1000 --dimension 64 --seed 2 --out queries.fvecs
//! hnsw-data convert   --input train-images-idx3-ubyte.gz [--skip N] [--max N] --out base.fvecs
//! hnsw-data truth     --base base.fvecs --queries queries.fvecs --metric l2 --k 100 [--threads 2] --out truth.ivecs
//! ```
//!
//! Synthetic sets come from [`hnsw::data`] (seeded: the same seed gives the
//! same bytes); `convert` reads any format [`hnsw::io::read_vectors`] does
//! and writes `.fvecs`; `truth` computes exact neighbours with
//! [`hnsw::FlatIndex`], the queries split over `--threads` threads.
//! `cargo xtask compare-hnswlib` uses it to give hnswlib and `hnsw-eval`
//! the same data and the same ground truth.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use hnsw::data::{self, Dataset};
use hnsw::{FlatIndex, Metric};

#[derive(Parser)]
#[command(name = "hnsw-data", about = "Make, convert and label vector files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Gaussian clusters around centres uniform in [-1, 1)^dimension.
    Clustered {
        #[arg(long)]
        count: usize,
        #[arg(long)]
        dimension: usize,
        #[arg(long, default_value_t = 100)]
        clusters: usize,
        /// Standard deviation of each component around its centre.
        #[arg(long, default_value_t = 0.3)]
        spread: f32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output file (.fvecs).
        #[arg(long)]
        out: PathBuf,
    },
    /// Components uniform in [-1, 1).
    Uniform {
        #[arg(long)]
        count: usize,
        #[arg(long)]
        dimension: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output file (.fvecs).
        #[arg(long)]
        out: PathBuf,
    },
    /// Any readable vector file to .fvecs, optionally a slice of it.
    Convert {
        /// Input (.fvecs, .bvecs, .ivecs, .npy, IDX, optionally .gz).
        #[arg(long)]
        input: PathBuf,
        /// Leave out the first N vectors.
        #[arg(long, default_value_t = 0)]
        skip: usize,
        /// Keep at most N vectors (after --skip).
        #[arg(long)]
        max: Option<usize>,
        /// Output file (.fvecs).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a generated homework problem: walk HNSW's greedy search by hand
    /// over twelve points (OSTEP style).
    Homework {
        /// The problem; the same seed gives the same points and query.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the solution too.
        #[arg(long)]
        answer: bool,
    },
    /// Exact k nearest base ids of every query, as .ivecs.
    Truth {
        #[arg(long)]
        base: PathBuf,
        #[arg(long)]
        queries: PathBuf,
        /// l2, cosine or ip.
        #[arg(long, default_value = "l2")]
        metric: Metric,
        #[arg(long, default_value_t = 100)]
        k: usize,
        #[arg(long, default_value_t = 1)]
        threads: usize,
        /// Output file (.ivecs).
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Homework { seed, answer } => {
            let homework = hnsw::homework::Homework::generate(seed);
            print!("{}", homework.problem());
            if answer {
                print!("\n{}", homework.answer());
            }
            Ok(())
        }
        Command::Clustered {
            count,
            dimension,
            clusters,
            spread,
            seed,
            out,
        } => {
            if count == 0 || dimension == 0 || clusters == 0 || spread.is_nan() || spread < 0.0 {
                bail!(
                    "--count, --dimension and --clusters must be positive, --spread not negative"
                );
            }
            write(
                &out,
                &data::clustered(count, dimension, clusters, spread, seed),
            )
        }
        Command::Uniform {
            count,
            dimension,
            seed,
            out,
        } => {
            if count == 0 || dimension == 0 {
                bail!("--count and --dimension must be positive");
            }
            write(&out, &data::uniform(count, dimension, seed))
        }
        Command::Convert {
            input,
            skip,
            max,
            out,
        } => {
            let mut all = hnsw::io::read_vectors(&input)?;
            if skip >= all.len() {
                bail!("--skip {skip} leaves none of {} vectors", all.len());
            }
            let mut kept = all.split_off(skip);
            if let Some(max) = max {
                kept.split_off(max.min(kept.len()));
            }
            write(&out, &kept)
        }
        Command::Truth {
            base,
            queries,
            metric,
            k,
            threads,
            out,
        } => {
            if k == 0 || threads == 0 {
                bail!("--k and --threads must be positive");
            }
            let base = hnsw::io::read_vectors(&base)?;
            let queries = hnsw::io::read_vectors(&queries)?;
            let lists = truth(&base, &queries, metric, k, threads)?;
            hnsw::io::write_ivecs(&out, &lists)
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: {} nearest of {} base vectors for {} queries",
                out.display(),
                k,
                base.len(),
                queries.len()
            );
            Ok(())
        }
    }
}

fn write(out: &PathBuf, data: &Dataset) -> Result<()> {
    hnsw::io::write_fvecs(out, data).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {}: {} vectors × {} components",
        out.display(),
        data.len(),
        data.dimension
    );
    Ok(())
}

/// Exact neighbours of every query, the queries split into `threads` runs.
fn truth(
    base: &Dataset,
    queries: &Dataset,
    metric: Metric,
    k: usize,
    threads: usize,
) -> Result<Vec<Vec<u64>>> {
    if base.dimension != queries.dimension {
        bail!(
            "base vectors have {} components, queries {}",
            base.dimension,
            queries.dimension
        );
    }
    let mut exact = FlatIndex::new(metric, base.dimension)?;
    for (id, v) in base.iter().enumerate() {
        exact.insert(id as u64, v)?;
    }
    let exact = &exact;
    let chunk = queries.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..queries.len())
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    (start..(start + chunk).min(queries.len()))
                        .map(|i| {
                            let found = exact.search(queries.vector(i), k)?;
                            Ok(found.iter().map(|n| n.id).collect())
                        })
                        .collect::<Result<Vec<Vec<u64>>>>()
                })
            })
            .collect();
        let mut lists = Vec::with_capacity(queries.len());
        for handle in handles {
            lists.extend(handle.join().expect("a truth thread panicked")?);
        }
        Ok(lists)
    })
}
