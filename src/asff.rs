//! The report as AWS Security Finding Format findings: one per source x failing check, as Security
//! Hub's BatchImportFindings takes them. `output::asff` writes them to `asff.json`; the
//! `--security-hub` import (`aws::securityhub`) sends exactly these. Its own module, so that the AWS
//! layer does not depend on the outputs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks;
use crate::inventory::{parse_rds_arn, SourceKind};
use crate::report::v1::ReportV1;
use crate::report::{CheckResult, CheckStatus, SourceReport};
use crate::rules::Severity;

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Security Hub's limits on these fields (characters).
pub const TITLE_MAX: usize = 256;
pub const DESCRIPTION_MAX: usize = 1024;
pub const REMEDIATION_MAX: usize = 512;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Finding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: FindingSeverity,
    pub title: String,
    pub description: String,
    pub remediation: Remediation,
    pub resources: Vec<Resource>,
    pub compliance: Compliance,
    pub record_state: String,
    pub product_fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FindingSeverity {
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Remediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: String,
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Informational => "INFORMATIONAL",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The finding id: stable for a (source, check), so a re-import updates instead of duplicating.
pub fn finding_id(source_arn: &str, check_id: &str) -> String {
    format!("rdsguard/{check_id}/{source_arn}")
}

/// The default custom-integration product of an account: it only accepts that account's findings.
pub fn product_arn(partition: &str, region: &str, account_id: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account_id}:product/{account_id}/default")
}

fn finding(report: &ReportV1, source: &SourceReport, check: &CheckResult) -> Finding {
    let partition = parse_rds_arn(&source.db.arn)
        .map(|a| a.partition.to_string())
        .unwrap_or_else(|| "aws".to_string());
    let meta = checks::by_id(&check.id);
    let failure = meta.map(|m| m.failure).unwrap_or("Check failed");
    let remediation = meta.map(|m| m.remediation).unwrap_or_default();
    let rule = source.rule.as_deref().unwrap_or("-");
    let when = report
        .run
        .as_of
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let description = format!(
        "{failure}. {} Observed: {}. Expected: {}. Database {} ({}, {}) in account {}, region {}; rule {rule}; checked by rdsguard at {when}.",
        check.message, check.observed, check.expected, source.db.identifier, source.db.engine,
        source.db.kind.as_str(), source.db.account_id, source.db.region
    );
    let url = report
        .run
        .docs_url
        .as_deref()
        .map(|base| format!("{}#{}", base.trim_end_matches('/'), check.id));
    Finding {
        schema_version: SCHEMA_VERSION.to_string(),
        id: finding_id(&source.db.arn, &check.id),
        product_arn: product_arn(&partition, &source.db.region, &source.db.account_id),
        generator_id: check.id.clone(),
        aws_account_id: source.db.account_id.clone(),
        types: vec![format!(
            "Software and Configuration Checks/AWS Security Best Practices/rdsguard {}",
            check.id
        )],
        created_at: when.clone(),
        updated_at: when,
        severity: FindingSeverity {
            label: severity_label(check.severity).to_string(),
        },
        title: clip(
            &format!("RDS {}: {failure}", source.db.identifier),
            TITLE_MAX,
        ),
        description: clip(&description, DESCRIPTION_MAX),
        remediation: Remediation {
            recommendation: Recommendation {
                text: clip(remediation, REMEDIATION_MAX),
                url,
            },
        },
        resources: vec![Resource {
            kind: match source.db.kind {
                SourceKind::DbInstance => "AwsRdsDbInstance",
                SourceKind::DbCluster => "AwsRdsDbCluster",
            }
            .to_string(),
            id: source.db.arn.clone(),
            partition,
            region: source.db.region.clone(),
        }],
        compliance: Compliance {
            status: "FAILED".to_string(),
        },
        record_state: "ACTIVE".to_string(),
        product_fields: [
            ("rdsguard/rule".to_string(), rule.to_string()),
            ("rdsguard/run-id".to_string(), report.run.id.clone()),
            ("rdsguard/check".to_string(), check.id.clone()),
        ]
        .into(),
    }
}

/// Every failing check of every source, as a finding.
pub fn findings(report: &ReportV1) -> Vec<Finding> {
    report
        .sources
        .iter()
        .flat_map(|source| {
            source
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Fail)
                .map(move |check| finding(report, source, check))
        })
        .collect()
}
