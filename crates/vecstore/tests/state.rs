//! The state machine against a brute-force model: random VADD / VREM /
//! VSETATTR sequences, with the store's checker after every step, exact
//! searches (`TRUTH`) equal to the model's, snapshots that restore the same
//! index byte for byte, and Raft's application contract.

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use replication::protocol::{Request, RequestId};
use replication::raft::{App, check_contract};
use vecstore::command::{Parsed, Query, Search, Vector, parse};
use vecstore::{Command, Reply, VectorStore};

/// A request of client 0, which has no session: applying it again applies
/// it again (the session tests below use other clients).
fn request(command: Command) -> Request<Command> {
    Request {
        id: RequestId { client: 0, seq: 1 },
        command,
    }
}

fn run(state: &mut VectorStore, text: &str) -> Reply {
    let args: Vec<Vec<u8>> = text.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    match parse(&args) {
        Ok(Parsed::Store(command)) => state.apply(1, &request(command)),
        Ok(Parsed::Local(local)) => panic!("{text} is local: {local:?}"),
        Err(error) => error,
    }
}

fn names(reply: &Reply) -> Vec<String> {
    match reply {
        Reply::Array(Some(items)) => items
            .iter()
            .map(|r| match r {
                Reply::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("not a name: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn the_redis_commands_do_what_redis_documents() {
    let mut s = VectorStore::default();
    assert_eq!(
        run(
            &mut s,
            "VADD users VALUES 3 1 0 0 alice SETATTR {\"age\":31}"
        ),
        Reply::Integer(1)
    );
    assert_eq!(
        run(&mut s, "VADD users VALUES 3 0.9 0.1 0 bob"),
        Reply::Integer(1)
    );
    assert_eq!(
        run(&mut s, "VADD users VALUES 3 0 0 1 carol"),
        Reply::Integer(1)
    );
    // Re-adding replaces the vector and keeps the attributes.
    assert_eq!(
        run(&mut s, "VADD users VALUES 3 0 1 0 bob"),
        Reply::Integer(0)
    );
    assert_eq!(run(&mut s, "VCARD users"), Reply::Integer(3));
    assert_eq!(run(&mut s, "VDIM users"), Reply::Integer(3));
    assert_eq!(
        run(&mut s, "VGETATTR users alice"),
        Reply::Bulk(Some(b"{\"age\":31}".to_vec()))
    );
    assert_eq!(run(&mut s, "VGETATTR users bob"), Reply::Bulk(None));
    assert_eq!(
        run(&mut s, "VEMB users bob"),
        Reply::Array(Some(vec![
            Reply::double(0.0),
            Reply::double(1.0),
            Reply::double(0.0)
        ]))
    );
    assert_eq!(
        names(&run(&mut s, "VSIM users VALUES 3 1 0.5 0 COUNT 2")),
        ["alice", "bob"]
    );
    assert_eq!(
        run(&mut s, "VSIM users ELE alice WITHSCORES COUNT 1"),
        Reply::Map(vec![(Reply::text("alice"), vec![Reply::double(1.0)])])
    );
    // Opposite direction scores 0, orthogonal 0.5.
    assert_eq!(
        run(&mut s, "VSIM users VALUES 3 -1 0 0 WITHSCORES COUNT 3"),
        Reply::Map(vec![
            // A tie: carol's id (2) is below bob's (3, given when his
            // vector was replaced).
            (Reply::text("carol"), vec![Reply::double(0.5)]),
            (Reply::text("bob"), vec![Reply::double(0.5)]),
            (Reply::text("alice"), vec![Reply::double(0.0)]),
        ])
    );
    assert_eq!(
        run(&mut s, "VSETATTR users bob {\"age\":20}"),
        Reply::Integer(1)
    );
    assert_eq!(run(&mut s, "VSETATTR users nobody {}"), Reply::Integer(0));
    assert_eq!(run(&mut s, "VREM users carol"), Reply::Integer(1));
    assert_eq!(run(&mut s, "VREM users carol"), Reply::Integer(0));
    assert_eq!(run(&mut s, "VEMB users carol"), Reply::Array(None));
    s.check_invariants().unwrap();
    // Removing the last element deletes the set; its dimension is free again.
    run(&mut s, "VREM users alice");
    run(&mut s, "VREM users bob");
    assert_eq!(run(&mut s, "VCARD users"), Reply::Integer(0));
    assert!(matches!(run(&mut s, "VDIM users"), Reply::Error(_)));
    assert_eq!(
        run(&mut s, "VADD users VALUES 2 1 1 dave"),
        Reply::Integer(1)
    );
    assert_eq!(s.sets(), 1);
    s.check_invariants().unwrap();
}

#[test]
fn a_set_keeps_the_model_it_was_created_with() {
    let mut s = VectorStore::default();
    assert_eq!(
        run(&mut s, "VADD bios VALUES 2 1 0 a MODEL all-minilm"),
        Reply::Integer(1)
    );
    assert_eq!(
        run(&mut s, "VADD bios VALUES 2 0 1 b MODEL all-minilm"),
        Reply::Integer(1)
    );
    let before = s.snapshot();
    match run(&mut s, "VADD bios VALUES 2 1 1 c MODEL nomic-embed-text") {
        Reply::Error(e) => assert!(
            e.contains("model mismatch") && e.contains("'all-minilm' embeddings"),
            "{e}"
        ),
        other => panic!("accepted: {other:?}"),
    }
    assert!(s.snapshot() == before, "a refused add changed the state");
    run(&mut s, "VADD raw VALUES 2 1 0 a");
    assert!(
        matches!(run(&mut s, "VADD raw VALUES 2 1 0 b MODEL m"), Reply::Error(e) if e.contains("without MODEL"))
    );
    let Reply::Map(info) = run(&mut s, "VINFO bios") else {
        panic!()
    };
    let model = info.iter().find(|(k, _)| *k == Reply::text("model"));
    assert_eq!(
        model.map(|(_, v)| v.as_slice()),
        Some([Reply::text("all-minilm")].as_slice())
    );
    let restored = VectorStore::restore(&s.snapshot()).unwrap();
    assert!(restored == s, "the model survives a snapshot");
}

#[test]
fn a_refused_command_changes_nothing() {
    let mut s = VectorStore::default();
    run(&mut s, "VADD k VALUES 3 1 2 3 a");
    let before = s.snapshot();
    let refusals = [
        (
            "VADD k VALUES 2 1 2 b",
            "dimension mismatch - got 2 but set has 3",
        ),
        ("VADD k VALUES 3 0 0 0 b", "zero vector"),
        (
            "VSIM k VALUES 4 1 2 3 4",
            "dimension mismatch - got 4 but set has 3",
        ),
        ("VSIM k ELE nobody", "element not found"),
    ];
    for (text, reason) in refusals {
        match run(&mut s, text) {
            Reply::Error(e) => assert!(e.contains(reason), "{text}: {e}"),
            other => panic!("{text} was accepted: {other:?}"),
        }
        assert!(s.snapshot() == before, "{text} changed the state");
    }
    let long = format!("VADD k VALUES 3 1 2 3 {}", "x".repeat(5000));
    assert!(matches!(run(&mut s, &long), Reply::Error(e) if e.contains("bytes together")));
    assert!(s.snapshot() == before);
}

/// One step of a random workload.
#[derive(Debug, Clone)]
enum Step {
    Add {
        element: u8,
        vector: [i8; 4],
        age: Option<u8>,
    },
    Remove {
        element: u8,
    },
    SetAge {
        element: u8,
        age: Option<u8>,
    },
    Snapshot,
    /// Resubmits the update `back` updates ago (from the end), as a
    /// server does after its leader died.
    Retry {
        back: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0..40u8, any::<[i8; 4]>(), proptest::option::of(0..100u8))
            .prop_map(|(element, vector, age)| Step::Add { element, vector, age }),
        2 => (0..40u8).prop_map(|element| Step::Remove { element }),
        1 => (0..40u8, proptest::option::of(0..100u8))
            .prop_map(|(element, age)| Step::SetAge { element, age }),
        1 => Just(Step::Snapshot),
        1 => any::<u8>().prop_map(|back| Step::Retry { back }),
    ]
}

fn vector(v: [i8; 4]) -> Option<Vector> {
    let components: Vec<f32> = v.iter().map(|&c| f32::from(c)).collect();
    if components.iter().all(|&c| c == 0.0) {
        return None;
    }
    Vector::new(components).ok()
}

/// Three clients with sessions, taking turns; every update is kept with
/// its answer, for `Step::Retry`.
#[derive(Default)]
struct Clients {
    seqs: [u64; 3],
    updates: Vec<(Request<Command>, Reply)>,
    index: u64,
}

impl Clients {
    fn apply(&mut self, s: &mut VectorStore, command: Command) -> Reply {
        let client = self.updates.len() % 3;
        self.seqs[client] += 1;
        let request = Request {
            id: RequestId {
                client: client as u64 + 1,
                seq: self.seqs[client],
            },
            command,
        };
        self.index += 1;
        let reply = s.apply(self.index, &request);
        assert!(!matches!(reply, Reply::Error(_)), "{request:?}: {reply:?}");
        self.updates.push((request, reply.clone()));
        reply
    }
}

fn cosine_distance(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    1.0 - dot / (na * nb)
}

proptest! {
    #![proptest_config(Config {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x5EED),
        failure_persistence: None,
        ..Config::default()
    })]

    /// After every step the checker passes and the store holds what the
    /// model holds; an exact search returns the model's nearest names; a
    /// snapshot restores byte-identical state.
    #[test]
    fn the_store_agrees_with_a_model(steps in proptest::collection::vec(step(), 1..80)) {
        let mut s = VectorStore::default();
        let mut model: BTreeMap<String, (Vec<f32>, Option<u8>)> = BTreeMap::new();
        let mut clients = Clients::default();
        for step in steps {
            match step {
                Step::Add { element, vector: v, age } => {
                    let Some(v) = vector(v) else { continue };
                    let name = format!("e{element}");
                    let attributes = age.map(|a| format!("{{\"age\":{a}}}"));
                    let reply = clients.apply(&mut s, Command::Add {
                        key: b"k".to_vec(),
                        element: name.clone().into_bytes(),
                        vector: v.clone(),
                        attributes: attributes.clone(),
                        m: Some(4),
                        ef_construction: Some(20),
                        model: None,
                    });
                    let old = model.get(&name).and_then(|(_, a)| *a);
                    let fresh = model
                        .insert(name, (v.components().to_vec(), age.or(old)))
                        .is_none();
                    prop_assert_eq!(reply, Reply::Integer(i64::from(fresh)));
                }
                Step::Remove { element } => {
                    let name = format!("e{element}");
                    let reply = clients.apply(&mut s, Command::Remove {
                        key: b"k".to_vec(),
                        element: name.clone().into_bytes(),
                    });
                    let had = model.remove(&name).is_some();
                    prop_assert_eq!(reply, Reply::Integer(i64::from(had)));
                }
                Step::SetAge { element, age } => {
                    let name = format!("e{element}");
                    let reply = clients.apply(&mut s, Command::SetAttributes {
                        key: b"k".to_vec(),
                        element: name.clone().into_bytes(),
                        attributes: age.map(|a| format!("{{\"age\":{a}}}")).unwrap_or_default(),
                    });
                    let had = match model.get_mut(&name) {
                        Some(entry) => { entry.1 = age; true }
                        None => false,
                    };
                    prop_assert_eq!(reply, Reply::Integer(i64::from(had)));
                }
                Step::Snapshot => {
                    let bytes = s.snapshot();
                    let restored = VectorStore::restore(&bytes).unwrap();
                    prop_assert!(restored.snapshot() == bytes);
                    let (a, b) = (s.index(b"k").map(|i| i.to_bytes()), restored.index(b"k").map(|i| i.to_bytes()));
                    prop_assert_eq!(a, b, "the restored index is the same graph");
                    s = restored;
                }
                Step::Retry { back } => {
                    // A resubmitted update: its first answer, and no change.
                    let updates = &clients.updates;
                    if updates.is_empty() {
                        continue;
                    }
                    let (request, reply) = updates[updates.len() - 1 - usize::from(back) % updates.len()].clone();
                    let before = s.snapshot();
                    prop_assert_eq!(s.cached_reply(&request), Some(reply.clone()));
                    prop_assert_eq!(s.apply(u64::MAX, &request), reply);
                    prop_assert!(s.snapshot() == before, "resubmitting {:?} changed the state", request);
                }
            }
            prop_assert!(s.check_invariants().is_ok(), "{:?}", s.check_invariants());
            prop_assert_eq!(s.card(b"k"), model.len());
        }
        // Exact search: the model's order (distance, then insertion id —
        // ties are rare with these vectors, so compare distances only).
        let query = [1.0f32, 2.0, -1.0, 0.5];
        let reply = s.read(&Command::Similar {
            key: b"k".to_vec(),
            search: Search {
                query: Query::Vector(Vector::new(query.to_vec()).unwrap()),
                count: 5,
                ef: None,
                epsilon_bits: None,
                filter: None,
                with_scores: false,
                with_attributes: false,
                truth: true,
            },
        });
        let found = names(&reply);
        let mut expected: Vec<f32> = model.values().map(|(v, _)| cosine_distance(&query, v)).collect();
        expected.sort_by(f32::total_cmp);
        expected.truncate(5);
        let got: Vec<f32> = found.iter().map(|n| cosine_distance(&query, &model[n].0)).collect();
        prop_assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            prop_assert!((g - e).abs() < 1e-5, "{:?} vs {:?}", got, expected);
        }
    }
}

