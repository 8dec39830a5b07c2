//! The store's commands: parsed from a client's RESP arguments (Redis 8's
//! vector-set syntax), carried through Raft's log, and answered with a
//! [`Reply`].
//!
//! Parsing checks everything that does not depend on the store's contents
//! (syntax, numbers, finite components, a JSON attribute text, a FILTER
//! expression), so a malformed request never reaches the log. What does
//! depend on the contents (a vector of another dimension than its set's)
//! is checked when the command applies, which then answers an error and
//! changes nothing.
//!
//! Supported, as Redis documents them (<https://redis.io/docs/latest/develop/data-types/vector-sets/>):
//!
//! ```text
//! VADD key (FP32 blob | VALUES n v1 … vn) element [CAS] [NOQUANT | Q8 | BIN]
//!      [EF build-ef] [SETATTR json] [M links] [MODEL name]
//! VSIM key (ELE element | FP32 blob | VALUES n v1 … vn) [WITHSCORES] [WITHATTRIBS]
//!      [COUNT n] [EPSILON d] [EF search-ef] [FILTER expr] [FILTER-EF n] [TRUTH] [NOTHREAD]
//! VREM key element          VCARD key          VDIM key          VINFO key
//! VEMB key element          VGETATTR key element                 VSETATTR key element json
//! ```
//!
//! Replies are RESP2 until a connection sends `HELLO 3`, then RESP3, as
//! Redis 8 does: `VSIM … WITHSCORES`/`WITHATTRIBS` and `VINFO` answer
//! maps, scores and `VEMB`'s components doubles, a missing value null
//! ([`Protocol`]).
//!
//! Differences from Redis, each deliberate: vectors are always kept as
//! `f32` (`Q8` and `BIN` are accepted and change nothing; `VINFO` says
//! `f32`), so `VEMB` returns exactly the vector added; `REDUCE` (random
//! projection) and `VEMB … RAW` are refused with an error that says so;
//! `CAS` and `NOTHREAD` are accepted and change nothing (every write is
//! applied in log order anyway); `FILTER-EF` is accepted and ignored,
//! since filtering happens during the search (see [`crate::state`]).
//! `MODEL name` is this store's extension: the embedding model a vector
//! came from, fixed per set (`vecstore import` sends it).

use std::hash::{Hash, Hasher};

use crate::filter::Filter;

/// A vector whose components are all finite, compared and hashed by their
/// bits (so it can sit in a Raft log entry, which must be `Eq + Hash`).
#[derive(Debug, Clone, PartialEq)]
pub struct Vector(Vec<f32>);

impl Vector {
    /// `components` if all are finite and there is at least one.
    ///
    /// # Errors
    ///
    /// An error reply naming the first bad component.
    pub fn new(components: Vec<f32>) -> Result<Vector, Reply> {
        if components.is_empty() {
            return Err(Reply::error("ERR a vector needs at least one component"));
        }
        if let Some(i) = components.iter().position(|c| !c.is_finite()) {
            return Err(Reply::error(format!(
                "ERR invalid vector: component {i} is {}, not a finite number",
                components[i]
            )));
        }
        Ok(Vector(components))
    }

    /// The components.
    pub fn components(&self) -> &[f32] {
        &self.0
    }
}

impl Eq for Vector {}

impl Hash for Vector {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in &self.0 {
            c.to_bits().hash(state);
        }
    }
}

/// What a similarity search starts from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Query {
    /// The vector of an element of the set (`ELE name`).
    Element(Vec<u8>),
    /// A vector (`FP32 blob` or `VALUES n …`).
    Vector(Vector),
}

/// `VSIM`'s options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Search {
    /// What to find neighbours of.
    pub query: Query,
    /// At most this many results (`COUNT`, default 10).
    pub count: usize,
    /// The search's candidate list (`EF`; default the larger of 100 and
    /// `count`).
    pub ef: Option<usize>,
    /// Only elements whose similarity is at least `1 - epsilon`
    /// (`EPSILON`), as the bits of an `f64`.
    pub epsilon_bits: Option<u64>,
    /// The `FILTER` expression's text (parsed and checked already).
    pub filter: Option<String>,
    /// `WITHSCORES`.
    pub with_scores: bool,
    /// `WITHATTRIBS`.
    pub with_attributes: bool,
    /// `TRUTH`: an exact scan instead of the index.
    pub truth: bool,
}

