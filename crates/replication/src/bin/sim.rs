//! `sim`: Strata's replication simulator and its checkers (issue 6).
//!
//! ```text
//! sim run   --protocol async|raft|quorum [--app register|kv] [--nodes 5] [--seed N] [--faults SPEC] [--history FILE] [--trace FILE] …
//! sim sweep --protocol async|raft|quorum [--app register|kv] [--seeds 1000] [--first-seed 0] [--jobs J] …
//! sim check FILE [--budget STATES]
//! ```
//!
//! `run` simulates one seed, prints a summary (operations, messages, trace
//! hash, every checker's verdict) and the one command that replays it; it
//! exits 0 if every check passed and 1 otherwise. `--history FILE` writes
//! the run's client history in the format `check` reads. `sweep` runs many
//! seeds (in parallel, each deterministic) with a progress bar and prints
//! the failing ones with their replay commands.
//!
//! `--app` chooses what Raft replicates: `register` (the default, an
//! in-memory map) or `kv`, a real `kv::Store` (`replication::kv_app`),
//! whose replicas must also end with equal checkpoint digests.
//!
//! `check` reads a history file (JSON lines, one event each, in real-time
//! order; the format is in `replication::history::parse_jsonl`) and prints
//! `linearizable`, `not linearizable: …` or `unknown: …`, exiting 0, 1 or
//! 2; a file it cannot read or parse exits 3 with the line at fault.
//!
//! `--faults` takes `none`, `random[:RATE]` (RATE faults per virtual
//! second), `majority[:RATE]` (random, but never more than a minority
//! connected) or a script such as
//! `'partition 0,1|2,3,4@1s; heal@2500ms; crash 2@3s; restart 2@3500ms'`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use replication::checkers::lost_writes;
use replication::history::parse_jsonl;
use replication::kv_app::KvApp;
use replication::linearizability::{Budget, Verdict, check};
use replication::primary_backup::{PrimaryBackupConfig, PrimaryBackupNode};
use replication::quorum::{QuorumConfig, QuorumMonitor, QuorumNode};
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::workload::{Faults, RunConfig, RunReport, Workload, run};
use replication::sim::{DiskFaults, NetworkConfig};

