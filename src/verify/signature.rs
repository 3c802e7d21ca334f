//! Signatures as an importer checks them: made by a trusted key that is not revoked, over the
//! very bytes given, with a trusted comment that names the file, release and product.
//!
//! A signature that verifies proves only that some trusted key signed these bytes once. The
//! trusted comment is what ties them to a place: without it, a bundle of an old release, or
//! another kind's bundle of this one, would pass under any name.

use super::{Expectations, Problem, Reason};
use crate::manifest::SignedFile;
use crate::sign::{self, KeyId, PublicKey, SignError, Verified};

/// The keys a signature may come from: the trusted ones, less the revoked.
fn trusted(expect: &Expectations) -> Vec<PublicKey> {
    let revoked = |key: &&PublicKey| expect.revoked.contains(&key.key_id());
    expect
        .keys
        .iter()
        .filter(|k| !revoked(k))
        .cloned()
        .collect()
}

/// Why a signature failed, as a reason about the signed file.
fn reason(error: SignError, expect: &Expectations, signature: &str) -> Reason {
    match error {
        SignError::UntrustedKey { key_id } if expect.revoked.contains(&key_id) => {
            Reason::Revoked { key_id }
        }
        SignError::UntrustedKey { key_id } => Reason::Untrusted { key_id },
        SignError::SignatureMismatch { key_id } => Reason::SignatureMismatch { key_id },
        SignError::TrustedCommentMismatch { key_id } => Reason::TrustedCommentAltered { key_id },
        SignError::ParseSignature { source } => Reason::BadSignature {
            detail: source.to_string(),
            signature: signature.to_owned(),
        },
        other => Reason::BadSignature {
            detail: other.to_string(),
            signature: signature.to_owned(),
        },
    }
}

/// The signature file's text, or why it is not text.
fn text<'a>(sig: &'a [u8], signature: &str) -> Result<&'a str, Reason> {
    std::str::from_utf8(sig).map_err(|_| Reason::BadSignature {
        detail: "it is not UTF-8 text".into(),
        signature: signature.to_owned(),
    })
}

/// Checks the detached signature of `file` (`sig`, the bytes of `file.sig`, or `None` where
/// it is missing) and gives what it vouches for, or records why it vouches for nothing.
pub(super) fn check_detached(
    file: &str,
    message: &[u8],
    sig: Option<&[u8]>,
    expect: &Expectations,
    problems: &mut Vec<Problem>,
) -> Option<Verified> {
    let signature = format!("{file}.sig");
    let Some(sig) = sig else {
        problems.push(Problem::new(file, Reason::Unsigned { signature }));
        return None;
    };
    let verified = text(sig, &signature).and_then(|text| {
        sign::verify_detached(&trusted(expect), message, text)
            .map_err(|error| reason(error, expect, &signature))
    });
    verified
        .map_err(|reason| problems.push(Problem::new(file, reason)))
        .ok()
}

/// Checks an embedded signature (`SHA256SUMS.sig`) and gives its key and the signed text,
/// the only text of the file to trust.
pub(super) fn check_embedded(
    file: &str,
    sig: &[u8],
    expect: &Expectations,
    problems: &mut Vec<Problem>,
) -> Option<(KeyId, String)> {
    let verified = text(sig, file).and_then(|text| {
        sign::verify_embedded(&trusted(expect), text).map_err(|error| reason(error, expect, file))
    });
    verified
        .map_err(|reason| problems.push(Problem::new(file, reason)))
        .ok()
}

/// What a trusted comment must say, beyond the file's name.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(super) enum Vouch<'a> {
    /// The file of this release of this product: the manifest says which.
    Release {
        product: &'a str,
        release: &'a str,
        sequence: u64,
    },
    /// The file of whatever release the comment names, of the product, where one is expected.
    Product(Option<&'a str>),
}

