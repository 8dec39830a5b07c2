//! `cargo xtask compare-hnswlib`: hnswlib (the paper authors' C++ library,
//! from PyPI) and `hnsw-eval` on the same files, ground truth, parameters
//! and threads, one after the other, and a side-by-side table.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo, run};

/// What PyPI gives the venv (pinned, so runs compare like with like).
const HNSWLIB: &str = "hnswlib==0.8.0";
const NUMPY: &str = "numpy==2.4.6";

/// Seed of the clustered set: `benches::ann::SEED` (0x484E5357), so that
/// this comparison and the criterion benches measure the same vectors.
const CLUSTERED_SEED: &str = "1213092695";

/// Where Debian's `dataset-fashion-mnist` puts the files.
const FASHION_MNIST_DEBIAN: &str = "/usr/share/datasets/fashion-mnist";

/// The data sets the comparison knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Data {
    /// Fashion-MNIST: 60,000 training images as the base, test images as
    /// queries, 784 components, L2 (the ann-benchmarks set).
    FashionMnist,
    /// 20,000 + queries seeded clustered vectors of 384 components, cosine.
    Clustered,
}

/// The knobs both libraries get.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Options {
    /// Data sets to compare on (repeat or comma-separate); both by default.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Data::FashionMnist, Data::Clustered])]
    data: Vec<Data>,
    /// Queries taken from the data set's query set.
    #[arg(long, default_value_t = 1_000)]
    queries: usize,
    /// Threads for the build and the queries (each library gets the same).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 10)]
    k: usize,
    #[arg(long, default_value_t = 16)]
    m: usize,
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// The ef values searched, comma-separated.
    #[arg(long, default_value = "10,16,24,32,48,64,96,128,192,256,384")]
    ef: String,
    /// Runs of each library, alternating (build and all searches each
    /// time); the table shows each ef's median. On a shared machine one
    /// run can be off by a third either way.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// One measured point of one library.
#[derive(Debug, Clone, Copy)]
struct Point {
    ef: u64,
    recall: f64,
    qps: f64,
    build_seconds: f64,
}

/// The Fashion-MNIST directory: `$STRATA_FASHION_MNIST`, or Debian's
/// package's, installed with apt-get when missing.
pub(crate) fn fashion_mnist_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("STRATA_FASHION_MNIST") {
        return Ok(PathBuf::from(dir));
    }
    let dir = PathBuf::from(FASHION_MNIST_DEBIAN);
    if !dir.join("train-images-idx3-ubyte.gz").exists() {
        let apt = |args: &[&str]| run("apt-get", args);
        apt(&["install", "-y", "-q", "dataset-fashion-mnist"])
            .or_else(|_| {
                apt(&["update", "-q"])
                    .and_then(|()| apt(&["install", "-y", "-q", "dataset-fashion-mnist"]))
            })
            .context(
                "installing Debian's dataset-fashion-mnist with apt-get (run as root, or set \
                 STRATA_FASHION_MNIST to a directory holding the four IDX .gz files)",
            )?;
    }
    Ok(dir)
}

