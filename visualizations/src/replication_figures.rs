//! Part IV's seeded figures: the `replication` crate's protocols run in its
//! deterministic simulator. Every run is a pure function of its seed (the
//! simulator's invariant 2), the runs of a sweep are split across threads
//! but gathered in seed order, and every number plotted comes from the
//! client history a run recorded or from its text trace — so every run of
//! these figures draws the same bytes.
//!
//! Times are virtual: a node's only cost is the simulator's network
//! latency (0.5–2 ms per hop) and, in the throughput figure, a fixed
//! `service_us` per input. No figure depends on the machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, ensure};
use plotters::prelude::SeriesLabelPosition;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replication::checkers::{Freshness, LostWrite, lost_writes, read_staleness};
use replication::history::{Event, Kind, Op};
use replication::primary_backup::{PrimaryBackupConfig, PrimaryBackupNode};
use replication::protocol::{Command, Node, Rejection, Reply, Request, RequestId, Time};
use replication::quorum::{QuorumConfig, QuorumNode};
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::workload::{Fault, Faults, RunConfig, RunReport, Workload, run};
use replication::sim::{Sim, SimConfig};

use crate::numbers::{Numbers, count};
use crate::plot::{Axis, PALETTE, Panel, Series, bar_chart_with, log_range, panels};
use crate::spacetime::{self, Diagram, Lane};
use crate::{Figure, QuotingFigure};

/// The command that renders (or, with `--check`, checks) these figures.
const COMMAND: &str = "cargo run --release -p visualizations -- figures";

fn footer(what: &str) -> String {
    format!("{what} · {COMMAND}")
}

/// The Part IV figures whose captions quote none of their numbers.
pub(crate) fn all() -> Vec<Figure> {
    vec![
        Figure {
            name: "replication-throughput.svg",
            render: throughput,
        },
        Figure {
            name: LATENCY_TABLE_FILE,
            render: latency_table,
        },
    ]
}

/// The Part IV figures whose captions quote their numbers.
pub(crate) fn quoting() -> Vec<QuotingFigure> {
    vec![
        QuotingFigure {
            name: "replication-lost-writes.svg",
            render: lost_writes_figure,
        },
        QuotingFigure {
            name: "replication-availability.svg",
            render: availability,
        },
        QuotingFigure {
            name: "replication-latency.svg",
            render: latency,
        },
        QuotingFigure {
            name: "replication-staleness.svg",
            render: staleness,
        },
        QuotingFigure {
            name: "replication-raft-election.svg",
            render: raft_election,
        },
        QuotingFigure {
            name: "replication-async-failover.svg",
            render: async_failover,
        },
    ]
}

// ---------------------------------------------------------------------
// Protocols and runs

/// A protocol as the figures compare them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Asynchronous primary-backup; `backup_reads` lets every node serve
    /// reads.
    Async { backup_reads: bool },
    /// Raft (ReadIndex reads).
    Raft,
    /// Leaderless quorums with `n` replicas per key (at most the cluster
    /// size), `r` and `w`.
    Quorum { n: usize, r: usize, w: usize },
}

/// The four protocols of the fault figures, in legend order.
const COMPARED: [Protocol; 4] = [
    Protocol::Async {
        backup_reads: false,
    },
    Protocol::Raft,
    Protocol::Quorum { n: 3, r: 2, w: 2 },
    Protocol::Quorum { n: 3, r: 1, w: 1 },
];

impl Protocol {
    fn label(self) -> String {
        match self {
            Protocol::Async {
                backup_reads: false,
            } => "async primary-backup".to_owned(),
            Protocol::Async { backup_reads: true } => {
                "async primary-backup, reads from backups".to_owned()
            }
            Protocol::Raft => "Raft".to_owned(),
            Protocol::Quorum { n, r, w } => format!("quorum N={n} R={r} W={w}"),
        }
    }

    /// The protocol in anchor names: `async`, `raft`, `quorum_r2_w2`.
    fn slug(self) -> String {
        match self {
            Protocol::Async {
                backup_reads: false,
            } => "async".to_owned(),
            Protocol::Async { backup_reads: true } => "async_backup_reads".to_owned(),
            Protocol::Raft => "raft".to_owned(),
            Protocol::Quorum { r, w, .. } => format!("quorum_r{r}_w{w}"),
        }
    }

    /// Runs `config` with this protocol's default parameters.
    fn run(self, config: &RunConfig) -> RunReport {
        match self {
            Protocol::Async { backup_reads } => {
                let pb = PrimaryBackupConfig {
                    read_from_backups: backup_reads,
                    ..PrimaryBackupConfig::default()
                };
                run::<PrimaryBackupNode>(config, pb, vec![])
            }
            Protocol::Raft => {
                // Raft's client sessions make retrying a timed-out request
                // safe (as `sim run --protocol raft` does).
                let mut config = config.clone();
                config.workload.retry_on_timeout = true;
                run::<RaftNode>(
                    &config,
                    RaftConfig::default(),
                    vec![Box::new(RaftMonitor::new())],
                )
            }
            Protocol::Quorum { n, r, w } => {
                let n = n.min(config.nodes);
                let quorum = QuorumConfig::new(n, r.min(n), w.min(n));
                run::<QuorumNode>(config, quorum, vec![])
            }
        }
    }
}

/// Threads for sweeps: any number gives the same figures.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `f` of every job, computed on [`threads`] threads, in job order; the
/// first error (in job order) if any failed.
fn par_map<J: Sync, T: Send>(jobs: &[J], f: impl Fn(&J) -> Result<T> + Sync) -> Result<Vec<T>> {
    let chunk = jobs.len().div_ceil(threads()).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<Result<T>>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a simulation thread panicked"))
            .collect::<Result<Vec<T>>>()
    })
}

/// A run's monitor must stay quiet: a Raft safety violation would make
/// every number of a figure meaningless.
fn checked(protocol: Protocol, report: RunReport) -> Result<RunReport> {
    ensure!(
        report.violation.is_none(),
        "{} broke a safety rule: {:?}; replay: {}",
        protocol.label(),
        report.violation,
        report.replay
    );
    Ok(report)
}

/// How many seeds `seeds` holds.
fn runs_of(seeds: &std::ops::Range<u64>) -> usize {
    (seeds.end - seeds.start) as usize
}

