//! Runs Strata's experiments and renders the book's figures.
//!
//! ```text
//! cargo run --release -p visualizations -- figures [--out book/src/figures] [--check] [--only NAME]
//! cargo run --release -p visualizations -- timing  [--suite avl|kv|hnsw|all] [--criterion target/criterion] [--out book/src/figures]
//! ```
//!
//! `figures` regenerates every seeded figure; with `--check` it writes nothing
//! and fails if any file on disk differs by a single byte. A figure whose
//! caption quotes its numbers also writes them, beside its SVG, as
//! `<stem>.numbers.md` (see [`numbers`]), and is checked the same way. `timing` turns
//! criterion's results into the timing figures (and prints the README's
//! tables), labelled with this machine; timings are not reproducible, so
//! `--check` never looks at those files.
//! `cargo xtask figures [--check | --timing]` calls these.

mod avl_figures;
mod avl_join_split;
mod diagram;
mod hnsw_figures;
mod hnsw_timing;
mod kv_figures;
mod kv_layout;
mod kv_timing;
mod numbers;
mod plot;
mod raft_diagrams;
mod replication_diagrams;
mod replication_figures;
mod replication_numbers;
mod spacetime;
mod timing;
mod vecstore_figures;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// One figure: its file name and how to draw it.
pub(crate) struct Figure {
    pub(crate) name: &'static str,
    pub(crate) render: fn() -> Result<String>,
}

/// A figure whose caption quotes some of its numbers: how to draw it, and
/// the numbers it drew, which `figures` writes beside the SVG (see
/// [`numbers`]).
pub(crate) struct QuotingFigure {
    pub(crate) name: &'static str,
    pub(crate) render: fn() -> Result<(String, numbers::Numbers)>,
}

/// How one figure of the `figures` step is drawn.
enum Render {
    Svg(fn() -> Result<String>),
    Quoting(fn() -> Result<(String, numbers::Numbers)>),
}

impl Render {
    /// The files `name` is written as: the SVG, and its numbers if any.
    fn files(&self, name: &str) -> Result<Vec<(String, String)>> {
        Ok(match self {
            Render::Svg(render) => vec![(name.to_owned(), render()?)],
            Render::Quoting(render) => {
                let (svg, numbers) = render()?;
                vec![
                    (name.to_owned(), svg),
                    (numbers::Numbers::file_for(name), numbers.markdown(name)),
                ]
            }
        })
    }
}

#[derive(Parser)]
#[command(about = "Render Strata's figures (SVG) into the book")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate every seeded figure.
    Figures {
        /// Directory to write into.
        #[arg(long, default_value = "book/src/figures")]
        out: PathBuf,
        /// Write nothing; fail if any figure on disk differs from a fresh run.
        #[arg(long)]
        check: bool,
        /// Only the figures whose file name contains this text.
        #[arg(long)]
        only: Option<String>,
    },
    /// Draw the timing figures from criterion's results and print the
    /// README's benchmark tables (Markdown).
    Timing {
        /// Which benchmarks: `avl` (`--bench avl`), `kv` (`--bench kv`),
        /// `hnsw` (`--bench hnsw`) or `all`.
        #[arg(long, default_value = "all", value_parser = ["avl", "kv", "hnsw", "all"])]
        suite: String,
        /// criterion's output directory.
        #[arg(long, default_value = "target/criterion")]
        criterion: PathBuf,
        /// Directory to write into.
        #[arg(long, default_value = "book/src/figures")]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Figures { out, check, only } => figures(&out, check, only.as_deref()),
        Command::Timing {
            suite,
            criterion,
            out,
        } => {
            let wanted = |name: &str| suite == name || suite == "all";
            if wanted("avl") {
                let svg = timing::render(&criterion)?;
                write(&out.join(timing::FILE), &svg)?;
                println!("wrote {}", out.join(timing::FILE).display());
                println!();
                print!("{}", timing::table(&criterion)?);
            }
            if wanted("kv") {
                for (file, svg) in [
                    (kv_timing::PUT_FILE, kv_timing::render_puts(&criterion)?),
                    (
                        kv_timing::RECOVERY_FILE,
                        kv_timing::render_recovery(&criterion)?,
                    ),
                ] {
                    write(&out.join(file), &svg)?;
                    println!("wrote {}", out.join(file).display());
                }
                println!();
                print!("{}", kv_timing::table(&criterion)?);
            }
            if wanted("hnsw") {
                for (file, svg) in [
                    (
                        hnsw_timing::RECALL_QPS_FILE,
                        hnsw_timing::render_recall_qps(&criterion)?,
                    ),
                    (
                        hnsw_timing::BUILD_FILE,
                        hnsw_timing::render_build(&criterion)?,
                    ),
                ] {
                    write(&out.join(file), &svg)?;
                    println!("wrote {}", out.join(file).display());
                }
                println!();
                print!("{}", hnsw_timing::table(&criterion)?);
            }
            Ok(())
        }
    }
}

fn figures(out: &Path, check: bool, only: Option<&str>) -> Result<()> {
    let mut plain = avl_figures::all();
    plain.extend(kv_layout::all());
    plain.extend(hnsw_figures::all());
    plain.extend(replication_figures::all());
    plain.extend(replication_numbers::all());
    plain.extend(raft_diagrams::all());
    plain.extend(replication_diagrams::all());
    plain.extend(vecstore_figures::all());
    let mut quoting = avl_join_split::quoting();
    quoting.extend(kv_figures::quoting());
    quoting.extend(replication_figures::quoting());
    quoting.extend(raft_diagrams::quoting());
    let mut figures: Vec<(&'static str, Render)> = plain
        .into_iter()
        .map(|f| (f.name, Render::Svg(f.render)))
        .chain(
            quoting
                .into_iter()
                .map(|f| (f.name, Render::Quoting(f.render))),
        )
        .collect();
    if let Some(only) = only {
        figures.retain(|(name, _)| name.contains(only));
    }
    let bar = ProgressBar::new(figures.len() as u64).with_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(if check {
        "checking figures"
    } else {
        "rendering figures"
    });
    let mut stale = Vec::new();
    for (name, render) in &figures {
        bar.set_message(*name);
        let files = render
            .files(name)
            .with_context(|| format!("rendering {name}"))?;
        for (file, text) in files {
            let path = out.join(file);
            if check {
                let on_disk = std::fs::read(&path).unwrap_or_default();
                if on_disk != text.as_bytes() {
                    stale.push(path.display().to_string());
                }
            } else {
                write(&path, &text)?;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !stale.is_empty() {
        bail!(
            "{} figure(s) differ from a fresh seeded run: {}\nregenerate them with `cargo xtask figures` and commit the result",
            stale.len(),
            stale.join(", ")
        );
    }
    println!(
        "{} {} figures in {}",
        if check { "checked" } else { "wrote" },
        figures.len(),
        out.display()
    );
    Ok(())
}

fn write(path: &Path, svg: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}
