//! Command-line interface. Every flag is documented here; `--help` is the reference.

// The doc comments below are clap's --help text, printed as written: `<UTC timestamp>` is meant
// literally there, not as HTML.
#![allow(rustdoc::invalid_html_tags)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod policy;
mod remediation;
pub use policy::{IamPolicyArgs, PolicyPart, SetupArgs, SetupFormat, SetupMode, SETUP_AFTER_HELP};
pub use remediation::{ExportArgs, RemediationCommand, StatusArgs};

const AFTER_HELP: &str = "\
Exit codes:
  0  every governed database is compliant (or exempt)
  1  findings at or above --fail-on
  2  bad usage or bad rules (nothing was sent to AWS)
  3  part of the organization could not be read (the results are incomplete), or a
     remediation step or a Security Hub import failed

AWS access uses the standard credential chain (environment, AWS_PROFILE, SSO, web identity, instance
role). Run `audit` with management-account (or delegated administrator) credentials.
Docs: README.md, docs/rules.md, docs/checks.md";

#[derive(Debug, Parser)]
#[command(
    name = "rdsguard",
    version,
    about = "Prove that every RDS database in an AWS Organization has a recent, correctly encrypted copy in a vault account",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, display_order = 100)]
    pub log_format: LogFormat,

    /// More log detail on stderr (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, display_order = 101)]
    pub verbose: u8,

    /// Only errors on stderr, and no summary on stdout.
    #[arg(short, long, global = true, display_order = 102)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once per process: the size of the largest variant costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk the organization, link every database to its replicas in the vault, evaluate the rules and
    /// write inventory.json and findings.json.
    #[command(after_help = AFTER_HELP)]
    Audit(AuditArgs),
    /// Re-evaluate a saved inventory.json offline (no AWS calls), e.g. with changed rules or --as-of.
    #[command(after_help = AFTER_HELP)]
    Evaluate(EvaluateArgs),
    /// Render the run files (report.html, ...) again from a saved findings.json, e.g. after an upgrade.
    Report(ReportArgs),
    /// Compare two saved runs: new failures, resolved ones, regressions. Exit 1 when things got worse.
    Diff(DiffArgs),
    /// Restore drills: restore the newest replica of each database whose rule has `drill` and whose
    /// last successful drill is older than drill.every, in the vault account, time it against
    /// drill.rto, run the probe, and always delete the drill instance. The evidence goes on the
    /// replica (read by the next audit's restore-tested check) and into drill.json.
    #[command(after_help = DRILL_AFTER_HELP)]
    Drill(DrillArgs),
    /// Point a database's secret back at an earlier restored copy in the vault (after a bad restore),
    /// keeping the secret's other keys; the instance it leaves is tagged rdsguard:superseded-at.
    Rollback(RollbackArgs),
    /// Print the least-privilege IAM policies a mode needs: the caller's policy, one policy per job
    /// for the member roles, and their trust policy (JSON; --part picks one, ready for `aws iam
    /// put-role-policy`).
    IamPolicy(IamPolicyArgs),
    /// Write the organization's set-up as code: CloudFormation templates (a service-managed StackSet
    /// for the member roles, the vault account, the shareable source keys, the caller's policy) or
    /// the same as Terraform modules, with the policies `iam-policy` prints. See docs/setup.md.
    #[command(after_help = SETUP_AFTER_HELP)]
    Setup(SetupArgs),
    /// Work with rule files.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Remediation on AWS Step Functions: export the state machine (and its CloudFormation
    /// template) that runs the same pipeline as `audit --remediate`. See docs/remediation.md.
    #[command(subcommand)]
    Remediation(RemediationCommand),
}

/// How `--remediate` copies into another region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrossRegionCopy {
    /// One CopyDBSnapshot across accounts and regions (the RDS API reference: the source may be a
    /// snapshot "in a different account and a different AWS Region").
    OneStep,
    /// A stage copy in the source's region of the vault account, then a copy across regions.
    TwoStep,
}

impl From<CrossRegionCopy> for crate::remediate::plan::CopyPath {
    fn from(path: CrossRegionCopy) -> Self {
        match path {
            CrossRegionCopy::OneStep => Self::OneStep,
            CrossRegionCopy::TwoStep => Self::TwoStep,
        }
    }
}

