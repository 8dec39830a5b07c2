//! Small wrappers over plotters: every figure is an SVG string with a title
//! that states its question, labelled axes with units, a legend, and a footer
//! naming the seed (or machine) and the command that produced it.
//!
//! plotters is built without its font features, so text is never measured
//! from installed fonts and the same data give the same bytes everywhere.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Width and height of line and bar charts, in pixels.
pub(crate) const SIZE: (u32, u32) = (900, 560);
/// Height of the footer strip.
pub(crate) const FOOTER: u32 = 28;

/// Colours for successive series (colour-blind-safe Okabe–Ito palette).
pub(crate) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// A named series of points, drawn as a line (dashed when `dashed`).
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) color: RGBColor,
    pub(crate) dashed: bool,
}

/// Axis description: label (with unit), range, and whether it is logarithmic.
pub(crate) struct Axis {
    pub(crate) label: &'static str,
    pub(crate) range: (f64, f64),
    pub(crate) log: bool,
}

pub(crate) fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotters: {e:?}")
}

/// Draws `footer` text in the strip at the bottom of `area`.
pub(crate) fn draw_footer(area: &DrawingArea<SVGBackend<'_>, Shift>, footer: &str) -> Result<()> {
    let style = TextStyle::from(("sans-serif", 12).into_font()).color(&RGBColor(90, 90, 90));
    area.draw_text(footer, &style, (12, 8)).map_err(err)
}

/// A line chart; either axis may be logarithmic.
pub(crate) fn line_chart(
    title: &str,
    x: Axis,
    y: Axis,
    series: &[Series],
    footer: &str,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (chart_area, footer_area) = root.split_vertically(SIZE.1 - FOOTER);
        match (x.log, y.log) {
            (true, true) => {
                let mut builder = build(&chart_area, title)?;
                let chart = builder
                    .build_cartesian_2d(
                        (x.range.0..x.range.1).log_scale(),
                        (y.range.0..y.range.1).log_scale(),
                    )
                    .map_err(err)?;
                finish(chart, &x, &y, series)?;
            }
            (true, false) => {
                let mut builder = build(&chart_area, title)?;
                let chart = builder
                    .build_cartesian_2d((x.range.0..x.range.1).log_scale(), y.range.0..y.range.1)
                    .map_err(err)?;
                finish(chart, &x, &y, series)?;
            }
            (false, _) => {
                let mut builder = build(&chart_area, title)?;
                let chart = builder
                    .build_cartesian_2d(x.range.0..x.range.1, y.range.0..y.range.1)
                    .map_err(err)?;
                finish(chart, &x, &y, series)?;
            }
        }
        draw_footer(&footer_area, footer)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn build<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
) -> Result<ChartBuilder<'a, 'b, SVGBackend<'b>>> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", 18).into_font())
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(64);
    Ok(builder)
}

fn finish<'a, 'b: 'a, X, Y>(
    mut chart: ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    x: &Axis,
    y: &Axis,
    series: &[Series],
) -> Result<()>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x.label)
        .y_desc(y.label)
        .x_label_formatter(&|v| number(*v))
        .y_label_formatter(&|v| number(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for s in series {
        let color = s.color;
        let style = ShapeStyle::from(&color).stroke_width(2);
        let drawn = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, style))
                .map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(err)?
        };
        // A series without a label stays out of the legend (the timing
        // figure names its dashed peers once, in the footer).
        if !s.label.is_empty() {
            drawn.label(s.label.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
            });
        }
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    Ok(())
}

/// Draws `chart`'s legend at `position`, in the one style every figure uses.
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 13).into_font())
        .draw()
        .map_err(err)
}

