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

use super::history::{self, Target};
use super::{Expectations, Problem, Reason, Report, VerifyError, outcome, verify_release};
use crate::digest::Sha256;
use crate::ledger::{self, LEDGER_NAME, Ledger};
use crate::manifest::{LATEST_NAME, MANIFEST_NAME, Manifest, format_time};

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

/// A release as the next one must name it: the end of the chain so far.
#[derive(Clone, Debug)]
struct Link<'a> {
    /// The SHA-256 of its `manifest.json`.
    digest: Sha256,
    release: &'a str,
    /// Its sequence, where its manifest could be read.
    sequence: Option<u64>,
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
    checked.sort_by_key(|c| {
        (
            c.report.manifest.as_ref().map(|m| m.sequence),
            c.folder.clone(),
        )
    });
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
    audit.warnings = ledger_warnings(dist, &checked)?;
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
    let mut before: Option<Link<'_>> = None;
    for release in checked {
        let (Some(manifest), Some(digest)) =
            (&release.report.manifest, release.report.manifest_sha256)
        else {
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
        if let Some(previous) = unreadable_previous(manifest, checked).or(before) {
            problems.extend(link(manifest, &previous).map(|r| Problem::new(&file, r)));
        }
        let (release, sequence) = (release.folder.as_str(), Some(manifest.sequence));
        before = Some(Link {
            digest,
            release,
            sequence,
        });
    }
    problems
}

/// The release `manifest` names as its previous one, where that folder is here but its
/// manifest cannot be read: it has no place in the order of sequences, yet the chain can
/// still be checked against the digest of its bytes.
fn unreadable_previous<'a>(manifest: &Manifest, checked: &'a [Checked]) -> Option<Link<'a>> {
    let previous = manifest.previous.as_ref()?;
    let named = checked.iter().find(|c| c.folder == previous.release)?;
    if named.report.manifest.is_some() {
        return None;
    }
    Some(Link {
        digest: named.report.manifest_sha256?,
        release: &named.folder,
        sequence: None,
    })
}

/// Why `manifest` does not follow `before`, if it does not.
fn link(manifest: &Manifest, before: &Link<'_>) -> Option<Reason> {
    if before.sequence == Some(manifest.sequence) {
        let (other, sequence) = (before.release.to_owned(), manifest.sequence);
        return Some(Reason::SequenceReused { other, sequence });
    }
    let chains = manifest.previous.as_ref().is_some_and(|p| {
        p.release == before.release
            && p.manifest_sha256 == before.digest
            && before.sequence.is_none_or(|s| s == p.sequence)
    });
    if chains {
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
        actual: before.digest,
        named,
        previous: before.release.to_owned(),
    })
}

/// Checks the output folder's `latest.json` against its newest release.
fn latest(
    dist: &Path,
    newest: Option<&Checked>,
    expect: &Expectations,
) -> Result<Vec<Problem>, VerifyError> {
    let Some(newest) = newest else {
        return Ok(Vec::new());
    };
    let (Some(manifest), Some(digest)) = (&newest.report.manifest, newest.report.manifest_sha256)
    else {
        return Ok(Vec::new());
    };
    let path = dist.join(LATEST_NAME);
    if !path.exists() {
        return Ok(vec![Problem::new(LATEST_NAME, Reason::Missing)]);
    }
    let target = Target::of(manifest, digest);
    history::latest(&path, LATEST_NAME, &target, expect)
}

/// The ledger entry of a release whose manifest was read.
fn entry(checked: &Checked) -> Option<ledger::Entry> {
    let manifest = checked.report.manifest.as_ref()?;
    Some(ledger::Entry {
        created: format_time(manifest.created),
        id: manifest.release.clone(),
        manifest_sha256: checked.report.manifest_sha256?,
        sequence: manifest.sequence,
        trigger: manifest.trigger.clone(),
        year_sequence: manifest.year_sequence,
    })
}

/// The ledger's entries, or why there are none to compare.
fn read_ledger(dist: &Path) -> Result<Result<Vec<ledger::Entry>, String>, VerifyError> {
    let path = dist.join(LEDGER_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Err("it is missing".into()));
        }
        Err(source) => return Err(VerifyError::Read { path, source }),
    };
    Ok(serde_json::from_slice::<Ledger>(&bytes)
        .map(|ledger| ledger.releases)
        .map_err(|error| format!("it cannot be read: {error}")))
}

