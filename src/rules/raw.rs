//! Phase one of rule loading: each file's TOML with spans, every `[[rule]]` and `[[exemption]]`
//! deserialised on its own into the raw shapes below, so one bad rule does not hide the problems of
//! the next, nor one bad key the problems of the rest of its rule. Phase two ([`super::validate`])
//! checks meaning. The keys a table accepts are the fields of its raw type, read from the type itself.

use std::collections::BTreeMap;

use serde::de::{Deserialize, IntoDeserializer};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::{validate, Diagnostic, Exemption, Location, Rule};

mod option_group;
pub(super) use option_group::RawOptionGroup;

// Required keys are `Option`s too: a missing one is reported by phase two with the rule's other
// problems, not by serde as the only one.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub id: Option<Spanned<String>>,
    pub description: Option<String>,
    pub select: Option<Spanned<RawSelect>>,
    pub destination: Option<Spanned<RawDestination>>,
    pub source_kms_key: Option<Spanned<String>>,
    pub max_age: Option<Spanned<String>>,
    pub grace: Option<Spanned<String>>,
    pub cadence: Option<Spanned<String>>,
    pub retain: Option<Spanned<RawRetain>>,
    pub restore: Option<Spanned<RawRestore>>,
    pub immutable: Option<Spanned<RawImmutable>>,
    pub remediate: Option<Spanned<String>>,
    pub backup: Option<Spanned<RawBackup>>,
    pub drill: Option<Spanned<RawDrill>>,
    pub severity: Option<Spanned<String>>,
}

/// `backup = { source_vault, destination_vault, role, delete_after }`: how `remediate = "backup"`
/// makes a copy.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackup {
    pub source_vault: Option<String>,
    pub destination_vault: Option<Spanned<String>>,
    pub role: Option<Spanned<String>>,
    pub delete_after: Option<Spanned<String>>,
}

/// `immutable = true`, or `immutable = { min_retention = "7d" }`.
pub(super) enum RawImmutable {
    Flag(bool),
    Table(RawImmutableTable),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImmutableTable {
    pub min_retention: Option<Spanned<String>>,
}

impl<'de> Deserialize<'de> for RawImmutable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawImmutable;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false, or a table such as { min_retention = \"7d\" }")
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Self::Value, E> {
                Ok(RawImmutable::Flag(value))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RawImmutableTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawImmutable::Table)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSelect {
    pub tags: Option<BTreeMap<String, String>>,
    pub engines: Option<Vec<String>>,
    pub accounts: Option<Vec<Spanned<String>>>,
    pub regions: Option<Vec<Spanned<String>>>,
    pub identifiers: Option<Vec<String>>,
    pub kinds: Option<Vec<Spanned<String>>>,
    pub read_replicas: Option<bool>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDestination {
    pub account: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub kms_key: Option<Spanned<String>>,
    pub replicas: Option<Vec<Spanned<String>>>,
    pub vault: Option<Spanned<String>>,
    pub option_group: Option<Spanned<RawOptionGroup>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetain {
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRestore {
    pub instance_class: Option<String>,
    pub subnet_group: Option<String>,
    pub secret: Option<String>,
    pub security_groups: Option<Vec<String>>,
    pub parameter_group: Option<String>,
    pub keep: Option<Spanned<i64>>,
}

/// `drill = { every = "30d", rto = "2h", instance_class = "db.t3.micro", ... }`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrill {
    pub every: Option<Spanned<String>>,
    pub rto: Option<Spanned<String>>,
    pub instance_class: Option<Spanned<String>>,
    pub subnet_group: Option<Spanned<String>>,
    pub security_groups: Option<Vec<Spanned<String>>>,
    pub probe: Option<Spanned<String>>,
    pub probe_timeout: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub backup_role: Option<Spanned<String>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExemption {
    pub arn: Option<Spanned<String>>,
    pub reason: Option<Spanned<String>>,
    pub expires: Option<Spanned<toml::Value>>,
}

/// The top level of a rule file: only its field names are used.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RawFile {
    rule: Option<toml::Value>,
    exemption: Option<toml::Value>,
}

/// The keys of a rule's nested tables: which key holds which raw type.
fn nested_fields(key: &str) -> Option<&'static [&'static str]> {
    match key {
        "select" => Some(fields_of::<RawSelect>()),
        "destination" => Some(fields_of::<RawDestination>()),
        "retain" => Some(fields_of::<RawRetain>()),
        "restore" => Some(fields_of::<RawRestore>()),
        "immutable" => Some(fields_of::<RawImmutableTable>()),
        "backup" => Some(fields_of::<RawBackup>()),
        "drill" => Some(fields_of::<RawDrill>()),
        _ => None,
    }
}

/// The field names of a struct that derives `Deserialize`, read from the derive itself: a deserializer
/// that records the names serde asks for and stops. Adding a field to a raw type is all it takes for
/// its key to be accepted.
pub(super) fn fields_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Names<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Names<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("fields read"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut fields));
    fields
}

/// What the files parsed into so far; rule ids are unique across all files.
#[derive(Default)]
pub(super) struct Parsed {
    pub rules: Vec<Rule>,
    pub exemptions: Vec<Exemption>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

/// Maps byte offsets in one file to 1-based lines, and records problems against that file.
pub(super) struct FileCtx<'a> {
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

