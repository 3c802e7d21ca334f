//! A bundle's zip archive as an importer must check it before unpacking: every entry a plain
//! file under a plain relative name, once, and every byte inflated and counted.
//!
//! Nothing a header says is trusted. An entry's declared size may lie, so bytes are counted
//! as they inflate and reading stops at a limit: [`MAX_INFLATION_RATIO`] times the entry's
//! compressed size (above [`RATIO_EXEMPT_BYTES`]) and [`MAX_INFLATED_BYTES`] for the whole
//! archive. Inflating every entry also checks every CRC. A zip can name one entry twice, or
//! disagree between its local headers and its central directory, so that two extractors see
//! two different archives; both are refused.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use zip::{CompressionMethod, ZipArchive};

use super::{MAX_INFLATED_BYTES, MAX_INFLATION_RATIO, RATIO_EXEMPT_BYTES, Reason};
use serde::Deserialize;

use crate::digest::Sha256;
use crate::package::INDEX_NAME;
use crate::rules::Kind;

/// The largest `index.json` held in memory to parse.
const MAX_INDEX_BYTES: u64 = 1 << 30;

/// How much is inflated at a time.
const CHUNK_BYTES: usize = 256 * 1024;

/// The file type bits of a Unix mode, and the types among them (see `stat(2)`).
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFREG: u32 = 0o100_000;

/// MS-DOS's directory attribute, in the low byte of the external attributes.
const DOS_DIRECTORY: u32 = 0x10;

