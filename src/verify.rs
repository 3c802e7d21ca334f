//! Verifying a release before import: the consumer's side of the pipeline, after `publish`.
//!
//! A manager, relay or agent must refuse a release that is unsigned, altered, incomplete,
//! unsafe to unpack or older than what it runs. [`verify_release`] checks a release folder the
//! way such an importer must, [`verify_bundle`] checks one bundle given on its own, and
//! [`audit`] checks every release of an output folder and the hash chain between them.
//!
//! What this module guarantees:
//!
//! - Every check runs and every problem is reported, sorted by file, in one [`Report`]; a
//!   release is accepted only when there are none.
//! - Only signed bytes are trusted: the checksum list is the text embedded in
//!   `SHA256SUMS.sig`, never the `SHA256SUMS` beside it, and every signature must come from a
//!   trusted key that is not revoked and that the manifest names. A detached signature's
//!   trusted comment must name the very file, release, sequence and product it vouches for, so
//!   a signature moved from one bundle to another, or from an older release, is refused.
//! - Nothing is written, and nothing is extracted: bundles are inflated in memory only to
//!   count their bytes as they come, never trusting the sizes their headers declare.
//! - Each file is read once. A bundle is read whole, since pure Ed25519 needs the whole
//!   message, and those bytes serve its digest, its signature and its entries; every other
//!   file is small, or hashed as a stream.
//!
//! Failures that stop the job itself (an unreadable key, a missing folder, an I/O error) are
//! a [`VerifyError`]; everything wrong with the release is a [`Problem`] in the report.

mod archive;
mod audit;
mod bundle;
#[cfg(test)]
pub(crate) mod fixture;
mod folder;
mod history;
mod reason;
mod signature;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use thiserror::Error;

use crate::digest::{Sha256, sha256};
use crate::manifest::Manifest;
use crate::sign::{KeyId, PublicKey, SignError};

pub use audit::{AuditReport, audit};
pub use bundle::verify_bundle;
pub use folder::verify_release;
pub use reason::Reason;

/// The most a bundle may inflate to in all: far beyond any real rule set, far below what
/// would exhaust an importer's disk or memory.
pub const MAX_INFLATED_BYTES: u64 = 4 << 30;

/// The most an entry may inflate relative to its compressed size. Rule text compresses
/// about ten to one; deflate's ceiling is about a thousand to one, where zip bombs live.
pub const MAX_INFLATION_RATIO: u64 = 100;

/// Entries smaller than this inflated are not held to [`MAX_INFLATION_RATIO`]: a tiny file of
/// repeated bytes compresses far better than rule text and harms no one.
const RATIO_EXEMPT_BYTES: u64 = 1 << 20;

/// The largest bundle read into memory.
const MAX_BUNDLE_BYTES: u64 = 4 << 30;

/// The largest manifest, signature, checksum list or pointer read; each is a few kilobytes.
const MAX_TEXT_BYTES: u64 = 16 << 20;

/// What the job could not do: these stop verification before any verdict.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The installed manifest given for the rollback check is not a manifest.
    #[error("installed manifest `{}` is not a manifest", path.display())]
    ParseInstalled {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A trusted key could not be loaded.
    #[error(transparent)]
    LoadKey(#[from] SignError),

    /// A folder given as a folder of trusted keys holds none.
    #[error("key folder `{}` holds no public keys (`*.pub`)", path.display())]
    NoKeys { path: PathBuf },

    /// A file or folder could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl VerifyError {
    /// How the user can fix the problem, for the binary to print as a `help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            VerifyError::LoadKey(error) => error.help(),
            VerifyError::NoKeys { .. } => {
                Some("give a `.pub` file, or a folder holding the trusted `.pub` files".into())
            }
            _ => None,
        }
    }
}

/// The release the consumer has installed: its manifest and the digest of its bytes.
#[derive(Clone, Debug)]
pub struct Installed {
    pub manifest: Manifest,
    pub sha256: Sha256,
}

