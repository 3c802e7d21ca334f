//! Release history through the real binary: releases in a row, the change set in the notes,
//! each guard refusing and then overridden, `diff`, `notes`, and cutting a reviewed plan.
//!
//! The fixture is a product with intrusion-prevention rules in a folder (YAML, with
//! revisions) and log-inspection rules in a git repository (OSSEC XML, without revisions),
//! committed with fixed dates so commit subjects can be pinned.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tempfile::TempDir;

use common::snapshot;

const AT: [&str; 5] = [
    "2026-12-01T09:00:00Z",
    "2026-12-08T09:00:00Z",
    "2026-12-15T09:00:00Z",
    "2026-12-22T09:00:00Z",
    "2026-12-29T09:00:00Z",
];

const CONFIG: &str = "\
product: History Test
release:
  id: \"RU{yy}-{seq}\"
signing:
  key: keys/unused.key
output: out
sources:
  - name: ips
    kind: intrusion-prevention
    format: yaml
    path: ips
  - name: li
    kind: log-inspection
    format: ossec-xml
    git: { repo: li-repo, ref: main, path: rules }
guards:
  max_removed_share: 0.5
";

/// An intrusion-prevention rule: `sid`, revision, mode, and a pattern that stands for its
/// content.
#[derive(Clone, Copy)]
struct Ips(u32, u32, &'static str, &'static str);

impl Ips {
    fn yaml(self) -> String {
        let Ips(sid, revision, mode, pattern) = self;
        let action = if mode == "prevent" { "drop" } else { "alert" };
        format!(
            "- id: {sid}\n  revision: {revision}\n  name: web attack {sid}\n  severity: high\n  \
             cves: [CVE-2021-{sid}]\n  mode: {mode}\n  intrusion_prevention:\n    action: \
             {action}\n    header: http $EXTERNAL_NET any -> $HOME_NET any\n    options: \
             'flow:established,to_server; content:\"{pattern}\"; classtype:attempted-admin;'\n"
        )
    }
}

/// A log-inspection rule: id and the text it matches.
fn li(id: u32, matched: &str) -> String {
    format!(
        "  <rule id=\"{id}\" level=\"5\">\n    <match>{matched}</match>\n    \
         <description>local rule {id}</description>\n  </rule>\n"
    )
}

struct Fixture {
    dir: TempDir,
    key: String,
}

impl Fixture {
    /// The project, with rules `9000001`-`9000004` and `100001`-`100002` committed.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("release.yaml"), CONFIG).expect("write release.yaml");
        std::fs::create_dir_all(dir.path().join("ips")).expect("mkdir");
        git2::Repository::init(dir.path().join("li-repo")).expect("a git repository");
        let mut fixture = Fixture {
            dir,
            key: String::new(),
        };
        fixture.key = fixture.keygen();
        fixture.ips(&FIRST);
        fixture.commit_li(
            &[li(100001, "alpha"), li(100002, "beta")],
            "Add local rules",
        );
        fixture
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    /// A key made by `rulecut keygen`, as CI would keep it in a secret.
    fn keygen(&self) -> String {
        let prefix = self.path().join("keys/release");
        std::fs::create_dir_all(self.path().join("keys")).expect("mkdir");
        let prefix_text = prefix.to_string_lossy().into_owned();
        let output = self.run(&["keygen", "--out", &prefix_text]);
        assert!(output.status.success(), "{}", stderr(&output));
        std::fs::read_to_string(prefix.with_extension("key")).expect("the key")
    }

    fn ips(&self, rules: &[Ips]) {
        let text: String = rules.iter().map(|r| r.yaml()).collect();
        std::fs::write(self.path().join("ips/web.yaml"), text).expect("write rules");
    }

