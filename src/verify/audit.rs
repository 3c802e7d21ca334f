//! An output folder checked whole: every release as `verify` checks it, then the hash chain
//! between them, `latest.json` against the newest, and the ledger against the manifests.
//!
//! The chain is read in order of global sequence. Each manifest must name the release before
//! it, by id, sequence and the SHA-256 of its `manifest.json`; a sequence or an id used twice
//! breaks it too. Where it breaks, the problem names the release that fails to chain and the
//! one it should follow. The ledger `releases.json` is a cache that the next build rebuilds
//! from the manifests, so a stale one is a warning, never a refusal.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::digest::Sha256;
use crate::ledger::{self, LEDGER_NAME, Ledger};
use crate::manifest::{LATEST_NAME, MANIFEST_NAME, Manifest};

use super::history::{self, Target};
use super::{Expectations, Problem, Reason, Report, VerifyError, outcome, verify_release};

/// The verdict on an output folder.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditReport {
    /// Everything wrong, each file named relative to the output folder.
    pub problems: Vec<Problem>,
    /// The release folders checked, in order of sequence where their manifests say it.
    pub releases: Vec<String>,
    /// What is stale but harmless: the ledger, which is only a cache.
    pub warnings: Vec<Problem>,
}

impl AuditReport {
    pub fn accepted(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn outcome(&self) -> &'static str {
        outcome(self.accepted())
    }
}

/// A release folder of the output folder, checked.
struct Checked {
    folder: String,
    report: Report,
}

impl Checked {
    fn manifest(&self) -> Option<&(Manifest, Sha256)> {
        self.report.manifest.as_ref()
    }
}

/// Checks every release of an output folder and the chain between them, with the trusted
/// keys and expectations given; the installed release and `latest.json` of `expect` are not
/// used, since the output folder's own `latest.json` is checked against its newest release.
pub fn audit(dist: &Path, expect: &Expectations) -> Result<AuditReport, VerifyError> {
    let each = Expectations {
        installed: None,
        latest: None,
        ..expect.clone()
    };
    let mut checked = Vec::new();
    for folder in release_folders(dist)? {
        let report = verify_release(&dist.join(&folder), &each)?;
        checked.push(Checked { folder, report });
    }
    checked.sort_by_key(|c| (c.manifest().map(|(m, _)| m.sequence), c.folder.clone()));
    let mut audit = AuditReport::default();
    for release in &checked {
        let prefix =
            |p: &Problem| Problem::new(format!("{}/{}", release.folder, p.file), p.reason.clone());
        audit
            .problems
            .extend(release.report.problems.iter().map(prefix));
        audit.releases.push(release.folder.clone());
    }
    audit.problems.extend(chain(&checked));
    audit.problems.extend(latest(dist, checked.last(), expect)?);
    audit.warnings = ledger_warnings(dist)?;
    Ok(audit)
}

/// The names of the release folders: every folder but hidden ones (staging folders, the
/// lock's), sorted.
fn release_folders(dist: &Path) -> Result<Vec<String>, VerifyError> {
    let read_error = |source| VerifyError::Read {
        path: dist.to_owned(),
        source,
    };
    let mut folders = Vec::new();
    for entry in std::fs::read_dir(dist).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.file_type().map_err(read_error)?.is_dir() {
            folders.push(name);
        }
    }
    folders.sort();
    Ok(folders)
}

/// Where the chain breaks: folders named after other releases, ids and sequences used
/// twice, and manifests that do not name the release before them.
fn chain(checked: &[Checked]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    let mut before: Option<(&str, &Manifest, Sha256)> = None;
    for release in checked {
        let Some((manifest, digest)) = release.manifest() else {
            continue;
        };
        let file = format!("{}/{MANIFEST_NAME}", release.folder);
        if manifest.release != release.folder {
            let release = manifest.release.clone();
            problems.push(Problem::new(&file, Reason::FolderName { release }));
        }
        if let Some(other) = ids.insert(&manifest.release, &release.folder) {
            let (other, release) = (other.to_owned(), manifest.release.clone());
            problems.push(Problem::new(&file, Reason::IdReused { other, release }));
        }
        if let Some(previous) = before {
            problems.extend(link(manifest, previous).map(|r| Problem::new(&file, r)));
        }
        before = Some((&release.folder, manifest, *digest));
    }
    problems
}

/// Why `manifest` does not follow the release before it, if it does not.
fn link(manifest: &Manifest, before: (&str, &Manifest, Sha256)) -> Option<Reason> {
    let (folder, previous, digest) = before;
    if manifest.sequence == previous.sequence {
        let (other, sequence) = (folder.to_owned(), manifest.sequence);
        return Some(Reason::SequenceReused { other, sequence });
    }
    let expected = crate::manifest::Previous {
        manifest_sha256: digest,
        release: previous.release.clone(),
        sequence: previous.sequence,
    };
    if manifest.previous.as_ref() == Some(&expected) {
        return None;
    }
    let named = match &manifest.previous {
        Some(p) => format!(
            "release `{}` (sequence {}) with manifest digest {}",
            p.release, p.sequence, p.manifest_sha256
        ),
        None => "no previous release".to_owned(),
    };
    Some(Reason::ChainBroken {
        actual: digest,
        named,
        previous: previous.release.clone(),
    })
}

/// Checks the output folder's `latest.json` against its newest release.
fn latest(
    dist: &Path,
    newest: Option<&Checked>,
    expect: &Expectations,
) -> Result<Vec<Problem>, VerifyError> {
    let Some((manifest, digest)) = newest.and_then(Checked::manifest) else {
        return Ok(Vec::new());
    };
    let path = dist.join(LATEST_NAME);
    if !path.exists() {
        return Ok(vec![Problem::new(LATEST_NAME, Reason::Missing)]);
    }
    let target = Target {
        file: MANIFEST_NAME,
        manifest_sha256: Some(*digest),
        previous: manifest.previous.as_ref(),
        product: &manifest.product,
        release: &manifest.release,
        sequence: manifest.sequence,
    };
    history::latest(&path, LATEST_NAME, &target, expect)
}

/// Where the ledger differs from what the manifests say it should hold.
fn ledger_warnings(dist: &Path) -> Result<Vec<Problem>, VerifyError> {
    let history = ledger::read(dist).map_err(|error| match error {
        ledger::LedgerError::Read { path, source } => VerifyError::Read { path, source },
    })?;
    let expected = history.ledger().releases;
    let path = dist.join(LEDGER_NAME);
    let stale = |detail: String| vec![Problem::new(LEDGER_NAME, Reason::LedgerStale { detail })];
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(stale("it is missing".into()));
        }
        Err(source) => return Err(VerifyError::Read { path, source }),
    };
    let found = match serde_json::from_slice::<Ledger>(&bytes) {
        Ok(ledger) => ledger.releases,
        Err(error) => return Ok(stale(format!("it cannot be read: {error}"))),
    };
    let mut warnings = Vec::new();
    for entry in &expected {
        match found.iter().find(|f| f.id == entry.id) {
            None => warnings.extend(stale(format!("it lacks `{}`", entry.id))),
            Some(f) if f != entry => warnings.extend(stale(format!(
                "its entry for `{}` differs from the manifest",
                entry.id
            ))),
            Some(_) => {}
        }
    }
    for entry in found
        .iter()
        .filter(|f| !expected.iter().any(|e| e.id == f.id))
    {
        let detail = format!(
            "it lists `{}`, which no chained manifest here holds",
            entry.id
        );
        warnings.extend(stale(detail));
    }
    Ok(warnings)
}
