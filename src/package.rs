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

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zip::ZipArchive;

use archive::{Deflated, TooLarge};

use crate::digest::{Sha256, sha256};
use crate::rules::{Format, Kind, Metadata, Mode, Rule, RuleFile};
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
/// Held only while its file's piece of the index is written (see [`IndexPiece`]): the rule's
/// content is only its digest, its metadata compact JSON text, and its path shared with the
/// other rules of its file.
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

/// `index.json`: the rules a bundle holds, read whole ([`IndexedRule`]) or as only what a
/// comparison needs ([`crate::diff::RuleFacts`]).
#[derive(Debug, Deserialize, Serialize)]
pub struct Index<R> {
    pub format: u32,
    pub kind: Kind,
    pub rules: Vec<R>,
}

/// What the manifest records of a packaged bundle, whose bytes [`package`] gives beside it.
/// Its rules are not kept: the manifest needs only their counts and highest minimum versions.
#[derive(Debug)]
pub struct Bundle {
    pub counts: RuleCounts,
    pub kind: Kind,
    /// The highest minimum agent version of its rules.
    pub min_agent_version: Option<AgentVersion>,
    /// The highest minimum manager version of its rules.
    pub min_manager_version: Option<AgentVersion>,
    pub size: u64,
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

/// One rule file of a bundle, deflated as soon as it is read, on the thread that read it, and
/// joined in order into its bundle later. Its format and source are kept so that the file can
/// be read again from it (see [`Part::file`]).
#[derive(Debug)]
pub struct Part {
    deflated: Deflated,
    pub format: Format,
    name: String,
    source: String,
}

impl Part {
    /// Compresses one rule file of a bundle, under its entry name.
    pub fn of(file: &RuleFile, format: Format) -> Part {
        Part {
            deflated: archive::deflate(&file.bytes, DEFLATE_LEVEL),
            format,
            name: file.entry.clone(),
            source: file.source.clone(),
        }
    }

    /// The rule file again, inflated; it is shown by its entry name.
    pub fn file(&self) -> RuleFile {
        RuleFile {
            bytes: self.deflated.inflate(),
            display: self.name.clone(),
            entry: self.name.clone(),
            source: self.source.clone(),
        }
    }
}

/// The index entries of some of a kind's rules, in order: serialized as compact JSON with a
/// comma between each two and compressed as pieces of `index.json`, with what the manifest
/// needs of those rules. Made for each file as it is read, so that a release holds its rules'
/// index entries compressed, and joined in order into the bundle's index.
#[derive(Debug, Default)]
pub struct IndexPiece {
    pieces: Vec<archive::Piece>,
    stats: IndexStats,
}

/// What the manifest says of a bundle's rules.
#[derive(Debug, Default)]
struct IndexStats {
    disabled: usize,
    min_agent_version: Option<AgentVersion>,
    min_manager_version: Option<AgentVersion>,
    total: usize,
}

impl IndexStats {
    fn add(&mut self, other: IndexStats) {
        self.disabled += other.disabled;
        self.min_agent_version = self.min_agent_version.take().max(other.min_agent_version);
        self.min_manager_version = self
            .min_manager_version
            .take()
            .max(other.min_manager_version);
        self.total += other.total;
    }
}

impl IndexPiece {
    pub fn of(rules: &[IndexedRule]) -> IndexPiece {
        if rules.is_empty() {
            return IndexPiece::default();
        }
        let mut json = Vec::with_capacity(rules.len() * 512);
        for (n, rule) in rules.iter().enumerate() {
            if n > 0 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, rule).expect("an index entry always converts");
        }
        let highest = |version: fn(&IndexedRule) -> Option<&String>| {
            let versions = rules.iter().filter_map(version);
            versions
                .filter_map(|v| v.parse::<AgentVersion>().ok())
                .max()
        };
        IndexPiece {
            pieces: archive::deflate_chunks(&json, DEFLATE_LEVEL, false),
            stats: IndexStats {
                disabled: rules.iter().filter(|r| r.disabled).count(),
                min_agent_version: highest(|r| r.min_agent_version.as_ref()),
                min_manager_version: highest(|r| r.min_manager_version.as_ref()),
                total: rules.len(),
            },
        }
    }
}

