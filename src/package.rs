//! Bundles: one reproducible zip file per kind, the package stage of the pipeline.
//!
//! A bundle holds its kind's rule files byte for byte, each under `<source>/<path>`, and
//! `index.json`, the index of the rules they hold. It is reproducible: entries sorted by the
//! bytes of their full path, no folder entries, no extra fields, every timestamp the DOS epoch
//! (1980-01-01 00:00), mode 0644 and the fixed deflate level [`DEFLATE_LEVEL`], so the same
//! inputs give the same bytes whatever the machine, folder, umask or time zone.

mod archive;

use std::io::{Cursor, Read};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zip::ZipArchive;

use archive::{Deflated, TooLarge};

use crate::digest::{Sha256, sha256};
use crate::rules::{Kind, Metadata, Mode, Rule, RuleFile};
use crate::version::AgentVersion;

/// The deflate level of every entry: zip's own default, so that bundles compare fairly with
/// what `zip` makes of the same files.
pub const DEFLATE_LEVEL: u32 = 6;

/// The version of the `index.json` format.
const INDEX_FORMAT: u32 = 1;

/// The name of the rules index inside a bundle.
pub const INDEX_NAME: &str = "index.json";

/// The largest `index.json` a reader inflates, against zip bombs.
const MAX_INDEX_BYTES: u64 = 1 << 30;

#[derive(Debug, Error)]
pub enum PackageError {
    #[error("`{file}` is not a readable bundle")]
    ReadBundle {
        file: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("`{file}` holds no readable `index.json`")]
    ReadIndex { file: String, reason: String },
    #[error("cannot write bundle `{file}`: plain zip cannot hold {limit}")]
    TooLarge { file: String, limit: &'static str },
}

/// How many rules a bundle holds.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct RuleCounts {
    pub disabled: usize,
    pub enabled: usize,
    pub total: usize,
}

/// One rule as a bundle's index lists it.
///
/// Held for every rule of a release at once, so it is kept small: the rule's content is only
/// its digest, its metadata compact JSON text, and its path shared with the other rules of
/// its file.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct IndexedRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attack: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cves: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// SHA-256 of the rule's canonical content (see `Rule::content`).
    pub digest: Sha256,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    pub id: String,
    pub line: u32,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_manager_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    pub name: String,
    /// The bundle entry the rule is in, which begins with its source's name.
    pub path: Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl IndexedRule {
    /// The index entry of a rule found in the bundle entry `path`. The rule's content is
    /// hashed and dropped, and its metadata written as JSON text: the index needs no more.
    pub fn new(rule: Rule, path: &Arc<str>) -> IndexedRule {
        IndexedRule {
            attack: rule.attack,
            cves: rule.cves,
            description: rule.description,
            digest: sha256(rule.content.as_bytes()),
            disabled: rule.disabled,
            id: rule.id,
            line: rule.location.line,
            metadata: rule.metadata,
            min_agent_version: rule.min_agent_version,
            min_manager_version: rule.min_manager_version,
            mode: rule.mode,
            name: rule.name,
            path: Arc::clone(path),
            recommended: rule.recommended,
            revision: rule.revision,
            severity: rule.severity,
        }
    }
}

/// `index.json`: the rules a bundle holds.
#[derive(Debug, Deserialize, Serialize)]
pub struct Index {
    pub format: u32,
    pub kind: Kind,
    pub rules: Vec<IndexedRule>,
}

/// A packaged bundle, held in memory once: to hash it, sign it and write it. Its rules are
/// not kept: the manifest needs only their counts and highest minimum versions.
#[derive(Debug)]
pub struct Bundle {
    pub bytes: Vec<u8>,
    pub counts: RuleCounts,
    pub kind: Kind,
    /// The highest minimum agent version of its rules.
    pub min_agent_version: Option<AgentVersion>,
    /// The highest minimum manager version of its rules.
    pub min_manager_version: Option<AgentVersion>,
    pub sha256: Sha256,
}

impl Bundle {
    pub fn file_name(&self) -> String {
        file_name(self.kind)
    }
}

