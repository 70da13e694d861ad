//! Check tests: an inventory fixture in, findings out.

use super::fixtures::*;
use crate::evaluate::evaluate;
use crate::inventory::{AwsError, KeyManager, Scope, SourceKind};
use crate::report::{CheckStatus, SourceReport, Status};
use crate::rules::{self, RuleSet};

fn rules(text: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).expect("write");
    rules::load(&[path]).expect("valid rules")
}

fn vault_rule(extra: &str) -> RuleSet {
    rules(&format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ tags = {{ env = \"prod\" }} }}\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\nretain = {{ min = 1, max = 3 }}\n{extra}"
    ))
}

/// One rule that selects read replicas and green sides too (`select.read_replicas = true`).
fn replicas_rule() -> RuleSet {
    rules(&format!(
        "[[rule]]\nid = \"replicas\"\nselect = {{ read_replicas = true }}\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"1d\"\n"
    ))
}

fn judge(org: &Org, rules: &RuleSet, identifier: &str) -> SourceReport {
    let findings = evaluate(&org.inventory, rules, as_of());
    source(&findings, identifier).clone()
}

/// The report on the source named `identifier`.
fn source<'a>(findings: &'a crate::report::Findings, identifier: &str) -> &'a SourceReport {
    findings
        .sources
        .iter()
        .find(|s| s.db.identifier == identifier)
        .expect("source in report")
}

fn check<'a>(report: &'a SourceReport, id: &str) -> &'a crate::report::CheckResult {
    report
        .checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {:?}", report.checks))
}

fn statuses(report: &SourceReport) -> Vec<(String, CheckStatus)> {
    report
        .checks
        .iter()
        .map(|c| (c.id.clone(), c.status))
        .collect()
}

#[test]
fn a_fresh_tagged_replica_under_the_pinned_key_is_compliant() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 2);
    let report = judge(&org, &vault_rule(""), "orders");
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);
    assert_eq!(
        statuses(&report),
        vec![
            ("replica-age".into(), CheckStatus::Pass),
            ("replica-encryption".into(), CheckStatus::Pass),
            ("replica-present".into(), CheckStatus::Pass),
            ("retention-count".into(), CheckStatus::Pass),
            ("share-exposure".into(), CheckStatus::Pass),
            ("source-key-shareable".into(), CheckStatus::Pass),
            ("source-option-group-shareable".into(), CheckStatus::Pass),
            ("vault-capacity".into(), CheckStatus::Pass),
        ]
    );
    let latest = report.latest_replica.expect("latest replica");
    assert_eq!(latest.age_seconds, 2 * 3600);
    assert_eq!(
        latest.kms_key_arn.as_deref(),
        Some(key_arn(VAULT, "vault-cmk").as_str())
    );
    assert_eq!(report.replica_count, 1);
}

#[test]
fn links_by_source_arn_and_identifier_never_by_identifier_alone() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    // The same identifier in another account, copied to the vault: not a replica of prod's orders.
    let other_orders = org.source(OTHER, "orders");
    org.snapshot(VAULT, "other-orders-copy", &other_orders, 1)
        .source_snapshot_arn = Some(format!(
        "arn:aws:rds:{REGION}:{OTHER}:snapshot:orders-manual"
    ));
    let report = judge(&org, &vault_rule(""), "orders");
    let prod = evaluate(&org.inventory, &vault_rule(""), as_of())
        .sources
        .into_iter()
        .find(|s| s.db.arn == orders.db.arn)
        .expect("prod orders");
    assert_eq!(prod.status, Status::NonCompliant);
    assert_eq!(check(&prod, "replica-present").status, CheckStatus::Fail);
    assert_eq!(prod.replica_count, 0);
    drop(report);

    // A copy made by another tool: source ARN naming prod and the same identifier links.
    org.snapshot(VAULT, "orders-by-script", &orders, 3)
        .source_snapshot_arn = Some(format!(
        "arn:aws:rds:{REGION}:{PROD}:snapshot:orders-manual"
    ));
    let findings = evaluate(&org.inventory, &vault_rule(""), as_of());
    let prod = findings
        .sources
        .iter()
        .find(|s| s.db.arn == orders.db.arn)
        .expect("prod");
    assert_eq!(prod.status, Status::Compliant, "{:#?}", prod.checks);
    assert_eq!(prod.replica_count, 1);
    let other = findings
        .sources
        .iter()
        .find(|s| s.db.arn == other_orders.db.arn)
        .expect("other");
    assert_eq!(
        other.replica_count, 1,
        "the other account's copy is its own replica"
    );
}