/// Virtual microseconds as milliseconds.
fn ms(t: Time) -> f64 {
    t as f64 / 1_000.0
}

/// Points kept of a CDF curve.
const CDF_POINTS_MAX: usize = 60;

/// The empirical CDF of `values` (sorted here): one point per distinct
/// value, at the fraction of values at or below it.
fn cdf(mut values: Vec<f64>) -> Vec<(f64, f64)> {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let y = (i + 1) as f64 / n;
        match points.last_mut() {
            Some(last) if last.0 == *v => last.1 = y,
            _ => points.push((*v, y)),
        }
    }
    // At most about CDF_POINTS_MAX points (and always the last): the
    // curve looks the same and the file stays small.
    let step = points.len().div_ceil(CDF_POINTS_MAX).max(1);
    let last = points.last().copied();
    let mut kept: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    if let Some(last) = last
        && kept.last() != Some(&last)
    {
        kept.push(last);
    }
    kept
}

/// An operation of a history, as the availability and latency figures see
/// it.
struct Operation {
    /// When it was invoked.
    invoked: Time,
    /// When and how it completed, if it did.
    done: Option<(Time, Kind)>,
    /// Whether it is a read.
    read: bool,
}

/// Each operation of `history`, in invocation order.
fn operations(history: &[(Time, Event)]) -> Vec<Operation> {
    let mut running: BTreeMap<u64, usize> = BTreeMap::new();
    let mut ops = Vec::new();
    for (t, e) in history {
        if e.kind == Kind::Invoke {
            running.insert(e.process, ops.len());
            ops.push(Operation {
                invoked: *t,
                done: None,
                read: matches!(e.op, Op::Read(_)),
            });
        } else if let Some(i) = running.remove(&e.process) {
            ops[i].done = Some((*t, e.kind));
        }
    }
    ops
}

// ---------------------------------------------------------------------
// 1. Lost writes

/// Seeds of the lost-writes sweep.
const LOST_SEEDS: std::ops::Range<u64> = 1..17;
/// Fault rates of the sweep, faults per virtual second.
const INTENSITIES: [f64; 5] = [0.0, 1.0, 2.0, 4.0, 8.0];
/// Many keys, each written by few operations, so that the final value of a
/// key proves what was lost (the checker's rule 2).
const LOST_KEYS: u32 = 50;

// ANCHOR: lost_writes
fn lost_writes_figure() -> Result<(String, Numbers)> {
    let jobs: Vec<(Protocol, f64, u64)> = COMPARED
        .iter()
        .flat_map(|&p| {
            INTENSITIES
                .iter()
                .flat_map(move |&i| LOST_SEEDS.map(move |seed| (p, i, seed)))
        })
        .collect();
    let counted = par_map(&jobs, |&(protocol, intensity, seed)| {
        let mut config = RunConfig::new(seed);
        config.workload.keys = LOST_KEYS;
        config.faults = Faults::Random {
            intensity,
            keep_majority: false,
        };
        let report = checked(protocol, protocol.run(&config))?;
        let lost = lost_writes(&report.history, &report.final_values);
        let corrupt = lost
            .iter()
            .filter(|l| matches!(l, LostWrite::Corrupt { .. }))
            .count();
        Ok((lost.len() - corrupt, report.replay))
    })?;
    let mut series = Vec::new();
    let mut numbers = Numbers::default();
    let mut high = 1.0f64;
    for (p, protocol) in COMPARED.iter().enumerate() {
        let mut points = Vec::new();
        let mut total = 0;
        for (i, &intensity) in INTENSITIES.iter().enumerate() {
            let mut lost = 0;
            for s in 0..runs_of(&LOST_SEEDS) {
                let job = (p * INTENSITIES.len() + i) * runs_of(&LOST_SEEDS) + s;
                let (n, replay) = &counted[job];
                ensure!(
                    *protocol != Protocol::Raft || *n == 0,
                    "Raft lost {n} acknowledged writes, a bug; replay: {replay}"
                );
                lost += n;
            }
            total += lost;
            let mean = lost as f64 / runs_of(&LOST_SEEDS) as f64;
            high = high.max(mean);
            points.push((intensity, mean));
        }
        numbers.quote(format!("{}_lost", protocol.slug()), count(total as u64));
        series.push(Series {
            label: format!("{} ({total} lost in all)", protocol.label()),
            points,
            color: PALETTE[p],
            dashed: false,
        });
    }
    let svg = panels(
        "Which protocols lose acknowledged writes as faults grow more frequent?",
        crate::plot::SIZE,
        1,
        &[Panel {
            title: String::new(),
            x: Axis {
                label: "fault intensity (faults per virtual second: partitions, crashes, pauses, clogs)",
                range: (0.0, 8.2),
                log: false,
            },
            y: Axis {
                label: "acknowledged writes lost per run (mean)",
                range: (0.0, (high * 1.15).ceil()),
                log: false,
            },
            series,
            legend: SeriesLabelPosition::UpperLeft,
        }],
        &footer(&format!(
            "5 nodes, 5 clients, {LOST_KEYS} keys, 3 s of faults then 2 s healed; checkers::lost_writes; seeds {}..={}",
            LOST_SEEDS.start,
            LOST_SEEDS.end - 1
        )),
    )?;
    Ok((svg, numbers))
}
// ANCHOR_END: lost_writes

// ---------------------------------------------------------------------
// 2. Availability during a partition

/// Seeds of the partition runs.
const PARTITION_SEEDS: std::ops::Range<u64> = 1..9;
/// The partition: nodes 0 and 1 (async's first primary among them) cut
/// off from 2, 3 and 4, from `PARTITION_US.0` to `PARTITION_US.1`.
const PARTITION_US: (Time, Time) = (500_000, 2_500_000);

