//! Rule files (`rules/*.toml`): the raw file model, two-phase loading and validation into a [`RuleSet`].
//!
//! Phase one parses each file with spans and deserialises every `[[rule]]` and `[[exemption]]` on its
//! own (unknown keys rejected), so one bad rule does not hide the problems of the next. Phase two checks
//! meaning (durations, ids, accounts, keys). Every problem is collected with its file and line.

mod copies;
pub mod duration;
pub mod pattern;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::inventory::{Source, SourceKind};
pub use copies::{
    role_arn, BackupRemediation, Destination, DestinationRegion, Immutable, ReplicaKinds,
    TargetOptionGroup, DEFAULT_BACKUP_ROLE,
};
pub use duration::{format_seconds, parse_duration, parse_duration_or_zero, Duration};
pub use validate::{is_account_id, is_region};

/// Rule files larger than this are refused: a rules folder is configuration, not data.
pub const MAX_RULE_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a rule or exemption was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Which sources a rule governs. An empty list matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    /// Tag key -> value pattern; every entry must match.
    pub tags: BTreeMap<String, String>,
    pub engines: Vec<String>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub identifiers: Vec<String>,
    pub kinds: Vec<SourceKind>,
    /// Select read replicas, and the green sides of Blue/Green deployments, too (`read_replicas =
    /// true`). By default neither is a source: its data is another database's, judged there.
    pub read_replicas: bool,
}

fn any_matches(patterns: &[String], text: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| pattern::matches(p, text))
}

impl Selector {
    pub fn selects(&self, source: &Source) -> bool {
        (self.read_replicas || !source.replicates_another())
            && any_matches(&self.accounts, &source.db.account_id)
            && any_matches(&self.regions, &source.db.region)
            && any_matches(&self.engines, &source.db.engine)
            && any_matches(&self.identifiers, &source.db.identifier)
            && (self.kinds.is_empty() || self.kinds.contains(&source.db.kind))
            && self.tags.iter().all(|(key, value)| {
                source
                    .tags
                    .get(key)
                    .is_some_and(|actual| pattern::matches(value, actual))
            })
    }

