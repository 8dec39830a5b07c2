//! `vecstore import`: embed a JSON Lines file's texts through an
//! Ollama-compatible endpoint and add them, with their attributes, to a
//! set of a running server.
//!
//! # Input
//!
//! One JSON object per line (JSON Lines, UTF-8):
//!
//! ```text
//! {"name": "alice", "text": "Alice hikes and plays chess", "attributes": {"age": 31}}
//! {"name": "bob", "text": "Bob collects vinyl records"}
//! ```
//!
//! - `name` (a non-empty string): the element's name in the set.
//! - `text` (a non-empty string): what is embedded.
//! - `attributes` (a JSON object, optional; `null` means none): stored
//!   with the element (`SETATTR`), for `VGETATTR` and `VSIM … FILTER`.
//!   It is stored re-serialised (compact, keys in sorted order).
//!
//! Any other field is an error, since it would otherwise be dropped: put
//! extra data in `attributes`. Blank lines are skipped. Lines are numbered
//! from 1, blank lines included, so an error's line number is the one an
//! editor shows. A line holds at most [`LINE_BYTES_MAX`] bytes.
//!
//! # What happens
//!
//! The lines are read in batches of [`ImportOptions::batch`] elements. For
//! each batch, one HTTP request `POST {endpoint}/api/embed` with
//! `{"model": MODEL, "input": [text, …]}` returns `{"embeddings": [[f32,
//! …], …]}`, one per text and in order (Ollama's API; an error is an HTTP
//! error status with `{"error": "…"}`). Then one pipeline to the server
//! sends every element's
//!
//! ```text
//! VADD KEY FP32 <little-endian f32 vector> NAME [SETATTR <attributes>] MODEL MODEL
//! ```
//!
//! before it reads the replies, so the server commits the batch with one
//! log sync (group commit). `MODEL` is this store's extension
//! ([`crate::command`]): a set remembers its model and refuses vectors of
//! another. An element already in the set is replaced (vector and
//! attributes), so running an import again is safe.
//!
//! # Failures
//!
//! The first failure stops the import with an [`ImportFailure`]: the
//! [`ImportError`] (which names the line or the batch, and what to do)
//! and the [`Summary`] of what was imported before it. A malformed line
//! stops the import after the valid lines before it are imported; an
//! embedding failure imports nothing of its batch; a refused `VADD` stops
//! the import after the batch's other replies are read (so its other
//! elements may be in the set, and are counted).
//!
//! # Invariants
//!
//! 1. Elements reach the server in input order, one `VADD` each; a batch's
//!    `VADD`s are all written before its first reply is read, and exactly
//!    one reply is read per `VADD`.
//! 2. No line is dropped silently: every non-blank line before the one an
//!    error names was sent to the server, and every `VADD` the server
//!    accepted is counted in [`Summary::elements`].
//! 3. Every vector sent has the dimension of the import's first embedding
//!    and finite components.
//! 4. Everything is bounded: each network exchange (an embedding request
//!    from connect to the end of its answer; a batch's pipeline) by
//!    [`ImportOptions::timeout`], each line by [`LINE_BYTES_MAX`], each
//!    HTTP answer by [`HTTP_BODY_BYTES_MAX`], each RESP reply by
//!    [`REPLY_BYTES_MAX`].
//!
//! Not checked: that the texts or names are distinct (a repeated name
//! replaces the earlier element), and that the embeddings mean anything.
//! The host name is resolved without a time limit.
//!
//! # Example: import a file
//!
//! ```no_run
//! use std::io::BufReader;
//!
//! use vecstore::import::{ImportOptions, import};
//!
//! let options = ImportOptions::new("http://localhost:11434", "all-minilm", "docs");
//! let file = std::fs::File::open("docs.jsonl")?;
//! let summary = import(&options, BufReader::new(file), &indicatif::ProgressBar::hidden())?;
//! println!("{summary}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # HTTP
//!
//! Plain `http://` only (Ollama listens on `http://localhost:11434`): one
//! connection per request (`Connection: close`), a `Content-Length`
//! request body, and a response body framed by `Content-Length`, by
//! `Transfer-Encoding: chunked`, or by the end of the connection.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde_json::Value;

use crate::command::{DIMENSION_MAX, Reply};

/// The default `--batch`: texts per embedding request.
pub const BATCH_DEFAULT: usize = 32;
/// The largest `--batch`: a pipeline's replies must fit the socket
/// buffers while its requests are still being written.
pub const BATCH_MAX: usize = 1024;
/// The default `--timeout-secs`.
pub const TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);
/// The default `--addr`.
pub const ADDR_DEFAULT: &str = "127.0.0.1:6379";
/// The longest input line, in bytes (without its line end).
pub const LINE_BYTES_MAX: usize = 16 << 20;
/// The longest HTTP answer body, in bytes.
pub const HTTP_BODY_BYTES_MAX: usize = 256 << 20;
/// The longest HTTP status or header line, in bytes.
const HTTP_LINE_BYTES_MAX: usize = 16 << 10;
/// The most header lines (and chunk trailer lines) in an HTTP answer.
const HTTP_HEADERS_MAX: usize = 128;
/// The most interim (`1xx`) answers before the final one.
const HTTP_INTERIM_MAX: usize = 8;
/// The longest RESP reply, in bytes (a line or a bulk string).
pub const REPLY_BYTES_MAX: usize = 64 << 20;
/// How deeply RESP arrays may nest in a reply.
const REPLY_DEPTH_MAX: usize = 8;
/// The longest model name the server accepts (`MODEL`).
const MODEL_BYTES_MAX: usize = 256;

const _: () = assert!(BATCH_DEFAULT >= 1 && BATCH_DEFAULT <= BATCH_MAX);
const _: () = assert!(LINE_BYTES_MAX <= HTTP_BODY_BYTES_MAX);

