//! Grades the lab `vecstore-apply`: `VectorStore`'s `VADD` and `VREM`,
//! which keep the element records and each set's index in step
//! (invariants 1–5 of `state.rs`).
//!
//! Every test talks to the state machine the way Raft does: parsed
//! commands through `App::apply`, reads through `App::read`, and
//! `VectorStore::check_invariants` as the judge.

use std::collections::BTreeMap;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use replication::protocol::{Request, RequestId};
use replication::raft::App;
use vecstore::command::{Parsed, parse};
use vecstore::{Command, Reply, VectorStore};

fn command(text: &str) -> Command {
    let args: Vec<Vec<u8>> = text.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    match parse(&args) {
        Ok(Parsed::Store(c)) => c,
        other => panic!("{text} does not parse as a store command: {other:?}"),
    }
}

/// Applies `text` as client 0, which has no session (invariant 6 of
/// `state.rs`): a repeated command applies again.
fn run(s: &mut VectorStore, text: &str) -> Reply {
    let request = Request {
        id: RequestId { client: 0, seq: 1 },
        command: command(text),
    };
    s.apply(1, &request)
}

#[test]
fn vadd_answers_as_redis_does() {
    let mut s = VectorStore::default();
    assert_eq!(
        run(&mut s, "VADD k VALUES 2 1 0 a SETATTR {\"x\":1}"),
        Reply::Integer(1),
        "a new element"
    );
    assert_eq!(run(&mut s, "VADD k VALUES 2 0 1 b"), Reply::Integer(1));
    assert_eq!(
        run(&mut s, "VADD k VALUES 2 1 1 a"),
        Reply::Integer(0),
        "a replaced vector answers 0"
    );
    assert_eq!(run(&mut s, "VCARD k"), Reply::Integer(2));
    assert_eq!(
        run(&mut s, "VEMB k a"),
        Reply::Array(Some(vec![Reply::double(1.0), Reply::double(1.0)])),
        "VEMB returns the new vector"
    );
    assert_eq!(
        run(&mut s, "VGETATTR k a"),
        Reply::Bulk(Some(b"{\"x\":1}".to_vec())),
        "a VADD without SETATTR keeps the attributes"
    );
    run(&mut s, "VADD k VALUES 2 1 1 a SETATTR {\"x\":2}");
    assert_eq!(
        run(&mut s, "VGETATTR k a"),
        Reply::Bulk(Some(b"{\"x\":2}".to_vec()))
    );
    assert_eq!(
        run(&mut s, "VSIM k VALUES 2 1 0.9 COUNT 1"),
        Reply::Array(Some(vec![Reply::text("a")]))
    );
    s.check_invariants().unwrap();
}

#[test]
fn a_refused_add_changes_nothing() {
    let mut s = VectorStore::default();
    run(&mut s, "VADD k VALUES 3 1 2 3 a MODEL m1");
    let before = s.snapshot();
    let long = format!("VADD k VALUES 3 1 2 3 {} MODEL m1", "n".repeat(5_000));
    for (text, reason) in [
        ("VADD k VALUES 2 1 2 b MODEL m1", "dimension mismatch"),
        ("VADD k VALUES 3 0 0 0 b MODEL m1", "zero vector"),
        ("VADD k VALUES 3 1 2 3 b MODEL m2", "model mismatch"),
        (long.as_str(), "bytes together"),
    ] {
        match run(&mut s, text) {
            Reply::Error(e) => assert!(
                e.contains(reason),
                "{text:.40}: the error should say {reason:?}: {e}"
            ),
            other => panic!("{text:.40} was accepted: {other:?}"),
        }
        assert!(
            s.snapshot() == before,
            "{text:.40} was refused but changed the state"
        );
    }
    s.check_invariants().unwrap();
}

