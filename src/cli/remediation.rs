//! The flags of `rdsguard remediation export` and `rdsguard remediation status`: the Step Functions
//! engine's state machine, written out, and its executions, read back.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::DEFAULT_ROLE_NAME;

#[derive(Debug, Subcommand)]
pub enum RemediationCommand {
    /// Write the Step Functions state machine that runs the remediation pipeline (the same steps, in
    /// the same order, with the same names as `audit --remediate`), and a CloudFormation template
    /// that deploys it with its execution role. Nothing is sent to AWS.
    #[command(after_help = EXPORT_AFTER_HELP)]
    Export(ExportArgs),
    /// Show how Step Functions executions of the remediation went: each database's outcome, or the
    /// step and AWS error that stopped it (from DescribeExecution, with the caller's credentials).
    /// Exit 0 when every execution succeeded and every database was repaired, 3 otherwise (a failed
    /// database, a failed or still running execution), as a local run.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Execution ARNs (`arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME`), as in the run
    /// folder's executions.json.
    #[arg(required = true, value_name = "EXECUTION_ARN")]
    pub executions: Vec<String>,

    /// AWS endpoint for every service (an emulator, a VPC endpoint). Default: AWS_ENDPOINT_URL, else AWS.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

const EXPORT_AFTER_HELP: &str = "\
Files written:
  state-machine.asl.json       the Amazon States Language definition: a Distributed Map over the
                               plan's items; per item its steps as AWS SDK integrations
                               (rds:createDBSnapshot, rds:copyDBSnapshot, backup:startBackupJob,
                               ...), each under the member role of the account it acts in
                               (Credentials), with Retry, bounded wait loops and a Catch that ends
                               only that database
  state-machine.template.json  CloudFormation: the Standard state machine and its execution role,
                               which may only assume the member roles (and run its own map)

The machine does not depend on the plan: the plan is each execution's input (see
`audit --remediate --engine step-functions --dry-run`), and so is how many databases run at once
(`max_parallel`, the map's MaxConcurrencyPath: audit's --max-parallel, lowered to AWS's limit of
cross-region copies in progress in a round that copies across regions). It calls only its own
region: deploy it in every region the plan's databases and vaults are in. `audit --remediate
--engine step-functions` starts the executions itself. Not built yet: repointing secrets (rules
with restore.secret are refused, exit 2).
Docs: docs/remediation.md#step-functions-engine";

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Rule file or folder (repeatable): checked for steps the engine does not run yet.
    #[arg(long = "rules", value_name = "PATH", default_value = "rules")]
    pub rules: Vec<PathBuf>,

    /// Folder to write into (created if missing; the files of an earlier export are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// The member role in every account (as --role-name of audit): each Task runs under it.
    #[arg(long, default_value = DEFAULT_ROLE_NAME, value_name = "NAME")]
    pub role_name: String,

    /// The longest wait for one snapshot, copy, restore or backup job (as audit's --step-timeout);
    /// the wait loops poll every 60 s and give up after this.
    #[arg(long, default_value = "3h", value_name = "DURATION")]
    pub step_timeout: String,

    /// The AWS partition of the accounts (aws, aws-cn, aws-us-gov).
    #[arg(long, default_value = "aws", value_name = "PARTITION")]
    pub partition: String,
}
