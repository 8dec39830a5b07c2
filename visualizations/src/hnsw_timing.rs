//! Part III's timing figures and the README's hnsw tables, from criterion's
//! results of `cargo bench -p benches --bench hnsw` and the recall it writes
//! beside them (`target/criterion/hnsw-recall.json`). Labelled with the
//! machine that ran them; not part of `cargo xtask figures --check`.
//!
//! The layout read, with criterion's directory names:
//!
//! - `hnsw-search-<dataset>/<engine>/ef=<n>` (the flat index: `flat/exact`):
//!   one iteration searches a batch of queries, its throughput the batch
//!   size in elements;
//! - `hnsw-scaling/build/n=<n>` (one build per iteration) and
//!   `hnsw-scaling/query/n=<n>` (one batch of queries per iteration);
//! - `hnsw-recall.json`: `[{"dataset", "engine", "ef" (null for flat),
//!   "recall", "queries"}]`, the scaling runs as dataset `scaling-<n>`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use plotters::prelude::{RGBColor, SeriesLabelPosition};

use crate::plot::{Axis, PALETTE, Panel, Series, log_range, panels, thousands};
use crate::timing::{self, machine};

/// File name of the recall-against-throughput figure.
pub(crate) const RECALL_QPS_FILE: &str = "hnsw-recall-vs-qps.svg";
/// File name of the build- and query-time figure.
pub(crate) const BUILD_FILE: &str = "hnsw-build-time.svg";

/// Data sets of the search benchmarks, as named in their groups.
const DATASETS: [&str; 2] = ["fashion-mnist", "clustered-384"];
/// Approximate engines, ours first (`strata-m32`: ours with
/// instant-distance's fixed m = 32); the flat index is drawn apart.
const ENGINES: [&str; 4] = ["strata", "strata-m32", "hnsw_rs", "instant-distance"];
/// The exact baseline's engine name and its one parameter.
const FLAT: (&str, &str) = ("flat", "exact");
/// Recall targets of the README's second table.
const TARGETS: [f64; 3] = [0.90, 0.95, 0.99];

const BENCH: &str = "hnsw";

/// criterion's directory name for a benchmark id component (its
/// `make_filename_safe`, without the Windows-only rules).
fn sanitise(name: &str) -> String {
    name.chars()
        .map(|c| if "?\"/\\*<>:|^".contains(c) { '_' } else { c })
        .collect()
}

/// One line of `hnsw-recall.json`.
#[derive(Debug, Clone)]
struct Recall {
    dataset: String,
    engine: String,
    ef: Option<u64>,
    recall: f64,
    queries: Option<f64>,
    /// Wall-clock seconds of the one build the recall was measured on.
    build_seconds: Option<f64>,
}

fn recalls(criterion: &Path) -> Result<Vec<Recall>> {
    let path = criterion.join("hnsw-recall.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no {}: run `cargo bench -p benches --bench {BENCH}` first",
            path.display()
        )
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let entries = value
        .as_array()
        .with_context(|| format!("{}: expected a JSON array", path.display()))?;
    entries
        .iter()
        .map(|e| {
            let text = |key: &str| {
                e[key]
                    .as_str()
                    .map(str::to_string)
                    .with_context(|| format!("{}: an entry without \"{key}\": {e}", path.display()))
            };
            Ok(Recall {
                dataset: text("dataset")?,
                engine: text("engine")?,
                ef: e["ef"].as_u64(),
                recall: e["recall"].as_f64().with_context(|| {
                    format!("{}: an entry without \"recall\": {e}", path.display())
                })?,
                queries: e["queries"].as_f64(),
                build_seconds: e["build_seconds"].as_f64(),
            })
        })
        .collect()
}

fn find<'a>(
    recalls: &'a [Recall],
    dataset: &str,
    engine: &str,
    ef: Option<u64>,
) -> Option<&'a Recall> {
    recalls
        .iter()
        .find(|r| r.dataset == dataset && r.engine == engine && r.ef == ef)
}

/// The `n` of every `<prefix><n>` subdirectory of `dir`, ascending.
fn parameters(dir: &Path, prefix: &str) -> Result<Vec<u64>> {
    let mut values = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name();
        if let Some(v) = name.to_str().and_then(|n| n.strip_prefix(prefix)) {
            values.push(
                v.parse()
                    .with_context(|| format!("{}: {v}", dir.display()))?,
            );
        }
    }
    values.sort_unstable();
    Ok(values)
}

/// One measured setting: its `ef` (none for the flat index), mean
/// recall@10 and queries per second.
#[derive(Debug, Clone, Copy)]
struct Point {
    ef: Option<u64>,
    recall: f64,
    qps: f64,
}

