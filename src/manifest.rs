//! `manifest.json`, `SHA256SUMS` and `latest.json`: what a release is, in the manifest stage.
//!
//! The signed manifest is the truth about a release: its id and global sequence, when and why
//! it was cut, the release it follows (by id, sequence and manifest digest: a hash chain), the
//! key that signed it, every source's commit or tree digest and every bundle's size, digest
//! and rule counts. `SHA256SUMS` lists every other file of the release folder in the BSD tag
//! format, the one format both `sha256sum -c` and `signify -C` accept.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Sha256;
use crate::package::RuleCounts;
use crate::rules::Kind;

/// The manifest format this version writes and reads.
pub const FORMAT: u32 = 1;

pub const MANIFEST_NAME: &str = "manifest.json";
pub const CHECKSUMS_NAME: &str = "SHA256SUMS";
pub const LATEST_NAME: &str = "latest.json";

/// Why a release was cut.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Trigger {
    /// An out-of-band release, with the reason given for it.
    Emergency {
        reason: String,
    },
    Manual,
    /// A release rolled forward to the rules of an earlier one.
    Revert {
        reason: Option<String>,
        to: String,
    },
    /// The release of a scheduled slot.
    Scheduled {
        #[serde(with = "rfc3339")]
        slot: DateTime<Utc>,
    },
}

impl Trigger {
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Emergency { .. } => "emergency",
            Trigger::Manual => "manual",
            Trigger::Revert { .. } => "revert",
            Trigger::Scheduled { .. } => "scheduled",
        }
    }
}

/// The release a release follows: the link of the hash chain.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Previous {
    pub manifest_sha256: Sha256,
    pub release: String,
    pub sequence: u64,
}

#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Signing {
    /// True where the release was signed with a development key, which importers refuse
    /// unless told otherwise.
    pub development: bool,
    pub key_id: String,
}

#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct SourceRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    pub kind: Kind,
    /// The minimum agent version `release.yaml` gives the source's rules that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_agent_version: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_sha256: Option<Sha256>,
}

#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct BundleRecord {
    pub file: String,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_agent_version: Option<String>,
    pub rules: RuleCounts,
    pub sha256: Sha256,
    pub size: u64,
}

/// How many rules of a kind a release added, updated and removed against the release before
/// it. Recorded so that the guards can tell from the manifests alone which releases removed
/// rules, and read only those releases' neighbours' bundle indexes.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct ChangeCounts {
    pub new: usize,
    pub removed: usize,
    pub updated: usize,
}

#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// `manifest.json`. The first keys identify the release, in the order people read them;
/// the rest are alphabetical.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Manifest {
    pub format: u32,
    pub release: String,
    pub sequence: u64,
    #[serde(with = "rfc3339")]
    pub created: DateTime<Utc>,
    pub trigger: Trigger,
    pub previous: Option<Previous>,
    pub bundles: Vec<BundleRecord>,
    /// The changes per kind against the previous release. `None` in manifests written before
    /// rulecut recorded them, which readers must treat as "unknown", not "nothing changed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<BTreeMap<Kind, ChangeCounts>>,
    /// The guards whose refusal this release overrode, by name, such as `mass-removal`.
    pub guards_overridden: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_manager_version: Option<String>,
    pub product: String,
    pub signing: Signing,
    pub sources: Vec<SourceRecord>,
    pub tool: Tool,
    /// The release's number within its year, the `{seq}` of its id.
    pub year_sequence: u32,
}

impl Manifest {
    /// The manifest's bytes as written: pretty JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("a manifest always converts to JSON");
        bytes.push(b'\n');
        bytes
    }
}

/// `latest.json`: the newest release, re-signed at every slot so that a frozen feed can be
/// told from a quiet week.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Latest {
    #[serde(with = "rfc3339")]
    pub expires: DateTime<Utc>,
    pub format: u32,
    #[serde(with = "rfc3339")]
    pub issued: DateTime<Utc>,
    pub manifest_sha256: Sha256,
    pub product: String,
    pub release: String,
    pub sequence: u64,
}

