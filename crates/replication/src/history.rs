//! Client histories: what clients asked for and what they were told, in
//! real-time order, and the operations per key they amount to.
//!
//! An [`Event`] is an invocation or a completion. As in Jepsen, a
//! completion is [`Kind::Ok`] (the operation took effect, and a read
//! returns its value), [`Kind::Fail`] (it certainly took no effect: a
//! compare-and-set whose expected value did not match is a `Fail`) or
//! [`Kind::Info`] (it may have taken effect at any moment after its
//! invocation, or never — a timeout). A process whose operation ended
//! `Info` invokes nothing more; a fresh process id stands in for it. An
//! invocation with no completion at the end of the history counts as
//! `Info`.

use std::collections::{BTreeMap, HashMap, HashSet};

/// The values registers hold.
pub type Value = i64;

/// What an operation does. On an invocation a read's value is ignored; on
/// its `Ok` completion it is the value read (`None`: the key was absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read the key.
    Read(Option<Value>),
    /// Write a value.
    Write(Value),
    /// Compare-and-set: `(expected, new)`.
    Cas(Value, Value),
}

// ANCHOR: kind
/// Whether an event starts an operation or ends it, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The client asked.
    Invoke,
    /// It took effect.
    Ok,
    /// It certainly took no effect.
    Fail,
    /// Unknown: it may have taken effect, at any moment after its
    /// invocation, or never.
    Info,
}
// ANCHOR_END: kind

/// One line of a history.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// The client process.
    pub process: u64,
    /// Invocation or completion.
    pub kind: Kind,
    /// The operation.
    pub op: Op,
    /// The key it acts on.
    pub key: String,
}

/// What an operation that may have taken effect did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// A read that returned this value.
    Read(Option<Value>),
    /// A write of this value.
    Write(Value),
    /// A compare-and-set that, if it took effect, found `expected`.
    Cas {
        /// The value it required.
        expected: Value,
        /// The value it wrote.
        new: Value,
    },
}

/// An operation of one key: when it was invoked and returned (positions in
/// the history), and its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    /// Position of its invocation event.
    pub call: usize,
    /// Position of its completion event; `None` for an indeterminate
    /// operation, which may take effect at any moment after `call`, or
    /// never.
    pub ret: Option<usize>,
    /// The process that ran it.
    pub process: u64,
    /// What it did.
    pub effect: Effect,
}

/// A history that does not describe clients running one operation at a
/// time each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// A process invoked while its previous operation was still running.
    #[error(
        "event {event}: process {process} invokes while its operation of event {pending} is still running"
    )]
    AlreadyRunning {
        /// Position of the offending event.
        event: usize,
        /// The process.
        process: u64,
        /// Position of the running operation's invocation.
        pending: usize,
    },
    /// A process invoked after one of its operations ended `Info`.
    #[error(
        "event {event}: process {process} invokes after an indeterminate (info) operation; use a fresh process id"
    )]
    AfterInfo {
        /// Position of the offending event.
        event: usize,
        /// The process.
        process: u64,
    },
    /// A completion with no running operation of its process.
    #[error("event {event}: process {process} completes an operation it never invoked")]
    NotInvoked {
        /// Position of the offending event.
        event: usize,
        /// The process.
        process: u64,
    },
    /// A completion whose function or key differs from its invocation's.
    #[error(
        "event {event}: process {process} completes a different operation from the one it invoked at event {call}"
    )]
    Mismatch {
        /// Position of the offending event.
        event: usize,
        /// The process.
        process: u64,
        /// Position of the invocation.
        call: usize,
    },
}

/// The operations of each key that may have taken effect: `Fail`ed ones are
/// dropped, and so are reads that did not return (they constrain nothing).
///
/// # Errors
///
/// A [`HistoryError`] naming the first event that breaks the rules of the
/// module docs.
pub fn operations(events: &[Event]) -> Result<BTreeMap<String, Vec<Operation>>, HistoryError> {
    let mut running: HashMap<u64, usize> = HashMap::new();
    let mut retired: HashSet<u64> = HashSet::new();
    let mut by_key: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    let mut push = |call: usize, ret: Option<usize>, effect: Option<Effect>| {
        if let Some(effect) = effect {
            let event: &Event = &events[call];
            by_key
                .entry(event.key.clone())
                .or_default()
                .push(Operation {
                    call,
                    ret,
                    process: event.process,
                    effect,
                });
        }
    };
    for (i, event) in events.iter().enumerate() {
        let process = event.process;
        if event.kind == Kind::Invoke {
            if let Some(&pending) = running.get(&process) {
                return Err(HistoryError::AlreadyRunning {
                    event: i,
                    process,
                    pending,
                });
            }
            if retired.contains(&process) {
                return Err(HistoryError::AfterInfo { event: i, process });
            }
            running.insert(process, i);
            continue;
        }
        let call = running
            .remove(&process)
            .ok_or(HistoryError::NotInvoked { event: i, process })?;
        let invoked = &events[call];
        let same = invoked.key == event.key
            && match (invoked.op, event.op) {
                (Op::Read(_), Op::Read(_)) => true,
                (a, b) => a == b,
            };
        if !same {
            return Err(HistoryError::Mismatch {
                event: i,
                process,
                call,
            });
        }
        match event.kind {
            Kind::Ok => push(call, Some(i), Some(effect(event.op))),
            Kind::Fail => {}
            Kind::Info => {
                retired.insert(process);
                let effect = match event.op {
                    Op::Read(_) => None,
                    op => Some(effect(op)),
                };
                push(call, None, effect);
            }
            Kind::Invoke => unreachable!("handled above"),
        }
    }
    // Invoked and never completed: indeterminate.
    let mut open: Vec<usize> = running.into_values().collect();
    open.sort_unstable();
    for call in open {
        let effect = match events[call].op {
            Op::Read(_) => None,
            op => Some(effect(op)),
        };
        push(call, None, effect);
    }
    for ops in by_key.values_mut() {
        ops.sort_by_key(|op| op.call);
    }
    Ok(by_key)
}

