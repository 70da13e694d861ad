//! The commands, one module each. Each checks its inputs first (nothing reaches AWS on bad input) and
//! returns what it found; [`run`] hands that to `output` to print and returns the exit code.

mod audit;
mod diff;
mod evaluate;
mod iam_policy;
mod judge;
mod report;
mod rollback;
mod rules_check;

use chrono::{DateTime, SubsecRound, Utc};
use tracing::info;

use crate::aws::{self, ClientFactory, ConnectOptions, RoleOptions};
use crate::cli::{Cli, Command, ConnectArgs, RulesCommand};
use crate::error::{Error, EXIT_COMPLIANT, EXIT_FINDINGS};
use crate::output;

pub use judge::exit_code;

pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Now, in whole seconds: `as_of` is written to the report and must replay exactly with `--as-of`.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Runs the command; `output` prints what it returns (unless `--quiet`). Returns the exit code.
pub async fn run(cli: Cli) -> Result<u8, Error> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Audit(args) => summary(audit::run(args, quiet).await?, quiet),
        Command::Evaluate(args) => summary(evaluate::run(args, quiet).await?, quiet),
        Command::Report(args) => {
            let written = report::run(&args.from, args.out.as_deref())?;
            if !quiet {
                output::terminal::print_paths(&written)?;
            }
            Ok(EXIT_COMPLIANT)
        }
        Command::Diff(args) => {
            let drift = diff::run(&args)?;
            output::drift::print_terminal(&drift)?;
            Ok(if drift.is_worse() {
                EXIT_FINDINGS
            } else {
                EXIT_COMPLIANT
            })
        }
        Command::Rollback(args) => {
            let done = rollback::run(args).await?;
            if !quiet {
                output::rollback::print(&done.secret, &done.instance, &done.was, &done.journal)?;
            }
            Ok(EXIT_COMPLIANT)
        }
        Command::IamPolicy(args) => {
            output::json::print_value(&iam_policy::run(&args)?)?;
            Ok(EXIT_COMPLIANT)
        }
        Command::Rules(RulesCommand::Check { paths }) => {
            let (set, today) = rules_check::run(&paths)?;
            output::rules::print(&set, today, quiet)?;
            Ok(EXIT_COMPLIANT)
        }
    }
}

/// The summary of a judged run (`audit`, `evaluate`) on stdout; its exit code.
fn summary(judged: judge::Judged, quiet: bool) -> Result<u8, Error> {
    if !quiet {
        output::terminal::print(&judged.report, &judged.files)?;
    }
    Ok(judged.exit)
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
