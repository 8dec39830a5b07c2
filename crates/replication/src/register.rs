//! The register: the `u32 → i64` key-value map every protocol of this
//! crate replicates, as a Raft [`App`], with the client session table that
//! makes updates exactly-once.
//!
//! The workload, the checkers and the `sim` binary speak its language
//! ([`Command`], [`Reply`]); `RaftNode<Register>` (the default
//! [`RaftNode`](crate::raft::RaftNode)) is the Raft store behind
//! [`Node`](crate::protocol::Node).
//!
//! # Invariants
//!
//! 1. Every replica applies the same commands in the same order, so every
//!    replica's map and session table are equal after applying index `i`.
//! 2. `sessions[c].seq` is the highest sequence number of client `c`'s
//!    updates applied so far, and `sessions[c].reply` is that update's
//!    reply: an update retried with the same request id is not applied a
//!    second time and gets the same reply.
//!
//! Reads are not recorded in the session table: applying one twice is
//! harmless.
//!
//! # Snapshot layout
//!
//! Little-endian (see [`Encoder`]): map length `u64`, then per key in
//! order key `u64`, value `i64`; session count `u64`, then per client in
//! order client `u64`, seq `u64`, reply (a tag byte and its fields).

use std::collections::BTreeMap;
use std::io;

use crate::durable::{Decoder, Encoder, decode_command, encode_command};
use crate::protocol::{Command, Key, NodeId, Rejection, Reply, Request, Value};
use crate::raft::{App, LogIndex};

/// One client's last applied update and its reply (invariant 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session {
    /// The update's sequence number.
    pub seq: u64,
    /// Its reply.
    pub reply: Reply,
}

/// The replicated register: what a snapshot stores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Register {
    /// The key-value map.
    pub kv: BTreeMap<Key, Value>,
    /// Client id → last applied update (invariant 2).
    pub sessions: BTreeMap<u64, Session>,
}

impl Register {
    /// The reply already given to `request` if it is an update this state
    /// machine has applied; `Some(Uncertain)` for an update older than the
    /// client's last applied one (its reply is forgotten).
    pub fn cached_reply(&self, request: &Request) -> Option<Reply> {
        if !request.command.is_update() {
            return None;
        }
        let session = self.sessions.get(&request.id.client)?;
        if session.seq == request.id.seq {
            Some(session.reply)
        } else if session.seq > request.id.seq {
            Some(Reply::Uncertain)
        } else {
            None
        }
    }

