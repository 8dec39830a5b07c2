//! `vecstore import` end to end, in-process: a real server on a temporary
//! directory, and a fake Ollama `/api/embed` on a std `TcpListener` that
//! answers with deterministic vectors (a hash of the text spread over 8
//! dimensions, normalised) or fails as it is told. Every failure must be
//! typed, name its line or batch, and count what was imported before it;
//! the binary must exit non-zero on one.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command as Process;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Client, Resp};
use indicatif::ProgressBar;
use serde_json::{Value, json};
use vecstore::import::{ImportError, ImportFailure, ImportOptions, LineRange, Service, Summary};
use vecstore::{Server, ServerConfig};

/// The fake's deterministic embedding of `text`: FNV-1a, then SplitMix64
/// spread over 8 components in [-1, 1), normalised.
fn vector(text: &str) -> Vec<f32> {
    let mut state = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let v: Vec<f32> = (0..8)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// Ollama's answer for `texts`.
fn embedded(texts: &[String]) -> Value {
    let embeddings: Vec<Vec<f32>> = texts.iter().map(|t| vector(t)).collect();
    json!({ "model": "fake-8d", "embeddings": embeddings })
}

/// How the fake answers one request.
enum Answer {
    /// This status and JSON body, framed by Content-Length.
    Json(u16, Value),
    /// 200 and this JSON body, `Transfer-Encoding: chunked`.
    Chunked(Value),
    /// Nothing, ever (until the client hangs up).
    Silence,
}

/// What the fake was asked: the model and the texts of each request.
type Requests = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A fake Ollama: the `i`-th request (0-based) for `texts` gets
/// `script(i, texts)`.
struct Fake {
    url: String,
    requests: Requests,
}

impl Fake {
    fn start(script: impl Fn(usize, &[String]) -> Answer + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Requests::default();
        let (script, seen) = (Arc::new(script), Arc::clone(&requests));
        std::thread::spawn(move || {
            // One request per connection: the importer says Connection: close.
            for (i, stream) in listener.incoming().enumerate() {
                let (script, seen) = (Arc::clone(&script), Arc::clone(&seen));
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || answer(stream, i, &*script, &seen));
            }
        });
        Fake { url, requests }
    }

    fn ok() -> Fake {
        Fake::start(|_, texts| Answer::Json(200, embedded(texts)))
    }

    fn batch_sizes(&self) -> Vec<usize> {
        let requests = self.requests.lock().unwrap();
        requests.iter().map(|(_, texts)| texts.len()).collect()
    }
}

