//! Storages built from storages: the blanket implementations that let a
//! `Box`, a reference or an `Arc` of a storage be a storage, [`Prefixed`]
//! (several owners sharing one directory, each in its own namespace), and
//! [`FaultyStorage`] (a storage whose calls a hook can fail, skip or
//! delay: dying disks, failed fsyncs, missing directory syncs).

use std::io;
use std::sync::Arc;

use crate::storage::Storage;

// ANCHOR: blanket
/// Implements [`Storage`] for a pointer-like wrapper by forwarding every
/// call to the storage it points to.
macro_rules! forward_storage {
    ($($header:tt)*) => {
        $($header)* {
            fn append(&self, name: &str, data: &[u8]) -> io::Result<u64> {
                (**self).append(name, data)
            }
            fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
                (**self).read_at(name, offset, buf)
            }
            fn len(&self, name: &str) -> io::Result<u64> {
                (**self).len(name)
            }
            fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
                (**self).truncate(name, len)
            }
            fn sync(&self, name: &str) -> io::Result<()> {
                (**self).sync(name)
            }
            fn rename(&self, from: &str, to: &str) -> io::Result<()> {
                (**self).rename(from, to)
            }
            fn remove(&self, name: &str) -> io::Result<()> {
                (**self).remove(name)
            }
            fn list(&self) -> io::Result<Vec<String>> {
                (**self).list()
            }
            fn sync_dir(&self) -> io::Result<()> {
                (**self).sync_dir()
            }
        }
    };
}

// A boxed storage is a storage (so `Box<dyn Storage>` is one too), and so
// are a shared one and a borrowed one.
forward_storage!(impl<S: Storage + ?Sized> Storage for Box<S>);
forward_storage!(impl<S: Storage + ?Sized> Storage for Arc<S>);
forward_storage!(impl<S: Storage + ?Sized> Storage for &S);
// ANCHOR_END: blanket

// ANCHOR: prefixed
/// One namespace of a shared storage: every name is stored as
/// `prefix` + name, and [`Storage::list`] shows only this namespace's files,
/// with the prefix taken off. Several owners (a Raft log and the `Store` it
/// replicates, two stores on one simulated node) can share one directory
/// without seeing each other's files.
///
/// A directory sync syncs the whole shared directory, which is what the
/// contract asks of each owner.
#[derive(Debug, Clone)]
pub struct Prefixed<S> {
    inner: S,
    prefix: String,
}

impl<S: Storage> Prefixed<S> {
    /// The namespace `prefix` of `inner`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] if `prefix` is empty or not usable at
    /// the start of a plain file name (it contains a separator or NUL).
    pub fn new(inner: S, prefix: &str) -> io::Result<Self> {
        if prefix.is_empty() || prefix.contains(['/', '\\', '\0']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{prefix:?} cannot prefix file names: use a non-empty name without separators, such as \"raft-\""
                ),
            ));
        }
        Ok(Prefixed {
            inner,
            prefix: prefix.to_owned(),
        })
    }

    /// The shared storage underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}
// ANCHOR_END: prefixed

impl<S: Storage> Storage for Prefixed<S> {
    fn append(&self, name: &str, data: &[u8]) -> io::Result<u64> {
        self.inner.append(&self.name(name), data)
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(&self.name(name), offset, buf)
    }
    fn len(&self, name: &str) -> io::Result<u64> {
        self.inner.len(&self.name(name))
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        self.inner.truncate(&self.name(name), len)
    }
    fn sync(&self, name: &str) -> io::Result<()> {
        self.inner.sync(&self.name(name))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.inner.rename(&self.name(from), &self.name(to))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.inner.remove(&self.name(name))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self
            .inner
            .list()?
            .into_iter()
            .filter_map(|n| n.strip_prefix(&self.prefix).map(str::to_owned))
            .filter(|n| !n.is_empty())
            .collect())
    }
    fn sync_dir(&self) -> io::Result<()> {
        self.inner.sync_dir()
    }
}

// ANCHOR: faulty
/// A call [`FaultyStorage`] is about to pass on to its inner storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// [`Storage::append`].
    Append,
    /// [`Storage::read_at`].
    ReadAt,
    /// [`Storage::len`].
    Len,
    /// [`Storage::truncate`].
    Truncate,
    /// [`Storage::sync`].
    Sync,
    /// [`Storage::rename`].
    Rename,
    /// [`Storage::remove`].
    Remove,
    /// [`Storage::list`].
    List,
    /// [`Storage::sync_dir`].
    SyncDir,
}

impl Call {
    /// Whether the call changes the disk (what a dying process cannot do).
    pub fn mutates(self) -> bool {
        !matches!(self, Call::ReadAt | Call::Len | Call::List)
    }
}

/// What [`FaultyStorage`] does with a call after its hook returned `Ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Pass it on to the inner storage.
    Forward,
    /// Report success without doing it. Honoured for the calls that return
    /// nothing (truncate, sync, rename, remove, sync_dir): a lying fsync, a
    /// lost rename. The others are always passed on.
    Skip,
}

