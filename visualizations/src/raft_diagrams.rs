//! Two Raft diagrams drawn from runs of the real `RaftNode` in the
//! simulator: the role state machine, its arrows counted from the traces
//! of seeded runs with faults, and the paper's Figure 8 staged with a
//! scripted fault schedule, each step drawn from the nodes' logs.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail, ensure};
use plotters::prelude::*;
use replication::protocol::{Command, NodeId, Time};
use replication::raft::{LogIndex, RaftConfig, RaftMonitor, RaftNode, Term};
use replication::sim::workload::{Faults, RunConfig, run};
use replication::sim::{Sim, SimConfig};

use crate::diagram::{Area, Font, arrow, canvas, curved_arrow, line, rect, text, text_width};
use crate::numbers::Numbers;
use crate::plot::PALETTE;
use crate::{Figure, QuotingFigure};

/// The command that renders (or, with `--check`, checks) these figures.
const COMMAND: &str = "cargo run --release -p visualizations -- figures";

/// The figures of this module.
pub(crate) fn all() -> Vec<Figure> {
    vec![Figure {
        name: "replication-raft-states.svg",
        render: raft_states,
    }]
}

/// The figures of this module whose captions quote their numbers.
pub(crate) fn quoting() -> Vec<QuotingFigure> {
    vec![QuotingFigure {
        name: "replication-figure8.svg",
        render: figure8,
    }]
}

// ---------------------------------------------------------------------
// 1. The role state machine, counted from traces

/// Seeds of the runs whose traces are counted.
const STATE_SEEDS: std::ops::Range<u64> = 1..9;
/// Their fault rate (faults per virtual second, majority not kept).
const STATE_INTENSITY: f64 = 4.0;

/// A node's role, as its trace line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Follower,
    Candidate,
    Leader,
}

/// What the traces showed, summed over the runs.
#[derive(Default)]
struct Counts {
    /// (from, to, whether the term changed): how often.
    transitions: BTreeMap<(Role, Role, bool), usize>,
    /// Boots: the first start of every node and every restart.
    starts: usize,
    /// Crashes, by the role the node was in.
    crashes: BTreeMap<Role, usize>,
}

/// `follower t3` as (role, term).
fn role_of(text: &str) -> Option<(Role, u64)> {
    let (role, term) = text.split_once(" t")?;
    let role = match role {
        "follower" => Role::Follower,
        "candidate" => Role::Candidate,
        "leader" => Role::Leader,
        _ => return None,
    };
    Some((role, term.parse().ok()?))
}

/// Counts the role changes of one trace. A node boots as a follower (in
/// the term on its disk); a crash ends its role.
fn count(trace: &[String], counts: &mut Counts) -> Result<()> {
    let mut now: BTreeMap<NodeId, (Role, u64)> = BTreeMap::new();
    for raw in trace {
        let mut words = raw.split_whitespace();
        let (Some(_time), Some(head)) = (words.next(), words.next()) else {
            continue;
        };
        let rest: Vec<&str> = words.collect();
        let node = |s: &str| s.strip_prefix('n').and_then(|n| n.parse::<NodeId>().ok());
        match (head, rest.as_slice()) {
            ("start", [n, ..]) => {
                let n = node(n).context("a start line without a node")?;
                counts.starts += 1;
                let term = now.get(&n).map_or(0, |r| r.1);
                now.insert(n, (Role::Follower, term));
            }
            ("crash", [n]) => {
                let n = node(n).context("a crash line without a node")?;
                let role = now.get(&n).map_or(Role::Follower, |r| r.0);
                *counts.crashes.entry(role).or_default() += 1;
            }
            (n, ["role", role, term]) => {
                let Some(n) = node(n) else { continue };
                let (role, term) = role_of(&format!("{role} {term}"))
                    .with_context(|| format!("an unknown role in {raw:?}"))?;
                let (was, was_term) = now.get(&n).copied().unwrap_or((Role::Follower, 0));
                if (was, was_term) != (role, term) {
                    let key = (was, role, term != was_term);
                    *counts.transitions.entry(key).or_default() += 1;
                }
                now.insert(n, (role, term));
            }
            _ => {}
        }
    }
    Ok(())
}

