//! Three `vecstore serve` processes on 127.0.0.1 as one Raft cluster:
//! any member serves any command, and SIGKILLing the leader again and
//! again during writes from many clients loses no acknowledged element.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Client, Resp};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A cluster of `vecstore serve` processes, SIGKILLed when dropped.
struct Cluster {
    dirs: Vec<PathBuf>,
    clients: Vec<SocketAddr>,
    spec: String,
    children: Vec<Option<Child>>,
    _root: tempfile::TempDir,
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (1..=n).map(|i| root.path().join(format!("n{i}"))).collect();
        let clients: Vec<SocketAddr> = (0..n)
            .map(|_| format!("127.0.0.1:{}", free_port()).parse().unwrap())
            .collect();
        let spec = (1..=n)
            .map(|i| format!("{i}=127.0.0.1:{}", free_port()))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster {
            dirs,
            clients,
            spec,
            children: (0..n).map(|_| None).collect(),
            _root: root,
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        cluster
    }

    fn spawn(&mut self, i: usize) {
        let child = Process::new(env!("CARGO_BIN_EXE_vecstore"))
            .args(["serve", "--dir"])
            .arg(&self.dirs[i])
            .args(["--addr", &self.clients[i].to_string()])
            .args(["--id", &(i + 1).to_string(), "--cluster", &self.spec])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Client::connect(self.clients[i]).is_err() {
            assert!(Instant::now() < deadline, "member {} did not listen", i + 1);
            std::thread::sleep(Duration::from_millis(20));
        }
        self.children[i] = Some(child);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The member that says it leads (waits up to 10 s for one).
    fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for (i, &addr) in self.clients.iter().enumerate() {
                if self.children[i].is_none() {
                    continue;
                }
                if let Ok(mut c) = Client::connect(addr)
                    && let Ok(Resp::Array(Some(items))) = c.call("ROLE")
                    && items[0] == Resp::Bulk(Some(b"leader".to_vec()))
                {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no leader within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.children.len() {
            self.kill(i);
        }
    }
}

fn dir_exists(p: &Path) -> bool {
    p.join("raft.log").exists()
}

#[test]
fn any_member_serves_any_command() {
    let cluster = Cluster::start(3);
    let leader = cluster.leader();
    let follower = (leader + 1) % 3;
    let mut f = Client::connect(cluster.clients[follower]).unwrap();
    // A write sent to a follower is forwarded to the leader.
    assert_eq!(
        f.call("VADD k VALUES 2 1 0 a SETATTR {\"x\":1}").unwrap(),
        Resp::Integer(1)
    );
    // A read at any member sees every acknowledged write (ReadIndex at the
    // leader).
    for addr in &cluster.clients {
        let mut c = Client::connect(*addr).unwrap();
        assert_eq!(c.call("VCARD k").unwrap(), Resp::Integer(1));
        assert_eq!(c.call("VSIM k VALUES 2 1 0.1").unwrap().names(), ["a"]);
    }
    match f.call("ROLE").unwrap() {
        Resp::Array(Some(items)) => {
            assert_eq!(items[0], Resp::Bulk(Some(b"follower".to_vec())));
            assert_eq!(
                items[2],
                Resp::Integer(leader as i64 + 1),
                "the leader's id"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(cluster.dirs.iter().all(|d| dir_exists(d)));
}

/// Acknowledged elements: name and vector.
type Acked = Arc<Mutex<Vec<(String, [f32; 3])>>>;

/// Eight clients write through every member while the leader is SIGKILLed
/// and restarted three times. Every acknowledged VADD must be readable
/// (VEMB, exact vector) through every member afterwards, and the index
/// must find each element as its own nearest neighbour as an exact scan
/// does.
#[test]
fn sigkilling_the_leader_loses_no_acknowledged_element() {
    let mut cluster = Cluster::start(3);
    let acked: Acked = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|client| {
            let (acked, stop, addrs) = (
                Arc::clone(&acked),
                Arc::clone(&stop),
                cluster.clients.clone(),
            );
            std::thread::spawn(move || {
                let mut member = client % addrs.len();
                let mut c = Client::connect(addrs[member]).ok();
                let mut i = 0u32;
                while !stop.load(Ordering::Acquire) {
                    i += 1;
                    let name = format!("c{client}i{i}");
                    // Spread over the sphere (a search among near-duplicate
                    // directions would measure the data, not the failovers).
                    let k = (client * 100_000) as f32 + i as f32;
                    let v = [(k * 0.37).sin(), (k * 0.53).cos(), (k * 0.71).sin() + 0.1];
                    let text = format!("VADD k VALUES 3 {} {} {} {name}", v[0], v[1], v[2]);
                    let reply = c.as_mut().map(|c| c.call(&text));
                    match reply {
                        // Every name is fresh. A member that submits a write
                        // again after its leader died keeps its request id,
                        // and the store's sessions answer a repeat with the
                        // first answer: 0 ("updated") would mean a write
                        // applied twice.
                        Some(Ok(Resp::Integer(1))) => acked.lock().unwrap().push((name, v)),
                        Some(Ok(Resp::Error(_))) => {}
                        Some(Ok(other)) => panic!("{text}: {other:?}"),
                        // The member is down: try the next one.
                        Some(Err(_)) | None => {
                            member = (member + 1) % addrs.len();
                            c = Client::connect(addrs[member]).ok();
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(800));
        let leader = cluster.leader();
        cluster.kill(leader);
        std::thread::sleep(Duration::from_millis(500));
        cluster.spawn(leader);
    }
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Release);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 50,
        "only {} writes were acknowledged",
        acked.len()
    );
    cluster.leader();
    for addr in &cluster.clients {
        let mut c = Client::connect(*addr).unwrap();
        let Resp::Integer(card) = c.call("VCARD k").unwrap() else {
            panic!()
        };
        assert!(
            card as usize >= acked.len(),
            "{card} elements, {} acknowledged",
            acked.len()
        );
        for (name, v) in &acked {
            let expected: Vec<Resp> = v
                .iter()
                .map(|x| Resp::Bulk(Some(format!("{x}").into_bytes())))
                .collect();
            assert_eq!(
                c.call(&format!("VEMB k {name}")).unwrap(),
                Resp::Array(Some(expected)),
                "{name}"
            );
        }
    }
    let mut c = Client::connect(cluster.clients[0]).unwrap();
    let mut agree = 0;
    let sample: Vec<_> = acked.iter().step_by(acked.len() / 50 + 1).collect();
    for (_, v) in &sample {
        let q = format!("VSIM k VALUES 3 {} {} {} COUNT 10", v[0], v[1], v[2]);
        let approximate = c.call(&q).unwrap().names();
        let exact = c.call(&format!("{q} TRUTH")).unwrap().names();
        agree += approximate.iter().filter(|n| exact.contains(n)).count();
        assert_eq!(approximate.len(), exact.len());
    }
    let recall = agree as f64 / (10 * sample.len()) as f64;
    eprintln!(
        "{} acknowledged writes across 3 leader kills, all present on 3 members; recall@10 {recall:.3}",
        acked.len()
    );
    assert!(recall >= 0.95, "recall@10 after failovers: {recall}");
}
