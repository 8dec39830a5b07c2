//! [`VectorStore`]: the replicated state machine. The elements live in a
//! [`kv::Store`]; each set's HNSW index is derived from them.
//!
// ANCHOR: invariants
//! # Invariants
//!
//! 1. **The store is the record.** Every element is one `kv` record
//!    (its id, vector and attributes) and every set one metadata record;
//!    nothing a client can read exists only in an index.
//! 2. **Each index holds exactly its set's live elements.** The ids live in
//!    a set's index are the ids of its element records, each with the
//!    record's vector (normalised, for the cosine metric); a removed or
//!    replaced element is a tombstone in the index and is never returned.
//! 3. **The index is a function of the log.** Applying the same commands
//!    in the same order gives byte-identical indexes (the HNSW level draws
//!    are seeded, inserts go in id order, and tombstones are compacted at
//!    a deterministic point), so every replica answers a search alike.
//! 4. **A snapshot restores the same state.** [`App::snapshot`] holds the
//!    store's checkpoint and each index's bytes; [`App::restore`] reloads
//!    both and checks invariant 2 between them, so a restarted replica's
//!    index is the one it had, not a rebuild that could answer differently.
//! 5. **A refused command changes nothing** but its client's session
//!    record (invariant 6). Every check that can fail (dimension, zero
//!    vector, key length) runs before the first write.
//! 6. **An update applies at most once.** The session table records, per
//!    client, the reply of each update it applied, refusals included,
//!    keeping those within [`SESSION_WINDOW`] sequence numbers of the
//!    client's newest; a request already recorded is answered from the
//!    record and not applied again (so a retry of a refused write is
//!    refused again, even if it would succeed now: the client hears one
//!    answer, whichever attempt it came from). The table is part of
//!    the state (and of every snapshot), so the guarantee survives
//!    restarts and leader changes.
// ANCHOR_END: invariants
//!
//! # Sessions
//!
//! A server resubmits a write whose leader died before answering (it may
//! or may not have applied); without a record, the write would apply
//! twice, and a `VADD` resubmitted after another client's `VREM` of the
//! same element would bring the element back. As in MIT 6.5840's
//! key-value server, the record is replicated state, consulted both by
//! Raft before it appends a request ([`App::cached_reply`]) and by
//! [`App::apply`] when a duplicate entry reaches the log anyway. Unlike
//! 6.5840's clients, a connection pipelines, so a session keeps a window of
//! replies rather than the last one. Client 0 has no session (tests and
//! tools that apply commands directly use it); at most [`SESSIONS_MAX`]
//! sessions are kept, and the one whose last update is oldest in the log
//! is forgotten first, deterministically, so every replica forgets alike.
//!
//! As in [`replication::kv_app`], the `kv::Store` sits on an in-memory
//! disk with `Durability::Never`: Raft's log, on the node's real storage,
//! is what makes a write durable before it is acknowledged, and a restart
//! rebuilds this state from Raft's snapshot and log.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use hnsw::{Hnsw, Metric, Params};
use kv::{Checkpoint, SimDisk, Store, WriteBatch};
use replication::durable::{Decoder, Encoder};
use replication::kv_app::cache_options;
use replication::protocol::Request;
use replication::raft::{App, LogIndex};

use crate::command::{Command, Query, Reply, Search, Vector};
use crate::filter::Filter;

/// Links per node of a set created without `M` (Redis's default).
pub const M_DEFAULT: usize = 16;
/// The construction candidate list of a set created without `EF`.
pub const EF_CONSTRUCTION_DEFAULT: usize = 200;
/// A search's candidate list without `EF`: the larger of this and `COUNT`.
pub const EF_DEFAULT: usize = 100;
/// How far back (in sequence numbers) a session remembers its client's
/// replies: twice what a connection of `vecstore serve` may have in flight.
pub const SESSION_WINDOW: u64 = 4_096;
/// The first eight bytes of a snapshot: its format. The format before
/// sessions had no tag; a snapshot of it is refused, not misread.
const SNAPSHOT_FORMAT: &[u8; 8] = b"vstore/2";
/// The most sessions kept (invariant 6).
pub const SESSIONS_MAX: usize = 10_000;

/// How many threads serve a batch of reads: the machine's cores.
fn read_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| thread::available_parallelism().map_or(1, usize::from))
}

/// The in-memory store has no faults: a failure is a bug.
fn store_bug(what: &str, error: kv::Error) -> ! {
    panic!("vecstore: the in-memory store failed to {what}: {error}")
}

fn corrupt(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

// ANCHOR: layout
/// The metadata record of set `key`: `s` then the key.
fn set_key(key: &[u8]) -> Vec<u8> {
    [b"s".as_slice(), key].concat()
}

/// The record of `element` of set `key`: `e`, the key's length (4 bytes
/// big-endian), the key, the element's name.
fn element_key(key: &[u8], element: &[u8]) -> Vec<u8> {
    let len = (key.len() as u32).to_be_bytes();
    [b"e".as_slice(), &len, key, element].concat()
}

/// An element record's value: id `u64`, the vector's `f32`s, then the
/// attributes' JSON text to the end (empty: none). All little-endian.
fn element_value(id: u64, vector: &[f32], attributes: Option<&str>) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + 4 * vector.len());
    value.extend_from_slice(&id.to_le_bytes());
    for c in vector {
        value.extend_from_slice(&c.to_le_bytes());
    }
    value.extend_from_slice(attributes.unwrap_or("").as_bytes());
    value
}
// ANCHOR_END: layout

