//! The journal: one JSON object per line in the run folder (`journal.jsonl`), appended and flushed as
//! each step starts and ends, so a run killed at any point leaves a readable record, and
//! `--resume RUN_DIR` can replay its plan. It never holds secret values.
//!
//! The first line names the journal's schema (`{"event":"journal","schema":"rdsguard.journal/v1"}`);
//! a journal without it predates the line and is read as v1. A journal of another schema is refused,
//! not misread.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::plan::Item;
use crate::aws::ClientFactory;
use crate::inventory::AwsError;

pub const FILE: &str = "journal.jsonl";

/// The schema of the entries below. Bump when an entry changes shape or meaning.
pub const SCHEMA: &str = "rdsguard.journal/v1";

/// One line of a journal: of remediation (`I` = [`Item`]), or of `rdsguard drill` (its items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Entry<I = Item> {
    /// The first line of a journal: the schema of the lines after it.
    Journal { schema: String },
    /// The plan for one source, written before any of its steps.
    Plan {
        at: DateTime<Utc>,
        run_id: String,
        item: Box<I>,
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

/// One run of remediation or of drills: its id (in the tags of what it makes), its journal, and
/// where its clients come from.
#[derive(Clone, Copy)]
pub struct Run<'a> {
    pub id: &'a str,
    pub journal: &'a Journal,
    pub factory: &'a ClientFactory,
}

impl<'a> Run<'a> {
    /// Journals every item's plan, then runs `one` for each, at most `max_parallel` at once, each to
    /// its end whatever happens to the others (remediation's items, drills). A journal that cannot
    /// be written is said on stderr; the run goes on, without a `--resume` for it.
    pub async fn all<I, R, Fut>(
        &self,
        items: &'a [I],
        max_parallel: usize,
        one: impl FnMut(&'a I) -> Fut,
    ) -> Vec<R>
    where
        I: Clone + Serialize,
        Fut: std::future::Future<Output = R>,
    {
        if let Err(e) = self.journal.plans(self.id, items) {
            let path = self.journal.path().display();
            tracing::warn!("cannot write the journal {path}: {e}");
        }
        each(items, max_parallel, one).await
    }
}

/// Runs `one` for every item, at most `max_parallel` at once, each to its end.
pub async fn each<'a, I, R, Fut>(
    items: &'a [I],
    max_parallel: usize,
    one: impl FnMut(&'a I) -> Fut,
) -> Vec<R>
where
    Fut: std::future::Future<Output = R>,
{
    use futures::stream::{self, StreamExt};
    stream::iter(items)
        .map(one)
        .buffer_unordered(max_parallel.max(1))
        .collect()
        .await
}

impl Journal {
    pub fn open(dir: &Path) -> std::io::Result<Journal> {
        Journal::open_as(dir, FILE, SCHEMA)
    }

    /// A journal of another kind of entry (`rdsguard drill`'s), in `dir/file`, headed by `schema`:
    /// the same append-and-flush file, the same header line.
    pub fn open_as(dir: &Path, file: &str, schema: &str) -> std::io::Result<Journal> {
        let path = dir.join(file);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let journal = Journal {
            path,
            file: Mutex::new(file),
        };
        // A resumed run appends to its journal, which already names its schema.
        if journal.path.metadata()?.len() == 0 {
            journal.append(&Entry::<Item>::Journal {
                schema: schema.to_string(),
            })?;
        }
        Ok(journal)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and flushes it to the file before returning.
    pub fn write(&self, entry: &Entry) -> std::io::Result<()> {
        self.append(entry)
    }

    /// Writes each item's plan before anything is done for it (what `--resume` replays).
    pub fn plans<I: Clone + Serialize>(&self, run_id: &str, items: &[I]) -> std::io::Result<()> {
        for item in items {
            self.append(&Entry::Plan {
                at: Utc::now(),
                run_id: run_id.to_string(),
                item: Box::new(item.clone()),
            })?;
        }
        Ok(())
    }

    /// Appends one entry of any kind and flushes it to the file before returning.
    pub fn append<T: Serialize>(&self, entry: &T) -> std::io::Result<()> {
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
    #[error("{} is a journal of schema `{found}`; this rdsguard reads `{expected}`", path.display())]
    Schema {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
}

/// Reads a journal; a last line cut short by a kill is ignored, any other bad line is an error.
pub fn read(path: &Path) -> Result<Vec<Entry>, ReadError> {
    read_as(path, SCHEMA)
}

/// Reads a journal of entries `T` headed by `schema` (see [`Journal::open_as`]); as [`read`].
pub fn read_as<T: serde::de::DeserializeOwned>(
    path: &Path,
    schema: &'static str,
) -> Result<Vec<T>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io)?;
    // The schema first: the lines of another schema may not parse as this one's entries.
    if let Some(first) = lines.first() {
        let header: serde_json::Value = serde_json::from_str(first).unwrap_or_default();
        if header["event"] == "journal" {
            let found = header["schema"].as_str().unwrap_or("(none)");
            if found != schema {
                return Err(ReadError::Schema {
                    path: path.to_path_buf(),
                    found: found.to_string(),
                    expected: schema,
                });
            }
        }
    }
    let mut entries = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        match serde_json::from_str::<T>(line) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_journal_names_its_schema_once_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let journal = Journal::open(dir.path()).expect("open");
        journal
            .write(&Entry::Start {
                at: Utc::now(),
                source_arn: "arn".into(),
                step: "snapshot".into(),
                detail: "d".into(),
            })
            .expect("write");
        drop(journal);
        // Reopened (as `--resume` does): no second header.
        drop(Journal::open(dir.path()).expect("reopen"));
        let text = std::fs::read_to_string(dir.path().join(FILE)).expect("read");
        assert_eq!(
            text.lines().next(),
            Some(r#"{"event":"journal","schema":"rdsguard.journal/v1"}"#)
        );
        assert_eq!(text.matches(r#""event":"journal""#).count(), 1);
        let entries = read(&dir.path().join(FILE)).expect("entries");
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn a_journal_without_a_schema_line_is_read_as_v1() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        std::fs::write(
            &path,
            r#"{"event":"start","at":"2026-11-24T02:15:00Z","source_arn":"a","step":"snapshot","detail":"d"}"#,
        )
        .expect("write");
        assert_eq!(read(&path).expect("read").len(), 1);
    }

    #[test]
    fn a_journal_of_another_schema_is_refused_naming_both() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE);
        std::fs::write(
            &path,
            "{\"event\":\"journal\",\"schema\":\"rdsguard.journal/v2\"}\n{\"event\":\"other\"}\n",
        )
        .expect("write");
        let error = read(&path).expect_err("refused").to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("rdsguard.journal/v2"), "{error}");
        assert!(error.contains(SCHEMA), "{error}");
    }
}