/// What to import, from where, to where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The embedding service's base URL, `http://HOST[:PORT][/PREFIX]`;
    /// requests go to `{endpoint}/api/embed`.
    pub endpoint: String,
    /// The embedding model, as the endpoint names it; also sent with every
    /// `VADD` (`MODEL`).
    pub model: String,
    /// The vector set to add to.
    pub key: String,
    /// The vecstore server, `HOST:PORT` (default [`ADDR_DEFAULT`]).
    pub addr: String,
    /// Elements per embedding request and per `VADD` pipeline,
    /// `1..=BATCH_MAX` (default [`BATCH_DEFAULT`]).
    pub batch: usize,
    /// The longest an embedding request (connect, send, answer) or a
    /// batch's `VADD` pipeline may take (default [`TIMEOUT_DEFAULT`]).
    pub timeout: Duration,
}

impl ImportOptions {
    /// Options with the default address, batch size and timeout.
    pub fn new(
        endpoint: impl Into<String>,
        model: impl Into<String>,
        key: impl Into<String>,
    ) -> ImportOptions {
        ImportOptions {
            endpoint: endpoint.into(),
            model: model.into(),
            key: key.into(),
            addr: ADDR_DEFAULT.to_string(),
            batch: BATCH_DEFAULT,
            timeout: TIMEOUT_DEFAULT,
        }
    }
}

/// What an import did (all of it, or what it did before a failure).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Summary {
    /// Elements the server accepted (added or replaced).
    pub elements: usize,
    /// Of those, elements that were not in the set before.
    pub added: usize,
    /// Batches imported completely.
    pub batches: usize,
    /// Wall-clock time from start to end.
    pub elapsed: Duration,
}

impl Summary {
    /// Accepted elements per second of [`Summary::elapsed`].
    pub fn elements_per_second(&self) -> f64 {
        self.elements as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} elements ({} new) in {} batches, {:.2} s, {:.1} elements/s",
            self.elements,
            self.added,
            self.batches,
            self.elapsed.as_secs_f64(),
            self.elements_per_second()
        )
    }
}

/// The input lines a batch holds: `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRange {
    /// The batch's first element's line (1-based).
    pub first: usize,
    /// Its last element's line.
    pub last: usize,
}

impl fmt::Display for LineRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "line {}", self.first)
        } else {
            write!(f, "lines {}-{}", self.first, self.last)
        }
    }
}

/// The two services an import talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The embedding endpoint (`--endpoint`).
    Embedder,
    /// The vecstore server (`--addr`).
    Server,
}

impl Service {
    fn hint(self) -> &'static str {
        match self {
            Service::Embedder => "is it running (`ollama serve`), and is --endpoint right?",
            Service::Server => "is `vecstore serve` running there, and is --addr right?",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Embedder => "embedding endpoint",
            Service::Server => "vecstore server",
        })
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An option is out of range or malformed.
    #[error("--{option}: {problem}")]
    Option {
        /// The option's name.
        option: &'static str,
        /// What is wrong, and what is allowed.
        problem: String,
    },
    /// The input could not be read.
    #[error("reading line {line} of the input: {source}")]
    Read {
        /// The line being read.
        line: usize,
        /// The I/O error.
        source: io::Error,
    },
    /// A line is not an element.
    #[error(
        "line {line}: {problem}; each line must be a JSON object \
         {{\"name\": \"…\", \"text\": \"…\", \"attributes\": {{…}}}} (attributes optional): \
         fix it, and run the import again"
    )]
    Line {
        /// The line (1-based).
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A service could not be reached.
    #[error("cannot connect to the {service} at {addr}: {source}; {}", .service.hint())]
    Connect {
        /// Which service.
        service: Service,
        /// The address tried.
        addr: String,
        /// The connection error.
        source: io::Error,
    },
    /// A service took longer than the timeout.
    #[error(
        "the {service} did not answer batch {batch} ({lines}) within {timeout:?}: \
         raise --timeout-secs if it is only slow (a model's first request loads it)"
    )]
    Timeout {
        /// Which service.
        service: Service,
        /// The batch (1-based).
        batch: usize,
        /// Its lines.
        lines: LineRange,
        /// The timeout.
        timeout: Duration,
    },
    /// A connection failed in the middle of a batch.
    #[error("the connection to the {service} failed during batch {batch} ({lines}): {source}")]
    Io {
        /// Which service.
        service: Service,
        /// The batch (1-based).
        batch: usize,
        /// Its lines.
        lines: LineRange,
        /// The I/O error.
        source: io::Error,
    },
    /// The embedding endpoint answered with an HTTP error status.
    #[error(
        "the embedding endpoint answered batch {batch} ({lines}) with HTTP {status}: {message}; \
         check --endpoint and --model (with Ollama: `ollama pull MODEL`)"
    )]
    EmbedStatus {
        /// The batch (1-based).
        batch: usize,
        /// Its lines.
        lines: LineRange,
        /// The HTTP status.
        status: u16,
        /// The body's `error`, or the start of the body.
        message: String,
    },
    /// The embedding endpoint's answer is not one this importer can use.
    #[error(
        "the embedding endpoint's answer to batch {batch} ({lines}) is unusable: {problem}; \
         is --endpoint an Ollama-compatible /api/embed?"
    )]
    EmbedResponse {
        /// The batch (1-based).
        batch: usize,
        /// Its lines.
        lines: LineRange,
        /// What is wrong with it.
        problem: String,
    },
    /// The endpoint returned another number of embeddings than texts.
    #[error(
        "the embedding endpoint returned {got} embeddings for the {expected} texts of batch \
         {batch} ({lines}): it must return one per text, in order"
    )]
    EmbeddingCount {
        /// The batch (1-based).
        batch: usize,
        /// Its lines.
        lines: LineRange,
        /// Texts sent.
        expected: usize,
        /// Embeddings returned.
        got: usize,
    },
    /// An embedding's dimension differs from the import's first.
    #[error(
        "line {line}: its embedding has {got} dimensions, but the import's first had \
         {expected}: one model gives one dimension; check the endpoint serves --model"
    )]
    Dimension {
        /// The line (1-based).
        line: usize,
        /// The dimension of the import's first embedding.
        expected: usize,
        /// This embedding's.
        got: usize,
    },
    /// An embedding has a component that is not a finite `f32`.
    #[error(
        "line {line}: component {index} of its embedding is {value}, not a finite f32; \
         the endpoint's model is broken for this text"
    )]
    NonFinite {
        /// The line (1-based).
        line: usize,
        /// The component (0-based).
        index: usize,
        /// Its value.
        value: f64,
    },
    /// The server refused an element's `VADD`.
    #[error("line {line}: the vecstore server refused element {name:?}: {message}")]
    Refused {
        /// The line (1-based).
        line: usize,
        /// The element's name.
        name: String,
        /// The server's error reply.
        message: String,
    },
    /// The server's reply is not RESP2, or not a `VADD` reply.
    #[error(
        "the vecstore server's reply to batch {batch} ({lines}) is unusable: {problem}; \
         is --addr a vecstore server?"
    )]
    Protocol {
        /// The batch (1-based).
        batch: usize,
        /// Its lines.
        lines: LineRange,
        /// What is wrong with it.
        problem: String,
    },
}

