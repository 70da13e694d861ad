//! Phase two of rule loading: the meaning of each rule and exemption that phase one
//! ([`super::raw`]) deserialised. Every problem of a rule is reported, each at its own line: a
//! missing required key, a bad id, duration, account, region, key, selector, `retain` or `severity`.

mod copies;
mod drill;

use chrono::NaiveDate;
use toml::Spanned;

use super::raw::{FileCtx, Parsed, RawExemption, RawImmutable, RawRule, RawSelect};
use super::{
    parse_duration, parse_duration_or_zero, Exemption, Immutable, Restore, Retain, Rule, Selector,
    Severity,
};
use crate::inventory::SourceKind;

/// Validates one deserialised rule. `what` names it in messages; `bad` holds the keys phase one
/// already reported (unknown, or of the wrong type), which are not reported again as missing.
pub(super) fn rule(
    ctx: &FileCtx<'_>,
    start: usize,
    what: &str,
    raw: RawRule,
    bad: &[String],
    out: &mut Parsed,
) {
    let mut errors = Vec::new();
    let mut error = |offset: usize, message: String| {
        errors.push(ctx.diagnostic(Some(offset), format!("{what}: {message}")));
    };
    // A key phase one reported (unknown, or of the wrong type) is not reported again as missing.
    let missing = |error: &mut dyn FnMut(usize, String), key: &str, example: &str| {
        if !bad.iter().any(|b| b == key) {
            error(
                start,
                format!("missing required key `{key}` (for example {example})"),
            );
        }
    };

    let id = raw.id.map(|id| {
        let text = id.get_ref().clone();
        if !is_kebab_case(&text) {
            error(
                id.span().start,
                format!(
                    "id `{text}` must be kebab-case (lowercase letters, digits and single hyphens)"
                ),
            );
        }
        if let Some(first) = out.rules.iter().find(|r| r.id == text) {
            error(
                id.span().start,
                format!(
                    "duplicate rule id `{text}`: first defined at {}",
                    first.location
                ),
            );
        }
        text
    });
    if id.is_none() {
        missing(&mut error, "id", "id = \"prod-postgres\"");
    }

    let max_age = match &raw.max_age {
        None => {
            missing(&mut error, "max_age", "max_age = \"26h\"");
            None
        }
        Some(text) => match parse_duration(text.get_ref()) {
            Ok(duration) => Some(duration),
            Err(message) => {
                error(text.span().start, format!("max_age: {message}"));
                None
            }
        },
    };

    let mut duration = |key: &str, text: &Option<Spanned<String>>| {
        let text = text.as_ref()?;
        // No grace at all is a choice (new databases fail from their first minute); no other
        // duration may be zero.
        let parse = match key {
            "grace" => parse_duration_or_zero,
            _ => parse_duration,
        };
        match parse(text.get_ref()) {
            Ok(duration) => Some(duration),
            Err(message) => {
                error(text.span().start, format!("{key}: {message}"));
                None
            }
        }
    };
    let grace = duration("grace", &raw.grace);
    let cadence = duration("cadence", &raw.cadence);
    let immutable_at = raw.immutable.as_ref().map(|i| i.span().start);
    let immutable = match raw.immutable.map(Spanned::into_inner) {
        None | Some(RawImmutable::Flag(false)) => None,
        Some(RawImmutable::Flag(true)) => Some(Immutable {
            min_retention: None,
        }),
        Some(RawImmutable::Table(table)) => Some(Immutable {
            min_retention: duration("immutable.min_retention", &table.min_retention),
        }),
    };
    let immutable_at = immutable.and(immutable_at);

    let select = raw
        .select
        .map(|s| select(s.into_inner(), &mut error))
        .unwrap_or_default();

    let destination = match raw.destination {
        None => {
            missing(
                &mut error,
                "destination",
                "destination = { account = \"222222222222\" }",
            );
            None
        }
        Some(dest) => {
            let offset = dest.span().start;
            copies::destination(offset, dest.into_inner(), &mut error)
        }
    };
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

    if let (Some(span), None) = (raw.cadence.as_ref().map(|c| c.span().start), retain.min) {
        error(
            span,
            "cadence needs retain.min: how many of the newest replicas must be spaced at most one cadence apart".to_string(),
        );
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

    let restore = raw.restore.and_then(|r| {
        let offset = r.span().start;
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
        let Some(instance_class) = r.instance_class else {
            error(
                offset,
                "restore: missing required key `instance_class` (for example instance_class = \"db.t3.medium\")".to_string(),
            );
            return None;
        };
        Some(Restore {
            instance_class,
            subnet_group: r.subnet_group,
            secret: r.secret,
            security_groups: r.security_groups.unwrap_or_default(),
            parameter_group: r.parameter_group,
            keep,
        })
    });

    let drill = raw.drill.and_then(|d| {
        let offset = d.span().start;
        drill::drill(offset, d.into_inner(), &mut error)
    });

    if let (Some(offset), Some(false)) = (
        immutable_at,
        destination.as_ref().map(|d| d.replicas.backup),
    ) {
        error(
            offset,
            "immutable: only an AWS Backup recovery point in a locked vault can be immutable, but destination.replicas does not count \"backup\"".to_string(),
        );
    }

    let backup_remediation = copies::backup_remediation(
        copies::Remediate {
            mode: raw.remediate,
            backup: raw.backup,
            restore: restore.is_some(),
            rule_at: start,
        },
        &destination,
        &mut error,
    );

    let failed = !errors.is_empty() || !bad.is_empty();
    out.errors.append(&mut errors);
    let (Some(id), Some(max_age), Some(destination), false) = (id, max_age, destination, failed)
    else {
        return;
    };
    let grace = grace.unwrap_or(max_age);
    out.rules.push(Rule {
        id,
        description: raw.description,
        select,
        destination,
        source_kms_key: raw.source_kms_key.map(Spanned::into_inner),
        max_age,
        grace,
        cadence,
        retain,
        restore,
        immutable,
        backup_remediation,
        drill,
        severity,
        location: ctx.location(start),
    });
}

fn select(raw: RawSelect, error: &mut impl FnMut(usize, String)) -> Selector {
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
        read_replicas: raw.read_replicas.unwrap_or(false),
    }
}

