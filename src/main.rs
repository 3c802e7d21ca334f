//! The `rulecut` command: parses arguments, calls the library, maps the result to an exit code.
//!
//! Results go to stdout (paths written, plans, JSON); everything meant for people goes to
//! stderr through `tracing`. This is the only place that reads the environment.
#![forbid(unsafe_code)]

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Failure};

// A release holds a small record of every rule, made in parallel: mimalloc keeps that quick
// and returns what a finished stage freed, where the system allocator's per-thread arenas
// held on to it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => report(failure),
    }
}

fn init_logging(verbose: bool, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, true) => "debug",
        (false, false) => "info",
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "rulecut={level}"
        )))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .without_time()
        .init();
}

/// Prints an error with its causes and a `help:` line where there is one.
fn report(failure: Failure) -> ExitCode {
    let Failure {
        code,
        error,
        help,
        lines,
    } = failure;
    for line in lines {
        eprintln!("{line}");
    }
    if let Some(error) = error {
        let mut text = format!("rulecut: error: {error}");
        for cause in error.chain().skip(1) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        eprintln!("{text}");
    }
    if let Some(help) = help {
        eprintln!("help: {help}");
    }
    ExitCode::from(code)
}
