//! [`KvApp`]: Raft replicating a real [`kv::Store`] (Part II's
//! log-structured store) instead of an in-memory map.
//!
//! It speaks the register's language (Read / Write / Cas on `u32` keys and
//! `i64` values, [`Reply`]), so the simulator, its workload and its
//! checkers run it unchanged: `sim run --protocol raft --app kv`. Each
//! command becomes a `get` or `put` on the store; a key is its 4 bytes
//! big-endian (so the store's order is the keys' order), a value its 8
//! bytes little-endian. Updates are exactly-once through the same client
//! session table as the [`Register`](crate::register::Register)'s.
//!
//! # Where the store lives, and why `Durability::Never` is safe
//!
//! The store is opened with [`Durability::Never`] on a [`SimDisk`] of its
//! own, in memory, that nothing ever crashes: it is a cache of the
//! replicated state, not a durable record. Correctness rests on these
//! invariants:
//!
//! 1. **Raft's log is the durable record.** A client hears `Done` only for
//!    an entry that is committed, and committed entries are synced to the
//!    node's Raft log (on its own `SimDisk`, which the simulator crashes)
//!    before any reply or message that depends on them leaves the node.
//! 2. **The store holds nothing Raft cannot rebuild.** Its contents are
//!    exactly the snapshot's state plus the entries applied after it, so
//!    losing the store loses no acknowledged write.
//! 3. **A restart rebuilds the store from scratch.** On start Raft calls
//!    [`App::restore`] with its snapshot's bytes: a fresh, empty disk is
//!    restored from the checkpoint in them (the old store is not reused, so
//!    no unsynced suffix of it can leak into the new state), then the
//!    committed entries after the snapshot are applied again.
//! 4. **Equal histories give byte-equal stores.** Applying is
//!    deterministic (contract 1 of [`App`]): writes are numbered one by one
//!    and reads and failed CASes write nothing, so replicas that applied
//!    the same entries have the same checkpoint, sequence number included;
//!    [`KvApp::checkpoint_digest`] lets a test compare them after healing.
//!
//! What this module deliberately does not do: share the node's disk
//! (`kv::Prefixed`) with the Raft log. [`App::restore`] receives bytes and
//! no storage, so the store cannot be opened on the node's `SimDisk`
//! without changing the `App` trait; with `Durability::Never` the
//! difference is only where the cache's bytes sit (invariant 3).
//!
//! # Snapshot layout
//!
//! Little-endian (see [`Encoder`]): session count `u64`, then per client in
//! order client `u64`, seq `u64`, reply (as the register's); then, to the
//! end, the store's [`Checkpoint::encode`] bytes (checksummed).
//!
//! # Cost
//!
//! `apply` is one `put` (a record appended in memory and an AVL insert) or
//! one `get`. `snapshot`, `Clone`, `PartialEq` and `Hash` each take a
//! checkpoint (every live key and value); Raft takes them only when it
//! snapshots (every `snapshot_threshold_entries`) or sends an
//! InstallSnapshot, and the simulator hashes that message into its trace.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;

use kv::{Checkpoint, Durability, ManualClock, Options, SimDisk, Store};

use crate::durable::{Decoder, Encoder, decode_command, encode_command};
use crate::protocol::{Command, Key, Rejection, Reply, Request, Value};
use crate::raft::{App, LogIndex, RegisterApp};
use crate::register::{Session, decode_reply, encode_reply};

/// The clock the stores' group commit would read: never advanced by
/// anything but the store itself, since `Durability::Never` never waits.
static CLOCK: ManualClock = ManualClock::new();

/// The options of a store that caches replicated state Raft can rebuild
/// (invariants 1–3 above): `Durability::Never`, and a clock nothing
/// advances. `vecstore`'s state machine keeps its elements the same way.
pub fn cache_options() -> Options {
    Options {
        durability: Durability::Never,
        clock: &CLOCK,
        ..Options::default()
    }
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// A failure of the in-memory store, which has no faults: a bug.
fn store_bug(what: &str, error: kv::Error) -> ! {
    panic!("kv_app: the in-memory store failed to {what}: {error}")
}

fn key_bytes(key: Key) -> [u8; 4] {
    key.to_be_bytes()
}

fn value_of(bytes: &[u8]) -> Value {
    let bytes: [u8; 8] = bytes
        .try_into()
        .unwrap_or_else(|_| panic!("kv_app: a stored value of {} bytes", bytes.len()));
    Value::from_le_bytes(bytes)
}

/// A `kv::Store` as a Raft application, with the client session table.
pub struct KvApp {
    store: Store<SimDisk>,
    sessions: BTreeMap<u64, Session>,
}

impl fmt::Debug for KvApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvApp")
            .field("kv", &self.register_state())
            .field("sessions", &self.sessions)
            .finish()
    }
}

