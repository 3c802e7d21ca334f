//! Times parsing the shared rule corpus and prints what was read: a benchmark figure for
//! notes, not a test. Run it in release mode:
//!
//! ```text
//! cargo run --release --example parse_corpus [CORPUS_DIR]
//! ```
//!
//! The corpus defaults to `../shared/corpus` beside the crate. Files are read before the clock
//! starts, so the figure is parsing alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use std::{env, fs, hint, process};

use rulecut::rules::{Format, Kind, Parsed, RuleFile};

fn main() {
    let corpus = env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
        PathBuf::from,
    );
    let files = match load(&corpus) {
        Ok(files) => files,
        Err(error) => {
            eprintln!(
                "parse_corpus: cannot read the corpus at {}: {error}",
                corpus.display()
            );
            process::exit(2);
        }
    };

    for format in [Format::Suricata, Format::OssecXml] {
        time(format, &files);
    }
    let results: Vec<Parsed> = files
        .iter()
        .map(|(format, kind, file)| format.parse(file, *kind))
        .collect();
    report(&files, &results);
}

/// Parses the files of one format several times and prints the mean time a round took.
fn time(format: Format, files: &[(Format, Kind, RuleFile)]) {
    let rounds = 10;
    let chosen: Vec<&(Format, Kind, RuleFile)> =
        files.iter().filter(|(f, _, _)| *f == format).collect();
    let started = Instant::now();
    for _ in 0..rounds {
        for (format, kind, file) in &chosen {
            hint::black_box(format.parse(file, *kind));
        }
    }
    let each = started.elapsed() / rounds;
    let bytes: usize = chosen.iter().map(|(_, _, file)| file.bytes.len()).sum();
    println!(
        "{format}: {} files, {:.1} MiB, parsed in {:.1} ms (mean of {rounds} rounds)",
        chosen.len(),
        bytes as f64 / (1024.0 * 1024.0),
        each.as_secs_f64() * 1000.0
    );
}

/// Reads every ET Open and Wazuh file of the corpus, sorted by path.
fn load(corpus: &Path) -> std::io::Result<Vec<(Format, Kind, RuleFile)>> {
    let mut files = Vec::new();
    let folders = [
        (
            corpus.join("ips/et-open"),
            "rules",
            Format::Suricata,
            Kind::IntrusionPrevention,
        ),
        (
            corpus.join("log-inspection/wazuh-v3.12.0"),
            "xml",
            Format::OssecXml,
            Kind::LogInspection,
        ),
        (
            corpus.join("log-inspection/wazuh-v3.13.0"),
            "xml",
            Format::OssecXml,
            Kind::LogInspection,
        ),
    ];
    for (folder, extension, format, kind) in folders {
        let mut paths: Vec<PathBuf> = fs::read_dir(&folder)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()?;
        paths.retain(|path| path.extension().is_some_and(|ext| ext == extension));
        paths.sort();
        for path in paths {
            let file = RuleFile {
                bytes: fs::read(&path)?,
                display: path.display().to_string(),
                entry: String::new(),
                source: String::new(),
            };
            files.push((format, kind, file));
        }
    }
    Ok(files)
}

/// Prints rule counts per format and the diagnostics grouped by their message's opening words.
fn report(files: &[(Format, Kind, RuleFile)], results: &[Parsed]) {
    let mut counts: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for ((format, _, _), parsed) in files.iter().zip(results) {
        for rule in &parsed.rules {
            let state = if rule.disabled {
                "disabled"
            } else {
                "in force"
            };
            *counts.entry((format.to_string(), state)).or_default() += 1;
        }
        for diagnostic in &parsed.diagnostics {
            let reason = diagnostic.message.split(':').next().unwrap_or_default();
            let severity = if diagnostic.is_error() {
                "error"
            } else {
                "warning"
            };
            *reasons
                .entry(format!("{severity}: {}", reason.trim()))
                .or_default() += 1;
            if diagnostic.is_error() {
                println!("{diagnostic}");
            }
        }
    }
    for ((format, state), count) in counts {
        println!("{format} rules {state}: {count}");
    }
    for (reason, count) in reasons {
        println!("{count:6} {reason}");
    }
}
