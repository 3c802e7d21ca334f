//! Ed25519 keys and signatures in the formats that signify-openbsd and minisign share: the sign
//! stage of the pipeline, and the checks that `verify` runs on the consumer's side.
//!
//! Every signature is pure Ed25519 over the raw bytes (RFC 8032), which is deterministic: the
//! same key and message always give the same signature, so releases stay byte-identical.
//! What this module writes, each text ending with a newline:
//!
//! - a public key: `untrusted comment: ...`, then base64 of `Ed` ‖ key number ‖ 32-byte key,
//!   readable by `signify-openbsd` and `minisign` alike; [`PublicKey::to_pem`] gives the same
//!   key as SPKI PEM for `openssl pkeyutl`;
//! - a secret key: signify's unencrypted form (see [`SigningKey`]);
//! - a detached signature: minisign's four-line legacy form (see [`sign_detached`]), whose first
//!   two lines are also a complete signify signature;
//! - an embedded signature: signify's `-e` form (see [`sign_embedded`]).
//!
//! Guarantees: a secret key never appears in `Debug` output or in an error; a key file that
//! others can read is refused; a new secret key is never readable by others, not even for an
//! instant, and a crash while writing one leaves no partial key under its name.
//!
//! Facts about the formats, checked against signify-openbsd 31 and minisign 0.11, that are easy
//! to get wrong:
//!
//! - The key id that minisign prints (`minisign public key 99EAC71345BC44CF`) is the 8-byte key
//!   number read as a little-endian integer, in upper-case hex: the bytes `CF 44 .. 99` show as
//!   `99EA..44CF`. signify never prints it.
//! - signify refuses a secret key whose file name does not end in `.sec` ("please use naming
//!   scheme of keyname.pub and keyname.sec"), for `-S` as well as `-G`, and opens it without
//!   following symbolic links. rulecut's `*.key` files hold the same bytes and must be copied to
//!   a `*.sec` name before `signify-openbsd -S` takes them.
//! - signify needs a non-empty untrusted comment and a newline after the base64 line, and reads
//!   only the first two lines of a signature file; minisign refuses signify's two-line files
//!   ("Trusted comment not present") and, by default, writes prehashed signatures (`ED`) that
//!   signify cannot read. The four-line legacy form is the one both accept.
//! - minisign strips a trailing carriage return from each line, tolerates a missing final
//!   newline and ignores lines after the fourth; it reads a trusted comment of at most 8173
//!   bytes and, being C, stops at a NUL. See [`TrustedComment`].

mod key;
mod keygen;
mod signature;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use thiserror::Error;

pub use key::{KeyId, PublicKey, SigningKey};
pub use keygen::keygen;
pub use signature::{
    TrustedComment, Verified, sign_detached, sign_embedded, verify_detached, verify_embedded,
};

/// The algorithm bytes of every key and signature rulecut writes: pure Ed25519.
const ED25519: [u8; 2] = *b"Ed";

/// minisign's default signature algorithm: Ed25519 over a BLAKE2b-512 digest of the file.
const ED25519_PREHASHED: [u8; 2] = *b"ED";

/// The first line of every key and signature file starts with this.
const UNTRUSTED_PREFIX: &str = "untrusted comment: ";

/// What went wrong while making, loading, using or checking keys and signatures.
#[derive(Debug, Error)]
pub enum SignError {
    /// The folder a new key pair goes into could not be created.
    #[error("cannot create key folder `{}`", path.display())]
    CreateKeyDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The operating system's random number generator failed.
    #[error("cannot draw random bytes for a new key from the operating system")]
    GenerateKey,

    /// `keygen` was asked to write over an existing key file.
    #[error("key file `{}` already exists", path.display())]
    KeyFileExists { path: PathBuf },

    /// A key prefix ends in a folder separator, so it names no file.
    #[error("key prefix `{}` names a folder, not the start of a file name", path.display())]
    KeyPrefix { path: PathBuf },

