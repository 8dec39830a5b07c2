//! A quorum replica's durable state: its last-writer-wins store and the
//! hints it holds for other replicas, kept in one [`RecordLog`].
//!
//! Every change is appended and synced before the caller may tell anyone
//! about it (invariant 4 of the [module](super)); a restart replays the log.
//! The log is compacted (rewritten with only the live entries) once it holds
//! more than [`COMPACT_RECORDS_MIN`] records and four times as many records
//! as live entries, so it stays bounded by the data it describes.

use std::collections::BTreeMap;
use std::io;

use kv::Storage;

use crate::durable::{Decoder, Encoder, RecordLog};
use crate::protocol::{Key, NodeId, Time, Value};

/// The log file's name on the node's storage.
pub(super) const LOG_NAME: &str = "quorum.log";

/// The log is never compacted below this many records.
pub(super) const COMPACT_RECORDS_MIN: usize = 1024;

const TAG_STORE: u8 = 1;
const TAG_HINT: u8 = 2;
const TAG_HINT_DONE: u8 = 3;

/// A last-writer-wins version: the coordinator's clock reading when it
/// accepted the write, then the coordinator's id and a per-coordinator
/// counter to break ties. Versions are totally ordered, field by field; the
/// highest version of a key wins everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The coordinator's clock (virtual time plus its configured skew) in
    /// microseconds.
    pub timestamp_us: Time,
    /// The node that coordinated the write.
    pub coordinator: NodeId,
    /// Increases by one per version the coordinator issues.
    pub counter: u64,
}

/// A value together with the version that wrote it. Ordered by version
/// first (one version names one value, invariant 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Versioned {
    /// Orders this value against other writes of the same key.
    pub version: Version,
    /// The value written.
    pub value: Value,
}