/// What the importer trusts and expects. Nothing here is read from the environment: the
/// caller fixes even the time, so that a check of expiry can be repeated.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// Accept a release signed with a development key.
    pub allow_development: bool,
    /// The installed release: a new one must be newer, and chain to it when it says it does.
    pub installed: Option<Installed>,
    /// The trusted public keys; a release signed by any of them passes.
    pub keys: Vec<PublicKey>,
    /// `latest.json` of the feed, with `latest.json.sig` beside it, which must name the
    /// release and be unexpired.
    pub latest: Option<PathBuf>,
    /// The time to judge expiry by.
    pub now: DateTime<Utc>,
    /// The product the importer takes releases of.
    pub product: Option<String>,
    /// Keys that are no longer trusted, whatever `keys` says.
    pub revoked: Vec<KeyId>,
}

/// One thing wrong with one file.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Problem {
    /// The file, relative to the folder verified (or as given, for a file given directly).
    pub file: String,
    pub reason: Reason,
}

impl Problem {
    pub fn new(file: impl Into<String>, reason: Reason) -> Problem {
        Problem {
            file: file.into(),
            reason,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.file, self.reason)
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut record = serializer.serialize_struct("Problem", 2)?;
        record.serialize_field("file", &self.file)?;
        record.serialize_field("reason", &self.reason.to_string())?;
        record.end()
    }
}

/// The verdict on a release or a bundle.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// How many bundles were checked.
    pub bundles: usize,
    /// The key that signed, where a signature by a trusted key was found.
    pub key_id: Option<KeyId>,
    /// The manifest, where one was read and parsed.
    pub manifest: Option<Manifest>,
    /// The SHA-256 of `manifest.json`'s bytes, where it was read, parsed or not.
    pub manifest_sha256: Option<Sha256>,
    /// Everything wrong, sorted by file; empty when the release is accepted.
    pub problems: Vec<Problem>,
    /// The release id, as the manifest or a trusted comment gives it.
    pub release: Option<String>,
    /// How many rules the bundles' indexes hold.
    pub rules: usize,
    /// The release's global sequence, as the manifest or a trusted comment gives it.
    pub sequence: Option<u64>,
}

impl Report {
    pub fn accepted(&self) -> bool {
        self.problems.is_empty()
    }

    /// `accepted` or `refused`, as the JSON outcome says it.
    pub fn outcome(&self) -> &'static str {
        outcome(self.accepted())
    }

    /// Sorts the problems by file, keeping the order checks found them in within a file,
    /// and drops repeats (a missing file is missing whichever list names it).
    fn finish(mut self) -> Report {
        self.problems.sort_by(|a, b| a.file.cmp(&b.file));
        let mut seen = std::collections::HashSet::new();
        self.problems.retain(|p| seen.insert(p.to_string()));
        self
    }
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut record = serializer.serialize_struct("Report", 5)?;
        record.serialize_field("outcome", self.outcome())?;
        record.serialize_field("release", &self.release)?;
        record.serialize_field("sequence", &self.sequence)?;
        record.serialize_field("key_id", &self.key_id)?;
        record.serialize_field("problems", &self.problems)?;
        record.end()
    }
}

fn outcome(accepted: bool) -> &'static str {
    if accepted { "accepted" } else { "refused" }
}

/// Loads the trusted keys: each path is a public key file, or a folder whose `*.pub` files
/// are all trusted, so that a key can be rotated by adding its successor to the folder.
pub fn load_keys(paths: &[PathBuf]) -> Result<Vec<PublicKey>, VerifyError> {
    let mut keys = Vec::new();
    for path in paths {
        if !path.is_dir() {
            keys.push(PublicKey::load(path)?);
            continue;
        }
        let found = key_files(path)?;
        if found.is_empty() {
            return Err(VerifyError::NoKeys { path: path.clone() });
        }
        for file in found {
            keys.push(PublicKey::load(&file)?);
        }
    }
    Ok(keys)
}