fn availability() -> Result<(String, Numbers)> {
    let script = Faults::Script(vec![
        (
            PARTITION_US.0,
            Fault::Partition(vec![vec![0, 1], vec![2, 3, 4]]),
        ),
        (PARTITION_US.1, Fault::Heal),
    ]);
    let jobs: Vec<(Protocol, u64)> = COMPARED
        .iter()
        .flat_map(|&p| PARTITION_SEEDS.map(move |s| (p, s)))
        .collect();
    let counts = par_map(&jobs, |&(protocol, seed)| {
        let mut config = RunConfig::new(seed);
        config.faults = script.clone();
        config.workload = Workload {
            cas_fraction: 0.0, // a CAS mismatch is served, but recorded `fail`
            ..Workload::default()
        };
        let report = checked(protocol, protocol.run(&config))?;
        // [reads ok, reads, writes ok, writes] invoked during the partition.
        let mut c = [0usize; 4];
        for Operation {
            invoked,
            done,
            read,
        } in operations(&report.history)
        {
            if invoked < PARTITION_US.0 || invoked >= PARTITION_US.1 {
                continue;
            }
            let at = if read { 0 } else { 2 };
            c[at + 1] += 1;
            if matches!(done, Some((_, Kind::Ok))) {
                c[at] += 1;
            }
        }
        Ok(c)
    })?;
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    let mut numbers = Numbers::default();
    for (p, protocol) in COMPARED.iter().enumerate() {
        let mut sum = [0usize; 4];
        for r in &counts[p * runs_of(&PARTITION_SEEDS)..(p + 1) * runs_of(&PARTITION_SEEDS)] {
            for (s, v) in sum.iter_mut().zip(r) {
                *s += v;
            }
        }
        reads.push(sum[0] as f64 / sum[1].max(1) as f64);
        writes.push(sum[2] as f64 / sum[3].max(1) as f64);
        // As the bars are labelled.
        numbers.quote(format!("{}_reads", protocol.slug()), fraction(reads[p]));
        numbers.quote(format!("{}_writes", protocol.slug()), fraction(writes[p]));
    }
    let labels: Vec<String> = COMPARED.iter().map(|p| p.label()).collect();
    let categories: Vec<&str> = labels.iter().map(String::as_str).collect();
    let svg = bar_chart_with(
        "Which protocols keep serving while nodes {0,1} are cut off from {2,3,4} for 2 s?",
        &categories,
        &[("reads", reads), ("writes", writes)],
        Axis {
            label: "operations invoked during the partition that completed ok (fraction)",
            range: (0.0, 1.3),
            log: false,
        },
        fraction,
        &footer(&format!(
            "5 nodes, 5 clients (any node, following leader hints), partition 0,1|2,3,4 from {} to {} ms; seeds {}..={}",
            PARTITION_US.0 / 1_000,
            PARTITION_US.1 / 1_000,
            PARTITION_SEEDS.start,
            PARTITION_SEEDS.end - 1
        )),
    )?;
    Ok((svg, numbers))
}

/// A fraction as the availability figure labels its bars: 0.51.
fn fraction(v: f64) -> String {
    format!("{v:.2}")
}

// ---------------------------------------------------------------------
// 3. Latency

/// Seeds of the fault-free latency runs.
const LATENCY_SEEDS: std::ops::Range<u64> = 1..5;

fn latency() -> Result<(String, Numbers)> {
    let jobs: Vec<(Protocol, u64)> = COMPARED
        .iter()
        .flat_map(|&p| LATENCY_SEEDS.map(move |s| (p, s)))
        .collect();
    let runs = par_map(&jobs, |&(protocol, seed)| {
        let mut config = RunConfig::new(seed);
        config.faults = Faults::None;
        config.workload.keys = 10;
        let report = checked(protocol, protocol.run(&config))?;
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        for Operation {
            invoked,
            done,
            read,
        } in operations(&report.history)
        {
            // The safety phase only: the final reads are one client alone.
            if let Some((t, Kind::Ok)) = done
                && t <= config.safety_us + config.liveness_us
            {
                if read { &mut reads } else { &mut writes }.push(ms(t - invoked));
            }
        }
        Ok((reads, writes))
    })?;
    let mut read_series = Vec::new();
    let mut write_series = Vec::new();
    let mut numbers = Numbers::default();
    let mut all = Vec::new();
    for (p, protocol) in COMPARED.iter().enumerate() {
        let mut reads = Vec::new();
        let mut writes = Vec::new();
        for r in &runs[p * runs_of(&LATENCY_SEEDS)..(p + 1) * runs_of(&LATENCY_SEEDS)] {
            let (r, w) = r;
            reads.extend_from_slice(r);
            writes.extend_from_slice(w);
        }
        all.extend(reads.iter().chain(&writes).copied());
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        let (mr, mw) = (median(&mut reads), median(&mut writes));
        numbers.quote(
            format!("{}_read_median_ms", protocol.slug()),
            format!("{mr:.1}"),
        );
        numbers.quote(
            format!("{}_write_median_ms", protocol.slug()),
            format!("{mw:.1}"),
        );
        for (target, values, m) in [
            (&mut read_series, reads, mr),
            (&mut write_series, writes, mw),
        ] {
            target.push(Series {
                label: format!("{} (median {m:.1} ms)", protocol.label()),
                points: cdf(values),
                color: PALETTE[p],
                dashed: false,
            });
        }
    }
    ensure!(!all.is_empty(), "no operation completed");
    let x = || Axis {
        label: "latency, invocation to ok reply (virtual ms, log scale)",
        range: log_range(all.iter().copied()),
        log: true,
    };
    let y = || Axis {
        label: "fraction of operations at most this slow",
        range: (0.0, 1.0),
        log: false,
    };
    let svg = panels(
        "How long does a client wait for each protocol, with no faults?",
        (1200, 560),
        2,
        &[
            Panel {
                title: "reads".to_owned(),
                x: x(),
                y: y(),
                series: read_series,
                legend: SeriesLabelPosition::LowerRight,
            },
            Panel {
                title: "writes and compare-and-sets".to_owned(),
                x: x(),
                y: y(),
                series: write_series,
                legend: SeriesLabelPosition::LowerRight,
            },
        ],
        &footer(&format!(
            "5 nodes, 5 clients, 10 keys, 5 s, no faults, links 0.5–2 ms per hop; seeds {}..={}",
            LATENCY_SEEDS.start,
            LATENCY_SEEDS.end - 1
        )),
    )?;
    Ok((svg, numbers))
}

// ---------------------------------------------------------------------
// 3b. The results chapter's latency table