fn raft_states() -> Result<String> {
    let mut counts = Counts::default();
    let mut crashes_scheduled = 0;
    for seed in STATE_SEEDS {
        let mut config = RunConfig::new(seed);
        config.trace = true;
        config.faults = Faults::Random {
            intensity: STATE_INTENSITY,
            keep_majority: false,
        };
        config.workload.retry_on_timeout = true;
        let report = run::<RaftNode>(
            &config,
            RaftConfig::default(),
            vec![Box::new(RaftMonitor::new())],
        );
        ensure!(
            report.violation.is_none(),
            "Raft broke a rule: {:?}; replay: {}",
            report.violation,
            report.replay
        );
        crashes_scheduled += report
            .schedule
            .iter()
            .filter(|(_, f)| matches!(f, replication::sim::workload::Fault::Crash(_)))
            .count();
        count(&report.trace, &mut counts)?;
    }
    use Role::{Candidate, Follower, Leader};
    // Every change the traces show must be an arrow of the diagram.
    let drawn: [(Role, Role, bool); 6] = [
        (Follower, Candidate, true),
        (Candidate, Candidate, true),
        (Candidate, Leader, false),
        (Candidate, Follower, false),
        (Candidate, Follower, true),
        (Leader, Follower, true),
    ];
    let follower_newer_term = (Follower, Follower, true);
    for (key, n) in &counts.transitions {
        ensure!(
            drawn.contains(key) || *key == follower_newer_term,
            "the traces show a transition the diagram lacks: {key:?} ({n} times)"
        );
    }
    let c = |key: (Role, Role, bool)| counts.transitions.get(&key).copied().unwrap_or(0);
    let crashes: usize = counts.crashes.values().sum();
    ensure!(
        crashes == crashes_scheduled,
        "{crashes} crashes in the traces, {crashes_scheduled} scheduled"
    );
    let footer = format!(
        "role changes in the traces of Sim<RaftNode>: 5 nodes, 3 s of random faults ({STATE_INTENSITY}/s: crashes, partitions, pauses, clogs) then 2 s healed; seeds {}..={} · {COMMAND}",
        STATE_SEEDS.start,
        STATE_SEEDS.end - 1
    );
    let crashed_in = |r: Role| counts.crashes.get(&r).copied().unwrap_or(0);
    canvas((1200, 560), &footer, |area| {
        text(
            area,
            &format!(
                "How does a Raft node change roles? Every arrow, counted in {} seeded runs with faults",
                STATE_SEEDS.end - STATE_SEEDS.start
            ),
            (600, 22),
            Font::new(18).centered(),
        )?;
        // The three states.
        let (w, h, y) = (190, 76, 270);
        let centers = [(250, y), (600, y), (950, y)];
        let names = ["Follower", "Candidate", "Leader"];
        let roles = [Follower, Candidate, Leader];
        for ((x, y), (name, role)) in centers.iter().zip(names.iter().zip(roles)) {
            rect(
                area,
                (x - w / 2, y - h / 2),
                (x + w / 2, y + h / 2),
                Some(RGBColor(232, 241, 251)),
                Some(RGBColor(44, 93, 143)),
            )?;
            text(area, name, (*x, y - 10), Font::new(20).bold().centered())?;
            text(
                area,
                &format!("{} crashes here", crashed_in(role)),
                (*x, y + 18),
                Font::new(12).color(RGBColor(190, 30, 30)).centered(),
            )?;
        }
        let label = Font::new(14).centered();
        let count_font = Font::new(14).bold().centered();
        let blue = PALETTE[0];
        let (f, cd, l) = (centers[0], centers[1], centers[2]);
        // Boots.
        arrow(
            area,
            &[(40, f.1), (f.0 - w / 2, f.1)],
            RGBColor(90, 90, 90),
            2,
        )?;
        let runs = (STATE_SEEDS.end - STATE_SEEDS.start) as usize;
        text(area, "starts up / restarts", (80, f.1 - 58), label)?;
        text(
            area,
            &format!("{}× / {}×", 5 * runs, counts.starts - 5 * runs),
            (80, f.1 - 42),
            count_font,
        )?;
        // Follower -> candidate, over the top.
        curved_arrow(
            area,
            (f.0 + 40, f.1 - h / 2),
            (425, 130),
            (cd.0 - 40, cd.1 - h / 2),
            blue,
            2,
        )?;
        text(area, "times out, starts election", (425, 150), label)?;
        text(
            area,
            &format!("{}×", c((Follower, Candidate, true))),
            (425, 168),
            count_font,
        )?;
        // Candidate -> candidate, a loop on top.
        curved_arrow(
            area,
            (cd.0 - 30, cd.1 - h / 2),
            (cd.0, 110),
            (cd.0 + 30, cd.1 - h / 2),
            blue,
            2,
        )?;
        text(area, "times out, new election", (cd.0 + 12, 100), label)?;
        text(
            area,
            &format!("{}×", c((Candidate, Candidate, true))),
            (cd.0 + 12, 118),
            count_font,
        )?;
        // Candidate -> leader.
        arrow(
            area,
            &[(cd.0 + w / 2, cd.1 - 12), (l.0 - w / 2, l.1 - 12)],
            PALETTE[2],
            2,
        )?;
        text(
            area,
            "receives votes from a majority",
            (775, cd.1 - 48),
            label,
        )?;
        text(
            area,
            &format!("{}×", c((Candidate, Leader, false))),
            (775, cd.1 - 30),
            count_font,
        )?;
        // Candidate -> follower, underneath.
        curved_arrow(
            area,
            (cd.0 - 40, cd.1 + h / 2),
            (425, 400),
            (f.0 + 40, f.1 + h / 2),
            PALETTE[1],
            2,
        )?;
        text(
            area,
            "discovers the current leader or a new term",
            (425, 372),
            label,
        )?;
        text(
            area,
            &format!(
                "{}× leader, {}× new term",
                c((Candidate, Follower, false)),
                c((Candidate, Follower, true))
            ),
            (425, 390),
            count_font,
        )?;
        // Leader -> follower, a wide curve underneath.
        curved_arrow(
            area,
            (l.0, l.1 + h / 2),
            (600, 600),
            (f.0 - 30, f.1 + h / 2),
            PALETTE[1],
            2,
        )?;
        text(
            area,
            "discovers a server with a higher term",
            (600, 476),
            label,
        )?;
        text(
            area,
            &format!("{}×", c((Leader, Follower, true))),
            (600, 494),
            count_font,
        )?;
        // Follower -> follower in a newer term: a loop on top.
        curved_arrow(
            area,
            (f.0 - 60, f.1 - h / 2),
            (f.0 - 30, 110),
            (f.0 - 10, f.1 - h / 2),
            RGBColor(150, 150, 150),
            2,
        )?;
        text(
            area,
            "hears of a newer term (stays follower)",
            (f.0 - 30, 112),
            label.color(RGBColor(100, 100, 100)),
        )?;
        text(
            area,
            &format!("{}×", c(follower_newer_term)),
            (f.0 - 30, 130),
            count_font.color(RGBColor(100, 100, 100)),
        )?;
        // A crashed node boots as a follower in the term on its disk.
        text(
            area,
            "a crash ends any role; the node restarts as a follower, in the term on its disk",
            (600, 520),
            Font::new(13).color(RGBColor(90, 90, 90)).centered(),
        )?;
        Ok(())
    })
}

