//! One bundle checked: its signature and trusted comment, its digest and size against the
//! manifest, its entries and its rules index. Used for each bundle of a release folder, and
//! for a bundle given on its own as an importer handed one file would check it.

use std::path::Path;

use super::archive::{self, Inspected};
use super::history::{self, Target};
use super::signature::{self, Vouch};
use super::{
    Capped, Expectations, MAX_BUNDLE_BYTES, MAX_TEXT_BYTES, Problem, Reason, Report, VerifyError,
    read_capped,
};
use crate::digest::{Sha256, sha256};
use crate::manifest::{BundleRecord, SignedFile};
use crate::package::{RuleCounts, file_name};
use crate::rules::Kind;
use crate::sign::KeyId;

/// What checking a bundle of a release found.
#[derive(Debug, Default)]
pub(super) struct Checked {
    /// The digests of the files read, for the checksum list.
    pub digests: Vec<(String, Sha256)>,
    pub problems: Vec<Problem>,
    /// The rules its index holds.
    pub rules: usize,
    /// The key that signed it, where a trusted one did.
    pub signer: Option<KeyId>,
}

/// A bundle and its signature, each read once.
struct Files {
    bundle: Capped,
    signature: Option<Vec<u8>>,
}

/// Reads a bundle and its signature, recording the files that are too large and the
/// signature's digest; the bundle's digest comes from [`examine`], so it is hashed once.
fn read_files(bundle: &Path, name: &str, checked: &mut Checked) -> Result<Files, VerifyError> {
    let signature_name = format!("{name}.sig");
    let signature_path = bundle.with_file_name(&signature_name);
    let files = Files {
        bundle: read_one(bundle, name, MAX_BUNDLE_BYTES, checked)?,
        signature: match read_one(&signature_path, &signature_name, MAX_TEXT_BYTES, checked)? {
            Capped::Bytes(bytes) => Some(bytes),
            // A missing signature is reported by the signature check.
            Capped::Missing | Capped::Oversized(_) => None,
        },
    };
    if let Some(bytes) = &files.signature {
        checked.digests.push((signature_name, sha256(bytes)));
    }
    Ok(files)
}

/// Reads one file whole, recording it as a problem where it is too large.
fn read_one(
    path: &Path,
    name: &str,
    limit: u64,
    checked: &mut Checked,
) -> Result<Capped, VerifyError> {
    let read = read_capped(path, limit).map_err(|source| VerifyError::Read {
        path: path.to_owned(),
        source,
    })?;
    if let Capped::Oversized(size) = read {
        let reason = Reason::Oversized { limit, size };
        checked.problems.push(Problem::new(name, reason));
    }
    Ok(read)
}

/// The work on a bundle's bytes, split in two so that both cores work on a large bundle: the
/// signature (a SHA-512 pass) and the digest (a SHA-256 pass) on one side, inflating every
/// entry on the other.
fn examine(
    name: &str,
    bytes: &[u8],
    signature: Option<&[u8]>,
    expect: &Expectations,
    problems: &mut Vec<Problem>,
) -> (Option<crate::sign::Verified>, Sha256, Inspected) {
    let ((verified, digest), inspected) = rayon::join(
        || {
            let mut found = Vec::new();
            let verified = signature::check_detached(name, bytes, signature, expect, &mut found);
            ((verified, found), sha256(bytes))
        },
        || archive::inspect(bytes),
    );
    let (verified, found) = verified;
    problems.extend(found);
    (verified, digest, inspected)
}

