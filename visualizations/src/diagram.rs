//! Drawing helpers for the hand-laid-out diagrams (state machines, logs,
//! byte rulers, timelines): boxes, text and arrows on a plain SVG canvas,
//! in pixels.
//!
//! Like the charts, nothing here measures text: plotters is built without
//! its font features, and where a width matters it is estimated from the
//! character count ([`text_width`]), so the bytes are the same everywhere.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plot::{FOOTER, draw_footer, err};

/// The drawing area of a diagram.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Renders a `size` canvas: `draw` paints the area above the footer strip,
/// then `footer` is written in the strip.
pub(crate) fn canvas(
    size: (u32, u32),
    footer: &str,
    draw: impl FnOnce(&Area<'_>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (body, footer_area) = root.split_vertically(size.1 - FOOTER);
        draw(&body)?;
        draw_footer(&footer_area, footer)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// An estimate of the width of `text` at `size` px (sans-serif averages
/// a little over half an em per character). Never measured from a font.
pub(crate) fn text_width(text: &str, size: u32) -> i32 {
    (text.chars().count() as f64 * f64::from(size) * 0.56).round() as i32
}

/// How a piece of text is drawn.
#[derive(Clone, Copy)]
pub(crate) struct Font {
    pub(crate) size: u32,
    pub(crate) color: RGBColor,
    pub(crate) bold: bool,
    pub(crate) h: HPos,
    pub(crate) v: VPos,
}

impl Font {
    /// Black, left-aligned, centred vertically.
    pub(crate) const fn new(size: u32) -> Font {
        Font {
            size,
            color: RGBColor(0, 0, 0),
            bold: false,
            h: HPos::Left,
            v: VPos::Center,
        }
    }

    pub(crate) const fn color(self, color: RGBColor) -> Font {
        Font { color, ..self }
    }

    pub(crate) const fn bold(self) -> Font {
        Font { bold: true, ..self }
    }

    /// Anchored at its horizontal centre.
    pub(crate) const fn centered(self) -> Font {
        Font {
            h: HPos::Center,
            ..self
        }
    }

    /// Anchored at its right end.
    pub(crate) const fn right(self) -> Font {
        Font {
            h: HPos::Right,
            ..self
        }
    }

    /// Anchored at its top.
    pub(crate) const fn top(self) -> Font {
        Font {
            v: VPos::Top,
            ..self
        }
    }
}

/// Writes `text` at `at`.
pub(crate) fn text(area: &Area<'_>, text: &str, at: (i32, i32), font: Font) -> Result<()> {
    let face = if font.bold {
        ("sans-serif", font.size).into_font().style(FontStyle::Bold)
    } else {
        ("sans-serif", font.size).into_font()
    };
    let style = TextStyle::from(face)
        .color(&font.color)
        .pos(Pos::new(font.h, font.v));
    area.draw(&Text::new(text.to_owned(), at, style))
        .map_err(err)
}

/// A rectangle from `a` to `b`, filled with `fill` (if any) and outlined
/// with `stroke` (if any).
pub(crate) fn rect(
    area: &Area<'_>,
    a: (i32, i32),
    b: (i32, i32),
    fill: Option<RGBColor>,
    stroke: Option<RGBColor>,
) -> Result<()> {
    if let Some(fill) = fill {
        area.draw(&Rectangle::new([a, b], fill.filled()))
            .map_err(err)?;
    }
    if let Some(stroke) = stroke {
        area.draw(&Rectangle::new([a, b], stroke.stroke_width(1)))
            .map_err(err)?;
    }
    Ok(())
}

/// A line through `points`.
pub(crate) fn line(
    area: &Area<'_>,
    points: &[(i32, i32)],
    color: RGBColor,
    width: u32,
) -> Result<()> {
    area.draw(&PathElement::new(
        points.to_vec(),
        color.stroke_width(width),
    ))
    .map_err(err)
}

/// A line through `points` with an arrowhead at the last one.
pub(crate) fn arrow(
    area: &Area<'_>,
    points: &[(i32, i32)],
    color: RGBColor,
    width: u32,
) -> Result<()> {
    line(area, points, color, width)?;
    let n = points.len();
    if n < 2 {
        return Ok(());
    }
    let (to, from) = (points[n - 1], points[n - 2]);
    let (dx, dy) = (f64::from(to.0 - from.0), f64::from(to.1 - from.1));
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / length, dy / length);
    let back = (f64::from(to.0) - 11.0 * ux, f64::from(to.1) - 11.0 * uy);
    let head = vec![
        to,
        (
            (back.0 - 5.0 * uy).round() as i32,
            (back.1 + 5.0 * ux).round() as i32,
        ),
        (
            (back.0 + 5.0 * uy).round() as i32,
            (back.1 - 5.0 * ux).round() as i32,
        ),
    ];
    area.draw(&Polygon::new(head, color.filled())).map_err(err)
}

/// A quadratic Bézier curve from `a` to `b` bent towards `control`, as a
/// polyline of 24 segments, with an arrowhead at `b`.
pub(crate) fn curved_arrow(
    area: &Area<'_>,
    a: (i32, i32),
    control: (i32, i32),
    b: (i32, i32),
    color: RGBColor,
    width: u32,
) -> Result<()> {
    let point = |t: f64| {
        let u = 1.0 - t;
        let x =
            u * u * f64::from(a.0) + 2.0 * u * t * f64::from(control.0) + t * t * f64::from(b.0);
        let y =
            u * u * f64::from(a.1) + 2.0 * u * t * f64::from(control.1) + t * t * f64::from(b.1);
        (x.round() as i32, y.round() as i32)
    };
    let points: Vec<(i32, i32)> = (0..=24).map(|i| point(f64::from(i) / 24.0)).collect();
    arrow(area, &points, color, width)
}

/// `c` blended two thirds of the way to white.
pub(crate) fn light(c: RGBColor) -> RGBColor {
    let f = |v: u8| ((u16::from(v) + 2 * 255) / 3) as u8;
    RGBColor(f(c.0), f(c.1), f(c.2))
}