/// The generated latency table and the numbers its prose quotes.
const LATENCY_TABLE_FILE: &str = "replication-latency-table.md";
/// Seeds 0 to 19, as `python3 latency.py PROTOCOL FAULTS 20` in the
/// results chapter.
const TABLE_SEEDS: std::ops::Range<u64> = 0..20;
/// The table's fault settings (`sim run --faults`), one group of rows each.
const TABLE_FAULTS: [&str; 2] = ["none", "random:2"];
/// The table's protocols, as `sim run --protocol` runs them by default.
const TABLE_PROTOCOLS: [(&str, Protocol); 3] = [
    (
        "async",
        Protocol::Async {
            backup_reads: false,
        },
    ),
    ("raft", Protocol::Raft),
    ("quorum", Protocol::Quorum { n: 3, r: 2, w: 2 }),
];

/// One row of the latency table, over [`TABLE_SEEDS`].
#[derive(Default)]
struct LatencyRow {
    /// Operations invoked during the safety phase.
    invoked: usize,
    /// Operations that completed `info`.
    info: usize,
    /// Latencies of `ok` operations (µs): writes, reads, compare-and-sets.
    ok_us: [Vec<Time>; 3],
}

impl LatencyRow {
    /// Operations invoked per virtual second of the safety phase, per run.
    fn per_second(&self, safety_us: Time) -> f64 {
        self.invoked as f64 / runs_of(&TABLE_SEEDS) as f64 / (safety_us as f64 / 1e6)
    }

    /// The median and 99th percentile of column `f` in ms, each as the
    /// table prints it (the values `sorted[len / 2]` and
    /// `sorted[len · 99 / 100]`, as the chapter's script takes them).
    fn percentiles(&self, f: usize) -> [String; 2] {
        let mut v = self.ok_us[f].clone();
        v.sort_unstable();
        let at = |i: usize| v.get(i).map_or(0.0, |&t| ms(t));
        [
            format!("{:.1}", at(v.len() / 2)),
            format!("{:.1}", at(v.len() * 99 / 100)),
        ]
    }
}

/// `sim run --protocol P --seed S --faults F`'s history, tallied as the
/// chapter's `latency.py` tallies the file `--history` writes.
fn latency_row(protocol: Protocol, faults: &str) -> Result<(LatencyRow, Time)> {
    let faults: Faults = faults.parse()?;
    let runs = par_map(&TABLE_SEEDS.collect::<Vec<_>>(), |&seed| {
        let mut config = RunConfig::new(seed);
        config.faults = faults.clone();
        let report = checked(protocol, protocol.run(&config))?;
        Ok((report.history, config.safety_us))
    })?;
    let mut row = LatencyRow::default();
    let mut safety_us = 0;
    for (history, safety) in runs {
        safety_us = safety;
        let mut running: BTreeMap<u64, (Time, &Op)> = BTreeMap::new();
        for (t, e) in &history {
            if e.kind == Kind::Invoke {
                running.insert(e.process, (*t, &e.op));
                row.invoked += usize::from(*t < safety);
                continue;
            }
            let (start, op) = running
                .remove(&e.process)
                .context("a completion without an invocation")?;
            row.info += usize::from(e.kind == Kind::Info);
            if e.kind == Kind::Ok {
                let f = match op {
                    Op::Write(_) => 0,
                    Op::Read(_) => 1,
                    Op::Cas(..) => 2,
                };
                row.ok_us[f].push(t - start);
            }
        }
    }
    Ok((row, safety_us))
}

/// The results chapter's table of latencies and work done, with the
/// best value of each column in each fault group bolded, and the numbers
/// its prose quotes.
fn latency_table() -> Result<String> {
    let mut out = format!(
        "<!-- Generated by `cargo xtask figures` (visualizations/src/replication_figures.rs, `latency_table`) \
         from `sim run` on seeds {}..={}; `figures --check` compares it byte for byte. Do not edit. -->\n",
        TABLE_SEEDS.start,
        TABLE_SEEDS.end - 1
    );
    let mut table = format!(
        "| protocol | faults | operations invoked per second | `info` outcomes ({} runs) | write: median / p99 | read: median / p99 | compare-and-set: median / p99 |\n\
         |---|---|---|---|---|---|---|",
        runs_of(&TABLE_SEEDS)
    );
    let mut quoted = Numbers::default();
    for faults in TABLE_FAULTS {
        let mut rows = Vec::new();
        for (name, protocol) in TABLE_PROTOCOLS {
            let (row, safety_us) = latency_row(protocol, faults)?;
            // Cells: ops/s, info, then median and p99 of each function.
            let mut cells = vec![
                format!("{:.0}", row.per_second(safety_us)),
                row.info.to_string(),
            ];
            for f in 0..3 {
                cells.extend(row.percentiles(f));
            }
            let slug = faults.replace(':', "_");
            quoted.quote(format!("{name}_{slug}_info"), &cells[1]);
            quoted.quote(format!("{name}_{slug}_read_p99_ms"), {
                let p99: f64 = cells[5].parse()?;
                format!("{p99:.0}")
            });
            rows.push((name, cells));
        }
        // The best per column: most operations, fewest `info`, least time.
        let value = |cells: &[String], c: usize| cells[c].parse::<f64>().unwrap_or(f64::NAN);
        let best: Vec<f64> = (0..8)
            .map(|c| {
                let values = rows.iter().map(|(_, cells)| value(cells, c));
                if c == 0 {
                    values.fold(f64::MIN, f64::max)
                } else {
                    values.fold(f64::MAX, f64::min)
                }
            })
            .collect();
        for (name, cells) in &rows {
            let cell = |c: usize, unit: &str| {
                if value(cells, c) == best[c] {
                    format!("**{}{unit}**", cells[c])
                } else {
                    format!("{}{unit}", cells[c])
                }
            };
            let _ = write!(
                table,
                "\n| `{name}` | `{faults}` | {} | {} | {} / {} | {} / {} | {} / {} |",
                cell(0, ""),
                cell(1, ""),
                cell(2, " ms"),
                cell(3, " ms"),
                cell(4, " ms"),
                cell(5, " ms"),
                cell(6, " ms"),
                cell(7, " ms"),
            );
        }
    }
    let _ = write!(
        out,
        "ANCHOR: latency_table\n{table}\nANCHOR_END: latency_table\n"
    );
    out.push_str(&quoted.fragments());
    Ok(out)
}

