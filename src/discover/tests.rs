//! Planner tests: an inventory fixture and rules in, the reads of each round out.

use std::collections::{BTreeMap, BTreeSet};

use super::plan::{self, KeyResult, Known, Later, Readable, Reads, ScopeId};
use crate::checks::fixtures::*;
use crate::checks::{facts, Check, CheckId, Fact, REGISTRY};
use crate::inventory::{Account, AwsError, Inventory, KeyRef, SourceKind};
use crate::rules::{self, RuleSet};

fn rules(text: &str) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, text).expect("write");
    rules::load(&[path]).expect("valid rules")
}

/// One rule for every database, into the vault; `extra` adds keys.
fn rule(extra: &str) -> RuleSet {
    rules(&format!(
        "[[rule]]\nid = \"all\"\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"26h\"\nretain = {{ min = 1, max = 3 }}\n{extra}"
    ))
}

fn pinned(extra: &str) -> RuleSet {
    rules(&format!(
        "[[rule]]\nid = \"all\"\ndestination = {{ account = \"{VAULT}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n{extra}"
    ))
}

fn scope(account: &str) -> ScopeId {
    (account.to_string(), REGION.to_string())
}

/// The organization after step 1: prod's `orders` (under prod's CMK) with one tagged replica in the
/// vault (under the vault CMK); no key read yet.
fn org() -> Org {
    let mut org = Org::new();
    org.inventory.keys.clear();
    org.inventory.accounts = [PROD, VAULT, OTHER]
        .iter()
        .map(|id| Account {
            id: id.to_string(),
            name: None,
        })
        .collect();
    org.inventory.regions = vec![REGION.to_string()];
    let source = org.source(PROD, "orders");
    org.tagged_replica("orders-copy", &source, 2);
    org
}

fn replica_arn() -> String {
    format!("arn:aws:rds:{REGION}:{VAULT}:snapshot:orders-copy")
}

fn plan_with(inventory: &Inventory, rules: &RuleSet, checks: &[Check]) -> Reads {
    let destinations: BTreeSet<ScopeId> = [scope(VAULT)].into();
    let readable: BTreeSet<ScopeId> = [scope(PROD), scope(VAULT), scope(OTHER)].into();
    plan::next_reads(
        &Known {
            inventory,
            also_judge: &[],
            today: as_of().date_naive(),
            destinations: &destinations,
            readable: &readable,
        },
        rules,
        checks,
    )
}

fn next(org: &Org, rules: &RuleSet) -> Reads {
    plan_with(&org.inventory, rules, REGISTRY)
}

fn secrets(org: &Org, rules: &RuleSet) -> BTreeSet<(String, String, String)> {
    plan::secrets(&org.inventory, &[], as_of().date_naive(), rules, REGISTRY)
}

fn without(id: CheckId) -> Vec<Check> {
    REGISTRY.iter().filter(|c| c.id != id).copied().collect()
}

fn key(account: &str, reference: &str) -> (String, String, String) {
    (
        account.to_string(),
        REGION.to_string(),
        reference.to_string(),
    )
}

/// What KMS answers in the first round, from the fixture's keys (`Org::new`).
fn answers(plan: &plan::KeyPlan) -> Vec<KeyResult> {
    let described = Org::new().inventory.keys;
    plan.first
        .keys()
        .map(|(account, region, reference)| {
            let fact = described
                .iter()
                .find(|k| {
                    k.account_id == *account
                        && (k.arn == *reference || k.lookups.contains(reference))
                })
                .cloned()
                .map(|mut k| {
                    k.lookups = vec![reference.clone()];
                    k
                });
            let wanted = KeyRef {
                account_id: account.clone(),
                region: region.clone(),
                reference: reference.clone(),
            };
            (wanted, Ok((fact, None)))
        })
        .collect()
}