/// Where `--remediate` runs the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// In this process, with a journal in the run folder (--resume finishes an interrupted run).
    Local,
    /// On AWS Step Functions (with --dry-run: print the state machine and its executions' input).
    StepFunctions,
}

const DRILL_AFTER_HELP: &str = "\
What a drill does, per due database (in the destination account only; the source account is never
called):
  1. restore the newest replica (a manual snapshot) into rdsguard-drill-<id>-<time>-<run>, never
     publicly accessible, into the rule's drill.subnet_group and drill.security_groups, tagged
     rdsguard:drill, rdsguard:managed, rdsguard:role=drill;
  2. wait until it is available (at most --step-timeout); the restore's start and end are AWS's
     clock (the Date of its answers), so the duration is AWS's;
  3. run drill.probe with sh -c, with RDSGUARD_DRILL_HOST, _PORT, _INSTANCE, _SOURCE_ARN and
     _SECRET_NAME (a secret's name, never its value) in its environment, killed after
     drill.probe_timeout;
  4. always delete the drill instance (no final snapshot), and only an instance with rdsguard's
     drill tags; a failed delete is tried 3 times, then reported (exit 3);
  5. tag the replica with rdsguard:drill-at, rdsguard:drill-restore-seconds, rdsguard:drill-result.

Every step is journaled in RUN_DIR/drill-journal.jsonl first: after a kill, `rdsguard drill --resume
RUN_DIR` deletes any drill instance left behind. Start with --dry-run.

Exit codes:
  0  every drill passed within its RTO (or none was due)
  1  a drill failed: the restore or the probe failed, or it took longer than drill.rto
  2  bad usage or bad rules (nothing was sent to AWS)
  3  part of the organization could not be read, or an AWS call of a drill failed (a drill
     instance that could not be deleted is named in drill.json)
Docs: docs/drills.md";

/// The member role rdsguard assumes unless told otherwise (`audit`'s and `iam-policy`'s --role-name):
/// the one AWS Organizations creates in the accounts it creates.
const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run: a findings.json or a run folder.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later run: a findings.json or a run folder.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// A newest replica whose age grew by more than this was not refreshed: a regression.
    #[arg(long, default_value = "12h", value_name = "DURATION")]
    pub drift_age_threshold: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The findings.json of an earlier run.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,

    /// Folder to write into. Default: the folder of FILE.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate rule files and report every problem with its file and line (exit 2 if any).
    Check {
        /// Rule files or folders of *.toml files.
        #[arg(default_value = "rules", value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

/// Flags shared by `audit` and `evaluate`: rules, time, outputs and the failure threshold.
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// Rule file or folder of *.toml files (repeatable). Files in a folder load in name order; the first
    /// rule that selects a database governs it.
    #[arg(long = "rules", value_name = "PATH", default_value = "rules")]
    pub rules: Vec<PathBuf>,

    /// Folder for this run's files (created if missing). Default: reports/<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Evaluate as of this instant (RFC 3339, e.g. 2026-11-24T06:00:00Z) instead of now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,

    /// Exit 1 when a failing check has at least this severity (`none`: never exit 1 for findings).
    #[arg(long, value_enum, default_value_t = FailOn::Any, value_name = "SEVERITY")]
    pub fail_on: FailOn,

    /// Compare with an earlier run (its findings.json or folder), or `auto`: the newest earlier run in
    /// the folder that holds this run's folder. The drift goes into findings.json, the summaries and
    /// report.html.
    #[arg(long, value_name = "PATH|auto")]
    pub baseline: Option<PathBuf>,

    /// With --baseline: a newest replica whose age grew by more than this was not refreshed.
    #[arg(long, default_value = "12h", value_name = "DURATION")]
    pub drift_age_threshold: String,

    /// How many failing sources the terminal summary lists, one line each (most severe first), or
    /// `all`: every failing source with every failing check's full message. Without it: at most 20,
    /// fewer (down to 5) when the whole summary would not fit the terminal's height. The summary
    /// also counts the failures by check and by account; the full detail is always in report.html,
    /// findings.json and summary.md.
    #[arg(long, value_name = "N|all", value_parser = crate::output::terminal::Show::parse)]
    pub show: Option<crate::output::terminal::Show>,

    /// Where docs/checks.md is published; findings link to `URL#<check-id>`.
    #[arg(long, env = "RDSGUARD_DOCS_URL", value_name = "URL")]
    pub docs_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub judge: JudgeArgs,

    /// Audit only these account ids (comma-separated) instead of every ACTIVE account of the
    /// organization. The rules' destination accounts are always read too.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub accounts: Option<Vec<String>>,

    /// Regions to walk (comma-separated). Default: the regions the rules name (selectors and
    /// destinations); if a rule matches any region, the regions enabled by default in every account.
    #[arg(long, value_delimiter = ',', value_name = "REGIONS")]
    pub regions: Option<Vec<String>>,

    /// How many account-region scopes are read at once (and, while discovery overlaps its steps, as
    /// many snapshot reads and key look-ups besides). Discovery waits on the network far more than on
    /// the CPU, so this is what makes a large organization fast; the load on AWS is bounded by pacing
    /// RDS per account and region (250 at once, then --rds-rate per second) under RDS's throttling
    /// limits.
    #[arg(long, default_value_t = 128, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    #[command(flatten)]
    pub connect: ConnectArgs,

    /// RDS calls per second per account and region (after a burst of 250). The default stays under
    /// RDS's documented throttling (12/s); raise it where AWS raised the quota (e.g. the vault).
    #[arg(long, default_value_t = 11.0, value_name = "N", value_parser = parse_rate)]
    pub rds_rate: f64,

    /// RDS calls per second in one account (every region), overriding --rds-rate there: for an account
    /// whose RDS API quota AWS raised, typically the vault, which holds every replica and so gets the
    /// most calls (one per replica, to read who it is shared with). Repeatable.
    #[arg(long = "account-rds-rate", value_name = "ACCOUNT=N", value_parser = parse_account_rate)]
    pub account_rds_rates: Vec<(String, f64)>,

    /// Import the findings into AWS Security Hub in each database's own account and region (with the
    /// member role), and resolve rdsguard's earlier findings that now pass. Off by default: without it
    /// an audit calls no API that changes anything.
    #[arg(long)]
    pub security_hub: bool,

    /// Repair every non-compliant database: snapshot, re-encrypt under the rule's source_kms_key if
    /// needed, share with the vault, copy there under the vault key, clean up, prune to retain.max.
    /// The plan is printed first; the run folder gets a journal (journal.jsonl).
    #[arg(long)]
    pub remediate: bool,

    /// With --remediate: print the plan (names to create, snapshots to delete) and change nothing.
    #[arg(long, requires = "remediate")]
    pub dry_run: bool,

    /// With --remediate: how many databases are repaired at once (steps within one run in order).
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub max_parallel: u16,

    /// Finish an interrupted remediation: replay the plan in RUN_DIR's journal (same names, so nothing
    /// is made twice), then re-audit. Implies --remediate; the run's files are rewritten in RUN_DIR.
    /// With --engine step-functions: RUN_DIR's plan.json, and the executions it started are taken
    /// over by name (after --execution-wait ran out, or the process was stopped) and waited for.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["dry_run", "out"])]
    pub resume: Option<PathBuf>,

    /// With --remediate: the longest wait for one snapshot or copy to become available.
    #[arg(long, default_value = "3h", value_name = "DURATION")]
    pub step_timeout: String,

    /// With --remediate: how a copy into another region is made. `one-step`: the vault account
    /// copies the shared snapshot across accounts and regions in one call; `two-step`: a copy in
    /// the source's region first (`copy-stage`), then across regions.
    #[arg(long, value_enum, default_value_t = CrossRegionCopy::OneStep, value_name = "STEPS")]
    pub cross_region_copy: CrossRegionCopy,

    /// With --remediate: where the pipeline runs. `step-functions` creates (or updates) the state
    /// machine `rdsguard-remediation` in each region the plan's executions run in, starts them
    /// (one per region and round), waits for them and reports each database's outcome; with
    /// --dry-run it prints the definition and the executions' input and changes nothing.
    #[arg(long, value_enum, default_value_t = Engine::Local, value_name = "ENGINE")]
    pub engine: Engine,

    /// With --engine step-functions: the account the state machine runs in (default: the caller's).
    #[arg(long, value_name = "ID")]
    pub state_machine_account: Option<String>,

    /// With --engine step-functions: the state machine's execution role, a name in its account or
    /// an ARN (the role `remediation export`'s template creates).
    #[arg(long, default_value = crate::remediate::sfn::EXECUTION_ROLE_NAME, value_name = "NAME|ARN")]
    pub execution_role: String,

    /// With --engine step-functions: the longest wait for the executions (all rounds); they go on in
    /// Step Functions after it, the databases still running are reported as failed, and
    /// `--resume RUN_DIR` waits for them again and runs the rounds left.
    #[arg(long, default_value = "12h", value_name = "DURATION")]
    pub execution_wait: String,
}

/// How rdsguard reaches AWS: the member role, and the endpoint.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Role assumed in each member account (not in the caller's own account, which uses the caller's
    /// credentials).
    #[arg(long, default_value = DEFAULT_ROLE_NAME, value_name = "NAME")]
    pub role_name: String,

    /// External id passed to sts:AssumeRole, when the member roles require one.
    #[arg(long, value_name = "ID")]
    pub external_id: Option<String>,

    /// Session name for sts:AssumeRole (appears in the members' CloudTrail).
    #[arg(long, default_value = "rdsguard", value_name = "NAME")]
    pub role_session_name: String,

    /// AWS endpoint for every service (an emulator, a VPC endpoint). Default: AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Rule file or folder of *.toml files (repeatable); only rules with `drill` are drilled.
    #[arg(long = "rules", value_name = "PATH", default_value = "rules")]
    pub rules: Vec<PathBuf>,

    /// Read only these account ids (comma-separated) instead of every ACTIVE account of the
    /// organization. The rules' destination accounts are always read too.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub accounts: Option<Vec<String>>,

    /// Regions to walk (comma-separated). Default: as for audit.
    #[arg(long, value_delimiter = ',', value_name = "REGIONS")]
    pub regions: Option<Vec<String>>,

    /// Folder for this run's files (drill.json, drill-journal.jsonl, inventory.json). Default:
    /// reports/<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Drill only this database (its ARN), if it is due.
    #[arg(long, value_name = "ARN")]
    pub only: Option<String>,

    /// Print the drills that are due (and why the others are not) and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How many drill instances exist at once, at most.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=32))]
    pub max_parallel: u16,

    /// The longest wait for a drill instance to become available (a restore that takes longer fails
    /// the drill), and to be deleted.
    #[arg(long, default_value = "3h", value_name = "DURATION")]
    pub step_timeout: String,

    /// Judge which drills are due as of this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,

    /// Finish an interrupted drill run: delete any drill instance its journal (RUN_DIR) names that
    /// was not deleted. No new drill is started; drill.json is rewritten in RUN_DIR.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["dry_run", "out", "only"])]
    pub resume: Option<PathBuf>,

    /// How many account-region scopes discovery reads at once.
    #[arg(long, default_value_t = 32, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The database whose secret to repoint (its ARN).
    #[arg(value_name = "SOURCE_ARN")]
    pub source_arn: String,

    /// The earlier restored instance (in the vault) the secret should point at.
    #[arg(long = "to", value_name = "RESTORED_INSTANCE_ID")]
    pub to: String,

    /// Rule file or folder: the governing rule names the vault and the secret.
    #[arg(long = "rules", value_name = "PATH", default_value = "rules")]
    pub rules: Vec<PathBuf>,

    /// Folder for the rollback's journal. Default: reports/<UTC timestamp>/.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The inventory.json of an earlier run.
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,

    #[command(flatten)]
    pub judge: JudgeArgs,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && (0.1..=10_000.0).contains(&rate) => Ok(rate),
        _ => Err(format!(
            "`{text}` is not a rate from 0.1 to 10000 calls per second"
        )),
    }
}

fn parse_account_rate(text: &str) -> Result<(String, f64), String> {
    let Some((account, rate)) = text.split_once('=') else {
        return Err(format!("`{text}` is not ACCOUNT=N, e.g. 222222222222=100"));
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{account}` is not a 12-digit AWS account id"));
    }
    Ok((account.to_string(), parse_rate(rate)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any failing check.
    Any,
    Low,
    Medium,
    High,
    Critical,
    /// Never exit 1 for findings (errors still exit 3).
    None,
}
