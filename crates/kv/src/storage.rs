//! Where the store's bytes live: the [`Storage`] trait and its file-system
//! implementation, [`FsStorage`].
//!
//! The store sees one flat directory of named files and needs only the
//! operations an append-only log needs. Keeping them behind a trait lets the
//! tests swap the real disk for [`crate::SimDisk`], which remembers which
//! bytes are merely *written* and which are *durable*, and can crash between
//! the two.
//!
// ANCHOR: contract
//! # The durability contract
//!
//! Both implementations follow the POSIX rules that crash-consistency studies
//! (Pillai et al., OSDI '14) found applications get wrong:
//!
//! 1. Bytes appended to a file are durable only after [`Storage::sync`] of
//!    that file returns.
//! 2. A file's *existence* (its name in the directory), a rename and a
//!    removal are durable only after [`Storage::sync_dir`] returns.
//! 3. After a crash, a file holds its durable bytes followed by some prefix,
//!    possibly empty, of the bytes written after its last sync: the last
//!    write may be torn at any byte.
//!
//! Names are plain file names (no separators, not `.` or `..`); both
//! implementations reject anything else with [`std::io::ErrorKind::InvalidInput`].
// ANCHOR_END: contract

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

// ANCHOR: trait
/// A flat directory of append-only files: everything the store asks of a disk.
///
/// All methods take `&self` and implementations are `Send + Sync`, so one
/// storage can serve concurrent readers while a writer appends.
pub trait Storage: Send + Sync {
    /// Appends `data` to the file `name`, creating it if missing, and
    /// returns the offset at which `data` begins. Not durable until
    /// [`sync`](Storage::sync) (and, for a new file, [`sync_dir`](Storage::sync_dir)).
    fn append(&self, name: &str, data: &[u8]) -> io::Result<u64>;

    /// Fills `buf` from the file `name` starting at `offset`. Reading past
    /// the end is an [`io::ErrorKind::UnexpectedEof`] error.
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// The length of the file `name` in bytes, as written (durable or not).
    fn len(&self, name: &str) -> io::Result<u64>;

    /// Cuts the file `name` down to `len` bytes (recovery drops a torn tail).
    /// Durable after the next [`sync`](Storage::sync) of the file.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;

    /// Makes every byte written to `name` so far durable (`fsync`).
    fn sync(&self, name: &str) -> io::Result<()>;

    /// Renames `from` to `to`, replacing `to` if it exists, atomically.
    /// Durable after [`sync_dir`](Storage::sync_dir).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;

    /// Removes the file `name`. Durable after [`sync_dir`](Storage::sync_dir).
    fn remove(&self, name: &str) -> io::Result<()>;

    /// The names of all files, sorted.
    fn list(&self) -> io::Result<Vec<String>>;

    /// Makes the directory's entries durable: created, renamed and removed
    /// files (`fsync` of the directory).
    fn sync_dir(&self) -> io::Result<()>;
}
// ANCHOR_END: trait

/// Rejects names that are not a single, ordinary file name.
pub(crate) fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a plain file name (no separators, not . or ..)"),
        ))
    }
}

// ANCHOR: fs_storage
/// The file whose lock marks a directory as in use.
pub const LOCK_FILE: &str = "LOCK";

/// [`Storage`] on a real directory. Files are kept open after first use, so
/// an append is one `write` call and a read is one positioned read.
///
/// Opening takes an exclusive lock on the directory's [`LOCK_FILE`], held
/// until the last clone is dropped, so two processes (or two `FsStorage`s in
/// one process) cannot write the same directory. [`Storage::list`] does not
/// show the lock file.
#[derive(Debug, Clone)]
pub struct FsStorage {
    dir: PathBuf,
    _lock: Arc<File>,
    open: Arc<Mutex<HashMap<String, Arc<File>>>>,
    /// The length of each file this storage has appended to, as left by its
    /// last append (a file is only ever written here: the LOCK keeps other
    /// processes out). Held from reading a length to the end of the write,
    /// so the offset `append` returns is where its bytes landed. Saves an
    /// `fstat` per append; any other change to a file forgets its entry.
    appending: Arc<Mutex<HashMap<String, u64>>>,
}
// ANCHOR_END: fs_storage

impl FsStorage {
    // ANCHOR: fs_open
    /// Storage in the directory `dir`, created (with its parents) if missing.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] if another `FsStorage` holds the
    /// directory's lock; other I/O errors as they occur.
    pub fn open(dir: impl AsRef<Path>) -> io::Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "{} is in use by another store (its LOCK is held)",
                        dir.display()
                    ),
                ));
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
        Ok(Self {
            dir,
            _lock: Arc::new(lock),
            open: Arc::default(),
            appending: Arc::default(),
        })
    }
    // ANCHOR_END: fs_open

    /// The directory this storage lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn files(&self) -> MutexGuard<'_, HashMap<String, Arc<File>>> {
        // A panic while holding this lock leaves the map of open handles
        // valid (every insert and remove is a single call), so keep going.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lengths(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        // Entries are inserted and removed whole; a panic leaves them valid.
        self.appending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The open handle of `name`, opened (and created when `create`) if needed.
    fn file(&self, name: &str, create: bool) -> io::Result<Arc<File>> {
        check_name(name)?;
        let mut files = self.files();
        if let Some(file) = files.get(name) {
            return Ok(Arc::clone(file));
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(create)
            .open(self.dir.join(name))?;
        let file = Arc::new(file);
        files.insert(name.to_owned(), Arc::clone(&file));
        Ok(file)
    }
}

impl Storage for FsStorage {
    fn append(&self, name: &str, data: &[u8]) -> io::Result<u64> {
        let file = self.file(name, true)?;
        let mut lengths = self.lengths();
        let offset = match lengths.get(name) {
            Some(&len) => len,
            None => file.metadata()?.len(),
        };
        if let Err(error) = (&*file).write_all(data) {
            // Part of `data` may have landed: the length is unknown now.
            lengths.remove(name);
            return Err(error);
        }
        let end = offset + data.len() as u64;
        match lengths.get_mut(name) {
            Some(len) => *len = end,
            None => {
                lengths.insert(name.to_owned(), end);
            }
        }
        Ok(offset)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let file = self.file(name, false)?;
        read_exact_at(&file, buf, offset)
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        Ok(self.file(name, false)?.metadata()?.len())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let file = self.file(name, false)?;
        let mut lengths = self.lengths();
        lengths.remove(name);
        file.set_len(len)
    }

    // ANCHOR: fs_sync
    fn sync(&self, name: &str) -> io::Result<()> {
        self.file(name, false)?.sync_data()
    }
    // ANCHOR_END: fs_sync

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        check_name(from)?;
        check_name(to)?;
        // Close both handles first (Windows cannot rename an open file);
        // the next use reopens under the new name.
        let mut files = self.files();
        files.remove(from);
        files.remove(to);
        let mut lengths = self.lengths();
        lengths.remove(from);
        lengths.remove(to);
        fs::rename(self.dir.join(from), self.dir.join(to))
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        check_name(name)?;
        let mut files = self.files();
        files.remove(name);
        self.lengths().remove(name);
        fs::remove_file(self.dir.join(name))
    }

    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && name != LOCK_FILE {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn sync_dir(&self) -> io::Result<()> {
        sync_directory(&self.dir)
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

// ANCHOR: sync_directory
#[cfg(unix)]
fn sync_directory(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
// ANCHOR_END: sync_directory

/// Windows makes directory entries durable with the file's own flush and
/// cannot open a directory for `fsync`.
#[cfg(windows)]
fn sync_directory(_dir: &Path) -> io::Result<()> {
    Ok(())
}
