//! Where the store gets the time: the only time it reads is group commit's,
//! to measure a sync and to wait its commit delay. Behind a trait, so that a
//! simulation can run the store on a clock it controls.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic clock the store can also sleep on.
pub trait Clock: Debug + Send + Sync {
    /// Time since an arbitrary fixed start; never decreases.
    fn now(&self) -> Duration;
    /// Waits `duration` on this clock.
    fn sleep(&self, duration: Duration);
}

/// The machine's monotonic clock ([`Instant`]) and [`std::thread::sleep`]:
/// the default of [`Options::clock`](crate::Options::clock).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// The start [`SystemClock::now`] counts from: the first time it is read.
fn system_start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        system_start().elapsed()
    }
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A clock that moves only when told: [`ManualClock::advance`], or a
/// [`sleep`](Clock::sleep) on it, which returns at once, having moved the
/// clock by its duration. Simulations and tests share one (a `static`, or a
/// leaked box) between the store and the fakes that decide how long things
/// take, so that runs are deterministic.
///
/// # Example: a sync that takes 5 ms, on no one's wall clock
///
/// ```
/// use std::time::Duration;
/// use kv::{Call, Clock, FaultyStorage, ManualClock, Options, SimDisk, Store, Then};
///
/// static CLOCK: ManualClock = ManualClock::new();
/// let disk = FaultyStorage::new(SimDisk::new(), |call| {
///     if call == Call::Sync {
///         CLOCK.advance(Duration::from_millis(5));
///     }
///     Ok(Then::Forward)
/// });
/// let options = Options { clock: &CLOCK, ..Options::default() };
/// let store = Store::open(disk, options)?; // open syncs once
/// store.put(b"k", b"v")?; // and the put once more
/// assert_eq!(CLOCK.now(), Duration::from_millis(10));
/// # Ok::<(), kv::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock at zero.
    pub const fn new() -> Self {
        ManualClock {
            nanos: AtomicU64::new(0),
        }
    }

    /// Moves the clock forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
    fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}