#[test]
fn follows_copy_chains_inside_the_vault() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.snapshot(VAULT, "hop-1", &orders, 5).source_snapshot_arn = Some(format!(
        "arn:aws:rds:{REGION}:{PROD}:snapshot:orders-manual"
    ));
    org.snapshot(VAULT, "hop-2", &orders, 5).source_snapshot_arn =
        Some(format!("arn:aws:rds:{REGION}:{VAULT}:snapshot:hop-1"));
    let report = judge(&org, &vault_rule(""), "orders");
    assert_eq!(report.replica_count, 2);
}

#[test]
fn in_transit_shares_and_other_accounts_are_not_replicas() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    // Shared by prod with the vault: still prod's snapshot, in transit.
    org.snapshot(PROD, "orders-transit", &orders, 1).shared_with = Some(vec![VAULT.into()]);
    // A tagged copy owned by an account that is not the rule's destination.
    let arn = orders.db.arn.clone();
    org.snapshot(OTHER, "orders-elsewhere", &orders, 1)
        .tags
        .insert("rdsguard:source-arn".into(), arn);
    let report = judge(&org, &vault_rule(""), "orders");
    assert_eq!(check(&report, "replica-present").status, CheckStatus::Fail);
    assert_eq!(check(&report, "replica-age").status, CheckStatus::Skip);
    assert_eq!(check(&report, "retention-count").status, CheckStatus::Fail);
    assert_eq!(
        check(&report, "share-exposure").status,
        CheckStatus::Pass,
        "sharing with the destination is not exposure"
    );
    assert!(report.latest_replica.is_none());
}

#[test]
fn age_is_the_data_time_not_the_copy_time() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    let copy = org.tagged_replica("orders-copy", &orders, 1);
    copy.original_snapshot_create_time = Some(as_of() - chrono::Duration::hours(30));
    let report = judge(&org, &vault_rule(""), "orders");
    let age = check(&report, "replica-age");
    assert_eq!(age.status, CheckStatus::Fail);
    assert_eq!(age.observed, "1d6h");
    assert_eq!(age.expected, "<= 1d2h");
    assert_eq!(report.status, Status::NonCompliant);
}

#[test]
fn encryption_failures() {
    type Mutation = fn(&mut crate::inventory::Snapshot);
    let cases: [(&str, Mutation); 4] = [
        ("unencrypted", |s| {
            s.encrypted = false;
            s.kms_key_id = None;
        }),
        ("(AWS managed)", |s| {
            s.kms_key_id = Some(key_arn(VAULT, "vault-aws"))
        }),
        ("vault-other", |s| {
            s.kms_key_id = Some(key_arn(VAULT, "vault-other"))
        }),
        ("alias/aws/rds", |s| {
            s.kms_key_id = Some("alias/aws/rds-unknown".into())
        }),
    ];
    for (observed, mutate) in cases {
        let mut org = Org::new();
        let orders = org.source(PROD, "orders");
        mutate(org.tagged_replica("orders-copy", &orders, 1));
        // Without a pinned key, so the AWS-managed cases are judged on their own.
        let rules = rules(&format!(
            "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"1d\"\n"
        ));
        let pinned = vault_rule("");
        for set in [&rules, &pinned] {
            let report = judge(&org, set, "orders");
            let result = check(&report, "replica-encryption");
            if observed == "vault-other" && set.rules[0].destination.kms_key.is_none() {
                assert_eq!(
                    result.status,
                    CheckStatus::Pass,
                    "another CMK passes when none is pinned"
                );
                continue;
            }
            assert_eq!(result.status, CheckStatus::Fail, "{observed}: {result:?}");
            assert!(result.observed.contains(observed), "{observed}: {result:?}");
        }
    }
}

