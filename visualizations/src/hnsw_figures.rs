//! Part III's seeded figures: experiments on the `hnsw` index. Data, level
//! draws and queries all come from fixed seeds, and the index builds the
//! same graph on any number of threads, so every run draws the same bytes.
//! The cost of a search is counted in distance evaluations (from
//! [`Hnsw::search_traced`]), which no machine changes; recall is measured
//! against the exact answer of a [`FlatIndex`].

use std::collections::BTreeSet;
use std::sync::Mutex;

use anyhow::{Context, Result, ensure};
use hnsw::data::{self, Dataset};
use hnsw::{FlatIndex, Hnsw, Metric, Neighbor, Params, Selection, recall_at_k};
use plotters::prelude::*;

use crate::Figure;
use crate::plot::{
    Axis, FOOTER, PALETTE, Panel, Series, draw_footer, draw_legend, err, log_range, number, panels,
    thousands,
};

/// The seed of every Part III experiment (each derives its own from it).
const SEED: u64 = 0x484E_5357;

fn footer(what: &str) -> String {
    format!("{what} · seed {SEED:#x} (ChaCha8) · cargo xtask figures")
}

/// Every Part III figure, in the order they are rendered.
pub(crate) fn all() -> Vec<Figure> {
    vec![
        Figure {
            name: "hnsw-levels.svg",
            render: levels,
        },
        Figure {
            name: "hnsw-layers.svg",
            render: layers,
        },
        Figure {
            name: "hnsw-recall-vs-ef.svg",
            render: recall_vs_ef,
        },
        Figure {
            name: "hnsw-selection.svg",
            render: selection,
        },
        Figure {
            name: "hnsw-effect-of-m.svg",
            render: effect_of_m,
        },
        Figure {
            name: "hnsw-scaling.svg",
            render: scaling,
        },
    ]
}

fn hnsw_err(error: hnsw::Error) -> anyhow::Error {
    anyhow::anyhow!("hnsw: {error}")
}

/// Threads for building and searching: any number gives the same graph
/// and the same results.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An index of `points` (ids 0, 1, …), built in parallel batches.
fn build(points: &Dataset, metric: Metric, params: Params) -> Result<Hnsw> {
    let mut index = Hnsw::new(metric, points.dimension, params).map_err(hnsw_err)?;
    let items: Vec<(u64, &[f32])> = points
        .iter()
        .enumerate()
        .map(|(id, v)| (id as u64, v))
        .collect();
    index.insert_parallel(&items, threads()).map_err(hnsw_err)?;
    Ok(index)
}

/// `f` of every query, computed on [`threads`] threads, in query order.
fn per_query<T: Send>(
    queries: &Dataset,
    f: impl Fn(usize, &[f32]) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let chunk = queries.len().div_ceil(threads()).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..queries.len())
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || {
                    (start..(start + chunk).min(queries.len()))
                        .map(|q| f(q, queries.vector(q)))
                        .collect::<Result<Vec<T>>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(queries.len());
        for handle in handles {
            all.extend(handle.join().expect("a query thread panicked")?);
        }
        Ok(all)
    })
}

/// The exact `k` nearest of `points` to each query.
fn truth(
    points: &Dataset,
    queries: &Dataset,
    metric: Metric,
    k: usize,
) -> Result<Vec<Vec<Neighbor>>> {
    let mut exact = FlatIndex::new(metric, points.dimension).map_err(hnsw_err)?;
    for (id, v) in points.iter().enumerate() {
        exact.insert(id as u64, v).map_err(hnsw_err)?;
    }
    per_query(queries, |_, q| exact.search(q, k).map_err(hnsw_err))
}

/// Neighbours asked for, and recall measured, at this k.
const K: usize = 10;

/// One setting of `ef`: mean recall@10 and mean distance evaluations per
/// query.
#[derive(Debug, Clone, Copy)]
struct Measured {
    ef: usize,
    recall: f64,
    evaluations: f64,
}

