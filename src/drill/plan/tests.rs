//! The drill planner's unit tests: pure, over inventory fixtures.
use super::*;
use crate::checks::fixtures::{as_of, Org, OTHER, PROD, REGION, VAULT};
use crate::tags::{TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT};

fn rules(extra: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        format!("[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"26h\"\n{extra}"),
    )
    .expect("write");
    crate::rules::load(&[path]).expect("rules")
}

const DRILL: &str = "drill = { every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\", secret = \"rds/{identifier}\" }";

#[test]
fn drills_the_newest_replica_of_a_due_database_only() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let billing = org.source(PROD, "billing");
    let lonely = org.source(PROD, "lonely");
    org.tagged_replica("orders-old", &orders, 48);
    org.tagged_replica("orders-new", &orders, 2);
    let drilled = org.tagged_replica("billing-1", &billing, 30);
    drilled.tags.insert(
        TAG_DRILL_AT.into(),
        (as_of() - chrono::Duration::days(2)).to_rfc3339(),
    );
    drilled
        .tags
        .insert(TAG_DRILL_RESTORE_SECONDS.into(), "600".into());
    drilled
        .tags
        .insert(TAG_DRILL_RESULT.into(), "passed".into());
    let _ = lonely;
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "abcd-1234-ef");
    assert_eq!(plan.items.len(), 1, "{plan:?}");
    let item = &plan.items[0];
    assert!(item.replica_arn.ends_with(":snapshot:orders-new"));
    assert_eq!(item.dest_account, VAULT);
    assert_eq!(
        item.instance,
        "rdsguard-drill-orders-20261124120000-abcd1234"
    );
    assert_eq!(item.secret_name.as_deref(), Some("rds/orders"));
    assert_eq!(item.rto_seconds, 7_200);
    let reasons: Vec<&str> = plan.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert_eq!(plan.skipped.len(), 2, "{reasons:?}");
    assert!(reasons
        .iter()
        .any(|r| r.starts_with("not due: the last passed drill was 2d ago")));
    assert!(reasons.iter().any(|r| r.starts_with("no replica in")));

    // --only, and no drill without the rule's table.
    let only = build(
        &org.inventory,
        &rules(DRILL),
        as_of(),
        Some(&billing.db.arn),
        "r",
    );
    assert!(only.items.is_empty() && only.skipped.len() == 1);
    let none = build(&org.inventory, &rules(""), as_of(), None, "r");
    assert!(none.items.is_empty() && none.skipped.is_empty());
}

#[test]
fn a_slow_or_failed_last_drill_leaves_the_database_due() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let replica = org.tagged_replica("orders-1", &orders, 30);
    replica.tags.insert(
        TAG_DRILL_AT.into(),
        (as_of() - chrono::Duration::days(1)).to_rfc3339(),
    );
    replica
        .tags
        .insert(TAG_DRILL_RESTORE_SECONDS.into(), "9000".into());
    replica
        .tags
        .insert(TAG_DRILL_RESULT.into(), "passed".into());
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "r");
    assert_eq!(plan.items.len(), 1);
}

#[test]
fn instance_names_are_valid_rds_identifiers() {
    let name = instance_name(
        "A_very--long.Identifier-of-a-database-x",
        as_of(),
        "Ff-00",
        SourceKind::DbInstance,
    );
    assert!(name.len() <= 63, "{name}");
    assert!(!name.contains("--"), "{name}");
    assert!(name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
}

/// A cluster source: `ledger`, an Aurora PostgreSQL cluster in prod.
fn cluster(org: &mut Org, id: &str) -> crate::inventory::Source {
    let mut source = org.source(PROD, id);
    source.db.kind = SourceKind::DbCluster;
    source.db.arn = format!("arn:aws:rds:{REGION}:{PROD}:cluster:{id}");
    source.db.engine = "aurora-postgresql".into();
    *org.inventory.sources.last_mut().expect("just pushed") = source.clone();
    source
}

#[test]
fn an_aurora_cluster_is_drilled_from_its_newest_cluster_snapshot() {
    let mut org = Org::new();
    let ledger = cluster(&mut org, "ledger-with-a-rather-long-name");
    for (id, hours) in [("ledger-old", 30), ("ledger-new", 3)] {
        let snapshot = org.tagged_replica(id, &ledger, hours);
        snapshot.arn = format!("arn:aws:rds:{REGION}:{VAULT}:cluster-snapshot:{id}");
    }
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "abcd-1234-ef");
    assert!(plan.skipped.is_empty(), "{plan:?}");
    let item = &plan.items[0];
    assert_eq!(item.kind, SourceKind::DbCluster);
    assert!(item.replica_arn.ends_with(":cluster-snapshot:ledger-new"));
    assert_eq!(item.engine.as_deref(), Some("aurora-postgresql"));
    assert_eq!(
        item.backup, None,
        "a manual snapshot is restored through RDS"
    );
    // The cluster's instance is `<cluster>-1`: both are valid identifiers.
    let member = item.member().expect("a cluster has an instance");
    assert_eq!(member, format!("{}-1", item.instance));
    assert!(member.len() <= 63, "{member}");
    assert_eq!(
        item.instance,
        "rdsguard-drill-ledger-with-a-rather-l-20261124120000-abcd1234"
    );
}