#[test]
fn every_check_reads_what_it_declares() {
    let org = org();
    let reads = next(&org, &pinned("source_kms_key = \"alias/rds-share\"\n"));
    assert_eq!(
        reads.shares,
        [replica_arn()].into(),
        "the replica's sharing"
    );
    let lists: BTreeMap<ScopeId, BTreeSet<SourceKind>> =
        [(scope(PROD), [SourceKind::DbInstance].into())].into();
    assert_eq!(reads.snapshot_lists, lists, "the source's own snapshots");
    assert_eq!(
        reads.own_shares,
        [(
            PROD.to_string(),
            REGION.to_string(),
            SourceKind::DbInstance,
            "orders".to_string()
        )]
        .into()
    );
    let first: plan::Wanted = [
        (key(PROD, &key_arn(PROD, "prod-cmk")), true),
        (key(VAULT, "alias/rds-vault"), false),
    ]
    .into();
    assert_eq!(reads.keys.first, first);
    assert_eq!(
        reads.keys.later,
        vec![
            Later::SourceKmsKey {
                account: PROD.into(),
                region: REGION.into(),
                own_key: Some(key_arn(PROD, "prod-cmk")),
                reference: "alias/rds-share".into(),
            },
            Later::Key {
                account: VAULT.into(),
                region: REGION.into(),
                arn: key_arn(VAULT, "vault-cmk"),
            },
        ]
    );
    // The pinned alias described the replica's key, and prod's key is a CMK: nothing more.
    let readable = Readable::of(&org.inventory);
    let (second, policy_read) = plan::second_keys(&readable, &reads.keys, &answers(&reads.keys));
    assert!(second.is_empty(), "{second:?}");
    assert_eq!(
        policy_read,
        [key(PROD, &key_arn(PROD, "prod-cmk"))].into(),
        "prod's key policy, read in the first round, is not asked again"
    );
}

#[test]
fn a_rule_without_restore_reads_no_secret() {
    let org = org();
    assert!(secrets(&org, &rule("")).is_empty());
    let with_restore =
        rule("restore = { instance_class = \"db.t3.micro\", secret = \"rds/{identifier}\" }\n");
    assert_eq!(
        secrets(&org, &with_restore),
        [key(VAULT, "rds/orders")].into()
    );
    // A restore without a secret reads none either.
    let no_secret = rule("restore = { instance_class = \"db.t3.micro\" }\n");
    assert!(secrets(&org, &no_secret).is_empty());
    assert!(!facts(REGISTRY, &rule("").rules[0]).contains(&Fact::RestoredInstances));
}

#[test]
fn an_unencrypted_instance_without_source_kms_key_reads_no_key() {
    let mut org = org();
    org.inventory.sources[0].encrypted = false;
    org.inventory.sources[0].kms_key_id = None;
    org.inventory.snapshots[0].encrypted = false;
    org.inventory.snapshots[0].kms_key_id = None;
    let reads = next(&org, &rule(""));
    assert_eq!(reads.keys, plan::KeyPlan::default(), "no key at all");
    // With a source_kms_key, that key is read (with its policy) in the source's account.
    let reads = next(&org, &rule("source_kms_key = \"alias/rds-share\"\n"));
    let readable = Readable::of(&org.inventory);
    let (second, _) = plan::second_keys(&readable, &reads.keys, &answers(&reads.keys));
    assert_eq!(second, [(key(PROD, "alias/rds-share"), true)].into());
}

