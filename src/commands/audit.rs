//! `rdsguard audit`: discover the organization, remediate on request, then judge.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::connect::connect;
use super::judge::{finish, now, Judge, Judged};
use crate::aws::{self, ClientFactory, DEFAULT_REGIONS};
use crate::cli::{AuditArgs, Engine};
use crate::discover::progress::{Phase, Progress};
use crate::discover::{self, Plan};
use crate::error::Error;
use crate::evaluate::evaluate;
use crate::inventory::{Account, Inventory};
use crate::output;
use crate::remediate;
use crate::report::v1;
use crate::rules::{is_account_id, is_region, parse_duration};
use crate::run_dir::{prepare_out, write_json};

pub async fn run(
    args: AuditArgs,
    quiet: bool,
    display: output::discovery::Mode,
) -> Result<Judged, Error> {
    let mut judge = Judge::new(&args.judge, quiet)?;
    let step_timeout = parse_duration(&args.step_timeout)
        .map_err(|e| Error::Usage(format!("--step-timeout: {e}")))?;
    // The Step Functions engine: its definition and input with --dry-run; deployed and run without.
    let machine = match args.engine {
        Engine::Local => None,
        Engine::StepFunctions if args.remediate || args.resume.is_some() => Some(super::remediation::options(
            args.max_parallel,
            &args.step_timeout,
            &args.connect.role_name,
            "aws",
        )?),
        Engine::StepFunctions => {
            return Err(Error::Usage(
                "--engine step-functions runs remediation: add --remediate (and --dry-run to print the state machine and its input)".into(),
            ))
        }
    };
    if let Some(account) = &args.state_machine_account {
        if !is_account_id(account) {
            return Err(Error::Usage(format!(
                "--state-machine-account: `{account}` is not a 12-digit account id"
            )));
        }
    }
    let execution_wait = parse_duration(&args.execution_wait)
        .map_err(|e| Error::Usage(format!("--execution-wait: {e}")))?;
    // --resume: the plan comes from the interrupted run's journal, and so does its run id.
    let resumed = match &args.resume {
        // The Step Functions engine keeps no journal: its executions are the record. The plan comes
        // from the run's plan.json, and the same names find the executions it started.
        Some(dir) if machine.is_some() => {
            let path = dir.join("plan.json");
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::Usage(format!(
                    "--resume: cannot read {}: {e} (a run of --engine step-functions writes it before it starts)",
                    path.display()
                ))
            })?;
            let plan: remediate::plan::Plan = serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!("--resume: {} is not a plan: {e}", path.display()))
            })?;
            judge.run_id = plan.run_id;
            Some(plan.items)
        }
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
    let machine = machine.map(|mut o| {
        o.partition = caller.arn.split(':').nth(1).unwrap_or("aws").to_string();
        o
    });
    let deploy = remediate::sfn::run::Deploy {
        account: args
            .state_machine_account
            .clone()
            .unwrap_or_else(|| caller.account_id.clone()),
        execution_role: args.execution_role.clone(),
        wait: std::time::Duration::from_secs(execution_wait.seconds.unsigned_abs()),
        poll: std::time::Duration::from_secs(1),
    };
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
    // Discovery's progress: drawn on a terminal, logged every 30 s elsewhere, timed for the report.
    let progress = Arc::new(Progress::default());
    let watch = output::discovery::watch(progress.clone(), display);
    progress.enter(Phase::ListAccounts);
    // The vault's reads bound a large audit: they start while the organization is being listed.
    let (ahead_work, ahead) = discover::read_destinations_ahead(
        &factory,
        rules,
        &regions,
        judge.as_of.unwrap_or(judge.started).date_naive(),
    );
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
        // A destination must be an ACTIVE account of the organization (sharing with the vault and
        // AWS Backup's cross-account copies assume it). One that is not is left out of the plan (the
        // reads started ahead there are dropped); the report names it, and its sources' destination
        // checks are ERROR, never a FAIL each.
        let listed = args.accounts.is_none();
        let mut outside = Vec::new();
        for destination in rules.destination_accounts() {
            if accounts.iter().any(|a| a.id == destination) {
                continue;
            }
            if listed {
                outside.push(destination);
            } else {
                accounts.push(Account {
                    id: destination,
                    name: None,
                });
            }
        }
        let plan = Plan {
            accounts,
            regions,
            extra_scopes: rules
                .destination_scopes()
                .into_iter()
                .filter(|(account, _)| !outside.contains(account))
                .collect(),
            concurrency: usize::from(args.concurrency),
            today: judge.as_of.unwrap_or(judge.started).date_naive(),
            also_judge: Vec::new(),
        };
        let mut inventory = discover::discover(&factory, &plan, rules, ahead, &progress).await;
        for account in outside {
            inventory.errors.push(outside_organization(
                rules,
                &account,
                organization_id.as_deref(),
            ));
        }
        Ok::<_, Error>((plan, inventory, organization_id))
    };
    let ((), discovered) = tokio::join!(ahead_work, audit);
    progress.finish();
    if let Some(watch) = watch {
        watch.stop().await;
    }
    let mut phases: Vec<v1::PhaseTiming> = progress
        .timings()
        .into_iter()
        .map(|(phase, took)| v1::PhaseTiming::new(phase.as_str(), took))
        .collect();
    let (plan, mut inventory, organization_id) = discovered?;
    inventory.collected_at = Some(Utc::now());
    inventory.caller = Some(caller);
    inventory.organization_id = organization_id;
    write_json(&out_dir.join("inventory.json"), &inventory)?;
    let remediating = std::time::Instant::now();
    let remediation = if args.remediate || resumed.is_some() {
        let options = remediate::Options {
            progress: None,
            max_parallel: usize::from(args.max_parallel),
            step_timeout: std::time::Duration::from_secs(step_timeout.seconds.unsigned_abs()),
            copy_path: args.cross_region_copy.into(),
        };
        let outcome = remediate_run(
            &judge,
            &factory,
            &plan,
            &mut inventory,
            resumed,
            args.dry_run,
            &options,
            machine.as_ref().map(|m| (m, &deploy)),
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
    if remediation.is_some() {
        phases.push(v1::PhaseTiming::new("remediate", remediating.elapsed()));
    }
    finish(
        &judge,
        &inventory,
        &out_dir,
        security_hub,
        remediation,
        phases,
    )
    .await
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
    machine: Option<(&remediate::sfn::Options, &remediate::sfn::run::Deploy)>,
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
            let rules = &judge.rules;
            remediate::plan::build(
                inventory,
                rules,
                &findings,
                &judge.run_id,
                now(),
                options.copy_path,
            )
        }
    };
    write_json(&out_dir.join("plan.json"), &plan)?;
    if !judge.quiet {
        output::plan::print_plan(&plan, dry_run)?;
    }
    if let Some((machine, _)) = machine {
        // --engine step-functions: the machine and its executions, kept (and printed with --dry-run).
        let executions = remediate::sfn::executions(&plan, machine)
            .map_err(|refused| Error::Usage(refused.to_string()))?;
        let definition = remediate::sfn::definition(machine);
        write_json(&out_dir.join(remediate::sfn::DEFINITION_FILE), &definition)?;
        write_json(&out_dir.join("executions.json"), &executions)?;
        if dry_run && !judge.quiet {
            output::json::print_value(&serde_json::json!({
                "state_machine": definition,
                "executions": executions,
            }))?;
        }
    }
    let mut results = Vec::new();
    if !dry_run && !plan.items.is_empty() {
        let journal = remediate::journal::Journal::open(out_dir)
            .map_err(|e| Error::io("open the journal in", out_dir, e))?;
        let progress = output::progress::Progress::databases(
            plan.items.iter().map(|i| {
                let (arn, id) = (i.source_arn.as_str(), i.identifier.as_str());
                (arn, i.account_id.as_str(), i.region.as_str(), id)
            }),
            judge.quiet,
        );
        let options = remediate::Options {
            progress: Some(progress),
            max_parallel: options.max_parallel,
            step_timeout: options.step_timeout,
            copy_path: options.copy_path,
        };
        results = match machine {
            None => {
                let run = remediate::journal::Run {
                    id: &judge.run_id,
                    journal: &journal,
                    factory,
                };
                remediate::execute(run, &plan.items, &options).await
            }
            Some((machine, deploy)) => {
                let progress = options.progress.as_deref();
                let ran =
                    remediate::sfn::run::run(factory, &plan, machine, deploy, progress).await?;
                write_json(&out_dir.join("executions.json"), &ran.executions)?;
                ran.results
            }
        };
        if !judge.quiet {
            let executions = out_dir.join("executions.json");
            let changes = match machine {
                None => output::plan::Changes::Counted,
                Some(_) => output::plan::Changes::NotReported {
                    executions: &executions,
                },
            };
            output::plan::print_results(&results, changes)?;
        }
        // Re-read what remediation touched.
        let (again, scopes) = rediscovery(&plan.items, discovery, inventory);
        let fresh = discover::discover(
            factory,
            &again,
            &judge.rules,
            discover::Ahead::none(),
            &Progress::default(),
        )
        .await;
        inventory.replace_scopes(fresh, &scopes);
        write_json(&out_dir.join("inventory.json"), inventory)?;
    }
    Ok(v1::Remediation {
        dry_run,
        plan,
        results,
    })
}