    /// A key id's text is not 16 hex digits.
    #[error("`{found}` is not a key id: a key id is 16 hex digits")]
    ParseKeyId { found: String },

    /// Public key text given directly, not from a file, is malformed.
    #[error("cannot parse public key")]
    ParsePublicKey {
        #[source]
        source: FormatError,
    },

    /// A public key file is malformed.
    #[error("cannot parse public key `{}`", path.display())]
    ParsePublicKeyFile {
        path: PathBuf,
        #[source]
        source: FormatError,
    },

    /// A signature is malformed.
    #[error("cannot parse signature")]
    ParseSignature {
        #[source]
        source: FormatError,
    },

    /// Signing key text given directly, not from a file, is malformed.
    #[error("cannot parse signing key")]
    ParseSigningKey {
        #[source]
        source: FormatError,
    },

    /// A signing key file is malformed.
    #[error("cannot parse signing key `{}`", path.display())]
    ParseSigningKeyFile {
        path: PathBuf,
        #[source]
        source: FormatError,
    },

    /// A public key file could not be read.
    #[error("cannot read public key `{}`", path.display())]
    ReadPublicKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A signing key file could not be read.
    #[error("cannot read signing key `{}`", path.display())]
    ReadSigningKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The signature over the data does not verify.
    #[error("signature by key `{key_id}` does not match: the data was altered or not signed by it")]
    SignatureMismatch { key_id: KeyId },

    /// A signing key file's permissions let its group or others read it.
    #[error(
        "signing key `{}` can be {} by others (mode {mode:04o})",
        path.display(),
        access(*mode)
    )]
    SigningKeyReadable { mode: u32, path: PathBuf },

    /// A trusted comment holds a character that would break its line.
    #[error(
        "a trusted comment must be a single line without NUL, and this one holds `{}`",
        found.escape_default()
    )]
    TrustedCommentCharacter { found: char },

    /// A trusted comment is longer than minisign reads.
    #[error("a trusted comment may be at most {max} bytes, and this one is {found}")]
    TrustedCommentLength { found: usize, max: usize },

    /// The global signature, over the signature and the trusted comment, does not verify.
    #[error("trusted comment signed by key `{key_id}` does not match: it was altered")]
    TrustedCommentMismatch { key_id: KeyId },

    /// The signature names a key number that none of the trusted keys has.
    #[error("signed by key `{key_id}`, which is not trusted")]
    UntrustedKey { key_id: KeyId },

    /// A key file could not be written.
    #[error("cannot write key file `{}`", path.display())]
    WriteKeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SignError {
    /// How the user can fix the problem, for the binary to print as a `help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            SignError::KeyFileExists { .. } => Some(
                "choose another prefix, or pass `--force` to replace the key pair \
                 (the old secret key is lost)"
                    .to_owned(),
            ),
            SignError::KeyPrefix { .. } => {
                Some("give a prefix that ends in a file name, such as `keys/release`".to_owned())
            }
            SignError::ParsePublicKey { source }
            | SignError::ParsePublicKeyFile { source, .. }
            | SignError::ParseSignature { source }
            | SignError::ParseSigningKey { source }
            | SignError::ParseSigningKeyFile { source, .. } => source.help(),
            SignError::SigningKeyReadable { path, .. } => {
                Some(format!("chmod 600 {}", shell_quote(path)))
            }
            SignError::UntrustedKey { key_id } => Some(format!(
                "if key `{key_id}` is yours, pass its public key with `--key`"
            )),
            _ => None,
        }
    }
}

