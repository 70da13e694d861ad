//! `rdsguard remediation export`: the Step Functions state machine and its CloudFormation template.

use std::path::PathBuf;

use crate::cli::ExportArgs;
use crate::error::Error;
use crate::remediate::sfn;
use crate::rules::{self, parse_duration};
use crate::run_dir::write_json;

/// The machine's options from the flags `audit` and `export` share.
pub(super) fn options(
    max_parallel: u16,
    step_timeout: &str,
    role_name: &str,
    partition: &str,
) -> Result<sfn::Options, Error> {
    let timeout =
        parse_duration(step_timeout).map_err(|e| Error::Usage(format!("--step-timeout: {e}")))?;
    Ok(sfn::Options {
        max_parallel,
        step_timeout_secs: timeout.seconds.unsigned_abs(),
        role_name: role_name.to_string(),
        partition: partition.to_string(),
        ..sfn::Options::default()
    })
}

/// Checks the rules and the flags, then writes the definition and the template; returns the files.
pub fn export(args: &ExportArgs) -> Result<Vec<PathBuf>, Error> {
    let o = options(
        args.max_parallel,
        &args.step_timeout,
        &args.role_name,
        &args.partition,
    )?;
    let rules = rules::load(&args.rules)?;
    sfn::check_rules(&rules).map_err(|refused| Error::Usage(refused.to_string()))?;
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io("create", &args.out, e))?;
    let definition = args.out.join(sfn::DEFINITION_FILE);
    write_json(&definition, &sfn::definition(&o))?;
    let template = args.out.join(sfn::TEMPLATE_FILE);
    write_json(&template, &sfn::template::cloudformation(&o))?;
    Ok(vec![definition, template])
}
