//! The `hnsw-eval` contract: its flags, its table, and its JSON lines; and
//! `hnsw-data`, which makes the files it reads.

use std::path::Path;
use std::process::Command;

use hnsw::{FlatIndex, Metric, data};

fn write_fvecs(path: &Path, data: &data::Dataset) {
    hnsw::io::write_fvecs(path, data).unwrap();
}

fn eval(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hnsw-eval"))
        .args(args)
        .output()
        .unwrap()
}

/// The value of `key` in a flat JSON object line.
fn field(line: &str, key: &str) -> f64 {
    let at = line
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    let rest = &line[at + key.len() + 4..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end].trim().parse().unwrap()
}

#[test]
fn json_lines_carry_the_contract_keys_and_truth_files_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut points = data::clustered(1_050, 8, 5, 0.2, 77);
    let queries = points.split_off(1_000);
    let (base_path, query_path) = (dir.path().join("base.fvecs"), dir.path().join("q.fvecs"));
    write_fvecs(&base_path, &points);
    write_fvecs(&query_path, &queries);
    let (base, q) = (base_path.to_str().unwrap(), query_path.to_str().unwrap());
    let common = [
        "--metric",
        "l2",
        "--k",
        "5",
        "--m",
        "8",
        "--ef-construction",
        "64",
    ];
    let mut args = vec![
        "--base",
        base,
        "--queries",
        q,
        "--ef",
        "8,64",
        "--threads",
        "2",
        "--json",
    ];
    args.extend(common);
    let out = eval(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (line, ef) in lines.iter().zip([8.0, 64.0]) {
        assert_eq!(field(line, "ef"), ef);
        let recall = field(line, "recall");
        assert!((0.0..=1.0).contains(&recall));
        assert!(field(line, "qps") > 0.0);
        assert!(field(line, "build_seconds") >= 0.0);
    }
    assert!(field(lines[1], "recall") >= 0.95, "{}", lines[1]);

    // A truth file with the exact answer gives the same recall.
    let mut exact = FlatIndex::new(Metric::L2, 8).unwrap();
    for (id, v) in points.iter().enumerate() {
        exact.insert(id as u64, v).unwrap();
    }
    let mut truth = Vec::new();
    for v in queries.iter() {
        let ids = exact.search(v, 5).unwrap();
        truth.extend_from_slice(&(ids.len() as i32).to_le_bytes());
        for r in ids {
            truth.extend_from_slice(&(r.id as i32).to_le_bytes());
        }
    }
    let truth_path = dir.path().join("gt.ivecs");
    std::fs::write(&truth_path, truth).unwrap();
    args.extend(["--truth", truth_path.to_str().unwrap()]);
    let with_truth = String::from_utf8(eval(&args).stdout).unwrap();
    for (a, b) in stdout.lines().zip(with_truth.lines()) {
        assert_eq!(field(a, "recall"), field(b, "recall"));
    }

    // The table names its columns.
    let mut table_args = vec!["--base", base, "--queries", q, "--ef", "16"];
    table_args.extend(common);
    let table = String::from_utf8(eval(&table_args).stdout).unwrap();
    assert!(
        table.contains("recall@k") && table.contains("QPS"),
        "{table}"
    );
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let out = eval(&[
        "--base",
        "/nonexistent.fvecs",
        "--queries",
        "/nonexistent.fvecs",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Error") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

fn data_tool(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_hnsw-data"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hnsw-data {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hnsw_data_makes_seeded_sets_slices_and_exact_truth() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let clustered = [
        "clustered",
        "--count",
        "300",
        "--dimension",
        "6",
        "--clusters",
        "4",
        "--spread",
        "0.2",
        "--seed",
        "9",
        "--out",
    ];
    data_tool(&[&clustered[..], &[&p("all.fvecs")]].concat());
    data_tool(&[&clustered[..], &[&p("again.fvecs")]].concat());
    let all = hnsw::io::read_vectors(p("all.fvecs")).unwrap();
    assert_eq!(all, data::clustered(300, 6, 4, 0.2, 9), "the library's set");
    assert_eq!(
        std::fs::read(p("all.fvecs")).unwrap(),
        std::fs::read(p("again.fvecs")).unwrap()
    );

    data_tool(&[
        "convert",
        "--input",
        &p("all.fvecs"),
        "--max",
        "250",
        "--out",
        &p("base.fvecs"),
    ]);
    data_tool(&[
        "convert",
        "--input",
        &p("all.fvecs"),
        "--skip",
        "250",
        "--out",
        &p("q.fvecs"),
    ]);
    let (base, queries) = (
        hnsw::io::read_vectors(p("base.fvecs")).unwrap(),
        hnsw::io::read_vectors(p("q.fvecs")).unwrap(),
    );
    assert_eq!((base.len(), queries.len()), (250, 50));
    assert_eq!(queries.vector(0), all.vector(250));

    data_tool(&[
        "truth",
        "--base",
        &p("base.fvecs"),
        "--queries",
        &p("q.fvecs"),
        "--metric",
        "cosine",
        "--k",
        "7",
        "--threads",
        "3",
        "--out",
        &p("truth.ivecs"),
    ]);
    let truth = hnsw::io::read_ids(p("truth.ivecs")).unwrap();
    let mut exact = FlatIndex::new(Metric::Cosine, 6).unwrap();
    for (id, v) in base.iter().enumerate() {
        exact.insert(id as u64, v).unwrap();
    }
    assert_eq!(truth.len(), 50);
    for (q, ids) in queries.iter().zip(&truth) {
        let want: Vec<u64> = exact.search(q, 7).unwrap().iter().map(|n| n.id).collect();
        assert_eq!(ids, &want, "truth in query order, nearest first");
    }
}
