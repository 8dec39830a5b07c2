//! `vecstore serve`: the store behind Redis's protocol (RESP2), driven by
//! the same sans-IO [`RaftNode`] the simulator runs.
//!
// ANCHOR: design
//! # How a request travels
//!
//! 1. A connection thread reads RESP requests ([`kv::resp::parse`]) and
//!    parses each ([`command::parse`]); a malformed one is answered at once
//!    with an error and never reaches the log. `PING`, `CLIENT`, `COMMAND`,
//!    `ECHO` and `ROLE` are answered here too.
//! 2. Store commands go, tagged with the connection's session id and a
//!    sequence number, to the **driver** thread, which owns the node.
//! 3. The driver drains every request that has arrived into one
//!    [`RaftNode::handle_requests`] call: the node appends the updates to
//!    its log, syncs it **once** for the whole batch (group commit), and
//!    only then emits replies. Reads are served by ReadIndex from the
//!    applied state, without a log entry.
//! 4. Each reply goes back to its connection, which writes the replies of
//!    its pipelined requests in the order they were sent.
//!
//! So a `VADD` is acknowledged only once it is in the node's log on disk
//! (`fsync`), and a restart (even after `SIGKILL`) replays that log.
// ANCHOR_END: design
//!
//! This node is a cluster of one: it elects itself within an election
//! timeout of starting (the server waits for that before it listens).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use kv::{FsStorage, resp};
use replication::protocol::{NodeContext, Output, Request, RequestId, Time};
use replication::raft::{ClientReply, RaftConfig, RaftNode};

use crate::command::{self, Command, Local, Parsed, Reply};
use crate::state::VectorStore;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The directory of the node's Raft log (created if missing).
    pub dir: PathBuf,
    /// The most connections served at once.
    pub connections_max: usize,
    /// The longest request accepted, in bytes.
    pub request_bytes_max: usize,
    /// Raft's parameters. The default snapshots every 20,000 entries: a
    /// snapshot holds every element, so taking one per 1,000 writes (Raft's
    /// default) would rewrite the whole store each second under load.
    pub raft: RaftConfig,
}

impl ServerConfig {
    /// Defaults for a node storing its log in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            dir: dir.into(),
            connections_max: 1_000,
            request_bytes_max: 64 << 20,
            raft: RaftConfig {
                snapshot_threshold_entries: 20_000,
                ..RaftConfig::default()
            },
        }
    }
}

/// A request on its way to the driver, with where its reply goes.
struct Job {
    request: Request<Command>,
    reply: Sender<(u64, Reply)>,
}

/// What `ROLE` reports, kept up to date by the driver.
#[derive(Debug, Clone, Default)]
struct RoleInfo {
    leader: bool,
    term: u64,
    leader_id: Option<usize>,
    commit_index: u64,
}

