//! The journal: one JSON object per line in the run folder (`journal.jsonl`), appended and flushed as
//! each step starts and ends, so a run killed at any point leaves a readable record, and
//! `--resume RUN_DIR` can replay its plan. It never holds secret values.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::Item;
use crate::inventory::AwsError;

pub const FILE: &str = "journal.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Entry {
    /// The plan for one source, written before any of its steps.
    Plan {
        at: DateTime<Utc>,
        run_id: String,
        item: Box<Item>,
    },
    Start {
        at: DateTime<Utc>,
        source_arn: String,
        step: String,
        detail: String,
    },
    Done {
        at: DateTime<Utc>,
        source_arn: String,
        step: String,
        detail: String,
    },
    Failed {
        at: DateTime<Utc>,
        source_arn: String,
        step: String,
        error: AwsError,
    },
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

impl Journal {
    pub fn open(dir: &Path) -> std::io::Result<Journal> {
        let path = dir.join(FILE);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Journal {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and flushes it to the file before returning.
    pub fn write(&self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| std::io::Error::other("journal lock poisoned"))?;
        file.write_all(&line)?;
        file.sync_data()
    }
}

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: not a journal entry: {source}", path.display())]
    Entry {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

/// Reads a journal; a last line cut short by a kill is ignored, any other bad line is an error.
pub fn read(path: &Path) -> Result<Vec<Entry>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io)?;
    let mut entries = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Entry>(line) {
            Ok(entry) => entries.push(entry),
            Err(_) if n + 1 == lines.len() => break,
            Err(source) => {
                return Err(ReadError::Entry {
                    path: path.to_path_buf(),
                    line: n + 1,
                    source,
                })
            }
        }
    }
    Ok(entries)
}

/// The plan items of a journal, the last one written for each source.
pub fn planned_items(entries: &[Entry]) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    for entry in entries {
        if let Entry::Plan { item, .. } = entry {
            items.retain(|i| i.source_arn != item.source_arn);
            items.push((**item).clone());
        }
    }
    items
}