impl Default for KvApp {
    fn default() -> Self {
        let store = Store::open(SimDisk::new(), cache_options())
            .unwrap_or_else(|e| store_bug("open on an empty disk", e));
        KvApp {
            store,
            sessions: BTreeMap::new(),
        }
    }
}

impl KvApp {
    /// The store's checkpoint: every key and value, and its sequence
    /// number (invariant 4).
    pub fn checkpoint(&self) -> Checkpoint {
        self.store
            .checkpoint()
            .unwrap_or_else(|e| store_bug("checkpoint", e))
    }

    /// A 64-bit FNV-1a digest of the store's checkpoint bytes: replicas
    /// that applied the same entries have the same digest (invariant 4).
    pub fn checkpoint_digest(&self) -> u64 {
        self.checkpoint()
            .encode()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            })
    }

    /// The store underneath (tests check its invariants).
    pub fn store(&self) -> &Store<SimDisk> {
        &self.store
    }

    fn get(&self, key: Key) -> Option<Value> {
        self.store
            .get(&key_bytes(key))
            .unwrap_or_else(|e| store_bug("get", e))
            .map(|v| value_of(&v))
    }

    fn put(&mut self, key: Key, value: Value) {
        self.store
            .put(&key_bytes(key), &value.to_le_bytes())
            .unwrap_or_else(|e| store_bug("put", e));
    }

    /// The reply already given to `request` if it is an update this store
    /// has applied; `Some(Uncertain)` for one older than the client's last.
    fn session_reply(&self, request: &Request) -> Option<Reply> {
        if !request.command.is_update() {
            return None;
        }
        let session = self.sessions.get(&request.id.client)?;
        match session.seq.cmp(&request.id.seq) {
            std::cmp::Ordering::Equal => Some(session.reply),
            std::cmp::Ordering::Greater => Some(Reply::Uncertain),
            std::cmp::Ordering::Less => None,
        }
    }
}

impl Clone for KvApp {
    /// A new store on a new disk, restored from this one's checkpoint.
    fn clone(&self) -> Self {
        let store = Store::restore(SimDisk::new(), &self.checkpoint(), cache_options())
            .unwrap_or_else(|e| store_bug("restore a checkpoint", e));
        KvApp {
            store,
            sessions: self.sessions.clone(),
        }
    }
}

impl PartialEq for KvApp {
    /// Equal sessions and byte-equal checkpoints.
    fn eq(&self, other: &Self) -> bool {
        self.sessions == other.sessions && self.checkpoint() == other.checkpoint()
    }
}

impl Eq for KvApp {}

impl Hash for KvApp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.sessions.hash(state);
        self.checkpoint().encode().hash(state);
    }
}

impl App for KvApp {
    type Command = Command;
    type Output = Reply;

    fn apply(&mut self, _index: LogIndex, request: &Request) -> Reply {
        if let Some(reply) = self.session_reply(request) {
            return reply;
        }
        let reply = match request.command {
            Command::Read { key } => Reply::Read(self.get(key)),
            Command::Write { key, value } => {
                self.put(key, value);
                Reply::Done
            }
            Command::Cas { key, expected, new } => {
                let found = self.get(key);
                if found == Some(expected) {
                    self.put(key, new);
                    Reply::Done
                } else {
                    Reply::Rejected(Rejection::CasMismatch { found })
                }
            }
        };
        if request.command.is_update() {
            let seq = request.id.seq;
            self.sessions
                .insert(request.id.client, Session { seq, reply });
        }
        reply
    }

    fn cached_reply(&self, request: &Request) -> Option<Reply> {
        self.session_reply(request)
    }

    fn is_read(command: &Command) -> bool {
        !command.is_update()
    }

    fn read(&self, command: &Command) -> Reply {
        Reply::Read(self.get(command.key()))
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut e = Encoder::new().u64(self.sessions.len() as u64);
        for (&client, session) in &self.sessions {
            e = encode_reply(e.u64(client).u64(session.seq), &session.reply);
        }
        e.tail(&self.checkpoint().encode()).finish()
    }

