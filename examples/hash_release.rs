//! Times the hashing `rulecut verify` does, alone: every file of a release folder through
//! `digest::sha256_file`, the streaming hash verify uses, on one thread (verify spreads files
//! over every core, so this is the lower figure). A benchmark figure, not a test:
//!
//! ```text
//! cargo run --release --example hash_release RELEASE_DIR [ROUNDS]
//! ```
//!
//! One round reads the files once first, so that every round reads them from the page cache
//! as verify does right after a download. Prints `BYTES SECONDS GB/s`, the best of the rounds.

use std::path::{Path, PathBuf};
use std::time::Instant;
use std::{env, fs, hint, process};

use rulecut::digest::sha256_file;

fn main() {
    let mut args = env::args().skip(1);
    let Some(release) = args.next().map(PathBuf::from) else {
        eprintln!("usage: hash_release RELEASE_DIR [ROUNDS]");
        process::exit(2);
    };
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let files = match files(&release) {
        Ok(files) if !files.is_empty() => files,
        Ok(_) => fail(&release, "it holds no files".into()),
        Err(error) => fail(&release, error.to_string()),
    };
    let bytes: u64 = files.iter().map(|(_, size)| size).sum();
    let mut best = f64::INFINITY;
    for _ in 0..=rounds {
        let started = Instant::now();
        for (path, _) in &files {
            match sha256_file(path) {
                Ok(digest) => {
                    hint::black_box(digest);
                }
                Err(error) => fail(path, error.to_string()),
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!("{bytes} {best:.6} {:.2}", bytes as f64 / best / 1e9);
}

/// The folder's regular files and their sizes.
fn files(dir: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_file() {
            files.push((entry.path(), metadata.len()));
        }
    }
    Ok(files)
}

fn fail(path: &Path, reason: String) -> ! {
    eprintln!("hash_release: cannot hash `{}`: {reason}", path.display());
    process::exit(2);
}