// ---------------------------------------------------------------------
// 4. Staleness of backup reads

/// Ship intervals compared (all below the 150 ms failover timeout: the
/// shipment is also the heartbeat).
const SHIP_INTERVALS_US: [Time; 3] = [10_000, 40_000, 100_000];
/// Seeds of the staleness runs.
const STALENESS_SEEDS: std::ops::Range<u64> = 1..5;

fn staleness() -> Result<(String, Numbers)> {
    let jobs: Vec<(Time, u64)> = SHIP_INTERVALS_US
        .iter()
        .flat_map(|&i| STALENESS_SEEDS.map(move |s| (i, s)))
        .collect();
    let runs = par_map(&jobs, |&(interval, seed)| {
        let mut config = RunConfig::new(seed);
        config.faults = Faults::None;
        let pb = PrimaryBackupConfig {
            ship_interval_us: interval,
            read_from_backups: true,
            ..PrimaryBackupConfig::default()
        };
        let report = run::<PrimaryBackupNode>(&config, pb, vec![]);
        let mut behind = Vec::new();
        for s in read_staleness(&report.history) {
            match s.freshness {
                Freshness::Behind { time_behind_us, .. } => behind.push(ms(time_behind_us)),
                Freshness::NeverWritten => anyhow::bail!(
                    "a read of {} returned a value never written; replay: {}",
                    s.key,
                    report.replay
                ),
            }
        }
        Ok(behind)
    })?;
    let mut series = Vec::new();
    let mut numbers = Numbers::default();
    let mut high = 1.0f64;
    for (i, interval) in SHIP_INTERVALS_US.iter().enumerate() {
        let mut behind = Vec::new();
        for r in &runs[i * runs_of(&STALENESS_SEEDS)..(i + 1) * runs_of(&STALENESS_SEEDS)] {
            behind.extend_from_slice(r);
        }
        let stale = behind.iter().filter(|&&b| b > 0.0).count();
        high = high.max(behind.iter().copied().fold(0.0, f64::max));
        let fraction = stale as f64 / behind.len().max(1) as f64;
        let ms = interval / 1_000;
        numbers.quote(
            format!("ship_{ms}_ms_stale"),
            format!("{:.1}%", 100.0 * fraction),
        );
        numbers.quote(format!("ship_{ms}_ms_reads"), count(behind.len() as u64));
        series.push(Series {
            label: format!(
                "ships every {} ms: {:.1}% of {} reads stale",
                interval / 1_000,
                100.0 * fraction,
                behind.len()
            ),
            points: cdf(behind),
            color: PALETTE[i],
            dashed: false,
        });
    }
    // Each interval as a reference: a backup is at most one interval
    // (plus a hop) behind.
    for (i, interval) in SHIP_INTERVALS_US.iter().enumerate() {
        let x = ms(*interval);
        series.push(Series {
            label: String::new(),
            points: vec![(x, 0.0), (x, 1.0)],
            color: PALETTE[i],
            dashed: true,
        });
    }
    let low = series
        .iter()
        .filter(|s| !s.dashed)
        .filter_map(|s| s.points.first().map(|p| p.1))
        .fold(1.0, f64::min);
    let svg = panels(
        "How stale are reads served by asynchronous backups, by how often the primary ships?",
        crate::plot::SIZE,
        1,
        &[Panel {
            title: String::new(),
            x: Axis {
                label: "time behind: read's invocation less the ack of the first write it missed (virtual ms)",
                range: (0.0, (high / 10.0).ceil() * 10.0 + 5.0),
                log: false,
            },
            y: Axis {
                label: "fraction of reads at most this stale",
                range: ((low * 10.0).floor() / 10.0, 1.0),
                log: false,
            },
            series,
            legend: SeriesLabelPosition::LowerRight,
        }],
        &footer(&format!(
            "checkers::read_staleness; dashed: the ship interval; 5 nodes, 5 clients, 3 keys, no faults; seeds {}..={}",
            STALENESS_SEEDS.start,
            STALENESS_SEEDS.end - 1
        )),
    )?;
    Ok((svg, numbers))
}

// ---------------------------------------------------------------------
// 5. Throughput as replicas are added

/// Cluster sizes compared.
const CLUSTER_SIZES: [usize; 5] = [1, 3, 5, 7, 9];
/// Each node's time per input: a node handles at most 10,000 inputs per
/// virtual second.
const SERVICE_US: Time = 100;
/// Closed-loop clients per node: enough to keep every node busy.
const CLIENTS_PER_NODE: usize = 30;
/// Closed-loop clients enough to keep one leader busy.
const CLIENTS_FEW: usize = 30;
/// Throughput is counted over this window of the safety phase (after a
/// warm-up in which Raft elects its leader).
const MEASURE_US: (Time, Time) = (350_000, 500_000);
/// The seed of the throughput runs.
const THROUGHPUT_SEED: u64 = 1;
/// Keys the throughput clients use.
const THROUGHPUT_KEYS: u32 = 1_000;
/// A client's pause between operations.
const THINK_US: Time = 100;
/// How often the throughput driver looks at replies.
const THROUGHPUT_STEP_US: Time = 100;

/// The three designs of the throughput figure, in legend order.
const SCALING: [Protocol; 3] = [
    Protocol::Async { backup_reads: true },
    Protocol::Raft,
    Protocol::Quorum { n: 3, r: 1, w: 1 },
];

