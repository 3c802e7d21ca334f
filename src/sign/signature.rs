//! Detached and embedded signatures: making them, and checking them against trusted keys.

use std::fmt;

use base64::Engine;

use super::{
    BASE64, ED25519, ED25519_PREHASHED, FormatError, KeyId, Lines, PublicKey, SignError,
    SigningKey, UNTRUSTED_PREFIX, algorithm_name, take,
};

/// The third line of a detached signature starts with this.
const TRUSTED_PREFIX: &str = "trusted comment: ";

/// The text of a detached signature's trusted comment, checked to fit on its line.
///
/// minisign signs the comment's bytes as they stand on the line after `trusted comment: `, so
/// the rules are those of a line as minisign 0.11 reads it: no newline (it would end the
/// line), no carriage return (minisign strips one at the end of the line, which would change
/// the signed bytes), no NUL (minisign is C and would stop there), and at most
/// [`TrustedComment::MAX_BYTES`] bytes. Leading and trailing spaces and tabs are kept and
/// signed. An empty comment is allowed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TrustedComment(String);

impl TrustedComment {
    /// The longest trusted comment minisign 0.11 reads: its line buffer holds 8192 bytes, less
    /// the 17 of `trusted comment: `, the newline and C's terminating NUL. One byte more and
    /// `minisign -V` says "Trusted comment too long".
    pub const MAX_BYTES: usize = 8173;