/// What remediation shares must be copyable by the vault (issue 11): an unencrypted instance needs no
/// source key (shared as it is, encrypted on the copy); a `source_kms_key` asks for encryption in
/// transit and is judged; the AWS managed key and an unencrypted Aurora cluster cannot be shared
/// usefully whatever the rule says.
#[test]
fn source_key_shareable_for_unencrypted_and_aws_managed_sources() {
    let rule = |source_kms_key: &str| {
        rules(&format!(
            "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"1d\"\n{source_kms_key}"
        ))
    };
    let judge_source = |encrypted: bool, key: Option<&str>, kind: SourceKind, set: &RuleSet| {
        let mut org = Org::new();
        let mut source = org.source(PROD, "orders");
        source.encrypted = encrypted;
        source.kms_key_id = key.map(str::to_string);
        source.db.kind = kind;
        org.inventory.sources[0] = source.clone();
        org.tagged_replica("orders-copy", &source, 1);
        let report = judge(&org, set, "orders");
        (
            report.status,
            check(&report, "source-key-shareable").clone(),
        )
    };
    let instance = SourceKind::DbInstance;

    // Unencrypted, no source_kms_key: shared as is, encrypted under the vault key on the copy.
    let (status, result) = judge_source(false, None, instance, &rule(""));
    assert_eq!(result.status, CheckStatus::Pass, "{result:?}");
    assert_eq!(
        result.observed,
        "unencrypted: shared as is, encrypted on copy into the vault"
    );
    assert_eq!(status, Status::Compliant);

    // With a source_kms_key, the rule asks for encryption in transit: that key is judged.
    let granted = rule("source_kms_key = \"alias/rds-share\"\n");
    let (_, result) = judge_source(false, None, instance, &granted);
    assert_eq!(result.status, CheckStatus::Pass, "{result:?}");
    assert_eq!(result.observed, key_arn(PROD, "prod-cmk"));
    let (_, result) = judge_source(
        false,
        None,
        instance,
        &rule("source_kms_key = \"alias/not-there\"\n"),
    );
    assert_eq!(result.status, CheckStatus::Error, "unresolved: {result:?}");

    // The AWS managed key cannot be shared: without a source_kms_key it fails.
    let aws = key_arn(PROD, "prod-aws");
    let (status, result) = judge_source(true, Some(&aws), instance, &rule(""));
    assert_eq!(result.status, CheckStatus::Fail, "{result:?}");
    assert!(result.message.contains("AWS managed"), "{result:?}");
    assert_eq!(status, Status::NonCompliant);

    // An unencrypted Aurora cluster: no copy can encrypt it, with or without a source_kms_key.
    for set in [rule(""), granted] {
        let (_, result) = judge_source(false, None, SourceKind::DbCluster, &set);
        assert_eq!(result.status, CheckStatus::Fail, "{result:?}");
        assert!(
            result.message.contains("CopyDBClusterSnapshot"),
            "{result:?}"
        );
    }
}

/// Evidence from after `as_of` proves nothing about `as_of` (issue 11): judged at an instant before its
/// only replica existed, a database has no replica then, whatever the inventory holds now; the
/// report says how many were left out and that the evidence was read later.
#[test]
fn replicas_made_after_as_of_are_left_out() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-old", &orders, 20);
    org.tagged_replica("orders-new", &orders, 2);
    org.inventory.collected_at = Some(as_of());
    let set = vault_rule("");

    // Six hours earlier: orders-new did not exist, orders-old was 14 h old.
    let earlier = as_of() - chrono::Duration::hours(6);
    let findings = evaluate(&org.inventory, &set, earlier);
    let report = &findings.sources[0];
    assert_eq!(report.replica_count, 1);
    assert_eq!(report.replicas_after_as_of, 1);
    let latest = report.latest_replica.as_ref().expect("orders-old");
    assert!(latest.arn.ends_with(":snapshot:orders-old"), "{latest:?}");
    assert_eq!(latest.age_seconds, 14 * 3600);
    let present = check(report, "replica-present");
    assert!(
        present.message.contains("1 later snapshot(s) left out"),
        "{present:?}"
    );
    assert_eq!(check(report, "retention-count").observed, "1");

    // Before either existed: no replica at all, never a negative age.
    let before = as_of() - chrono::Duration::hours(21);
    let findings = evaluate(&org.inventory, &set, before);
    let report = &findings.sources[0];
    assert_eq!(report.status, Status::NonCompliant);
    assert_eq!(check(report, "replica-present").status, CheckStatus::Fail);
    assert_eq!(check(report, "retention-count").status, CheckStatus::Fail);
    assert_eq!(check(report, "replica-age").status, CheckStatus::Skip);
    assert!(report.latest_replica.is_none());
    assert_eq!(report.replicas_after_as_of, 2);
    assert!(
        findings
            .warnings
            .iter()
            .any(|w| w.contains("the evidence was read at 2026-11-24T12:00:00Z, later than the instant judged (2026-11-23T15:00:00Z)")),
        "{:?}",
        findings.warnings
    );
    assert!(
        findings.warnings.iter().any(|w| w.starts_with(
            "2 replica snapshot(s) of 1 database(s) were made after 2026-11-23T15:00:00Z"
        )),
        "{:?}",
        findings.warnings
    );

    // At or after the read, nothing is left out and nothing is said.
    let findings = evaluate(&org.inventory, &set, as_of());
    assert_eq!(findings.sources[0].replicas_after_as_of, 0);
    assert!(findings.warnings.is_empty(), "{:?}", findings.warnings);
}

