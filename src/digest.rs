//! SHA-256 digests: the checksums stage of the pipeline, and the content digests every other
//! stage records (rules, bundles, manifests).
//!
//! A [`Sha256`] is always written as 64 lower-case hex digits, the one spelling that both
//! `sha256sum -c` and `signify-openbsd -C` accept in a checksum list, and the one that
//! `manifest.json` uses, so the same digest reads the same everywhere. Files are hashed as a
//! stream in fixed-size chunks: a release may hold bundles far larger than is reasonable to
//! hold in memory at once.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest;
use thiserror::Error;

/// How much of a file is read at a time. Large enough that the per-call cost of `read` is
/// lost in the noise next to hashing, small enough to stay out of anyone's way.
const CHUNK_BYTES: usize = 1024 * 1024;

/// What can go wrong in this stage that is not a plain I/O error.
#[derive(Debug, Error)]
pub enum DigestError {
    /// A digest's text holds a character that is not a lower-case hex digit.
    #[error(
        "a SHA-256 digest is lower-case hex, and `{}` at offset {offset} is not",
        found.escape_default()
    )]
    Sha256Digit { found: char, offset: usize },

    /// A digest's text has the wrong number of characters.
    #[error("a SHA-256 digest is 64 lower-case hex digits, not {found} characters")]
    Sha256Length { found: usize },
}

/// A SHA-256 digest. Displays, parses and serialises as 64 lower-case hex digits.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    /// Wraps a digest computed elsewhere.
    pub fn from_bytes(bytes: [u8; 32]) -> Sha256 {
        Sha256(bytes)
    }

    /// The digest's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The SHA-256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

/// The SHA-256 digest of the file at `path`, read in 1 MiB chunks so that memory use does not
/// grow with the file.
///
/// The error is the bare I/O error, as from `std::fs`: the caller knows what the file is to
/// the user and wraps it with that and the path.
pub fn sha256_file(path: &Path) -> io::Result<Sha256> {
    let mut file = File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; CHUNK_BYTES];
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hasher.update(&buffer[..read]);
    }
    Ok(Sha256(hasher.finalize().into()))
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl FromStr for Sha256 {
    type Err = DigestError;

    /// Parses exactly 64 lower-case hex digits. Upper case is refused rather than folded:
    /// `signify-openbsd -C` refuses it too, and one spelling per digest keeps comparisons of
    /// the text honest.
    fn from_str(text: &str) -> Result<Sha256, DigestError> {
        let found = text.chars().count();
        if found != 64 {
            return Err(DigestError::Sha256Length { found });
        }
        if let Some((offset, found)) = text
            .char_indices()
            .find(|(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(DigestError::Sha256Digit { found, offset });
        }
        let mut bytes = [0; 32];
        hex::decode_to_slice(text, &mut bytes)
            .expect("64 lower-case hex digits decode to 32 bytes");
        Ok(Sha256(bytes))
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Sha256, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// FIPS 180-2 / NIST CAVP examples, checked against coreutils `sha256sum`.
    const VECTORS: [(&str, &str); 4] = [
        (
            "",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            "abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (
            "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno\
             ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
        ),
    ];

    #[test]
    fn known_answers_match_nist_vectors() {
        for (message, expected) in VECTORS {
            assert_eq!(
                sha256(message.as_bytes()).to_string(),
                expected,
                "{message:?}"
            );
        }
    }

    #[test]
    fn a_million_a_matches_the_nist_long_vector() {
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            sha256(&million).to_string(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn a_file_spanning_several_chunks_hashes_like_its_bytes() {
        // Not a multiple of the chunk size, so the last read is a short one.
        let bytes: Vec<u8> = (0..3 * CHUNK_BYTES + 5).map(|i| (i % 251) as u8).collect();
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&bytes).expect("write temp file");
        assert_eq!(
            sha256_file(file.path()).expect("hash temp file"),
            sha256(&bytes)
        );
    }

    #[test]
    fn an_empty_file_hashes_like_the_empty_string() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        assert_eq!(
            sha256_file(file.path()).expect("hash temp file"),
            sha256(b"")
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = sha256_file(&dir.path().join("absent")).expect_err("no such file");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn display_and_parse_round_trip() {
        let digest = sha256(b"abc");
        assert_eq!(digest.to_string().parse::<Sha256>().expect("parse"), digest);
    }

    #[test]
    fn upper_case_hex_is_refused() {
        let text = VECTORS[1].1.to_uppercase();
        let error = text.parse::<Sha256>().expect_err("upper case");
        assert!(matches!(
            error,
            DigestError::Sha256Digit {
                found: 'B',
                offset: 0
            }
        ));
    }

    #[test]
    fn wrong_length_is_refused() {
        let error = "abc".parse::<Sha256>().expect_err("too short");
        assert_eq!(
            error.to_string(),
            "a SHA-256 digest is 64 lower-case hex digits, not 3 characters"
        );
    }

    #[test]
    fn multibyte_text_of_64_bytes_is_refused_without_panicking() {
        let text = "é".repeat(32);
        assert!(text.parse::<Sha256>().is_err());
    }

    #[test]
    fn serde_writes_and_reads_the_hex_string() {
        let digest = sha256(b"abc");
        let json = serde_json::to_string(&digest).expect("serialise");
        assert_eq!(json, format!("\"{}\"", VECTORS[1].1));
        assert_eq!(
            serde_json::from_str::<Sha256>(&json).expect("deserialise"),
            digest
        );
        assert!(serde_json::from_str::<Sha256>("\"00\"").is_err());
    }
}