/// Checks that a trusted comment names `file` and, as `vouch` asks, the release, and gives
/// the record it holds.
pub(super) fn check_comment(
    file: &str,
    verified: &Verified,
    vouch: &Vouch<'_>,
    problems: &mut Vec<Problem>,
) -> Option<SignedFile> {
    let Ok(signed) = serde_json::from_str::<SignedFile>(&verified.trusted_comment) else {
        let comment = verified.trusted_comment.clone();
        problems.push(Problem::new(file, Reason::UnnamedSignature { comment }));
        return None;
    };
    if signed.file != file {
        let (expected, found) = (file.to_owned(), signed.file.clone());
        problems.push(Problem::new(
            file,
            Reason::SignedAsOther { expected, found },
        ));
    }
    if let Some(reason) = other_release(&signed, vouch) {
        problems.push(Problem::new(file, reason));
    }
    Some(signed)
}

/// Why a trusted comment's release or product is not the one expected, if it is not.
fn other_release(signed: &SignedFile, vouch: &Vouch<'_>) -> Option<Reason> {
    match *vouch {
        Vouch::Release {
            product,
            release,
            sequence,
        } => {
            let same = (
                signed.product.as_str(),
                signed.release.as_str(),
                signed.sequence,
            ) == (product, release, sequence);
            (!same).then(|| Reason::SignedForOther {
                expected: describe(product, release, sequence),
                found: describe(&signed.product, &signed.release, signed.sequence),
            })
        }
        Vouch::Product(Some(product)) if signed.product != product => Some(Reason::Product {
            expected: product.to_owned(),
            found: signed.product.clone(),
        }),
        Vouch::Product(_) => None,
    }
}