    /// Commits `rules/local.xml` holding `rules`, on a clock that moves a day a commit.
    fn commit_li(&self, rules: &[String], message: &str) {
        let repo = git2::Repository::open(self.path().join("li-repo")).expect("the repository");
        let xml = format!("<group name=\"local,\">\n{}</group>\n", rules.concat());
        let folder = self.path().join("li-repo/rules");
        std::fs::create_dir_all(&folder).expect("mkdir");
        std::fs::write(folder.join("local.xml"), xml).expect("write rules");
        let mut index = repo.index().expect("an index");
        index
            .add_path(Path::new("rules/local.xml"))
            .expect("git add");
        index.write().expect("write the index");
        let tree = repo
            .find_tree(index.write_tree().expect("a tree"))
            .expect("the tree");
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let seconds =
            1_790_000_000 + 86_400 * parent.as_ref().map_or(0, |p| p.time().seconds() % 7 + 1);
        let time = git2::Time::new(seconds, 0);
        let who =
            git2::Signature::new("Rule Author", "author@example.com", &time).expect("a signature");
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(
            Some("refs/heads/main"),
            &who,
            &who,
            message,
            &tree,
            &parents,
        )
        .expect("a commit");
        repo.set_head("refs/heads/main").expect("HEAD on main");
    }

    fn command(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::cargo_bin("rulecut").expect("the rulecut binary");
        command
            .current_dir(self.path())
            .env("RULECUT_SIGNING_KEY", &self.key)
            .env_remove("RULECUT_SIGNING_KEY_FILE")
            .env_remove("SOURCE_DATE_EPOCH");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("rulecut runs")
    }

    /// `rulecut build --at AT ARGS`, which must succeed; the release folder it printed.
    fn build(&self, at: &str, args: &[&str]) -> PathBuf {
        let output = self.run(&[&["build", "--at", at], args].concat());
        assert!(output.status.success(), "build failed: {}", stderr(&output));
        self.path().join(stdout(&output).trim())
    }