    pub fn new(text: impl Into<String>) -> Result<TrustedComment, SignError> {
        let text = text.into();
        if let Some(found) = text.chars().find(|c| matches!(c, '\n' | '\r' | '\0')) {
            return Err(SignError::TrustedCommentCharacter { found });
        }
        if text.len() > TrustedComment::MAX_BYTES {
            let (found, max) = (text.len(), TrustedComment::MAX_BYTES);
            return Err(SignError::TrustedCommentLength { found, max });
        }
        Ok(TrustedComment(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustedComment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a good detached signature vouches for.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Verified {
    /// The trusted key that made the signature.
    pub key_id: KeyId,
    /// The trusted comment, signed together with the signature.
    pub trusted_comment: String,
}

/// Signs `message` with minisign's four-line legacy signature:
///
/// ```text
/// untrusted comment: signature from rulecut secret key <KEYID>
/// base64(Ed ‖ key number ‖ Ed25519 signature of the message)
/// trusted comment: <trusted_comment>
/// base64(Ed25519 signature of the 64-byte signature ‖ the trusted comment's bytes)
/// ```
///
/// `minisign -V` checks all four lines; `signify-openbsd -V` reads the first two, which are a
/// whole signify signature. Pure Ed25519 needs the whole message in memory (it passes over
/// it twice); that is fine for rule bundles of megabytes. minisign's prehashed form avoids it,
/// but signify cannot read that.
pub fn sign_detached(key: &SigningKey, message: &[u8], trusted_comment: &TrustedComment) -> String {
    let signature = key.sign_raw(message);
    let global = key.sign_raw(&global_message(&signature, trusted_comment.as_str()));
    format!(
        "{}{}\n{TRUSTED_PREFIX}{trusted_comment}\n{}\n",
        header(key),
        signature_line(key, &signature),
        BASE64.encode(global)
    )
}

/// Signs `text` with signify's embedded signature (`signify-openbsd -S -e`): the two signature
/// lines, then `text` itself, byte for byte. This is the form `signify-openbsd -C -x` reads for
/// a signed checksum list.
pub fn sign_embedded(key: &SigningKey, text: &str) -> String {
    let signature = key.sign_raw(text.as_bytes());
    format!("{}{}\n{text}", header(key), signature_line(key, &signature))
}

/// Checks a detached signature of `message` by one of the `trusted` keys: both the signature
/// over the message and the global signature over the signature and the trusted comment.
///
/// The untrusted comment is ignored, as its name says. Line endings may be CRLF, as minisign
/// allows; text after the fourth line, which minisign would ignore, is refused.
pub fn verify_detached(
    trusted: &[PublicKey],
    message: &[u8],
    sig_text: &str,
) -> Result<Verified, SignError> {
    let parsed = parse_detached(sig_text).map_err(|source| SignError::ParseSignature { source })?;
    let key = trusted_key(trusted, parsed.key_id)?;
    let key_id = parsed.key_id;
    if !key.verifies(message, &parsed.signature) {
        return Err(SignError::SignatureMismatch { key_id });
    }

    let global_message = global_message(&parsed.signature, parsed.trusted_comment);
    if !key.verifies(&global_message, &parsed.global) {
        return Err(SignError::TrustedCommentMismatch { key_id });
    }
    Ok(Verified {
        key_id,
        trusted_comment: parsed.trusted_comment.to_owned(),
    })
}

/// Checks an embedded signature by one of the `trusted` keys, and gives the key id and the
/// signed text: everything after the second line's newline. That text is the only part of
/// `sig_text` to trust; a file shipped beside it with the same content proves nothing.
pub fn verify_embedded(
    trusted: &[PublicKey],
    sig_text: &str,
) -> Result<(KeyId, String), SignError> {
    let (key_id, signature, text) =
        parse_embedded(sig_text).map_err(|source| SignError::ParseSignature { source })?;
    let key = trusted_key(trusted, key_id)?;
    if !key.verifies(text.as_bytes(), &signature) {
        return Err(SignError::SignatureMismatch { key_id });
    }
    Ok((key_id, text.to_owned()))
}

/// The first line of every signature rulecut writes. signify insists it is not empty.
fn header(key: &SigningKey) -> String {
    format!(
        "{UNTRUSTED_PREFIX}signature from rulecut secret key {}\n",
        key.key_id()
    )
}

/// The base64 line of a signature: `Ed` ‖ key number ‖ signature.
fn signature_line(key: &SigningKey, signature: &[u8; 64]) -> String {
    let mut blob = Vec::with_capacity(74);
    blob.extend_from_slice(&ED25519);
    blob.extend_from_slice(key.key_id().as_bytes());
    blob.extend_from_slice(signature);
    BASE64.encode(blob)
}

/// What minisign's global signature signs: the bare 64-byte signature, without its algorithm
/// and key number, followed by the trusted comment.
fn global_message(signature: &[u8; 64], trusted_comment: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(64 + trusted_comment.len());
    message.extend_from_slice(signature);
    message.extend_from_slice(trusted_comment.as_bytes());
    message
}

fn trusted_key(trusted: &[PublicKey], key_id: KeyId) -> Result<&PublicKey, SignError> {
    trusted
        .iter()
        .find(|key| key.key_id() == key_id)
        .ok_or(SignError::UntrustedKey { key_id })
}

/// The parts of a detached signature.
struct Detached<'a> {
    global: [u8; 64],
    key_id: KeyId,
    signature: [u8; 64],
    trusted_comment: &'a str,
}

fn parse_detached(text: &str) -> Result<Detached<'_>, FormatError> {
    let mut lines = Lines::new(text, "signature");
    lines.comment(UNTRUSTED_PREFIX)?;
    let (key_id, signature) = signature_blob(&mut lines)?;
    let trusted_comment = lines.comment(TRUSTED_PREFIX)?;
    let global = lines.base64()?;
    lines.end()?;
    Ok(Detached {
        global,
        key_id,
        signature,
        trusted_comment,
    })
}

/// The key id, signature and signed text of an embedded signature.
fn parse_embedded(text: &str) -> Result<(KeyId, [u8; 64], &str), FormatError> {
    let mut lines = Lines::new(text, "signature");
    lines.comment(UNTRUSTED_PREFIX)?;
    let (key_id, signature) = signature_blob(&mut lines)?;
    // Without this newline there is no signed text at all, and signify refuses the file.
    if !lines.terminated {
        let (line, what) = (lines.number, lines.what);
        return Err(FormatError::UnterminatedLine { line, what });
    }
    Ok((key_id, signature, lines.rest))
}

/// Reads the base64 line of `Ed` ‖ key number ‖ signature.
fn signature_blob(lines: &mut Lines<'_>) -> Result<(KeyId, [u8; 64]), FormatError> {
    let blob: [u8; 74] = lines.base64()?;
    let algorithm = take::<2>(&blob, 0);
    if algorithm == ED25519_PREHASHED {
        return Err(FormatError::Prehashed);
    }
    if algorithm != ED25519 {
        let found = algorithm_name(algorithm);
        let what = lines.what;
        return Err(FormatError::Algorithm { found, what });
    }
    Ok((KeyId::from_bytes(take(&blob, 2)), take(&blob, 10)))
}

#[cfg(test)]
mod tests {
    use super::super::key::SecretKey;
    use super::*;

    fn test_key(seed: u8) -> SigningKey {
        let secret = SecretKey::new([seed; 32], KeyId::from_bytes([seed; 8]), [0; 16]);
        secret.signing_key().expect("test key")
    }

    fn comment(text: &str) -> TrustedComment {
        TrustedComment::new(text).expect("valid trusted comment")
    }

    /// Replaces line `index` (from 0) of a signature.
    fn with_line(sig: &str, index: usize, line: &str) -> String {
        let mut lines: Vec<&str> = sig.lines().collect();
        lines[index] = line;
        lines.join("\n") + "\n"
    }

    /// The decoded signature line of a detached or embedded signature.
    fn blob(sig: &str) -> Vec<u8> {
        BASE64
            .decode(sig.lines().nth(1).expect("line 2"))
            .expect("base64")
    }

    #[test]
    fn detached_signature_verifies_and_gives_key_id_and_comment() {
        let key = test_key(1);
        let sig = sign_detached(
            &key,
            b"bundle bytes",
            &comment("product RU26-001 firewall.zip"),
        );
        let verified = verify_detached(&[key.public_key()], b"bundle bytes", &sig).expect("good");
        assert_eq!(verified.key_id, key.key_id());
        assert_eq!(verified.trusted_comment, "product RU26-001 firewall.zip");
    }

    #[test]
    fn detached_signature_has_four_lines_in_minisigns_order() {
        let key = test_key(1);
        let sig = sign_detached(&key, b"m", &comment("c"));
        let lines: Vec<&str> = sig.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            format!(
                "untrusted comment: signature from rulecut secret key {}",
                key.key_id()
            )
        );
        assert_eq!(lines[2], "trusted comment: c");
        assert!(sig.ends_with('\n'));
        let blob = blob(&sig);
        assert_eq!(&blob[..2], b"Ed");
        assert_eq!(&blob[2..10], key.key_id().as_bytes());
        assert_eq!(&blob[10..], key.sign_raw(b"m"));
    }

    #[test]
    fn detached_signature_is_deterministic() {
        let key = test_key(1);
        let first = sign_detached(&key, b"m", &comment("c"));
        assert_eq!(sign_detached(&key, b"m", &comment("c")), first);
    }

    #[test]
    fn tampered_message_is_rejected() {
        let key = test_key(1);
        let sig = sign_detached(&key, b"bundle bytes", &comment("c"));
        let error = verify_detached(&[key.public_key()], b"bundle bytez", &sig).expect_err("bad");
        assert!(matches!(error, SignError::SignatureMismatch { key_id } if key_id == key.key_id()));
    }

    #[test]
    fn tampered_trusted_comment_is_rejected() {
        let key = test_key(1);
        let sig = sign_detached(&key, b"m", &comment("RU26-001 firewall.zip"));
        let forged = with_line(&sig, 2, "trusted comment: RU26-002 firewall.zip");
        let error = verify_detached(&[key.public_key()], b"m", &forged).expect_err("forged");
        assert!(matches!(error, SignError::TrustedCommentMismatch { .. }));
    }

    #[test]
    fn signature_by_an_untrusted_key_names_that_key() {
        let (signer, other) = (test_key(1), test_key(2));
        let sig = sign_detached(&signer, b"m", &comment("c"));
        let error = verify_detached(&[other.public_key()], b"m", &sig).expect_err("untrusted");
        assert_eq!(
            error.to_string(),
            format!("signed by key `{}`, which is not trusted", signer.key_id())
        );
        assert!(error.help().is_some());
    }

    #[test]
    fn another_key_with_the_same_key_number_is_rejected() {
        let signer = test_key(1);
        let impostor = SecretKey::new([9; 32], signer.key_id(), [0; 16]);
        let sig = sign_detached(&signer, b"m", &comment("c"));
        let trusted = [impostor.public_key()];
        let error = verify_detached(&trusted, b"m", &sig).expect_err("wrong key");
        assert!(matches!(error, SignError::SignatureMismatch { .. }));
    }

    #[test]
    fn the_right_key_is_picked_among_several() {
        let keys = [test_key(1), test_key(2), test_key(3)];
        let trusted: Vec<PublicKey> = keys.iter().map(SigningKey::public_key).collect();
        let sig = sign_detached(&keys[2], b"m", &comment("c"));
        let verified = verify_detached(&trusted, b"m", &sig).expect("good");
        assert_eq!(verified.key_id, keys[2].key_id());
    }

    #[test]
    fn crlf_line_endings_and_a_missing_final_newline_are_accepted() {
        let key = test_key(1);
        let sig = sign_detached(&key, b"m", &comment("c"));
        let crlf = sig.replace('\n', "\r\n");
        assert!(verify_detached(&[key.public_key()], b"m", &crlf).is_ok());
        assert!(verify_detached(&[key.public_key()], b"m", sig.trim_end()).is_ok());
    }

    fn parse_error(trusted: &[PublicKey], sig: &str) -> FormatError {
        match verify_detached(trusted, b"m", sig) {
            Err(SignError::ParseSignature { source }) => source,
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    fn assert_parse_errors(cases: &[(String, &str)]) {
        let key = test_key(1);
        for (text, expected) in cases {
            let error = parse_error(&[key.public_key()], text);
            assert_eq!(error.to_string(), *expected, "{text:?}");
        }
    }

    #[test]
    fn malformed_lines_are_named_by_number() {
        let sig = sign_detached(&test_key(1), b"m", &comment("c"));
        assert_parse_errors(&[
            (
                with_line(&sig, 0, "comment: x"),
                "line 1 of the signature does not start with `untrusted comment: `",
            ),
            (
                with_line(&sig, 1, "@@@@"),
                "line 2 of the signature is not valid base64",
            ),
            (
                with_line(&sig, 1, "RWQ="),
                "line 2 of the signature holds 2 bytes, not 74",
            ),
            (
                with_line(&sig, 2, "comment: c"),
                "line 3 of the signature does not start with `trusted comment: `",
            ),
            (
                with_line(&sig, 3, "AAAA"),
                "line 4 of the signature holds 3 bytes, not 64",
            ),
        ]);
    }

    #[test]
    fn missing_and_extra_lines_are_named_by_number() {
        let sig = sign_detached(&test_key(1), b"m", &comment("c"));
        let signify_style = sig.lines().take(2).collect::<Vec<_>>().join("\n") + "\n";
        assert_parse_errors(&[
            (signify_style, "the signature ends before line 3"),
            (
                format!("{sig}extra\n"),
                "unexpected text at line 5 of the signature",
            ),
            (String::new(), "the signature ends before line 1"),
        ]);
    }

    #[test]
    fn prehashed_and_other_algorithms_are_refused() {
        let key = test_key(1);
        let sig = sign_detached(&key, b"m", &comment("c"));
        let mut prehashed = blob(&sig);
        prehashed[..2].copy_from_slice(b"ED");
        let text = with_line(&sig, 1, &BASE64.encode(&prehashed));
        let error = parse_error(&[key.public_key()], &text);
        assert!(matches!(error, FormatError::Prehashed));
        assert!(error.help().expect("help").contains("minisign -S -l"));

        prehashed[..2].copy_from_slice(&[0xff, b'x']);
        let text = with_line(&sig, 1, &BASE64.encode(&prehashed));
        let error = parse_error(&[key.public_key()], &text);
        assert_eq!(
            error.to_string(),
            "the signature is for algorithm `\\xffx`, and rulecut reads only Ed25519 (`Ed`)"
        );
    }

    #[test]
    fn trusted_comment_must_be_one_line_without_nul() {
        for bad in ["a\nb", "a\rb", "ab\r", "a\0b"] {
            let error = TrustedComment::new(bad).expect_err(bad);
            assert!(
                matches!(error, SignError::TrustedCommentCharacter { .. }),
                "{bad:?}"
            );
        }
        let error = TrustedComment::new("a\nb").expect_err("newline");
        assert_eq!(
            error.to_string(),
            "a trusted comment must be a single line without NUL, and this one holds `\\n`"
        );
    }

    #[test]
    fn trusted_comment_length_stops_where_minisign_does() {
        assert!(TrustedComment::new("a".repeat(TrustedComment::MAX_BYTES)).is_ok());
        let error = TrustedComment::new("a".repeat(TrustedComment::MAX_BYTES + 1));
        assert!(matches!(
            error,
            Err(SignError::TrustedCommentLength { found: 8174, .. })
        ));
    }

    #[test]
    fn spaces_tabs_and_unicode_in_a_trusted_comment_are_signed_as_they_are() {
        let key = test_key(1);
        let text = "  RU26-001\tfirewall.zip ✓  ";
        let sig = sign_detached(&key, b"m", &comment(text));
        let verified = verify_detached(&[key.public_key()], b"m", &sig).expect("good");
        assert_eq!(verified.trusted_comment, text);
    }

    #[test]
    fn embedded_signature_gives_back_exactly_the_signed_text() {
        let key = test_key(1);
        let text = "SHA256 (a.zip) = 00\nSHA256 (b.zip) = 11\n";
        let sig = sign_embedded(&key, text);
        assert!(sig.ends_with(text));
        assert_eq!(sig.lines().count(), 4);
        let (key_id, signed) = verify_embedded(&[key.public_key()], &sig).expect("good");
        assert_eq!((key_id, signed.as_str()), (key.key_id(), text));
    }

    #[test]
    fn embedded_signature_of_altered_text_is_rejected() {
        let key = test_key(1);
        let sig = sign_embedded(&key, "SHA256 (a.zip) = 00\n");
        let altered = sig.replace("= 00", "= 01");
        let error = verify_embedded(&[key.public_key()], &altered).expect_err("altered");
        assert!(matches!(error, SignError::SignatureMismatch { .. }));
        let error = verify_embedded(&[test_key(2).public_key()], &sig).expect_err("untrusted");
        assert!(matches!(error, SignError::UntrustedKey { .. }));
    }

    #[test]
    fn embedded_signature_of_empty_text_needs_its_newline() {
        let key = test_key(1);
        let sig = sign_embedded(&key, "");
        assert_eq!(
            verify_embedded(&[key.public_key()], &sig).expect("good").1,
            ""
        );
        let error = verify_embedded(&[key.public_key()], sig.trim_end()).expect_err("no newline");
        let SignError::ParseSignature { source } = error else {
            panic!("unexpected error {error:?}");
        };
        assert!(matches!(
            source,
            FormatError::UnterminatedLine { line: 2, .. }
        ));
    }
}
