use super::*;
use crate::iam::{actions, policies, BackupScope, Mode, Options, SecretScope};
use crate::inventory::SourceKind;
use crate::remediate::plan::{Names, RestorePlan};

fn item() -> Item {
    Item {
        source_arn: "arn:aws:rds:us-east-1:111111111111:db:orders".into(),
        kind: SourceKind::DbInstance,
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
        identifier: "orders".into(),
        rule: "prod".into(),
        dest_account: "222222222222".into(),
        dest_region: "eu-west-1".into(),
        dest_kms_key: "alias/rds-vault".into(),
        reencrypt_key: Some("alias/rds-share".into()),
        names: Names {
            snapshot: "rdsguard-orders-t".into(),
            reencrypted: Some("rdsguard-orders-t-cmk".into()),
            stage: Some("rdsguard-orders-t-stage".into()),
            replica: "rdsguard-111111111111-orders-t".into(),
        },
        copy: true,
        prune: vec!["old-replica".into()],
        orphans: vec!["left-behind".into()],
        restore: Some(RestorePlan {
            from_snapshot: "rdsguard-111111111111-orders-t".into(),
            instance: "rdsguard-orders-t".into(),
            instance_class: "db.t3.micro".into(),
            subnet_group: None,
            security_groups: Vec::new(),
            parameter_group: None,
            secret: Some("orders/db".into()),
            cluster: false,
            engine: "postgres".into(),
            prune: vec!["old-restore".into()],
        }),
        backup: None,
        option_groups: Default::default(),
        reasons: vec!["replica-age".into()],
        notes: Vec::new(),
    }
}

fn names(steps: &[Step]) -> Vec<&'static str> {
    steps.iter().map(|s| s.name()).collect()
}

#[test]
fn step_names_are_the_journals_and_unique() {
    assert_eq!(
        names(&Step::ALL),
        [
            "find-replica",
            "snapshot",
            "re-encrypt",
            "share",
            "copy-stage",
            "copy",
            "cleanup",
            "restore",
            "repoint",
            "supersede",
            "prune-restores",
            "prune",
            "backup-job",
            "copy-job",
        ]
    );
}

#[test]
fn an_items_steps_follow_the_order_of_all() {
    let full = item();
    assert_eq!(full.steps(), Step::ALL[..12]);
    // remediate = "backup": AWS Backup's two jobs, and nothing else.
    let mut by_backup = item();
    by_backup.backup = Some(crate::remediate::plan::BackupJobs {
        source_vault: "Default".into(),
        destination_vault_arn: "arn:aws:backup:eu-west-1:222222222222:backup-vault:central".into(),
        role_arn: "arn:aws:iam::111111111111:role/service-role/AWSBackupDefaultServiceRole".into(),
        delete_after_days: 35,
        backup_token: "t-backup".into(),
        copy_token: "t-copy".into(),
    });
    assert_eq!(names(&by_backup.steps()), ["backup-job", "copy-job"]);
    let mut plain = item();
    plain.reencrypt_key = None;
    plain.names.reencrypted = None;
    plain.names.stage = None;
    plain.restore = None;
    plain.prune.clear();
    assert_eq!(
        names(&plain.steps()),
        ["find-replica", "snapshot", "share", "copy", "cleanup"]
    );
    let mut prune_only = plain.clone();
    prune_only.copy = false;
    prune_only.orphans.clear();
    prune_only.prune = vec!["old".into()];
    assert_eq!(names(&prune_only.steps()), ["prune"]);
    prune_only.orphans = vec!["left".into()];
    assert_eq!(names(&prune_only.steps()), ["cleanup", "prune"]);
    let mut no_secret = item();
    if let Some(r) = no_secret.restore.as_mut() {
        r.secret = None;
        r.prune.clear();
    }
    assert!(!no_secret.steps().contains(&Step::Repoint));
    assert!(!no_secret.steps().contains(&Step::Supersede));
    assert!(!no_secret.steps().contains(&Step::PruneRestores));
}

#[test]
fn dry_run_lines_come_from_the_steps_in_the_order_they_run() {
    let item = item();
    let lines: Vec<String> = item
        .steps()
        .into_iter()
        .flat_map(|s| s.describe(&item))
        .collect();
    assert_eq!(
        lines,
        [
            "snapshot   in 111111111111/us-east-1: rdsguard-orders-t",
            "re-encrypt in 111111111111/us-east-1: rdsguard-orders-t-cmk under alias/rds-share",
            "share      rdsguard-orders-t-cmk with 222222222222",
            "copy       into 222222222222/us-east-1: rdsguard-orders-t-stage under alias/rds-vault",
            "copy       into 222222222222/eu-west-1: rdsguard-111111111111-orders-t under alias/rds-vault (two steps: from the stage copy in us-east-1)",
            "clean up   unshare and delete the transit snapshots in 111111111111/us-east-1",
            "clean up   delete left-behind in 111111111111/us-east-1 (left by an earlier run)",
            "restore    in 222222222222/eu-west-1: rdsguard-orders-t from rdsguard-111111111111-orders-t (db.t3.micro)",
            "repoint    secret orders/db to rdsguard-orders-t (other keys kept)",
            "prune      delete the earlier restore old-restore in 222222222222/eu-west-1",
            "prune      delete old-replica in 222222222222/eu-west-1",
        ]
    );
}

