//! The key-value stores compared in `benches/benches/kv.rs`, behind one
//! trait, and the workload they all run: random 16-byte keys and 100-byte
//! values from one seed.
//!
//! # What "the same durability" means for each engine
//!
//! | this crate | redb 4.6 | sled 0.34 | fjall 3.1 |
//! |---|---|---|---|
//! | [`Durability::Never`]: the write reached the OS (survives a process crash) | `Durability::None` (not persisted until a later `Immediate` commit) | `insert` (buffered, flushed every 500 ms) | `insert` (journal written to OS buffers) |
//! | [`Durability::Always`]: fsync'd before the call returns | `Durability::Immediate` | `insert` then `flush()` | `insert` then `persist(SyncAll)` |
//!
//! redb 4 has no level between `None` and `Immediate`, and its `None` is
//! weaker than our `Never` (a process crash may lose `None` commits), as is
//! sled's buffered insert; fjall's default matches ours. Every engine runs
//! one write per commit: no batching unless a benchmark says so.

use std::path::Path;

use kv::{Durability, FsStorage, Options, Store, WriteBatch};
use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng};
use redb::ReadableDatabase;

/// Seed of every key and value stream.
pub const SEED: u64 = 0x4B56_5354_4F52_4531;
/// Bytes per key.
pub const KEY_LEN: usize = 16;
/// Bytes per value.
pub const VALUE_LEN: usize = 100;

/// `count` random 16-byte keys from `seed` (distinct with overwhelming
/// probability: 2^128 possible keys).
pub fn random_keys(seed: u64, count: usize) -> Vec<[u8; KEY_LEN]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let mut key = [0; KEY_LEN];
            rng.fill_bytes(&mut key);
            key
        })
        .collect()
}

/// A 100-byte value derived from `key`, so a read can be checked.
pub fn value_for(key: &[u8]) -> [u8; VALUE_LEN] {
    let mut value = [0; VALUE_LEN];
    for (i, byte) in value.iter_mut().enumerate() {
        *byte = key[i % key.len()] ^ (i as u8);
    }
    value
}

/// One engine under test. Errors panic: a benchmark that hits one is broken.
pub trait Engine: Sized + Send + Sync {
    /// Short name, used as criterion's function id.
    const NAME: &'static str;
    /// Opens (or creates) the engine in `dir`; `durable` picks the
    /// fsync-per-write mapping of the module table.
    fn open(dir: &Path, durable: bool) -> Self;
    /// One write, acknowledged at the engine's durability.
    fn put(&self, key: &[u8], value: &[u8]);
    /// The value's length, if present (reading it in full).
    fn get(&self, key: &[u8]) -> Option<usize>;
    /// Reads up to `count` entries from `start` in key order; returns how
    /// many there were.
    fn scan(&self, start: &[u8], count: usize) -> usize;
    /// Loads `keys` (with [`value_for`]) in large atomic batches, then makes
    /// them durable: the fast path for setting up a benchmark.
    fn load(&self, keys: &[[u8; KEY_LEN]]);
    /// Rewrites the engine's files to drop dead data, if it has such an
    /// operation; returns false if not.
    fn compact(&mut self) -> bool;
}

/// Entries per batch in [`Engine::load`].
const LOAD_BATCH: usize = 10_000;

/// This crate's store.
pub struct Strata(pub Store<FsStorage>);

impl Engine for Strata {
    const NAME: &'static str = "strata";
    fn open(dir: &Path, durable: bool) -> Self {
        let durability = if durable {
            Durability::Always
        } else {
            Durability::Never
        };
        let options = Options {
            durability,
            ..Options::default()
        };
        Strata(Store::open_dir(dir, options).expect("open strata"))
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.0.put(key, value).expect("strata put");
    }
    fn get(&self, key: &[u8]) -> Option<usize> {
        self.0.get(key).expect("strata get").map(|v| v.len())
    }
    fn scan(&self, start: &[u8], count: usize) -> usize {
        self.0
            .scan(start.to_vec()..)
            .take(count)
            .map(|entry| entry.expect("strata scan").1.len())
            .filter(|&len| len > 0)
            .count()
    }
    fn load(&self, keys: &[[u8; KEY_LEN]]) {
        for chunk in keys.chunks(LOAD_BATCH) {
            let mut batch = WriteBatch::new();
            for key in chunk {
                batch.put(key.to_vec(), value_for(key).to_vec());
            }
            self.0.write_batch(batch).expect("strata batch");
        }
        self.0.sync().expect("strata sync");
    }
    fn compact(&mut self) -> bool {
        self.0.compact().expect("strata compact");
        true
    }
}

const TABLE: redb::TableDefinition<'_, &[u8], &[u8]> = redb::TableDefinition::new("kv");

/// redb: a copy-on-write B-tree in one file.
pub struct Redb {
    db: redb::Database,
    durability: redb::Durability,
}

