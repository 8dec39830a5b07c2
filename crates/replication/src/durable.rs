//! Durable state for protocol nodes: an append-only file of checksummed
//! records on a [`Storage`], replayed on restart.
//!
// ANCHOR: record_log
//! Each record is one [`kv::frame`]: `len | crc32c(len) | crc32c(payload) |
//! payload`, the framing every durable log of the workspace shares. A crash
//! may leave a torn last record (the simulated disk keeps a random prefix
//! of unsynced bytes); [`RecordLog::open`] cuts such a tail off, so a node
//! recovers exactly the records it wrote and synced — plus, possibly, some
//! complete records it wrote but had not yet synced, which is what a real
//! disk does too. A protocol must therefore sync *before* it tells anyone
//! (a client or a peer) that the state is stored. Damage that a crash
//! cannot explain — a flipped bit anywhere in a complete record — makes
//! `open` fail with [`io::ErrorKind::InvalidData`]: the node refuses to
//! start rather than serve a log silently cut short.
// ANCHOR_END: record_log
//!
//! [`RecordLog::rewrite`] replaces the whole file atomically (write a
//! temporary file, sync it, rename it over the log, sync the directory):
//! log compaction after a snapshot.
//!
//! [`Encoder`] and [`Decoder`] are the little binary codec protocols use
//! for their records.

use std::io;

use kv::Storage;

/// An append-only file of checksummed records.
pub struct RecordLog {
    storage: Box<dyn Storage>,
    name: String,
}

impl std::fmt::Debug for RecordLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordLog")
            .field("name", &self.name)
            .finish()
    }
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl RecordLog {
    /// Opens (creating if needed) the log `name` and returns it with every
    /// intact record, in order. A torn tail is cut off.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the log is corrupt (damage that is
    /// not a torn tail, [`kv::frame::FrameError`]); any I/O error from
    /// `storage`.
    pub fn open(storage: Box<dyn Storage>, name: &str) -> io::Result<(Self, Vec<Vec<u8>>)> {
        let exists = storage.list()?.iter().any(|n| n == name);
        let mut records = Vec::new();
        if exists {
            let len = storage.len(name)?;
            let mut bytes = vec![0; usize::try_from(len).map_err(|e| corrupt(e.to_string()))?];
            storage.read_at(name, 0, &mut bytes)?;
            let scan = kv::frame::scan(&bytes).map_err(|e| corrupt(format!("{name}: {e}")))?;
            records.extend(scan.payloads.iter().map(|r| bytes[r.clone()].to_vec()));
            if scan.torn(bytes.len()) {
                storage.truncate(name, scan.valid_len as u64)?;
            }
            // What was replayed is acted on (votes, acknowledgements), so
            // it must be durable before anything depends on it: an earlier
            // start may have died after creating the file but before its
            // directory entry or its bytes were synced.
            storage.sync(name)?;
            storage.sync_dir()?;
        } else {
            storage.append(name, &[])?;
            storage.sync(name)?;
            storage.sync_dir()?;
        }
        Ok((
            RecordLog {
                storage,
                name: name.to_owned(),
            },
            records,
        ))
    }

    /// Appends one record. Not durable until [`RecordLog::sync`].
    ///
    /// # Errors
    ///
    /// Any I/O error from the storage.
    pub fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut framed = Vec::with_capacity(kv::frame::HEADER_LEN + payload.len());
        kv::frame::encode(payload, &mut framed);
        self.storage.append(&self.name, &framed)?;
        Ok(())
    }

    /// Makes every appended record durable.
    ///
    /// # Errors
    ///
    /// Any I/O error from the storage.
    pub fn sync(&mut self) -> io::Result<()> {
        self.storage.sync(&self.name)
    }

    /// Atomically replaces the log's content with `records`, durably.
    ///
    /// # Errors
    ///
    /// Any I/O error from the storage.
    pub fn rewrite<'a>(&mut self, records: impl IntoIterator<Item = &'a [u8]>) -> io::Result<()> {
        let tmp = format!("{}.tmp", self.name);
        if self.storage.list()?.contains(&tmp) {
            self.storage.remove(&tmp)?;
        }
        let mut bytes = Vec::new();
        for record in records {
            kv::frame::encode(record, &mut bytes);
        }
        self.storage.append(&tmp, &bytes)?;
        self.storage.sync(&tmp)?;
        self.storage.rename(&tmp, &self.name)?;
        self.storage.sync_dir()
    }
}

