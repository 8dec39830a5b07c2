//! `cargo xtask grade | hint | status`, and the CI check that the kit
//! cannot drift from the reference (`labs --check`).
//!
//! Grading copies nothing: it builds the lab's test targets where it runs
//! (a starter or the reference), runs each graded test alone with the lab's
//! seeds and time limit, and scores it. Results go to `.strata/grades/`
//! (for `status`) and, when asked, to Gradescope's `results.json`.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::labs::{self, GradedTest, Lab, StarterOptions};

/// How one graded test went.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) test: GradedTest,
    /// `None`: the test is hidden and not in this copy.
    pub(crate) passed: Option<bool>,
    pub(crate) seconds: f64,
    pub(crate) output: String,
    pub(crate) replay: Option<String>,
}

/// A lab's score.
#[derive(Debug, Clone)]
pub(crate) struct Score {
    pub(crate) outcomes: Vec<Outcome>,
}

impl Score {
    pub(crate) fn earned(&self) -> u32 {
        self.outcomes
            .iter()
            .filter(|o| o.passed == Some(true))
            .map(|o| o.test.points)
            .sum()
    }

    /// Points of the tests present here.
    pub(crate) fn possible(&self) -> u32 {
        self.outcomes
            .iter()
            .filter(|o| o.passed.is_some())
            .map(|o| o.test.points)
            .sum()
    }

    pub(crate) fn failing(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.passed == Some(false))
            .count()
    }

    pub(crate) fn full(&self) -> bool {
        self.possible() > 0 && self.earned() == self.possible()
    }
}

/// Options of one grading run.
#[derive(Debug, Clone, Default)]
pub(crate) struct GradeOptions {
    pub(crate) seeds: Option<u64>,
    /// Print progress and the table.
    pub(crate) verbose: bool,
    /// Cargo's target directory (default: the workspace's).
    pub(crate) target_dir: Option<PathBuf>,
}

/// Builds the test targets of `lab` in `root` and runs every graded test.
pub(crate) fn grade_lab(root: &Path, lab: &Lab, options: &GradeOptions) -> Result<Score> {
    let present: Vec<&GradedTest> = lab
        .tests
        .iter()
        .filter(|t| root.join(labs::test_file(&t.package, &t.target)).is_file())
        .collect();
    let mut targets: Vec<(String, String)> = present
        .iter()
        .map(|t| (t.package.clone(), t.target.clone()))
        .collect();
    targets.sort();
    targets.dedup();
    let built = build_tests(root, &targets, options)?;
    let seeds = options.seeds.unwrap_or(lab.grading.seeds).to_string();
    let cases = lab.grading.proptest_cases.to_string();
    let limit = Duration::from_secs(lab.grading.time_limit_secs);
    let mut outcomes = Vec::new();
    for test in &lab.tests {
        if !present
            .iter()
            .any(|p| p.name == test.name && p.target == test.target)
        {
            outcomes.push(Outcome {
                test: test.clone(),
                passed: None,
                seconds: 0.0,
                output: "hidden test: graded after the due date, not in this copy".into(),
                replay: None,
            });
            continue;
        }
        let executable = match &built {
            Ok(map) => map
                .iter()
                .find(|(p, t, _)| *p == test.package && *t == test.target),
            Err(_) => None,
        };
        let outcome = match (executable, &built) {
            (Some((_, _, exe)), _) => {
                if options.verbose {
                    eprintln!("  running {} …", test.name);
                }
                let dir = root.join("crates").join(&test.package);
                run_one(exe, &dir, test, &seeds, &cases, limit)?
            }
            (None, Err(errors)) => Outcome {
                test: test.clone(),
                passed: Some(false),
                seconds: 0.0,
                output: format!("the tests do not compile:\n{errors}"),
                replay: None,
            },
            (None, Ok(_)) => bail!(
                "cargo built no test binary for {}/{}",
                test.package,
                test.target
            ),
        };
        outcomes.push(outcome);
    }
    Ok(Score { outcomes })
}

