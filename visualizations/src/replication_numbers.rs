//! Part IV's numbers from 1,000-seed sweeps, written into the book.
//!
//! The results chapter's correctness table, and the counts the other
//! chapters quote from it, come from `sim sweep` over seeds 0 to 999. A
//! sweep takes seconds of release-mode time, too slow for `cargo test`, so
//! the `figures` step computes them here, through the same library calls
//! `sim` makes, and writes `replication-numbers.md`: Markdown fragments
//! between mdBook `ANCHOR` markers that the chapters include with
//! `{{#include ../figures/replication-numbers.md:NAME}}`. `figures --check`
//! compares the file byte for byte like the SVGs, so the book cannot drift
//! from the code.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use replication::checkers::lost_writes;
use replication::linearizability::Verdict;
use replication::primary_backup::{PrimaryBackupConfig, PrimaryBackupNode};
use replication::quorum::{QuorumConfig, QuorumMonitor, QuorumNode};
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::NetworkConfig;
use replication::sim::workload::{RunConfig, RunReport, Workload, run};

use crate::Figure;

/// The generated file.
pub(crate) const FILE: &str = "replication-numbers.md";

/// Seeds 0 to 999, as `sim sweep --seeds 1000`.
const SEEDS: u64 = 1_000;

pub(crate) fn all() -> Vec<Figure> {
    vec![Figure { name: FILE, render }]
}

/// One `sim sweep` command line: protocol, options, faults.
#[derive(Clone, Copy)]
struct Sweep {
    protocol: Protocol,
    faults: &'static str,
    unreliable: bool,
    read_from_backups: bool,
    cas_fraction: Option<f64>,
    /// Quorum only: `sim --atomic`.
    atomic: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Async,
    Raft,
    Quorum { r: usize, w: usize },
}

const fn sweep(protocol: Protocol, faults: &'static str) -> Sweep {
    Sweep {
        protocol,
        faults,
        unreliable: false,
        read_from_backups: false,
        cas_fraction: None,
        atomic: false,
    }
}

const fn unreliable(s: Sweep) -> Sweep {
    Sweep {
        unreliable: true,
        ..s
    }
}

/// The rows of the results chapter's table, in order.
const TABLE: [Sweep; 14] = [
    sweep(Protocol::Async, "none"),
    sweep(Protocol::Async, "random:2"),
    sweep(Protocol::Async, "majority:2"),
    unreliable(sweep(Protocol::Async, "random:5")),
    Sweep {
        read_from_backups: true,
        ..sweep(Protocol::Async, "none")
    },
    sweep(Protocol::Raft, "none"),
    sweep(Protocol::Raft, "random:2"),
    sweep(Protocol::Raft, "majority:2"),
    unreliable(sweep(Protocol::Raft, "random:5")),
    sweep(Protocol::Quorum { r: 2, w: 2 }, "none"),
    sweep(Protocol::Quorum { r: 2, w: 2 }, "random:2"),
    sweep(Protocol::Quorum { r: 2, w: 2 }, "majority:2"),
    sweep(Protocol::Quorum { r: 1, w: 1 }, "random:2"),
    sweep(Protocol::Quorum { r: 3, w: 3 }, "random:2"),
];

/// The quorum store without compare-and-sets (`--cas-fraction 0`), plain
/// and atomic (`--atomic`).
const NO_CAS: [Sweep; 4] = [
    Sweep {
        cas_fraction: Some(0.0),
        ..sweep(Protocol::Quorum { r: 2, w: 2 }, "random:2")
    },
    Sweep {
        cas_fraction: Some(0.0),
        ..unreliable(sweep(Protocol::Quorum { r: 2, w: 2 }, "random:5"))
    },
    Sweep {
        cas_fraction: Some(0.0),
        atomic: true,
        ..sweep(Protocol::Quorum { r: 2, w: 2 }, "random:2")
    },
    Sweep {
        cas_fraction: Some(0.0),
        atomic: true,
        ..unreliable(sweep(Protocol::Quorum { r: 2, w: 2 }, "random:5"))
    },
];

