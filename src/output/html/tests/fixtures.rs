//! Reports built in code for the page's tests: a small hostile one, an empty one, and a big one.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use crate::inventory::{Account, Database, SourceKind};
use crate::output::html::rfc3339;
use crate::report::v1::ReportV1;
use crate::report::{
    CheckResult, CheckStatus, ExemptionInfo, LatestReplica, RuleSummary, SourceReport, Status,
    Summary,
};
use crate::rules::{format_seconds, Severity};

pub(super) const HOSTILE: &str = "<script>alert(1)</script>";

pub(super) fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, 0, 0).unwrap()
}

fn check(id: &str, status: CheckStatus, observed: &str, message: &str) -> CheckResult {
    CheckResult {
        id: id.to_string(),
        status,
        severity: Severity::High,
        observed: observed.to_string(),
        expected: "<= 1d2h".to_string(),
        message: message.to_string(),
    }
}

pub(super) fn source(account: &str, id: &str, status: Status) -> SourceReport {
    SourceReport {
        db: Database {
            arn: format!("arn:aws:rds:us-east-1:{account}:db:{id}"),
            kind: SourceKind::DbInstance,
            account_id: account.to_string(),
            region: "us-east-1".to_string(),
            identifier: id.to_string(),
            engine: "postgres".to_string(),
        },
        rule: None,
        status,
        latest_replica: None,
        replica_count: 0,
        checks: Vec::new(),
        exemption: None,
        tags: BTreeMap::new(),
        replicas_after_as_of: 0,
        ungoverned_reason: None,
        last_drill: None,
    }
}

/// Built from JSON, so fields added to the model later (with serde defaults) need no change here.
pub(super) fn empty() -> ReportV1 {
    serde_json::from_value(serde_json::json!({
        "schema": crate::report::v1::SCHEMA,
        "run": {
            "id": "run-1",
            "as_of": at(6),
            "started_at": at(5),
            "finished_at": at(6),
            "tool_version": "0.1.0",
            "rules_sha256": "ab".repeat(32),
            "organization_id": "o-abc123",
            "caller_arn": "arn:aws:iam::111111111111:user/auditor"
        },
        "summary": Summary::default(),
        "sources": [],
        "errors": [],
        "unreadable_scopes": [],
        "warnings": []
    }))
    .unwrap()
}

/// Four sources: compliant, failing with a hostile tag, exempt, ungoverned; a hostile account name.
pub(super) fn sample() -> ReportV1 {
    let mut report = empty();
    report.accounts = vec![
        Account {
            id: "111111111111".to_string(),
            name: Some(HOSTILE.to_string()),
        },
        Account {
            id: "222222222222".to_string(),
            name: Some("Vault".to_string()),
        },
    ];
    report.rules = vec![RuleSummary {
        id: "prod".to_string(),
        description: Some("Production".to_string()),
        severity: Severity::High,
        max_age_seconds: 26 * 3600,
        destination_account: "222222222222".to_string(),
        destination_region: "same".to_string(),
        destination_kms_key: Some("alias/rds-vault".to_string()),
    }];
    let replica = |id: &str, age_h: i64| LatestReplica {
        arn: format!("arn:aws:rds:us-east-1:222222222222:snapshot:{id}-copy"),
        account_id: "222222222222".to_string(),
        region: "us-east-1".to_string(),
        replica_time: at(6) - chrono::Duration::hours(age_h),
        age_seconds: age_h * 3600,
        kms_key_arn: Some("arn:aws:kms:us-east-1:222222222222:key/vault-key-id".to_string()),
        backup_vault: None,
        delete_at: None,
    };
    let mut ok = source("111111111111", "orders", Status::Compliant);
    ok.rule = Some("prod".to_string());
    ok.latest_replica = Some(replica("orders", 3));
    ok.replica_count = 2;
    ok.checks = vec![
        check("replica-age", CheckStatus::Pass, "3h", "fresh"),
        check("replica-present", CheckStatus::Pass, "2", "present"),
    ];
    let mut bad = source("111111111111", "payments", Status::NonCompliant);
    bad.rule = Some("prod".to_string());
    bad.latest_replica = Some(replica("payments", 40));
    bad.replica_count = 1;
    bad.checks = vec![
        check(
            "replica-age",
            CheckStatus::Fail,
            "1d16h",
            "older than the rule's max_age",
        ),
        check("replica-present", CheckStatus::Pass, "1", "present"),
    ];
    bad.tags.insert("team".to_string(), HOSTILE.to_string());
    bad.tags
        .insert(HOSTILE.to_string(), "x\"onmouseover=\"alert(2)".to_string());
    let mut exempt = source("111111111111", "legacy-crm", Status::Exempt);
    exempt.rule = Some("prod".to_string());
    exempt.exemption = Some(ExemptionInfo {
        arn_pattern: "arn:aws:rds:*:111111111111:db:legacy-*".to_string(),
        reason: "Decommission ticket OPS-123".to_string(),
        expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
    });
    let scratch = source("222222222222", "scratch", Status::Ungoverned);
    report.sources = vec![ok, bad, exempt, scratch];
    report.summary = Summary::count(&report.sources);
    report
}