/// A failed import: why, and what it had imported before.
#[derive(Debug, thiserror::Error)]
#[error(
    "{error} ({} elements were imported before the failure; importing again is safe: \
     VADD replaces an element)",
    .summary.elements
)]
pub struct ImportFailure {
    /// Why it stopped.
    pub error: ImportError,
    /// What it had done: [`Summary::elements`] were imported before the
    /// failure.
    pub summary: Summary,
}

/// Imports every element of `input` (JSON Lines, see the [module
/// docs](self)) into `options.key` on the server at `options.addr`.
///
/// `progress` advances by the bytes of input read (set its length to the
/// input's size for an ETA) and its message counts the elements imported;
/// pass [`ProgressBar::hidden`] for none.
///
/// # Errors
///
/// The first failure, with what was imported before it ([`ImportFailure`]).
pub fn import(
    options: &ImportOptions,
    input: impl BufRead,
    progress: &ProgressBar,
) -> Result<Summary, ImportFailure> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let result = run(options, input, progress, &mut summary);
    summary.elapsed = started.elapsed();
    match result {
        Ok(()) => Ok(summary),
        Err(error) => Err(ImportFailure { error, summary }),
    }
}

// ---------------------------------------------------------------------------
// The driver.

/// One input line's element.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    line: usize,
    name: String,
    text: String,
    /// Compact JSON text of an object.
    attributes: Option<String>,
}

struct Importer<'a> {
    options: &'a ImportOptions,
    endpoint: Endpoint,
    server: Connection,
    /// The dimension of the import's first embedding (invariant 3).
    dimension: Option<usize>,
    summary: &'a mut Summary,
}

/// Checks the options, connects, and imports batch after batch.
fn run(
    options: &ImportOptions,
    input: impl BufRead,
    progress: &ProgressBar,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    let mut importer = Importer {
        options,
        endpoint: check_options(options)?,
        server: Connection::open(&options.addr, options.timeout)?,
        dimension: None,
        summary,
    };
    let mut lines = Lines {
        input,
        line: 0,
        bytes_read: 0,
        buf: Vec::new(),
    };
    let mut batch = Vec::with_capacity(options.batch);
    // Bounded by the input: each turn reads at least one line.
    loop {
        let end = match lines.next_element() {
            Ok(Some(element)) => {
                batch.push(element);
                false
            }
            Ok(None) => true,
            Err(error) => {
                // Invariant 2: the valid lines before it go in first.
                importer.send(&mut batch, progress, lines.bytes_read)?;
                return Err(error);
            }
        };
        if end || batch.len() == options.batch {
            importer.send(&mut batch, progress, lines.bytes_read)?;
        }
        if end {
            return Ok(());
        }
    }
}

impl Importer<'_> {
    /// Embeds and adds `batch`, then empties it.
    fn send(
        &mut self,
        batch: &mut Vec<Element>,
        progress: &ProgressBar,
        bytes_read: u64,
    ) -> Result<(), ImportError> {
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let at = Batch {
            number: self.summary.batches + 1,
            lines: LineRange {
                first: first.line,
                last: last.line,
            },
        };
        let vectors = self.embed(batch, at)?;
        let outcome = self.server.add(self.options, batch, &vectors, at);
        self.summary.elements += outcome.accepted;
        self.summary.added += outcome.added;
        outcome.error.map_or(Ok(()), Err)?;
        self.summary.batches += 1;
        progress.set_position(bytes_read);
        progress.set_message(format!("{} elements", self.summary.elements));
        batch.clear();
        Ok(())
    }

    fn embed(&mut self, batch: &[Element], at: Batch) -> Result<Vec<Vec<f32>>, ImportError> {
        let endpoint = &self.endpoint;
        let texts: Vec<&str> = batch.iter().map(|e| e.text.as_str()).collect();
        let body = serde_json::json!({ "model": self.options.model, "input": texts }).to_string();
        let timeout = self.options.timeout;
        let response =
            post(endpoint, body.as_bytes(), timeout).map_err(|failure| match failure {
                HttpFailure::Connect(source) if !is_timeout(&source) => ImportError::Connect {
                    service: Service::Embedder,
                    addr: endpoint.authority.clone(),
                    source,
                },
                HttpFailure::Connect(source) | HttpFailure::Io(source) => {
                    at.failed(Service::Embedder, timeout, source)
                }
                HttpFailure::Malformed(problem) => at.unusable(format!("not HTTP/1.1: {problem}")),
            })?;
        let vectors = embeddings(&response, batch, at, self.dimension)?;
        self.dimension = self.dimension.or(vectors.first().map(Vec::len));
        Ok(vectors)
    }
}

/// A batch's number (1-based) and lines, for its errors.
#[derive(Debug, Clone, Copy)]
struct Batch {
    number: usize,
    lines: LineRange,
}

impl Batch {
    /// A failed exchange with `service`: a timeout, or another I/O error.
    fn failed(self, service: Service, timeout: Duration, source: io::Error) -> ImportError {
        let (batch, lines) = (self.number, self.lines);
        if is_timeout(&source) {
            ImportError::Timeout {
                service,
                batch,
                lines,
                timeout,
            }
        } else {
            ImportError::Io {
                service,
                batch,
                lines,
                source,
            }
        }
    }

    fn unusable(self, problem: String) -> ImportError {
        ImportError::EmbedResponse {
            batch: self.number,
            lines: self.lines,
            problem,
        }
    }

    fn protocol(self, problem: String) -> ImportError {
        ImportError::Protocol {
            batch: self.number,
            lines: self.lines,
            problem,
        }
    }
}