/// Builds a record: fixed-width little-endian integers and length-prefixed
/// byte strings.
#[derive(Debug, Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.buf.push(v);
        self
    }

    /// Appends a `u64`.
    pub fn u64(mut self, v: u64) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends an `i64`.
    pub fn i64(mut self, v: i64) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends an optional `i64` (a flag byte, then the value if present).
    pub fn opt_i64(self, v: Option<i64>) -> Self {
        match v {
            None => self.u8(0),
            Some(v) => self.u8(1).i64(v),
        }
    }

    /// Appends `bytes` with their length (a `u64` first), so that fields
    /// follow them; [`Decoder::bytes`] reads them back.
    pub fn bytes(self, bytes: &[u8]) -> Self {
        let mut e = self.u64(bytes.len() as u64);
        e.buf.extend_from_slice(bytes);
        e
    }

    /// Appends `bytes` as they are, with no length: only as a record's
    /// last field, which [`Decoder::rest`] reads back.
    pub fn tail(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// The record's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads a record built by [`Encoder`]; every read fails cleanly on a
/// short record.
#[derive(Debug)]
pub struct Decoder<'a> {
    bytes: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Reads `bytes` from the start.
    pub fn new(bytes: &'a [u8]) -> Self {
        Decoder { bytes }
    }

    fn take<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        if self.bytes.len() < N {
            return Err(corrupt(format!(
                "record too short: wanted {N} more bytes, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        Ok(head.try_into().expect("split at N"))
    }

    /// Reads a byte.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the record is too short.
    pub fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    /// Reads a `u64`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the record is too short.
    pub fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    /// Reads an `i64`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the record is too short.
    pub fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.take()?))
    }

    /// Reads an optional `i64`.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the record is too short or the
    /// flag byte is neither 0 nor 1.
    pub fn opt_i64(&mut self) -> io::Result<Option<i64>> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.i64()?)),
            flag => Err(corrupt(format!("bad option flag {flag}"))),
        }
    }

    /// Reads bytes written by [`Encoder::bytes`], borrowed from the record.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] if the record is shorter than the
    /// length field says (checked before anything is taken).
    pub fn bytes(&mut self) -> io::Result<&'a [u8]> {
        let len = self.u64()?;
        if len > self.bytes.len() as u64 {
            return Err(corrupt(format!(
                "a field of {len} bytes in a record with {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(len as usize);
        self.bytes = rest;
        Ok(head)
    }

    /// The bytes not read yet, all of them (a field written by
    /// [`Encoder::tail`]); the record is then fully read.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    /// Fails unless the whole record was read.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] naming the bytes left over.
    pub fn end(&self) -> io::Result<()> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(corrupt(format!(
                "{} unread bytes at record end",
                self.bytes.len()
            )))
        }
    }
}

/// Encodes a [`Command`](crate::protocol::Command) into `e`.
pub fn encode_command(e: Encoder, c: &crate::protocol::Command) -> Encoder {
    use crate::protocol::Command;
    match *c {
        Command::Read { key } => e.u8(0).u64(key.into()),
        Command::Write { key, value } => e.u8(1).u64(key.into()).i64(value),
        Command::Cas { key, expected, new } => e.u8(2).u64(key.into()).i64(expected).i64(new),
    }
}

