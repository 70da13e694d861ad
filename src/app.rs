//! The commands: parse and check inputs first (nothing reaches AWS on bad input), then discover,
//! evaluate and write the run's files.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use tracing::{info, warn};

use crate::aws::{self, ClientFactory, ConnectOptions, Plan, RoleOptions, DEFAULT_REGIONS};
use crate::cli::{AuditArgs, Cli, Command, EvaluateArgs, FailOn, JudgeArgs, RulesCommand};
use crate::error::{Error, EXIT_COMPLIANT, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::evaluate::evaluate;
use crate::inventory::{Account, Inventory};
use crate::output;
use crate::report::{CheckStatus, Findings, Report, RuleSummary, RunInfo, Status};
use crate::rules::{self, is_account_id, is_region, RuleSet, Severity};

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Now, in whole seconds: `as_of` is written to the report and must replay exactly with `--as-of`.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

pub async fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Audit(args) => audit(args, cli.quiet).await,
        Command::Evaluate(args) => evaluate_offline(args, cli.quiet),
        Command::Report(args) => render_saved(&args.from, args.out.as_deref(), cli.quiet),
        Command::Rules(RulesCommand::Check { paths }) => rules_check(&paths, cli.quiet),
    }
}

/// `rdsguard report --from findings.json`: every run file but findings.json itself, rendered again.
fn render_saved(from: &Path, out: Option<&Path>, quiet: bool) -> Result<u8, Error> {
    let report = output::json::ReportV1::read(from)
        .map_err(|e| Error::Usage(format!("{}: {e}", from.display())))?;
    let dir = match out {
        Some(dir) => prepare_out(Some(dir), Utc::now())?,
        None => from
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let written = write_outputs(&report, &dir, |name| name != "findings.json")?;
    if !quiet {
        let mut stdout = std::io::stdout().lock();
        for path in written {
            writeln!(stdout, "{}", path.display()).map_err(|e| Error::io("write", "stdout", e))?;
        }
    }
    Ok(EXIT_COMPLIANT)
}

/// Writes the run files that `wanted` accepts into `dir`; returns their paths.
fn write_outputs(
    report: &output::json::ReportV1,
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for file in output::FILES.iter().filter(|f| wanted(f.name)) {
        let path = dir.join(file.name);
        write_file(&path, |w| (file.write)(report, w))?;
        written.push(path);
    }
    Ok(written)
}

fn rules_check(paths: &[PathBuf], quiet: bool) -> Result<u8, Error> {
    let set = rules::load(paths)?;
    let mut stdout = std::io::stdout().lock();
    let today = Utc::now().date_naive();
    let mut lines = Vec::new();
    for warning in &set.warnings {
        lines.push(format!("warning: {warning}"));
    }
    for exemption in set.exemptions.iter().filter(|e| e.is_expired(today)) {
        lines.push(format!(
            "warning: {}: exemption for {} expired on {}: it no longer applies",
            exemption.location,
            exemption.arn,
            exemption.expires.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    if !quiet {
        lines.push(format!(
            "ok: {} rule(s), {} exemption(s) in {} file(s); sha256 {}",
            set.rules.len(),
            set.exemptions.len(),
            set.files.len(),
            set.sha256
        ));
        for rule in &set.rules {
            lines.push(format!(
                "  {:<24} {}  max_age {}  -> {}",
                rule.id, rule.location, rule.max_age, rule.destination.account
            ));
        }
    }
    for line in lines {
        writeln!(stdout, "{line}").map_err(|e| Error::io("write", "stdout", e))?;
    }
    Ok(EXIT_COMPLIANT)
}

fn parse_as_of(text: Option<&str>) -> Result<Option<DateTime<Utc>>, Error> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|d| d.with_timezone(&Utc))
            .map_err(|e| {
                Error::Usage(format!(
                    "--as-of `{t}` is not an RFC 3339 time like 2026-11-24T06:00:00Z: {e}"
                ))
            })
    })
    .transpose()
}