/// A tick label: integers plainly, powers of ten as 10^k, others with two
/// significant decimals.
pub(crate) fn number(v: f64) -> String {
    if v >= 1e4 {
        let exponent = v.log10();
        if (exponent - exponent.round()).abs() < 1e-9 {
            return format!("10^{}", exponent.round() as i32);
        }
        return format!("{:.0e}", v);
    }
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

/// A grouped bar chart: one group per category, one bar per series within it,
/// values in `0..y_max`.
pub(crate) fn bar_chart(
    title: &str,
    categories: &[&str],
    series: &[(&str, Vec<f64>)],
    y: Axis,
    footer: &str,
) -> Result<String> {
    bar_chart_with(title, categories, series, y, |v| format!("{v:.3}"), footer)
}

/// [`bar_chart`] with a formatter for the value printed on each bar, and a
/// logarithmic value axis if `y.log` (bars then start at `y.range.0`).
pub(crate) fn bar_chart_with(
    title: &str,
    categories: &[&str],
    series: &[(&str, Vec<f64>)],
    y: Axis,
    value_label: fn(f64) -> String,
    footer: &str,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (chart_area, footer_area) = root.split_vertically(SIZE.1 - FOOTER);
        let groups = categories.len() as f64;
        let mut builder = build(&chart_area, title)?;
        if y.log {
            let chart = builder
                .build_cartesian_2d(0f64..groups, (y.range.0..y.range.1).log_scale())
                .map_err(err)?;
            draw_bars(chart, categories, series, &y, value_label)?;
        } else {
            let chart = builder
                .build_cartesian_2d(0f64..groups, y.range.0..y.range.1)
                .map_err(err)?;
            draw_bars(chart, categories, series, &y, value_label)?;
        }
        draw_footer(&footer_area, footer)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn draw_bars<'a, 'b: 'a, Y>(
    mut chart: ChartContext<
        'a,
        SVGBackend<'b>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, Y>,
    >,
    categories: &[&str],
    series: &[(&str, Vec<f64>)],
    y: &Axis,
    value_label: fn(f64) -> String,
) -> Result<()>
where
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(y.label)
        .y_label_formatter(&|v| number(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    let width = 0.8 / series.len() as f64;
    let base = y.range.0;
    for (i, (label, values)) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let bars = values.iter().enumerate().map(|(g, &v)| {
            let x0 = g as f64 + 0.1 + width * i as f64;
            Rectangle::new([(x0, base), (x0 + width * 0.92, v)], color.filled())
        });
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
        let values_text = values.iter().enumerate().map(|(g, &v)| {
            let x = g as f64 + 0.1 + width * (i as f64 + 0.46);
            Text::new(
                value_label(v),
                (x, v),
                TextStyle::from(("sans-serif", 11).into_font()).pos(
                    plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Bottom,
                    ),
                ),
            )
        });
        chart.draw_series(values_text).map_err(err)?;
    }
    let category_style = TextStyle::from(("sans-serif", 14).into_font()).pos(
        plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ),
    );
    chart
        .draw_series(categories.iter().enumerate().map(|(g, c)| {
            EmptyElement::at((g as f64 + 0.5, base))
                + Text::new(c.to_string(), (0, 8), category_style.clone())
        }))
        .map_err(err)?;
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// One chart of a [`panels`] figure: its own caption, axes and series.
/// Solid series are drawn with a dot at every point (a series of one point
/// is then a single dot); dashed series are reference lines, without dots.
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) x: Axis,
    pub(crate) y: Axis,
    pub(crate) series: Vec<Series>,
    pub(crate) legend: SeriesLabelPosition,
}