/// Checks a bundle of a release folder against its manifest's record.
pub(super) fn check_listed(
    dir: &Path,
    record: &BundleRecord,
    vouch: &Vouch<'_>,
    expect: &Expectations,
) -> Result<Checked, VerifyError> {
    let mut checked = Checked::default();
    let name = record.file.as_str();
    let files = read_files(&dir.join(name), name, &mut checked)?;
    let bytes = match files.bundle {
        Capped::Bytes(bytes) => bytes,
        Capped::Missing => {
            checked.problems.push(Problem::new(name, Reason::Missing));
            return Ok(checked);
        }
        Capped::Oversized(_) => return Ok(checked),
    };
    let problems = &mut checked.problems;
    let (verified, digest, inspected) =
        examine(name, &bytes, files.signature.as_deref(), expect, problems);
    if let Some(verified) = &verified {
        signature::check_comment(name, verified, vouch, problems);
    }
    checked.signer = verified.map(|v| v.key_id);
    if bytes.len() as u64 != record.size {
        let (expected, found) = (record.size, bytes.len() as u64);
        problems.push(Problem::new(name, Reason::Size { expected, found }));
    }
    checked.digests.push((name.to_owned(), digest));
    if digest != record.sha256 {
        problems.push(Problem::new(name, Reason::BundleDigest));
    }
    checked.rules = index_problems(name, record.kind, Some(&record.rules), inspected, problems);
    Ok(checked)
}

/// Records what is wrong with a bundle's entries and index, against its kind and, where a
/// manifest gives them, its rule counts; gives the number of rules indexed.
fn index_problems(
    name: &str,
    kind: Kind,
    counts: Option<&RuleCounts>,
    inspected: Inspected,
    problems: &mut Vec<Problem>,
) -> usize {
    let file = |reason| Problem::new(name, reason);
    problems.extend(inspected.problems.into_iter().map(file));
    let Some(index) = inspected.index else {
        return 0;
    };
    if index.kind != kind {
        let reason = Reason::KindMismatch {
            expected: kind,
            found: index.kind,
        };
        problems.push(file(reason));
    }
    let disabled = index.rules.iter().filter(|r| r.disabled).count();
    let found = RuleCounts {
        disabled,
        enabled: index.rules.len() - disabled,
        total: index.rules.len(),
    };
    if let Some(expected) = counts.filter(|c| **c != found) {
        let expected = expected.clone();
        problems.push(file(Reason::Counts { expected, found }));
    }
    index.rules.len()
}

/// The record's name where it is the one its kind's bundle has, or why it is not.
pub(super) fn misnamed(record: &BundleRecord) -> Option<Reason> {
    let expected = file_name(record.kind);
    (record.file != expected).then(|| Reason::MisnamedBundle {
        expected,
        file: record.file.clone(),
        kind: record.kind,
    })
}

/// Checks a bundle given on its own, as an importer handed one file would: by its signature
/// beside it (`X.zip.sig`), whose trusted comment must name this very file; by its entries
/// and index, which must hold the kind its name says; and, given the installed release or
/// the feed's `latest.json`, by the release its trusted comment names.
///
/// Without the manifest, the release's counts, its digest chain and whether it was signed
/// with a development key cannot be checked: verify the release folder for those.
pub fn verify_bundle(path: &Path, expect: &Expectations) -> Result<Report, VerifyError> {
    let name = bundle_name(path)?;
    let (files, mut problems) = read_lone(path, &name)?;
    let Capped::Bytes(bytes) = files.bundle else {
        let report = Report {
            bundles: 1,
            problems,
            ..Report::default()
        };
        return Ok(report.finish());
    };
    let (verified, _, inspected) = examine(
        &name,
        &bytes,
        files.signature.as_deref(),
        expect,
        &mut problems,
    );
    let vouch = Vouch::Product(expect.product.as_deref());
    let signed = verified
        .as_ref()
        .and_then(|v| signature::check_comment(&name, v, &vouch, &mut problems));
    let rules = lone_index(&name, inspected, &mut problems);
    if let Some(signed) = &signed {
        problems.extend(history::check(&target_of(&name, signed), expect)?);
    }
    let report = Report {
        bundles: 1,
        key_id: verified.map(|v| v.key_id),
        problems,
        release: signed.as_ref().map(|s| s.release.clone()),
        rules,
        sequence: signed.as_ref().map(|s| s.sequence),
        ..Report::default()
    };
    Ok(report.finish())
}

/// Records what is wrong with a lone bundle's entries and index, whose kind only its name
/// gives; gives the number of rules indexed.
fn lone_index(name: &str, inspected: Inspected, problems: &mut Vec<Problem>) -> usize {
    if let Some(kind) = name.strip_suffix(".zip").and_then(Kind::from_name) {
        return index_problems(name, kind, None, inspected, problems);
    }
    problems.push(Problem::new(name, Reason::NotKindName));
    let indexed = inspected.index.as_ref().map_or(0, |i| i.rules.len());
    problems.extend(
        inspected
            .problems
            .into_iter()
            .map(|r| Problem::new(name, r)),
    );
    indexed
}