/// A storage with a hook run before every call: the hook can fail the call
/// (a dying disk, an fsync error: return `Err`), delay it (sleep, then
/// `Forward`), or skip it (a missing directory sync: `Skip`). The
/// fault-injecting disks of the tests, and a tool for students who want to
/// see what their code does when the disk misbehaves.
///
/// # Example: an fsync that fails once
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use kv::{Call, FaultyStorage, SimDisk, Storage, Then};
///
/// let failed = AtomicBool::new(false);
/// let disk = FaultyStorage::new(SimDisk::new(), move |call| {
///     if call == Call::Sync && !failed.swap(true, Ordering::SeqCst) {
///         return Err(std::io::Error::other("injected fsync failure"));
///     }
///     Ok(Then::Forward)
/// });
/// disk.append("log", b"x")?;
/// assert!(disk.sync("log").is_err());
/// assert!(disk.sync("log").is_ok());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct FaultyStorage<S, F> {
    /// The storage the calls go to.
    pub inner: S,
    /// Run before every call.
    pub hook: F,
}
// ANCHOR_END: faulty

impl<S: std::fmt::Debug, F> std::fmt::Debug for FaultyStorage<S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStorage")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, F> FaultyStorage<S, F>
where
    S: Storage,
    F: Fn(Call) -> io::Result<Then> + Send + Sync,
{
    /// `inner`, with `hook` run before every call.
    pub fn new(inner: S, hook: F) -> Self {
        FaultyStorage { inner, hook }
    }

    fn run(&self, call: Call, forward: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        match (self.hook)(call)? {
            Then::Forward => forward(),
            Then::Skip => Ok(()),
        }
    }
}

/// A storage that dies once `budget` more mutating calls have been made:
/// each append, truncate, sync, rename, remove and directory sync spends
/// one, and once it is spent every one of them fails, as if the process had
/// been killed. Reads keep working.
pub fn dies_after<S: Storage>(
    inner: S,
    budget: Arc<std::sync::atomic::AtomicI64>,
) -> FaultyStorage<S, impl Fn(Call) -> io::Result<Then> + Send + Sync> {
    FaultyStorage::new(inner, move |call: Call| {
        if call.mutates() && budget.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0 {
            return Err(io::Error::other("simulated crash: the process died here"));
        }
        Ok(Then::Forward)
    })
}

impl<S, F> Storage for FaultyStorage<S, F>
where
    S: Storage,
    F: Fn(Call) -> io::Result<Then> + Send + Sync,
{
    fn append(&self, name: &str, data: &[u8]) -> io::Result<u64> {
        (self.hook)(Call::Append)?;
        self.inner.append(name, data)
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (self.hook)(Call::ReadAt)?;
        self.inner.read_at(name, offset, buf)
    }
    fn len(&self, name: &str) -> io::Result<u64> {
        (self.hook)(Call::Len)?;
        self.inner.len(name)
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        self.run(Call::Truncate, || self.inner.truncate(name, len))
    }
    fn sync(&self, name: &str) -> io::Result<()> {
        self.run(Call::Sync, || self.inner.sync(name))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.run(Call::Rename, || self.inner.rename(from, to))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.run(Call::Remove, || self.inner.remove(name))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        (self.hook)(Call::List)?;
        self.inner.list()
    }
    fn sync_dir(&self) -> io::Result<()> {
        self.run(Call::SyncDir, || self.inner.sync_dir())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Crash, Options, SimDisk, Store};

    #[test]
    fn two_stores_share_one_disk_in_their_own_namespaces() {
        let disk = SimDisk::new();
        let a = Store::open(
            Prefixed::new(disk.clone(), "a-").unwrap(),
            Options::default(),
        )
        .unwrap();
        let b = Store::open(
            Prefixed::new(disk.clone(), "b-").unwrap(),
            Options::default(),
        )
        .unwrap();
        a.put(b"k", b"from a").unwrap();
        b.put(b"k", b"from b").unwrap();
        drop((a, b));
        disk.crash(Crash::DropUnsynced);
        let a = Store::open(
            Prefixed::new(disk.clone(), "a-").unwrap(),
            Options::default(),
        )
        .unwrap();
        let b = Store::open(Prefixed::new(&disk, "b-").unwrap(), Options::default()).unwrap();
        assert_eq!(a.get(b"k").unwrap().as_deref(), Some(&b"from a"[..]));
        assert_eq!(b.get(b"k").unwrap().as_deref(), Some(&b"from b"[..]));
        let names = disk.list().unwrap();
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("a-") || n.starts_with("b-")),
            "{names:?}"
        );
    }

    #[test]
    fn a_prefix_must_be_a_plain_name_start() {
        for bad in ["", "a/", "\0"] {
            let err = Prefixed::new(SimDisk::new(), bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn boxed_shared_and_borrowed_storages_are_storages() {
        fn takes(storage: impl Storage) -> u64 {
            storage.append("f", b"abc").unwrap()
        }
        let disk = SimDisk::new();
        assert_eq!(takes(&disk), 0);
        assert_eq!(takes(Arc::new(disk.clone())), 3);
        let boxed: Box<dyn Storage> = Box::new(disk.clone());
        assert_eq!(takes(boxed), 6);
        assert_eq!(disk.len("f").unwrap(), 9);
    }

    #[test]
    fn a_dying_storage_fails_every_mutation_after_its_budget() {
        let budget = Arc::new(std::sync::atomic::AtomicI64::new(2));
        let disk = dies_after(SimDisk::new(), budget);
        disk.append("f", b"1").unwrap();
        disk.sync("f").unwrap();
        assert!(disk.append("f", b"2").is_err());
        assert_eq!(disk.len("f").unwrap(), 1, "reads keep working");
    }
}