fn answer(
    stream: TcpStream,
    i: usize,
    script: &(dyn Fn(usize, &[String]) -> Answer + Send + Sync),
    seen: &Requests,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "POST /api/embed HTTP/1.1\r\n");
    let mut length = 0;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request: Value = serde_json::from_slice(&body).unwrap();
    let model = request["model"].as_str().unwrap().to_string();
    let texts: Vec<String> = request["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    seen.lock().unwrap().push((model, texts.clone()));
    let mut stream = stream;
    let _ = match script(i, &texts) {
        Answer::Json(status, body) => {
            let body = body.to_string();
            write!(
                stream,
                "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        }
        Answer::Chunked(body) => {
            let body = body.to_string();
            let mut out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                           Transfer-Encoding: chunked\r\n\r\n"
                .to_string();
            for chunk in body.as_bytes().chunks(37) {
                out += &format!(
                    "{:x}\r\n{}\r\n",
                    chunk.len(),
                    String::from_utf8_lossy(chunk)
                );
            }
            out += "0\r\n\r\n";
            stream.write_all(out.as_bytes())
        }
        Answer::Silence => std::io::copy(&mut reader, &mut std::io::sink()).map(|_| ()),
    };
}

/// A server on a temporary directory.
struct Store {
    server: Server,
    _dir: tempfile::TempDir,
}

impl Store {
    fn start() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server::start(ServerConfig::new(dir.path()), listener).unwrap();
        Store { server, _dir: dir }
    }

    fn client(&self) -> Client {
        Client::connect(self.server.addr()).unwrap()
    }

    fn card(&self, key: &str) -> i64 {
        match self.client().call(&format!("VCARD {key}")).unwrap() {
            Resp::Integer(n) => n,
            other => panic!("{other:?}"),
        }
    }

    fn options(&self, fake: &Fake, key: &str) -> ImportOptions {
        ImportOptions {
            addr: self.server.addr().to_string(),
            timeout: Duration::from_secs(10),
            ..ImportOptions::new(&fake.url, "fake-8d", key)
        }
    }
}

/// Element `i`: every seventh has no attributes.
fn line(i: usize) -> String {
    if i.is_multiple_of(7) {
        format!(r#"{{"name": "e{i}", "text": "text number {i}"}}"#)
    } else {
        format!(
            r#"{{"name": "e{i}", "text": "text number {i}", "attributes": {{"i": {i}, "even": {}}}}}"#,
            i.is_multiple_of(2)
        )
    }
}

fn lines(range: std::ops::Range<usize>) -> String {
    range.map(|i| line(i) + "\n").collect()
}

fn run(options: &ImportOptions, input: &str) -> Result<Summary, ImportFailure> {
    vecstore::import::import(options, input.as_bytes(), &ProgressBar::hidden())
}

/// Runs an import that must fail; returns its error and how many elements
/// it imported first.
fn failure(options: &ImportOptions, input: &str) -> (ImportError, usize) {
    match run(options, input) {
        Ok(summary) => panic!("the import succeeded: {summary}"),
        Err(failure) => (failure.error, failure.summary.elements),
    }
}

#[test]
fn a_hundred_lines_land_with_their_vectors_and_attributes() {
    let store = Store::start();
    // Half the answers chunked, as Ollama (Go's net/http) may send them.
    let fake = Fake::start(|i, texts| match i % 2 {
        0 => Answer::Json(200, embedded(texts)),
        _ => Answer::Chunked(embedded(texts)),
    });
    // Blank lines anywhere are skipped.
    let input = "\n".to_string() + &lines(0..50) + "  \n\n" + &lines(50..100);
    let summary = run(&store.options(&fake, "docs"), &input).unwrap();
    assert_eq!(
        (summary.elements, summary.added, summary.batches),
        (100, 100, 4)
    );
    assert_eq!(fake.batch_sizes(), [32, 32, 32, 4]);
    assert!(
        fake.requests
            .lock()
            .unwrap()
            .iter()
            .all(|(model, _)| model == "fake-8d")
    );
    assert_eq!(store.card("docs"), 100);
    let mut c = store.client();
    for i in 0..100 {
        let expected: Vec<Resp> = vector(&format!("text number {i}"))
            .iter()
            .map(|x| Resp::Bulk(Some(format!("{x}").into_bytes())))
            .collect();
        assert_eq!(
            c.call(&format!("VEMB docs e{i}")).unwrap(),
            Resp::Array(Some(expected)),
            "e{i}"
        );
        let attributes = match c.call(&format!("VGETATTR docs e{i}")).unwrap() {
            Resp::Bulk(Some(text)) => Some(serde_json::from_slice::<Value>(&text).unwrap()),
            Resp::Bulk(None) => None,
            other => panic!("{other:?}"),
        };
        let expected = (i % 7 != 0).then(|| json!({ "i": i, "even": i % 2 == 0 }));
        assert_eq!(attributes, expected, "e{i}");
        assert_eq!(
            c.call(&format!("VSIM docs ELE e{i} COUNT 1"))
                .unwrap()
                .names(),
            [format!("e{i}")]
        );
    }
    // The set remembers the model.
    let Resp::Array(Some(info)) = c.call("VINFO docs").unwrap() else {
        panic!()
    };
    let at = info
        .iter()
        .position(|r| *r == Resp::Bulk(Some(b"model".to_vec())))
        .unwrap();
    assert_eq!(info[at + 1], Resp::Bulk(Some(b"fake-8d".to_vec())));
    // Importing again replaces: nothing new, nothing lost.
    let again = run(&store.options(&fake, "docs"), &lines(0..100)).unwrap();
    assert_eq!((again.elements, again.added), (100, 0));
    assert_eq!(store.card("docs"), 100);
    store.server.stop().unwrap();
}

#[test]
fn an_http_error_status_is_reported_with_the_endpoints_message() {
    let store = Store::start();
    let fake = Fake::start(|i, texts| match i {
        0 | 1 => Answer::Json(200, embedded(texts)),
        _ => Answer::Json(500, json!({ "error": "model 'x' not found" })),
    });
    let (error, imported) = failure(&store.options(&fake, "k"), &lines(0..100));
    match &error {
        ImportError::EmbedStatus {
            batch: 3,
            lines: LineRange {
                first: 65,
                last: 96,
            },
            status: 500,
            message,
        } => assert_eq!(message, "model 'x' not found"),
        other => panic!("{other}"),
    }
    assert!(error.to_string().contains("--model"), "{error}");
    assert_eq!(imported, 64);
    assert_eq!(store.card("k"), 64);
    store.server.stop().unwrap();
}

#[test]
fn a_wrong_number_of_embeddings_imports_nothing_of_its_batch() {
    let store = Store::start();
    let fake = Fake::start(|i, texts| match i {
        1 => Answer::Json(200, embedded(&texts[1..])),
        _ => Answer::Json(200, embedded(texts)),
    });
    let (error, imported) = failure(&store.options(&fake, "k"), &lines(0..100));
    assert!(
        matches!(
            error,
            ImportError::EmbeddingCount {
                batch: 2,
                expected: 32,
                got: 31,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(imported, 32);
    assert_eq!(store.card("k"), 32);
    store.server.stop().unwrap();
}

#[test]
fn embeddings_of_another_dimension_or_not_finite_are_refused() {
    let store = Store::start();
    let short = Fake::start(|i, texts| match i {
        0 => Answer::Json(200, embedded(texts)),
        _ => Answer::Json(
            200,
            json!({ "embeddings": vec![[1.0, 0.0, 0.0]; texts.len()] }),
        ),
    });
    let (error, imported) = failure(&store.options(&short, "short"), &lines(0..40));
    assert!(
        matches!(
            error,
            ImportError::Dimension {
                line: 33,
                expected: 8,
                got: 3
            }
        ),
        "{error}"
    );
    assert_eq!((imported, store.card("short")), (32, 32));

    // 1e39 is a JSON number but not an f32.
    let huge = Fake::start(|_, texts| {
        let mut body = embedded(texts);
        body["embeddings"][2][5] = json!(1e39);
        Answer::Json(200, body)
    });
    let (error, imported) = failure(&store.options(&huge, "huge"), &lines(0..10));
    assert!(
        matches!(
            error,
            ImportError::NonFinite {
                line: 3,
                index: 5,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!((imported, store.card("huge")), (0, 0));
    store.server.stop().unwrap();
}

#[test]
fn a_silent_endpoint_times_out() {
    let store = Store::start();
    let fake = Fake::start(|_, _| Answer::Silence);
    let options = ImportOptions {
        timeout: Duration::from_millis(300),
        ..store.options(&fake, "k")
    };
    let started = Instant::now();
    let (error, imported) = failure(&options, &lines(0..10));
    assert!(
        matches!(
            error,
            ImportError::Timeout {
                service: Service::Embedder,
                batch: 1,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--timeout-secs"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(imported, 0);
    store.server.stop().unwrap();
}

#[test]
fn unreachable_services_are_connect_errors() {
    let store = Store::start();
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let fake = Fake::ok();
    let no_server = ImportOptions {
        addr: closed.to_string(),
        ..store.options(&fake, "k")
    };
    let (error, _) = failure(&no_server, &lines(0..3));
    assert!(
        matches!(
            error,
            ImportError::Connect {
                service: Service::Server,
                ..
            }
        ),
        "{error}"
    );
    let no_endpoint = ImportOptions {
        endpoint: format!("http://{closed}"),
        ..store.options(&fake, "k")
    };
    let (error, _) = failure(&no_endpoint, &lines(0..3));
    assert!(
        matches!(
            error,
            ImportError::Connect {
                service: Service::Embedder,
                ..
            }
        ),
        "{error}"
    );
    let https = ImportOptions {
        endpoint: "https://localhost:11434".into(),
        ..store.options(&fake, "k")
    };
    let (error, _) = failure(&https, &lines(0..3));
    assert!(
        matches!(
            error,
            ImportError::Option {
                option: "endpoint",
                ..
            }
        ),
        "{error}"
    );
    assert!(fake.batch_sizes().is_empty());
    store.server.stop().unwrap();
}

#[test]
fn a_malformed_line_is_reported_by_its_number_after_the_lines_before_it() {
    let store = Store::start();
    let fake = Fake::ok();
    let cases = [
        (r#"{"name": "x", "text": }"#, "not JSON"),
        (r#"{"name": "x"}"#, "\"text\" is missing"),
        (r#"{"text": "x"}"#, "\"name\" is missing"),
        (r#"["x"]"#, "an array, not an object"),
        (
            r#"{"name": "x", "text": "t", "attributes": 3}"#,
            "\"attributes\"",
        ),
        (r#"{"name": "x", "text": "t", "id": 3}"#, "\"id\""),
    ];
    for (case, (bad, expected)) in cases.iter().enumerate() {
        // 39 elements and a blank line before the bad line 41; the batch of
        // 32 goes first, then the 7 read before the bad line.
        let input = lines(0..9) + "\n" + &lines(9..39) + bad + "\n" + &lines(39..60);
        let key = format!("k{case}");
        let (error, imported) = failure(&store.options(&fake, &key), &input);
        match &error {
            ImportError::Line { line: 41, problem } => {
                assert!(problem.contains(expected), "{bad}: {problem}");
            }
            other => panic!("{bad}: {other}"),
        }
        assert!(error.to_string().contains("line 41"), "{error}");
        assert_eq!(imported, 39, "{bad}");
        assert_eq!(store.card(&key), 39, "{bad}");
    }
    store.server.stop().unwrap();
}

#[test]
fn a_refused_vadd_names_its_line_and_the_rest_of_the_batch_is_counted() {
    let store = Store::start();
    // The zero vector has no direction: the server refuses it.
    let fake = Fake::start(|_, texts| {
        let mut body = embedded(texts);
        body["embeddings"][4] = json!(vec![0.0_f32; 8]);
        Answer::Json(200, body)
    });
    let (error, imported) = failure(&store.options(&fake, "k"), &lines(0..10));
    match &error {
        ImportError::Refused {
            line: 5,
            name,
            message,
        } => {
            assert_eq!(name, "e4");
            assert!(message.contains("zero vector"), "{message}");
        }
        other => panic!("{other}"),
    }
    // The batch was pipelined: its nine other elements are in.
    assert_eq!((imported, store.card("k")), (9, 9));
    store.server.stop().unwrap();
}

#[test]
fn another_model_into_the_same_key_is_refused_and_adds_nothing() {
    let store = Store::start();
    let fake = Fake::ok();
    run(&store.options(&fake, "k"), &lines(0..20)).unwrap();
    let other = ImportOptions {
        model: "other-model".into(),
        ..store.options(&fake, "k")
    };
    let input: String = (0..20)
        .map(|i| format!("{{\"name\": \"f{i}\", \"text\": \"new {i}\"}}\n"))
        .collect();
    let (error, imported) = failure(&other, &input);
    match &error {
        ImportError::Refused {
            line: 1, message, ..
        } => {
            assert!(message.contains("model mismatch"), "{message}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(imported, 0);
    assert_eq!(store.card("k"), 20);
    assert_eq!(
        store.client().call("VGETATTR k f0").unwrap(),
        Resp::Bulk(None)
    );
    assert_eq!(fake.requests.lock().unwrap()[1].0, "other-model");
    store.server.stop().unwrap();
}

fn cli(store: &Store, fake: &Fake, file: &std::path::Path) -> std::process::Output {
    Process::new(env!("CARGO_BIN_EXE_vecstore"))
        .args(["import", "--endpoint", &fake.url, "--model", "fake-8d"])
        .args(["--key", "cli", "--batch", "4", "--timeout-secs", "10"])
        .args(["--addr", &store.server.addr().to_string()])
        .arg(file)
        .output()
        .unwrap()
}

#[test]
fn the_command_line_imports_and_prints_a_summary() {
    let store = Store::start();
    let fake = Fake::ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, lines(0..10)).unwrap();
    let output = cli(&store, &fake, &file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout.contains("imported 10 elements (10 new) in 3 batches"),
        "{stdout}"
    );
    assert!(stdout.contains("elements/s"), "{stdout}");
    assert_eq!(fake.batch_sizes(), [4, 4, 2]);
    assert_eq!(store.card("cli"), 10);
    store.server.stop().unwrap();
}

#[test]
fn the_command_line_exits_non_zero_and_says_what_was_imported() {
    let store = Store::start();
    let fake = Fake::start(|i, texts| match i {
        0 => Answer::Json(200, embedded(texts)),
        _ => Answer::Json(404, json!({ "error": "model 'x' not found" })),
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, lines(0..10)).unwrap();
    let output = cli(&store, &fake, &file);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 404: model 'x' not found"), "{stderr}");
    assert!(stderr.contains("imported 4 elements"), "{stderr}");
    assert_eq!(store.card("cli"), 4);
    store.server.stop().unwrap();
}
