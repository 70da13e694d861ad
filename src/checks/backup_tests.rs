//! Check tests for AWS Backup copies (issue 13): recovery points as replicas, immutability, vault
//! policies, AWS-owned keys, and what was not read.

use chrono::Duration;

use super::fixtures::*;
use crate::evaluate::evaluate;
use crate::inventory::{AwsError, SourceKind};
use crate::report::{CheckStatus, SourceReport, Status};
use crate::rules::{self, RuleSet};

fn rules(extra_destination: &str, extra: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    let retain = if extra.contains("retain") {
        ""
    } else {
        "retain = { min = 1, max = 5 }\n"
    };
    let text = format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\"{extra_destination} }}\nmax_age = \"26h\"\n{retain}{extra}"
    );
    std::fs::write(&path, text).expect("write");
    rules::load(&[path]).expect("valid rules")
}

fn judge(org: &Org, rules: &RuleSet, identifier: &str) -> SourceReport {
    evaluate(&org.inventory, rules, as_of())
        .sources
        .into_iter()
        .find(|s| s.db.identifier == identifier)
        .expect("source in report")
}

fn check(report: &SourceReport, id: &str) -> (CheckStatus, String, String) {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .map(|c| (c.status, c.observed.clone(), c.message.clone()))
        .unwrap_or_else(|| panic!("no check {id} in {:?}", report.checks))
}

#[test]
fn a_recovery_point_is_a_replica_linked_by_its_resource_arn_only() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    // The same identifier in another account, backed up: never a replica of prod's orders.
    let other = org.source(OTHER, "orders");
    org.vault(VAULT, "central");
    org.recovery_point(VAULT, "central", "job-other", &other, 1);
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(check(&report, "replica-present").0, CheckStatus::Fail);

    org.recovery_point(VAULT, "central", "job-orders", &orders, 3);
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);
    assert_eq!(report.replica_count, 1);
    let latest = report.latest_replica.expect("latest replica");
    assert!(latest.arn.ends_with("awsbackup:job-orders"));
    assert_eq!(latest.age_seconds, 3 * 3600);
    // Not counted when the rule counts manual snapshots only.
    let report = judge(&org, &rules(", replicas = [\"snapshot\"]", ""), "orders");
    assert_eq!(check(&report, "replica-present").0, CheckStatus::Fail);
}

#[test]
fn points_in_another_account_or_not_completed_or_outside_the_vault_pattern_do_not_count() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.vault(OTHER, "central");
    org.recovery_point(OTHER, "central", "job-wrong-account", &orders, 1);
    org.vault(VAULT, "central");
    org.recovery_point(VAULT, "central", "job-partial", &orders, 1)
        .status = "PARTIAL".into();
    org.vault(VAULT, "scratch");
    org.recovery_point(VAULT, "scratch", "job-scratch", &orders, 1);
    let report = judge(&org, &rules(", vault = \"central*\"", ""), "orders");
    assert_eq!(check(&report, "replica-present").0, CheckStatus::Fail);
    // Without the pattern, the scratch vault's point counts.
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(check(&report, "replica-present").0, CheckStatus::Pass);
}

#[test]
fn a_stale_point_fails_age_and_points_count_with_snapshots_for_retention() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.vault(VAULT, "central");
    org.recovery_point(VAULT, "central", "job-1", &orders, 30);
    org.tagged_replica("orders-copy", &orders, 40);
    let report = judge(&org, &rules("", "retain = { min = 2, max = 5 }"), "orders");
    assert_eq!(check(&report, "replica-age").0, CheckStatus::Fail);
    assert_eq!(check(&report, "retention-count").0, CheckStatus::Pass);
    assert_eq!(report.replica_count, 2);
}

#[test]
fn the_rds_view_of_a_backup_is_counted_once() {
    let mut org = Org::new();
    let ledger = {
        let mut s = org.source(PROD, "ledger");
        s.db.kind = SourceKind::DbCluster;
        s.db.arn = s.db.arn.replace(":db:", ":cluster:");
        org.inventory.sources.pop();
        org.inventory.sources.push(s.clone());
        s
    };
    org.vault(VAULT, "central");
    let point = org
        .recovery_point(VAULT, "central", "copyjob-1", &ledger, 2)
        .clone();
    // Aurora's RDS view: a cluster snapshot of the same ARN listed among the manual ones.
    let view = org.snapshot(VAULT, "awsbackup:copyjob-1", &ledger, 2);
    view.arn = point.arn.clone();
    view.source_snapshot_arn = Some(format!(
        "arn:aws:rds:{REGION}:{PROD}:cluster-snapshot:awsbackup:job-1"
    ));
    let report = judge(&org, &rules("", ""), "ledger");
    assert_eq!(report.replica_count, 1, "{:#?}", report.checks);
}