/// What verify reads of a rules index: enough to check it against the entries and the
/// manifest's counts. The rest of each rule (names, metadata) is skipped unparsed, which makes
/// a large index several times faster to read; an importer reads it whole later, from a
/// bundle this check has shown to be signed.
#[derive(Debug, Deserialize)]
pub(super) struct IndexOutline {
    pub kind: Kind,
    pub rules: Vec<RuleOutline>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RuleOutline {
    // Parsed only so that a rule without a well-formed digest or id is refused.
    #[allow(dead_code)] // read for its check, not used after
    pub digest: Sha256,
    #[serde(default)]
    pub disabled: bool,
    #[allow(dead_code)] // read for its check, not used after
    pub id: String,
    pub path: String,
}

/// What an archive holds, and what is wrong with it.
#[derive(Debug, Default)]
pub(super) struct Inspected {
    /// The names of the entries that are plain files.
    pub entries: BTreeSet<String>,
    /// The rules index, where there is a readable one.
    pub index: Option<IndexOutline>,
    pub problems: Vec<Reason>,
}

/// Checks every entry of a zip archive held in memory, and reads its rules index.
pub(super) fn inspect(bytes: &[u8]) -> Inspected {
    inspect_within(bytes, MAX_INFLATED_BYTES)
}

/// [`inspect`], refusing an archive that inflates to more than `limit` bytes in all.
fn inspect_within(bytes: &[u8], limit: u64) -> Inspected {
    let mut inspected = Inspected::default();
    let mut archive = match ZipArchive::new(Cursor::new(bytes)) {
        Ok(archive) => archive,
        Err(error) => {
            let detail = error.to_string();
            inspected.problems.push(Reason::BadArchive { detail });
            return inspected;
        }
    };
    if archive.has_duplicate_names() {
        let start = archive.central_directory_start();
        inspected.problems.extend(duplicates(bytes, start));
    } else if let Err(error) = archive.validate_header_consistency() {
        let detail = error.to_string();
        inspected.problems.push(Reason::EntriesDisagree { detail });
    }
    let index = inflate_all(&archive, limit, &mut inspected);
    if let Some(json) = index {
        read_index(&json, &mut inspected);
    } else if !inspected.problems.iter().any(is_index_problem) {
        inspected.problems.push(Reason::NoIndex);
    }
    inspected
}

fn is_index_problem(reason: &Reason) -> bool {
    let entry = match reason {
        Reason::InflationRatio { entry, .. }
        | Reason::UnreadableEntry { entry, .. }
        | Reason::EntryMethod { entry, .. } => entry,
        Reason::InflationTotal { .. } => return true,
        _ => return false,
    };
    entry == INDEX_NAME
}

/// What inflating one entry found.
struct Entry {
    /// The bytes of `index.json`, where this is it.
    index: Option<Vec<u8>>,
    /// Its name, where it is a plain file.
    name: Option<String>,
    problems: Vec<Reason>,
}

/// Inflates every entry within the limits, records the plain files, and gives the bytes of
/// `index.json`. Entries are inflated in parallel, each with its own view of the archive:
/// inflating is the slowest step of verifying a large bundle, slower than both its hashes.
fn inflate_all(
    archive: &ZipArchive<Cursor<&[u8]>>,
    limit: u64,
    inspected: &mut Inspected,
) -> Option<Vec<u8>> {
    let budget = Budget {
        left: AtomicU64::new(limit),
        limit,
    };
    let entries: Vec<Entry> = (0..archive.len())
        .into_par_iter()
        .map_init(
            || archive.clone(),
            |archive, number| inflate_entry(archive, number, &budget),
        )
        .collect();
    let mut index = None;
    for entry in entries {
        inspected.problems.extend(entry.problems);
        inspected.entries.extend(entry.name);
        index = index.or(entry.index);
    }
    index
}

/// How many bytes an archive may still inflate to, shared by the threads inflating it.
struct Budget {
    left: AtomicU64,
    /// What the archive could inflate to at first.
    limit: u64,
}

/// Checks and inflates one entry.
fn inflate_entry(archive: &mut ZipArchive<Cursor<&[u8]>>, number: usize, budget: &Budget) -> Entry {
    let mut entry = Entry {
        index: None,
        name: None,
        problems: Vec::new(),
    };
    let Some(name) = check_entry(archive, number, &mut entry.problems) else {
        return entry;
    };
    let keep = name == INDEX_NAME;
    match inflate(archive, number, &name, keep, budget) {
        Ok(bytes) => entry.index = keep.then_some(bytes),
        Err(reason) => entry.problems.push(reason),
    }
    entry.name = Some(name);
    entry
}

/// Checks an entry's name, type and method; gives its name where it is a plain file that
/// can be inflated.
fn check_entry(
    archive: &ZipArchive<Cursor<&[u8]>>,
    number: usize,
    problems: &mut Vec<Reason>,
) -> Option<String> {
    let entry = match archive.by_index_data(number) {
        Ok(entry) => entry,
        Err(error) => {
            let detail = error.to_string();
            let entry = format!("#{number}");
            problems.push(Reason::UnreadableEntry { detail, entry });
            return None;
        }
    };
    let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
    if let Some(reason) =
        name_fault(&name).or_else(|| type_fault(&name, entry.external_attributes()))
    {
        problems.push(reason);
        return None;
    }
    let what = match entry.compression() {
        _ if entry.encrypted() => "encrypted".to_owned(),
        CompressionMethod::Stored | CompressionMethod::Deflated => return Some(name),
        other => format!("compressed with {other:?}, which importers do not read"),
    };
    problems.push(Reason::EntryMethod { entry: name, what });
    None
}

/// What is wrong with an entry's name, if anything: it must be a relative path of plain
/// names, each neither empty, `.` nor `..`, separated by `/` alone, since some extractors
/// take `\` as a separator and `C:` as a drive.
pub(super) fn name_fault(name: &str) -> Option<Reason> {
    let entry = name.to_owned();
    let drive = name.as_bytes().get(1) == Some(&b':');
    if name.starts_with('/') || name.starts_with('\\') || drive {
        return Some(Reason::AbsoluteEntry { entry });
    }
    if name.ends_with('/') {
        return Some(Reason::FolderEntry { entry });
    }
    let parts: Vec<&str> = name.split(['/', '\\']).collect();
    if parts.contains(&"..") {
        return Some(Reason::ParentEntry { entry });
    }
    let odd_part = |part: &&str| part.is_empty() || *part == ".";
    let odd_char = |c: char| c == '\\' || c == char::REPLACEMENT_CHARACTER || c.is_control();
    if parts.iter().any(odd_part) || name.chars().any(odd_char) {
        return Some(Reason::BadEntryName { entry });
    }
    None
}

/// What is wrong with an entry's type, from the Unix mode in the high half of its external
/// attributes (whatever system the archive claims, since extractors differ on when they
/// honour it) and MS-DOS's directory bit in the low byte.
pub(super) fn type_fault(name: &str, external_attributes: u32) -> Option<Reason> {
    let entry = name.to_owned();
    let mode = external_attributes >> 16;
    match mode & S_IFMT {
        S_IFLNK => Some(Reason::SymlinkEntry { entry }),
        S_IFDIR => Some(Reason::FolderEntry { entry }),
        0 | S_IFREG if external_attributes & DOS_DIRECTORY != 0 => {
            Some(Reason::FolderEntry { entry })
        }
        0 | S_IFREG => None,
        _ => Some(Reason::SpecialEntry { entry }),
    }
}

/// Inflates one entry, counting its bytes against the ratio limit and the archive's budget,
/// and keeps them only when asked to.
fn inflate(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    number: usize,
    name: &str,
    keep: bool,
    budget: &Budget,
) -> Result<Vec<u8>, Reason> {
    let unreadable = |error: &dyn std::fmt::Display| Reason::UnreadableEntry {
        detail: error.to_string(),
        entry: name.to_owned(),
    };
    let mut file = archive.by_index(number).map_err(|e| unreadable(&e))?;
    let (declared, compressed) = (file.size(), file.compressed_size());
    let ratio_limit = compressed
        .saturating_mul(MAX_INFLATION_RATIO)
        .max(RATIO_EXEMPT_BYTES);
    let limit = ratio_limit.min(budget.left.load(Ordering::Relaxed));
    let keep_limit = if keep { MAX_INDEX_BYTES } else { 0 };
    // Room for what the header declares, within the limits: a lying header costs at most
    // what the limits allow anyway, and an honest one saves growing the index as it comes.
    let room = declared.min(limit).min(keep_limit);
    let (found, kept) = count(&mut file, limit, keep_limit, room).map_err(|e| unreadable(&e))?;
    if found > ratio_limit {
        let (entry, ratio) = (name.to_owned(), MAX_INFLATION_RATIO);
        return Err(Reason::InflationRatio { entry, ratio });
    }
    // Relaxed is enough: the budget is one counter, and no other memory depends on it.
    let spend = |left: u64| left.checked_sub(found);
    if (budget.left)
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, spend)
        .is_err()
    {
        let limit = budget.limit;
        return Err(Reason::InflationTotal { limit });
    }
    judge_size(name, declared, found, keep)?;
    Ok(kept)
}

