//! Phase one and two of rule loading: the raw TOML shapes (unknown keys rejected) and their validation.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::de::{Deserialize, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{
    parse_duration, Destination, DestinationRegion, Diagnostic, Exemption, Location, Restore,
    Retain, Rule, Selector, Severity,
};
use crate::inventory::SourceKind;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    description: Option<String>,
    select: Option<Spanned<RawSelect>>,
    destination: Spanned<RawDestination>,
    source_kms_key: Option<Spanned<String>>,
    max_age: Spanned<String>,
    retain: Option<Spanned<RawRetain>>,
    restore: Option<Spanned<RawRestore>>,
    severity: Option<Spanned<String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelect {
    tags: Option<BTreeMap<String, String>>,
    engines: Option<Vec<String>>,
    accounts: Option<Vec<Spanned<String>>>,
    regions: Option<Vec<Spanned<String>>>,
    identifiers: Option<Vec<String>>,
    kinds: Option<Vec<Spanned<String>>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDestination {
    account: Spanned<String>,
    region: Option<Spanned<String>>,
    kms_key: Option<Spanned<String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetain {
    min: Option<Spanned<i64>>,
    max: Option<Spanned<i64>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestore {
    instance_class: String,
    subnet_group: Option<String>,
    secret: Option<String>,
    security_groups: Option<Vec<String>>,
    parameter_group: Option<String>,
    keep: Option<Spanned<i64>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    arn: Spanned<String>,
    reason: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
}

const TOP_LEVEL_KEYS: &[&str] = &["rule", "exemption"];
const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "select",
    "destination",
    "source_kms_key",
    "max_age",
    "retain",
    "restore",
    "severity",
];
const NESTED_KEYS: &[(&str, &[&str])] = &[
    (
        "select",
        &[
            "tags",
            "engines",
            "accounts",
            "regions",
            "identifiers",
            "kinds",
        ],
    ),
    ("destination", &["account", "region", "kms_key"]),
    ("retain", &["min", "max"]),
    (
        "restore",
        &[
            "instance_class",
            "subnet_group",
            "secret",
            "security_groups",
            "parameter_group",
            "keep",
        ],
    ),
];
const EXEMPTION_KEYS: &[&str] = &["arn", "reason", "expires"];

/// What the files parsed into so far; rule ids are unique across all files.
#[derive(Default)]
pub(super) struct Parsed {
    pub rules: Vec<Rule>,
    pub exemptions: Vec<Exemption>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Maps byte offsets in one file to 1-based lines, and records problems against that file.
struct FileCtx<'a> {
    file: &'a str,
    /// Byte offset where each line starts, so a line number is a binary search, not a scan.
    line_starts: Vec<usize>,
}

impl<'a> FileCtx<'a> {
    fn new(file: &'a str, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        FileCtx { file, line_starts }
    }

    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|start| *start <= offset)
    }

    fn diagnostic(&self, offset: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_string(),
            line: offset.map(|o| self.line(o)),
            message,
        }
    }

    fn location(&self, offset: usize) -> Location {
        Location {
            file: self.file.to_string(),
            line: self.line(offset),
        }
    }
}

pub(super) fn parse_file(file: &str, text: &str, out: &mut Parsed) {
    let ctx = FileCtx::new(file, text);
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            let offset = error.span().map(|s| s.start);
            out.errors.push(ctx.diagnostic(
                offset,
                format!("TOML syntax: {}", error.message().trim_end()),
            ));
        }
        return;
    }
    let root = root.into_inner();
    unknown_keys(&ctx, &root, TOP_LEVEL_KEYS, "the file", &mut out.errors);
    for (key, value) in root.iter() {
        let kind = key.get_ref().as_ref();
        if !TOP_LEVEL_KEYS.contains(&kind) {
            continue;
        }
        let Some(items) = value.get_ref().as_array() else {
            out.errors.push(ctx.diagnostic(
                Some(key.span().start),
                format!("`{kind}` must be an array of tables: write each one as [[{kind}]]"),
            ));
            continue;
        };
        for item in items.iter() {
            let start = item.span().start;
            let Some(table) = item.get_ref().as_table() else {
                out.errors.push(ctx.diagnostic(
                    Some(start),
                    format!("each `{kind}` must be a table: write it as [[{kind}]]"),
                ));
                continue;
            };
            if kind == "rule" {
                parse_rule(&ctx, start, table, out);
            } else {
                parse_exemption(&ctx, start, table, out);
            }
        }
    }
}

