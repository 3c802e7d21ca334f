//! Why a file of a release is refused: the reasons that follow its name on a problem line.
//!
//! Each reason reads after the file's name, as in "`firewall.zip` has not been signed by a
//! trusted key and cannot be imported", so every message starts with a verb and names the
//! other files, entries, keys and releases it mentions in backticks.

use thiserror::Error;

use crate::digest::Sha256;
use crate::package::RuleCounts;
use crate::rules::Kind;
use crate::sign::KeyId;

/// Why a file cannot be imported, or, for the ledger, why it is stale.
#[derive(Clone, Debug, Eq, Error, PartialEq)]
pub enum Reason {
    /// An entry's name is an absolute path, which an extractor would write outside its folder.
    #[error("holds entry `{entry}`, an absolute path")]
    AbsoluteEntry { entry: String },

    /// The bytes of a bundle are not a zip archive that can be read.
    #[error("is not a readable zip archive: {detail}")]
    BadArchive { detail: String },

    /// The checksum list signed in `SHA256SUMS.sig` is not in the BSD tag format.
    #[error("signs text that is not a checksum list of bare file names: {detail}")]
    BadChecksums { detail: String },

    /// An entry's name is not a plain relative path of `/`-separated names.
    #[error("holds entry `{entry}`, whose name is not a plain relative path")]
    BadEntryName { entry: String },

    /// A bundle's `index.json` cannot be read as a rules index.
    #[error("holds an `index.json` that is not a rules index: {detail}")]
    BadIndex { detail: String },

    /// `latest.json` cannot be read as the newest-release pointer.
    #[error("is not a `latest.json` pointer: {detail}")]
    BadLatest { detail: String },

    /// `manifest.json` cannot be read as a manifest.
    #[error("is not a manifest: {detail}")]
    BadManifest { detail: String },

    /// A signature file is not a signature rulecut can read.
    #[error("has a signature `{signature}` that cannot be read: {detail}")]
    BadSignature { detail: String, signature: String },

    /// A bundle's digest differs from the one its signed manifest lists.
    #[error("does not match its digest in `manifest.json`: it was altered")]
    BundleDigest,