/// Closed-loop clients against a [`Sim`] of `nodes` nodes (each spending
/// [`SERVICE_US`] per input), issuing only reads or only writes: the
/// operations per virtual second completed in [`MEASURE_US`].
///
/// A lighter driver than `workload::run`: throughput needs no history,
/// no final reads and no linearizability check (which, with hundreds of
/// clients writing a few keys, would cost far more than the simulation).
fn closed_loop<N: Node>(
    nodes: usize,
    clients: usize,
    config: N::Config,
    reads: bool,
) -> Result<f64> {
    let mut sim_config = SimConfig::new(THROUGHPUT_SEED, nodes);
    sim_config.service_us = SERVICE_US;
    let mut sim: Sim<N> = Sim::new(sim_config, config);
    let mut rng = ChaCha8Rng::seed_from_u64(THROUGHPUT_SEED ^ 0x636c_6965_6e74);
    // Per client: its next sequence number, where updates go, and the
    // request outstanding (sent at, to, request) or when to send the next.
    let mut seq = vec![0u64; clients];
    let mut leader: Vec<Option<usize>> = vec![None; clients];
    let mut outstanding: BTreeMap<u64, (Time, Request)> = BTreeMap::new();
    let mut wake: Vec<Time> = vec![0; clients];
    let mut done = 0usize;
    let mut next_value = 0;
    while sim.now() < MEASURE_US.1 {
        let now = sim.now();
        for c in 0..clients {
            if wake[c] > now || outstanding.contains_key(&(c as u64)) {
                continue;
            }
            next_value += 1;
            let key = rng.random_range(0..THROUGHPUT_KEYS);
            let command = if reads {
                Command::Read { key }
            } else {
                Command::Write {
                    key,
                    value: next_value,
                }
            };
            let to = match leader[c] {
                Some(l) if !reads => l,
                _ => rng.random_range(0..nodes),
            };
            let id = RequestId {
                client: c as u64,
                seq: seq[c],
            };
            seq[c] += 1;
            let request = Request { id, command };
            outstanding.insert(c as u64, (now, request));
            sim.submit_as(to, request);
        }
        sim.run_for(THROUGHPUT_STEP_US);
        for (at, from, id, reply) in sim.take_replies() {
            let c = id.client as usize;
            let Some(&(sent, request)) = outstanding.get(&id.client) else {
                continue;
            };
            if request.id != id {
                continue; // a late reply to an earlier attempt
            }
            match reply {
                Reply::Rejected(Rejection::NotLeader { leader: hint }) => {
                    // Retry at once where the hint points (or anywhere).
                    let to = hint.unwrap_or_else(|| rng.random_range(0..nodes));
                    leader[c] = hint;
                    sim.submit_as(to, request);
                    outstanding.insert(id.client, (sent, request));
                }
                Reply::Read(_) | Reply::Done => {
                    if (MEASURE_US.0..MEASURE_US.1).contains(&at) {
                        done += 1;
                    }
                    if !reads {
                        leader[c] = Some(from);
                    }
                    outstanding.remove(&id.client);
                    wake[c] = at + THINK_US;
                }
                Reply::Rejected(_) | Reply::Uncertain => {
                    outstanding.remove(&id.client);
                    wake[c] = at + THINK_US;
                }
            }
        }
        // A request lost with a crashed node would wait forever; there are
        // no faults here, but bound the wait anyway.
        let stale: Vec<u64> = outstanding
            .iter()
            .filter(|(_, (sent, _))| sim.now() > sent + 1_000_000)
            .map(|(&c, _)| c)
            .collect();
        for c in stale {
            outstanding.remove(&c);
        }
    }
    ensure!(sim.violation().is_none(), "{:?}", sim.violation());
    Ok(done as f64 / ((MEASURE_US.1 - MEASURE_US.0) as f64 / 1e6))
}

fn throughput() -> Result<String> {
    let jobs: Vec<(bool, Protocol, usize)> = [true, false]
        .iter()
        .flat_map(|&reads| {
            SCALING
                .iter()
                .flat_map(move |&p| CLUSTER_SIZES.map(move |n| (reads, p, n)))
        })
        .collect();
    let rates = par_map(&jobs, |&(reads, protocol, nodes)| {
        // The peak over two loads: a leader is saturated by a few clients
        // and falls into election churn when hundreds queue at it, while
        // every replica serving reads needs clients in proportion.
        let mut best = 0.0f64;
        let mut loads = vec![CLIENTS_FEW, CLIENTS_PER_NODE * nodes];
        loads.dedup();
        for clients in loads {
            let rate = match protocol {
                Protocol::Async { backup_reads } => closed_loop::<PrimaryBackupNode>(
                    nodes,
                    clients,
                    PrimaryBackupConfig {
                        read_from_backups: backup_reads,
                        ..PrimaryBackupConfig::default()
                    },
                    reads,
                ),
                Protocol::Raft => {
                    closed_loop::<RaftNode>(nodes, clients, RaftConfig::default(), reads)
                }
                Protocol::Quorum { n, r, w } => {
                    let n = n.min(nodes);
                    let quorum = QuorumConfig {
                        hinted_handoff: false,
                        ..QuorumConfig::new(n, r.min(n), w.min(n))
                    };
                    closed_loop::<QuorumNode>(nodes, clients, quorum, reads)
                }
            }?;
            best = best.max(rate);
        }
        Ok(best)
    })?;
    let mut read_series = Vec::new();
    let mut write_series = Vec::new();
    let mut high = 0.0f64;
    for (half, target) in [(0, &mut read_series), (1, &mut write_series)] {
        for (p, protocol) in SCALING.iter().enumerate() {
            let mut points = Vec::new();
            for (i, &nodes) in CLUSTER_SIZES.iter().enumerate() {
                let job = (half * SCALING.len() + p) * CLUSTER_SIZES.len() + i;
                let rate = &rates[job];
                high = high.max(*rate / 1_000.0);
                points.push((nodes as f64, *rate / 1_000.0));
            }
            let label = match protocol {
                Protocol::Quorum { n, r, w } => {
                    format!("quorum N={n} R={r} W={w} (N=1 on 1 node; no hinted handoff)")
                }
                p => p.label(),
            };
            target.push(Series {
                label,
                points,
                color: PALETTE[p],
                dashed: false,
            });
        }
        let capacity = 1e6 / SERVICE_US as f64;
        target.push(Series {
            label: "every node's whole capacity, one input per op".to_owned(),
            points: CLUSTER_SIZES
                .iter()
                .map(|&n| (n as f64, n as f64 * capacity / 1_000.0))
                .collect(),
            color: PALETTE[6],
            dashed: true,
        });
        high = high.max(CLUSTER_SIZES[CLUSTER_SIZES.len() - 1] as f64 * capacity / 1_000.0);
    }
    let x = || Axis {
        label: "nodes in the cluster",
        range: (0.0, 10.0),
        log: false,
    };
    let y = || Axis {
        label: "thousand operations completed per virtual second",
        range: (0.0, (high / 10.0).ceil() * 10.0),
        log: false,
    };
    panels(
        "Does adding replicas add throughput? Reads served by any replica scale; writes do not",
        (1200, 560),
        2,
        &[
            Panel {
                title: "read-only workload".to_owned(),
                x: x(),
                y: y(),
                series: read_series,
                legend: SeriesLabelPosition::UpperLeft,
            },
            Panel {
                title: "write-only workload".to_owned(),
                x: x(),
                y: y(),
                series: write_series,
                legend: SeriesLabelPosition::UpperLeft,
            },
        ],
        &footer(&format!(
            "service_us = {SERVICE_US} per input per node; best of {CLIENTS_FEW} clients and {CLIENTS_PER_NODE} per node (closed loop); ops completed {}–{} ms; no faults; seed {THROUGHPUT_SEED}",
            MEASURE_US.0 / 1_000,
            MEASURE_US.1 / 1_000
        )),
    )
}

