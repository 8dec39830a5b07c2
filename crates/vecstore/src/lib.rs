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
//!   snapshots that restore the same index, client sessions that make a
//!   resubmitted write apply once, and a checker.
//! - [`server`]: the RESP server around one sans-IO [`replication::raft::RaftNode`],
//!   with group commit: a write is acknowledged once it is in the log on
//!   disk.
//! - [`import`]: `vecstore import`, which embeds a JSON Lines file's texts
//!   through an Ollama-compatible endpoint and pipelines their `VADD`s.
//!
//! The index's checkpoint is Raft's snapshot: saved through the node's
//! `Storage` with the last index it covers, loaded at a restart, which then
//! replays the log's tail into the index. What is not built yet (see
//! ARCHITECTURE.md): a checkpoint of the index taken apart from Raft's
//! snapshot, more often than a whole-store snapshot, to bound the tail.

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