/// One element as the set keeps it in memory (its vector is in the index
/// and in its record).
#[derive(Debug, Clone)]
struct Element {
    name: Vec<u8>,
    attributes: Option<String>,
    /// `attributes`, parsed once for FILTER.
    parsed: Option<serde_json::Value>,
}

impl Element {
    fn new(name: Vec<u8>, attributes: Option<String>) -> Element {
        let parsed = attributes
            .as_deref()
            .and_then(|a| serde_json::from_str(a).ok());
        Element {
            name,
            attributes,
            parsed,
        }
    }
}

/// One vector set (a key).
#[derive(Debug, Clone)]
struct VectorSet {
    dimension: usize,
    m: usize,
    ef_construction: usize,
    /// The embedding model of the add that created the set, if it named
    /// one (`MODEL`).
    model: Option<String>,
    /// The id the next added element gets: ids grow with each add, so the
    /// index inserts in id order (invariant 3).
    next_id: u64,
    index: Hnsw,
    by_name: BTreeMap<Vec<u8>, u64>,
    elements: BTreeMap<u64, Element>,
}

impl VectorSet {
    fn params(m: usize, ef_construction: usize) -> Params {
        Params {
            ef_construction,
            ..Params::new(m)
        }
    }

    fn new(dimension: usize, m: usize, ef_construction: usize, model: Option<String>) -> VectorSet {
        let index = Hnsw::new(
            Metric::Cosine,
            dimension,
            VectorSet::params(m, ef_construction),
        )
        .unwrap_or_else(|e| panic!("vecstore: parameters checked at parse time: {e}"));
        VectorSet {
            dimension,
            m,
            ef_construction,
            model,
            next_id: 0,
            index,
            by_name: BTreeMap::new(),
            elements: BTreeMap::new(),
        }
    }

    fn meta(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(20);
        for n in [self.dimension, self.m, self.ef_construction] {
            v.extend_from_slice(&(n as u32).to_le_bytes());
        }
        v.extend_from_slice(&self.next_id.to_le_bytes());
        v.extend_from_slice(self.model.as_deref().unwrap_or("").as_bytes());
        v
    }

    /// Compacts the index once tombstones outnumber live nodes (and there
    /// are at least 64): a deterministic point, so replicas stay equal.
    fn maybe_compact(&mut self) {
        let (nodes, live) = (self.index.nodes(), self.index.len());
        if nodes - live >= 64 && nodes - live > live {
            self.index.compact();
        }
    }

    fn similarity(distance: f32) -> f64 {
        (1.0 - f64::from(distance) / 2.0).clamp(0.0, 1.0)
    }
}

/// `VADD`'s options.
struct Add<'a> {
    attributes: Option<&'a str>,
    m: Option<usize>,
    ef_construction: Option<usize>,
    model: Option<&'a str>,
}

/// One client's record of applied updates (invariant 6).
#[derive(Debug, Clone, Default, PartialEq)]
struct Session {
    /// The log index of the client's last applied update (which session
    /// is forgotten first).
    last_index: LogIndex,
    /// Sequence number → reply, for the client's applied updates within
    /// [`SESSION_WINDOW`] of its newest.
    replies: BTreeMap<u64, Reply>,
}

/// The replicated vector store: named sets of elements (name → vector and
/// JSON attributes), each with its HNSW index, and the clients' sessions
/// (see the invariants above).
pub struct VectorStore {
    store: Store<SimDisk>,
    sets: BTreeMap<Vec<u8>, VectorSet>,
    sessions: BTreeMap<u64, Session>,
}

impl fmt::Debug for VectorStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VectorStore")
            .field("sets", &self.sets.len())
            .field("records", &self.store.len())
            .field("sessions", &self.sessions.len())
            .finish()
    }
}

impl Default for VectorStore {
    fn default() -> Self {
        VectorStore {
            store: Store::open(SimDisk::new(), cache_options())
                .unwrap_or_else(|e| store_bug("open on an empty disk", e)),
            sets: BTreeMap::new(),
            sessions: BTreeMap::new(),
        }
    }
}

