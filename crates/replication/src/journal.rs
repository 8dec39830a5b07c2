//! The journal: an append-only list of numbers, the second application
//! Raft replicates (the first is the [`Register`](crate::register::Register)).
//! Small, but it has what a real application needs: updates and reads,
//! exactly-once appends, snapshots and a log encoding.
//!
//! # Example: a journal outside Raft
//!
//! ```
//! use replication::journal::{Journal, JournalCommand, JournalOutput};
//! use replication::protocol::{Request, RequestId};
//! use replication::raft::App;
//!
//! let mut journal = Journal::default();
//! let append = Request { id: RequestId { client: 1, seq: 1 }, command: JournalCommand::Append { item: 7 } };
//! assert_eq!(journal.apply(1, &append), JournalOutput::Appended { position: 0 });
//! // A retry is answered from the session table, not appended again.
//! assert_eq!(journal.cached_reply(&append), Some(JournalOutput::Appended { position: 0 }));
//! let copy = Journal::restore(&journal.snapshot())?;
//! assert_eq!(copy, journal);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Invariants
//!
//! 1. `items` only grows: an append adds one item at the end, and nothing
//!    else changes an item.
//! 2. `sessions[c] = (seq, position)`: `seq` is the highest sequence number
//!    of client `c`'s appends applied, and `position < items.len()` is
//!    where that append put its item (so a retry gets the same position).
//!
//! [`Journal::check_invariants`] checks 2 (1 is a property of the
//! history, not of one state).
//!
//! # Layouts
//!
//! Little-endian (see [`Encoder`]). A command: tag 0, item `i64` (append)
//! or tag 1, position `u64` (read). A snapshot: item count `u64`, the
//! items `i64`; session count `u64`, then per client in order client, seq,
//! position (`u64` each).

use std::collections::BTreeMap;
use std::io;

use crate::durable::{Decoder, Encoder};
use crate::protocol::Request;
use crate::raft::{App, LogIndex};

/// What a client asks the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalCommand {
    /// Add `item` at the end.
    Append {
        /// The number to add.
        item: i64,
    },
    /// Read the item at `position` (a read: served by ReadIndex).
    Read {
        /// The position, from 0.
        position: u64,
    },
}

/// The journal's answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalOutput {
    /// The append took effect; its item is at `position`.
    Appended {
        /// Where the item went, from 0.
        position: u64,
    },
    /// The item at the position read (`None`: past the end).
    Item(Option<i64>),
    /// A retry of an append older than its client's last one: it was
    /// applied once, but where is forgotten.
    Forgotten,
}

/// The replicated journal (see the [module documentation](self)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Journal {
    /// The items, in append order.
    pub items: Vec<i64>,
    /// Client id → (sequence number, position) of its last append
    /// (invariant 2).
    pub sessions: BTreeMap<u64, (u64, u64)>,
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Journal {
    /// Checks invariant 2.
    ///
    /// # Errors
    ///
    /// The client whose session points past the end.
    pub fn check_invariants(&self) -> Result<(), JournalViolation> {
        let len = self.items.len() as u64;
        for (&client, &(seq, position)) in &self.sessions {
            if position >= len {
                return Err(JournalViolation::SessionPastEnd {
                    client,
                    seq,
                    position,
                    len,
                });
            }
        }
        Ok(())
    }
}

/// The first invariant of this module a [`Journal`] breaks, as found by
/// [`Journal::check_invariants`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JournalViolation {
    /// Invariant 2: a client's session names a position past the last item.
    #[error("client {client}'s append {seq} is at position {position}, past the end ({len} items)")]
    SessionPastEnd {
        /// The client.
        client: u64,
        /// The sequence number of its last append.
        seq: u64,
        /// The position its session records.
        position: u64,
        /// How many items the journal holds.
        len: u64,
    },
}

impl App for Journal {
    type Command = JournalCommand;
    type Output = JournalOutput;

    fn apply(&mut self, _index: LogIndex, request: &Request<JournalCommand>) -> JournalOutput {
        if let Some(output) = self.cached_reply(request) {
            return output;
        }
        match request.command {
            JournalCommand::Read { .. } => self.read(&request.command),
            JournalCommand::Append { item } => {
                let position = self.items.len() as u64;
                self.items.push(item);
                let seq = request.id.seq;
                self.sessions.insert(request.id.client, (seq, position));
                JournalOutput::Appended { position }
            }
        }
    }

    fn cached_reply(&self, request: &Request<JournalCommand>) -> Option<JournalOutput> {
        if Self::is_read(&request.command) {
            return None;
        }
        let &(seq, position) = self.sessions.get(&request.id.client)?;
        if seq == request.id.seq {
            Some(JournalOutput::Appended { position })
        } else if seq > request.id.seq {
            Some(JournalOutput::Forgotten)
        } else {
            None
        }
    }

    fn is_read(command: &JournalCommand) -> bool {
        matches!(command, JournalCommand::Read { .. })
    }