// ---------------------------------------------------------------------
// 2. Figure 8, staged

/// The first seed tried; seeds are tried in order until the scenario runs
/// as scripted (elections are randomised, so not every seed elects the
/// nodes the story needs).
const FIGURE8_FIRST_SEED: u64 = 0;
/// The last seed tried.
const FIGURE8_LAST_SEED: u64 = 200;
/// The value of the entry that is replicated to a majority and lost.
const X: i64 = 8;

/// One node's state at a step.
#[derive(Clone)]
struct NodeView {
    /// The term of each entry, from index 1.
    terms: Vec<Term>,
    /// Its current term.
    term: Term,
    /// Whether it leads.
    leader: bool,
    /// Its commit index.
    commit: LogIndex,
    /// "" when up and connected; "down" or "cut off".
    status: &'static str,
}

/// One step of the story.
struct Step {
    title: String,
    /// Under the panel, one line each.
    caption: Vec<String>,
    nodes: Vec<NodeView>,
    /// The index the story is about.
    index: LogIndex,
}

/// The roles of the story, named as in the paper.
struct Cast {
    /// S1..S5's node ids.
    ids: [NodeId; 5],
    /// The terms of steps (a), (b), (c) and (d), once known.
    terms: [Term; 4],
}

impl Cast {
    fn name(&self, id: NodeId) -> String {
        let s = self.ids.iter().position(|&n| n == id).map_or(0, |p| p + 1);
        format!("S{s}")
    }
}

