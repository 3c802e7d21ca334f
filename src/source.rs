//! Collecting rule files from sources: the collect stage of the pipeline.
//!
//! A folder source is walked on disk; a git source is read straight from the repository's
//! object database at the resolved commit, with no checkout and no network, so uncommitted
//! changes in a work tree are never released (see [`git`]). Every file is read once, and the
//! files come back sorted by their path bytes whatever order the file system lists them in.
//! Files whose format is not the source's (or, without one, that no extension names) are
//! skipped, as are hidden files and folders.
//!
//! Git sources also give the release notes the commits since the previous release, and may be
//! tagged with the release id once it is published.

pub mod git;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;
use walkdir::WalkDir;

use crate::config::{Origin, SourceConfig};
use crate::digest::{Sha256, sha256};
use crate::rules::{Format, Kind, RuleFile};

#[derive(Debug, Error)]
pub enum CollectError {
    #[error("source `{source_name}` names folder `{}`, which does not exist", path.display())]
    MissingFolder { path: PathBuf, source_name: String },
    #[error("source `{source_name}` holds no rule files in `{}`", path.display())]
    Empty { path: PathBuf, source_name: String },
    #[error(
        "path `{path}` does not exist at ref `{reference}` (commit {commit}) in git repository `{}`",
        repo.display()
    )]
    MissingGitPath {
        commit: String,
        path: String,
        reference: String,
        repo: PathBuf,
    },
    #[error("cannot open git repository `{}`", path.display())]
    OpenRepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read the commit history of git repository `{}`", repo.display())]
    ReadGitHistory {
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read `{}` in git repository `{}`", path, repo.display())]
    ReadGitObject {
        path: String,
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read `{}`", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot list `{}`", path.display())]
    ReadFolder {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("ref `{reference}` does not resolve to a commit in git repository `{}`", repo.display())]
    ResolveGitRef {
        reference: String,
        repo: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("`{}` is a symbolic link, which rulecut does not follow", path.display())]
    SymbolicLink { path: PathBuf },
}

impl CollectError {
    pub fn help(&self) -> Option<String> {
        match self {
            CollectError::MissingGitPath {
                reference, repo, ..
            } => Some(format!(
                "list the folders at that ref with `git -C {} ls-tree -d -r --name-only {reference}`",
                repo.display()
            )),
            CollectError::MissingFolder { .. } => {
                Some("a source's `path` is relative to the folder holding release.yaml".to_owned())
            }
            CollectError::OpenRepository { .. } => Some(
                "`git.repo` must name a local repository: a path relative to release.yaml, or a \
                 `file://` URL"
                    .to_owned(),
            ),
            CollectError::ResolveGitRef {
                reference, repo, ..
            } => Some(format!(
                "list the branches and tags with `git -C {} show-ref`; `{reference}` is not \
                 among them",
                repo.display()
            )),
            _ => None,
        }
    }
}

/// Which state of a source a release was cut from.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Revision {
    /// A git commit id.
    Commit(String),
    /// A folder's tree digest: SHA-256 over `sha256sum`-style lines, one per rule file in path
    /// order (`<file digest>  <path within the source>\n`).
    Tree(Sha256),
}

/// The rule files of one source, read and sorted.
#[derive(Debug)]
pub struct Collected {
    pub files: Vec<(RuleFile, Format)>,
    pub kind: Kind,
    pub name: String,
    pub revision: Revision,
}

/// Reads every rule file of a source.
pub fn collect(source: &SourceConfig) -> Result<Collected, CollectError> {
    let (files, revision, root) = match &source.origin {
        Origin::Folder(path) => {
            if !path.is_dir() {
                let name = source.name.clone();
                return Err(CollectError::MissingFolder {
                    path: path.clone(),
                    source_name: name,
                });
            }
            let files = collect_folder(path, source)?;
            let revision = Revision::Tree(tree_digest(&files));
            (files, revision, path.clone())
        }
        Origin::Git {
            repo,
            reference,
            path,
        } => {
            let (files, commit) = git::collect(repo, reference, path, source)?;
            (files, Revision::Commit(commit), repo.join(path))
        }
    };
    if files.is_empty() {
        return Err(CollectError::Empty {
            path: root,
            source_name: source.name.clone(),
        });
    }
    Ok(Collected {
        files,
        kind: source.kind,
        name: source.name.clone(),
        revision,
    })
}