/// What `iam-policy --mode MODES --one-role` grants a member role (with a restore secret named, so the
/// Secrets Manager actions are in).
fn member_actions(modes: &[Mode]) -> Vec<String> {
    let secrets = [SecretScope {
        account: "222222222222".into(),
        region: "*".into(),
        name: "rds/*".into(),
    }];
    let document = policies(&Options {
        modes,
        partition: "aws",
        role_name: "rdsguard",
        caller_arn: Some("arn:aws:iam::111111111111:role/rdsguard-runner"),
        caller_account: None,
        external_id: None,
        organization_id: None,
        secrets: &secrets,
        backup_jobs: &[BackupScope {
            source_vault: "Default".into(),
            role: "service-role/AWSBackupDefaultServiceRole".into(),
        }],
        drill_roles: &[],
        one_role: true,
    });
    actions(&document["member_role_policy"])
}

#[test]
fn every_remediate_action_in_iam_rs_is_declared_by_a_step_and_vice_versa() {
    let declared = iam_actions();
    let remediate = member_actions(&[Mode::Remediate]);
    let audit = member_actions(&[Mode::Audit]);
    // What `--mode remediate` adds to an audit: each one some step's.
    let missing: Vec<&String> = remediate
        .iter()
        .filter(|a| !audit.contains(a) && !declared.contains(&a.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "iam.rs grants, no step declares: {missing:?}"
    );
    // Every action a step declares is granted by `--mode remediate` (which includes the reads).
    let ungranted: Vec<&&str> = declared
        .iter()
        .filter(|a| !remediate.iter().any(|r| r == **a))
        .collect();
    assert!(
        ungranted.is_empty(),
        "a step declares, iam.rs does not grant: {ungranted:?}"
    );
    // The source account's steps never touch the vault's secret, nor restore anything.
    let source = iam_actions_in(Account::Source);
    assert!(source.contains(&"rds:CreateDBSnapshot"), "{source:?}");
    assert!(
        !source
            .iter()
            .any(|a| a.starts_with("secretsmanager:") || a.starts_with("rds:Restore")),
        "{source:?}"
    );
}

#[test]
fn each_step_lives_in_the_file_its_name_names_and_the_docs_say_so() {
    let docs = include_str!("../../../docs/remediation.md");
    for step in Step::ALL {
        let decl = step.decl();
        let file = format!("src/remediate/steps/{}.rs", decl.name.replace('-', "_"));
        assert_eq!(decl.file, file);
        assert!(
            docs.contains(&format!("`{}`", decl.name)) && docs.contains(&file),
            "docs/remediation.md names step `{}` and {file}",
            decl.name
        );
    }
}

#[test]
fn what_steps_create_carries_the_provenance_tags() {
    use crate::remediate::tags::{TAG_MANAGED, TAG_SOURCE_ARN};
    for step in Step::ALL {
        if let Some(creates) = &step.decl().creates {
            assert!(creates.tags.contains(&TAG_MANAGED), "{}", step.name());
            assert!(creates.tags.contains(&TAG_SOURCE_ARN), "{}", step.name());
        }
    }
}

/// A cross-region item without a stage copy is copied in one step, and `--dry-run` says so.
#[test]
fn a_one_step_cross_region_copy_has_no_stage_and_the_dry_run_names_its_path() {
    let mut one_step = item();
    one_step.names.stage = None;
    assert!(!one_step.steps().contains(&Step::CopyStage));
    assert_eq!(
        Step::Copy.describe(&one_step),
        ["copy       into 222222222222/eu-west-1: rdsguard-111111111111-orders-t under alias/rds-vault (one step from 111111111111/us-east-1)"]
    );
    let mut same_region = one_step.clone();
    same_region.dest_region = same_region.region.clone();
    assert!(!Step::Copy.describe(&same_region)[0].contains("step"));
}

/// The vault account is added only to a snapshot shared with fewer than AWS's 20 accounts (`all`,
/// public, is not an account).
#[test]
fn a_snapshot_shared_with_twenty_accounts_is_not_shared_again() {
    let item = item();
    let accounts = |n: usize| -> Vec<String> { (0..n).map(|i| format!("{:012}", i)).collect() };
    assert!(super::share::past_share_limit(&item, &accounts(19)).is_none());
    let mut public = accounts(19);
    public.push("all".into());
    assert!(super::share::past_share_limit(&item, &public).is_none());
    let refused = super::share::past_share_limit(&item, &accounts(20)).expect("refused");
    assert_eq!(refused.code, "SharedSnapshotLimit");
    assert!(
        refused.message.contains("already shared with 20 accounts")
            && refused.message.contains("changed nothing"),
        "{}",
        refused.message
    );
}