/// Searches every query at `ef`. The sums run in query order, so the
/// means do not depend on the number of threads.
fn measure(
    index: &Hnsw,
    queries: &Dataset,
    truth: &[Vec<Neighbor>],
    ef: usize,
) -> Result<Measured> {
    let each = per_query(queries, |i, q| {
        let (found, trace) = index.search_traced(q, K, ef).map_err(hnsw_err)?;
        Ok((
            recall_at_k(&found, &truth[i], K),
            trace.distance_evaluations,
        ))
    })?;
    let count = queries.len() as f64;
    Ok(Measured {
        ef,
        recall: each.iter().map(|e| e.0).sum::<f64>() / count,
        evaluations: each.iter().map(|e| e.1).sum::<u64>() as f64 / count,
    })
}

/// Smallest and largest `ef` of the sweeps.
const EF_RANGE: (usize, usize) = (10, 400);
/// Settings of `ef` per sweep, evenly spaced on a log scale.
const EF_STEPS: usize = 17;

/// The `ef` values of a sweep: 10 … 400, log-spaced, without repeats.
fn efs() -> Vec<usize> {
    let (lo, hi) = (EF_RANGE.0 as f64, EF_RANGE.1 as f64);
    let mut efs: Vec<usize> = (0..EF_STEPS)
        .map(|i| (lo * (hi / lo).powf(i as f64 / (EF_STEPS - 1) as f64)).round() as usize)
        .collect();
    efs.dedup();
    efs
}

fn sweep(index: &Hnsw, queries: &Dataset, truth: &[Vec<Neighbor>]) -> Result<Vec<Measured>> {
    efs()
        .into_iter()
        .map(|ef| measure(index, queries, truth, ef))
        .collect()
}

/// A lower edge for a recall axis: the lowest recall rounded down to 0.1.
fn recall_floor(curves: &[&[Measured]]) -> f64 {
    let low = curves
        .iter()
        .flat_map(|c| c.iter().map(|p| p.recall))
        .fold(1.0, f64::min);
    ((low * 10.0).floor() / 10.0).min(0.9)
}

// ---------------------------------------------------------------------
// 1. Levels

/// Nodes of the index whose levels are counted.
const LEVELS_N: usize = 100_000;
/// Its `m`: levels are drawn with m_L = 1 / ln m.
const LEVELS_M: usize = 16;

// ANCHOR: levels
fn levels() -> Result<String> {
    // Levels depend only on the seeded draws, not on the vectors or on
    // ef_construction: a cheap build of 2-d points shows the same law.
    let points = data::uniform(LEVELS_N, 2, SEED ^ 1);
    let params = Params {
        ef_construction: 16,
        seed: SEED,
        ..Params::new(LEVELS_M)
    };
    let index = build(&points, Metric::L2, params)?;
    let top = usize::from(*index.levels().iter().max().context("an empty index")?);
    let mut observed = vec![0u64; top + 1];
    for &level in index.levels() {
        observed[usize::from(level)] += 1;
    }
    let m = LEVELS_M as f64;
    let expected: Vec<f64> = (0..=top)
        .map(|l| LEVELS_N as f64 * m.powi(-(l as i32)) * (1.0 - 1.0 / m))
        .collect();
    histogram(
        &format!(
            "How many nodes reach each layer? Levels of {} nodes, m = {LEVELS_M}, against P(level = l) = m^-l (1 - 1/m)",
            thousands(LEVELS_N as u64)
        ),
        &observed,
        &expected,
        &footer(&format!(
            "Hnsw::levels() of {} uniform 2-d points (ef_construction 16: levels do not depend on it)",
            thousands(LEVELS_N as u64)
        )),
    )
}
// ANCHOR_END: levels