/// The commit an earlier release recorded for a git source.
#[derive(Clone, Copy, Debug)]
pub struct ReleasedCommit<'a> {
    pub commit: &'a str,
    pub release: &'a str,
}

/// The notes' commit lines for every git source that an earlier release also recorded a
/// commit for, by source name: the subjects of the commits since then, newest first. A source
/// released for the first time has none, since everything in its history would be "new".
pub fn commit_logs<'h>(
    sources: &[SourceConfig],
    collected: &[Collected],
    released: impl Fn(&str) -> Option<ReleasedCommit<'h>>,
) -> Result<BTreeMap<String, Vec<String>>, CollectError> {
    let mut logs = BTreeMap::new();
    for source in sources {
        let Origin::Git { repo, .. } = &source.origin else {
            continue;
        };
        let commit = collected
            .iter()
            .find(|c| c.name == source.name)
            .and_then(|c| match &c.revision {
                Revision::Commit(commit) => Some(commit),
                Revision::Tree(_) => None,
            });
        let (Some(commit), Some(since)) = (commit, released(&source.name)) else {
            continue;
        };
        logs.insert(source.name.clone(), git::log_since(repo, commit, &since)?);
    }
    Ok(logs)
}

/// The notes' commit lines for the one git source `name`, from the commit an earlier release
/// recorded for it up to `commit`, as [`commit_logs`] gives them: for a commit already known,
/// as when a published release's notes are made again. `None` where `name` is not a git
/// source.
pub fn commit_log(
    sources: &[SourceConfig],
    name: &str,
    commit: &str,
    since: &ReleasedCommit,
) -> Result<Option<Vec<String>>, CollectError> {
    let origin = sources.iter().find(|s| s.name == name).map(|s| &s.origin);
    let Some(Origin::Git { repo, .. }) = origin else {
        return Ok(None);
    };
    git::log_since(repo, commit, since).map(Some)
}

/// Tags the commit each git source was released at, as `commit_of` gives it by source name.
/// Every source is tried, whatever happens to the others, and every failure comes back.
pub fn tag_sources(
    sources: &[SourceConfig],
    commit_of: impl Fn(&str) -> Option<String>,
    tag: &git::Tag,
) -> Vec<git::TagError> {
    let mut failures = Vec::new();
    for source in sources {
        let (Origin::Git { repo, .. }, Some(commit)) = (&source.origin, commit_of(&source.name))
        else {
            continue;
        };
        match git::tag(repo, &commit, tag) {
            Ok(git::Tagged::Created) => {
                tracing::info!(tag = %tag.name, repo = %repo.display(), %commit, "tagged");
            }
            Ok(git::Tagged::Existing) => {
                tracing::debug!(tag = %tag.name, repo = %repo.display(), "already tagged");
            }
            Err(error) => failures.push(error),
        }
    }
    failures
}

/// The format a file is read in, or `None` when the source skips it.
fn format_of(path: &Path, source: &SourceConfig) -> Option<Format> {
    let inferred = Format::infer(path);
    match source.format {
        Some(format) if inferred == Some(format) => Some(format),
        Some(_) => None,
        None => inferred,
    }
}

fn rule_file(source: &SourceConfig, display: String, relative: &str, bytes: Vec<u8>) -> RuleFile {
    RuleFile {
        bytes,
        display,
        entry: format!("{}/{relative}", source.name),
        source: source.name.clone(),
    }
}