    /// `rulecut build --at AT` refused by `guard`, naming `rule`, with the output folder left
    /// as it was; then cut with the guard's override, which the manifest records.
    fn refused_then_overridden(&self, at: &str, guard: &str, rule: &str) -> PathBuf {
        let before = snapshot(&self.out());
        let output = self.run(&["build", "--at", at]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let message = stderr(&output);
        assert!(message.contains(&format!("guard `{guard}`")), "{message}");
        assert!(message.contains(&format!("`{rule}`")), "{message}");
        assert!(
            message.contains(&format!(
                "help: if the change is intended, build again with `--allow-{guard}`"
            )),
            "{message}"
        );
        assert_eq!(
            snapshot(&self.out()),
            before,
            "a refused build wrote something"
        );
        let release = self.build(at, &[&format!("--allow-{guard}")]);
        let manifest = json(&release.join("manifest.json"));
        assert_eq!(manifest["guards_overridden"], serde_json::json!([guard]));
        release
    }
}

const FIRST: [Ips; 4] = [
    Ips(9000001, 1, "detect", "one"),
    Ips(9000002, 1, "detect", "two"),
    Ips(9000003, 1, "detect", "three"),
    Ips(9000004, 1, "prevent", "four"),
];

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(path: &Path) -> Value {
    let text = std::fs::read(path).expect("a JSON file");
    serde_json::from_slice(&text).expect("valid JSON")
}

/// The ids in a notes or diff list, such as `kinds.log-inspection.new`.
fn ids(list: &Value) -> Vec<String> {
    let items = list.as_array().expect("a list");
    items
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The second release of the fixture: one IPS rule new, one updated (moving to prevent), one
/// removed; one log-inspection rule updated without a revision, one new.
fn second_release(fixture: &Fixture) -> PathBuf {
    fixture.ips(&[
        Ips(9000001, 2, "prevent", "one"),
        Ips(9000002, 1, "detect", "two"),
        Ips(9000004, 1, "prevent", "four"),
        Ips(9000005, 1, "detect", "five"),
    ]);
    fixture.commit_li(
        &[
            li(100001, "alpha2"),
            li(100002, "beta"),
            li(100003, "gamma"),
        ],
        "Widen alpha, add gamma",
    );
    fixture.build(AT[1], &[])
}

#[test]
fn two_releases_in_a_row_list_exactly_their_changes_in_both_notes() {
    let fixture = Fixture::new();
    let first = fixture.build(AT[0], &[]);
    let second = second_release(&fixture);
    assert_ne!(first, second);
    let notes = json(&second.join("release-notes.json"));
    let ips = &notes["kinds"]["intrusion-prevention"];
    assert_eq!(ids(&ips["new"]), ["1:9000005"]);
    assert_eq!(ids(&ips["updated"]), ["1:9000001"]);
    assert_eq!(ids(&ips["removed"]), ["1:9000003"]);
    assert_eq!(ids(&ips["moved_to_prevent"]), ["1:9000001"]);
    let li = &notes["kinds"]["log-inspection"];
    assert_eq!(ids(&li["new"]), ["100003"]);
    assert_eq!(ids(&li["updated"]), ["100001"]);
    assert_eq!(ids(&li["removed"]), Vec::<String>::new());
    let markdown = std::fs::read_to_string(second.join("RELEASE-NOTES.md")).expect("notes");
    assert!(
        markdown.starts_with("# History Test RU26-002\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| intrusion-prevention | 1 | 1 | 1 | 4 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| log-inspection | 1 | 1 | 0 | 3 |"),
        "{markdown}"
    );
    let listed: Vec<&str> = markdown
        .lines()
        .filter(|l| l.starts_with("- 1:") || l.starts_with("- 1000"))
        .collect();
    assert_eq!(
        listed,
        [
            "- 1:9000005 - web attack 9000005 (CVE-2021-9000005), severity high",
            concat!(
                "- 1:9000001 - web attack 9000001 (CVE-2021-9000001), severity high: ",
                "revision 1 -> 2, mode detect -> prevent"
            ),
            "- 1:9000001 - web attack 9000001 (CVE-2021-9000001), severity high",
            "- 1:9000003 - web attack 9000003 (CVE-2021-9000003), severity high",
            "- 100003 - local rule 100003, severity 5",
            "- 100001 - local rule 100001, severity 5",
        ],
        "{markdown}"
    );
    assert!(
        markdown.contains("### Moving from detect to prevent\n- 1:9000001"),
        "{markdown}"
    );
    let commits: Vec<&str> = markdown.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(commits, ["  - Widen alpha, add gamma"], "{markdown}");
}

#[test]
fn a_changed_rule_without_a_raised_revision_is_refused_until_overridden() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    let mut rules = FIRST;
    rules[1] = Ips(9000002, 1, "detect", "two changed");
    fixture.ips(&rules);
    fixture.refused_then_overridden(AT[1], "unraised-revision", "1:9000002");
}

#[test]
fn a_lowered_revision_is_refused_until_overridden() {
    let fixture = Fixture::new();
    let mut rules = FIRST;
    rules[0] = Ips(9000001, 5, "detect", "one");
    fixture.ips(&rules);
    fixture.build(AT[0], &[]);
    rules[0] = Ips(9000001, 4, "detect", "one older");
    fixture.ips(&rules);
    fixture.refused_then_overridden(AT[1], "lowered-revision", "1:9000001");
}

#[test]
fn rules_without_revisions_change_without_any_guard() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    fixture.commit_li(
        &[li(100001, "alpha"), li(100002, "beta changed")],
        "Change beta",
    );
    let release = fixture.build(AT[1], &[]);
    let notes = json(&release.join("release-notes.json"));
    assert_eq!(
        ids(&notes["kinds"]["log-inspection"]["updated"]),
        ["100002"]
    );
    assert_eq!(
        json(&release.join("manifest.json"))["guards_overridden"],
        serde_json::json!([])
    );
}

#[test]
fn an_id_removed_earlier_and_back_with_other_content_is_refused_until_overridden() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    fixture.ips(&[FIRST[0], FIRST[1], FIRST[3]]);
    fixture.build(AT[1], &[]);
    fixture.ips(&[
        FIRST[0],
        FIRST[1],
        FIRST[3],
        Ips(9000003, 2, "detect", "something else"),
    ]);
    fixture.refused_then_overridden(AT[2], "reused-id", "1:9000003");
}

