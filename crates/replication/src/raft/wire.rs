//! Raft's messages as bytes, for a transport between processes (the
//! simulator passes messages by value and never needs this).
//!
//! A message is a tag byte and its fields in order, little-endian (see
//! [`Encoder`]); entries are laid out as in the log
//! ([`persist`](super::persist)), and an InstallSnapshot carries its
//! snapshot's [`App::snapshot`] bytes. [`decode`] refuses anything
//! [`encode`] cannot write with [`io::ErrorKind::InvalidData`], without
//! panicking, so bytes from the network are never trusted.

use std::io;

use super::persist::{decode_entry, encode_entry};
use super::{App, RaftMessage, Snapshot};
use crate::durable::{Decoder, Encoder};

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The most entries one decoded AppendEntries may claim (more is refused
/// before anything is allocated for them).
const ENTRIES_MAX: u64 = 1 << 20;

/// `msg` as bytes.
pub fn encode<A: App>(msg: &RaftMessage<A>) -> Vec<u8> {
    let e = Encoder::new();
    match msg {
        RaftMessage::RequestVote {
            term,
            last_log_index,
            last_log_term,
        } => e.u8(1).u64(*term).u64(*last_log_index).u64(*last_log_term),
        RaftMessage::RequestVoteReply { term, granted } => {
            e.u8(2).u64(*term).u8(u8::from(*granted))
        }
        RaftMessage::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            round,
        } => {
            let mut e = e
                .u8(3)
                .u64(*term)
                .u64(*prev_log_index)
                .u64(*prev_log_term)
                .u64(*leader_commit)
                .u64(*round)
                .u64(entries.len() as u64);
            for entry in entries {
                e = encode_entry::<A>(e, entry);
            }
            e
        }
        RaftMessage::AppendEntriesReply {
            term,
            success,
            match_index,
            conflict_term,
            conflict_index,
            round,
        } => e
            .u8(4)
            .u64(*term)
            .u8(u8::from(*success))
            .u64(*match_index)
            .opt_i64(conflict_term.map(|t| t as i64))
            .u64(*conflict_index)
            .u64(*round),
        RaftMessage::InstallSnapshot {
            term,
            snapshot,
            round,
        } => e
            .u8(5)
            .u64(*term)
            .u64(*round)
            .u64(snapshot.last_index)
            .u64(snapshot.last_term)
            .tail(&snapshot.data),
        RaftMessage::InstallSnapshotReply {
            term,
            last_index,
            round,
        } => e.u8(6).u64(*term).u64(*last_index).u64(*round),
    }
    .finish()
}

fn flag(d: &mut Decoder<'_>) -> io::Result<bool> {
    match d.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt(format!("bad flag {other}"))),
    }
}

/// Reads a message written by [`encode`].
///
/// # Errors
///
/// [`io::ErrorKind::InvalidData`] for bytes `encode` did not write.
pub fn decode<A: App>(bytes: &[u8]) -> io::Result<RaftMessage<A>> {
    let mut d = Decoder::new(bytes);
    let msg = match d.u8()? {
        1 => RaftMessage::RequestVote {
            term: d.u64()?,
            last_log_index: d.u64()?,
            last_log_term: d.u64()?,
        },
        2 => RaftMessage::RequestVoteReply {
            term: d.u64()?,
            granted: flag(&mut d)?,
        },
        3 => {
            let (term, prev_log_index, prev_log_term, leader_commit, round) =
                (d.u64()?, d.u64()?, d.u64()?, d.u64()?, d.u64()?);
            let count = d.u64()?;
            if count > ENTRIES_MAX {
                return Err(corrupt(format!("{count} entries in one message")));
            }
            let mut entries = Vec::new();
            for _ in 0..count {
                entries.push(decode_entry::<A>(&mut d)?);
            }
            RaftMessage::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
                round,
            }
        }
        4 => RaftMessage::AppendEntriesReply {
            term: d.u64()?,
            success: flag(&mut d)?,
            match_index: d.u64()?,
            conflict_term: d
                .opt_i64()?
                .map(|t| u64::try_from(t).map_err(|_| corrupt(format!("bad term {t}"))))
                .transpose()?,
            conflict_index: d.u64()?,
            round: d.u64()?,
        },
        5 => {
            let (term, round, last_index, last_term) = (d.u64()?, d.u64()?, d.u64()?, d.u64()?);
            let snapshot = Snapshot::<A>::from_bytes(last_index, last_term, d.rest().into());
            // Checked here, at the boundary, so that a damaged message is
            // refused like any other rather than reaching the node.
            snapshot.restore()?;
            RaftMessage::InstallSnapshot {
                term,
                snapshot,
                round,
            }
        }
        6 => RaftMessage::InstallSnapshotReply {
            term: d.u64()?,
            last_index: d.u64()?,
            round: d.u64()?,
        },
        other => return Err(corrupt(format!("unknown Raft message tag {other}"))),
    };
    d.end()?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Command, Request, RequestId};
    use crate::raft::{Entry, Payload};
    use crate::register::Register;

    fn messages() -> Vec<RaftMessage<Register>> {
        let entry = |term, key| Entry {
            term,
            payload: Payload::Client(Request {
                id: RequestId {
                    client: 3,
                    seq: key,
                },
                command: Command::Write {
                    key: key as u32,
                    value: -7,
                },
            }),
        };
        let mut state = Register::default();
        crate::raft::App::apply(
            &mut state,
            1,
            &Request {
                id: RequestId { client: 1, seq: 1 },
                command: Command::Write { key: 9, value: 42 },
            },
        );
        vec![
            RaftMessage::RequestVote {
                term: 4,
                last_log_index: 10,
                last_log_term: 3,
            },
            RaftMessage::RequestVoteReply {
                term: 4,
                granted: true,
            },
            RaftMessage::AppendEntries {
                term: 5,
                prev_log_index: 7,
                prev_log_term: 4,
                entries: vec![
                    entry(5, 1),
                    Entry {
                        term: 5,
                        payload: Payload::Noop,
                    },
                    entry(5, 2),
                ],
                leader_commit: 6,
                round: 12,
            },
            RaftMessage::AppendEntriesReply {
                term: 5,
                success: false,
                match_index: 0,
                conflict_term: Some(2),
                conflict_index: 3,
                round: 12,
            },
            RaftMessage::InstallSnapshot {
                term: 6,
                snapshot: Snapshot::new(20, 5, &state),
                round: 2,
            },
            RaftMessage::InstallSnapshotReply {
                term: 6,
                last_index: 20,
                round: 2,
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for msg in messages() {
            let bytes = encode(&msg);
            assert_eq!(decode::<Register>(&bytes).unwrap(), msg);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for msg in messages() {
            let bytes = encode(&msg);
            for cut in 0..bytes.len() {
                assert!(
                    decode::<Register>(&bytes[..cut]).is_err(),
                    "{msg:?} cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            // An InstallSnapshot's state runs to the end, so its extension
            // is the register's problem (it refuses trailing bytes too).
            assert!(decode::<Register>(&longer).is_err(), "{msg:?} extended");
        }
    }
}