/// Validates one deserialised exemption (see [`rule`] for `bad`).
pub(super) fn exemption(
    ctx: &FileCtx<'_>,
    start: usize,
    raw: RawExemption,
    bad: &[String],
    out: &mut Parsed,
) {
    let before = out.errors.len();
    let arn = match &raw.arn {
        Some(arn) => {
            let text = arn.get_ref();
            if !text.starts_with("arn:") {
                out.errors.push(ctx.diagnostic(
                    Some(arn.span().start),
                    format!(
                        "exemption arn `{text}` must be an RDS ARN or ARN pattern (arn:aws:rds:...)"
                    ),
                ));
            }
            text.clone()
        }
        None => {
            if !bad.iter().any(|b| b == "arn") {
                out.errors.push(ctx.diagnostic(
                    Some(start),
                    "exemption: missing required key `arn` (for example arn = \"arn:aws:rds:us-east-1:111111111111:db:legacy-*\")".to_string(),
                ));
            }
            "(no arn)".to_string()
        }
    };
    let reason = match &raw.reason {
        Some(reason) if !reason.get_ref().trim().is_empty() => reason.get_ref().clone(),
        Some(reason) => {
            out.errors.push(ctx.diagnostic(
                Some(reason.span().start),
                format!("exemption for `{arn}` has an empty reason: say why, for the auditors"),
            ));
            String::new()
        }
        None if bad.iter().any(|b| b == "reason") => String::new(),
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
    if out.errors.len() > before || !bad.is_empty() {
        return;
    }
    out.exemptions.push(Exemption {
        arn,
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

pub(super) fn check_key_reference(text: &str) -> Result<(), String> {
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

pub(super) fn is_aws_managed_alias(text: &str) -> bool {
    text.starts_with("alias/aws/") || text.contains(":alias/aws/")
}