#[test]
fn a_source_under_an_aws_managed_key_reads_the_source_kms_key() {
    let with_key = rule("source_kms_key = \"alias/rds-share\"\n");
    let mut org = org();
    org.inventory.sources[0].kms_key_id = Some(key_arn(PROD, "prod-aws"));
    let reads = next(&org, &with_key);
    assert_eq!(
        reads.keys.first.get(&key(PROD, &key_arn(PROD, "prod-aws"))),
        Some(&true),
        "its own key first, with policy"
    );
    let readable = Readable::of(&org.inventory);
    let (second, _) = plan::second_keys(&readable, &reads.keys, &answers(&reads.keys));
    assert_eq!(
        second.get(&key(PROD, "alias/rds-share")),
        Some(&true),
        "then the rule's source_kms_key, with policy: {second:?}"
    );
    // Under its own CMK, the source_kms_key is not read.
    let org = self::org();
    let reads = next(&org, &with_key);
    let (second, _) = plan::second_keys(&readable, &reads.keys, &answers(&reads.keys));
    assert!(
        !second.contains_key(&key(PROD, "alias/rds-share")),
        "{second:?}"
    );
}

/// `id`'s option group is `group`.
fn in_group(org: &mut Org, id: &str, group: &str) {
    for source in org
        .inventory
        .sources
        .iter_mut()
        .filter(|s| s.db.identifier == id)
    {
        source.option_group = Some(group.into());
    }
}

#[test]
fn option_groups_are_listed_once_per_scope_of_a_judged_instance_in_a_group_of_its_own() {
    let mut org = org();
    org.source(PROD, "billing");
    org.source(OTHER, "ledger");
    // Every database in a default group: nothing to read.
    let reads = next(&org, &rule(""));
    assert!(reads.option_groups.is_empty(), "{:?}", reads.option_groups);
    // Two databases of prod in groups of their own, one listing of prod's groups; ledger's
    // default group costs nothing.
    in_group(&mut org, "orders", "orders-options");
    in_group(&mut org, "billing", "billing-options");
    let reads = next(&org, &rule(""));
    assert_eq!(reads.option_groups, [scope(PROD)].into());
    // An exempt database is not judged: nothing read for it.
    let exempt = format!("[[exemption]]\narn = \"arn:aws:rds:*:{PROD}:db:*\"\nreason = \"test\"\n");
    let reads = next(&org, &rule(&exempt));
    assert!(reads.option_groups.is_empty());
    // Nor under rules whose copies AWS Backup makes, nor without the check.
    let reads = next(
        &org,
        &rule("remediate = \"backup\"\nbackup = { destination_vault = \"central\" }\n"),
    );
    assert!(reads.option_groups.is_empty());
    let without_check = without(CheckId::SOURCE_OPTION_GROUP_SHAREABLE);
    let reads = plan_with(&org.inventory, &rule(""), &without_check);
    assert!(reads.option_groups.is_empty());
}

#[test]
fn quotas_are_read_once_per_destination_of_a_judged_bounded_database() {
    let mut org = org();
    let source = org.source(PROD, "billing");
    org.source(OTHER, "ledger");
    org.tagged_replica("billing-copy", &source, 2);
    // Two databases copy into the vault's region: one read of its quotas.
    let reads = next(&org, &rule(""));
    assert_eq!(reads.quotas, [scope(VAULT)].into());
    // No retain.max: unbounded, nothing to judge against a quota, nothing read.
    let reads = next(&org, &pinned("retain = { min = 1 }\n"));
    assert!(reads.quotas.is_empty());
    // A named destination region: read there, not in the sources' region.
    let text = format!(
        "[[rule]]\nid = \"all\"\ndestination = {{ account = \"{VAULT}\", region = \"eu-west-1\" }}\nmax_age = \"26h\"\nretain = {{ max = 3 }}\n"
    );
    org.inventory.regions.push("eu-west-1".into());
    let reads = next(&org, &rules(&text));
    assert_eq!(
        reads.quotas,
        [(VAULT.to_string(), "eu-west-1".to_string())].into()
    );
    // Without the check, nothing.
    let reads = plan_with(&org.inventory, &rule(""), &without(CheckId::VAULT_CAPACITY));
    assert!(reads.quotas.is_empty());
}