/// One command of the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `VADD`: add `element` with `vector` (or replace its vector).
    Add {
        /// The set.
        key: Vec<u8>,
        /// The element's name.
        element: Vec<u8>,
        /// Its vector.
        vector: Vector,
        /// `SETATTR`: its attributes as JSON text.
        attributes: Option<String>,
        /// `M`: links per node, for a set this command creates.
        m: Option<usize>,
        /// `EF`: the construction candidate list, for a set this command
        /// creates.
        ef_construction: Option<usize>,
        /// `MODEL name` (an extension of Redis's syntax): the embedding
        /// model the vector came from. A set remembers the model of the
        /// add that created it and refuses a vector from another.
        model: Option<String>,
    },
    /// `VREM`: remove `element`.
    Remove {
        /// The set.
        key: Vec<u8>,
        /// The element's name.
        element: Vec<u8>,
    },
    /// `VSETATTR`: replace `element`'s attributes (empty text: none).
    SetAttributes {
        /// The set.
        key: Vec<u8>,
        /// The element's name.
        element: Vec<u8>,
        /// JSON text, or empty.
        attributes: String,
    },
    /// `VSIM`.
    Similar {
        /// The set.
        key: Vec<u8>,
        /// The options.
        search: Search,
    },
    /// `VCARD`: how many elements.
    Card {
        /// The set.
        key: Vec<u8>,
    },
    /// `VDIM`: the set's dimension.
    Dim {
        /// The set.
        key: Vec<u8>,
    },
    /// `VEMB`: an element's vector.
    Embedding {
        /// The set.
        key: Vec<u8>,
        /// The element's name.
        element: Vec<u8>,
    },
    /// `VGETATTR`: an element's attributes.
    GetAttributes {
        /// The set.
        key: Vec<u8>,
        /// The element's name.
        element: Vec<u8>,
    },
    /// `VINFO`: the set's parameters and size.
    Info {
        /// The set.
        key: Vec<u8>,
    },
}

impl Command {
    /// Whether the command only reads (served by ReadIndex, never logged).
    pub fn is_read(&self) -> bool {
        !matches!(
            self,
            Command::Add { .. } | Command::Remove { .. } | Command::SetAttributes { .. }
        )
    }
}

/// The protocol a connection speaks: RESP2 until `HELLO 3` asks for RESP3
/// (as Redis does). A [`Reply`] is the same in both; only its bytes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2: maps are flat arrays, doubles bulk strings, nulls `$-1` and
    /// `*-1`.
    #[default]
    Resp2,
    /// RESP3: maps `%`, doubles `,`, null `_`.
    Resp3,
}

