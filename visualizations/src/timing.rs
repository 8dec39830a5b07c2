//! The timing figure: `AvlMap` against `BTreeMap` and the `avl` crate, from
//! criterion's results (`cargo bench -p benches --bench avl`), labelled with
//! the machine that ran them. Timings vary between runs and machines, so this
//! figure is not part of `cargo xtask figures --check`.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::plot::{Axis, PALETTE, Series, line_chart};

/// File name of the timing figure.
pub(crate) const FILE: &str = "avl-vs-btreemap.svg";

const MAPS: [&str; 3] = ["AvlMap", "BTreeMap", "avl-crate"];
const SIZES: [u64; 3] = [1_000, 100_000, 1_000_000];
const GROUPS: [(&str, &str); 5] = [
    ("get-random", "get"),
    ("insert-random", "insert"),
    ("remove-random", "remove"),
    ("iterate-random", "iterate (for loop)"),
    ("range-random", "range (100 keys)"),
];

/// One criterion result: the mean time per iteration in nanoseconds, and the
/// elements and bytes per iteration it was told to count (its throughput).
pub(crate) struct Estimate {
    pub(crate) mean: f64,
    pub(crate) elements: Option<f64>,
    pub(crate) bytes: Option<f64>,
}

/// Reads benchmark `id` (a path under `criterion`, e.g. `kv-get/strata`);
/// `bench` names the `cargo bench` target to suggest when it is missing.
pub(crate) fn estimate(criterion: &Path, id: &str, bench: &str) -> Result<Estimate> {
    let dir = criterion.join(id);
    let estimates = std::fs::read_to_string(dir.join("new/estimates.json")).with_context(|| {
        format!(
            "no criterion results in {}: run `cargo bench -p benches --bench {bench}` first",
            dir.display()
        )
    })?;
    let benchmark = std::fs::read_to_string(dir.join("new/benchmark.json"))?;
    let estimates: serde_json::Value = serde_json::from_str(&estimates)?;
    let benchmark: serde_json::Value = serde_json::from_str(&benchmark)?;
    let mean = estimates["mean"]["point_estimate"]
        .as_f64()
        .context("estimates.json: mean.point_estimate")?;
    Ok(Estimate {
        mean,
        elements: benchmark["throughput"]["Elements"].as_f64(),
        bytes: benchmark["throughput"]["Bytes"].as_f64(),
    })
}

/// Mean time per element, in nanoseconds, of one benchmark: criterion's mean
/// per iteration divided by the elements per iteration it reports.
fn nanos_per_element(criterion: &Path, group: &str, map: &str, n: u64) -> Result<f64> {
    let e = estimate(criterion, &format!("{group}/{map}/{n}"), "avl")?;
    Ok(e.mean / e.elements.unwrap_or(1.0))
}

/// The operations of the README table, by criterion group stem.
const TABLE_OPS: [(&str, &str); 6] = [
    ("get", "get"),
    ("insert", "insert"),
    ("remove", "remove"),
    ("iterate", "iterate (for loop)"),
    ("fold", "iterate (fold)"),
    ("range", "range of 100"),
];

/// The README's benchmark table, in Markdown: one row per operation, key
/// order and n; time per element for each map, the fastest in bold, and
/// AvlMap's time as a multiple of BTreeMap's. A missing result is "–".
pub(crate) fn table(criterion: &Path) -> Result<String> {
    if !criterion.is_dir() {
        bail!(
            "{} does not exist: run `cargo bench -p benches --bench avl` first",
            criterion.display()
        );
    }
    let mut out = String::from(
        "| operation | keys | n | AvlMap | BTreeMap | avl crate | AvlMap ÷ BTreeMap |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for (stem, label) in TABLE_OPS {
        for order in ["random", "sorted"] {
            let group = format!("{stem}-{order}");
            for n in SIZES {
                let times: Vec<Option<f64>> = MAPS
                    .iter()
                    .map(|map| nanos_per_element(criterion, &group, map, n).ok())
                    .collect();
                let best = times
                    .iter()
                    .flatten()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                let cells: Vec<String> = times
                    .iter()
                    .map(|t| match t {
                        Some(t) if *t == best => format!("**{}**", nanos(*t)),
                        Some(t) => nanos(*t),
                        None => "–".to_string(),
                    })
                    .collect();
                let ratio = match (times[0], times[1]) {
                    (Some(a), Some(b)) => format!("{:.2}×", a / b),
                    _ => "–".to_string(),
                };
                out.push_str(&format!(
                    "| {label} | {order} | 10^{} | {} | {ratio} |\n",
                    n.ilog10(),
                    cells.join(" | ")
                ));
            }
        }
    }
    out.push_str(&format!(
        "\nMean time per key looked up, inserted, removed or visited, and per range query \
         (100 keys). {}; `cargo bench -p benches --bench avl`, then \
         `cargo xtask figures --timing`.\n",
        machine()
    ));
    Ok(out)
}

/// A duration in nanoseconds, with its unit, to three significant figures.
fn nanos(t: f64) -> String {
    if t >= 100.0 {
        format!("{t:.0} ns")
    } else if t >= 10.0 {
        format!("{t:.1} ns")
    } else {
        format!("{t:.2} ns")
    }
}

/// The machine, as the kernel reports it.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split(':').nth(1))
        })
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cores} cores")
}

/// Renders the figure: one line per (operation, map), time per element
/// against n, both axes logarithmic.
pub(crate) fn render(criterion: &Path) -> Result<String> {
    if !criterion.is_dir() {
        bail!(
            "{} does not exist: run `cargo bench -p benches --bench avl` first",
            criterion.display()
        );
    }
    let mut series = Vec::new();
    for (g, (group, label)) in GROUPS.iter().enumerate() {
        for (m, map) in MAPS.iter().enumerate() {
            if *map == "avl-crate" {
                continue;
            }
            let points = SIZES
                .iter()
                .map(|&n| Ok((n as f64, nanos_per_element(criterion, group, map, n)?)))
                .collect::<Result<Vec<_>>>()?;
            series.push(Series {
                // One legend entry per operation; line style tells the maps apart.
                label: if m == 0 {
                    label.to_string()
                } else {
                    String::new()
                },
                points,
                color: PALETTE[g],
                dashed: m == 1,
            });
        }
    }
    line_chart(
        "How much slower is AvlMap than BTreeMap, and where? (random u64 keys)",
        Axis {
            label: "n (keys in the map, log scale)",
            range: (1_000.0, 1_000_000.0),
            log: true,
        },
        Axis {
            label: "time per operation (ns, log scale)",
            range: (1.0, 100_000.0),
            log: true,
        },
        &series,
        &format!(
            "solid: AvlMap, dashed: BTreeMap · per key; range: per query of 100 keys · {} · cargo bench -p benches --bench avl; cargo xtask figures --timing",
            machine()
        ),
    )
}