#[test]
fn the_application_contract_holds() {
    let texts = [
        "VADD k VALUES 2 1 0 a SETATTR {\"x\":1}",
        "VADD k VALUES 2 0 1 b",
        "VSIM k ELE a WITHSCORES",
        "VADD k VALUES 2 1 1 a",
        "VSETATTR k b {\"y\":2}",
        "VREM k a",
        "VCARD k",
        "VEMB k b",
        "VINFO k",
        "VREM k b",
    ];
    let requests: Vec<Request<Command>> = texts
        .iter()
        .map(|t| {
            let args: Vec<Vec<u8>> = t.split(' ').map(|a| a.as_bytes().to_vec()).collect();
            match parse(&args) {
                Ok(Parsed::Store(c)) => request(c),
                other => panic!("{t}: {other:?}"),
            }
        })
        .collect();
    check_contract(&VectorStore::default(), &requests).unwrap();
}

#[test]
fn a_damaged_snapshot_is_refused_not_trusted() {
    let mut s = VectorStore::default();
    for i in 0..20 {
        run(
            &mut s,
            &format!("VADD k VALUES 2 {} {} e{i}", i + 1, 20 - i),
        );
    }
    let bytes = s.snapshot();
    for at in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        if let Ok(restored) = VectorStore::restore(&bad) {
            // A flip the checksums cannot see would have to leave a sound
            // store; none should get here, but if one does it must check.
            restored.check_invariants().unwrap();
        }
    }
}