/// Checks what can be checked before anything is sent.
fn check_options(options: &ImportOptions) -> Result<Endpoint, ImportError> {
    let bad = |option, problem: String| Err(ImportError::Option { option, problem });
    if !(1..=BATCH_MAX).contains(&options.batch) {
        return bad(
            "batch",
            format!("{} is not from 1 to {BATCH_MAX}", options.batch),
        );
    }
    if options.timeout.is_zero() {
        return bad("timeout-secs", "must be at least 1".to_string());
    }
    if options.model.is_empty() || options.model.len() > MODEL_BYTES_MAX {
        return bad(
            "model",
            format!("a model name has 1 to {MODEL_BYTES_MAX} bytes"),
        );
    }
    if options.key.is_empty() {
        return bad("key", "the set's name cannot be empty".to_string());
    }
    parse_endpoint(&options.endpoint).or_else(|problem| bad("endpoint", problem))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

// ---------------------------------------------------------------------------
// The input.

/// The input's lines, read one at a time.
struct Lines<R> {
    input: R,
    /// The last line read (1-based; 0 before the first).
    line: usize,
    bytes_read: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    /// The next element, skipping blank lines; `None` at the end.
    fn next_element(&mut self) -> Result<Option<Element>, ImportError> {
        // Bounded by the input: each turn consumes a line.
        loop {
            self.buf.clear();
            let n = (&mut self.input)
                .take(LINE_BYTES_MAX as u64 + 1)
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| ImportError::Read {
                    line: self.line + 1,
                    source,
                })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            self.bytes_read += n as u64;
            let line = self.line;
            if n > LINE_BYTES_MAX && self.buf.last() != Some(&b'\n') {
                return Err(ImportError::Line {
                    line,
                    problem: format!("it is longer than {LINE_BYTES_MAX} bytes"),
                });
            }
            let text = std::str::from_utf8(&self.buf).map_err(|e| ImportError::Line {
                line,
                problem: format!("byte {} is not UTF-8", e.valid_up_to() + 1),
            })?;
            let text = text.strip_suffix('\n').unwrap_or(text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            let text = if line == 1 {
                text.strip_prefix('\u{feff}').unwrap_or(text)
            } else {
                text
            };
            if let Some(element) = parse_line(line, text)? {
                return Ok(Some(element));
            }
        }
    }
}

/// Line `line`'s element, or `None` if it is blank.
fn parse_line(line: usize, text: &str) -> Result<Option<Element>, ImportError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let bad = |problem: String| ImportError::Line { line, problem };
    let value: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("it is not JSON ({e})")))?;
    let Value::Object(mut object) = value else {
        return Err(bad(format!("it is {}, not an object", kind(&value))));
    };
    let mut string = |field: &str| match object.remove(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(bad(format!("\"{field}\" is empty"))),
        Some(other) => Err(bad(format!(
            "\"{field}\" is {}, not a string",
            kind(&other)
        ))),
        None => Err(bad(format!("the field \"{field}\" is missing"))),
    };
    let name = string("name")?;
    let text = string("text")?;
    let attributes = match object.remove("attributes") {
        None | Some(Value::Null) => None,
        Some(attributes @ Value::Object(_)) => Some(attributes.to_string()),
        Some(other) => {
            return Err(bad(format!(
                "\"attributes\" is {}, not an object",
                kind(&other)
            )));
        }
    };
    if let Some(field) = object.keys().next() {
        return Err(bad(format!(
            "the field \"{field}\" is not name, text or attributes (put extra data in \"attributes\")"
        )));
    }
    Ok(Some(Element {
        line,
        name,
        text,
        attributes,
    }))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The vectors of an `/api/embed` answer to `batch`, checked (invariant 3).
fn embeddings(
    response: &HttpResponse,
    batch: &[Element],
    at: Batch,
    dimension: Option<usize>,
) -> Result<Vec<Vec<f32>>, ImportError> {
    let json = serde_json::from_slice::<Value>(&response.body);
    if !(200..300).contains(&response.status) {
        let message = match json.as_ref().map(|j| j.get("error")) {
            Ok(Some(Value::String(error))) => error.clone(),
            _ => excerpt(&response.body),
        };
        return Err(ImportError::EmbedStatus {
            batch: at.number,
            lines: at.lines,
            status: response.status,
            message,
        });
    }
    let json = json.map_err(|e| {
        at.unusable(format!(
            "the body is not JSON ({e}): {}",
            excerpt(&response.body)
        ))
    })?;
    if let Some(error) = json.get("error") {
        return Err(at.unusable(format!("it reports an error: {error}")));
    }
    let Some(Value::Array(list)) = json.get("embeddings") else {
        return Err(at.unusable("it has no \"embeddings\" array".to_string()));
    };
    if list.len() != batch.len() {
        return Err(ImportError::EmbeddingCount {
            batch: at.number,
            lines: at.lines,
            expected: batch.len(),
            got: list.len(),
        });
    }
    let mut dimension = dimension;
    let mut vectors = Vec::with_capacity(list.len());
    for (element, embedding) in batch.iter().zip(list) {
        let vector = embedding_vector(embedding, element.line, dimension, at)?;
        dimension = Some(vector.len());
        vectors.push(vector);
    }
    Ok(vectors)
}

/// Line `line`'s embedding as a vector of `dimension` (if given) finite
/// components.
fn embedding_vector(
    embedding: &Value,
    line: usize,
    dimension: Option<usize>,
    at: Batch,
) -> Result<Vec<f32>, ImportError> {
    let Some(components) = embedding.as_array().filter(|c| !c.is_empty()) else {
        return Err(at.unusable(format!(
            "line {line}'s embedding is {}, not a non-empty array",
            kind(embedding)
        )));
    };
    let got = components.len();
    if got > DIMENSION_MAX {
        return Err(at.unusable(format!(
            "line {line}'s embedding has {got} dimensions; the store takes at most {DIMENSION_MAX}"
        )));
    }
    if let Some(expected) = dimension.filter(|&d| d != got) {
        return Err(ImportError::Dimension {
            line,
            expected,
            got,
        });
    }
    let mut vector = Vec::with_capacity(got);
    for (index, c) in components.iter().enumerate() {
        let Some(value) = c.as_f64() else {
            return Err(at.unusable(format!(
                "component {index} of line {line}'s embedding is {}, not a number",
                kind(c)
            )));
        };
        let component = value as f32;
        if !component.is_finite() {
            return Err(ImportError::NonFinite { line, index, value });
        }
        vector.push(component);
    }
    Ok(vector)
}

