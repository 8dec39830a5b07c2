//! `cargo xtask demo similar-users`: the seed's system, end to end. The
//! person synsets of WordNet (Debian's `wordnet-base`, lexicographer file
//! 18, `noun.person`) become "user profiles": the gloss is the bio, the
//! synset's words and its hypernym are attributes. They are embedded by
//! `cargo xtask embed-server` (all-MiniLM-L6-v2) and imported with
//! `vecstore import` into a three-member cluster; midway the leader is
//! killed with SIGKILL and restarted. Then: nothing acknowledged is lost,
//! and "users like a stunt pilot", without and with a filter.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cargo, run};

const DATA_NOUN: &str = "/usr/share/wordnet/data.noun";
/// The lexicographer file of people (`noun.person`).
const PERSON_FILE: &str = "18";

/// One person synset.
struct Person {
    offset: String,
    words: Vec<String>,
    hypernym: Option<String>,
    gloss: String,
}

/// Parses `data.noun` lines: `offset lex_filenum ss_type w_cnt (word
/// lex_id)… p_cnt (ptr offset pos source/target)… | gloss`.
fn parse_data_noun(text: &str) -> Result<Vec<(String, String, Person)>> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with(' ')) {
        let (fields, gloss) = line
            .split_once(" | ")
            .with_context(|| format!("no gloss in {line:.40}"))?;
        let f: Vec<&str> = fields.split_whitespace().collect();
        let bad = || format!("malformed data.noun line {line:.60}");
        let words = usize::from_str_radix(f.get(3).with_context(bad)?, 16).with_context(bad)?;
        let word_list: Vec<String> = (0..words)
            .map(|i| f.get(4 + 2 * i).map(|w| w.replace('_', " ")))
            .collect::<Option<_>>()
            .with_context(bad)?;
        let p_at = 4 + 2 * words;
        let pointers: usize = f.get(p_at).with_context(bad)?.parse().with_context(bad)?;
        let hypernym = (0..pointers)
            .map(|i| (f.get(p_at + 1 + 4 * i), f.get(p_at + 2 + 4 * i)))
            .find(|(symbol, _)| symbol.is_some_and(|s| *s == "@" || *s == "@i"))
            .and_then(|(_, offset)| offset.map(|o| o.to_string()));
        out.push((
            f[0].to_string(),
            f[1].to_string(),
            Person {
                offset: f[0].to_string(),
                words: word_list,
                hypernym,
                gloss: gloss.trim().to_string(),
            },
        ));
    }
    Ok(out)
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Writes the people as `vecstore import` lines; returns how many and the
/// element name of the synset holding `word`.
fn write_people(path: &Path, word: &str) -> Result<(usize, String)> {
    let text =
        std::fs::read_to_string(DATA_NOUN).with_context(|| format!("reading {DATA_NOUN}"))?;
    let all = parse_data_noun(&text)?;
    let first_word: HashMap<String, String> = all
        .iter()
        .map(|(offset, _, p)| (offset.clone(), p.words[0].clone()))
        .collect();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = String::new();
    let mut target = None;
    let mut count = 0;
    for (_, file, person) in &all {
        if file != PERSON_FILE {
            continue;
        }
        let seen = names.entry(person.words[0].clone()).or_insert(0);
        *seen += 1;
        let name = if *seen == 1 {
            person.words[0].clone()
        } else {
            format!("{} ({})", person.words[0], seen)
        };
        if person.words.iter().any(|w| w == word) && target.is_none() {
            target = Some(name.clone());
        }
        let kind = person
            .hypernym
            .as_ref()
            .and_then(|h| first_word.get(h))
            .map_or("person".to_string(), Clone::clone);
        let words: Vec<String> = person.words.iter().map(|w| json_string(w)).collect();
        writeln!(
            out,
            "{{\"name\":{},\"text\":{},\"attributes\":{{\"kind\":{},\"words\":[{}],\"synset\":{}}}}}",
            json_string(&name),
            json_string(&person.gloss),
            json_string(&kind),
            words.join(","),
            json_string(&person.offset),
        )?;
        count += 1;
    }
    std::fs::write(path, out)?;
    let target = target.with_context(|| format!("no person synset has the word {word:?}"))?;
    Ok((count, target))
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_cli(port: u16, args: &[&str]) -> Result<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .context("running redis-cli (Debian's redis-tools)")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_for(port: u16, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} does not listen on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

struct Member {
    dir: PathBuf,
    port: u16,
    proc: Option<Proc>,
}

fn start_member(bin: &Path, m: &mut Member, id: usize, spec: &str) -> Result<()> {
    let child = Command::new(bin)
        .args(["serve", "--dir"])
        .arg(&m.dir)
        .args(["--addr", &format!("127.0.0.1:{}", m.port)])
        .args(["--id", &id.to_string(), "--cluster", spec])
        .stderr(Stdio::null())
        .spawn()
        .context("starting vecstore serve")?;
    m.proc = Some(Proc(child));
    wait_for(m.port, "vecstore serve")
}

fn leader(members: &[Member]) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for (i, m) in members.iter().enumerate() {
            if m.proc.is_some() && redis_cli(m.port, &["ROLE"])?.starts_with("leader") {
                return Ok(i);
            }
        }
        if Instant::now() > deadline {
            bail!("no leader within 20 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cargo xtask demo similar-users`.
pub(crate) fn similar_users(root: &Path) -> Result<()> {
    if !Path::new(DATA_NOUN).exists() {
        run("apt-get", &["install", "-y", "-q", "wordnet-base"])
            .context("installing Debian's wordnet-base (run as root, or install it yourself)")?;
    }
    let work = root.join("target/demo-similar-users");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    let people = work.join("people.jsonl");
    let (count, pilot) = write_people(&people, "stunt pilot")?;
    println!(
        "{count} person synsets of WordNet written to {}",
        people.display()
    );

    cargo(&["build", "-p", "vecstore", "--bin", "vecstore"])?;
    let bin = root.join("target/debug/vecstore");
    let embed_port = free_port()?;
    let embed = Command::new("cargo")
        .args(["xtask", "embed-server", "--port", &embed_port.to_string()])
        .current_dir(root)
        .spawn()
        .context("starting cargo xtask embed-server")?;
    let _embed = Proc(embed);
    wait_for(embed_port, "the embedding server")?;

    let raft_ports = [free_port()?, free_port()?, free_port()?];
    let spec = raft_ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    let mut members: Vec<Member> = (1..=3)
        .map(|i| {
            Ok(Member {
                dir: work.join(format!("n{i}")),
                port: free_port()?,
                proc: None,
            })
        })
        .collect::<Result<_>>()?;
    for (i, m) in members.iter_mut().enumerate() {
        start_member(&bin, m, i + 1, &spec)?;
    }
    let first = leader(&members)?;
    // The importer talks to a follower, whose requests go to the leader.
    let via = (first + 1) % 3;
    println!(
        "cluster up: member {} leads; importing through member {}",
        first + 1,
        via + 1
    );
    let started = Instant::now();
    let mut import = Command::new(&bin)
        .args([
            "import",
            "--endpoint",
            &format!("http://127.0.0.1:{embed_port}"),
        ])
        .args(["--model", "all-minilm", "--key", "users"])
        .args(["--addr", &format!("127.0.0.1:{}", members[via].port)])
        .arg(&people)
        .spawn()
        .context("starting vecstore import")?;
    // Kill the leader once a third of the people are in.
    loop {
        let card: usize = redis_cli(members[via].port, &["VCARD", "users"])?
            .trim()
            .parse()
            .unwrap_or(0);
        if card >= count / 3 {
            let l = leader(&members)?;
            println!("{card} imported: SIGKILL to the leader, member {}", l + 1);
            members[l].proc = None;
            std::thread::sleep(Duration::from_secs(2));
            let id = l + 1;
            start_member(&bin, &mut members[l], id, &spec)?;
            println!(
                "member {id} restarted; member {} leads now",
                leader(&members)? + 1
            );
            break;
        }
        if import.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = import.wait()?;
    if !status.success() {
        bail!("vecstore import failed ({status})");
    }
    println!(
        "import finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (i, m) in members.iter().enumerate() {
        let card = redis_cli(m.port, &["VCARD", "users"])?;
        println!("member {}: VCARD users = {}", i + 1, card.trim());
        if card.trim() != count.to_string() {
            bail!(
                "member {} holds {} elements, {count} were imported",
                i + 1,
                card.trim()
            );
        }
    }
    println!("\nusers like a stunt pilot ({pilot}):");
    print!(
        "{}",
        redis_cli(
            members[via].port,
            &["VSIM", "users", "ELE", &pilot, "WITHSCORES", "COUNT", "8"]
        )?
    );
    println!("\n... who are not themselves pilots (FILTER '.kind != \"pilot\"'):");
    print!(
        "{}",
        redis_cli(
            members[via].port,
            &[
                "VSIM",
                "users",
                "ELE",
                &pilot,
                "WITHSCORES",
                "COUNT",
                "8",
                "FILTER",
                ".kind != \"pilot\""
            ]
        )?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_noun_lines_parse() {
        let line = "09839860 18 n 03 barnstormer 0 stunt_flier 0 stunt_pilot 0 002 @ 10433164 n 0000 + 01094916 v 0101 | a pilot who travels around the country giving exhibits of stunt flying and parachuting  ";
        let people = parse_data_noun(line).unwrap();
        let (offset, file, p) = &people[0];
        assert_eq!((offset.as_str(), file.as_str()), ("09839860", "18"));
        assert_eq!(p.words, ["barnstormer", "stunt flier", "stunt pilot"]);
        assert_eq!(p.hypernym.as_deref(), Some("10433164"));
        assert!(p.gloss.starts_with("a pilot who travels"));
    }
}
