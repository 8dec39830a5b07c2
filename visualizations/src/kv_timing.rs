//! Part II's timing figures and the README's kv table, from criterion's
//! results of `cargo bench -p benches --bench kv`. Labelled with the machine
//! that ran them; not part of `cargo xtask figures --check`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Result, bail};

use crate::plot::{Axis, PALETTE, Series, bar_chart_with, line_chart};
use crate::timing::{self, machine};

/// File name of the put-throughput figure.
pub(crate) const PUT_FILE: &str = "kv-put-throughput.svg";
/// File name of the recovery-time figure.
pub(crate) const RECOVERY_FILE: &str = "kv-recovery-time.svg";

const ENGINES: [&str; 4] = ["strata", "redb", "sled", "fjall"];
const RECOVERY: [&str; 5] = ["strata-log", "strata-hints", "redb", "sled", "fjall"];
const RECOVERY_SIZES: [u64; 3] = [10_000, 100_000, 1_000_000];

/// Criterion's mean time per iteration (ns) and its elements and bytes per
/// iteration, for benchmark `id` (a path under `criterion`).
fn estimate(criterion: &Path, id: &str) -> Result<(f64, Option<f64>, Option<f64>)> {
    let e = timing::estimate(criterion, id, "kv")?;
    Ok((e.mean, e.elements, e.bytes))
}

/// Operations per second of benchmark `id` (elements per second).
fn per_second(criterion: &Path, id: &str) -> Result<f64> {
    let (mean, elements, _) = estimate(criterion, id)?;
    Ok(elements.unwrap_or(1.0) * 1e9 / mean)
}

/// Milliseconds per iteration of benchmark `id`.
fn millis(criterion: &Path, id: &str) -> Result<f64> {
    Ok(estimate(criterion, id)?.0 / 1e6)
}

/// Puts per second for each engine: Never, Always, Always with 8 threads.
fn put_rates(criterion: &Path) -> Result<Vec<(&'static str, Vec<f64>)>> {
    ENGINES
        .iter()
        .map(|engine| {
            Ok((
                *engine,
                vec![
                    per_second(criterion, &format!("kv-put-never/{engine}"))?,
                    per_second(criterion, &format!("kv-put-always/{engine}"))?,
                    per_second(criterion, &format!("kv-put-always-threads/{engine}/1"))?,
                    per_second(criterion, &format!("kv-put-always-threads/{engine}/8"))?,
                ],
            ))
        })
        .collect()
}

/// The put-throughput figure: thousands of puts per second, log scale.
pub(crate) fn render_puts(criterion: &Path) -> Result<String> {
    let rates = put_rates(criterion)?;
    let series: Vec<(&str, Vec<f64>)> = rates
        .iter()
        .map(|(engine, rates)| (*engine, rates.iter().map(|r| r / 1e3).collect()))
        .collect();
    bar_chart_with(
        "The cost of fsync: puts per second, one put per commit",
        &[
            "Never (no fsync)",
            "Always (fsync), 1 writer",
            "Always, 1 writer (2nd run)",
            "Always, 8 writers",
        ],
        &series,
        Axis {
            label: "thousand puts per second (log scale)",
            range: (1.0, 1_000.0),
            log: true,
        },
        |v| format!("{v:.1}"),
        &format!(
            "16-byte keys, 100-byte values, 200,000 keys loaded · {} · cargo bench -p benches --bench kv",
            machine()
        ),
    )
}

