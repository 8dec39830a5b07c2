//! The replicated state machine: a key-value map plus the client session
//! table that makes updates exactly-once.
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

use std::collections::BTreeMap;

use crate::protocol::{Command, Key, Rejection, Reply, Request, Value};

/// One client's last applied update and its reply (invariant 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session {
    /// The update's sequence number.
    pub seq: u64,
    /// Its reply.
    pub reply: Reply,
}

/// The state machine's content: what a snapshot stores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct StateMachine {
    /// The key-value map.
    pub kv: BTreeMap<Key, Value>,
    /// Client id → last applied update (invariant 2).
    pub sessions: BTreeMap<u64, Session>,
}

impl StateMachine {
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
        let mut sm = StateMachine::default();
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
}
