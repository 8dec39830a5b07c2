//! `kv`: the store from the command line.
//!
//! ```text
//! kv --dir DATA put KEY VALUE
//! kv --dir DATA get KEY            # the value's bytes, exactly; exit 1 if absent
//! kv --dir DATA del KEY
//! kv --dir DATA scan [--start K] [--end K] [--limit N]   # key<TAB>value, escaped
//! kv --dir DATA compact
//! kv --dir DATA stats
//! ```
//!
//! `--durability always` (the default) syncs before a write returns;
//! `--durability never` leaves the bytes to the operating system.

use std::io::Write;
use std::ops::Bound;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use kv::{Durability, Options, Store};

#[derive(Parser)]
#[command(
    name = "kv",
    about = "A log-structured key-value store (Strata, Part II)"
)]
struct Cli {
    /// The store's directory (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// When writes are acknowledged.
    #[arg(long, value_enum, default_value_t = Mode::Always)]
    durability: Mode,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// fsync before acknowledging: survives power loss.
    Always,
    /// Leave bytes to the OS: survives a process crash, not power loss.
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Sets KEY to VALUE.
    Put { key: String, value: String },
    /// Prints the value of KEY (exit code 1 if absent).
    Get { key: String },
    /// Removes KEY.
    Del { key: String },
    /// Prints entries in key order, one `key<TAB>value` per line, with
    /// non-printable bytes escaped (\xNN).
    Scan {
        /// First key (inclusive).
        #[arg(long)]
        start: Option<String>,
        /// Last key (exclusive).
        #[arg(long)]
        end: Option<String>,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Rewrites the sealed segments, dropping overwritten and deleted data.
    Compact,
    /// Prints the store's counters.
    Stats,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("kv: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let options = Options {
        durability: match cli.durability {
            Mode::Always => Durability::Always,
            Mode::Never => Durability::Never,
        },
        ..Options::default()
    };
    let store = Store::open_dir(&cli.dir, options)
        .with_context(|| format!("opening {}", cli.dir.display()))?;
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Put { key, value } => store.put(key.as_bytes(), value.as_bytes())?,
        Command::Get { key } => match store.get(key.as_bytes())? {
            Some(value) => {
                out.write_all(&value)?;
                out.write_all(b"\n")?;
            }
            None => {
                eprintln!("kv: {key:?} not found");
                return Ok(ExitCode::from(1));
            }
        },
        Command::Del { key } => store.delete(key.as_bytes())?,
        Command::Scan { start, end, limit } => {
            let start = start.map(String::into_bytes).unwrap_or_default();
            let end = match end {
                Some(end) => Bound::Excluded(end.into_bytes()),
                None => Bound::Unbounded,
            };
            let entries = store.scan((Bound::Included(start), end));
            for entry in entries.take(limit.unwrap_or(usize::MAX)) {
                let (key, value) = entry?;
                writeln!(out, "{}\t{}", key.escape_ascii(), value.escape_ascii())?;
            }
        }
        Command::Compact => store.compact()?,
        Command::Stats => {
            let stats = store.stats();
            writeln!(out, "keys             {}", stats.keys)?;
            writeln!(out, "live bytes       {}", stats.live_bytes)?;
            writeln!(out, "dead bytes       {}", stats.dead_bytes)?;
            writeln!(out, "segments         {}", stats.segments)?;
            writeln!(out, "recovered bytes  {}", stats.recovered_bytes)?;
            writeln!(out, "truncated bytes  {}", stats.truncated_bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
