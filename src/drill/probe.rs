//! A drill's probe: the rule's shell command, run once the drill database is available.

use std::process::Stdio;
use std::time::Duration;

use tracing::warn;

use super::{Item, Probe};
use crate::aws::rds::write::instances::Instance;

/// Runs the probe with `sh -c`, the endpoint and the secret's name in its environment (never a
/// secret's value), its output discarded, killed after the rule's `probe_timeout`.
pub(super) async fn run(item: &Item, command: &str, instance: &Instance) -> Probe {
    let mut child = tokio::process::Command::new("sh");
    child
        .arg("-c")
        .arg(command)
        .env(
            "RDSGUARD_DRILL_HOST",
            instance.host.clone().unwrap_or_default(),
        )
        .env(
            "RDSGUARD_DRILL_PORT",
            instance.port.map(|p| p.to_string()).unwrap_or_default(),
        )
        .env(
            "RDSGUARD_DRILL_INSTANCE",
            item.member().unwrap_or_else(|| item.instance.clone()),
        )
        .env("RDSGUARD_DRILL_SOURCE_ARN", &item.source_arn)
        .env("RDSGUARD_DRILL_REPLICA_ARN", &item.replica_arn)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    match &item.secret_name {
        Some(name) => child.env("RDSGUARD_DRILL_SECRET_NAME", name),
        None => child.env_remove("RDSGUARD_DRILL_SECRET_NAME"),
    };
    match item.is_cluster() {
        true => child.env("RDSGUARD_DRILL_CLUSTER", &item.instance),
        false => child.env_remove("RDSGUARD_DRILL_CLUSTER"),
    };
    let mut child = match child.spawn() {
        Ok(child) => child,
        Err(e) => {
            warn!(source = %item.identifier, "the probe could not start: {e}");
            return Probe {
                exit_code: None,
                timed_out: false,
                passed: false,
            };
        }
    };
    let limit = Duration::from_secs(item.probe_timeout_seconds.unsigned_abs());
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => Probe {
            exit_code: status.code(),
            timed_out: false,
            passed: status.success(),
        },
        Ok(Err(_)) => Probe {
            exit_code: None,
            timed_out: false,
            passed: false,
        },
        Err(_) => {
            let _ = child.kill().await;
            Probe {
                exit_code: None,
                timed_out: true,
                passed: false,
            }
        }
    }
}
