//! `summary.md`: a GitHub-flavoured Markdown summary for CI (also appended to `$GITHUB_STEP_SUMMARY`).

use std::io::{self, Write};

use super::escape::markdown_cell as cell;
use crate::checks::restore_tested::drill_coverage;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, Status};
use crate::rules::format_seconds;

pub fn write(report: &ReportV1, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    let verdict = if !report.errors.is_empty() || s.error > 0 {
        "⚠️ **Incomplete**: part of the organization could not be read"
    } else if s.non_compliant > 0 {
        "❌ **Non-compliant databases found**"
    } else {
        "✅ **Every governed database has a compliant copy in the vault**"
    };
    writeln!(out, "## rdsguard audit\n")?;
    writeln!(out, "{verdict}\n")?;
    writeln!(
        out,
        "Run `{}` as of {} · rdsguard {} · rules sha256 `{}`\n",
        cell(&report.run.id),
        report
            .run
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cell(&report.run.tool_version),
        &report.run.rules_sha256.get(..12).unwrap_or_default()
    )?;
    writeln!(
        out,
        "| Sources | Compliant | Non-compliant | Error | Exempt | Ungoverned |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|")?;
    writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} |\n",
        s.sources, s.compliant, s.non_compliant, s.error, s.exempt, s.ungoverned
    )?;
    if let Some(drills) = drill_coverage(&report.sources).line() {
        writeln!(out, "{}.\n", cell(&drills))?;
    }
    if let Some(drift) = &report.drift {
        super::drift::write_markdown(drift, out)?;
    }
    let problems: Vec<_> = report
        .sources
        .iter()
        .filter(|src| matches!(src.status, Status::NonCompliant | Status::Error))
        .flat_map(|src| {
            src.checks
                .iter()
                .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Error))
                .map(move |c| (src, c))
        })
        .collect();
    if !problems.is_empty() {
        writeln!(out, "### Failing checks\n")?;
        writeln!(
            out,
            "| Database | Account | Region | Rule | Check | Status | Observed | Expected |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")?;
        for (src, check) in problems {
            let account = match report.account_name(&src.db.account_id) {
                Some(name) => format!("{} ({})", src.db.account_id, name),
                None => src.db.account_id.clone(),
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | `{}` | {} | {} | {} |",
                cell(&src.db.identifier),
                cell(&account),
                cell(&src.db.region),
                cell(src.rule.as_deref().unwrap_or("-")),
                check.id,
                check.status.as_str(),
                cell(&check.observed),
                cell(&check.expected)
            )?;
        }
        writeln!(out)?;
    }
    if !report.errors.is_empty() {
        writeln!(out, "### Could not read\n")?;
        writeln!(out, "| Account | Region | Operation | Code | Message |")?;
        writeln!(out, "|---|---|---|---|---|")?;
        for e in &report.errors {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                cell(&e.account_id),
                cell(&e.region),
                cell(&e.operation),
                cell(&e.code),
                cell(&e.message)
            )?;
        }
        writeln!(out)?;
    }
    let stale: Vec<_> = report
        .sources
        .iter()
        .filter_map(|s| s.latest_replica.as_ref().map(|r| (s, r.age_seconds)))
        .collect();
    if let Some((oldest, age)) = stale.iter().max_by_key(|(_, age)| *age) {
        writeln!(
            out,
            "Oldest newest-replica: `{}` at {}.\n",
            cell(&oldest.db.identifier),
            format_seconds(*age)
        )?;
    }
    let tight: Vec<_> = report
        .quotas
        .iter()
        .filter(|q| q.state != crate::report::HeadroomState::Ok)
        .collect();
    if !tight.is_empty() {
        writeln!(out, "### Snapshot quotas\n")?;
        writeln!(
            out,
            "| Destination | Quota | After retain.max | Max | Share |"
        )?;
        writeln!(out, "|---|---|---:|---:|---:|")?;
        for q in tight {
            writeln!(
                out,
                "| {}/{} | {} | {} | {} | {}% |",
                q.account_id,
                q.region,
                q.noun(),
                q.projected,
                q.max,
                q.percent
            )?;
        }
        writeln!(out)?;
    }
    if !report.warnings.is_empty() {
        writeln!(out, "### Warnings\n")?;
        for w in &report.warnings {
            writeln!(out, "- {}", cell(w))?;
        }
        writeln!(out)?;
    }
    Ok(())
}