/// What is wrong with the text of a key or a signature, wherever it came from.
///
/// Never holds key material: lengths, line numbers and algorithm names only.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The algorithm bytes are not Ed25519's.
    #[error("the {what} is for algorithm `{found}`, and rulecut reads only Ed25519 (`Ed`)")]
    Algorithm { found: String, what: &'static str },

    /// A line that should be base64 is not.
    #[error("line {line} of the {what} is not valid base64")]
    Base64 { line: usize, what: &'static str },

    /// The secret key's checksum does not match its bytes.
    #[error("the signing key's checksum does not match its secret: the key is damaged")]
    Checksum,

    /// A line does not start with the prefix its place in the format requires.
    #[error("line {line} of the {what} does not start with `{prefix}`")]
    CommentLine {
        line: usize,
        prefix: &'static str,
        what: &'static str,
    },

    /// The secret key is protected by a passphrase.
    #[error(
        "the signing key is encrypted with a passphrase ({rounds} bcrypt rounds), \
         and rulecut needs an unencrypted key"
    )]
    EncryptedKey { rounds: u32 },

    /// The secret key names a key derivation other than signify's bcrypt.
    #[error("the signing key uses key derivation `{found}`, not signify's `BK`")]
    Kdf { found: String },

    /// The public half stored in a secret key is not the one its seed gives.
    #[error("the signing key's public half does not belong to its secret: the key is damaged")]
    KeyMismatch,

    /// A base64 line decodes to the wrong number of bytes.
    #[error("line {line} of the {what} holds {found} bytes, not {expected}")]
    Length {
        expected: usize,
        found: usize,
        line: usize,
        what: &'static str,
    },

    /// The secret key is minisign's, which has another layout.
    #[error("the signing key is a minisign secret key, and rulecut reads signify's format")]
    MinisignSecretKey,

    /// The text ends before a line the format requires.
    #[error("the {what} ends before line {line}")]
    MissingLine { line: usize, what: &'static str },

    /// The signature is minisign's prehashed kind, which signify cannot read.
    #[error(
        "the signature is minisign's prehashed kind (`ED`), and rulecut reads only legacy \
         signatures (`Ed`) over the whole file"
    )]
    Prehashed,

    /// Text follows the last line the format has.
    #[error("unexpected text at line {line} of the {what}")]
    TrailingText { line: usize, what: &'static str },

    /// The base64 line of an embedded signature has no newline after it.
    #[error("line {line} of the {what} does not end with a newline")]
    UnterminatedLine { line: usize, what: &'static str },
}

impl FormatError {
    /// How the user can fix the problem, for the binary to print as a `help:` line.
    pub fn help(&self) -> Option<String> {
        let help = match self {
            FormatError::EncryptedKey { .. } | FormatError::MinisignSecretKey => {
                "create an unencrypted key with `rulecut keygen` or `signify-openbsd -G -n`"
            }
            FormatError::Prehashed => "sign with `minisign -S -l`, which writes legacy signatures",
            _ => return None,
        };
        Some(help.to_owned())
    }
}

/// A cursor over the lines of a key or signature text that numbers them for error messages.
struct Lines<'a> {
    /// The number of the last line read, counting from 1.
    number: usize,
    /// The text after the last line read.
    rest: &'a str,
    /// Whether the last line read ended with a newline.
    terminated: bool,
    /// What the text is, such as "signature", for error messages.
    what: &'static str,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, what: &'static str) -> Lines<'a> {
        Lines {
            number: 0,
            rest: text,
            terminated: true,
            what,
        }
    }

    /// The next line, without its newline or the carriage return before it: minisign strips
    /// both, so a signature that went through a CRLF checkout still reads the same.
    fn next_line(&mut self) -> Result<&'a str, FormatError> {
        self.number += 1;
        if self.rest.is_empty() {
            return Err(FormatError::MissingLine {
                line: self.number,
                what: self.what,
            });
        }
        let (line, rest) = match self.rest.split_once('\n') {
            Some((line, rest)) => (line, Some(rest)),
            None => (self.rest, None),
        };
        self.terminated = rest.is_some();
        self.rest = rest.unwrap_or("");
        Ok(line.strip_suffix('\r').unwrap_or(line))
    }

    /// The next line, which must start with `prefix`; gives what follows the prefix.
    fn comment(&mut self, prefix: &'static str) -> Result<&'a str, FormatError> {
        let line = self.next_line()?;
        line.strip_prefix(prefix).ok_or(FormatError::CommentLine {
            line: self.number,
            prefix,
            what: self.what,
        })
    }

    /// The next line decoded from base64, which must give exactly `N` bytes.
    fn base64<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let bytes = self.base64_bytes()?;
        self.fixed(bytes)
    }

    /// The next line decoded from base64, whatever its length.
    fn base64_bytes(&mut self) -> Result<Vec<u8>, FormatError> {
        let line = self.next_line()?;
        BASE64.decode(line).map_err(|_| FormatError::Base64 {
            line: self.number,
            what: self.what,
        })
    }

    /// The bytes decoded from the last line, which must be exactly `N`.
    fn fixed<const N: usize>(&self, bytes: Vec<u8>) -> Result<[u8; N], FormatError> {
        let found = bytes.len();
        bytes.try_into().map_err(|_| FormatError::Length {
            expected: N,
            found,
            line: self.number,
            what: self.what,
        })
    }

    /// Checks that nothing but white space follows the last line read.
    fn end(self) -> Result<(), FormatError> {
        if self.rest.trim_ascii().is_empty() {
            return Ok(());
        }
        Err(FormatError::TrailingText {
            line: self.number + 1,
            what: self.what,
        })
    }
}

