//! The coursework kit: labs cut from the reference code.
//!
//! A lab is a `labs/<id>.toml` manifest plus regions in the reference
//! source, `// BEGIN LAB <id>` … `// END LAB` inside function bodies (the
//! format is `labs/README.md`). This module reads both, checks that they
//! agree, and writes the starter workspace, where every region is replaced
//! by its stub. Grading is in `grade.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

/// One `labs/<id>.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Lab {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) part: String,
    pub(crate) chapter: String,
    pub(crate) handout: String,
    pub(crate) order: u32,
    pub(crate) difficulty: String,
    pub(crate) hours: f64,
    #[serde(default)]
    pub(crate) requires: Vec<String>,
    pub(crate) student_files: Vec<String>,
    pub(crate) regions: Vec<String>,
    #[serde(default)]
    pub(crate) grading: Grading,
    pub(crate) tests: Vec<GradedTest>,
    pub(crate) hints: Vec<String>,
}

/// How a lab's tests are run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grading {
    /// `STRATA_SEEDS` for the tests.
    pub(crate) seeds: u64,
    /// Per test.
    pub(crate) time_limit_secs: u64,
    /// `PROPTEST_CASES` for the tests.
    pub(crate) proptest_cases: u64,
}

impl Default for Grading {
    fn default() -> Grading {
        Grading {
            seeds: 32,
            time_limit_secs: 120,
            proptest_cases: 64,
        }
    }
}

/// One graded test.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GradedTest {
    pub(crate) package: String,
    pub(crate) target: String,
    pub(crate) name: String,
    pub(crate) points: u32,
    #[serde(default)]
    pub(crate) hidden: bool,
}

impl Lab {
    pub(crate) fn points(&self) -> u32 {
        self.tests.iter().map(|t| t.points).sum()
    }
}

/// The labs of `root/labs/`, in course order.
pub(crate) fn load_labs(root: &Path) -> Result<Vec<Lab>> {
    let dir = root.join("labs");
    let mut labs = Vec::new();
    if !dir.is_dir() {
        return Ok(labs);
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.sort();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let text = fs::read_to_string(&path)?;
        let lab: Lab =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        ensure!(
            lab.id == stem,
            "{}: id {:?} must match the file name",
            path.display(),
            lab.id
        );
        labs.push(lab);
    }
    labs.sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
    Ok(labs)
}

/// The lab called `id`, or an error listing the ids there are.
pub(crate) fn find_lab<'a>(labs: &'a [Lab], id: &str) -> Result<&'a Lab> {
    labs.iter().find(|l| l.id == id).with_context(|| {
        let ids: Vec<&str> = labs.iter().map(|l| l.id.as_str()).collect();
        format!("no lab {id:?}; the labs are: {}", ids.join(", "))
    })
}

/// `id` and every lab it requires, transitively.
pub(crate) fn with_requirements(labs: &[Lab], id: &str) -> Result<BTreeSet<String>> {
    let mut done = BTreeSet::new();
    let mut todo = vec![id.to_string()];
    while let Some(id) = todo.pop() {
        if done.insert(id.clone()) {
            todo.extend(find_lab(labs, &id)?.requires.iter().cloned());
        }
    }
    Ok(done)
}

/// One region of the reference source.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    pub(crate) lab: String,
    /// Relative to the workspace root, with `/`.
    pub(crate) file: String,
    /// 0-based line of `// BEGIN LAB`.
    pub(crate) begin: usize,
    /// 0-based line of `// END LAB`.
    pub(crate) end: usize,
    /// The `// STUB:` lines, if any.
    pub(crate) stub: Vec<String>,
    pub(crate) indent: String,
    /// The enclosing function's arguments, for the default stub.
    pub(crate) args: Vec<String>,
}

const BEGIN: &str = "// BEGIN LAB";
const END: &str = "// END LAB";
const STUB: &str = "// STUB:";

/// Every Rust file under `crates/`, relative to `root`, from git (so
/// nothing under `target/`), falling back to a directory walk outside git.
fn rust_files(root: &Path) -> Result<Vec<String>> {
    let mut files: Vec<String> = tracked_files(root)?
        .into_iter()
        .filter(|f| f.starts_with("crates/") && f.ends_with(".rs"))
        .collect();
    files.sort();
    Ok(files)
}