/// A figure of one or more [`Panel`]s in a grid of `columns`, under one
/// `title` (a lone panel with an empty caption takes the title as its own).
pub(crate) fn panels(
    title: &str,
    size: (u32, u32),
    columns: usize,
    panels: &[Panel],
    footer: &str,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (chart_area, footer_area) = root.split_vertically(size.1 - FOOTER);
        // One panel without a caption of its own takes the title as caption.
        let single = panels.len() == 1 && panels[0].title.is_empty();
        let areas = if single {
            vec![chart_area]
        } else {
            let rows = panels.len().div_ceil(columns);
            chart_area
                .titled(title, ("sans-serif", 18).into_font())
                .map_err(err)?
                .split_evenly((rows, columns))
        };
        for (area, panel) in areas.iter().zip(panels) {
            let caption = if single { title } else { &panel.title };
            let font = if single { 18 } else { 15 };
            let (x, y) = (&panel.x, &panel.y);
            let mut builder = ChartBuilder::on(area);
            builder
                .caption(caption, ("sans-serif", font).into_font())
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(64);
            let (xr, yr) = (x.range.0..x.range.1, y.range.0..y.range.1);
            match (x.log, y.log) {
                (true, true) => draw_panel(
                    builder
                        .build_cartesian_2d(xr.log_scale(), yr.log_scale())
                        .map_err(err)?,
                    panel,
                )?,
                (true, false) => draw_panel(
                    builder
                        .build_cartesian_2d(xr.log_scale(), yr)
                        .map_err(err)?,
                    panel,
                )?,
                (false, true) => draw_panel(
                    builder
                        .build_cartesian_2d(xr, yr.log_scale())
                        .map_err(err)?,
                    panel,
                )?,
                (false, false) => {
                    draw_panel(builder.build_cartesian_2d(xr, yr).map_err(err)?, panel)?
                }
            }
        }
        draw_footer(&footer_area, footer)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn draw_panel<'a, 'b: 'a, X, Y>(
    mut chart: ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    panel: &Panel,
) -> Result<()>
where
    X: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: plotters::coord::ranged1d::Ranged<ValueType = f64>
        + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let x_tick = |v: &f64| tick(*v, panel.x.log);
    let y_tick = |v: &f64| tick(*v, panel.y.log);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x.label)
        .y_desc(panel.y.label)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_tick)
        .light_line_style(RGBColor(235, 235, 235));
    // On a log axis the fine lines bunch up below each power of ten.
    // (and plotters puts too few labels there unless asked for many).
    if panel.x.log {
        mesh.x_max_light_lines(0).x_labels(30);
    }
    if panel.y.log {
        mesh.y_max_light_lines(0).y_labels(30);
    }
    mesh.draw().map_err(err)?;
    for s in &panel.series {
        let color = s.color;
        let style = ShapeStyle::from(&color).stroke_width(2);
        let drawn = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, style))
                .map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(err)?;
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(err)?
        };
        if !s.label.is_empty() {
            let dashed = s.dashed;
            drawn.label(s.label.as_str()).legend(move |(x, y)| {
                let line = PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2));
                let dot = Circle::new((x + 11, y), if dashed { 0 } else { 3 }, color.filled());
                EmptyElement::at((0, 0)) + line + dot
            });
        }
    }
    draw_legend(&mut chart, panel.legend.clone())?;
    Ok(())
}

/// A tick label of a [`Panel`]'s axis: as [`number`], but on a log axis
/// only at 1, 2 and 5 times a power of ten, so that labels do not crowd.
fn tick(v: f64, log: bool) -> String {
    if log {
        let mantissa = v / 10f64.powf(v.log10().floor());
        if ![1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-6) {
            return String::new();
        }
    }
    number(v)
}

/// A log axis's range around every value: from the power of ten at or
/// below the least value (plotters labels a log axis only from its first
/// power of ten on) to the smallest 1, 2 or 5 times a power of ten at or
/// above the greatest.
pub(crate) fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let decade = 10f64.powf(hi.log10().floor());
    let above = [decade, 2.0 * decade, 5.0 * decade, 10.0 * decade]
        .into_iter()
        .filter(|&s| s >= hi)
        .fold(f64::INFINITY, f64::min);
    // Just below the power of ten, so that rounding cannot make plotters
    // start its labels a decade higher.
    (10f64.powf(lo.log10().floor()) * (1.0 - 1e-9), above)
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
