//! The `sim check` contract: a history file in, a verdict and an exit code
//! out (0 linearizable, 1 not, 2 unknown, 3 unreadable); and `sim run --app`.

use std::process::Command;

fn sim_check(history: &str, extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    std::fs::write(&path, history).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("check")
        .arg(&path)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const OK: &str = r#"{"process": 0, "type": "invoke", "f": "write", "key": "k1", "value": "a"}
{"process": 1, "type": "invoke", "f": "read", "key": "k1", "value": null}
{"process": 0, "type": "ok", "f": "write", "key": "k1", "value": "a"}
{"process": 1, "type": "ok", "f": "read", "key": "k1", "value": "a"}
{"process": 0, "type": "invoke", "f": "cas", "key": "k1", "value": ["a", "b"]}
{"process": 0, "type": "info", "f": "cas", "key": "k1", "value": ["a", "b"]}
{"process": 2, "type": "invoke", "f": "cas", "key": "k1", "value": ["x", "y"]}
{"process": 2, "type": "fail", "f": "cas", "key": "k1", "value": ["x", "y"]}
{"process": 1, "type": "invoke", "f": "read", "key": "k1", "value": null}
{"process": 1, "type": "ok", "f": "read", "key": "k1", "value": "b"}
"#;

#[test]
fn verdicts_and_exit_codes() {
    let (code, out, _) = sim_check(OK, &[]);
    assert_eq!((code, out.trim()), (0, "linearizable"));

    // The same, but the last read sees a value nobody wrote.
    let bad = OK.replace(
        r#""ok", "f": "read", "key": "k1", "value": "b""#,
        r#""ok", "f": "read", "key": "k1", "value": "z""#,
    );
    let (code, out, _) = sim_check(&bad, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("not linearizable: key \"k1\""), "{out}");

    let (code, out, _) = sim_check(OK, &["--budget", "0"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.starts_with("unknown: key \"k1\""), "{out}");
}

#[test]
fn malformed_files_name_the_line() {
    let (code, _, err) = sim_check(
        "{\"process\": 0, \"type\": \"invoke\", \"f\": \"write\", \"key\": \"k\"}\n",
        &[],
    );
    assert_eq!(code, 3);
    assert!(
        err.contains("line 1") && err.contains("non-null \"value\""),
        "{err}"
    );
    let (code, _, err) = sim_check(
        "{\"process\": 0, \"type\": \"start\", \"f\": \"read\", \"key\": \"k\"}\n",
        &[],
    );
    assert_eq!(code, 3);
    assert!(
        err.contains("\"type\" must be invoke, ok, fail or info"),
        "{err}"
    );
    let twice =
        "{\"process\": 0, \"type\": \"invoke\", \"f\": \"read\", \"key\": \"k\"}\n".repeat(2);
    let (code, _, err) = sim_check(&twice, &[]);
    assert_eq!(code, 3);
    assert!(err.contains("still running"), "{err}");
}

/// `sim run` with its output and exit code.
fn sim_run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn app_kv_runs_a_real_store_and_its_replay_says_so() {
    let (code, out, err) = sim_run(&["--protocol", "raft", "--app", "kv", "--seed", "3"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("checkpoints: equal digests"), "{out}");
    assert!(out.contains("--app kv"), "{out}");
    let (code, out, _) = sim_run(&["--protocol", "raft", "--seed", "3"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !out.contains("checkpoints:") && !out.contains("--app"),
        "{out}"
    );
    let (code, _, err) = sim_run(&["--protocol", "async", "--app", "kv"]);
    assert_eq!(code, 3);
    assert!(err.contains("--app kv needs --protocol raft"), "{err}");
}