/// The files of the project: tracked files when `root` is a git checkout,
/// else every file but `target/`, `.tools/`, `.strata/` and `book/build/`.
pub(crate) fn tracked_files(root: &Path) -> Result<Vec<String>> {
    let out = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output();
    if let Ok(out) = out
        && out.status.success()
    {
        let text = String::from_utf8(out.stdout).context("git ls-files: not UTF-8")?;
        return Ok(text
            .split('\0')
            .filter(|f| !f.is_empty() && root.join(f).is_file())
            .map(str::to_string)
            .collect());
    }
    let mut files = Vec::new();
    walk(root, root, &mut files)?;
    Ok(files)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let rel = relative(root, &path);
        if ["target", ".tools", ".strata", "book/build", ".git"].contains(&rel.as_str()) {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, files)?;
        } else {
            files.push(rel);
        }
    }
    Ok(())
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Finds and validates every region under `crates/`.
pub(crate) fn scan_regions(root: &Path) -> Result<Vec<Region>> {
    let mut regions = Vec::new();
    for file in rust_files(root)? {
        let text = fs::read_to_string(root.join(&file))?;
        regions.extend(regions_of(&file, &text)?);
    }
    Ok(regions)
}

/// The regions of one file, checked: balanced, not nested, inside a
/// function body, braces balanced within.
pub(crate) fn regions_of(file: &str, text: &str) -> Result<Vec<Region>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut regions = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let at = || format!("{file}:{}", i + 1);
        if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            let id = rest.trim();
            ensure!(
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{}: `{BEGIN}` needs a lab id (letters, digits, `-`)",
                at()
            );
            if let Some((start, _)) = &open {
                bail!(
                    "{}: a region opened at line {} is still open (regions do not nest)",
                    at(),
                    start + 1
                );
            }
            open = Some((i, id.to_string()));
        } else if trimmed == END {
            let Some((start, lab)) = open.take() else {
                bail!("{}: `{END}` without a `{BEGIN}`", at());
            };
            let indent: String = lines[start]
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            let stub: Vec<String> = lines[start + 1..i]
                .iter()
                // One space after `STUB:` is the separator; more is the
                // stub's own indentation (multi-line stubs keep their shape).
                .map_while(|l| {
                    l.trim()
                        .strip_prefix(STUB)
                        .map(|s| s.strip_prefix(' ').unwrap_or(s).trim_end().to_string())
                })
                .collect();
            if let Some(k) = (start + 1..i).find(|&k| lines[k].contains("ANCHOR")) {
                bail!(
                    "{file}:{}: an ANCHOR marker inside lab {lab}'s region would vanish from the starter and break the book's include; put it outside the region",
                    k + 1
                );
            }
            let body = lines[start + 1..i].join("\n");
            ensure!(
                brace_depth(&body) == 0,
                "{file}:{}: the braces of lab {lab}'s region do not balance; a region holds whole statements",
                start + 1
            );
            let args = enclosing_fn_args(&lines[..start]).with_context(|| {
                format!(
                    "{file}:{}: lab {lab}'s region must sit inside a function body",
                    start + 1
                )
            })?;
            regions.push(Region {
                lab,
                file: file.to_string(),
                begin: start,
                end: i,
                stub,
                indent,
                args,
            });
        } else if trimmed.starts_with("// BEGIN LAB") || trimmed.starts_with("// END LAB") {
            bail!("{}: malformed marker {trimmed:?}", at());
        } else if trimmed.starts_with(STUB) && open.is_none() {
            bail!("{}: `{STUB}` outside a region", at());
        }
    }
    if let Some((start, lab)) = open {
        bail!(
            "{file}:{}: lab {lab}'s region is never closed with `{END}`",
            start + 1
        );
    }
    Ok(regions)
}

/// Net `{` minus `}` in Rust source, skipping comments, strings and chars.
fn brace_depth(code: &str) -> i64 {
    let mut depth = 0;
    for c in code_chars(code) {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
    }
    depth
}