    /// The regions this selector names explicitly, or `None` when it matches any region.
    pub fn pinned_regions(&self) -> Option<&[String]> {
        if self.regions.is_empty() || self.regions.iter().any(|r| r.contains(['*', '?'])) {
            None
        } else {
            Some(&self.regions)
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Retain {
    pub min: Option<u32>,
    pub max: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    pub instance_class: String,
    pub subnet_group: Option<String>,
    /// The secret to point at the newest restore; `{identifier}` and `{account}` name the source.
    pub secret: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    /// How many restored instances of a source to keep (the current one and rollback targets).
    pub keep: u32,
}

impl Restore {
    /// The secret's name for one source.
    pub fn secret_for(&self, source: &Source) -> Option<String> {
        self.secret.as_ref().map(|s| {
            s.replace("{identifier}", &source.db.identifier)
                .replace("{account}", &source.db.account_id)
        })
    }
}

/// `drill`: restore the newest replica every `every`, within `rto`, then delete it (`rdsguard
/// drill`; judged by `restore-tested`).
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    /// The longest time since the last successful drill.
    pub every: Duration,
    /// The longest a restore may take, from the restore call to `available`.
    pub rto: Duration,
    pub instance_class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    /// A shell command run once the drill instance is available (endpoint in its environment).
    pub probe: Option<String>,
    /// The longest the probe may run (default 10m).
    pub probe_timeout: Duration,
    /// The name of a secret the probe may read itself (its name only is passed, never its value);
    /// `{identifier}` and `{account}` name the source.
    pub secret: Option<String>,
    /// The role AWS Backup assumes to restore a recovery point in the destination (a name with its
    /// path, or an ARN; default `service-role/AWSBackupDefaultServiceRole`).
    pub backup_role: String,
}

impl Drill {
    /// The ARN of `backup_role` in the destination account `account_id`.
    pub fn backup_role_arn(&self, partition: &str, account_id: &str) -> String {
        role_arn(&self.backup_role, partition, account_id)
    }

    /// The secret's name for one source.
    pub fn secret_for(&self, source: &Source) -> Option<String> {
        self.secret.as_ref().map(|s| {
            s.replace("{identifier}", &source.db.identifier)
                .replace("{account}", &source.db.account_id)
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub description: Option<String>,
    pub select: Selector,
    pub destination: Destination,
    /// A CMK in each source account, granted to the destination; remediation shares under it.
    pub source_kms_key: Option<String>,
    pub max_age: Duration,
    /// A database younger than this with no replica yet is not failed for it (default: `max_age`).
    pub grace: Duration,
    /// The longest gap allowed between the newest `retain.min` replicas (`replica-cadence`).
    pub cadence: Option<Duration>,
    pub retain: Retain,
    pub restore: Option<Restore>,
    /// Replicas must be immutable (`replica-immutable`).
    pub immutable: Option<Immutable>,
    /// `remediate = "backup"`: `--remediate` makes copies with AWS Backup jobs, as this says.
    pub backup_remediation: Option<BackupRemediation>,
    /// Restore drills (`restore-tested`, `rdsguard drill`).
    pub drill: Option<Drill>,
    pub severity: Severity,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemption {
    /// ARN pattern (`*` and `?` wildcards).
    pub arn: String,
    pub reason: String,
    /// Last day the exemption applies (inclusive, UTC).
    pub expires: Option<NaiveDate>,
    pub location: Location,
}

impl Exemption {
    pub fn is_expired(&self, on: NaiveDate) -> bool {
        self.expires.is_some_and(|last_day| on > last_day)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub exemptions: Vec<Exemption>,
    /// SHA-256 over the files' names and bytes, in load order.
    pub sha256: String,
    pub files: Vec<String>,
    /// Problems that do not stop a run (e.g. a table the tool does not act on yet).
    pub warnings: Vec<Diagnostic>,
}

impl RuleSet {
    /// The first rule that selects `source`: rule order is file order (sorted by name), then position.
    pub fn rule_for(&self, source: &Source) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.select.selects(source))
    }

    /// The exemption in force on `today` that covers `source`, if any.
    pub fn exemption_for(&self, source: &Source, today: chrono::NaiveDate) -> Option<&Exemption> {
        self.exemptions
            .iter()
            .find(|e| !e.is_expired(today) && pattern::matches(&e.arn, &source.db.arn))
    }

    /// The rule whose checks run on `source` on `today`: its rule, unless an exemption covers it.
    pub fn judging_rule(&self, source: &Source, today: chrono::NaiveDate) -> Option<&Rule> {
        match self.exemption_for(source, today) {
            Some(_) => None,
            None => self.rule_for(source),
        }
    }

    /// Every region the rules name, for selection and as destinations; `None` if some rule matches any
    /// region (then the caller must choose the regions to walk).
    pub fn pinned_regions(&self) -> Option<Vec<String>> {
        let mut regions = Vec::new();
        for rule in &self.rules {
            regions.extend(rule.select.pinned_regions()?.iter().cloned());
            if let DestinationRegion::Named(region) = &rule.destination.region {
                regions.push(region.clone());
            }
        }
        regions.sort();
        regions.dedup();
        Some(regions)
    }

    /// (destination account, named destination region) pairs: always read, even when the region is
    /// outside `--regions` or the default regions. `same` destinations follow the source's region.
    pub fn destination_scopes(&self) -> Vec<(String, String)> {
        let mut scopes: Vec<(String, String)> = self
            .rules
            .iter()
            .filter_map(|r| match &r.destination.region {
                DestinationRegion::Named(region) => {
                    Some((r.destination.account.clone(), region.clone()))
                }
                DestinationRegion::Same => None,
            })
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }

    /// Destination accounts named by the rules: always read, even when outside `--accounts`.
    pub fn destination_accounts(&self) -> Vec<String> {
        let mut accounts: Vec<String> = self
            .rules
            .iter()
            .map(|r| r.destination.account.clone())
            .collect();
        accounts.sort();
        accounts.dedup();
        accounts
    }
}

/// One problem in a rule file. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Diagnostic {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Loading failed: every error found, plus the warnings met on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesError {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(
            f,
            "{n} problem{} in the rules:",
            if n == 1 { "" } else { "s" }
        )?;
        for diagnostic in &self.errors {
            writeln!(f, "  {diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

/// Loads rule files: each path is a `.toml` file or a folder whose `*.toml` files are read in name order.
pub fn load(paths: &[PathBuf]) -> Result<RuleSet, RulesError> {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for path in paths {
        match expand(path) {
            Ok(found) => files.extend(found),
            Err(diagnostic) => errors.push(diagnostic),
        }
    }
    if paths.is_empty() {
        errors.push(Diagnostic {
            file: "(none)".into(),
            line: None,
            message: "no rules path given".into(),
        });
    }
    let mut hasher = Sha256::new();
    let mut parsed = raw::Parsed::default();
    for file in &files {
        let display = file.display().to_string();
        match read_text(file) {
            Ok(text) => {
                let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
                hasher.update(name.unwrap_or_default().as_bytes());
                hasher.update([0]);
                hasher.update(text.as_bytes());
                hasher.update([0]);
                raw::parse_file(&display, &text, &mut parsed);
            }
            Err(diagnostic) => errors.push(diagnostic),
        }
    }
    errors.append(&mut parsed.errors);
    let warnings = std::mem::take(&mut parsed.warnings);
    if errors.is_empty() && parsed.rules.is_empty() {
        errors.push(Diagnostic {
            file: paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            line: None,
            message: "no [[rule]] found: an audit needs at least one rule".into(),
        });
    }
    if !errors.is_empty() {
        errors.sort();
        return Err(RulesError { errors, warnings });
    }
    Ok(RuleSet {
        rules: parsed.rules,
        exemptions: parsed.exemptions,
        sha256: hex::encode(hasher.finalize()),
        files: files.iter().map(|f| f.display().to_string()).collect(),
        warnings,
    })
}

fn expand(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let display = path.display().to_string();
    let problem = |message: String| Diagnostic {
        file: display.clone(),
        line: None,
        message,
    };
    let metadata =
        std::fs::metadata(path).map_err(|e| problem(format!("cannot read rules path: {e}")))?;
    if metadata.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| problem(format!("cannot read rules folder: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(problem("the folder holds no *.toml rule files".into()));
    }
    Ok(files)
}

fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let display = path.display().to_string();
    let problem = |line: Option<usize>, message: String| Diagnostic {
        file: display.clone(),
        line,
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| problem(None, format!("cannot read: {e}")))?
        .len();
    if size > MAX_RULE_FILE_BYTES {
        return Err(problem(
            None,
            format!("file is {size} bytes; rule files are limited to {MAX_RULE_FILE_BYTES} bytes"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| problem(None, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        problem(
            Some(line),
            format!("not UTF-8 text (invalid byte at offset {valid})"),
        )
    })
}

#[cfg(test)]
mod tests;
