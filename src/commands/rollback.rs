//! `rdsguard rollback SOURCE_ARN --to INSTANCE`: point the rule's secret at an earlier restore again.

use std::path::PathBuf;

use chrono::Utc;

use super::connect::connect;
use crate::aws;
use crate::aws::rds::{write::instances, Scope};
use crate::cli::RollbackArgs;
use crate::error::Error;
use crate::inventory::parse_rds_arn;
use crate::remediate::steps::repoint::Repoint;
use crate::remediate::{self, tags};
use crate::rules;
use crate::run_dir::prepare_out;

/// What a rollback did: the secret now points at `instance`; before, at `was`.
pub struct Outcome {
    pub secret: String,
    pub instance: String,
    pub was: String,
    pub journal: PathBuf,
}

/// The secret points at an earlier restore again (`--to`), after checking that it is rdsguard's restore
/// of this source and available; journaled as one `rollback` step in the run folder.
pub async fn run(args: RollbackArgs) -> Result<Outcome, Error> {
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
    let dest_region = rule.destination.region_for(&source.db.region).to_string();
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
    let aws_failure = |e: crate::inventory::AwsError| Error::Aws(e.to_string());
    let target = instances::find_restored(&scope, &args.to, cluster)
        .await
        .map_err(aws_failure)?
        .ok_or_else(|| {
            Error::Usage(format!(
                "no instance {} in {dest_account}/{dest_region}",
                args.to
            ))
        })?;
    if !tags::is_ours(&target.tags, &args.source_arn) {
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
    let client = aws::secrets_client(&config);
    let before = remediate::steps::repoint::repoint_and_supersede(&Repoint {
        client: &client,
        scope: &scope,
        secret: &secret,
        to: &target,
        cluster,
    })
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
    Ok(Outcome {
        secret,
        instance: target.identifier,
        was,
        journal: journal.path().to_path_buf(),
    })
}
