//! [`SimDisk`]: an in-memory [`Storage`] that keeps *written* and *durable*
//! bytes apart, so tests can crash between the two.
//!
// ANCHOR: invariants
//! # Invariants
//!
//! 1. Every file's durable content is either a prefix of its written content
//!    (the common, append-only case) or a saved snapshot (after a truncation
//!    cut into durable bytes).
//! 2. The durable directory changes only in [`Storage::sync_dir`]; the written
//!    directory changes with every create, rename and remove.
//! 3. After [`SimDisk::crash`], written equals durable everywhere: the
//!    directory is the durable one, and each file holds its durable bytes plus,
//!    in [`Crash::Torn`] mode, a seeded random prefix of its unsynced tail. A
//!    file truncated below its durable length since its last sync goes back
//!    to exactly its durable bytes.
//!
//! A *process* crash needs no call: drop the store and reopen it on the same
//! `SimDisk`, whose written bytes survive as an operating system's page cache
//! would. Deliberately not modelled: reordering of writes within a file,
//! garbage (rather than missing) bytes in a torn write, and I/O errors.
// ANCHOR_END: invariants

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::storage::{Storage, check_name};

// ANCHOR: crash_mode
/// What survives a simulated power loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Only durable bytes and directory entries survive.
    DropUnsynced,
    /// As `DropUnsynced`, but each surviving file also keeps a random prefix
    /// (possibly empty, possibly all) of the bytes written since its last
    /// sync, drawn from `seed`: the last write is torn at a random byte.
    Torn {
        /// Seed of the ChaCha8 stream that picks the tear points.
        seed: u64,
    },
}
// ANCHOR_END: crash_mode

/// The durable state of one file (invariant 1).
#[derive(Debug, Clone)]
enum Durable {
    /// The first `len` written bytes are durable.
    Prefix(usize),
    /// A truncation cut into durable bytes: these were durable before it.
    Snapshot(Vec<u8>),
}

#[derive(Debug, Clone)]
struct SimFile {
    written: Vec<u8>,
    durable: Durable,
}