fn leader_among(sim: &Sim<RaftNode>, ids: &[NodeId], above: Term) -> Option<NodeId> {
    ids.iter().copied().find(|&i| {
        sim.node(i)
            .is_some_and(|n| n.is_leader() && n.term() > above)
    })
}

/// Runs in steps of `step` µs for at most `limit`, until `done`.
fn run_until(
    sim: &mut Sim<RaftNode>,
    step: Time,
    limit: Time,
    mut done: impl FnMut(&Sim<RaftNode>) -> bool,
) -> bool {
    let until = sim.now() + limit;
    while sim.now() < until && sim.violation().is_none() {
        if done(sim) {
            return true;
        }
        sim.run_for(step);
    }
    done(sim)
}

/// What every node looks like now; a crashed node keeps the log it had
/// (`last`), which its disk holds (entries are synced before they are
/// acknowledged).
fn views(
    sim: &Sim<RaftNode>,
    last: &mut BTreeMap<NodeId, NodeView>,
    cut: &BTreeSet<NodeId>,
) -> Vec<NodeView> {
    (0..5)
        .map(|id| match sim.node(id) {
            Some(node) => {
                let view = NodeView {
                    terms: (1..=node.last_log_index())
                        .map(|i| node.term_at(i).unwrap_or(0))
                        .collect(),
                    term: node.term(),
                    leader: node.is_leader(),
                    commit: node.commit_index(),
                    status: if cut.contains(&id) { "cut off" } else { "" },
                };
                last.insert(id, view.clone());
                view
            }
            None => NodeView {
                leader: false,
                status: "down",
                ..last.get(&id).cloned().unwrap_or(NodeView {
                    terms: Vec::new(),
                    term: 0,
                    leader: false,
                    commit: 0,
                    status: "down",
                })
            },
        })
        .collect()
}

fn holds(sim: &Sim<RaftNode>, id: NodeId, index: LogIndex, term: Term) -> bool {
    sim.node(id).is_some_and(|n| n.term_at(index) == Some(term))
}

