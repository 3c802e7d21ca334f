//! A release folder checked whole: the signed checksum list against every file in the
//! folder, the signed manifest against every bundle, and every signature against the key the
//! manifest names.
//!
//! The order matters only for what is read when. The small signed texts come first
//! (`SHA256SUMS.sig`, `SHA256SUMS`, `manifest.json` and its signature), since they say what
//! else to expect; then the bundles, each read once and checked in parallel; then the files
//! that are only hashed, as streams. The checksum list is compared last, against the digests
//! all of those gave.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;

use super::bundle::{self, Checked};
use super::history::{self, Target};
use super::signature::{self, Vouch};
use super::{
    Capped, Expectations, MAX_TEXT_BYTES, Problem, Reason, Report, VerifyError, read_capped,
};
use crate::digest::{Sha256, sha256, sha256_file};
use crate::manifest::{CHECKSUMS_NAME, FORMAT, MANIFEST_NAME, Manifest, parse_checksums};
use crate::sign::KeyId;

/// The embedded signature over the checksum list.
const CHECKSUMS_SIG: &str = "SHA256SUMS.sig";

/// A release folder being checked: what it holds, and what has been found so far.
struct Folder<'a> {
    /// Every name in the folder: its size where it is a regular file, `None` otherwise.
    entries: BTreeMap<String, Option<u64>>,
    dir: &'a Path,
    /// The digest of every file read so far.
    digests: BTreeMap<String, Sha256>,
    expect: &'a Expectations,
    report: Report,
    /// Each signed file and the trusted key that signed it.
    signers: Vec<(String, KeyId)>,
}

/// Checks a release folder as an importer must before importing it: see the module
/// documentation of `verify` for what is checked. Fails only where the job cannot be done
/// (the folder cannot be listed, a file cannot be read); everything wrong with the release
/// is a problem in the report.
pub fn verify_release(dir: &Path, expect: &Expectations) -> Result<Report, VerifyError> {
    let mut folder = Folder::list(dir, expect)?;
    let listed = folder.checksums()?;
    let manifest = folder.manifest()?;
    if let (Some(manifest), Some(digest)) = (&manifest, folder.report.manifest_sha256) {
        folder.bundles(manifest)?;
        folder.key_ids(manifest);
        folder.history(manifest, digest)?;
    }
    if let Some(listed) = listed {
        folder.hash_listed(&listed)?;
        folder.compare(&listed);
    }
    folder.report.manifest = manifest;
    Ok(folder.report.finish())
}

