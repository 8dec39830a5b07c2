//! Project automation, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`):
//!
//! * `ci` — everything CI checks, in order: formatting, clippy, the tests
//!   (after installing Debian's `redis-tools` and `dataset-fashion-mnist` if
//!   missing, which the `kv serve` and hnsw tests then require, and redis-py
//!   8.2.0 from PyPI in `target/redis-py-venv` for vecstore's redis-py
//!   test), that the benchmarks compile, the book
//!   builds with every include, link and `#anchor` resolving, and the seeded
//!   figures are byte-identical to a fresh run.
//!   `.ci/run` calls exactly this.
//! * `labs [--json | --check]`, `starter --out DIR [--solved IDS]`,
//!   `grade --lab ID [--gradescope FILE] [--seeds N]`, `hint ID`, `status` —
//!   the coursework kit (`labs/README.md`): labs cut from `// BEGIN LAB`
//!   regions of the reference code. `labs --check` is CI's proof that the
//!   kit cannot drift.
//! * `book [--student]` — regenerates the figures, installs the pinned mdBook and
//!   mdbook-linkcheck2 into `.tools/` if they are missing, checks the book's
//!   includes, builds the book into `book/build/html/` (failing on a broken
//!   link or `#anchor`) and prints the path of `index.html`.
//! * `figures [--check | --timing [avl|kv|hnsw|all]]` — regenerates the seeded
//!   figures, checks them, or draws the timing figures from criterion's
//!   results and prints the README's tables.
//! * `redis-bench` — runs `redis-benchmark` against `redis-server` (no
//!   persistence) and `kv serve --durability never`, one after the other in
//!   the same run, pipelined and not, and prints a table (installs Debian's
//!   `redis-server` and `redis-tools` if missing). Not part of `ci`.
//! * `compare-hnswlib [--data fashion-mnist,clustered] [--threads N]` —
//!   builds and queries hnswlib (C++, from PyPI, in a venv under `target/`)
//!   and `hnsw-eval` on the same files, ground truth and threads, and prints
//!   a side-by-side recall / QPS / build-time table. Not part of `ci`.
//! * `embed-server [--port 11434] [--check]` — an Ollama-compatible
//!   `/api/embed` with all-MiniLM-L6-v2 (int8 ONNX, from PyPI, in a venv
//!   under `target/`), for `vecstore import` without Ollama. Not part of `ci`.
//! * `fuzz [TARGET] [--seconds N] [--seed S]` — runs the libFuzzer targets in
//!   `fuzz/` with cargo-fuzz on the nightly toolchain (installing cargo-fuzz
//!   into `.tools/` if missing). Not part of `ci`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

mod book_checks;
mod demo;
mod embed;
mod grade;
mod hnswlib;
mod labs;

