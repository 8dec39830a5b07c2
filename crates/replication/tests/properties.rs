//! Property: whatever the seed and the fault schedule, as long as each
//! fault leaves a majority up and connected, Raft's client histories are
//! linearizable, no acknowledged write is lost, Raft's safety monitor sees
//! no violation, and once the faults heal the cluster serves and its
//! replicas converge. `PROPTEST_CASES` scales the number of runs.

use proptest::prelude::*;
use replication::checkers::lost_writes;
use replication::raft::{RaftConfig, RaftMonitor, RaftNode};
use replication::sim::NetworkConfig;
use replication::sim::workload::{Faults, RunConfig, Workload, run};

fn raft_run(
    seed: u64,
    intensity: f64,
    unreliable: bool,
    nodes: usize,
) -> Result<(), TestCaseError> {
    let config = RunConfig {
        nodes,
        network: if unreliable {
            NetworkConfig::unreliable()
        } else {
            NetworkConfig::reliable()
        },
        workload: Workload {
            retry_on_timeout: true,
            ..Workload::default()
        },
        faults: Faults::Random {
            intensity,
            keep_majority: true,
        },
        safety_us: 2_000_000,
        liveness_us: 1_500_000,
        ..RunConfig::new(seed)
    };
    let report = run::<RaftNode>(
        &config,
        RaftConfig::default(),
        vec![Box::new(RaftMonitor::new())],
    );
    let replay = format!("replay: {}", report.replay);
    prop_assert_eq!(&report.violation, &None, "{}", replay);
    prop_assert!(
        matches!(
            report.linearizable,
            replication::linearizability::Verdict::Linearizable
        ),
        "{:?}; {}",
        report.linearizable,
        replay
    );
    let lost = lost_writes(&report.history, &report.final_values);
    prop_assert!(lost.is_empty(), "lost {:?}; {}", lost, replay);
    prop_assert!(
        report.served_after_heal,
        "not served after healing; {}",
        replay
    );
    prop_assert_eq!(&report.converged, &Ok(()), "{}", replay);
    prop_assert!(
        report.outcomes[0] > 50,
        "only {:?} outcomes; {}",
        report.outcomes,
        replay
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn raft_is_linearizable_and_durable_under_minority_faults(
        seed in any::<u64>(),
        intensity in 0.5f64..10.0,
        unreliable in any::<bool>(),
        nodes in prop::sample::select(vec![3usize, 5, 7]),
    ) {
        raft_run(seed, intensity, unreliable, nodes)?;
    }
}
