//! rulecut's keys and signatures checked by the tools a consumer uses instead of rulecut:
//! `signify-openbsd`, `minisign`, `openssl` and `sha256sum`, and their keys and signatures
//! checked by rulecut.
//!
//! A test whose tool is missing fails when the environment variable `CI` is set, because CI
//! must install every verifier; elsewhere it prints `skipped: <tool> not installed` and
//! returns, so a missing tool is never a silent pass.

use std::env;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Output};

use rulecut::digest::sha256_file;
use rulecut::sign::{
    KeyId, PublicKey, SigningKey, TrustedComment, keygen, sign_detached, sign_embedded,
    verify_detached, verify_embedded,
};
use tempfile::TempDir;

/// Whether `tool` is on `PATH`; when not, fails in CI and says why the test skips elsewhere.
fn installed(tool: &str) -> bool {
    let path = env::var_os("PATH").unwrap_or_default();
    if env::split_paths(&path).any(|dir| dir.join(tool).is_file()) {
        return true;
    }
    assert!(
        env::var_os("CI").is_none(),
        "{tool} must be installed in CI: these tests check rulecut's signatures with it"
    );
    // Straight to stderr: the test harness captures `eprintln!` and shows it only on failure,
    // which would make a skip look like a pass.
    let _ = writeln!(io::stderr(), "skipped: {tool} not installed");
    false
}

/// Runs `program` with `args` in `dir`.
fn run(dir: &Path, program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"))
}

fn describe(output: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_accepts(output: &Output) {
    assert!(
        output.status.success(),
        "the verifier refused:\n{}",
        describe(output)
    );
}

fn assert_refuses(output: &Output) {
    assert!(
        !output.status.success(),
        "the verifier accepted:\n{}",
        describe(output)
    );
}

/// A temporary folder holding a new key pair `k.key`, `k.pub`, `k.pem`.
fn folder_with_key() -> (TempDir, SigningKey) {
    let dir = tempfile::tempdir().expect("temp dir");
    keygen(&dir.path().join("k"), false).expect("keygen");
    let key = SigningKey::load(&dir.path().join("k.key")).expect("load the new key");
    (dir, key)
}

/// Bytes like a bundle's: binary, with every byte value and no final newline.
fn bundle_bytes() -> Vec<u8> {
    (0..=255u8).cycle().take(70_000).collect()
}

fn comment(text: &str) -> TrustedComment {
    TrustedComment::new(text).expect("valid trusted comment")
}

/// Writes `name` and its detached signature `name.sig`.
fn write_signed(dir: &Path, key: &SigningKey, name: &str, trusted_comment: &str) {
    let message = bundle_bytes();
    let signature = sign_detached(key, &message, &comment(trusted_comment));
    fs::write(dir.join(name), &message).expect("write file");
    fs::write(dir.join(format!("{name}.sig")), signature).expect("write signature");
}

#[test]
fn signify_verifies_our_detached_signature() {
    if !installed("signify-openbsd") {
        return;
    }
    let (dir, key) = folder_with_key();
    write_signed(dir.path(), &key, "firewall.zip", "RU26-001 firewall.zip");

    // signify reads `firewall.zip.sig` beside the file, and only its first two lines.
    let args = ["-V", "-p", "k.pub", "-m", "firewall.zip"];
    assert_accepts(&run(dir.path(), "signify-openbsd", &args));

    fs::write(dir.path().join("firewall.zip"), b"altered").expect("alter file");
    assert_refuses(&run(dir.path(), "signify-openbsd", &args));
}

#[test]
fn minisign_verifies_our_detached_signature_and_its_trusted_comment() {
    if !installed("minisign") {
        return;
    }
    let (dir, key) = folder_with_key();
    write_signed(
        dir.path(),
        &key,
        "firewall.zip",
        "product RU26-001 seq 7 firewall.zip",
    );

    let args = [
        "-V",
        "-p",
        "k.pub",
        "-m",
        "firewall.zip",
        "-x",
        "firewall.zip.sig",
    ];
    let output = run(dir.path(), "minisign", &args);
    assert_accepts(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Trusted comment: product RU26-001 seq 7 firewall.zip"),
        "{stdout}"
    );

    let sig_path = dir.path().join("firewall.zip.sig");
    let signature = fs::read_to_string(&sig_path).expect("read signature");
    let forged = signature.replace("RU26-001", "RU26-002");
    fs::write(&sig_path, forged).expect("forge trusted comment");
    assert_refuses(&run(dir.path(), "minisign", &args));
}

#[test]
fn minisign_reads_a_trusted_comment_of_the_maximum_length() {
    if !installed("minisign") {
        return;
    }
    let (dir, key) = folder_with_key();
    let longest = "x".repeat(TrustedComment::MAX_BYTES);
    write_signed(dir.path(), &key, "f", &longest);
    let args = ["-V", "-q", "-p", "k.pub", "-m", "f", "-x", "f.sig"];
    assert_accepts(&run(dir.path(), "minisign", &args));

    // One byte more, written by hand since `TrustedComment` refuses it: minisign refuses too.
    let signature = fs::read_to_string(dir.path().join("f.sig")).expect("read signature");
    let longer = signature.replace(&longest, &format!("{longest}x"));
    fs::write(dir.path().join("f.sig"), longer).expect("write signature");
    assert_refuses(&run(dir.path(), "minisign", &args));
}

#[test]
fn minisign_shows_key_ids_as_we_do() {
    if !installed("minisign") {
        return;
    }
    let (dir, signer) = folder_with_key();
    keygen(&dir.path().join("other"), false).expect("second keygen");
    let other = PublicKey::load(&dir.path().join("other.pub")).expect("other key");
    write_signed(dir.path(), &signer, "f", "c");

    // Checked with the wrong key, minisign names both key ids in its own rendering, which
    // drops leading zeros (`printf("%" PRIX64)`); ours always has 16 digits.
    let shown = |id: rulecut::sign::KeyId| {
        let text = id.to_string();
        let trimmed = text.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }
    };
    let args = ["-V", "-p", "other.pub", "-m", "f", "-x", "f.sig"];
    let output = run(dir.path(), "minisign", &args);
    assert_refuses(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("is {}", shown(signer.key_id()))),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("is {}", shown(other.key_id()))),
        "{stderr}"
    );
}

