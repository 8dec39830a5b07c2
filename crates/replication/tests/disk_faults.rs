//! A flipped bit in a synced Raft log is detected on restart.
//!
//! A node that silently cut its log at a damaged record would forget votes
//! and entries it had acknowledged — exactly what Raft's safety argument
//! forbids. The durable log shares the store's framing (`kv::frame`): a torn
//! tail (the end of the last, unsynced write) is cut, any other damage is
//! refused. These tests take the real log a node wrote during a simulated
//! run, flip every byte of it in turn, and restart a node on each damaged
//! copy: it must refuse to start (`InvalidData`), never start with fewer
//! records than it synced. The control restarts it on the undamaged copy.

use std::io;

use kv::{SimDisk, Storage};
use replication::protocol::{Command, Node, NodeContext};
use replication::raft::{LOG_FILE, RaftConfig, RaftMonitor, RaftNode};
use replication::sim::{Sim, SimConfig};

/// A disk's files: (name, bytes).
type Files = Vec<(String, Vec<u8>)>;

/// Node 0's log after a short run with a few writes: (its files, the log's
/// bytes, the last log index the node had).
fn a_real_log() -> (Files, Vec<u8>, u64) {
    let mut sim: Sim<RaftNode> = Sim::new(SimConfig::new(7, 3), RaftConfig::default());
    sim.add_monitor(Box::new(RaftMonitor::new()));
    sim.run_for(1_000_000);
    let leader = (0..3)
        .find(|&id| sim.node(id).is_some_and(RaftNode::is_leader))
        .expect("a leader within a second");
    for value in 0..5 {
        sim.submit(
            leader,
            Command::Write {
                key: value as u32,
                value,
            },
        );
    }
    sim.run_for(500_000);
    assert_eq!(sim.take_replies().len(), 5, "the writes commit");
    assert_eq!(sim.violation(), None);
    let disk = sim.disk(0);
    let files: Files = disk
        .list()
        .unwrap()
        .into_iter()
        .map(|name| {
            let mut bytes = vec![0; disk.len(&name).unwrap() as usize];
            disk.read_at(&name, 0, &mut bytes).unwrap();
            (name, bytes)
        })
        .collect();
    let log = files
        .iter()
        .find(|(n, _)| n == LOG_FILE)
        .map(|(_, b)| b.clone())
        .expect("node 0 has a log");
    let last = sim.node(0).map(RaftNode::last_log_index).unwrap();
    (files, log, last)
}

/// A fresh disk holding `files`, with `LOG_FILE` replaced by `log`, all
/// synced.
fn disk_with(files: &Files, log: &[u8]) -> SimDisk {
    let disk = SimDisk::new();
    for (name, bytes) in files {
        let bytes = if name == LOG_FILE { log } else { bytes };
        disk.append(name, bytes).unwrap();
        disk.sync(name).unwrap();
    }
    disk.sync_dir().unwrap();
    disk
}

fn restart(disk: SimDisk) -> io::Result<RaftNode> {
    let ctx = NodeContext {
        id: 0,
        nodes: 3,
        entropy: 0,
    };
    RaftNode::start(ctx, &RaftConfig::default(), Box::new(disk), 0)
}

#[test]
fn the_undamaged_log_restarts_with_every_entry() {
    let (files, log, last) = a_real_log();
    assert!(last >= 6, "a no-op and five writes: {last}");
    let node = restart(disk_with(&files, &log)).expect("an intact log starts");
    assert_eq!(node.last_log_index(), last);
}

#[test]
fn every_flipped_byte_of_a_synced_raft_log_is_refused() {
    let (files, log, _) = a_real_log();
    assert!(log.len() > 100, "a log worth damaging: {} bytes", log.len());
    for at in 0..log.len() {
        for mask in [0x01, 0x80, 0xff] {
            let mut damaged = log.clone();
            damaged[at] ^= mask;
            match restart(disk_with(&files, &damaged)) {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidData, "byte {at}: {e}"),
                Ok(node) => panic!(
                    "byte {at} ^ {mask:#04x}: the node started with {} entries instead of refusing",
                    node.last_log_index()
                ),
            }
        }
    }
}

#[test]
fn a_torn_tail_is_still_cut_and_the_node_starts() {
    let (files, log, last) = a_real_log();
    // Appending half of a record models the torn end of an unsynced write.
    let mut torn = log.clone();
    let mut frame = Vec::new();
    kv::frame::encode(b"an append that never finished", &mut frame);
    torn.extend_from_slice(&frame[..frame.len() / 2]);
    let node = restart(disk_with(&files, &torn)).expect("a torn tail is cut");
    assert_eq!(node.last_log_index(), last);
}

/// Raft under disk faults in the simulator: fsyncs fail (the node stops,
/// and the simulator crashes it as its process would exit), and every
/// crash flips a bit in the unsynced bytes that survive it (so a node
/// whose failed sync left a torn record behind finds a corrupt log and
/// refuses to restart, and stays down). Random crashes and partitions on
/// top. The history must stay linearizable and the monitor silent, and
/// nothing acknowledged may be lost in a run that can still serve its
/// final reads; the faults must really have struck.
#[test]
fn raft_stays_safe_when_fsyncs_fail_and_unsynced_bits_flip() {
    use replication::linearizability::Verdict;
    use replication::sim::DiskFaults;
    use replication::sim::workload::{RunConfig, Workload, run};

    let seeds = std::env::var("STRATA_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12u64);
    let mut total = replication::sim::DiskFaultCounts::default();
    let mut served = 0;
    for seed in 0..seeds {
        let config = RunConfig {
            disk_faults: DiskFaults {
                sync_failure: 0.002,
                flip_unsynced: 1.0,
            },
            workload: Workload {
                retry_on_timeout: true,
                ..Workload::default()
            },
            ..RunConfig::new(seed)
        };
        let report = run::<RaftNode>(
            &config,
            RaftConfig::default(),
            vec![Box::new(RaftMonitor::new())],
        );
        let replay = &report.replay;
        assert_eq!(report.violation, None, "{replay}");
        assert_eq!(report.linearizable, Verdict::Linearizable, "{replay}");
        // A run where too many nodes refused their corrupt logs cannot
        // serve the final reads, and then says nothing about durability.
        if report.served_after_heal {
            served += 1;
            let lost = replication::checkers::lost_writes(&report.history, &report.final_values);
            assert!(lost.is_empty(), "{replay}: lost {lost:?}");
        }
        let d = report.disk;
        total.failed_syncs += d.failed_syncs;
        total.stopped_nodes += d.stopped_nodes;
        total.flipped_bits += d.flipped_bits;
        total.refused_starts += d.refused_starts;
    }
    println!("{seeds} seeds, {served} served after healing: {total:?}");
    assert!(
        served * 2 > seeds,
        "most runs must still serve: {served} of {seeds}"
    );
    assert!(total.stopped_nodes > 0, "no fsync failed: {total:?}");
    assert!(
        total.refused_starts > 0,
        "no node found a corrupt log: {total:?}"
    );
}