/// The mdBook release the book is written for (0.5 changed the plugin API).
const MDBOOK_VERSION: &str = "0.5.4";
/// The link checker the book build runs as a second renderer (`[output.linkcheck2]`
/// in `book/book.toml`); 0.13 is built against mdBook 0.5's renderer API.
const MDBOOK_LINKCHECK2_VERSION: &str = "0.13.0";

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Strata's project automation")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run everything CI checks (what `.ci/run` runs).
    Ci,
    /// Regenerate the figures and build the book into book/build/html/.
    Book {
        /// Build the student edition from the starter (every lab region
        /// shows its stub) into book/build/student/.
        #[arg(long, conflicts_with = "instructor")]
        student: bool,
        /// Build the instructor edition, with the answers appendix
        /// (book/src/instructor/), into book/build/instructor/.
        #[arg(long)]
        instructor: bool,
    },
    /// List the labs, one id per line in course order.
    Labs {
        /// One JSON object per lab (id, title, chapter, points, student_files, …).
        #[arg(long)]
        json: bool,
        /// Check that the kit cannot drift from the reference (CI runs this):
        /// markers, manifests, the starter's lints, full/zero scores.
        #[arg(long, conflicts_with = "json")]
        check: bool,
        /// With --check: the lab to restore alone (default: one picked from
        /// the commit hash).
        #[arg(long, requires = "check", value_name = "ID")]
        sample: Option<String>,
    },
    /// Write a stand-alone starter workspace: every lab region replaced by
    /// its stub, no hidden tests, no answers.
    Starter {
        /// Where to write it (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Labs to leave solved (with the labs they require), comma-separated.
        #[arg(long, value_name = "ID,ID…", value_delimiter = ',')]
        solved: Vec<String>,
        /// Keep the hidden tests: for an autograder image, never for students.
        #[arg(long)]
        with_hidden: bool,
    },
    /// Grade one lab here (a starter or the reference): a score table, the
    /// replay command of each failing seed; exits 0 only on a full score.
    Grade {
        /// The lab id (`cargo xtask labs`).
        #[arg(long, value_name = "ID")]
        lab: String,
        /// Also write Gradescope's results.json to FILE.
        #[arg(long, value_name = "FILE")]
        gradescope: Option<PathBuf>,
        /// Seeds per seeded test (default: the lab's manifest).
        #[arg(long, value_name = "N")]
        seeds: Option<u64>,
    },
    /// Print the next hint of a lab (and remember that you saw it).
    Hint {
        /// The lab id.
        id: String,
    },
    /// Each lab's state, from its last grade: not started, failing N tests, done.
    Status,
    /// Regenerate the seeded figures into book/src/figures/.
    Figures {
        /// Fail if any seeded figure differs from a fresh run; write nothing.
        #[arg(long, conflicts_with = "timing")]
        check: bool,
        /// Draw the timing figures from `target/criterion` (run the benches
        /// first) and print the README tables: `avl`, `kv`, `hnsw` or `all` (default).
        #[arg(long, value_name = "SUITE", num_args = 0..=1, default_missing_value = "all",
              value_parser = ["avl", "kv", "hnsw", "all"])]
        timing: Option<String>,
    },
    /// Compare `kv serve --durability never` with `redis-server` under
    /// redis-benchmark, in one run. Not part of `ci`.
    RedisBench {
        /// Requests per redis-benchmark run (pipelined runs use 10×).
        #[arg(long, default_value_t = 200_000)]
        requests: u64,
    },
    /// Compare crates/hnsw with hnswlib (C++, from PyPI) on the same data,
    /// ground truth and threads. Not part of `ci`.
    CompareHnswlib(hnswlib::Options),
    /// Run a demo of the whole system. `similar-users`: WordNet's ~11,000
    /// person synsets as user profiles, embedded by `embed-server` and
    /// imported with `vecstore import` into a three-member cluster whose
    /// leader is killed midway; then "users like a stunt pilot", without
    /// and with a filter. Not part of `ci`.
    Demo {
        /// The demo to run.
        #[arg(value_parser = ["similar-users"])]
        name: String,
    },
    /// Serve an Ollama-compatible `POST /api/embed` with a real sentence
    /// model (all-MiniLM-L6-v2, int8 ONNX, 384 dimensions) that works
    /// offline once installed: a venv under target/ from PyPI (onnxruntime,
    /// tokenizers; no torch). For `vecstore import` on a machine without
    /// Ollama. Not part of `ci`.
    EmbedServer {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        addr: String,
        /// The port (Ollama's by default).
        #[arg(long, default_value_t = 11434)]
        port: u16,
        /// Embed three sentences, print their similarities and exit.
        #[arg(long)]
        check: bool,
    },
    /// Fuzz crates/kv's segment decoding and recovery with libFuzzer
    /// (cargo-fuzz, nightly toolchain). Not part of `ci`.
    Fuzz {
        /// One target (`decode_records` or `open_segments`); all by default.
        target: Option<String>,
        /// How long to run each target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// libFuzzer's seed, so a run can be repeated.
        #[arg(long, default_value_t = 1)]
        seed: u32,
    },
}

/// The fuzz targets in `fuzz/fuzz_targets/`.
const FUZZ_TARGETS: [&str; 2] = ["decode_records", "open_segments"];
/// The cargo-fuzz release `cargo xtask fuzz` installs.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