#[test]
fn a_key_pending_deletion_fails_and_an_unresolvable_pinned_alias_is_an_error() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 1);
    for key in org
        .inventory
        .keys
        .iter_mut()
        .filter(|k| k.arn == key_arn(VAULT, "vault-cmk"))
    {
        key.key_state = Some("PendingDeletion".into());
        key.enabled = false;
    }
    let report = judge(&org, &vault_rule(""), "orders");
    let result = check(&report, "replica-encryption");
    assert_eq!(result.status, CheckStatus::Fail);
    assert!(result.message.contains("pending deletion"), "{result:?}");

    let set = rules(&format!(
        "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/missing\" }}\nmax_age = \"1d\"\n"
    ));
    let report = judge(&org, &set, "orders");
    assert_eq!(
        check(&report, "replica-encryption").status,
        CheckStatus::Error
    );
    assert_eq!(report.status, Status::Error);
}

#[test]
fn retention_bounds() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    for i in 0..4 {
        org.tagged_replica(&format!("orders-copy-{i}"), &orders, i + 1);
    }
    let report = judge(&org, &vault_rule(""), "orders");
    let result = check(&report, "retention-count");
    assert_eq!(
        (result.status, result.observed.as_str()),
        (CheckStatus::Fail, "4")
    );
    assert_eq!(result.expected, "1..=3");
    let unbounded = rules(&format!(
        "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"1d\"\n"
    ));
    assert_eq!(
        check(&judge(&org, &unbounded, "orders"), "retention-count").status,
        CheckStatus::Skip
    );
}

#[test]
fn source_key_shareability() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 1);
    assert_eq!(
        check(
            &judge(&org, &vault_rule(""), "orders"),
            "source-key-shareable"
        )
        .status,
        CheckStatus::Pass
    );

    // The policy grants another account only.
    for key in org
        .inventory
        .keys
        .iter_mut()
        .filter(|k| k.arn == key_arn(PROD, "prod-cmk"))
    {
        key.policy = Some(grant_policy(OTHER));
    }
    let result = judge(&org, &vault_rule(""), "orders");
    let result = check(&result, "source-key-shareable");
    assert_eq!(result.status, CheckStatus::Fail);
    assert!(
        result
            .observed
            .contains("lacks kms:Decrypt, kms:DescribeKey, kms:CreateGrant"),
        "{result:?}"
    );

    // Policy unreadable: ERROR, never PASS.
    for key in org
        .inventory
        .keys
        .iter_mut()
        .filter(|k| k.arn == key_arn(PROD, "prod-cmk"))
    {
        key.policy = None;
    }
    assert_eq!(
        check(
            &judge(&org, &vault_rule(""), "orders"),
            "source-key-shareable"
        )
        .status,
        CheckStatus::Error
    );

    // Under aws/rds without a source_kms_key: FAIL; with a granted one: PASS.
    let mut org = Org::new();
    let mut legacy = org.source(PROD, "legacy");
    legacy.kms_key_id = Some(key_arn(PROD, "prod-aws"));
    org.inventory.sources[0] = legacy.clone();
    let result = judge(&org, &vault_rule(""), "legacy");
    assert_eq!(
        check(&result, "source-key-shareable").status,
        CheckStatus::Fail
    );
    let result = judge(
        &org,
        &vault_rule("source_kms_key = \"alias/rds-share\"\n"),
        "legacy",
    );
    assert_eq!(
        check(&result, "source-key-shareable").status,
        CheckStatus::Pass
    );
}

#[test]
fn policy_parsing_handles_wildcards_single_statements_and_denies() {
    use super::source_key_shareable::missing_grants;
    let allow_all = r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}}"#;
    assert!(missing_grants(allow_all, VAULT).expect("json").is_empty());
    let with_deny = format!(
        r#"{{"Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "{VAULT}"}}, "Action": "*"}},
           {{"Effect": "Deny", "Principal": {{"AWS": "arn:aws:iam::{VAULT}:root"}}, "Action": "kms:Create*"}}]}}"#
    );
    assert_eq!(
        missing_grants(&with_deny, VAULT).expect("json"),
        vec!["kms:CreateGrant"]
    );
    assert!(missing_grants("not json", VAULT).is_err());
}

#[test]
fn public_and_foreign_shares_are_exposure() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 1).shared_with = Some(vec!["all".into()]);
    org.snapshot(PROD, "orders-manual", &orders, 1).shared_with =
        Some(vec![VAULT.into(), OTHER.into()]);
    let report = judge(&org, &vault_rule(""), "orders");
    let result = check(&report, "share-exposure");
    assert_eq!(result.status, CheckStatus::Fail);
    assert_eq!(
        result.observed,
        format!("orders-manual shared with {OTHER}; orders-copy shared with all (public)")
    );
}

