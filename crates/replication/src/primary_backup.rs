//! Asynchronous primary-backup replication, with failover — the design that
//! loses acknowledged writes.
//!
//! One node, the *primary* of the current *epoch*, serves every request.
//! It applies a write to its own state, syncs it to its disk and
//! acknowledges the client at once; only afterwards, every
//! `ship_interval_us`, does it ship new writes to the backups (at most
//! `ship_batch` per message, resent until acknowledged). Backups apply
//! shipped writes in order.
//!
//! A backup that hears nothing from the primary for `failover_timeout_us`
//! (plus a stagger by its distance from the primary, so the next node in
//! line goes first) *promotes itself*: it starts a new epoch and pushes its
//! whole state to the other nodes, which adopt it — including the old
//! primary, when it comes back. Whatever the old primary had acknowledged
//! but not yet shipped is gone: an **acknowledged write lost**. There is no
//! vote, so during a partition two primaries can serve at once (split
//! brain). Both flaws are the point; the simulator finds them
//! (`tests/primary_backup.rs`) and Raft, in [`crate::raft`], fixes them.
//!
// ANCHOR: invariants
//! # Invariants
//!
//! 1. A node's state is the result of applying writes `1..=seq` of its
//!    epoch's history, in order; `seq` only grows within an epoch.
//! 2. A node acknowledges a client's write only after the write is synced
//!    to its own disk (so a primary's crash alone never loses it — only a
//!    failover does).
//! 3. A node adopts a higher epoch as soon as it hears of one, and never
//!    accepts shipped writes or state from a lower epoch.
//! 4. A backup acknowledges shipped writes only after syncing them.
// ANCHOR_END: invariants
//!
//! Reads are served by the primary from its state, or — with
//! [`PrimaryBackupConfig::read_from_backups`] — by any node, which is where
//! stale reads come from.

use std::collections::{BTreeMap, VecDeque};
use std::io;

use kv::Storage;

use crate::durable::{Decoder, Encoder, RecordLog};
use crate::protocol::{
    Command, Key, Node, NodeContext, NodeId, Output, Rejection, Reply, Request, Time, Value,
};

/// Parameters, in virtual microseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryBackupConfig {
    /// How often the primary ships its new writes (with nothing new, the
    /// message is a heartbeat). Writes are acknowledged before this.
    pub ship_interval_us: Time,
    /// Silence from the primary after which the first backup in line
    /// promotes itself.
    pub failover_timeout_us: Time,
    /// Extra wait per place further back in line.
    pub stagger_us: Time,
    /// Most writes shipped in one message.
    pub ship_batch: usize,
    /// Let backups serve reads from their (possibly stale) state.
    pub read_from_backups: bool,
}

impl Default for PrimaryBackupConfig {
    fn default() -> Self {
        PrimaryBackupConfig {
            ship_interval_us: 10_000,
            failover_timeout_us: 150_000,
            stagger_us: 100_000,
            ship_batch: 64,
            read_from_backups: false,
        }
    }
}

/// What primary-backup nodes say to each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PbMessage {
    /// Primary → backup: writes `first..first + entries.len()` of `epoch`
    /// (empty: a heartbeat).
    Ship {
        /// The sender's epoch.
        epoch: u64,
        /// Sequence number of the first entry.
        first: u64,
        /// The writes, in order.
        entries: Vec<(Key, Value)>,
    },
    /// Primary → backup: replace your state with mine (a new epoch, or a
    /// backup too far behind).
    State {
        /// The sender's epoch.
        epoch: u64,
        /// The number of writes the state reflects.
        seq: u64,
        /// The whole key-value state.
        map: Vec<(Key, Value)>,
    },
    /// Backup → primary: I hold writes `1..=seq` of `epoch`.
    Ack {
        /// The epoch the backup is in.
        epoch: u64,
        /// Its highest applied sequence number.
        seq: u64,
    },
}

/// One node of an asynchronous primary-backup cluster.
#[derive(Debug)]
pub struct PrimaryBackupNode {
    id: NodeId,
    nodes: usize,
    config: PrimaryBackupConfig,
    log: RecordLog,
    records: usize,
    epoch: u64,
    primary: NodeId,
    seq: u64,
    map: BTreeMap<Key, Value>,
    /// Primary only: writes after `base`, for shipping.
    shipped_base: u64,
    recent: Vec<(Key, Value)>,
    /// Primary only: the highest seq each backup acknowledged in this epoch
    /// (`None`: it has not yet acknowledged our state).
    acked: Vec<Option<u64>>,
    last_heard: Time,
    next_heartbeat: Time,
    outputs: VecDeque<Output<PbMessage>>,
    /// Set when storage failed: the node stops, and answers nothing it
    /// could not make durable (fail-stop, as after a failed fsync).
    failed: Option<String>,
}

