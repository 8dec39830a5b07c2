//! `vecstore serve`: the store behind Redis's protocol (RESP2), driven by
//! the same sans-IO [`RaftNode`] the simulator runs.
//!
// ANCHOR: design
//! # How a request travels
//!
//! 1. A connection thread reads RESP requests ([`kv::resp::parse`]) and
//!    parses each ([`command::parse`]); a malformed one is answered at once
//!    with an error and never reaches the log. `PING`, `CLIENT`, `COMMAND`,
//!    `ECHO`, `ROLE` and `HELLO` (which switches the connection to RESP3,
//!    as redis-py asks) are answered here too.
//! 2. Store commands go, tagged with the connection's session id and a
//!    sequence number, to the **driver** thread, which owns the node.
//! 3. The driver drains every write that has arrived into one
//!    [`RaftNode::handle_requests`] call: the node appends them to its
//!    log, syncs it **once** for the whole batch (group commit), and only
//!    then emits replies. Reads are served by ReadIndex from the applied
//!    state, without a log entry; a single node takes them eight at a time,
//!    searching each group on every core.
//! 4. Each reply goes back to its connection, which writes the replies of
//!    its pipelined requests in the order they were sent.
//!
//! So a `VADD` is acknowledged only once it is in the node's log on disk
//! (`fsync`), and a restart (even after `SIGKILL`) replays that log.
// ANCHOR_END: design
//!
//! # A cluster
//!
//! With [`ServerConfig::cluster`], the node is one member of a Raft
//! cluster: Raft's messages travel over TCP between the members' cluster
//! addresses (frames of [`wire`]-encoded messages; a frame that cannot be
//! sent is dropped, as the simulator's network drops messages). Any member
//! accepts any command: a follower forwards its clients' requests to the
//! leader it knows and relays the answer, retrying while no leader is
//! known, for up to [`ServerConfig::request_timeout`]. Reads go to the
//! leader too (ReadIndex), so they are linearizable.
//!
//! A single node elects itself as soon as it has opened its log (the
//! server waits for that before it listens).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use kv::{FsStorage, resp};
use replication::durable::{Decoder, Encoder};
use replication::protocol::{NodeContext, NodeId, Output, Request, RequestId, Time};
use replication::raft::{App, ClientReply, RaftConfig, RaftMessage, RaftNode, wire};

use crate::codec;
use crate::command::{self, Command, Local, Parsed, Protocol, Reply};
use crate::state::{SESSION_WINDOW, VectorStore};

/// The members of a cluster, and which one this server is.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's index in `peers` (0-based; the command line's ids are
    /// 1-based).
    pub id: usize,
    /// Every member's address for Raft traffic, this node's included.
    pub peers: Vec<SocketAddr>,
}

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
    /// `None`: a cluster of one.
    pub cluster: Option<ClusterConfig>,
    /// How long a client request may wait for a leader before it is
    /// answered with an error.
    pub request_timeout: Duration,
}

