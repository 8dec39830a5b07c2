//! Part II's seeded figures: experiments on the `kv` store over the
//! simulated disk, so every run of the same seed draws the same bytes.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};
use kv::{Crash, Durability, Options, SimDisk, Storage, Store, WriteBatch};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::QuotingFigure;
use crate::numbers::{Numbers, count};
use crate::plot::{Axis, PALETTE, Series, bar_chart_with, line_chart};

const SEED: u64 = 0x4B56_F16E;

/// The figures of this module, whose captions quote their numbers.
pub(crate) fn quoting() -> Vec<QuotingFigure> {
    vec![
        QuotingFigure {
            name: "kv-space-amplification.svg",
            render: space_amplification,
        },
        QuotingFigure {
            name: "kv-crash-outcomes.svg",
            render: crash_outcomes,
        },
    ]
}

fn err(error: kv::Error) -> anyhow::Error {
    anyhow::anyhow!("kv: {error}")
}

/// Bytes in every file of `disk`.
fn disk_bytes(disk: &SimDisk) -> Result<u64> {
    let mut total = 0;
    for name in disk.list()? {
        total += disk.len(&name)?;
    }
    Ok(total)
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:012}").into_bytes()
}

// ANCHOR: space_amplification
/// Keys in the overwrite workload, written once, then overwritten at random.
const SPACE_KEYS: u32 = 2_000;
/// Overwrites after the initial load.
const SPACE_WRITES: u32 = 40_000;
/// A point on the curves every this many writes.
const SPACE_STEP: u32 = 500;

/// Space amplification (bytes on disk ÷ bytes of live records) over `writes`
/// random overwrites, compacting whenever dead bytes exceed live bytes if
/// `compact` is set.
fn overwrite_run(compact: bool) -> Result<Vec<(f64, f64)>> {
    let disk = SimDisk::new();
    let options = Options {
        durability: Durability::Never,
        segment_size_bytes: 64 << 10,
        ..Options::default()
    };
    let store = Store::open(disk.clone(), options).map_err(err)?;
    let value = [7u8; 100];
    for i in 0..SPACE_KEYS {
        store.put(&key(i), &value).map_err(err)?;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut points = Vec::new();
    for write in 0..=SPACE_WRITES {
        if write % SPACE_STEP == 0 {
            let live = store.stats().live_bytes;
            let thousands = f64::from(write) / 1_000.0;
            points.push((thousands, disk_bytes(&disk)? as f64 / live as f64));
        }
        store
            .put(&key(rng.random_range(0..SPACE_KEYS)), &value)
            .map_err(err)?;
        let stats = store.stats();
        if compact && stats.dead_bytes > stats.live_bytes {
            store.compact().map_err(err)?;
        }
    }
    Ok(points)
}
// ANCHOR_END: space_amplification

fn space_amplification() -> Result<(String, Numbers)> {
    let without = overwrite_run(false)?;
    let with = overwrite_run(true)?;
    let top = without.iter().map(|p| p.1).fold(0.0, f64::max);
    ensure!(top > 2.0, "without compaction the log must grow: {top}");
    let mut numbers = Numbers::default();
    let end = without.last().map_or(0.0, |p| p.1);
    numbers.quote("without_compaction_end", format!("{end:.0}"));
    // The band compaction keeps the ratio in once it has first compacted
    // (before, the ratio climbs from 1 like the other curve).
    let first = with
        .windows(2)
        .position(|w| w[1].1 < w[0].1)
        .context("compaction never ran")?;
    let band = &with[first + 1..];
    let low = band.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let high = with.iter().map(|p| p.1).fold(0.0, f64::max);
    numbers.quote("with_compaction_low", format!("{low:.1}"));
    numbers.quote("with_compaction_high", format!("{high:.1}"));
    let svg = line_chart(
        "Space amplification under random overwrites (2,000 keys, 100-byte values)",
        Axis {
            label: "thousands of overwrites after loading every key once",
            range: (0.0, f64::from(SPACE_WRITES) / 1_000.0),
            log: false,
        },
        Axis {
            label: "bytes on disk / bytes of live records",
            range: (0.0, (top * 1.1).ceil()),
            log: false,
        },
        &[
            Series {
                label: "no compaction".into(),
                points: without,
                color: PALETTE[1],
                dashed: false,
            },
            Series {
                label: "compact when dead bytes > live bytes".into(),
                points: with,
                color: PALETTE[0],
                dashed: false,
            },
        ],
        &format!(
            "SimDisk, 64 KiB segments, uniform random keys, seed {SEED:#x}; \
             visualizations/src/kv_figures.rs"
        ),
    )?;
    Ok((svg, numbers))
}

/// What a reopened store held after a simulated power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Every acknowledged write.
    All,
    /// The writes up to some earlier point, in order: a suffix was lost.
    Prefix,
    /// Anything else: a lost acknowledged write in `Always` mode, a torn
    /// batch, a reordering. The store promises this never happens.
    Wrong,
}

/// Runs per (durability, crash mode) pair.
const CRASH_RUNS: u64 = 200;

