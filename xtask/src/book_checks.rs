//! Checks on the book that mdBook and mdbook-linkcheck2 do not make:
//!
//! * [`check_includes`], on the sources: every `{{#include path:anchor}}` and
//!   `{{#rustdoc_include …}}` names a file that exists and, if it names an
//!   anchor, one that the file opens with `ANCHOR: name` and closes with
//!   `ANCHOR_END: name`. mdBook itself only warns about a missing file and
//!   silently includes nothing for a missing anchor.
//! * [`check_fragments`], on the rendered HTML: every link to a `#fragment`
//!   (in the same chapter or another) names an `id` that the target page
//!   has. mdbook-linkcheck2 0.13.0 checks that linked files exist but logs
//!   "fragment resolution isn't implemented" and passes broken fragments.
//!
//! Both return every problem at once, each as `book/src/<file>.md:<line>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The `.md` files under `dir`, recursively, sorted.
fn markdown_files(dir: &Path) -> Result<Vec<PathBuf>> {
    files_with_extension(dir, "md")
}

fn files_with_extension(dir: &Path, extension: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `path` relative to `root`, for messages (`book/src/hnsw/insertion.md`).
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One `{{#include …}}` or `{{#rustdoc_include …}}` of a chapter.
#[derive(Debug, PartialEq, Eq)]
struct Include<'a> {
    /// The file, relative to the chapter's directory.
    path: &'a str,
    /// The anchor, if the include names one rather than lines or nothing.
    anchor: Option<&'a str>,
}

/// The includes on one line of Markdown, in order. An escaped include
/// (`\{{#include …}}`) is text, as for mdBook.
fn includes_in_line(line: &str) -> Vec<Include<'_>> {
    let mut found = Vec::new();
    let mut rest = line;
    // mdBook's syntax is `{{#command argument}}`, with optional spaces
    // after `{{`; only `\{{#` (no spaces) is escaped.
    while let Some(start) = rest.find("{{") {
        let escaped = rest[..start].ends_with('\\');
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let Some(body) = after[..end].trim_start().strip_prefix('#') else {
            rest = after;
            continue;
        };
        let body = body.trim();
        rest = &after[end + 2..];
        let Some((command, argument)) = body.split_once(char::is_whitespace) else {
            continue;
        };
        if escaped || !matches!(command, "include" | "rustdoc_include") {
            continue;
        }
        let argument = argument.trim();
        let (path, selector) = argument.split_once(':').unwrap_or((argument, ""));
        // `file:12`, `file:3:9`, `file::9` and `file:3:` select lines.
        let lines = selector.chars().all(|c| c.is_ascii_digit() || c == ':');
        found.push(Include {
            path,
            anchor: (!lines).then_some(selector),
        });
    }
    found
}

/// Why `source` does not provide anchor `name` as mdBook reads anchors
/// (`ANCHOR: name` and `ANCHOR_END: name` anywhere on a line), or `None` if
/// it does: at least one pair, every pair opened before it is closed, none
/// nested in another of the same name.
fn anchor_problem(source: &str, name: &str) -> Option<String> {
    let mut open_line = None;
    let mut pairs = 0;
    for (index, line) in source.lines().enumerate() {
        let number = index + 1;
        if anchor_on(line, "ANCHOR:") == Some(name) {
            if let Some(open) = open_line {
                return Some(format!(
                    "anchor `{name}` opens again on line {number} before the one of line {open} closes"
                ));
            }
            open_line = Some(number);
        } else if anchor_on(line, "ANCHOR_END:") == Some(name) {
            if open_line.take().is_none() {
                return Some(format!(
                    "`ANCHOR_END: {name}` on line {number} closes no `ANCHOR: {name}`"
                ));
            }
            pairs += 1;
        }
    }
    match (open_line, pairs) {
        (Some(open), _) => Some(format!(
            "`ANCHOR: {name}` on line {open} has no `ANCHOR_END: {name}` after it"
        )),
        (None, 0) => Some(format!("no `ANCHOR: {name}` … `ANCHOR_END: {name}` pair")),
        (None, _) => None,
    }
}

/// The anchor name after `marker` on `line` (mdBook's `[\w-]+`), if any.
fn anchor_on<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let after = line[line.find(marker)? + marker.len()..].trim_start();
    let end = after
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(after.len());
    (end > 0).then_some(&after[..end])
}

