//! Two Part IV diagrams computed by the `replication` crate at render
//! time: quorum overlap, counted by enumerating every read and write
//! quorum of a key's preference list, and the checking chapter's example
//! histories with the linearizability checker's verdict on each.

use std::collections::BTreeSet;

use anyhow::{Result, ensure};
use plotters::prelude::*;
use replication::history::{Event, Kind, Op};
use replication::linearizability::{Budget, Verdict, check};
use replication::protocol::NodeId;
use replication::quorum::{QuorumConfig, preference_list};

use crate::Figure;
use crate::diagram::{Area, Font, canvas, light, line, rect, text};
use crate::plot::PALETTE;

/// The command that renders (or, with `--check`, checks) these figures.
const COMMAND: &str = "cargo run --release -p visualizations -- figures";

/// The figures of this module.
pub(crate) fn all() -> Vec<Figure> {
    vec![
        Figure {
            name: "replication-quorum-overlap.svg",
            render: quorum_overlap,
        },
        Figure {
            name: "replication-checking-histories.svg",
            render: checking_histories,
        },
    ]
}

// ---------------------------------------------------------------------
// 1. Quorum overlap

/// Nodes in the cluster.
const CLUSTER: usize = 5;
/// The key whose replicas are drawn.
const KEY: u32 = 7;
/// The (N, R, W) of each panel.
const QUORUMS: [(usize, usize, usize); 8] = [
    (3, 1, 1),
    (3, 2, 2),
    (3, 1, 3),
    (3, 3, 1),
    (5, 2, 2),
    (5, 2, 3),
    (5, 3, 3),
    (5, 1, 5),
];

/// Every `k`-element subset of `items`, in lexicographic order.
fn subsets(items: &[NodeId], k: usize) -> Vec<BTreeSet<NodeId>> {
    if k == 0 {
        return vec![BTreeSet::new()];
    }
    if items.len() < k {
        return Vec::new();
    }
    let mut with: Vec<BTreeSet<NodeId>> = subsets(&items[1..], k - 1)
        .into_iter()
        .map(|mut s| {
            s.insert(items[0]);
            s
        })
        .collect();
    with.extend(subsets(&items[1..], k));
    with
}

/// One panel's numbers.
struct Overlap {
    replicas: Vec<NodeId>,
    pairs: usize,
    intersecting: usize,
    /// A write quorum and the read quorum that overlaps it least.
    write: BTreeSet<NodeId>,
    read: BTreeSet<NodeId>,
}

fn overlap(n: usize, r: usize, w: usize) -> Overlap {
    let replicas = preference_list(KEY, CLUSTER, n);
    let reads = subsets(&replicas, r);
    let writes = subsets(&replicas, w);
    let mut intersecting = 0;
    for a in &reads {
        for b in &writes {
            if !a.is_disjoint(b) {
                intersecting += 1;
            }
        }
    }
    // The first w replicas write; the read quorum is the last r, the one
    // that shares the fewest replicas with them.
    let write: BTreeSet<NodeId> = replicas[..w].iter().copied().collect();
    let read: BTreeSet<NodeId> = replicas[replicas.len() - r..].iter().copied().collect();
    Overlap {
        pairs: reads.len() * writes.len(),
        intersecting,
        replicas,
        write,
        read,
    }
}

fn quorum_overlap() -> Result<String> {
    let panels: Vec<(usize, usize, usize, Overlap)> = QUORUMS
        .iter()
        .map(|&(n, r, w)| (n, r, w, overlap(n, r, w)))
        .collect();
    for (n, r, w, o) in &panels {
        let all = o.intersecting == o.pairs;
        ensure!(
            all == QuorumConfig::new(*n, *r, *w).overlapping(),
            "N={n} R={r} W={w}: {} of {} pairs intersect, but overlapping() says {}",
            o.intersecting,
            o.pairs,
            !all
        );
    }
    let footer = format!(
        "replicas of key {KEY} in a {CLUSTER}-node cluster from quorum::preference_list; every read quorum × every write quorum enumerated; 100% exactly when QuorumConfig::overlapping() (R + W > N) · {COMMAND}"
    );
    canvas((1200, 646), &footer, |area| {
        text(
            area,
            "Does every read quorum meet every write quorum? Only when R + W > N",
            (600, 20),
            Font::new(18).centered(),
        )?;
        // Legend, under the title.
        let y = 46;
        area.draw(&Circle::new((390, y), 8, PALETTE[0].filled()))
            .map_err(crate::plot::err)?;
        text(
            area,
            "a write quorum (the first W replicas)",
            (404, y),
            Font::new(12),
        )?;
        area.draw(&Circle::new((660, y), 8, PALETTE[1].stroke_width(3)))
            .map_err(crate::plot::err)?;
        text(
            area,
            "the read quorum that overlaps it least",
            (674, y),
            Font::new(12),
        )?;
        area.draw(&Circle::new(
            (930, y),
            8,
            RGBColor(190, 190, 190).stroke_width(1),
        ))
        .map_err(crate::plot::err)?;
        text(area, "not a replica of the key", (944, y), Font::new(12))?;
        for (p, (n, r, w, o)) in panels.iter().enumerate() {
            let x0 = 20 + (p % 4) as i32 * 295;
            let y0 = 74 + (p / 4) as i32 * 270;
            draw_quorum_panel(area, (x0, y0), (*n, *r, *w), o)?;
        }
        Ok(())
    })
}

