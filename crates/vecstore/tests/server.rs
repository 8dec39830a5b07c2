//! The RESP server end to end: commands over TCP, pipelining, bad input,
//! restarts, `SIGKILL` during writes from many clients, and `redis-cli`.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command as Process, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Client, Resp};
use vecstore::{Server, ServerConfig};

fn start(dir: &std::path::Path) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    Server::start(ServerConfig::new(dir), listener).unwrap()
}

/// A pipeline longer than a connection may have in flight (half a
/// session's window: 2,048 requests) sent in one write: the connection
/// takes it in parts without waiting for more bytes, and every reply comes
/// back in order.
#[test]
fn a_pipeline_longer_than_the_in_flight_limit_is_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(server.addr()).unwrap();
    let adds = 3_000;
    let mut pipeline = String::new();
    for i in 0..adds {
        pipeline.push_str(&format!("VADD k VALUES 2 {} 1 e{i}\r\nVCARD k\r\n", i + 1));
    }
    c.raw(pipeline.as_bytes()).unwrap();
    for i in 0..adds {
        assert_eq!(c.read().unwrap(), Resp::Integer(1), "VADD e{i}");
        assert_eq!(c.read().unwrap(), Resp::Integer(i + 1), "VCARD after e{i}");
    }
    assert_eq!(c.call("PING").unwrap(), Resp::Simple("PONG".into()));
}

#[test]
fn commands_answer_over_resp() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(server.addr()).unwrap();
    assert_eq!(c.call("PING").unwrap(), Resp::Simple("PONG".into()));
    assert_eq!(
        c.call("CLIENT SETINFO lib-name redis-py").unwrap(),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        c.call("VADD users VALUES 3 1 0 0 alice SETATTR {\"age\":31}")
            .unwrap(),
        Resp::Integer(1)
    );
    assert_eq!(
        c.call("VADD users VALUES 3 0 1 0 bob").unwrap(),
        Resp::Integer(1)
    );
    assert_eq!(c.call("VCARD users").unwrap(), Resp::Integer(2));
    assert_eq!(
        c.call("VSIM users VALUES 3 1 0.1 0").unwrap().names(),
        ["alice", "bob"]
    );
    assert_eq!(
        c.call("VGETATTR users alice").unwrap(),
        Resp::Bulk(Some(b"{\"age\":31}".to_vec()))
    );
    match c.call("VADD users VALUES 2 1 0 carol").unwrap() {
        Resp::Error(e) => assert!(e.contains("dimension mismatch"), "{e}"),
        other => panic!("{other:?}"),
    }
    match c.call("ROLE").unwrap() {
        Resp::Array(Some(items)) => assert_eq!(items[0], Resp::Bulk(Some(b"leader".to_vec()))),
        other => panic!("{other:?}"),
    }
    // An FP32 blob, as redis-py sends vectors.
    let blob: Vec<u8> = [0.0f32, 0.0, 1.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    c.send(&[b"VADD", b"users", b"FP32", &blob, b"carol"])
        .unwrap();
    assert_eq!(c.read().unwrap(), Resp::Integer(1));
    // Pipelined: replies come back in request order, reads and writes mixed.
    c.raw(b"VCARD users\r\nVREM users bob\r\nVCARD users\r\nPING\r\n")
        .unwrap();
    assert_eq!(c.read().unwrap(), Resp::Integer(3));
    assert_eq!(c.read().unwrap(), Resp::Integer(1));
    assert_eq!(c.read().unwrap(), Resp::Integer(2));
    assert_eq!(c.read().unwrap(), Resp::Simple("PONG".into()));
    // A malformed request gets an error and the connection closes.
    c.raw(b"*2\r\n$4\r\nVCARD\r\n").unwrap();
    assert!(matches!(c.read(), Ok(Resp::Error(_)) | Err(_)));
    server.stop().unwrap();
}

#[test]
fn a_restart_recovers_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(server.addr()).unwrap();
    for i in 0..200 {
        let reply = c
            .call(&format!(
                "VADD k VALUES 2 {} {} e{i} SETATTR {{\"i\":{i}}}",
                i + 1,
                200 - i
            ))
            .unwrap();
        assert_eq!(reply, Resp::Integer(1));
    }
    for i in (0..200).step_by(3) {
        assert_eq!(c.call(&format!("VREM k e{i}")).unwrap(), Resp::Integer(1));
    }
    let before = c.call("VSIM k VALUES 2 1 1 COUNT 20 WITHSCORES").unwrap();
    drop(c);
    server.stop().unwrap();
    let server = start(dir.path());
    let mut c = Client::connect(server.addr()).unwrap();
    assert_eq!(c.call("VCARD k").unwrap(), Resp::Integer(133));
    assert_eq!(
        c.call("VSIM k VALUES 2 1 1 COUNT 20 WITHSCORES").unwrap(),
        before
    );
    assert_eq!(
        c.call("VGETATTR k e7").unwrap(),
        Resp::Bulk(Some(b"{\"i\":7}".to_vec()))
    );
    assert_eq!(c.call("VGETATTR k e6").unwrap(), Resp::Bulk(None));
    server.stop().unwrap();
}