#[test]
fn an_exempt_source_reads_nothing() {
    let org = org();
    let exempt = |expires: &str| {
        let text = format!(
            "restore = {{ instance_class = \"db.t3.micro\", secret = \"rds/{{identifier}}\" }}\nsource_kms_key = \"alias/rds-share\"\n\n[[exemption]]\narn = \"arn:aws:rds:*:{PROD}:db:orders\"\nreason = \"OPS-1\"\nexpires = \"{expires}\"\n"
        );
        pinned(&text)
    };
    let set = exempt("2027-01-31");
    assert_eq!(next(&org, &set), Reads::default());
    assert!(secrets(&org, &set).is_empty());
    // An exemption that lapses tomorrow: the run may end after midnight, so the source is read.
    let today = as_of().date_naive().to_string();
    let set = exempt(&today);
    assert_eq!(next(&org, &set).shares, [replica_arn()].into());
    assert_eq!(secrets(&org, &set).len(), 1);
}

#[test]
fn a_check_removed_from_the_registry_removes_its_reads() {
    let org = org();
    let set = pinned("source_kms_key = \"alias/rds-share\"\n");
    let full = plan_with(&org.inventory, &set, REGISTRY);

    let reads = plan_with(&org.inventory, &set, &without(CheckId::SHARE_EXPOSURE));
    assert!(reads.shares.is_empty() && reads.snapshot_lists.is_empty());
    assert!(reads.own_shares.is_empty());
    assert_eq!(reads.keys, full.keys, "keys are other checks' needs");

    let reads = plan_with(
        &org.inventory,
        &set,
        &without(CheckId::SOURCE_KEY_SHAREABLE),
    );
    assert_eq!(
        reads.keys.first,
        [(key(VAULT, "alias/rds-vault"), false)].into()
    );
    assert!(reads
        .keys
        .later
        .iter()
        .all(|l| !matches!(l, Later::SourceKmsKey { .. })));
    assert_eq!(reads.shares, full.shares);

    let reads = plan_with(&org.inventory, &set, &without(CheckId::REPLICA_ENCRYPTION));
    assert_eq!(
        reads.keys.first,
        [(key(PROD, &key_arn(PROD, "prod-cmk")), true)].into()
    );
    assert!(reads
        .keys
        .later
        .iter()
        .all(|l| !matches!(l, Later::Key { .. })));

    let with_restore =
        pinned("restore = { instance_class = \"db.t3.micro\", secret = \"rds/{identifier}\" }\n");
    let checks = without(CheckId::RESTORE_CURRENT);
    let secrets = plan::secrets(
        &org.inventory,
        &[],
        as_of().date_naive(),
        &with_restore,
        &checks,
    );
    assert!(secrets.is_empty());
}

#[test]
fn destination_scopes_are_listed_only_for_checks_of_replicas() {
    let walked = vec![REGION.to_string(), "eu-west-1".to_string()];
    let named = rules(&format!(
        "[[rule]]\nid = \"a\"\nselect = {{ engines = [\"postgres\"] }}\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"1d\"\n\n[[rule]]\nid = \"b\"\ndestination = {{ account = \"{OTHER}\", region = \"ap-south-1\" }}\nmax_age = \"1d\"\n"
    ));
    let scopes = plan::destination_scopes(&named, &walked, REGISTRY);
    let expected: BTreeSet<ScopeId> = [
        scope(VAULT),
        (VAULT.into(), "eu-west-1".into()),
        scope(OTHER),
        (OTHER.into(), "eu-west-1".into()),
        (OTHER.into(), "ap-south-1".into()),
    ]
    .into();
    assert_eq!(scopes, expected);
    let keys_only: Vec<Check> = REGISTRY
        .iter()
        .filter(|c| c.id == CheckId::SOURCE_KEY_SHAREABLE)
        .copied()
        .collect();
    assert!(plan::destination_scopes(&named, &walked, &keys_only).is_empty());
}