/// A temporary folder holding a file `f` and a key pair `m.pub`, `m.sec` made by minisign;
/// also the public key, loaded.
fn folder_with_minisign_key() -> (TempDir, PublicKey) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keygen_args = ["-G", "-W", "-p", "m.pub", "-s", "m.sec"];
    assert_accepts(&run(dir.path(), "minisign", &keygen_args));
    fs::write(dir.path().join("f"), bundle_bytes()).expect("write file");
    let key = PublicKey::load(&dir.path().join("m.pub")).expect("load minisign's key");
    (dir, key)
}

#[test]
fn minisign_keys_load_with_the_id_minisign_prints() {
    if !installed("minisign") {
        return;
    }
    let (dir, key) = folder_with_minisign_key();
    let text = fs::read_to_string(dir.path().join("m.pub")).expect("read m.pub");
    let printed = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("untrusted comment: minisign public key "))
        .expect("minisign's comment names the key id");
    // minisign prints the id without leading zeros (one key in sixteen has one); ours always
    // has sixteen digits, so compare them as numbers.
    let number = |hex: &str| u64::from_str_radix(hex, 16).expect("a hex key id");
    assert_eq!(number(&key.key_id().to_string()), number(printed));
    let padded = format!("{printed:0>16}");
    assert_eq!(padded.parse::<KeyId>().expect("parse id"), key.key_id());
}

#[test]
fn a_minisign_secret_key_is_refused_by_name() {
    if !installed("minisign") {
        return;
    }
    let (dir, _key) = folder_with_minisign_key();
    let text = fs::read_to_string(dir.path().join("m.sec")).expect("read m.sec");
    let error = SigningKey::from_text(&text).expect_err("minisign's secret key");
    let cause = std::error::Error::source(&error)
        .expect("cause")
        .to_string();
    assert_eq!(
        cause,
        "the signing key is a minisign secret key, and rulecut reads signify's format"
    );
}

#[test]
fn we_verify_minisign_legacy_signatures() {
    if !installed("minisign") {
        return;
    }
    let (dir, key) = folder_with_minisign_key();
    let args = ["-S", "-l", "-s", "m.sec", "-m", "f", "-t", "by minisign"];
    assert_accepts(&run(dir.path(), "minisign", &args));

    let signature = fs::read_to_string(dir.path().join("f.minisig")).expect("read");
    let verified = verify_detached(&[key], &bundle_bytes(), &signature).expect("legacy");
    assert_eq!(verified.trusted_comment, "by minisign");
}

#[test]
fn we_name_minisign_prehashed_signatures_when_refusing_them() {
    if !installed("minisign") {
        return;
    }
    let (dir, key) = folder_with_minisign_key();
    assert_accepts(&run(
        dir.path(),
        "minisign",
        &["-S", "-s", "m.sec", "-m", "f"],
    ));

    let signature = fs::read_to_string(dir.path().join("f.minisig")).expect("read");
    let error = verify_detached(&[key], &bundle_bytes(), &signature).expect_err("prehashed");
    assert_eq!(error.to_string(), "cannot parse signature");
    let cause = std::error::Error::source(&error)
        .expect("cause")
        .to_string();
    assert!(cause.contains("prehashed"), "{cause}");
}

