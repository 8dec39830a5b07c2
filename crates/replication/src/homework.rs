//! Generated homework on linearizability, in the style of OSTEP's
//! homework simulators: a seed gives a fresh history of one register, and
//! the answer (an order that explains it, or why none exists) comes from
//! an exhaustive search, independent of the checker in
//! [`crate::linearizability`] (a test checks that the two agree).
//!
//! `sim homework --seed S` prints the problem; `--answer` adds the
//! solution.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::history::{Effect, Event, Kind, Op, Operation, Value, operations};

/// Client processes in a generated history.
pub const PROCESSES: u64 = 3;
/// Operations in a generated history.
pub const OPERATIONS: usize = 6;

/// One generated problem: a history of the register `x`.
#[derive(Debug, Clone)]
pub struct Homework {
    /// The seed it came from.
    pub seed: u64,
    /// The history, in real-time order.
    pub events: Vec<Event>,
}

/// The solution of a [`Homework`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Solution {
    /// The history is linearizable; the invocation positions of its
    /// operations in one valid order.
    Order(Vec<usize>),
    /// It is not; the longest prefix of an order that any search can reach
    /// (invocation positions), after which no remaining operation may go.
    Stuck(Vec<usize>),
}

impl Homework {
    /// The history for `seed`: [`PROCESSES`] clients run [`OPERATIONS`]
    /// writes of fresh values and reads, overlapping at random; each read
    /// returns a value some write had been asked for by then (or nothing),
    /// so some histories are linearizable and some are not.
    pub fn generate(seed: u64) -> Homework {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut events = Vec::new();
        let mut running: Vec<Option<Op>> = vec![None; PROCESSES as usize];
        let (mut invoked, mut next_value) = (0, 1);
        let mut written: Vec<Value> = Vec::new();
        loop {
            let choices: Vec<u64> = (0..PROCESSES)
                .filter(|&p| running[p as usize].is_some() || invoked < OPERATIONS)
                .collect();
            if choices.is_empty() {
                break;
            }
            let process = choices[rng.random_range(0..choices.len())];
            let key = "x".to_string();
            match running[process as usize].take() {
                None => {
                    let op = if rng.random_bool(0.5) {
                        let value = next_value;
                        next_value += 1;
                        written.push(value);
                        Op::Write(value)
                    } else {
                        Op::Read(None)
                    };
                    invoked += 1;
                    running[process as usize] = Some(op);
                    events.push(Event {
                        process,
                        kind: Kind::Invoke,
                        op,
                        key,
                    });
                }
                Some(Op::Read(_)) => {
                    let pick = rng.random_range(0..=written.len());
                    let value = written.get(pick).copied();
                    events.push(Event {
                        process,
                        kind: Kind::Ok,
                        op: Op::Read(value),
                        key,
                    });
                }
                Some(op) => events.push(Event {
                    process,
                    kind: Kind::Ok,
                    op,
                    key,
                }),
            }
        }
        Homework { seed, events }
    }

    /// The operations of the register.
    pub fn operations(&self) -> Vec<Operation> {
        operations(&self.events)
            .expect("generated histories are well formed")
            .remove("x")
            .unwrap_or_default()
    }

    /// The solution, by exhaustive search over the orders that respect
    /// real time.
    pub fn solve(&self) -> Solution {
        let ops = self.operations();
        let mut placed = vec![false; ops.len()];
        let mut order = Vec::new();
        let mut longest = Vec::new();
        if search(&ops, &mut placed, &mut order, None, &mut longest) {
            Solution::Order(order.iter().map(|&i| ops[i].call).collect())
        } else {
            Solution::Stuck(longest.iter().map(|&i| ops[i].call).collect())
        }
    }

    /// The problem, as printed by `sim homework`.
    pub fn problem(&self) -> String {
        format!(
            "Linearizability homework, seed {seed}\n\n\
             Three clients share one register x, which starts empty (a read of it returns nil).\n\
             Time runs down the page; `w(3) …` is a call to write 3, `… ok` its reply, `r() …` a read\n\
             and `… 3` the value it returned. Between a call and its reply the operation may take\n\
             effect at any one moment.\n\n{timeline}\n\
             1. Is this history linearizable?\n\
             2. If it is, give an order of the six operations that explains every read. If it is not,\n\
             \x20  name the operations that cannot all be explained together, and say why.\n\n\
             Check your work: the same command with --answer.\n",
            seed = self.seed,
            timeline = self.timeline(),
        )
    }