/// The characters of `code` outside comments and string/char literals
/// (literals and comments become a space).
fn code_chars(code: &str) -> Vec<char> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            out.push(' ');
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i)
        {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            'raw: while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break 'raw;
                }
                j += 1;
            }
            i = j;
            out.push(' ');
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(' ');
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push(' ');
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The arguments of the function whose body is open at the end of
/// `before`, or `None` if no function body is open there.
fn enclosing_fn_args(before: &[&str]) -> Option<Vec<String>> {
    let text = before.join("\n");
    let code: String = code_chars(&text).into_iter().collect();
    // Walk back over the open braces: the innermost open brace that
    // follows a `fn` signature is the body we are in.
    let bytes: Vec<char> = code.chars().collect();
    let mut depth = 0i64;
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        match bytes[i] {
            '}' => depth += 1,
            '{' if depth > 0 => depth -= 1,
            '{' => {
                // An open brace: a function body if the text before it, back
                // to the previous `;`, `{` or `}`, is a `fn` signature.
                let start = bytes[..i]
                    .iter()
                    .rposition(|&c| c == ';' || c == '{' || c == '}')
                    .map_or(0, |p| p + 1);
                let head: String = bytes[start..i].iter().collect();
                if let Some(args) = fn_args(&head) {
                    return Some(args);
                }
            }
            _ => {}
        }
    }
    None
}

/// The argument names of a `fn` signature (`self` included), or `None` if
/// `head` is not one.
fn fn_args(head: &str) -> Option<Vec<String>> {
    let at = find_word(head, "fn")?;
    let rest = &head[at + 2..];
    let open = rest.find('(')?;
    let name = rest[..open].trim();
    let name = name.split('<').next().unwrap_or("").trim();
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    // The generics may hold parentheses (`F: Fn(u32)`): skip `<…>` first.
    let after_name = rest.trim_start()[name.len()..].trim_start();
    let params_start = if after_name.starts_with('<') {
        let close = matching(after_name, '<', '>')?;
        let tail = after_name[close + 1..].trim_start();
        tail.strip_prefix('(')?
    } else {
        after_name.strip_prefix('(')?
    };
    let mut depth = 0i64;
    let mut end = None;
    let chars: Vec<char> = params_start.chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => {
                end = Some(k);
                break;
            }
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    let params: String = chars[..end?].iter().collect();
    Some(
        split_top_level(&params)
            .into_iter()
            .filter_map(|p| param_name(&p))
            .collect(),
    )
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(word) {
        let at = from + pos;
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let after = at + word.len();
        let after_ok = after < bytes.len() && bytes[after].is_ascii_whitespace();
        if before_ok && after_ok {
            return Some(at);
        }
        from = after;
    }
    None
}

/// The index of the `close` matching the `open` at the start of `text`
/// (`->` does not count as a closing `>`).
fn matching(text: &str, open: char, close: char) -> Option<usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate() {
        if c == close && i > 0 && chars[i - 1] == '-' {
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(text.char_indices().nth(i)?.0);
            }
        }
    }
    None
}

