//! The release history of an output folder: the ledger stage of the pipeline.
//!
//! The signed manifests are the truth and `releases.json` is only a cache of them, so the
//! history is always read from the manifests in the output folder: a missing or stale ledger
//! loses nothing. Releases form a hash chain, each manifest naming the digest of the one
//! before. A release folder that does not chain to the releases before it (say, one copied in
//! by hand) is left out of the chain and reported, but its id and sequence are never reused. A
//! folder left by a crash after its rename and before the ledger's update chains like any
//! other, and so is adopted.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::diff::{RuleFacts, Rules};
use crate::digest::{Sha256, sha256};
use crate::manifest::{MANIFEST_NAME, Manifest, Previous, Trigger};
use crate::package::{self, PackageError};
use crate::rules::Kind;
use crate::source::ReleasedCommit;

pub const LEDGER_NAME: &str = "releases.json";

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("bundle `{}` does not match the digest its manifest records", path.display())]
    BundleDigest { path: PathBuf },
    #[error("`{}` is not a release manifest", path.display())]
    ParseManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the rules index of `{}`", path.display())]
    ReadIndex {
        path: PathBuf,
        #[source]
        source: PackageError,
    },
}

/// One release as the ledger lists it.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Entry {
    pub created: String,
    pub id: String,
    pub manifest_sha256: Sha256,
    pub sequence: u64,
    pub trigger: Trigger,
    pub year_sequence: u32,
}

impl Entry {
    /// The link a release following this one names.
    pub fn as_previous(&self) -> Previous {
        Previous {
            manifest_sha256: self.manifest_sha256,
            release: self.id.clone(),
            sequence: self.sequence,
        }
    }
}

/// `releases.json`.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Ledger {
    pub format: u32,
    pub releases: Vec<Entry>,
}

/// What an output folder holds.
#[derive(Debug, Default)]
pub struct History {
    /// The releases that chain, oldest first.
    pub chain: Vec<(Entry, Manifest)>,
    /// Every folder name in use, chained or not: none is ever reused.
    pub folders: BTreeSet<String>,
    /// The highest global sequence of any release found, chained or not.
    pub highest_sequence: u64,
    /// Release folders left out of the chain, and why.
    pub problems: Vec<String>,
    /// The highest number within each year of any release found.
    pub year_sequences: HashMap<i32, u32>,
}

impl History {
    pub fn last(&self) -> Option<&Entry> {
        self.chain.last().map(|(entry, _)| entry)
    }

    /// The ledger as it should be written.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            format: 1,
            releases: self.chain.iter().map(|(e, _)| e.clone()).collect(),
        }
    }

    /// The commit recorded for source `name` by the newest release that recorded one, and
    /// that release's id: what the next release's notes count commits from, even where
    /// releases in between left the source out.
    pub fn released_commit(&self, name: &str) -> Option<ReleasedCommit<'_>> {
        released_commit(&self.chain, name)
    }

    /// The next release's global sequence and its number within `year`.
    pub fn next_numbers(&self, year: i32) -> (u64, u32) {
        (
            self.highest_sequence + 1,
            self.year_sequences.get(&year).copied().unwrap_or(0) + 1,
        )
    }
}

/// The release folders of an output folder, read from their manifests.
pub fn read(output: &Path) -> Result<History, LedgerError> {
    let mut history = History::default();
    let listing = match std::fs::read_dir(output) {
        Ok(listing) => listing,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(history),
        Err(source) => {
            return Err(LedgerError::Read {
                path: output.to_owned(),
                source,
            });
        }
    };
    let mut found = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|source| LedgerError::Read {
            path: output.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        history.folders.insert(name.clone());
        match read_manifest(&entry.path())? {
            Some(Ok((manifest, digest))) => found.push((name, manifest, digest)),
            Some(Err(reason)) => history.problems.push(format!("`{name}`: {reason}")),
            None => {}
        }
    }
    found.sort_by_key(|(_, manifest, _)| manifest.sequence);
    for (name, manifest, digest) in found {
        add(&mut history, name, manifest, digest);
    }
    Ok(history)
}