// ---------------------------------------------------------------------
// 6. A Raft election, as a space-time diagram

/// The seed of the election.
const ELECTION_SEED: u64 = 1;
/// Nodes in the election.
const ELECTION_NODES: usize = 5;

fn raft_election() -> Result<(String, Numbers)> {
    let mut config = SimConfig::new(ELECTION_SEED, ELECTION_NODES);
    config.trace = true;
    let mut sim: Sim<RaftNode> = Sim::new(config, RaftConfig::default());
    sim.add_monitor(Box::new(RaftMonitor::new()));
    // Until the first leader, then a little longer for its first round.
    let mut leader_at = None;
    for _ in 0..2_000 {
        sim.run_for(1_000);
        if leader_at.is_none()
            && (0..ELECTION_NODES).any(|n| sim.node(n).is_some_and(RaftNode::is_leader))
        {
            leader_at = Some(sim.now());
        }
        if leader_at.is_some_and(|t| sim.now() >= t + 8_000) {
            break;
        }
    }
    ensure!(
        sim.violation().is_none(),
        "Raft broke a rule: {:?}",
        sim.violation()
    );
    leader_at.context("no leader within 2 s")?;
    let events = spacetime::parse(sim.trace())?;
    let (candidate, first, term) = events
        .iter()
        .find_map(|e| match e {
            spacetime::Line::Role { at, node, role } => {
                let term = role.strip_prefix("candidate t")?;
                Some((*at, *node, term.to_owned()))
            }
            _ => None,
        })
        .context("no candidate in the trace")?;
    let mut numbers = Numbers::default();
    numbers.quote("first_candidate", format!("n{first}"));
    numbers.quote("first_timeout_ms", format!("{:.0}", ms(candidate)));
    numbers.quote("first_term", term);
    let elected = events
        .iter()
        .find_map(|e| match e {
            spacetime::Line::Role { at, node, role } if role.starts_with("leader") => {
                Some((*at, *node, role.clone()))
            }
            _ => None,
        })
        .context("no leader in the trace")?;
    // The caption tells one node's story: the first to time out wins.
    ensure!(
        elected.1 == first,
        "n{first} timed out first but n{} won the election",
        elected.1
    );
    let start = candidate.saturating_sub(1_000);
    // Until the replies to the new leader's first AppendEntries are in.
    let end = events
        .iter()
        .filter_map(|e| match e {
            spacetime::Line::Deliver { at, sent, .. } if *sent <= elected.0 + 1_000 => Some(*at),
            _ => None,
        })
        .max()
        .unwrap_or(elected.0)
        + 500;
    let lanes: Vec<Lane> = (0..ELECTION_NODES)
        .map(|n| Lane::Node(n, format!("n{n}")))
        .collect();
    let diagram = Diagram {
        title: format!(
            "How does Raft elect its first leader? n{} times out, wins a majority of votes, and sends AppendEntries",
            elected.1
        ),
        lanes,
        window: (start, end),
        classify: raft_message,
        footer: footer(&format!(
            "Sim<RaftNode> trace, {ELECTION_NODES} nodes, RaftConfig::default(), links 0.5–2 ms; seed {ELECTION_SEED}"
        )),
        notes: Vec::new(),
        client_sent: None,
    };
    Ok((spacetime::render(&diagram, &events)?, numbers))
}

/// A Raft message's colour class, legend entry and label.
fn raft_message(msg: &str) -> (usize, &'static str, String) {
    let word = msg.split([' ', '{']).next().unwrap_or("");
    let term = field(msg, "term").unwrap_or_default();
    match word {
        "RequestVote" => (0, "RequestVote", format!("RequestVote t{term}")),
        "RequestVoteReply" if msg.contains("granted: true") => (2, "vote granted", String::new()),
        "RequestVoteReply" => (1, "vote refused", String::new()),
        "AppendEntries" => {
            let what = if msg.contains("entries: []") {
                "heartbeat"
            } else {
                "no-op entry"
            };
            (
                4,
                "AppendEntries",
                format!("AppendEntries t{term} ({what})"),
            )
        }
        "AppendEntriesReply" => (5, "AppendEntries reply", String::new()),
        _ => (5, "other", String::new()),
    }
}