impl Clone for VectorStore {
    fn clone(&self) -> Self {
        VectorStore {
            store: Store::restore(SimDisk::new(), &self.checkpoint(), cache_options())
                .unwrap_or_else(|e| store_bug("restore a checkpoint", e)),
            sets: self.sets.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

/// Equal states have equal snapshots (contract 2 of [`App`]).
impl PartialEq for VectorStore {
    fn eq(&self, other: &Self) -> bool {
        self.snapshot() == other.snapshot()
    }
}

impl Eq for VectorStore {}

impl Hash for VectorStore {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.snapshot().hash(state);
    }
}

/// A broken invariant of [`VectorStore`], found by
/// [`VectorStore::check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// Invariant 1: a record that does not decode.
    #[error("invariant 1: record {key:?} does not decode: {detail}")]
    Record {
        /// The record's key.
        key: Vec<u8>,
        /// Why.
        detail: String,
    },
    /// Invariant 1: a set's records and its in-memory elements differ.
    #[error("invariant 1: set {set:?}: {detail}")]
    Elements {
        /// The set.
        set: String,
        /// What differs.
        detail: String,
    },
    /// Invariant 2: a set's index does not hold exactly its elements.
    #[error("invariant 2: set {set:?}: {detail}")]
    Index {
        /// The set.
        set: String,
        /// What differs.
        detail: String,
    },
}

impl Violation {
    /// The number of the broken invariant (module docs).
    pub fn invariant(&self) -> u8 {
        match self {
            Violation::Record { .. } | Violation::Elements { .. } => 1,
            Violation::Index { .. } => 2,
        }
    }
}

/// A set's metadata record: dimension, m, ef_construction, next id,
/// model.
type Meta = (usize, usize, usize, u64, Option<String>);

/// An element as its record says: name, vector (its little-endian `f32`s,
/// left in the record: a restart does not copy every vector once more
/// just to check it), attributes.
type Record<'a> = (&'a [u8], &'a [u8], Option<&'a str>);

/// The components of a record's vector.
fn components(vector: &[u8]) -> impl Iterator<Item = f32> + '_ {
    vector
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
}

/// The sets and their elements as the store's records say.
struct Decoded<'a> {
    /// Per set: its metadata record.
    sets: BTreeMap<Vec<u8>, Meta>,
    /// Per set: id → its record.
    elements: BTreeMap<Vec<u8>, BTreeMap<u64, Record<'a>>>,
}

fn decode_records(entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Decoded<'_>, Violation> {
    let bad = |key: &[u8], detail: &str| Violation::Record {
        key: key.to_vec(),
        detail: detail.into(),
    };
    let mut decoded = Decoded {
        sets: BTreeMap::new(),
        elements: BTreeMap::new(),
    };
    type Raw<'a> = Vec<(u64, &'a [u8], &'a [u8])>;
    let mut raw: BTreeMap<Vec<u8>, Raw<'_>> = BTreeMap::new();
    for (key, value) in entries {
        match key.first() {
            Some(b's') => {
                if value.len() < 20 {
                    return Err(bad(key, "set metadata is shorter than 20 bytes"));
                }
                let model = std::str::from_utf8(&value[20..])
                    .map_err(|_| bad(key, "the set's model name is not UTF-8"))?;
                let model = (!model.is_empty()).then(|| model.to_string());
                let u32_at =
                    |i: usize| u32::from_le_bytes(value[i..i + 4].try_into().expect("4")) as usize;
                let next_id = u64::from_le_bytes(value[12..20].try_into().expect("8"));
                decoded.sets.insert(
                    key[1..].to_vec(),
                    (u32_at(0), u32_at(4), u32_at(8), next_id, model),
                );
            }
            Some(b'e') => {
                let len = key
                    .get(1..5)
                    .map(|b| u32::from_be_bytes(b.try_into().expect("4")) as usize)
                    .ok_or_else(|| bad(key, "element key too short"))?;
                let set = key
                    .get(5..5 + len)
                    .ok_or_else(|| bad(key, "element key shorter than its set name"))?;
                let name = &key[5 + len..];
                if value.len() < 8 {
                    return Err(bad(key, "element value too short"));
                }
                let id = u64::from_le_bytes(value[..8].try_into().expect("8"));
                raw.entry(set.to_vec())
                    .or_default()
                    .push((id, name, &value[8..]));
            }
            _ => return Err(bad(key, "unknown record kind")),
        }
    }
    // Split each element's value into the vector and the attributes, now
    // that the sets' dimensions are known.
    for (set, elements) in raw {
        let name_of = |set: &[u8]| String::from_utf8_lossy(set).into_owned();
        let &(dimension, ..) = decoded.sets.get(&set).ok_or_else(|| Violation::Elements {
            set: name_of(&set),
            detail: "elements without a set record".into(),
        })?;
        let mut by_id = BTreeMap::new();
        for (id, name, value) in elements {
            if value.len() < 4 * dimension {
                return Err(Violation::Elements {
                    set: name_of(&set),
                    detail: format!(
                        "element {id} ({name:?}) has fewer than {dimension} components"
                    ),
                });
            }
            let vector = &value[..4 * dimension];
            let text =
                std::str::from_utf8(&value[4 * dimension..]).map_err(|_| Violation::Elements {
                    set: name_of(&set),
                    detail: format!("element {id}'s attributes are not UTF-8"),
                })?;
            let attributes = (!text.is_empty()).then_some(text);
            if by_id.insert(id, (name, vector, attributes)).is_some() {
                return Err(Violation::Elements {
                    set: name_of(&set),
                    detail: format!("id {id} is used twice"),
                });
            }
        }
        decoded.elements.insert(set, by_id);
    }
    Ok(decoded)
}