/// Why an entry that inflated within the limits is still refused: it is not the size its
/// header declares, or it is an index too large to hold.
fn judge_size(name: &str, declared: u64, found: u64, keep: bool) -> Result<(), Reason> {
    let entry = name.to_owned();
    if found != declared {
        return Err(Reason::EntrySize {
            declared,
            entry,
            found,
        });
    }
    if keep && found > MAX_INDEX_BYTES {
        let detail = format!("it is larger than {MAX_INDEX_BYTES} bytes");
        return Err(Reason::UnreadableEntry { detail, entry });
    }
    Ok(())
}

/// Reads `reader` to its end or to one byte past `limit`, whichever is first, and gives the
/// number of bytes read and the first `keep` of them, in a buffer made with room for `room`.
fn count(
    reader: &mut impl Read,
    limit: u64,
    keep: u64,
    room: u64,
) -> std::io::Result<(u64, Vec<u8>)> {
    let mut buffer = vec![0; CHUNK_BYTES];
    let room = usize::try_from(room).unwrap_or(usize::MAX);
    let (mut found, mut kept) = (0u64, Vec::with_capacity(room));
    while found <= limit {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let room = usize::try_from(keep.saturating_sub(found)).unwrap_or(usize::MAX);
        kept.extend_from_slice(&buffer[..read.min(room)]);
        found += read as u64;
    }
    Ok((found, kept))
}

/// The entry names that the central directory lists more than once. The zip crate keeps
/// one entry per name, so the directory is walked here: a fixed 46-byte header per entry
/// (APPNOTE 4.3.12), with the name's, extra field's and comment's lengths at 28, 30 and 32.
fn duplicates(bytes: &[u8], start: u64) -> Vec<Reason> {
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut at = usize::try_from(start).unwrap_or(usize::MAX);
    while let Some(header) = bytes.get(at..at.saturating_add(46)) {
        if header[..4] != *b"PK\x01\x02" {
            break;
        }
        let field =
            |offset: usize| usize::from(u16::from_le_bytes([header[offset], header[offset + 1]]));
        let (name_len, extra, comment) = (field(28), field(30), field(32));
        let Some(name) = bytes.get(at + 46..at + 46 + name_len) else {
            break;
        };
        *seen.entry(name.to_vec()).or_default() += 1;
        at += 46 + name_len + extra + comment;
    }
    let mut found: Vec<Reason> = seen
        .into_iter()
        .filter(|(_, times)| *times > 1)
        .map(|(name, _)| Reason::DuplicateEntry {
            entry: String::from_utf8_lossy(&name).into_owned(),
        })
        .collect();
    if found.is_empty() {
        // The zip crate counted a repeat that this walk could not place.
        let entry = "(unnamed)".to_owned();
        found.push(Reason::DuplicateEntry { entry });
    }
    found
}

