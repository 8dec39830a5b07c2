//! The seed's "similar users" system: a vector store whose writes Raft
//! replicates, whose elements live in a [`kv::Store`], whose similarity
//! index is an [`hnsw::Hnsw`] derived from them, and which speaks Redis 8's
//! vector-set commands so that `redis-cli` and Redis client libraries work
//! unmodified. Part V of the [Strata book](https://github.com/strata-db/strata).
//!
//! - [`command`]: `VADD`, `VSIM`, `VREM`, `VCARD`, `VDIM`, `VEMB`,
//!   `VGETATTR`, `VSETATTR`, `VINFO` parsed from RESP arguments, checked
//!   before they reach the log; [`command::Reply`] encodes RESP2.
//! - [`filter`]: Redis's `FILTER` expression language over JSON attributes.
//! - [`state`]: [`VectorStore`], the replicated state machine
//!   ([`replication::raft::App`]): the element records, each set's index,
//!   snapshots that restore the same index, and a checker.
//! - [`server`]: the RESP server around one sans-IO [`replication::raft::RaftNode`],
//!   with group commit: a write is acknowledged once it is in the log on
//!   disk.
//! - [`import`]: `vecstore import`, which embeds a JSON Lines file's texts
//!   through an Ollama-compatible endpoint and pipelines their `VADD`s.
//!
//! What is not built yet (see ARCHITECTURE.md): an index checkpoint apart
//! from Raft's snapshot (a restart replays the log since the last snapshot
//! into the index), and exactly-once client sessions.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
pub mod command;
pub mod filter;
pub mod import;
pub mod server;
pub mod state;

pub use command::{Command, Reply};
pub use server::{Server, ServerConfig};
pub use state::VectorStore;