/// The recovery-time figure: open time against keys, log-log.
pub(crate) fn render_recovery(criterion: &Path) -> Result<String> {
    let mut series = Vec::new();
    for (i, name) in RECOVERY.iter().enumerate() {
        let points = RECOVERY_SIZES
            .iter()
            .map(|&n| {
                Ok((
                    n as f64,
                    millis(criterion, &format!("kv-recovery/{name}/{n}"))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        series.push(Series {
            label: (*name).to_string(),
            points,
            color: PALETTE[i],
            dashed: !name.starts_with("strata"),
        });
    }
    line_chart(
        "Opening a closed store: time to open and read one key",
        Axis {
            label: "keys in the store (log scale)",
            range: (10_000.0, 1_000_000.0),
            log: true,
        },
        Axis {
            label: "milliseconds (log scale)",
            range: (0.1, 10_000.0),
            log: true,
        },
        &series,
        &format!(
            "solid: strata (16 MiB segments; -hints: compacted first), dashed: peers · {} · cargo bench -p benches --bench kv",
            machine()
        ),
    )
}

/// The README's kv table (Markdown) and the targets it is held to.
pub(crate) fn table(criterion: &Path) -> Result<String> {
    if !criterion.join("kv-get").is_dir() {
        bail!(
            "no kv results in {}: run `cargo bench -p benches --bench kv` first",
            criterion.display()
        );
    }
    let rates = put_rates(criterion)?;
    let mut out = String::new();
    writeln!(out, "| operation | strata | redb | sled | fjall |")?;
    writeln!(out, "|---|---|---|---|---|")?;
    let rows = [
        "put, Never (per s)",
        "put, Always (per s)",
        "put, Always, 1 thread, 2nd run (per s)",
        "put, Always, 8 threads (per s)",
    ];
    for (r, label) in rows.iter().enumerate() {
        let cells: Vec<String> = rates.iter().map(|(_, v)| format!("{:.0}", v[r])).collect();
        writeln!(out, "| {label} | {} |", cells.join(" | "))?;
    }
    let cells = |id: &dyn Fn(&str) -> String, f: &dyn Fn(f64) -> String| -> Result<String> {
        let mut cells = Vec::new();
        for engine in ENGINES {
            cells.push(match estimate(criterion, &id(engine)) {
                Ok((mean, elements, bytes)) => f(if let Some(bytes) = bytes {
                    bytes * 1e9 / mean / 1e6
                } else {
                    elements.unwrap_or(1.0) * 1e9 / mean
                }),
                Err(_) => "–".into(),
            });
        }
        Ok(cells.join(" | "))
    };
    let per_s = |v: f64| format!("{v:.0}");
    writeln!(
        out,
        "| get (per s) | {} |",
        cells(&|e| format!("kv-get/{e}"), &per_s)?
    )?;
    writeln!(
        out,
        "| scan of 1,000 (entries per s) | {} |",
        cells(&|e| format!("kv-scan-1000/{e}"), &per_s)?
    )?;
    writeln!(
        out,
        "| compaction (MB of writes per s) | {} |",
        cells(&|e| format!("kv-compaction/{e}"), &|v| format!("{v:.1}"))?
    )?;
    for n in RECOVERY_SIZES {
        let strata = format!(
            "{:.1} (log) / {:.1} (hints)",
            millis(criterion, &format!("kv-recovery/strata-log/{n}"))?,
            millis(criterion, &format!("kv-recovery/strata-hints/{n}"))?
        );
        let peers: Vec<String> = ["redb", "sled", "fjall"]
            .iter()
            .map(|e| {
                Ok(format!(
                    "{:.1}",
                    millis(criterion, &format!("kv-recovery/{e}/{n}"))?
                ))
            })
            .collect::<Result<_>>()?;
        writeln!(
            out,
            "| open {n} keys (ms) | {strata} | {} |",
            peers.join(" | ")
        )?;
    }
    writeln!(out)?;
    let best_never = rates[1..].iter().map(|(_, v)| v[0]).fold(0.0, f64::max);
    let best_always = rates[1..].iter().map(|(_, v)| v[1]).fold(0.0, f64::max);
    let strata = &rates[0].1;
    let get = |e: &str| estimate(criterion, &format!("kv-get/{e}")).map(|x| x.0);
    let get_ratio = get("strata")? / get("redb")?;
    let reopen = millis(criterion, "kv-recovery/strata-hints/1000000")?;
    let verdict = |met: bool| if met { "met" } else { "**missed**" };
    writeln!(out, "| target | measured | |")?;
    writeln!(out, "|---|---|---|")?;
    writeln!(
        out,
        "| Never puts ≥ best peer's | {:.0}/s vs {best_never:.0}/s | {} |",
        strata[0],
        verdict(strata[0] >= best_never)
    )?;
    writeln!(
        out,
        "| Always puts ≥ best peer's fsync'd puts | {:.0}/s vs {best_always:.0}/s | {} |",
        strata[1],
        verdict(strata[1] >= best_always)
    )?;
    writeln!(
        out,
        "| get ≤ 1.2× redb's time | {get_ratio:.2}× | {} |",
        verdict(get_ratio <= 1.2)
    )?;
    writeln!(
        out,
        "| reopen 10⁶ keys with hints ≤ 1 s | {reopen:.0} ms | {} |",
        verdict(reopen <= 1_000.0)
    )?;
    let scaling = strata[3] / strata[2];
    writeln!(
        out,
        "| 8 writers ≥ 4× one writer (Always) | {scaling:.1}× | {} |",
        verdict(scaling >= 4.0)
    )?;
    Ok(out)
}