/// A running server: its address, and the handle that stops it.
#[derive(Debug)]
pub struct Server {
    addr: std::net::SocketAddr,
    shutdown: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
    driver: Option<thread::JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Opens (or recovers) the node in `config.dir`, waits until it leads,
    /// and serves `listener` on background threads.
    ///
    /// # Errors
    ///
    /// The directory cannot be opened or locked, the log does not decode
    /// (a corrupt log is refused, never served), or the node does not elect
    /// itself within 10 s.
    pub fn start(config: ServerConfig, listener: TcpListener) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let role = Arc::new(Mutex::new(RoleInfo::default()));
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let driver = {
            let (shutdown, role, dir, raft) = (
                Arc::clone(&shutdown),
                Arc::clone(&role),
                config.dir.clone(),
                config.raft.clone(),
            );
            thread::Builder::new()
                .name("vecstore-driver".into())
                .spawn(move || drive(&dir, &raft, &inbox, &shutdown, &role, &ready_tx))?
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = driver.join();
                return Err(e);
            }
            Err(_) => {
                shutdown.store(true, Ordering::Release);
                let _ = driver.join();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the node did not become leader within 10 s",
                ));
            }
        }
        let accept = {
            let shutdown = Arc::clone(&shutdown);
            thread::Builder::new()
                .name("vecstore-accept".into())
                .spawn(move || accept_loop(listener, &config, &jobs, &shutdown, &role))?
        };
        Ok(Server {
            addr,
            shutdown,
            accept: Some(accept),
            driver: Some(driver),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops accepting, lets the driver finish its batch, and waits.
    ///
    /// # Errors
    ///
    /// The driver's error, if storage failed while serving.
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown.store(true, Ordering::Release);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        match self.driver.take().map(thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the driver thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ANCHOR: drive
/// The driver: owns the node, feeds it batches of requests and timeouts,
/// and routes its replies.
fn drive(
    dir: &Path,
    raft: &RaftConfig,
    inbox: &Receiver<Job>,
    shutdown: &AtomicBool,
    role: &Mutex<RoleInfo>,
    ready: &Sender<io::Result<()>>,
) -> io::Result<()> {
    let started = Instant::now();
    let now = || started.elapsed().as_micros() as Time + 1;
    let opened = FsStorage::open(dir).and_then(|storage| {
        let ctx = NodeContext {
            id: 0,
            nodes: 1,
            entropy: 0x5EED,
        };
        RaftNode::<VectorStore>::open(ctx, raft, Box::new(storage), now())
    });
    let mut node = match opened {
        Ok(node) => node,
        Err(e) => {
            let _ = ready.send(Err(io::Error::new(
                e.kind(),
                format!("opening {}: {e}", dir.display()),
            )));
            return Ok(());
        }
    };
    let mut waiting: HashMap<RequestId, Sender<(u64, Reply)>> = HashMap::new();
    let mut announced = false;
    while !shutdown.load(Ordering::Acquire) {
        let timeout = node
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| {
                Duration::from_micros(t.saturating_sub(now()))
            })
            .min(Duration::from_millis(50));
        let mut batch = Vec::new();
        match inbox.recv_timeout(timeout) {
            Ok(job) => batch.push(job),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        batch.extend(inbox.try_iter());
        if !batch.is_empty() {
            let requests: Vec<Request<Command>> = batch
                .into_iter()
                .map(|job| {
                    waiting.insert(job.request.id, job.reply);
                    job.request
                })
                .collect();
            node.handle_requests(now(), requests);
        }
        if node.poll_timeout().is_some_and(|t| t <= now()) {
            node.handle_timeout(now());
        }
        while let Some(output) = node.poll_event() {
            match output {
                // A cluster of one sends nothing.
                Output::Send { .. } => {}
                Output::Reply { request, reply } => {
                    if let Some(to) = waiting.remove(&request) {
                        let _ = to.send((request.seq, to_reply(reply)));
                    }
                }
            }
        }
        if let Some(failure) = node.failure() {
            for (id, to) in waiting.drain() {
                let _ = to.send((
                    id.seq,
                    Reply::error(format!("ERR storage failed: {failure}")),
                ));
            }
            return Err(io::Error::other(format!("storage failed: {failure}")));
        }
        *lock(role) = RoleInfo {
            leader: node.is_leader(),
            term: node.term(),
            leader_id: node.leader_hint().or(node.is_leader().then_some(0)),
            commit_index: node.commit_index(),
        };
        if !announced && node.is_leader() && node.last_applied() == node.commit_index() {
            announced = true;
            let _ = ready.send(Ok(()));
        }
    }
    Ok(())
}
// ANCHOR_END: drive

fn to_reply(reply: ClientReply<Reply>) -> Reply {
    match reply {
        ClientReply::Applied(reply) => reply,
        ClientReply::NotLeader { leader } => Reply::error(match leader {
            Some(l) => format!("TRYAGAIN not the leader; node {l} may be"),
            None => "TRYAGAIN no leader yet".to_string(),
        }),
        ClientReply::Uncertain => Reply::error(
            "ERR the leader changed: the write may or may not have taken effect; retry it",
        ),
    }
}

fn accept_loop(
    listener: TcpListener,
    config: &ServerConfig,
    jobs: &Sender<Job>,
    shutdown: &Arc<AtomicBool>,
    role: &Arc<Mutex<RoleInfo>>,
) {
    let active = Arc::new(AtomicU64::new(0));
    let sessions = AtomicU64::new(1);
    for stream in listener.incoming() {
        if shutdown.load(Ordering::Acquire) {
            break;
        }
        let Ok(mut stream) = stream else { continue };
        if active.fetch_add(1, Ordering::AcqRel) >= config.connections_max as u64 {
            active.fetch_sub(1, Ordering::AcqRel);
            let mut out = Vec::new();
            resp::error_reply(&mut out, "ERR max number of clients reached");
            let _ = stream.write_all(&out);
            continue;
        }
        let session = sessions.fetch_add(1, Ordering::Relaxed);
        let (jobs, role, active, limit) = (
            jobs.clone(),
            Arc::clone(role),
            Arc::clone(&active),
            config.request_bytes_max,
        );
        let _ = thread::Builder::new()
            .name(format!("vecstore-conn-{session}"))
            .spawn(move || {
                let _ = connection(stream, session, limit, &jobs, &role);
                active.fetch_sub(1, Ordering::AcqRel);
            });
    }
}

// ANCHOR: connection
/// Serves one connection: reads what has arrived, sends its store
/// commands to the driver together, and writes every reply in request
/// order.
fn connection(
    mut stream: TcpStream,
    session: u64,
    request_bytes_max: usize,
    jobs: &Sender<Job>,
    role: &Mutex<RoleInfo>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reply_tx, replies) = mpsc::channel::<(u64, Reply)>();
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut seq = 0u64;
    loop {
        let read = stream.read(&mut chunk)?;
        if read == 0 {
            return Ok(());
        }
        input.extend_from_slice(&chunk[..read]);
        // Replies of this read's requests, by sequence number; store
        // commands fill theirs in when the driver answers.
        let mut answers: BTreeMap<u64, Option<Reply>> = BTreeMap::new();
        let mut used = 0;
        let mut fatal = None;
        // Whether the store commands in flight are reads. A read waits for
        // a heartbeat round while a write applies at once, so a read and a
        // write sent together could run out of order: a pipeline is sent
        // in runs of one kind, each run answered before the next goes.
        let mut in_flight: Option<bool> = None;
        loop {
            match resp::parse(&input[used..], request_bytes_max) {
                Ok(Some((args, len))) => {
                    used += len;
                    seq += 1;
                    let answer = match command::parse(&args) {
                        Ok(Parsed::Local(local)) => Some(answer_local(&local, role)),
                        Ok(Parsed::Store(command)) => {
                            if in_flight.is_some_and(|read| read != command.is_read())
                                && !collect(&mut answers, &replies)
                            {
                                return Ok(());
                            }
                            in_flight = Some(command.is_read());
                            let request = Request {
                                id: RequestId {
                                    client: session,
                                    seq,
                                },
                                command,
                            };
                            let job = Job {
                                request,
                                reply: reply_tx.clone(),
                            };
                            if jobs.send(job).is_err() {
                                Some(Reply::error("ERR the server is shutting down"))
                            } else {
                                None
                            }
                        }
                        Err(error) => Some(error),
                    };
                    answers.insert(seq, answer);
                }
                Ok(None) => break,
                Err(error) => {
                    fatal = Some(Reply::error(format!("ERR {error}")));
                    break;
                }
            }
        }
        input.drain(..used);
        if !collect(&mut answers, &replies) {
            return Ok(());
        }
        let mut out = Vec::new();
        for reply in answers.into_values().flatten() {
            reply.encode(&mut out);
        }
        if let Some(reply) = &fatal {
            reply.encode(&mut out);
        }
        stream.write_all(&out)?;
        if fatal.is_some() {
            return Ok(());
        }
    }
}
// ANCHOR_END: connection

/// Waits for the driver's reply to every store command in `answers`;
/// false if the driver is gone.
fn collect(answers: &mut BTreeMap<u64, Option<Reply>>, replies: &Receiver<(u64, Reply)>) -> bool {
    let mut pending = answers.values().filter(|a| a.is_none()).count();
    while pending > 0 {
        let Ok((seq, reply)) = replies.recv() else {
            return false;
        };
        if let Some(slot @ None) = answers.get_mut(&seq) {
            *slot = Some(reply);
            pending -= 1;
        }
    }
    true
}

fn answer_local(local: &Local, role: &Mutex<RoleInfo>) -> Reply {
    match local {
        Local::Ping(None) => Reply::Simple("PONG".into()),
        Local::Ping(Some(message)) | Local::Echo(message) => Reply::Bulk(Some(message.clone())),
        Local::Client => Reply::Simple("OK".into()),
        Local::Command => Reply::Array(Some(Vec::new())),
        Local::Role => {
            let role = lock(role).clone();
            Reply::Array(Some(vec![
                Reply::text(if role.leader { "leader" } else { "follower" }),
                Reply::Integer(role.term as i64),
                role.leader_id
                    .map_or(Reply::Bulk(None), |l| Reply::Integer(l as i64)),
                Reply::Integer(role.commit_index as i64),
            ]))
        }
    }
}