const REC_EPOCH: u8 = 0;
const REC_APPLY: u8 = 1;
const REC_STATE: u8 = 2;

impl PrimaryBackupNode {
    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Who this node believes is primary.
    pub fn primary(&self) -> NodeId {
        self.primary
    }

    /// Whether this node believes it is the primary.
    pub fn is_primary(&self) -> bool {
        self.primary == self.id
    }

    /// Writes applied in this epoch's history.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn state_record(&self) -> Vec<u8> {
        let mut e = Encoder::new()
            .u8(REC_STATE)
            .u64(self.epoch)
            .u64(self.primary as u64)
            .u64(self.seq)
            .u64(self.map.len() as u64);
        for (&k, &v) in &self.map {
            e = e.u64(k.into()).i64(v);
        }
        e.finish()
    }

    /// Persists `record`, compacting the log into one state record now and
    /// then.
    fn persist(&mut self, record: &[u8]) -> io::Result<()> {
        self.records += 1;
        if self.records > 4_096 {
            let state = self.state_record();
            self.log.rewrite([state.as_slice()])?;
            self.records = 1;
            Ok(())
        } else {
            self.log.append(record)?;
            self.log.sync()
        }
    }

    fn replay(&mut self, record: &[u8]) -> io::Result<()> {
        let mut d = Decoder::new(record);
        match d.u8()? {
            REC_EPOCH => {
                self.epoch = d.u64()?;
                let _recorded_primary = d.u64()?;
                self.primary = (self.epoch % self.nodes as u64) as NodeId;
            }
            REC_APPLY => {
                self.seq = d.u64()?;
                let key = u32::try_from(d.u64()?).map_err(io::Error::other)?;
                self.map.insert(key, d.i64()?);
            }
            REC_STATE => {
                self.epoch = d.u64()?;
                let _recorded_primary = d.u64()?;
                self.primary = (self.epoch % self.nodes as u64) as NodeId;
                self.seq = d.u64()?;
                self.map.clear();
                for _ in 0..d.u64()? {
                    let key = u32::try_from(d.u64()?).map_err(io::Error::other)?;
                    self.map.insert(key, d.i64()?);
                }
            }
            tag => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown primary-backup record tag {tag}"),
                ));
            }
        }
        d.end()
    }

    fn send(&mut self, to: NodeId, msg: PbMessage) {
        if self.failed.is_none() {
            self.outputs.push_back(Output::Send { to, msg });
        }
    }

    /// Storage failed: stop, and send nothing that might promise
    /// durability — including what this input already queued.
    fn stop(&mut self, e: &io::Error) {
        self.failed = Some(format!("node {}: storage failed: {e}", self.id));
        self.outputs.clear();
    }

    // ANCHOR: apply
    /// Applies write `seq` durably (invariants 1 and 2).
    fn apply(&mut self, key: Key, value: Value) {
        self.seq += 1;
        self.map.insert(key, value);
        let record = Encoder::new()
            .u8(REC_APPLY)
            .u64(self.seq)
            .u64(key.into())
            .i64(value)
            .finish();
        // A failed write stops the node rather than let it acknowledge.
        if let Err(e) = self.persist(&record) {
            self.stop(&e);
        }
        if self.is_primary() {
            self.recent.push((key, value));
        }
    }
    // ANCHOR_END: apply

    /// Ships to every backup what it lacks, and re-arms the heartbeat.
    fn ship(&mut self, now: Time) {
        self.next_heartbeat = now + self.config.ship_interval_us;
        for b in 0..self.nodes {
            if b != self.id {
                self.ship_to(b);
            }
        }
    }

    /// Ships to backup `b` the writes it has not acknowledged (at most
    /// `ship_batch`), or our whole state if it has not acknowledged this
    /// epoch or lags behind what we keep.
    fn ship_to(&mut self, b: NodeId) {
        let msg = match self.acked[b] {
            Some(acked) if acked >= self.shipped_base => {
                let from = ((acked - self.shipped_base) as usize).min(self.recent.len());
                let to = self.recent.len().min(from + self.config.ship_batch);
                PbMessage::Ship {
                    epoch: self.epoch,
                    first: acked + 1,
                    entries: self.recent[from..to].to_vec(),
                }
            }
            _ => PbMessage::State {
                epoch: self.epoch,
                seq: self.seq,
                map: self.map.iter().map(|(&k, &v)| (k, v)).collect(),
            },
        };
        self.send(b, msg);
    }

    /// Adopts `epoch` (invariant 3). Epoch `e`'s primary is node
    /// `e mod nodes`, so two nodes never start the same epoch.
    fn adopt(&mut self, now: Time, epoch: u64) {
        if epoch > self.epoch {
            self.epoch = epoch;
            self.primary = (epoch % self.nodes as u64) as NodeId;
            let primary = self.primary;
            let record = Encoder::new()
                .u8(REC_EPOCH)
                .u64(epoch)
                .u64(primary as u64)
                .finish();
            if let Err(e) = self.persist(&record) {
                self.stop(&e);
            }
        }
        self.last_heard = now;
    }

    // ANCHOR: failover
    /// Promotes this backup: a new epoch, with our state as the truth.
    fn promote(&mut self, now: Time) {
        let n = self.nodes as u64;
        let epoch = (self.epoch / n + 1) * n + self.id as u64;
        self.adopt(now, epoch);
        self.shipped_base = self.seq;
        self.recent.clear();
        self.acked = vec![None; self.nodes];
        self.ship(now);
    }
    // ANCHOR_END: failover

    fn failover_deadline(&self) -> Time {
        let rank = (self.id + self.nodes - self.primary) % self.nodes.max(1);
        self.last_heard
            + self.config.failover_timeout_us
            + (rank.saturating_sub(1) as Time) * self.config.stagger_us
    }
}