/// Builds the test targets; `Err(text)` carries the compiler's errors when
/// the code does not compile (a score of 0, not a failure of the grader).
#[allow(clippy::type_complexity)]
fn build_tests(
    root: &Path,
    targets: &[(String, String)],
    options: &GradeOptions,
) -> Result<std::result::Result<Vec<(String, String, PathBuf)>, String>> {
    if targets.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command.current_dir(root).args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    let packages: BTreeSet<&str> = targets.iter().map(|(p, _)| p.as_str()).collect();
    for p in &packages {
        command.args(["-p", p]);
    }
    for (_, t) in targets {
        command.args(["--test", t]);
    }
    if let Some(dir) = &options.target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    if options.verbose {
        eprintln!(
            "  building the tests ({}) …",
            targets
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let out = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{cargo}`"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Ok(Err(tail.join("\n")));
    }
    let mut built = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let (Some(exe), Some(name)) = (
            message["executable"].as_str(),
            message["target"]["name"].as_str(),
        ) else {
            continue;
        };
        let kinds = message["target"]["kind"].to_string();
        if !kinds.contains("test") {
            continue;
        }
        let package_id = message["package_id"].as_str().unwrap_or("");
        if let Some((p, _)) = targets
            .iter()
            .find(|(p, t)| t == name && package_id_names(package_id, p))
        {
            built.push((p.clone(), name.to_string(), PathBuf::from(exe)));
        }
    }
    Ok(Ok(built))
}

/// Whether cargo's package id (`path+file:///…/crates/avl#0.1.0` or
/// `avl 0.1.0 (path+…)`) names `package`.
fn package_id_names(id: &str, package: &str) -> bool {
    id.starts_with(&format!("{package} "))
        || id.contains(&format!("/{package}#"))
        || id.contains(&format!("#{package}@"))
}

fn run_one(
    exe: &Path,
    dir: &Path,
    test: &GradedTest,
    seeds: &str,
    cases: &str,
    limit: Duration,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new(exe)
        .args([test.name.as_str(), "--exact", "--test-threads=1"])
        .current_dir(dir)
        .env("STRATA_SEEDS", seeds)
        .env("PROPTEST_CASES", cases)
        .env("INSTA_UPDATE", "no")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", exe.display()))?;
    // Drain both pipes on threads, so a chatty test cannot block on a full pipe.
    let mut stdout = child.stdout.take().context("piped stdout")?;
    let mut stderr = child.stderr.take().context("piped stderr")?;
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = start.elapsed().as_secs_f64();
    let output = format!(
        "{}{}",
        out_thread.join().unwrap_or_default(),
        err_thread.join().unwrap_or_default()
    );
    let ran = output.contains("1 passed") || output.contains("1 failed");
    let passed = !timed_out && status.is_some_and(|s| s.success()) && output.contains("1 passed");
    let replay = output
        .lines()
        .find_map(|l| l.trim().strip_prefix(strata_lab_marker()))
        .map(|seed| {
            format!(
                "STRATA_SEED={} cargo test -p {} --test {} -- --exact {}",
                seed.trim(),
                test.package,
                test.target,
                test.name
            )
        });
    let mut output = trim_output(&output);
    if timed_out {
        output = format!("timed out after {} s\n{output}", limit.as_secs());
    } else if !ran {
        output = format!(
            "no test named {:?} ran in target {}: the lab's manifest and the tests disagree\n{output}",
            test.name, test.target
        );
    }
    Ok(Outcome {
        test: test.clone(),
        passed: Some(passed),
        seconds,
        output,
        replay,
    })
}

/// `strata_lab::FAILING_SEED_MARKER` (xtask does not link the crate).
fn strata_lab_marker() -> &'static str {
    "strata-lab: failing seed "
}

/// The part of a test's output worth showing: the panic, not the harness.
fn trim_output(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| {
            !l.starts_with("running ")
                && !l.trim().is_empty()
                && !l.starts_with("test result:")
                && !l.starts_with("failures:")
                && !l.starts_with("---- ")
        })
        .collect();
    let keep = 40;
    let start = lines.len().saturating_sub(keep);
    lines[start..].join("\n")
}

/// Prints the score table of one lab.
pub(crate) fn print_table(lab: &Lab, score: &Score) {
    println!("\n{} — {}", lab.id, lab.title);
    let width = score
        .outcomes
        .iter()
        .map(|o| o.test.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "  {:<width$}  {:>6}  {:<7}  {:>7}",
        "test", "points", "result", "time"
    );
    for o in &score.outcomes {
        let (points, result) = match o.passed {
            Some(true) => (format!("{}/{}", o.test.points, o.test.points), "pass"),
            Some(false) => (format!("0/{}", o.test.points), "FAIL"),
            None => (format!("-/{}", o.test.points), "hidden"),
        };
        println!(
            "  {:<width$}  {:>6}  {:<7}  {:>6.1}s",
            o.test.name, points, result, o.seconds
        );
        if let Some(replay) = &o.replay {
            println!("  {:<width$}    replay: {replay}", "");
        }
    }
    println!(
        "  score: {} of {} points{}",
        score.earned(),
        score.possible(),
        if score.outcomes.iter().any(|o| o.passed.is_none()) {
            " (hidden tests are graded after the due date)"
        } else {
            ""
        }
    );
    for o in score.outcomes.iter().filter(|o| o.passed == Some(false)) {
        let first: Vec<&str> = o.output.lines().take(12).collect();
        println!("\n  {} failed:\n    {}", o.test.name, first.join("\n    "));
    }
}

/// Gradescope's `results.json`.
pub(crate) fn gradescope_json(lab: &Lab, score: &Score) -> Value {
    let tests: Vec<Value> = score
        .outcomes
        .iter()
        .filter(|o| o.passed.is_some())
        .map(|o| {
            let mut output = o.output.clone();
            if let Some(replay) = &o.replay {
                output = format!("replay: {replay}\n{output}");
            }
            json!({
                "name": o.test.name,
                "score": if o.passed == Some(true) { o.test.points } else { 0 },
                "max_score": o.test.points,
                "output": output,
                "visibility": if o.test.hidden { "after_due_date" } else { "visible" },
            })
        })
        .collect();
    json!({
        "score": score.earned(),
        "output": format!("{} — {}: {} of {} points", lab.id, lab.title, score.earned(), score.possible()),
        "visibility": "visible",
        "tests": tests,
    })
}

/// `cargo xtask grade`.
pub(crate) fn grade(
    root: &Path,
    id: &str,
    gradescope: Option<&Path>,
    seeds: Option<u64>,
) -> Result<()> {
    let all = labs::load_labs(root)?;
    let lab = labs::find_lab(&all, id)?;
    let options = GradeOptions {
        seeds,
        verbose: true,
        target_dir: None,
    };
    let score = grade_lab(root, lab, &options)?;
    print_table(lab, &score);
    save_progress(root, lab, &score)?;
    if let Some(path) = gradescope {
        let text = serde_json::to_string_pretty(&gradescope_json(lab, &score))?;
        fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("  wrote {}", path.display());
    }
    if !score.full() {
        bail!(
            "lab {id}: {} of {} points",
            score.earned(),
            score.possible()
        );
    }
    Ok(())
}

fn progress_dir(root: &Path) -> PathBuf {
    root.join(".strata")
}

fn save_progress(root: &Path, lab: &Lab, score: &Score) -> Result<()> {
    let dir = progress_dir(root).join("grades");
    fs::create_dir_all(&dir)?;
    let value = json!({
        "lab": lab.id,
        "score": score.earned(),
        "possible": score.possible(),
        "failing": score.failing(),
        "failing_tests": score.outcomes.iter().filter(|o| o.passed == Some(false)).map(|o| o.test.name.clone()).collect::<Vec<_>>(),
    });
    fs::write(
        dir.join(format!("{}.json", lab.id)),
        serde_json::to_string_pretty(&value)?,
    )?;
    Ok(())
}

/// `cargo xtask hint ID`: the next hint, remembered in `.strata/hints.json`.
pub(crate) fn hint(root: &Path, id: &str) -> Result<()> {
    let all = labs::load_labs(root)?;
    let lab = labs::find_lab(&all, id)?;
    let path = progress_dir(root).join("hints.json");
    let mut shown: serde_json::Map<String, Value> = fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let before = shown.get(id).and_then(Value::as_u64).unwrap_or(0) as usize;
    let total = lab.hints.len();
    let index = before.min(total.saturating_sub(1));
    println!(
        "{} — hint {} of {}:\n\n{}\n",
        lab.id,
        index + 1,
        total,
        lab.hints[index]
    );
    if index + 1 < total {
        println!("(`cargo xtask hint {id}` again for the next one.)");
    } else {
        println!(
            "(That was the last hint. The handout: book/src/{}.)",
            lab.handout
        );
    }
    shown.insert(id.to_string(), json!(index + 1));
    fs::create_dir_all(progress_dir(root))?;
    fs::write(&path, serde_json::to_string_pretty(&shown)?)?;
    Ok(())
}

/// `cargo xtask status`: each lab's state from its last grade.
pub(crate) fn status(root: &Path) -> Result<()> {
    let all = labs::load_labs(root)?;
    let hints: serde_json::Map<String, Value> =
        fs::read_to_string(progress_dir(root).join("hints.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
    let width = all.iter().map(|l| l.id.len()).max().unwrap_or(3);
    for lab in &all {
        let file = progress_dir(root)
            .join("grades")
            .join(format!("{}.json", lab.id));
        let state = match fs::read_to_string(&file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        {
            None => "not started".to_string(),
            Some(v) => {
                let failing = v["failing"].as_u64().unwrap_or(0);
                let (score, possible) = (
                    v["score"].as_u64().unwrap_or(0),
                    v["possible"].as_u64().unwrap_or(0),
                );
                if failing == 0 && possible > 0 {
                    format!("done ({score}/{possible})")
                } else {
                    format!("failing {failing} tests ({score}/{possible})")
                }
            }
        };
        let used = hints.get(&lab.id).and_then(Value::as_u64).unwrap_or(0);
        let hint_note = if used > 0 {
            format!(", {used} of {} hints", lab.hints.len())
        } else {
            String::new()
        };
        println!("{:<width$}  {state}{hint_note}", lab.id);
    }
    Ok(())
}

/// `cargo xtask labs --check`: the kit cannot drift from the reference.
///
/// Static checks (markers, manifests), then: the starter passes clippy with
/// `-D warnings`; the reference scores full on every lab; the starter (with
/// its hidden tests) scores 0 on every lab; restoring one lab (`sample`, or
/// one picked from the commit) with its requirements makes it full and
/// leaves every other lab at 0; no hidden test's text is in the starter.
pub(crate) fn check_kit(root: &Path, sample: Option<&str>) -> Result<()> {
    let started = Instant::now();
    let (all, regions) = labs::check(root)?;
    eprintln!(
        "labs: {} labs, {} regions: markers and manifests agree",
        all.len(),
        regions.len()
    );
    if all.is_empty() {
        return Ok(());
    }
    // Kept between runs, so a rerun rebuilds only what changed.
    let work = root.join("target").join("lab-check");
    let plain_dir = work.join("student");
    if plain_dir.exists() {
        fs::remove_dir_all(&plain_dir)?;
    }
    // Starters get their own target directory: cargo hashes a workspace
    // member by its path relative to the workspace root, so the reference's
    // and a starter's `avl` would overwrite each other's artifacts in one.
    let target_dir = work.join("target");
    let reference = GradeOptions {
        seeds: None,
        verbose: false,
        target_dir: None,
    };
    let options = GradeOptions {
        target_dir: Some(target_dir.clone()),
        ..reference.clone()
    };
    // No hidden text in what students get.
    let plain = work.join("student");
    labs::write_starter(root, &plain, &StarterOptions::default())?;
    check_no_hidden_text(root, &all, &plain)?;
    // The reference is full.
    let mut problems = Vec::new();
    for lab in &all {
        let score = grade_lab(root, lab, &reference)?;
        if !score.full() {
            print_table(lab, &score);
            problems.push(format!(
                "the reference scores {} of {} on {}",
                score.earned(),
                score.possible(),
                lab.id
            ));
        }
    }
    eprintln!(
        "labs: reference graded ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    // The starter compiles cleanly and scores 0.
    let starter = work.join("starter");
    labs::write_starter(
        root,
        &starter,
        &StarterOptions {
            solved: Vec::new(),
            with_hidden: true,
            in_place: true,
        },
    )?;
    clippy_clean(&starter, &target_dir)?;
    for lab in &all {
        let score = grade_lab(&starter, lab, &options)?;
        if score.earned() != 0 {
            print_table(lab, &score);
            problems.push(format!(
                "the starter scores {} on {} (a test passes without the lab's code)",
                score.earned(),
                lab.id
            ));
        }
    }
    eprintln!(
        "labs: starter graded ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    // One lab restored.
    let pick = match sample {
        Some(id) => labs::find_lab(&all, id)?.id.clone(),
        None => all[commit_number(root) % all.len()].id.clone(),
    };
    let restored = labs::with_requirements(&all, &pick)?;
    // The same directory, rewritten in place: cargo rebuilds only the
    // crates whose files change.
    labs::write_starter(
        root,
        &starter,
        &StarterOptions {
            solved: vec![pick.clone()],
            with_hidden: true,
            in_place: true,
        },
    )?;
    for lab in &all {
        let score = grade_lab(&starter, lab, &options)?;
        let should_be_full = restored.contains(&lab.id);
        if should_be_full && !score.full() {
            print_table(lab, &score);
            problems.push(format!(
                "with {pick} restored, {} scores {} of {}, not full",
                lab.id,
                score.earned(),
                score.possible()
            ));
        }
        if !should_be_full && score.earned() != 0 {
            print_table(lab, &score);
            problems.push(format!(
                "with {pick} restored, {} scores {}, not 0",
                lab.id,
                score.earned()
            ));
        }
    }
    eprintln!(
        "labs: restoring {pick} (with {:?}) checked ({:.0} s)",
        restored,
        started.elapsed().as_secs_f64()
    );
    if !problems.is_empty() {
        bail!("the coursework kit drifted:\n  {}", problems.join("\n  "));
    }
    Ok(())
}

/// A number from the current commit, so CI samples a different lab on
/// different commits (and the same lab on a rerun of one commit).
fn commit_number(root: &Path) -> usize {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| usize::from_str_radix(s.get(..6)?, 16).ok())
        .unwrap_or(0)
}

fn clippy_clean(starter: &Path, target_dir: &Path) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "$ (in {}) cargo clippy --workspace --exclude benches --all-targets -- -D warnings",
        starter.display()
    );
    let status = Command::new(&cargo)
        .current_dir(starter)
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ])
        .status()
        .with_context(|| format!("could not start `{cargo}`"))?;
    if !status.success() {
        bail!("the starter does not pass clippy under the workspace lints ({status})");
    }
    Ok(())
}

/// No line of a hidden test file (beyond trivia) appears in the starter.
fn check_no_hidden_text(root: &Path, all: &[Lab], starter: &Path) -> Result<()> {
    let hidden: BTreeSet<String> = all
        .iter()
        .flat_map(|l| l.tests.iter().filter(|t| t.hidden))
        .map(|t| labs::test_file(&t.package, &t.target))
        .collect();
    let mut starter_text = String::new();
    for file in labs::tracked_files(starter)? {
        if file.ends_with(".rs") {
            starter_text.push_str(&fs::read_to_string(starter.join(&file)).unwrap_or_default());
        }
    }
    for file in &hidden {
        if starter.join(file).exists() {
            bail!("the starter contains the hidden test file {file}");
        }
        let text = fs::read_to_string(root.join(file))?;
        let distinctive: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| l.len() >= 60 && !l.starts_with("use ") && !l.starts_with("//"))
            .collect();
        if let Some(line) = distinctive.iter().find(|l| starter_text.contains(*l)) {
            bail!("a line of the hidden test {file} appears in the starter: {line:?}");
        }
    }
    Ok(())
}
