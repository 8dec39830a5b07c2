//! Shared helpers for the integration tests: one seed for every random choice.

#![allow(dead_code, unreachable_pub)]

use proptest::test_runner::{Config, RngSeed};

/// proptest's configuration with the project's default seed, 0x5EED_5EED;
/// `PROPTEST_RNG_SEED=<u64>` picks another, `PROPTEST_CASES=<n>` more cases.
pub fn seeded() -> Config {
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let seed = match config.rng_seed {
        RngSeed::Fixed(seed) => seed,
        RngSeed::Random => 0x5EED_5EED,
    };
    Config {
        rng_seed: RngSeed::Fixed(seed),
        ..config
    }
}

/// A call [`Hooked`] is about to pass on to its disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Append,
    ReadAt,
    Len,
    Truncate,
    Sync,
    Rename,
    Remove,
    List,
    SyncDir,
}

impl Call {
    /// Whether the call changes the disk (what a dying process cannot do).
    pub fn mutates(self) -> bool {
        !matches!(self, Call::ReadAt | Call::Len | Call::List)
    }
}

/// What [`Hooked`] does with a call after its hook returned `Ok`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Pass it on to the disk.
    Forward,
    /// Report success without doing it (only for calls that return
    /// nothing: truncate, sync, rename, remove, sync_dir; the others are
    /// always passed on).
    Skip,
}

/// A [`SimDisk`] with a hook run before every call: the hook can fail the
/// call (a dying disk, an fsync error), delay it (a slow fsync), or skip it
/// (a missing directory sync). The fault-injecting disks of the tests.
pub struct Hooked<F> {
    pub disk: kv::SimDisk,
    pub hook: F,
}

impl<F> Hooked<F>
where
    F: Fn(Call) -> std::io::Result<Then> + Send + Sync,
{
    fn run(
        &self,
        call: Call,
        forward: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match (self.hook)(call)? {
            Then::Forward => forward(),
            Then::Skip => Ok(()),
        }
    }
}

impl<F> kv::Storage for Hooked<F>
where
    F: Fn(Call) -> std::io::Result<Then> + Send + Sync,
{
    fn append(&self, name: &str, data: &[u8]) -> std::io::Result<u64> {
        (self.hook)(Call::Append)?;
        self.disk.append(name, data)
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        (self.hook)(Call::ReadAt)?;
        self.disk.read_at(name, offset, buf)
    }
    fn len(&self, name: &str) -> std::io::Result<u64> {
        (self.hook)(Call::Len)?;
        self.disk.len(name)
    }
    fn truncate(&self, name: &str, len: u64) -> std::io::Result<()> {
        self.run(Call::Truncate, || self.disk.truncate(name, len))
    }
    fn sync(&self, name: &str) -> std::io::Result<()> {
        self.run(Call::Sync, || self.disk.sync(name))
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        self.run(Call::Rename, || self.disk.rename(from, to))
    }
    fn remove(&self, name: &str) -> std::io::Result<()> {
        self.run(Call::Remove, || self.disk.remove(name))
    }
    fn list(&self) -> std::io::Result<Vec<String>> {
        (self.hook)(Call::List)?;
        self.disk.list()
    }
    fn sync_dir(&self) -> std::io::Result<()> {
        self.run(Call::SyncDir, || self.disk.sync_dir())
    }
}

/// A disk that dies once `budget` more mutating calls have been made: each
/// append, truncate, sync, rename, remove and directory sync spends one, and
/// once it is spent every one of them fails, as if the process had been
/// killed. Reads keep working.
pub fn dies_after(
    disk: kv::SimDisk,
    budget: std::sync::Arc<std::sync::atomic::AtomicI64>,
) -> Hooked<impl Fn(Call) -> std::io::Result<Then> + Send + Sync> {
    Hooked {
        disk,
        hook: move |call: Call| {
            if call.mutates() && budget.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) <= 0 {
                return Err(std::io::Error::other("simulated crash"));
            }
            Ok(Then::Forward)
        },
    }
}
