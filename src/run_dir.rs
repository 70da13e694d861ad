//! The run folder: where a run's files go, how they are written, and the saved reports read back
//! (`report --from`, `diff`, `--baseline`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::output;
use crate::report::v1::ReportV1;

/// The run's folder: `--out`, or `reports/<UTC timestamp>`. Must be (or become) a writable directory.
pub fn prepare_out(out: Option<&Path>, started: DateTime<Utc>) -> Result<PathBuf, Error> {
    let dir = match out {
        Some(dir) => dir.to_path_buf(),
        None => {
            let base = PathBuf::from("reports").join(started.format("%Y%m%dT%H%M%SZ").to_string());
            let mut dir = base.clone();
            let mut n = 2;
            while dir.exists() {
                dir = PathBuf::from(format!("{}-{n}", base.display()));
                n += 1;
            }
            dir
        }
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--out {} exists and is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the output folder", &dir, e))?;
    Ok(dir)
}

/// A saved report: a findings.json, or a run folder holding one.
pub fn load_report(path: &Path) -> Result<(ReportV1, PathBuf), Error> {
    let file = if path.is_dir() {
        path.join("findings.json")
    } else {
        path.to_path_buf()
    };
    let report =
        ReportV1::read(&file).map_err(|e| Error::Usage(format!("{}: {e}", file.display())))?;
    Ok((report, file))
}

/// `--baseline auto`: the newest other run beside this one (the folders next to `out_dir`), not
/// later than `before`.
pub fn find_baseline(out_dir: &Path, before: DateTime<Utc>) -> Option<(ReportV1, PathBuf)> {
    let parent = out_dir.parent().filter(|p| !p.as_os_str().is_empty())?;
    let mut best: Option<(ReportV1, PathBuf)> = None;
    for entry in std::fs::read_dir(parent).ok()?.flatten() {
        let dir = entry.path();
        if dir == out_dir || !dir.join("findings.json").is_file() {
            continue;
        }
        let Ok((report, file)) = load_report(&dir) else {
            continue;
        };
        // Runs a second apart share a whole-second as_of: ties go to the later finish.
        let key = |r: &ReportV1| (r.run.as_of, r.run.finished_at);
        let newer = best.as_ref().is_none_or(|(b, _)| key(&report) > key(b));
        if report.run.as_of <= before && newer {
            best = Some((report, file));
        }
    }
    best
}

/// Writes the run files that `wanted` accepts into `dir`, each on its own thread (a large
/// organization's files are hundreds of MB); returns their paths.
pub fn write_outputs(
    report: &ReportV1,
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, Error> {
    std::thread::scope(|threads| {
        let writers: Vec<_> = output::FILES
            .iter()
            .filter(|f| wanted(f.name))
            .map(|file| {
                let path = dir.join(file.name);
                threads.spawn(move || write_file(&path, |w| (file.write)(report, w)).map(|()| path))
            })
            .collect();
        writers
            .into_iter()
            .map(|writer| {
                writer
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

pub fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let file = File::create(path).map_err(|e| Error::io("create", path, e))?;
    let mut writer = BufWriter::new(file);
    body(&mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| Error::io("write", path, e))
}

pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    write_file(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")
    })
}

/// GitHub Actions shows `$GITHUB_STEP_SUMMARY` on the run's page; append, as other steps may write too.
pub fn append_step_summary(target: &Path, summary: &Path) -> Result<(), Error> {
    let text = std::fs::read(summary).map_err(|e| Error::io("read", summary, e))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target)
        .map_err(|e| Error::io("open $GITHUB_STEP_SUMMARY", target, e))?;
    file.write_all(&text)
        .map_err(|e| Error::io("write $GITHUB_STEP_SUMMARY", target, e))
}