fn effect(op: Op) -> Effect {
    match op {
        Op::Read(value) => Effect::Read(value),
        Op::Write(value) => Effect::Write(value),
        Op::Cas(expected, new) => Effect::Cas { expected, new },
    }
}

/// A history file line that is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, and what was expected.
    pub reason: String,
}

/// Parses a history file: JSON lines, one event each, in real-time order:
/// `{"process": 3, "type": "invoke"|"ok"|"fail"|"info", "f":
/// "read"|"write"|"cas", "key": "k1", "value": …}`, where a read's value is
/// the value read (`null` for absent; ignored on invocations), a write's
/// the value written, and a cas's `[expected, new]`. Values may be any
/// JSON; each distinct value (as written) stands for one register value
/// (an integer for itself, anything else for a number of its own).
/// Blank lines are skipped.
///
/// # Errors
///
/// [`ParseError`] naming the first bad line.
pub fn parse_jsonl(text: &str) -> Result<Vec<Event>, ParseError> {
    let mut values: HashMap<String, Value> = HashMap::new();
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |reason: String| ParseError {
            line: line_no,
            reason,
        };
        let json: serde_json::Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let field = |name: &str| {
            json.get(name)
                .ok_or_else(|| bad(format!("missing \"{name}\"")))
        };
        let process = field("process")?
            .as_u64()
            .ok_or_else(|| bad("\"process\" must be a non-negative integer".into()))?;
        let kind = match field("type")?.as_str() {
            Some("invoke") => Kind::Invoke,
            Some("ok") => Kind::Ok,
            Some("fail") => Kind::Fail,
            Some("info") => Kind::Info,
            _ => return Err(bad("\"type\" must be invoke, ok, fail or info".into())),
        };
        let key = field("key")?
            .as_str()
            .ok_or_else(|| bad("\"key\" must be a string".into()))?
            .to_string();
        let null = serde_json::Value::Null;
        let value = json.get("value").unwrap_or(&null);
        // Integers stand for themselves (so verdicts print the file's
        // values); any other JSON value gets a number from i64::MIN up,
        // far from the integers histories use.
        let mut intern = |v: &serde_json::Value| -> Option<Value> {
            if v.is_null() {
                return None;
            }
            if let Some(i) = v.as_i64().filter(|&i| i > i64::MIN / 2) {
                return Some(i);
            }
            let next = i64::MIN + values.len() as Value;
            Some(*values.entry(v.to_string()).or_insert(next))
        };
        let op = match field("f")?.as_str() {
            Some("read") => Op::Read(if kind == Kind::Ok {
                intern(value)
            } else {
                None
            }),
            Some("write") => Op::Write(
                intern(value).ok_or_else(|| bad("a write needs a non-null \"value\"".into()))?,
            ),
            Some("cas") => {
                let pair = value.as_array().filter(|a| a.len() == 2);
                match pair.map(|a| (intern(&a[0]), intern(&a[1]))) {
                    Some((Some(expected), Some(new))) => Op::Cas(expected, new),
                    _ => {
                        return Err(bad(
                            "a cas's \"value\" must be [expected, new], neither null".into(),
                        ));
                    }
                }
            }
            _ => return Err(bad("\"f\" must be read, write or cas".into())),
        };
        events.push(Event {
            process,
            kind,
            op,
            key,
        });
    }
    Ok(events)
}

/// One line of a history file (the format [`parse_jsonl`] reads) for
/// `event`; `time_us`, when given, is added as a `"time_us"` field, which
/// readers of the format ignore.
pub fn to_json_line(event: &Event, time_us: Option<u64>) -> String {
    use serde_json::json;
    let kind = match event.kind {
        Kind::Invoke => "invoke",
        Kind::Ok => "ok",
        Kind::Fail => "fail",
        Kind::Info => "info",
    };
    let (f, value) = match event.op {
        Op::Read(v) => ("read", json!(v)),
        Op::Write(v) => ("write", json!(v)),
        Op::Cas(expected, new) => ("cas", json!([expected, new])),
    };
    let mut line = json!({
        "process": event.process,
        "type": kind,
        "f": f,
        "key": event.key,
        "value": value,
    });
    if let Some(t) = time_us {
        line["time_us"] = json!(t);
    }
    line.to_string()
}