#[test]
fn removing_more_than_the_share_allowed_is_refused_until_overridden() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    fixture.ips(&[FIRST[0]]);
    let release = fixture.refused_then_overridden(AT[1], "mass-removal", "1:9000002");
    let notes = json(&release.join("release-notes.json"));
    assert_eq!(
        ids(&notes["kinds"]["intrusion-prevention"]["removed"]).len(),
        3
    );
}

#[test]
fn an_emergency_fix_taken_back_after_a_later_release_is_refused_until_overridden() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    let mut fixed = FIRST;
    fixed[2] = Ips(9000003, 2, "prevent", "three fixed");
    fixture.ips(&fixed);
    let emergency = fixture.build(
        AT[1],
        &["--emergency", "--reason", "CVE-2026-0001 exploited"],
    );
    let markdown = std::fs::read_to_string(emergency.join("RELEASE-NOTES.md")).expect("notes");
    let lines: Vec<&str> = markdown.lines().filter(|l| !l.is_empty()).take(2).collect();
    assert_eq!(lines[1], "> **Emergency release.** CVE-2026-0001 exploited");
    fixture.commit_li(
        &[li(100001, "alpha"), li(100002, "beta"), li(100004, "delta")],
        "Add delta",
    );
    fixture.build(AT[2], &[]);
    // The next release is cut from a branch without the fix.
    fixture.ips(&FIRST);
    let before = snapshot(&fixture.out());
    let output = fixture.run(&["build", "--at", AT[3], "--allow-lowered-revision"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("emergency release `RU26-002`"),
        "{}",
        stderr(&output)
    );
    assert_eq!(snapshot(&fixture.out()), before);
    let release = fixture.build(
        AT[3],
        &["--allow-lowered-revision", "--allow-emergency-rollback"],
    );
    let manifest = json(&release.join("manifest.json"));
    assert_eq!(
        manifest["guards_overridden"],
        serde_json::json!(["emergency-rollback", "lowered-revision"])
    );
}