/// Bars of `observed` counts per level, log scale, with the `expected`
/// counts drawn over them as dots on a dashed line.
fn histogram(title: &str, observed: &[u64], expected: &[f64], footer: &str) -> Result<String> {
    let size = crate::plot::SIZE;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (chart_area, footer_area) = root.split_vertically(size.1 - FOOTER);
        let levels = observed.len() as f64;
        let low = expected
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(1.0)
            / 2.0;
        let high = observed.iter().copied().max().unwrap_or(1) as f64 * 8.0;
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(title, ("sans-serif", 16).into_font())
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(-0.5f64..levels - 0.5, (low..high).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(observed.len())
            .x_label_formatter(&|v| format!("{}", v.round() as i64))
            .y_label_formatter(&|v| number(*v))
            .x_desc("level l (a node of level l lives on layers 0..l)")
            .y_desc("nodes (log scale)")
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        let bar = PALETTE[0];
        chart
            .draw_series(
                observed
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(l, &c)| {
                        let x = l as f64;
                        Rectangle::new(
                            [(x - 0.35, low), (x + 0.35, c as f64)],
                            bar.mix(0.75).filled(),
                        )
                    }),
            )
            .map_err(err)?
            .label("observed")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], bar.filled()));
        let label_style = TextStyle::from(("sans-serif", 12).into_font()).pos(
            plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ),
        );
        chart
            .draw_series(observed.iter().enumerate().map(|(l, &c)| {
                Text::new(
                    format!("{c} (expected {:.1})", expected[l]),
                    (l as f64, (c as f64).max(low) * 1.6),
                    label_style.clone(),
                )
            }))
            .map_err(err)?;
        let dot = PALETTE[1];
        let points: Vec<(f64, f64)> = expected
            .iter()
            .enumerate()
            .map(|(l, &e)| (l as f64, e))
            .collect();
        chart
            .draw_series(DashedLineSeries::new(
                points.iter().copied(),
                6,
                4,
                dot.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 4, dot.filled())))
            .map_err(err)?
            .label("expected: n · m^-l (1 - 1/m)")
            .legend(move |(x, y)| Circle::new((x + 7, y), 4, dot.filled()));
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        draw_footer(&footer_area, footer)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

// ---------------------------------------------------------------------
// 2. Layers

/// Points of the 2-d picture.
const LAYERS_N: usize = 300;
/// Its `m` (and m0 = 2m on layer 0): small, so that links stay legible.
const LAYERS_M: usize = 4;
/// Candidates kept on layer 0 by the drawn search.
const LAYERS_EF: usize = 8;
/// Queries tried; the figure draws the one whose descent is longest.
const LAYERS_QUERIES: usize = 64;
/// Width and height of one layer's panel, in pixels.
const LAYER_PANEL: u32 = 400;
/// Height of the legend strip under the panels.
const LEGEND: u32 = 34;

/// The greedy walk on `layer` from `start` towards `query`, by the public
/// links alone: step to the nearest neighbour (ties by id) while it is
/// nearer than where the walk stands. The index's own descent does the
/// same, which [`layers`] checks.
fn greedy_path(index: &Hnsw, query: &[f32], start: u64, layer: usize) -> Result<Vec<u64>> {
    let distance = |id: u64| -> Result<f32> {
        let v = index.vector(id).context("a live id")?;
        Ok(index.metric().distance(query, v))
    };
    let mut path = vec![start];
    let mut here = (distance(start)?, start);
    // Each step is to a strictly nearer node, so no walk is longer than n.
    for _ in 0..index.len() {
        let mut next = here;
        for n in index.links(here.1, layer).context("a node on this layer")? {
            let candidate = (distance(n)?, n);
            if candidate
                .0
                .total_cmp(&next.0)
                .then(candidate.1.cmp(&next.1))
                .is_lt()
            {
                next = candidate;
            }
        }
        if next.1 == here.1 {
            return Ok(path);
        }
        here = next;
        path.push(here.1);
    }
    anyhow::bail!("a greedy walk longer than the index")
}

/// What [`layers`] draws: the index, the chosen query and its search.
struct Walk {
    query: Vec<f32>,
    /// Per layer above 0, top down: the ids the descent stood on.
    descent: Vec<(usize, Vec<u64>)>,
    /// The greedy walk continued on layer 0 from where the descent ended.
    layer0: Vec<u64>,
    /// Ids whose distance the `ef` search on layer 0 evaluated.
    evaluated: Vec<u64>,
    /// The nearest id found.
    nearest: u64,
}