#[test]
fn keys_are_read_where_their_owner_is_and_never_in_blocked_accounts() {
    let mut org = org();
    // A database in OTHER under prod's CMK: the key is described in prod (its owner).
    let mut other = org.source(OTHER, "billing");
    other.kms_key_id = Some(key_arn(PROD, "prod-cmk"));
    other.encrypted = true;
    *org.inventory.sources.last_mut().expect("pushed") = other;
    // And one under a key of an account rdsguard does not read: described where it is used.
    let mut foreign = org.source(OTHER, "legacy");
    foreign.kms_key_id = Some("arn:aws:kms:us-east-1:999999999999:key/x".into());
    *org.inventory.sources.last_mut().expect("pushed") = foreign;
    let reads = next(&org, &rule(""));
    let first: Vec<_> = reads.keys.first.keys().cloned().collect();
    assert_eq!(
        first,
        vec![
            key(PROD, &key_arn(PROD, "prod-cmk")),
            key(OTHER, "arn:aws:kms:us-east-1:999999999999:key/x"),
        ]
    );
    // Prod's role could not be assumed: nothing is asked there.
    org.inventory.errors.push(AwsError {
        account_id: PROD.into(),
        region: "*".into(),
        operation: "AssumeRole".into(),
        code: "AccessDenied".into(),
        message: "no".into(),
        resource: None,
    });
    let reads = next(&org, &rule(""));
    assert!(reads
        .keys
        .first
        .keys()
        .all(|(account, _, _)| account != PROD));
}

#[test]
fn a_rule_key_absent_needs_nothing_of_its_check() {
    let plain = rule("");
    let needs = |id: CheckId, set: &RuleSet| {
        let check = REGISTRY.iter().find(|c| c.id == id).expect("registered");
        (check.needs)(&set.rules[0])
    };
    assert!(needs(CheckId::RESTORE_CURRENT, &plain).is_empty());
    assert!(needs(CheckId::REPLICA_CADENCE, &plain).is_empty());
    let cadence = rules(&format!(
        "[[rule]]\nid = \"c\"\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"1d\"\ncadence = \"1d\"\nretain = {{ min = 3 }}\n"
    ));
    assert_eq!(
        needs(CheckId::REPLICA_CADENCE, &cadence),
        &[Fact::ReplicaSnapshots]
    );
    // Every fact about replicas comes with the list they are found in.
    for check in REGISTRY {
        for set in [&plain, &cadence] {
            let declared = (check.needs)(&set.rules[0]);
            if declared.iter().any(|f| f.about_replicas()) {
                assert!(declared.contains(&Fact::ReplicaSnapshots), "{}", check.id);
            }
        }
    }
}

/// The reads planned are all the checks look at: the findings from an inventory holding only what
/// the planner read equal those from one holding everything.
#[test]
fn what_the_planner_reads_is_all_the_checks_look_at() {
    let set = pinned("source_kms_key = \"alias/rds-share\"\nretain = { min = 1, max = 3 }\n");
    let variants: [(bool, Option<String>); 3] = [
        (true, Some(key_arn(PROD, "prod-cmk"))),
        (true, Some(key_arn(PROD, "prod-aws"))),
        (false, None),
    ];
    for (encrypted, own_key) in variants {
        let mut everything = org();
        everything.inventory.sources[0].encrypted = encrypted;
        everything.inventory.sources[0].kms_key_id = own_key.clone();
        let source = everything.inventory.sources[0].clone();
        everything.snapshot(PROD, "orders-own", &source, 5);
        let reads = next(&everything, &set);
        let readable = Readable::of(&everything.inventory);
        let first = answers(&reads.keys);
        let (second, _) = plan::second_keys(&readable, &reads.keys, &first);
        everything.inventory.keys = Org::new().inventory.keys;

        let mut read = everything.inventory.clone();
        for snapshot in &mut read.snapshots {
            let own = reads.own_shares.contains(&(
                snapshot.account_id.clone(),
                snapshot.region.clone(),
                snapshot.kind,
                snapshot.source_identifier.clone(),
            )) && snapshot.account_id == PROD;
            if !own && !reads.shares.contains(&snapshot.arn) {
                snapshot.shared_with = None;
            }
        }
        read.quotas.retain(|q| {
            reads
                .quotas
                .contains(&(q.account_id.clone(), q.region.clone()))
        });
        assert_eq!(read.quotas.len(), 1, "the vault's quotas only");
        let asked: BTreeSet<_> = reads.keys.first.keys().chain(second.keys()).collect();
        read.keys.retain(|k| {
            std::iter::once(&k.arn)
                .chain(&k.lookups)
                .any(|name| asked.contains(&(k.account_id.clone(), k.region.clone(), name.clone())))
        });
        assert!(read.keys.len() < everything.inventory.keys.len());
        let judged =
            |inventory: &Inventory| crate::evaluate::evaluate(inventory, &set, as_of()).sources;
        assert_eq!(
            judged(&read),
            judged(&everything.inventory),
            "{encrypted} {own_key:?}"
        );
    }
}