/// What one sweep found: how many seeds failed each check, and which
/// seeds failed at all.
#[derive(Default)]
struct Tally {
    failing: Vec<u64>,
    not_linearizable: usize,
    lost: usize,
    not_served: usize,
    disagree: usize,
    monitor: usize,
    messages: u64,
}

impl Sweep {
    /// `sim run`'s configuration for `seed` (`Setup::config` in `sim.rs`).
    fn config(self, seed: u64) -> Result<RunConfig> {
        let mut config = RunConfig::new(seed);
        config.faults = self.faults.parse()?;
        if self.unreliable {
            config.network = NetworkConfig::unreliable();
        }
        config.workload = Workload {
            cas_fraction: self
                .cas_fraction
                .unwrap_or(Workload::default().cas_fraction),
            retry_on_timeout: self.protocol == Protocol::Raft,
            ..Workload::default()
        };
        Ok(config)
    }

    /// `Setup::run` in `sim.rs`.
    fn run(self, seed: u64) -> Result<RunReport> {
        let config = self.config(seed)?;
        Ok(match self.protocol {
            Protocol::Async => {
                let pb = PrimaryBackupConfig {
                    read_from_backups: self.read_from_backups,
                    ..PrimaryBackupConfig::default()
                };
                run::<PrimaryBackupNode>(&config, pb, vec![])
            }
            Protocol::Raft => run::<RaftNode>(
                &config,
                RaftConfig::default(),
                vec![Box::new(RaftMonitor::new())],
            ),
            Protocol::Quorum { r, w } => run::<QuorumNode>(
                &config,
                QuorumConfig {
                    atomic: self.atomic,
                    ..QuorumConfig::new(3, r, w)
                },
                vec![Box::new(QuorumMonitor)],
            ),
        })
    }

    /// Seeds 0 to 999 on every core, tallied in seed order.
    fn tally(self) -> Result<Tally> {
        let next = AtomicUsize::new(0);
        let reports: Mutex<Vec<Option<Result<[bool; 5]>>>> =
            Mutex::new((0..SEEDS).map(|_| None).collect());
        let messages = std::sync::atomic::AtomicU64::new(0);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i as u64 >= SEEDS {
                            break;
                        }
                        let outcome = self.run(i as u64).map(|report| {
                            messages.fetch_add(report.messages_delivered, Ordering::Relaxed);
                            [
                                report.linearizable != Verdict::Linearizable,
                                !lost_writes(&report.history, &report.final_values).is_empty(),
                                !report.served_after_heal,
                                report.converged.is_err(),
                                report.violation.is_some(),
                            ]
                        });
                        reports.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome);
                    }
                });
            }
        });
        let mut tally = Tally {
            messages: messages.into_inner(),
            ..Tally::default()
        };
        let reports = reports.into_inner().unwrap_or_else(|e| e.into_inner());
        for (seed, outcome) in (0..).zip(reports) {
            let checks = outcome.expect("every seed ran")?;
            if checks.contains(&true) {
                tally.failing.push(seed);
            }
            tally.not_linearizable += usize::from(checks[0]);
            tally.lost += usize::from(checks[1]);
            tally.not_served += usize::from(checks[2]);
            tally.disagree += usize::from(checks[3]);
            tally.monitor += usize::from(checks[4]);
        }
        Ok(tally)
    }

    /// The table's first two columns.
    fn label(self) -> (String, String) {
        let protocol = match self.protocol {
            Protocol::Async => "`async`".to_owned(),
            Protocol::Raft => "`raft`".to_owned(),
            Protocol::Quorum { r: 2, w: 2 } => "`quorum` (N 3, R 2, W 2)".to_owned(),
            Protocol::Quorum { r, w } => format!("`quorum --r {r} --w {w}`"),
        };
        let mut faults = self.faults.to_owned();
        if self.unreliable {
            faults.push_str(" --network unreliable");
        }
        if self.read_from_backups {
            faults.push_str(" --read-from-backups");
        }
        (protocol, format!("`{faults}`"))
    }
}