/// Mean time per iteration (ns) of `id` and the queries in its batch: the
/// elements criterion reports, else the recall file's `queries`.
fn per_batch(criterion: &Path, id: &str, recall: Option<&Recall>) -> Result<(f64, f64)> {
    let e = timing::estimate(criterion, id, BENCH)?;
    let batch = e
        .elements
        .or(recall.and_then(|r| r.queries))
        .with_context(|| format!("{id}: no batch size (throughput or \"queries\")"))?;
    Ok((e.mean, batch))
}

/// Every setting of `engine` on `dataset`, by ef; empty if the engine was
/// not benchmarked.
fn points(criterion: &Path, recalls: &[Recall], dataset: &str, engine: &str) -> Result<Vec<Point>> {
    let group = sanitise(&format!("hnsw-search-{dataset}"));
    let dir = criterion.join(&group).join(sanitise(engine));
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let settings: Vec<Option<u64>> = if engine == FLAT.0 {
        vec![None]
    } else {
        parameters(&dir, "ef=")?.into_iter().map(Some).collect()
    };
    settings
        .into_iter()
        .map(|ef| {
            let parameter = ef.map_or(FLAT.1.to_string(), |ef| format!("ef={ef}"));
            let id = format!("{group}/{}/{}", sanitise(engine), sanitise(&parameter));
            let recall = find(recalls, dataset, engine, ef).with_context(|| {
                format!("no recall for {dataset}/{engine}/{parameter} in hnsw-recall.json")
            })?;
            let (mean, batch) = per_batch(criterion, &id, Some(recall))?;
            Ok(Point {
                ef,
                recall: recall.recall,
                qps: batch * 1e9 / mean,
            })
        })
        .collect()
}

/// Each engine's points on `dataset` (the flat index last), skipping
/// engines without results; fails if ours has none.
fn engines(
    criterion: &Path,
    recalls: &[Recall],
    dataset: &str,
) -> Result<Vec<(&'static str, Vec<Point>)>> {
    let mut all = Vec::new();
    for engine in ENGINES.into_iter().chain([FLAT.0]) {
        let p = points(criterion, recalls, dataset, engine)?;
        if p.is_empty() {
            eprintln!(
                "note: no {engine} results for {dataset} in {}",
                criterion.display()
            );
            if engine == ENGINES[0] {
                bail!(
                    "no results for hnsw-search-{dataset}/{engine} in {}: run `cargo bench -p benches --bench {BENCH}` first",
                    criterion.display()
                );
            }
            continue;
        }
        all.push((engine, p));
    }
    Ok(all)
}

/// The data sets benchmarked (Fashion-MNIST is skipped where its files are
/// not installed); fails if there are none.
fn datasets(criterion: &Path) -> Result<Vec<&'static str>> {
    let present: Vec<&str> = DATASETS
        .into_iter()
        .filter(|d| {
            let there = criterion
                .join(sanitise(&format!("hnsw-search-{d}")))
                .is_dir();
            if !there {
                eprintln!(
                    "note: no hnsw-search-{d} results in {}",
                    criterion.display()
                );
            }
            there
        })
        .collect();
    if present.is_empty() {
        bail!(
            "no hnsw-search-* results in {}: run `cargo bench -p benches --bench {BENCH}` first",
            criterion.display()
        );
    }
    Ok(present)
}

fn color(engine: &str) -> RGBColor {
    match engine {
        "strata" => PALETTE[0],
        "strata-m32" => PALETTE[3],
        "hnsw_rs" => PALETTE[1],
        "instant-distance" => PALETTE[2],
        _ => PALETTE[6],
    }
}

/// The recall-against-throughput figure: one panel per data set, one curve
/// per engine (a dot per ef), the flat index a single dot.
pub(crate) fn render_recall_qps(criterion: &Path) -> Result<String> {
    let recalls = recalls(criterion)?;
    let datasets = datasets(criterion)?;
    let mut figure = Vec::new();
    for &dataset in &datasets {
        let engines = engines(criterion, &recalls, dataset)?;
        let all = || engines.iter().flat_map(|(_, p)| p.iter());
        let low = all().map(|p| p.recall).fold(1.0, f64::min);
        figure.push(Panel {
            title: format!("{dataset} (k = 10)"),
            x: Axis {
                label: "mean recall@10",
                range: (((low * 20.0).floor() / 20.0).min(0.9), 1.0),
                log: false,
            },
            y: Axis {
                label: "queries per second (log scale)",
                range: log_range(all().map(|p| p.qps)),
                log: true,
            },
            series: engines
                .iter()
                .map(|(engine, p)| Series {
                    label: if *engine == FLAT.0 {
                        "flat (exact)".to_string()
                    } else {
                        (*engine).to_string()
                    },
                    points: p.iter().map(|p| (p.recall, p.qps)).collect(),
                    color: color(engine),
                    dashed: false,
                })
                .collect(),
            legend: SeriesLabelPosition::LowerLeft,
        });
    }
    panels(
        &format!(
            "Recall against speed: queries per second at each ef, measured on {}",
            machine()
        ),
        ((700 * figure.len() as u32).max(900), 580),
        figure.len(),
        &figure,
        &format!(
            "one dot per ef; up and to the right is better · {} · cargo bench -p benches --bench {BENCH}; cargo xtask figures --timing hnsw",
            machine()
        ),
    )
}

