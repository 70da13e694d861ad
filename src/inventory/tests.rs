use super::*;

#[test]
fn aws_error_displays_operation_code_scope_and_message() {
    let error = AwsError {
        account_id: "111111111111".into(),
        region: "eu-west-1".into(),
        operation: "DescribeDBSnapshots".into(),
        code: "AccessDenied".into(),
        message: "not authorized".into(),
        resource: Some("orders".into()),
    };
    assert_eq!(
        error.to_string(),
        "DescribeDBSnapshots AccessDenied in 111111111111/eu-west-1: not authorized"
    );
}

#[test]
fn a_recovery_points_time_is_the_earlier_of_it_and_its_rds_view() {
    let base = DateTime::parse_from_rfc3339("2026-06-01T06:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let at = |h: i64| base - chrono::Duration::hours(h);
    let snapshot = |arn: &str, identifier: &str, time: DateTime<Utc>| Snapshot {
        arn: arn.into(),
        kind: SourceKind::DbCluster,
        account_id: "222222222222".into(),
        region: "eu-west-1".into(),
        identifier: identifier.into(),
        source_identifier: "ledger".into(),
        status: "available".into(),
        encrypted: true,
        kms_key_id: None,
        snapshot_create_time: Some(time),
        original_snapshot_create_time: None,
        source_snapshot_arn: None,
        source_region: None,
        tags: BTreeMap::new(),
        shared_with: None,
        backup: None,
    };
    let arn = "arn:aws:rds:eu-west-1:222222222222:cluster-snapshot:awsbackup:copyjob-1";
    let mut point = snapshot(arn, "awsbackup:copyjob-1", at(1));
    point.status = "COMPLETED".into();
    point.original_snapshot_create_time = Some(at(2));
    point.backup = Some(RecoveryPoint {
        resource_arn: "arn:aws:rds:eu-west-1:111111111111:cluster:ledger".into(),
        vault_name: "central".into(),
        vault_arn: "arn:aws:backup:eu-west-1:222222222222:backup-vault:central".into(),
        source_vault_arn: None,
        delete_at: None,
        key_type: None,
    });
    let view = snapshot(arn, "awsbackup:copyjob-1", at(3));
    let mut inventory = Inventory::new();
    inventory.snapshots = vec![point.clone(), view];
    inventory.cross_check_backup_times();
    assert_eq!(inventory.snapshots[0].replica_time(), Some(at(3)));
    // A later view changes nothing.
    let mut later = snapshot(arn, "awsbackup:copyjob-1", at(1));
    later.original_snapshot_create_time = Some(at(1));
    inventory.snapshots = vec![point.clone(), later.clone()];
    inventory.cross_check_backup_times();
    assert_eq!(inventory.snapshots[0].replica_time(), Some(at(2)));

    // The restore drill evidence on the view (AWS Backup lists no tags) is the point's; the view's
    // other tags are not.
    let mut tagged = later;
    for (key, value) in [
        ("rdsguard:drill-at", "2026-06-01T05:00:00Z"),
        ("rdsguard:drill-result", "passed"),
        ("rdsguard:drill-restore-seconds", "600"),
        ("team", "data"),
    ] {
        tagged.tags.insert(key.into(), value.into());
    }
    inventory.snapshots = vec![point, tagged];
    inventory.cross_check_backup_times();
    let keys: Vec<&str> = inventory.snapshots[0]
        .tags
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "rdsguard:drill-at",
            "rdsguard:drill-restore-seconds",
            "rdsguard:drill-result"
        ]
    );
}

#[test]
fn parses_rds_arns_and_rejects_others() {
    let arn = parse_rds_arn("arn:aws:rds:eu-west-1:111111111111:snapshot:rds:orders-2026")
        .expect("valid arn");
    assert_eq!(arn.region, "eu-west-1");
    assert_eq!(arn.account_id, "111111111111");
    assert_eq!(arn.resource_type, "snapshot");
    assert_eq!(arn.name, "rds:orders-2026");
    assert!(parse_rds_arn("arn:aws:kms:eu-west-1:111111111111:key/abc").is_none());
    assert!(parse_rds_arn("orders").is_none());
}