/// A reply, before it is RESP bytes ([`Reply::encode_as`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK` and other status lines.
    Simple(String),
    /// `-ERR …`.
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$n …`, or the null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `*n …`, or the null array.
    Array(Option<Vec<Reply>>),
    /// A double: a bulk string in RESP2 (as Redis prints scores), `,x` in
    /// RESP3.
    Double(f64),
    /// A map whose keys each have one or more values: in RESP2 a flat array
    /// of each key followed by its values (`VSIM … WITHSCORES WITHATTRIBS`
    /// gives name, score, attributes); in RESP3 `%n` with each key's value,
    /// or an array of its values if it has several (as Redis answers).
    Map(Vec<(Reply, Vec<Reply>)>),
}

impl Reply {
    /// An error reply; `text` starts with its code (`ERR`, `WRONGTYPE`, …).
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    /// A bulk string of `text`.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply::Bulk(Some(text.into().into_bytes()))
    }

    /// A double ([`Reply::Double`]).
    pub fn double(value: f64) -> Reply {
        Reply::Double(value)
    }

    /// Appends the reply's RESP2 bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_as(Protocol::Resp2, out);
    }

    /// Appends the reply's bytes in `protocol` to `out`.
    pub fn encode_as(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Simple(text) => kv::resp::simple(out, text),
            Reply::Error(text) => kv::resp::error_reply(out, text),
            Reply::Integer(n) => kv::resp::integer(out, *n),
            Reply::Bulk(None) | Reply::Array(None) if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Bulk(data) => kv::resp::bulk(out, data.as_deref()),
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                kv::resp::array(out, items.len());
                for item in items {
                    item.encode_as(protocol, out);
                }
            }
            Reply::Double(value) if resp3 => {
                let text = match value {
                    v if v.is_nan() => "nan".to_string(),
                    v if v.is_infinite() => (if *v > 0.0 { "inf" } else { "-inf" }).to_string(),
                    v => format_double(*v),
                };
                out.extend_from_slice(format!(",{text}\r\n").as_bytes());
            }
            Reply::Double(value) => kv::resp::bulk(out, Some(format_double(*value).as_bytes())),
            Reply::Map(entries) if resp3 => {
                out.extend_from_slice(format!("%{}\r\n", entries.len()).as_bytes());
                for (key, values) in entries {
                    key.encode_as(protocol, out);
                    match values.as_slice() {
                        [value] => value.encode_as(protocol, out),
                        values => {
                            kv::resp::array(out, values.len());
                            for value in values {
                                value.encode_as(protocol, out);
                            }
                        }
                    }
                }
            }
            Reply::Map(entries) => {
                let len = entries.iter().map(|(_, values)| 1 + values.len()).sum();
                kv::resp::array(out, len);
                for (key, values) in entries {
                    key.encode_as(protocol, out);
                    for value in values {
                        value.encode_as(protocol, out);
                    }
                }
            }
        }
    }
}

/// The shortest text that reads back as the same `f64` (Rust's `Display`),
/// as Redis prints scores with `%.17g`-like round trips.
fn format_double(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// The most components a vector may have (Redis has no smaller limit that
/// clients rely on; this keeps one request's allocation bounded).
pub const DIMENSION_MAX: usize = 65_536;
/// The largest `COUNT` and `EF` accepted.
pub const COUNT_MAX: usize = 1_000_000;
/// The largest `M` accepted (the index's degree cap is `2 M`).
pub const M_MAX: usize = hnsw::DEGREE_MAX / 2;

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

fn wrong_args(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

fn syntax() -> Reply {
    Reply::error("ERR syntax error")
}

fn integer(arg: &[u8], what: &str, min: usize, max: usize) -> Result<usize, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Reply::error(format!(
                "ERR invalid {what}: '{}' is not an integer from {min} to {max}",
                String::from_utf8_lossy(arg)
            ))
        })
}

fn float(arg: &[u8], what: &str) -> Result<f64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .ok_or_else(|| {
            Reply::error(format!(
                "ERR invalid {what}: '{}' is not a number",
                String::from_utf8_lossy(arg)
            ))
        })
}

/// Reads `FP32 blob` or `VALUES n v…` at `args[at]`; returns the vector
/// and the position after it.
fn vector_at(args: &[Vec<u8>], at: usize) -> Result<(Vector, usize), Reply> {
    let kind = args.get(at).map(|a| upper(a)).ok_or_else(syntax)?;
    match kind.as_str() {
        "FP32" => {
            let blob = args.get(at + 1).ok_or_else(syntax)?;
            if blob.is_empty() || blob.len() % 4 != 0 || blob.len() / 4 > DIMENSION_MAX {
                return Err(Reply::error(format!(
                    "ERR invalid FP32 blob: {} bytes is not a multiple of 4 from 4 to {}",
                    blob.len(),
                    4 * DIMENSION_MAX
                )));
            }
            let components = blob
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((Vector::new(components)?, at + 2))
        }
        "VALUES" => {
            let n = integer(
                args.get(at + 1).ok_or_else(syntax)?,
                "VALUES count",
                1,
                DIMENSION_MAX,
            )?;
            let values = args.get(at + 2..at + 2 + n).ok_or_else(|| {
                Reply::error(format!(
                    "ERR VALUES {n} needs {n} numbers, {} given",
                    args.len().saturating_sub(at + 2)
                ))
            })?;
            let components = values
                .iter()
                .map(|v| float(v, "vector component").map(|x| x as f32))
                .collect::<Result<Vec<f32>, Reply>>()?;
            Ok((Vector::new(components)?, at + 2 + n))
        }
        _ => Err(Reply::error(
            "ERR expected FP32 or VALUES before the vector",
        )),
    }
}

/// Checks that `text` is JSON (Redis stores any JSON text as attributes).
fn json(text: &[u8]) -> Result<String, Reply> {
    let text = std::str::from_utf8(text)
        .map_err(|_| Reply::error("ERR invalid JSON attributes: not UTF-8"))?;
    serde_json::from_str::<serde_json::Value>(text)
        .map_err(|e| Reply::error(format!("ERR invalid JSON attributes: {e}")))?;
    Ok(text.to_string())
}

/// What a request is, once its arguments are read.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A store command (through Raft).
    Store(Command),
    /// Answered by the server itself, whoever leads (`PING`, `COMMAND`, …).
    Local(Local),
}

/// Commands the server answers without the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Local {
    /// `PING [message]`.
    Ping(Option<Vec<u8>>),
    /// `CLIENT …` (`SETINFO`, `SETNAME`: answered OK).
    Client,
    /// `COMMAND …` (an empty array: redis-cli asks on connect).
    Command,
    /// `ROLE`.
    Role,
    /// `ECHO message`.
    Echo(Vec<u8>),
    /// `HELLO [protover [SETNAME name]]`: switch protocol (2 or 3) and
    /// describe the server.
    Hello(Option<Protocol>),
}

/// `HELLO [protover [AUTH user password] [SETNAME name]]`: there is no
/// password to check, so `AUTH` is refused; `SETNAME` is accepted.
fn parse_hello(args: &[Vec<u8>]) -> Result<Local, Reply> {
    let Some(version) = args.get(1) else {
        return Ok(Local::Hello(None));
    };
    let protocol = match version.as_slice() {
        b"2" => Protocol::Resp2,
        b"3" => Protocol::Resp3,
        _ => return Err(Reply::error("NOPROTO unsupported protocol version")),
    };
    let mut at = 2;
    while at < args.len() {
        match upper(&args[at]).as_str() {
            "SETNAME" if at + 1 < args.len() => at += 2,
            "AUTH" => {
                return Err(Reply::error(
                    "ERR AUTH is not supported: vecstore has no passwords (bind it to a trusted address)",
                ));
            }
            _ => return Err(syntax()),
        }
    }
    Ok(Local::Hello(Some(protocol)))
}

/// Parses one request's arguments (the command name first).
///
/// # Errors
///
/// A Redis-style error reply for an unknown command, a wrong number of
/// arguments, a malformed number, vector, JSON text or FILTER expression.
pub fn parse(args: &[Vec<u8>]) -> Result<Parsed, Reply> {
    let Some(name) = args.first() else {
        return Err(Reply::error("ERR empty request"));
    };
    let name = upper(name);
    let store = |c| Ok(Parsed::Store(c));
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(wrong_args(&name))
        }
    };
    match name.as_str() {
        "PING" => match args.len() {
            1 => Ok(Parsed::Local(Local::Ping(None))),
            2 => Ok(Parsed::Local(Local::Ping(Some(args[1].clone())))),
            _ => Err(wrong_args(&name)),
        },
        "ECHO" => {
            arity(2)?;
            Ok(Parsed::Local(Local::Echo(args[1].clone())))
        }
        "CLIENT" => Ok(Parsed::Local(Local::Client)),
        "HELLO" => parse_hello(args).map(Parsed::Local),
        "COMMAND" => Ok(Parsed::Local(Local::Command)),
        "ROLE" => {
            arity(1)?;
            Ok(Parsed::Local(Local::Role))
        }
        "VADD" => parse_vadd(args).map(Parsed::Store),
        "VSIM" => parse_vsim(args).map(Parsed::Store),
        "VREM" => {
            arity(3)?;
            store(Command::Remove {
                key: args[1].clone(),
                element: args[2].clone(),
            })
        }
        "VSETATTR" => {
            arity(4)?;
            let attributes = if args[3].is_empty() {
                String::new()
            } else {
                json(&args[3])?
            };
            store(Command::SetAttributes {
                key: args[1].clone(),
                element: args[2].clone(),
                attributes,
            })
        }
        "VCARD" | "VDIM" | "VINFO" => {
            arity(2)?;
            let key = args[1].clone();
            store(match name.as_str() {
                "VCARD" => Command::Card { key },
                "VDIM" => Command::Dim { key },
                _ => Command::Info { key },
            })
        }
        "VEMB" => {
            if args.len() == 4 && upper(&args[3]) == "RAW" {
                return Err(Reply::error(
                    "ERR VEMB RAW is not supported: vectors are kept as f32, VEMB returns them exactly",
                ));
            }
            arity(3)?;
            store(Command::Embedding {
                key: args[1].clone(),
                element: args[2].clone(),
            })
        }
        "VGETATTR" => {
            arity(3)?;
            store(Command::GetAttributes {
                key: args[1].clone(),
                element: args[2].clone(),
            })
        }
        _ => Err(Reply::error(format!(
            "ERR unknown command '{}', with args beginning with: {}",
            String::from_utf8_lossy(&args[0]),
            args[1..]
                .iter()
                .take(3)
                .map(|a| format!("'{}' ", String::from_utf8_lossy(a)))
                .collect::<String>()
        ))),
    }
}

fn parse_vadd(args: &[Vec<u8>]) -> Result<Command, Reply> {
    if args.len() < 4 {
        return Err(wrong_args("VADD"));
    }
    let key = args[1].clone();
    if upper(&args[2]) == "REDUCE" {
        return Err(Reply::error(
            "ERR REDUCE is not supported: add vectors of the set's full dimension",
        ));
    }
    let (vector, at) = vector_at(args, 2)?;
    let element = args.get(at).ok_or_else(syntax)?.clone();
    let (mut attributes, mut m, mut ef_construction, mut model) = (None, None, None, None);
    let mut i = at + 1;
    while i < args.len() {
        let option = upper(&args[i]);
        let value = args.get(i + 1);
        match option.as_str() {
            "CAS" | "NOQUANT" | "Q8" | "BIN" => i += 1,
            "SETATTR" => {
                attributes = Some(json(value.ok_or_else(syntax)?)?);
                i += 2;
            }
            "M" => {
                m = Some(integer(value.ok_or_else(syntax)?, "M", 2, M_MAX)?);
                i += 2;
            }
            "EF" => {
                ef_construction = Some(integer(value.ok_or_else(syntax)?, "EF", 1, COUNT_MAX)?);
                i += 2;
            }
            "MODEL" => {
                let name = value.ok_or_else(syntax)?;
                let name = std::str::from_utf8(name)
                    .ok()
                    .filter(|n| !n.is_empty() && n.len() <= 256)
                    .ok_or_else(|| {
                        Reply::error("ERR MODEL needs a UTF-8 name of 1 to 256 bytes")
                    })?;
                model = Some(name.to_string());
                i += 2;
            }
            _ => return Err(syntax()),
        }
    }
    Ok(Command::Add {
        key,
        element,
        vector,
        attributes,
        m,
        ef_construction,
        model,
    })
}

fn parse_vsim(args: &[Vec<u8>]) -> Result<Command, Reply> {
    if args.len() < 4 {
        return Err(wrong_args("VSIM"));
    }
    let key = args[1].clone();
    let (query, mut i) = if upper(&args[2]) == "ELE" {
        (Query::Element(args[3].clone()), 4)
    } else {
        let (vector, at) = vector_at(args, 2)?;
        (Query::Vector(vector), at)
    };
    let mut search = Search {
        query,
        count: 10,
        ef: None,
        epsilon_bits: None,
        filter: None,
        with_scores: false,
        with_attributes: false,
        truth: false,
    };
    while i < args.len() {
        let option = upper(&args[i]);
        let value = args.get(i + 1);
        match option.as_str() {
            "WITHSCORES" => search.with_scores = true,
            "WITHATTRIBS" => search.with_attributes = true,
            "TRUTH" => search.truth = true,
            "NOTHREAD" => {}
            "COUNT" => {
                search.count = integer(value.ok_or_else(syntax)?, "COUNT", 1, COUNT_MAX)?;
                i += 1;
            }
            "EF" => {
                search.ef = Some(integer(value.ok_or_else(syntax)?, "EF", 1, COUNT_MAX)?);
                i += 1;
            }
            "FILTER-EF" => {
                integer(value.ok_or_else(syntax)?, "FILTER-EF", 0, usize::MAX)?;
                i += 1;
            }
            "EPSILON" => {
                let epsilon = float(value.ok_or_else(syntax)?, "EPSILON")?;
                if !(0.0..=1.0).contains(&epsilon) {
                    return Err(Reply::error("ERR EPSILON must be between 0 and 1"));
                }
                search.epsilon_bits = Some(epsilon.to_bits());
                i += 1;
            }
            "FILTER" => {
                let text = value.ok_or_else(syntax)?;
                let text = std::str::from_utf8(text)
                    .map_err(|_| Reply::error("ERR FILTER expression is not UTF-8"))?;
                Filter::parse(text)
                    .map_err(|e| Reply::error(format!("ERR syntax error in FILTER: {e}")))?;
                search.filter = Some(text.to_string());
                i += 1;
            }
            _ => return Err(syntax()),
        }
        i += 1;
    }
    Ok(Command::Similar { key, search })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<Vec<u8>> {
        text.split_whitespace()
            .map(|a| a.as_bytes().to_vec())
            .collect()
    }

    fn store(text: &str) -> Command {
        match parse(&args(text)) {
            Ok(Parsed::Store(c)) => c,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn refused(text: &str) -> String {
        match parse(&args(text)) {
            Err(Reply::Error(e)) => e,
            other => panic!("{text} was accepted: {other:?}"),
        }
    }

    #[test]
    fn vadd_reads_values_and_options() {
        let c = store("VADD users VALUES 3 1 0.5 -2 alice SETATTR {\"age\":31} M 8 EF 50 CAS Q8");
        assert_eq!(
            c,
            Command::Add {
                key: b"users".to_vec(),
                element: b"alice".to_vec(),
                vector: Vector::new(vec![1.0, 0.5, -2.0]).unwrap(),
                attributes: Some("{\"age\":31}".into()),
                m: Some(8),
                ef_construction: Some(50),
                model: None,
            }
        );
        assert!(!c.is_read());
    }

    #[test]
    fn vadd_reads_an_fp32_blob() {
        let blob: Vec<u8> = [1.0f32, -1.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let request = vec![
            b"VADD".to_vec(),
            b"k".to_vec(),
            b"FP32".to_vec(),
            blob,
            b"e".to_vec(),
        ];
        let Ok(Parsed::Store(Command::Add { vector, .. })) = parse(&request) else {
            panic!("not parsed");
        };
        assert_eq!(vector.components(), [1.0, -1.0]);
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        assert!(refused("VADD k VALUES 2 1 e").contains("ERR"));
        assert!(refused("VADD k VALUES 2 1 nan e").contains("not a finite number"));
        assert!(refused("VADD k VALUES 2 1 x e").contains("not a number"));
        assert!(refused("VADD k VALUES 0 e").contains("VALUES count"));
        assert!(refused("VADD k VALUES 1 1 e SETATTR {bad").contains("invalid JSON"));
        assert!(refused("VADD k VALUES 1 1 e M 1").contains("invalid M"));
        assert!(refused("VADD k REDUCE 2 VALUES 1 1 e").contains("REDUCE"));
        assert!(refused("VADD k VALUES 1 1 e BOGUS").contains("syntax"));
        assert!(refused("VSIM k ELE e COUNT 0").contains("COUNT"));
        assert!(refused("VSIM k ELE e FILTER .a>").contains("FILTER"));
        assert!(refused("VCARD").contains("wrong number of arguments"));
        assert!(refused("FLUSHALL").contains("unknown command"));
        let blob = vec![
            b"VADD".to_vec(),
            b"k".to_vec(),
            b"FP32".to_vec(),
            vec![0; 6],
            b"e".to_vec(),
        ];
        assert!(matches!(parse(&blob), Err(Reply::Error(e)) if e.contains("multiple of 4")));
    }

    #[test]
    fn vsim_reads_its_options() {
        let c = store("VSIM k VALUES 2 1 0 WITHSCORES COUNT 3 EF 40 FILTER .age>30 TRUTH");
        let Command::Similar { search, .. } = c else {
            panic!()
        };
        assert!(search.with_scores && search.truth && !search.with_attributes);
        assert_eq!((search.count, search.ef), (3, Some(40)));
        assert_eq!(search.filter.as_deref(), Some(".age>30"));
        assert!(store("VSIM k ELE e").is_read());
    }

    #[test]
    fn replies_encode_as_resp2() {
        let mut out = Vec::new();
        Reply::Array(Some(vec![
            Reply::text("a"),
            Reply::double(0.5),
            Reply::Integer(3),
            Reply::Bulk(None),
        ]))
        .encode(&mut out);
        assert_eq!(out, b"*4\r\n$1\r\na\r\n$3\r\n0.5\r\n:3\r\n$-1\r\n");
    }
}