impl<'a> Folder<'a> {
    /// Lists the folder. Anything but a regular file is a problem: a symbolic link could
    /// point anywhere, and an importer copies files, not links.
    fn list(dir: &'a Path, expect: &'a Expectations) -> Result<Folder<'a>, VerifyError> {
        let read_error = |source| VerifyError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut folder = Folder {
            entries: BTreeMap::new(),
            dir,
            digests: BTreeMap::new(),
            expect,
            report: Report::default(),
            signers: Vec::new(),
        };
        for entry in std::fs::read_dir(dir).map_err(read_error)? {
            let entry = entry.map_err(read_error)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let metadata = std::fs::symlink_metadata(entry.path()).map_err(read_error)?;
            let size = metadata.file_type().is_file().then_some(metadata.len());
            if size.is_none() {
                folder.problem(&name, Reason::NotRegular);
            }
            folder.entries.insert(name, size);
        }
        Ok(folder)
    }

    fn problem(&mut self, file: &str, reason: Reason) {
        self.report.problems.push(Problem::new(file, reason));
    }

    /// Reads a small file of the folder whole, and records its digest; records a problem
    /// where it is missing or too large.
    fn read_text(&mut self, name: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        match self.entries.get(name) {
            None => self.problem(name, Reason::Missing),
            Some(None) => {}
            Some(Some(_)) => {
                let path = self.dir.join(name);
                let read = read_capped(&path, MAX_TEXT_BYTES)
                    .map_err(|source| VerifyError::Read { path, source })?;
                match read {
                    Capped::Bytes(bytes) => {
                        self.digests.insert(name.to_owned(), sha256(&bytes));
                        return Ok(Some(bytes));
                    }
                    Capped::Missing => self.problem(name, Reason::Missing),
                    Capped::Oversized(size) => {
                        let limit = MAX_TEXT_BYTES;
                        self.problem(name, Reason::Oversized { limit, size });
                    }
                }
            }
        }
        Ok(None)
    }

    /// The checksum list signed in `SHA256SUMS.sig`, where a trusted key signed it; and
    /// `SHA256SUMS` compared with it.
    fn checksums(&mut self) -> Result<Option<Vec<(String, Sha256)>>, VerifyError> {
        let Some(sig) = self.read_text(CHECKSUMS_SIG)? else {
            return Ok(None);
        };
        let problems = &mut self.report.problems;
        let signed = signature::check_embedded(CHECKSUMS_SIG, &sig, self.expect, problems);
        let beside = self.read_text(CHECKSUMS_NAME)?;
        let Some((key_id, text)) = signed else {
            return Ok(None);
        };
        self.signers.push((CHECKSUMS_SIG.to_owned(), key_id));
        if beside.is_some_and(|bytes| bytes != text.as_bytes()) {
            self.problem(CHECKSUMS_NAME, Reason::ChecksumsDiffer);
        }
        match parse_checksums(&text) {
            Ok(listed) => Ok(Some(listed)),
            Err(detail) => {
                self.problem(CHECKSUMS_SIG, Reason::BadChecksums { detail });
                Ok(None)
            }
        }
    }

    /// The manifest, where it can be read, and the digest of its bytes in the report; its
    /// signature, format, product and development flag checked.
    fn manifest(&mut self) -> Result<Option<Manifest>, VerifyError> {
        let Some(bytes) = self.read_text(MANIFEST_NAME)? else {
            return Ok(None);
        };
        self.report.manifest_sha256 = Some(sha256(&bytes));
        let sig_name = format!("{MANIFEST_NAME}.sig");
        let sig = match self.entries.get(&sig_name) {
            Some(_) => self.read_text(&sig_name)?,
            None => None,
        };
        let problems = &mut self.report.problems;
        let verified =
            signature::check_detached(MANIFEST_NAME, &bytes, sig.as_deref(), self.expect, problems);
        let manifest = match parse_manifest(&bytes) {
            Ok(manifest) => manifest,
            Err(reason) => {
                self.problem(MANIFEST_NAME, reason);
                return Ok(None);
            }
        };
        if let Some(verified) = verified {
            let vouch = vouch(&manifest);
            let problems = &mut self.report.problems;
            signature::check_comment(MANIFEST_NAME, &verified, &vouch, problems);
            self.signers
                .push((MANIFEST_NAME.to_owned(), verified.key_id));
            self.report.key_id = Some(verified.key_id);
        }
        self.expected(&manifest);
        self.report.release = Some(manifest.release.clone());
        self.report.sequence = Some(manifest.sequence);
        Ok(Some(manifest))
    }

    /// Checks what the importer expects of any release: its product, and no development key
    /// unless development keys are accepted.
    fn expected(&mut self, manifest: &Manifest) {
        if let Some(product) = &self.expect.product
            && *product != manifest.product
        {
            let found = manifest.product.clone();
            let expected = product.clone();
            self.problem(MANIFEST_NAME, Reason::Product { expected, found });
        }
        if manifest.signing.development && !self.expect.allow_development {
            self.problem(MANIFEST_NAME, Reason::Development);
        }
    }

    /// Checks every bundle the manifest lists, in parallel, and every zip file it does not.
    fn bundles(&mut self, manifest: &Manifest) -> Result<(), VerifyError> {
        let vouch = vouch(manifest);
        let mut records = Vec::new();
        let mut seen = BTreeSet::new();
        for record in &manifest.bundles {
            if let Some(reason) = bundle::misnamed(record) {
                self.problem(MANIFEST_NAME, reason);
            }
            if !seen.insert(record.file.as_str()) {
                let file = record.file.clone();
                self.problem(MANIFEST_NAME, Reason::ListedTwice { file });
                continue;
            }
            // Only the folder's own regular files are read: a name with a path in it is
            // never joined to the folder, and a link is never followed.
            match self.entries.get(&record.file) {
                Some(Some(_)) => records.push(record),
                Some(None) => {}
                None if is_bare(&record.file) => self.problem(&record.file, Reason::Missing),
                None => {}
            }
        }
        let checked: Vec<Checked> = records
            .par_iter()
            .map(|record| bundle::check_listed(self.dir, record, &vouch, self.expect))
            .collect::<Result<_, _>>()?;
        for (record, checked) in records.iter().zip(checked) {
            self.merge(&record.file, checked);
        }
        self.report.bundles = records.len();
        let listed: BTreeSet<&str> = manifest.bundles.iter().map(|b| b.file.as_str()).collect();
        let strays: Vec<String> = (self.entries.keys())
            .filter(|name| name.ends_with(".zip") && !listed.contains(name.as_str()))
            .cloned()
            .collect();
        for name in strays {
            self.problem(&name, Reason::NotInManifest);
        }
        Ok(())
    }

    /// Takes in what checking one bundle found.
    fn merge(&mut self, name: &str, checked: Checked) {
        self.digests.extend(checked.digests);
        self.report.problems.extend(checked.problems);
        self.report.rules += checked.rules;
        if let Some(key_id) = checked.signer {
            self.signers.push((name.to_owned(), key_id));
        }
    }

    /// Checks that every signature is by the key the manifest names: a release is signed by
    /// one key, and a file signed by another trusted key was put there by someone else.
    fn key_ids(&mut self, manifest: &Manifest) {
        let named = &manifest.signing.key_id;
        let Ok(expected) = named.parse::<KeyId>() else {
            let detail = format!("its key id `{named}` is not 16 hex digits");
            self.problem(MANIFEST_NAME, Reason::BadManifest { detail });
            return;
        };
        let others: Vec<(String, KeyId)> = (self.signers.iter())
            .filter(|(_, signed)| *signed != expected)
            .cloned()
            .collect();
        for (file, signed) in others {
            let named = named.clone();
            self.problem(&file, Reason::KeyMismatch { named, signed });
        }
    }

    /// Checks the release against the installed one and the feed's `latest.json`.
    fn history(&mut self, manifest: &Manifest, digest: Sha256) -> Result<(), VerifyError> {
        let target = Target::of(manifest, digest);
        let problems = history::check(&target, self.expect)?;
        self.report.problems.extend(problems);
        Ok(())
    }

    /// Hashes, as streams and in parallel, the listed files not read for another reason.
    fn hash_listed(&mut self, listed: &[(String, Sha256)]) -> Result<(), VerifyError> {
        let pending: Vec<&str> = (listed.iter())
            .map(|(name, _)| name.as_str())
            .filter(|name| !self.digests.contains_key(*name))
            .filter(|name| matches!(self.entries.get(*name), Some(Some(_))))
            .collect();
        let hashed: Vec<(String, Sha256)> = pending
            .par_iter()
            .map(|name| {
                let path = self.dir.join(name);
                match sha256_file(&path) {
                    Ok(digest) => Ok((name.to_string(), digest)),
                    Err(source) => Err(VerifyError::Read { path, source }),
                }
            })
            .collect::<Result<_, _>>()?;
        self.digests.extend(hashed);
        Ok(())
    }

    /// Compares the signed checksum list with the folder: every listed file present, once,
    /// with its digest; no file unlisted but the list and its signature.
    fn compare(&mut self, listed: &[(String, Sha256)]) {
        let mut seen = BTreeSet::new();
        for (name, digest) in listed {
            if !seen.insert(name.as_str()) {
                let file = name.clone();
                self.problem(CHECKSUMS_SIG, Reason::ListedTwice { file });
                continue;
            }
            match (self.entries.get(name), self.digests.get(name)) {
                (None, _) => self.problem(name, Reason::Missing),
                (Some(_), Some(found)) if found != digest => {
                    self.problem(name, Reason::DigestMismatch)
                }
                _ => {}
            }
        }
        let unlisted: Vec<String> = (self.entries.keys())
            .filter(|name| !seen.contains(name.as_str()))
            .filter(|name| ![CHECKSUMS_NAME, CHECKSUMS_SIG].contains(&name.as_str()))
            .cloned()
            .collect();
        for name in unlisted {
            self.problem(&name, Reason::Unlisted);
        }
    }
}