impl Node for PrimaryBackupNode {
    const NAME: &'static str = "async";
    type Message = PbMessage;
    type Config = PrimaryBackupConfig;

    fn start(
        ctx: NodeContext,
        config: &PrimaryBackupConfig,
        storage: Box<dyn Storage>,
        now: Time,
    ) -> io::Result<Self> {
        let (log, records) = RecordLog::open(storage, "pb.log")?;
        let mut node = PrimaryBackupNode {
            id: ctx.id,
            nodes: ctx.nodes,
            config: config.clone(),
            log,
            records: records.len(),
            epoch: 0,
            primary: 0,
            seq: 0,
            map: BTreeMap::new(),
            shipped_base: 0,
            recent: Vec::new(),
            acked: vec![None; ctx.nodes],
            last_heard: now,
            next_heartbeat: now,
            outputs: VecDeque::new(),
            failed: None,
        };
        for record in &records {
            node.replay(record)?;
        }
        if node.is_primary() {
            // A restarted primary knows nothing of its backups' positions.
            node.shipped_base = node.seq;
            node.ship(now);
        }
        Ok(node)
    }

    fn handle_message(&mut self, now: Time, from: NodeId, msg: PbMessage) {
        if self.failed.is_some() {
            return;
        }
        match msg {
            PbMessage::Ship {
                epoch,
                first,
                entries,
            } => {
                if epoch < self.epoch || from != (epoch % self.nodes as u64) as NodeId {
                    return;
                }
                self.adopt(now, epoch);
                if first > self.seq + 1 {
                    // A gap: say where we are; the primary resends.
                } else {
                    let skip = (self.seq + 1 - first) as usize;
                    for &(k, v) in entries.iter().skip(skip) {
                        self.apply(k, v);
                    }
                }
                let ack = PbMessage::Ack {
                    epoch,
                    seq: self.seq,
                };
                self.send(from, ack);
            }
            PbMessage::State { epoch, seq, map } => {
                if epoch < self.epoch || from != (epoch % self.nodes as u64) as NodeId {
                    return;
                }
                if epoch == self.epoch && seq <= self.seq {
                    // An old copy (the network reorders): we already hold
                    // this epoch's writes up to `self.seq` (invariant 1).
                    self.last_heard = now;
                    let ack = PbMessage::Ack {
                        epoch,
                        seq: self.seq,
                    };
                    self.send(from, ack);
                    return;
                }
                self.adopt(now, epoch);
                self.seq = seq;
                self.map = map.into_iter().collect();
                self.recent.clear();
                let state = self.state_record();
                if let Err(e) = self.log.rewrite([state.as_slice()]) {
                    self.stop(&e);
                }
                self.records = 1;
                self.send(from, PbMessage::Ack { epoch, seq });
            }
            PbMessage::Ack { epoch, seq } => {
                if epoch == self.epoch && self.is_primary() && seq <= self.seq {
                    // Believe the latest word, even if lower than an earlier
                    // one (a reordered old ack): at worst we resend writes the
                    // backup skips, and we never ship past a gap forever.
                    self.acked[from] = Some(seq);
                    if seq < self.seq {
                        // Behind: send the next batch to this backup only.
                        self.ship_to(from);
                    }
                }
            }
        }
    }