impl VectorStore {
    fn checkpoint(&self) -> Checkpoint {
        self.store
            .checkpoint()
            .unwrap_or_else(|e| store_bug("checkpoint", e))
    }

    /// How many sets (keys) the store holds.
    pub fn sets(&self) -> usize {
        self.sets.len()
    }

    /// The live elements of set `key` (0 if there is no such set).
    pub fn card(&self, key: &[u8]) -> usize {
        self.sets.get(key).map_or(0, |s| s.elements.len())
    }

    /// How many clients' sessions the store keeps (invariant 6).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The recorded answer to `request` if it is an update its client's
    /// session has seen applied; an error if it is too old for the session
    /// to know (invariant 6); `None` if it must be applied.
    fn recorded(&self, request: &Request<Command>) -> Option<Reply> {
        if request.id.client == 0 || request.command.is_read() {
            return None;
        }
        let session = self.sessions.get(&request.id.client)?;
        if let Some(reply) = session.replies.get(&request.id.seq) {
            return Some(reply.clone());
        }
        let (&newest, _) = session.replies.last_key_value()?;
        (request.id.seq.saturating_add(SESSION_WINDOW) <= newest).then(|| {
            Reply::error(format!(
                "ERR request {} of this connection is older than the last {SESSION_WINDOW} it sent: whether it applied is no longer known",
                request.id.seq
            ))
        })
    }

    /// Records the reply to an update just applied at `index` (invariant
    /// 6), forgetting what falls out of the window and, past
    /// [`SESSIONS_MAX`], the session whose last update is oldest.
    fn remember(&mut self, index: LogIndex, request: &Request<Command>, reply: &Reply) {
        if request.id.client == 0 {
            return;
        }
        let session = self.sessions.entry(request.id.client).or_default();
        session.last_index = index;
        session.replies.insert(request.id.seq, reply.clone());
        let newest = session.replies.last_key_value().map_or(0, |(&seq, _)| seq);
        while let Some((&oldest, _)) = session.replies.first_key_value()
            && oldest.saturating_add(SESSION_WINDOW) <= newest
        {
            session.replies.pop_first();
        }
        if self.sessions.len() > SESSIONS_MAX
            && let Some(client) = self
                .sessions
                .iter()
                .min_by_key(|&(&client, s)| (s.last_index, client))
                .map(|(&client, _)| client)
        {
            self.sessions.remove(&client);
        }
    }

    /// The index of set `key`, for tests that compare replicas' graphs.
    pub fn index(&self, key: &[u8]) -> Option<&Hnsw> {
        self.sets.get(key).map(|s| &s.index)
    }

    /// Checks invariants 1 and 2: the records decode, the in-memory sets
    /// match them, and each index holds exactly its set's live elements
    /// with their vectors, and passes its own checker.
    ///
    /// # Errors
    ///
    /// The first [`Violation`].
    pub fn check_invariants(&self) -> Result<(), Violation> {
        self.check_against(&decode_records(&self.checkpoint().entries)?, true)
    }

    /// Invariants 1 and 2 against `decoded`, the store's records (which
    /// [`App::restore`] has decoded already); `graphs`: also run each
    /// index's own checker (which [`Hnsw::from_bytes`] has run already when
    /// `restore` calls this).
    fn check_against(&self, decoded: &Decoded<'_>, graphs: bool) -> Result<(), Violation> {
        let no_elements = BTreeMap::new();
        let name = |set: &[u8]| String::from_utf8_lossy(set).into_owned();
        if decoded.sets.len() != self.sets.len() {
            return Err(Violation::Elements {
                set: String::new(),
                detail: format!(
                    "{} set records but {} sets in memory",
                    decoded.sets.len(),
                    self.sets.len()
                ),
            });
        }
        for (key, set) in &self.sets {
            let elements = decoded.elements.get(key).unwrap_or(&no_elements);
            let meta = decoded.sets.get(key).cloned();
            let memory = (
                set.dimension,
                set.m,
                set.ef_construction,
                set.next_id,
                set.model.clone(),
            );
            if meta != Some(memory) {
                return Err(Violation::Elements {
                    set: name(key),
                    detail: format!("metadata record {meta:?} differs from memory"),
                });
            }
            if elements.len() != set.elements.len() || elements.is_empty() {
                return Err(Violation::Elements {
                    set: name(key),
                    detail: format!(
                        "{} element records, {} in memory",
                        elements.len(),
                        set.elements.len()
                    ),
                });
            }
            for (id, (element_name, vector, attributes)) in elements {
                let ok = set.elements.get(id).is_some_and(|e| {
                    e.name == *element_name && e.attributes.as_deref() == *attributes
                }) && set.by_name.get(*element_name) == Some(id)
                    && *id < set.next_id;
                if !ok {
                    return Err(Violation::Elements {
                        set: name(key),
                        detail: format!("element {id} ({element_name:?}) differs from memory"),
                    });
                }
                let stored = set.index.vector(*id).ok_or_else(|| Violation::Index {
                    set: name(key),
                    detail: format!("element {id} is not live in the index"),
                })?;
                let norm = components(vector).map(|c| c * c).sum::<f32>().sqrt();
                let close = stored
                    .iter()
                    .zip(components(vector))
                    .all(|(s, v)| (s - v / norm).abs() <= 1e-5);
                if !close {
                    return Err(Violation::Index {
                        set: name(key),
                        detail: format!("element {id}'s vector differs from its record"),
                    });
                }
            }
            if set.index.len() != elements.len() {
                return Err(Violation::Index {
                    set: name(key),
                    detail: format!(
                        "{} live ids in the index, {} elements",
                        set.index.len(),
                        elements.len()
                    ),
                });
            }
            if graphs {
                set.index.check_invariants().map_err(|v| Violation::Index {
                    set: name(key),
                    detail: v.to_string(),
                })?;
            }
        }
        Ok(())
    }

