//! `vecstore`: the vector store's command line.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Parser, Subcommand};
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
}

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
