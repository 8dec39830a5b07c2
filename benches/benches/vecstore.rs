//! `vecstore serve` measured through its protocol: Redis's vector-set
//! commands over RESP2 from client threads, each with its own TCP
//! connection and one request outstanding, against servers started in this
//! process (`vecstore::Server::start`, the code `vecstore serve` runs).
//!
//! Data: the seeded clustered set of `benches/hnsw.rs` (384 components,
//! 100 Gaussian clusters, spread 0.3, cosine), vectors sent as `FP32`
//! blobs as redis-py sends them; every set is built with the store's
//! defaults, M 16 and EF construction 200.
//!
//! Groups (throughput in elements: queries or acknowledged adds per second):
//! * `vecstore-vsim`: `VSIM … COUNT 10 EF 100` on a set of 20,000 from 50
//!   clients (`vsim_resp_50_clients`) against `hnsw::Hnsw::search(q, 10,
//!   100)` on one thread in this process (`vsim_in_process`), on an index
//!   built with the same parameters, seed and insert order as the server's
//!   (so the same graph). One thread is the anchor the issue names; the
//!   server searches each batch of reads on every core
//!   (`VectorStore::read_batch`), so `vsim_in_process_N_threads`, N
//!   threads searching in process, is the ceiling it cannot pass. Recall@10
//!   of both over 1,000 queries against `hnsw::FlatIndex` is printed at
//!   setup.
//! * `vecstore-vadd`: `VADD` from 50 clients, each acknowledged once its
//!   batch's log entry is `fsync`ed, into a fresh set in a fresh directory
//!   under the temporary directory: one node (`vadd_fsync_50_clients`) and
//!   a three-member cluster on 127.0.0.1 (`vadd_fsync_50_clients_3_nodes`,
//!   clients on the leader, acknowledged once a majority has it on disk).
//!   The runs are short (0.5 s warm-up, 2 s measured) so that the
//!   set stays below the default snapshot threshold (20,000 entries): they
//!   measure acknowledged adds, not snapshots; each prints the set's size.
//! * `vecstore-recovery`: `Server::start` until the first `VCARD` answer
//!   on a node directory of 100,000 elements, page cache warm. Built once
//!   by `VADD`s: 90,000 with `snapshot_threshold_entries` 90,000 (one
//!   snapshot after 89,999), then a copy of the directory, and 10,000 more
//!   into each: with threshold 10,000 (`snapshot`: a snapshot of 99,998
//!   elements and a 2-entry tail) and with snapshots off (`snapshot+tail`:
//!   a snapshot of 89,999 and a 10,002-entry tail to replay into the
//!   index). The restarts measured run the default threshold (20,000), so
//!   they take no snapshot. One timing per iteration, ten iterations.
//!
//! Run: `cargo bench -p benches --bench vecstore` (about 3½ minutes on 2
//! cores, most of it building the recovery directories); filter with e.g.
//! `cargo bench -p benches --bench vecstore -- vecstore-vadd`, and skip
//! other groups' setup with `STRATA_BENCH_GROUPS=vadd` (`vsim`, `vadd`,
//! `recovery`). The `kv` store's own SET/GET numbers are `benches/kv.rs`
//! and `cargo xtask redis-bench`.

use std::hint::black_box;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use benches::ann::{self, Bench, SEED};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use hnsw::data::{self, Dataset};
use hnsw::{Hnsw, Metric, Params};
use vecstore::server::ClusterConfig;
use vecstore::state::{EF_CONSTRUCTION_DEFAULT, M_DEFAULT};
use vecstore::{Server, ServerConfig};