/// Pre-filtering: with a FILTER that few elements pass, a search still
/// returns COUNT results whenever COUNT elements match, exactly those an
/// exact scan finds (recall 1 on this small set). The classic
/// post-filtering bug — search with a fixed EF, then filter — would return
/// fewer.
#[test]
fn a_filtered_search_returns_count_results_whenever_count_match() {
    let mut s = VectorStore::default();
    for i in 0..500u32 {
        let (x, y) = ((i as f32 * 0.37).sin(), (i as f32 * 0.91).cos());
        let city = if i % 50 == 0 { "Paris" } else { "Lyon" };
        let text = format!(
            "VADD users VALUES 2 {x} {y} u{i} SETATTR {{\"age\":{},\"city\":\"{city}\"}}",
            20 + i % 40
        );
        assert_eq!(run(&mut s, &text), Reply::Integer(1));
    }
    // Ten users live in Paris (i % 50 == 0); three of them are 20
    // (i % 200 == 0).
    for (filter, expected) in [
        (".city == \"Paris\"", 10),
        (".city == \"Paris\" and .age == 20", 3),
    ] {
        for count in [3, 10, 20] {
            let query = format!("VSIM users VALUES 2 1 0 COUNT {count} EF 10 FILTER {filter}");
            let args: Vec<Vec<u8>> = {
                let (head, _) = query.split_once(" FILTER ").unwrap();
                let mut a: Vec<Vec<u8>> = head.split(' ').map(|w| w.as_bytes().to_vec()).collect();
                a.push(b"FILTER".to_vec());
                a.push(filter.as_bytes().to_vec());
                a
            };
            let Ok(Parsed::Store(command)) = parse(&args) else {
                panic!("{query}")
            };
            let found = names(&s.read(&command));
            assert_eq!(found.len(), count.min(expected), "{query}");
            let mut truth_args = args.clone();
            truth_args.push(b"TRUTH".to_vec());
            let Ok(Parsed::Store(truth)) = parse(&truth_args) else {
                panic!()
            };
            assert_eq!(
                found,
                names(&s.read(&truth)),
                "{query}: index against exact"
            );
        }
    }
}