    // ANCHOR: add
    fn add(&mut self, key: &[u8], element: &[u8], vector: &Vector, how: Add<'_>) -> Reply {
        // BEGIN LAB vecstore-apply
        let Add {
            attributes,
            m,
            ef_construction,
            model,
        } = how;
        let components = vector.components();
        // Invariant 5: every check before the first write.
        if let Some(set) = self.sets.get(key)
            && set.dimension != components.len()
        {
            return Reply::error(format!(
                "ERR Vector dimension mismatch - got {} but set has {}",
                components.len(),
                set.dimension
            ));
        }
        if components.iter().all(|&c| c == 0.0) {
            return Reply::error(
                "ERR the zero vector has no direction: cosine similarity to it is undefined",
            );
        }
        let limit = self.store.options().key_len_max as usize;
        if element_key(key, element).len() > limit {
            return Reply::error(format!(
                "ERR key and element name are {} bytes together; at most {} are allowed",
                key.len() + element.len(),
                limit - 5
            ));
        }
        if let (Some(set), Some(model)) = (self.sets.get(key), model)
            && set.model.as_deref() != Some(model)
        {
            return Reply::error(format!(
                "ERR model mismatch - got vectors of '{model}' but set holds {}: embed with the set's model, or use another key",
                set.model
                    .as_ref()
                    .map_or("vectors added without MODEL".to_string(), |m| format!(
                        "'{m}' embeddings"
                    ))
            ));
        }
        let set = self.sets.entry(key.to_vec()).or_insert_with(|| {
            VectorSet::new(
                components.len(),
                m.unwrap_or(M_DEFAULT),
                ef_construction.unwrap_or(EF_CONSTRUCTION_DEFAULT),
                model.map(str::to_string),
            )
        });
        let previous = set.by_name.get(element).copied();
        let attributes = match (attributes, previous) {
            (Some(a), _) => Some(a.to_string()),
            (None, Some(old)) => set.elements[&old].attributes.clone(),
            (None, None) => None,
        };
        // A replaced element gets a new id: its old node becomes a
        // tombstone, and inserts stay in id order (invariant 3).
        let id = set.next_id;
        set.next_id += 1;
        if let Some(old) = previous {
            set.index
                .remove(old)
                .unwrap_or_else(|e| panic!("vecstore: element {old} not in its index: {e}"));
            set.elements.remove(&old);
        }
        set.index
            .insert(id, components)
            .unwrap_or_else(|e| panic!("vecstore: an insert checked beforehand failed: {e}"));
        set.by_name.insert(element.to_vec(), id);
        set.elements
            .insert(id, Element::new(element.to_vec(), attributes.clone()));
        set.maybe_compact();
        let mut batch = WriteBatch::new();
        batch.put(set_key(key), set.meta());
        batch.put(
            element_key(key, element),
            element_value(id, components, attributes.as_deref()),
        );
        self.store
            .write_batch(batch)
            .unwrap_or_else(|e| store_bug("add an element", e));
        Reply::Integer(i64::from(previous.is_none()))
        // END LAB
    }
    // ANCHOR_END: add

    fn remove(&mut self, key: &[u8], element: &[u8]) -> Reply {
        // BEGIN LAB vecstore-apply
        let Some(set) = self.sets.get_mut(key) else {
            return Reply::Integer(0);
        };
        let Some(id) = set.by_name.remove(element) else {
            return Reply::Integer(0);
        };
        set.elements.remove(&id);
        set.index
            .remove(id)
            .unwrap_or_else(|e| panic!("vecstore: element {id} not in its index: {e}"));
        set.maybe_compact();
        let mut batch = WriteBatch::new();
        batch.delete(element_key(key, element));
        if set.elements.is_empty() {
            // Redis deletes a set with its last element.
            self.sets.remove(key);
            batch.delete(set_key(key));
        }
        self.store
            .write_batch(batch)
            .unwrap_or_else(|e| store_bug("remove an element", e));
        Reply::Integer(1)
        // END LAB
    }

