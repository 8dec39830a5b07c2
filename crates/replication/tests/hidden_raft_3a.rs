//! Hidden graded test of lab `raft-3a`: elections settle on a lossy,
//! duplicating, reordering network while random minorities are cut off and
//! come back. The [`RaftMonitor`] checks election safety after every step.
//!
//! [`RaftMonitor`]: replication::raft::RaftMonitor

mod raft_common;

use raft_common::{Cluster, ELECTION_TIMEOUT};
use replication::protocol::NodeId;
use replication::raft::RaftConfig;
use replication::sim::NetworkConfig;

/// Five nodes on an unreliable network; eight times, up to two random
/// nodes are cut off, one leader must emerge among the rest, and they
/// rejoin; at the end one leader leads everyone.
#[test]
fn elections_settle_on_an_unreliable_network() {
    strata_lab::for_each_seed(16, |seed| {
        let name = "elections_settle_on_an_unreliable_network";
        let network = NetworkConfig::unreliable();
        let mut c = Cluster::with_network(name, seed, 5, RaftConfig::default(), network);
        c.check_one_leader();
        for _ in 0..8 {
            let picks: Vec<NodeId> = (0..2).map(|_| c.random(5) as NodeId).collect();
            for &i in &picks {
                c.disconnect(i);
            }
            c.check_one_leader();
            for &i in &picks {
                c.connect(i);
            }
            c.run_for(ELECTION_TIMEOUT);
        }
        c.sim.set_network(NetworkConfig::reliable());
        c.check_one_leader();
        c.run_for(ELECTION_TIMEOUT);
        c.check_terms();
        c.check_one_leader();
    });
}