/// A manifest and its digest, or why it could not be read.
type ReadManifest = Result<(Manifest, Sha256), String>;

fn read_manifest(folder: &Path) -> Result<Option<ReadManifest>, LedgerError> {
    let path = folder.join(MANIFEST_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LedgerError::Read { path, source }),
    };
    let parsed = serde_json::from_slice::<Manifest>(&bytes)
        .map(|manifest| (manifest, sha256(&bytes)))
        .map_err(|e| format!("unreadable {MANIFEST_NAME}: {e}"));
    Ok(Some(parsed))
}

fn add(history: &mut History, name: String, manifest: Manifest, digest: Sha256) {
    history.highest_sequence = history.highest_sequence.max(manifest.sequence);
    let year = manifest.created.year();
    let year_max = history.year_sequences.entry(year).or_default();
    *year_max = (*year_max).max(manifest.year_sequence);
    let expected = history.last().map(Entry::as_previous);
    let chains = history.chain.is_empty() || manifest.previous == expected;
    if name != manifest.release || !chains {
        let reason = if chains {
            "its manifest names another release"
        } else {
            "it does not chain to the release before it"
        };
        history.problems.push(format!("`{name}`: {reason}"));
        return;
    }
    let entry = Entry {
        created: crate::manifest::format_time(manifest.created),
        id: manifest.release.clone(),
        manifest_sha256: digest,
        sequence: manifest.sequence,
        trigger: manifest.trigger.clone(),
        year_sequence: manifest.year_sequence,
    };
    history.chain.push((entry, manifest));
}

/// The time of the newest release, if any.
pub fn last_created(history: &History) -> Option<DateTime<Utc>> {
    history.chain.last().map(|(_, manifest)| manifest.created)
}

/// The commit recorded for source `name` by the newest release of `chain` that recorded one,
/// and that release's id.
pub fn released_commit<'c>(
    chain: &'c [(Entry, Manifest)],
    name: &str,
) -> Option<ReleasedCommit<'c>> {
    chain.iter().rev().find_map(|(entry, manifest)| {
        let source = manifest.sources.iter().find(|s| s.name == name)?;
        Some(ReleasedCommit {
            commit: source.commit.as_deref()?,
            release: &entry.id,
        })
    })
}

/// A release folder's manifest and the manifest's digest.
pub fn read_release(folder: &Path) -> Result<(Manifest, Sha256), LedgerError> {
    let path = folder.join(MANIFEST_NAME);
    let bytes = std::fs::read(&path).map_err(|source| LedgerError::Read {
        path: path.clone(),
        source,
    })?;
    let manifest = serde_json::from_slice(&bytes)
        .map_err(|source| LedgerError::ParseManifest { path, source })?;
    Ok((manifest, sha256(&bytes)))
}

/// The rules of one kind in a release folder, from its bundle's index: empty where the release
/// has no bundle of that kind. The bundle must match the digest its manifest records, so a
/// bundle changed after the release cannot mislead a diff or a guard.
pub fn read_rules(
    folder: &Path,
    manifest: &Manifest,
    kind: Kind,
) -> Result<Vec<RuleFacts>, LedgerError> {
    let Some(bundle) = manifest.bundles.iter().find(|b| b.kind == kind) else {
        return Ok(Vec::new());
    };
    let path = folder.join(&bundle.file);
    let bytes = std::fs::read(&path).map_err(|source| LedgerError::Read {
        path: path.clone(),
        source,
    })?;
    if sha256(&bytes) != bundle.sha256 {
        return Err(LedgerError::BundleDigest { path });
    }
    let index = package::read_index(&bundle.file, &bytes)
        .map_err(|source| LedgerError::ReadIndex { path, source })?;
    Ok(index.rules)
}

/// The rules of every kind in a release folder.
pub fn read_all_rules(folder: &Path, manifest: &Manifest) -> Result<Rules, LedgerError> {
    let mut rules = Rules::new();
    for bundle in &manifest.bundles {
        rules.insert(bundle.kind, read_rules(folder, manifest, bundle.kind)?);
    }
    Ok(rules)
}