/// What every detached signature of the release must vouch for.
fn vouch(manifest: &Manifest) -> Vouch<'_> {
    Vouch::Release {
        product: &manifest.product,
        release: &manifest.release,
        sequence: manifest.sequence,
    }
}

/// Whether a name is a plain file name, with no path in it.
fn is_bare(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\']) && !name.starts_with('.')
}

/// Parses a manifest, reading its format first: a manifest of another format may differ in
/// any other key, and saying so is more use than naming the first key that differs.
pub(super) fn parse_manifest(bytes: &[u8]) -> Result<Manifest, Reason> {
    #[derive(Deserialize)]
    struct Format {
        format: u32,
    }
    let bad = |error: serde_json::Error| Reason::BadManifest {
        detail: error.to_string(),
    };
    let found = serde_json::from_slice::<Format>(bytes).map_err(bad)?.format;
    if found != FORMAT {
        let expected = FORMAT;
        return Err(Reason::Format { expected, found });
    }
    serde_json::from_slice(bytes).map_err(bad)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::manifest::SignedFile;
    use crate::sign::{TrustedComment, sign_detached};
    use crate::verify::fixture::{self, Built, expect};

    fn lines(built: &Built, expect: &Expectations) -> Vec<String> {
        let report = verify_release(&built.release, expect).expect("verified");
        report.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_release_as_build_writes_it_is_accepted() {
        let built = fixture::release();
        let report = verify_release(&built.release, &expect(&[&built.key])).expect("verified");
        assert!(report.accepted(), "{:?}", report.problems);
        assert_eq!(report.release.as_deref(), Some("RU26-001"));
        assert_eq!(report.sequence, Some(1));
        assert_eq!((report.bundles, report.rules), (1, 1));
        assert_eq!(report.key_id, Some(built.key.key_id()));
        let manifest = report.manifest.expect("the manifest");
        assert_eq!(manifest.release, "RU26-001");
        let bytes = fs::read(built.release.join(MANIFEST_NAME)).expect("manifest bytes");
        assert_eq!(report.manifest_sha256, Some(sha256(&bytes)));
    }

    #[test]
    fn an_untrusted_key_leaves_nothing_trusted() {
        let built = fixture::release();
        let stranger = fixture::key(built.dir.path(), "stranger");
        let id = built.key.key_id();
        let untrusted = format!(
            "has not been signed by a trusted key and cannot be imported (it names key `{id}`)"
        );
        assert_eq!(
            lines(&built, &expect(&[&stranger])),
            [
                format!("`SHA256SUMS.sig` {untrusted}"),
                format!("`firewall.zip` {untrusted}"),
                format!("`manifest.json` {untrusted}"),
            ]
        );
    }

    #[test]
    fn files_unlisted_missing_or_not_regular_are_refused() {
        let built = fixture::release();
        fs::write(built.release.join("extra.txt"), "hello").expect("extra file");
        fs::remove_file(built.release.join("RELEASE-NOTES.md")).expect("remove notes");
        std::os::unix::fs::symlink("/etc/passwd", built.release.join("link")).expect("link");
        assert_eq!(
            lines(&built, &expect(&[&built.key])),
            [
                "`RELEASE-NOTES.md` is missing",
                "`extra.txt` is not listed in `SHA256SUMS`",
                "`link` is not a regular file",
                "`link` is not listed in `SHA256SUMS`",
            ]
        );
    }

    #[test]
    fn only_the_signed_checksum_list_is_trusted() {
        let built = fixture::release();
        let path = built.release.join(CHECKSUMS_NAME);
        let text = fs::read_to_string(&path).expect("SHA256SUMS");
        fs::write(&path, text.replace("SHA256 (RELEASE", "SHA256 (NOTES")).expect("edit");
        assert_eq!(
            lines(&built, &expect(&[&built.key])),
            [
                "`SHA256SUMS` differs from the text signed in `SHA256SUMS.sig`, which alone is \
              trusted"
            ]
        );
    }

    #[test]
    fn an_altered_file_fails_its_digest() {
        let built = fixture::release();
        let path = built.release.join("release-notes.json");
        let mut bytes = fs::read(&path).expect("notes");
        bytes[0] ^= 1;
        fs::write(&path, bytes).expect("alter notes");
        assert_eq!(
            lines(&built, &expect(&[&built.key])),
            ["`release-notes.json` does not match its digest in `SHA256SUMS`: it was altered"]
        );
    }

    #[test]
    fn every_signature_must_be_by_the_key_the_manifest_names() {
        let built = fixture::release();
        let other = fixture::key(built.dir.path(), "other");
        let bundle = fs::read(built.release.join("firewall.zip")).expect("bundle");
        let comment = SignedFile {
            file: "firewall.zip".into(),
            product: "Example".into(),
            release: "RU26-001".into(),
            sequence: 1,
        };
        let comment = TrustedComment::new(comment.to_comment()).expect("comment");
        let signature = sign_detached(&other, &bundle, &comment);
        fs::write(built.release.join("firewall.zip.sig"), signature).expect("re-sign");
        let found = lines(&built, &expect(&[&built.key, &other]));
        assert_eq!(
            found,
            [
                format!(
                    "`firewall.zip` is signed by key `{}`, and `manifest.json` names key `{}`",
                    other.key_id(),
                    built.key.key_id()
                ),
                "`firewall.zip.sig` does not match its digest in `SHA256SUMS`: it was altered"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn the_manifest_must_list_each_bundle_once_under_its_kinds_name() {
        let built = fixture::release();
        let mut manifest = fixture::read_manifest(&built.release);
        let record = manifest.bundles[0].clone();
        manifest.bundles.push(record.clone());
        let mut misnamed = record;
        misnamed.file = "../firewall.zip".into();
        manifest.bundles.push(misnamed);
        fixture::reseal(&built.release, &manifest, &built.key);
        assert_eq!(
            lines(&built, &expect(&[&built.key])),
            [
                "`manifest.json` lists `firewall.zip` more than once",
                "`manifest.json` lists the `firewall` bundle as `../firewall.zip`, and it is named \
                 `firewall.zip`",
            ]
        );
    }

    #[test]
    fn counts_that_differ_from_the_index_are_refused() {
        let built = fixture::release();
        let mut manifest = fixture::read_manifest(&built.release);
        manifest.bundles[0].rules.total = 2;
        fixture::reseal(&built.release, &manifest, &built.key);
        assert_eq!(
            lines(&built, &expect(&[&built.key])),
            [
                "`firewall.zip` holds 1 rule(s) (1 enabled, 0 disabled), and `manifest.json` \
                 counts 2 rule(s) (1 enabled, 0 disabled)"
            ]
        );
    }

    #[test]
    fn a_manifest_of_another_format_says_so() {
        let reason = parse_manifest(br#"{"format": 2, "whatever": true}"#).expect_err("format 2");
        assert_eq!(
            reason.to_string(),
            "has format 2, and this rulecut reads format 1"
        );
        let reason = parse_manifest(b"[]").expect_err("not an object");
        assert!(matches!(reason, Reason::BadManifest { .. }));
    }

    #[test]
    fn bare_names_have_no_path() {
        assert!(is_bare("firewall.zip"));
        for name in ["", "../firewall.zip", "a/b.zip", ".hidden.zip", "a\\b.zip"] {
            assert!(!is_bare(name), "{name:?}");
        }
    }
}
