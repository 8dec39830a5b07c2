//! `vecstore`: the vector store's command line.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Parser, Subcommand};
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
    /// One node; a write is acknowledged once its log entry is fsync'd.
    Serve {
        /// The node's directory (its Raft log); created if missing.
        #[arg(long)]
        dir: PathBuf,
        /// Where clients connect.
        #[arg(long, default_value = "127.0.0.1:6379")]
        addr: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Task::Serve { dir, addr } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("listening on {addr}"))?;
            let server = Server::start(ServerConfig::new(&dir), listener)
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