/// The scripted run; `None` if this seed's elections went otherwise.
fn figure8_run(seed: u64) -> Result<Option<(Vec<Step>, Cast)>> {
    let config = RaftConfig {
        // One entry per AppendEntries: an old entry and the new leader's
        // no-op reach a follower in two messages, so a moment exists when
        // a follower holds the one but not the other.
        max_entries_per_append: 1,
        ..RaftConfig::default()
    };
    let mut sim: Sim<RaftNode> = Sim::new(SimConfig::new(seed, 5), config);
    sim.add_monitor(Box::new(RaftMonitor::new()));
    let mut last = BTreeMap::new();
    let mut cut = BTreeSet::new();
    let mut steps = Vec::new();
    // A first leader commits one write.
    if !run_until(&mut sim, 1_000, 2_000_000, |s| {
        leader_among(s, &[0, 1, 2, 3, 4], 0).is_some()
    }) {
        return Ok(None);
    }
    let s1 = leader_among(&sim, &[0, 1, 2, 3, 4], 0).context("a leader")?;
    sim.submit(s1, Command::Write { key: 1, value: 1 });
    sim.run_for(100_000);
    let s2 = (s1 + 1) % 5;
    let rest: Vec<NodeId> = (2..5).map(|k| (s1 + k) % 5).collect();
    let committed = sim.node(s1).map_or(0, RaftNode::commit_index);
    if (0..5).any(|n| sim.node(n).is_none_or(|x| x.commit_index() != committed)) {
        return Ok(None);
    }
    // (a) S1, cut off with S2, logs X.
    sim.partition(&[&[s1, s2], &rest]);
    cut.extend(rest.iter().copied());
    sim.submit(s1, Command::Write { key: 1, value: X });
    sim.run_for(20_000);
    let node1 = sim.node(s1).context("S1 is up")?;
    let (i, t1) = (node1.last_log_index(), node1.term());
    if i != committed + 1 || !holds(&sim, s2, i, t1) || !node1.is_leader() {
        return Ok(None);
    }
    let views_a = views(&sim, &mut last, &cut);
    // (b) The others elect S5, cut off the moment it wins.
    if !run_until(&mut sim, 50, 2_000_000, |s| {
        leader_among(s, &rest, t1).is_some()
    }) {
        return Ok(None);
    }
    let s5 = leader_among(&sim, &rest, t1).context("S5")?;
    let t2 = sim.node(s5).context("S5 is up")?.term();
    sim.isolate(s5);
    let others: Vec<NodeId> = rest.iter().copied().filter(|&n| n != s5).collect();
    let (s3, s4) = (others[0], others[1]);
    let mut cast = Cast {
        ids: [s1, s2, s3, s4, s5],
        terms: [t1, t2, 0, 0],
    };
    let (n1, n2, n3, n4, n5) = (
        cast.name(s1),
        cast.name(s2),
        cast.name(s3),
        cast.name(s4),
        cast.name(s5),
    );
    steps.push(Step {
        title: format!("(a) {n1} leads term {t1}"),
        caption: vec![
            format!("cut off with {n2}, {n1} logs X at index {i}:"),
            format!("2 of 5 copies, not committed"),
        ],
        nodes: views_a,
        index: i,
    });
    ensure!(
        holds(&sim, s5, i, t2),
        "S5 logs its no-op at index {i} as it wins"
    );
    cut = BTreeSet::from([s1, s2, s5]);
    steps.push(Step {
        title: format!("(b) {n5} wins term {t2}, then crashes"),
        caption: vec![
            format!("votes from {n3} and {n4}; its no-op of term {t2}"),
            format!("at index {i} reaches no one before it crashes"),
        ],
        nodes: views(&sim, &mut last, &cut),
        index: i,
    });
    sim.crash(s5);
    sim.run_for(20_000);
    // (c) S1 wins term t3 among S1-S3 and sends X to S3.
    sim.heal();
    sim.isolate(s4);
    sim.isolate(s5);
    cut = BTreeSet::from([s4]);
    if !run_until(&mut sim, 50, 2_000_000, |s| {
        leader_among(s, &[s1, s2], t2).is_some()
    }) {
        return Ok(None);
    }
    if leader_among(&sim, &[s1, s2], t2) != Some(s1) {
        return Ok(None);
    }
    let t3 = sim.node(s1).context("S1 is up")?.term();
    cast.terms[2] = t3;
    if !run_until(&mut sim, 20, 500_000, |s| holds(s, s3, i, t1)) {
        return Ok(None);
    }
    let leader_commit = sim.node(s1).context("S1 is up")?.commit_index();
    if sim.node(s3).is_none_or(|n| n.last_log_index() != i) || leader_commit >= i {
        return Ok(None);
    }
    steps.push(Step {
        title: format!("(c) {n1} wins term {t3}; X reaches {n3}"),
        caption: vec![
            format!("X (term {t1}) is on {n1}, {n2}, {n3}: a majority,"),
            format!("but {n1} counts replicas only for entries of"),
            format!("term {t3}: commit index stays {leader_commit}"),
        ],
        nodes: views(&sim, &mut last, &cut),
        index: i,
    });
    // (d) S1 crashes, S2 is cut off; S5 restarts and wins with S3, S4.
    sim.isolate(s1);
    sim.crash(s1);
    sim.isolate(s2);
    sim.connect(s4);
    sim.connect(s5);
    sim.isolate(s1);
    sim.isolate(s2);
    sim.restart(s5);
    cut = BTreeSet::from([s2]);
    if !run_until(&mut sim, 50, 3_000_000, |s| {
        leader_among(s, &[s3, s4, s5], t3).is_some()
    }) {
        return Ok(None);
    }
    if leader_among(&sim, &[s3, s4, s5], t3) != Some(s5) {
        return Ok(None);
    }
    let t4 = sim.node(s5).context("S5 is up")?.term();
    cast.terms[3] = t4;
    let majority_holds_t2 = |s: &Sim<RaftNode>| [s3, s4, s5].iter().all(|&n| holds(s, n, i, t2));
    if !run_until(&mut sim, 20, 500_000, majority_holds_t2) {
        return Ok(None);
    }
    let leader_commit = sim.node(s5).context("S5 is up")?.commit_index();
    ensure!(
        leader_commit < i,
        "S5 committed index {i} before its own entry reached a majority"
    );
    steps.push(Step {
        title: format!("(d) {n5} wins term {t4}, overwrites X"),
        caption: vec![
            format!("{n3} and {n4} vote for {n5} (last term {t2} > {t1});"),
            format!("its term-{t2} entry replaces X on {n3}: a majority"),
            format!("again, and again not committed ({n5}: {leader_commit})"),
        ],
        nodes: views(&sim, &mut last, &cut),
        index: i,
    });
    // (e) S5's no-op of term t4 reaches a majority: both commit.
    if !run_until(&mut sim, 20, 500_000, |s| {
        s.node(s5).is_some_and(|n| n.commit_index() > i)
    }) {
        return Ok(None);
    }
    let leader_commit = sim.node(s5).context("S5 is up")?.commit_index();
    ensure!(
        sim.node(s5).and_then(|n| n.term_at(leader_commit)) == Some(t4),
        "S5 committed through an entry of an earlier term"
    );
    steps.push(Step {
        title: format!("(e) {n5}'s term-{t4} no-op commits"),
        caption: vec![
            format!("once its own no-op (index {}) is on a majority,", i + 1),
            format!("{n5} commits it, and index {i} (term {t2}) with it:"),
            format!("X is gone, and was never acknowledged"),
        ],
        nodes: views(&sim, &mut last, &cut),
        index: i,
    });
    sim.run_for(100_000);
    if let Some(v) = sim.violation() {
        bail!("Raft broke a rule in the Figure 8 run (seed {seed}): {v}");
    }
    Ok(Some((steps, cast)))
}

