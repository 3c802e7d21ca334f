//! Key ids, public keys and signing keys, and the text files that hold them.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha512};

use super::{
    BASE64, ED25519, FormatError, Lines, SignError, UNTRUSTED_PREFIX, algorithm_name, take,
};

/// Key files are a few hundred bytes. Reading stops well past that, so that a key path
/// pointing at some large file by mistake fails at once instead of filling memory.
const KEY_FILE_MAX_BYTES: u64 = 64 * 1024;

/// signify's key derivation: bcrypt-pbkdf, which with zero rounds leaves the secret in clear.
const BCRYPT_KDF: [u8; 2] = *b"BK";

/// The checksum algorithm of a minisign secret key, which tells one apart from signify's.
const MINISIGN_CHECKSUM: [u8; 2] = *b"B2";

/// The length of a minisign secret key, decoded.
const MINISIGN_SECRET_KEY_BYTES: usize = 158;

/// The DER of an Ed25519 SubjectPublicKeyInfo up to the key itself (RFC 8410, section 4): a
/// sequence holding the algorithm identifier 1.3.101.112 and a 33-byte bit string whose first
/// byte counts unused bits. The key's 32 bytes follow.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A key's 8-byte key number, which every signature carries to say which key made it.
///
/// Displayed as minisign shows it: the number read as a little-endian integer, in 16
/// upper-case hex digits. Parsing accepts either case.
#[derive(Clone, Copy, Eq, Hash, PartialEq)]
pub struct KeyId([u8; 8]);

impl KeyId {
    /// Wraps a key number as the files store it.
    pub fn from_bytes(bytes: [u8; 8]) -> KeyId {
        KeyId(bytes)
    }

    /// The key number as the files store it.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = SignError;