#[test]
fn unreadable_destination_is_error_never_compliant() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 1);
    org.inventory.errors.push(AwsError {
        account_id: VAULT.into(),
        region: REGION.into(),
        operation: "DescribeDBSnapshots".into(),
        code: "AccessDenied".into(),
        message: "not allowed".into(),
        resource: None,
    });
    org.inventory.scopes.push(Scope {
        account_id: VAULT.into(),
        region: REGION.into(),
        complete: false,
        snapshot_kinds: SourceKind::both(),
        backups_listed: true,
        blue_green_read: true,
    });
    let findings = evaluate(&org.inventory, &vault_rule(""), as_of());
    let report = &findings.sources[0];
    assert_eq!(report.status, Status::Error);
    assert_eq!(check(report, "replica-present").status, CheckStatus::Error);
    assert!(check(report, "replica-age")
        .message
        .contains("AccessDenied on DescribeDBSnapshots"));
    assert!(findings.incomplete());
    assert_eq!(
        findings.unreadable_scopes,
        vec![format!("{VAULT}/{REGION}")]
    );
}

#[test]
fn exemptions_ungoverned_and_expiry() {
    let mut org = Org::new();
    org.source(PROD, "legacy-billing");
    let mut dev = org.source(PROD, "scratch");
    dev.tags.clear();
    org.inventory.sources[1] = dev;
    let exemption = |expires: &str| {
        vault_rule(&format!(
            "\n[[exemption]]\narn = \"arn:aws:rds:*:{PROD}:db:legacy-*\"\nreason = \"OPS-123\"\nexpires = \"{expires}\"\n"
        ))
    };
    let findings = evaluate(&org.inventory, &exemption("2026-11-24"), as_of());
    let legacy = source(&findings, "legacy-billing");
    assert_eq!(
        legacy.status,
        Status::Exempt,
        "an exemption applies through its last day"
    );
    assert_eq!(
        legacy.exemption.as_ref().map(|e| e.reason.as_str()),
        Some("OPS-123")
    );
    let scratch = source(&findings, "scratch");
    assert_eq!(scratch.status, Status::Ungoverned);
    assert!(scratch.checks.is_empty() && scratch.rule.is_none());
    assert!(findings.warnings.is_empty());

    let findings = evaluate(&org.inventory, &exemption("2026-11-23"), as_of());
    let legacy = source(&findings, "legacy-billing");
    assert_eq!(
        legacy.status,
        Status::NonCompliant,
        "an expired exemption stops applying"
    );
    assert_eq!(findings.warnings.len(), 1);
    assert!(
        findings.warnings[0].contains("expired on 2026-11-23"),
        "{:?}",
        findings.warnings
    );
    assert_eq!(findings.summary.sources, 2);
    assert_eq!(findings.summary.ungoverned, 1);
}

#[test]
fn evaluation_is_deterministic() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 30);
    org.source(OTHER, "billing");
    org.key(OTHER, "x", KeyManager::Customer, &[], None);
    let findings = evaluate(&org.inventory, &vault_rule(""), as_of());
    insta::assert_json_snapshot!("evaluation", findings);
}

#[test]
fn keys_kms_says_do_not_exist_fail_rather_than_error() {
    use crate::inventory::KeyRef;
    let mut org = Org::new();
    let mut legacy = org.source(PROD, "legacy");
    legacy.encrypted = false;
    legacy.kms_key_id = None;
    org.inventory.sources[0] = legacy;
    org.tagged_replica("legacy-copy", &org.inventory.sources[0].clone(), 1);
    org.inventory.missing_keys.push(KeyRef {
        account_id: PROD.into(),
        region: REGION.into(),
        reference: "alias/missing-share".into(),
    });
    org.inventory.missing_keys.push(KeyRef {
        account_id: VAULT.into(),
        region: REGION.into(),
        reference: "alias/missing-vault".into(),
    });
    let set = rules(&format!(
        "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/missing-vault\" }}\nsource_kms_key = \"alias/missing-share\"\nmax_age = \"1d\"\n"
    ));
    let report = judge(&org, &set, "legacy");
    let shareable = check(&report, "source-key-shareable");
    assert_eq!(shareable.status, CheckStatus::Fail, "{shareable:?}");
    assert!(
        shareable.message.contains("does not exist"),
        "{shareable:?}"
    );
    let encryption = check(&report, "replica-encryption");
    assert_eq!(encryption.status, CheckStatus::Fail, "{encryption:?}");
    assert!(
        encryption
            .message
            .contains("alias/missing-vault does not exist"),
        "{encryption:?}"
    );
    assert_eq!(report.status, Status::NonCompliant);
}

