//! Saving and loading an index: a versioned little-endian format with a
//! CRC-32C over everything, checked in full before any of it is trusted.
//!
//! Layout (version 1):
//!
//! ```text
//! magic "STRATA-HNSW\0" | version u32 | metric u8 | dimension u32
//! m u32 | m0 u32 | ef_construction u32 | level_multiplier f64 | seed u64
//! selection u8 (0 simple, 1 heuristic) | extend_candidates u8 | keep_pruned u8
//! nodes u64 | entry u64 (u64::MAX: none)
//! per node: id u64 | level u8 | removed u8
//! vectors: nodes × dimension f32
//! layer-0 links: nodes × (m0 + 1) u32 (count, then neighbours)
//! upper links: per node, level × (m + 1) u32
//! spanning-tree parents: nodes × u32 (u32::MAX for the entry point)
//! crc32c u32 of every byte before it
//! ```
//!
//! A loaded index must pass [`Hnsw::check_invariants`], so a file that
//! decodes but describes a broken graph is refused as corrupt rather than
//! searched.

use std::collections::HashMap;
use std::path::Path;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};
use crate::index::{Hnsw, LEVEL_MAX, Params, Selection};
use crate::metric::Metric;

const MAGIC: &[u8; 12] = b"STRATA-HNSW\0";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