fn collect_folder(
    root: &Path,
    source: &SourceConfig,
) -> Result<Vec<(RuleFile, Format)>, CollectError> {
    let hidden = |entry: &walkdir::DirEntry| {
        entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.')
    };
    let mut found = Vec::new();
    for entry in WalkDir::new(root).into_iter().filter_entry(|e| !hidden(e)) {
        let entry = entry.map_err(|source| CollectError::ReadFolder {
            path: root.to_owned(),
            source,
        })?;
        let path = entry.path();
        if entry.path_is_symlink() {
            return Err(CollectError::SymbolicLink {
                path: path.to_owned(),
            });
        }
        let Some(format) = entry
            .file_type()
            .is_file()
            .then(|| format_of(path, source))
            .flatten()
        else {
            tracing::debug!(path = %path.display(), "skipped: not a rule file of this source");
            continue;
        };
        found.push((entry.into_path(), format));
    }
    // Files are read in parallel: one source often holds most of a release's bytes. The
    // results are gathered in walk order first, so that of several unreadable files the
    // first is the one named, whatever thread met it.
    let read: Vec<Result<(RuleFile, Format), CollectError>> = found
        .into_par_iter()
        .map(|(path, format)| {
            let bytes = std::fs::read(&path).map_err(|source| CollectError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let relative = relative_path(root, &path);
            Ok((
                rule_file(source, display_path(&path), &relative, bytes),
                format,
            ))
        })
        .collect();
    let mut files = read.into_iter().collect::<Result<Vec<_>, _>>()?;
    // walkdir sorts within a folder at best; a canonical order is by the whole path's bytes.
    files.sort_by(|a, b| a.0.entry.cmp(&b.0.entry));
    Ok(files)
}

/// `path` relative to `root`, with `/` separators whatever the platform.
fn relative_path(root: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// A path as people should read it in messages: without a leading `./`.
pub fn display_path(path: &Path) -> String {
    let text = path.display().to_string();
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

fn tree_digest(files: &[(RuleFile, Format)]) -> Sha256 {
    let digests: Vec<Sha256> = files.par_iter().map(|(f, _)| sha256(&f.bytes)).collect();
    let mut listing = String::new();
    for ((file, _), digest) in files.iter().zip(digests) {
        let within = file
            .entry
            .split_once('/')
            .map_or(file.entry.as_str(), |(_, rest)| rest);
        listing.push_str(&format!("{digest}  {within}\n"));
    }
    sha256(listing.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Location;

    fn folder_source(path: &Path, format: Option<Format>) -> SourceConfig {
        SourceConfig {
            format,
            min_agent_version: None,
            kind: Kind::Firewall,
            location: Location::new("release.yaml", 1, 1),
            name: "fw".into(),
            origin: Origin::Folder(path.to_owned()),
        }
    }

    #[test]
    fn folders_are_read_in_path_order_skipping_hidden_and_foreign_files() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        for name in [
            "b.yaml",
            "a/z.yaml",
            "a-b.yaml",
            "README.md",
            ".hidden.yaml",
            ".git/x.yaml",
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, "[]").expect("write");
        }
        let collected = collect(&folder_source(dir.path(), None)).expect("collected");
        let entries: Vec<&str> = collected
            .files
            .iter()
            .map(|(f, _)| f.entry.as_str())
            .collect();
        assert_eq!(entries, ["fw/a-b.yaml", "fw/a/z.yaml", "fw/b.yaml"]);
    }

    #[test]
    fn a_named_format_takes_only_its_own_files() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("x.rules"), "").expect("write");
        std::fs::write(dir.path().join("y.yaml"), "[]").expect("write");
        let collected =
            collect(&folder_source(dir.path(), Some(Format::Suricata))).expect("collected");
        assert_eq!(collected.files.len(), 1);
        assert_eq!(collected.files[0].1, Format::Suricata);
    }

    #[test]
    fn the_tree_digest_changes_with_content_and_names_only() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("a.yaml"), "[]").expect("write");
        let first = collect(&folder_source(dir.path(), None))
            .expect("collected")
            .revision;
        assert_eq!(
            first,
            collect(&folder_source(dir.path(), None))
                .expect("collected")
                .revision
        );
        std::fs::write(dir.path().join("a.yaml"), "[ ]").expect("write");
        assert_ne!(
            first,
            collect(&folder_source(dir.path(), None))
                .expect("collected")
                .revision
        );
    }

    #[test]
    fn a_missing_folder_is_named_with_its_source() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let error = collect(&folder_source(&dir.path().join("nope"), None)).unwrap_err();
        assert!(
            error.to_string().starts_with("source `fw` names folder `"),
            "{error}"
        );
        assert!(
            error
                .help()
                .is_some_and(|h| h.contains("relative to the folder"))
        );
    }

    #[test]
    fn an_empty_source_is_an_error() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let error = collect(&folder_source(dir.path(), None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("source `fw` holds no rule files"), "{error}");
    }

    #[test]
    fn symbolic_links_are_refused() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("x.yaml")).expect("symlink");
        let error = collect(&folder_source(dir.path(), None))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is a symbolic link"), "{error}");
    }
}