#[test]
fn a_cluster_copy_is_aged_from_rdsguards_data_time_tag() {
    let mut org = Org::new();
    let mut ledger = org.source(PROD, "ledger");
    ledger.db.kind = crate::inventory::SourceKind::DbCluster;
    ledger.db.arn = format!("arn:aws:rds:{REGION}:{PROD}:cluster:ledger");
    org.inventory.sources[0] = ledger.clone();
    let copy = org.tagged_replica("ledger-copy", &ledger, 1);
    // Cluster snapshots carry no OriginalSnapshotCreateTime; the copy was made an hour ago of data
    // from 30 hours ago.
    copy.original_snapshot_create_time = None;
    copy.tags.insert(
        crate::inventory::TAG_DATA_TIME.into(),
        (as_of() - chrono::Duration::hours(30)).to_rfc3339(),
    );
    let report = judge(&org, &vault_rule(""), "ledger");
    let age = check(&report, "replica-age");
    assert_eq!(
        (age.status, age.observed.as_str()),
        (CheckStatus::Fail, "1d6h")
    );
}

#[test]
fn a_source_key_that_does_not_exist_fails() {
    let mut org = Org::new();
    let mut orders = org.source(PROD, "orders");
    orders.kms_key_id = Some(key_arn(PROD, "deleted"));
    org.inventory.sources[0] = orders.clone();
    org.tagged_replica("orders-copy", &orders, 1);
    org.inventory.missing_keys.push(crate::inventory::KeyRef {
        account_id: PROD.into(),
        region: REGION.into(),
        reference: key_arn(PROD, "deleted"),
    });
    let report = judge(&org, &vault_rule(""), "orders");
    let result = check(&report, "source-key-shareable");
    assert_eq!(result.status, CheckStatus::Fail, "{result:?}");
    assert!(result.message.contains("does not exist"));
}

/// A database created within the rule's `grace` with no replica yet is not failed for it; once a
/// replica exists it is judged in full, and an older database with none fails (issue 17).
#[test]
fn a_new_database_gets_a_grace_period_but_never_hides_a_wrong_replica() {
    let mut org = Org::new();
    let mut fresh = org.source(PROD, "fresh");
    fresh.created_at = Some(as_of() - chrono::Duration::hours(3));
    org.inventory.sources[0] = fresh.clone();
    let set = vault_rule("");
    let report = judge(&org, &set, "fresh");
    assert_eq!(report.status, Status::Compliant, "{:#?}", report.checks);
    for id in ["replica-present", "replica-age", "retention-count"] {
        let result = check(&report, id);
        assert_eq!(result.status, CheckStatus::Skip, "{id}: {result:?}");
        assert_eq!(
            result.message,
            "created 3h ago, within the 1d2h grace: no replica is expected yet"
        );
    }

    // A replica under the wrong key is judged, grace or not.
    org.tagged_replica("fresh-copy", &fresh, 1).kms_key_id = Some(key_arn(VAULT, "vault-other"));
    let report = judge(&org, &set, "fresh");
    assert_eq!(
        check(&report, "replica-encryption").status,
        CheckStatus::Fail
    );
    assert_eq!(check(&report, "replica-present").status, CheckStatus::Pass);
    assert_eq!(report.status, Status::NonCompliant);

    // Older than the grace (an explicit one here): no replica is a failure.
    let mut org = Org::new();
    let mut old = org.source(PROD, "old");
    old.created_at = Some(as_of() - chrono::Duration::hours(3));
    org.inventory.sources[0] = old;
    let report = judge(&org, &vault_rule("grace = \"2h\"\n"), "old");
    assert_eq!(check(&report, "replica-present").status, CheckStatus::Fail);
}