/// One benchmark of the scaling group per n: (n, mean ns per iteration,
/// queries per iteration).
fn scaling(criterion: &Path, recalls: &[Recall], function: &str) -> Result<Vec<(u64, f64, f64)>> {
    let dir = criterion.join("hnsw-scaling").join(function);
    if !dir.is_dir() {
        bail!(
            "no results in {}: run `cargo bench -p benches --bench {BENCH}` first",
            dir.display()
        );
    }
    parameters(&dir, "n=")?
        .into_iter()
        .map(|n| {
            let id = format!("hnsw-scaling/{function}/n={n}");
            let recall = scaling_recall(recalls, n);
            let e = timing::estimate(criterion, &id, BENCH)?;
            let batch = if function == "query" {
                per_batch(criterion, &id, recall)?.1
            } else {
                1.0
            };
            Ok((n, e.mean, batch))
        })
        .collect()
}

/// The recall file's entry for our index in the scaling group at `n`.
fn scaling_recall(recalls: &[Recall], n: u64) -> Option<&Recall> {
    let dataset = format!("scaling-{n}");
    recalls
        .iter()
        .find(|r| r.dataset == dataset && r.engine == ENGINES[0])
}

/// `f(n)` scaled to pass through the first point of `points`.
fn through_first(points: &[(f64, f64)], f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
    let (n0, y0) = points[0];
    points
        .iter()
        .map(|&(n, _)| (n, y0 * f(n) / f(n0)))
        .collect()
}

/// The build- and query-time figure: two log-log panels against n, with
/// reference slopes through the first point.
pub(crate) fn render_build(criterion: &Path) -> Result<String> {
    let recalls = recalls(criterion)?;
    let build: Vec<(f64, f64)> = scaling(criterion, &recalls, "build")?
        .iter()
        .map(|&(n, mean, _)| (n as f64, mean / 1e9))
        .collect();
    let query: Vec<(f64, f64)> = scaling(criterion, &recalls, "query")?
        .iter()
        .map(|&(n, mean, batch)| (n as f64, mean / batch / 1e3))
        .collect();
    if build.is_empty() || query.is_empty() {
        bail!("hnsw-scaling has no n=… results in {}", criterion.display());
    }
    let faint = [RGBColor(150, 150, 150), RGBColor(200, 200, 200)];
    let ns = || build.iter().chain(&query).map(|p| p.0);
    let n_range = (ns().fold(f64::INFINITY, f64::min), ns().fold(0.0, f64::max));
    let build_refs = [
        ("proportional to n", through_first(&build, |n| n)),
        (
            "proportional to n log n",
            through_first(&build, |n| n * n.ln()),
        ),
    ];
    let query_refs = [
        ("proportional to log n", through_first(&query, f64::ln)),
        ("proportional to n", through_first(&query, |n| n)),
    ];
    let panel = |title: &str,
                 label: &'static str,
                 measured: &[(f64, f64)],
                 refs: &[(&str, Vec<(f64, f64)>)],
                 what: &str| {
        let mut series = vec![Series {
            label: what.to_string(),
            points: measured.to_vec(),
            color: PALETTE[0],
            dashed: false,
        }];
        for (i, (name, points)) in refs.iter().enumerate() {
            series.push(Series {
                label: (*name).to_string(),
                points: points.clone(),
                color: faint[i % faint.len()],
                dashed: true,
            });
        }
        Panel {
            title: title.to_string(),
            x: Axis {
                label: "n (vectors, log scale)",
                range: n_range,
                log: true,
            },
            y: Axis {
                label,
                range: log_range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1))),
                log: true,
            },
            series,
            legend: SeriesLabelPosition::UpperLeft,
        }
    };
    panels(
        &format!(
            "Building and searching as n grows (clustered 64-d vectors), measured on {}",
            machine()
        ),
        (1400, 580),
        2,
        &[
            panel(
                "build (all n vectors)",
                "seconds (log scale)",
                &build,
                &build_refs,
                "strata: build",
            ),
            panel(
                "search (per query)",
                "microseconds per query (log scale)",
                &query,
                &query_refs,
                "strata: search",
            ),
        ],
        &format!(
            "reference lines pass through the first point · {} · cargo bench -p benches --bench {BENCH}; cargo xtask figures --timing hnsw",
            machine()
        ),
    )
}