/// The classic bug of vector stores, measured: *post*-filtering (search
/// the index for `ef` candidates, then drop those the filter rejects)
/// returns fewer than COUNT results when the filter is selective, however
/// many elements match; *pre*-filtering (the filter applied during the
/// search, as `VSIM … FILTER` does) returns COUNT. The book's table in
/// "Filters: before or after the search" comes from this test (printed
/// with `--nocapture`; the counts are pinned).
#[test]
fn post_filtering_loses_results_that_pre_filtering_finds() {
    let mut s = VectorStore::default();
    // 2,000 users in 8 dimensions; 1 in 50 lives in Paris (40 users).
    let n = 2_000u32;
    for i in 0..n {
        let v: Vec<String> = (0..8)
            .map(|d| format!("{}", ((i * 7 + d * 13) as f32 * 0.61).sin()))
            .collect();
        let city = if i % 50 == 0 { "Paris" } else { "Lyon" };
        let text = format!(
            "VADD users VALUES 8 {} u{i} SETATTR {{\"city\":\"{city}\"}}",
            v.join(" ")
        );
        assert_eq!(run(&mut s, &text), Reply::Integer(1));
    }
    let index = s.index(b"users").unwrap();
    let paris = |id: u64| id.is_multiple_of(50); // ids are insertion order here
    let queries: Vec<Vec<f32>> = (0..20u32)
        .map(|q| {
            (0..8)
                .map(|d| ((q * 31 + d * 5) as f32 * 0.37).cos())
                .collect()
        })
        .collect();
    let count = 10;
    println!("ef    post-filter results  post recall  pre-filter results  pre recall");
    let mut table = Vec::new();
    for ef in [10usize, 50, 100, 400] {
        let (mut post_found, mut pre_found, mut post_hits, mut pre_hits) = (0, 0, 0, 0);
        for q in &queries {
            let exact: Vec<u64> = index
                .search_filtered(q, count, n as usize, paris)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect();
            let post: Vec<u64> = index
                .search(q, ef, ef)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .filter(|&id| paris(id))
                .take(count)
                .collect();
            let pre: Vec<u64> = index
                .search_filtered(q, count, ef, paris)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect();
            post_found += post.len();
            pre_found += pre.len();
            post_hits += post.iter().filter(|id| exact.contains(id)).count();
            pre_hits += pre.iter().filter(|id| exact.contains(id)).count();
        }
        let total = (count * queries.len()) as f64;
        println!(
            "{ef:<5} {post_found:>19}  {:>11.3}  {pre_found:>18}  {:>10.3}",
            post_hits as f64 / total,
            pre_hits as f64 / total
        );
        table.push((ef, post_found, pre_found, pre_hits));
    }
    // Pre-filtering returns COUNT for every query at every ef.
    assert!(
        table
            .iter()
            .all(|&(_, _, pre, _)| pre == count * queries.len())
    );
    // Post-filtering returns far fewer at small ef.
    assert!(table[0].1 < count * queries.len() / 4, "{table:?}");
    // The book's table: (ef, post-filter results, pre-filter results,
    // pre-filter results among the exact 10) over the 20 queries.
    assert_eq!(
        table,
        [
            (10, 6, 200, 200),
            (50, 22, 200, 200),
            (100, 40, 200, 200),
            (400, 158, 200, 200)
        ]
    );
}