/// The `*.pub` files of a folder, sorted.
fn key_files(folder: &Path) -> Result<Vec<PathBuf>, VerifyError> {
    let read_error = |source| VerifyError::Read {
        path: folder.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(folder).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.extension().is_some_and(|e| e == "pub") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the manifest of the installed release, which the consumer holds and trusts.
pub fn load_installed(path: &Path) -> Result<Installed, VerifyError> {
    let read_error = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    let bytes = match read_capped(path, MAX_TEXT_BYTES).map_err(read_error)? {
        Capped::Bytes(bytes) => bytes,
        Capped::Missing => return Err(read_error(std::io::ErrorKind::NotFound.into())),
        Capped::Oversized(_) => return Err(read_error(std::io::ErrorKind::FileTooLarge.into())),
    };
    let manifest =
        serde_json::from_slice(&bytes).map_err(|source| VerifyError::ParseInstalled {
            path: path.to_owned(),
            source,
        })?;
    Ok(Installed {
        manifest,
        sha256: sha256(&bytes),
    })
}

/// A file read whole, up to a limit.
enum Capped {
    Bytes(Vec<u8>),
    Missing,
    /// Larger than the limit: its size, as far as it was read.
    Oversized(u64),
}

/// Reads a file whole unless it is larger than `limit`, reading no more than one byte past
/// the limit whatever the file system says of its size.
fn read_capped(path: &Path, limit: u64) -> std::io::Result<Capped> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Capped::Missing),
        Err(error) => return Err(error),
    };
    let size = file.metadata()?.len();
    if size > limit {
        return Ok(Capped::Oversized(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(Capped::Oversized(bytes.len() as u64));
    }
    Ok(Capped::Bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_files_and_from_folders_of_pub_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let one = fixture::key(dir.path(), "one");
        let two = fixture::key(dir.path(), "two");
        let by_file = load_keys(&[dir.path().join("one.pub")]).expect("one key");
        assert_eq!(by_file, [one.public_key()]);
        let by_folder = load_keys(&[dir.path().to_owned()]).expect("the folder's keys");
        assert_eq!(by_folder, [one.public_key(), two.public_key()]);
    }

    #[test]
    fn a_key_folder_without_keys_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = load_keys(&[dir.path().to_owned()]).expect_err("no keys");
        assert!(matches!(error, VerifyError::NoKeys { .. }));
        assert!(error.help().is_some());
    }

    #[test]
    fn problems_name_the_file_then_the_reason() {
        let problem = Problem::new("firewall.zip", Reason::Missing);
        assert_eq!(problem.to_string(), "`firewall.zip` is missing");
        let json = serde_json::to_value(&problem).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({"file": "firewall.zip", "reason": "is missing"})
        );
    }

    #[test]
    fn reports_give_their_outcome_in_json() {
        let report = Report {
            problems: vec![
                Problem::new("b", Reason::Missing),
                Problem::new("a", Reason::Unlisted),
            ],
            release: Some("RU26-001".into()),
            ..Report::default()
        }
        .finish();
        let json = serde_json::to_value(&report).expect("JSON");
        assert_eq!(json["outcome"], "refused");
        assert_eq!(json["release"], "RU26-001");
        assert_eq!(json["problems"][0]["file"], "a");
        assert_eq!(
            serde_json::to_value(Report::default()).expect("JSON")["outcome"],
            "accepted"
        );
    }

    #[test]
    fn reports_drop_repeated_problems() {
        let report = Report {
            problems: vec![
                Problem::new("a", Reason::Missing),
                Problem::new("a", Reason::Missing),
            ],
            ..Report::default()
        }
        .finish();
        assert_eq!(report.problems.len(), 1);
    }

    #[test]
    fn files_past_the_limit_are_not_read_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big");
        std::fs::write(&path, [0u8; 100]).expect("write");
        assert!(matches!(read_capped(&path, 99), Ok(Capped::Oversized(100))));
        assert!(matches!(read_capped(&path, 100), Ok(Capped::Bytes(b)) if b.len() == 100));
        assert!(matches!(
            read_capped(&dir.path().join("none"), 1),
            Ok(Capped::Missing)
        ));
    }

    #[test]
    fn the_installed_manifest_is_read_with_its_digest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("manifest.json");
        let manifest = fixture::manifest("RU26-001", 1, None);
        std::fs::write(&path, manifest.to_bytes()).expect("write");
        let installed = load_installed(&path).expect("read");
        assert_eq!(installed.manifest, manifest);
        assert_eq!(installed.sha256, sha256(&manifest.to_bytes()));
        std::fs::write(&path, "{}").expect("write");
        assert!(matches!(
            load_installed(&path),
            Err(VerifyError::ParseInstalled { .. })
        ));
    }
}
