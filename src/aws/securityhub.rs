//! `--security-hub`: import the run's findings into each source's own account and region (the default
//! custom-integration product only accepts findings of the calling account), and resolve rdsguard's
//! earlier findings that this run judged passing, so Security Hub never keeps stale failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_securityhub::types::{
    AwsSecurityFinding, AwsSecurityFindingFilters, Compliance, ComplianceStatus, Partition,
    Recommendation, RecordState, Remediation, Resource, Severity, SeverityLabel, StringFilter,
    StringFilterComparison,
};
use futures::stream::{self, StreamExt};
use tracing::info;

use super::error::aws_error;
use super::ClientFactory;
use crate::asff::{self, Finding};
use crate::checks::REGISTRY;
use crate::inventory::AwsError;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, Status};

/// BatchImportFindings takes at most 100 findings per call.
pub const BATCH_SIZE: usize = 100;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    pub imported: usize,
    pub resolved: usize,
    pub scopes: usize,
    pub errors: Vec<AwsError>,
}

fn to_sdk(finding: &Finding) -> AwsSecurityFinding {
    let recommendation = Recommendation::builder()
        .text(&finding.remediation.recommendation.text)
        .set_url(finding.remediation.recommendation.url.clone())
        .build();
    let mut builder = AwsSecurityFinding::builder()
        .schema_version(&finding.schema_version)
        .id(&finding.id)
        .product_arn(&finding.product_arn)
        .generator_id(&finding.generator_id)
        .aws_account_id(&finding.aws_account_id)
        .set_types(Some(finding.types.clone()))
        .created_at(&finding.created_at)
        .updated_at(&finding.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(finding.severity.label.as_str()))
                .build(),
        )
        .title(&finding.title)
        .description(&finding.description)
        .remediation(
            Remediation::builder()
                .recommendation(recommendation)
                .build(),
        )
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(finding.compliance.status.as_str()))
                .build(),
        )
        .record_state(RecordState::from(finding.record_state.as_str()));
    for resource in &finding.resources {
        builder = builder.resources(
            Resource::builder()
                .r#type(&resource.kind)
                .id(&resource.id)
                .partition(Partition::from(resource.partition.as_str()))
                .region(&resource.region)
                .build(),
        );
    }
    for (key, value) in &finding.product_fields {
        builder = builder.product_fields(key, value);
    }
    builder.build()
}

/// The earlier finding, passing and archived now: same identity, same text, new time and state.
fn resolution(existing: &AwsSecurityFinding, now: &str) -> AwsSecurityFinding {
    AwsSecurityFinding::builder()
        .set_schema_version(existing.schema_version().map(str::to_string))
        .set_id(existing.id().map(str::to_string))
        .set_product_arn(existing.product_arn().map(str::to_string))
        .set_generator_id(existing.generator_id().map(str::to_string))
        .set_aws_account_id(existing.aws_account_id().map(str::to_string))
        .set_types(Some(existing.types().to_vec()))
        .set_created_at(existing.created_at().map(str::to_string))
        .updated_at(now)
        .set_severity(existing.severity().cloned())
        .set_title(existing.title().map(str::to_string))
        .set_description(existing.description().map(str::to_string))
        .set_resources(Some(existing.resources().to_vec()))
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::Passed)
                .build(),
        )
        .record_state(RecordState::Archived)
        .build()
}

/// What this run knows about a (source ARN, check id): true when it judged it not failing, so an
/// earlier failure may be resolved. Unknown (ERROR, unread scope) stays open.
fn judged_passing(report: &ReportV1, complete_scope: bool, arn: &str, check: &str) -> bool {
    match report.sources.iter().find(|s| s.db.arn == arn) {
        Some(source) => match source.status {
            Status::Exempt | Status::Ungoverned => true,
            _ => source
                .checks
                .iter()
                .find(|c| c.id == check)
                .map(|c| matches!(c.status, CheckStatus::Pass | CheckStatus::Skip))
                // A check the rule no longer asks for.
                .unwrap_or(source.status != Status::Error),
        },
        // The database is gone, and its account-region was read completely.
        None => complete_scope,
    }
}

fn filter(value: &str) -> StringFilter {
    StringFilter::builder()
        .value(value)
        .comparison(StringFilterComparison::Equals)
        .build()
}