#[test]
fn diff_compares_two_releases_or_a_release_with_the_sources() {
    let fixture = Fixture::new();
    let first = fixture.build(AT[0], &[]);
    let second = second_release(&fixture);
    let (first, second) = (first.to_string_lossy(), second.to_string_lossy());
    let output = fixture.run(&["diff", &first, &second]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("intrusion-prevention: 1 new, 1 updated, 1 removed, 4 in all\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "  ~ 1:9000001 - web attack 9000001: revision 1 -> 2, mode detect -> prevent\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("  - 1:9000003 - web attack 9000003\n"),
        "{text}"
    );
    assert!(
        text.contains("  ~ 100001 - local rule 100001: content\n"),
        "{text}"
    );
    let output = fixture.run(&["diff", &first, "--sources", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let changes: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(ids(&changes["log-inspection"]["new"]), ["100003"]);
    assert_eq!(
        ids(&changes["intrusion-prevention"]["removed"]),
        ["1:9000003"]
    );
    let output = fixture.run(&["diff", &second, "--sources", "--json"]);
    let changes: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let counts = |kind: &str| {
        ["new", "updated", "removed"].map(|k| changes[kind][k].as_array().map_or(0, Vec::len))
    };
    assert_eq!(counts("intrusion-prevention"), [0, 0, 0]);
    assert_eq!(counts("log-inspection"), [0, 0, 0]);
}

#[test]
fn notes_renders_a_release_again_with_its_own_or_another_template() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    let second = second_release(&fixture);
    let folder = second.to_string_lossy();
    let before = snapshot(&fixture.out());
    let output = fixture.run(&["notes", &folder]);
    assert!(output.status.success(), "{}", stderr(&output));
    let markdown = std::fs::read(second.join("RELEASE-NOTES.md")).expect("notes");
    assert_eq!(
        output.stdout, markdown,
        "the rebuilt notes differ from the release's"
    );
    let output = fixture.run(&["notes", &folder, "--json"]);
    assert_eq!(
        output.stdout,
        std::fs::read(second.join("release-notes.json")).expect("notes")
    );
    let template = fixture.path().join("short.j2");
    let text = concat!(
        "{{ release }} after {{ previous }}:{% for kind, c in kinds | items %}",
        " {{ kind }} +{{ c.new | length }} -{{ c.removed | length }}{% endfor %}\n"
    );
    std::fs::write(&template, text).expect("write the template");
    let output = fixture.run(&["notes", &folder, "--template", &template.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "RU26-002 after RU26-001: intrusion-prevention +1 -1 log-inspection +1 -0\n"
    );
    assert_eq!(
        snapshot(&fixture.out()),
        before,
        "`notes` changed the release"
    );
}

#[test]
fn a_template_error_names_the_file_and_line() {
    let fixture = Fixture::new();
    let release = fixture.build(AT[0], &[]);
    let template = fixture.path().join("bad.j2");
    std::fs::write(&template, "fine\n{{ release }\n").expect("write the template");
    let output = fixture.run(&[
        "notes",
        &release.to_string_lossy(),
        "--template",
        &template.to_string_lossy(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("bad.j2` line 2"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_reviewed_plan_is_cut_as_it_was_reviewed() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    fixture.ips(&[
        FIRST[0],
        FIRST[1],
        FIRST[2],
        FIRST[3],
        Ips(9000005, 1, "detect", "five"),
    ]);
    let output = fixture.run(&["build", "--dry-run", "--json", "--at", AT[1]]);
    assert!(output.status.success(), "{}", stderr(&output));
    let plan_path = fixture.path().join("plan.json");
    std::fs::write(&plan_path, &output.stdout).expect("write the plan");
    let plan: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(plan["release"], "RU26-002");
    assert_eq!(
        ids(&plan["changes"]["intrusion-prevention"]["new"]),
        ["1:9000005"]
    );
    assert!(fixture.out().join("RU26-001").exists() && !fixture.out().join("RU26-002").exists());
    let output = fixture.run(&["build", "--plan", &plan_path.to_string_lossy()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let manifest = json(&fixture.out().join("RU26-002/manifest.json"));
    assert_eq!(manifest["release"], plan["release"]);
    assert_eq!(manifest["created"], plan["created"]);
    assert_eq!(manifest["sources"], plan["sources"]);
    assert_eq!(manifest["previous"], plan["previous"]);
}

#[test]
fn a_plan_whose_sources_moved_since_the_review_is_refused() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    let output = fixture.run(&["build", "--dry-run", "--json", "--at", AT[1]]);
    let plan_path = fixture.path().join("plan.json");
    std::fs::write(&plan_path, &output.stdout).expect("write the plan");
    fixture.commit_li(
        &[li(100001, "alpha"), li(100002, "beta"), li(100009, "late")],
        "A late change",
    );
    let before = snapshot(&fixture.out());
    let output = fixture.run(&["build", "--plan", &plan_path.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("source `li` was `log-inspection commit "),
        "{message}"
    );
    assert!(
        message.contains("the release differs from the reviewed plan in 1 way(s)"),
        "{message}"
    );
    assert_eq!(snapshot(&fixture.out()), before);
    let output = fixture.run(&[
        "build",
        "--plan",
        &plan_path.to_string_lossy(),
        "--emergency",
        "--reason",
        "x",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("trigger was `manual`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_dry_run_shows_what_the_guards_refuse_and_fails() {
    let fixture = Fixture::new();
    fixture.build(AT[0], &[]);
    fixture.ips(&[FIRST[0]]);
    let output = fixture.run(&["build", "--dry-run", "--at", AT[1]]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output)
            .contains("guard    refuses: intrusion-prevention: 3 of 4 rules removed at once"),
        "{}",
        stdout(&output)
    );
    let output = fixture.run(&["build", "--dry-run", "--at", AT[1], "--allow-mass-removal"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("guard    overridden: intrusion-prevention: 3 of 4"),
        "{}",
        stdout(&output)
    );
    assert!(!fixture.out().join("RU26-002").exists());
}