/// A term's colour.
fn term_color(term: Term) -> RGBColor {
    const COLORS: [RGBColor; 6] = [
        RGBColor(220, 220, 220),
        RGBColor(86, 180, 233),
        RGBColor(230, 159, 0),
        RGBColor(0, 158, 115),
        RGBColor(204, 121, 167),
        RGBColor(240, 228, 66),
    ];
    COLORS[term as usize % COLORS.len()]
}

fn figure8() -> Result<(String, Numbers)> {
    let mut found = None;
    for seed in FIGURE8_FIRST_SEED..=FIGURE8_LAST_SEED {
        if let Some(run) = figure8_run(seed)? {
            found = Some((seed, run));
            break;
        }
    }
    let (seed, (steps, cast)) = found.with_context(|| {
        format!("no seed in {FIGURE8_FIRST_SEED}..={FIGURE8_LAST_SEED} staged Figure 8")
    })?;
    let footer = format!(
        "Sim<RaftNode>, 5 nodes, RaftConfig {{ max_entries_per_append: 1, ..default }}, scripted partitions and crashes, RaftMonitor silent; seed {seed} (the first of {FIGURE8_FIRST_SEED}..={FIGURE8_LAST_SEED} whose elections fit the script) · {COMMAND}"
    );
    let columns = steps
        .iter()
        .flat_map(|s| s.nodes.iter().map(|n| n.terms.len()))
        .max()
        .unwrap_or(1);
    let svg = canvas((1200, 400), &footer, |area| {
        text(
            area,
            "Why may a Raft leader not commit an earlier term's entry by counting replicas? (the paper's Figure 8, run)",
            (600, 20),
            Font::new(17).centered(),
        )?;
        let panel_w = 236;
        let cell = 30;
        for (p, step) in steps.iter().enumerate() {
            let x0 = 8 + p as i32 * panel_w;
            draw_step(area, step, &cast, x0, 52, cell, columns)?;
        }
        // Legend: the terms that appear.
        let terms: BTreeSet<Term> = steps
            .iter()
            .flat_map(|s| s.nodes.iter().flat_map(|n| n.terms.iter().copied()))
            .collect();
        let mut x = 20;
        let y = 345;
        text(area, "entry terms:", (x, y), Font::new(13))?;
        x += 90;
        for t in terms {
            rect(
                area,
                (x, y - 9),
                (x + 18, y + 9),
                Some(term_color(t)),
                Some(RGBColor(80, 80, 80)),
            )?;
            text(area, &format!("term {t}"), (x + 24, y), Font::new(13))?;
            x += 90;
        }
        let x = x + 20;
        line(area, &[(x, y - 10), (x, y + 10)], RGBColor(0, 120, 0), 3)?;
        text(area, "leader's commit index", (x + 8, y), Font::new(13))?;
        let x = x + 8 + text_width("leader's commit index", 13) + 24;
        rect(
            area,
            (x, y - 9),
            (x + 18, y + 9),
            None,
            Some(RGBColor(190, 30, 30)),
        )?;
        rect(
            area,
            (x + 1, y - 8),
            (x + 17, y + 8),
            None,
            Some(RGBColor(190, 30, 30)),
        )?;
        text(area, "the index of X", (x + 24, y), Font::new(13))?;
        Ok(())
    })?;
    let [t1, t2, t3, t4] = cast.terms;
    let mut numbers = Numbers::default();
    numbers.quote("seed", seed);
    numbers.quote("terms", format!("{t1}, {t2}, {t3} and {t4}"));
    numbers.quote("s5_term", t4);
    Ok((svg, numbers))
}