/// What a key file's group and other permission bits let others do with it.
fn access(mode: u32) -> &'static str {
    if mode & 0o044 != 0 {
        "read"
    } else {
        "changed or run"
    }
}

/// `path` as one word for a POSIX shell, quoted only when it needs to be.
fn shell_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "%+,-./:=@_".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        return text.into_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Copies the `N` bytes at `at` out of a decoded key or signature.
///
/// Callers pass blobs whose length was checked when they were decoded, so the range always
/// lies within them.
fn take<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    bytes[at..at + N]
        .try_into()
        .expect("fixed layout: the range lies within the checked blob")
}

/// The two algorithm bytes as text for an error message, escaped where not printable.
fn algorithm_name(bytes: [u8; 2]) -> String {
    bytes.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_strip_carriage_returns_and_number_missing_lines() {
        let mut lines = Lines::new("one\r\ntwo", "signature");
        assert_eq!(lines.next_line().expect("line 1"), "one");
        assert_eq!(lines.next_line().expect("line 2"), "two");
        assert!(!lines.terminated);
        let error = lines.next_line().expect_err("no line 3");
        assert_eq!(error.to_string(), "the signature ends before line 3");
    }

    #[test]
    fn lines_allow_only_white_space_after_the_end() {
        let mut lines = Lines::new("one\n\n  \n", "public key");
        lines.next_line().expect("line 1");
        assert!(lines.end().is_ok());

        let mut lines = Lines::new("one\ntwo\n", "public key");
        lines.next_line().expect("line 1");
        let error = lines.end().expect_err("line 2 is extra");
        assert_eq!(
            error.to_string(),
            "unexpected text at line 2 of the public key"
        );
    }

    #[test]
    fn shell_quote_leaves_plain_paths_alone() {
        assert_eq!(
            shell_quote(Path::new("keys/release.key")),
            "keys/release.key"
        );
    }

    #[test]
    fn shell_quote_quotes_spaces_and_quotes() {
        assert_eq!(
            shell_quote(Path::new("my keys/it's.key")),
            r"'my keys/it'\''s.key'"
        );
    }

    #[test]
    fn readable_key_error_reads_as_the_house_style_says() {
        let error = SignError::SigningKeyReadable {
            mode: 0o644,
            path: PathBuf::from("keys/release.key"),
        };
        assert_eq!(
            error.to_string(),
            "signing key `keys/release.key` can be read by others (mode 0644)"
        );
        assert_eq!(error.help().as_deref(), Some("chmod 600 keys/release.key"));
    }
}