/// The version of an optional versioned value; `None` sorts first.
pub(super) fn version_of(v: Option<&Versioned>) -> Option<Version> {
    v.map(|v| v.version)
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn encode_versioned(e: Encoder, v: &Versioned) -> Encoder {
    e.u64(v.version.timestamp_us)
        .u64(v.version.coordinator as u64)
        .u64(v.version.counter)
        .i64(v.value)
}

fn decode_node(d: &mut Decoder<'_>) -> io::Result<NodeId> {
    let n = d.u64()?;
    NodeId::try_from(n).map_err(|_| corrupt(format!("node id {n} does not fit")))
}

fn decode_key(d: &mut Decoder<'_>) -> io::Result<Key> {
    let k = d.u64()?;
    Key::try_from(k).map_err(|_| corrupt(format!("key {k} does not fit in a u32")))
}

fn decode_version(d: &mut Decoder<'_>) -> io::Result<Version> {
    Ok(Version {
        timestamp_us: d.u64()?,
        coordinator: decode_node(d)?,
        counter: d.u64()?,
    })
}

fn decode_versioned(d: &mut Decoder<'_>) -> io::Result<Versioned> {
    Ok(Versioned {
        version: decode_version(d)?,
        value: d.i64()?,
    })
}

/// The replica's store and hints, mirrored in a synced log.
#[derive(Debug)]
pub(super) struct Durable {
    log: RecordLog,
    /// Records in the log since it was last rewritten.
    records: usize,
    /// Key → the highest version this replica has stored.
    store: BTreeMap<Key, Versioned>,
    /// (intended owner, key) → the newest value held for that owner.
    hints: BTreeMap<(NodeId, Key), Versioned>,
}

impl Durable {
    /// Opens the log on `storage` and replays it.
    pub(super) fn open(storage: Box<dyn Storage>) -> io::Result<Self> {
        let (log, records) = RecordLog::open(storage, LOG_NAME)?;
        let mut durable = Durable {
            log,
            records: records.len(),
            store: BTreeMap::new(),
            hints: BTreeMap::new(),
        };
        for record in &records {
            durable.replay(record)?;
        }
        Ok(durable)
    }

    fn replay(&mut self, record: &[u8]) -> io::Result<()> {
        let mut d = Decoder::new(record);
        match d.u8()? {
            TAG_STORE => {
                let key = decode_key(&mut d)?;
                let v = decode_versioned(&mut d)?;
                self.apply_store(key, v);
            }
            TAG_HINT => {
                let owner = decode_node(&mut d)?;
                let key = decode_key(&mut d)?;
                let v = decode_versioned(&mut d)?;
                self.apply_hint(owner, key, v);
            }
            TAG_HINT_DONE => {
                let owner = decode_node(&mut d)?;
                let key = decode_key(&mut d)?;
                let acked = decode_version(&mut d)?;
                self.apply_hint_done(owner, key, acked);
            }
            tag => return Err(corrupt(format!("unknown quorum record tag {tag}"))),
        }
        d.end()
    }

    fn apply_store(&mut self, key: Key, v: Versioned) -> bool {
        let newer = version_of(self.store.get(&key)) < Some(v.version);
        if newer {
            self.store.insert(key, v);
        }
        newer
    }

    fn apply_hint(&mut self, owner: NodeId, key: Key, v: Versioned) -> bool {
        let newer = version_of(self.hints.get(&(owner, key))) < Some(v.version);
        if newer {
            self.hints.insert((owner, key), v);
        }
        newer
    }

    fn apply_hint_done(&mut self, owner: NodeId, key: Key, acked: Version) -> bool {
        let covered = self
            .hints
            .get(&(owner, key))
            .is_some_and(|h| h.version <= acked);
        if covered {
            self.hints.remove(&(owner, key));
        }
        covered
    }

    /// The replica's store.
    pub(super) fn store(&self) -> &BTreeMap<Key, Versioned> {
        &self.store
    }

    /// The hints held for other replicas.
    pub(super) fn hints(&self) -> &BTreeMap<(NodeId, Key), Versioned> {
        &self.hints
    }

    /// Stores `v` under `key` if it is newer than what is stored, durably
    /// (synced) before returning. `Ok(false)`: the store already held this
    /// version or a newer one.
    pub(super) fn put(&mut self, key: Key, v: Versioned) -> io::Result<bool> {
        if version_of(self.store.get(&key)) >= Some(v.version) {
            return Ok(false);
        }
        let e = encode_versioned(Encoder::new().u8(TAG_STORE).u64(key.into()), &v);
        self.append_synced(&e.finish())?;
        Ok(self.apply_store(key, v))
    }

    /// Holds `v` for `owner`, durably, unless a newer hint is held already.
    pub(super) fn add_hint(&mut self, owner: NodeId, key: Key, v: Versioned) -> io::Result<()> {
        if version_of(self.hints.get(&(owner, key))) >= Some(v.version) {
            return Ok(());
        }
        let e = Encoder::new()
            .u8(TAG_HINT)
            .u64(owner as u64)
            .u64(key.into());
        self.append_synced(&encode_versioned(e, &v).finish())?;
        self.apply_hint(owner, key, v);
        Ok(())
    }

    /// Forgets the hint for (`owner`, `key`) if `owner` has acknowledged
    /// version `acked` or newer of it. Not synced: losing this record only
    /// makes the hint be delivered once more, which is harmless.
    pub(super) fn hint_delivered(
        &mut self,
        owner: NodeId,
        key: Key,
        acked: Version,
    ) -> io::Result<bool> {
        let covered = self
            .hints
            .get(&(owner, key))
            .is_some_and(|h| h.version <= acked);
        if !covered {
            return Ok(false);
        }
        let e = Encoder::new()
            .u8(TAG_HINT_DONE)
            .u64(owner as u64)
            .u64(key.into())
            .u64(acked.timestamp_us)
            .u64(acked.coordinator as u64)
            .u64(acked.counter);
        self.log.append(&e.finish())?;
        self.records += 1;
        Ok(self.apply_hint_done(owner, key, acked))
    }

    fn append_synced(&mut self, record: &[u8]) -> io::Result<()> {
        self.log.append(record)?;
        self.log.sync()?;
        self.records += 1;
        let live = self.store.len() + self.hints.len() + 1;
        if self.records > COMPACT_RECORDS_MIN && self.records > 4 * live {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log with only the live store entries and hints.
    fn compact(&mut self) -> io::Result<()> {
        let mut records = Vec::with_capacity(self.store.len() + self.hints.len());
        for (&key, v) in &self.store {
            let e = Encoder::new().u8(TAG_STORE).u64(key.into());
            records.push(encode_versioned(e, v).finish());
        }
        for (&(owner, key), v) in &self.hints {
            let e = Encoder::new()
                .u8(TAG_HINT)
                .u64(owner as u64)
                .u64(key.into());
            records.push(encode_versioned(e, v).finish());
        }
        self.log.rewrite(records.iter().map(Vec::as_slice))?;
        self.records = records.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv::{Crash, SimDisk};

    fn v(ts: Time, value: Value) -> Versioned {
        Versioned {
            version: Version {
                timestamp_us: ts,
                coordinator: 0,
                counter: 0,
            },
            value,
        }
    }

    #[test]
    fn keeps_the_highest_version_across_a_crash() {
        let disk = SimDisk::new();
        let mut d = Durable::open(Box::new(disk.clone())).unwrap();
        assert!(d.put(1, v(10, 100)).unwrap());
        assert!(!d.put(1, v(5, 50)).unwrap());
        assert!(d.put(1, v(20, 200)).unwrap());
        d.add_hint(2, 1, v(20, 200)).unwrap();
        d.add_hint(2, 3, v(7, 7)).unwrap();
        assert!(d.hint_delivered(2, 3, v(7, 7).version).unwrap());
        disk.crash(Crash::DropUnsynced);
        let d = Durable::open(Box::new(disk)).unwrap();
        assert_eq!(d.store().get(&1), Some(&v(20, 200)));
        // The unsynced "delivered" record was lost: the hint comes back.
        assert_eq!(d.hints().len(), 2);
    }

    #[test]
    fn compaction_keeps_the_live_entries() {
        let disk = SimDisk::new();
        let mut d = Durable::open(Box::new(disk.clone())).unwrap();
        for ts in 0..3000 {
            d.put((ts % 3) as Key, v(ts, ts as Value)).unwrap();
        }
        assert!(d.records <= COMPACT_RECORDS_MIN + 1);
        let expect = d.store().clone();
        disk.crash(Crash::DropUnsynced);
        let d = Durable::open(Box::new(disk)).unwrap();
        assert_eq!(d.store(), &expect);
    }
}