    fn from_str(text: &str) -> Result<KeyId, SignError> {
        // `from_str_radix` alone would also take a sign and fewer digits.
        if text.len() != 16 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return Err(SignError::ParseKeyId {
                found: text.to_owned(),
            });
        }
        let number = u64::from_str_radix(text, 16).expect("16 hex digits fit in a u64");
        Ok(KeyId(number.to_le_bytes()))
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 public key with its key number.
///
/// Its file is `untrusted comment: rulecut public key <KEYID>`, then the base64 of `Ed` ‖ key
/// number ‖ 32-byte key: what `signify-openbsd -G` and `minisign -G` write, so each reads the
/// other's keys and rulecut reads both.
#[derive(Clone, Eq, Hash, PartialEq)]
pub struct PublicKey {
    key: [u8; 32],
    key_id: KeyId,
}

impl PublicKey {
    /// Reads a public key file.
    pub fn load(path: &Path) -> Result<PublicKey, SignError> {
        let read_error = |source| SignError::ReadPublicKey {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        let text = read_key_file(file).map_err(read_error)?;
        parse_public_key(&text).map_err(|source| SignError::ParsePublicKeyFile {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses a public key file's text.
    pub fn from_text(text: &str) -> Result<PublicKey, SignError> {
        parse_public_key(text).map_err(|source| SignError::ParsePublicKey { source })
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        let mut blob = Vec::with_capacity(42);
        blob.extend_from_slice(&ED25519);
        blob.extend_from_slice(self.key_id.as_bytes());
        blob.extend_from_slice(&self.key);
        format!(
            "{UNTRUSTED_PREFIX}rulecut public key {}\n{}\n",
            self.key_id,
            BASE64.encode(blob)
        )
    }

    /// The key as SPKI PEM, the form `openssl pkeyutl -verify -pubin -inkey` reads.
    pub fn to_pem(&self) -> String {
        let mut der = Vec::with_capacity(SPKI_ED25519_PREFIX.len() + 32);
        der.extend_from_slice(&SPKI_ED25519_PREFIX);
        der.extend_from_slice(&self.key);
        // 44 bytes give 60 base64 characters: one line, within PEM's 64.
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(der)
        )
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The raw 32-byte Ed25519 key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub(super) fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.key)
            .verify(message, signature)
            .is_ok()
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn parse_public_key(text: &str) -> Result<PublicKey, FormatError> {
    let what = "public key";
    let mut lines = Lines::new(text, what);
    lines.comment(UNTRUSTED_PREFIX)?;
    let blob: [u8; 42] = lines.base64()?;
    lines.end()?;

    let algorithm = take::<2>(&blob, 0);
    if algorithm != ED25519 {
        let found = algorithm_name(algorithm);
        return Err(FormatError::Algorithm { found, what });
    }
    Ok(PublicKey {
        key: take(&blob, 10),
        key_id: KeyId(take(&blob, 2)),
    })
}

/// An Ed25519 key that makes signatures. Its `Debug` shows the key id only.
///
/// Its file is signify's unencrypted secret key, so that `signify-openbsd -S` can use it too:
/// `untrusted comment: ...`, then the base64 of 104 bytes: `Ed`, `BK` (bcrypt-pbkdf), the
/// number of kdf rounds as a big-endian u32, which must be 0 (no passphrase: with 0 rounds
/// signify XORs the secret with zeros), a 16-byte salt, a checksum (the first 8 bytes of the
/// SHA-512 of the 64-byte secret), the key number, and the 64-byte secret: the 32-byte seed
/// followed by the public key.
///
/// Neither this type nor ring's key pair wipes the secret from memory when dropped.
pub struct SigningKey {
    key_id: KeyId,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// Reads a signing key file, refusing one that its group or others can read, write or run:
    /// a release key that others can read is as good as published.
    pub fn load(path: &Path) -> Result<SigningKey, SignError> {
        let read_error = |source| SignError::ReadSigningKey {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        // The mode of the file that was opened, not of whatever the path names a moment later.
        let mode = file.metadata().map_err(read_error)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            let path = path.to_owned();
            return Err(SignError::SigningKeyReadable { mode, path });
        }

        let text = read_key_file(file).map_err(read_error)?;
        parse_signing_key(&text).map_err(|source| SignError::ParseSigningKeyFile {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses a signing key file's text, as the binary takes it from the environment. The text
    /// may lack its final newline, which shells drop from `$(cat key)`.
    pub fn from_text(text: &str) -> Result<SigningKey, SignError> {
        parse_signing_key(text).map_err(|source| SignError::ParseSigningKey { source })
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    pub fn public_key(&self) -> PublicKey {
        let key = self.pair.public_key().as_ref();
        PublicKey {
            key: key.try_into().expect("an Ed25519 public key is 32 bytes"),
            key_id: self.key_id,
        }
    }

    /// The bare 64-byte Ed25519 signature of `message`, as `openssl pkeyutl -rawin` checks it.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        let signature = self.pair.sign(message);
        signature
            .as_ref()
            .try_into()
            .expect("an Ed25519 signature is 64 bytes")
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

fn parse_signing_key(text: &str) -> Result<SigningKey, FormatError> {
    SecretKey::parse(text)?.signing_key()
}

/// The fields of a signify secret key file. Deliberately without `Debug`.
pub(super) struct SecretKey {
    key_id: KeyId,
    public: [u8; 32],
    salt: [u8; 16],
    seed: [u8; 32],
}

impl SecretKey {
    /// A secret key from its seed; the public half is derived from it.
    pub(super) fn new(seed: [u8; 32], key_id: KeyId, salt: [u8; 16]) -> SecretKey {
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).expect("any 32 bytes are a seed");
        let public = pair.public_key().as_ref().try_into();
        SecretKey {
            key_id,
            public: public.expect("an Ed25519 public key is 32 bytes"),
            salt,
            seed,
        }
    }

    /// A new random key: seed, key number and salt all from the operating system.
    pub(super) fn generate(random: &SystemRandom) -> Result<SecretKey, SignError> {
        let seed = random_bytes(random)?;
        let key_id = KeyId(random_bytes(random)?);
        Ok(SecretKey::new(seed, key_id, random_bytes(random)?))
    }

    /// The 64-byte secret as signify stores it: seed, then public key.
    fn secret(&self) -> [u8; 64] {
        let mut secret = [0; 64];
        secret[..32].copy_from_slice(&self.seed);
        secret[32..].copy_from_slice(&self.public);
        secret
    }

    /// The key file's text.
    pub(super) fn to_text(&self) -> String {
        let secret = self.secret();
        let mut blob = Vec::with_capacity(104);
        blob.extend_from_slice(&ED25519);
        blob.extend_from_slice(&BCRYPT_KDF);
        blob.extend_from_slice(&0u32.to_be_bytes());
        blob.extend_from_slice(&self.salt);
        blob.extend_from_slice(&checksum(&secret));
        blob.extend_from_slice(self.key_id.as_bytes());
        blob.extend_from_slice(&secret);
        format!(
            "{UNTRUSTED_PREFIX}rulecut secret key {}\n{}\n",
            self.key_id,
            BASE64.encode(blob)
        )
    }

    pub(super) fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.public,
            key_id: self.key_id,
        }
    }

    fn parse(text: &str) -> Result<SecretKey, FormatError> {
        let mut lines = Lines::new(text, "signing key");
        lines.comment(UNTRUSTED_PREFIX)?;
        let bytes = lines.base64_bytes()?;
        // Say what the key is rather than only that its length is wrong.
        if bytes.len() == MINISIGN_SECRET_KEY_BYTES && bytes[4..6] == MINISIGN_CHECKSUM {
            return Err(FormatError::MinisignSecretKey);
        }
        let blob: [u8; 104] = lines.fixed(bytes)?;
        lines.end()?;

        check_secret_header(&blob)?;
        let secret: [u8; 64] = take(&blob, 40);
        if checksum(&secret) != take::<8>(&blob, 24) {
            return Err(FormatError::Checksum);
        }
        Ok(SecretKey {
            key_id: KeyId(take(&blob, 32)),
            public: take(&secret, 32),
            salt: take(&blob, 8),
            seed: take(&secret, 0),
        })
    }

    /// The ring key pair, checking that the stored public half is the seed's.
    pub(super) fn signing_key(&self) -> Result<SigningKey, FormatError> {
        let pair = Ed25519KeyPair::from_seed_and_public_key(&self.seed, &self.public)
            .map_err(|_| FormatError::KeyMismatch)?;
        Ok(SigningKey {
            key_id: self.key_id,
            pair,
        })
    }
}

/// Checks the algorithm, the key derivation and that the key has no passphrase.
fn check_secret_header(blob: &[u8; 104]) -> Result<(), FormatError> {
    let algorithm = take::<2>(blob, 0);
    if algorithm != ED25519 {
        let found = algorithm_name(algorithm);
        return Err(FormatError::Algorithm {
            found,
            what: "signing key",
        });
    }
    let kdf = take::<2>(blob, 2);
    if kdf != BCRYPT_KDF {
        let found = algorithm_name(kdf);
        return Err(FormatError::Kdf { found });
    }
    let rounds = u32::from_be_bytes(take(blob, 4));
    if rounds != 0 {
        return Err(FormatError::EncryptedKey { rounds });
    }
    Ok(())
}

/// signify's secret key checksum: the first 8 bytes of the SHA-512 of the 64-byte secret.
fn checksum(secret: &[u8; 64]) -> [u8; 8] {
    take(&Sha512::digest(secret), 0)
}

fn random_bytes<const N: usize>(random: &SystemRandom) -> Result<[u8; N], SignError> {
    let mut bytes = [0; N];
    random
        .fill(&mut bytes)
        .map_err(|_| SignError::GenerateKey)?;
    Ok(bytes)
}

/// Reads a whole key file, refusing one too large to be a key.
fn read_key_file(file: File) -> io::Result<String> {
    let mut text = String::new();
    file.take(KEY_FILE_MAX_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > KEY_FILE_MAX_BYTES {
        let message = format!("larger than {KEY_FILE_MAX_BYTES} bytes, so not a key file");
        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032, section 7.1: seed, public key, message and signature, in hex.
    const RFC8032: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac\
             c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e\
             458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290\
             ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    /// RFC 8032's TEST 1024, whose message of 1023 bytes is kept in its own file.
    const RFC8032_TEST_1024: (&str, &str, &str) = (
        "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
        "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
        "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528\
         ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
    );

    /// RFC 8032's TEST SHA(abc): the message is the SHA-512 of "abc".
    const RFC8032_TEST_SHA_ABC: (&str, &str, &str) = (
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfd\
         fbc7c66431e0303dca179c138ac17ad9bef1177331a704",
    );

    fn unhex<const N: usize>(text: &str) -> [u8; N] {
        let mut bytes = [0; N];
        hex::decode_to_slice(text, &mut bytes).expect("test vector hex");
        bytes
    }

    /// Checks one vector through the same path a loaded key takes.
    fn check_vector(seed: &str, public: &str, message: &[u8], signature: &str) {
        let secret = SecretKey::new(unhex(seed), KeyId([7; 8]), [0; 16]);
        let key = secret.signing_key().expect("seed and its own public key");
        assert_eq!(hex::encode(key.public_key().as_bytes()), public);
        let made = key.sign_raw(message);
        assert_eq!(hex::encode(made), signature);
        assert!(key.public_key().verifies(message, &made));
    }

    #[test]
    fn rfc8032_tests_1_to_3_give_the_listed_keys_and_signatures() {
        for (seed, public, message, signature) in RFC8032 {
            check_vector(seed, public, &hex::decode(message).expect("hex"), signature);
        }
    }

    #[test]
    fn rfc8032_test_1024_gives_the_listed_key_and_signature() {
        let text = include_str!("testdata/rfc8032-test-1024.hex");
        let message = hex::decode(text.split_whitespace().collect::<String>()).expect("hex");
        assert_eq!(message.len(), 1023);
        let (seed, public, signature) = RFC8032_TEST_1024;
        check_vector(seed, public, &message, signature);
    }

    #[test]
    fn rfc8032_test_sha_abc_gives_the_listed_key_and_signature() {
        let (seed, public, signature) = RFC8032_TEST_SHA_ABC;
        check_vector(seed, public, &Sha512::digest(b"abc"), signature);
    }

    #[test]
    fn a_flipped_bit_in_an_rfc8032_signature_fails() {
        let (seed, public, _, signature) = RFC8032[1];
        let key = SecretKey::new(unhex(seed), KeyId([7; 8]), [0; 16]).public_key();
        assert_eq!(hex::encode(key.as_bytes()), public);
        let mut signature: [u8; 64] = unhex(signature);
        assert!(key.verifies(b"\x72", &signature));
        signature[63] ^= 0x01;
        assert!(!key.verifies(b"\x72", &signature));
    }

    #[test]
    fn key_id_shows_the_little_endian_number_in_upper_case_hex() {
        // The key number of a key made by `minisign -G`, which printed its id as below.
        let key_id = KeyId([0xcf, 0x44, 0xbc, 0x45, 0x13, 0xc7, 0xea, 0x99]);
        assert_eq!(key_id.to_string(), "99EAC71345BC44CF");
        assert_eq!("99eac71345bc44cf".parse::<KeyId>().expect("parse"), key_id);
    }

    #[test]
    fn key_id_parse_refuses_signs_and_short_text() {
        assert!("+9EAC71345BC44CF".parse::<KeyId>().is_err());
        assert!("99EAC71345BC44C".parse::<KeyId>().is_err());
        assert!("99EAC71345BC44CFF".parse::<KeyId>().is_err());
    }

    #[test]
    fn key_id_serialises_as_its_display() {
        let key_id = KeyId([1, 2, 3, 4, 5, 6, 7, 8]);
        let json = serde_json::to_string(&key_id).expect("serialise");
        assert_eq!(json, "\"0807060504030201\"");
        assert_eq!(serde_json::from_str::<KeyId>(&json).expect("read"), key_id);
    }

    /// A public key made by `minisign -G`, and the id minisign printed in its comment.
    const MINISIGN_PUBLIC_KEY: &str = "untrusted comment: minisign public key 99EAC71345BC44CF\n\
         RWTPRLxFE8fqmVHPKg/a7Orzf+24QbEaPsZwGIwhIMj+UcbO1QgKrrDp\n";

    #[test]
    fn public_key_from_minisign_reads_with_its_key_id() {
        let key = PublicKey::from_text(MINISIGN_PUBLIC_KEY).expect("minisign's key");
        assert_eq!(key.key_id().to_string(), "99EAC71345BC44CF");
    }

    #[test]
    fn public_key_text_round_trips() {
        let key = PublicKey::from_text(MINISIGN_PUBLIC_KEY).expect("minisign's key");
        let text = key.to_text();
        assert!(text.starts_with("untrusted comment: rulecut public key 99EAC71345BC44CF\n"));
        assert_eq!(PublicKey::from_text(&text).expect("own text"), key);
    }

    #[test]
    fn pem_wraps_the_key_in_the_ed25519_spki_prefix() {
        let key = PublicKey::from_text(MINISIGN_PUBLIC_KEY).expect("minisign's key");
        let pem = key.to_pem();
        let body = pem.lines().nth(1).expect("base64 line");
        let der = BASE64.decode(body).expect("base64");
        assert_eq!(hex::encode(&der[..12]), "302a300506032b6570032100");
        assert_eq!(&der[12..], key.as_bytes());
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("\n-----END PUBLIC KEY-----\n"));
    }

    #[test]
    fn public_key_with_another_algorithm_is_refused() {
        let line = MINISIGN_PUBLIC_KEY.lines().nth(1).expect("line 2");
        let mut blob = BASE64.decode(line).expect("base64");
        blob[..2].copy_from_slice(b"XY");
        let text = format!("untrusted comment: x\n{}\n", BASE64.encode(blob));
        let error = PublicKey::from_text(&text).expect_err("algorithm XY");
        let SignError::ParsePublicKey { source } = error else {
            panic!("unexpected error {error:?}");
        };
        assert_eq!(
            source.to_string(),
            "the public key is for algorithm `XY`, and rulecut reads only Ed25519 (`Ed`)"
        );
    }

    #[test]
    fn public_key_of_wrong_length_or_bad_base64_is_refused() {
        let short = "untrusted comment: x\nRWTPRLxFE8fqmQ==\n";
        let error = parse_public_key(short).expect_err("short");
        assert_eq!(
            error.to_string(),
            "line 2 of the public key holds 10 bytes, not 42"
        );
        let error = parse_public_key("untrusted comment: x\nnot base64!\n").expect_err("base64");
        assert_eq!(
            error.to_string(),
            "line 2 of the public key is not valid base64"
        );
        let error = parse_public_key("comment: x\n").expect_err("prefix");
        assert_eq!(
            error.to_string(),
            "line 1 of the public key does not start with `untrusted comment: `"
        );
    }

    fn sample_secret() -> SecretKey {
        SecretKey::new([42; 32], KeyId([1, 2, 3, 4, 5, 6, 7, 8]), [9; 16])
    }

    /// The decoded bytes of a secret key's text, to damage in tests.
    fn secret_blob(secret: &SecretKey) -> Vec<u8> {
        let text = secret.to_text();
        BASE64
            .decode(text.lines().nth(1).expect("line 2"))
            .expect("base64")
    }

    fn secret_text(blob: &[u8]) -> String {
        format!("untrusted comment: x\n{}\n", BASE64.encode(blob))
    }

    #[test]
    fn secret_key_text_round_trips_without_its_final_newline() {
        let secret = sample_secret();
        let text = secret.to_text();
        assert!(text.starts_with("untrusted comment: rulecut secret key 0807060504030201\n"));
        let key = SigningKey::from_text(text.trim_end()).expect("own text");
        assert_eq!(key.key_id(), secret.key_id);
        assert_eq!(key.public_key(), secret.public_key());
    }

    #[test]
    fn secret_key_layout_is_signifys() {
        let blob = secret_blob(&sample_secret());
        assert_eq!(blob.len(), 104);
        assert_eq!(&blob[..4], b"EdBK");
        assert_eq!(&blob[4..8], &[0; 4]);
        assert_eq!(&blob[8..24], &[9; 16]);
        assert_eq!(&blob[24..32], &Sha512::digest(&blob[40..])[..8]);
        assert_eq!(&blob[32..40], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&blob[40..72], &[42; 32]);
    }

    #[test]
    fn encrypted_secret_key_is_refused_with_the_reason() {
        let mut blob = secret_blob(&sample_secret());
        blob[4..8].copy_from_slice(&42u32.to_be_bytes());
        let error = parse_signing_key(&secret_text(&blob)).expect_err("encrypted");
        assert!(matches!(error, FormatError::EncryptedKey { rounds: 42 }));
        assert!(
            error
                .to_string()
                .contains("rulecut needs an unencrypted key")
        );
        assert!(
            error
                .help()
                .expect("help")
                .contains("signify-openbsd -G -n")
        );
    }

    #[test]
    fn damaged_secret_key_fails_its_checksum() {
        let mut blob = secret_blob(&sample_secret());
        blob[50] ^= 1;
        let error = parse_signing_key(&secret_text(&blob)).expect_err("damaged");
        assert!(matches!(error, FormatError::Checksum));
    }

    #[test]
    fn secret_key_whose_public_half_is_not_its_seeds_is_refused() {
        let mut blob = secret_blob(&sample_secret());
        blob[80] ^= 1;
        let checksum = checksum(&take(&blob, 40));
        blob[24..32].copy_from_slice(&checksum);
        let error = parse_signing_key(&secret_text(&blob)).expect_err("mismatch");
        assert!(matches!(error, FormatError::KeyMismatch));
    }

    #[test]
    fn secret_key_with_another_kdf_or_algorithm_or_length_is_refused() {
        let blob = secret_blob(&sample_secret());
        let mut kdf = blob.clone();
        kdf[2..4].copy_from_slice(b"XX");
        let error = parse_signing_key(&secret_text(&kdf)).expect_err("kdf");
        assert_eq!(
            error.to_string(),
            "the signing key uses key derivation `XX`, not signify's `BK`"
        );
        let mut algorithm = blob.clone();
        algorithm[..2].copy_from_slice(b"ED");
        let error = parse_signing_key(&secret_text(&algorithm)).expect_err("algorithm");
        assert!(matches!(error, FormatError::Algorithm { .. }));
        let error = parse_signing_key(&secret_text(&blob[..103])).expect_err("length");
        assert_eq!(
            error.to_string(),
            "line 2 of the signing key holds 103 bytes, not 104"
        );
    }

    #[test]
    fn minisign_secret_key_is_named_as_such() {
        let mut blob = vec![0; MINISIGN_SECRET_KEY_BYTES];
        blob[..6].copy_from_slice(b"EdScB2");
        let error = parse_signing_key(&secret_text(&blob)).expect_err("minisign");
        assert!(matches!(error, FormatError::MinisignSecretKey));
    }

    #[test]
    fn signing_key_debug_shows_the_key_id_and_no_secret() {
        let secret = sample_secret();
        let key = secret.signing_key().expect("key");
        let debug = format!("{key:?}");
        assert_eq!(debug, "SigningKey { key_id: KeyId(0807060504030201), .. }");
        let base64_secret = BASE64.encode(secret.secret());
        assert!(!debug.contains(&base64_secret[..8]));
    }

    #[test]
    fn errors_about_a_secret_key_never_show_its_bytes() {
        let secret = sample_secret();
        let mut blob = secret_blob(&secret);
        blob[50] ^= 1;
        let error = SigningKey::from_text(&secret_text(&blob)).expect_err("damaged");
        let shown = format!("{error} {error:?} {:?}", std::error::Error::source(&error));
        let line = secret_text(&blob);
        let base64 = line.lines().nth(1).expect("line 2");
        assert!(!shown.contains(&base64[20..40]), "{shown}");
    }
}