    fn handle_client(&mut self, _now: Time, request: Request) {
        if self.failed.is_some() {
            return;
        }
        let reply = match request.command {
            Command::Read { key } if self.is_primary() || self.config.read_from_backups => {
                Reply::Read(self.map.get(&key).copied())
            }
            _ if !self.is_primary() => Reply::Rejected(Rejection::NotLeader {
                leader: Some(self.primary),
            }),
            Command::Read { key } => Reply::Read(self.map.get(&key).copied()),
            Command::Write { key, value } => {
                self.apply(key, value);
                Reply::Done
            }
            Command::Cas { key, expected, new } => {
                let found = self.map.get(&key).copied();
                if found == Some(expected) {
                    self.apply(key, new);
                    Reply::Done
                } else {
                    Reply::Rejected(Rejection::CasMismatch { found })
                }
            }
        };
        if self.failed.is_none() {
            self.outputs.push_back(Output::Reply {
                request: request.id,
                reply,
            });
        }
    }

    fn handle_timeout(&mut self, now: Time) {
        if self.failed.is_some() {
            return;
        }
        if self.is_primary() {
            if now >= self.next_heartbeat {
                self.ship(now);
            }
        } else if now >= self.failover_deadline() {
            self.promote(now);
        }
    }

    fn poll_output(&mut self) -> Option<Output<PbMessage>> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Time> {
        if self.failed.is_some() {
            return None;
        }
        Some(if self.is_primary() {
            self.next_heartbeat
        } else {
            self.failover_deadline()
        })
    }

    fn state(&self) -> BTreeMap<Key, Value> {
        self.map.clone()
    }

    fn role(&self) -> String {
        if self.is_primary() {
            format!("primary e{}", self.epoch)
        } else {
            format!("backup e{}", self.epoch)
        }
    }

    fn stopped(&self) -> Option<&str> {
        self.failed.as_deref()
    }
}

#[cfg(test)]
mod tests {
    //! Regression: a backup once applied a reordered, older `State` of its
    //! own epoch and went back in time; the primary, whose record of the
    //! backup only grew, then shipped past the gap forever (seed 145 of
    //! `sim sweep --protocol async`: 880,000 messages, replicas diverged).
    use super::*;
    use kv::SimDisk;

    fn node(id: NodeId) -> PrimaryBackupNode {
        let ctx = NodeContext {
            id,
            nodes: 3,
            entropy: 0,
        };
        PrimaryBackupNode::start(
            ctx,
            &PrimaryBackupConfig::default(),
            Box::new(SimDisk::new()),
            0,
        )
        .unwrap()
    }

    fn state(seq: u64, value: Value) -> PbMessage {
        PbMessage::State {
            epoch: 0,
            seq,
            map: vec![(1, value)],
        }
    }

    #[test]
    fn an_old_state_of_the_same_epoch_is_ignored() {
        let mut backup = node(1);
        backup.handle_message(10, 0, state(5, 50));
        backup.handle_message(20, 0, state(2, 20));
        assert_eq!(backup.seq(), 5);
        assert_eq!(backup.state().get(&1), Some(&50));
        let acks: Vec<_> = std::iter::from_fn(|| backup.poll_output()).collect();
        assert_eq!(
            acks.last(),
            Some(&Output::Send {
                to: 0,
                msg: PbMessage::Ack { epoch: 0, seq: 5 }
            })
        );
    }

    #[test]
    fn the_primary_ships_from_where_the_backup_says_it_is() {
        let mut primary = node(0);
        for v in 1..=10 {
            primary.handle_client(
                v as Time,
                Request {
                    id: crate::protocol::RequestId {
                        client: 1,
                        seq: v as u64,
                    },
                    command: Command::Write { key: 1, value: v },
                },
            );
        }
        primary.handle_message(20, 1, PbMessage::Ack { epoch: 0, seq: 8 });
        primary.handle_message(21, 1, PbMessage::Ack { epoch: 0, seq: 3 });
        let last = std::iter::from_fn(|| primary.poll_output())
            .filter_map(|o| match o {
                Output::Send {
                    to: 1,
                    msg: PbMessage::Ship { first, .. },
                } => Some(first),
                _ => None,
            })
            .last();
        assert_eq!(last, Some(4), "resend from the backup's latest word");
    }
}