/// `n` sources over 50 accounts and 4 rules, with the mix of statuses and checks a real run has.
pub(super) fn big_report(n: usize) -> ReportV1 {
    let mut report = empty();
    let vault = "999999999999";
    report.accounts = (0..50)
        .map(|i| Account {
            id: format!("{:012}", 100_000_000_000u64 + i),
            name: Some(format!("Team {i} production")),
        })
        .collect();
    report.rules = ["production", "analytics", "payments", "archive"]
        .iter()
        .zip([26 * 3600, 7 * 86_400, 12 * 3600, 30 * 86_400])
        .map(|(id, max_age)| RuleSummary {
            id: id.to_string(),
            description: Some(format!("{id} databases")),
            severity: Severity::High,
            max_age_seconds: max_age,
            destination_account: vault.to_string(),
            destination_region: "same".to_string(),
            destination_kms_key: Some("alias/rds-vault".to_string()),
        })
        .collect();
    for i in 0..n {
        let account = format!("{:012}", 100_000_000_000u64 + (i % 50) as u64);
        let id = format!("db-{i:05}");
        let status = match i % 20 {
            0..=13 => Status::Compliant,
            14..=16 => Status::NonCompliant,
            17 => Status::Error,
            18 => Status::Exempt,
            _ => Status::Ungoverned,
        };
        let mut s = source(&account, &id, status);
        s.db.engine = ["postgres", "mysql", "aurora-postgresql"][i % 3].to_string();
        s.tags.insert("env".to_string(), "prod".to_string());
        s.tags
            .insert("team".to_string(), format!("team-{}", i % 50));
        if matches!(status, Status::Ungoverned) {
            report.sources.push(s);
            continue;
        }
        let rule = &report.rules[i % 4];
        s.rule = Some(rule.id.clone());
        if status == Status::Exempt {
            s.exemption = Some(ExemptionInfo {
                arn_pattern: format!("arn:aws:rds:*:{account}:db:db-*"),
                reason: "Decommission ticket OPS-123".to_string(),
                expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
            });
            report.sources.push(s);
            continue;
        }
        let age = ((i * 7919) % (40 * 86_400)) as i64;
        let key = "arn:aws:kms:us-east-1:999999999999:key/d5a55d1c-4418-49b9-b95c-84cf3e57ac9f";
        s.latest_replica = Some(LatestReplica {
            arn: format!("arn:aws:rds:us-east-1:{vault}:snapshot:{id}-copy"),
            account_id: vault.to_string(),
            region: "us-east-1".to_string(),
            replica_time: at(6) - chrono::Duration::seconds(age),
            age_seconds: age,
            kms_key_arn: Some(key.to_string()),
            backup_vault: None,
            delete_at: None,
        });
        s.replica_count = 1 + i % 3;
        let failing = status == Status::NonCompliant;
        let c =
            |id: &str, pass: bool, observed: String, expected: &str, message: String| CheckResult {
                id: id.to_string(),
                status: if status == Status::Error && id == "replica-present" {
                    CheckStatus::Error
                } else if pass {
                    CheckStatus::Pass
                } else {
                    CheckStatus::Fail
                },
                severity: Severity::High,
                observed,
                expected: expected.to_string(),
                message,
            };
        let age_ok = age <= rule.max_age_seconds;
        s.checks = vec![
            c("replica-age", age_ok || !failing, format_seconds(age), "<= 1d2h",
              format!("newest replica holds data from {}", rfc3339(&(at(6) - chrono::Duration::seconds(age))))),
            c("replica-encryption", true, key.to_string(), "encrypted with alias/rds-vault",
              format!("replica arn:aws:rds:us-east-1:{vault}:snapshot:{id}-copy is encrypted with {key}")),
            c("replica-present", true, format!("1 in {vault}/us-east-1"),
              "at least 1 available snapshot in 999999999999/us-east-1", "1 replica(s) in the destination".to_string()),
            c("retention-count", true, "1".to_string(), "1..=3", format!("1 replica(s) in {vault}/us-east-1")),
            c("share-exposure", true, format!("2 snapshot(s), none shared beyond {vault}"),
              "shared with nobody but 999999999999",
              "no snapshot of this database is public or shared outside the destination".to_string()),
            c("source-key-shareable", true, format!("arn:aws:kms:us-east-1:{account}:key/bab5edb4-798e-41cd-9e2c-5ec125579be4"),
              "a customer managed key whose policy grants 999999999999 kms:Decrypt, kms:DescribeKey, kms:CreateGrant",
              format!("key policy of arn:aws:kms:us-east-1:{account}:key/bab5edb4-798e-41cd-9e2c-5ec125579be4 grants {vault} what a cross-account copy needs")),
        ];
        report.sources.push(s);
    }
    report.summary = Summary::count(&report.sources);
    report
}