/// The run's folder: `--out`, or reports/<UTC timestamp>. Must be (or become) a writable directory.
fn prepare_out(out: Option<&Path>, started: DateTime<Utc>) -> Result<PathBuf, Error> {
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

fn check_judge_args(args: &JudgeArgs) -> Result<(RuleSet, Option<DateTime<Utc>>), Error> {
    let as_of = parse_as_of(args.as_of.as_deref())?;
    let rules = rules::load(&args.rules)?;
    for warning in &rules.warnings {
        warn!("{warning}");
    }
    Ok((rules, as_of))
}

async fn audit(args: AuditArgs, quiet: bool) -> Result<u8, Error> {
    let started = Utc::now();
    let (rules, as_of) = check_judge_args(&args.judge)?;
    if let Some(accounts) = &args.accounts {
        if let Some(bad) = accounts.iter().find(|a| !is_account_id(a)) {
            return Err(Error::Usage(format!(
                "--accounts: `{bad}` is not a 12-digit account id"
            )));
        }
    }
    if let Some(regions) = &args.regions {
        if let Some(bad) = regions.iter().find(|r| !is_region(r)) {
            return Err(Error::Usage(format!(
                "--regions: `{bad}` is not a region name"
            )));
        }
    }
    let out_dir = prepare_out(args.judge.out.as_deref(), started)?;

    let base = aws::base_config(&ConnectOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: None,
    })
    .await;
    let caller = aws::caller(&base).await.map_err(|e| {
        Error::Aws(format!(
            "cannot identify the caller with the configured AWS credentials: {} {}: {}. Set AWS_PROFILE, \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or another source of the standard credential chain.",
            e.operation, e.code, e.message
        ))
    })?;
    info!(caller = %caller.arn, "authenticated");
    let partition = caller.arn.split(':').nth(1).unwrap_or("aws").to_string();

    let (mut accounts, organization_id) = match &args.accounts {
        Some(ids) => (
            ids.iter()
                .map(|id| Account {
                    id: id.clone(),
                    name: None,
                })
                .collect(),
            None,
        ),
        None => aws::organization_accounts(&base).await.map_err(|e| {
            Error::Aws(format!(
                "cannot list the organization's accounts ({} {}: {}). Run with management-account or \
                 delegated-administrator credentials, or name the accounts with --accounts.",
                e.operation, e.code, e.message
            ))
        })?,
    };
    for destination in rules.destination_accounts() {
        if !accounts.iter().any(|a| a.id == destination) {
            accounts.push(Account {
                id: destination,
                name: None,
            });
        }
    }
    let regions: Vec<String> = match &args.regions {
        Some(regions) => regions.clone(),
        None => rules
            .pinned_regions()
            .unwrap_or_else(|| DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect()),
    };
    let factory = ClientFactory::new(
        base,
        caller.account_id.clone(),
        partition,
        RoleOptions {
            role_name: args.role_name.clone(),
            external_id: args.external_id.clone(),
            session_name: args.role_session_name.clone(),
        },
    );
    let plan = Plan {
        accounts,
        regions,
        concurrency: usize::from(args.concurrency),
    };
    let mut inventory = aws::discover(&factory, &plan, &rules).await;
    inventory.collected_at = Some(Utc::now());
    inventory.caller = Some(caller);
    inventory.organization_id = organization_id;
    write_json(&out_dir.join("inventory.json"), &inventory)?;
    finish(
        &inventory,
        &rules,
        as_of.unwrap_or_else(now),
        started,
        &out_dir,
        args.judge.fail_on,
        quiet,
    )
}

fn evaluate_offline(args: EvaluateArgs, quiet: bool) -> Result<u8, Error> {
    let started = Utc::now();
    let (rules, as_of) = check_judge_args(&args.judge)?;
    let text = std::fs::read_to_string(&args.inventory)
        .map_err(|e| Error::io("read the inventory", &args.inventory, e))?;
    let inventory: Inventory = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{}:{}: not an rdsguard inventory: {e}",
            args.inventory.display(),
            e.line()
        ))
    })?;
    if inventory.schema != crate::inventory::INVENTORY_SCHEMA {
        return Err(Error::Usage(format!(
            "{}: inventory schema `{}` is not `{}`",
            args.inventory.display(),
            inventory.schema,
            crate::inventory::INVENTORY_SCHEMA
        )));
    }
    let out_dir = prepare_out(args.judge.out.as_deref(), started)?;
    finish(
        &inventory,
        &rules,
        as_of.unwrap_or_else(now),
        started,
        &out_dir,
        args.judge.fail_on,
        quiet,
    )
}

fn finish(
    inventory: &Inventory,
    rules: &RuleSet,
    as_of: DateTime<Utc>,
    started: DateTime<Utc>,
    out_dir: &Path,
    fail_on: FailOn,
    quiet: bool,
) -> Result<u8, Error> {
    let findings = evaluate(inventory, rules, as_of);
    let report = Report {
        run: RunInfo {
            id: uuid::Uuid::new_v4().to_string(),
            started_at: started,
            finished_at: Utc::now(),
            tool_version: TOOL_VERSION.to_string(),
            rules_sha256: rules.sha256.clone(),
            organization_id: inventory.organization_id.clone(),
            caller: inventory.caller.clone(),
            accounts: inventory.accounts.clone(),
            rules: rules.rules.iter().map(RuleSummary::of).collect(),
        },
        findings,
    };
    let exit = exit_code(&report.findings, fail_on);
    let published = output::json::ReportV1::from_report(&report);
    let mut files = write_outputs(&published, out_dir, |_| true)?;
    files.push(out_dir.join("inventory.json"));
    if !quiet {
        let style = output::terminal::Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        let files: Vec<String> = files
            .iter()
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        let mut stdout = std::io::stdout().lock();
        output::terminal::write(&published, &files, &style, &mut stdout)
            .map_err(|e| Error::io("write", "stdout", e))?;
    }
    Ok(exit)
}

/// 3 when anything could not be read (incomplete beats non-compliant: the report is partial);
/// else 1 when a failing check reaches the threshold; else 0.
pub fn exit_code(findings: &Findings, fail_on: FailOn) -> u8 {
    if findings.incomplete() {
        return EXIT_INCOMPLETE;
    }
    let threshold = match fail_on {
        FailOn::None => return EXIT_COMPLIANT,
        FailOn::Any => Severity::Informational,
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
    };
    let failing = findings
        .sources
        .iter()
        .filter(|s| s.status == Status::NonCompliant)
        .flat_map(|s| s.checks.iter())
        .any(|c| c.status == CheckStatus::Fail && c.severity >= threshold);
    if failing {
        EXIT_FINDINGS
    } else {
        EXIT_COMPLIANT
    }
}

fn write_file(
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let file = File::create(path).map_err(|e| Error::io("create", path, e))?;
    let mut writer = BufWriter::new(file);
    body(&mut writer)
        .and_then(|()| writer.flush())
        .map_err(|e| Error::io("write", path, e))
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), Error> {
    write_file(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value)?;
        w.write_all(b"\n")
    })
}