/// Draws one step at (`x0`, `y0`).
fn draw_step(
    area: &Area<'_>,
    step: &Step,
    cast: &Cast,
    x0: i32,
    y0: i32,
    cell: i32,
    columns: usize,
) -> Result<()> {
    text(area, &step.title, (x0, y0), Font::new(13).bold())?;
    let left = x0 + 28;
    let top = y0 + 30;
    // Index header.
    for c in 0..columns {
        text(
            area,
            &(c + 1).to_string(),
            (left + c as i32 * cell + cell / 2, top - 8),
            Font::new(11).color(RGBColor(90, 90, 90)).centered(),
        )?;
    }
    let leader_commit = step.nodes.iter().find(|n| n.leader).map(|n| n.commit);
    for (row, &id) in cast.ids.iter().enumerate() {
        let view = &step.nodes[id];
        let y = top + row as i32 * (cell + 6);
        let down = view.status == "down";
        let name_color = if down {
            RGBColor(160, 160, 160)
        } else {
            RGBColor(0, 0, 0)
        };
        text(
            area,
            &cast.name(id),
            (x0, y + cell / 2),
            Font::new(13).bold().color(name_color),
        )?;
        for (c, &term) in view.terms.iter().enumerate() {
            let x = left + c as i32 * cell;
            let fill = if down {
                RGBColor(240, 240, 240)
            } else {
                term_color(term)
            };
            rect(
                area,
                (x, y),
                (x + cell - 2, y + cell - 2),
                Some(fill),
                Some(RGBColor(80, 80, 80)),
            )?;
            if c as u64 + 1 == step.index {
                rect(
                    area,
                    (x - 1, y - 1),
                    (x + cell - 1, y + cell - 1),
                    None,
                    Some(RGBColor(190, 30, 30)),
                )?;
                rect(
                    area,
                    (x - 2, y - 2),
                    (x + cell, y + cell),
                    None,
                    Some(RGBColor(190, 30, 30)),
                )?;
            }
            text(
                area,
                &term.to_string(),
                (x + cell / 2 - 1, y + cell / 2),
                Font::new(13)
                    .color(if down {
                        RGBColor(150, 150, 150)
                    } else {
                        RGBColor(0, 0, 0)
                    })
                    .centered(),
            )?;
        }
        let after = left + columns as i32 * cell + 4;
        let status = if view.leader {
            format!("leader t{}", view.term)
        } else {
            view.status.to_owned()
        };
        let color = if view.leader {
            RGBColor(0, 120, 0)
        } else {
            RGBColor(150, 150, 150)
        };
        let font = Font::new(11).color(color);
        text(
            area,
            &status,
            (after, y + cell / 2),
            if view.leader { font.bold() } else { font },
        )?;
    }
    if let Some(commit) = leader_commit {
        let x = left + commit as i32 * cell - 1;
        line(
            area,
            &[(x, top - 2), (x, top + 5 * (cell + 6) - 4)],
            RGBColor(0, 120, 0),
            3,
        )?;
    }
    let caption_top = top + 5 * (cell + 6) + 8;
    for (k, caption) in step.caption.iter().enumerate() {
        text(
            area,
            caption,
            (x0, caption_top + k as i32 * 16),
            Font::new(11).color(RGBColor(40, 40, 40)).top(),
        )?;
    }
    Ok(())
}