/// Reports each key of `table` that is not in `allowed`, at its own line.
fn unknown_keys(
    ctx: &FileCtx<'_>,
    table: &DeTable<'_>,
    allowed: &[&str],
    within: &str,
    errors: &mut Vec<Diagnostic>,
) -> bool {
    let mut found = false;
    for key in table.keys() {
        let name = key.get_ref().as_ref();
        if !allowed.contains(&name) {
            found = true;
            errors.push(ctx.diagnostic(
                Some(key.span().start),
                format!(
                    "unknown key `{name}` in {within} (expected one of: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    found
}

/// Reports every TOML date or time in a rule (or an exemption, but for `expires`), where no key takes one (toml's own error for it would
/// describe its internal representation of dates). Returns true if there was one.
fn dates_in(
    ctx: &FileCtx<'_>,
    value: &Spanned<DeValue<'_>>,
    path: &str,
    what: &str,
    errors: &mut Vec<Diagnostic>,
) -> bool {
    match value.get_ref() {
        DeValue::Datetime(date) => {
            errors.push(ctx.diagnostic(
                Some(value.span().start),
                format!(
                    "{what}: `{path}` is a TOML date/time ({date}), and only an exemption's `expires` takes a date (durations are quoted strings like \"26h\")"
                ),
            ));
            true
        }
        DeValue::Table(table) => table.iter().fold(false, |found, (key, value)| {
            dates_in(
                ctx,
                value,
                &format!("{path}.{}", key.get_ref()),
                what,
                errors,
            ) | found
        }),
        DeValue::Array(items) => items.iter().enumerate().fold(false, |found, (i, item)| {
            dates_in(ctx, item, &format!("{path}[{i}]"), what, errors) | found
        }),
        _ => false,
    }
}

/// Deserialises one table with spans intact; a type error is reported at its own line.
fn deserialize_table<T: for<'de> Deserialize<'de>>(
    ctx: &FileCtx<'_>,
    start: usize,
    table: &DeTable<'_>,
    what: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<T> {
    let end = table.values().map(|v| v.span().end).max().unwrap_or(start);
    let spanned = Spanned::new(start..end, table.clone());
    match T::deserialize(spanned.into_deserializer()) {
        Ok(value) => Some(value),
        Err(error) => {
            let offset = error.span().map(|s| s.start).unwrap_or(start);
            errors.push(ctx.diagnostic(
                Some(offset),
                format!("in {what}: {}", error.message().trim_end()),
            ));
            None
        }
    }
}

fn parse_rule(ctx: &FileCtx<'_>, start: usize, table: &DeTable<'_>, out: &mut Parsed) {
    let id_hint = table
        .iter()
        .find(|(k, _)| k.get_ref() == "id")
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string));
    let what = match &id_hint {
        Some(id) => format!("rule `{id}`"),
        None => "a rule".to_string(),
    };
    let mut bad_keys = unknown_keys(ctx, table, RULE_KEYS, &what, &mut out.errors);
    for (key, value) in table.iter() {
        let name = key.get_ref().as_ref();
        if let (Some((_, allowed)), Some(nested)) = (
            NESTED_KEYS.iter().find(|(n, _)| *n == name),
            value.get_ref().as_table(),
        ) {
            let within = format!("`{name}` of {what}");
            bad_keys |= unknown_keys(ctx, nested, allowed, &within, &mut out.errors);
        }
    }
    for (key, value) in table.iter() {
        bad_keys |= dates_in(ctx, value, key.get_ref(), &what, &mut out.errors);
    }
    if bad_keys {
        return;
    }
    let Some(raw) = deserialize_table::<RawRule>(ctx, start, table, &what, &mut out.errors) else {
        return;
    };
    let mut errors = Vec::new();
    let mut error = |offset: usize, message: String| {
        errors.push(ctx.diagnostic(Some(offset), format!("{what}: {message}")));
    };

    let id = raw.id.get_ref().clone();
    if !is_kebab_case(&id) {
        error(
            raw.id.span().start,
            format!("id `{id}` must be kebab-case (lowercase letters, digits and single hyphens)"),
        );
    }
    if let Some(first) = out.rules.iter().find(|r| r.id == id) {
        error(
            raw.id.span().start,
            format!(
                "duplicate rule id `{id}`: first defined at {}",
                first.location
            ),
        );
    }

    let max_age = match parse_duration(raw.max_age.get_ref()) {
        Ok(duration) => Some(duration),
        Err(message) => {
            error(raw.max_age.span().start, format!("max_age: {message}"));
            None
        }
    };

    let select = raw
        .select
        .map(|s| validate_select(s.into_inner(), &mut error))
        .unwrap_or_default();

    let dest = raw.destination.into_inner();
    if !is_account_id(dest.account.get_ref()) {
        error(
            dest.account.span().start,
            format!(
                "destination.account `{}` is not a 12-digit AWS account id",
                dest.account.get_ref()
            ),
        );
    }
    let region = match dest.region {
        None => DestinationRegion::Same,
        Some(r) if r.get_ref() == "same" => DestinationRegion::Same,
        Some(r) => {
            if !is_region(r.get_ref()) {
                error(
                    r.span().start,
                    format!(
                        "destination.region `{}` is not a region name (or \"same\")",
                        r.get_ref()
                    ),
                );
            }
            DestinationRegion::Named(r.into_inner())
        }
    };
    if let Some(key) = &dest.kms_key {
        if let Err(message) = check_key_reference(key.get_ref()) {
            error(key.span().start, format!("destination.kms_key: {message}"));
        } else if is_aws_managed_alias(key.get_ref()) {
            error(
                key.span().start,
                format!(
                    "destination.kms_key `{}` is an AWS managed key; pin a customer managed key",
                    key.get_ref()
                ),
            );
        }
    }
    if let Some(key) = &raw.source_kms_key {
        if let Err(message) = check_key_reference(key.get_ref()) {
            error(key.span().start, format!("source_kms_key: {message}"));
        } else if is_aws_managed_alias(key.get_ref()) {
            error(
                key.span().start,
                format!(
                    "source_kms_key `{}` is an AWS managed key, which cannot be shared with another account",
                    key.get_ref()
                ),
            );
        }
    }

    let mut retain = Retain::default();
    if let Some(raw_retain) = raw.retain {
        let raw_retain = raw_retain.into_inner();
        let mut count = |value: Option<Spanned<i64>>, name: &str| -> Option<u32> {
            let value = value?;
            match u32::try_from(*value.get_ref()) {
                Ok(n) => Some(n),
                Err(_) => {
                    error(
                        value.span().start,
                        format!(
                            "retain.{name} must be a whole number from 0, not {}",
                            value.get_ref()
                        ),
                    );
                    None
                }
            }
        };
        let max_span = raw_retain.max.as_ref().map(|m| m.span().start);
        retain.min = count(raw_retain.min, "min");
        retain.max = count(raw_retain.max, "max");
        if let (Some(min), Some(max), Some(offset)) = (retain.min, retain.max, max_span) {
            if min > max {
                error(
                    offset,
                    format!("retain.min ({min}) is greater than retain.max ({max})"),
                );
            }
        }
        if let (Some(0), Some(offset)) = (retain.max, max_span) {
            error(
                offset,
                "retain.max = 0 would keep no replica at all".to_string(),
            );
        }
    }

    let severity = match &raw.severity {
        None => Severity::High,
        Some(s) => Severity::parse(s.get_ref()).unwrap_or_else(|| {
            error(
                s.span().start,
                format!(
                    "severity `{}` is not one of: informational, low, medium, high, critical",
                    s.get_ref()
                ),
            );
            Severity::High
        }),
    };

    let restore = raw.restore.map(|r| {
        let r = r.into_inner();
        let keep = match r.keep {
            None => 2,
            Some(k) => match u32::try_from(*k.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    error(
                        k.span().start,
                        format!(
                            "restore.keep must be at least 1 (the current restore), not {}",
                            k.get_ref()
                        ),
                    );
                    2
                }
            },
        };
        Restore {
            instance_class: r.instance_class,
            subnet_group: r.subnet_group,
            secret: r.secret,
            security_groups: r.security_groups.unwrap_or_default(),
            parameter_group: r.parameter_group,
            keep,
        }
    });

    let failed = !errors.is_empty();
    out.errors.append(&mut errors);
    let Some(max_age) = max_age else { return };
    if failed {
        return;
    }
    out.rules.push(Rule {
        id,
        description: raw.description,
        select,
        destination: Destination {
            account: dest.account.into_inner(),
            region,
            kms_key: dest.kms_key.map(Spanned::into_inner),
        },
        source_kms_key: raw.source_kms_key.map(Spanned::into_inner),
        max_age,
        retain,
        restore,
        severity,
        location: ctx.location(start),
    });
}

fn validate_select(raw: RawSelect, error: &mut impl FnMut(usize, String)) -> Selector {
    let mut kinds = Vec::new();
    for kind in raw.kinds.unwrap_or_default() {
        match kind.get_ref().as_str() {
            "db-instance" => kinds.push(SourceKind::DbInstance),
            "db-cluster" => kinds.push(SourceKind::DbCluster),
            other => error(
                kind.span().start,
                format!("select.kinds: `{other}` is not `db-instance` or `db-cluster`"),
            ),
        }
    }
    let mut accounts = Vec::new();
    for account in raw.accounts.unwrap_or_default() {
        let text = account.get_ref();
        let valid = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '?')
            && (text.contains(['*', '?']) || text.len() == 12);
        if !valid {
            error(
                account.span().start,
                format!("select.accounts: `{text}` is not a 12-digit account id or a pattern like \"*\""),
            );
        }
        accounts.push(account.into_inner());
    }
    let mut regions = Vec::new();
    for region in raw.regions.unwrap_or_default() {
        let text = region.get_ref();
        if !text.contains(['*', '?']) && !is_region(text) {
            error(
                region.span().start,
                format!("select.regions: `{text}` is not a region name"),
            );
        }
        regions.push(region.into_inner());
    }
    Selector {
        tags: raw.tags.unwrap_or_default(),
        engines: raw.engines.unwrap_or_default(),
        accounts,
        regions,
        identifiers: raw.identifiers.unwrap_or_default(),
        kinds,
    }
}

fn parse_exemption(ctx: &FileCtx<'_>, start: usize, table: &DeTable<'_>, out: &mut Parsed) {
    let what = "exemption";
    let mut bad_keys = unknown_keys(ctx, table, EXEMPTION_KEYS, what, &mut out.errors);
    for (key, value) in table.iter().filter(|(key, _)| key.get_ref() != "expires") {
        bad_keys |= dates_in(ctx, value, key.get_ref(), what, &mut out.errors);
    }
    if bad_keys {
        return;
    }
    let Some(raw) = deserialize_table::<RawExemption>(ctx, start, table, what, &mut out.errors)
    else {
        return;
    };
    let before = out.errors.len();
    let arn = raw.arn.get_ref();
    if !arn.starts_with("arn:") {
        out.errors.push(ctx.diagnostic(
            Some(raw.arn.span().start),
            format!("exemption arn `{arn}` must be an RDS ARN or ARN pattern (arn:aws:rds:...)"),
        ));
    }
    let reason = match &raw.reason {
        Some(reason) if !reason.get_ref().trim().is_empty() => reason.get_ref().clone(),
        Some(reason) => {
            out.errors.push(ctx.diagnostic(
                Some(reason.span().start),
                format!("exemption for `{arn}` has an empty reason: say why, for the auditors"),
            ));
            String::new()
        }
        None => {
            out.errors.push(ctx.diagnostic(
                Some(start),
                format!(
                    "exemption for `{arn}` has no reason: add reason = \"...\" for the auditors"
                ),
            ));
            String::new()
        }
    };
    let expires = raw.expires.and_then(|value| {
        let offset = value.span().start;
        let text = match value.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => other.to_string(),
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                out.errors.push(ctx.diagnostic(
                    Some(offset),
                    format!("exemption expires `{text}` is not a date like 2027-01-31"),
                ));
                None
            }
        }
    });
    if out.errors.len() > before {
        return;
    }
    out.exemptions.push(Exemption {
        arn: raw.arn.into_inner(),
        reason,
        expires,
        location: ctx.location(start),
    });
}

fn is_kebab_case(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.chars().all(|c| c.is_ascii_digit())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-7`: lowercase words, a number last.
pub fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

fn check_key_reference(text: &str) -> Result<(), String> {
    let ok = if let Some(alias) = text.strip_prefix("alias/") {
        !alias.is_empty()
    } else if text.starts_with("arn:") {
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        parts.len() == 6
            && parts[2] == "kms"
            && is_account_id(parts[4])
            && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"))
    } else {
        // A bare key id: a UUID or a multi-Region key id.
        text.len() >= 32 && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a KMS key reference (alias/NAME, a key or alias ARN, or a key id)"
        ))
    }
}

fn is_aws_managed_alias(text: &str) -> bool {
    text.starts_with("alias/aws/") || text.contains(":alias/aws/")
}