pub(crate) fn compare(root: &Path, options: &Options) -> Result<()> {
    if options.threads == 0 || options.queries == 0 || options.runs == 0 {
        bail!("--threads, --queries and --runs must be positive");
    }
    cargo(&["build", "--release", "--quiet", "-p", "hnsw", "--bins"])?;
    let bin = root.join("target/release");
    let python = venv(&root.join("target/compare-hnswlib/venv"))?;
    let script = root.join("xtask/compare_hnswlib.py");
    let mut summary = Vec::new();
    for &data in &options.data {
        let dir = root.join("target/compare-hnswlib").join(match data {
            Data::FashionMnist => "fashion-mnist",
            Data::Clustered => "clustered-384",
        });
        let metric = prepare(&bin, &dir, data, options.queries)?;
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let common = [
            format!("--base={}", path("base.fvecs")),
            format!("--queries={}", path("queries.fvecs")),
            format!("--truth={}", path("truth.ivecs")),
            format!("--metric={metric}"),
            format!("--k={}", options.k),
            format!("--m={}", options.m),
            format!("--ef-construction={}", options.ef_construction),
            format!("--ef={}", options.ef),
            format!("--threads={}", options.threads),
        ];
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for _ in 0..options.runs {
            let eval = bin.join("hnsw-eval");
            ours.push(json_lines(Command::new(eval).args(&common).arg("--json"))?);
            theirs.push(json_lines(
                Command::new(&python).arg(&script).args(&common),
            )?);
        }
        let (ours, theirs) = (median(&ours), median(&theirs));
        let name = format!("{data:?}");
        print_table(&name, options, &ours, &theirs);
        summary.push((name, ours, theirs));
    }
    println!(
        "\n## QPS at equal recall@{} (interpolated between ef values)\n",
        options.k
    );
    println!(
        "| data | recall | strata QPS | hnswlib QPS | strata ÷ hnswlib | build strata | build hnswlib |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, ours, theirs) in &summary {
        for target in [0.95, 0.99] {
            let (a, b) = (qps_at(ours, target), qps_at(theirs, target));
            let show = |q: Option<f64>| q.map_or("not reached".to_string(), |q| format!("{q:.0}"));
            let ratio = match (a, b) {
                (Some(a), Some(b)) => format!("{:.2}×", a / b),
                _ => "–".into(),
            };
            println!(
                "| {name} | {target} | {} | {} | {ratio} | {:.1} s | {:.1} s |",
                show(a),
                show(b),
                ours[0].build_seconds,
                theirs[0].build_seconds
            );
        }
    }
    Ok(())
}

/// The venv's python, creating the venv with hnswlib and numpy if needed.
fn venv(dir: &Path) -> Result<PathBuf> {
    python_venv(
        dir,
        "import hnswlib, numpy",
        &[NUMPY, HNSWLIB],
        "installing hnswlib and numpy from PyPI (hnswlib compiles C++: needs g++)",
    )
}

/// The python of a venv in `dir` that can run `imports`: created, and
/// `packages` installed from PyPI, unless it already can (`what` says
/// what the install is, for its error).
pub(crate) fn python_venv(
    dir: &Path,
    imports: &str,
    packages: &[&str],
    what: &'static str,
) -> Result<PathBuf> {
    let python = dir.join("bin/python");
    let ready = Command::new(&python)
        .args(["-c", imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        let dir_str = dir.to_str().context("venv path is not UTF-8")?;
        run("python3", &["-m", "venv", dir_str])?;
        let pip = dir.join("bin/pip");
        let mut args = vec!["install", "-q"];
        args.extend_from_slice(packages);
        run(pip.to_str().context("venv path is not UTF-8")?, &args).context(what)?;
    }
    Ok(python)
}

/// Writes `base.fvecs`, `queries.fvecs` and `truth.ivecs` (exact 100
/// nearest) into `dir` unless they are there; returns the metric.
fn prepare(bin: &Path, dir: &Path, data: Data, queries: usize) -> Result<&'static str> {
    let metric = match data {
        Data::FashionMnist => "l2",
        Data::Clustered => "cosine",
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stamp = dir.join("made-with");
    let wanted = format!("{queries} queries, clustered seed {CLUSTERED_SEED}");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str())
        && dir.join("truth.ivecs").exists()
    {
        return Ok(metric);
    }
    let tool = bin.join("hnsw-data");
    let tool = tool.to_str().context("target path is not UTF-8")?;
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let queries_arg = queries.to_string();
    match data {
        Data::FashionMnist => {
            let source = fashion_mnist_dir()?;
            let file = |name: &str| source.join(name).to_string_lossy().into_owned();
            run(
                tool,
                &[
                    "convert",
                    "--input",
                    &file("train-images-idx3-ubyte.gz"),
                    "--out",
                    &p("base.fvecs"),
                ],
            )?;
            run(
                tool,
                &[
                    "convert",
                    "--input",
                    &file("t10k-images-idx3-ubyte.gz"),
                    "--max",
                    &queries_arg,
                    "--out",
                    &p("queries.fvecs"),
                ],
            )?;
        }
        Data::Clustered => {
            let total = (20_000 + queries).to_string();
            run(
                tool,
                &[
                    "clustered",
                    "--count",
                    &total,
                    "--dimension",
                    "384",
                    "--clusters",
                    "100",
                    "--spread",
                    "0.3",
                    "--seed",
                    CLUSTERED_SEED,
                    "--out",
                    &p("all.fvecs"),
                ],
            )?;
            run(
                tool,
                &[
                    "convert",
                    "--input",
                    &p("all.fvecs"),
                    "--max",
                    "20000",
                    "--out",
                    &p("base.fvecs"),
                ],
            )?;
            run(
                tool,
                &[
                    "convert",
                    "--input",
                    &p("all.fvecs"),
                    "--skip",
                    "20000",
                    "--out",
                    &p("queries.fvecs"),
                ],
            )?;
        }
    }
    run(
        tool,
        &[
            "truth",
            "--base",
            &p("base.fvecs"),
            "--queries",
            &p("queries.fvecs"),
            "--metric",
            metric,
            "--k",
            "100",
            "--threads",
            "2",
            "--out",
            &p("truth.ivecs"),
        ],
    )?;
    std::fs::write(&stamp, wanted)?;
    Ok(metric)
}