    fn set_attributes(&mut self, key: &[u8], element: &[u8], attributes: &str) -> Reply {
        let Some(set) = self.sets.get_mut(key) else {
            return Reply::Integer(0);
        };
        let Some(&id) = set.by_name.get(element) else {
            return Reply::Integer(0);
        };
        let attributes = (!attributes.is_empty()).then(|| attributes.to_string());
        let vector = self.element_vector(key, element);
        let set = self.sets.get_mut(key).expect("looked up above");
        set.elements
            .insert(id, Element::new(element.to_vec(), attributes.clone()));
        self.store
            .put(
                &element_key(key, element),
                &element_value(id, &vector, attributes.as_deref()),
            )
            .unwrap_or_else(|e| store_bug("set attributes", e));
        Reply::Integer(1)
    }

    /// The vector an element was added with, from its record.
    fn element_vector(&self, key: &[u8], element: &[u8]) -> Vec<f32> {
        let dimension = self.sets[key].dimension;
        let value = self
            .store
            .get(&element_key(key, element))
            .unwrap_or_else(|e| store_bug("read an element", e))
            .unwrap_or_else(|| panic!("vecstore: element {element:?} has no record"));
        value[8..8 + 4 * dimension]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4")))
            .collect()
    }

    // ANCHOR: similar
    fn similar(&self, key: &[u8], search: &Search) -> Reply {
        let Some(set) = self.sets.get(key) else {
            return Reply::Array(Some(Vec::new()));
        };
        let query: Vec<f32> = match &search.query {
            Query::Element(name) => match set.by_name.get(name) {
                Some(&id) => set
                    .index
                    .vector(id)
                    .map(<[f32]>::to_vec)
                    .unwrap_or_default(),
                None => return Reply::error("ERR element not found in set"),
            },
            Query::Vector(v) => v.components().to_vec(),
        };
        if query.len() != set.dimension {
            return Reply::error(format!(
                "ERR Vector dimension mismatch - got {} but set has {}",
                query.len(),
                set.dimension
            ));
        }
        if query.iter().all(|&c| c == 0.0) {
            return Reply::error("ERR the zero vector has no direction: it has no neighbours");
        }
        let filter = match search.filter.as_deref().map(Filter::parse) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return Reply::error(format!("ERR syntax error in FILTER: {e}")),
        };
        let allow = |id: u64| match &filter {
            None => true,
            Some(f) => f.matches(set.elements.get(&id).and_then(|e| e.parsed.as_ref())),
        };
        let found: Vec<(u64, f32)> = if search.truth {
            exact(set, &query, search.count, allow)
        } else {
            let ef = search.ef.unwrap_or(EF_DEFAULT).max(search.count);
            match set.index.search_filtered(&query, search.count, ef, allow) {
                Ok(found) => found.iter().map(|n| (n.id, n.distance)).collect(),
                Err(e) => return Reply::error(format!("ERR {e}")),
            }
        };
        let floor = search
            .epsilon_bits
            .map_or(0.0, |bits| 1.0 - f64::from_bits(bits));
        // Names only: an array. With scores or attributes: a map from name
        // to them (a flat array in RESP2), as Redis answers.
        let mut names = Vec::new();
        let mut map = Vec::new();
        for (id, distance) in found {
            let score = VectorSet::similarity(distance);
            if score < floor {
                continue;
            }
            let element = &set.elements[&id];
            let name = Reply::Bulk(Some(element.name.clone()));
            let mut values = Vec::new();
            if search.with_scores {
                values.push(Reply::double(score));
            }
            if search.with_attributes {
                values.push(Reply::Bulk(
                    element.attributes.as_ref().map(|a| a.clone().into_bytes()),
                ));
            }
            if values.is_empty() {
                names.push(name);
            } else {
                map.push((name, values));
            }
        }
        if search.with_scores || search.with_attributes {
            Reply::Map(map)
        } else {
            Reply::Array(Some(names))
        }
    }
    // ANCHOR_END: similar

    fn info(&self, key: &[u8]) -> Reply {
        let Some(set) = self.sets.get(key) else {
            return Reply::Array(None);
        };
        let max_level = set
            .index
            .entry_point()
            .and_then(|e| set.index.level(e))
            .unwrap_or(0);
        let model = set.model.as_ref().map(|m| m.clone().into_bytes());
        let pairs: [(&str, Reply); 9] = [
            ("quant-type", Reply::text("f32")),
            ("distance", Reply::text("cosine")),
            ("vector-dim", Reply::Integer(set.dimension as i64)),
            ("size", Reply::Integer(set.elements.len() as i64)),
            ("max-level", Reply::Integer(max_level as i64)),
            ("hnsw-m", Reply::Integer(set.m as i64)),
            (
                "ef-construction",
                Reply::Integer(set.ef_construction as i64),
            ),
            ("index-nodes", Reply::Integer(set.index.nodes() as i64)),
            ("model", Reply::Bulk(model)),
        ];
        Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::text(k), vec![v]))
                .collect(),
        )
    }

    /// Answers a read-only command from the current state.
    fn answer(&self, command: &Command) -> Reply {
        match command {
            Command::Similar { key, search } => self.similar(key, search),
            Command::Card { key } => Reply::Integer(self.card(key) as i64),
            Command::Dim { key } => match self.sets.get(key) {
                Some(set) => Reply::Integer(set.dimension as i64),
                None => Reply::error("ERR key does not exist"),
            },
            Command::Embedding { key, element } => {
                match self.sets.get(key).and_then(|s| s.by_name.get(element)) {
                    // Each component as the double nearest the shortest
                    // text that reads back as the same f32, so RESP2
                    // prints exactly that text: the vector added.
                    Some(_) => Reply::Array(Some(
                        self.element_vector(key, element)
                            .into_iter()
                            .map(|c| Reply::double(format!("{c}").parse().unwrap_or(f64::from(c))))
                            .collect(),
                    )),
                    None => Reply::Array(None),
                }
            }
            Command::GetAttributes { key, element } => Reply::Bulk(
                self.sets
                    .get(key)
                    .and_then(|s| s.by_name.get(element).map(|id| &s.elements[id]))
                    .and_then(|e| e.attributes.as_ref())
                    .map(|a| a.clone().into_bytes()),
            ),
            Command::Info { key } => self.info(key),
            Command::Add { .. } | Command::Remove { .. } | Command::SetAttributes { .. } => {
                Reply::error("ERR internal: an update served as a read")
            }
        }
    }
}