    pub(super) fn diagnostic(&self, offset: Option<usize>, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_string(),
            line: offset.map(|o| self.line(o)),
            message,
        }
    }

    pub(super) fn location(&self, offset: usize) -> Location {
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
    let top_level = fields_of::<RawFile>();
    unknown_keys(&ctx, &root, top_level, "the file", &mut out.errors);
    for (key, value) in root.iter() {
        let kind = key.get_ref().as_ref();
        if !top_level.contains(&kind) {
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

/// Reports each key of `table` that is not in `allowed`, at its own line, and removes it, so the
/// rest of the table can still be checked. Returns the removed keys.
fn drop_unknown_keys(
    ctx: &FileCtx<'_>,
    table: &mut DeTable<'_>,
    allowed: &[&str],
    within: &str,
    errors: &mut Vec<Diagnostic>,
) -> Vec<String> {
    let mut dropped = Vec::new();
    for key in table.keys() {
        let name = key.get_ref().as_ref();
        if allowed.contains(&name) {
            continue;
        }
        errors.push(ctx.diagnostic(
            Some(key.span().start),
            format!(
                "unknown key `{name}` in {within} (expected one of: {})",
                allowed.join(", ")
            ),
        ));
        dropped.push(name.to_string());
    }
    remove_keys(table, &dropped);
    dropped
}

/// Removes the keys named `names` from `table`.
fn remove_keys(table: &mut DeTable<'_>, names: &[String]) {
    let keys: Vec<_> = table
        .keys()
        .filter(|key| names.iter().any(|n| n == key.get_ref().as_ref()))
        .cloned()
        .collect();
    for key in keys {
        table.remove(&key);
    }
}

/// Reports unknown keys at the top level of a file (nothing is removed: the caller skips them).
fn unknown_keys(
    ctx: &FileCtx<'_>,
    table: &DeTable<'_>,
    allowed: &[&str],
    within: &str,
    errors: &mut Vec<Diagnostic>,
) {
    let mut copy = table.clone();
    drop_unknown_keys(ctx, &mut copy, allowed, within, errors);
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

/// Deserialises `table` into `T`; each type error is reported at its own line and the top-level
/// key holding it is removed (and named in `bad`) before trying again, so every wrong type of a
/// table is reported, and what is left is still deserialised.
fn deserialize_each<T: for<'de> Deserialize<'de>>(
    ctx: &FileCtx<'_>,
    start: usize,
    table: &mut DeTable<'_>,
    what: &str,
    errors: &mut Vec<Diagnostic>,
    bad: &mut Vec<String>,
) -> Option<T> {
    for _ in 0..=table.len() {
        let end = table.values().map(|v| v.span().end).max().unwrap_or(start);
        let spanned = Spanned::new(start..end, table.clone());
        let error = match T::deserialize(spanned.into_deserializer()) {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        let offset = error.span().map(|s| s.start).unwrap_or(start);
        errors.push(ctx.diagnostic(
            Some(offset),
            format!("in {what}: {}", error.message().trim_end()),
        ));
        // The key whose entry holds the error; none found: nothing more can be learnt here.
        let culprit = table
            .iter()
            .find(|(key, value)| {
                key.span().start <= offset && offset < value.span().end.max(key.span().end)
            })
            .map(|(key, _)| key.get_ref().to_string())?;
        remove_keys(table, std::slice::from_ref(&culprit));
        bad.push(culprit);
    }
    None
}

/// Phase one for a table: unknown keys (here and in the nested tables `nested` names) and TOML dates
/// where no key takes one are reported and removed; then the rest is deserialised, each wrong type
/// reported. Returns the raw value and the keys already reported.
fn phase_one<T: for<'de> Deserialize<'de>>(
    ctx: &FileCtx<'_>,
    start: usize,
    table: &DeTable<'_>,
    what: &str,
    dates_allowed: &[&str],
    nested: fn(&str) -> Option<&'static [&'static str]>,
    errors: &mut Vec<Diagnostic>,
) -> (Option<T>, Vec<String>) {
    let mut table = table.clone();
    let mut bad = drop_unknown_keys(ctx, &mut table, fields_of::<T>(), what, errors);
    for (key, value) in table.iter_mut() {
        let name = key.get_ref().to_string();
        if let (Some(allowed), DeValue::Table(inner)) = (nested(&name), value.get_mut()) {
            let within = format!("`{name}` of {what}");
            let dropped = drop_unknown_keys(ctx, inner, allowed, &within, errors);
            if !dropped.is_empty() {
                bad.push(name);
            }
        }
    }
    let dated: Vec<String> = table
        .iter()
        .filter(|(key, _)| !dates_allowed.contains(&key.get_ref().as_ref()))
        .filter(|(key, value)| dates_in(ctx, value, key.get_ref(), what, errors))
        .map(|(key, _)| key.get_ref().to_string())
        .collect();
    remove_keys(&mut table, &dated);
    bad.extend(dated);
    let raw = deserialize_each::<T>(ctx, start, &mut table, what, errors, &mut bad);
    (raw, bad)
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
    let (raw, bad) = phase_one::<RawRule>(
        ctx,
        start,
        table,
        &what,
        &[],
        nested_fields,
        &mut out.errors,
    );
    if let Some(raw) = raw {
        validate::rule(ctx, start, &what, raw, &bad, out);
    }
}

fn parse_exemption(ctx: &FileCtx<'_>, start: usize, table: &DeTable<'_>, out: &mut Parsed) {
    let (raw, bad) = phase_one::<RawExemption>(
        ctx,
        start,
        table,
        "exemption",
        &["expires"],
        |_| None,
        &mut out.errors,
    );
    if let Some(raw) = raw {
        validate::exemption(ctx, start, raw, &bad, out);
    }
}
