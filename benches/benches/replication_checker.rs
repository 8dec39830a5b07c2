//! The linearizability checker (`replication::linearizability`) on the
//! histories of issue 6's performance targets, made by
//! `register_history` from a single-copy store (so they are
//! linearizable):
//!
//! * `replication-checker-2k`: 2,000 operations of 50 clients on 10 keys
//!   (target ≤ 1 s); also `explain`, the same history with one late read
//!   made stale, decided and shrunk to its smallest failing set;
//! * `replication-checker-20k-info`: 20,000 operations of 100 clients on
//!   10 keys, 10% of writes and compare-and-sets indeterminate (target
//!   ≤ 10 s).
//!
//! Run: `cargo bench -p benches --bench replication_checker` (under a
//! minute). `tests/checker.rs` checks, untimed, that both histories are
//! decided linearizable within the default budget.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use replication::history::{Event, Kind, Op};
use replication::linearizability::{
    Budget, TARGET_HISTORIES, Verdict, Workload, check, register_history,
};

/// The 2,000-operation target and the 20,000-operation one, with
/// indeterminate updates (their seeds included).
const SMALL: (Workload, u64) = TARGET_HISTORIES[0];
const LARGE: (Workload, u64) = TARGET_HISTORIES[1];

fn configure<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.sample_size(10);
    group
}

/// `history` with a read three quarters in returning the first value its
/// key was written: a stale read, not linearizable.
fn with_stale_read(mut history: Vec<Event>) -> Vec<Event> {
    let late = (history.len() * 3 / 4..history.len())
        .find(|&i| history[i].kind == Kind::Ok && matches!(history[i].op, Op::Read(Some(_))));
    let Some(late) = late else {
        return history;
    };
    let key = history[late].key.clone();
    let first = history.iter().find_map(|e| match e.op {
        Op::Write(v) if e.key == key && e.kind == Kind::Ok => Some(v),
        _ => None,
    });
    if let Some(v) = first {
        history[late].op = Op::Read(Some(v));
    }
    history
}

fn small(c: &mut Criterion) {
    let history = register_history(&SMALL.0, SMALL.1);
    assert_eq!(
        check(&history, Budget::default()),
        Ok(Verdict::Linearizable)
    );
    let stale = with_stale_read(history.clone());
    assert!(matches!(
        check(&stale, Budget::default()),
        Ok(Verdict::NotLinearizable { .. })
    ));
    let mut group = configure(c, "replication-checker-2k");
    group.bench_function("check", |b| {
        b.iter(|| check(black_box(&history), Budget::default()))
    });
    group.bench_function("explain", |b| {
        b.iter(|| check(black_box(&stale), Budget::default()))
    });
    group.finish();
}

fn large(c: &mut Criterion) {
    let history = register_history(&LARGE.0, LARGE.1);
    assert_eq!(
        check(&history, Budget::default()),
        Ok(Verdict::Linearizable)
    );
    let mut group = configure(c, "replication-checker-20k-info");
    group.bench_function("check", |b| {
        b.iter(|| check(black_box(&history), Budget::default()))
    });
    group.finish();
}

criterion_group!(benches, small, large);
criterion_main!(benches);
