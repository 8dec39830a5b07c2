//! Each of Raft's teaching bugs (`RaftBugs`, feature `teaching-bugs`) is
//! caught: a scenario built to expose it trips the [`RaftMonitor`] (or the
//! lost-acknowledged-write checker) within a bounded number of seeds, and
//! the same scenario with the bug off passes on every seed tried.
//!
//! * `commit_previous_term_by_counting` — Figure 8 of the paper, staged
//!   with partitions and crashes: a leader commits an entry of an earlier
//!   term by counting replicas, a node that lacks it is then elected, and
//!   leader completeness fails.
//! * `forget_to_persist_vote` — a voter crashes right after voting and
//!   votes again in the same term: two leaders of one term (election
//!   safety).
//! * `ack_before_quorum` — a partitioned leader acknowledges a write no
//!   one else stores; the majority moves on and the acknowledged write is
//!   gone from the committed log.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

#![cfg(feature = "teaching-bugs")]

mod raft_common;

use raft_common::{Cluster, MS};
use replication::protocol::NodeId;
use replication::raft::{RaftBugs, RaftConfig, Term};

/// The most seeds a bug may take to be caught.
const SEEDS_MAX: u64 = 200;

/// Seeds the bug-free control runs (all must pass).
const CONTROL_SEEDS: u64 = 20;

fn config(bugs: RaftBugs) -> RaftConfig {
    RaftConfig {
        bugs,
        ..RaftConfig::default()
    }
}

/// Runs `scenario` (which reports whether it caught something) over seeds
/// until it does; returns the seed, and checks the control.
fn caught_within(
    name: &str,
    buggy: RaftBugs,
    scenario: impl Fn(u64, RaftBugs) -> Option<String>,
) -> u64 {
    for seed in 0..CONTROL_SEEDS {
        if let Some(why) = scenario(seed, RaftBugs::default()) {
            panic!("{name}: the bug-free control failed on seed {seed}: {why}");
        }
    }
    for seed in 0..SEEDS_MAX {
        if let Some(why) = scenario(seed, buggy) {
            eprintln!("{name}: caught on seed {seed}: {why}");
            return seed;
        }
    }
    panic!("{name}: not caught in {SEEDS_MAX} seeds");
}

/// A node of `ids` that leads a term above `term`.
fn leader_among(c: &Cluster, ids: &[NodeId], term: Term) -> Option<NodeId> {
    ids.iter()
        .copied()
        .find(|&i| c.node(i).is_some_and(|n| n.is_leader() && n.term() > term))
}

/// Figure 8, staged (nodes named as in the paper's figure):
///
/// 1. S1 leads; partitioned with S2 only, it logs X at index `i`.
/// 2. S3–S5 elect a leader ("S5"), which is isolated the moment it wins:
///    its no-op of a newer term sits at `i` on it alone. It crashes.
/// 3. S1, S2, S3 elect S1 or S2 (only they hold `i`); with one entry per
///    AppendEntries, S3 receives X before the new no-op. Once the leader
///    applies X it is isolated and crashed, and so is the other holder.
/// 4. S5 restarts beside S3 and S4. With the bug X counted as committed
///    when S3 stored it, and S5 — whose last entry has a newer term than
///    S3's — can win without X: leader completeness fails. Without the
///    bug X committed only with the no-op, which S3 then holds, so S5
///    cannot win.
fn figure8_scenario(seed: u64, bugs: RaftBugs) -> Option<String> {
    let config = RaftConfig {
        max_entries_per_append: 1,
        ..config(bugs)
    };
    let mut c = Cluster::new("figure8_scenario", seed, 5, config);
    let s1 = c.check_one_leader();
    let v = c.value();
    c.one(v, 5, true);
    let s2 = (s1 + 1) % 5;
    let rest: Vec<NodeId> = (2..5).map(|k| (s1 + k) % 5).collect();
    // 1.
    c.sim.partition(&[&[s1, s2], &rest]);
    c.start(s1, 1_000);
    let i = c.node(s1)?.last_log_index() + 1;
    // 2.
    let t1 = c.node(s1)?.term();
    if !c.run_until_quietly(50, 2_000 * MS, |c| leader_among(c, &rest, t1).is_some()) {
        return None;
    }
    let s5 = leader_among(&c, &rest, t1)?;
    let t2 = c.node(s5)?.term();
    c.sim.isolate(s5);
    c.crash(s5);
    // Its in-flight no-op must meet a closed link, not a healed one.
    c.run_quietly(20 * MS);
    let s4 = match rest
        .iter()
        .copied()
        .filter(|&n| n != s5)
        .collect::<Vec<_>>()[..]
    {
        [_, b] => b,
        _ => return None,
    };
    // 3.
    c.sim.heal();
    c.sim.isolate(s4);
    c.sim.isolate(s5);
    let holds_x = |c: &Cluster, n: NodeId| c.node(n).is_some_and(|n| n.last_log_index() >= i);
    if !holds_x(&c, s2) {
        return None;
    }
    let elected = c.run_until_quietly(50, 2_000 * MS, |c| leader_among(c, &[s1, s2], t2).is_some());
    let leader = leader_among(&c, &[s1, s2], t2).filter(|_| elected)?;
    let other = if leader == s1 { s2 } else { s1 };
    c.run_until_quietly(50, 500 * MS, |c| {
        c.node(leader).is_none_or(|n| n.commit_index() >= i)
    });
    c.sim.isolate(leader);
    c.crash(leader);
    c.sim.isolate(other);
    // 4.
    c.sim.connect(s4);
    c.sim.connect(s5);
    c.sim.isolate(leader);
    c.sim.isolate(other);
    c.restart(s5);
    c.run_quietly(2_000 * MS);
    c.sim.violation().map(str::to_owned)
}

