// ANCHOR: doc
//! `kv serve`: the store behind the Redis protocol (RESP2), so that
//! `redis-cli` and `redis-benchmark` can talk to it.
//!
//! One thread per connection, at most [`ServerConfig::connections_max`] at
//! once; each reads as many requests as have arrived, answers them in order
//! (pipelining), and flushes when the input runs dry. Commands: `PING`,
//! `GET`, `SET key value`, `DEL`, `EXISTS`, `DBSIZE`, `SCAN cursor [MATCH p]
//! [COUNT n]`, `CONFIG GET` (an empty array), `COMMAND DOCS` (an empty
//! array, which `redis-cli` asks for on connect); anything else is an error
//! reply. The `SCAN` cursor is a rank in key order: a key present for the
//! whole scan is returned unless keys before it are deleted meanwhile,
//! which can shift it past the cursor (Redis guarantees more).
// ANCHOR_END: doc

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::resp;
use crate::storage::Storage;
use crate::store::{Store, WriteBatch};

/// Limits of the server.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// Most connections served at once; more are refused with an error.
    pub connections_max: usize,
    /// Longest request accepted, in bytes; a longer one closes the connection.
    pub request_bytes_max: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connections_max: 1024,
            request_bytes_max: 64 << 20,
        }
    }
}

// ANCHOR: execute
/// Executes one request against `store`, appending the reply to `out`.
pub fn execute<S: Storage>(store: &Store<S>, args: &[Vec<u8>], out: &mut Vec<u8>) {
    let Some(name) = args.first() else {
        return;
    };
    let name = name.to_ascii_uppercase();
    let rest = &args[1..];
    let result = match (name.as_slice(), rest.len()) {
        (b"PING", 0) => {
            resp::simple(out, "PONG");
            Ok(())
        }
        (b"PING", 1) => {
            resp::bulk(out, Some(&rest[0]));
            Ok(())
        }
        (b"GET", 1) => store.get(&rest[0]).map(|v| resp::bulk(out, v.as_deref())),
        (b"SET", 2) => store
            .put(&rest[0], &rest[1])
            .map(|()| resp::simple(out, "OK")),
        (b"SET", n) if n > 2 => {
            resp::error_reply(out, "ERR SET options are not supported");
            Ok(())
        }
        (b"DEL", n) if n >= 1 => del(store, rest).map(|count| resp::integer(out, count)),
        (b"EXISTS", n) if n >= 1 => exists(store, rest).map(|count| resp::integer(out, count)),
        (b"DBSIZE", 0) => {
            resp::integer(out, store.len() as i64);
            Ok(())
        }
        (b"SCAN", n) if n >= 1 => {
            scan(store, rest, out);
            Ok(())
        }
        (b"CONFIG", n) if n >= 1 && rest[0].eq_ignore_ascii_case(b"GET") => {
            resp::array(out, 0);
            Ok(())
        }
        (b"COMMAND", _) => {
            resp::array(out, 0);
            Ok(())
        }
        (b"PING" | b"GET" | b"SET" | b"DEL" | b"EXISTS" | b"DBSIZE" | b"SCAN" | b"CONFIG", _) => {
            let command = String::from_utf8_lossy(&name).to_lowercase();
            resp::error_reply(
                out,
                &format!("ERR wrong number of arguments for '{command}' command"),
            );
            Ok(())
        }
        _ => {
            let command = String::from_utf8_lossy(&args[0]);
            resp::error_reply(out, &format!("ERR unknown command '{command}'"));
            Ok(())
        }
    };
    if let Err(error) = result {
        resp::error_reply(out, &format!("ERR {error}"));
    }
}
// ANCHOR_END: execute

fn del<S: Storage>(store: &Store<S>, keys: &[Vec<u8>]) -> crate::Result<i64> {
    let mut count = 0;
    for key in keys {
        // Absent keys are not logged; of two clients deleting the same key
        // at once, only the one whose delete removed it counts it.
        if store.contains_key(key) && store.delete(key)? {
            count += 1;
        }
    }
    Ok(count)
}

fn exists<S: Storage>(store: &Store<S>, keys: &[Vec<u8>]) -> crate::Result<i64> {
    let mut count = 0;
    for key in keys {
        count += i64::from(store.contains_key(key));
    }
    Ok(count)
}