#[test]
fn immutability_needs_a_compliance_lock_covering_the_minimum_retention() {
    let immutable = "immutable = { min_retention = \"7d\" }";
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 1);
    let report = judge(&org, &rules("", immutable), "orders");
    let (status, observed, message) = check(&report, "replica-immutable");
    assert_eq!(status, CheckStatus::Fail);
    assert!(observed.starts_with("manual snapshot"), "{observed}");
    assert!(
        message.contains("only a recovery point in a compliance-locked backup vault is immutable")
    );

    // Newest replica: a recovery point in an unlocked vault.
    org.vault(VAULT, "central");
    org.recovery_point(VAULT, "central", "job-1", &orders, 0);
    let report = judge(&org, &rules("", immutable), "orders");
    assert_eq!(check(&report, "replica-immutable").0, CheckStatus::Fail);
    assert!(check(&report, "replica-immutable")
        .2
        .contains("is not locked"));

    // Governance mode: locked, no lock date.
    org.inventory.backup_vaults[0].locked = true;
    org.inventory.backup_vaults[0].min_retention_days = Some(7);
    let report = judge(&org, &rules("", immutable), "orders");
    assert_eq!(check(&report, "replica-immutable").0, CheckStatus::Fail);
    assert!(check(&report, "replica-immutable")
        .2
        .contains("governance mode"));

    // Compliance mode still in its cooling-off period.
    org.inventory.backup_vaults[0].lock_date = Some(as_of() + Duration::days(2));
    let report = judge(&org, &rules("", immutable), "orders");
    assert!(check(&report, "replica-immutable")
        .2
        .contains("cooling-off"));

    // Compliance mode in force, but the minimum retention is shorter than the rule's.
    org.inventory.backup_vaults[0].lock_date = Some(as_of() - Duration::days(10));
    org.inventory.backup_vaults[0].min_retention_days = Some(3);
    let report = judge(&org, &rules("", immutable), "orders");
    assert_eq!(check(&report, "replica-immutable").0, CheckStatus::Fail);
    assert!(check(&report, "replica-immutable")
        .2
        .contains("sooner than the rule's"));

    org.inventory.backup_vaults[0].min_retention_days = Some(7);
    let report = judge(&org, &rules("", immutable), "orders");
    assert_eq!(check(&report, "replica-immutable").0, CheckStatus::Pass);
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);
    // Without `immutable`, the check does not apply.
    let report = judge(&org, &rules("", ""), "orders");
    assert!(report.checks.iter().all(|c| c.id != "replica-immutable"));
}

#[test]
fn an_air_gapped_vault_with_an_aws_owned_key() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let vault = org.vault(VAULT, "bunker");
    vault.vault_type = Some("LOGICALLY_AIR_GAPPED_BACKUP_VAULT".into());
    vault.locked = true;
    vault.lock_date = Some(as_of() - Duration::days(30));
    vault.min_retention_days = Some(7);
    vault.encryption_key_arn = None;
    vault.encryption_key_type = Some("AWS_OWNED_KMS_KEY".into());
    let point = org.recovery_point(VAULT, "bunker", "rp-1", &orders, 1);
    point.arn = format!("arn:aws:backup:{REGION}:{VAULT}:recovery-point:rp-1");
    point.kms_key_id = None;
    if let Some(b) = point.backup.as_mut() {
        b.key_type = Some("AWS_OWNED_KMS_KEY".into());
    }
    let report = judge(&org, &rules("", "immutable = true"), "orders");
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);
    let (_, observed, _) = check(&report, "replica-encryption");
    assert_eq!(observed, "AWS-owned key (vault bunker)");
    assert!(check(&report, "replica-immutable")
        .1
        .starts_with("logically air-gapped vault bunker"));
    // A pinned key is not the AWS-owned one.
    let report = judge(
        &org,
        &rules(", kms_key = \"alias/rds-vault\"", ""),
        "orders",
    );
    assert_eq!(check(&report, "replica-encryption").0, CheckStatus::Fail);
}

