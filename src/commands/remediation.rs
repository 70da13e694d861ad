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
    // How many databases run at once is each execution's input (`max_parallel`), not the machine's.
    let o = options(
        sfn::Options::default().max_parallel,
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

/// One execution's status and its databases' outcomes, as lines for the terminal; and whether all
/// went well.
pub async fn status(args: &crate::cli::StatusArgs) -> Result<(Vec<String>, bool), Error> {
    let base = crate::aws::base_config(&crate::aws::ConnectOptions {
        endpoint_url: args.endpoint_url.clone(),
        region: None,
    })
    .await;
    let mut lines = Vec::new();
    let mut all_ok = true;
    for arn in &args.executions {
        let parts: Vec<&str> = arn.split(':').collect();
        let (Some(&"states"), Some(region), Some(account), Some(&"execution")) =
            (parts.get(2), parts.get(3), parts.get(4), parts.get(5))
        else {
            return Err(Error::Usage(format!(
                "`{arn}` is not a Step Functions execution ARN (arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME)"
            )));
        };
        let config = base
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build();
        let machine = crate::aws::sfn::Machine::new(&config, account, region);
        let status = machine
            .status(arn)
            .await
            .map_err(|e| Error::Aws(e.to_string()))?;
        let (text, ok) = describe(arn, &status);
        all_ok &= ok;
        lines.extend(text);
    }
    Ok((lines, all_ok))
}

/// The lines for one execution: its status, then each database's outcome from its output.
fn describe(arn: &str, status: &crate::aws::sfn::Status) -> (Vec<String>, bool) {
    let mut lines = vec![format!("{arn}: {}", status.status)];
    let mut ok = status.status == "SUCCEEDED";
    if let (Some(error), false) = (&status.error, ok) {
        lines.push(format!(
            "  {error}: {}",
            status.cause.as_deref().unwrap_or_default()
        ));
    }
    let results = status
        .output
        .as_ref()
        .and_then(|o| o["results"].as_array().cloned())
        .unwrap_or_default();
    for result in &results {
        let source = result["source_arn"].as_str().unwrap_or("?");
        if result["ok"] == serde_json::json!(true) {
            lines.push(format!("  repaired  {source}"));
        } else {
            ok = false;
            lines.push(format!(
                "  FAILED    {source} at step {}: {}: {}",
                result["failed_step"].as_str().unwrap_or("?"),
                result["error"]["Error"]
                    .as_str()
                    .unwrap_or("States.Unknown"),
                result["error"]["Cause"].as_str().unwrap_or_default()
            ));
        }
    }
    if status.running() {
        lines.push("  still running: its databases' outcomes are not known yet".to_string());
    }
    (lines, ok)
}

#[cfg(test)]
mod tests {
    use super::describe;
    use crate::aws::sfn::Status;
    use serde_json::json;

    #[test]
    fn a_status_names_each_databases_outcome_and_fails_on_any_failure() {
        let arn = "arn:aws:states:us-east-1:111111111111:execution:rdsguard-remediation:r1";
        let status = |state: &str, output: serde_json::Value| Status {
            status: state.to_string(),
            output: Some(output),
            error: None,
            cause: None,
        };
        let good = status(
            "SUCCEEDED",
            json!({"results": [{"source_arn": "arn:aws:rds:us-east-1:2:db:a", "ok": true}]}),
        );
        let (lines, ok) = describe(arn, &good);
        assert!(ok);
        assert_eq!(lines[1], "  repaired  arn:aws:rds:us-east-1:2:db:a");
        let bad = status(
            "SUCCEEDED",
            json!({"results": [{"source_arn": "arn:aws:rds:us-east-1:2:db:b", "ok": false,
                   "failed_step": "snapshot",
                   "error": {"Error": "Rds.DbInstanceNotFoundException", "Cause": "gone"}}]}),
        );
        let (lines, ok) = describe(arn, &bad);
        assert!(!ok);
        assert_eq!(
            lines[1],
            "  FAILED    arn:aws:rds:us-east-1:2:db:b at step snapshot: Rds.DbInstanceNotFoundException: gone"
        );
        let running = Status {
            status: "RUNNING".into(),
            output: None,
            error: None,
            cause: None,
        };
        let (lines, ok) = describe(arn, &running);
        assert!(!ok);
        assert!(lines[1].contains("still running"));
    }
}
