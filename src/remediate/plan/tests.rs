use super::{build, snapshot_name};
use crate::checks::fixtures::*;
use crate::evaluate::evaluate;
use crate::inventory::Quota;

fn rules(text: &str) -> crate::rules::RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).expect("write");
    crate::rules::load(&[path]).expect("valid rules")
}

/// `remediate = "backup"`: a database without a copy gets AWS Backup's two jobs, into the rule's
/// vaults, under the rule's role, with tokens that carry the run; without it, a backup-only rule
/// is blocked with the reason, and nothing is planned for its recovery points.
#[test]
fn a_backup_rule_plans_backup_and_copy_jobs_and_a_backup_only_rule_without_it_is_blocked() {
    let mut org = Org::new();
    org.source(PROD, "orders");
    let by_backup = rules(&format!(
        "[[rule]]\nid = \"b\"\ndestination = {{ account = \"{VAULT}\", replicas = [\"backup\"] }}\nmax_age = \"26h\"\nremediate = \"backup\"\nbackup = {{ destination_vault = \"central\", delete_after = \"7d\" }}\n"
    ));
    let findings = evaluate(&org.inventory, &by_backup, as_of());
    let plan = build(
        &org.inventory,
        &by_backup,
        &findings,
        "run-1234abcd",
        as_of(),
        super::CopyPath::OneStep,
    );
    assert!(plan.blocked.is_empty(), "{:?}", plan.blocked);
    let item = &plan.items[0];
    let jobs = item.backup.as_ref().expect("backup jobs");
    assert_eq!(jobs.source_vault, "Default");
    assert_eq!(
        jobs.destination_vault_arn,
        format!("arn:aws:backup:us-east-1:{VAULT}:backup-vault:central")
    );
    assert_eq!(
        jobs.role_arn,
        format!("arn:aws:iam::{PROD}:role/service-role/AWSBackupDefaultServiceRole")
    );
    assert_eq!(jobs.delete_after_days, 7);
    assert_eq!(
        jobs.backup_token,
        format!("rdsguard-{PROD}-orders-20261124120000-run1234a-backup")
    );
    let steps: Vec<&str> = item.steps().iter().map(|s| s.name()).collect();
    assert_eq!(steps, ["backup-job", "copy-job"]);

    let backup_only = rules(&format!(
        "[[rule]]\nid = \"b\"\ndestination = {{ account = \"{VAULT}\", replicas = [\"backup\"], kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n"
    ));
    let findings = evaluate(&org.inventory, &backup_only, as_of());
    let plan = build(
        &org.inventory,
        &backup_only,
        &findings,
        "run-1234abcd",
        as_of(),
        super::CopyPath::OneStep,
    );
    assert!(plan.items.is_empty());
    assert!(
        plan.blocked[0]
            .reason
            .contains("counts AWS Backup copies only"),
        "{:?}",
        plan.blocked
    );
}

/// Three prod databases with no replica yet; the vault has `used` of `max` manual DB snapshots.
fn plan_with_quota(used: i64, max: i64) -> super::Plan {
    let mut org = Org::new();
    for id in ["alpha", "bravo", "charlie"] {
        org.source(PROD, id);
    }
    for quotas in org.inventory.quotas.iter_mut() {
        if quotas.account_id == VAULT {
            quotas.manual_snapshots = Some(Quota { used, max });
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    let text = format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n"
    );
    std::fs::write(&path, text).expect("write");
    let rules = crate::rules::load(&[path]).expect("valid rules");
    let findings = crate::evaluate::evaluate(&org.inventory, &rules, as_of());
    super::build(
        &org.inventory,
        &rules,
        &findings,
        "run-1",
        as_of(),
        super::CopyPath::OneStep,
    )
}

#[test]
fn a_plan_never_pushes_a_destination_past_its_snapshot_quota() {
    // Room for all three.
    let plan = plan_with_quota(97, 100);
    assert_eq!(plan.items.len(), 3);
    assert!(plan.blocked.is_empty(), "{:?}", plan.blocked);
    // Room for one: the first (by ARN) goes ahead, the others are refused whole.
    let plan = plan_with_quota(99, 100);
    let planned: Vec<&str> = plan.items.iter().map(|i| i.identifier.as_str()).collect();
    assert_eq!(planned, ["alpha"]);
    let blocked: Vec<&str> = plan
        .blocked
        .iter()
        .map(|b| b.source_arn.rsplit(':').next().unwrap_or_default())
        .collect();
    assert_eq!(blocked, ["bravo", "charlie"]);
    assert_eq!(
        plan.blocked[0].reason,
        "the copy would push 222222222222/us-east-1 over its ManualSnapshots quota (manual DB snapshots): 99 of 100 used, and 1 planned by the databases before it; nothing is done for this database (raise the quota, or delete manual snapshots there first: rdsguard copies before it prunes)"
    );
    // Full: nothing is started.
    let plan = plan_with_quota(100, 100);
    assert!(plan.items.is_empty());
    assert_eq!(plan.blocked.len(), 3);
    assert!(plan.blocked[0].reason.contains(": 100 of 100 used;"));
}

#[test]
fn names_are_valid_rds_identifiers() {
    assert_eq!(
        snapshot_name(&["rdsguard", "Orders_DB", "20261124030000"]),
        "rdsguard-orders-db-20261124030000"
    );
    assert_eq!(snapshot_name(&["rdsguard", "a--b-", ""]), "rdsguard-a-b");
    assert!(snapshot_name(&["rdsguard", &"x".repeat(300)]).len() <= 240);
}

/// A copy into another region is one `CopyDBSnapshot` across accounts and regions, unless the run
/// asks for the two-step path (a stage copy in the source's region first).
#[test]
fn a_cross_region_copy_is_planned_in_one_step_unless_two_steps_are_asked_for() {
    let mut org = Org::new();
    org.source(PROD, "orders");
    let rules = rules(&format!(
        "[[rule]]\nid = \"dr\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\", region = \"eu-west-1\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n"
    ));
    let findings = evaluate(&org.inventory, &rules, as_of());
    let plan = |path| build(&org.inventory, &rules, &findings, "run-1", as_of(), path);
    let one = plan(super::CopyPath::OneStep);
    assert!(one.blocked.is_empty(), "{:?}", one.blocked);
    assert_eq!(one.items[0].dest_region, "eu-west-1");
    assert_eq!(one.items[0].names.stage, None);
    let two = plan(super::CopyPath::TwoStep);
    let stage = two.items[0].names.stage.as_deref().expect("a stage copy");
    assert_eq!(stage, format!("{}-stage", two.items[0].names.snapshot));
}
