//! Space-time (Lamport) diagrams drawn from the replication simulator's
//! text trace: one horizontal line per node, time running left to right,
//! and an arrow per delivered message from the moment it was sent to the
//! moment it arrived (Lamport, "Time, Clocks, and the Ordering of Events
//! in a Distributed System", CACM 1978, Fig. 1 turned on its side).
//!
//! The trace's line formats are documented in the `replication::sim`
//! module. A dropped message leaves no line, so it draws no arrow; a
//! partition is shaded instead. Lines this parser does not know are
//! skipped, so a new kind of trace line cannot break a figure.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use replication::protocol::{NodeId, Time};

use crate::plot::{FOOTER, PALETTE, draw_footer, err};

/// One line of the trace that a diagram can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// `n{from}->n{to} sent {sent} {msg}`: a message delivered at `at`.
    Deliver {
        at: Time,
        from: NodeId,
        to: NodeId,
        sent: Time,
        msg: String,
    },
    /// `n{node} role {role}`: the node's role changed.
    Role {
        at: Time,
        node: NodeId,
        role: String,
    },
    /// `client->n{to} {request}`: a client request arrived.
    Request {
        at: Time,
        to: NodeId,
        request: String,
    },
    /// `n{from}->client {id} {reply}`: a reply reached its client.
    Reply {
        at: Time,
        from: NodeId,
        id: String,
        reply: String,
    },
    /// `crash n{node}`.
    Crash { at: Time, node: NodeId },
    /// `partition …` (the text after the time) until the next `heal`.
    Partition { at: Time, text: String },
    /// `heal`.
    Heal { at: Time },
}

fn node(s: &str) -> Option<NodeId> {
    s.strip_prefix('n')?.parse().ok()
}

/// Parses the lines a diagram draws; skips the rest (timeouts, starts,
/// lines of kinds added later).
pub(crate) fn parse(trace: &[String]) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    for raw in trace {
        let raw = raw.trim_start();
        let (time, rest) = raw
            .split_once(' ')
            .with_context(|| format!("a trace line without a time: {raw:?}"))?;
        let at: Time = time
            .parse()
            .with_context(|| format!("a trace line without a time: {raw:?}"))?;
        let (head, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        let line = if let Some((from, to)) = head.split_once("->") {
            if to == "client" {
                let (id, reply) = tail
                    .split_once("} ")
                    .with_context(|| format!("a reply line without an id: {raw:?}"))?;
                node(from).map(|from| Line::Reply {
                    at,
                    from,
                    id: format!("{id}}}"),
                    reply: reply.to_owned(),
                })
            } else if from == "client" {
                node(to).map(|to| Line::Request {
                    at,
                    to,
                    request: tail.to_owned(),
                })
            } else {
                let (sent, msg) = tail
                    .strip_prefix("sent ")
                    .and_then(|t| t.split_once(' '))
                    .with_context(|| format!("a delivery without its send time: {raw:?}"))?;
                match (node(from), node(to), sent.parse()) {
                    (Some(from), Some(to), Ok(sent)) => Some(Line::Deliver {
                        at,
                        from,
                        to,
                        sent,
                        msg: msg.to_owned(),
                    }),
                    _ => None,
                }
            }
        } else if head == "crash" {
            node(tail).map(|node| Line::Crash { at, node })
        } else if head == "partition" {
            Some(Line::Partition {
                at,
                text: tail.to_owned(),
            })
        } else if head == "heal" {
            Some(Line::Heal { at })
        } else if let Some(n) = node(head)
            && let Some(role) = tail.strip_prefix("role ")
        {
            Some(Line::Role {
                at,
                node: n,
                role: role.to_owned(),
            })
        } else {
            None
        };
        lines.extend(line);
    }
    Ok(lines)
}

/// A horizontal line of the diagram.
pub(crate) enum Lane {
    /// A node, and its label.
    Node(NodeId, String),
    /// The clients, drawn as one line.
    Client(String),
}