#[test]
fn vrem_removes_and_deletes_the_empty_set() {
    let mut s = VectorStore::default();
    run(&mut s, "VADD k VALUES 2 1 0 a");
    run(&mut s, "VADD k VALUES 2 0 1 b");
    assert_eq!(run(&mut s, "VREM k a"), Reply::Integer(1));
    assert_eq!(
        run(&mut s, "VREM k a"),
        Reply::Integer(0),
        "already removed"
    );
    assert_eq!(
        run(&mut s, "VREM nokey a"),
        Reply::Integer(0),
        "no such set"
    );
    assert_eq!(run(&mut s, "VEMB k a"), Reply::Array(None));
    assert_eq!(
        run(&mut s, "VSIM k VALUES 2 1 0 COUNT 5"),
        Reply::Array(Some(vec![Reply::text("b")])),
        "a removed element is never returned"
    );
    s.check_invariants().unwrap();
    assert_eq!(run(&mut s, "VREM k b"), Reply::Integer(1));
    assert_eq!(s.sets(), 0, "removing the last element deletes the set");
    assert_eq!(
        run(&mut s, "VADD k VALUES 3 1 2 3 c"),
        Reply::Integer(1),
        "its dimension is free again"
    );
    s.check_invariants().unwrap();
}

/// A random workload on a few sets: adds, replacements and removals.
fn workload(seed: u64, steps: usize) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..steps)
        .map(|_| {
            let key = ["users", "items"][rng.random_range(0..2)];
            let element = rng.random_range(0..30u32);
            if rng.random_bool(0.3) {
                format!("VREM {key} e{element}")
            } else {
                let v: Vec<String> = (0..4)
                    .map(|_| format!("{}", rng.random_range(-9..=9i32) as f32 + 0.5))
                    .collect();
                let attrs = if rng.random_bool(0.5) {
                    format!(" SETATTR {{\"n\":{element}}}")
                } else {
                    String::new()
                };
                format!(
                    "VADD {key} VALUES 4 {} e{element} M 4 EF 16{attrs}",
                    v.join(" ")
                )
            }
        })
        .collect()
}

#[test]
fn the_checker_passes_after_every_step() {
    strata_lab::for_each_seed(16, |seed| {
        let mut s = VectorStore::default();
        let mut model: BTreeMap<(String, String), ()> = BTreeMap::new();
        for text in workload(seed, 150) {
            let reply = run(&mut s, &text);
            let words: Vec<&str> = text.split(' ').collect();
            let id = (
                words[1].to_string(),
                if words[0] == "VREM" {
                    words[2]
                } else {
                    words[8]
                }
                .to_string(),
            );
            let expected = if words[0] == "VREM" {
                i64::from(model.remove(&id).is_some())
            } else {
                i64::from(model.insert(id, ()).is_none())
            };
            assert_eq!(reply, Reply::Integer(expected), "seed {seed}: {text}");
            if let Err(v) = s.check_invariants() {
                panic!("seed {seed}: after {text}: {v}");
            }
        }
        for key in ["users", "items"] {
            let n = model.keys().filter(|(k, _)| k == key).count();
            assert_eq!(s.card(key.as_bytes()), n, "seed {seed}: VCARD {key}");
        }
    });
}

#[test]
fn a_snapshot_restores_the_same_index_and_replicas_agree() {
    strata_lab::for_each_seed(8, |seed| {
        let (mut a, mut b) = (VectorStore::default(), VectorStore::default());
        for text in workload(seed, 120) {
            run(&mut a, &text);
            run(&mut b, &text);
        }
        assert!(
            a.snapshot() == b.snapshot(),
            "seed {seed}: two replicas applying the same commands differ"
        );
        let restored = VectorStore::restore(&a.snapshot()).expect("a snapshot restores");
        for key in ["users", "items"] {
            assert_eq!(
                a.index(key.as_bytes()).map(|i| i.to_bytes()),
                restored.index(key.as_bytes()).map(|i| i.to_bytes()),
                "seed {seed}: the restored index of {key} is another graph"
            );
        }
    });
}
