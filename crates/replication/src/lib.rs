//! Replication in a deterministic simulator: Part IV of the
//! [Strata book](https://github.com/strata-db/strata).
//!
//! This first layer is the judge: [`history`] turns a client history
//! (invocations and completions, in real-time order, as Jepsen records
//! them) into operations per key, and [`linearizability`] decides whether
//! each key's operations could have happened one at a time, in an order
//! that respects real time — the correctness condition of a single-copy
//! register (Herlihy & Wing, 1990). The simulator and the protocols it will
//! judge come next (issue 6).
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

pub mod history;
pub mod linearizability;