/// A message's colour class (an index into [`PALETTE`]; 5 and above are
/// drawn grey), its legend entry and its label on the arrow ("" for none).
pub(crate) type Classify = fn(&str) -> (usize, &'static str, String);

/// What to draw, and how.
pub(crate) struct Diagram {
    pub(crate) title: String,
    pub(crate) lanes: Vec<Lane>,
    /// The time window drawn, in virtual µs.
    pub(crate) window: (Time, Time),
    pub(crate) classify: Classify,
    pub(crate) footer: String,
    /// Annotations: (time, lane index, text), written under the lane.
    pub(crate) notes: Vec<(Time, usize, String)>,
    /// With a client lane: when each request was sent, by its id as the
    /// trace prints it (`RequestId { client: 0, seq: 0 }`); the trace only
    /// records arrivals. A reply is drawn from its request's arrival (the
    /// protocols here answer at once).
    pub(crate) client_sent: Option<BTreeMap<String, Time>>,
}

/// Canvas size of a diagram.
const SIZE: (u32, u32) = (1200, 600);
/// Grey for classes without a colour of their own.
const GREY: RGBColor = RGBColor(150, 150, 150);

fn color(class: usize) -> RGBColor {
    if class >= 5 { GREY } else { PALETTE[class] }
}

fn ms(t: Time) -> f64 {
    t as f64 / 1_000.0
}

/// An arrow from `from` to `to`, in pixels.
struct Arrow {
    from: (i32, i32),
    to: (i32, i32),
    color: RGBColor,
    label: String,
}

/// Renders `diagram` from the parsed trace `lines`.
pub(crate) fn render(diagram: &Diagram, lines: &[Line]) -> Result<String> {
    let (t0, t1) = diagram.window;
    let inside = |t: Time| (t0..=t1).contains(&t);
    let lane_of_node: BTreeMap<NodeId, usize> = diagram
        .lanes
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l {
            Lane::Node(n, _) => Some((*n, i)),
            Lane::Client(_) => None,
        })
        .collect();
    let client_lane = diagram
        .lanes
        .iter()
        .position(|l| matches!(l, Lane::Client(_)));
    let lanes = diagram.lanes.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (chart_area, footer_area) = root.split_vertically(SIZE.1 - FOOTER);
        let (chart_area, legend_area) = chart_area.split_vertically(SIZE.1 - FOOTER - 34);
        let mut chart = ChartBuilder::on(&chart_area)
            .caption(&diagram.title, ("sans-serif", 17).into_font())
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(ms(t0)..ms(t1), -0.7f64..lanes as f64 - 0.3)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("virtual time (ms)")
            .x_label_formatter(&|v| crate::plot::number(*v))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        // Lane 0 at the top.
        let y = |lane: usize| (lanes - 1 - lane) as f64;
        let px = |t: Time, lane: usize| chart.backend_coord(&(ms(t), y(lane)));

        // Partitions, shaded from `partition` to the next `heal`.
        let mut open: Option<(Time, String)> = None;
        let mut bands = Vec::new();
        for line in lines {
            match line {
                Line::Partition { at, text } => open = Some((*at, text.clone())),
                Line::Heal { at } => {
                    if let Some((from, text)) = open.take() {
                        bands.push((from, *at, text));
                    }
                }
                _ => {}
            }
        }
        bands.extend(open.map(|(from, text)| (from, t1, text)));
        for (from, to, text) in &bands {
            if *to < t0 || *from > t1 {
                continue;
            }
            let (from, to) = ((*from).max(t0), (*to).min(t1));
            let corner = chart.backend_coord(&(ms(from), lanes as f64 - 0.3));
            let opposite = chart.backend_coord(&(ms(to), -0.7));
            root.draw(&Rectangle::new(
                [corner, opposite],
                RGBColor(213, 94, 0).mix(0.08).filled(),
            ))
            .map_err(err)?;
            let style = TextStyle::from(("sans-serif", 12).into_font())
                .color(&RGBColor(160, 60, 0))
                .pos(Pos::new(HPos::Left, VPos::Top));
            let (x, top) = chart.backend_coord(&(ms(from), lanes as f64 - 0.3));
            root.draw(&Text::new(
                format!(
                    "partition {} until {} ms",
                    groups(text),
                    crate::plot::number(ms(to))
                ),
                (x + 4, top + 3),
                style,
            ))
            .map_err(err)?;
        }

        // Lane lines and names.
        let name_style = TextStyle::from(("sans-serif", 15).into_font())
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (i, lane) in diagram.lanes.iter().enumerate() {
            let (a, b) = (px(t0, i), px(t1, i));
            root.draw(&PathElement::new(vec![a, b], BLACK.stroke_width(1)))
                .map_err(err)?;
            let name = match lane {
                Lane::Node(_, name) | Lane::Client(name) => name,
            };
            root.draw(&Text::new(name.clone(), (a.0 - 8, a.1), name_style.clone()))
                .map_err(err)?;
        }

        // Arrows: deliveries, then the client's requests and replies.
        let mut arrows = Vec::new();
        let mut legend: BTreeMap<usize, &'static str> = BTreeMap::new();
        let mut labelled = std::collections::BTreeSet::new();
        let mut arrived: BTreeMap<String, (Time, NodeId)> = BTreeMap::new();
        for line in lines {
            match line {
                Line::Deliver {
                    at,
                    from,
                    to,
                    sent,
                    msg,
                } if inside(*sent) && inside(*at) => {
                    let (Some(&a), Some(&b)) = (lane_of_node.get(from), lane_of_node.get(to))
                    else {
                        continue;
                    };
                    let (class, name, label) = (diagram.classify)(msg);
                    legend.insert(class, name);
                    // One label per burst: the same label sent by one node
                    // at one moment (a broadcast) is written once.
                    let label = if labelled.insert((*from, *sent, label.clone())) {
                        label
                    } else {
                        String::new()
                    };
                    arrows.push(Arrow {
                        from: px(*sent, a),
                        to: px(*at, b),
                        color: color(class),
                        label,
                    });
                }
                Line::Request { at, to, request } => {
                    let (Some(c), Some(sent_at), Some(&b)) =
                        (client_lane, &diagram.client_sent, lane_of_node.get(to))
                    else {
                        continue;
                    };
                    let id = request_id(request);
                    arrived.insert(id.clone(), (*at, *to));
                    let Some(&sent) = sent_at.get(&id) else {
                        continue;
                    };
                    if inside(sent) && inside(*at) {
                        legend.insert(6, "client request / reply");
                        arrows.push(Arrow {
                            from: px(sent, c),
                            to: px(*at, b),
                            color: BLACK,
                            label: command_label(request),
                        });
                    }
                }
                Line::Reply {
                    at,
                    from,
                    id,
                    reply,
                } => {
                    let (Some(c), Some(&(sent, _)), Some(&a)) =
                        (client_lane, arrived.get(id), lane_of_node.get(from))
                    else {
                        continue;
                    };
                    if inside(sent) && inside(*at) {
                        arrows.push(Arrow {
                            from: px(sent, a),
                            to: px(*at, c),
                            color: BLACK,
                            label: reply.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        for arrow in &arrows {
            draw_arrow(&root, arrow)?;
        }

        // Role changes and crashes.
        let role_style = TextStyle::from(("sans-serif", 12).into_font())
            .color(&RGBColor(40, 40, 40))
            .pos(Pos::new(HPos::Left, VPos::Bottom));
        for line in lines {
            match line {
                Line::Role { at, node, role } if inside(*at) => {
                    let Some(&lane) = lane_of_node.get(node) else {
                        continue;
                    };
                    let p = px(*at, lane);
                    root.draw(&Circle::new(p, 5, RGBColor(60, 60, 60).filled()))
                        .map_err(err)?;
                    root.draw(&Text::new(
                        role.clone(),
                        (p.0 + 3, p.1 - 7),
                        role_style.clone(),
                    ))
                    .map_err(err)?;
                }
                Line::Crash { at, node } if inside(*at) => {
                    let Some(&lane) = lane_of_node.get(node) else {
                        continue;
                    };
                    root.draw(&Cross::new(px(*at, lane), 7, RED.stroke_width(3)))
                        .map_err(err)?;
                }
                _ => {}
            }
        }

        // Notes, in bold red under their lane.
        let note_style = TextStyle::from(("sans-serif", 14).into_font().style(FontStyle::Bold))
            .color(&RGBColor(190, 30, 30))
            .pos(Pos::new(HPos::Left, VPos::Top));
        for (at, lane, text) in &diagram.notes {
            let p = px(*at, *lane);
            root.draw(&Circle::new(p, 8, RGBColor(190, 30, 30).stroke_width(2)))
                .map_err(err)?;
            // Right of the mark, or left of it in the right half.
            let (style, x) = if p.0 > SIZE.0 as i32 / 2 {
                (note_style.pos(Pos::new(HPos::Right, VPos::Top)), p.0 - 4)
            } else {
                (note_style.clone(), p.0 + 4)
            };
            root.draw(&Text::new(text.clone(), (x, p.1 + 12), style))
                .map_err(err)?;
        }

        draw_legend(&legend_area, &legend)?;
        draw_footer(&footer_area, &diagram.footer)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// `[[0], [1, 2]]` (a printed partition) as `{0} | {1, 2}`.
fn groups(text: &str) -> String {
    let inner = text
        .trim()
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .replace("], [", "} | {")
        .replace('[', "{")
        .replace(']', "}")
}

/// The `RequestId { .. }` inside a printed request.
fn request_id(request: &str) -> String {
    request
        .split_once("id: ")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map_or_else(String::new, |(id, _)| format!("{id}}}"))
}

/// `write k1=2` or `read k1` for a printed request.
fn command_label(request: &str) -> String {
    let Some((_, command)) = request.split_once("command: ") else {
        return String::new();
    };
    let number = |name: &str| {
        command
            .split_once(&format!("{name}: "))
            .map(|(_, rest)| {
                rest.chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '-')
                    .collect::<String>()
            })
            .unwrap_or_default()
    };
    let key = number("key");
    if command.starts_with("Read") {
        format!("read k{key}")
    } else if command.starts_with("Write") {
        format!("write k{key}={}", number("value"))
    } else {
        format!("cas k{key} {}->{}", number("expected"), number("new"))
    }
}

fn draw_arrow(root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, a: &Arrow) -> Result<()> {
    let (dx, dy) = (f64::from(a.to.0 - a.from.0), f64::from(a.to.1 - a.from.1));
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / length, dy / length);
    root.draw(&PathElement::new(
        vec![a.from, a.to],
        a.color.stroke_width(2),
    ))
    .map_err(err)?;
    // A head 9 px long and 8 px wide at the arrival.
    let (hx, hy) = (f64::from(a.to.0), f64::from(a.to.1));
    let back = (hx - 9.0 * ux, hy - 9.0 * uy);
    let head = vec![
        a.to,
        (
            (back.0 - 4.0 * uy).round() as i32,
            (back.1 + 4.0 * ux).round() as i32,
        ),
        (
            (back.0 + 4.0 * uy).round() as i32,
            (back.1 - 4.0 * ux).round() as i32,
        ),
    ];
    root.draw(&Polygon::new(head, a.color.filled()))
        .map_err(err)?;
    if !a.label.is_empty() {
        // Beside the arrow, a fifth of the way along.
        let x = f64::from(a.from.0) + 0.2 * dx;
        let y = f64::from(a.from.1) + 0.2 * dy;
        let style = TextStyle::from(("sans-serif", 11).into_font())
            .color(&a.color)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(
            a.label.clone(),
            (x.round() as i32 + 5, y.round() as i32),
            style,
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// One legend entry per message class seen, in class order.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    legend: &BTreeMap<usize, &'static str>,
) -> Result<()> {
    let style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut x = 80;
    let y = 14;
    for (&class, &name) in legend {
        let c = if class == 6 { BLACK } else { color(class) };
        area.draw(&PathElement::new(
            vec![(x, y), (x + 24, y)],
            c.stroke_width(2),
        ))
        .map_err(err)?;
        area.draw_text(name, &style, (x + 30, y)).map_err(err)?;
        // plotters measures no font: estimate 6.5 pixels per character.
        x += 30 + (name.len() as f64 * 6.5) as i32 + 26;
    }
    Ok(())
}