/// Neighbours per query (`COUNT`).
const K: usize = 10;
/// The search's candidate list, for the server (`EF`) and in process.
const EF_SEARCH: usize = 100;
/// Client threads, each with its own connection and one request in flight.
const CLIENTS: usize = 50;
/// Queries whose recall is measured, and cycled through when timed.
const QUERIES: usize = 1_000;
/// Requests sent together by the loader of a set (one connection, in
/// order, so the server inserts in name order).
const PIPELINE: usize = 256;
/// Members of the replicated cluster.
const CLUSTER_NODES: usize = 3;
/// Fresh vectors for the `VADD` benchmarks, used in turn.
const ADD_POOL: usize = 30_000;
/// Elements of the recovery directories.
const RECOVERY_ELEMENTS: usize = 100_000;
/// Elements added after the first snapshot of the recovery directories.
const RECOVERY_TAIL: usize = 10_000;
/// Elements in the first snapshot (it is taken after this many entries,
/// the leader's no-op included).
const RECOVERY_BASE: usize = RECOVERY_ELEMENTS - RECOVERY_TAIL;
const _: () = assert!(RECOVERY_TAIL < RECOVERY_BASE);
/// The server's default snapshot threshold (`ServerConfig::new`), used
/// everywhere but in building the recovery directories. It is above the
/// longer recovery tail, so a measured restart never snapshots.
const SNAPSHOT_THRESHOLD_DEFAULT: u64 = 20_000;
const _: () = assert!(RECOVERY_TAIL as u64 + 100 < SNAPSHOT_THRESHOLD_DEFAULT);

// ---------------------------------------------------------------------------
// A RESP2 client: what a client library does, and no more.
// ---------------------------------------------------------------------------

/// A reply as the wire says it.
#[derive(Debug, Clone, PartialEq)]
enum Resp {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

/// One connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.writer.write_all(request)
    }

    fn call(&mut self, request: &[u8]) -> io::Result<Resp> {
        self.send(request)?;
        self.read()
    }

    fn read(&mut self) -> io::Result<Resp> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches("\r\n");
        let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad line {line:?}"));
        let (kind, rest) = (line.get(..1).ok_or_else(bad)?, &line[1..]);
        let length = || rest.parse::<i64>().map_err(|_| bad());
        Ok(match kind {
            "+" => Resp::Simple(rest.into()),
            "-" => Resp::Error(rest.into()),
            ":" => Resp::Integer(length()?),
            "$" => match usize::try_from(length()?) {
                Err(_) => Resp::Bulk(None),
                Ok(n) => {
                    let mut data = vec![0; n + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n);
                    Resp::Bulk(Some(data))
                }
            },
            "*" => match usize::try_from(length()?) {
                Err(_) => Resp::Array(None),
                Ok(n) => Resp::Array(Some(
                    (0..n).map(|_| self.read()).collect::<io::Result<_>>()?,
                )),
            },
            _ => return Err(bad()),
        })
    }
}

/// A RESP request: an array of bulk strings.
fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A vector as an `FP32` blob: its components' little-endian bytes.
fn fp32(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|c| c.to_le_bytes()).collect()
}

/// `VADD key FP32 blob name`, the element named by its number.
fn vadd(key: &[u8], blob: &[u8], name: usize) -> Vec<u8> {
    request(&[b"VADD", key, b"FP32", blob, name.to_string().as_bytes()])
}

/// Runs `iters` calls of `call(client, i)` spread over the clients, each
/// on its own thread; `i` counts on from `next` across calls.
fn on_clients(
    clients: &mut [Client],
    iters: u64,
    next: &AtomicUsize,
    call: &(impl Fn(&mut Client, usize) + Sync),
) -> Duration {
    let iters = usize::try_from(iters).expect("iterations fit in usize");
    let threads = clients.len();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for (thread, client) in clients.iter_mut().enumerate() {
            // Thread t makes calls t, t + threads, …: `iters` in all.
            let mine = (iters + threads - 1 - thread) / threads;
            scope.spawn(move || {
                for _ in 0..mine {
                    call(client, next.fetch_add(1, Ordering::Relaxed));
                }
            });
        }
    });
    started.elapsed()
}

fn connect_all(addr: SocketAddr, count: usize) -> Vec<Client> {
    (0..count)
        .map(|_| Client::connect(addr).expect("connecting to the server"))
        .collect()
}