/// The RDS view of a destination's DB instance recovery points (their tags hold the drill
/// evidence) is listed only where a rule that counts AWS Backup copies has `drill`, and only while
/// restore-tested is a check.
#[test]
fn recovery_point_views_are_listed_only_where_a_rule_drills() {
    let drill = "drill = { every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\" }\n";
    let views = |set: &RuleSet, checks: &[Check]| {
        plan::vault_filters(set, checks)
            .get(VAULT)
            .map(|f| f.drill_views)
    };
    assert_eq!(views(&rule(""), REGISTRY), Some(false));
    assert_eq!(views(&rule(drill), REGISTRY), Some(true));
    assert_eq!(
        views(&rule(drill), &without(CheckId::RESTORE_TESTED)),
        Some(false)
    );
    // A rule that counts manual snapshots only lists no vault, nor any view.
    let snapshots_only = rules(&format!(
        "[[rule]]\nid = \"s\"\ndestination = {{ account = \"{VAULT}\", replicas = [\"snapshot\"] }}\nmax_age = \"26h\"\n{drill}"
    ));
    assert_eq!(views(&snapshots_only, REGISTRY), None);
}

/// The Blue/Green deployments of a scope are read only where being a green side would change how
/// one of its databases is judged: a database a rule judges, whose rule does not select read
/// replicas, and that is no read replica itself.
#[test]
fn blue_green_deployments_are_read_only_where_a_green_side_would_change_a_verdict() {
    let today = as_of().date_naive();
    let mut org = org();
    let sources = org.inventory.sources.clone();
    assert!(plan::wants_green_sides(&sources, &rule(""), today));
    assert!(
        !plan::wants_green_sides(&[], &rule(""), today),
        "no database"
    );
    // No rule selects it: ungoverned whatever it is.
    let dev_only = rules(&format!(
        "[[rule]]\nid = \"dev\"\nselect = {{ tags = {{ env = \"dev\" }} }}\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"26h\"\n"
    ));
    assert!(!plan::wants_green_sides(&sources, &dev_only, today));
    // Its rule selects read replicas and green sides anyway.
    assert!(!plan::wants_green_sides(
        &sources,
        &rule("select = { read_replicas = true }"),
        today
    ));
    // Exempt today and tomorrow.
    let exempt = rules(&format!(
        "[[rule]]\nid = \"all\"\ndestination = {{ account = \"{VAULT}\" }}\nmax_age = \"26h\"\n\n[[exemption]]\narn = \"{}\"\nreason = \"r\"\nexpires = \"2999-01-01\"\n",
        sources[0].db.arn
    ));
    assert!(!plan::wants_green_sides(&sources, &exempt, today));
    // A read replica is no source already.
    let mut replica = org.source(PROD, "orders-r");
    replica.read_replica_of = Some(sources[0].db.arn.clone());
    assert!(!plan::wants_green_sides(&[replica], &rule(""), today));
}
