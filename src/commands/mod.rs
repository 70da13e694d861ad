//! The commands, one module each. Each checks its inputs first (nothing reaches AWS on bad input) and
//! returns what it found; [`run`] hands that to `output` to print and returns the exit code.

mod audit;
mod connect;
mod diff;
mod drill;
mod evaluate;
mod iam_policy;
mod judge;
mod remediation;
mod report;
mod rollback;
mod rules_check;
mod setup;

use crate::cli::{Cli, Command, LogFormat, RemediationCommand, RulesCommand};
use crate::error::{Error, EXIT_COMPLIANT, EXIT_FINDINGS, EXIT_INCOMPLETE};
use crate::output;

pub use judge::{exit_code, TOOL_VERSION};

/// Runs the command; `output` prints what it returns (unless `--quiet`). Returns the exit code.
pub async fn run(cli: Cli) -> Result<u8, Error> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Audit(args) => {
            let display = output::discovery::Mode::detect(quiet, cli.log_format == LogFormat::Json);
            summary(audit::run(args, quiet, display).await?, quiet)
        }
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
        Command::Drill(args) => {
            let drilled = drill::run(args, quiet).await?;
            if !quiet {
                output::drill::print_results(&drilled.report.drills, &drilled.file)?;
            }
            Ok(drilled.exit)
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
        Command::Setup(args) => {
            let written = setup::run(&args)?;
            for warning in &written.warnings {
                tracing::warn!("{warning}");
            }
            if !quiet {
                output::terminal::print_paths(&written.files)?;
            }
            Ok(EXIT_COMPLIANT)
        }
        Command::Remediation(RemediationCommand::Status(args)) => {
            let (lines, ok) = remediation::status(&args).await?;
            output::terminal::print_lines(&lines)?;
            Ok(if ok { EXIT_COMPLIANT } else { EXIT_INCOMPLETE })
        }
        Command::Remediation(RemediationCommand::Export(args)) => {
            let written = remediation::export(&args)?;
            if !quiet {
                output::terminal::print_paths(&written)?;
            }
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
        output::terminal::print(&judged.report, &judged.files, judged.show)?;
    }
    Ok(judged.exit)
}
