//! Release notes: the notes stage of the pipeline.
//!
//! Notes are rendered from minijinja templates: `RELEASE-NOTES.md.j2` for people and
//! `release-notes.json.j2` for machines. The defaults are built into the binary; a folder named
//! by `notes.templates` in `release.yaml` overrides either. Both templates see the same
//! [`Notes`] context, and the JSON one must render valid JSON.
//!
//! The context is made only of what a published release holds (its manifest and bundles, and
//! those of the release before it) plus the subjects of the git commits between the two
//! releases' source commits. So `rulecut notes` can rebuild it from the release folders alone
//! ([`rebuild`]), and renders the same notes the build wrote, the commit subjects aside where
//! the git repositories are not at hand.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, Value};
use minijinja::{Environment, context};
use serde::{Serialize, Serializer};
use thiserror::Error;

use crate::config::SourceConfig;
use crate::diff::{self, ChangeSet, KindChanges};
use crate::ledger::{self, Entry, LedgerError};
use crate::manifest::{Manifest, SourceRecord, Trigger};
use crate::rules::Kind;
use crate::source;
use crate::version::AgentVersion;

pub const MARKDOWN_NAME: &str = "RELEASE-NOTES.md";
pub const JSON_NAME: &str = "release-notes.json";
const MARKDOWN_TEMPLATE: &str = "RELEASE-NOTES.md.j2";
const JSON_TEMPLATE: &str = "release-notes.json.j2";
const BUILT_IN: [(&str, &str); 2] = [
    (
        MARKDOWN_TEMPLATE,
        include_str!("../templates/RELEASE-NOTES.md.j2"),
    ),
    (
        JSON_TEMPLATE,
        include_str!("../templates/release-notes.json.j2"),
    ),
];

#[derive(Debug, Error)]
pub enum NotesError {
    #[error("template `{template}` does not render valid JSON")]
    InvalidJson {
        template: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(
        "release `{release}` is not in the chain of releases in `{}`",
        path.display()
    )]
    NotInChain { path: PathBuf, release: String },
    #[error("cannot read template `{}`", path.display())]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template `{template}`{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Render {
        line: Option<usize>,
        reason: String,
        template: String,
    },
}

impl NotesError {
    /// 1 where a release folder was checked and rejected, 2 where the job could not be done.
    pub fn exit_code(&self) -> u8 {
        match self {
            NotesError::NotInChain { .. } => 1,
            _ => 2,
        }
    }
}

/// A source as the notes show it: its revision, the previous release's, and the commit
/// subjects in between where it is a git source.
#[derive(Clone, Debug, Serialize)]
pub struct SourceNote {
    pub commits: Vec<String>,
    pub kind: String,
    pub name: String,
    /// The source's revision in the previous release, where it was in it.
    pub previous: Option<String>,
    pub revision: String,
}

/// What the templates see. The changes' lists are shared with the caller's, not copied: a first
/// release lists every rule.
#[derive(Clone, Debug, Serialize)]
pub struct Notes {
    pub created: String,
    /// The guards whose refusal the release overrode, such as `mass-removal`.
    pub guards_overridden: Vec<String>,
    #[serde(serialize_with = "listed_lazily")]
    pub kinds: ChangeSet,
    /// The highest minimum agent version the release's new rules need.
    pub min_agent_version: Option<String>,
    pub previous: Option<String>,
    pub product: String,
    pub release: String,
    pub sequence: u64,
    pub sources: Vec<SourceNote>,
    pub trigger: Trigger,
}

impl Notes {
    /// The notes of a release: its manifest, the previous release's, its changes, and the
    /// commit subjects of each git source since the previous release, by source name.
    pub fn new(
        manifest: &Manifest,
        previous: Option<&Manifest>,
        changes: ChangeSet,
        commits: &BTreeMap<String, Vec<String>>,
    ) -> Notes {
        let new_rules = changes.kinds.values().flat_map(|c| c.new.iter());
        let versions = new_rules.filter_map(|r| r.min_agent_version.as_deref());
        let min_agent_version = versions
            .filter_map(|v| v.parse::<AgentVersion>().ok())
            .max();
        let sources = manifest.sources.iter().map(|s| SourceNote {
            commits: commits.get(&s.name).cloned().unwrap_or_default(),
            kind: s.kind.to_string(),
            name: s.name.clone(),
            previous: previous
                .and_then(|p| p.sources.iter().find(|old| old.name == s.name))
                .map(revision_text),
            revision: revision_text(s),
        });
        Notes {
            created: crate::manifest::format_time(manifest.created),
            guards_overridden: manifest.guards_overridden.clone(),
            kinds: changes,
            min_agent_version: min_agent_version.map(|v| v.to_string()),
            previous: manifest.previous.as_ref().map(|p| p.release.clone()),
            product: manifest.product.clone(),
            release: manifest.release.clone(),
            sequence: manifest.sequence,
            sources: sources.collect(),
            trigger: manifest.trigger.clone(),
        }
    }
}

