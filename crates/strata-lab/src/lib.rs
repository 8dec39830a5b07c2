//! What the coursework kit needs at run time.
//!
//! The labs of the Strata course are cut from the reference code: a region
//! marked `// BEGIN LAB <id>` … `// END LAB` inside a function body is
//! replaced, in the starter workspace that `cargo xtask starter` writes, by a
//! stub. The default stub is [`todo!`](crate::todo), which names the lab,
//! borrows the function's arguments (so the starter compiles without
//! unused-variable warnings) and panics with a message that says what to do.
//!
//! Graded tests loop over seeds with [`for_each_seed`]: `STRATA_SEEDS=N`
//! sets how many, `STRATA_SEED=S` replays one, and a failing seed is printed
//! on a line of its own that `cargo xtask grade` turns into a replay command.
//!
//! # Example: a graded test over seeds
//!
//! ```
//! strata_lab::for_each_seed(8, |seed| {
//!     // Build a case from `seed`, run the student's code, assert.
//!     assert_eq!(seed.wrapping_add(1).wrapping_sub(1), seed);
//! });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

/// The marker line a failing graded test prints before it panics;
/// `cargo xtask grade` reads the seed after it.
pub const FAILING_SEED_MARKER: &str = "strata-lab: failing seed ";

/// Stands in for a lab's code in the starter workspace.
///
/// `strata_lab::todo!("avl-insert", key, value)` borrows each argument (so
/// no unused-variable lint fires) and panics with a message naming the lab.
/// It has type `!`, so it fits any concrete return type; a function that
/// returns `impl Trait` needs a `// STUB:` line in its region instead.
#[macro_export]
macro_rules! todo {
    ($lab:literal $(, $arg:expr)* $(,)?) => {{
        $( let _ = &$arg; )*
        $crate::not_done($lab)
    }};
}

/// Panics with the message of [`todo!`](crate::todo): the lab is not done.
#[track_caller]
pub fn not_done(lab: &str) -> ! {
    panic!(
        "lab {lab}: not written yet. This is your code to write: see the lab's handout in the book, \
         `cargo xtask hint {lab}` for a hint, `cargo xtask grade --lab {lab}` to grade it"
    )
}

/// The seeds a graded test runs: `STRATA_SEED=S` gives just `S`;
/// otherwise `0..STRATA_SEEDS`, or `0..default_count` when that is unset.
///
/// # Panics
///
/// If either variable is set but is not a number (say which, and how to fix it).
pub fn seeds(default_count: u64) -> Vec<u64> {
    if let Some(seed) = number_from_env("STRATA_SEED") {
        return vec![seed];
    }
    let count = number_from_env("STRATA_SEEDS").unwrap_or(default_count);
    (0..count).collect()
}

fn number_from_env(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            panic!("{name}={value:?} is not a number; set it to an unsigned integer or unset it")
        }
    }
}

/// Runs `case` for each seed of [`seeds`]. On the first failure it prints
/// the seed after [`FAILING_SEED_MARKER`] and re-raises the panic, so the
/// test fails with its own message and the grader can print the replay
/// command.
pub fn for_each_seed(default_count: u64, mut case: impl FnMut(u64)) {
    for seed in seeds(default_count) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(seed))) {
            println!("{FAILING_SEED_MARKER}{seed}");
            eprintln!("{FAILING_SEED_MARKER}{seed}");
            resume_unwind(panic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_two(a: u32, b: &str) -> usize {
        crate::todo!("demo", a, b)
    }

    #[test]
    fn the_stub_names_the_lab_and_the_hint_command() {
        let panic = catch_unwind(|| needs_two(1, "x")).unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(
            message.starts_with("lab demo: not written yet"),
            "{message}"
        );
        assert!(message.contains("cargo xtask hint demo"), "{message}");
    }

    #[test]
    fn a_failing_case_is_re_raised() {
        let outcome = catch_unwind(|| for_each_seed(4, |seed| assert!(seed < 2)));
        assert!(outcome.is_err());
    }
}