/// Adds `vectors` to set `key` through one pipelined connection, in order,
/// named `first`, `first + 1`, ….
fn load(addr: SocketAddr, key: &[u8], vectors: &Dataset, first: usize) {
    let mut client = Client::connect(addr).expect("connecting to the server");
    let names: Vec<usize> = (0..vectors.len()).collect();
    for chunk in names.chunks(PIPELINE) {
        let batch: Vec<u8> = chunk
            .iter()
            .flat_map(|&i| vadd(key, &fp32(vectors.vector(i)), first + i))
            .collect();
        client.send(&batch).expect("sending VADDs");
        for _ in chunk {
            assert_eq!(client.read().expect("VADD's reply"), Resp::Integer(1));
        }
    }
}

/// A single node on `dir`, serving a fresh port on 127.0.0.1.
fn start(dir: &Path, snapshot_threshold_entries: u64) -> Server {
    let mut config = ServerConfig::new(dir);
    debug_assert_eq!(
        config.raft.snapshot_threshold_entries,
        SNAPSHOT_THRESHOLD_DEFAULT
    );
    config.raft.snapshot_threshold_entries = snapshot_threshold_entries;
    let listener = TcpListener::bind("127.0.0.1:0").expect("a client port");
    Server::start(config, listener).expect("starting the server")
}

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group
}

/// Whether to run group `name` (`vsim`, `vadd`, `recovery`): all of them
/// unless `STRATA_BENCH_GROUPS` lists some (comma-separated). Criterion's
/// own filter skips the measurement but not the setup, which builds sets.
fn wanted(name: &str) -> bool {
    std::env::var("STRATA_BENCH_GROUPS")
        .map_or(true, |list| list.split(',').any(|g| g.trim() == name))
}

// ---------------------------------------------------------------------------
// VSIM through RESP against Hnsw::search in process.
// ---------------------------------------------------------------------------

/// Mean recall@K of `found` (ids per query) against `truth`.
fn recall(found: &[Vec<u64>], truth: &[Vec<u64>]) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(f, t)| f.iter().filter(|id| t[..K].contains(id)).count())
        .sum();
    hits as f64 / (K * truth.len()) as f64
}

/// The server's answers as ids (elements are named by their number).
fn names_to_ids(reply: &Resp) -> Vec<u64> {
    let Resp::Array(Some(items)) = reply else {
        panic!("VSIM answered {reply:?}");
    };
    items
        .iter()
        .map(|item| match item {
            Resp::Bulk(Some(name)) => std::str::from_utf8(name)
                .ok()
                .and_then(|n| n.parse().ok())
                .expect("elements are named by number"),
            other => panic!("VSIM answered {other:?} among its names"),
        })
        .collect()
}

/// The server's index, built in process: the store's parameters and seed,
/// inserts in id order.
fn in_process(set: &Bench) -> Hnsw {
    let params = Params {
        ef_construction: EF_CONSTRUCTION_DEFAULT,
        ..Params::new(M_DEFAULT)
    };
    let mut index = Hnsw::new(Metric::Cosine, set.base.dimension, params).expect("parameters");
    for (id, v) in set.base.iter().enumerate() {
        index.insert(id as u64, v).expect("valid vector");
    }
    index
}