// ANCHOR: crash_run
/// One run: random puts, deletes and batches, a power loss after a random
/// number of acknowledged operations, then reopen and compare with the model
/// after every prefix of the operations.
fn crash_run(durability: Durability, seed: u64, torn: bool) -> Result<(Outcome, bool)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let disk = SimDisk::new();
    let options = Options {
        durability,
        segment_size_bytes: 2 << 10,
        ..Options::default()
    };
    let store = Store::open(disk.clone(), options).map_err(err)?;
    // models[i]: the state after the first i operations.
    let mut models = vec![BTreeMap::new()];
    let ops = rng.random_range(1..120u32);
    for op in 0..ops {
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = models.last().cloned().unwrap_or_default();
        let k = key(rng.random_range(0..16u32));
        match rng.random_range(0..10u32) {
            0..=5 => {
                let value = op.to_le_bytes().repeat(rng.random_range(1..20usize));
                store.put(&k, &value).map_err(err)?;
                model.insert(k, value);
            }
            6 | 7 => {
                store.delete(&k).map_err(err)?;
                model.remove(&k);
            }
            _ => {
                let mut batch = WriteBatch::new();
                for j in 0..rng.random_range(2..6u32) {
                    let k = key(rng.random_range(0..16u32));
                    if j % 3 == 2 {
                        batch.delete(k.clone());
                        model.remove(&k);
                    } else {
                        let value = vec![j as u8; 30];
                        batch.put(k.clone(), value.clone());
                        model.insert(k, value);
                    }
                }
                store.write_batch(batch).map_err(err)?;
            }
        }
        models.push(model);
    }
    drop(store);
    disk.crash(if torn {
        Crash::Torn { seed: seed ^ 1 }
    } else {
        Crash::DropUnsynced
    });
    let store = Store::open(disk, options).map_err(err)?;
    let cut = store.stats().truncated_bytes > 0;
    let state: BTreeMap<Vec<u8>, Vec<u8>> =
        store.scan(..).collect::<kv::Result<_>>().map_err(err)?;
    let outcome = if state == models[models.len() - 1] {
        Outcome::All
    } else if durability == Durability::Never && models.contains(&state) {
        Outcome::Prefix
    } else {
        Outcome::Wrong
    };
    Ok((outcome, cut))
}
// ANCHOR_END: crash_run

fn crash_outcomes() -> Result<(String, Numbers)> {
    // (durability, torn, label, anchor prefix)
    let cases = [
        (
            Durability::Always,
            false,
            "Always, lose unsynced",
            "always_unsynced",
        ),
        (
            Durability::Always,
            true,
            "Always, torn write",
            "always_torn",
        ),
        (
            Durability::Never,
            false,
            "Never, lose unsynced",
            "never_unsynced",
        ),
        (Durability::Never, true, "Never, torn write", "never_torn"),
    ];
    let mut numbers = Numbers::default();
    numbers.quote("runs", count(CRASH_RUNS));
    numbers.quote("runs_total", count(CRASH_RUNS * cases.len() as u64));
    let mut all = Vec::new();
    let mut prefix = Vec::new();
    let mut wrong = Vec::new();
    let mut cut = Vec::new();
    for (c, &(durability, torn, _, anchor)) in cases.iter().enumerate() {
        let mut counts = [0u32; 4];
        for run in 0..CRASH_RUNS {
            let seed = SEED ^ (c as u64) << 32 ^ run;
            let (outcome, was_cut) = crash_run(durability, seed, torn)
                .with_context(|| format!("crash run with seed {seed:#x}"))?;
            counts[outcome as usize] += 1;
            counts[3] += u32::from(was_cut);
        }
        if counts[Outcome::Wrong as usize] > 0 {
            bail!("{} runs lost or reordered writes: {counts:?}", cases[c].2);
        }
        numbers.quote(format!("{anchor}_all"), count(counts[0].into()));
        numbers.quote(format!("{anchor}_prefix"), count(counts[1].into()));
        numbers.quote(format!("{anchor}_cut"), count(counts[3].into()));
        all.push(f64::from(counts[0]));
        prefix.push(f64::from(counts[1]));
        wrong.push(f64::from(counts[2]));
        cut.push(f64::from(counts[3]));
    }
    let labels: Vec<&str> = cases.iter().map(|case| case.2).collect();
    let svg = bar_chart_with(
        &format!("After a simulated power loss ({CRASH_RUNS} seeded runs per case)"),
        &labels,
        &[
            ("all acknowledged writes", all),
            ("an in-order prefix (recent writes lost)", prefix),
            ("anything else (lost ack'd write, torn batch)", wrong),
            ("reopen cut a torn tail", cut),
        ],
        Axis {
            label: "runs",
            // Headroom for the legend above the bars.
            range: (0.0, CRASH_RUNS as f64 * 1.4),
            log: false,
        },
        |v| format!("{v:.0}"),
        &format!(
            "SimDisk, 2 KiB segments, 1-119 random puts/deletes/batches per run, seed {SEED:#x}; \
             visualizations/src/kv_figures.rs"
        ),
    )?;
    Ok((svg, numbers))
}
