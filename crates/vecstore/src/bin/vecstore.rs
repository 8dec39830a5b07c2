//! `vecstore`: the vector store's command line.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vecstore::import::{ADDR_DEFAULT, BATCH_DEFAULT, BATCH_MAX, ImportOptions};
use vecstore::server::ClusterConfig;
use vecstore::{Server, ServerConfig};

/// A Raft-replicated vector store that speaks Redis 8's vector-set commands.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Serve the store in DIR over RESP2 (redis-cli, redis-py): VADD, VSIM,
    /// VREM, VCARD, VDIM, VEMB, VGETATTR, VSETATTR, VINFO, PING, ROLE.
    /// A write is acknowledged once a majority has its log entry on disk.
    Serve {
        /// The node's directory (its Raft log); created if missing.
        #[arg(long)]
        dir: PathBuf,
        /// Where clients connect.
        #[arg(long, default_value = "127.0.0.1:6379")]
        addr: String,
        /// This member's id in --cluster (1-based).
        #[arg(long, requires = "cluster")]
        id: Option<usize>,
        /// Every member's id and Raft address: 1=HOST:PORT,2=HOST:PORT,…
        /// (ids 1..=n, each once). Without it the node is a cluster of one.
        #[arg(long, requires = "id")]
        cluster: Option<String>,
    },
    /// Embed FILE's texts through an Ollama-compatible endpoint and VADD
    /// them, with their attributes, to --key on the server at --addr.
    #[command(after_help = IMPORT_HELP)]
    Import {
        /// The elements: JSON Lines, one object per line (see below); `-`
        /// reads standard input.
        file: PathBuf,
        /// The embedding service's base URL, plain http:// (Ollama:
        /// http://localhost:11434); texts are POSTed to URL/api/embed.
        #[arg(long, value_name = "URL")]
        endpoint: String,
        /// The embedding model, as the endpoint names it; the set
        /// remembers it and refuses vectors of another model.
        #[arg(long, value_name = "NAME")]
        model: String,
        /// The vector set to add to.
        #[arg(long)]
        key: String,
        /// The vecstore server.
        #[arg(long, value_name = "HOST:PORT", default_value = ADDR_DEFAULT)]
        addr: String,
        /// Texts per embedding request and VADDs per pipeline (at most
        /// 1024).
        #[arg(long, value_name = "N", default_value_t = BATCH_DEFAULT)]
        batch: usize,
        /// The longest an embedding request or a batch's VADDs may take.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout_secs: u64,
    },
}

const _: () = assert!(BATCH_MAX == 1024, "update --batch's help");

/// `vecstore import --help`'s input format (as `vecstore::import` documents it).
const IMPORT_HELP: &str = "\
Input format (JSON Lines, UTF-8; blank lines are skipped):
  {\"name\": \"alice\", \"text\": \"Alice hikes and plays chess\", \"attributes\": {\"age\": 31}}
  {\"name\": \"bob\", \"text\": \"Bob collects vinyl records\"}

  name        the element's name (a non-empty string)
  text        what is embedded (a non-empty string)
  attributes  optional JSON object, stored with SETATTR (VGETATTR, VSIM ... FILTER)
  Any other field is an error: put extra data in attributes.

Each batch is one POST URL/api/embed {\"model\": NAME, \"input\": [text, ...]}, then one
pipeline of VADD KEY FP32 <vector> NAME SETATTR <attributes> MODEL NAME. An element
already in the set is replaced, so importing again is safe. The first error stops
the import, names its line or batch, and exits with status 1 after saying how many
elements were imported.

Example:
  ollama pull all-minilm
  vecstore import --endpoint http://localhost:11434 --model all-minilm --key docs docs.jsonl";

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Task::Serve {
            dir,
            addr,
            id,
            cluster,
        } => {
            let mut config = ServerConfig::new(&dir);
            if let (Some(id), Some(cluster)) = (id, cluster) {
                config.cluster = Some(parse_cluster(id, &cluster)?);
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("listening on {addr}"))?;
            let server = Server::start(config, listener)
                .with_context(|| format!("starting the node in {}", dir.display()))?;
            eprintln!("vecstore: serving {} on {}", dir.display(), server.addr());
            let stop = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stop);
            ctrlc::set_handler(move || flag.store(true, Ordering::Release))
                .context("installing the Ctrl-C handler")?;
            while !stop.load(Ordering::Acquire) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            server.stop().context("stopping")?;
            eprintln!("vecstore: stopped");
            Ok(())
        }
        Task::Import {
            file,
            endpoint,
            model,
            key,
            addr,
            batch,
            timeout_secs,
        } => {
            let options = ImportOptions {
                addr,
                batch,
                timeout: Duration::from_secs(timeout_secs),
                ..ImportOptions::new(endpoint, model, key)
            };
            import(&options, &file)
        }
    }
}

/// `vecstore import`: exits with status 1 after a failure.
fn import(options: &ImportOptions, file: &Path) -> anyhow::Result<()> {
    let (input, input_bytes): (Box<dyn BufRead>, Option<u64>) = if file == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let opened =
            std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let bytes = opened.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::new(opened)), bytes)
    };
    let bar = match input_bytes {
        Some(bytes) => {
            indicatif::ProgressBar::new(bytes).with_style(indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes}, {msg} [{elapsed}, eta {eta}]",
            )?)
        }
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes} read, {msg} [{elapsed}]")?,
        ),
    };
    let bar = bar.with_message("0 elements");
    match vecstore::import::import(options, input, &bar) {
        Ok(summary) => {
            bar.finish_and_clear();
            println!("vecstore import: {summary}");
            Ok(())
        }
        Err(failure) => {
            bar.abandon();
            eprintln!("vecstore import: error: {}", failure.error);
            eprintln!(
                "vecstore import: before it, {}; importing again is safe: VADD replaces an element",
                failure.summary
            );
            std::process::exit(1);
        }
    }
}

/// `1=HOST:PORT,2=HOST:PORT,…` as a cluster in which this node is `id`.
fn parse_cluster(id: usize, text: &str) -> anyhow::Result<ClusterConfig> {
    let mut members = std::collections::BTreeMap::new();
    for part in text.split(',') {
        let (n, addr) = part
            .split_once('=')
            .with_context(|| format!("--cluster: '{part}' is not ID=HOST:PORT"))?;
        let n: usize = n
            .trim()
            .parse()
            .with_context(|| format!("--cluster: '{n}' is not a member id"))?;
        let addr: std::net::SocketAddr = addr.trim().parse().with_context(|| {
            format!("--cluster: '{addr}' is not HOST:PORT (an IP address and a port)")
        })?;
        anyhow::ensure!(
            members.insert(n, addr).is_none(),
            "--cluster: id {n} appears twice"
        );
    }
    let n = members.len();
    anyhow::ensure!(
        members.keys().copied().eq(1..=n),
        "--cluster: the ids must be 1..={n}, each once"
    );
    anyhow::ensure!(
        (1..=n).contains(&id),
        "--id {id} is not a member of --cluster (1..={n})"
    );
    Ok(ClusterConfig {
        id: id - 1,
        peers: members.into_values().collect(),
    })
}