/// What to read again after remediation: every account-region pair the plan touched (the sources'
/// and the destinations'), as a discovery plan and as the list of scopes it replaces.
fn rediscovery(
    items: &[remediate::plan::Item],
    discovery: &Plan,
    inventory: &Inventory,
) -> (Plan, Vec<(String, String)>) {
    let mut accounts: Vec<String> = Vec::new();
    let mut regions: Vec<String> = Vec::new();
    for item in items {
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
            .filter(|s| !scopes.contains(&(s.db.account_id.clone(), s.db.region.clone())))
            .cloned()
            .collect(),
        ..again
    };
    (again, scopes)
}

/// The error for a rule's destination account that is not an ACTIVE account of the organization.
fn outside_organization(
    rules: &crate::rules::RuleSet,
    account: &str,
    organization_id: Option<&str>,
) -> crate::inventory::AwsError {
    let naming: Vec<&str> = rules
        .rules
        .iter()
        .filter(|r| r.destination.account == account)
        .map(|r| r.id.as_str())
        .collect();
    let organization = organization_id.unwrap_or("the organization");
    crate::inventory::AwsError {
        account_id: account.to_string(),
        region: "*".to_string(),
        operation: "ListAccounts".to_string(),
        code: crate::inventory::DESTINATION_NOT_IN_ORGANIZATION.to_string(),
        message: format!(
            "rule(s) {} name {account} as their destination, but it is not an ACTIVE account of {organization} (not a member, suspended or closed): nothing read there is used; move the vault into the organization or correct destination.account",
            naming.join(", ")
        ),
        resource: None,
    }
}