    /// A release does not follow the release before it in an output folder.
    #[error(
        "does not chain to `{previous}`: it names {named}, and `{previous}` has manifest \
         digest {actual}"
    )]
    ChainBroken {
        actual: Sha256,
        named: String,
        previous: String,
    },

    /// `SHA256SUMS` is not the text signed in `SHA256SUMS.sig`.
    #[error("differs from the text signed in `SHA256SUMS.sig`, which alone is trusted")]
    ChecksumsDiffer,

    /// A bundle's rule counts differ from those its manifest lists.
    #[error(
        "holds {}, and `manifest.json` counts {}",
        describe_counts(found),
        describe_counts(expected)
    )]
    Counts {
        expected: RuleCounts,
        found: RuleCounts,
    },

    /// The release was signed with a development key.
    #[error("was signed with a development key, which importers refuse")]
    Development,

    /// A file's digest differs from the one in the signed checksum list.
    #[error("does not match its digest in `SHA256SUMS`: it was altered")]
    DigestMismatch,

    /// A zip archive lists the same entry name more than once.
    #[error("holds entry `{entry}` more than once")]
    DuplicateEntry { entry: String },

    /// Entries that the archive's local headers and central directory disagree on.
    #[error("has local headers that disagree with its central directory: {detail}")]
    EntriesDisagree { detail: String },

    /// An entry is encrypted or compressed in a way an importer cannot read.
    #[error("holds entry `{entry}`, which is {what}")]
    EntryMethod { entry: String, what: String },

    /// An entry inflates to a size other than its header declares.
    #[error(
        "holds entry `{entry}`, which inflates to {found} bytes, not the {declared} its header says"
    )]
    EntrySize {
        declared: u64,
        entry: String,
        found: u64,
    },

    /// `latest.json` has expired: the feed has not been re-signed in time.
    #[error("expired at {expires}: the feed may be frozen")]
    Expired { expires: String },

    /// An entry is a folder; bundles hold files only.
    #[error("holds entry `{entry}`, a folder")]
    FolderEntry { entry: String },

    /// A folder of an output folder holds a release of another name.
    #[error("holds release `{release}`, and a release folder is named after its release")]
    FolderName { release: String },

    /// The manifest's format is not the one this rulecut reads.
    #[error("has format {found}, and this rulecut reads format {expected}")]
    Format { expected: u32, found: u32 },

    /// Two folders of an output folder hold the same release id.
    #[error("reuses release id `{release}` of `{other}`")]
    IdReused { other: String, release: String },

    /// A rules index names an entry the bundle does not hold.
    #[error("indexes {rules} rule(s) in `{path}`, which is not an entry of the bundle")]
    IndexPath { path: String, rules: usize },

    /// An entry would inflate far more than its compressed size, as zip bombs do.
    #[error("holds entry `{entry}`, which inflates to more than {ratio} times its size")]
    InflationRatio { entry: String, ratio: u64 },

    /// A bundle inflates past the total any importer should accept.
    #[error("inflates to more than {limit} bytes in all")]
    InflationTotal { limit: u64 },

    /// The signature's key is not the one the manifest names.
    #[error("is signed by key `{signed}`, and `manifest.json` names key `{named}`")]
    KeyMismatch { named: String, signed: KeyId },

    /// A bundle holds rules of another kind than its name or manifest says.
    #[error("holds `{found}` rules, and its name says `{expected}`")]
    KindMismatch { expected: Kind, found: Kind },

    /// `latest.json` names the release with another manifest digest.
    #[error(
        "names manifest digest {found}, and the release's `manifest.json` has digest {expected}"
    )]
    LatestDigest { expected: Sha256, found: Sha256 },

    /// `latest.json` points at another release than the one verified.
    #[error("names {found}, not {expected}")]
    LatestOther { expected: String, found: String },

    /// The ledger is missing, or lists other releases than the manifests.
    #[error("is out of date with the manifests ({detail}); the next build rebuilds it")]
    LedgerStale { detail: String },

    /// `SHA256SUMS` lists a file more than once.
    #[error("lists `{file}` more than once")]
    ListedTwice { file: String },

    /// The manifest lists a bundle under a name that is not its kind's.
    #[error("lists the `{kind}` bundle as `{file}`, and it is named `{expected}`")]
    MisnamedBundle {
        expected: String,
        file: String,
        kind: Kind,
    },

    /// A file or the signature it needs is not in the release folder.
    #[error("is missing")]
    Missing,

    /// A bundle holds no rules index.
    #[error("holds no `index.json`")]
    NoIndex,

    /// A file in a release folder is not in its signed manifest's list of bundles.
    #[error("is not a bundle of `manifest.json`")]
    NotInManifest,

    /// A bundle's file name is not that of any kind.
    #[error("is not named after a kind of rules, such as `firewall.zip`")]
    NotKindName,

    /// A folder entry that is not a regular file, such as a symbolic link.
    #[error("is not a regular file")]
    NotRegular,

    /// A file is far larger than its kind of file can be.
    #[error("is {size} bytes, more than the {limit} rulecut reads of it")]
    Oversized { limit: u64, size: u64 },

    /// An entry's name climbs out of the bundle's folder.
    #[error("holds entry `{entry}`, which climbs out of the bundle with `..`")]
    ParentEntry { entry: String },

    /// A release that claims to follow the installed one does not chain to it.
    #[error(
        "follows the installed release `{installed}` by manifest digest {named}, and the \
         installed manifest's digest is {actual}"
    )]
    PreviousDigest {
        actual: Sha256,
        installed: String,
        named: Sha256,
    },

    /// The release is for another product than the importer expects.
    #[error("is for product `{found}`, not `{expected}`")]
    Product { expected: String, found: String },

    /// A signature's key has been revoked.
    #[error("is signed by revoked key `{key_id}` and cannot be imported")]
    Revoked { key_id: KeyId },

    /// The release is not newer than the installed one: a rollback.
    #[error(
        "is release `{release}` (sequence {sequence}), not newer than the installed release \
         `{installed}` (sequence {installed_sequence})"
    )]
    Rollback {
        installed: String,
        installed_sequence: u64,
        release: String,
        sequence: u64,
    },

    /// Two releases of an output folder share a sequence.
    #[error("reuses sequence {sequence} of `{other}`")]
    SequenceReused { other: String, sequence: u64 },

    /// A file's bytes do not match its signature.
    #[error("does not match its signature by key `{key_id}`: it was altered after signing")]
    SignatureMismatch { key_id: KeyId },

    /// The trusted comment names another file: a signature moved from one file to another.
    #[error("is signed as `{found}`, not as `{expected}`")]
    SignedAsOther { expected: String, found: String },

    /// The trusted comment names another release or product.
    #[error("is signed for {found}, not for {expected}")]
    SignedForOther { expected: String, found: String },

    /// A bundle's size differs from the one its manifest lists.
    #[error("is {found} bytes, and `manifest.json` says {expected}")]
    Size { expected: u64, found: u64 },

    /// An entry that is not a regular file, such as a device.
    #[error("holds entry `{entry}`, which is not a regular file")]
    SpecialEntry { entry: String },

    /// An entry is a symbolic link, which an extractor could follow out of its folder.
    #[error("holds entry `{entry}`, a symbolic link")]
    SymlinkEntry { entry: String },

    /// A trusted comment does not match its global signature.
    #[error("has a trusted comment altered after signing by key `{key_id}`")]
    TrustedCommentAltered { key_id: KeyId },

    /// A file is in the release folder but not in the signed checksum list.
    #[error("is not listed in `SHA256SUMS`")]
    Unlisted,

    /// A trusted comment is not the JSON record of a signed release file.
    #[error("is signed with a trusted comment that names no release file: `{comment}`")]
    UnnamedSignature { comment: String },

    /// An entry cannot be inflated, or fails its CRC.
    #[error("holds entry `{entry}`, which cannot be read: {detail}")]
    UnreadableEntry { detail: String, entry: String },

    /// A file has no detached signature beside it.
    #[error("has no signature: `{signature}` is missing")]
    Unsigned { signature: String },

    /// A signature was made by a key the importer does not trust.
    #[error(
        "has not been signed by a trusted key and cannot be imported (it names key `{key_id}`)"
    )]
    Untrusted { key_id: KeyId },
}

/// Rule counts as messages give them: 3 rule(s) (2 enabled, 1 disabled).
fn describe_counts(counts: &RuleCounts) -> String {
    format!(
        "{} rule(s) ({} enabled, {} disabled)",
        counts.total, counts.enabled, counts.disabled
    )
}