/// Cells of one table row, the one of greatest key (QPS) in bold.
fn bold_best(cells: &[Option<(f64, String)>]) -> String {
    let best = cells
        .iter()
        .flatten()
        .map(|c| c.0)
        .fold(f64::NEG_INFINITY, f64::max);
    cells
        .iter()
        .map(|c| match c {
            Some((qps, text)) if *qps == best => format!("**{text}**"),
            Some((_, text)) => text.clone(),
            None => "–".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The README's hnsw tables (Markdown): per data set, queries per second
/// and recall at each ef, then the best throughput at each recall target;
/// then build and search time against n.
pub(crate) fn table(criterion: &Path) -> Result<String> {
    let recalls = recalls(criterion)?;
    let mut out = String::new();
    for dataset in datasets(criterion)? {
        let engines = engines(criterion, &recalls, dataset)?;
        let names: Vec<&str> = engines.iter().map(|(e, _)| *e).collect();
        writeln!(out, "#### {dataset}\n")?;
        writeln!(out, "| ef | {} |", names.join(" | "))?;
        writeln!(out, "|---:|{}", "---:|".repeat(names.len()))?;
        let mut efs: Vec<Option<u64>> = engines
            .iter()
            .flat_map(|(_, p)| p.iter().map(|p| p.ef))
            .collect();
        efs.sort_unstable();
        efs.dedup();
        // The flat index (ef None) sorts first; list it last.
        let flat_first = usize::from(efs.first() == Some(&None));
        efs.rotate_left(flat_first);
        for ef in efs {
            let cells: Vec<Option<(f64, String)>> = engines
                .iter()
                .map(|(_, p)| {
                    p.iter().find(|p| p.ef == ef).map(|p| {
                        (
                            p.qps,
                            format!(
                                "{} q/s (recall {:.3})",
                                thousands(p.qps.round() as u64),
                                p.recall
                            ),
                        )
                    })
                })
                .collect();
            let label = ef.map_or("exact".to_string(), |ef| ef.to_string());
            writeln!(out, "| {label} | {} |", bold_best(&cells))?;
        }
        writeln!(out)?;
        writeln!(out, "| recall@10 ≥ | {} |", names.join(" | "))?;
        writeln!(out, "|---:|{}", "---:|".repeat(names.len()))?;
        for target in TARGETS {
            let cells: Vec<Option<(f64, String)>> = engines
                .iter()
                .map(|(_, p)| {
                    p.iter()
                        .filter(|p| p.recall >= target)
                        .max_by(|a, b| a.qps.total_cmp(&b.qps))
                        .map(|p| {
                            let at = p.ef.map_or("exact".to_string(), |ef| format!("ef {ef}"));
                            (
                                p.qps,
                                format!("{} q/s ({at})", thousands(p.qps.round() as u64)),
                            )
                        })
                })
                .collect();
            writeln!(out, "| {target:.2} | {} |", bold_best(&cells))?;
        }
        // One wall-clock build per engine (not a criterion measurement);
        // the fastest (smallest) in bold, so negate for `bold_best`.
        let builds: Vec<Option<(f64, String)>> = names
            .iter()
            .map(|&engine| {
                recalls
                    .iter()
                    .filter(|r| r.dataset == dataset && r.engine == engine && engine != FLAT.0)
                    .find_map(|r| r.build_seconds)
                    .map(|b| (-b, format!("{b:.1} s")))
            })
            .collect();
        writeln!(out, "| build (one run) | {} |", bold_best(&builds))?;
        writeln!(out)?;
    }
    let build = scaling(criterion, &recalls, "build")?;
    let query = scaling(criterion, &recalls, "query")?;
    writeln!(out, "#### scaling (clustered 64-d)\n")?;
    writeln!(
        out,
        "| n | build | build per vector | search per query | recall@10 |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|")?;
    for &(n, mean, _) in &build {
        let search = query
            .iter()
            .find(|q| q.0 == n)
            .map_or("–".to_string(), |&(_, mean, batch)| {
                format!("{:.1} µs", mean / batch / 1e3)
            });
        let recall =
            scaling_recall(&recalls, n).map_or("–".to_string(), |r| format!("{:.3}", r.recall));
        writeln!(
            out,
            "| {} | {:.2} s | {:.1} µs | {search} | {recall} |",
            thousands(n),
            mean / 1e9,
            mean / n as f64 / 1e3,
        )?;
    }
    writeln!(
        out,
        "\nQueries per second over a batch of queries; the fastest of each row in bold (rows at equal ef compare engines at different recall: the second \
         table compares them at equal recall). {}; `cargo bench -p benches --bench {BENCH}`, \
         then `cargo xtask figures --timing hnsw`.",
        machine()
    )?;
    Ok(out)
}