impl Redb {
    fn write(&self, durability: redb::Durability, pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>) {
        let mut tx = self.db.begin_write().expect("redb begin_write");
        tx.set_durability(durability).expect("redb durability");
        {
            let mut table = tx.open_table(TABLE).expect("redb open_table");
            for (key, value) in pairs {
                table.insert(key, value).expect("redb insert");
            }
        }
        tx.commit().expect("redb commit");
    }
}

impl Engine for Redb {
    const NAME: &'static str = "redb";
    fn open(dir: &Path, durable: bool) -> Self {
        let db = redb::Database::create(dir.join("redb")).expect("open redb");
        let durability = if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        };
        let redb = Redb { db, durability };
        // Create the table, so that reads of an empty store work.
        redb.write(redb::Durability::Immediate, &mut std::iter::empty());
        redb
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.write(self.durability, &mut std::iter::once((key, value)));
    }
    fn get(&self, key: &[u8]) -> Option<usize> {
        let tx = self.db.begin_read().expect("redb begin_read");
        let table = tx.open_table(TABLE).expect("redb open_table");
        let value = table.get(key).expect("redb get")?;
        Some(value.value().len())
    }
    fn scan(&self, start: &[u8], count: usize) -> usize {
        let tx = self.db.begin_read().expect("redb begin_read");
        let table = tx.open_table(TABLE).expect("redb open_table");
        table
            .range(start..)
            .expect("redb range")
            .take(count)
            .map(|entry| entry.expect("redb scan").1.value().len())
            .filter(|&len| len > 0)
            .count()
    }
    fn load(&self, keys: &[[u8; KEY_LEN]]) {
        for chunk in keys.chunks(LOAD_BATCH) {
            let values: Vec<_> = chunk.iter().map(|key| value_for(key)).collect();
            let mut pairs = chunk
                .iter()
                .zip(&values)
                .map(|(key, value)| (&key[..], &value[..]));
            self.write(redb::Durability::Immediate, &mut pairs);
        }
    }
    fn compact(&mut self) -> bool {
        self.db.compact().expect("redb compact");
        true
    }
}

/// sled 0.34: a log-structured B+-tree with a page cache.
pub struct Sled {
    db: sled::Db,
    durable: bool,
}

impl Engine for Sled {
    const NAME: &'static str = "sled";
    fn open(dir: &Path, durable: bool) -> Self {
        let db = sled::open(dir.join("sled")).expect("open sled");
        Sled { db, durable }
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.db.insert(key, value).expect("sled insert");
        if self.durable {
            self.db.flush().expect("sled flush");
        }
    }
    fn get(&self, key: &[u8]) -> Option<usize> {
        self.db.get(key).expect("sled get").map(|v| v.len())
    }
    fn scan(&self, start: &[u8], count: usize) -> usize {
        self.db
            .range(start..)
            .take(count)
            .map(|entry| entry.expect("sled scan").1.len())
            .filter(|&len| len > 0)
            .count()
    }
    fn load(&self, keys: &[[u8; KEY_LEN]]) {
        for chunk in keys.chunks(LOAD_BATCH) {
            let mut batch = sled::Batch::default();
            for key in chunk {
                batch.insert(&key[..], &value_for(key)[..]);
            }
            self.db.apply_batch(batch).expect("sled batch");
        }
        self.db.flush().expect("sled flush");
    }
    fn compact(&mut self) -> bool {
        false
    }
}

/// fjall 3: an LSM tree with a write-ahead journal.
pub struct Fjall {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
    durable: bool,
}

impl Engine for Fjall {
    const NAME: &'static str = "fjall";
    fn open(dir: &Path, durable: bool) -> Self {
        let db = fjall::Database::builder(dir.join("fjall"))
            .open()
            .expect("open fjall");
        let keyspace = db
            .keyspace("kv", fjall::KeyspaceCreateOptions::default)
            .expect("fjall keyspace");
        Fjall {
            db,
            keyspace,
            durable,
        }
    }
    fn put(&self, key: &[u8], value: &[u8]) {
        self.keyspace.insert(key, value).expect("fjall insert");
        if self.durable {
            self.db
                .persist(fjall::PersistMode::SyncAll)
                .expect("fjall persist");
        }
    }
    fn get(&self, key: &[u8]) -> Option<usize> {
        self.keyspace.get(key).expect("fjall get").map(|v| v.len())
    }
    fn scan(&self, start: &[u8], count: usize) -> usize {
        self.keyspace
            .range(start..)
            .take(count)
            .map(|guard| guard.value().expect("fjall scan").len())
            .filter(|&len| len > 0)
            .count()
    }
    fn load(&self, keys: &[[u8; KEY_LEN]]) {
        for chunk in keys.chunks(LOAD_BATCH) {
            let mut batch = self.db.batch();
            for key in chunk {
                batch.insert(&self.keyspace, &key[..], &value_for(key)[..]);
            }
            batch.commit().expect("fjall batch");
        }
        self.db
            .persist(fjall::PersistMode::SyncAll)
            .expect("fjall persist");
    }
    fn compact(&mut self) -> bool {
        self.keyspace.major_compact().expect("fjall compact");
        true
    }
}