fn vsim(c: &mut Criterion) {
    if !wanted("vsim") {
        return;
    }
    let set = ann::clustered_384(QUERIES, K);
    let key = b"vsim".as_slice();
    let dir = tempfile::tempdir().expect("temporary directory");
    let server = start(dir.path(), SNAPSHOT_THRESHOLD_DEFAULT);
    let started = Instant::now();
    load(server.addr(), key, &set.base, 0);
    eprintln!(
        "vsim: {} × {} cosine into the server in {:.1} s",
        set.base.len(),
        set.base.dimension,
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let index = in_process(&set);
    eprintln!(
        "vsim: the same in process in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let requests: Vec<Vec<u8>> = set
        .queries
        .iter()
        .map(|q| {
            let (count, ef) = (K.to_string(), EF_SEARCH.to_string());
            request(&[
                b"VSIM",
                key,
                b"FP32",
                &fp32(q),
                b"COUNT",
                count.as_bytes(),
                b"EF",
                ef.as_bytes(),
            ])
        })
        .collect();
    let mut client = Client::connect(server.addr()).expect("connecting");
    let served: Vec<Vec<u64>> = requests
        .iter()
        .map(|r| names_to_ids(&client.call(r).expect("VSIM")))
        .collect();
    let searched: Vec<Vec<u64>> = set
        .queries
        .iter()
        .map(|q| {
            let found = index.search(q, K, EF_SEARCH).expect("valid query");
            found.iter().map(|n| n.id).collect()
        })
        .collect();
    eprintln!(
        "vsim: recall@{K} at ef {EF_SEARCH} over {QUERIES} queries (exact: FlatIndex): RESP {:.4}, in process {:.4}; answers identical for {} of {QUERIES}",
        recall(&served, &set.truth),
        recall(&searched, &set.truth),
        served.iter().zip(&searched).filter(|(a, b)| a == b).count()
    );

    let mut group = configure(c, "vecstore-vsim");
    let mut clients = connect_all(server.addr(), CLIENTS);
    let next = AtomicUsize::new(0);
    group.bench_function("vsim_resp_50_clients", |b| {
        b.iter_custom(|iters| {
            on_clients(&mut clients, iters, &next, &|client, i| {
                let reply = client.call(&requests[i % QUERIES]).expect("VSIM");
                assert!(matches!(&reply, Resp::Array(Some(names)) if names.len() == K));
            })
        });
    });
    let mut next = 0;
    group.bench_function("vsim_in_process", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let query = set.queries.vector(next % QUERIES);
                black_box(index.search(query, K, EF_SEARCH).expect("valid query"));
                next += 1;
            }
            started.elapsed()
        });
    });
    // The server searches a batch of reads on every core; the same number
    // of threads in process, each with its own queries, is the ceiling.
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let next = AtomicUsize::new(0);
    group.bench_function(format!("vsim_in_process_{threads}_threads"), |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(|| {
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i as u64 >= iters {
                                break;
                            }
                            let query = set.queries.vector(i % QUERIES);
                            black_box(index.search(query, K, EF_SEARCH).expect("valid query"));
                        }
                    });
                }
            });
            next.store(0, Ordering::Relaxed);
            started.elapsed()
        });
    });
    group.finish();
    drop(clients);
    server.stop().expect("stopping the server");
}

// ---------------------------------------------------------------------------
// VADD acknowledged with fsync: one node and three.
// ---------------------------------------------------------------------------

/// `VADD`s of fresh names from the pool's vectors, from [`CLIENTS`]
/// connections to `addr`, under `name`.
fn vadd_clients(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    addr: SocketAddr,
    pool: &[Vec<u8>],
) {
    let key = b"vadd".as_slice();
    let mut clients = connect_all(addr, CLIENTS);
    let next = AtomicUsize::new(0);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            on_clients(&mut clients, iters, &next, &|client, i| {
                let reply = client
                    .call(&vadd(key, &pool[i % pool.len()], i))
                    .expect("VADD");
                assert_eq!(reply, Resp::Integer(1), "VADD of element {i}");
            })
        });
    });
    let added = next.load(Ordering::Relaxed);
    let snapshot = if added as u64 >= SNAPSHOT_THRESHOLD_DEFAULT {
        "a snapshot included"
    } else {
        "no snapshot taken"
    };
    eprintln!(
        "{name}: the set grew from 0 to {added} elements (warm-up included; {snapshot}, threshold {SNAPSHOT_THRESHOLD_DEFAULT})"
    );
}

/// A free port on 127.0.0.1 (free when asked).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// Three members on 127.0.0.1, each with its own directory under `root`.
fn start_cluster(root: &Path) -> Vec<Server> {
    let peers: Vec<SocketAddr> = (0..CLUSTER_NODES).map(|_| free_addr()).collect();
    (0..CLUSTER_NODES)
        .map(|id| {
            let mut config = ServerConfig::new(root.join(format!("n{id}")));
            config.cluster = Some(ClusterConfig {
                id,
                peers: peers.clone(),
            });
            let listener = TcpListener::bind("127.0.0.1:0").expect("a client port");
            Server::start(config, listener).expect("starting a member")
        })
        .collect()
}

