//! The Myth box "a model runner such as Ollama is a vector database", made
//! runnable.
//!
//! A stand-in for Ollama's embedding endpoint runs in-process on
//! 127.0.0.1: `POST /api/embed` with `{"model", "input": [texts]}` answers
//! `{"model", "embeddings": [[f32…]…]}`, L2-normalised, one vector per
//! input, and `{"error"}` for an unknown model — the shapes of Ollama's API
//! reference (`docs/api.md`). Its "model" is a deterministic bag of words
//! hashed into 64 dimensions, so texts that share words get nearby vectors.
//! The tests show what such an endpoint gives back (vectors, nothing else),
//! that it keeps nothing between calls, and that finding the nearest stored
//! text is the index's work. The capstone's importer (Part V) talks to the
//! same endpoint of a real model runner.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use hnsw::{Hnsw, Metric, Params};
use serde_json::{Value, json};

/// The stand-in's vector length (all-MiniLM's is 384; any fixed length
/// makes the point).
const DIMENSION: usize = 64;

/// The one model the stand-in serves.
const MODEL: &str = "bag-of-words";

/// The stand-in's "model": each lower-cased word adds 1 to one of
/// [`DIMENSION`] components (FNV-1a of the word), then the vector is scaled
/// to length 1, as Ollama's `/api/embed` does.
fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0.0_f32; DIMENSION];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.to_lowercase().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        v[(h % DIMENSION as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The stand-in's answer to one request: (HTTP status, JSON body).
fn answer(method: &str, path: &str, body: &[u8]) -> (u16, Value) {
    if (method, path) != ("POST", "/api/embed") {
        return (
            404,
            json!({ "error": format!("no endpoint {method} {path}") }),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({ "error": "the body is not JSON" }));
    };
    let model = request["model"].as_str().unwrap_or_default();
    if model != MODEL {
        return (
            404,
            json!({ "error": format!("model \"{model}\" not found, try pulling it first") }),
        );
    }
    let inputs: Vec<&str> = match &request["input"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => {
            return (
                400,
                json!({ "error": "input must be a string or a list of strings" }),
            );
        }
    };
    let embeddings: Vec<Vec<f32>> = inputs.iter().map(|t| embed(t)).collect();
    (
        200,
        json!({ "model": MODEL, "embeddings": embeddings, "prompt_eval_count": inputs.len() }),
    )
}

/// Serves exactly `requests` HTTP/1.1 requests (one per connection), then
/// stops.
fn stand_in(requests: usize) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("a local address").to_string();
    let handle = thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(mut stream) = stream else { continue };
            stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("a request line");
            let mut parts = line.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("a header line");
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().expect("a length");
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("the body");
            let (status, reply) = answer(method, path, &body);
            let reply = reply.to_string();
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            )
            .expect("write the answer");
        }
    });
    (addr, handle)
}

/// A minimal client: POSTs `body` to `path`, returns (status, JSON).
fn post(addr: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect to the stand-in");
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the answer");
    let (head, json) = response
        .split_once("\r\n\r\n")
        .expect("headers, then a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, serde_json::from_str(json).expect("a JSON body"))
}

/// The embeddings of an answer, as f32 vectors.
fn embeddings(answer: &Value) -> Vec<Vec<f32>> {
    answer["embeddings"]
        .as_array()
        .expect("an `embeddings` list")
        .iter()
        .map(|v| {
            v.as_array()
                .expect("a vector")
                .iter()
                .map(|x| x.as_f64().expect("a number") as f32)
                .collect()
        })
        .collect()
}

const PROFILES: [&str; 5] = [
    "stunt pilot who flies small aircraft at air shows",
    "pastry chef baking bread and cakes in Paris",
    "marathon runner training for long distance races",
    "airline pilot flying passenger aircraft",
    "baker who sells bread at a market",
];

#[test]
fn the_embedding_endpoint_returns_vectors_and_nothing_else() {
    let (addr, server) = stand_in(2);
    let request = json!({ "model": MODEL, "input": PROFILES });
    let (status, answer) = post(&addr, "/api/embed", &request);
    assert_eq!(status, 200, "{answer}");
    let vectors = embeddings(&answer);
    assert_eq!(
        vectors.len(),
        PROFILES.len(),
        "one vector per input, in order"
    );
    for v in &vectors {
        assert_eq!(v.len(), DIMENSION, "one fixed length per model");
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "L2-normalised: {norm}");
    }
    // The answer names the model and carries the vectors: no ids, no
    // neighbours, no scores, nothing that refers to another input.
    let mut keys: Vec<&str> = answer
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["embeddings", "model", "prompt_eval_count"]);

    // A query is embedded the same way, and gets back only its own vector:
    // the runner kept nothing of the profiles it embedded a moment ago.
    let (status, answer) = post(
        &addr,
        "/api/embed",
        &json!({ "model": MODEL, "input": "pilot" }),
    );
    assert_eq!(status, 200);
    assert_eq!(embeddings(&answer), vec![embed("pilot")]);
    server.join().expect("the stand-in stops");
}

#[test]
fn finding_the_nearest_profile_is_the_index_s_work() {
    let (addr, server) = stand_in(2);
    let (_, answer) = post(
        &addr,
        "/api/embed",
        &json!({ "model": MODEL, "input": PROFILES }),
    );
    let vectors = embeddings(&answer);
    let (_, answer) = post(
        &addr,
        "/api/embed",
        &json!({ "model": MODEL, "input": "pilot of aircraft" }),
    );
    let query = embeddings(&answer).remove(0);
    server.join().expect("the stand-in stops");

    // Storing and searching the vectors happens here, in the index.
    let mut index = Hnsw::new(Metric::Cosine, DIMENSION, Params::new(4)).expect("an index");
    for (id, v) in vectors.iter().enumerate() {
        index.insert(id as u64, v).expect("a valid vector");
    }
    let found: Vec<u64> = index
        .search(&query, 2, 16)
        .expect("a valid query")
        .iter()
        .map(|n| n.id)
        .collect();
    let mut pilots = found.clone();
    pilots.sort_unstable();
    assert_eq!(
        pilots,
        [0, 3],
        "the two pilots, found by the index: {found:?}"
    );
}

#[test]
fn an_unknown_model_is_an_error_not_an_empty_answer() {
    let (addr, server) = stand_in(1);
    let (status, answer) = post(
        &addr,
        "/api/embed",
        &json!({ "model": "nomic-embed-text", "input": "x" }),
    );
    assert_eq!(status, 404);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found")),
        "{answer}"
    );
    server.join().expect("the stand-in stops");
}