    /// Applies `request` (once: a duplicate gets its cached reply) and
    /// returns the reply.
    pub fn apply(&mut self, request: &Request) -> Reply {
        if let Some(reply) = self.cached_reply(request) {
            return reply;
        }
        let reply = match request.command {
            Command::Read { key } => Reply::Read(self.kv.get(&key).copied()),
            Command::Write { key, value } => {
                self.kv.insert(key, value);
                Reply::Done
            }
            Command::Cas { key, expected, new } => {
                let found = self.kv.get(&key).copied();
                if found == Some(expected) {
                    self.kv.insert(key, new);
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

    /// The value of `key`, for a read that is not in the log.
    pub fn read(&self, key: Key) -> Reply {
        Reply::Read(self.kv.get(&key).copied())
    }
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn node_id(v: i64) -> io::Result<NodeId> {
    NodeId::try_from(v).map_err(|_| corrupt(format!("bad node id {v}")))
}

pub(crate) fn encode_reply(e: Encoder, reply: &Reply) -> Encoder {
    match *reply {
        Reply::Read(v) => e.u8(0).opt_i64(v),
        Reply::Done => e.u8(1),
        Reply::Rejected(Rejection::NotLeader { leader }) => {
            e.u8(2).opt_i64(leader.map(|l| l as i64))
        }
        Reply::Rejected(Rejection::CasMismatch { found }) => e.u8(3).opt_i64(found),
        Reply::Rejected(Rejection::Unavailable) => e.u8(4),
        Reply::Uncertain => e.u8(5),
    }
}

pub(crate) fn decode_reply(d: &mut Decoder<'_>) -> io::Result<Reply> {
    Ok(match d.u8()? {
        0 => Reply::Read(d.opt_i64()?),
        1 => Reply::Done,
        2 => Reply::Rejected(Rejection::NotLeader {
            leader: d.opt_i64()?.map(node_id).transpose()?,
        }),
        3 => Reply::Rejected(Rejection::CasMismatch {
            found: d.opt_i64()?,
        }),
        4 => Reply::Rejected(Rejection::Unavailable),
        5 => Reply::Uncertain,
        t => return Err(corrupt(format!("unknown reply tag {t}"))),
    })
}

impl App for Register {
    type Command = Command;
    type Output = Reply;

    fn apply(&mut self, _index: LogIndex, request: &Request) -> Reply {
        Register::apply(self, request)
    }

    fn cached_reply(&self, request: &Request) -> Option<Reply> {
        Register::cached_reply(self, request)
    }

    fn is_read(command: &Command) -> bool {
        !command.is_update()
    }

    fn read(&self, command: &Command) -> Reply {
        Register::read(self, command.key())
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut e = Encoder::new().u64(self.kv.len() as u64);
        for (&k, &v) in &self.kv {
            e = e.u64(k.into()).i64(v);
        }
        e = e.u64(self.sessions.len() as u64);
        for (&client, session) in &self.sessions {
            e = encode_reply(e.u64(client).u64(session.seq), &session.reply);
        }
        e.finish()
    }

    fn restore(bytes: &[u8]) -> io::Result<Self> {
        let mut d = Decoder::new(bytes);
        let mut state = Register::default();
        for _ in 0..d.u64()? {
            let key = u32::try_from(d.u64()?).map_err(|e| corrupt(e.to_string()))?;
            state.kv.insert(key, d.i64()?);
        }
        for _ in 0..d.u64()? {
            let client = d.u64()?;
            let seq = d.u64()?;
            let reply = decode_reply(&mut d)?;
            state.sessions.insert(client, Session { seq, reply });
        }
        d.end()?;
        Ok(state)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RequestId;

    fn req(client: u64, seq: u64, command: Command) -> Request {
        Request {
            id: RequestId { client, seq },
            command,
        }
    }

    #[test]
    fn a_retried_update_is_applied_once_and_gets_the_same_reply() {
        let mut sm = Register::default();
        let cas = req(
            1,
            1,
            Command::Cas {
                key: 0,
                expected: 5,
                new: 6,
            },
        );
        assert_eq!(
            sm.apply(&cas),
            Reply::Rejected(Rejection::CasMismatch { found: None })
        );
        sm.apply(&req(2, 1, Command::Write { key: 0, value: 5 }));
        // The retry would now succeed if applied again; it must not be.
        assert_eq!(
            sm.apply(&cas),
            Reply::Rejected(Rejection::CasMismatch { found: None })
        );
        assert_eq!(sm.kv.get(&0), Some(&5));
        let write = req(2, 2, Command::Write { key: 0, value: 7 });
        assert_eq!(sm.apply(&write), Reply::Done);
        sm.apply(&req(3, 1, Command::Write { key: 0, value: 8 }));
        assert_eq!(sm.apply(&write), Reply::Done);
        assert_eq!(sm.kv.get(&0), Some(&8));
        assert_eq!(
            sm.apply(&req(2, 1, Command::Write { key: 0, value: 1 })),
            Reply::Uncertain
        );
    }

    #[test]
    fn snapshot_round_trips_and_bad_bytes_are_errors() {
        let mut sm = Register::default();
        sm.apply(&req(1, 1, Command::Write { key: 3, value: -4 }));
        sm.apply(&req(
            9,
            2,
            Command::Cas {
                key: 3,
                expected: 0,
                new: 1,
            },
        ));
        let bytes = App::snapshot(&sm);
        assert_eq!(Register::restore(&bytes).unwrap(), sm);
        for cut in 0..bytes.len() {
            let err = Register::restore(&bytes[..cut]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Register::restore(&longer).is_err());
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
        #[test]
        fn the_register_keeps_the_app_contract(
            requests in proptest::collection::vec((0u64..3, 0u64..4, command()), 0..24),
        ) {
            let requests: Vec<_> = requests
                .into_iter()
                .map(|(client, seq, command)| req(client, seq, command))
                .collect();
            crate::raft::check_contract(&Register::default(), &requests).unwrap();
        }
    }
}