/// Where the ledger differs from what the manifests say it should hold: an entry for each
/// release, in order of sequence, as `build` writes it.
fn ledger_warnings(dist: &Path, checked: &[Checked]) -> Result<Vec<Problem>, VerifyError> {
    let expected: Vec<ledger::Entry> = checked.iter().filter_map(entry).collect();
    let stale = |detail: String| vec![Problem::new(LEDGER_NAME, Reason::LedgerStale { detail })];
    let found = match read_ledger(dist)? {
        Ok(found) => found,
        Err(detail) => return Ok(stale(detail)),
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
        let detail = format!("it lists `{}`, which no manifest here holds", entry.id);
        warnings.extend(stale(detail));
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::digest::sha256;
    use crate::verify::fixture::{self, expect, manifest};

    fn lines(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn links_name_the_release_before_by_id_sequence_and_digest() {
        let first = manifest("RU26-001", 1, None);
        let digest = sha256(&first.to_bytes());
        let previous = crate::manifest::Previous {
            manifest_sha256: digest,
            release: "RU26-001".into(),
            sequence: 1,
        };
        let second = manifest("RU26-002", 2, Some(previous.clone()));
        let before = |digest| Link {
            digest,
            release: "RU26-001",
            sequence: Some(1),
        };
        assert_eq!(link(&second, &before(digest)), None);

        let forged = sha256(b"forged");
        let broken = link(&second, &before(forged)).expect("broken");
        assert_eq!(
            broken.to_string(),
            format!(
                "does not chain to `RU26-001`: it names release `RU26-001` (sequence 1) with \
                 manifest digest {digest}, and `RU26-001` has manifest digest {forged}"
            )
        );
        let orphan = manifest("RU26-002", 2, None);
        assert!(
            link(&orphan, &before(digest))
                .expect("broken")
                .to_string()
                .contains("it names no previous release")
        );
        let twin = manifest("RU26-003", 1, Some(previous));
        assert_eq!(
            link(&twin, &before(digest)).map(|r| r.to_string()),
            Some("reuses sequence 1 of `RU26-001`".to_owned())
        );
    }

    #[test]
    fn an_output_folder_of_two_chained_releases_passes() {
        let built = fixture::release();
        fixture::cut(built.dir.path(), "2026-12-08T09:00:00Z");
        let mut expect = expect(&[&built.key]);
        expect.now = fixture::time("2026-12-08T10:00:00Z");
        let report = audit(&built.dist, &expect).expect("audited");
        assert!(report.accepted(), "{:?}", report.problems);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(report.releases, ["RU26-001", "RU26-002"]);
    }

    #[test]
    fn an_edited_manifest_breaks_the_chain_where_it_is() {
        let built = fixture::release();
        fixture::cut(built.dir.path(), "2026-12-08T09:00:00Z");
        let path = built.release.join(MANIFEST_NAME);
        let text = fs::read_to_string(&path).expect("manifest");
        fs::write(&path, text.replace("\"Example\"", "\"Exampl3\"")).expect("edit");
        let mut expect = expect(&[&built.key]);
        expect.now = fixture::time("2026-12-08T10:00:00Z");
        let report = audit(&built.dist, &expect).expect("audited");
        let found = lines(&report.problems);
        assert!(
            found.contains(&format!(
                "`RU26-002/manifest.json` does not chain to `RU26-001`: it names release \
                 `RU26-001` (sequence 1) with manifest digest {}, and `RU26-001` has manifest \
                 digest {}",
                sha256(text.as_bytes()),
                sha256(&fs::read(&path).expect("edited"))
            )),
            "{found:#?}"
        );
        assert!(found.contains(
            &"`RU26-001/manifest.json` does not match its digest in `SHA256SUMS`: it was altered"
                .to_owned()
        ));
    }

    #[test]
    fn a_stale_ledger_is_a_warning_only() {
        let built = fixture::release();
        let ledger = fs::read(built.dist.join(LEDGER_NAME)).expect("ledger");
        fixture::cut(built.dir.path(), "2026-12-08T09:00:00Z");
        fs::write(built.dist.join(LEDGER_NAME), ledger).expect("an old ledger");
        let mut expect = expect(&[&built.key]);
        expect.now = fixture::time("2026-12-08T10:00:00Z");
        let report = audit(&built.dist, &expect).expect("audited");
        assert!(report.accepted(), "{:?}", report.problems);
        assert_eq!(
            lines(&report.warnings),
            [
                "`releases.json` is out of date with the manifests (it lacks `RU26-002`); the next \
              build rebuilds it"
            ]
        );
    }

    #[test]
    fn latest_json_must_name_the_newest_release() {
        let built = fixture::release();
        let latest = fs::read(built.dist.join(LATEST_NAME)).expect("latest");
        let signature = fs::read(built.dist.join("latest.json.sig")).expect("signature");
        fixture::cut(built.dir.path(), "2026-12-08T09:00:00Z");
        fs::write(built.dist.join(LATEST_NAME), latest).expect("an old pointer");
        fs::write(built.dist.join("latest.json.sig"), signature).expect("its signature");
        let mut expect = expect(&[&built.key]);
        expect.now = fixture::time("2026-12-08T10:00:00Z");
        let report = audit(&built.dist, &expect).expect("audited");
        assert_eq!(
            lines(&report.problems),
            [
                "`latest.json` names release `RU26-001` (sequence 1) of `Example`, not release \
              `RU26-002` (sequence 2) of `Example`"
            ]
        );
    }
}