/// A count as the book prints it: 1,000.
fn count(n: usize) -> String {
    crate::plot::thousands(n as u64)
}

/// `n` of 1,000 as a whole percentage.
fn percent(n: usize) -> String {
    format!("{}%", (n as f64 * 100.0 / SEEDS as f64).round())
}

fn anchor(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "ANCHOR: {name}\n{text}\nANCHOR_END: {name}\n");
}

fn render() -> Result<String> {
    let tallies: Vec<Tally> = TABLE.iter().map(|s| s.tally()).collect::<Result<_>>()?;
    let no_cas: Vec<Tally> = NO_CAS.iter().map(|s| s.tally()).collect::<Result<_>>()?;
    let mut out = String::from(
        "<!-- Generated by `cargo xtask figures` (visualizations/src/replication_numbers.rs) \
         from sweeps of seeds 0 to 999; `figures --check` compares it byte for byte. Do not edit. -->\n",
    );

    // A protocol whose every row passed every check is bolded, as the
    // best result in each column.
    let clean = |p: Protocol| {
        TABLE
            .iter()
            .zip(&tallies)
            .filter(|(s, _)| s.protocol == p)
            .all(|(_, t)| t.failing.is_empty())
    };
    let mut table = String::from(
        "| protocol | faults | failing seeds | not linearizable | lost writes | not served after heal | replicas disagree | monitor violation |\n\
         |---|---|---|---|---|---|---|---|",
    );
    for (sweep, t) in TABLE.iter().zip(&tallies) {
        let bold = clean(sweep.protocol);
        let cell = |n: usize| {
            if bold {
                format!("**{}**", count(n))
            } else {
                count(n)
            }
        };
        let monitor = if sweep.protocol == Protocol::Async {
            "—".to_owned()
        } else {
            cell(t.monitor)
        };
        let (protocol, faults) = sweep.label();
        let _ = write!(
            table,
            "\n| {protocol} | {faults} | {} | {} | {} | {} | {} | {monitor} |",
            cell(t.failing.len()),
            cell(t.not_linearizable),
            cell(t.lost),
            cell(t.not_served),
            cell(t.disagree),
        );
    }
    anchor(&mut out, "correctness_table", &table);

    let async_random = &tallies[1];
    anchor(
        &mut out,
        "async_random_failing",
        &count(async_random.failing.len()),
    );
    anchor(&mut out, "async_random_lost", &count(async_random.lost));
    anchor(
        &mut out,
        "async_random_not_linearizable_percent",
        &percent(async_random.not_linearizable),
    );
    anchor(
        &mut out,
        "async_random_lost_percent",
        &percent(async_random.lost),
    );
    anchor(&mut out, "quorum_r1_w1_lost", &count(tallies[12].lost));
    anchor(
        &mut out,
        "raft_random_messages",
        &tallies[6].messages.to_string(),
    );
    anchor(
        &mut out,
        "quorum_no_cas_random_failing",
        &count(no_cas[0].failing.len()),
    );
    let seeds: Vec<String> = no_cas[0].failing.iter().map(u64::to_string).collect();
    anchor(
        &mut out,
        "quorum_no_cas_random_failing_seeds",
        &seeds.join(", "),
    );
    anchor(
        &mut out,
        "quorum_no_cas_unreliable_failing",
        &count(no_cas[1].failing.len()),
    );
    anchor(
        &mut out,
        "quorum_atomic_random_failing",
        &count(no_cas[2].failing.len()),
    );
    anchor(
        &mut out,
        "quorum_atomic_unreliable_failing",
        &count(no_cas[3].failing.len()),
    );
    Ok(out)
}