/// `text` as request `seq` of `client`.
fn session_request(client: u64, seq: u64, text: &str) -> Request<Command> {
    let args: Vec<Vec<u8>> = text.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    match parse(&args) {
        Ok(Parsed::Store(command)) => Request {
            id: RequestId { client, seq },
            command,
        },
        other => panic!("{text}: {other:?}"),
    }
}

/// Invariant 6: a resubmitted write gets its first answer and is not
/// applied again, even after another client removed what it added (the
/// element would otherwise come back).
#[test]
fn a_resubmitted_write_applies_once() {
    let mut s = VectorStore::default();
    let add = session_request(7, 1, "VADD k VALUES 2 1 0 a");
    assert_eq!(s.apply(1, &add), Reply::Integer(1));
    assert_eq!(s.cached_reply(&add), Some(Reply::Integer(1)));
    let remove = session_request(8, 1, "VREM k a");
    assert_eq!(s.apply(2, &remove), Reply::Integer(1));
    let before = s.snapshot();
    // The same request again, as a server resubmits it after its leader
    // died: the recorded answer, and no change.
    assert_eq!(s.apply(3, &add), Reply::Integer(1));
    assert!(s.snapshot() == before, "a duplicate changed the state");
    assert_eq!(s.card(b"k"), 0, "the removed element came back");
    // A new request of the same client applies.
    assert_eq!(
        s.apply(4, &session_request(7, 2, "VADD k VALUES 2 1 0 a")),
        Reply::Integer(1)
    );
    assert_eq!(s.card(b"k"), 1);
    // Reads and client 0 are not recorded.
    let card = session_request(7, 3, "VCARD k");
    assert_eq!(s.cached_reply(&card), None);
    assert_eq!(s.apply(5, &card), Reply::Integer(1));
    assert_eq!(s.cached_reply(&card), None);
    let anonymous = session_request(0, 1, "VREM k nobody");
    s.apply(6, &anonymous);
    assert_eq!(s.cached_reply(&anonymous), None);
    assert_eq!(s.sessions(), 2);
    s.check_invariants().unwrap();
}

