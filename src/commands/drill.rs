//! `rdsguard drill`: checks its inputs, discovers like `audit` (the same reads), plans the due drills
//! (`drill::plan`), runs them (`drill::execute`) or, with `--resume`, deletes what an interrupted run
//! left (`drill::resume`), and writes `drill.json`.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::connect::connect;
use crate::aws::{self, DEFAULT_REGIONS};
use crate::cli::DrillArgs;
use crate::discover::progress::Progress;
use crate::discover::{self, Plan as Discovery};
use crate::drill::{self, DrillResult, Entry, Plan, Report};
use crate::error::{Error, EXIT_COMPLIANT, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::inventory::Account;
use crate::remediate::journal::{self, Journal, Run};
use crate::rules::{self, is_account_id, is_region, parse_duration};
use crate::run_dir::{prepare_out, write_json};

/// What a drill run returns: its evidence, where it is, and the exit code.
pub struct Drilled {
    pub report: Report,
    pub file: PathBuf,
    pub exit: u8,
}

pub async fn run(args: DrillArgs, quiet: bool) -> Result<Drilled, Error> {
    let started = Utc::now();
    let run_id = uuid::Uuid::new_v4().to_string();
    let step_timeout = parse_duration(&args.step_timeout)
        .map_err(|e| Error::Usage(format!("--step-timeout: {e}")))?;
    let as_of = match &args.as_of {
        None => None,
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| Error::Usage(format!("--as-of `{t}` is not an RFC 3339 time: {e}")))?,
        ),
    };
    // --resume only deletes what the journal names: the rules are not needed.
    let rules = match &args.resume {
        Some(_) => rules::RuleSet {
            rules: Vec::new(),
            exemptions: Vec::new(),
            sha256: String::new(),
            files: Vec::new(),
            warnings: Vec::new(),
        },
        None => rules::load(&args.rules)?,
    };
    if !rules.rules.iter().any(|r| r.drill.is_some()) && args.resume.is_none() {
        return Err(Error::Usage(
            "no rule has a `drill` table: nothing to drill (see docs/rules.md#drill)".into(),
        ));
    }
    if let Some(bad) = args.accounts.iter().flatten().find(|a| !is_account_id(a)) {
        return Err(Error::Usage(format!(
            "--accounts: `{bad}` is not a 12-digit account id"
        )));
    }
    if let Some(bad) = args.regions.iter().flatten().find(|r| !is_region(r)) {
        return Err(Error::Usage(format!(
            "--regions: `{bad}` is not a region name"
        )));
    }
    if let Some(arn) = &args.only {
        if crate::inventory::parse_rds_arn(arn).is_none() {
            return Err(Error::Usage(format!(
                "--only: `{arn}` is not an RDS database ARN"
            )));
        }
    }
    let resumed = match &args.resume {
        Some(dir) => {
            let entries: Vec<Entry> =
                journal::read_as(&dir.join(drill::JOURNAL_FILE), drill::JOURNAL_SCHEMA)
                    .map_err(|e| Error::Usage(format!("--resume: {e}")))?;
            Some(drill::unfinished(&entries))
        }
        None => None,
    };
    let out_dir = prepare_out(args.resume.as_deref().or(args.out.as_deref()), started)?;
    let file = out_dir.join("drill.json");
    let mut options = drill::Options {
        progress: None,
        max_parallel: usize::from(args.max_parallel),
        step_timeout: std::time::Duration::from_secs(step_timeout.seconds.unsigned_abs()),
        poll: std::time::Duration::from_secs(30),
    };
    let (factory, _caller) = connect(&args.connect).await?;

    if let Some((previous, items)) = resumed {
        let journal = Journal::open_as(&out_dir, drill::JOURNAL_FILE, drill::JOURNAL_SCHEMA)
            .map_err(|e| Error::io("open the journal in", &out_dir, e))?;
        let previous = previous.unwrap_or(run_id);
        options.progress = Some(progress(items.iter().map(|u| &u.item), quiet));
        let run = Run {
            id: &previous,
            journal: &journal,
            factory: &factory,
        };
        let results = drill::resume(run, &items, &options).await;
        let report = report(
            previous,
            started,
            false,
            true,
            Plan {
                items: items.into_iter().map(|u| u.item).collect(),
                skipped: Vec::new(),
            },
            results,
            Vec::new(),
        );
        write_json(&file, &report)?;
        let exit = exit_code(&report);
        return Ok(Drilled { report, file, exit });
    }

    let regions: Vec<String> = match &args.regions {
        Some(regions) => regions.clone(),
        None => rules
            .pinned_regions()
            .unwrap_or_else(|| DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect()),
    };
    let mut accounts: Vec<Account> = match &args.accounts {
        Some(ids) => ids
            .iter()
            .map(|id| Account {
                id: id.clone(),
                name: None,
            })
            .collect(),
        None => {
            aws::organization_accounts(factory.base())
                .await
                .map_err(|e| {
                    Error::Aws(format!(
                        "cannot list the organization's accounts ({} {}: {}); name them with --accounts",
                        e.operation, e.code, e.message
                    ))
                })?
                .0
        }
    };
    for destination in rules.destination_accounts() {
        if !accounts.iter().any(|a| a.id == destination) {
            accounts.push(Account {
                id: destination,
                name: None,
            });
        }
    }
    let judged_at = as_of.unwrap_or(started);
    let discovery = Discovery {
        accounts,
        regions,
        extra_scopes: rules.destination_scopes(),
        concurrency: usize::from(args.concurrency),
        today: judged_at.date_naive(),
        also_judge: Vec::new(),
    };
    let mut inventory = discover::discover(
        &factory,
        &discovery,
        &rules,
        discover::Ahead::none(),
        &Progress::default(),
    )
    .await;
    inventory.collected_at = Some(Utc::now());
    write_json(&out_dir.join("inventory.json"), &inventory)?;
    let plan = drill::plan::build(&inventory, &rules, judged_at, args.only.as_deref(), &run_id);
    if !quiet {
        crate::output::drill::print_plan(&plan, args.dry_run)?;
    }
    let read_errors = inventory.errors.clone();
    let results = if args.dry_run || plan.items.is_empty() {
        Vec::new()
    } else {
        let journal = Journal::open_as(&out_dir, drill::JOURNAL_FILE, drill::JOURNAL_SCHEMA)
            .map_err(|e| Error::io("open the journal in", &out_dir, e))?;
        options.progress = Some(progress(plan.items.iter(), quiet));
        let run = Run {
            id: &run_id,
            journal: &journal,
            factory: &factory,
        };
        drill::execute(run, &plan.items, &options).await
    };
    let report = report(
        run_id,
        started,
        args.dry_run,
        false,
        plan,
        results,
        read_errors,
    );
    write_json(&file, &report)?;
    let exit = exit_code(&report);
    Ok(Drilled { report, file, exit })
}

