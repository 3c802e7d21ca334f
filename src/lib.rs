//! rulecut cuts signed, reproducible security rule releases and verifies them before import.
//!
//! The library holds all the logic; the `rulecut` binary only parses arguments, calls it and
//! maps the outcome to an exit status. Nothing here prints, exits or reads the environment.
//!
//! The pipeline, one module a stage, data flowing one way:
//! `config` -> `plan` -> `source` (collect) -> `rules` (parse) -> `validate` -> `diff` ->
//! `package` -> `digest` -> `sign` -> `manifest` -> `notes` -> `publish` -> `ledger`.
//!
//! On the consumer's side, `verify` checks a release before import the way a manager, relay or
//! agent must, and audits an output folder's chain of releases.
//!
//! Beside the pipeline, `fleet` checks whether the relays and agents that consume releases can
//! run one, using `version` to read and order their versions.
#![forbid(unsafe_code)]

pub mod cadence;
pub mod config;
pub mod diff;
pub mod digest;
pub mod fleet;
pub mod guard;
pub mod ledger;
pub mod manifest;
pub mod notes;
pub mod package;
pub mod publish;
pub mod release;
pub mod review;
pub mod rules;

pub mod schedule;
pub mod sign;
pub mod source;
pub mod validate;
pub mod verify;
pub mod version;
