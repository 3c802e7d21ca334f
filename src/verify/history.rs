//! A release against what the importer already knows: the installed release, which it must
//! be newer than (by global sequence, never by id, which restarts each year) and, where it
//! says it follows it, chain to; and the feed's signed `latest.json`, which must name it and
//! not have expired, so that a frozen feed is told from a quiet week.

use std::path::Path;

use super::signature::{self, Vouch, describe};
use super::{Capped, Expectations, MAX_TEXT_BYTES, Problem, Reason, VerifyError, read_capped};
use crate::digest::Sha256;
use crate::manifest::{
    FORMAT, LATEST_NAME, Latest, MANIFEST_NAME, Manifest, Previous, format_time,
};

/// The release being verified, as far as it is known: all of it from a manifest, or what a
/// lone bundle's trusted comment says.
#[derive(Clone, Debug)]
pub(super) struct Target<'a> {
    /// The file problems about the release are reported against.
    pub file: &'a str,
    pub manifest_sha256: Option<Sha256>,
    pub previous: Option<&'a Previous>,
    pub product: &'a str,
    pub release: &'a str,
    pub sequence: u64,
}

impl<'a> Target<'a> {
    /// A release folder's manifest, whose digest is `digest`, as the release to check.
    pub fn of(manifest: &'a Manifest, digest: Sha256) -> Target<'a> {
        Target {
            file: MANIFEST_NAME,
            manifest_sha256: Some(digest),
            previous: manifest.previous.as_ref(),
            product: &manifest.product,
            release: &manifest.release,
            sequence: manifest.sequence,
        }
    }
}

/// Checks the release against the installed one and `latest.json`, as the importer gave
/// them.
pub(super) fn check(
    target: &Target<'_>,
    expect: &Expectations,
) -> Result<Vec<Problem>, VerifyError> {
    let mut problems: Vec<Problem> = installed(target, expect)
        .into_iter()
        .map(|reason| Problem::new(target.file, reason))
        .collect();
    if let Some(path) = &expect.latest {
        let file = path.display().to_string();
        problems.extend(latest(path, &file, target, expect)?);
    }
    Ok(problems)
}

/// Why the release may not replace the installed one: it is not newer, or it claims to
/// follow it without chaining to its manifest.
pub(super) fn installed(target: &Target<'_>, expect: &Expectations) -> Vec<Reason> {
    let Some(installed) = &expect.installed else {
        return Vec::new();
    };
    let current = &installed.manifest;
    let mut reasons = Vec::new();
    if target.sequence <= current.sequence {
        reasons.push(Reason::Rollback {
            installed: current.release.clone(),
            installed_sequence: current.sequence,
            release: target.release.to_owned(),
            sequence: target.sequence,
        });
    }
    let follows = |p: &&Previous| p.sequence == current.sequence || p.release == current.release;
    if let Some(previous) = target.previous.filter(follows)
        && previous.manifest_sha256 != installed.sha256
    {
        reasons.push(Reason::PreviousDigest {
            actual: installed.sha256,
            installed: current.release.clone(),
            named: previous.manifest_sha256,
        });
    }
    reasons
}

/// Checks `latest.json` and its signature beside it against the release, naming it `file`
/// in problems.
pub(super) fn latest(
    path: &Path,
    file: &str,
    target: &Target<'_>,
    expect: &Expectations,
) -> Result<Vec<Problem>, VerifyError> {
    let bytes = read_pointer(path, true)?.unwrap_or_default();
    let signature = read_pointer(&path.with_file_name(format!("{LATEST_NAME}.sig")), false)?;
    let mut problems = Vec::new();
    let verified =
        signature::check_detached(file, &bytes, signature.as_deref(), expect, &mut problems);
    if let Some(verified) = verified {
        // The comment must name `latest.json`, whatever path the pointer was given by.
        let mut found = Vec::new();
        let vouch = Vouch::Product(Some(target.product));
        signature::check_comment(LATEST_NAME, &verified, &vouch, &mut found);
        problems.extend(found.into_iter().map(|p| Problem::new(file, p.reason)));
    }
    match serde_json::from_slice::<Latest>(&bytes) {
        Ok(latest) => problems.extend(
            pointer_problems(&latest, target, expect)
                .into_iter()
                .map(|reason| Problem::new(file, reason)),
        ),
        Err(error) => problems.push(Problem::new(
            file,
            Reason::BadLatest {
                detail: error.to_string(),
            },
        )),
    }
    Ok(problems)
}

/// Reads `latest.json` (which must exist: the importer named it) or its signature (whose
/// absence is a problem the signature check reports).
fn read_pointer(path: &Path, required: bool) -> Result<Option<Vec<u8>>, VerifyError> {
    let read_error = |source| VerifyError::Read {
        path: path.to_owned(),
        source,
    };
    match read_capped(path, MAX_TEXT_BYTES).map_err(read_error)? {
        Capped::Bytes(bytes) => Ok(Some(bytes)),
        Capped::Missing if !required => Ok(None),
        Capped::Missing => Err(read_error(std::io::ErrorKind::NotFound.into())),
        Capped::Oversized(_) => Err(read_error(std::io::ErrorKind::FileTooLarge.into())),
    }
}

/// Why the pointer does not vouch for the release now.
pub(super) fn pointer_problems(
    latest: &Latest,
    target: &Target<'_>,
    expect: &Expectations,
) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if latest.format != FORMAT {
        reasons.push(Reason::Format {
            expected: FORMAT,
            found: latest.format,
        });
    }
    if latest.product != target.product {
        reasons.push(Reason::Product {
            expected: target.product.to_owned(),
            found: latest.product.clone(),
        });
    }
    let names = (latest.release.as_str(), latest.sequence) == (target.release, target.sequence);
    if !names {
        reasons.push(Reason::LatestOther {
            expected: describe(target.product, target.release, target.sequence),
            found: describe(&latest.product, &latest.release, latest.sequence),
        });
    }
    if let Some(digest) = target
        .manifest_sha256
        .filter(|d| names && *d != latest.manifest_sha256)
    {
        reasons.push(Reason::LatestDigest {
            expected: digest,
            found: latest.manifest_sha256,
        });
    }
    if latest.expires <= expect.now {
        let expires = format_time(latest.expires);
        reasons.push(Reason::Expired { expires });
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256;
    use crate::verify::Installed;
    use crate::verify::fixture::{manifest, time};

    fn expect_installed(release: &str, sequence: u64) -> (Expectations, Sha256) {
        let installed = manifest(release, sequence, None);
        let digest = sha256(&installed.to_bytes());
        let mut expect = crate::verify::fixture::expect(&[]);
        expect.installed = Some(Installed {
            manifest: installed,
            sha256: digest,
        });
        (expect, digest)
    }

    fn target<'a>(release: &'a str, sequence: u64, previous: Option<&'a Previous>) -> Target<'a> {
        Target {
            file: "manifest.json",
            manifest_sha256: Some(sha256(release.as_bytes())),
            previous,
            product: "Example",
            release,
            sequence,
        }
    }

    fn texts(reasons: Vec<Reason>) -> Vec<String> {
        reasons.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_newer_release_that_chains_to_the_installed_one_passes() {
        let (expect, digest) = expect_installed("RU26-049", 49);
        let previous = Previous {
            manifest_sha256: digest,
            release: "RU26-049".into(),
            sequence: 49,
        };
        // The id's year sequence restarts; the global sequence does not.
        assert!(installed(&target("RU27-001", 50, Some(&previous)), &expect).is_empty());
    }

    #[test]
    fn an_older_or_equal_release_is_a_rollback() {
        let (expect, _) = expect_installed("RU27-001", 50);
        // By id, `RU26-049` would sort after `RU27-001` if years were ignored; by sequence,
        // it is older.
        assert_eq!(
            texts(installed(&target("RU26-049", 49, None), &expect)),
            [
                "is release `RU26-049` (sequence 49), not newer than the installed release \
              `RU27-001` (sequence 50)"
            ]
        );
        assert_eq!(
            texts(installed(&target("RU27-001", 50, None), &expect)).len(),
            1
        );
    }

    #[test]
    fn a_release_claiming_to_follow_the_installed_one_must_chain_to_it() {
        let (expect, digest) = expect_installed("RU26-001", 1);
        let forged = sha256(b"another manifest");
        for previous in [
            Previous {
                manifest_sha256: forged,
                release: "RU26-001".into(),
                sequence: 7,
            },
            Previous {
                manifest_sha256: forged,
                release: "RU26-999".into(),
                sequence: 1,
            },
        ] {
            assert_eq!(
                texts(installed(&target("RU26-002", 2, Some(&previous)), &expect)),
                [format!(
                    "follows the installed release `RU26-001` by manifest digest {forged}, \
                     and the installed manifest's digest is {digest}"
                )]
            );
        }
    }

    #[test]
    fn a_release_skipping_ahead_need_not_chain_to_the_installed_one() {
        let (expect, _) = expect_installed("RU26-001", 1);
        let previous = Previous {
            manifest_sha256: sha256(b"RU26-004"),
            release: "RU26-004".into(),
            sequence: 4,
        };
        assert!(installed(&target("RU26-005", 5, Some(&previous)), &expect).is_empty());
    }

    fn latest(release: &str, sequence: u64, expires: &str) -> Latest {
        Latest {
            expires: time(expires),
            format: FORMAT,
            issued: time("2026-12-01T09:00:00Z"),
            manifest_sha256: sha256(release.as_bytes()),
            product: "Example".into(),
            release: release.into(),
            sequence,
        }
    }

    #[test]
    fn a_pointer_naming_the_release_before_it_expires_passes() {
        let expect = crate::verify::fixture::expect(&[]);
        let pointer = latest("RU26-001", 1, "2026-12-15T09:00:00Z");
        assert!(pointer_problems(&pointer, &target("RU26-001", 1, None), &expect).is_empty());
    }

    #[test]
    fn an_expired_pointer_says_the_feed_may_be_frozen() {
        let mut expect = crate::verify::fixture::expect(&[]);
        expect.now = time("2026-12-15T09:00:00Z");
        let pointer = latest("RU26-001", 1, "2026-12-15T09:00:00Z");
        assert_eq!(
            texts(pointer_problems(
                &pointer,
                &target("RU26-001", 1, None),
                &expect
            )),
            ["expired at 2026-12-15T09:00:00Z: the feed may be frozen"]
        );
    }

    #[test]
    fn a_pointer_naming_another_release_or_manifest_is_refused() {
        let expect = crate::verify::fixture::expect(&[]);
        let pointer = latest("RU26-002", 2, "2026-12-15T09:00:00Z");
        assert_eq!(
            texts(pointer_problems(
                &pointer,
                &target("RU26-001", 1, None),
                &expect
            )),
            [
                "names release `RU26-002` (sequence 2) of `Example`, not release `RU26-001` \
              (sequence 1) of `Example`"
            ]
        );
        let mut pointer = latest("RU26-001", 1, "2026-12-15T09:00:00Z");
        pointer.manifest_sha256 = sha256(b"other");
        let found = texts(pointer_problems(
            &pointer,
            &target("RU26-001", 1, None),
            &expect,
        ));
        assert_eq!(
            found,
            [format!(
                "names manifest digest {}, and the release's `manifest.json` has digest {}",
                sha256(b"other"),
                sha256(b"RU26-001")
            )]
        );
    }
}