pub async fn publish(factory: &ClientFactory, report: &ReportV1, concurrency: usize) -> Outcome {
    let mut by_scope: BTreeMap<(String, String), Vec<Finding>> = BTreeMap::new();
    for source in &report.sources {
        by_scope
            .entry((source.db.account_id.clone(), source.db.region.clone()))
            .or_default();
    }
    for finding in asff::findings(report) {
        let region = finding
            .resources
            .first()
            .map(|r| r.region.clone())
            .unwrap_or_default();
        by_scope
            .entry((finding.aws_account_id.clone(), region))
            .or_default()
            .push(finding);
    }
    let unreadable: BTreeSet<&str> = report
        .unreadable_scopes
        .iter()
        .map(String::as_str)
        .collect();
    let results: Vec<(usize, usize, Vec<AwsError>)> =
        stream::iter(by_scope)
            .map(|((account, region), findings)| {
                let complete = !unreadable.contains(format!("{account}/{region}").as_str());
                async move {
                    publish_scope(factory, report, &account, &region, findings, complete).await
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut outcome = Outcome {
        scopes: results.len(),
        ..Outcome::default()
    };
    for (imported, resolved, mut errors) in results {
        outcome.imported += imported;
        outcome.resolved += resolved;
        outcome.errors.append(&mut errors);
    }
    info!(
        imported = outcome.imported,
        resolved = outcome.resolved,
        scopes = outcome.scopes,
        errors = outcome.errors.len(),
        "Security Hub import done"
    );
    outcome
}

async fn publish_scope(
    factory: &ClientFactory,
    report: &ReportV1,
    account: &str,
    region: &str,
    findings: Vec<Finding>,
    complete_scope: bool,
) -> (usize, usize, Vec<AwsError>) {
    let config = match factory.config(account, region).await {
        Ok(config) => config,
        Err(error) => return (0, 0, vec![error]),
    };
    let client = super::securityhub_client(&config, account, region);
    let partition = report
        .sources
        .iter()
        .find(|s| s.db.account_id == account)
        .and_then(|s| s.db.arn.split(':').nth(1))
        .unwrap_or("aws");
    let product = asff::product_arn(partition, region, account);
    let generators: BTreeSet<&str> = REGISTRY.iter().map(|c| c.id.as_str()).collect();

    // rdsguard's active findings in this account and region. The filters go to the service; the same
    // conditions are checked again here so nothing else is ever touched.
    let mut filters = AwsSecurityFindingFilters::builder()
        .product_arn(filter(&product))
        .aws_account_id(filter(account))
        .record_state(filter("ACTIVE"));
    for id in &generators {
        filters = filters.generator_id(filter(id));
    }
    let mut existing: HashMap<String, AwsSecurityFinding> = HashMap::new();
    let mut pages = client
        .get_findings()
        .filters(filters.build())
        .max_results(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => {
                for finding in page.findings() {
                    let ours = finding.product_arn() == Some(product.as_str())
                        && finding.aws_account_id() == Some(account)
                        && finding.record_state() == Some(&RecordState::Active)
                        && finding
                            .generator_id()
                            .is_some_and(|g| generators.contains(g))
                        && finding.id().is_some_and(|id| id.starts_with("rdsguard/"));
                    if let (true, Some(id)) = (ours, finding.id()) {
                        existing.insert(id.to_string(), finding.clone());
                    }
                }
            }
            Err(e) => return (0, 0, vec![aws_error(account, region, "GetFindings", &e)]),
        }
    }

    let now = report
        .run
        .as_of
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let current: BTreeSet<String> = findings.iter().map(|f| f.id.clone()).collect();
    let mut batch: Vec<AwsSecurityFinding> = findings
        .into_iter()
        .map(|mut finding| {
            // An update keeps the time the problem was first seen.
            if let Some(created) = existing.get(&finding.id).and_then(|e| e.created_at()) {
                finding.created_at = created.to_string();
            }
            to_sdk(&finding)
        })
        .collect();
    let imported = batch.len();
    let mut resolved = 0;
    for (id, finding) in &existing {
        if current.contains(id) {
            continue;
        }
        let Some((check, arn)) = id
            .strip_prefix("rdsguard/")
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        if judged_passing(report, complete_scope, arn, check) {
            batch.push(resolution(finding, &now));
            resolved += 1;
        }
    }
    let mut errors = Vec::new();
    for chunk in batch.chunks(BATCH_SIZE) {
        match client
            .batch_import_findings()
            .set_findings(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(response) => {
                for failed in response.failed_findings() {
                    errors.push(AwsError {
                        account_id: account.to_string(),
                        region: region.to_string(),
                        operation: "BatchImportFindings".into(),
                        code: failed.error_code().unwrap_or("Failed").to_string(),
                        message: failed.error_message().unwrap_or_default().to_string(),
                        resource: failed.id().map(str::to_string),
                    });
                }
            }
            Err(e) => errors.push(aws_error(account, region, "BatchImportFindings", &e)),
        }
    }
    (imported, resolved, errors)
}