/// The bundle file name of a kind, such as `firewall.zip`.
pub fn file_name(kind: Kind) -> String {
    format!("{}.zip", kind.name())
}

/// One entry of a bundle, deflated: rule files as soon as they are read, on the thread that
/// read them, and joined in order into their bundle later.
#[derive(Debug)]
pub struct Part {
    deflated: Deflated,
    name: String,
}

/// How many index entries one deflate task serializes: about a megabyte of JSON.
const INDEX_CHUNK: usize = 2048;

/// Compresses one rule file of a bundle, under its entry name.
pub fn compress(file: &RuleFile) -> Part {
    Part {
        deflated: archive::deflate(&file.bytes, DEFLATE_LEVEL),
        name: file.entry.clone(),
    }
}

/// Packages a kind's compressed rule files and the index of its rules into a bundle.
pub fn package(
    kind: Kind,
    mut parts: Vec<Part>,
    rules: Vec<IndexedRule>,
) -> Result<Bundle, PackageError> {
    parts.push(Part {
        deflated: deflate_index(kind, &rules),
        name: INDEX_NAME.to_owned(),
    });
    parts.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let entries: Vec<(String, Deflated)> =
        parts.into_iter().map(|p| (p.name, p.deflated)).collect();
    let bytes = archive::write(entries).map_err(|TooLarge(limit)| PackageError::TooLarge {
        file: file_name(kind),
        limit,
    })?;
    let highest = |version: fn(&IndexedRule) -> Option<&String>| {
        let versions = rules.iter().filter_map(version);
        versions
            .filter_map(|v| v.parse::<AgentVersion>().ok())
            .max()
    };
    Ok(Bundle {
        sha256: sha256(&bytes),
        bytes,
        counts: RuleCounts {
            disabled: rules.iter().filter(|r| r.disabled).count(),
            enabled: rules.iter().filter(|r| !r.disabled).count(),
            total: rules.len(),
        },
        kind,
        min_agent_version: highest(|r| r.min_agent_version.as_ref()),
        min_manager_version: highest(|r| r.min_manager_version.as_ref()),
    })
}

/// Writes `index.json` as compact JSON, an [`Index`] of `rules`, and deflates it: its entries
/// are serialized and deflated a chunk at a time in parallel, so that the whole JSON text is
/// never held. The head and the closing brackets are pieces of their own.
fn deflate_index(kind: Kind, rules: &[IndexedRule]) -> Deflated {
    let kind = serde_json::to_string(&kind).expect("a kind always converts to JSON");
    let head = format!("{{\"format\":{INDEX_FORMAT},\"kind\":{kind},\"rules\":[");
    let entries = rules.par_chunks(INDEX_CHUNK).enumerate().map(|(i, chunk)| {
        let mut json = Vec::with_capacity(INDEX_CHUNK * 512);
        for (n, rule) in chunk.iter().enumerate() {
            if i > 0 || n > 0 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, rule).expect("an index entry always converts");
        }
        archive::deflate_piece(&json, DEFLATE_LEVEL, false)
    });
    let mut pieces = vec![archive::deflate_piece(
        head.as_bytes(),
        DEFLATE_LEVEL,
        false,
    )];
    pieces.par_extend(entries);
    pieces.push(archive::deflate_piece(b"]}\n", DEFLATE_LEVEL, true));
    Deflated::join(pieces)
}