/// `replica-cadence`: the newest retain.min replicas must reach back retain.min - 1 cadences with no
/// gap over one cadence (+10%); copies made one afternoon are not days of history (issue 17).
#[test]
fn replica_cadence_wants_history_not_a_burst() {
    let cadence = |hours: &[i64]| {
        let mut org = Org::new();
        let orders = org.source(PROD, "orders");
        for (i, h) in hours.iter().enumerate() {
            org.tagged_replica(&format!("copy-{i}"), &orders, *h);
        }
        let set = rules(&format!(
            "[[rule]]\nid = \"prod\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\ncadence = \"24h\"\nretain = {{ min = 4 }}\n"
        ));
        check(&judge(&org, &set, "orders"), "replica-cadence").clone()
    };
    // Daily, with a little jitter: passes.
    let daily = cadence(&[2, 25, 50, 73]);
    assert_eq!(daily.status, CheckStatus::Pass, "{daily:?}");
    assert_eq!(daily.observed, "4 replica(s) over 3d1h, largest gap 1d1h");
    // Seven copies of one afternoon.
    let burst = cadence(&[2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(burst.status, CheckStatus::Fail, "{burst:?}");
    assert_eq!(burst.observed, "4 replica(s) span 5h");
    // A missed day.
    let gap = cadence(&[2, 26, 75, 98]);
    assert_eq!(gap.status, CheckStatus::Fail, "{gap:?}");
    assert_eq!(gap.observed, "largest gap 2d1h");
    // Too few.
    let few = cadence(&[2, 26]);
    assert_eq!(few.status, CheckStatus::Fail);
    assert_eq!(few.observed, "2 replica(s)");
}

/// `identifier` is UNGOVERNED under the vault rule, with a reason starting with `reason`, and no
/// check; a rule with `select.read_replicas = true` governs it (and fails it: no copy of its own).
fn ungoverned_unless_opted_in(org: &Org, identifier: &str, reason: &str) {
    let report = judge(org, &vault_rule(""), identifier);
    assert_eq!(report.status, Status::Ungoverned);
    assert!(report.checks.is_empty());
    assert!(
        report
            .ungoverned_reason
            .as_deref()
            .is_some_and(|r| r.starts_with(reason)),
        "{report:?}"
    );
    let report = judge(org, &replicas_rule(), identifier);
    assert_eq!(report.rule.as_deref(), Some("replicas"));
    assert_eq!(report.status, Status::NonCompliant, "no replica of its own");
}

/// A read replica is no source by default: UNGOVERNED with the reason; a rule can opt them in.
#[test]
fn read_replicas_are_ungoverned_unless_a_rule_selects_them() {
    let mut org = Org::new();
    let primary = org.source(PROD, "orders");
    let mut replica = org.source(PROD, "orders-replica");
    replica.read_replica_of = Some(primary.db.arn.clone());
    org.inventory.sources[1] = replica;
    org.tagged_replica("orders-copy", &primary, 2);
    ungoverned_unless_opted_in(
        &org,
        "orders-replica",
        &format!("read replica of {}", primary.db.arn),
    );
}

/// The green side of a Blue/Green deployment is no source by default either: UNGOVERNED with the
/// deployment and the blue database in the reason; the blue one is judged; the read replicas' opt-in
/// selects it.
#[test]
fn green_sides_are_ungoverned_unless_a_rule_selects_them() {
    let mut org = Org::new();
    let blue = org.source(PROD, "orders");
    let mut green = org.source(PROD, "orders-green-abcdef");
    green.green_of = Some(crate::inventory::GreenSide {
        deployment: "bgd-0123456789abcdef".into(),
        blue_arn: blue.db.arn.clone(),
    });
    org.inventory.sources[1] = green;
    org.tagged_replica("orders-copy", &blue, 2);
    ungoverned_unless_opted_in(
        &org,
        "orders-green-abcdef",
        &format!(
            "green side of Blue/Green deployment bgd-0123456789abcdef of {}",
            blue.db.arn
        ),
    );
    let blue_report = judge(&org, &vault_rule(""), "orders");
    assert_eq!(
        blue_report.rule.as_deref(),
        Some("prod"),
        "the blue one is judged"
    );
    assert!(!blue_report.checks.is_empty());
}

/// Where the Blue/Green deployments were not read (or could not be), no database a rule judges (one
/// that does not select read replicas) passes `replica-present`: whether it is a source is unknown.
#[test]
fn green_sides_not_read_make_replica_present_error_never_pass() {
    let mut org = Org::new();
    let orders = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &orders, 2);
    let present = |org: &Org, rules: &RuleSet| {
        let report = judge(org, rules, "orders");
        let check = report.checks.iter().find(|c| c.id == "replica-present");
        check.expect("replica-present").clone()
    };
    assert_eq!(present(&org, &vault_rule("")).status, CheckStatus::Pass);
    for scope in org.inventory.scopes.iter_mut() {
        scope.blue_green_read = scope.account_id != PROD;
    }
    let unread = present(&org, &vault_rule(""));
    assert_eq!(unread.status, CheckStatus::Error, "{unread:?}");
    assert!(
        unread
            .message
            .contains("NotRead on DescribeBlueGreenDeployments"),
        "{unread:?}"
    );
    let opted_in = replicas_rule();
    assert_eq!(
        present(&org, &opted_in).status,
        CheckStatus::Pass,
        "green or not, judged"
    );
    for scope in org.inventory.scopes.iter_mut() {
        scope.blue_green_read = true;
    }
    org.inventory.errors.push(crate::inventory::AwsError {
        account_id: PROD.into(),
        region: orders.db.region.clone(),
        operation: crate::inventory::BLUE_GREEN_OPERATION.into(),
        code: "AccessDenied".into(),
        message: "denied".into(),
        resource: None,
    });
    let refused = present(&org, &vault_rule(""));
    assert_eq!(refused.status, CheckStatus::Error, "{refused:?}");
    assert!(refused
        .message
        .contains("AccessDenied on DescribeBlueGreenDeployments"));
}

mod restore_tested {
    use super::*;
    use crate::tags::{TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT};

    const DRILL: &str =
        "drill = { every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\" }";

    /// Drill evidence on a replica: ended `days_ago` before `as_of`, took `seconds`.
    fn drilled(
        org: &mut Org,
        id: &str,
        source: &crate::inventory::Source,
        days_ago: i64,
        seconds: i64,
        result: &str,
    ) {
        let at = as_of() - chrono::Duration::days(days_ago);
        let replica = org.tagged_replica(id, source, 24 * days_ago + 1);
        replica.tags.insert(TAG_DRILL_AT.into(), at.to_rfc3339());
        replica
            .tags
            .insert(TAG_DRILL_RESTORE_SECONDS.into(), seconds.to_string());
        replica.tags.insert(TAG_DRILL_RESULT.into(), result.into());
    }

    fn outcome(org: &Org, rules: &RuleSet) -> (CheckStatus, String, String, String) {
        let report = judge(org, rules, "orders");
        let c = check(&report, "restore-tested");
        (
            c.status,
            c.observed.clone(),
            c.expected.clone(),
            c.message.clone(),
        )
    }

    #[test]
    fn not_judged_without_a_drill_table() {
        let mut org = Org::new();
        let source = org.source(PROD, "orders");
        org.tagged_replica("copy-1", &source, 2);
        let report = judge(&org, &vault_rule(""), "orders");
        assert!(report.checks.iter().all(|c| c.id != "restore-tested"));
    }

    #[test]
    fn a_recent_drill_within_the_rto_passes() {
        let mut org = Org::new();
        let source = org.source(PROD, "orders");
        org.tagged_replica("copy-new", &source, 2);
        drilled(&mut org, "copy-old", &source, 3, 4_320, "passed");
        let (status, observed, expected, message) = outcome(&org, &vault_rule(DRILL));
        assert_eq!(status, CheckStatus::Pass, "{message}");
        assert_eq!(observed, "last drill 3d ago, 1h12m");
        assert_eq!(expected, "<= 30d, <= 2h");
    }

    #[test]
    fn no_drill_an_old_drill_a_slow_one_and_a_failed_probe_fail() {
        let rules = vault_rule(DRILL);
        let mut org = Org::new();
        let source = org.source(PROD, "orders");
        org.tagged_replica("copy-1", &source, 2);
        let (status, observed, _, message) = outcome(&org, &rules);
        assert_eq!(
            (status, observed.as_str()),
            (CheckStatus::Fail, "no drill"),
            "{message}"
        );

        let mut org = Org::new();
        let source = org.source(PROD, "orders");
        drilled(&mut org, "copy-1", &source, 41, 4_320, "passed");
        let (status, observed, _, message) = outcome(&org, &rules);
        assert_eq!(status, CheckStatus::Fail);
        assert_eq!(observed, "last drill 41d ago, 1h12m");
        assert!(
            message.contains("older than drill.every (30d)"),
            "{message}"
        );

        let mut org = Org::new();
        let source = org.source(PROD, "orders");
        drilled(&mut org, "copy-1", &source, 1, 3 * 3_600, "passed");
        let (status, _, _, message) = outcome(&org, &rules);
        assert_eq!(status, CheckStatus::Fail);
        assert!(
            message.contains("took longer than drill.rto (2h)"),
            "{message}"
        );

        // The last drill counts: an older pass does not hide a newer failed probe.
        let mut org = Org::new();
        let source = org.source(PROD, "orders");
        drilled(&mut org, "copy-1", &source, 5, 600, "passed");
        drilled(&mut org, "copy-2", &source, 1, 600, "probe-failed");
        let (status, _, _, message) = outcome(&org, &rules);
        assert_eq!(status, CheckStatus::Fail);
        assert!(message.contains("did not pass: probe-failed"), "{message}");
        assert!(message.contains("copy-2"), "{message}");
    }

    #[test]
    fn no_replica_skips_and_an_unreadable_destination_is_an_error() {
        let rules = vault_rule(DRILL);
        let mut org = Org::new();
        org.source(PROD, "orders");
        let (status, ..) = outcome(&org, &rules);
        assert_eq!(status, CheckStatus::Skip);

        let mut org = Org::new();
        org.source(PROD, "orders");
        org.inventory.errors.push(AwsError {
            account_id: VAULT.into(),
            region: REGION.into(),
            operation: "DescribeDBSnapshots".into(),
            code: "AccessDenied".into(),
            message: "no".into(),
            resource: None,
        });
        for scope in &mut org.inventory.scopes {
            if scope.account_id == VAULT {
                scope.complete = false;
            }
        }
        let (status, ..) = outcome(&org, &rules);
        assert_eq!(status, CheckStatus::Error);
    }
}