fn main() -> Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root).with_context(|| format!("entering {}", root.display()))?;
    match Cli::parse().command {
        Task::Ci => ci(&root),
        Task::Book {
            student: false,
            instructor: false,
        } => book(&root),
        Task::Book { student: true, .. } => student_book(&root),
        Task::Book {
            instructor: true, ..
        } => instructor_book(&root),
        Task::Labs {
            json,
            check,
            sample,
        } => {
            if check {
                grade::check_kit(&root, sample.as_deref())
            } else {
                labs::list(&root, json)
            }
        }
        Task::Starter {
            out,
            solved,
            with_hidden,
        } => {
            let options = labs::StarterOptions {
                solved,
                with_hidden,
                in_place: false,
            };
            labs::write_starter(&root, &out, &options)?;
            println!(
                "Wrote the starter to {}: cd there, then `cargo xtask labs`.",
                out.display()
            );
            Ok(())
        }
        Task::Grade {
            lab,
            gradescope,
            seeds,
        } => grade::grade(&root, &lab, gradescope.as_deref(), seeds),
        Task::Hint { id } => grade::hint(&root, &id),
        Task::Status => grade::status(&root),
        Task::Figures { check, timing } => {
            if let Some(suite) = timing {
                run_visualizations(&["timing", "--suite", &suite])
            } else if check {
                run_visualizations(&["figures", "--check"])
            } else {
                run_visualizations(&["figures"])
            }
        }
        Task::RedisBench { requests } => redis_bench(&root, requests),
        Task::CompareHnswlib(options) => hnswlib::compare(&root, &options),
        Task::EmbedServer { addr, port, check } => embed::serve(&root, &addr, port, check),
        Task::Demo { .. } => demo::similar_users(&root),
        Task::Fuzz {
            target,
            seconds,
            seed,
        } => fuzz(&root, target.as_deref(), seconds, seed),
    }
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask lives one level below the workspace root")
}

/// Runs `program args…`, echoing it; fails with the command line if it fails.
fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("could not start `{program}`: is it installed?"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        // insta compares against the committed snapshots and never writes new
        // ones; a missing or changed snapshot fails the test.
        .env("INSTA_UPDATE", "no")
        .status()
        .with_context(|| format!("could not start `{cargo}`"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn run_visualizations(args: &[&str]) -> Result<()> {
    let mut all = vec![
        "run",
        "--quiet",
        "--release",
        "--package",
        "visualizations",
        "--",
    ];
    all.extend_from_slice(args);
    cargo(&all)
}

fn ci(root: &Path) -> Result<()> {
    let steps: [(&str, &dyn Fn() -> Result<()>); 13] = [
        ("format", &|| cargo(&["fmt", "--all", "--check"])),
        ("clippy", &|| {
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])
        }),
        // The replication crate's teaching bugs compile only with their
        // feature; lint that code too.
        ("clippy (teaching bugs)", &|| {
            cargo(&[
                "clippy",
                "-p",
                "replication",
                "--all-targets",
                "--features",
                "teaching-bugs",
                "--",
                "-D",
                "warnings",
            ])
        }),
        ("redis-tools installed", &install_redis_tools),
        // vecstore's redis-py test runs the pinned client (PyPI) from a venv.
        ("redis-py installed", &|| redis_py(root).map(drop)),
        // The hnsw tests read the real Fashion-MNIST files.
        ("fashion-mnist installed", &|| {
            hnswlib::fashion_mnist_dir().map(drop)
        }),
        // The `kv serve` tests drive the real redis-cli and redis-benchmark;
        // in CI they must run rather than skip.
        ("tests", &|| {
            let python = redis_py(root)?;
            cargo_with_env(
                &["test", "--workspace"],
                &[
                    ("STRATA_REQUIRE_REDIS_TOOLS", "1"),
                    ("STRATA_REQUIRE_FASHION_MNIST", "1"),
                    ("STRATA_REQUIRE_REDIS_PY", "1"),
                    (
                        "STRATA_REDIS_PY",
                        python.to_str().context("venv path is not UTF-8")?,
                    ),
                ],
            )
        }),
        // With the classic bugs switched on, the simulator must catch each.
        ("tests (teaching bugs)", &|| {
            cargo(&["test", "-p", "replication", "--features", "teaching-bugs"])
        }),
        // The coursework kit cannot drift from the reference.
        ("labs", &|| grade::check_kit(root, None)),
        ("benchmarks compile", &|| {
            cargo(&["bench", "--workspace", "--no-run"])
        }),
        ("book", &|| build_book(root).map(drop)),
        // The student edition is built from a starter: every include must
        // resolve there too (it leaves out the answers files).
        ("book (student edition)", &|| student_book(root)),
        ("figures are up to date", &|| {
            run_visualizations(&["figures", "--check"])
        }),
    ];
    let mut timings = Vec::new();
    for (name, step) in steps {
        eprintln!("\n== {name} ==");
        let started = Instant::now();
        step().with_context(|| format!("CI step `{name}` failed"))?;
        timings.push((name, started.elapsed()));
    }
    eprintln!("\nCI passed:");
    for (name, elapsed) in timings {
        eprintln!("  {name:<24} {:>6.1} s", elapsed.as_secs_f64());
    }
    Ok(())
}

/// The Python of `target/redis-py-venv`, with redis-py (pinned: the
/// version `vecstore`'s `redis_py_works_unmodified` was written against)
/// installed from PyPI if it is not there yet.
fn redis_py(root: &Path) -> Result<PathBuf> {
    hnswlib::python_venv(
        &root.join("target/redis-py-venv"),
        "import redis",
        &["redis==8.2.0"],
        "installing redis-py 8.2.0 from PyPI",
    )
}

/// Installs Debian's `redis-tools` (redis-cli, redis-benchmark) with apt-get
/// when `redis-cli` is missing.
fn install_redis_tools() -> Result<()> {
    let present = Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        eprintln!("redis-cli is installed");
        return Ok(());
    }
    let apt = |args: &[&str]| run("apt-get", args);
    apt(&["install", "-y", "-q", "redis-tools"])
        .or_else(|_| {
            apt(&["update", "-q"]).and_then(|()| apt(&["install", "-y", "-q", "redis-tools"]))
        })
        .context("installing redis-tools with apt-get (run as root, or install it yourself)")
}