/// The `count` elements nearest to `query` (normalised by the caller's
/// index) that `allow` accepts, by a scan of every live element: `TRUTH`.
fn exact(
    set: &VectorSet,
    query: &[f32],
    count: usize,
    mut allow: impl FnMut(u64) -> bool,
) -> Vec<(u64, f32)> {
    let norm = query.iter().map(|c| c * c).sum::<f32>().sqrt();
    let query: Vec<f32> = query.iter().map(|c| c / norm).collect();
    let mut all: Vec<(u64, f32)> = set
        .elements
        .keys()
        .filter(|&&id| allow(id))
        .filter_map(|&id| {
            let v = set.index.vector(id)?;
            Some((id, Metric::Cosine.distance(&query, v)))
        })
        .collect();
    all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    all.truncate(count);
    all
}

/// Reads the session table of a snapshot, refusing one that breaks
/// invariant 6's bounds (too many sessions, replies out of order or
/// outside the window).
fn decode_sessions(d: &mut Decoder<'_>) -> io::Result<BTreeMap<u64, Session>> {
    let count = d.u64()?;
    if count > SESSIONS_MAX as u64 {
        return Err(corrupt(format!(
            "vecstore snapshot: {count} sessions, more than {SESSIONS_MAX}"
        )));
    }
    let mut sessions = BTreeMap::new();
    let mut previous = None;
    for _ in 0..count {
        let client = d.u64()?;
        if client == 0 || previous.is_some_and(|p| p >= client) {
            return Err(corrupt(format!(
                "vecstore snapshot: session of client {client} out of order"
            )));
        }
        previous = Some(client);
        let last_index = d.u64()?;
        let replies = d.u64()?;
        if replies == 0 || replies > SESSION_WINDOW {
            return Err(corrupt(format!(
                "vecstore snapshot: client {client} has {replies} replies"
            )));
        }
        let mut session = Session {
            last_index,
            replies: BTreeMap::new(),
        };
        for _ in 0..replies {
            let seq = d.u64()?;
            let reply = crate::codec::decode_reply(d, 0)?;
            if session
                .replies
                .last_key_value()
                .is_some_and(|(&s, _)| s >= seq)
            {
                return Err(corrupt(format!(
                    "vecstore snapshot: client {client}'s replies out of order"
                )));
            }
            session.replies.insert(seq, reply);
        }
        let span = session.replies.last_key_value().map_or(0, |(&s, _)| s)
            - session.replies.first_key_value().map_or(0, |(&s, _)| s);
        if span >= SESSION_WINDOW {
            return Err(corrupt(format!(
                "vecstore snapshot: client {client}'s replies span {span} sequence numbers"
            )));
        }
        sessions.insert(client, session);
    }
    Ok(sessions)
}

// ANCHOR: app
impl App for VectorStore {
    type Command = Command;
    type Output = Reply;

    fn apply(&mut self, index: LogIndex, request: &Request<Command>) -> Reply {
        if let Some(reply) = self.recorded(request) {
            return reply;
        }
        let reply = match &request.command {
            Command::Add {
                key,
                element,
                vector,
                attributes,
                m,
                ef_construction,
                model,
            } => {
                let how = Add {
                    attributes: attributes.as_deref(),
                    m: *m,
                    ef_construction: *ef_construction,
                    model: model.as_deref(),
                };
                self.add(key, element, vector, how)
            }
            Command::Remove { key, element } => self.remove(key, element),
            Command::SetAttributes {
                key,
                element,
                attributes,
            } => self.set_attributes(key, element, attributes),
            read => return self.answer(read),
        };
        self.remember(index, request, &reply);
        reply
    }

    fn cached_reply(&self, request: &Request<Command>) -> Option<Reply> {
        self.recorded(request)
    }