#[test]
fn a_vault_policy_open_to_another_account_is_exposure() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.vault(VAULT, "central").access_policy = Some(Some(format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{PROD}:root"}},"Action":"backup:CopyIntoBackupVault","Resource":"*"}}]}}"#
    )));
    org.recovery_point(VAULT, "central", "job-1", &orders, 1);
    let report = judge(&org, &rules("", ""), "orders");
    let (status, observed, _) = check(&report, "share-exposure");
    assert_eq!(status, CheckStatus::Pass);
    assert_eq!(
        observed,
        format!("0 snapshot(s) and 1 vault(s), none shared beyond {VAULT}")
    );

    org.inventory.backup_vaults[0].access_policy = Some(Some(
        r#"{"Statement":[{"Sid":"reader","Effect":"Allow","Principal":{"AWS":"999999999999"},"Action":["backup:CopyFromBackupVault"],"Resource":"*"}]}"#.into(),
    ));
    let report = judge(&org, &rules("", ""), "orders");
    let (status, observed, _) = check(&report, "share-exposure");
    assert_eq!(status, CheckStatus::Fail);
    assert_eq!(
        observed,
        "vault central: statement reader allows 999999999999 backup:CopyFromBackupVault"
    );

    // Not read: ERROR, never a pass.
    org.inventory.backup_vaults[0].access_policy = None;
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(check(&report, "share-exposure").0, CheckStatus::Error);
}

#[test]
fn unlisted_or_unreadable_backups_are_errors_never_compliant() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 1);
    for scope in &mut org.inventory.scopes {
        scope.backups_listed = false;
    }
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(report.status, Status::Error, "{:#?}", report.checks);
    assert!(check(&report, "replica-present").2.contains("NotRead"));
    // A rule that counts manual snapshots only does not need them.
    let report = judge(&org, &rules(", replicas = [\"snapshot\"]", ""), "orders");
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);

    for scope in &mut org.inventory.scopes {
        scope.backups_listed = true;
    }
    org.inventory.errors.push(AwsError {
        account_id: VAULT.into(),
        region: REGION.into(),
        operation: "ListRecoveryPointsByBackupVault".into(),
        code: "AccessDeniedException".into(),
        message: "no".into(),
        resource: Some(format!(
            "arn:aws:backup:{REGION}:{VAULT}:backup-vault:central"
        )),
    });
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(report.status, Status::Error);
    // Another vault than the one refused: the refusal is not this rule's business.
    let report = judge(&org, &rules(", vault = \"other-*\"", ""), "orders");
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);
}

#[test]
fn a_vault_of_the_source_account_shared_into_the_destination_is_no_replica() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    // Listed by the vault account (shared in through RAM), owned by prod itself.
    let vault = org.vault(VAULT, "prod-bunker");
    vault.owner_account = PROD.into();
    vault.arn = format!("arn:aws:backup:{REGION}:{PROD}:backup-vault:prod-bunker");
    let point = org.recovery_point(VAULT, "prod-bunker", "rp-1", &orders, 1);
    if let Some(b) = point.backup.as_mut() {
        b.vault_arn = format!("arn:aws:backup:{REGION}:{PROD}:backup-vault:prod-bunker");
    }
    let report = judge(&org, &rules("", ""), "orders");
    assert_eq!(check(&report, "replica-present").0, CheckStatus::Fail);
}

#[test]
fn exposure_seen_wins_over_a_vault_policy_not_read_and_an_unread_role_is_named() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.vault(VAULT, "central").access_policy = None;
    org.recovery_point(VAULT, "central", "job-1", &orders, 1);
    org.snapshot(PROD, "orders-public", &orders, 2).shared_with = Some(vec!["all".into()]);
    let report = judge(&org, &rules("", ""), "orders");
    let (status, observed, _) = check(&report, "share-exposure");
    assert_eq!(status, CheckStatus::Fail);
    assert_eq!(observed, "orders-public shared with all (public)");
    org.inventory
        .snapshots
        .retain(|s| s.identifier != "orders-public");
    let report = judge(&org, &rules("", ""), "orders");
    let (status, _, message) = check(&report, "share-exposure");
    assert_eq!(status, CheckStatus::Error);
    assert!(message.contains("the access policy of vault"), "{message}");

    // The vault account's role could not be assumed: the backup checks say so, not "not listed".
    org.inventory.errors.push(AwsError {
        account_id: VAULT.into(),
        region: "*".into(),
        operation: "AssumeRole".into(),
        code: "AccessDenied".into(),
        message: "not allowed".into(),
        resource: None,
    });
    let report = judge(&org, &rules(", replicas = [\"backup\"]", ""), "orders");
    let (status, _, message) = check(&report, "replica-present");
    assert_eq!(status, CheckStatus::Error);
    assert!(message.contains("AccessDenied on AssumeRole"), "{message}");
}