/// The start of a body, as text for an error message.
fn excerpt(body: &[u8]) -> String {
    const CHARS_MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(an empty body)".to_string();
    }
    let mut out: String = text.chars().take(CHARS_MAX).collect();
    if text.chars().nth(CHARS_MAX).is_some() {
        out.push('…');
    }
    out
}

// ---------------------------------------------------------------------------
// Sockets with a deadline.

/// A socket whose every read and write ends by `deadline`.
struct TimedStream {
    stream: TcpStream,
    deadline: Instant,
}

impl TimedStream {
    fn left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::ErrorKind::TimedOut.into())
        } else {
            Ok(left)
        }
    }
}

/// A socket read that timed out says `WouldBlock` on Unix.
fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == io::ErrorKind::WouldBlock {
        io::ErrorKind::TimedOut.into()
    } else {
        e
    }
}

impl Read for TimedStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        self.stream.read(buf).map_err(timed_out)
    }
}

impl Write for TimedStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        self.stream.write(buf).map_err(timed_out)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Connects to the first of `addrs` that answers before `deadline`.
fn connect(addrs: impl Iterator<Item = SocketAddr>, deadline: Instant) -> io::Result<TimedStream> {
    let mut last = None;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(TimedStream { stream, deadline });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the name resolves to no address")
    }))
}

// ---------------------------------------------------------------------------
// HTTP/1.1: one POST, its answer.

/// Where embedding requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    /// Host name or IP address (an IPv6 address without brackets).
    host: String,
    port: u16,
    /// `host[:port]` as written: the `Host` header.
    authority: String,
    /// The request path: the URL's path and `/api/embed`.
    path: String,
}

/// Parses `http://HOST[:PORT][/PREFIX]`.
fn parse_endpoint(url: &str) -> Result<Endpoint, String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") {
            "https:// is not supported, only plain http:// (Ollama listens on \
             http://localhost:11434); put a local proxy in front of a TLS endpoint"
                .to_string()
        } else {
            format!("'{url}' is not an http:// URL (for Ollama: http://localhost:11434)")
        });
    };
    let (authority, prefix) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if prefix.contains(['?', '#']) {
        return Err(format!(
            "'{url}' has a query or fragment; give the base URL"
        ));
    }
    if authority.contains('@') {
        return Err(format!("'{url}' has credentials, which are not supported"));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| format!("'{url}' has an unclosed '[' in its host"))?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("'{url}' has no host"));
    }
    let port = match port {
        None => 80,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("'{url}': '{p}' is not a port number"))?,
    };
    Ok(Endpoint {
        host: host.to_string(),
        port,
        authority: authority.to_string(),
        path: format!("{}/api/embed", prefix.trim_end_matches('/')),
    })
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpResponse {
    status: u16,
    body: Vec<u8>,
}

/// Why an HTTP exchange failed.
#[derive(Debug)]
enum HttpFailure {
    /// Connecting failed.
    Connect(io::Error),
    /// Sending or receiving failed (a timeout included).
    Io(io::Error),
    /// The answer is not HTTP/1.x as this client reads it.
    Malformed(String),
}

/// POSTs `body` (JSON) to `endpoint`; the whole exchange ends within
/// `timeout`.
fn post(endpoint: &Endpoint, body: &[u8], timeout: Duration) -> Result<HttpResponse, HttpFailure> {
    let deadline = Instant::now() + timeout;
    let addrs = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(HttpFailure::Connect)?;
    let mut stream = connect(addrs, deadline).map_err(HttpFailure::Connect)?;
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vecstore-import\r\n\
         Content-Type: application/json\r\nAccept: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        endpoint.path,
        endpoint.authority,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).map_err(HttpFailure::Io)?;
    read_response(&mut BufReader::new(stream))
}

fn http_io(e: io::Error) -> HttpFailure {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        HttpFailure::Malformed("the connection closed in the middle of the answer".to_string())
    } else {
        HttpFailure::Io(e)
    }
}