fn draw_quorum_panel(
    area: &Area<'_>,
    (x0, y0): (i32, i32),
    (n, r, w): (usize, usize, usize),
    o: &Overlap,
) -> Result<()> {
    let all = o.intersecting == o.pairs;
    let verdict_color = if all {
        RGBColor(0, 120, 0)
    } else {
        RGBColor(190, 30, 30)
    };
    rect(
        area,
        (x0, y0),
        (x0 + 280, y0 + 258),
        None,
        Some(RGBColor(200, 200, 200)),
    )?;
    text(
        area,
        &format!("N={n}  R={r}  W={w}"),
        (x0 + 140, y0 + 16),
        Font::new(15).bold().centered(),
    )?;
    let relation = if r + w > n { ">" } else { "≤" };
    text(
        area,
        &format!("R + W = {} {relation} N", r + w),
        (x0 + 140, y0 + 36),
        Font::new(13).color(verdict_color).centered(),
    )?;
    // The cluster on a ring, node 0 on top, clockwise.
    let (cx, cy, radius) = (x0 + 140, y0 + 128, 62.0);
    let write_color = PALETTE[0];
    let read_color = PALETTE[1];
    for node in 0..CLUSTER {
        let angle = std::f64::consts::TAU * node as f64 / CLUSTER as f64;
        let x = cx + (radius * angle.sin()).round() as i32;
        let y = cy - (radius * angle.cos()).round() as i32;
        let replica = o.replicas.contains(&node);
        let fill = if o.write.contains(&node) {
            write_color
        } else if replica {
            RGBColor(235, 235, 235)
        } else {
            WHITE
        };
        area.draw(&Circle::new((x, y), 19, fill.filled()))
            .map_err(crate::plot::err)?;
        let outline = if replica {
            RGBColor(60, 60, 60)
        } else {
            RGBColor(190, 190, 190)
        };
        area.draw(&Circle::new((x, y), 19, outline.stroke_width(1)))
            .map_err(crate::plot::err)?;
        if o.read.contains(&node) {
            area.draw(&Circle::new((x, y), 24, read_color.stroke_width(4)))
                .map_err(crate::plot::err)?;
        }
        let label_color = if o.write.contains(&node) {
            WHITE
        } else if replica {
            RGBColor(0, 0, 0)
        } else {
            RGBColor(170, 170, 170)
        };
        text(
            area,
            &format!("n{node}"),
            (x, y),
            Font::new(13).color(label_color).centered(),
        )?;
    }
    let shared = o.read.intersection(&o.write).count();
    text(
        area,
        &format!(
            "worst read quorum shares {shared} replica{} with the write",
            if shared == 1 { "" } else { "s" }
        ),
        (x0 + 140, y0 + 214),
        Font::new(12).centered(),
    )?;
    text(
        area,
        &format!(
            "{} of {} (read, write) pairs intersect: {:.0}%",
            o.intersecting,
            o.pairs,
            100.0 * o.intersecting as f64 / o.pairs as f64
        ),
        (x0 + 140, y0 + 236),
        Font::new(13).bold().color(verdict_color).centered(),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------
// 2. The checking chapter's histories

/// One history of the figure.
struct History {
    title: &'static str,
    events: Vec<Event>,
    /// The x-axis labels (event numbers), one per event.
    positions: Vec<usize>,
}

fn ev(process: u64, kind: Kind, op: Op) -> Event {
    Event {
        process,
        kind,
        op,
        key: "k1".into(),
    }
}

/// The five histories of the chapter's exercise 1, event for event as in
/// `exercise_which_histories_are_linearizable` (tests/exercises.rs), and
/// the witness the chapter prints for the primary-backup run.
fn histories() -> Vec<History> {
    use Kind::{Info, Invoke, Ok};
    let (w1, r) = (Op::Write(1), Op::Read(None));
    let read = |v| Op::Read(Some(v));
    let numbered = |title, events: Vec<Event>| History {
        title,
        positions: (1..=events.len()).collect(),
        events,
    };
    vec![
        numbered(
            "(a) a read after an acknowledged write sees nothing",
            vec![
                ev(1, Invoke, w1),
                ev(1, Ok, w1),
                ev(2, Invoke, r),
                ev(2, Ok, r),
            ],
        ),
        numbered(
            "(b) the same read, overlapping the write",
            vec![
                ev(1, Invoke, w1),
                ev(2, Invoke, r),
                ev(2, Ok, r),
                ev(1, Ok, w1),
            ],
        ),
        numbered(
            "(c) a timed-out write, then reads of nothing and of 1",
            vec![
                ev(1, Invoke, w1),
                ev(1, Info, w1),
                ev(2, Invoke, r),
                ev(2, Ok, r),
                ev(2, Invoke, r),
                ev(2, Ok, read(1)),
            ],
        ),
        numbered(
            "(d) a timed-out write, then reads of 1 and of nothing",
            vec![
                ev(1, Invoke, w1),
                ev(1, Info, w1),
                ev(2, Invoke, r),
                ev(2, Ok, read(1)),
                ev(2, Invoke, r),
                ev(2, Ok, r),
            ],
        ),
        numbered(
            "(e) overlapping writes, readers disagree on their order",
            vec![
                ev(1, Invoke, w1),
                ev(2, Invoke, Op::Write(2)),
                ev(3, Invoke, r),
                ev(3, Ok, read(1)),
                ev(3, Invoke, r),
                ev(3, Ok, read(2)),
                ev(4, Invoke, r),
                ev(4, Ok, read(2)),
                ev(4, Invoke, r),
                ev(4, Ok, read(1)),
                ev(1, Ok, w1),
                ev(2, Ok, Op::Write(2)),
            ],
        ),
        History {
            title: "(f) the witness from the primary-backup run",
            events: vec![
                ev(0, Invoke, Op::Write(224)),
                ev(0, Ok, Op::Write(224)),
                ev(1, Invoke, Op::Write(343)),
                ev(1, Ok, Op::Write(343)),
                ev(3, Invoke, r),
                ev(3, Ok, read(224)),
            ],
            positions: vec![445, 449, 684, 689, 754, 759],
        },
    ]
}

/// One operation of a history, for drawing.
struct Bar {
    process: u64,
    /// Positions (0-based) of its invocation and completion.
    call: usize,
    ret: Option<(usize, Kind)>,
    label: String,
}

fn bars(events: &[Event]) -> Vec<Bar> {
    let mut bars: Vec<Bar> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if e.kind == Kind::Invoke {
            bars.push(Bar {
                process: e.process,
                call: i,
                ret: None,
                label: String::new(),
            });
        } else if let Some(bar) = bars
            .iter_mut()
            .rev()
            .find(|b| b.process == e.process && b.ret.is_none())
        {
            bar.ret = Some((i, e.kind));
        }
    }
    for bar in &mut bars {
        let op = bar.ret.map_or(events[bar.call].op, |(i, _)| events[i].op);
        bar.label = match op {
            Op::Write(v) => format!("w({v})"),
            Op::Read(Some(v)) => format!("r→{v}"),
            Op::Read(None) => "r→nil".to_owned(),
            Op::Cas(a, b) => format!("cas({a},{b})"),
        };
        if matches!(bar.ret, Some((_, Kind::Info))) {
            bar.label.push_str(" timed out");
        }
    }
    bars
}

fn checking_histories() -> Result<String> {
    let histories = histories();
    let mut verdicts = Vec::new();
    for h in &histories {
        verdicts.push(check(&h.events, Budget::default())?);
    }
    let footer = format!(
        "histories of exercise 1 as built in exercise_which_histories_are_linearizable (tests/exercises.rs), and the witness printed by sim check; verdicts from linearizability::check at render time · {COMMAND}"
    );
    canvas((1200, 700), &footer, |area| {
        text(
            area,
            "Which histories of one register can be put in a single order? Bars run from invocation to completion",
            (600, 20),
            Font::new(17).centered(),
        )?;
        for (p, (h, verdict)) in histories.iter().zip(&verdicts).enumerate() {
            let x0 = 16 + (p % 2) as i32 * 592;
            let y0 = 46 + (p / 2) as i32 * 208;
            draw_history(area, (x0, y0), h, verdict)?;
        }
        Ok(())
    })
}

fn draw_history(
    area: &Area<'_>,
    (x0, y0): (i32, i32),
    h: &History,
    verdict: &Verdict,
) -> Result<()> {
    let (width, height) = (576, 198);
    rect(
        area,
        (x0, y0),
        (x0 + width, y0 + height),
        None,
        Some(RGBColor(200, 200, 200)),
    )?;
    text(area, h.title, (x0 + 10, y0 + 14), Font::new(14).bold())?;
    let bars = bars(&h.events);
    let processes: Vec<u64> = bars
        .iter()
        .map(|b| b.process)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let witness: BTreeSet<usize> = match verdict {
        Verdict::NotLinearizable { unplaced, .. } => unplaced.iter().copied().collect(),
        _ => BTreeSet::new(),
    };
    let m = h.events.len();
    let left = x0 + 90;
    let right = x0 + width - 20;
    let step = f64::from(right - left) / m as f64;
    let x_of = |pos: usize| left + (step * (pos as f64 + 0.5)).round() as i32;
    let lanes_top = y0 + 40;
    let lane_h = 30;
    let axis_y = lanes_top + lane_h * processes.len() as i32 + 4;
    // Event positions.
    line(
        area,
        &[(left, axis_y), (right, axis_y)],
        RGBColor(120, 120, 120),
        1,
    )?;
    for (i, label) in h.positions.iter().enumerate() {
        let x = x_of(i);
        line(
            area,
            &[(x, axis_y - 3), (x, axis_y + 3)],
            RGBColor(120, 120, 120),
            1,
        )?;
        text(
            area,
            &label.to_string(),
            (x, axis_y + 5),
            Font::new(10).color(RGBColor(90, 90, 90)).centered().top(),
        )?;
    }
    text(
        area,
        "event",
        (left - 8, axis_y + 10),
        Font::new(10).color(RGBColor(90, 90, 90)).right(),
    )?;
    for (lane, process) in processes.iter().enumerate() {
        let y = lanes_top + lane as i32 * lane_h + lane_h / 2;
        text(
            area,
            &format!("process {process}"),
            (x0 + 10, y),
            Font::new(12),
        )?;
        for bar in bars.iter().filter(|b| b.process == *process) {
            let in_witness = witness.contains(&bar.call);
            let color = if in_witness {
                RGBColor(190, 30, 30)
            } else {
                PALETTE[0]
            };
            let a = x_of(bar.call);
            let (b, info) = match bar.ret {
                Some((i, Kind::Info)) | Some((i, Kind::Fail)) => (x_of(i), true),
                Some((i, _)) => (x_of(i), false),
                None => (right, true),
            };
            if info {
                // An indeterminate operation may take effect any time
                // after its invocation: a dashed bar to the end.
                rect(
                    area,
                    (a, y - 6),
                    (b, y + 6),
                    Some(light(color)),
                    Some(color),
                )?;
                let mut x = b + 4;
                while x < right {
                    line(area, &[(x, y), ((x + 6).min(right), y)], color, 2)?;
                    x += 10;
                }
            } else {
                rect(area, (a, y - 6), (b, y + 6), Some(color), None)?;
            }
            line(area, &[(a, y - 9), (a, y + 9)], color, 2)?;
            line(area, &[(b, y - 9), (b, y + 9)], color, 2)?;
            text(
                area,
                &bar.label,
                (a + 2, y - 16),
                Font::new(11).color(color).bold(),
            )?;
        }
    }
    let (verdict_text, color) = match verdict {
        Verdict::Linearizable => ("checker: linearizable".to_owned(), RGBColor(0, 120, 0)),
        Verdict::NotLinearizable { unplaced, .. } => (
            format!(
                "checker: not linearizable; red: the {} operations no order can place",
                unplaced.len()
            ),
            RGBColor(190, 30, 30),
        ),
        Verdict::Unknown { .. } => ("checker: unknown".to_owned(), RGBColor(120, 120, 120)),
    };
    text(
        area,
        &verdict_text,
        (x0 + 10, y0 + height - 14),
        Font::new(13).bold().color(color),
    )?;
    Ok(())
}