/// Parses the rules index and checks that each rule's file is an entry of the bundle.
fn read_index(json: &[u8], inspected: &mut Inspected) {
    let index: IndexOutline = match serde_json::from_slice(json) {
        Ok(index) => index,
        Err(error) => {
            let detail = error.to_string();
            inspected.problems.push(Reason::BadIndex { detail });
            return;
        }
    };
    let mut strays: BTreeMap<&str, usize> = BTreeMap::new();
    for rule in &index.rules {
        if rule.path == INDEX_NAME || !inspected.entries.contains(&rule.path) {
            *strays.entry(&rule.path).or_default() += 1;
        }
    }
    for (path, rules) in strays {
        let path = path.to_owned();
        inspected.problems.push(Reason::IndexPath { path, rules });
    }
    inspected.index = Some(index);
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::ZipWriter;
    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::verify::fixture::{index_json, zip_of};

    fn reasons(bytes: &[u8]) -> Vec<String> {
        inspect(bytes)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_bundle_as_package_writes_it_passes() {
        let index = index_json(&["s/a.yaml"]);
        let bytes = zip_of(&[("index.json", &index), ("s/a.yaml", b"- a")]);
        let inspected = inspect(&bytes);
        assert!(inspected.problems.is_empty(), "{:?}", inspected.problems);
        assert_eq!(inspected.index.expect("an index").rules.len(), 1);
        assert!(inspected.entries.contains("s/a.yaml"));
    }

    #[test]
    fn names_must_be_plain_relative_paths() {
        let fault = |name: &str| name_fault(name).map(|r| r.to_string());
        assert_eq!(fault("s/a.yaml"), None);
        assert_eq!(
            fault("../evil").as_deref(),
            Some("holds entry `../evil`, which climbs out of the bundle with `..`")
        );
        assert_eq!(
            fault("s/../../evil").as_deref(),
            Some("holds entry `s/../../evil`, which climbs out of the bundle with `..`")
        );
        assert_eq!(
            fault("/etc/passwd").as_deref(),
            Some("holds entry `/etc/passwd`, an absolute path")
        );
        assert!(matches!(
            name_fault("C:/x"),
            Some(Reason::AbsoluteEntry { .. })
        ));
        assert!(matches!(
            name_fault("\\x"),
            Some(Reason::AbsoluteEntry { .. })
        ));
        assert!(matches!(
            name_fault("s\\..\\x"),
            Some(Reason::ParentEntry { .. })
        ));
        assert!(matches!(name_fault("s/"), Some(Reason::FolderEntry { .. })));
        for odd in ["s//a", "./a", "", "a\u{0}b", "a\nb"] {
            assert!(
                matches!(name_fault(odd), Some(Reason::BadEntryName { .. })),
                "{odd:?}"
            );
        }
    }

    #[test]
    fn only_regular_files_pass_the_type_check() {
        let mode = |m: u32| m << 16;
        assert_eq!(type_fault("a", mode(0o100_644)), None);
        assert_eq!(type_fault("a", 0), None);
        assert!(matches!(
            type_fault("a", mode(0o120_777)),
            Some(Reason::SymlinkEntry { .. })
        ));
        assert!(matches!(
            type_fault("a", mode(0o040_755)),
            Some(Reason::FolderEntry { .. })
        ));
        assert!(matches!(
            type_fault("a", DOS_DIRECTORY),
            Some(Reason::FolderEntry { .. })
        ));
        assert!(matches!(
            type_fault("a", mode(0o060_644)),
            Some(Reason::SpecialEntry { .. })
        ));
    }

    #[test]
    fn unsafe_entries_are_refused_and_left_out_of_the_entries() {
        let index = index_json(&["s/a.yaml"]);
        let bytes = zip_of(&[
            ("../evil", b"x"),
            ("/abs", b"x"),
            ("index.json", &index),
            ("s/a.yaml", b"- a"),
        ]);
        assert_eq!(
            reasons(&bytes),
            [
                "holds entry `../evil`, which climbs out of the bundle with `..`",
                "holds entry `/abs`, an absolute path",
            ]
        );
        assert_eq!(inspect(&bytes).entries.len(), 2);
    }

    #[test]
    fn symbolic_links_and_folders_are_refused() {
        let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default();
        zip.add_symlink("link", "/etc/passwd", options)
            .expect("symlink");
        zip.add_directory("dir/", options).expect("folder");
        zip.start_file("index.json", options).expect("index");
        zip.write_all(&index_json(&[])).expect("index bytes");
        let bytes = zip.finish().expect("zip").into_inner();
        assert_eq!(
            reasons(&bytes),
            [
                "holds entry `link`, a symbolic link",
                "holds entry `dir/`, a folder"
            ]
        );
    }

    #[test]
    fn an_entry_named_twice_is_refused_by_name() {
        let index = index_json(&[]);
        let bytes = zip_of(&[("index.json", &index), ("s/a", b"1"), ("s/b", b"2")]);
        // Rename `s/b` to `s/a` in its local header and the central directory alike.
        let mut patched = bytes.clone();
        let at: Vec<usize> = (0..patched.len() - 3)
            .filter(|&i| &patched[i..i + 3] == b"s/b")
            .collect();
        assert_eq!(at.len(), 2, "one local and one central name");
        for i in at {
            patched[i + 2] = b'a';
        }
        assert_eq!(reasons(&patched), ["holds entry `s/a` more than once"]);
    }

    #[test]
    fn inflation_far_beyond_the_compressed_size_is_refused() {
        let zeros = vec![0u8; 8 << 20];
        let index = index_json(&[]);
        let bytes = zip_of(&[("bomb", &zeros), ("index.json", &index)]);
        assert!(bytes.len() < zeros.len() / MAX_INFLATION_RATIO as usize);
        assert_eq!(
            reasons(&bytes),
            ["holds entry `bomb`, which inflates to more than 100 times its size"]
        );
    }

    #[test]
    fn inflation_past_the_total_is_refused_once() {
        let zeros = vec![0u8; 600 << 10];
        let index = index_json(&[]);
        let bytes = zip_of(&[
            ("a", &zeros),
            ("b", &zeros),
            ("c", &zeros),
            ("index.json", &index),
        ]);
        let inspected = inspect_within(&bytes, 1 << 20);
        let mut found: Vec<String> = inspected.problems.iter().map(ToString::to_string).collect();
        found.dedup();
        assert_eq!(found, ["inflates to more than 1048576 bytes in all"]);
        assert!(inspect_within(&bytes, 4 << 20).problems.is_empty());
    }

    #[test]
    fn small_entries_may_compress_well() {
        let zeros = vec![0u8; 512 << 10];
        let index = index_json(&[]);
        let bytes = zip_of(&[("zeros", &zeros), ("index.json", &index)]);
        assert!(reasons(&bytes).is_empty());
    }

    #[test]
    fn counting_stops_one_chunk_past_the_limit() {
        let mut endless = std::io::repeat(7);
        let (found, kept) = count(&mut endless, 1000, 10, 10).expect("counted");
        assert!(found > 1000 && found <= 1000 + CHUNK_BYTES as u64);
        assert_eq!(kept, vec![7; 10]);
    }

    #[test]
    fn a_damaged_entry_fails_its_check() {
        let index = index_json(&[]);
        let text = b"some rule text that is long enough to deflate".repeat(20);
        let mut bytes = zip_of(&[("index.json", &index), ("s/a", &text)]);
        // Flip a byte of the compressed data of `s/a`, just after its local header.
        let header = (0..bytes.len() - 3)
            .rfind(|&i| &bytes[i..i + 3] == b"s/a" && bytes[i - 30..i - 26] == *b"PK\x03\x04")
            .expect("the local header of `s/a`");
        bytes[header + 10] ^= 0x55;
        let found = reasons(&bytes);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("holds entry `s/a`, which cannot be read: "),
            "{found:?}"
        );
    }

    #[test]
    fn an_index_must_exist_parse_and_name_entries() {
        let bytes = zip_of(&[("s/a", b"1")]);
        assert_eq!(reasons(&bytes), ["holds no `index.json`"]);

        let bytes = zip_of(&[("index.json", b"[]"), ("s/a", b"1")]);
        let found = reasons(&bytes);
        assert!(
            found[0].starts_with("holds an `index.json` that is not a rules index: "),
            "{found:?}"
        );

        let index = index_json(&["s/a", "s/gone", "s/gone"]);
        let bytes = zip_of(&[("index.json", &index), ("s/a", b"1")]);
        assert_eq!(
            reasons(&bytes),
            ["indexes 2 rule(s) in `s/gone`, which is not an entry of the bundle"]
        );
    }

    #[test]
    fn bytes_that_are_not_a_zip_are_refused() {
        let found = reasons(b"not a zip at all");
        assert!(
            found[0].starts_with("is not a readable zip archive: "),
            "{found:?}"
        );
    }
}