#[test]
fn a_second_server_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = Server::start(ServerConfig::new(dir.path()), listener);
    assert!(second.is_err(), "two nodes would interleave one log");
    server.stop().unwrap();
}

/// `vecstore serve` as a child process, killed with SIGKILL when dropped.
struct Serve(Child, SocketAddr);

impl Serve {
    fn start(dir: &std::path::Path) -> Serve {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let child = Process::new(env!("CARGO_BIN_EXE_vecstore"))
            .args(["serve", "--dir"])
            .arg(dir)
            .args(["--addr", &addr.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Client::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "vecstore serve did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Serve(child, addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Acknowledged elements: name and vector.
type Acked = Arc<Mutex<Vec<(String, [f32; 4])>>>;

/// Eight clients add elements as fast as they can; the server is killed
/// with SIGKILL mid-stream, five times. Every element whose VADD was
/// acknowledged must come back with its exact vector (VEMB), and an exact
/// search must find it.
#[test]
fn sigkill_during_writes_loses_no_acknowledged_element() {
    let dir = tempfile::tempdir().unwrap();
    let acked: Acked = Arc::default();
    for round in 0..5 {
        let serve = Serve::start(dir.path());
        let addr = serve.1;
        let writers: Vec<_> = (0..8)
            .map(|client| {
                let acked = Arc::clone(&acked);
                std::thread::spawn(move || {
                    let Ok(mut c) = Client::connect(addr) else {
                        return;
                    };
                    for i in 0.. {
                        let name = format!("r{round}c{client}i{i}");
                        let v = [1.0 + i as f32, client as f32, round as f32 + 1.0, 0.5];
                        let text =
                            format!("VADD k VALUES 4 {} {} {} {} {name}", v[0], v[1], v[2], v[3]);
                        match c.call(&text) {
                            Ok(Resp::Integer(1)) => acked.lock().unwrap().push((name, v)),
                            Ok(other) => panic!("{text}: {other:?}"),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + 100 * round));
        drop(serve);
        for w in writers {
            w.join().unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "only {} writes were acknowledged",
        acked.len()
    );
    let serve = Serve::start(dir.path());
    let mut c = Client::connect(serve.1).unwrap();
    let Resp::Integer(card) = c.call("VCARD k").unwrap() else {
        panic!()
    };
    assert!(
        card as usize >= acked.len(),
        "{card} elements, {} acknowledged",
        acked.len()
    );
    for (name, v) in &acked {
        let reply = c.call(&format!("VEMB k {name}")).unwrap();
        let expected: Vec<Resp> = v
            .iter()
            .map(|x| Resp::Bulk(Some(format!("{x}").into_bytes())))
            .collect();
        assert_eq!(reply, Resp::Array(Some(expected)), "{name}");
    }
    for (name, v) in acked.iter().step_by(acked.len() / 20 + 1) {
        // The exact nearest neighbour of an element's own vector has
        // similarity 1 (itself, or another of the same direction), and so
        // has the index's.
        for how in ["TRUTH", ""] {
            let text = format!(
                "VSIM k VALUES 4 {} {} {} {} COUNT 1 WITHSCORES {how}",
                v[0], v[1], v[2], v[3]
            );
            match c.call(text.trim()).unwrap() {
                Resp::Array(Some(items)) => {
                    let Resp::Bulk(Some(score)) = &items[1] else {
                        panic!("{items:?}")
                    };
                    let score: f64 = String::from_utf8_lossy(score).parse().unwrap();
                    assert!(score > 0.99999, "{name}: {items:?}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

/// redis-cli, unmodified, talks to the server (skipped without redis-cli
/// unless STRATA_REQUIRE_REDIS_TOOLS is set, as in CI).
/// Whether `program args…` runs successfully. If it does not, the test
/// that needs it is skipped, unless the environment variable `require` is
/// set (as CI sets it), which makes it fail.
fn available(program: &str, args: &[&str], require: &str) -> bool {
    let present = Process::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        present || std::env::var_os(require).is_none(),
        "`{program} {}` failed, and {require} is set",
        args.join(" ")
    );
    if !present {
        eprintln!("skipped: `{program} {}` failed", args.join(" "));
    }
    present
}

#[test]
fn redis_cli_works_unmodified() {
    if !available("redis-cli", &["--version"], "STRATA_REQUIRE_REDIS_TOOLS") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let port = server.addr().port().to_string();
    let cli = |args: &[&str]| {
        let out = Process::new("redis-cli")
            .args(["-p", &port])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        cli(&[
            "VADD",
            "cities",
            "VALUES",
            "2",
            "48.85",
            "2.35",
            "paris",
            "SETATTR",
            "{\"country\":\"FR\"}"
        ])
        .trim(),
        "1"
    );
    assert_eq!(
        cli(&["VADD", "cities", "VALUES", "2", "51.5", "-0.12", "london"]).trim(),
        "1"
    );
    assert_eq!(cli(&["VCARD", "cities"]).trim(), "2");
    assert_eq!(
        cli(&["VSIM", "cities", "ELE", "paris", "COUNT", "1"]).trim(),
        "paris"
    );
    assert_eq!(
        cli(&["VGETATTR", "cities", "paris"]).trim(),
        "{\"country\":\"FR\"}"
    );
    assert!(cli(&["VDIM", "nosuchkey"]).contains("ERR"));
    server.stop().unwrap();
}

/// redis-py, unmodified, in both protocols: `tests/redis_py.py` asserts
/// what each vector-set call returns. The Python is `STRATA_REDIS_PY` (CI
/// builds a venv with a pinned redis-py) or `python3`; without redis-py the
/// test is skipped, unless `STRATA_REQUIRE_REDIS_PY` is set.
#[test]
fn redis_py_works_unmodified() {
    let python = std::env::var("STRATA_REDIS_PY").unwrap_or_else(|_| "python3".into());
    if !available(&python, &["-c", "import redis"], "STRATA_REQUIRE_REDIS_PY") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/redis_py.py");
    let out = Process::new(&python)
        .arg(script)
        .arg(server.addr().port().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis_py.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
}

/// The next `expected` bytes `stream` sends.
fn read_exactly(stream: &mut std::net::TcpStream, expected: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; expected];
    stream.read_exact(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

/// Sends `request` and expects exactly `reply` back.
fn exchange(stream: &mut std::net::TcpStream, request: &str, reply: &str) {
    use std::io::Write;
    stream.write_all(request.as_bytes()).unwrap();
    assert_eq!(read_exactly(stream, reply.len()), reply, "{request:?}");
}

/// `HELLO 3` switches a connection to RESP3, as redis-py (which asks for it
/// first) expects: maps for `VSIM … WITHSCORES` and `VINFO`, doubles for
/// scores and `VEMB`, `_` for null; `HELLO 2` switches back, another version
/// is refused with `NOPROTO`, and a connection that never says `HELLO`
/// keeps RESP2.
#[test]
fn hello_3_switches_a_connection_to_resp3() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    exchange(&mut s, "VADD k VALUES 2 1 0 a\r\n", ":1\r\n");
    exchange(
        &mut s,
        "VADD k VALUES 2 0 1 b SETATTR {\"x\":1}\r\n",
        ":1\r\n",
    );
    // RESP2 first.
    exchange(
        &mut s,
        "VSIM k VALUES 2 1 0 WITHSCORES\r\n",
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n0.5\r\n",
    );
    exchange(&mut s, "VGETATTR k a\r\n", "$-1\r\n");
    exchange(
        &mut s,
        "HELLO 4\r\n",
        "-NOPROTO unsupported protocol version\r\n",
    );
    // HELLO 3 answers a map of seven fields, itself in RESP3.
    exchange(
        &mut s,
        "HELLO 3\r\n",
        "%7\r\n$6\r\nserver\r\n$8\r\nvecstore\r\n$7\r\nversion\r\n",
    );
    let mut rest = Vec::new();
    while !rest.ends_with(b"$7\r\nmodules\r\n*0\r\n") {
        let mut byte = [0u8; 1];
        s.read_exact(&mut byte).unwrap();
        rest.push(byte[0]);
    }
    let rest = String::from_utf8_lossy(&rest).into_owned();
    assert!(rest.contains("$5\r\nproto\r\n:3\r\n"), "{rest}");
    exchange(
        &mut s,
        "VSIM k VALUES 2 1 0 WITHSCORES\r\n",
        "%2\r\n$1\r\na\r\n,1\r\n$1\r\nb\r\n,0.5\r\n",
    );
    exchange(
        &mut s,
        "VSIM k VALUES 2 0 1 WITHSCORES WITHATTRIBS COUNT 1\r\n",
        "%1\r\n$1\r\nb\r\n*2\r\n,1\r\n$7\r\n{\"x\":1}\r\n",
    );
    exchange(
        &mut s,
        "VSIM k VALUES 2 0 1 COUNT 1\r\n",
        "*1\r\n$1\r\nb\r\n",
    );
    exchange(&mut s, "VGETATTR k a\r\n", "_\r\n");
    exchange(&mut s, "VEMB k b\r\n", "*2\r\n,0\r\n,1\r\n");
    exchange(&mut s, "VEMB k nobody\r\n", "_\r\n");
    // HELLO 2: a flat array of the same seven fields.
    exchange(&mut s, "HELLO 2\r\n", "*14\r\n");
}
