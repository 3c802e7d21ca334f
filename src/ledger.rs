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

use crate::digest::{Sha256, sha256};
use crate::manifest::{MANIFEST_NAME, Manifest, Previous, Trigger};

pub const LEDGER_NAME: &str = "releases.json";

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