// ANCHOR: scan
fn scan<S: Storage>(store: &Store<S>, args: &[Vec<u8>], out: &mut Vec<u8>) {
    let Some(cursor) = std::str::from_utf8(&args[0])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    else {
        resp::error_reply(out, "ERR invalid cursor");
        return;
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut options = args[1..].chunks(2);
    for option in options.by_ref() {
        match option {
            [name, value] if name.eq_ignore_ascii_case(b"MATCH") => pattern = Some(value),
            [name, value] if name.eq_ignore_ascii_case(b"COUNT") => {
                match std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    Some(n) if n >= 1 => count = n,
                    _ => {
                        resp::error_reply(out, "ERR value is not an integer or out of range");
                        return;
                    }
                }
            }
            _ => {
                resp::error_reply(out, "ERR syntax error");
                return;
            }
        }
    }
    let (keys, next) = store.keys_at(cursor, count);
    let keys: Vec<Vec<u8>> = keys
        .into_iter()
        .filter(|key| pattern.is_none_or(|p| resp::glob_match(p, key)))
        .collect();
    resp::array(out, 2);
    resp::bulk(out, Some(next.to_string().as_bytes()));
    resp::array(out, keys.len());
    for key in &keys {
        resp::bulk(out, Some(key));
    }
}
// ANCHOR_END: scan

/// Serves `store` on `listener` until `shutdown` is set (then the accept
/// loop ends at its next wake-up; the caller syncs the store).
pub fn serve<S: Storage + 'static>(
    store: Arc<Store<S>>,
    listener: TcpListener,
    config: ServerConfig,
    shutdown: Arc<AtomicBool>,
) -> io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if shutdown.load(Ordering::Acquire) {
            break;
        }
        let Ok(mut stream) = stream else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= config.connections_max {
            active.fetch_sub(1, Ordering::AcqRel);
            let mut out = Vec::new();
            resp::error_reply(&mut out, "ERR max number of clients reached");
            let _ = stream.write_all(&out);
            continue;
        }
        let (store, active) = (Arc::clone(&store), Arc::clone(&active));
        std::thread::spawn(move || {
            let _ = connection(&store, stream, config);
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }
    Ok(())
}

// ANCHOR: connection
/// Answers requests on one connection until the client closes it or sends
/// a malformed or oversized request.
fn connection<S: Storage>(
    store: &Store<S>,
    mut stream: TcpStream,
    config: ServerConfig,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut out = Vec::new();
    // Consecutive plain SETs of one read, applied together (see `set_all`).
    let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        input.extend_from_slice(&chunk[..read]);
        let mut used = 0;
        loop {
            match resp::parse(&input[used..], config.request_bytes_max) {
                Ok(Some((args, len))) => {
                    used += len;
                    if args.len() == 3 && args[0].eq_ignore_ascii_case(b"SET") {
                        sets.push(args);
                        continue;
                    }
                    set_all(store, &mut sets, &mut out);
                    execute(store, &args, &mut out);
                }
                Ok(None) => break,
                Err(error) => {
                    set_all(store, &mut sets, &mut out);
                    resp::error_reply(&mut out, &format!("ERR {error}"));
                    stream.write_all(&out)?;
                    return Ok(());
                }
            }
        }
        set_all(store, &mut sets, &mut out);
        input.drain(..used);
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
    }
}
// ANCHOR_END: connection

// ANCHOR: set_all
/// Executes pipelined `SET key value` requests (taken from `sets`) in
/// order, as one [`WriteBatch`]: one append and, with `Always`, one fsync
/// for all of them, where one at a time costs a system call each. Every
/// reply is sent only after the whole batch is written (and synced), so no
/// SET is acknowledged before it is as durable as alone; a crash keeps all
/// of them or none. If any key or value is over the store's limits, they
/// run one at a time instead, so that each gets its own reply.
fn set_all<S: Storage>(store: &Store<S>, sets: &mut Vec<Vec<Vec<u8>>>, out: &mut Vec<u8>) {
    let options = store.options();
    let fits = |args: &Vec<Vec<u8>>| {
        args[1].len() <= options.key_len_max as usize
            && args[2].len() <= options.value_len_max as usize
    };
    if sets.len() < 2 || !sets.iter().all(fits) {
        for args in sets.iter() {
            execute(store, args, out);
        }
    } else {
        let n = sets.len();
        let mut batch = WriteBatch::new();
        for args in sets.iter_mut() {
            batch.put(std::mem::take(&mut args[1]), std::mem::take(&mut args[2]));
        }
        match store.write_batch(batch) {
            Ok(()) => (0..n).for_each(|_| resp::simple(out, "OK")),
            Err(error) => (0..n).for_each(|_| resp::error_reply(out, &format!("ERR {error}"))),
        }
    }
    sets.clear();
}
// ANCHOR_END: set_all
