//! `kv`: the store from the command line.
//!
//! ```text
//! kv --dir DATA put KEY VALUE
//! kv --dir DATA get KEY            # the value's bytes, exactly; exit 1 if absent
//! kv --dir DATA del KEY
//! kv --dir DATA scan [--start K] [--end K] [--limit N]   # key<TAB>value, escaped
//! kv --dir DATA compact
//! kv --dir DATA stats
//! kv --dir DATA serve [--addr 127.0.0.1:6379] [--max-connections N]
//! ```
//!
//! `serve` speaks the Redis protocol (see `kv::server`); Ctrl-C stops it
//! after syncing the store.
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
    /// Open a damaged store anyway, skipping records that fail their
    /// checksum (reported by `stats` as repairs and skipped bytes).
    #[arg(long)]
    repair: bool,
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
    /// Serves the store over the Redis protocol (RESP2) until Ctrl-C.
    Serve {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:6379")]
        addr: String,
        /// Most clients at once.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Longest request accepted, in bytes.
        #[arg(long, default_value_t = 64 << 20)]
        max_request_bytes: usize,
    },
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
        repair: cli.repair,
        ..Options::default()
    };
    let store = Store::open_dir(&cli.dir, options)
        .with_context(|| format!("opening {}", cli.dir.display()))?;
    if let Command::Serve {
        addr,
        max_connections,
        max_request_bytes,
    } = cli.command
    {
        let config = kv::server::ServerConfig {
            connections_max: max_connections,
            request_bytes_max: max_request_bytes,
        };
        return serve(store, &addr, config);
    }
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
        Command::Del { key } => {
            store.delete(key.as_bytes())?;
        }
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
        Command::Serve { .. } => unreachable!("handled above"),
        Command::Stats => {
            let stats = store.stats();
            writeln!(out, "keys             {}", stats.keys)?;
            writeln!(out, "live bytes       {}", stats.live_bytes)?;
            writeln!(out, "dead bytes       {}", stats.dead_bytes)?;
            writeln!(out, "segments         {}", stats.segments)?;
            writeln!(out, "recovered bytes  {}", stats.recovered_bytes)?;
            writeln!(out, "truncated bytes  {}", stats.truncated_bytes)?;
            writeln!(out, "hinted segments  {}", stats.segments_from_hints)?;
            writeln!(out, "repairs          {}", stats.repairs)?;
            writeln!(out, "skipped bytes    {}", stats.skipped_bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ANCHOR: serve
/// Listens on `addr`, prints the address actually bound (useful with port
/// 0), serves until Ctrl-C, then syncs the store.
fn serve(
    store: Store<kv::FsStorage>,
    addr: &str,
    config: kv::server::ServerConfig,
) -> Result<ExitCode> {
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    println!("listening on {local}");
    std::io::stdout().flush()?;
    let store = std::sync::Arc::new(store);
    let shutdown = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&shutdown);
    ctrlc::set_handler(move || {
        flag.store(true, std::sync::atomic::Ordering::Release);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(local);
    })
    .context("installing the Ctrl-C handler")?;
    kv::server::serve(std::sync::Arc::clone(&store), listener, config, shutdown)?;
    store.sync().context("syncing on shutdown")?;
    eprintln!("kv: synced, shutting down");
    Ok(ExitCode::SUCCESS)
}
// ANCHOR_END: serve