impl ServerConfig {
    /// Defaults for a single node storing its log in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            dir: dir.into(),
            connections_max: 1_000,
            request_bytes_max: 64 << 20,
            raft: RaftConfig {
                snapshot_threshold_entries: 20_000,
                ..RaftConfig::default()
            },
            cluster: None,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A request on its way to the driver, with where its reply goes.
struct Job {
    request: Request<Command>,
    reply: Sender<(u64, Reply)>,
}

/// What the driver receives.
enum Input {
    /// A client's request, from a connection thread.
    Client(Job),
    /// A Raft message from another member.
    Peer(NodeId, Box<RaftMessage<VectorStore>>),
    /// A request another member forwards to this one (it believes this
    /// node leads).
    Forwarded(NodeId, Request<Command>),
    /// The answer to a request this node forwarded.
    Answered(RequestId, Reply),
}

/// What `ROLE` reports, kept up to date by the driver.
#[derive(Debug, Clone, Default)]
struct RoleInfo {
    leader: bool,
    term: u64,
    id: usize,
    leader_id: Option<usize>,
    commit_index: u64,
}

/// A running server: its address, and the handle that stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
    driver: Option<thread::JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Opens (or recovers) the node in `config.dir` and serves `listener`
    /// on background threads. A single node first waits until it has
    /// elected itself; a cluster member starts serving at once (requests
    /// wait for a leader, up to `request_timeout`).
    ///
    /// # Errors
    ///
    /// The directory cannot be opened or locked, the log does not decode
    /// (a corrupt log is refused, never served), the Raft address cannot be
    /// bound, or a single node does not elect itself within 10 s.
    pub fn start(config: ServerConfig, listener: TcpListener) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let shutdown = Arc::new(AtomicBool::new(false));
        let role = Arc::new(Mutex::new(RoleInfo::default()));
        let (inputs, inbox) = mpsc::channel::<Input>();
        let peers = match &config.cluster {
            None => Peers::none(),
            Some(cluster) => {
                let raft_listener = TcpListener::bind(cluster.peers[cluster.id])?;
                spawn_peer_listener(raft_listener, inputs.clone(), Arc::clone(&shutdown))?;
                Peers::connect(cluster)
            }
        };
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let driver = {
            let (shutdown, role, config) =
                (Arc::clone(&shutdown), Arc::clone(&role), config.clone());
            thread::Builder::new()
                .name("vecstore-driver".into())
                .spawn(move || {
                    let mut driver = Driver {
                        config: &config,
                        peers,
                        pending: HashMap::new(),
                        remote: HashMap::new(),
                    };
                    driver.run(&inbox, &shutdown, &role, &ready_tx)
                })?
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                shutdown.store(true, Ordering::Release);
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
                .spawn(move || accept_loop(listener, &config, &inputs, &shutdown, &role))?
        };
        Ok(Server {
            addr,
            shutdown,
            accept: Some(accept),
            driver: Some(driver),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
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

// ---------------------------------------------------------------------------
// Peers: Raft traffic and forwarded requests over TCP.
// ---------------------------------------------------------------------------

/// A frame between members: `u32` length (of the rest), kind `u8`, sender
/// `u64`, then the payload.
const FRAME_RAFT: u8 = 1;
const FRAME_FORWARD: u8 = 2;
const FRAME_ANSWER: u8 = 3;
/// The longest frame accepted (an InstallSnapshot carries the whole store).
const FRAME_BYTES_MAX: u32 = 1 << 30;

fn frame(kind: u8, from: NodeId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(13 + payload.len());
    out.extend_from_slice(&((9 + payload.len()) as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&(from as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// One sender thread per other member; a frame that cannot be delivered
/// (the member is down, its queue is full) is dropped, which Raft
/// tolerates as a lost message.
struct Peers {
    id: NodeId,
    nodes: usize,
    queues: Vec<Option<SyncSender<Vec<u8>>>>,
}

impl Peers {
    fn none() -> Peers {
        Peers {
            id: 0,
            nodes: 1,
            queues: vec![None],
        }
    }

    fn connect(cluster: &ClusterConfig) -> Peers {
        let queues = cluster
            .peers
            .iter()
            .enumerate()
            .map(|(to, &addr)| {
                (to != cluster.id).then(|| {
                    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4_096);
                    let _ = thread::Builder::new()
                        .name(format!("vecstore-peer-{to}"))
                        .spawn(move || send_loop(addr, &rx));
                    tx
                })
            })
            .collect();
        Peers {
            id: cluster.id,
            nodes: cluster.peers.len(),
            queues,
        }
    }

    fn send(&self, to: NodeId, kind: u8, payload: &[u8]) {
        if let Some(Some(queue)) = self.queues.get(to) {
            let _ = queue.try_send(frame(kind, self.id, payload));
        }
    }
}

fn send_loop(addr: SocketAddr, frames: &Receiver<Vec<u8>>) {
    let mut stream: Option<TcpStream> = None;
    for frame in frames {
        if stream.is_none() {
            stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .filter(|s| s.set_nodelay(true).is_ok());
        }
        if let Some(s) = stream.as_mut()
            && s.write_all(&frame).is_err()
        {
            stream = None;
        }
    }
}

fn spawn_peer_listener(
    listener: TcpListener,
    inputs: Sender<Input>,
    shutdown: Arc<AtomicBool>,
) -> io::Result<()> {
    thread::Builder::new()
        .name("vecstore-raft-accept".into())
        .spawn(move || {
            for stream in listener.incoming() {
                if shutdown.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let inputs = inputs.clone();
                let _ = thread::Builder::new()
                    .name("vecstore-raft-in".into())
                    .spawn(move || {
                        let _ = receive_loop(stream, &inputs);
                    });
            }
        })?;
    Ok(())
}

/// Reads frames from one member until it closes or sends a bad frame.
fn receive_loop(mut stream: TcpStream, inputs: &Sender<Input>) -> io::Result<()> {
    let mut header = [0u8; 4];
    loop {
        stream.read_exact(&mut header)?;
        let len = u32::from_le_bytes(header);
        if !(9..=FRAME_BYTES_MAX).contains(&len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad frame length",
            ));
        }
        let mut body = vec![0u8; len as usize];
        stream.read_exact(&mut body)?;
        let kind = body[0];
        let from = u64::from_le_bytes(body[1..9].try_into().expect("8 bytes")) as NodeId;
        let payload = &body[9..];
        let input = match kind {
            FRAME_RAFT => Input::Peer(from, Box::new(wire::decode::<VectorStore>(payload)?)),
            FRAME_FORWARD => {
                let mut d = Decoder::new(payload);
                let id = RequestId {
                    client: d.u64()?,
                    seq: d.u64()?,
                };
                let command = <VectorStore as App>::decode_command(&mut d)?;
                d.end()?;
                Input::Forwarded(from, Request { id, command })
            }
            FRAME_ANSWER => {
                let mut d = Decoder::new(payload);
                let id = RequestId {
                    client: d.u64()?,
                    seq: d.u64()?,
                };
                let reply = codec::decode_reply(&mut d, 0)?;
                d.end()?;
                Input::Answered(id, reply)
            }
            _ => return Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame kind")),
        };
        if inputs.send(input).is_err() {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------
// The driver.
// ---------------------------------------------------------------------------

/// A client request of this node's, not answered yet.
struct Pending {
    request: Request<Command>,
    reply: Sender<(u64, Reply)>,
    /// When the client's request arrived (it fails after `request_timeout`).
    since: Instant,
    /// When to submit it again (no leader was known).
    retry_at: Option<Instant>,
    /// The member it was forwarded to, and when.
    forwarded: Option<(NodeId, Instant)>,
}

/// The most reads the driver gives the node in one input: enough for
/// every core to search (`VectorStore::read_batch`), few enough that their
/// answers leave while the rest are searched.
const READS_PER_INPUT: usize = 8;

/// How long a forwarded request waits for its answer before it is
/// submitted again (its leader may have crashed with it).
const FORWARD_PATIENCE: Duration = Duration::from_secs(2);

struct Driver<'a> {
    config: &'a ServerConfig,
    peers: Peers,
    pending: HashMap<RequestId, Pending>,
    /// Requests other members forwarded here: whom to answer.
    remote: HashMap<RequestId, NodeId>,
}

impl Driver<'_> {
    // ANCHOR: drive
    /// Owns the node: feeds it batches of requests, peers' messages and
    /// timeouts, and routes its outputs.
    fn run(
        &mut self,
        inbox: &Receiver<Input>,
        shutdown: &AtomicBool,
        role: &Mutex<RoleInfo>,
        ready: &Sender<io::Result<()>>,
    ) -> io::Result<()> {
        let started = Instant::now();
        let now = || started.elapsed().as_micros() as Time + 1;
        let dir = &self.config.dir;
        let opened = FsStorage::open(dir).and_then(|storage| {
            let ctx = NodeContext {
                id: self.peers.id,
                nodes: self.peers.nodes,
                entropy: 0x5EED ^ self.peers.id as u64,
            };
            RaftNode::<VectorStore>::open(ctx, &self.config.raft, Box::new(storage), now())
        });
        let mut node = match opened {
            Ok(node) => node,
            Err(e) => {
                let e = io::Error::new(e.kind(), format!("opening {}: {e}", dir.display()));
                let _ = ready.send(Err(e));
                return Ok(());
            }
        };
        let single = self.peers.nodes == 1;
        let mut announced = false;
        if !single {
            announced = true;
            let _ = ready.send(Ok(()));
        }
        while !shutdown.load(Ordering::Acquire) {
            let timeout = node
                .poll_timeout()
                .map_or(Duration::from_millis(20), |t| {
                    Duration::from_micros(t.saturating_sub(now()))
                })
                .min(Duration::from_millis(20));
            let mut inputs = Vec::new();
            match inbox.recv_timeout(timeout) {
                Ok(input) => inputs.push(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            inputs.extend(inbox.try_iter());
            let mut requests = self.due_retries(node.leader_hint());
            for input in inputs {
                match input {
                    Input::Client(job) => {
                        requests.push(job.request.clone());
                        self.pending.insert(
                            job.request.id,
                            Pending {
                                request: job.request,
                                reply: job.reply,
                                since: Instant::now(),
                                retry_at: None,
                                forwarded: None,
                            },
                        );
                    }
                    Input::Forwarded(from, request) => {
                        self.remote.insert(request.id, from);
                        requests.push(request);
                    }
                    Input::Peer(from, msg) => {
                        if from < self.peers.nodes {
                            node.handle_message(now(), from, *msg);
                            self.route(&mut node);
                        }
                    }
                    Input::Answered(id, reply) => self.answered(id, reply),
                }
            }
            // Writes go in as one input (one fsync for all of them);
            // reads in small inputs, each answered as soon as it is
            // searched, so that clients send their next request while the
            // next reads are searched rather than all waiting for the
            // slowest search of a large batch. (A connection never has
            // reads and writes in flight together, so this reorders only
            // concurrent requests.)
            // In a cluster every input with reads starts a round of
            // heartbeats (ReadIndex) and the reads are answered when a
            // majority acknowledges it, so there they go in as one input.
            let (mut reads, writes): (Vec<_>, Vec<_>) =
                requests.into_iter().partition(|r| r.command.is_read());
            if !writes.is_empty() {
                node.handle_requests(now(), writes);
            }
            let per_input = if single { READS_PER_INPUT } else { usize::MAX };
            while !reads.is_empty() {
                let rest = reads.split_off(reads.len().min(per_input));
                node.handle_requests(now(), std::mem::replace(&mut reads, rest));
                self.route(&mut node);
            }
            if node.poll_timeout().is_some_and(|t| t <= now()) {
                node.handle_timeout(now());
            }
            self.route(&mut node);
            self.expire();
            if let Some(failure) = node.failure() {
                for (id, p) in self.pending.drain() {
                    let error = Reply::error(format!("ERR storage failed: {failure}"));
                    let _ = p.reply.send((id.seq, error));
                }
                return Err(io::Error::other(format!("storage failed: {failure}")));
            }
            *lock(role) = RoleInfo {
                leader: node.is_leader(),
                term: node.term(),
                id: self.peers.id,
                leader_id: if node.is_leader() {
                    Some(self.peers.id)
                } else {
                    node.leader_hint()
                },
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

    /// Sends the node's messages and answers its replies.
    fn route(&mut self, node: &mut RaftNode<VectorStore>) {
        while let Some(output) = node.poll_event() {
            match output {
                Output::Send { to, msg } => {
                    self.peers.send(to, FRAME_RAFT, &wire::encode(&msg));
                }
                Output::Reply { request, reply } => {
                    if let Some(from) = self.remote.remove(&request) {
                        // Forwarded here: the asking member retries on
                        // TRYAGAIN, as for its own node's answer.
                        let e = Encoder::new().u64(request.client).u64(request.seq);
                        let payload = codec::encode_reply(&to_reply(reply), e).finish();
                        self.peers.send(from, FRAME_ANSWER, &payload);
                    } else {
                        self.answered_locally(request, reply);
                    }
                }
            }
        }
    }

    /// This node's answer to its own client's request: deliver it, forward
    /// it to the leader, or retry later.
    fn answered_locally(&mut self, id: RequestId, reply: ClientReply<Reply>) {
        match reply {
            ClientReply::NotLeader { leader: Some(l) } if l != self.peers.id => {
                if let Some(p) = self.pending.get_mut(&id) {
                    let e = Encoder::new().u64(id.client).u64(id.seq);
                    let payload = <VectorStore as App>::encode_command(&p.request.command, e);
                    self.peers.send(l, FRAME_FORWARD, &payload.finish());
                    p.forwarded = Some((l, Instant::now()));
                }
            }
            // No leader known, or the write's leader lost its leadership
            // before the write committed (it may commit yet): submit it
            // again under the same id, which the store's sessions answer
            // with the first answer if it did apply.
            ClientReply::NotLeader { .. } | ClientReply::Uncertain => self.retry_later(id),
            other => self.answered(id, to_reply(other)),
        }
    }

    fn answered(&mut self, id: RequestId, reply: Reply) {
        if matches!(&reply, Reply::Error(e) if e.starts_with("TRYAGAIN")) {
            return self.retry_later(id);
        }
        if let Some(p) = self.pending.remove(&id) {
            let _ = p.reply.send((id.seq, reply));
        }
    }

    fn retry_later(&mut self, id: RequestId) {
        if let Some(p) = self.pending.get_mut(&id) {
            p.retry_at = Some(Instant::now() + Duration::from_millis(50));
        }
    }

    /// Requests to submit again: those whose retry time has come, and
    /// forwarded ones whose member no longer leads (`leader` is this node's
    /// view now) or has not answered for [`FORWARD_PATIENCE`]. A request
    /// submitted again keeps its id (the connection's session and sequence
    /// number), so if an earlier submission applied, the store's session
    /// table answers with that first answer and does not apply it twice
    /// (invariant 6 of [`crate::state`]).
    fn due_retries(&mut self, leader: Option<NodeId>) -> Vec<Request<Command>> {
        let now = Instant::now();
        let mut due = Vec::new();
        for p in self.pending.values_mut() {
            let stale = p.forwarded.is_some_and(|(to, at)| {
                leader.is_some_and(|l| l != to) || at.elapsed() > FORWARD_PATIENCE
            });
            if p.retry_at.is_some_and(|t| t <= now) || stale {
                p.retry_at = None;
                p.forwarded = None;
                due.push(p.request.clone());
            }
        }
        due.sort_by_key(|r| r.id);
        due
    }

    /// Answers requests that waited longer than `request_timeout`.
    fn expire(&mut self) {
        let limit = self.config.request_timeout;
        let expired: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.since.elapsed() > limit)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let error = Reply::error(format!(
                    "ERR no answer within {} s (no leader, or it failed): a write may or may not have taken effect",
                    limit.as_secs()
                ));
                let _ = p.reply.send((id.seq, error));
            }
        }
    }
}

fn to_reply(reply: ClientReply<Reply>) -> Reply {
    match reply {
        ClientReply::Applied(reply) => reply,
        ClientReply::NotLeader { .. } => Reply::error("TRYAGAIN not the leader"),
        // A member that forwarded the request submits it again (see
        // `answered_locally`).
        ClientReply::Uncertain => {
            Reply::error("TRYAGAIN the leader changed before the write committed")
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    config: &ServerConfig,
    inputs: &Sender<Input>,
    shutdown: &Arc<AtomicBool>,
    role: &Arc<Mutex<RoleInfo>>,
) {
    let active = Arc::new(AtomicU64::new(0));
    let sessions = AtomicU64::new(0);
    let base = session_base(config.cluster.as_ref().map_or(0, |c| c.id as u64));
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
        let session = match base.wrapping_add(sessions.fetch_add(1, Ordering::Relaxed)) {
            0 => base.wrapping_add(sessions.fetch_add(1, Ordering::Relaxed)),
            id => id,
        };
        let (inputs, role, active, limit) = (
            inputs.clone(),
            Arc::clone(role),
            Arc::clone(&active),
            config.request_bytes_max,
        );
        let _ = thread::Builder::new()
            .name(format!("vecstore-conn-{session}"))
            .spawn(move || {
                let _ = connection(stream, session, limit, &inputs, &role);
                active.fetch_sub(1, Ordering::AcqRel);
            });
    }
}

/// Where this process's connection (session) ids start. The store's
/// session table is replicated and survives restarts, so an id must not
/// repeat one that any member gave out in any earlier run: a new
/// connection whose requests matched an old session's would be answered
/// from that session's record instead of applied. The member's id, the
/// time this process started and its process id, mixed (SplitMix64's
/// finaliser), give each run its own range of 2^64: two runs' ranges of a few million connections
/// overlap with a probability near 10^-12.
fn session_base(member: u64) -> u64 {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // The process id too, in case the clock is wrong (before 1970).
    let process = u64::from(std::process::id()).rotate_right(32);
    let mut z = started ^ process ^ member.rotate_right(16) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The most requests of one connection in flight at once: half a session's
/// window ([`SESSION_WINDOW`]), so a request the driver submits again is
/// always one the session remembers (a 64 KiB read can hold 7,000 inline
/// `VREM`s).
const REQUESTS_IN_FLIGHT_MAX: usize = (SESSION_WINDOW / 2) as usize;

// ANCHOR: connection
/// Serves one connection: reads what has arrived, sends its store
/// commands to the driver together, and writes every reply in request
/// order.
fn connection(
    mut stream: TcpStream,
    session: u64,
    request_bytes_max: usize,
    inputs: &Sender<Input>,
    role: &Mutex<RoleInfo>,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reply_tx, replies) = mpsc::channel::<(u64, Reply)>();
    let mut input = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut seq = 0u64;
    // RESP2 until the client says `HELLO 3`.
    let mut protocol = Protocol::Resp2;
    // Whether `input` still holds requests this loop left for the next.
    let mut more = false;
    loop {
        if !more {
            let read = stream.read(&mut chunk)?;
            if read == 0 {
                return Ok(());
            }
            input.extend_from_slice(&chunk[..read]);
        }
        more = false;
        // Replies of this read's requests, by sequence number, each with
        // the protocol it is written in; store commands fill theirs in when
        // the driver answers.
        let mut answers: Answers = BTreeMap::new();
        let mut used = 0;
        let mut fatal = None;
        // Whether the store commands in flight are reads. A read waits for
        // a heartbeat round while a write applies at once, so a read and a
        // write sent together could run out of order: a pipeline is sent
        // in runs of one kind, each run answered before the next goes.
        let mut in_flight: Option<bool> = None;
        loop {
            // At most this many requests in flight, so that every one the
            // driver may submit again is within its session's window.
            if answers.len() >= REQUESTS_IN_FLIGHT_MAX {
                more = true;
                break;
            }
            match resp::parse(&input[used..], request_bytes_max) {
                Ok(Some((args, len))) => {
                    used += len;
                    seq += 1;
                    let answer = match command::parse(&args) {
                        Ok(Parsed::Local(local)) => {
                            Some(answer_local(&local, role, session, &mut protocol))
                        }
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
                            if inputs.send(Input::Client(job)).is_err() {
                                Some(Reply::error("ERR the server is shutting down"))
                            } else {
                                None
                            }
                        }
                        Err(error) => Some(error),
                    };
                    answers.insert(seq, (protocol, answer));
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
        for (protocol, reply) in answers.into_values() {
            if let Some(reply) = reply {
                reply.encode_as(protocol, &mut out);
            }
        }
        if let Some(reply) = &fatal {
            reply.encode_as(protocol, &mut out);
        }
        stream.write_all(&out)?;
        if fatal.is_some() {
            return Ok(());
        }
    }
}
// ANCHOR_END: connection

/// A connection's replies by sequence number, each with the protocol it is
/// written in (`None`: the driver has not answered yet).
type Answers = BTreeMap<u64, (Protocol, Option<Reply>)>;

/// Waits for the driver's reply to every store command in `answers`;
/// false if the driver is gone.
fn collect(answers: &mut Answers, replies: &Receiver<(u64, Reply)>) -> bool {
    let mut pending = answers.values().filter(|(_, a)| a.is_none()).count();
    while pending > 0 {
        let Ok((seq, reply)) = replies.recv() else {
            return false;
        };
        if let Some((_, slot @ None)) = answers.get_mut(&seq) {
            *slot = Some(reply);
            pending -= 1;
        }
    }
    true
}

/// Answers a command the server handles itself; `HELLO 2|3` also switches
/// the connection's `protocol` (its own reply is in the new one).
fn answer_local(
    local: &Local,
    role: &Mutex<RoleInfo>,
    session: u64,
    protocol: &mut Protocol,
) -> Reply {
    match local {
        Local::Hello(asked) => {
            if let Some(asked) = asked {
                *protocol = *asked;
            }
            let leader = lock(role).leader;
            let proto = match protocol {
                Protocol::Resp2 => 2,
                Protocol::Resp3 => 3,
            };
            let fields = [
                ("server", Reply::text("vecstore")),
                ("version", Reply::text(env!("CARGO_PKG_VERSION"))),
                ("proto", Reply::Integer(proto)),
                ("id", Reply::Integer((session >> 1) as i64)),
                ("mode", Reply::text("standalone")),
                (
                    "role",
                    Reply::text(if leader { "master" } else { "replica" }),
                ),
                ("modules", Reply::Array(Some(Vec::new()))),
            ];
            Reply::Map(
                fields
                    .into_iter()
                    .map(|(k, v)| (Reply::text(k), vec![v]))
                    .collect(),
            )
        }
        Local::Ping(None) => Reply::Simple("PONG".into()),
        Local::Ping(Some(message)) | Local::Echo(message) => Reply::Bulk(Some(message.clone())),
        Local::Client => Reply::Simple("OK".into()),
        Local::Command => Reply::Array(Some(Vec::new())),
        Local::Role => {
            let role = lock(role).clone();
            // Member ids as on the command line (1-based).
            Reply::Array(Some(vec![
                Reply::text(if role.leader { "leader" } else { "follower" }),
                Reply::Integer(role.term as i64),
                role.leader_id
                    .map_or(Reply::Bulk(None), |l| Reply::Integer(l as i64 + 1)),
                Reply::Integer(role.id as i64 + 1),
                Reply::Integer(role.commit_index as i64),
            ]))
        }
    }
}