    fn is_read(command: &Command) -> bool {
        command.is_read()
    }

    fn read(&self, command: &Command) -> Reply {
        self.answer(command)
    }

    /// Searches are most of a server's work and touch only `&self`: a
    /// batch with two or more `VSIM`s is spread over the machine's cores
    /// (each answer is the one [`App::read`] gives; contract 5).
    fn read_batch(&self, commands: &[&Command]) -> Vec<Reply> {
        let searches = commands
            .iter()
            .filter(|c| matches!(c, Command::Similar { .. }))
            .count();
        let threads = read_threads().min(searches);
        if threads <= 1 {
            return commands.iter().map(|c| self.answer(c)).collect();
        }
        // Each thread takes the next unanswered command, so a slow search
        // does not hold up the commands after it.
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(command) = commands.get(i) else {
                    return done;
                };
                done.push((i, self.answer(command)));
            }
        };
        let mut answers: Vec<Option<Reply>> = vec![None; commands.len()];
        thread::scope(|scope| {
            let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
            let mut parts = vec![work()];
            for helper in helpers {
                parts.push(
                    helper
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                );
            }
            for (i, answer) in parts.into_iter().flatten() {
                answers[i] = Some(answer);
            }
        });
        answers
            .into_iter()
            .map(|a| a.expect("every command was answered"))
            .collect()
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut e = Encoder::new()
            .u64(u64::from_le_bytes(*SNAPSHOT_FORMAT))
            .u64(self.sets.len() as u64);
        for (key, set) in &self.sets {
            e = e.bytes(key).bytes(&set.index.to_bytes());
        }
        e = e.u64(self.sessions.len() as u64);
        for (&client, session) in &self.sessions {
            e = e
                .u64(client)
                .u64(session.last_index)
                .u64(session.replies.len() as u64);
            for (&seq, reply) in &session.replies {
                e = crate::codec::encode_reply(reply, e.u64(seq));
            }
        }
        e.tail(&self.checkpoint().encode()).finish()
    }

    fn restore(bytes: &[u8]) -> io::Result<Self> {
        let mut d = Decoder::new(bytes);
        if d.u64()? != u64::from_le_bytes(*SNAPSHOT_FORMAT) {
            return Err(corrupt(format!(
                "not a vecstore snapshot of format {:?} (a data directory of an older build cannot be opened by this one)",
                String::from_utf8_lossy(SNAPSHOT_FORMAT)
            )));
        }
        let count = d.u64()?;
        let mut indexes = BTreeMap::new();
        for _ in 0..count {
            let key = d.bytes()?.to_vec();
            let index = Hnsw::from_bytes(d.bytes()?)
                .map_err(|e| corrupt(format!("vecstore snapshot: index of {key:?}: {e}")))?;
            indexes.insert(key, index);
        }
        let sessions = decode_sessions(&mut d)?;
        let checkpoint =
            Checkpoint::decode(d.rest()).map_err(|e| corrupt(format!("vecstore snapshot: {e}")))?;
        let decoded = decode_records(&checkpoint.entries)
            .map_err(|v| corrupt(format!("vecstore snapshot: {v}")))?;
        if decoded.sets.len() != indexes.len() {
            return Err(corrupt(format!(
                "vecstore snapshot: {} sets but {} indexes",
                decoded.sets.len(),
                indexes.len()
            )));
        }
        let mut sets = BTreeMap::new();
        for (key, (dimension, m, ef_construction, next_id, model)) in &decoded.sets {
            let index = indexes
                .remove(key)
                .ok_or_else(|| corrupt(format!("vecstore snapshot: no index for {key:?}")))?;
            let mut set = VectorSet {
                dimension: *dimension,
                m: *m,
                ef_construction: *ef_construction,
                model: model.clone(),
                next_id: *next_id,
                index,
                by_name: BTreeMap::new(),
                elements: BTreeMap::new(),
            };
            for (&id, &(name, _, attributes)) in decoded.elements.get(key).into_iter().flatten() {
                set.by_name.insert(name.to_vec(), id);
                set.elements.insert(
                    id,
                    Element::new(name.to_vec(), attributes.map(str::to_string)),
                );
            }
            sets.insert(key.clone(), set);
        }
        let store = Store::restore(SimDisk::new(), &checkpoint, cache_options())
            .map_err(|e| corrupt(format!("vecstore snapshot: {e}")))?;
        let restored = VectorStore {
            store,
            sets,
            sessions,
        };
        // Invariants 1 and 2 against the records decoded above (not a
        // second checkpoint of the store just restored from them); each
        // graph passed its own checker in `Hnsw::from_bytes`.
        restored
            .check_against(&decoded, false)
            .map_err(|v| corrupt(format!("vecstore snapshot: {v}")))?;
        Ok(restored)
    }

    fn encode_command(command: &Command, e: Encoder) -> Encoder {
        crate::codec::encode(command, e)
    }

    fn decode_command(d: &mut Decoder<'_>) -> io::Result<Command> {
        crate::codec::decode(d)
    }
}
// ANCHOR_END: app
