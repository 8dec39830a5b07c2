//! `kv serve` end to end: a raw RESP client (pipelining, inline commands,
//! SCAN, errors, an oversized request), then the real `redis-cli` and
//! `redis-benchmark` when installed (Debian's `redis-tools`; `.ci/run`
//! installs them and sets STRATA_REQUIRE_REDIS_TOOLS=1 so they must run),
//! and a clean shutdown on SIGINT that keeps every write.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(dir: &std::path::Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kv"))
            .arg("--dir")
            .arg(dir)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kv serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, addr }
    }

    fn port(&self) -> &str {
        self.addr.rsplit(':').next().unwrap()
    }

    /// Stops the server with SIGINT, as Ctrl-C would; returns its stderr.
    fn interrupt(mut self) -> String {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(status.success(), "exit {status}: {stderr}");
        stderr
    }
}

/// Sends `request` and reads until `expected.len()` bytes have arrived.
fn exchange(stream: &mut TcpStream, request: &[u8], expected: &[u8]) {
    stream.write_all(request).unwrap();
    let mut got = vec![0; expected.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn raw_resp_pipelining_scan_errors_and_clean_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-request-bytes", "4096"]);
    let mut c = TcpStream::connect(&server.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();

    // Pipelined: three requests in one write, three replies in order.
    exchange(
        &mut c,
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nz\r\n",
        b"+OK\r\n$1\r\n1\r\n$-1\r\n",
    );
    exchange(&mut c, b"PING\r\n", b"+PONG\r\n");
    exchange(&mut c, b"*1\r\n$4\r\nping\r\n", b"+PONG\r\n");
    for key in ["b", "c", "user:1", "user:2"] {
        let set = format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len());
        exchange(&mut c, set.as_bytes(), b"+OK\r\n");
    }
    exchange(&mut c, b"DBSIZE\r\n", b":5\r\n");
    exchange(&mut c, b"EXISTS a b nope\r\n", b":2\r\n");
    exchange(
        &mut c,
        b"SCAN 0 COUNT 3\r\n",
        b"*2\r\n$1\r\n3\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    exchange(
        &mut c,
        b"SCAN 3 MATCH user:* COUNT 10\r\n",
        b"*2\r\n$1\r\n0\r\n*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n",
    );
    exchange(&mut c, b"DEL a nope\r\n", b":1\r\n");
    exchange(&mut c, b"CONFIG GET save\r\n", b"*0\r\n");
    exchange(
        &mut c,
        b"FLUSHALL\r\n",
        b"-ERR unknown command 'FLUSHALL'\r\n",
    );
    exchange(
        &mut c,
        b"GET\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );

    // An oversized request is refused and the connection closed.
    let mut big = TcpStream::connect(&server.addr).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    big.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000\r\n")
        .unwrap();
    let mut reply = String::new();
    big.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("-ERR Protocol error"), "{reply}");

    drop(c);
    let stderr = server.interrupt();
    assert!(stderr.contains("synced"), "{stderr}");

    let get = Command::new(env!("CARGO_BIN_EXE_kv"))
        .arg("--dir")
        .arg(dir.path())
        .args(["get", "user:2"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&get.stdout), "v\n");
}

/// Whether `program` runs here; if not, and the environment demands it,
/// fail with instructions.
fn available(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("STRATA_REQUIRE_REDIS_TOOLS").is_some() {
        panic!("{program} is required (STRATA_REQUIRE_REDIS_TOOLS): apt-get install redis-tools");
    }
    if !found {
        eprintln!("{program} not installed: skipping (apt-get install redis-tools to run this)");
    }
    found
}

#[test]
fn redis_cli_and_redis_benchmark_work() {
    if !available("redis-cli") || !available("redis-benchmark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let cli = |args: &[&str]| {
        let output = Command::new("redis-cli")
            .args(["-p", server.port()])
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(cli(&["PING"]), "PONG\n");
    assert_eq!(cli(&["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(&["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(&["EXISTS", "greeting"]), "1\n");
    assert_eq!(cli(&["DBSIZE"]), "1\n");
    assert_eq!(cli(&["--scan", "--pattern", "greet*"]), "greeting\n");

    let output = Command::new("redis-benchmark")
        .args([
            "-p",
            server.port(),
            "-t",
            "set,get,ping_mbulk",
            "-n",
            "2000",
            "-q",
        ])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    for test in ["PING_MBULK", "SET", "GET"] {
        assert!(
            report.contains(&format!("{test}: ")),
            "{test} missing from {report}"
        );
    }
    server.interrupt();
}

/// A server in `always` mode killed with SIGKILL at seeded random moments,
/// with a write in flight, keeps every SET it acknowledged.
#[test]
fn sigkill_loses_no_acknowledged_set() {
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    let seed = 0x5EED_5EED;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acknowledged = Vec::new();
    for round in 0..4 {
        let mut server = Server::start(dir.path(), &[]);
        let mut c = TcpStream::connect(&server.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let kill_after = rng.random_range(1..200);
        for i in 0..kill_after {
            let key = format!("r{round}k{i}");
            let set = format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len());
            exchange(&mut c, set.as_bytes(), b"+OK\r\n");
            acknowledged.push(key);
        }
        // One more write in flight, never acknowledged, then the kill.
        c.write_all(b"*3\r\n$3\r\nSET\r\n$8\r\ninflight\r\n$1\r\nv\r\n")
            .unwrap();
        let status = Command::new("kill")
            .args(["-KILL", &server.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        server.child.wait().unwrap();
    }
    let scan = Command::new(env!("CARGO_BIN_EXE_kv"))
        .arg("--dir")
        .arg(dir.path())
        .arg("scan")
        .output()
        .unwrap();
    assert!(scan.status.success(), "{scan:?}");
    let present: std::collections::BTreeSet<String> = String::from_utf8_lossy(&scan.stdout)
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_string())
        .collect();
    for key in &acknowledged {
        assert!(
            present.contains(key),
            "seed {seed:#x}: acknowledged {key} lost"
        );
    }
}

fn set(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut request = format!("*3\r\n$3\r\nSET\r\n${}\r\n", key.len()).into_bytes();
    request.extend_from_slice(key);
    request.extend_from_slice(format!("\r\n${}\r\n", value.len()).as_bytes());
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
    request
}

/// Pipelined SETs are written as one batch (`server.rs`, `set_all`), but
/// each still gets its own reply, in order, interleaved correctly with the
/// other commands; an oversized key among them fails alone.
#[test]
fn pipelined_sets_reply_in_order_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut c = TcpStream::connect(&server.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();

    let mut request = Vec::new();
    for (key, value) in [(&b"a"[..], &b"1"[..]), (b"b", b"2"), (b"a", b"3")] {
        request.extend(set(key, value));
    }
    request.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n");
    request.extend(set(b"c", b"4"));
    exchange(&mut c, &request, b"+OK\r\n+OK\r\n+OK\r\n$1\r\n3\r\n+OK\r\n");

    // The default key limit is 4 KiB: the middle SET is refused, alone.
    let mut request = set(b"d", b"5");
    request.extend(set(&[b'k'; 5000], b"x"));
    request.extend(set(b"e", b"6"));
    c.write_all(&request).unwrap();
    let mut replies = String::new();
    let mut reader = BufReader::new(c.try_clone().unwrap());
    for _ in 0..3 {
        reader.read_line(&mut replies).unwrap();
    }
    assert_eq!(
        replies,
        "+OK\r\n-ERR key of 5000 bytes is longer than the limit of 4096 (Options::key_len_max)\r\n+OK\r\n"
    );
    exchange(&mut c, b"DBSIZE\r\n", b":5\r\n");
    drop((c, reader));
    server.interrupt();
}