/// The client address of the member that says it leads (waits up to 10 s).
fn leader(servers: &[Server]) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    let role = request(&[b"ROLE"]);
    loop {
        for server in servers {
            let mut client = Client::connect(server.addr()).expect("connecting");
            if let Resp::Array(Some(items)) = client.call(&role).expect("ROLE")
                && items.first() == Some(&Resp::Bulk(Some(b"leader".to_vec())))
            {
                return server.addr();
            }
        }
        assert!(Instant::now() < deadline, "no leader within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn vadds(c: &mut Criterion) {
    if !wanted("vadd") {
        return;
    }
    let pool: Vec<Vec<u8>> = data::clustered(ADD_POOL, 384, 100, 0.3, SEED ^ 0xADD)
        .iter()
        .map(fp32)
        .collect();
    let mut group = configure(c, "vecstore-vadd");
    // Short, so that the set stays below the snapshot threshold: the
    // measurement is of acknowledged adds, not of snapshots.
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    {
        let dir = tempfile::tempdir().expect("temporary directory");
        let server = start(dir.path(), SNAPSHOT_THRESHOLD_DEFAULT);
        vadd_clients(&mut group, "vadd_fsync_50_clients", server.addr(), &pool);
        server.stop().expect("stopping the server");
    }
    {
        let root = tempfile::tempdir().expect("temporary directory");
        let servers = start_cluster(root.path());
        let addr = leader(&servers);
        eprintln!("vadd_fsync_50_clients_3_nodes: 50 clients on the leader, {addr}");
        vadd_clients(&mut group, "vadd_fsync_50_clients_3_nodes", addr, &pool);
        for server in servers {
            server.stop().expect("stopping a member");
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Recovery.
// ---------------------------------------------------------------------------

fn log_bytes(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("raft.log")).map_or(0, |m| m.len())
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("creating the copy");
    for entry in std::fs::read_dir(from).expect("listing the directory") {
        let entry = entry.expect("a directory entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copying a file");
    }
}

/// Adds `vectors` named from `first` on to the node in `dir`, snapshotting
/// every `snapshot_threshold_entries` (0: never).
fn grow(dir: &Path, snapshot_threshold_entries: u64, vectors: &Dataset, first: usize) {
    let started = Instant::now();
    let server = start(dir, snapshot_threshold_entries);
    load(server.addr(), b"users", vectors, first);
    server.stop().expect("stopping the server");
    eprintln!(
        "recovery: {} elements added to {} (threshold {snapshot_threshold_entries}) in {:.1} s; log {:.0} MB",
        vectors.len(),
        dir.display(),
        started.elapsed().as_secs_f64(),
        log_bytes(dir) as f64 / 1e6
    );
}

fn recovery(c: &mut Criterion) {
    if !wanted("recovery") {
        return;
    }
    let mut base = data::clustered(RECOVERY_ELEMENTS, 384, 100, 0.3, SEED ^ 0x5EC0);
    let tail = base.split_off(RECOVERY_BASE);
    let root = tempfile::tempdir().expect("temporary directory");
    let (full, tailed) = (root.path().join("snapshot"), root.path().join("tail"));
    grow(&full, RECOVERY_BASE as u64, &base, 0);
    copy_dir(&full, &tailed);
    grow(&full, RECOVERY_TAIL as u64, &tail, RECOVERY_BASE);
    grow(&tailed, 0, &tail, RECOVERY_BASE);

    let mut group = c.benchmark_group("vecstore-recovery");
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));
    group.sample_size(10);
    let card = request(&[b"VCARD", b"users"]);
    for (name, dir) in [("snapshot", &full), ("snapshot+tail", &tailed)] {
        let id = BenchmarkId::new(RECOVERY_ELEMENTS.to_string(), name);
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let server = start(dir, SNAPSHOT_THRESHOLD_DEFAULT);
                    let mut client = Client::connect(server.addr()).expect("connecting");
                    let answer = client.call(&card).expect("VCARD");
                    total += started.elapsed();
                    assert_eq!(answer, Resp::Integer(RECOVERY_ELEMENTS as i64));
                    drop(client);
                    server.stop().expect("stopping the server");
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group!(benches, vsim, vadds, recovery);
criterion_main!(benches);
