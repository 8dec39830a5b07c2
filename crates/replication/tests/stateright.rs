//! Our linearizability checker against stateright's
//! (`stateright::semantics::LinearizabilityTester`, an independent
//! implementation: a plain recursive search over per-thread histories)
//! on thousands of small seeded histories of one register with reads,
//! writes and compare-and-sets, some operations indeterminate.
//!
//! # How the two models line up
//!
//! 1. **`ok`**: the operation is invoked and returns in stateright too,
//!    with its result (`ReadOk(v)`, `WriteOk`, `CasOk`).
//! 2. **`info`, or no completion**: the operation stays in flight in
//!    stateright forever. Stateright may then linearize it (with whatever
//!    result the register gives) or leave it out — our reading of an
//!    indeterminate operation. Its process never invokes again in our
//!    histories, as stateright requires of an in-flight thread. An
//!    in-flight compare-and-set that does not match is a no-op in
//!    stateright and simply not placed in ours: the same thing.
//! 3. **`fail`**: *different.* For us a failed operation certainly took no
//!    effect and is dropped. Stateright has no such outcome: the nearest,
//!    returning `CasFailed`, also claims that the register held another
//!    value at some moment inside the call, which our histories do not
//!    say. So failed operations are left out of stateright's history too
//!    (their invocation and completion both), and the comparison is of
//!    the same claims.
//! 4. **Real time**: stateright records, at each invocation, the last
//!    operation every other thread had completed, and requires those to
//!    come first; we require an operation that completed before another's
//!    invocation to come first. The same partial order.
//! 5. **Initial value**: absent in both (`None`).

use replication::history::{Event, Kind, Op, operations};
use replication::linearizability::{
    Budget, KeyVerdict, Workload, check_register, register_history,
};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// A register with compare-and-set, as stateright's reference object.
#[derive(Clone, Debug, Default, PartialEq)]
struct CasRegister(Option<i64>);

#[derive(Clone, Debug, PartialEq)]
enum RegOp {
    Read,
    Write(i64),
    Cas(i64, i64),
}

#[derive(Clone, Debug, PartialEq)]
enum RegRet {
    ReadOk(Option<i64>),
    WriteOk,
    CasOk,
    CasFailed,
}

impl SequentialSpec for CasRegister {
    type Op = RegOp;
    type Ret = RegRet;
    fn invoke(&mut self, op: &RegOp) -> RegRet {
        match *op {
            RegOp::Read => RegRet::ReadOk(self.0),
            RegOp::Write(v) => {
                self.0 = Some(v);
                RegRet::WriteOk
            }
            RegOp::Cas(expected, new) if self.0 == Some(expected) => {
                self.0 = Some(new);
                RegRet::CasOk
            }
            RegOp::Cas(..) => RegRet::CasFailed,
        }
    }
}

/// Stateright's verdict on `events` (one key), translated as in the
/// module docs.
fn stateright_says(events: &[Event]) -> bool {
    // Which invocations end `fail`: left out entirely (point 3).
    let mut failed = vec![false; events.len()];
    let mut running = std::collections::HashMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.kind == Kind::Invoke {
            running.insert(e.process, i);
        } else if let Some(call) = running.remove(&e.process)
            && e.kind == Kind::Fail
        {
            failed[call] = true;
            failed[i] = true;
        }
    }
    let mut tester = LinearizabilityTester::new(CasRegister(None));
    for (i, e) in events.iter().enumerate() {
        if failed[i] {
            continue;
        }
        let result = match (e.kind, e.op) {
            (Kind::Invoke, op) => {
                let op = match op {
                    Op::Read(_) => RegOp::Read,
                    Op::Write(v) => RegOp::Write(v),
                    Op::Cas(expected, new) => RegOp::Cas(expected, new),
                };
                tester.on_invoke(e.process, op).map(|_| ())
            }
            (Kind::Ok, op) => {
                let ret = match op {
                    Op::Read(v) => RegRet::ReadOk(v),
                    Op::Write(_) => RegRet::WriteOk,
                    Op::Cas(..) => RegRet::CasOk,
                };
                tester.on_return(e.process, ret).map(|_| ())
            }
            // Point 2: stays in flight.
            (Kind::Info, _) => Ok(()),
            (Kind::Fail, _) => unreachable!("left out above"),
        };
        result.expect("our histories are well-formed for stateright");
    }
    tester.is_consistent()
}

/// Changes one read's result or one compare-and-set's expected value:
/// often, but not always, breaking linearizability.
fn corrupt(rng: &mut ChaCha8Rng, events: &mut [Event]) {
    let targets: Vec<usize> = (0..events.len())
        .filter(|&i| match events[i].op {
            Op::Read(_) => events[i].kind == Kind::Ok,
            Op::Cas(..) => events[i].kind == Kind::Invoke,
            Op::Write(_) => false,
        })
        .collect();
    let Some(&i) = targets.get(rng.random_range(0..targets.len().max(1))) else {
        return;
    };
    let value = rng.random_range(0..6);
    match events[i].op {
        Op::Read(_) => events[i].op = Op::Read((value > 0).then_some(value)),
        Op::Cas(_, new) => {
            // The invocation and its completion must agree.
            let process = events[i].process;
            let completion = (i + 1..events.len()).find(|&j| events[j].process == process);
            for j in std::iter::once(i).chain(completion) {
                events[j].op = Op::Cas(value, new);
            }
        }
        Op::Write(_) => {}
    }
}

/// How many random histories (`STRATA_SEEDS` scales it).
fn cases() -> u64 {
    std::env::var("STRATA_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000)
}

#[test]
fn agrees_with_stateright_on_thousands_of_small_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x57A7_E416);
    let (mut yes, mut no, mut with_info, mut with_fail) = (0, 0, 0, 0);
    for case in 0..cases() {
        let workload = Workload {
            operations: rng.random_range(1..=7),
            clients: rng.random_range(1..=3),
            keys: 1,
            info_per_mille: 250,
        };
        let mut events = register_history(&workload, case);
        if case % 2 == 1 {
            corrupt(&mut rng, &mut events);
        }
        let ops = operations(&events)
            .unwrap()
            .remove("k0")
            .unwrap_or_default();
        let ours = check_register(&ops, Budget::default());
        let theirs = stateright_says(&events);
        assert_ne!(ours, KeyVerdict::Unknown, "case {case}");
        assert_eq!(
            ours == KeyVerdict::Linearizable,
            theirs,
            "case {case} (seed {case}): ours {ours:?}, stateright {theirs}\n{events:#?}"
        );
        if theirs {
            yes += 1
        } else {
            no += 1
        }
        with_info += usize::from(events.iter().any(|e| e.kind == Kind::Info));
        with_fail += usize::from(events.iter().any(|e| e.kind == Kind::Fail));
    }
    println!("{yes} linearizable, {no} not; {with_info} with info, {with_fail} with fail");
    // Both verdicts, indeterminate and failed operations are exercised.
    let n = cases() as usize;
    assert!(yes > n / 2 && no > n / 10, "{yes} linearizable, {no} not");
    assert!(
        with_info > n / 10 && with_fail > n / 20,
        "{with_info} with info, {with_fail} with fail"
    );
}
