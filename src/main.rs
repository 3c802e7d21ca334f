//! The `rulecut` command: parses arguments, calls the library, maps the result to an exit code.
#![forbid(unsafe_code)]

fn main() {}