/// Of `LAYERS_QUERIES` seeded queries, the one whose greedy descent takes
/// the most steps (the first on ties).
fn longest_walk(index: &Hnsw) -> Result<Walk> {
    let queries = data::uniform(LAYERS_QUERIES, 2, SEED ^ 3);
    let mut best: Option<(usize, Walk)> = None;
    for query in queries.iter() {
        let (found, trace) = index.search_traced(query, 1, LAYERS_EF).map_err(hnsw_err)?;
        for (layer, path) in &trace.descent {
            let again = greedy_path(index, query, path[0], *layer)?;
            ensure!(
                &again == path,
                "the public links retrace the descent on layer {layer}"
            );
        }
        let start = match trace.descent.last() {
            Some((_, path)) => *path.last().context("a non-empty leg")?,
            None => index.entry_point().context("an entry point")?,
        };
        let steps: usize = trace.descent.iter().map(|(_, p)| p.len() - 1).sum();
        if best.as_ref().is_none_or(|(s, _)| steps > *s) {
            let walk = Walk {
                query: query.to_vec(),
                layer0: greedy_path(index, query, start, 0)?,
                descent: trace.descent,
                evaluated: trace.layer0_evaluated,
                nearest: found.first().context("a result")?.id,
            };
            best = Some((steps, walk));
        }
    }
    Ok(best.context("some query")?.1)
}

fn layers() -> Result<String> {
    let points = data::clustered(LAYERS_N, 2, 6, 0.15, SEED ^ 2);
    let params = Params {
        seed: SEED,
        ..Params::new(LAYERS_M)
    };
    let mut index = Hnsw::new(Metric::L2, 2, params).map_err(hnsw_err)?;
    for (id, v) in points.iter().enumerate() {
        index.insert(id as u64, v).map_err(hnsw_err)?;
    }
    index.check_invariants()?;
    let walk = longest_walk(&index)?;
    let top = index
        .level(index.entry_point().context("an entry point")?)
        .unwrap_or(0);
    let columns = if top + 1 == 4 { 2 } else { (top + 1).min(3) };
    let rows = (top + 1).div_ceil(columns);
    let size = (
        columns as u32 * LAYER_PANEL,
        rows as u32 * LAYER_PANEL + 40 + LEGEND + FOOTER,
    );
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (main, footer_area) = root.split_vertically(size.1 - FOOTER);
        let (main, legend_area) = main.split_vertically(size.1 - FOOTER - LEGEND);
        let title = format!(
            "One search, layer by layer: {LAYERS_N} clustered 2-d points, m = {LAYERS_M} (m0 = {}), ef = {LAYERS_EF}",
            2 * LAYERS_M
        );
        let grid = main
            .titled(&title, ("sans-serif", 18).into_font())
            .map_err(err)?
            .split_evenly((rows, columns));
        let bounds = square_bounds(points.iter().chain([walk.query.as_slice()]));
        for (area, layer) in grid.iter().zip((0..=top).rev()) {
            draw_layer(area, &index, &points, &walk, layer, top, bounds)?;
        }
        draw_layer_legend(&legend_area)?;
        draw_footer(
            &footer_area,
            &footer(&format!(
                "the query drawn is, of {LAYERS_QUERIES} seeded queries, the one whose descent takes the most steps"
            )),
        )?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A square (x range, y range) around every point, with a margin.
fn square_bounds<'a>(points: impl Iterator<Item = &'a [f32]>) -> ((f64, f64), (f64, f64)) {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in points {
        for axis in 0..2 {
            lo[axis] = lo[axis].min(f64::from(p[axis]));
            hi[axis] = hi[axis].max(f64::from(p[axis]));
        }
    }
    let half = (hi[0] - lo[0]).max(hi[1] - lo[1]) * 0.53;
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    (
        (centre[0] - half, centre[0] + half),
        (centre[1] - half, centre[1] + half),
    )
}

/// Colours of the layer picture.
const LINK: RGBColor = RGBColor(175, 175, 175);
const NODE: RGBColor = RGBColor(70, 70, 70);
const ABSENT: RGBColor = RGBColor(220, 220, 220);

