//! A rule's `drill` table: restore drills (`restore-tested`, `rdsguard drill`).

use toml::Spanned;

use crate::rules::{parse_duration, Drill};

/// The default `drill.probe_timeout`.
pub const DEFAULT_PROBE_TIMEOUT: &str = "10m";

/// `drill`: `every`, `rto` and `instance_class` are required; every problem at its own line.
pub(super) fn drill(
    offset: usize,
    raw: crate::rules::raw::RawDrill,
    error: &mut impl FnMut(usize, String),
) -> Option<Drill> {
    let mut ok = true;
    let mut duration = |key: &str, text: Option<Spanned<String>>, example: &str| match text {
        None => {
            error(
                offset,
                format!("drill: missing required key `{key}` (for example {key} = \"{example}\")"),
            );
            None
        }
        Some(text) => match parse_duration(text.get_ref()) {
            Ok(d) if d.seconds > 0 => Some(d),
            Ok(_) => {
                error(
                    text.span().start,
                    format!("drill.{key} must be longer than 0"),
                );
                None
            }
            Err(message) => {
                error(text.span().start, format!("drill.{key}: {message}"));
                None
            }
        },
    };
    let every = duration("every", raw.every, "30d");
    let rto = duration("rto", raw.rto, "2h");
    let probe_timeout = match raw.probe_timeout {
        None => parse_duration(DEFAULT_PROBE_TIMEOUT).ok(),
        Some(text) => duration("probe_timeout", Some(text), DEFAULT_PROBE_TIMEOUT),
    };
    let instance_class = match raw.instance_class {
        None => {
            error(
                offset,
                "drill: missing required key `instance_class` (for example instance_class = \"db.t3.micro\")".to_string(),
            );
            None
        }
        Some(class) if !class.get_ref().starts_with("db.") => {
            error(
                class.span().start,
                format!(
                    "drill.instance_class `{}` is not a DB instance class (such as db.t3.micro)",
                    class.get_ref()
                ),
            );
            None
        }
        Some(class) => Some(class.into_inner()),
    };
    let mut security_groups = Vec::new();
    for group in raw.security_groups.unwrap_or_default() {
        if !group.get_ref().starts_with("sg-") {
            ok = false;
            error(
                group.span().start,
                format!(
                    "drill.security_groups: `{}` is not a VPC security group id (sg-...)",
                    group.get_ref()
                ),
            );
        }
        security_groups.push(group.into_inner());
    }
    let mut text = |key: &str, value: Option<Spanned<String>>| {
        let value = value?;
        if value.get_ref().trim().is_empty() {
            ok = false;
            error(value.span().start, format!("drill.{key} must not be empty"));
        }
        Some(value.into_inner())
    };
    let subnet_group = text("subnet_group", raw.subnet_group);
    let probe = text("probe", raw.probe);
    let secret = text("secret", raw.secret);
    let backup_role = super::copies::role_name("drill.backup_role", raw.backup_role, error);
    Some(Drill {
        every: every?,
        rto: rto?,
        instance_class: instance_class?,
        subnet_group,
        security_groups,
        probe,
        probe_timeout: probe_timeout?,
        secret,
        backup_role,
    })
    .filter(|_| ok)
}