fn report(
    run_id: String,
    started_at: DateTime<Utc>,
    dry_run: bool,
    resumed: bool,
    plan: Plan,
    drills: Vec<DrillResult>,
    mut errors: Vec<crate::inventory::AwsError>,
) -> Report {
    errors.extend(drills.iter().flat_map(|d| d.errors.iter().cloned()));
    crate::inventory::sort_errors(&mut errors);
    Report {
        schema: drill::SCHEMA.to_string(),
        run_id,
        started_at,
        finished_at: Utc::now(),
        dry_run,
        resumed,
        plan,
        drills,
        errors,
    }
}

/// 3 when an AWS call failed (or a drill instance was left), else 1 when a drill failed, else 0.
fn exit_code(report: &Report) -> u8 {
    if !report.errors.is_empty() || report.drills.iter().any(|d| !d.deleted) {
        EXIT_INCOMPLETE
    } else if report.drills.iter().any(|d| !d.passed()) && !report.resumed {
        EXIT_FINDINGS
    } else {
        EXIT_COMPLIANT
    }
}

/// The drills' lines on the terminal (the remediation's display): one per database, in the vault
/// account and region it is drilled in.
fn progress<'a>(
    items: impl Iterator<Item = &'a drill::Item>,
    quiet: bool,
) -> std::sync::Arc<dyn crate::remediate::Progress + Send + Sync> {
    crate::output::progress::Progress::databases(
        items.map(|i| {
            let (arn, id) = (i.source_arn.as_str(), i.identifier.as_str());
            (arn, i.dest_account.as_str(), i.dest_region.as_str(), id)
        }),
        quiet,
    )
}
