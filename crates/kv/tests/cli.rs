//! The `kv` binary, end to end on a temporary directory.

use std::process::{Command, Output};

fn kv(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kv"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("kv runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn put_get_del_scan_compact_stats() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    for (key, value) in [("b", "2"), ("a", "1"), ("c", "3"), ("a", "one")] {
        stdout(&kv(dir, &["put", key, value]));
    }
    assert_eq!(stdout(&kv(dir, &["get", "a"])), "one\n");
    stdout(&kv(dir, &["del", "b"]));
    let missing = kv(dir, &["get", "b"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not found"));
    assert_eq!(stdout(&kv(dir, &["scan"])), "a\tone\nc\t3\n");
    assert_eq!(
        stdout(&kv(dir, &["scan", "--start", "b", "--limit", "5"])),
        "c\t3\n"
    );
    assert_eq!(stdout(&kv(dir, &["scan", "--end", "b"])), "a\tone\n");
    stdout(&kv(dir, &["--durability", "never", "compact"]));
    let stats = stdout(&kv(dir, &["stats"]));
    assert!(stats.contains("keys             2"), "{stats}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let long_key = "k".repeat(5000);
    let output = kv(dir.path(), &["put", &long_key, "v"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("key_len_max"));
}
