//! rulecut cuts signed, reproducible security rule releases and verifies them before import.
//!
//! The library holds all the logic; the `rulecut` binary only parses arguments, calls it and
//! maps the outcome to an exit status. Nothing here prints, exits or reads the environment.
//!
//! The pipeline, one module a stage, data flowing one way:
//! `config` -> `plan` -> `source` (collect) -> `rules` (parse) -> `validate` -> `diff` ->
//! `package` -> `digest` -> `sign` -> `manifest` -> `notes` -> `publish` -> `ledger`.
#![forbid(unsafe_code)]

pub mod digest;
pub mod rules;
pub mod sign;
