//! The commands: parse and check inputs first (nothing reaches AWS on bad input), then discover,
//! evaluate and write the run's files.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use tracing::{info, warn};

use crate::aws::{self, ClientFactory, ConnectOptions, Plan, RoleOptions, DEFAULT_REGIONS};
use crate::cli::{
    AuditArgs, Cli, Command, ConnectArgs, DiffArgs, EvaluateArgs, FailOn, JudgeArgs, RollbackArgs,
    RulesCommand,
};
use crate::error::{Error, EXIT_COMPLIANT, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::evaluate::evaluate;
use crate::inventory::{Account, Inventory};
use crate::output;
use crate::remediate;
use crate::report::drift;
use crate::report::v1::{self, ReportV1};
use crate::report::{CheckStatus, Report, RuleSummary, RunInfo, Status};
use crate::rules::{self, is_account_id, is_region, parse_duration, RuleSet, Severity};

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Now, in whole seconds: `as_of` is written to the report and must replay exactly with `--as-of`.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

pub async fn run(cli: Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Audit(args) => audit(args, cli.quiet).await,
        Command::Evaluate(args) => evaluate_offline(args, cli.quiet).await,
        Command::Report(args) => render_saved(&args.from, args.out.as_deref(), cli.quiet),
        Command::Diff(args) => diff(&args),
        Command::Rollback(args) => rollback(args, cli.quiet).await,
        Command::IamPolicy(args) => iam_policy(&args),
        Command::Rules(RulesCommand::Check { paths }) => rules_check(&paths, cli.quiet),
    }
}

