//! Suricata itself as an independent judge of the Suricata reader, both ways: every rule the
//! reader takes from ET Open, Suricata loads; every broken fixture Suricata refuses, the
//! reader refuses. Where the two disagree (rulecut is stricter on purpose in a few places),
//! the difference is written down, with its reason, in
//! `tests/fixtures/suricata-known-differences.txt`: at most ten lines, and each line must
//! still be a real difference, so the file cannot rot.
//!
//! Suricata runs as `suricata -T -v -S FILE -l TMPDIR`: test mode, loading FILE alone, with
//! the configuration its Debian package installs, offline. `scripts/install-suricata.sh`
//! installs it. Without it the tests fail where `CI` is set and are skipped, saying so,
//! elsewhere.

mod common;

use std::collections::BTreeSet;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use rulecut::rules::{Kind, RuleFile, suricata};

use common::{corpus, files};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `suricata` on `PATH`, or `None` after saying the test is skipped.
fn find_suricata() -> Option<PathBuf> {
    let paths = env::var_os("PATH").unwrap_or_default();
    let found = env::split_paths(&paths)
        .map(|dir| dir.join("suricata"))
        .find(|path| path.is_file());
    if found.is_none() {
        let help = "run scripts/install-suricata.sh";
        assert!(
            env::var_os("CI").is_none(),
            "suricata must be installed in CI: {help}"
        );
        eprintln!("skipped: suricata not installed ({help} to run this test)");
    }
    found
}

/// What Suricata made of a rule file.
struct Verdict {
    failed: usize,
    /// The lines of the file whose rule Suricata refused.
    failed_lines: BTreeSet<usize>,
    loaded: usize,
    output: String,
    success: bool,
}

fn judge(suricata: &Path, rules: &Path, settings: &[String]) -> Verdict {
    let logs = tempfile::tempdir().expect("a temporary folder for Suricata's logs");
    let mut command = Command::new(suricata);
    command
        .args(["-T", "-v", "-S"])
        .arg(rules)
        .arg("-l")
        .arg(logs.path());
    for setting in settings {
        command.args(["--set", setting]);
    }
    let output = command.output().expect("suricata runs");
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    // Suricata says: "1 rule files processed. 2 rules successfully loaded, 1 rules failed".
    let count = |after: &str| -> usize {
        let Some((before, _)) = text.split_once(after) else {
            return 0;
        };
        let number = before
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap_or_default();
        number.parse().unwrap_or(0)
    };
    let failed_lines = text
        .lines()
        .filter(|line| line.contains("error parsing signature"))
        .filter_map(|line| line.rsplit_once(" at line ")?.1.trim().parse().ok())
        .collect();
    Verdict {
        failed: count(" rules failed"),
        failed_lines,
        loaded: count(" rules successfully loaded"),
        output: text.into_owned(),
        success: output.status.success(),
    }
}

/// The subjects listed in the known-differences file, before each `:`.
fn known_differences() -> BTreeSet<String> {
    let path = manifest_dir().join("tests/fixtures/suricata-known-differences.txt");
    let text = fs::read_to_string(&path).expect("the known-differences file exists");
    assert!(
        text.lines().count() <= 10,
        "{} must stay within ten lines",
        path.display()
    );
    let entries = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty());
    let subject = |line: &str| -> String {
        let subject = line.split_once(':').map_or(line, |(subject, _)| subject);
        subject.trim().to_owned()
    };
    entries.map(subject).collect()
}

fn rule_file(path: &Path) -> RuleFile {
    RuleFile {
        bytes: fs::read(path).expect("a readable rule file"),
        display: path.display().to_string(),
        entry: String::new(),
        source: "test".into(),
    }
}

/// Writes every rule read from a folder, disabled ones uncommented, one a line, and gives
/// their ids: line N holds the rule `ids[N - 1]`.
fn write_rules(folder: &Path, to: &Path) -> Vec<String> {
    let mut text = String::new();
    let mut ids = Vec::new();
    for path in files(folder, "rules") {
        for rule in suricata::parse(&rule_file(&path), Kind::IntrusionPrevention).rules {
            text.push_str(&rule.content);
            text.push('\n');
            ids.push(rule.id);
        }
    }
    fs::write(to, text).expect("the rules are written");
    ids
}