    fn restore(bytes: &[u8]) -> io::Result<Self> {
        let mut d = Decoder::new(bytes);
        let mut sessions = BTreeMap::new();
        for _ in 0..d.u64()? {
            let client = d.u64()?;
            let seq = d.u64()?;
            let reply = decode_reply(&mut d)?;
            sessions.insert(client, Session { seq, reply });
        }
        let checkpoint =
            Checkpoint::decode(d.rest()).map_err(|e| corrupt(format!("kv_app snapshot: {e}")))?;
        for (key, value) in &checkpoint.entries {
            if key.len() != 4 || value.len() != 8 {
                return Err(corrupt(format!(
                    "kv_app snapshot: an entry of {} key and {} value bytes (want 4 and 8)",
                    key.len(),
                    value.len()
                )));
            }
        }
        if checkpoint.seq == u64::MAX {
            return Err(corrupt("kv_app snapshot: sequence number u64::MAX".into()));
        }
        // Invariant 3: a fresh disk, never the old store's.
        let store = Store::restore(SimDisk::new(), &checkpoint, cache_options())
            .map_err(|e| corrupt(format!("kv_app snapshot: {e}")))?;
        Ok(KvApp { store, sessions })
    }

    fn encode_command(command: &Command, e: Encoder) -> Encoder {
        encode_command(e, command)
    }

    fn decode_command(d: &mut Decoder<'_>) -> io::Result<Command> {
        decode_command(d)
    }

    fn premature_reply(command: &Command) -> Option<Reply> {
        command.is_update().then_some(Reply::Done)
    }
}

impl RegisterApp for KvApp {
    fn register_state(&self) -> BTreeMap<Key, Value> {
        let checkpoint = self.checkpoint();
        checkpoint
            .entries
            .iter()
            .map(|(k, v)| {
                let k: [u8; 4] = k
                    .as_slice()
                    .try_into()
                    .unwrap_or_else(|_| panic!("kv_app: a stored key of {} bytes", k.len()));
                (Key::from_be_bytes(k), value_of(v))
            })
            .collect()
    }

    fn state_digest(&self) -> Option<u64> {
        Some(self.checkpoint_digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RequestId;
    use crate::register::Register;

    fn req(client: u64, seq: u64, command: Command) -> Request {
        Request {
            id: RequestId { client, seq },
            command,
        }
    }

    #[test]
    fn the_store_answers_as_the_register_and_round_trips() {
        let (mut app, mut model) = (KvApp::default(), Register::default());
        let requests = [
            req(1, 1, Command::Write { key: 7, value: -3 }),
            req(
                2,
                1,
                Command::Cas {
                    key: 7,
                    expected: -3,
                    new: 9,
                },
            ),
            req(
                2,
                1,
                Command::Cas {
                    key: 7,
                    expected: -3,
                    new: 9,
                },
            ),
            req(
                3,
                1,
                Command::Cas {
                    key: 1,
                    expected: 0,
                    new: 1,
                },
            ),
            req(4, 0, Command::Read { key: 7 }),
            req(
                1,
                2,
                Command::Write {
                    key: 0,
                    value: i64::MIN,
                },
            ),
        ];
        for (i, r) in requests.iter().enumerate() {
            assert_eq!(app.apply(i as u64 + 1, r), model.apply(r), "request {i}");
        }
        assert_eq!(app.register_state(), model.kv);
        assert_eq!(app.sessions, model.sessions);
        let bytes = app.snapshot();
        let back = KvApp::restore(&bytes).unwrap();
        assert_eq!(back, app);
        assert_eq!(back.checkpoint_digest(), app.checkpoint_digest());
        assert_eq!(back.snapshot(), bytes);
        back.store().check_invariants().unwrap();
        for cut in 0..bytes.len() {
            assert!(KvApp::restore(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    fn command() -> impl proptest::strategy::Strategy<Value = Command> {
        use proptest::prelude::*;
        let key = 0u32..3;
        prop_oneof![
            key.clone().prop_map(|key| Command::Read { key }),
            (key.clone(), -2i64..3).prop_map(|(key, value)| Command::Write { key, value }),
            (key, -2i64..3, -2i64..3).prop_map(|(key, expected, new)| Command::Cas {
                key,
                expected,
                new
            }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn the_kv_app_keeps_the_app_contract(
            requests in proptest::collection::vec((0u64..3, 0u64..4, command()), 0..16),
        ) {
            let requests: Vec<_> = requests
                .into_iter()
                .map(|(client, seq, command)| req(client, seq, command))
                .collect();
            crate::raft::check_contract(&KvApp::default(), &requests).unwrap();
        }
    }
}