/// A release as messages name it: release `RU26-001` (sequence 1) of `Example`.
pub(super) fn describe(product: &str, release: &str, sequence: u64) -> String {
    format!("release `{release}` (sequence {sequence}) of `{product}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::{SigningKey, TrustedComment, sign_detached, sign_embedded};
    use crate::verify::fixture::{expect, key};

    fn signed(file: &str, release: &str) -> String {
        SignedFile {
            file: file.into(),
            product: "P".into(),
            release: release.into(),
            sequence: 3,
        }
        .to_comment()
    }

    fn detached(key: &SigningKey, message: &[u8], comment: &str) -> Vec<u8> {
        let comment = TrustedComment::new(comment).expect("a one-line comment");
        sign_detached(key, message, &comment).into_bytes()
    }

    fn reasons(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_signature_by_a_trusted_key_vouches_for_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = detached(&key, b"zip", &signed("a.zip", "R"));
        let mut problems = Vec::new();
        let verified = check_detached("a.zip", b"zip", Some(&sig), &expect(&[&key]), &mut problems)
            .expect("verified");
        assert_eq!(verified.key_id, key.key_id());
        let vouch = Vouch::Release {
            product: "P",
            release: "R",
            sequence: 3,
        };
        check_comment("a.zip", &verified, &vouch, &mut problems).expect("a record");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_missing_signature_leaves_the_file_unsigned() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let mut problems = Vec::new();
        assert!(check_detached("a.zip", b"zip", None, &expect(&[&key]), &mut problems).is_none());
        assert_eq!(
            reasons(&problems),
            ["`a.zip` has no signature: `a.zip.sig` is missing"]
        );
    }

    #[test]
    fn a_signature_by_another_key_is_not_trusted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (trusted, other) = (key(dir.path(), "t"), key(dir.path(), "o"));
        let sig = detached(&other, b"zip", &signed("a.zip", "R"));
        let mut problems = Vec::new();
        check_detached(
            "a.zip",
            b"zip",
            Some(&sig),
            &expect(&[&trusted]),
            &mut problems,
        );
        assert_eq!(
            reasons(&problems),
            [format!(
                "`a.zip` has not been signed by a trusted key and cannot be imported \
                 (it names key `{}`)",
                other.key_id()
            )]
        );
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_trusted() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = detached(&key, b"zip", &signed("a.zip", "R"));
        let mut expect = expect(&[&key]);
        expect.revoked.push(key.key_id());
        let mut problems = Vec::new();
        check_detached("a.zip", b"zip", Some(&sig), &expect, &mut problems);
        assert_eq!(
            reasons(&problems),
            [format!(
                "`a.zip` is signed by revoked key `{}` and cannot be imported",
                key.key_id()
            )]
        );
    }

    #[test]
    fn altered_bytes_do_not_match_their_signature() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = detached(&key, b"zip", &signed("a.zip", "R"));
        let mut problems = Vec::new();
        check_detached("a.zip", b"zap", Some(&sig), &expect(&[&key]), &mut problems);
        assert_eq!(
            reasons(&problems),
            [format!(
                "`a.zip` does not match its signature by key `{}`: it was altered after signing",
                key.key_id()
            )]
        );
    }

    #[test]
    fn a_signature_moved_to_another_file_or_release_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = detached(&key, b"zip", &signed("b.zip", "OLD"));
        let mut problems = Vec::new();
        let verified = check_detached("a.zip", b"zip", Some(&sig), &expect(&[&key]), &mut problems)
            .expect("the signature itself is good");
        let vouch = Vouch::Release {
            product: "P",
            release: "R",
            sequence: 3,
        };
        check_comment("a.zip", &verified, &vouch, &mut problems);
        assert_eq!(
            reasons(&problems),
            [
                "`a.zip` is signed as `b.zip`, not as `a.zip`",
                "`a.zip` is signed for release `OLD` (sequence 3) of `P`, not for release `R` \
                 (sequence 3) of `P`"
            ]
        );
    }

    #[test]
    fn a_comment_that_is_not_a_record_names_no_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = detached(&key, b"zip", "timestamp:1 file:a.zip");
        let mut problems = Vec::new();
        let verified = check_detached("a.zip", b"zip", Some(&sig), &expect(&[&key]), &mut problems)
            .expect("the signature itself is good");
        assert!(check_comment("a.zip", &verified, &Vouch::Product(None), &mut problems).is_none());
        assert_eq!(
            reasons(&problems),
            [
                "`a.zip` is signed with a trusted comment that names no release file: \
              `timestamp:1 file:a.zip`"
            ]
        );
    }

    #[test]
    fn an_expected_product_must_be_the_signed_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = detached(&key, b"zip", &signed("a.zip", "R"));
        let mut problems = Vec::new();
        let verified = check_detached("a.zip", b"zip", Some(&sig), &expect(&[&key]), &mut problems)
            .expect("verified");
        check_comment(
            "a.zip",
            &verified,
            &Vouch::Product(Some("Q")),
            &mut problems,
        );
        assert_eq!(reasons(&problems), ["`a.zip` is for product `P`, not `Q`"]);
    }

    #[test]
    fn embedded_signatures_give_the_signed_text_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let sig = sign_embedded(&key, "SHA256 (a) = 00\n").into_bytes();
        let mut problems = Vec::new();
        let (key_id, text) =
            check_embedded("S.sig", &sig, &expect(&[&key]), &mut problems).expect("verified");
        assert_eq!((key_id, text.as_str()), (key.key_id(), "SHA256 (a) = 00\n"));

        let mut altered = sig.clone();
        *altered.last_mut().expect("not empty") = b' ';
        assert!(check_embedded("S.sig", &altered, &expect(&[&key]), &mut problems).is_none());
        assert_eq!(problems.len(), 1);
        assert!(matches!(
            problems[0].reason,
            Reason::SignatureMismatch { .. }
        ));
    }

    #[test]
    fn a_signature_that_is_not_text_cannot_be_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = key(dir.path(), "k");
        let mut problems = Vec::new();
        check_detached(
            "a.zip",
            b"zip",
            Some(&[0xff, 0xfe]),
            &expect(&[&key]),
            &mut problems,
        );
        assert_eq!(
            reasons(&problems),
            ["`a.zip` has a signature `a.zip.sig` that cannot be read: it is not UTF-8 text"]
        );
    }
}