#[test]
fn every_rule_read_from_et_open_loads_in_suricata() {
    let Some(suricata) = find_suricata() else {
        return;
    };
    let folder = corpus().join("ips/et-open");

    let scratch = tempfile::tempdir().expect("a temporary folder");
    let all = scratch.path().join("all.rules");
    let ids = write_rules(&folder, &all);
    let classification = folder.join("classification.config");
    let settings = [format!("classification-file={}", classification.display())];
    let verdict = judge(&suricata, &all, &settings);

    let output = &verdict.output;
    let refused: BTreeSet<String> = verdict
        .failed_lines
        .iter()
        .map(|n| ids[n - 1].clone())
        .collect();
    let known = known_differences();
    let unexplained: Vec<&String> = refused.difference(&known).collect();
    assert!(
        unexplained.is_empty(),
        "Suricata refuses rules we read: {unexplained:?}\n{output}"
    );
    assert_eq!(verdict.loaded + verdict.failed, ids.len(), "{output}");
    assert_eq!(verdict.failed, refused.len(), "{output}");
    let mut stale = known
        .iter()
        .filter(|id| ids.contains(id) && !refused.contains(*id));
    assert!(
        stale.next().is_none(),
        "a listed ET rule now loads: take it off the list"
    );
}

#[test]
fn every_sample_rule_loads_in_suricata() {
    let Some(suricata) = find_suricata() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("a temporary folder");
    let all = scratch.path().join("samples.rules");
    let ids = write_rules(&manifest_dir().join("rules/intrusion-prevention"), &all);
    assert!(ids.len() >= 4, "the samples hold Suricata rules: {ids:?}");
    let verdict = judge(&suricata, &all, &[]);
    assert_eq!(
        (verdict.loaded, verdict.failed),
        (ids.len(), 0),
        "{}",
        verdict.output
    );
}

/// The lines of a rule file a person would take for rules: not blank, not comments.
fn rule_lines(bytes: &[u8]) -> usize {
    let text = String::from_utf8_lossy(bytes).replace("\\\n", "");
    let lines = text.lines().map(str::trim);
    lines
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .count()
}

/// Whether Suricata refuses a fixture, whether we do, and what Suricata said.
fn both_verdicts(suricata: &Path, path: &Path) -> (bool, bool, String) {
    let file = rule_file(path);
    let parsed = suricata::parse(&file, Kind::IntrusionPrevention);
    let we_refuse = parsed.diagnostics.iter().any(|d| d.is_error());
    let verdict = judge(suricata, path, &[]);
    // Suricata skips an indented rule without an error: loading fewer rules than the file
    // shows is a refusal too.
    let skipped = verdict.loaded < rule_lines(&file.bytes);
    let it_refuses = !verdict.success || verdict.failed > 0 || skipped;
    (it_refuses, we_refuse, verdict.output)
}

#[test]
fn every_broken_fixture_suricata_refuses_is_refused_by_us_too() {
    let Some(suricata) = find_suricata() else {
        return;
    };
    let folder = manifest_dir().join("tests/fixtures/broken/suricata");
    let mut missed = Vec::new();
    let mut stricter = BTreeSet::new();
    for path in files(&folder, "rules") {
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let name = format!("suricata/{file_name}");
        match both_verdicts(&suricata, &path) {
            (true, false, output) => missed.push(format!("{name}\n{output}")),
            (false, true, _) => {
                stricter.insert(name);
            }
            _ => {}
        }
    }
    assert!(
        missed.is_empty(),
        "Suricata refuses, rulecut accepts:\n{}",
        missed.join("\n")
    );
    let known = known_differences().into_iter();
    let listed: BTreeSet<String> = known
        .filter(|subject| subject.starts_with("suricata/"))
        .collect();
    assert_eq!(
        stricter, listed,
        "fixtures rulecut refuses and Suricata loads, against the list"
    );
}