impl Latest {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("latest.json always converts to JSON");
        bytes.push(b'\n');
        bytes
    }
}

/// What a detached signature's trusted comment says: the signed file is `file` of release
/// `release` (sequence `sequence`) of `product`, so that it cannot be passed off as another.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct SignedFile {
    pub file: String,
    pub product: String,
    pub release: String,
    pub sequence: u64,
}

impl SignedFile {
    /// The trusted comment: one line of JSON.
    pub fn to_comment(&self) -> String {
        serde_json::to_string(self).expect("a signed file record always converts to JSON")
    }
}

/// `SHA256SUMS`: one BSD tag line per file, `SHA256 (name) = hex`, sorted by name.
pub fn checksums(files: &[(String, Sha256)]) -> String {
    let mut sorted: Vec<&(String, Sha256)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text = String::new();
    for (name, digest) in sorted {
        writeln!(text, "SHA256 ({name}) = {digest}").expect("writing to a string cannot fail");
    }
    text
}

/// Reads `SHA256SUMS` text back into names and digests, refusing anything but bare names.
pub fn parse_checksums(text: &str) -> Result<Vec<(String, Sha256)>, String> {
    let mut files = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let bad = || format!("line {} is not `SHA256 (name) = hex`", number + 1);
        let rest = line.strip_prefix("SHA256 (").ok_or_else(bad)?;
        let (name, hex) = rest.rsplit_once(") = ").ok_or_else(bad)?;
        let digest: Sha256 = hex.parse().map_err(|_| bad())?;
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(format!(
                "line {} names `{name}`, which is not a bare file name",
                number + 1
            ));
        }
        files.push((name.to_owned(), digest));
    }
    Ok(files)
}

/// Times as RFC 3339 in UTC to the second, such as `2026-12-01T09:00:00Z`, for serde.
pub mod rfc3339 {
    use super::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// A time as manifests write it.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256;

    #[test]
    fn checksums_are_bsd_tag_lines_sorted_by_name() {
        let files = vec![
            ("b.zip".to_owned(), sha256(b"b")),
            ("a.zip".to_owned(), sha256(b"a")),
        ];
        let text = checksums(&files);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("SHA256 (a.zip) = {}", sha256(b"a")));
        assert!(lines[1].starts_with("SHA256 (b.zip) = "));
        assert!(text.ends_with('\n'));
        assert_eq!(parse_checksums(&text).expect("parsed").len(), 2);
    }

    #[test]
    fn checksums_with_paths_or_bad_lines_are_refused() {
        let digest = sha256(b"x");
        assert!(parse_checksums(&format!("SHA256 (../x) = {digest}\n")).is_err());
        assert!(parse_checksums(&format!("SHA256 (a/x) = {digest}\n")).is_err());
        assert!(parse_checksums(&format!("{digest}  x\n")).is_err());
        assert!(parse_checksums("SHA256 (x) = 00\n").is_err());
    }

    #[test]
    fn manifests_lead_with_their_identity_and_round_trip() {
        let manifest = Manifest {
            changes: Some(BTreeMap::new()),
            trigger: Trigger::Emergency {
                reason: "CVE-2026-0001".into(),
            },
            ..crate::verify::fixture::manifest("RU26-001", 1, None)
        };
        let text = String::from_utf8(manifest.to_bytes()).expect("UTF-8");
        let identity = [
            "format", "release", "sequence", "created", "trigger", "previous", "bundles",
        ];
        let places: Vec<usize> = identity
            .iter()
            .map(|key| {
                text.find(&format!("\n  \"{key}\":"))
                    .expect("a top-level key")
            })
            .collect();
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"created\": \"2026-12-01T09:00:00Z\""));
        assert!(text.contains("\"type\": \"emergency\""));
        let back: Manifest = serde_json::from_str(&text).expect("parsed");
        assert_eq!(back, manifest);
    }

    #[test]
    fn trusted_comments_are_one_line() {
        let signed = SignedFile {
            file: "a.zip".into(),
            product: "P\nQ".into(),
            release: "R".into(),
            sequence: 3,
        };
        assert!(!signed.to_comment().contains('\n'));
    }
}