/// Packages a kind's compressed rule files and the pieces of its index, in order, into a
/// bundle.
pub fn package(
    kind: Kind,
    parts: Vec<Part>,
    index: Vec<IndexPiece>,
) -> Result<(Bundle, Vec<u8>), PackageError> {
    let (index, stats) = join_index(kind, index);
    let mut entries: Vec<(String, Deflated)> =
        parts.into_iter().map(|p| (p.name, p.deflated)).collect();
    entries.push((INDEX_NAME.to_owned(), index));
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let bytes = archive::write(entries).map_err(|TooLarge(limit)| PackageError::TooLarge {
        file: file_name(kind),
        limit,
    })?;
    let bundle = Bundle {
        counts: RuleCounts {
            disabled: stats.disabled,
            enabled: stats.total - stats.disabled,
            total: stats.total,
        },
        kind,
        min_agent_version: stats.min_agent_version,
        min_manager_version: stats.min_manager_version,
        size: bytes.len() as u64,
    };
    Ok((bundle, bytes))
}

/// `index.json` as compact JSON, an [`Index`] of the rules of `pieces`, deflated: a head, the
/// pieces with a comma between each two that hold rules, and the closing brackets.
fn join_index(kind: Kind, pieces: Vec<IndexPiece>) -> (Deflated, IndexStats) {
    let kind = serde_json::to_string(&kind).expect("a kind always converts to JSON");
    let head = format!("{{\"format\":{INDEX_FORMAT},\"kind\":{kind},\"rules\":[");
    let mut joined = vec![archive::deflate_piece(
        head.as_bytes(),
        DEFLATE_LEVEL,
        false,
    )];
    let mut stats = IndexStats::default();
    for piece in pieces.into_iter().filter(|p| p.stats.total > 0) {
        if stats.total > 0 {
            joined.push(archive::deflate_piece(b",", DEFLATE_LEVEL, false));
        }
        stats.add(piece.stats);
        joined.extend(piece.pieces);
    }
    joined.push(archive::deflate_piece(b"]}\n", DEFLATE_LEVEL, true));
    (Deflated::join(joined), stats)
}

/// Reads the rules index of a bundle, inflating at most a bounded number of bytes.
pub fn read_index<R: DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<Index<R>, PackageError> {
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
        files.iter().map(|f| Part::of(f, Format::Yaml)).collect()
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
        let index = || vec![IndexPiece::of(&[indexed("1", &a)])];
        let one = package(Kind::Firewall, parts(&[&a, &b]), index());
        let two = package(Kind::Firewall, parts(&[&b, &a]), index());
        let ((one, one_bytes), (two, two_bytes)) = (one.expect("packaged"), two.expect("packaged"));
        assert_eq!(one_bytes, two_bytes);
        assert_eq!(one.size, two.size);
        assert_eq!(one.size, one_bytes.len() as u64);
    }

    #[test]
    fn entries_are_sorted_with_fixed_times_and_modes_and_no_folders() {
        let (a, b) = (file("s/z.yaml", "- z"), file("s/a-b.yaml", "- a"));
        let (_, bytes) = package(Kind::Firewall, parts(&[&a, &b]), Vec::new()).expect("packaged");
        let mut archive = ZipArchive::new(Cursor::new(bytes)).expect("a zip");
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
        let index = vec![IndexPiece::of(&rules)];
        let (bundle, bytes) = package(Kind::Firewall, parts(&[&a]), index).expect("packaged");
        assert_eq!(
            bundle.counts,
            RuleCounts {
                disabled: 1,
                enabled: 1,
                total: 2
            }
        );
        let index: Index<IndexedRule> = read_index("firewall.zip", &bytes).expect("an index");
        assert_eq!(index.rules, rules);
        assert_eq!(index.kind, Kind::Firewall);
    }

    #[test]
    fn an_index_joined_from_pieces_is_the_index_serialized_whole() {
        let a = file("s/a.yaml", "- a");
        let many = archive::CHUNK / 200;
        for counts in [
            vec![],
            vec![0],
            vec![1],
            vec![0, 2, 0, 1],
            vec![many, 0, many, 3],
        ] {
            let mut rules = Vec::new();
            let mut pieces = Vec::new();
            for count in &counts {
                let start = rules.len();
                rules.extend((start..start + count).map(|i| indexed(&i.to_string(), &a)));
                pieces.push(IndexPiece::of(&rules[start..]));
            }
            let (deflated, stats) = join_index(Kind::Firewall, pieces);
            let index = Index {
                format: INDEX_FORMAT,
                kind: Kind::Firewall,
                rules,
            };
            let mut whole = serde_json::to_vec(&index).expect("JSON");
            whole.push(b'\n');
            assert_eq!(deflated.inflate(), whole, "files of {counts:?} rules");
            assert_eq!(stats.total, index.rules.len());
        }
    }
}