fn iam_policy(args: &crate::cli::IamPolicyArgs) -> Result<u8, Error> {
    if let Some(bad) = args.caller_account.as_deref().filter(|a| !is_account_id(a)) {
        return Err(Error::Usage(format!(
            "--caller-account: `{bad}` is not a 12-digit account id"
        )));
    }
    let document = crate::iam::policies(&crate::iam::Options {
        modes: &args.mode,
        partition: &args.partition,
        role_name: &args.role_name,
        caller_account: args.caller_account.as_deref(),
        external_id: args.external_id.as_deref(),
    });
    let key = args.part.map(|part| match part {
        crate::cli::PolicyPart::CallerPolicy => "caller_policy",
        crate::cli::PolicyPart::MemberRolePolicy => "member_role_policy",
        crate::cli::PolicyPart::MemberRoleTrustPolicy => "member_role_trust_policy",
    });
    let shown = key.map(|k| &document[k]).unwrap_or(&document);
    let text = serde_json::to_string_pretty(shown).map_err(|e| Error::Usage(e.to_string()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").map_err(|e| Error::io("write", "stdout", e))?;
    Ok(EXIT_COMPLIANT)
}

/// `rdsguard report --from findings.json`: every run file but findings.json itself, rendered again.
fn render_saved(from: &Path, out: Option<&Path>, quiet: bool) -> Result<u8, Error> {
    let report =
        ReportV1::read(from).map_err(|e| Error::Usage(format!("{}: {e}", from.display())))?;
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

/// Writes the run files that `wanted` accepts into `dir`, each on its own thread (a large
/// organization's files are hundreds of MB); returns their paths.
fn write_outputs(
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

/// Everything `audit` and `evaluate` need to judge, checked before any AWS call.
struct Judge<'a> {
    args: &'a JudgeArgs,
    run_id: String,
    rules: RuleSet,
    as_of: Option<DateTime<Utc>>,
    started: DateTime<Utc>,
    age_threshold_seconds: i64,
    quiet: bool,
}

impl<'a> Judge<'a> {
    fn new(args: &'a JudgeArgs, quiet: bool) -> Result<Self, Error> {
        let started = Utc::now();
        let as_of = parse_as_of(args.as_of.as_deref())?;
        let age_threshold_seconds = parse_duration(&args.drift_age_threshold)
            .map_err(|e| Error::Usage(format!("--drift-age-threshold: {e}")))?
            .seconds;
        if let Some(path) = args.baseline.as_deref().filter(|p| *p != Path::new("auto")) {
            load_report(path)?;
        }
        let rules = rules::load(&args.rules)?;
        for warning in &rules.warnings {
            warn!("{warning}");
        }
        Ok(Judge {
            args,
            run_id: uuid::Uuid::new_v4().to_string(),
            rules,
            as_of,
            started,
            age_threshold_seconds,
            quiet,
        })
    }
}

/// A saved report: a findings.json, or a run folder holding one.
fn load_report(path: &Path) -> Result<(ReportV1, PathBuf), Error> {
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
fn find_baseline(out_dir: &Path, before: DateTime<Utc>) -> Option<(ReportV1, PathBuf)> {
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

fn diff(args: &DiffArgs) -> Result<u8, Error> {
    let threshold = parse_duration(&args.drift_age_threshold)
        .map_err(|e| Error::Usage(format!("--drift-age-threshold: {e}")))?
        .seconds;
    let (old, old_path) = load_report(&args.old)?;
    let (new, _) = load_report(&args.new)?;
    let drift = drift::compare(&old, &new, Some(old_path.display().to_string()), threshold);
    let mut stdout = std::io::stdout().lock();
    output::drift::write_terminal(&drift, &mut stdout)
        .map_err(|e| Error::io("write", "stdout", e))?;
    Ok(if drift.is_worse() {
        EXIT_FINDINGS
    } else {
        EXIT_COMPLIANT
    })
}

async fn audit(args: AuditArgs, quiet: bool) -> Result<u8, Error> {
    let mut judge = Judge::new(&args.judge, quiet)?;
    let step_timeout = parse_duration(&args.step_timeout)
        .map_err(|e| Error::Usage(format!("--step-timeout: {e}")))?;
    // --resume: the plan comes from the interrupted run's journal, and so does its run id.
    let resumed = match &args.resume {
        Some(dir) => {
            let entries = remediate::journal::read(&dir.join(remediate::journal::FILE))
                .map_err(|e| Error::Usage(format!("--resume: {e}")))?;
            let items = remediate::journal::planned_items(&entries);
            if let Some(run_id) = entries.iter().find_map(|e| match e {
                remediate::journal::Entry::Plan { run_id, .. } => Some(run_id.clone()),
                _ => None,
            }) {
                judge.run_id = run_id;
            }
            Some(items)
        }
        None => None,
    };
    let judge = judge;
    let rules = &judge.rules;
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
    let out_dir = prepare_out(
        args.resume.as_deref().or(args.judge.out.as_deref()),
        judge.started,
    )?;

    let (factory, caller) = connect(&args.connect).await?;
    let factory = args.account_rds_rates.iter().fold(
        factory.with_rds_rate(args.rds_rate),
        |f, (account, rate)| f.with_account_rds_rate(account, *rate),
    );

    let regions: Vec<String> = match &args.regions {
        Some(regions) => regions.clone(),
        None => rules
            .pinned_regions()
            .unwrap_or_else(|| DEFAULT_REGIONS.iter().map(|r| r.to_string()).collect()),
    };
    // The vault's reads bound a large audit: they start while the organization is being listed.
    let (ahead_work, ahead) = aws::read_destinations_ahead(&factory, rules, &regions);
    let audit = async {
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
            None => aws::organization_accounts(factory.base()).await.map_err(|e| {
                Error::Aws(format!(
                    "cannot list the organization's accounts ({} {}: {}). Run with management-account \
                     or delegated-administrator credentials, or name the accounts with --accounts.",
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
        let plan = Plan {
            accounts,
            regions,
            extra_scopes: rules.destination_scopes(),
            concurrency: usize::from(args.concurrency),
            today: judge.as_of.unwrap_or(judge.started).date_naive(),
            also_judge: Vec::new(),
        };
        let inventory = aws::discover(&factory, &plan, rules, ahead).await;
        Ok::<_, Error>((plan, inventory, organization_id))
    };
    let ((), discovered) = tokio::join!(ahead_work, audit);
    let (plan, mut inventory, organization_id) = discovered?;
    inventory.collected_at = Some(Utc::now());
    inventory.caller = Some(caller);
    inventory.organization_id = organization_id;
    write_json(&out_dir.join("inventory.json"), &inventory)?;
    let remediation = if args.remediate || resumed.is_some() {
        let options = remediate::Options {
            progress: None,
            max_parallel: usize::from(args.max_parallel),
            step_timeout: std::time::Duration::from_secs(step_timeout.seconds.unsigned_abs()),
        };
        let outcome = remediate_run(
            &judge,
            &factory,
            &plan,
            &mut inventory,
            resumed,
            args.dry_run,
            &options,
            &out_dir,
        )
        .await?;
        Some(outcome)
    } else {
        None
    };
    let security_hub = args
        .security_hub
        .then_some((&factory, usize::from(args.concurrency)));
    finish(&judge, &inventory, &out_dir, security_hub, remediation).await
}

/// The base credentials, who they belong to, and the client factory for the member accounts.
async fn connect(args: &ConnectArgs) -> Result<(ClientFactory, crate::inventory::Caller), Error> {
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
    Ok((factory, caller))
}

/// `rdsguard rollback SOURCE_ARN --to INSTANCE`: the secret points at an earlier restore again.
async fn rollback(args: RollbackArgs, quiet: bool) -> Result<u8, Error> {
    use crate::aws::{instances, snapshots::Scope};
    use crate::inventory::{parse_rds_arn, TAG_SOURCE_ARN};
    use remediate::plan::TAG_MANAGED;
    let arn = parse_rds_arn(&args.source_arn)
        .filter(|a| a.resource_type == "db" || a.resource_type == "cluster")
        .ok_or_else(|| {
            Error::Usage(format!(
                "`{}` is not the ARN of an RDS DB instance or Aurora cluster (arn:aws:rds:REGION:ACCOUNT:db:NAME)",
                args.source_arn
            ))
        })?;
    let cluster = arn.resource_type == "cluster";
    let (account, region) = (arn.account_id.to_string(), arn.region.to_string());
    let rules = rules::load(&args.rules)?;
    let started = Utc::now();
    let out_dir = prepare_out(args.out.as_deref(), started)?;
    let (factory, _) = connect(&args.connect).await?;
    let source = aws::read_source(&factory, &account, &region, &args.source_arn)
        .await
        .map_err(|e| {
            Error::Aws(format!(
                "cannot read {}: {} {}: {}",
                args.source_arn, e.operation, e.code, e.message
            ))
        })?
        .ok_or_else(|| {
            Error::Usage(format!(
                "no database {} in {account}/{region}",
                args.source_arn
            ))
        })?;
    let rule = rules
        .rule_for(&source)
        .ok_or_else(|| Error::Usage(format!("no rule governs {}", args.source_arn)))?;
    let secret = rule
        .restore
        .as_ref()
        .and_then(|r| r.secret_for(&source))
        .ok_or_else(|| {
            Error::Usage(format!(
                "rule `{}` names no restore.secret to repoint",
                rule.id
            ))
        })?;
    let dest_region = rule.destination.region_for(&source.region).to_string();
    let dest_account = rule.destination.account.clone();
    let config = factory
        .config(&dest_account, &dest_region)
        .await
        .map_err(|e| {
            Error::Aws(format!(
                "cannot reach {dest_account}/{dest_region}: {} {}",
                e.code, e.message
            ))
        })?;
    let rds = aws::rds_client(&config, &dest_account, &dest_region);
    let scope = Scope {
        client: &rds,
        account_id: &dest_account,
        region: &dest_region,
    };
    let aws_failure = |e: crate::inventory::AwsError| {
        Error::Aws(format!(
            "{} {} in {}/{}: {}",
            e.operation, e.code, e.account_id, e.region, e.message
        ))
    };
    let find = |name: String| {
        let scope = &scope;
        async move { instances::find_restored(scope, &name, cluster).await }
    };
    let target = find(args.to.clone())
        .await
        .map_err(aws_failure)?
        .ok_or_else(|| {
            Error::Usage(format!(
                "no instance {} in {dest_account}/{dest_region}",
                args.to
            ))
        })?;
    let ours = target.tags.get(TAG_MANAGED).map(String::as_str) == Some("true")
        && target.tags.get(TAG_SOURCE_ARN) == Some(&args.source_arn);
    if !ours {
        return Err(Error::Usage(format!(
            "refusing: {} is not tagged as rdsguard's restore of {}",
            args.to, args.source_arn
        )));
    }
    if target.status != "available" {
        return Err(Error::Usage(format!(
            "refusing: {} is `{}`, not available",
            args.to, target.status
        )));
    }
    let journal = remediate::journal::Journal::open(&out_dir)
        .map_err(|e| Error::io("open the journal in", &out_dir, e))?;
    let record = |entry| {
        journal
            .write(&entry)
            .map_err(|e| Error::io("write the journal", journal.path(), e))
    };
    let detail = format!("point secret {secret} at {}", target.identifier);
    record(remediate::journal::Entry::Start {
        at: Utc::now(),
        source_arn: args.source_arn.clone(),
        step: "rollback".into(),
        detail: detail.clone(),
    })?;
    let client = aws::secrets_client(&config, &dest_account, &dest_region);
    let before = remediate::repoint::repoint_and_supersede(
        &remediate::repoint::Plain,
        &client,
        &scope,
        &secret,
        &target,
        cluster,
    )
    .await
    .map_err(aws_failure)?;
    let was = before
        .instance
        .or(before.host)
        .unwrap_or_else(|| "nothing".into());
    record(remediate::journal::Entry::Done {
        at: Utc::now(),
        source_arn: args.source_arn.clone(),
        step: "rollback".into(),
        detail: format!("{detail} (was {was})"),
    })?;
    if !quiet {
        let mut stdout = std::io::stdout().lock();
        writeln!(
            stdout,
            "secret {secret} now points at {} (was {was}); journal: {}",
            target.identifier,
            journal.path().display()
        )
        .map_err(|e| Error::io("write", "stdout", e))?;
    }
    Ok(EXIT_COMPLIANT)
}

/// Plans (or takes the resumed plan), prints it, executes it unless `dry_run`, then re-reads the
/// account-regions it touched so the report shows the state after remediation.
#[allow(clippy::too_many_arguments)]
async fn remediate_run(
    judge: &Judge<'_>,
    factory: &ClientFactory,
    discovery: &Plan,
    inventory: &mut Inventory,
    resumed: Option<Vec<remediate::plan::Item>>,
    dry_run: bool,
    options: &remediate::Options,
    out_dir: &Path,
) -> Result<v1::Remediation, Error> {
    let plan = match resumed {
        Some(items) => remediate::plan::Plan {
            run_id: judge.run_id.clone(),
            created_at: now(),
            items,
            blocked: Vec::new(),
        },
        None => {
            let findings = evaluate(inventory, &judge.rules, judge.as_of.unwrap_or_else(now));
            remediate::plan::build(inventory, &judge.rules, &findings, &judge.run_id, now())
        }
    };
    write_json(&out_dir.join("plan.json"), &plan)?;
    if !judge.quiet {
        let mut stdout = std::io::stdout().lock();
        output::plan::write_plan(&plan, dry_run, &mut stdout)
            .map_err(|e| Error::io("write", "stdout", e))?;
    }
    let mut results = Vec::new();
    if !dry_run && !plan.items.is_empty() {
        let journal = remediate::journal::Journal::open(out_dir)
            .map_err(|e| Error::io("open the journal in", out_dir, e))?;
        let progress = std::sync::Arc::new(output::progress::Progress::new(
            plan.items
                .iter()
                .map(|i| {
                    let label: String = format!("{}/{} {}", i.account_id, i.region, i.identifier)
                        .chars()
                        .take(60)
                        .collect();
                    (i.source_arn.clone(), label)
                })
                .collect(),
            judge.quiet,
        ));
        let options = remediate::Options {
            progress: Some(progress),
            max_parallel: options.max_parallel,
            step_timeout: options.step_timeout,
        };
        results = remediate::execute(factory, &plan.items, &judge.run_id, &journal, &options).await;
        if !judge.quiet {
            let mut stdout = std::io::stdout().lock();
            output::plan::write_results(&results, &mut stdout)
                .map_err(|e| Error::io("write", "stdout", e))?;
        }
        // Re-read what remediation touched: the sources' and the destinations' account-regions.
        let mut accounts: Vec<String> = Vec::new();
        let mut regions: Vec<String> = Vec::new();
        for item in &plan.items {
            accounts.extend([item.account_id.clone(), item.dest_account.clone()]);
            regions.extend([item.region.clone(), item.dest_region.clone()]);
        }
        accounts.sort();
        accounts.dedup();
        regions.sort();
        regions.dedup();
        let again = Plan {
            accounts: discovery
                .accounts
                .iter()
                .filter(|a| accounts.contains(&a.id))
                .cloned()
                .collect(),
            regions: regions.clone(),
            extra_scopes: Vec::new(),
            concurrency: discovery.concurrency,
            today: discovery.today,
            also_judge: Vec::new(),
        };
        let scopes: Vec<(String, String)> = accounts
            .iter()
            .flat_map(|a| regions.iter().map(move |r| (a.clone(), r.clone())))
            .collect();
        // Databases elsewhere may keep replicas in the re-read scopes: they are judged there too.
        let again = Plan {
            also_judge: inventory
                .sources
                .iter()
                .filter(|s| !scopes.contains(&(s.account_id.clone(), s.region.clone())))
                .cloned()
                .collect(),
            ..again
        };
        let fresh = aws::discover(factory, &again, &judge.rules, aws::Ahead::none()).await;
        inventory.replace_scopes(fresh, &scopes);
        write_json(&out_dir.join("inventory.json"), inventory)?;
    }
    Ok(v1::Remediation {
        dry_run,
        plan,
        results,
    })
}

async fn evaluate_offline(args: EvaluateArgs, quiet: bool) -> Result<u8, Error> {
    let judge = Judge::new(&args.judge, quiet)?;
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
    let out_dir = prepare_out(args.judge.out.as_deref(), judge.started)?;
    finish(&judge, &inventory, &out_dir, None, None).await
}

/// Evaluates, adds drift and Security Hub, writes the run files and the summary; returns the exit code.
async fn finish(
    judge: &Judge<'_>,
    inventory: &Inventory,
    out_dir: &Path,
    security_hub: Option<(&ClientFactory, usize)>,
    remediation: Option<v1::Remediation>,
) -> Result<u8, Error> {
    let as_of = judge.as_of.unwrap_or_else(now);
    let findings = evaluate(inventory, &judge.rules, as_of);
    let report = Report {
        run: RunInfo {
            id: judge.run_id.clone(),
            started_at: judge.started,
            finished_at: Utc::now(),
            tool_version: TOOL_VERSION.to_string(),
            rules_sha256: judge.rules.sha256.clone(),
            organization_id: inventory.organization_id.clone(),
            caller: inventory.caller.clone(),
            accounts: inventory.accounts.clone(),
            rules: judge.rules.rules.iter().map(RuleSummary::of).collect(),
            docs_url: judge.args.docs_url.clone(),
        },
        findings,
    };
    let mut published = ReportV1::from_report(&report);
    if let Some(remediation) = remediation {
        // A step that failed is an AWS error of this run: visible, and the exit says so.
        published
            .errors
            .extend(remediation.results.iter().filter_map(|r| r.error.clone()));
        published.remediation = Some(remediation);
    }
    let baseline = match judge.args.baseline.as_deref() {
        Some(path) if path == Path::new("auto") => {
            let found = find_baseline(out_dir, as_of);
            if found.is_none() {
                published
                    .warnings
                    .push("--baseline auto: no earlier run found beside this one; no drift".into());
            }
            found
        }
        Some(path) => Some(load_report(path)?),
        None => None,
    };
    if let Some((old, path)) = baseline {
        published.drift = Some(drift::compare(
            &old,
            &published,
            Some(path.display().to_string()),
            judge.age_threshold_seconds,
        ));
    }
    if let Some((factory, concurrency)) = security_hub {
        let outcome = aws::securityhub::publish(factory, &published, concurrency).await;
        published.errors.extend(outcome.errors);
    }
    crate::inventory::sort_errors(&mut published.errors);
    // The log says why a run is incomplete, even under -q: a nightly job's log must not show a bare
    // exit 3. (The summary on stdout says it too, for people.)
    for e in &published.errors {
        tracing::error!(
            account = %e.account_id,
            region = %e.region,
            operation = %e.operation,
            code = %e.code,
            "could not read or act: {}",
            e.message
        );
    }
    published.run.finished_at = Utc::now();
    let exit = exit_code(&published, judge.args.fail_on);
    let mut files = write_outputs(&published, out_dir, |_| true)?;
    files.push(out_dir.join("inventory.json"));
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        append_step_summary(Path::new(&summary), &out_dir.join("summary.md"))?;
    }
    if !judge.quiet {
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

/// GitHub Actions shows `$GITHUB_STEP_SUMMARY` on the run's page; append, as other steps may write too.
fn append_step_summary(target: &Path, summary: &Path) -> Result<(), Error> {
    let text = std::fs::read(summary).map_err(|e| Error::io("read", summary, e))?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(target)
        .map_err(|e| Error::io("open $GITHUB_STEP_SUMMARY", target, e))?;
    file.write_all(&text)
        .map_err(|e| Error::io("write $GITHUB_STEP_SUMMARY", target, e))
}

/// 3 when anything could not be read (incomplete beats non-compliant: the report is partial);
/// else 1 when a failing check reaches the threshold; else 0.
pub fn exit_code(report: &ReportV1, fail_on: FailOn) -> u8 {
    if !report.errors.is_empty() || report.summary.error > 0 {
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
    let failing = report
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