/// The value of `name: VALUE` in a `Debug`-printed message.
fn field(msg: &str, name: &str) -> Option<String> {
    let at = msg.find(&format!("{name}: "))? + name.len() + 2;
    Some(
        msg[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect(),
    )
}

// ---------------------------------------------------------------------
// 7. Asynchronous failover loses an acknowledged write

/// The seed of the failover scenario (only link latencies depend on it).
const FAILOVER_SEED: u64 = 1;
/// How often the primary ships in the scenario (longer than the default
/// 10 ms, so that few messages cross the diagram).
const FAILOVER_SHIP_US: Time = 40_000;
/// The end of the failover scenario.
const FAILOVER_END_US: Time = 350_000;

/// A step of the failover scenario.
#[derive(Clone, Copy)]
enum Step {
    /// A client sends `Command` to a node.
    Submit(usize, Command),
    /// Node 0 is cut off from 1 and 2.
    Partition,
    /// The partition heals.
    Heal,
}

fn async_failover() -> Result<(String, Numbers)> {
    let pb = PrimaryBackupConfig {
        ship_interval_us: FAILOVER_SHIP_US,
        ..PrimaryBackupConfig::default()
    };
    let mut config = SimConfig::new(FAILOVER_SEED, 3);
    config.trace = true;
    let mut sim: Sim<PrimaryBackupNode> = Sim::new(config, pb.clone());
    // The script: the client writes k1=1 (shipped at 40 ms), n0 is cut
    // off, the client writes k1=2 to n0, n1 takes over after the failover
    // timeout, the partition heals, and the client reads k1 from n1.
    let script: [(Time, Step); 5] = [
        (20_000, Step::Submit(0, Command::Write { key: 1, value: 1 })),
        (60_000, Step::Partition),
        (80_000, Step::Submit(0, Command::Write { key: 1, value: 2 })),
        (290_000, Step::Heal),
        (330_000, Step::Submit(1, Command::Read { key: 1 })),
    ];
    let mut sent = BTreeMap::new();
    let mut commands = Vec::new();
    let mut replies = Vec::new();
    for (at, step) in script {
        sim.run_until(at);
        match step {
            Step::Submit(to, command) => {
                let id = sim.submit(to, command);
                sent.insert(format!("{id:?}"), at);
                commands.push((at, command));
            }
            Step::Partition => sim.partition(&[&[0], &[1, 2]]),
            Step::Heal => sim.heal(),
        }
    }
    sim.run_until(FAILOVER_END_US);
    replies.extend(sim.take_replies());
    // The story must have happened: both writes acknowledged, the read
    // after healing sees the first, and the second is lost.
    let got: Vec<Reply> = replies.iter().map(|r| r.3).collect();
    ensure!(
        got == [Reply::Done, Reply::Done, Reply::Read(Some(1))],
        "the failover scenario went differently: {got:?}"
    );
    ensure!(
        (0..3).all(|n| sim.node(n).is_some_and(|x| x.state().get(&1) == Some(&1))),
        "a node still holds the lost write"
    );
    let history: Vec<(Time, Event)> = replies
        .iter()
        .zip(&commands)
        .enumerate()
        .flat_map(|(i, ((done, ..), (at, command)))| {
            let op = match *command {
                Command::Read { .. } => Op::Read(Some(1)),
                Command::Write { value, .. } => Op::Write(value),
                Command::Cas { expected, new, .. } => Op::Cas(expected, new),
            };
            let event = |kind| Event {
                process: i as u64,
                kind,
                op,
                key: "k1".into(),
            };
            [(*at, event(Kind::Invoke)), (*done, event(Kind::Ok))]
        })
        .collect();
    let lost = lost_writes(
        &history,
        &BTreeMap::from([(
            "k1".to_owned(),
            sim.node(1).and_then(|n| n.state().get(&1).copied()),
        )]),
    );
    ensure!(lost.len() == 1, "expected one lost write, found {lost:?}");
    let events = spacetime::parse(sim.trace())?;
    let (overwritten, new_primary, epoch) = events
        .iter()
        .find_map(|e| match e {
            spacetime::Line::Deliver {
                at,
                from,
                to: 0,
                msg,
                ..
            } if msg.starts_with("State") => Some((*at, *from, field(msg, "epoch")?)),
            _ => None,
        })
        .context("the new primary's State never reached n0")?;
    let heal = script
        .iter()
        .find_map(|&(at, step)| matches!(step, Step::Heal).then_some(at))
        .context("the script never heals")?;
    let mut numbers = Numbers::default();
    numbers.quote("ship_ms", FAILOVER_SHIP_US / 1_000);
    numbers.quote("failover_ms", pb.failover_timeout_us / 1_000);
    numbers.quote("heal_ms", heal / 1_000);
    numbers.quote("new_primary", format!("n{new_primary}"));
    numbers.quote("new_epoch", epoch);
    let lost_ack = events
        .iter()
        .find_map(|e| match e {
            spacetime::Line::Request { at, to: 0, request } if request.contains("value: 2") => {
                Some(*at)
            }
            _ => None,
        })
        .context("the second write never reached n0")?;
    let mut lanes = vec![Lane::Client("client".to_owned())];
    lanes.extend((0..3).map(|n| Lane::Node(n, format!("n{n}"))));
    let diagram = Diagram {
        title: "How does asynchronous failover lose an acknowledged write? n0 acknowledges k1=2, then n1's epoch overwrites it"
            .to_owned(),
        lanes,
        window: (0, FAILOVER_END_US),
        classify: pb_message,
        footer: footer(&format!(
            "Sim<PrimaryBackupNode> trace, 3 nodes, ship every {} ms, failover after {} ms; seed {FAILOVER_SEED}",
            FAILOVER_SHIP_US / 1_000,
            pb.failover_timeout_us / 1_000
        )),
        notes: vec![
            (
                lost_ack,
                1,
                "write k1=2 acknowledged: LOST (never shipped)".to_owned(),
            ),
            (
                overwritten,
                1,
                "n1's State (k1=1) overwrites k1=2".to_owned(),
            ),
        ],
        client_sent: Some(sent),
    };
    Ok((spacetime::render(&diagram, &events)?, numbers))
}

/// `[(1, 2), (3, 4)]` (printed `(key, value)` pairs) as `k1=2, k3=4`.
fn writes(entries: &str) -> String {
    let inner = entries.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split("), (")
        .filter_map(|pair| {
            let (k, v) = pair.trim_matches(['(', ')']).split_once(", ")?;
            Some(format!("k{k}={v}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A primary-backup message's colour class, legend entry and label.
fn pb_message(msg: &str) -> (usize, &'static str, String) {
    let word = msg.split([' ', '{']).next().unwrap_or("");
    let epoch = field(msg, "epoch").unwrap_or_default();
    match word {
        "Ship" if msg.contains("entries: []") => (5, "Ship (heartbeat) / Ack", String::new()),
        "Ship" => {
            let entries = msg
                .split_once("entries: ")
                .map_or("", |(_, e)| e.trim_end_matches([' ', '}']));
            (
                0,
                "Ship (writes)",
                format!("Ship e{epoch} {}", writes(entries)),
            )
        }
        "State" => (1, "State (new epoch)", format!("State e{epoch}")),
        _ => (5, "Ship (heartbeat) / Ack", String::new()),
    }
}
