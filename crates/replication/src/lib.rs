//! Replication in a deterministic simulator: Part IV of the
//! [Strata book](https://github.com/strata-db/strata).
//!
//! Three replicated key-value stores, each a sans-IO state machine behind
//! one contract ([`protocol::Node`]):
//!
//! * [`primary_backup`] — asynchronous primary-backup with failover: fast,
//!   and it loses acknowledged writes;
//! * [`raft`] — Raft with persistence, client sessions, ReadIndex and
//!   snapshots: linearizable, as long as a majority is up and connected.
//!   Raft replicates any [`raft::App`]; the store is the [`register`] (the
//!   `u32 → i64` map with exactly-once client sessions), and the
//!   [`journal`] (an append-only list) is a second application, and
//!   [`kv_app`] replicates a real `kv::Store` (Part II's log-structured
//!   store) in the register's language (`sim run --protocol raft --app kv`);
//! * [`quorum`] — Dynamo-style leaderless quorums (N, R, W, last writer
//!   wins, read repair, hinted handoff): available, and not linearizable
//!   even with R + W > N.
//!
//! [`sim`] runs any of them in virtual time on a faulty network, with nodes
//! that crash onto simulated disks (`kv::SimDisk`), every choice drawn from
//! one seed; [`sim::workload`] adds clients, fault schedules and a safety
//! then a liveness phase. The judges: [`linearizability`] (Wing & Gong's
//! search with Lowe's memoisation, per key), [`checkers`] (lost
//! acknowledged writes, read staleness, convergence) and the protocols'
//! own monitors (Raft's five safety properties, checked after every step).
//! [`history`] is the Jepsen-style history format they share, and
//! [`durable`] the checksummed record log nodes keep their state in. The
//! `sim` binary runs, sweeps and checks from the command line.
//!
//! # Example: Raft replicates an application of your own
//!
//! Any type that implements [`raft::App`] can be replicated; here a
//! single-node cluster appends to a [`journal::Journal`].
//!
//! ```
//! use replication::journal::{Journal, JournalCommand, JournalOutput};
//! use replication::protocol::{NodeContext, Output, Request, RequestId};
//! use replication::raft::{ClientReply, RaftConfig, RaftNode};
//!
//! let ctx = NodeContext { id: 0, nodes: 1, entropy: 7 };
//! let storage = Box::new(kv::SimDisk::new());
//! let mut node = RaftNode::<Journal>::open(ctx, &RaftConfig::default(), storage, 0)?;
//! let deadline = node.poll_timeout().expect("an election timer");
//! node.handle_timeout(deadline);
//! let id = RequestId { client: 1, seq: 1 };
//! node.handle_request(deadline, Request { id, command: JournalCommand::Append { item: 5 } });
//! let reply = ClientReply::Applied(JournalOutput::Appended { position: 0 });
//! assert_eq!(node.poll_event(), Some(Output::Reply { request: id, reply }));
//! assert_eq!(node.state_machine().items, [5]);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Example: a stale read is caught
//!
//! ```
//! use replication::history::{Event, Kind, Op};
//! use replication::linearizability::{check, Budget, Verdict};
//!
//! // Process 1 writes 1 and is acknowledged; only then does process 2
//! // read, and it sees nothing: no order of the two explains that.
//! let history = [
//!     Event { process: 1, kind: Kind::Invoke, op: Op::Write(1), key: "k".into() },
//!     Event { process: 1, kind: Kind::Ok, op: Op::Write(1), key: "k".into() },
//!     Event { process: 2, kind: Kind::Invoke, op: Op::Read(None), key: "k".into() },
//!     Event { process: 2, kind: Kind::Ok, op: Op::Read(None), key: "k".into() },
//! ];
//! let verdict = check(&history, Budget::default())?;
//! assert!(matches!(verdict, Verdict::NotLinearizable { .. }));
//! # Ok::<(), replication::history::HistoryError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod checkers;
pub mod durable;
pub mod history;
pub mod homework;
pub mod journal;
pub mod kv_app;
pub mod linearizability;
pub mod primary_backup;
pub mod protocol;
pub mod quorum;
pub mod raft;
pub mod register;
pub mod sim;
