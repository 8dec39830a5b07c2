//! `sim`: Strata's replication simulator and its checkers (issue 6).
//!
//! ```text
//! sim check FILE [--budget STATES]
//! ```
//!
//! `check` reads a history file (JSON lines, one event each, in real-time
//! order; the format is in `replication::history::parse_jsonl`) and prints
//! `linearizable`, `not linearizable: …` or `unknown: …`, exiting 0, 1 or
//! 2; a file it cannot read or parse exits 3 with the line at fault.
//! (`run` and `sweep`, the simulator itself, are not written yet.)

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use replication::history::parse_jsonl;
use replication::linearizability::{Budget, Verdict, check};

#[derive(Parser)]
#[command(
    name = "sim",
    about = "Replicated key-value stores in a deterministic simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a history file for linearizability (exit 0 yes, 1 no, 2 unknown).
    Check {
        /// The history: JSON lines, one event each, in real-time order.
        file: PathBuf,
        /// Search states per key before the verdict is `unknown`.
        #[arg(long, default_value_t = Budget::default().states)]
        budget: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { file, budget } => match run_check(&file, budget) {
            Ok(code) => code,
            Err(error) => {
                eprintln!("sim check: {error:#}");
                ExitCode::from(3)
            }
        },
    }
}

fn run_check(file: &PathBuf, budget: u64) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let events = parse_jsonl(&text).with_context(|| format!("parsing {}", file.display()))?;
    let verdict = check(&events, Budget { states: budget })
        .with_context(|| format!("{} is not a valid history", file.display()))?;
    Ok(match verdict {
        Verdict::Linearizable => {
            println!("linearizable");
            ExitCode::from(0)
        }
        Verdict::NotLinearizable { key, unplaced } => {
            let events: Vec<String> = unplaced.iter().map(|e| (e + 1).to_string()).collect();
            println!(
                "not linearizable: key {key:?}; no order places all of the operations invoked at events {} (1-based, blank lines not counted)",
                events.join(", ")
            );
            ExitCode::from(1)
        }
        Verdict::Unknown { key } => {
            println!(
                "unknown: key {key:?} needs more than {budget} search states (raise --budget)"
            );
            ExitCode::from(2)
        }
    })
}