/// Writes two files and `SHA256SUMS.sig`, their BSD-tag checksum list with an embedded
/// signature; also the list alone as `SHA256SUMS`.
fn write_signed_checksums(dir: &Path, key: &SigningKey) -> String {
    fs::write(dir.join("firewall.zip"), bundle_bytes()).expect("write file");
    fs::write(dir.join("manifest.json"), "{\"release\": \"RU26-001\"}\n").expect("write file");
    let mut list = String::new();
    for name in ["firewall.zip", "manifest.json"] {
        let digest = sha256_file(&dir.join(name)).expect("hash file");
        list.push_str(&format!("SHA256 ({name}) = {digest}\n"));
    }
    fs::write(dir.join("SHA256SUMS"), &list).expect("write list");
    fs::write(dir.join("SHA256SUMS.sig"), sign_embedded(key, &list)).expect("write sig");
    list
}

#[test]
fn signify_checks_our_embedded_signed_checksum_list() {
    if !installed("signify-openbsd") {
        return;
    }
    let (dir, key) = folder_with_key();
    write_signed_checksums(dir.path(), &key);

    let args = ["-C", "-p", "k.pub", "-x", "SHA256SUMS.sig"];
    let output = run(dir.path(), "signify-openbsd", &args);
    assert_accepts(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("firewall.zip: OK"), "{stdout}");
    assert!(stdout.contains("manifest.json: OK"), "{stdout}");

    fs::write(dir.path().join("manifest.json"), "{}\n").expect("alter file");
    assert_refuses(&run(dir.path(), "signify-openbsd", &args));
}

#[test]
fn sha256sum_checks_our_checksum_list() {
    if !installed("sha256sum") {
        return;
    }
    let (dir, key) = folder_with_key();
    write_signed_checksums(dir.path(), &key);
    let args = ["-c", "--strict", "SHA256SUMS"];
    assert_accepts(&run(dir.path(), "sha256sum", &args));
}

#[test]
fn openssl_verifies_our_raw_signature_with_the_pem_key() {
    if !installed("openssl") {
        return;
    }
    let (dir, key) = folder_with_key();
    fs::write(dir.path().join("f"), bundle_bytes()).expect("write file");
    fs::write(dir.path().join("f.raw"), key.sign_raw(&bundle_bytes())).expect("write sig");

    let args = [
        "pkeyutl", "-verify", "-pubin", "-inkey", "k.pem", "-rawin", "-in", "f", "-sigfile",
        "f.raw",
    ];
    assert_accepts(&run(dir.path(), "openssl", &args));

    fs::write(dir.path().join("f"), b"altered").expect("alter file");
    assert_refuses(&run(dir.path(), "openssl", &args));
}

#[test]
fn signify_signs_with_our_secret_key_file() {
    if !installed("signify-openbsd") {
        return;
    }
    let (dir, key) = folder_with_key();
    // signify takes a secret key only under a name ending in `.sec`, and opens it without
    // following links, so the key must be copied.
    fs::copy(dir.path().join("k.key"), dir.path().join("k.sec")).expect("copy key");
    fs::write(dir.path().join("f"), bundle_bytes()).expect("write file");

    let detached = ["-S", "-s", "k.sec", "-m", "f", "-x", "f.sig"];
    assert_accepts(&run(dir.path(), "signify-openbsd", &detached));
    // Ed25519 is deterministic, so signify's two lines must carry our very signature.
    let theirs = fs::read_to_string(dir.path().join("f.sig")).expect("read signify's sig");
    let ours = sign_detached(&key, &bundle_bytes(), &comment("c"));
    assert_eq!(theirs.lines().nth(1), ours.lines().nth(1));

    let embedded = ["-S", "-e", "-s", "k.sec", "-m", "k.pub", "-x", "k.pub.sig"];
    assert_accepts(&run(dir.path(), "signify-openbsd", &embedded));
    let signature = fs::read_to_string(dir.path().join("k.pub.sig")).expect("read sig");
    let (key_id, text) = verify_embedded(&[key.public_key()], &signature).expect("verify");
    assert_eq!(key_id, key.key_id());
    assert_eq!(text, key.public_key().to_text());
}

#[test]
fn a_key_made_by_signify_loads_and_signs_for_signify() {
    if !installed("signify-openbsd") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let args = ["-G", "-n", "-p", "x.pub", "-s", "x.sec"];
    assert_accepts(&run(dir.path(), "signify-openbsd", &args));

    let key = SigningKey::load(&dir.path().join("x.sec")).expect("load signify's key");
    let public = PublicKey::load(&dir.path().join("x.pub")).expect("load signify's pub");
    assert_eq!(key.public_key(), public);
    write_signed(dir.path(), &key, "f", "c");
    let signature = fs::read_to_string(dir.path().join("f.sig")).expect("read sig");
    assert!(verify_detached(&[public], &bundle_bytes(), &signature).is_ok());
    let verify = ["-V", "-p", "x.pub", "-m", "f"];
    assert_accepts(&run(dir.path(), "signify-openbsd", &verify));
}
