//! Project automation, run as `cargo xtask <command>` (an alias in
//! `.cargo/config.toml`):
//!
//! * `ci` — everything CI checks, in order: formatting, clippy, the tests
//!   (after installing Debian's `redis-tools` if missing, which the `kv
//!   serve` tests then require), that the benchmarks compile, the book
//!   builds, and the seeded figures are byte-identical to a fresh run.
//!   `.ci/run` calls exactly this.
//! * `book` — regenerates the figures, installs the pinned mdBook into
//!   `.tools/` if it is missing, builds the book into `book/build/` and prints
//!   the path of `index.html`.
//! * `figures [--check | --timing]` — regenerates the seeded figures, checks
//!   them, or draws the timing figure from criterion's results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// The mdBook release the book is written for (0.5 changed the plugin API).
const MDBOOK_VERSION: &str = "0.5.4";

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
    /// Regenerate the figures and build the book into book/build/.
    Book,
    /// Regenerate the seeded figures into book/src/figures/.
    Figures {
        /// Fail if any seeded figure differs from a fresh run; write nothing.
        #[arg(long, conflicts_with = "timing")]
        check: bool,
        /// Draw the timing figure from `target/criterion` (run the benches first).
        #[arg(long)]
        timing: bool,
    },
}

fn main() -> Result<()> {
    let root = workspace_root()?;
    std::env::set_current_dir(&root).with_context(|| format!("entering {}", root.display()))?;
    match Cli::parse().command {
        Task::Ci => ci(&root),
        Task::Book => book(&root),
        Task::Figures { check, timing } => {
            if timing {
                run_visualizations(&["timing"])
            } else if check {
                run_visualizations(&["figures", "--check"])
            } else {
                run_visualizations(&["figures"])
            }
        }
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
    let steps: [(&str, &dyn Fn() -> Result<()>); 7] = [
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
        ("redis-tools installed", &install_redis_tools),
        // The `kv serve` tests drive the real redis-cli and redis-benchmark;
        // in CI they must run rather than skip.
        ("tests", &|| {
            cargo_with_env(
                &["test", "--workspace"],
                &[("STRATA_REQUIRE_REDIS_TOOLS", "1")],
            )
        }),
        ("benchmarks compile", &|| {
            cargo(&["bench", "--workspace", "--no-run"])
        }),
        ("book", &|| build_book(root).map(drop)),
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
    run_visualizations(&["figures"])?;
    let index = build_book(root)?;
    println!("The book is at {}", index.display());
    Ok(())
}

/// Builds the book with the pinned mdBook; returns the path of `index.html`.
fn build_book(root: &Path) -> Result<PathBuf> {
    let mdbook = ensure_mdbook(root)?;
    let book = root.join("book");
    run(
        mdbook.to_str().context("tools path is not UTF-8")?,
        &["build", book.to_str().context("book path is not UTF-8")?],
    )?;
    let index = book.join("build").join("index.html");
    if !index.is_file() {
        bail!("mdbook succeeded but {} is missing", index.display());
    }
    Ok(index)
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