fn draw_layer(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    index: &Hnsw,
    points: &Dataset,
    walk: &Walk,
    layer: usize,
    top: usize,
    ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
) -> Result<()> {
    let on_layer: Vec<u64> = (0..points.len() as u64)
        .filter(|&id| index.level(id).is_some_and(|l| l >= layer))
        .collect();
    let caption = format!(
        "layer {layer}{}: {} node{}",
        if layer == top { " (top)" } else { "" },
        on_layer.len(),
        if on_layer.len() == 1 { "" } else { "s" }
    );
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15).into_font())
        .margin(10)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let at = |id: u64| {
        let v = points.vector(id as usize);
        (f64::from(v[0]), f64::from(v[1]))
    };
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(x0, y0), (x1, y1)],
            RGBColor(200, 200, 200).stroke_width(1),
        )))
        .map_err(err)?;
    if layer > 0 {
        chart
            .draw_series((0..points.len() as u64).map(|id| Circle::new(at(id), 1, ABSENT.filled())))
            .map_err(err)?;
    }
    // Each link once, whichever way it points; sorted, so the bytes are stable.
    let mut links = BTreeSet::new();
    for &id in &on_layer {
        for n in index.links(id, layer).context("a node on this layer")? {
            links.insert((id.min(n), id.max(n)));
        }
    }
    chart
        .draw_series(
            links
                .iter()
                .map(|&(a, b)| PathElement::new(vec![at(a), at(b)], LINK.stroke_width(1))),
        )
        .map_err(err)?;
    let radius = if layer == 0 { 2 } else { 3 };
    chart
        .draw_series(
            on_layer
                .iter()
                .map(|&id| Circle::new(at(id), radius, NODE.filled())),
        )
        .map_err(err)?;
    let path_color = PALETTE[1];
    let path: &[u64] = if layer == 0 {
        chart
            .draw_series(
                walk.evaluated
                    .iter()
                    .map(|&id| Circle::new(at(id), 3, PALETTE[0].filled())),
            )
            .map_err(err)?;
        &walk.layer0
    } else {
        walk.descent
            .iter()
            .find(|(l, _)| *l == layer)
            .map(|(_, p)| p.as_slice())
            .context("the descent crosses every upper layer")?
    };
    chart
        .draw_series(std::iter::once(PathElement::new(
            path.iter().map(|&id| at(id)).collect::<Vec<_>>(),
            path_color.stroke_width(3),
        )))
        .map_err(err)?;
    chart
        .draw_series(
            path.iter()
                .map(|&id| Circle::new(at(id), 4, path_color.filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(std::iter::once(Circle::new(
            at(path[0]),
            8,
            path_color.stroke_width(2),
        )))
        .map_err(err)?;
    if layer == 0 {
        chart
            .draw_series(std::iter::once(Circle::new(
                at(walk.nearest),
                9,
                PALETTE[2].stroke_width(3),
            )))
            .map_err(err)?;
    }
    let q = (f64::from(walk.query[0]), f64::from(walk.query[1]));
    chart
        .draw_series(std::iter::once(Cross::new(q, 7, BLACK.stroke_width(3))))
        .map_err(err)?;
    Ok(())
}

fn draw_layer_legend(area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()> {
    let text = TextStyle::from(("sans-serif", 13).into_font()).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        ),
    );
    let y = (LEGEND / 2) as i32;
    let labels = [
        "query",
        "greedy walk (ringed: its start on the layer)",
        "evaluated by the ef search (layer 0)",
        "nearest found",
        "links",
    ];
    let mut x = 12;
    for (i, label) in labels.iter().enumerate() {
        let centre = (x + 6, y);
        match i {
            0 => area.draw(&Cross::new(centre, 6, BLACK.stroke_width(3))),
            1 => area
                .draw(&Circle::new(centre, 6, PALETTE[1].stroke_width(2)))
                .and_then(|()| area.draw(&Circle::new(centre, 3, PALETTE[1].filled()))),
            2 => area.draw(&Circle::new(centre, 3, PALETTE[0].filled())),
            3 => area.draw(&Circle::new(centre, 7, PALETTE[2].stroke_width(3))),
            _ => area.draw(&PathElement::new(
                vec![(x, y), (x + 14, y)],
                LINK.stroke_width(2),
            )),
        }
        .map_err(err)?;
        area.draw_text(label, &text, (x + 18, y)).map_err(err)?;
        // plotters measures no font: estimate 5.8 pixels per character.
        x += 18 + (label.len() as f64 * 5.8) as i32 + 24;
    }
    Ok(())
}

// ---------------------------------------------------------------------
// 3 and 5. Recall against ef, and the effect of m, on one 64-d data set

/// Vectors indexed in figures 3 and 5.
const CLUSTERED_N: usize = 10_000;
/// Their dimension.
const CLUSTERED_D: usize = 64;
/// Gaussian clusters they are drawn around (centres uniform in [−1, 1)^d).
const CLUSTERED_CLUSTERS: usize = 100;
/// Standard deviation per component around a centre.
const CLUSTERED_SPREAD: f32 = 0.7;
/// Queries per measurement, drawn from the same clusters as the data.
const QUERIES: usize = 500;

/// The data set and queries of figures 3 and 5 (generated together, so
/// the queries come from the data's clusters).
fn clustered_64() -> (Dataset, Dataset) {
    let mut points = data::clustered(
        CLUSTERED_N + QUERIES,
        CLUSTERED_D,
        CLUSTERED_CLUSTERS,
        CLUSTERED_SPREAD,
        SEED ^ 3,
    );
    let queries = points.split_off(CLUSTERED_N);
    (points, queries)
}

/// Sweeps of the 64-d set already measured, by metric and m: figures 3
/// and 5 share the L2, m = 16 one.
type Sweeps = Vec<((Metric, usize), Vec<Measured>)>;
static SWEEPS: Mutex<Sweeps> = Mutex::new(Vec::new());

/// Recall and cost at every `ef` of an index of the 64-d set.
fn sweep_64(metric: Metric, m: usize) -> Result<Vec<Measured>> {
    let cached = |sweeps: &Sweeps| {
        sweeps
            .iter()
            .find(|(key, _)| *key == (metric, m))
            .map(|(_, s)| s.clone())
    };
    if let Some(s) = cached(&SWEEPS.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(s);
    }
    let (points, queries) = clustered_64();
    let truth = truth(&points, &queries, metric, K)?;
    let params = Params {
        seed: SEED,
        ..Params::new(m)
    };
    let index = build(&points, metric, params)?;
    let measured = sweep(&index, &queries, &truth)?;
    SWEEPS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(((metric, m), measured.clone()));
    Ok(measured)
}

fn data_64() -> String {
    format!(
        "{} + {QUERIES} query vectors, {CLUSTERED_D}-d, {CLUSTERED_CLUSTERS} Gaussian clusters (sigma {CLUSTERED_SPREAD}); ef_construction 200",
        thousands(CLUSTERED_N as u64)
    )
}

fn recall_vs_ef() -> Result<String> {
    let l2 = sweep_64(Metric::L2, 16)?;
    let cosine = sweep_64(Metric::Cosine, 16)?;
    let floor = recall_floor(&[&l2, &cosine]);
    let curve = |s: &[Measured]| s.iter().map(|p| (p.ef as f64, p.recall)).collect();
    panels(
        &format!(
            "How much does a wider search find? Recall@{K} against ef ({} clustered 64-d vectors, m = 16)",
            thousands(CLUSTERED_N as u64)
        ),
        crate::plot::SIZE,
        1,
        &[Panel {
            title: String::new(),
            x: Axis {
                label: "ef (candidates kept on layer 0, log scale)",
                range: (EF_RANGE.0 as f64, EF_RANGE.1 as f64),
                log: true,
            },
            y: Axis {
                label: "mean recall@10 (exact answer from FlatIndex)",
                range: (floor, 1.0),
                log: false,
            },
            series: vec![
                Series {
                    label: "squared L2".into(),
                    points: curve(&l2),
                    color: PALETTE[0],
                    dashed: false,
                },
                Series {
                    label: "cosine".into(),
                    points: curve(&cosine),
                    color: PALETTE[1],
                    dashed: false,
                },
            ],
            legend: SeriesLabelPosition::LowerRight,
        }],
        &footer(&data_64()),
    )
}

/// The values of m compared in figure 5.
const MS: [usize; 4] = [4, 8, 16, 32];

/// Figures 4 and 5: recall@10 against distance evaluations per query, one
/// curve (a dot per ef) per sweep, labelled in order.
fn recall_against_work(
    title: &str,
    labels: &[String],
    sweeps: &[Vec<Measured>],
    footer: &str,
) -> Result<String> {
    let floor = recall_floor(&sweeps.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let (lo, hi) = log_range(sweeps.iter().flatten().map(|p| p.evaluations));
    let series = labels
        .iter()
        .zip(sweeps)
        .enumerate()
        .map(|(i, (label, s))| Series {
            label: label.clone(),
            points: s.iter().map(|p| (p.evaluations, p.recall)).collect(),
            color: PALETTE[i],
            dashed: false,
        })
        .collect();
    panels(
        title,
        crate::plot::SIZE,
        1,
        &[Panel {
            title: String::new(),
            x: Axis {
                label: "mean distance evaluations per query (log scale); dots: ef = 10 ... 400",
                range: (lo, hi),
                log: true,
            },
            y: Axis {
                label: "mean recall@10",
                range: (floor, 1.0),
                log: false,
            },
            series,
            legend: SeriesLabelPosition::LowerRight,
        }],
        footer,
    )
}

fn effect_of_m() -> Result<String> {
    let mut sweeps = Vec::new();
    for m in MS {
        sweeps.push(sweep_64(Metric::L2, m)?);
    }
    let labels: Vec<String> = MS
        .iter()
        .map(|m| format!("m = {m} (m0 = {})", 2 * m))
        .collect();
    recall_against_work(
        &format!(
            "What does m buy? Recall@{K} against the work per query ({} clustered 64-d vectors, L2)",
            thousands(CLUSTERED_N as u64)
        ),
        &labels,
        &sweeps,
        &footer(&data_64()),
    )
}

// ---------------------------------------------------------------------
// 4. Neighbour selection

/// The strongly clustered set of figure 4: many tight, isolated clusters.
const SELECTION_N: usize = 20_000;
const SELECTION_D: usize = 10;
const SELECTION_CLUSTERS: usize = 100;
const SELECTION_SPREAD: f32 = 0.02;
const SELECTION_M: usize = 16;

fn selection() -> Result<String> {
    let mut points = data::clustered(
        SELECTION_N + QUERIES,
        SELECTION_D,
        SELECTION_CLUSTERS,
        SELECTION_SPREAD,
        SEED ^ 4,
    );
    let queries = points.split_off(SELECTION_N);
    let truth = truth(&points, &queries, Metric::L2, K)?;
    let rules = [
        (
            "heuristic (Algorithm 4): keep a candidate only if no kept one is nearer to it",
            Selection::Heuristic {
                extend_candidates: false,
                keep_pruned: false,
            },
        ),
        (
            "simple (Algorithm 3): the m nearest candidates",
            Selection::Simple,
        ),
    ];
    let mut sweeps = Vec::new();
    for (_, rule) in rules {
        let params = Params {
            seed: SEED,
            selection: rule,
            ..Params::new(SELECTION_M)
        };
        let index = build(&points, Metric::L2, params)?;
        sweeps.push(sweep(&index, &queries, &truth)?);
    }
    let labels: Vec<String> = rules
        .iter()
        .map(|(label, _)| (*label).to_string())
        .collect();
    recall_against_work(
        &format!(
            "Why the heuristic? Recall@{K} against work on strongly clustered data ({} vectors, {SELECTION_D}-d, m = {SELECTION_M})",
            thousands(SELECTION_N as u64)
        ),
        &labels,
        &sweeps,
        &footer(&format!(
            "{} + {QUERIES} query vectors, {SELECTION_CLUSTERS} Gaussian clusters (sigma {SELECTION_SPREAD}); L2, ef_construction 200",
            thousands(SELECTION_N as u64)
        )),
    )
}

// ---------------------------------------------------------------------
// 6. Scaling

/// The smallest index of figure 6; it doubles `SCALING_DOUBLINGS` times.
const SCALING_START: usize = 1_000;
const SCALING_DOUBLINGS: u32 = 6;
/// Dimensions compared: the paper's log n claim is for low intrinsic
/// dimension.
const SCALING_DIMENSIONS: [usize; 2] = [8, 32];
const SCALING_CLUSTERS: usize = 10;
const SCALING_SPREAD: f32 = 0.15;
const SCALING_M: usize = 16;
const SCALING_EF: usize = 64;
const SCALING_EF_CONSTRUCTION: usize = 100;
const SCALING_QUERIES: usize = 200;

/// One index grown from 1,000 to 64,000 vectors of `dimension`, measured
/// after each doubling: (n, mean recall and evaluations at ef 64).
fn scaling_curve(dimension: usize) -> Result<Vec<(usize, Measured)>> {
    let max = SCALING_START << SCALING_DOUBLINGS;
    let mut points = data::clustered(
        max + SCALING_QUERIES,
        dimension,
        SCALING_CLUSTERS,
        SCALING_SPREAD,
        SEED ^ 6 ^ dimension as u64,
    );
    let queries = points.split_off(max);
    let params = Params {
        seed: SEED,
        ef_construction: SCALING_EF_CONSTRUCTION,
        ..Params::new(SCALING_M)
    };
    let mut index = Hnsw::new(Metric::L2, dimension, params).map_err(hnsw_err)?;
    let mut exact = FlatIndex::new(Metric::L2, dimension).map_err(hnsw_err)?;
    let mut curve = Vec::new();
    for doubling in 0..=SCALING_DOUBLINGS {
        let n = SCALING_START << doubling;
        let items: Vec<(u64, &[f32])> = (index.len()..n)
            .map(|id| (id as u64, points.vector(id)))
            .collect();
        index.insert_parallel(&items, threads()).map_err(hnsw_err)?;
        for &(id, v) in &items {
            exact.insert(id, v).map_err(hnsw_err)?;
        }
        let truth = per_query(&queries, |_, q| exact.search(q, K).map_err(hnsw_err))?;
        curve.push((n, measure(&index, &queries, &truth, SCALING_EF)?));
    }
    Ok(curve)
}

fn scaling() -> Result<String> {
    let mut series = Vec::new();
    let mut first = None;
    for (i, d) in SCALING_DIMENSIONS.into_iter().enumerate() {
        let curve = scaling_curve(d)?;
        let (low, high) = curve.iter().fold((1.0f64, 0.0f64), |(lo, hi), (_, p)| {
            (lo.min(p.recall), hi.max(p.recall))
        });
        first.get_or_insert(curve[0]);
        let recall = if format!("{low:.3}") == format!("{high:.3}") {
            format!("recall@10 {low:.3} at every n")
        } else {
            format!("recall@10 {low:.3} to {high:.3}")
        };
        series.push(Series {
            label: format!("HNSW, d = {d} ({recall})"),
            points: curve
                .iter()
                .map(|&(n, p)| (n as f64, p.evaluations))
                .collect(),
            color: PALETTE[[0, 2][i % 2]],
            dashed: false,
        });
    }
    let sizes: Vec<f64> = (0..=SCALING_DOUBLINGS)
        .map(|d| (SCALING_START << d) as f64)
        .collect();
    let (n0, p0) = first.context("a curve")?;
    let log_through = |n: f64| p0.evaluations * n.ln() / (n0 as f64).ln();
    series.push(Series {
        label: "FlatIndex (exact): n".into(),
        points: sizes.iter().map(|&n| (n, n)).collect(),
        color: PALETTE[6],
        dashed: true,
    });
    series.push(Series {
        label: format!(
            "proportional to log n (through d = {}'s first point)",
            SCALING_DIMENSIONS[0]
        ),
        points: sizes.iter().map(|&n| (n, log_through(n))).collect(),
        color: RGBColor(150, 150, 150),
        dashed: true,
    });
    let (lo, hi) = log_range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    panels(
        &format!(
            "How does the work per query grow with n? (clustered data, m = {SCALING_M}, ef = {SCALING_EF})"
        ),
        crate::plot::SIZE,
        1,
        &[Panel {
            title: String::new(),
            x: Axis {
                label: "n (vectors in the index, log scale)",
                range: (sizes[0], sizes[sizes.len() - 1]),
                log: true,
            },
            y: Axis {
                label: "mean distance evaluations per query (log scale)",
                range: (lo, hi),
                log: true,
            },
            series,
            legend: SeriesLabelPosition::UpperLeft,
        }],
        &footer(&format!(
            "one index per d, grown; {SCALING_CLUSTERS} Gaussian clusters (sigma {SCALING_SPREAD}); {SCALING_QUERIES} queries; ef_construction {SCALING_EF_CONSTRUCTION}"
        )),
    )
}