#[test]
fn commit_previous_term_by_counting_is_caught() {
    let bugs = RaftBugs {
        commit_previous_term_by_counting: true,
        ..RaftBugs::default()
    };
    caught_within("commit_previous_term_by_counting", bugs, figure8_scenario);
}

/// The current leader C of a three-node cluster restarts (staying in its
/// term, as a follower) while the other two, A and B, cannot reach each
/// other: both time out into the same term and ask C. C votes for the
/// first; we then cut that candidate's link to C (so C learns of no
/// leader) and crash and restart C before the second candidate asks. A C
/// that forgot its vote votes again: two leaders in one term.
fn double_vote_scenario(seed: u64, bugs: RaftBugs) -> Option<String> {
    let mut c = Cluster::new("double_vote_scenario", seed, 3, config(bugs));
    let voter = c.check_one_leader();
    let v = c.value();
    c.one(v, 3, true);
    let (a, b) = ((voter + 1) % 3, (voter + 2) % 3);
    let term = c.node(voter)?.term();
    c.sim.block(a, b);
    c.sim.block(b, a);
    c.crash(voter);
    c.restart(voter);
    let voted = |c: &Cluster| {
        c.node(voter)
            .is_some_and(|n| n.term() > term && n.voted_for().is_some_and(|v| v != voter))
    };
    if !c.run_until_quietly(50, 2_000 * MS, voted) {
        return None;
    }
    let first = c.node(voter)?.voted_for()?;
    c.sim.block(first, voter);
    c.crash(voter);
    c.restart(voter);
    c.run_quietly(1_000 * MS);
    c.sim.violation().map(str::to_owned)
}

#[test]
fn forget_to_persist_vote_is_caught() {
    let bugs = RaftBugs {
        forget_to_persist_vote: true,
        ..RaftBugs::default()
    };
    caught_within("forget_to_persist_vote", bugs, double_vote_scenario);
}

/// A leader is cut off from its followers and a client writes to it; the
/// followers elect a new leader and commit other writes; the old leader
/// crashes and comes back, its entry overwritten. Acknowledging that
/// write before a majority stored it loses an acknowledged write.
fn lost_write_scenario(seed: u64, bugs: RaftBugs) -> Option<String> {
    let mut c = Cluster::new("lost_write_scenario", seed, 3, config(bugs));
    let old = c.check_one_leader();
    let v = c.value();
    c.one(v, 3, true);
    c.disconnect(old);
    c.start(old, 777);
    c.run_quietly(100 * MS);
    for _ in 0..3 {
        let v = c.value();
        c.one(v, 2, true);
    }
    c.crash(old);
    c.recover_all();
    if let Some(v) = c.sim.violation() {
        return Some(v.to_owned());
    }
    let lost = c.lost_acknowledged_writes();
    (!lost.is_empty()).then(|| format!("acknowledged writes lost: {lost:?}"))
}

#[test]
fn ack_before_quorum_is_caught() {
    let bugs = RaftBugs {
        ack_before_quorum: true,
        ..RaftBugs::default()
    };
    caught_within("ack_before_quorum", bugs, lost_write_scenario);
}