    fn read(&self, command: &JournalCommand) -> JournalOutput {
        match *command {
            JournalCommand::Read { position } => JournalOutput::Item(
                usize::try_from(position)
                    .ok()
                    .and_then(|p| self.items.get(p))
                    .copied(),
            ),
            JournalCommand::Append { .. } => JournalOutput::Item(None),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut e = Encoder::new().u64(self.items.len() as u64);
        for &item in &self.items {
            e = e.i64(item);
        }
        e = e.u64(self.sessions.len() as u64);
        for (&client, &(seq, position)) in &self.sessions {
            e = e.u64(client).u64(seq).u64(position);
        }
        e.finish()
    }

    fn restore(bytes: &[u8]) -> io::Result<Self> {
        let mut d = Decoder::new(bytes);
        let mut journal = Journal::default();
        // No capacity from the count: each item must be there to be read.
        for _ in 0..d.u64()? {
            journal.items.push(d.i64()?);
        }
        for _ in 0..d.u64()? {
            let client = d.u64()?;
            let session = (d.u64()?, d.u64()?);
            if journal.sessions.insert(client, session).is_some() {
                return Err(corrupt(format!("client {client} has two sessions")));
            }
        }
        d.end()?;
        journal
            .check_invariants()
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(journal)
    }

    fn encode_command(command: &JournalCommand, e: Encoder) -> Encoder {
        match *command {
            JournalCommand::Append { item } => e.u8(0).i64(item),
            JournalCommand::Read { position } => e.u8(1).u64(position),
        }
    }

    fn decode_command(d: &mut Decoder<'_>) -> io::Result<JournalCommand> {
        Ok(match d.u8()? {
            0 => JournalCommand::Append { item: d.i64()? },
            1 => JournalCommand::Read { position: d.u64()? },
            t => return Err(corrupt(format!("unknown journal command tag {t}"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RequestId;

    fn append(client: u64, seq: u64, item: i64) -> Request<JournalCommand> {
        Request {
            id: RequestId { client, seq },
            command: JournalCommand::Append { item },
        }
    }

    #[test]
    fn appends_are_exactly_once_and_reads_see_them() {
        let mut j = Journal::default();
        assert_eq!(
            j.apply(1, &append(1, 1, 10)),
            JournalOutput::Appended { position: 0 }
        );
        assert_eq!(
            j.apply(2, &append(2, 1, 20)),
            JournalOutput::Appended { position: 1 }
        );
        assert_eq!(
            j.apply(3, &append(1, 1, 10)),
            JournalOutput::Appended { position: 0 }
        );
        assert_eq!(
            j.apply(4, &append(1, 2, 30)),
            JournalOutput::Appended { position: 2 }
        );
        assert_eq!(j.apply(5, &append(1, 1, 10)), JournalOutput::Forgotten);
        assert_eq!(j.items, [10, 20, 30]);
        let read = |position| JournalCommand::Read { position };
        assert_eq!(j.read(&read(1)), JournalOutput::Item(Some(20)));
        assert_eq!(j.read(&read(3)), JournalOutput::Item(None));
        assert_eq!(j.read(&read(u64::MAX)), JournalOutput::Item(None));
        j.check_invariants().unwrap();
    }

    #[test]
    fn snapshots_and_commands_round_trip_and_bad_bytes_are_errors() {
        let mut j = Journal::default();
        for k in 0..4 {
            j.apply(k + 1, &append(k % 2, k, k as i64 * -3));
        }
        let bytes = j.snapshot();
        assert_eq!(Journal::restore(&bytes).unwrap(), j);
        for cut in 0..bytes.len() {
            let err = Journal::restore(&bytes[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "cut at {cut}");
        }
        // A session pointing past the end is refused, not trusted.
        let mut bad = j.clone();
        bad.sessions.insert(9, (1, 99));
        assert!(Journal::restore(&bad.snapshot()).is_err());
        for command in [
            JournalCommand::Append { item: i64::MIN },
            JournalCommand::Read { position: 5 },
        ] {
            let bytes = Journal::encode_command(&command, Encoder::new()).finish();
            let mut d = Decoder::new(&bytes);
            assert_eq!(Journal::decode_command(&mut d).unwrap(), command);
            d.end().unwrap();
        }
        assert!(Journal::decode_command(&mut Decoder::new(&[7])).is_err());
        assert!(Journal::decode_command(&mut Decoder::new(&[0, 1])).is_err());
    }

    proptest::proptest! {
        #[test]
        fn the_journal_keeps_the_app_contract(
            requests in proptest::collection::vec((0u64..3, 0u64..4, 0u64..6, -3i64..3), 0..24),
        ) {
            let requests: Vec<_> = requests
                .into_iter()
                .map(|(client, seq, position, item)| Request {
                    id: RequestId { client, seq },
                    command: if position >= 3 {
                        JournalCommand::Append { item }
                    } else {
                        JournalCommand::Read { position }
                    },
                })
                .collect();
            crate::raft::check_contract(&Journal::default(), &requests).unwrap();
        }
    }

    #[test]
    fn a_session_past_the_end_breaks_invariant_2() {
        let mut j = Journal::default();
        j.apply(1, &append(7, 3, 10));
        j.check_invariants().unwrap();
        j.sessions.insert(7, (3, 1));
        assert_eq!(
            j.check_invariants(),
            Err(JournalViolation::SessionPastEnd {
                client: 7,
                seq: 3,
                position: 1,
                len: 1
            })
        );
    }
}