/// Splits a parameter list on commas outside brackets.
fn split_top_level(params: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i64;
    let mut current = String::new();
    let chars: Vec<char> = params.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '(' | '[' | '{' | '<' => depth += 1,
            '>' if i > 0 && chars[i - 1] == '-' => {}
            ')' | ']' | '}' | '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The name a parameter binds, if it is a plain identifier (or `self`).
fn param_name(param: &str) -> Option<String> {
    let mut param = param.trim();
    while param.starts_with("#[") {
        param = param[param.find(']')? + 1..].trim();
    }
    // `key: K`, `mut value: V`, `&mut self`, `self: &Self`.
    let full = param.split(':').next().unwrap_or("").trim();
    if full.ends_with("self") {
        return Some("self".into());
    }
    let name = full.strip_prefix("mut ").unwrap_or(full).trim();
    (!name.is_empty()
        && !name.starts_with('_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_'))
    .then(|| name.to_string())
}

/// What the starter puts in a region's place.
fn stub_lines(region: &Region) -> Vec<String> {
    let indent = &region.indent;
    let mut out = vec![format!(
        "{indent}// Your code here: lab {} (`cargo xtask hint {}`).",
        region.lab, region.lab
    )];
    if region.stub.is_empty() {
        let mut call = format!("strata_lab::todo!(\"{}\"", region.lab);
        for arg in &region.args {
            call.push_str(", ");
            call.push_str(arg);
        }
        call.push(')');
        out.push(format!("{indent}{call}"));
    } else {
        out.extend(region.stub.iter().map(|s| format!("{indent}{s}")));
    }
    out
}

/// `text` with every region not in `solved` replaced by its stub, and the
/// markers of solved regions removed.
pub(crate) fn strip(file: &str, text: &str, solved: &BTreeSet<String>) -> Result<String> {
    let regions = regions_of(file, text)?;
    if regions.is_empty() {
        return Ok(text.to_string());
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut next = 0;
    for region in &regions {
        out.extend(lines[next..region.begin].iter().map(|l| l.to_string()));
        if solved.contains(&region.lab) {
            let code = &lines[region.begin + 1 + region.stub.len()..region.end];
            out.extend(code.iter().map(|l| l.to_string()));
        } else {
            out.extend(stub_lines(region));
        }
        next = region.end + 1;
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Ok(joined)
}

/// What a crate root of the starter allows: the stubs leave the helpers the
/// lab's code would call unused until the student writes it.
const STARTER_ALLOW: &str = "#![allow(dead_code, unused_imports, unused_variables, unused_mut, unreachable_code)] // starter: lab stubs leave helpers unused";

/// Checks the manifests against the regions: every problem at once.
pub(crate) fn check(root: &Path) -> Result<(Vec<Lab>, Vec<Region>)> {
    let labs = load_labs(root)?;
    let regions = scan_regions(root)?;
    let mut problems = Vec::new();
    let ids: BTreeSet<&str> = labs.iter().map(|l| l.id.as_str()).collect();
    let mut by_lab: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &regions {
        if !ids.contains(r.lab.as_str()) {
            problems.push(format!(
                "{}:{}: region of unknown lab {:?} (no labs/{}.toml)",
                r.file,
                r.begin + 1,
                r.lab,
                r.lab
            ));
        }
        if r.file.contains("/tests/") || r.file.contains("/benches/") {
            problems.push(format!(
                "{}:{}: regions belong in src/, not in tests or benches",
                r.file,
                r.begin + 1
            ));
        }
        by_lab
            .entry(r.lab.as_str())
            .or_default()
            .insert(r.file.as_str());
    }
    let student_files: BTreeSet<&str> = labs
        .iter()
        .flat_map(|l| l.student_files.iter().map(String::as_str))
        .collect();
    for lab in &labs {
        let id = lab.id.as_str();
        let found = by_lab.get(id).cloned().unwrap_or_default();
        let listed: BTreeSet<&str> = lab.regions.iter().map(String::as_str).collect();
        if found != listed {
            problems.push(format!(
                "lab {id}: `regions` lists {listed:?} but the markers are in {found:?}"
            ));
        }
        for file in &listed {
            if !lab.student_files.iter().any(|f| f == file) {
                problems.push(format!(
                    "lab {id}: region file {file} is not a student file"
                ));
            }
        }
        for file in &lab.student_files {
            if !root.join(file).is_file() {
                problems.push(format!("lab {id}: student file {file} does not exist"));
            }
        }
        for req in &lab.requires {
            match labs.iter().find(|l| &l.id == req) {
                None => problems.push(format!("lab {id}: requires unknown lab {req}")),
                Some(r) if r.order >= lab.order => problems.push(format!(
                    "lab {id}: requires {req}, which comes later in the course"
                )),
                Some(_) => {}
            }
        }
        if !root.join("book/src").join(&lab.handout).is_file() {
            problems.push(format!(
                "lab {id}: handout book/src/{} does not exist",
                lab.handout
            ));
        }
        if lab.hints.is_empty() {
            problems.push(format!("lab {id}: no hints"));
        }
        if lab.tests.iter().all(|t| t.hidden) || !lab.tests.iter().any(|t| t.hidden) {
            problems.push(format!("lab {id}: needs visible and hidden tests"));
        }
        for t in &lab.tests {
            let file = test_file(&t.package, &t.target);
            if !root.join(&file).is_file() {
                problems.push(format!("lab {id}: test target {file} does not exist"));
                continue;
            }
            if student_files.contains(file.as_str()) {
                problems.push(format!("lab {id}: test file {file} is a student file"));
            }
            let is_hidden_file = t.target.starts_with("hidden_");
            if t.hidden != is_hidden_file {
                problems.push(format!(
                    "lab {id}: test {} is {} but lives in {file}; hidden tests live in tests/hidden_*.rs, visible ones elsewhere",
                    t.name,
                    if t.hidden { "hidden" } else { "visible" }
                ));
            }
            if t.points == 0 {
                problems.push(format!("lab {id}: test {} is worth 0 points", t.name));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "the labs disagree with the source:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok((labs, regions))
}

/// `crates/<package>/tests/<target>.rs`.
pub(crate) fn test_file(package: &str, target: &str) -> String {
    format!("crates/{package}/tests/{target}.rs")
}

/// Which files a starter leaves out.
fn left_out(file: &str, hidden_files: &BTreeSet<String>, include_hidden: bool) -> bool {
    // fuzz/ stays: crates/kv/tests/fuzz_bodies.rs includes its bodies.
    let top = ["visualizations/", ".ci/", "book/src/instructor/"];
    if top.iter().any(|t| file.starts_with(t)) {
        return true;
    }
    // The answers to the chapters' exercises.
    if file.starts_with("crates/") && file.ends_with("/tests/exercises.rs") {
        return true;
    }
    !include_hidden && hidden_files.contains(file)
}

/// Options of `cargo xtask starter`.
#[derive(Debug, Default)]
pub(crate) struct StarterOptions {
    pub(crate) solved: Vec<String>,
    /// Keep the hidden tests (an autograder image, never for students).
    pub(crate) with_hidden: bool,
    /// Rewrite an existing starter in place, touching only files whose
    /// text changes, so cargo rebuilds only what differs (the drift check).
    pub(crate) in_place: bool,
}

/// Writes the starter workspace into `out` (which must not exist or be empty).
pub(crate) fn write_starter(root: &Path, out: &Path, options: &StarterOptions) -> Result<()> {
    let (labs, regions) = check(root)?;
    let mut solved = BTreeSet::new();
    for id in &options.solved {
        solved.extend(with_requirements(&labs, id)?);
    }
    if !options.in_place && out.exists() && fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} exists and is not empty; give a new directory",
            out.display()
        );
    }
    let hidden_files: BTreeSet<String> = labs
        .iter()
        .flat_map(|l| l.tests.iter().filter(|t| t.hidden))
        .map(|t| test_file(&t.package, &t.target))
        .collect();
    let region_files: BTreeSet<&str> = regions.iter().map(|r| r.file.as_str()).collect();
    let stubbed_crates: BTreeSet<String> = regions
        .iter()
        .filter(|r| !solved.contains(&r.lab))
        .filter_map(|r| r.file.split('/').nth(1).map(str::to_string))
        .collect();
    let mut written = BTreeSet::new();
    for file in tracked_files(root)? {
        if left_out(&file, &hidden_files, options.with_hidden) {
            continue;
        }
        written.insert(file.clone());
        let from = root.join(&file);
        let to = out.join(&file);
        fs::create_dir_all(to.parent().context("a file has a parent")?)?;
        let mut bytes = if region_files.contains(file.as_str()) {
            let text = fs::read_to_string(&from)?;
            strip(&file, &text, &solved)?.into_bytes()
        } else if file == "Cargo.toml" {
            let text = fs::read_to_string(&from)?;
            text.replace(", \"visualizations\"", "").into_bytes()
        } else if file == "README.md" {
            starter_readme(&labs).into_bytes()
        } else {
            fs::read(&from).with_context(|| format!("reading {file}"))?
        };
        let is_root_of_stubbed = stubbed_crates
            .iter()
            .any(|c| file == format!("crates/{c}/src/lib.rs"));
        if is_root_of_stubbed {
            bytes = allow_in_crate_root(&String::from_utf8(bytes)?).into_bytes();
        }
        if fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
            fs::write(&to, &bytes).with_context(|| format!("writing {}", to.display()))?;
        }
    }
    if options.in_place {
        // Files of an earlier starter that this one no longer has.
        let mut before = Vec::new();
        walk(out, out, &mut before)?;
        for file in before {
            if !written.contains(&file) && file != "labs/STARTER" && file != "Cargo.lock" {
                fs::remove_file(out.join(&file))?;
            }
        }
    }
    let solved_list: Vec<&str> = solved.iter().map(String::as_str).collect();
    fs::write(
        out.join("labs/STARTER"),
        format!(
            "This is a Strata starter workspace, written by `cargo xtask starter`.\nsolved: {}\nhidden tests: {}\n",
            solved_list.join(","),
            if options.with_hidden {
                "included"
            } else {
                "left out"
            }
        ),
    )?;
    Ok(())
}

fn allow_in_crate_root(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + STARTER_ALLOW.len() + 1);
    let mut done = false;
    for line in text.lines() {
        if !done && line.starts_with("#![") {
            out.push_str(STARTER_ALLOW);
            out.push('\n');
            done = true;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn starter_readme(labs: &[Lab]) -> String {
    let mut table =
        String::from("| Lab | Title | Part | Hours | Points |\n|---|---|---|---|---|\n");
    for lab in labs {
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            lab.id,
            lab.title,
            lab.part,
            lab.hours,
            lab.points()
        ));
    }
    format!(
        "# Strata — the course (starter workspace)

This workspace is the Strata reference code with the labs cut out: where a lab's code was, a stub
now says `// Your code here`. Write it, and the lab's tests pass.

Two commands:

```sh
cargo xtask labs                     # the labs, in course order
cargo xtask grade --lab avl-insert   # grade one lab: a score table, and how to replay a failure
```

Then `cargo xtask hint <lab>` gives the next hint and `cargo xtask status` shows where you are.
Each lab has a handout in the book (`book/src/labs/<lab>.md`), and the chapter it builds on.

Until you write a lab, everything that goes through its code panics with
`lab <id>: not written yet`: many of the crates' own tests fail in a fresh starter, and that is
expected. A submission may change only the lab's `student_files` (`cargo xtask labs --json`).

{table}"
    )
}

/// `cargo xtask labs [--json]`.
pub(crate) fn list(root: &Path, json: bool) -> Result<()> {
    let labs = load_labs(root)?;
    for lab in &labs {
        if json {
            let value = serde_json::json!({
                "id": lab.id,
                "title": lab.title,
                "part": lab.part,
                "chapter": lab.chapter,
                "handout": lab.handout,
                "difficulty": lab.difficulty,
                "hours": lab.hours,
                "requires": lab.requires,
                "points": lab.points(),
                "student_files": lab.student_files,
            });
            println!("{value}");
        } else {
            println!("{}", lab.id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"impl<K: Ord, V> Map<K, V> {
    /// Docs.
    pub fn insert<F: Fn(u32) -> bool>(&mut self, key: K, mut value: V, _unused: F) -> Option<V> {
        let s = "{ not a brace";
        // BEGIN LAB demo
        if key > key { return None; }
        Some(value)
        // END LAB
    }

    fn height(&self) -> usize {
        // BEGIN LAB demo
        // STUB: 0
        match self.root { Some(_) => 1, None => 0 }
        // END LAB
    }
}
"#;

    #[test]
    fn regions_are_found_with_their_arguments_and_stubs() {
        let regions = regions_of("x.rs", SOURCE).unwrap();
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[0].args, ["self", "key", "value"]);
        assert!(regions[0].stub.is_empty());
        assert_eq!(regions[1].args, ["self"]);
        assert_eq!(regions[1].stub, ["0"]);
    }

    #[test]
    fn the_starter_keeps_nothing_of_a_region() {
        let stripped = strip("x.rs", SOURCE, &BTreeSet::new()).unwrap();
        assert!(!stripped.contains("BEGIN LAB") && !stripped.contains("key > key"));
        assert!(!stripped.contains("match self.root"));
        assert!(stripped.contains("strata_lab::todo!(\"demo\", self, key, value)"));
        assert!(stripped.contains("        0\n"));
        let solved = strip("x.rs", SOURCE, &BTreeSet::from(["demo".to_string()])).unwrap();
        assert!(
            solved.contains("key > key") && !solved.contains("LAB") && !solved.contains("STUB")
        );
    }

    #[test]
    fn broken_markers_are_refused() {
        for (text, what) in [
            (
                "fn f() {\n// BEGIN LAB a\n// BEGIN LAB b\n// END LAB\n}\n",
                "nest",
            ),
            ("fn f() {\n// END LAB\n}\n", "without"),
            ("fn f() {\n// BEGIN LAB a\n}\n", "never closed"),
            ("fn f() {\n// BEGIN LAB a\n{\n// END LAB\n}\n}\n", "braces"),
            ("struct S;\n// BEGIN LAB a\n// END LAB\n", "function body"),
            ("fn f() {\n// BEGIN LAB\n// END LAB\n}\n", "needs a lab id"),
            (
                "fn f() {\n// BEGIN LAB a\n// ANCHOR: x\n// END LAB\n}\n",
                "ANCHOR",
            ),
        ] {
            let error = format!("{:#}", regions_of("x.rs", text).unwrap_err());
            assert!(error.contains(what), "{what}: {error}");
        }
    }
}