fn book(root: &Path) -> Result<()> {
    // A starter workspace has no visualizations crate (its figures are
    // copied from the reference, and the stubbed code could not draw them).
    if root.join("visualizations").is_dir() {
        run_visualizations(&["figures"])?;
    }
    let index = build_book(root)?;
    println!("The book is at {}", index.display());
    Ok(())
}

/// A server under test, killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on `port` (10 s at most).
fn wait_for_port(port: u16) -> Result<()> {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bail!("nothing listens on 127.0.0.1:{port} after 10 s")
}

/// Requests per second for each test of one `redis-benchmark -q --csv` run.
fn redis_benchmark(port: u16, requests: u64, pipeline: u32) -> Result<Vec<(String, f64)>> {
    let args = [
        "-h".to_string(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-t".into(),
        "set,get".into(),
        "-c".into(),
        "50".into(),
        "-P".into(),
        pipeline.to_string(),
        "-d".into(),
        "100".into(),
        "-r".into(),
        "100000".into(),
        "-n".into(),
        requests.to_string(),
        "--csv".into(),
    ];
    eprintln!("$ redis-benchmark {}", args.join(" "));
    let out = Command::new("redis-benchmark")
        .args(&args)
        .output()
        .context("could not start redis-benchmark")?;
    if !out.status.success() {
        bail!(
            "redis-benchmark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // "test","rps",... then one line per test: "SET","123456.79",...
    let mut rates = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines().skip(1) {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        if let [test, rps, ..] = fields.as_slice() {
            rates.push((
                test.to_string(),
                rps.parse().context("requests per second")?,
            ));
        }
    }
    Ok(rates)
}

fn redis_bench(root: &Path, requests: u64) -> Result<()> {
    let present = |program: &str| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !present("redis-server") || !present("redis-benchmark") {
        run("apt-get", &["update", "-q"])?;
        run(
            "apt-get",
            &["install", "-y", "-q", "redis-server", "redis-tools"],
        )
        .context("installing redis-server and redis-tools with apt-get")?;
    }
    cargo(&["build", "--release", "--quiet", "-p", "kv", "--bin", "kv"])?;
    let kv = root.join("target/release/kv");
    let dir = std::env::temp_dir().join(format!("strata-redis-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut results = Vec::new();
    for (name, port) in [("redis-server", 6391u16), ("kv serve", 6392)] {
        let server = if name == "redis-server" {
            Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
        } else {
            Command::new(&kv)
                .args(["--dir", dir.to_str().context("temp path is not UTF-8")?])
                .args(["--durability", "never", "serve", "--addr"])
                .arg(format!("127.0.0.1:{port}"))
                .stdout(std::process::Stdio::null())
                .spawn()
        }
        .with_context(|| format!("could not start {name}"))?;
        let _server = Server(server);
        wait_for_port(port)?;
        for pipeline in [16, 1] {
            let n = if pipeline > 1 {
                requests * 10
            } else {
                requests
            };
            for (test, rps) in redis_benchmark(port, n, pipeline)? {
                results.push((name, pipeline, test, rps));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("| test | pipeline | redis-server (req/s) | kv serve (req/s) | kv ÷ redis |");
    println!("|---|---:|---:|---:|---:|");
    for (name, pipeline, test, rps) in &results {
        if *name != "redis-server" {
            continue;
        }
        let kv = results
            .iter()
            .find(|r| r.0 == "kv serve" && r.1 == *pipeline && r.2 == *test)
            .map_or(f64::NAN, |r| r.3);
        println!(
            "| {test} | {pipeline} | {rps:.0} | {kv:.0} | {:.2}× |",
            kv / rps
        );
    }
    Ok(())
}

/// Runs each fuzz target for `seconds` with cargo-fuzz on nightly. New
/// inputs go to `fuzz/corpus/<target>/`, crashes to `fuzz/artifacts/`.
fn fuzz(root: &Path, target: Option<&str>, seconds: u64, seed: u32) -> Result<()> {
    let targets: Vec<&str> = match target {
        Some(one) if FUZZ_TARGETS.contains(&one) => vec![one],
        Some(other) => bail!(
            "no fuzz target {other:?}; the targets are {}",
            FUZZ_TARGETS.join(", ")
        ),
        None => FUZZ_TARGETS.to_vec(),
    };
    let nightly = Command::new("rustc")
        .args(["+nightly", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !nightly {
        bail!(
            "cargo fuzz needs the nightly toolchain (for -Zsanitizer): \
             `rustup toolchain install nightly`"
        );
    }
    let cargo_fuzz = ensure_tool(root, "cargo-fuzz", CARGO_FUZZ_VERSION, "cargo-fuzz")?;
    let path = path_with_tool(&cargo_fuzz)?;
    for target in targets {
        let time = format!("-max_total_time={seconds}");
        let seed = format!("-seed={seed}");
        eprintln!("$ cargo +nightly fuzz run {target} -- {time} {seed}");
        // `cargo +nightly fuzz` finds `cargo-fuzz` on the PATH.
        let status = Command::new("cargo")
            .args(["+nightly", "fuzz", "run", target, "--", &time, &seed])
            .env("PATH", &path)
            .status()
            .context("could not start `cargo +nightly fuzz` (rustup's cargo)")?;
        if !status.success() {
            bail!("fuzz target {target} failed ({status}): see fuzz/artifacts/{target}/");
        }
    }
    Ok(())
}

/// `.tools/bin/<binary>`, installed from crate `krate` at `version` with
/// `cargo install --locked` if it is missing or another version.
fn ensure_tool(root: &Path, krate: &str, version: &str, binary: &str) -> Result<PathBuf> {
    let tools = root.join(".tools");
    let path = tools.join("bin").join(binary);
    let installed = Command::new(&path)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(version));
    if installed {
        return Ok(path);
    }
    eprintln!("installing {krate} {version} into {}", tools.display());
    cargo(&[
        "install",
        "--locked",
        krate,
        "--version",
        version,
        "--root",
        tools.to_str().context("tools path is not UTF-8")?,
    ])?;
    Ok(path)
}

/// `PATH` with the directory of `tool` (an installed binary) in front.
fn path_with_tool(tool: &Path) -> Result<std::ffi::OsString> {
    let bin = tool.parent().context("tool path has a parent")?;
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).context("PATH with .tools/bin")
}

/// Builds the book with the pinned mdBook and checks it; returns the path of
/// `index.html`. Fails, listing `file:line` for each, on an include of a
/// missing file or anchor (before building), on a link to a missing file
/// (mdbook-linkcheck2, while building) and on a link to a missing `#anchor`
/// (after building).
fn build_book(root: &Path) -> Result<PathBuf> {
    build_book_at(root, root)
}

/// Builds `project/book` with the tools of `root/.tools` (the project is a
/// starter for the student edition).
fn build_book_at(root: &Path, project: &Path) -> Result<PathBuf> {
    let book = project.join("book");
    let src = book.join("src");
    book_checks::check_includes(project, &src)?;
    let mdbook = ensure_mdbook(root)?;
    let linkcheck = ensure_tool(
        root,
        "mdbook-linkcheck2",
        MDBOOK_LINKCHECK2_VERSION,
        "mdbook-linkcheck2",
    )?;
    // mdBook runs the `[output.linkcheck2]` renderer as `mdbook-linkcheck2`
    // from the PATH.
    let path = path_with_tool(&linkcheck)?;
    let book_dir = book.to_str().context("book path is not UTF-8")?;
    eprintln!("$ {} build {book_dir}", mdbook.display());
    let status = Command::new(&mdbook)
        .args(["build", book_dir])
        .env("PATH", path)
        .status()
        .with_context(|| format!("could not start {}", mdbook.display()))?;
    if !status.success() {
        bail!("`mdbook build {book_dir}` failed ({status}): see the broken links above");
    }
    // With two renderers, each writes into its own directory under build/.
    let html = book.join("build").join("html");
    let index = html.join("index.html");
    if !index.is_file() {
        bail!("mdbook succeeded but {} is missing", index.display());
    }
    book_checks::check_fragments(project, &html, &src)?;
    Ok(index)
}

/// `cargo xtask book --instructor`: the book plus the answers appendix
/// (`book/src/instructor/*.md`, which the normal SUMMARY leaves out), built
/// in a copy of `book/` beside links to the rest of the workspace, so the
/// `{{#include ../../../crates/…}}` paths still resolve.
fn instructor_book(root: &Path) -> Result<()> {
    let work = root.join("target").join("instructor-book");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "book" || name == "target" || name == ".git" {
            continue;
        }
        std::os::unix::fs::symlink(entry.path(), work.join(&name))?;
    }
    copy_dir(&root.join("book"), &work.join("book"), &["build"])?;
    let summary = work.join("book/src/SUMMARY.md");
    let mut text = std::fs::read_to_string(&summary)?;
    let mut answers: Vec<String> = std::fs::read_dir(root.join("book/src/instructor"))
        .context("book/src/instructor/ holds the answers")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    answers.sort_by_key(|n| {
        ["avl.md", "kv.md", "hnsw.md", "replication.md"]
            .iter()
            .position(|p| p == n)
            .unwrap_or(usize::MAX)
    });
    let mut appendix = String::from("# Instructor appendix: answers\n\n");
    for name in &answers {
        let file = root.join("book/src/instructor").join(name);
        let title = std::fs::read_to_string(&file)?
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .map(str::to_string)
            .unwrap_or_else(|| name.clone());
        appendix.push_str(&format!("- [{title}](instructor/{name})\n"));
    }
    appendix.push('\n');
    // Before the suffix chapters (the glossary): mdBook allows no list after them.
    match text.find("\n[Glossary]") {
        Some(at) => text.insert_str(at + 1, &appendix),
        None => text.push_str(&format!("\n{appendix}")),
    }
    std::fs::write(&summary, text)?;
    let index = build_book_at(root, &work)?;
    let out = root.join("book").join("build").join("instructor");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(out.parent().context("book/build")?)?;
    std::fs::rename(index.parent().context("index.html has a directory")?, &out)?;
    println!(
        "The instructor edition is at {}",
        out.join("index.html").display()
    );
    Ok(())
}

/// Copies a directory tree, skipping top-level entries named in `skip`.
fn copy_dir(from: &Path, to: &Path, skip: &[&str]) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name), &[])?;
        } else {
            std::fs::copy(&path, to.join(&name))?;
        }
    }
    Ok(())
}

/// `cargo xtask book --student`: the book built from a fresh starter, so
/// every listing inside a lab region shows the stub, never the answer.
fn student_book(root: &Path) -> Result<()> {
    let work = root.join("target").join("student-book");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    labs::write_starter(root, &work, &labs::StarterOptions::default())?;
    let index = build_book_at(root, &work)?;
    let out = root.join("book").join("build").join("student");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(out.parent().context("book/build")?)?;
    let html = index.parent().context("index.html has a directory")?;
    std::fs::rename(html, &out)?;
    println!(
        "The student edition is at {}",
        out.join("index.html").display()
    );
    Ok(())
}

/// The pinned mdBook: `.tools/bin/mdbook`, installed with `cargo install
/// --locked` if it is missing or another version.
fn ensure_mdbook(root: &Path) -> Result<PathBuf> {
    let tools = root.join(".tools");
    let mdbook = tools.join("bin").join("mdbook");
    let wanted = format!("mdbook v{MDBOOK_VERSION}");
    let installed = Command::new(&mdbook)
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
    if installed.as_deref() == Some(wanted.as_str()) {
        return Ok(mdbook);
    }
    eprintln!(
        "installing {wanted} into {} (about a minute, once)",
        tools.display()
    );
    cargo(&[
        "install",
        "--locked",
        "mdbook",
        "--version",
        MDBOOK_VERSION,
        "--no-default-features",
        "--features",
        "search",
        "--root",
        tools.to_str().context("tools path is not UTF-8")?,
    ])?;
    Ok(mdbook)
}