impl SimFile {
    fn durable_bytes(&self) -> &[u8] {
        match &self.durable {
            Durable::Prefix(len) => &self.written[..*len],
            Durable::Snapshot(bytes) => bytes,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Disk {
    /// Files by identity; a name maps to an identity in each directory.
    files: BTreeMap<u64, SimFile>,
    next_id: u64,
    dir: BTreeMap<String, u64>,
    durable_dir: BTreeMap<String, u64>,
    syncs: u64,
    dir_syncs: u64,
}

impl Disk {
    fn id(&self, name: &str) -> io::Result<u64> {
        check_name(name)?;
        self.dir.get(name).copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no file named {name:?}"))
        })
    }

    fn file(&self, name: &str) -> io::Result<&SimFile> {
        let id = self.id(name)?;
        Ok(&self.files[&id])
    }

    fn file_mut(&mut self, name: &str) -> io::Result<&mut SimFile> {
        let id = self.id(name)?;
        Ok(self
            .files
            .get_mut(&id)
            .expect("directory entries name live files"))
    }

    /// Drops files that no directory names any more.
    fn collect_garbage(&mut self) {
        let live: BTreeSet<u64> = self
            .dir
            .values()
            .chain(self.durable_dir.values())
            .copied()
            .collect();
        self.files.retain(|id, _| live.contains(id));
    }
}

/// An in-memory disk that can lose power. Clones share the same disk; use
/// [`SimDisk::fork`] for an independent copy.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    disk: Arc<Mutex<Disk>>,
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Disk> {
        // Every method leaves the disk consistent before it can panic.
        self.disk.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An independent copy of this disk, written and durable state alike.
    pub fn fork(&self) -> SimDisk {
        SimDisk {
            disk: Arc::new(Mutex::new(self.lock().clone())),
        }
    }

    // ANCHOR: crash
    /// Simulates a power loss (invariant 3).
    pub fn crash(&self, mode: Crash) {
        let mut disk = self.lock();
        let mut rng = match mode {
            Crash::DropUnsynced => None,
            Crash::Torn { seed } => Some(ChaCha8Rng::seed_from_u64(seed)),
        };
        disk.dir = disk.durable_dir.clone();
        disk.collect_garbage();
        for file in disk.files.values_mut() {
            let mut survived = file.durable_bytes().to_vec();
            if let (Some(rng), Durable::Prefix(len)) = (rng.as_mut(), &file.durable) {
                let unsynced = &file.written[*len..];
                let kept = rng.random_range(0..=unsynced.len());
                survived.extend_from_slice(&unsynced[..kept]);
            }
            file.durable = Durable::Prefix(survived.len());
            file.written = survived;
        }
    }
    // ANCHOR_END: crash

    // ANCHOR: flip_bit
    /// Flips bit `bit` (0–7) of byte `offset` of `name`, in the written and
    /// the durable copy alike: a bad sector, or a cosmic ray.
    ///
    /// # Panics
    ///
    /// If `bit > 7`.
    pub fn flip_bit(&self, name: &str, offset: u64, bit: u8) -> io::Result<()> {
        assert!(bit < 8, "a byte has bits 0 to 7, not {bit}");
        let mut disk = self.lock();
        let file = disk.file_mut(name)?;
        let at = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let byte = file
            .written
            .get_mut(at)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        *byte ^= 1 << bit;
        if let Durable::Snapshot(bytes) = &mut file.durable
            && let Some(byte) = bytes.get_mut(at)
        {
            *byte ^= 1 << bit;
        }
        Ok(())
    }
    // ANCHOR_END: flip_bit

    /// The written bytes of `name`.
    pub fn contents(&self, name: &str) -> io::Result<Vec<u8>> {
        Ok(self.lock().file(name)?.written.clone())
    }

    /// The durable bytes of `name` (what a power loss would keep at least).
    pub fn durable_contents(&self, name: &str) -> io::Result<Vec<u8>> {
        Ok(self.lock().file(name)?.durable_bytes().to_vec())
    }

    /// Number of file syncs so far (group commit shares them).
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Number of directory syncs so far.
    pub fn dir_syncs(&self) -> u64 {
        self.lock().dir_syncs
    }
}

impl Storage for SimDisk {
    fn append(&self, name: &str, data: &[u8]) -> io::Result<u64> {
        check_name(name)?;
        let mut disk = self.lock();
        if !disk.dir.contains_key(name) {
            let id = disk.next_id;
            disk.next_id += 1;
            disk.files.insert(
                id,
                SimFile {
                    written: Vec::new(),
                    durable: Durable::Prefix(0),
                },
            );
            disk.dir.insert(name.to_owned(), id);
        }
        let file = disk.file_mut(name)?;
        let offset = file.written.len() as u64;
        file.written.extend_from_slice(data);
        Ok(offset)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let disk = self.lock();
        let written = &disk.file(name)?.written;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| written.get(start..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        Ok(self.lock().file(name)?.written.len() as u64)
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut disk = self.lock();
        let file = disk.file_mut(name)?;
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        if len >= file.written.len() {
            file.written.resize(len, 0);
            return Ok(());
        }
        if let Durable::Prefix(durable) = file.durable
            && len < durable
        {
            file.durable = Durable::Snapshot(file.written[..durable].to_vec());
        }
        file.written.truncate(len);
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        let mut disk = self.lock();
        let file = disk.file_mut(name)?;
        file.durable = Durable::Prefix(file.written.len());
        disk.syncs += 1;
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        check_name(to)?;
        let mut disk = self.lock();
        let id = disk.id(from)?;
        disk.dir.remove(from);
        disk.dir.insert(to.to_owned(), id);
        disk.collect_garbage();
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        let mut disk = self.lock();
        disk.id(name)?;
        disk.dir.remove(name);
        disk.collect_garbage();
        Ok(())
    }

    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().dir.keys().cloned().collect())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut disk = self.lock();
        disk.durable_dir = disk.dir.clone();
        disk.dir_syncs += 1;
        disk.collect_garbage();
        Ok(())
    }
}