/// Serializes the changes with each list of rules as a [`Listed`]: templates take the rules
/// one at a time, and the whole list never becomes template values at once.
fn listed_lazily<S: Serializer>(changes: &ChangeSet, serializer: S) -> Result<S::Ok, S::Error> {
    let listed = |c: &KindChanges| {
        context! {
            moved_to_prevent => Value::from_object(Listed(c.moved_to_prevent.clone())),
            new => Value::from_object(Listed(c.new.clone())),
            removed => Value::from_object(Listed(c.removed.clone())),
            total => c.total,
            updated => Value::from_object(Listed(c.updated.clone())),
        }
    };
    let kinds: BTreeMap<Kind, Value> = changes.kinds.iter().map(|(k, c)| (*k, listed(c))).collect();
    kinds.serialize(serializer)
}

/// A list of changes as templates see it: a sequence whose items become template values only
/// when a template reads them.
#[derive(Debug)]
struct Listed<T>(Arc<Vec<T>>);

impl<T: Serialize + std::fmt::Debug + Send + Sync + 'static> Object for Listed<T> {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0
            .get(key.as_usize()?)
            .map(|item| Value::from(Serde(item)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

fn revision_text(source: &SourceRecord) -> String {
    match (&source.commit, &source.tree_sha256) {
        (Some(commit), _) => format!("commit {commit}"),
        (None, Some(tree)) => format!("tree {tree}"),
        (None, None) => String::new(),
    }
}

/// The notes' commit lines of each git source of a published release, as its build made them:
/// the commits since the newest release before it (in `earlier`) that recorded one for the
/// source, read from the repositories `sources` name. A source whose repository or commits
/// cannot be read gets none, with a warning: the notes are still worth having.
pub fn commits(
    sources: &[SourceConfig],
    manifest: &Manifest,
    earlier: &[(Entry, Manifest)],
) -> BTreeMap<String, Vec<String>> {
    let mut found = BTreeMap::new();
    for record in &manifest.sources {
        let since = ledger::released_commit(earlier, &record.name);
        let (Some(commit), Some(since)) = (record.commit.as_deref(), since) else {
            continue;
        };
        match source::commit_log(sources, &record.name, commit, &since) {
            Ok(Some(lines)) => {
                found.insert(record.name.clone(), lines);
            }
            Ok(None) => tracing::warn!(
                source = %record.name,
                "not a git source in release.yaml: its commits are not listed"
            ),
            Err(error) => tracing::warn!(source = %record.name, %error, "cannot list commits"),
        }
    }
    found
}

/// The notes of a published release, rebuilt from the release folders beside it: its
/// manifest and bundles, and those of the release before it in their chain.
pub fn rebuild(folder: &Path, sources: &[SourceConfig]) -> Result<Notes, NotesError> {
    let (manifest, _) = ledger::read_release(folder)?;
    let output = folder.parent().unwrap_or(Path::new("."));
    let history = ledger::read(output)?;
    let position = history
        .chain
        .iter()
        .position(|(entry, _)| entry.id == manifest.release)
        .ok_or_else(|| NotesError::NotInChain {
            path: output.to_owned(),
            release: manifest.release.clone(),
        })?;
    let earlier = &history.chain[..position];
    let new = ledger::read_all_rules(folder, &manifest)?;
    let previous = earlier.last();
    let old = match previous {
        Some((entry, earlier)) => ledger::read_all_rules(&output.join(&entry.id), earlier)?,
        None => diff::Rules::new(),
    };
    let commits = commits(sources, &manifest, earlier);
    let changes = diff::diff(&old, &new);
    Ok(Notes::new(
        &manifest,
        previous.map(|(_, m)| m),
        changes,
        &commits,
    ))
}

/// The rendered notes: Markdown and JSON.
#[derive(Debug)]
pub struct Rendered {
    pub json: String,
    pub markdown: String,
}

/// Renders the notes with the templates in `folder` where it has them, the built-in ones
/// otherwise.
pub fn render(notes: &Notes, folder: Option<&Path>) -> Result<Rendered, NotesError> {
    let context = context_of(notes);
    let markdown = template(folder, MARKDOWN_TEMPLATE)?;
    let source = template(folder, JSON_TEMPLATE)?;
    // The two are rendered at once, each on its own thread.
    let (markdown, json) = rayon::join(
        || render_one(&context, &markdown),
        || render_json(&context, &source),
    );
    let markdown = markdown?;
    Ok(Rendered {
        json: json?,
        markdown,
    })
}

/// Renders the JSON template and checks that it gave JSON, without building a JSON tree: a
/// first release lists every rule.
fn render_json(context: &Value, source: &(String, String)) -> Result<String, NotesError> {
    let json = render_one(context, source)?;
    serde_json::from_str::<serde::de::IgnoredAny>(&json).map_err(|error| {
        NotesError::InvalidJson {
            template: source.0.clone(),
            source: error,
        }
    })?;
    Ok(json)
}

/// Renders one template file given by path, for `rulecut notes --template`.
pub fn render_file(notes: &Notes, path: &Path) -> Result<String, NotesError> {
    let text = std::fs::read_to_string(path).map_err(|source| NotesError::ReadTemplate {
        path: path.to_owned(),
        source,
    })?;
    render_one(&context_of(notes), &(path.display().to_string(), text))
}

/// What templates see: every field of the notes at the top level, and all of them again as
/// `notes`. Converted once and shared, since a first release lists every rule.
fn context_of(notes: &Notes) -> Value {
    let value = Value::from(Serde(notes));
    context! { notes => value.clone(), ..value }
}

/// A template's name as messages show it, and its text.
fn template(folder: Option<&Path>, name: &str) -> Result<(String, String), NotesError> {
    if let Some(path) = folder.map(|f| f.join(name)).filter(|p| p.is_file()) {
        tracing::debug!(template = %path.display(), "using a template from the templates folder");
        let text = std::fs::read_to_string(&path).map_err(|source| NotesError::ReadTemplate {
            path: path.clone(),
            source,
        })?;
        return Ok((path.display().to_string(), text));
    }
    let built_in = BUILT_IN
        .iter()
        .find(|(n, _)| *n == name)
        .expect("every template has a default");
    Ok((format!("{name} (built in)"), built_in.1.to_owned()))
}

fn render_one(context: &Value, (name, text): &(String, String)) -> Result<String, NotesError> {
    let mut env = Environment::new();
    // minijinja drops a template's final newline unless told to keep it.
    let syntax = SyntaxConfig::builder().keep_trailing_newline(true).build();
    env.set_syntax(syntax.expect("the default delimiters are a valid syntax"));
    let fail = |error: minijinja::Error| NotesError::Render {
        line: error.line(),
        reason: error
            .detail()
            .map_or_else(|| error.kind().to_string(), str::to_owned),
        template: name.clone(),
    };
    env.add_template(name, text).map_err(fail)?;
    env.get_template(name)
        .map_err(fail)?
        .render(context)
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diff::{KindChanges, RuleSummary};
    use crate::rules::Kind;

    fn summary(id: &str) -> RuleSummary {
        RuleSummary {
            cves: Box::from(["CVE-2021-44228".to_owned()]),
            id: id.into(),
            min_agent_version: None,
            name: format!("rule {id}").into(),
            revision: Some(1),
            severity: Some("high".into()),
        }
    }

    fn notes(trigger: Trigger) -> Notes {
        let changes = KindChanges {
            new: vec![summary("100")].into(),
            removed: vec![summary("7")].into(),
            total: 1,
            ..Default::default()
        };
        Notes {
            created: "2026-12-01T09:00:00Z".into(),
            guards_overridden: Vec::new(),
            kinds: ChangeSet {
                kinds: BTreeMap::from([(Kind::LogInspection, changes)]),
            },
            min_agent_version: None,
            previous: Some("RU26-001".into()),
            product: "Example".into(),
            release: "RU26-002".into(),
            sequence: 2,
            sources: Vec::new(),
            trigger,
        }
    }

    #[test]
    fn markdown_lists_rules_with_cves_and_severity() {
        let rendered = render(&notes(Trigger::Manual), None).expect("rendered");
        assert!(
            rendered.markdown.starts_with("# Example RU26-002\n"),
            "{}",
            rendered.markdown
        );
        assert!(
            rendered
                .markdown
                .contains("| log-inspection | 1 | 0 | 1 | 1 |"),
            "{}",
            rendered.markdown
        );
        assert!(
            rendered
                .markdown
                .contains("- 100 - rule 100 (CVE-2021-44228), severity high")
        );
        assert!(rendered.markdown.ends_with('\n'));
    }

    #[test]
    fn an_emergency_leads_with_its_reason() {
        let trigger = Trigger::Emergency {
            reason: "CVE-2026-0001 exploited".into(),
        };
        let markdown = render(&notes(trigger), None).expect("rendered").markdown;
        let second = markdown
            .lines()
            .find(|l| !l.trim().is_empty() && !l.starts_with('#'));
        assert_eq!(
            second,
            Some("> **Emergency release.** CVE-2026-0001 exploited")
        );
    }

    #[test]
    fn json_holds_the_same_changes_per_kind() {
        let json: serde_json::Value = serde_json::from_str(
            &render(&notes(Trigger::Manual), None)
                .expect("rendered")
                .json,
        )
        .expect("JSON");
        assert_eq!(json["kinds"]["log-inspection"]["new"][0]["id"], "100");
        assert_eq!(json["kinds"]["log-inspection"]["removed"][0]["id"], "7");
        assert_eq!(json["release"], "RU26-002");
    }

    #[test]
    fn a_template_error_names_the_template_and_line() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join(MARKDOWN_TEMPLATE), "ok\n{{ release }\n").expect("write");
        let error = render(&notes(Trigger::Manual), Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("RELEASE-NOTES.md.j2` line 2"), "{error}");
    }

    #[test]
    fn a_json_template_must_render_json() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join(JSON_TEMPLATE), "{ not json\n").expect("write");
        let error = render(&notes(Trigger::Manual), Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not render valid JSON"), "{error}");
    }
}