/// Reads one line of at most `bytes_max` bytes, without its `\r\n`.
fn read_http_line(reader: &mut impl BufRead, bytes_max: usize) -> Result<Vec<u8>, HttpFailure> {
    let mut line = Vec::new();
    reader
        .take(bytes_max as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(http_io)?;
    if line.last() != Some(&b'\n') {
        return Err(HttpFailure::Malformed(if line.len() > bytes_max {
            format!("a line is longer than {bytes_max} bytes")
        } else {
            "the connection closed in the middle of a line".to_string()
        }));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Reads an answer: skips interim (`1xx`) answers, then reads the status,
/// the headers and the body.
fn read_response(reader: &mut impl BufRead) -> Result<HttpResponse, HttpFailure> {
    for _ in 0..HTTP_INTERIM_MAX {
        let line = read_http_line(reader, HTTP_LINE_BYTES_MAX)?;
        let status = parse_status(&line)?;
        let headers = read_headers(reader)?;
        if (100..200).contains(&status) {
            continue;
        }
        let body = read_body(reader, &headers)?;
        return Ok(HttpResponse { status, body });
    }
    Err(HttpFailure::Malformed(format!(
        "more than {HTTP_INTERIM_MAX} interim (1xx) answers"
    )))
}

/// `HTTP/1.1 200 OK` → 200.
fn parse_status(line: &[u8]) -> Result<u16, HttpFailure> {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split(' ');
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    if version.starts_with("HTTP/1.")
        && code.len() == 3
        && let Ok(status) = code.parse::<u16>()
    {
        return Ok(status);
    }
    Err(HttpFailure::Malformed(format!(
        "'{}' is not an HTTP/1.x status line",
        excerpt(line)
    )))
}

/// The header lines up to the blank line, names lower-cased.
fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>, HttpFailure> {
    let mut headers = Vec::new();
    for _ in 0..=HTTP_HEADERS_MAX {
        let line = read_http_line(reader, HTTP_LINE_BYTES_MAX)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let text = String::from_utf8_lossy(&line);
        let (name, value) = text.split_once(':').ok_or_else(|| {
            HttpFailure::Malformed(format!("'{}' is not a header line", excerpt(&line)))
        })?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Err(HttpFailure::Malformed(format!(
        "more than {HTTP_HEADERS_MAX} header lines"
    )))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn too_long() -> HttpFailure {
    HttpFailure::Malformed(format!(
        "the body is longer than {HTTP_BODY_BYTES_MAX} bytes"
    ))
}

/// The body, framed by `Transfer-Encoding: chunked`, `Content-Length`, or
/// the end of the connection (the request said `Connection: close`).
fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
) -> Result<Vec<u8>, HttpFailure> {
    if let Some(coding) = header(headers, "transfer-encoding") {
        if !coding.eq_ignore_ascii_case("chunked") {
            return Err(HttpFailure::Malformed(format!(
                "Transfer-Encoding '{coding}' is not supported (only chunked)"
            )));
        }
        return read_chunked(reader);
    }
    let mut body = Vec::new();
    if let Some(length) = header(headers, "content-length") {
        let length = length
            .parse::<usize>()
            .map_err(|_| HttpFailure::Malformed(format!("Content-Length '{length}'")))?;
        if length > HTTP_BODY_BYTES_MAX {
            return Err(too_long());
        }
        reader
            .take(length as u64)
            .read_to_end(&mut body)
            .map_err(http_io)?;
        if body.len() < length {
            return Err(HttpFailure::Malformed(format!(
                "the connection closed after {} of the body's {length} bytes",
                body.len()
            )));
        }
        return Ok(body);
    }
    reader
        .take(HTTP_BODY_BYTES_MAX as u64 + 1)
        .read_to_end(&mut body)
        .map_err(http_io)?;
    if body.len() > HTTP_BODY_BYTES_MAX {
        return Err(too_long());
    }
    Ok(body)
}

/// A chunked body: `SIZE[;ext]\r\n DATA\r\n` … `0\r\n [trailers] \r\n`.
fn read_chunked(reader: &mut impl BufRead) -> Result<Vec<u8>, HttpFailure> {
    let mut body = Vec::new();
    // Bounded: every chunk but the last adds at least a byte to the body,
    // whose size is bounded.
    loop {
        let line = read_http_line(reader, HTTP_LINE_BYTES_MAX)?;
        let text = String::from_utf8_lossy(&line);
        let digits = text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(digits, 16)
            .map_err(|_| HttpFailure::Malformed(format!("'{digits}' is not a chunk size")))?;
        if size == 0 {
            read_headers(reader)?; // The trailers.
            return Ok(body);
        }
        if size > HTTP_BODY_BYTES_MAX - body.len() {
            return Err(too_long());
        }
        let before = body.len();
        reader
            .take(size as u64)
            .read_to_end(&mut body)
            .map_err(http_io)?;
        if body.len() - before < size {
            return Err(HttpFailure::Malformed(
                "the connection closed in the middle of a chunk".to_string(),
            ));
        }
        if !read_http_line(reader, HTTP_LINE_BYTES_MAX)?.is_empty() {
            return Err(HttpFailure::Malformed(
                "a chunk is longer than its size says".to_string(),
            ));
        }
    }
}

// ---------------------------------------------------------------------------
// RESP2: pipelined VADDs.

/// The connection to the vecstore server.
struct Connection {
    stream: BufReader<TimedStream>,
}

/// What a batch's pipeline did.
struct Outcome {
    /// `VADD`s answered with an integer.
    accepted: usize,
    /// Of those, answered 1 (a new element).
    added: usize,
    /// The first refusal or failure.
    error: Option<ImportError>,
}

impl Connection {
    fn open(addr: &str, timeout: Duration) -> Result<Connection, ImportError> {
        let failed = |source| ImportError::Connect {
            service: Service::Server,
            addr: addr.to_string(),
            source,
        };
        let addrs = addr.to_socket_addrs().map_err(failed)?;
        let stream = connect(addrs, Instant::now() + timeout).map_err(failed)?;
        Ok(Connection {
            stream: BufReader::new(stream),
        })
    }

    /// Sends every `VADD` of `batch`, then reads every reply (invariant 1).
    fn add(
        &mut self,
        options: &ImportOptions,
        batch: &[Element],
        vectors: &[Vec<f32>],
        at: Batch,
    ) -> Outcome {
        debug_assert_eq!(batch.len(), vectors.len());
        let mut outcome = Outcome {
            accepted: 0,
            added: 0,
            error: None,
        };
        let failed = |source| at.failed(Service::Server, options.timeout, source);
        let mut out = Vec::new();
        for (element, vector) in batch.iter().zip(vectors) {
            encode_vadd(&mut out, &options.key, element, vector, &options.model);
        }
        self.stream.get_mut().deadline = Instant::now() + options.timeout;
        if let Err(e) = self.stream.get_mut().write_all(&out) {
            outcome.error = Some(failed(e));
            return outcome;
        }
        for element in batch {
            let refusal = match read_reply(&mut self.stream, 0) {
                Ok(Reply::Integer(n)) => {
                    outcome.accepted += 1;
                    outcome.added += usize::from(n == 1);
                    continue;
                }
                Ok(Reply::Error(message)) => ImportError::Refused {
                    line: element.line,
                    name: element.name.clone(),
                    message,
                },
                Ok(other) => at.protocol(format!(
                    "{other:?} is not a VADD reply (an integer or an error)"
                )),
                Err(RespFailure::Io(e)) => failed(e),
                Err(RespFailure::Malformed(problem)) => at.protocol(problem),
            };
            let fatal = !matches!(refusal, ImportError::Refused { .. });
            outcome.error.get_or_insert(refusal);
            if fatal {
                // The connection is in an unknown state: stop reading.
                break;
            }
        }
        outcome
    }
}

/// Appends `VADD key FP32 blob name [SETATTR json] MODEL model`.
fn encode_vadd(out: &mut Vec<u8>, key: &str, element: &Element, vector: &[f32], model: &str) {
    let blob: Vec<u8> = vector.iter().flat_map(|c| c.to_le_bytes()).collect();
    let mut args: Vec<&[u8]> = vec![
        b"VADD",
        key.as_bytes(),
        b"FP32",
        &blob,
        element.name.as_bytes(),
    ];
    if let Some(attributes) = &element.attributes {
        args.extend([b"SETATTR".as_slice(), attributes.as_bytes()]);
    }
    args.extend([b"MODEL".as_slice(), model.as_bytes()]);
    kv::resp::array(out, args.len());
    for arg in args {
        kv::resp::bulk(out, Some(arg));
    }
}

/// Why a RESP reply could not be read.
#[derive(Debug)]
enum RespFailure {
    Io(io::Error),
    Malformed(String),
}

fn resp_io(e: io::Error) -> RespFailure {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        RespFailure::Malformed("the server closed the connection".to_string())
    } else {
        RespFailure::Io(e)
    }
}

/// Reads one RESP2 reply (`+ - : $ *`), nested at most
/// [`REPLY_DEPTH_MAX`] deep.
fn read_reply(reader: &mut impl BufRead, depth: usize) -> Result<Reply, RespFailure> {
    let mut line = Vec::new();
    reader
        .take(REPLY_BYTES_MAX as u64)
        .read_until(b'\n', &mut line)
        .map_err(resp_io)?;
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Err(RespFailure::Malformed(if line.is_empty() {
            "the server closed the connection".to_string()
        } else {
            format!("'{}' does not end with CRLF", excerpt(&line))
        }));
    };
    let malformed = || RespFailure::Malformed(format!("'{}' is not RESP2", excerpt(line)));
    let (&kind, rest) = line.split_first().ok_or_else(malformed)?;
    let text = std::str::from_utf8(rest).map_err(|_| malformed())?;
    let number = || text.parse::<i64>().map_err(|_| malformed());
    match kind {
        b'+' => Ok(Reply::Simple(text.to_string())),
        b'-' => Ok(Reply::Error(text.to_string())),
        b':' => Ok(Reply::Integer(number()?)),
        b'$' => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Reply::Bulk(None));
            };
            if len > REPLY_BYTES_MAX {
                return Err(malformed());
            }
            let mut data = vec![0; len + 2];
            reader.read_exact(&mut data).map_err(resp_io)?;
            if !data.ends_with(b"\r\n") {
                return Err(malformed());
            }
            data.truncate(len);
            Ok(Reply::Bulk(Some(data)))
        }
        b'*' => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Reply::Array(None));
            };
            if depth >= REPLY_DEPTH_MAX || len > kv::resp::ARGS_MAX {
                return Err(malformed());
            }
            let items = (0..len)
                .map(|_| read_reply(reader, depth + 1))
                .collect::<Result<_, _>>()?;
            Ok(Reply::Array(Some(items)))
        }
        _ => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let ok = |url: &str, host: &str, port: u16, path: &str| {
            let e = parse_endpoint(url).unwrap();
            assert_eq!(
                (e.host.as_str(), e.port, e.path.as_str()),
                (host, port, path)
            );
        };
        ok("http://localhost:11434", "localhost", 11434, "/api/embed");
        ok("http://localhost:11434/", "localhost", 11434, "/api/embed");
        ok("http://example.com", "example.com", 80, "/api/embed");
        ok("http://h:8080/ollama/", "h", 8080, "/ollama/api/embed");
        ok("http://[::1]:9000", "::1", 9000, "/api/embed");
        ok("http://[::1]", "::1", 80, "/api/embed");
        for bad in [
            "https://localhost",
            "localhost:11434",
            "http://",
            "http://:80",
            "http://h:port",
            "http://h:99999",
            "http://u:p@h",
            "http://h/x?y=1",
            "http://[::1",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
        assert!(
            parse_endpoint("https://x")
                .unwrap_err()
                .contains("only plain http://")
        );
    }

    fn problem(line: usize, text: &str) -> String {
        match parse_line(line, text) {
            Err(ImportError::Line { line: at, problem }) => {
                assert_eq!(at, line);
                problem
            }
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn lines() {
        assert_eq!(parse_line(1, "").unwrap(), None);
        assert_eq!(parse_line(1, " \t").unwrap(), None);
        assert_eq!(
            parse_line(3, r#"{"name":"a","text":"t","attributes":{"z":1,"a":[2]}}"#).unwrap(),
            Some(Element {
                line: 3,
                name: "a".into(),
                text: "t".into(),
                attributes: Some(r#"{"a":[2],"z":1}"#.into()),
            })
        );
        let plain = parse_line(1, r#"{"text":"t","name":"a","attributes":null}"#).unwrap();
        assert_eq!(plain.unwrap().attributes, None);
        for (text, expected) in [
            ("{", "not JSON"),
            ("[1]", "an array, not an object"),
            (r#"{"text":"t"}"#, "\"name\" is missing"),
            (r#"{"name":"a"}"#, "\"text\" is missing"),
            (r#"{"name":1,"text":"t"}"#, "\"name\" is a number"),
            (r#"{"name":"","text":"t"}"#, "\"name\" is empty"),
            (r#"{"name":"a","text":""}"#, "\"text\" is empty"),
            (r#"{"name":"a","text":"t","attributes":[]}"#, "an array"),
            (r#"{"name":"a","text":"t","id":3}"#, "\"id\" is not name"),
        ] {
            let p = problem(7, text);
            assert!(p.contains(expected), "{text}: {p}");
        }
    }

    #[test]
    fn lines_are_numbered_with_blank_lines_and_bounded() {
        let input = "\u{feff}\n{\"name\":\"a\",\"text\":\"x\"}\r\n\n  \n{\"name\":\"b\"}\n";
        let mut lines = Lines {
            input: input.as_bytes(),
            line: 0,
            bytes_read: 0,
            buf: Vec::new(),
        };
        assert_eq!(lines.next_element().unwrap().unwrap().line, 2);
        match lines.next_element() {
            Err(ImportError::Line { line: 5, .. }) => {}
            other => panic!("{other:?}"),
        }
        let mut bad = b"\n\xff\n".as_slice();
        let mut lines = Lines {
            input: &mut bad,
            line: 0,
            bytes_read: 0,
            buf: Vec::new(),
        };
        match lines.next_element() {
            Err(ImportError::Line { line: 2, problem }) => assert!(problem.contains("UTF-8")),
            other => panic!("{other:?}"),
        }
    }

    fn response(bytes: &[u8]) -> Result<HttpResponse, String> {
        read_response(&mut BufReader::new(bytes)).map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn http_bodies() {
        let ok = |bytes: &[u8], status: u16, body: &[u8]| {
            assert_eq!(
                response(bytes).unwrap(),
                HttpResponse {
                    status,
                    body: body.to_vec()
                },
                "{}",
                String::from_utf8_lossy(bytes)
            );
        };
        ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            200,
            b"hello",
        );
        ok(
            b"HTTP/1.0 500 Oops\ncontent-length:2\n\n{}extra",
            500,
            b"{}",
        );
        ok(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
              5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: 1\r\n\r\n",
            200,
            b"hello, chunked!",
        );
        ok(b"HTTP/1.1 200 OK\r\n\r\nto the end", 200, b"to the end");
        ok(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            201,
            b"",
        );
        for bad in [
            b"".as_slice(),
            b"SMTP 220 hi\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
        ] {
            assert!(response(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    fn element(line: usize) -> Element {
        Element {
            line,
            name: format!("e{line}"),
            text: "t".into(),
            attributes: None,
        }
    }

    fn vectors(
        status: u16,
        body: &str,
        count: usize,
        dimension: Option<usize>,
    ) -> Result<Vec<Vec<f32>>, ImportError> {
        let batch: Vec<Element> = (1..=count).map(element).collect();
        let at = Batch {
            number: 1,
            lines: LineRange {
                first: 1,
                last: count,
            },
        };
        let response = HttpResponse {
            status,
            body: body.as_bytes().to_vec(),
        };
        embeddings(&response, &batch, at, dimension)
    }

    #[test]
    fn embedding_answers() {
        assert_eq!(
            vectors(200, r#"{"embeddings":[[1,0.5],[0,-2]]}"#, 2, None).unwrap(),
            [[1.0, 0.5], [0.0, -2.0]]
        );
        let err = |status, body: &str, count, dimension| {
            vectors(status, body, count, dimension).unwrap_err()
        };
        assert!(matches!(
            err(404, r#"{"error":"model 'x' not found"}"#, 1, None),
            ImportError::EmbedStatus { status: 404, message, .. } if message == "model 'x' not found"
        ));
        assert!(matches!(
            err(502, "Bad Gateway", 1, None),
            ImportError::EmbedStatus { message, .. } if message == "Bad Gateway"
        ));
        assert!(matches!(
            err(200, r#"{"embeddings":[[1]]}"#, 2, None),
            ImportError::EmbeddingCount {
                expected: 2,
                got: 1,
                ..
            }
        ));
        assert!(matches!(
            err(200, r#"{"embeddings":[[1,2],[1]]}"#, 2, None),
            ImportError::Dimension {
                line: 2,
                expected: 2,
                got: 1
            }
        ));
        assert!(matches!(
            err(200, r#"{"embeddings":[[1]]}"#, 1, Some(3)),
            ImportError::Dimension { line: 1, .. }
        ));
        assert!(matches!(
            err(200, r#"{"embeddings":[[1, 1e39]]}"#, 1, None),
            ImportError::NonFinite {
                line: 1,
                index: 1,
                ..
            }
        ));
        for body in [
            "not json",
            "{}",
            r#"{"error":"x"}"#,
            r#"{"embeddings":[[]]}"#,
            r#"{"embeddings":[["1"]]}"#,
            r#"{"embeddings":[null]}"#,
        ] {
            assert!(
                matches!(err(200, body, 1, None), ImportError::EmbedResponse { .. }),
                "{body}"
            );
        }
    }

    fn reply(bytes: &[u8]) -> Result<Reply, RespFailure> {
        read_reply(&mut BufReader::new(bytes), 0)
    }

    #[test]
    fn resp_replies() {
        let ok = |bytes: &[u8], expected: Reply| assert_eq!(reply(bytes).unwrap(), expected);
        ok(b":1\r\n", Reply::Integer(1));
        ok(b"+OK\r\n", Reply::Simple("OK".into()));
        ok(b"-ERR no\r\n", Reply::Error("ERR no".into()));
        ok(b"$3\r\na\r\n\r\n", Reply::Bulk(Some(b"a\r\n".to_vec())));
        ok(b"$-1\r\n", Reply::Bulk(None));
        ok(b"*-1\r\n", Reply::Array(None));
        ok(
            b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n",
            Reply::Array(Some(vec![
                Reply::Integer(1),
                Reply::Array(Some(vec![Reply::Bulk(Some(b"x".to_vec()))])),
            ])),
        );
        let deep = "*1\r\n".repeat(REPLY_DEPTH_MAX + 1) + ":1\r\n";
        for bad in [
            b"".as_slice(),
            b":1",
            b":x\r\n",
            b"?\r\n",
            b"$3\r\nab",
            b"$2\r\nabc\r\n",
            b"*2\r\n:1\r\n",
            deep.as_bytes(),
        ] {
            assert!(reply(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn vadd_encoding_parses_as_the_server_parses_it() {
        let mut out = Vec::new();
        let element = Element {
            attributes: Some(r#"{"a":1}"#.into()),
            ..element(4)
        };
        encode_vadd(&mut out, "k", &element, &[1.0, -0.5], "m");
        let (args, used) = kv::resp::parse(&out, 1 << 20).unwrap().unwrap();
        assert_eq!(used, out.len());
        let parsed = crate::command::parse(&args).unwrap();
        let crate::command::Parsed::Store(crate::Command::Add {
            key,
            element,
            vector,
            attributes,
            model,
            ..
        }) = parsed
        else {
            panic!("{parsed:?}")
        };
        assert_eq!(
            (key.as_slice(), element.as_slice()),
            (&b"k"[..], &b"e4"[..])
        );
        assert_eq!(vector.components(), [1.0, -0.5]);
        assert_eq!(attributes.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(model.as_deref(), Some("m"));
    }
}