/// Runs `command`, echoing its stderr, and parses its stdout's JSON lines.
fn json_lines(command: &mut Command) -> Result<Vec<Point>> {
    eprintln!("$ {command:?}");
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed ({})", output.status);
    }
    let mut points = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let value: Value =
            serde_json::from_str(line).with_context(|| format!("not JSON: {line}"))?;
        let number = |key: &str| {
            value[key]
                .as_f64()
                .with_context(|| format!("no number {key:?} in {line}"))
        };
        points.push(Point {
            ef: number("ef")? as u64,
            recall: number("recall")?,
            qps: number("qps")?,
            build_seconds: number("build_seconds")?,
        });
    }
    if points.is_empty() {
        bail!("{command:?} printed no results");
    }
    Ok(points)
}

/// Per ef, the median QPS and build time over runs (recall is the same in
/// every run of one library: the build is deterministic).
fn median(runs: &[Vec<Point>]) -> Vec<Point> {
    let middle = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    runs[0]
        .iter()
        .enumerate()
        .map(|(i, first)| Point {
            qps: middle(runs.iter().map(|r| r[i].qps).collect()),
            build_seconds: middle(runs.iter().map(|r| r[i].build_seconds).collect()),
            ..*first
        })
        .collect()
}

fn print_table(name: &str, options: &Options, ours: &[Point], theirs: &[Point]) {
    println!(
        "\n## {name}: k = {}, m = {}, ef_construction = {}, {} thread(s), {} queries, median of {} runs\n",
        options.k,
        options.m,
        options.ef_construction,
        options.threads,
        options.queries,
        options.runs
    );
    println!(
        "build: strata {:.2} s, hnswlib {:.2} s ({:.2}×)\n",
        ours[0].build_seconds,
        theirs[0].build_seconds,
        ours[0].build_seconds / theirs[0].build_seconds
    );
    println!("| ef | strata recall | strata QPS | hnswlib recall | hnswlib QPS |");
    println!("|---:|---:|---:|---:|---:|");
    for (a, b) in ours.iter().zip(theirs) {
        println!(
            "| {} | {:.4} | {:.0} | {:.4} | {:.0} |",
            a.ef, a.recall, a.qps, b.recall, b.qps
        );
    }
}

/// QPS at `target` recall: log-linear interpolation between the two ef
/// values whose recalls bracket it; the lowest ef's QPS if even that one
/// reaches it (a lower bound); `None` if no ef reaches it.
fn qps_at(points: &[Point], target: f64) -> Option<f64> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(|p| p.ef);
    let first = sorted.iter().position(|p| p.recall >= target)?;
    if first == 0 {
        return Some(sorted[0].qps);
    }
    let (lo, hi) = (sorted[first - 1], sorted[first]);
    let t = (target - lo.recall) / (hi.recall - lo.recall);
    Some((lo.qps.ln() + t * (hi.qps.ln() - lo.qps.ln())).exp())
}