#[derive(Parser)]
#[command(
    name = "sim",
    about = "Replicated key-value stores in a deterministic simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate one seed and check what happened (exit 0 pass, 1 fail).
    Run {
        #[command(flatten)]
        setup: Setup,
        /// The seed every choice derives from.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the client history (JSON lines, `sim check`'s format).
        #[arg(long)]
        history: Option<PathBuf>,
        /// Write the trace, one line per event.
        #[arg(long)]
        trace: Option<PathBuf>,
    },
    /// Simulate many seeds; print the failing ones (exit 0 none, 1 some).
    Sweep {
        #[command(flatten)]
        setup: Setup,
        /// How many seeds.
        #[arg(long, default_value_t = 1000)]
        seeds: u64,
        /// The first seed.
        #[arg(long, default_value_t = 0)]
        first_seed: u64,
        /// Worker threads (default: one per core). Each seed still runs
        /// deterministically on one thread.
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Check a history file for linearizability (exit 0 yes, 1 no, 2 unknown).
    Check {
        /// The history: JSON lines, one event each, in real-time order.
        file: PathBuf,
        /// Search states per key before the verdict is `unknown`.
        #[arg(long, default_value_t = Budget::default().states)]
        budget: u64,
    },
    /// Print a generated homework problem: a short register history to
    /// judge for linearizability (OSTEP style).
    Homework {
        /// The problem; the same seed gives the same history.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print the solution too.
        #[arg(long)]
        answer: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// Asynchronous primary-backup with failover.
    Async,
    /// Raft.
    Raft,
    /// Dynamo-style leaderless quorums.
    Quorum,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Async => "async",
            Protocol::Raft => "raft",
            Protocol::Quorum => "quorum",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AppKind {
    /// The in-memory `u32 → i64` map.
    Register,
    /// A real `kv::Store` per node (Raft only).
    Kv,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Network {
    /// 0.5–2 ms, nothing lost.
    Reliable,
    /// 10% loss, 5% duplication, 10% held back 25 ms.
    Unreliable,
}

#[derive(Args, Clone)]
struct Setup {
    /// The replication protocol.
    #[arg(long, value_enum)]
    protocol: Protocol,
    /// What Raft replicates (raft only).
    #[arg(long, value_enum, default_value = "register")]
    app: AppKind,
    /// Cluster size.
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Fault schedule of the safety phase (see `sim --help`).
    #[arg(long, default_value = "random:2")]
    faults: Faults,
    /// The network during the safety phase.
    #[arg(long, value_enum, default_value = "reliable")]
    network: Network,
    /// Concurrent clients.
    #[arg(long, default_value_t = 5)]
    clients: usize,
    /// Keys the clients use.
    #[arg(long, default_value_t = 3)]
    keys: u32,
    /// Share of reads among the clients' operations.
    #[arg(long, default_value_t = Workload::default().read_fraction)]
    read_fraction: f64,
    /// Share of compare-and-sets (the rest are writes).
    #[arg(long, default_value_t = Workload::default().cas_fraction)]
    cas_fraction: f64,
    /// Length of the safety phase (faults on), in virtual milliseconds.
    #[arg(long, default_value_t = 3_000)]
    safety_ms: u64,
    /// Length of the liveness phase (faults healed), in virtual milliseconds.
    #[arg(long, default_value_t = 2_000)]
    liveness_ms: u64,
    /// Quorum replicas per key (quorum only).
    #[arg(long, default_value_t = 3)]
    n: usize,
    /// Quorum read size (quorum only).
    #[arg(long, default_value_t = 2)]
    r: usize,
    /// Quorum write size (quorum only).
    #[arg(long, default_value_t = 2)]
    w: usize,
    /// Atomic quorum reads and writes (quorum only): reads write the newest
    /// value back to W replicas, writes read the newest version first
    /// (Attiya, Bar-Noy and Dolev). Needs R + W > N.
    #[arg(long)]
    atomic: bool,
    /// Let backups serve reads (async only): stale reads.
    #[arg(long)]
    read_from_backups: bool,
    /// Disk faults: each fsync fails, and each file's unsynced bytes that
    /// survive a crash get a flipped bit, with this probability (0: a
    /// perfect disk).
    #[arg(long, default_value_t = 0.0)]
    disk_faults: f64,
}

impl Setup {
    fn config(&self, seed: u64, trace: bool) -> RunConfig {
        RunConfig {
            seed,
            nodes: self.nodes,
            network: match self.network {
                Network::Reliable => NetworkConfig::reliable(),
                Network::Unreliable => NetworkConfig::unreliable(),
            },
            workload: Workload {
                clients: self.clients,
                keys: self.keys,
                read_fraction: self.read_fraction,
                cas_fraction: self.cas_fraction,
                // Raft's client sessions make retrying a timed-out request safe.
                retry_on_timeout: self.protocol == Protocol::Raft,
                ..Workload::default()
            },
            faults: self.faults.clone(),
            safety_us: self.safety_ms * 1_000,
            liveness_us: self.liveness_ms * 1_000,
            trace,
            service_us: 0,
            disk_faults: DiskFaults::uniform(self.disk_faults),
        }
    }

    /// The command line that reproduces a run of `seed`.
    fn replay(&self, seed: u64) -> String {
        let mut cmd = self
            .config(seed, false)
            .replay_command(self.protocol.name());
        if self.protocol == Protocol::Quorum {
            cmd.push_str(&format!(" --n {} --r {} --w {}", self.n, self.r, self.w));
            if self.atomic {
                cmd.push_str(" --atomic");
            }
        }
        if self.read_from_backups {
            cmd.push_str(" --read-from-backups");
        }
        if self.app == AppKind::Kv {
            cmd.push_str(" --app kv");
        }
        cmd
    }

    fn run(&self, seed: u64, trace: bool) -> RunReport {
        let config = self.config(seed, trace);
        let mut report = match self.protocol {
            Protocol::Async => run::<PrimaryBackupNode>(
                &config,
                PrimaryBackupConfig {
                    read_from_backups: self.read_from_backups,
                    ..PrimaryBackupConfig::default()
                },
                vec![],
            ),
            Protocol::Raft if self.app == AppKind::Kv => run::<RaftNode<KvApp>>(
                &config,
                RaftConfig::default(),
                vec![Box::new(RaftMonitor::<KvApp>::default())],
            ),
            Protocol::Raft => run::<RaftNode>(
                &config,
                RaftConfig::default(),
                vec![Box::new(RaftMonitor::new())],
            ),
            Protocol::Quorum => run::<QuorumNode>(
                &config,
                QuorumConfig {
                    atomic: self.atomic,
                    ..QuorumConfig::new(self.n, self.r, self.w)
                },
                vec![Box::new(QuorumMonitor)],
            ),
        };
        report.replay = self.replay(seed);
        report
    }
}

/// Every check's outcome, one line each; `true` if all passed.
fn summarize(report: &RunReport, out: &mut String) -> bool {
    use std::fmt::Write;
    let lost = lost_writes(&report.history, &report.final_values);
    let [ok, fail, info] = report.outcomes;
    let _ = writeln!(
        out,
        "operations: {ok} ok, {fail} fail, {info} info; {} messages delivered; trace hash {:016x}",
        report.messages_delivered, report.trace_hash
    );
    let verdict = match &report.linearizable {
        Verdict::Linearizable => "linearizable".to_owned(),
        Verdict::NotLinearizable { key, unplaced } => format!(
            "NOT linearizable: key {key:?}, {} operations cannot be ordered",
            unplaced.len()
        ),
        Verdict::Unknown { key } => format!("unknown (search budget exhausted on key {key:?})"),
    };
    let _ = writeln!(out, "history: {verdict}");
    let _ = writeln!(
        out,
        "durability: {}",
        if lost.is_empty() {
            "no acknowledged write lost".to_owned()
        } else {
            format!("{} acknowledged writes LOST: {:?}", lost.len(), lost)
        }
    );
    let d = report.disk;
    if d != Default::default() {
        let _ = writeln!(
            out,
            "disk faults: {} failed syncs, {} nodes stopped, {} bits flipped, {} restarts refused (corrupt log), {} cut short by a failed sync",
            d.failed_syncs, d.stopped_nodes, d.flipped_bits, d.refused_starts, d.failed_starts
        );
    }
    let _ = writeln!(
        out,
        "liveness: {}",
        if report.served_after_heal {
            "every key readable after healing"
        } else {
            "FAILED: a key could not be read after healing"
        }
    );
    let _ = writeln!(
        out,
        "convergence: {}",
        match &report.converged {
            Ok(()) => "replicas agree".to_owned(),
            Err(e) => format!("FAILED: {e}"),
        }
    );
    if !report.digests.is_empty() {
        let _ = writeln!(
            out,
            "checkpoints: {}",
            if report.digests_agree() {
                format!("equal digests {:016x}", report.digests[0].1)
            } else {
                format!("FAILED: digests differ {:x?}", report.digests)
            }
        );
    }
    if let Some(v) = &report.violation {
        let _ = writeln!(out, "monitor: VIOLATION {v}");
    }
    report.passed() && lost.is_empty()
}

impl Setup {
    /// Refuses `--app kv` for a protocol other than Raft.
    fn validate(&self) -> anyhow::Result<()> {
        if self.app == AppKind::Kv && self.protocol != Protocol::Raft {
            anyhow::bail!("--app kv needs --protocol raft (only Raft replicates an application)");
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Run {
            setup,
            seed,
            history,
            trace,
        } => setup
            .validate()
            .and_then(|()| cmd_run(&setup, seed, history, trace)),
        Command::Sweep {
            setup,
            seeds,
            first_seed,
            jobs,
        } => setup
            .validate()
            .and_then(|()| cmd_sweep(&setup, first_seed, seeds, jobs)),
        Command::Check { file, budget } => run_check(&file, budget),
        Command::Homework { seed, answer } => {
            let homework = replication::homework::Homework::generate(seed);
            print!("{}", homework.problem());
            if answer {
                print!("\n{}", homework.answer());
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("sim: {error:#}");
            ExitCode::from(3)
        }
    }
}

fn cmd_run(
    setup: &Setup,
    seed: u64,
    history: Option<PathBuf>,
    trace: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let report = setup.run(seed, trace.is_some());
    let mut out = String::new();
    let passed = summarize(&report, &mut out);
    println!(
        "{} run, {} nodes, seed {seed}, faults {}",
        setup.protocol.name(),
        setup.nodes,
        setup.faults
    );
    print!("{out}");
    println!("{}", if passed { "PASSED" } else { "FAILED" });
    println!("replay: {}", report.replay);
    if let Some(path) = history {
        std::fs::write(&path, report.history_jsonl())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = trace {
        let mut text = report.trace.join("\n");
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::from(if passed { 0 } else { 1 }))
}

fn cmd_sweep(
    setup: &Setup,
    first: u64,
    count: u64,
    jobs: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let jobs = jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let bar = indicatif::ProgressBar::new(count);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {elapsed} ({msg})")
            .context("progress bar template")?,
    );
    let next = AtomicU64::new(0);
    let failures: Mutex<Vec<(u64, String)>> = Mutex::new(Vec::new());
    let messages = AtomicU64::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let seed = first + i;
                    let report = setup.run(seed, false);
                    let mut out = String::new();
                    messages.fetch_add(report.messages_delivered, Ordering::Relaxed);
                    if !summarize(&report, &mut out) {
                        let mut f = failures.lock().unwrap_or_else(|e| e.into_inner());
                        f.push((seed, format!("{out}replay: {}", report.replay)));
                        bar.set_message(format!("{} failing", f.len()));
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish();
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|f| f.0);
    println!(
        "{} sweep: {count} seeds from {first}, {} failing; {} messages in {:.1} s wall on {jobs} threads",
        setup.protocol.name(),
        failures.len(),
        messages.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    for (seed, text) in &failures {
        println!("--- seed {seed}\n{text}");
    }
    Ok(ExitCode::from(if failures.is_empty() { 0 } else { 1 }))
}

fn run_check(file: &PathBuf, budget: u64) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let events = parse_jsonl(&text).with_context(|| format!("parsing {}", file.display()))?;
    let verdict = check(&events, Budget { states: budget })
        .with_context(|| format!("{} is not a valid history", file.display()))?;
    Ok(match &verdict {
        Verdict::Linearizable => {
            println!("linearizable");
            ExitCode::from(0)
        }
        Verdict::NotLinearizable { .. } => {
            print!("{}", verdict.explain(&events));
            ExitCode::from(1)
        }
        Verdict::Unknown { key } => {
            println!(
                "unknown: key {key:?} needs more than {budget} search states (raise --budget)"
            );
            ExitCode::from(2)
        }
    })
}