/// A refused write is recorded too (invariant 6): its retry gets the same
/// refusal even when the write would now succeed, so the client hears one
/// answer whichever attempt it came from; the store's content is
/// unchanged by the refusal (invariant 5), and the session table survives
/// a snapshot.
#[test]
fn sessions_record_refusals_and_survive_snapshots() {
    let mut s = VectorStore::default();
    s.apply(1, &session_request(3, 1, "VADD k VALUES 2 1 0 a"));
    let refused = session_request(3, 2, "VADD k VALUES 3 1 0 0 b");
    let Reply::Error(first) = s.apply(2, &refused) else {
        panic!("a 3-d vector was added to a 2-d set")
    };
    assert!(first.contains("dimension mismatch"), "{first}");
    assert_eq!(s.card(b"k"), 1, "the refusal changed the set");
    // Emptying the set deletes it, so the same VADD would now create a
    // 3-d set; its retry still gets the first answer and changes nothing.
    assert_eq!(
        s.apply(3, &session_request(4, 1, "VREM k a")),
        Reply::Integer(1)
    );
    assert_eq!(s.apply(4, &refused), Reply::Error(first.clone()));
    assert_eq!(s.card(b"k"), 0);
    assert_eq!(s.cached_reply(&refused), Some(Reply::Error(first.clone())));
    let restored = VectorStore::restore(&s.snapshot()).unwrap();
    assert!(restored.snapshot() == s.snapshot());
    assert_eq!(restored.cached_reply(&refused), Some(Reply::Error(first)));
    // A new request of the client is applied.
    assert_eq!(
        s.apply(5, &session_request(3, 3, "VADD k VALUES 3 1 0 0 b")),
        Reply::Integer(1)
    );
}

