//! Generated AVL homework, OSTEP style: a fresh problem per seed, and its
//! solution with `--answer`.
//!
//! ```text
//! cargo run -p avl --example homework -- --seed 7
//! cargo run -p avl --example homework -- --seed 7 --answer
//! ```
//!
//! The problem: insert a seeded permutation of `1..=N` into an empty AVL
//! map, then remove two of its keys; draw the trees, count the rotations,
//! and answer a rank and a select query. The answers come from `AvlMap`
//! itself (`shape().to_ascii()`, `rotation_stats()`, `rank`, `select`),
//! and the tree is checked with `check_invariants` before it is printed.

use std::process::ExitCode;

use avl::AvlMap;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

const USAGE: &str = "usage: homework [--seed S] [--keys N] [--answer]
  --seed S   the problem (default 0); the same seed gives the same problem
  --keys N   how many keys, 3 to 31 (default 9)
  --answer   print the solution too";

struct Options {
    seed: u64,
    keys: u32,
    answer: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        seed: 0,
        keys: 9,
        answer: false,
    };
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| {
            args.get(i + 1)
                .ok_or_else(|| format!("{} needs a value", args[i]))
        };
        match args[i].as_str() {
            "--seed" => {
                options.seed = value(i)?
                    .parse()
                    .map_err(|_| "--seed takes an unsigned integer".to_string())?;
                i += 1;
            }
            "--keys" => {
                options.keys = value(i)?
                    .parse()
                    .map_err(|_| "--keys takes an integer from 3 to 31".to_string())?;
                if !(3..=31).contains(&options.keys) {
                    return Err("--keys takes an integer from 3 to 31".into());
                }
                i += 1;
            }
            "--answer" => options.answer = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
        i += 1;
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    print!("{}", homework(&options));
    ExitCode::SUCCESS
}

fn homework(options: &Options) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut keys: Vec<u32> = (1..=options.keys).collect();
    keys.shuffle(&mut rng);
    let mut removed = keys.clone();
    removed.shuffle(&mut rng);
    removed.truncate(2);
    let rank_of = keys[rng.random_range(0..keys.len())];
    let select_at = rng.random_range(0..keys.len() - removed.len());

    let join = |ks: &[u32]| ks.iter().map(u32::to_string).collect::<Vec<_>>().join(" ");
    let mut out = format!(
        "AVL homework, seed {seed}\n\n\
         Insert these keys, in this order, into an empty AVL map:\n  {inserts}\n\
         Then remove {r0} and {r1}.\n\n\
         1. Draw the tree after the inserts. How many single and how many double rotations did the inserts do?\n\
         2. Draw the tree after the two removals. How many rotations did the removals do?\n\
         3. After the removals: what is the rank of {rank_of} (how many keys are smaller)? Which key has rank {select_at}?\n\n\
         Check your work: the same command with --answer.\n",
        seed = options.seed,
        inserts = join(&keys),
        r0 = removed[0],
        r1 = removed[1],
    );
    if !options.answer {
        return out;
    }
    let mut map = AvlMap::new();
    for &k in &keys {
        map.insert(k, ());
        map.check_invariants()
            .expect("AvlMap keeps its invariants after every insert");
    }
    let after_inserts = map.shape().to_ascii();
    let inserted = map.rotation_stats().insert;
    let height_after_inserts = map.height();
    for k in &removed {
        map.remove(k);
        map.check_invariants()
            .expect("AvlMap keeps its invariants after every remove");
    }
    let removals = map.rotation_stats().remove;
    let rank = map.rank(&rank_of);
    let selected = map
        .select(select_at)
        .map(|(k, _)| k.to_string())
        .unwrap_or_else(|| "none".into());
    out.push_str(&format!(
        "\nAnswer\n\n1. After the inserts (height {h1}): {s1} single, {d1} double rotations.\n{after_inserts}\n\
         2. After removing {r0} and {r1} (height {h2}): {s2} single, {d2} double rotations.\n{after}\n\
         3. rank({rank_of}) = {rank}{note}; select({select_at}) = {selected}.\n",
        h1 = height_after_inserts,
        s1 = inserted.single,
        d1 = inserted.double,
        r0 = removed[0],
        r1 = removed[1],
        h2 = map.height(),
        s2 = removals.single,
        d2 = removals.double,
        after = map.shape().to_ascii(),
        note = if removed.contains(&rank_of) {
            format!(" ({rank_of} itself was removed: rank counts the keys below it)")
        } else {
            String::new()
        },
    ));
    out
}