impl Hnsw {
    /// The index as bytes, in the format of this module.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.memory_bytes());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(self.metric.code());
        let p = self.params;
        for value in [self.dimension, p.m, p.m0, p.ef_construction] {
            out.extend_from_slice(&(value as u32).to_le_bytes());
        }
        out.extend_from_slice(&p.level_multiplier.to_le_bytes());
        out.extend_from_slice(&p.seed.to_le_bytes());
        match p.selection {
            Selection::Simple => out.extend_from_slice(&[0, 0, 0]),
            Selection::Heuristic {
                extend_candidates,
                keep_pruned,
            } => out.extend_from_slice(&[1, u8::from(extend_candidates), u8::from(keep_pruned)]),
        }
        out.extend_from_slice(&(self.ids.len() as u64).to_le_bytes());
        let entry = self.entry.map_or(u64::MAX, u64::from);
        out.extend_from_slice(&entry.to_le_bytes());
        for node in 0..self.ids.len() {
            out.extend_from_slice(&self.ids[node].to_le_bytes());
            out.push(self.levels[node]);
            out.push(u8::from(self.removed[node]));
        }
        for x in &self.vectors {
            out.extend_from_slice(&x.to_le_bytes());
        }
        for x in self
            .layer0
            .iter()
            .chain(self.upper.iter().flatten())
            .chain(&self.parent)
        {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Writes the index to `path` (through a temporary file renamed over it,
    /// so a crash leaves the old file or the new one), then syncs the
    /// directory so that the rename itself survives a power loss.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        std::fs::write(&temp, self.to_bytes())?;
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::rename(&temp, path)?;
        sync_parent(path)?;
        Ok(())
    }

    /// Reads an index written by [`Hnsw::save`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`], or [`Error::Corrupt`] for anything that is not an
    /// intact index of this format version.
    pub fn load(path: impl AsRef<Path>) -> Result<Hnsw> {
        Hnsw::from_bytes(&std::fs::read(path)?)
    }

    // ANCHOR: save_to
    /// Writes the index as the file `name` of `storage`, durably: the bytes
    /// go to `name.tmp`, which is synced, renamed over `name`, and the
    /// directory synced, so that after a crash `name` holds the old index or
    /// the new one, whole. Any [`kv::Storage`] works: a directory
    /// ([`kv::FsStorage`]), a simulated disk, or one namespace of a disk
    /// shared with a store ([`kv::Prefixed`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the storage.
    pub fn save_to(&self, storage: &impl kv::Storage, name: &str) -> Result<()> {
        let temp = format!("{name}.tmp");
        if storage.list()?.contains(&temp) {
            storage.remove(&temp)?;
        }
        storage.append(&temp, &self.to_bytes())?;
        storage.sync(&temp)?;
        storage.rename(&temp, name)?;
        storage.sync_dir()?;
        Ok(())
    }
    // ANCHOR_END: save_to

    /// Reads an index written by [`Hnsw::save_to`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] from the storage (a missing file included), or
    /// [`Error::Corrupt`] for anything that is not an intact index of this
    /// format version.
    pub fn load_from(storage: &impl kv::Storage, name: &str) -> Result<Hnsw> {
        let len = usize::try_from(storage.len(name)?)
            .map_err(|_| Error::Corrupt(format!("{name} is too large to load")))?;
        let mut bytes = vec![0; len];
        storage.read_at(name, 0, &mut bytes)?;
        Hnsw::from_bytes(&bytes)
    }

    /// Decodes [`Hnsw::to_bytes`]'s output.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] naming the first problem found.
    pub fn from_bytes(bytes: &[u8]) -> Result<Hnsw> {
        let corrupt = |what: String| Error::Corrupt(what);
        let Some(body_len) = bytes.len().checked_sub(4) else {
            return Err(corrupt(format!(
                "{} bytes is too short for an index",
                bytes.len()
            )));
        };
        let (body, crc) = bytes.split_at(body_len);
        let stored = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        if !body.starts_with(MAGIC) {
            return Err(corrupt("not a Strata HNSW index (bad magic)".into()));
        }
        let computed = crc32c::crc32c(body);
        if stored != computed {
            return Err(corrupt(format!(
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            )));
        }
        let mut r = Reader {
            bytes: &body[MAGIC.len()..],
        };
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {version}; this build reads version {FORMAT_VERSION}"
            )));
        }
        let metric = Metric::from_code(r.u8()?).ok_or_else(|| corrupt("unknown metric".into()))?;
        let dimension = r.u32()? as usize;
        let (m, m0, ef_construction) = (r.u32()? as usize, r.u32()? as usize, r.u32()? as usize);
        let level_multiplier = r.f64()?;
        let seed = r.u64()?;
        let selection = match (r.u8()?, r.u8()?, r.u8()?) {
            (0, 0, 0) => Selection::Simple,
            (1, extend, keep) if extend <= 1 && keep <= 1 => Selection::Heuristic {
                extend_candidates: extend == 1,
                keep_pruned: keep == 1,
            },
            other => return Err(corrupt(format!("unknown selection {other:?}"))),
        };
        let params = Params {
            m,
            m0,
            ef_construction,
            level_multiplier,
            seed,
            selection,
        };
        let mut index = Hnsw::new(metric, dimension, params)
            .map_err(|error| corrupt(format!("bad header: {error}")))?;
        let nodes = r.u64()?;
        let entry = r.u64()?;
        // Every node takes at least 10 bytes of header and its vector and
        // layer-0 links: a count the file cannot hold is refused before any
        // allocation.
        let per_node = 10 + 4 * (dimension as u64 + m0 as u64 + 2);
        if nodes
            .checked_mul(per_node)
            .is_none_or(|need| need > r.bytes.len() as u64)
        {
            return Err(corrupt(format!("{nodes} nodes do not fit in the file")));
        }
        let n = nodes as usize;
        for _ in 0..n {
            let id = r.u64()?;
            let level = r.u8()?;
            if level as usize > LEVEL_MAX {
                return Err(corrupt(format!("level {level} exceeds {LEVEL_MAX}")));
            }
            let removed = match r.u8()? {
                0 => false,
                1 => true,
                other => return Err(corrupt(format!("removed flag {other}"))),
            };
            index.ids.push(id);
            index.levels.push(level);
            index.removed.push(removed);
        }
        index.vectors = r.f32s(n * dimension)?;
        if let Some((i, x)) = index
            .vectors
            .iter()
            .enumerate()
            .find(|(_, x)| !x.is_finite())
        {
            return Err(corrupt(format!("component {i} is {x}")));
        }
        index.layer0 = r.u32s(n * (m0 + 1))?;
        for node in 0..n {
            index
                .upper
                .push(r.u32s(index.levels[node] as usize * (m + 1))?);
        }
        index.parent = r.u32s(n)?;
        index.children = vec![0; n];
        for &parent in &index.parent {
            if parent != crate::index::NO_PARENT {
                let slot = index
                    .children
                    .get_mut(parent as usize)
                    .ok_or_else(|| corrupt(format!("tree parent {parent} of {n} nodes")))?;
                *slot += 1;
            }
        }
        if !r.bytes.is_empty() {
            return Err(corrupt(format!("{} bytes after the links", r.bytes.len())));
        }
        index.entry = match entry {
            u64::MAX => None,
            e => Some(u32::try_from(e).map_err(|_| corrupt(format!("entry point {e}")))?),
        };
        let mut by_id = HashMap::with_capacity(n);
        for node in 0..n {
            if !index.removed[node] && by_id.insert(index.ids[node], node as u32).is_some() {
                return Err(corrupt(format!("id {} is live twice", index.ids[node])));
            }
        }
        index.by_id = by_id;
        // One level is drawn per node ever inserted since the last
        // compaction: replay the draws, so later inserts continue the stream.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..n {
            let _: f64 = rng.random();
        }
        index.set_rng(rng);
        index
            .check_invariants()
            .map_err(|violation| corrupt(format!("the graph is inconsistent: {violation}")))?;
        Ok(index)
    }
}

/// Reads little-endian values off the front of a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, len: usize) -> Result<&[u8]> {
        if self.bytes.len() < len {
            return Err(Error::Corrupt(format!(
                "truncated: needed {len} more bytes, {} remain",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// `count` four-byte values, each decoded by `decode`.
    fn words<T>(&mut self, count: usize, decode: fn([u8; 4]) -> T) -> Result<Vec<T>> {
        let len = count
            .checked_mul(4)
            .ok_or_else(|| Error::Corrupt(format!("{count} values overflow")))?;
        Ok(self
            .take(len)?
            .chunks_exact(4)
            .map(|b| decode(b.try_into().expect("4 bytes")))
            .collect())
    }

    fn f32s(&mut self, count: usize) -> Result<Vec<f32>> {
        self.words(count, f32::from_le_bytes)
    }

    fn u32s(&mut self, count: usize) -> Result<Vec<u32>> {
        self.words(count, u32::from_le_bytes)
    }
}

/// Syncs the directory holding `path`, so that a rename into it is durable
/// (a no-op where directories cannot be opened, as on Windows).
fn sync_parent(path: &Path) -> std::io::Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if cfg!(unix) {
        std::fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}
