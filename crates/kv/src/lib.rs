//! A log-structured key-value store, indexed by the AVL map of Part I.
//!
//! This crate is Part II of the [Strata book](https://github.com/strata-db/strata):
//!
//! - [`Store`]: numbered append-only segments and an
//!   [`avl::AvlMap`] index from keys to record locations (keys of up to 22
//!   bytes stored inside the tree's nodes); `get`, `put`,
//!   `delete`, `scan` in key order, atomic [`WriteBatch`]es, two
//!   [`Durability`] modes with group commit, and recovery that cuts a torn
//!   tail (or an uncommitted batch) off the newest segment and reports any
//!   other damage as [`Error::Corruption`].
//! - [`Storage`]: the handful of file operations an append-only log needs,
//!   with a precise durability contract, implemented on a real directory by
//!   [`FsStorage`] and in memory by [`SimDisk`], which keeps *written* and
//!   *durable* bytes apart and can lose power between them, tear the last
//!   write, or flip a bit.
//! - [`record`]: how one write is framed on disk, with a CRC-32C over
//!   everything but the checksum itself, and a decoder that tells a torn tail
//!   from corruption and never trusts a length field beyond its limits.
//!
//! [`Store::compact`] rewrites the sealed segments crash-safely and leaves a
//! hint file that lets the next open skip reading them, and
//! [`Store::open_dir`] locks its directory against a second store.
//! [`Store::check_invariants`] walks the whole store and names the first
//! broken invariant ([`Violation`]).
//! [`Store::checkpoint`] takes every live key and value at one sequence
//! number without holding writers up for I/O, [`Checkpoint::encode`] turns
//! it into bytes, and [`Store::restore`] makes a store of it.
//! [`server`] serves a store over the Redis protocol ([`resp`]); the `kv`
//! binary is the command line for all of it, `kv serve` included.
//!
//! # Example: an acknowledged write survives a power loss
//!
//! ```
//! use kv::{Crash, Options, SimDisk, Store};
//!
//! let disk = SimDisk::new();
//! let store = Store::open(disk.clone(), Options::default())?; // Durability::Always
//! store.put(b"apple", b"red")?;
//! drop(store);
//!
//! disk.crash(Crash::DropUnsynced);
//! let store = Store::open(disk, Options::default())?;
//! assert_eq!(store.get(b"apple")?, Some(b"red".to_vec()));
//! # Ok::<(), kv::Error>(())
//! ```
//!
//! # Example: a write that a power loss takes away
//!
//! ```
//! use kv::{Crash, SimDisk, Storage};
//!
//! let disk = SimDisk::new();
//! disk.append("000001.log", b"synced")?;
//! disk.sync("000001.log")?;
//! disk.sync_dir()?; // the file's name is durable too
//! disk.append("000001.log", b" and not")?;
//!
//! disk.crash(Crash::DropUnsynced);
//! assert_eq!(disk.contents("000001.log")?, b"synced");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Example: a flipped bit is caught
//!
//! ```
//! use kv::record::{self, DecodeError, Kind, Limits, Record};
//!
//! let limits = Limits { key_len_max: 1024, value_len_max: 1 << 20 };
//! let mut bytes = Record { seq: 7, kind: Kind::Put, key: b"k", value: b"v" }.encode();
//! assert_eq!(record::decode(&bytes, limits)?.value, b"v");
//!
//! bytes[22] ^= 0x01; // the value's lowest bit
//! assert!(matches!(record::decode(&bytes, limits), Err(DecodeError::Checksum { .. })));
//! # Ok::<(), DecodeError>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod compose;
mod error;
pub mod frame;
mod hint;
mod key;
pub mod record;
pub mod resp;
pub mod server;
mod sim;
mod storage;
mod store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use compose::{Call, FaultyStorage, Prefixed, Then, dies_after};
pub use error::{Error, Result};
pub use sim::{Crash, SimDisk};
pub use storage::{FsStorage, LOCK_FILE, Storage};
pub use store::{
    Checkpoint, CheckpointError, Durability, Options, SCAN_CHUNK, Stats, Store, Violation,
    WriteBatch,
};