/// Checks every include of every chapter under `book_src`; fails listing
/// each bad one as `file:line: include: what is wrong`.
pub(crate) fn check_includes(root: &Path, book_src: &Path) -> Result<()> {
    let mut problems = Vec::new();
    for chapter in markdown_files(book_src)? {
        let text = std::fs::read_to_string(&chapter)
            .with_context(|| format!("reading {}", chapter.display()))?;
        let dir = chapter.parent().context("a chapter has a directory")?;
        for (index, line) in text.lines().enumerate() {
            for include in includes_in_line(line) {
                let at = format!("{}:{}", shown(root, &chapter), index + 1);
                let what = match include.anchor {
                    Some(anchor) => format!("{}:{anchor}", include.path),
                    None => include.path.to_owned(),
                };
                let target = dir.join(include.path);
                let Ok(source) = std::fs::read_to_string(&target) else {
                    problems.push(format!("{at}: {what}: no such file"));
                    continue;
                };
                if let Some(anchor) = include.anchor
                    && let Some(problem) = anchor_problem(&source, anchor)
                {
                    problems.push(format!("{at}: {what}: {problem}"));
                }
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} bad include(s) in the book:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// The values of attribute `name` (`name="…"`) in `html`, in order.
fn attribute_values<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let pattern = format!(" {name}=\"");
    let mut values = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&pattern) {
        let after = &rest[start + pattern.len()..];
        let Some(end) = after.find('"') else {
            break;
        };
        values.push(&after[..end]);
        rest = &after[end..];
    }
    values
}

/// `%xx` escapes decoded (as UTF-8), and the few entities an `href` may hold.
fn decode_href(href: &str) -> String {
    let href = href.replace("&amp;", "&").replace("&quot;", "\"");
    let bytes = href.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The chapter's text: what mdBook renders inside `<main>`.
fn main_content(page: &str) -> &str {
    let start = page.find("<main>").map_or(0, |i| i + "<main>".len());
    let end = page[start..]
        .find("</main>")
        .map_or(page.len(), |i| start + i);
    &page[start..end]
}

/// Checks that every link in a chapter to `#fragment` (of the same page or
/// another page of the book) names an `id` on that page. `html` is mdBook's
/// HTML output, `book_src` the sources the messages point into.
pub(crate) fn check_fragments(root: &Path, html: &Path, book_src: &Path) -> Result<()> {
    let mut ids: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for chapter in markdown_files(book_src)? {
        let relative = chapter.strip_prefix(book_src)?.with_extension("html");
        let page_path = html.join(&relative);
        let Ok(page) = std::fs::read_to_string(&page_path) else {
            continue; // not in SUMMARY.md, so not rendered
        };
        let page_dir = page_path.parent().context("a page has a directory")?;
        for href in attribute_values(main_content(&page), "href") {
            let href = decode_href(href);
            if href.contains("://") || href.starts_with("mailto:") {
                continue;
            }
            let Some((file, fragment)) = href.split_once('#') else {
                continue; // a file without a fragment: mdbook-linkcheck2's job
            };
            if fragment.is_empty() {
                continue;
            }
            let target = if file.is_empty() {
                page_path.clone()
            } else {
                page_dir.join(file)
            };
            if target.extension().is_none_or(|e| e != "html") {
                continue;
            }
            let target_ids = match ids.get(&target) {
                Some(found) => found,
                None => {
                    let Ok(text) = std::fs::read_to_string(&target) else {
                        continue; // a missing file: mdbook-linkcheck2 reports it
                    };
                    let found = attribute_values(&text, "id")
                        .into_iter()
                        .chain(attribute_values(&text, "name"))
                        .map(decode_href)
                        .collect();
                    ids.entry(target.clone()).or_insert(found)
                }
            };
            if !target_ids.contains(fragment) {
                let source = std::fs::read_to_string(&chapter).unwrap_or_default();
                let line = source
                    .lines()
                    .position(|l| l.contains(&format!("#{fragment})")))
                    .or_else(|| {
                        source
                            .lines()
                            .position(|l| l.contains(&format!("#{fragment}")))
                    })
                    .map_or(0, |i| i + 1);
                problems.push(format!(
                    "{}:{line}: link to `{href}`: {} has no anchor `#{fragment}`",
                    shown(root, &chapter),
                    shown(root, &target),
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} link(s) to a missing #anchor in the book:\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn include<'a>(path: &'a str, anchor: Option<&'a str>) -> Include<'a> {
        Include { path, anchor }
    }

    #[test]
    fn includes_are_parsed_as_mdbook_reads_them() {
        let check = |line: &str, expected: Vec<Include<'_>>| {
            assert_eq!(includes_in_line(line), expected, "{line}");
        };
        check(
            "{{#include ../a.rs:run}}",
            vec![include("../a.rs", Some("run"))],
        );
        check("{{#include ../a.rs}}", vec![include("../a.rs", None)]);
        check("{{#include a.rs:12}}", vec![include("a.rs", None)]);
        check("{{#include a.rs:3:9}}", vec![include("a.rs", None)]);
        check("{{#include a.rs::9}}", vec![include("a.rs", None)]);
        check(
            "{{ #rustdoc_include a.rs:hidden-part }}",
            vec![include("a.rs", Some("hidden-part"))],
        );
        check(
            "x {{#include a.rs:p}} y {{#include b.rs:q}}",
            vec![include("a.rs", Some("p")), include("b.rs", Some("q"))],
        );
        check("{{ #include a.rs:p }}", vec![include("a.rs", Some("p"))]);
        check(
            "{{ not a command }} {{#include a.rs}}",
            vec![include("a.rs", None)],
        );
        check(r"\{{#include a.rs:p}}", vec![]);
        check("{{#title Strata}}", vec![]);
        check("{{#playground a.rs}}", vec![]);
    }

    #[test]
    fn anchors_must_open_and_close_in_pairs() {
        let source = "// ANCHOR: a\nx\n// ANCHOR_END: a\n    // ANCHOR: b-c\n// ANCHOR_END: b-c\n";
        assert_eq!(anchor_problem(source, "a"), None);
        assert_eq!(anchor_problem(source, "b-c"), None);
        // `a` is not `ab`, and `ab` is not `a`.
        assert!(anchor_problem("// ANCHOR: ab\n// ANCHOR_END: ab\n", "a").is_some());
        let missing = anchor_problem(source, "d").expect("no such anchor");
        assert!(missing.contains("no `ANCHOR: d`"), "{missing}");
        let unclosed = anchor_problem("// ANCHOR: a\n", "a").expect("unclosed");
        assert!(unclosed.contains("line 1"), "{unclosed}");
        let stray = anchor_problem("// ANCHOR_END: a\n", "a").expect("stray end");
        assert!(stray.contains("closes no"), "{stray}");
        let nested = anchor_problem("// ANCHOR: a\n// ANCHOR: a\n// ANCHOR_END: a\n", "a")
            .expect("opened twice");
        assert!(nested.contains("opens again on line 2"), "{nested}");
    }

    #[test]
    fn hrefs_are_decoded() {
        assert_eq!(decode_href("a.html#caf%C3%A9"), "a.html#café");
        assert_eq!(decode_href("a.html?x=1&amp;y=2"), "a.html?x=1&y=2");
        assert_eq!(decode_href("100%"), "100%");
    }

    #[test]
    fn links_to_missing_anchors_are_found() {
        let dir = std::env::temp_dir().join(format!("xtask-fragments-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (src, html) = (dir.join("src"), dir.join("html"));
        std::fs::create_dir_all(src.join("part")).expect("temp dir");
        std::fs::create_dir_all(html.join("part")).expect("temp dir");
        let write = |path: PathBuf, text: &str| std::fs::write(path, text).expect("write");
        write(
            src.join("a.md"),
            "# A\n\nSee [b](part/b.md#there) and [here](#nowhere).\n",
        );
        write(src.join("part/b.md"), "# B\n\n[a](../a.md#a) [b](#gone)\n");
        write(
            html.join("a.html"),
            r##"<nav><a href="#not-checked"></a></nav><main><h1 id="a">A</h1>
            <a href="part/b.html#there">b</a> <a href="#nowhere">here</a>
            <a href="https://example.com/#x">web</a></main>"##,
        );
        write(
            html.join("part/b.html"),
            r##"<main><h1 id="there">B</h1><a href="../a.html#a">a</a>
            <a href="#gone">b</a></main>"##,
        );
        let error = check_fragments(&dir, &html, &src).expect_err("two broken anchors");
        let message = format!("{error:#}");
        assert!(message.starts_with("2 link(s)"), "{message}");
        assert!(
            message.contains("src/a.md:3: link to `#nowhere`"),
            "{message}"
        );
        assert!(
            message.contains("src/part/b.md:3: link to `#gone`"),
            "{message}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The check CI runs, on the real book: every include resolves.
    #[test]
    fn every_include_in_the_book_resolves() {
        let root = crate::workspace_root().expect("workspace root");
        check_includes(&root, &root.join("book/src")).unwrap_or_else(|e| panic!("{e:#}"));
    }
}
