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
//!
//! What is not built yet (see ARCHITECTURE.md): clusters of more than one
//! node over TCP, the embedding importer, and an index checkpoint apart
//! from Raft's snapshot (so recovery replays the log tail into the saved
//! index instead of the whole log since the last snapshot).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
pub mod command;
pub mod filter;
pub mod server;
pub mod state;

pub use command::{Command, Reply};
pub use server::{Server, ServerConfig};
pub use state::VectorStore;