/// A snapshot of another format (before sessions, snapshots had no tag) is
/// refused with an error that says so, not misread.
#[test]
fn a_snapshot_of_another_format_is_refused() {
    let mut s = VectorStore::default();
    run(&mut s, "VADD k VALUES 2 1 0 a");
    let bytes = s.snapshot();
    let Err(e) = VectorStore::restore(&bytes[8..]) else {
        panic!("a snapshot without its format tag was restored")
    };
    assert!(e.to_string().contains("older build"), "{e}");
}

/// A session remembers the last `SESSION_WINDOW` sequence numbers: a
/// pipelined request inside the window that never applied is applied; one
/// older than the window gets an error instead of a guess.
#[test]
fn a_session_keeps_a_window_of_replies() {
    use vecstore::state::SESSION_WINDOW;
    let mut s = VectorStore::default();
    let newest = SESSION_WINDOW + 10;
    s.apply(1, &session_request(5, 1, "VADD k VALUES 2 1 0 first"));
    s.apply(2, &session_request(5, newest, "VADD k VALUES 2 0 1 last"));
    // Seq 1 fell out of the window: its reply is forgotten.
    match s.apply(3, &session_request(5, 1, "VADD k VALUES 2 1 0 first")) {
        Reply::Error(e) => assert!(e.contains("no longer known"), "{e}"),
        other => panic!("a forgotten request was answered {other:?}"),
    }
    assert_eq!(s.card(b"k"), 2);
    // Seq newest - 5 is inside the window and never applied: it applies.
    assert_eq!(
        s.apply(
            4,
            &session_request(5, newest - 5, "VADD k VALUES 2 1 1 middle")
        ),
        Reply::Integer(1)
    );
    assert_eq!(s.card(b"k"), 3);
    assert_eq!(
        s.apply(5, &session_request(5, newest, "VADD k VALUES 2 0 1 last")),
        Reply::Integer(1),
        "the newest reply is kept"
    );
}

/// At most `SESSIONS_MAX` sessions: the one whose last update is oldest in
/// the log is forgotten, and replicas forget alike.
#[test]
fn the_oldest_session_is_forgotten_first() {
    use vecstore::state::SESSIONS_MAX;
    let mut a = VectorStore::default();
    let clients = SESSIONS_MAX as u64 + 1;
    for client in 1..=clients {
        // Client 1 writes again last but one, so client 2 is the oldest.
        let index = if client == clients {
            clients + 1
        } else {
            client
        };
        a.apply(index, &session_request(client, 1, "VREM k nobody"));
        if client == clients - 1 {
            a.apply(clients, &session_request(1, 2, "VREM k nobody"));
        }
    }
    assert_eq!(a.sessions(), SESSIONS_MAX);
    assert_eq!(
        a.cached_reply(&session_request(2, 1, "VREM k nobody")),
        None
    );
    for client in [1, 3, clients] {
        assert!(
            a.cached_reply(&session_request(client, 1, "VREM k nobody"))
                .is_some(),
            "client {client} was forgotten"
        );
    }
    let b = VectorStore::restore(&a.snapshot()).unwrap();
    assert!(a == b);
}
