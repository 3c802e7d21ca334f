//! `rulecut check` and `rulecut build` on the real rule sets in `../shared/corpus/`, through
//! the fixture `tests/fixtures/corpus/release.yaml`.

mod common;

use std::io::Read;

use common::corpus;

const CONFIG: &str = "tests/fixtures/corpus/release.yaml";

fn rulecut(key: &str) -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("rulecut").expect("the rulecut binary");
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RULECUT_SIGNING_KEY", key);
    command
}

#[test]
fn the_corpus_checks_clean_and_its_bundles_carry_every_file_byte_for_byte() {
    let corpus = corpus();
    let dir = tempfile::tempdir().expect("a temporary folder");
    rulecut::sign::keygen(&dir.path().join("k"), false).expect("a key");
    let key = std::fs::read_to_string(dir.path().join("k.key")).expect("a key");
    rulecut(&key)
        .args(["check", "-c", CONFIG])
        .assert()
        .success();
    let out = dir.path().join("dist");
    let output = rulecut(&key)
        .args([
            "build",
            "-c",
            CONFIG,
            "--at",
            "2026-12-01T09:00:00Z",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("rulecut runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let release = out.join("RU26-001");
    let pairs = [
        (
            "intrusion-prevention.zip",
            "et-open",
            corpus.join("ips/et-open"),
            "rules",
        ),
        (
            "log-inspection.zip",
            "wazuh",
            corpus.join("log-inspection/wazuh-v3.13.0"),
            "xml",
        ),
    ];
    for (bundle, source, folder, extension) in pairs {
        let file = std::fs::File::open(release.join(bundle)).expect("a bundle");
        let mut archive = zip::ZipArchive::new(file).expect("a zip");
        let mut compared = 0;
        for entry in std::fs::read_dir(&folder)
            .expect("a corpus folder")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(&format!(".{extension}")) {
                continue;
            }
            let mut inside = Vec::new();
            let mut member = archive
                .by_name(&format!("{source}/{name}"))
                .expect("the file is in the bundle");
            member.read_to_end(&mut inside).expect("readable");
            assert_eq!(
                inside,
                std::fs::read(entry.path()).expect("readable"),
                "{name}"
            );
            compared += 1;
        }
        assert!(compared > 20, "{bundle}: only {compared} files compared");
    }
}