#[test]
fn the_newest_replica_is_drilled_even_when_it_is_a_recovery_point_of_the_vault() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-manual", &orders, 30);
    let point = org
        .recovery_point(VAULT, "central", "copyjob-1", &orders, 5)
        .arn
        .clone();
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "abcd-1234-ef");
    let item = &plan.items[0];
    assert_eq!(item.replica_arn, point);
    let backup = item.backup.as_ref().expect("restored with AWS Backup");
    assert_eq!(backup.vault_name, "central");
    assert_eq!(
        backup.role_arn,
        format!("arn:aws:iam::{VAULT}:role/service-role/AWSBackupDefaultServiceRole")
    );
    assert_eq!(backup.token, item.instance, "one token per drill");
    assert_eq!(item.why, "no passed drill within the RTO yet");

    // drill.backup_role names another role of the vault account.
    let custom = DRILL.replace(" }", ", backup_role = \"drills/restore\" }");
    let plan = build(&org.inventory, &rules(&custom), as_of(), None, "r");
    let role = &plan.items[0].backup.as_ref().expect("backup").role_arn;
    assert_eq!(role, &format!("arn:aws:iam::{VAULT}:role/drills/restore"));
}

#[test]
fn drill_evidence_on_a_recovery_point_makes_the_database_not_due() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let point = org.recovery_point(VAULT, "central", "copyjob-1", &orders, 5);
    point.tags.insert(
        TAG_DRILL_AT.into(),
        (as_of() - chrono::Duration::days(3)).to_rfc3339(),
    );
    point
        .tags
        .insert(TAG_DRILL_RESTORE_SECONDS.into(), "900".into());
    point.tags.insert(TAG_DRILL_RESULT.into(), "passed".into());
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "r");
    assert!(plan.items.is_empty(), "{plan:?}");
    assert!(plan.skipped[0]
        .reason
        .starts_with("not due: the last passed drill was 3d ago"));
}

/// A recovery point in a logically air-gapped vault that another account shares into the vault
/// account: restorable from there, but only its owner can tag it, so no evidence could be written.
/// An older manual snapshot is drilled instead, and the plan says why; without one, it is skipped.
#[test]
fn a_recovery_point_in_a_vault_shared_into_the_destination_is_not_drilled() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let point = org.recovery_point(VAULT, "lag", "copyjob-9", &orders, 2);
    let air_gapped = format!("arn:aws:backup:{REGION}:{OTHER}:recovery-point:9f1c");
    point.arn = air_gapped.clone();
    point.backup.as_mut().expect("a point").vault_arn =
        format!("arn:aws:backup:{REGION}:{OTHER}:backup-vault:lag");
    let alone = build(&org.inventory, &rules(DRILL), as_of(), None, "r");
    assert!(alone.items.is_empty(), "{alone:?}");
    let reason = &alone.skipped[0].reason;
    assert!(
        reason.starts_with(&format!("no replica can be drilled: the newest, {air_gapped} is in the logically air-gapped vault lag that {OTHER} shares into {VAULT} through AWS RAM")),
        "{reason}"
    );
    assert!(reason.contains("backup:TagResource"), "{reason}");

    org.tagged_replica("orders-manual", &orders, 20);
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "r");
    let item = &plan.items[0];
    assert!(
        item.replica_arn.ends_with(":snapshot:orders-manual"),
        "{item:?}"
    );
    assert_eq!(item.backup, None);
    assert!(
        item.why
            .contains("; an older replica is drilled: the newest, arn:aws:backup:"),
        "{}",
        item.why
    );
}

/// A recovery point of the vault account's own logically air-gapped vault is no RDS snapshot: the
/// evidence could not be written where the audit reads it.
#[test]
fn a_recovery_point_of_the_vaults_own_air_gapped_vault_is_not_drilled() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let point = org.recovery_point(VAULT, "lag", "copyjob-9", &orders, 2);
    point.arn = format!("arn:aws:backup:{REGION}:{VAULT}:recovery-point:9f1c");
    let plan = build(&org.inventory, &rules(DRILL), as_of(), None, "r");
    assert!(plan.items.is_empty());
    let reason = &plan.skipped[0].reason;
    assert!(
        reason.contains("is in the logically air-gapped vault lag: it is no RDS snapshot"),
        "{reason}"
    );
}

/// The journal of a run made before Aurora and AWS Backup drills still reads: its items are DB
/// instances restored through RDS.
#[test]
fn an_item_journaled_before_clusters_reads_as_an_instance_drill() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-1", &orders, 3);
    let item = build(&org.inventory, &rules(DRILL), as_of(), None, "r").items[0].clone();
    let mut old = serde_json::to_value(&item).expect("json");
    let fields = old.as_object_mut().expect("object");
    assert!(fields.remove("kind").is_some());
    assert!(!fields.contains_key("backup") && !fields.contains_key("engine"));
    let read: Item = serde_json::from_value(old).expect("an old item");
    assert_eq!(read, item);
}
