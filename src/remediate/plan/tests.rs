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

/// A prod database `id` of `engine` without a replica, in the option group `group` holding
/// `options` (name, persistent, permanent).
fn in_option_group(id: &str, engine: &str, group: &str, options: &[(&str, bool, bool)]) -> Org {
    let mut org = Org::new();
    org.source(PROD, id);
    org.option_group(id, engine, group, options);
    org
}

/// The plan for `org` under one rule into the vault in `region`, with `option_group` (TOML) if any.
fn plan_into(org: &Org, region: &str, option_group: &str) -> super::Plan {
    plan_by(org, region, option_group, super::CopyPath::OneStep)
}

/// [`plan_into`], copies across regions taking `path`.
fn plan_by(org: &Org, region: &str, option_group: &str, path: super::CopyPath) -> super::Plan {
    let rules = rules(&format!(
        "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", region = \"{region}\", kms_key = \"alias/rds-vault\"{option_group} }}\nmax_age = \"26h\"\n"
    ));
    let findings = evaluate(&org.inventory, &rules, as_of());
    build(&org.inventory, &rules, &findings, "run-1", as_of(), path)
}

#[test]
fn a_database_whose_option_group_cannot_be_shared_is_refused_before_anything_is_done() {
    let org = in_option_group(
        "payroll",
        "sqlserver-se",
        "payroll-tde",
        &[("TDE", true, false)],
    );
    let plan = plan_into(&org, REGION, "");
    assert!(plan.items.is_empty(), "{:?}", plan.items);
    assert_eq!(
        plan.blocked[0].reason,
        format!("source-option-group-shareable fails (option group payroll-tde has TDE (persistent): AWS does not share a snapshot that uses an option group with persistent or permanent options, so no copy of this database can be shared with {VAULT}): AWS would refuse to share its snapshot; nothing is done for this database")
    );
}

#[test]
fn a_copy_across_regions_names_the_rules_option_group_there_or_the_database_is_refused() {
    let org = in_option_group(
        "orders",
        "mysql",
        "orders-audit",
        &[("MARIADB_AUDIT_PLUGIN", false, false)],
    );
    // In the same region, the shared snapshot's copy needs no option group.
    let plan = plan_into(&org, REGION, "");
    assert_eq!(plan.items[0].option_groups, Default::default());
    // Across regions, the rule's group there (a name for every region, or the region's).
    for named in [
        ", option_group = \"vault-audit\"",
        ", option_group = { us-west-2 = \"vault-audit\", us-east-1 = \"other\" }",
    ] {
        let plan = plan_into(&org, "us-west-2", named);
        assert!(plan.blocked.is_empty(), "{:?}", plan.blocked);
        let item = &plan.items[0];
        assert_eq!(item.option_groups.replica.as_deref(), Some("vault-audit"));
        assert_eq!(item.option_groups.stage, None);
        let lines: Vec<String> = item.steps().iter().flat_map(|s| s.describe(item)).collect();
        assert!(
            lines.iter().any(|l| l.starts_with("copy       into")
                && l.contains("us-west-2")
                && l.contains(" with option group vault-audit")),
            "{lines:?}"
        );
    }
    // None named for the destination region: refused, nothing started.
    for missing in ["", ", option_group = { eu-west-1 = \"vault-audit\" }"] {
        let plan = plan_into(&org, "us-west-2", missing);
        assert!(plan.items.is_empty(), "{:?}", plan.items);
        assert_eq!(
            plan.blocked[0].reason,
            format!("the database uses the option group orders-audit, not a default one, and its copy crosses from us-east-1 to us-west-2: AWS asks for the target Region's option group (CopyDBSnapshot OptionGroupName), or the copy restores without the group's options; rule `prod` names no option group of {VAULT} in us-west-2 (destination.option_group): nothing is done for this database")
        );
    }
}

#[test]
fn a_shared_oracle_snapshot_with_timezone_is_copied_into_a_group_that_carries_it() {
    let org = in_option_group("hr", "oracle-ee", "hr-tz", &[("Timezone", true, true)]);
    // Same region: the copy from the shared snapshot names the rule's group.
    let plan = plan_into(&org, REGION, ", option_group = \"vault-tz\"");
    assert_eq!(
        plan.items[0].option_groups.replica.as_deref(),
        Some("vault-tz")
    );
    // Across regions in two steps: the stage copy (source region) and the replica (destination
    // region) each; in one step, the replica is the only copy.
    let both = ", option_group = { us-east-1 = \"vault-tz-east\", us-west-2 = \"vault-tz-west\" }";
    let plan = plan_by(&org, "us-west-2", both, super::CopyPath::TwoStep);
    let groups = &plan.items[0].option_groups;
    assert_eq!(groups.stage.as_deref(), Some("vault-tz-east"));
    assert_eq!(groups.replica.as_deref(), Some("vault-tz-west"));
    let plan = plan_into(&org, "us-west-2", both);
    let groups = &plan.items[0].option_groups;
    assert_eq!(groups.stage, None);
    assert_eq!(groups.replica.as_deref(), Some("vault-tz-west"));
    // Without one: refused, naming the options.
    let plan = plan_into(&org, REGION, "");
    assert!(plan.items.is_empty());
    assert!(
        plan.blocked[0].reason.starts_with("its option group hr-tz has Timezone (persistent, permanent): AWS copies a shared Oracle snapshot with these only into a target option group that includes them; rule `prod` names no option group"),
        "{:?}",
        plan.blocked
    );
}
