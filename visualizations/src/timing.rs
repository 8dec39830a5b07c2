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
    ("iterate-random", "iterate"),
    ("range-random", "range (100 keys)"),
];

/// Mean time per element, in nanoseconds, of one benchmark: criterion's mean
/// per iteration divided by the elements per iteration it reports.
fn nanos_per_element(criterion: &Path, group: &str, map: &str, n: u64) -> Result<f64> {
    let dir = criterion.join(group).join(map).join(n.to_string());
    let estimates = std::fs::read_to_string(dir.join("new/estimates.json")).with_context(|| {
        format!(
            "no criterion results in {}: run `cargo bench -p benches --bench avl` first",
            dir.display()
        )
    })?;
    let benchmark = std::fs::read_to_string(dir.join("new/benchmark.json"))?;
    let estimates: serde_json::Value = serde_json::from_str(&estimates)?;
    let benchmark: serde_json::Value = serde_json::from_str(&benchmark)?;
    let mean = estimates["mean"]["point_estimate"]
        .as_f64()
        .context("estimates.json: mean.point_estimate")?;
    let elements = benchmark["throughput"]["Elements"].as_f64().unwrap_or(1.0);
    Ok(mean / elements)
}

/// The machine, as the kernel reports it.
fn machine() -> String {
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
                label: format!("{label}: {map}"),
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
            label: "time per element (ns, log scale)",
            range: (0.5, 1_000.0),
            log: true,
        },
        &series,
        &format!(
            "solid: AvlMap, dashed: BTreeMap · {} · cargo bench -p benches --bench avl; cargo xtask figures --timing",
            machine()
        ),
    )
}