    /// The solution, in words.
    pub fn answer(&self) -> String {
        let ops = self.operations();
        let name = |call: usize| {
            let op = ops.iter().find(|o| o.call == call).expect("an operation");
            describe(op)
        };
        match self.solve() {
            Solution::Order(order) => format!(
                "Answer: linearizable. One order that explains every read:\n  {}\n",
                order
                    .iter()
                    .map(|&c| name(c))
                    .collect::<Vec<_>>()
                    .join(", then ")
            ),
            Solution::Stuck(prefix) => {
                let reached = if prefix.is_empty() {
                    "no operation can even go first".to_string()
                } else {
                    format!(
                        "the furthest any order gets is\n  {}\nand then no remaining operation may go next",
                        prefix
                            .iter()
                            .map(|&c| name(c))
                            .collect::<Vec<_>>()
                            .join(", then ")
                    )
                };
                format!(
                    "Answer: not linearizable. Every order that respects real time fails: {reached}\n\
                     (a read would return a value the register does not hold, or an operation would\n\
                     have to go before one that finished before it started).\n"
                )
            }
        }
    }

    /// One row per event, one column per process.
    fn timeline(&self) -> String {
        let width = 12;
        let mut out = String::from("  t  ");
        for p in 0..PROCESSES {
            out.push_str(&format!("{:<width$}", format!("client {p}")));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
        let mut active = [false; PROCESSES as usize];
        for (t, event) in self.events.iter().enumerate() {
            out.push_str(&format!("{t:>3}  "));
            for p in 0..PROCESSES {
                let cell = if event.process == p {
                    match (event.kind, event.op) {
                        (Kind::Invoke, Op::Write(v)) => format!("w({v}) …"),
                        (Kind::Invoke, _) => "r() …".to_string(),
                        (_, Op::Read(Some(v))) => format!("… {v}"),
                        (_, Op::Read(None)) => "… nil".to_string(),
                        _ => "… ok".to_string(),
                    }
                } else if active[p as usize] {
                    "│".to_string()
                } else {
                    String::new()
                };
                out.push_str(&format!("{cell:<width$}"));
            }
            active[event.process as usize] = event.kind == Kind::Invoke;
            out.truncate(out.trim_end().len());
            out.push('\n');
        }
        out
    }
}

fn describe(op: &Operation) -> String {
    match op.effect {
        Effect::Write(v) => format!("client {} w({v})", op.process),
        Effect::Read(Some(v)) => format!("client {} r() → {v}", op.process),
        Effect::Read(None) => format!("client {} r() → nil", op.process),
        Effect::Cas { expected, new } => format!("client {} cas({expected}, {new})", op.process),
    }
}

/// Depth-first search over the orders that respect real time; `longest`
/// keeps the longest prefix reached.
fn search(
    ops: &[Operation],
    placed: &mut [bool],
    order: &mut Vec<usize>,
    value: Option<Value>,
    longest: &mut Vec<usize>,
) -> bool {
    if order.len() > longest.len() {
        longest.clone_from(order);
    }
    if order.len() == ops.len() {
        return true;
    }
    // An operation may go next only if no unplaced one finished before it started.
    let first_return = (0..ops.len())
        .filter(|&i| !placed[i])
        .filter_map(|i| ops[i].ret)
        .min()
        .unwrap_or(usize::MAX);
    for i in 0..ops.len() {
        if placed[i] || ops[i].call > first_return {
            continue;
        }
        let next = match ops[i].effect {
            Effect::Read(read) if read == value => value,
            Effect::Read(_) => continue,
            Effect::Write(v) => Some(v),
            Effect::Cas { expected, new } if value == Some(expected) => Some(new),
            Effect::Cas { .. } => continue,
        };
        placed[i] = true;
        order.push(i);
        if search(ops, placed, order, next, longest) {
            return true;
        }
        order.pop();
        placed[i] = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::{Budget, Verdict, check};

    #[test]
    fn the_same_seed_gives_the_same_problem() {
        assert_eq!(
            Homework::generate(5).problem(),
            Homework::generate(5).problem()
        );
        assert_ne!(
            Homework::generate(5).problem(),
            Homework::generate(6).problem()
        );
    }

    #[test]
    fn the_answer_agrees_with_the_checker_and_both_verdicts_occur() {
        let (mut yes, mut no) = (0, 0);
        for seed in 0..200 {
            let homework = Homework::generate(seed);
            assert_eq!(homework.operations().len(), OPERATIONS, "seed {seed}");
            let verdict = check(&homework.events, Budget::default()).unwrap();
            match homework.solve() {
                Solution::Order(_) => {
                    yes += 1;
                    assert_eq!(verdict, Verdict::Linearizable, "seed {seed}");
                }
                Solution::Stuck(_) => {
                    no += 1;
                    assert!(
                        matches!(verdict, Verdict::NotLinearizable { .. }),
                        "seed {seed}"
                    );
                }
            }
        }
        assert!(yes >= 20 && no >= 20, "{yes} linearizable, {no} not");
    }
}