/// Reads the rules index of a bundle, inflating at most a bounded number of bytes.
pub fn read_index(file: &str, bytes: &[u8]) -> Result<Index, PackageError> {
    let read_error = |source| PackageError::ReadBundle {
        file: file.to_owned(),
        source,
    };
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(read_error)?;
    let entry = archive.by_name(INDEX_NAME).map_err(read_error)?;
    // Room for the size the entry declares, within the limit, so the index is not grown.
    let room = usize::try_from(entry.size().min(MAX_INDEX_BYTES)).unwrap_or(0);
    let mut json = Vec::with_capacity(room);
    let index_error = |reason: String| PackageError::ReadIndex {
        file: file.to_owned(),
        reason,
    };
    entry
        .take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| index_error(e.to_string()))?;
    if json.len() as u64 > MAX_INDEX_BYTES {
        return Err(index_error("it inflates beyond 1 GiB".into()));
    }
    serde_json::from_slice(&json).map_err(|e| index_error(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Location;

    fn file(entry: &str, text: &str) -> RuleFile {
        RuleFile {
            bytes: text.as_bytes().to_vec(),
            display: entry.into(),
            entry: entry.into(),
            source: "s".into(),
        }
    }

    fn parts(files: &[&RuleFile]) -> Vec<Part> {
        files.iter().map(|f| compress(f)).collect()
    }

    fn indexed(id: &str, f: &RuleFile) -> IndexedRule {
        let rule = Rule::new(
            Kind::Firewall,
            id.into(),
            Location::new(&f.display, 1, 1),
            id.into(),
        );
        IndexedRule::new(rule, &f.entry.as_str().into())
    }

    #[test]
    fn bundles_are_byte_identical_whatever_the_file_order() {
        let (a, b) = (file("s/a.yaml", "- a"), file("s/b/c.yaml", "- c"));
        let one = package(Kind::Firewall, parts(&[&a, &b]), vec![indexed("1", &a)]);
        let two = package(Kind::Firewall, parts(&[&b, &a]), vec![indexed("1", &a)]);
        let (one, two) = (one.expect("packaged"), two.expect("packaged"));
        assert_eq!(one.bytes, two.bytes);
        assert_eq!(one.sha256, sha256(&one.bytes));
    }

    #[test]
    fn entries_are_sorted_with_fixed_times_and_modes_and_no_folders() {
        let (a, b) = (file("s/z.yaml", "- z"), file("s/a-b.yaml", "- a"));
        let bundle = package(Kind::Firewall, parts(&[&a, &b]), Vec::new()).expect("packaged");
        let mut archive = ZipArchive::new(Cursor::new(bundle.bytes)).expect("a zip");
        let names: Vec<String> = (0..archive.len())
            .map(|i| {
                archive
                    .by_index(i)
                    .expect("an entry")
                    .name()
                    .expect("a name")
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["index.json", "s/a-b.yaml", "s/z.yaml"]);
        for i in 0..archive.len() {
            let entry = archive.by_index(i).expect("an entry");
            assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
            assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o644));
            assert!(entry.extra_data().is_none_or(|extra| extra.is_empty()));
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        }
    }

    #[test]
    fn the_index_reads_back_and_counts_disabled_rules() {
        let a = file("s/a.yaml", "- a");
        let mut off = indexed("2", &a);
        off.disabled = true;
        let rules = vec![indexed("1", &a), off];
        let bundle = package(Kind::Firewall, parts(&[&a]), rules.clone()).expect("packaged");
        assert_eq!(
            bundle.counts,
            RuleCounts {
                disabled: 1,
                enabled: 1,
                total: 2
            }
        );
        let index = read_index("firewall.zip", &bundle.bytes).expect("an index");
        assert_eq!(index.rules, rules);
        assert_eq!(index.kind, Kind::Firewall);
    }

    #[test]
    fn an_index_serialized_a_chunk_at_a_time_is_the_index_serialized_whole() {
        let a = file("s/a.yaml", "- a");
        for count in [0, 1, INDEX_CHUNK, INDEX_CHUNK + 1] {
            let rules: Vec<IndexedRule> = (0..count).map(|i| indexed(&i.to_string(), &a)).collect();
            let mut inflated = Vec::new();
            let deflated = deflate_index(Kind::Firewall, &rules);
            let stream: Vec<u8> = deflated.stream().flatten().copied().collect();
            flate2::read::DeflateDecoder::new(stream.as_slice())
                .read_to_end(&mut inflated)
                .expect("one deflate stream");
            let index = Index {
                format: INDEX_FORMAT,
                kind: Kind::Firewall,
                rules,
            };
            let mut whole = serde_json::to_vec(&index).expect("JSON");
            whole.push(b'\n');
            assert_eq!(inflated, whole, "{count} rules");
        }
    }
}