/// Reads a lone bundle and its signature. The importer named the bundle, so its absence
/// is a usage error, in the system's words.
fn read_lone(path: &Path, name: &str) -> Result<(Files, Vec<Problem>), VerifyError> {
    std::fs::metadata(path).map_err(|source| VerifyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut checked = Checked::default();
    let files = read_files(path, name, &mut checked)?;
    Ok((files, checked.problems))
}

/// The bundle's file name, which its signature must name.
fn bundle_name(path: &Path) -> Result<String, VerifyError> {
    let name = path.file_name().and_then(|n| n.to_str());
    name.map(str::to_owned).ok_or_else(|| VerifyError::Read {
        path: path.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })
}

/// What the installed release and `latest.json` are checked against, for a lone bundle.
fn target_of<'a>(name: &'a str, signed: &'a SignedFile) -> Target<'a> {
    Target {
        file: name,
        manifest_sha256: None,
        previous: None,
        product: &signed.product,
        release: &signed.release,
        sequence: signed.sequence,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::verify::fixture::{self, expect, index_json, zip_of};

    fn lines(report: &Report) -> Vec<String> {
        report.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_lone_bundle_is_checked_against_the_signature_beside_it() {
        let built = fixture::release();
        let path = built.release.join("firewall.zip");
        let report = verify_bundle(&path, &expect(&[&built.key])).expect("verified");
        assert!(report.accepted(), "{:?}", report.problems);
        assert_eq!(report.release.as_deref(), Some("RU26-001"));
        assert_eq!((report.bundles, report.rules), (1, 1));
    }

    #[test]
    fn a_lone_bundle_under_another_kinds_name_is_refused() {
        let built = fixture::release();
        let (from, to) = (
            built.release.join("firewall"),
            built.dir.path().join("log-inspection"),
        );
        fs::copy(from.with_extension("zip"), to.with_extension("zip")).expect("copy bundle");
        fs::copy(from.with_extension("zip.sig"), to.with_extension("zip.sig")).expect("copy sig");
        let report =
            verify_bundle(&to.with_extension("zip"), &expect(&[&built.key])).expect("verified");
        assert_eq!(
            lines(&report),
            [
                "`log-inspection.zip` is signed as `firewall.zip`, not as `log-inspection.zip`",
                "`log-inspection.zip` holds `firewall` rules, and its name says `log-inspection`",
            ]
        );
    }

    #[test]
    fn a_lone_bundle_of_another_product_is_refused() {
        let built = fixture::release();
        let mut expect = expect(&[&built.key]);
        expect.product = Some("Other".into());
        let report = verify_bundle(&built.release.join("firewall.zip"), &expect).expect("run");
        assert_eq!(
            lines(&report),
            ["`firewall.zip` is for product `Example`, not `Other`"]
        );
    }

    #[test]
    fn a_missing_lone_bundle_is_a_usage_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = verify_bundle(&dir.path().join("firewall.zip"), &expect(&[]))
            .expect_err("nothing to verify");
        assert!(matches!(error, VerifyError::Read { .. }));
    }

    #[test]
    fn counts_and_kind_must_agree_with_the_manifest() {
        let index = index_json(&["s/a"]);
        let inspected = archive::inspect(&zip_of(&[("index.json", &index), ("s/a", b"1")]));
        let counts = RuleCounts {
            disabled: 1,
            enabled: 2,
            total: 3,
        };
        let mut problems = Vec::new();
        let rules = index_problems(
            "x.zip",
            Kind::LogInspection,
            Some(&counts),
            inspected,
            &mut problems,
        );
        assert_eq!(rules, 1);
        let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "`x.zip` holds `firewall` rules, and its name says `log-inspection`",
                "`x.zip` holds 1 rule(s) (1 enabled, 0 disabled), and `manifest.json` counts 3 \
                 rule(s) (2 enabled, 1 disabled)",
            ]
        );
    }
}