/// Decodes a [`Command`](crate::protocol::Command) written by
/// [`encode_command`].
///
/// # Errors
///
/// [`io::ErrorKind::InvalidData`] for a short record or an unknown tag.
pub fn decode_command(d: &mut Decoder<'_>) -> io::Result<crate::protocol::Command> {
    use crate::protocol::Command;
    let tag = d.u8()?;
    let key = u32::try_from(d.u64()?).map_err(|e| corrupt(e.to_string()))?;
    Ok(match tag {
        0 => Command::Read { key },
        1 => Command::Write {
            key,
            value: d.i64()?,
        },
        2 => Command::Cas {
            key,
            expected: d.i64()?,
            new: d.i64()?,
        },
        t => return Err(corrupt(format!("unknown command tag {t}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kv::{Crash, SimDisk};

    #[test]
    fn length_prefixed_bytes_round_trip_and_a_lying_length_is_refused() {
        let record = Encoder::new().bytes(b"abc").u8(7).bytes(b"").finish();
        let mut d = Decoder::new(&record);
        assert_eq!(d.bytes().unwrap(), b"abc");
        assert_eq!(d.u8().unwrap(), 7);
        assert_eq!(d.bytes().unwrap(), b"");
        d.end().unwrap();
        let lying = Encoder::new().u64(u64::MAX).tail(b"abc").finish();
        let error = Decoder::new(&lying).bytes().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn records_survive_a_crash_only_once_synced() {
        let disk = SimDisk::new();
        let (mut log, recs) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
        assert!(recs.is_empty());
        log.append(b"one").unwrap();
        log.sync().unwrap();
        log.append(b"two").unwrap();
        disk.crash(Crash::DropUnsynced);
        let (_, recs) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
        assert_eq!(recs, vec![b"one".to_vec()]);
    }

    #[test]
    fn a_torn_tail_is_cut_and_never_half_read() {
        for seed in 0..50 {
            let disk = SimDisk::new();
            let (mut log, _) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
            log.append(b"durable").unwrap();
            log.sync().unwrap();
            log.append(&[7; 100]).unwrap();
            disk.crash(Crash::Torn { seed });
            let (mut log, recs) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
            assert!(
                recs == vec![b"durable".to_vec()] || recs.len() == 2,
                "seed {seed}"
            );
            log.append(b"after").unwrap();
            log.sync().unwrap();
            let (_, recs) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
            assert_eq!(recs.last().unwrap(), b"after", "seed {seed}");
        }
    }

    #[test]
    fn a_flipped_bit_in_a_synced_record_is_refused_not_cut() {
        let disk = SimDisk::new();
        let (mut log, _) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
        for record in [b"first".as_slice(), b"second", b"last"] {
            log.append(record).unwrap();
        }
        log.sync().unwrap();
        let mut bytes = vec![0; disk.len("log").unwrap() as usize];
        disk.read_at("log", 0, &mut bytes).unwrap();
        for at in 0..bytes.len() {
            let damaged = SimDisk::new();
            let mut copy = bytes.clone();
            copy[at] ^= 0x10;
            damaged.append("log", &copy).unwrap();
            damaged.sync("log").unwrap();
            damaged.sync_dir().unwrap();
            let err = RecordLog::open(Box::new(damaged), "log").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "byte {at}: {err}");
        }
    }

    #[test]
    fn rewrite_replaces_the_log() {
        let disk = SimDisk::new();
        let (mut log, _) = RecordLog::open(Box::new(disk.clone()), "log").unwrap();
        log.append(b"old").unwrap();
        log.sync().unwrap();
        log.rewrite([b"new".as_slice()]).unwrap();
        log.append(b"next").unwrap();
        log.sync().unwrap();
        disk.crash(Crash::DropUnsynced);
        let (_, recs) = RecordLog::open(Box::new(disk), "log").unwrap();
        assert_eq!(recs, vec![b"new".to_vec(), b"next".to_vec()]);
    }
}
