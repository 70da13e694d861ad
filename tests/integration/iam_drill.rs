//! Least privilege of `rdsguard drill`, proven under moto's IAM enforcement (see iam.rs): the printed
//! `drill_policy` is enough for a drill of a DB instance from a manual snapshot, of an Aurora cluster
//! from a cluster snapshot, and of an AWS Backup recovery point; and each action it adds to the audit's
//! is needed: taken out of the member role, the drill that calls it fails naming its operation.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::harness::{Org, PrivateEmulator, Run};
use crate::iam::{
    actions, called_within, in_parallel, management_account, members, operation, print_proof,
    printed_policies, run_command_as, setup_iam, variants, Removed, Variant, IMPLICIT,
};

const R: &str = "us-east-1";

/// Actions only `drill --resume` calls, which these drills (not interrupted) never do; their
/// scope is proven offline (iam_offline.rs).
const RESUME_ONLY: &[(&str, &str)] = &[(
    "backup:ListRestoreJobs",
    "drill --resume of a drill killed before AWS Backup's answer to StartRestoreJob was recorded",
)];

/// One organization, its rules, the drill actions (beyond the audit's) it proves needed, and what a
/// drill shows without one of them: (result, deleted, evidence_written).
struct Proof {
    spec: fn(&str) -> Value,
    rules: fn(&Org) -> String,
    actions: &'static [&'static str],
    without: fn(&str, &Value) -> (&'static str, bool, bool),
}

/// The vault and prod accounts, `orders` in prod, and a hand-made instance in the vault that no
/// drill may touch; `more` adds to it.
fn spec_with(management: &str, more: Value) -> Value {
    let mut spec = json!({
        "management_account": management,
        "accounts": [{"key": "vault"}, {"key": "prod"}],
        "instances": [
            {"account": "prod", "region": R, "id": "orders", "engine": "postgres"},
            {"account": "vault", "region": R, "id": "hand-made", "engine": "postgres"}
        ]
    });
    if let (Some(spec), Some(more)) = (spec.as_object_mut(), more.as_object()) {
        spec.extend(more.clone());
    }
    spec
}

/// `orders`' manual snapshot replica is in the vault (unencrypted here: what KMS would need is AWS's
/// to check, see IMPLICIT).
fn instance_spec(management: &str) -> Value {
    spec_with(
        management,
        json!({
            "snapshots": [{"account": "prod", "region": R, "id": "orders-snap", "instance": "orders", "at": "-5h"}],
            "copies": [{"from": {"account": "prod", "region": R, "snapshot": "orders-snap"},
                        "account": "vault", "region": R, "id": "orders-copy", "at": "-4h",
                        "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:orders")}}]
        }),
    )
}

/// An Aurora cluster whose cluster snapshot replica is in the vault, and `orders`, whose replica is
/// a recovery point copied into the vault account's own backup vault.
fn cluster_and_backup_spec(management: &str) -> Value {
    spec_with(
        management,
        json!({
            "clusters": [{"account": "prod", "region": R, "id": "ledger", "engine": "aurora-postgresql"}],
            "cluster_snapshots": [{"account": "prod", "region": R, "id": "ledger-snap", "cluster": "ledger", "at": "-5h"}],
            "copies": [{"from": {"account": "prod", "region": R, "snapshot": "ledger-snap"},
                        "account": "vault", "region": R, "id": "ledger-copy", "at": "-4h",
                        "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:cluster:ledger")}}],
            "backup_vaults": [
                {"account": "prod", "region": R, "name": "Default", "at": "-30d"},
                {"account": "vault", "region": R, "name": "central", "access_policy": ["organization"], "at": "-30d"}
            ],
            "backups": [{"id": "orders-1", "account": "prod", "region": R, "vault": "Default",
                         "resource": "orders", "at": "-5h", "delete_after_days": 35}],
            "backup_copies": [{"id": "orders-1-central", "from": "orders-1", "account": "vault", "region": R,
                               "vault": "central", "at": "-4h", "delete_after_days": 35}]
        }),
    )
}

fn drill_rules(org: &Org, identifiers: &str) -> String {
    let (vault, prod) = (org.account("vault"), org.account("prod"));
    format!(
        r#"[[rule]]
id = "drilled"
select = {{ identifiers = [{identifiers}], accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}" }}
max_age = "26h"
drill = {{ every = "30d", rto = "2h", instance_class = "db.t3.micro" }}
"#
    )
}

/// The vault's DB instances and clusters in one organization (`db:ID`, `cluster:ID`), sorted, read
/// with the seeded management credentials (with IAM enforcement off).
fn vault_databases(emulator: &PrivateEmulator, org: &Org) -> Vec<String> {
    let client = aws_sdk_rds::Client::new(&org.sdk_at(&emulator.endpoint, "vault", R));
    let (instances, clusters) = crate::harness::block_on(async {
        let instances = client.describe_db_instances().send().await;
        let clusters = client.describe_db_clusters().send().await;
        (instances.expect("instances"), clusters.expect("clusters"))
    });
    let mut ids: Vec<String> = instances
        .db_instances()
        .iter()
        .map(|db| format!("db:{}", db.db_instance_identifier().unwrap_or_default()))
        .chain(
            clusters
                .db_clusters()
                .iter()
                .map(|c| format!("cluster:{}", c.db_cluster_identifier().unwrap_or_default())),
        )
        .collect();
    ids.sort();
    ids
}

/// Every drill passed within the RTO, its database deleted and its evidence written.
fn assert_drilled(report: &Value, run: &Run, count: usize) {
    assert_eq!(report["errors"], json!([]), "{run}");
    let drills = report["drills"].as_array().expect("drills");
    assert_eq!(drills.len(), count, "{run}");
    for drill in drills {
        assert_eq!(drill["result"], "passed", "{drill}");
        assert_eq!(drill["within_rto"], true, "{drill}");
        assert_eq!(drill["deleted"], true, "{drill}");
        assert_eq!(drill["evidence_written"], true, "{drill}");
    }
}

/// Drills change the organization (a drill database made and deleted, evidence tags on the
/// replica, after which no drill is due), so every variant gets an organization of its own, as for
/// remediation. The audit actions are proven in iam.rs; here each action of `proof.actions` is taken
/// out of the member role (`--one-role`: the `drill_policy` document merged into it). An action
/// called makes the drill that calls it fail naming its operation (exit 3, `drill.json`
/// `errors[]`) when it is taken out; one never called is AWS's to check (IMPLICIT) or `--resume`'s.
fn prove(proof: &Proof) {
    let management = management_account();
    let variants = variants(&["audit", "drill"], &management, |from, action| {
        from == Removed::Member && proof.actions.contains(&action)
    });
    let removed: BTreeSet<&str> = variants
        .iter()
        .filter_map(|v| v.removed.as_ref().map(|(_, a)| a.as_str()))
        .collect();
    assert_eq!(
        removed,
        proof.actions.iter().copied().collect(),
        "in the drill policy"
    );
    let emulator = PrivateEmulator::start();
    let started = std::time::Instant::now();
    // One organization per variant, and one for the reference run (enforcement off).
    let specs: Vec<(usize, String)> = (0..=variants.len())
        .map(|i| (i, format!("{}{:02}", &management[..10], i)))
        .collect();
    let orgs: Vec<Org> = in_parallel(&specs, |(_, account)| emulator.seed((proof.spec)(account)));
    let reference_org = &orgs[variants.len()];
    let setups: Vec<(&Org, Vec<&Variant>, Value)> = orgs
        .iter()
        .enumerate()
        .map(|(i, org)| {
            (
                org,
                vec![variants.get(i).unwrap_or(&variants[0])],
                json!([]),
            )
        })
        .collect();
    let keys = setup_iam(&emulator.endpoint, &setups);
    let set_up = started.elapsed();
    let drill = |i: usize, variant: &Variant| {
        let rules = (proof.rules)(&orgs[i]);
        run_command_as(
            &emulator.endpoint,
            &keys[i][&variant.name],
            &variant.name,
            &rules,
            "drill",
            &[],
        )
    };

    // Reference: exact policies, no enforcement; what the member role (vault and prod) called.
    let members = members(reference_org);
    let before: Vec<usize> = members.iter().map(|a| emulator.calls_by(a).len()).collect();
    let (reference, report, _) = drill(variants.len(), &variants[0]);
    assert_eq!(reference.code, 0, "{reference}");
    let count = report["drills"]
        .as_array()
        .map(Vec::len)
        .unwrap_or_default();
    assert_drilled(&report, &reference, count);
    let called = called_within(&emulator, &members, &before, &variants[0], "a drill");
    let databases: Vec<Vec<String>> = orgs.iter().map(|o| vault_databases(&emulator, o)).collect();

    emulator.enforce_iam(true);
    let indexed: Vec<(usize, &Variant)> = variants.iter().enumerate().collect();
    let results = in_parallel(&indexed, |(i, variant)| {
        let (run, report, _) = drill(*i, variant);
        (run, report)
    });
    emulator.enforce_iam(false);
    let mut proven = Vec::new();
    let mut unprovable = Vec::new();
    for (i, (variant, (run, report))) in variants.iter().zip(&results).enumerate() {
        let after = vault_databases(&emulator, &orgs[i]);
        assert!(
            databases[i].iter().all(|d| after.contains(d)),
            "nothing of the vault's touched: {after:?}"
        );
        let left: Vec<&String> = after.iter().filter(|d| !databases[i].contains(d)).collect();
        let Some((_, action)) = &variant.removed else {
            assert_eq!(run.code, 0, "exact drill policies\n{run}");
            assert_drilled(report, run, count);
            assert!(left.is_empty(), "no drill database left: {left:?}");
            continue;
        };
        let label = format!("{} without {action}", variant.name);
        if !called.contains(action) {
            assert!(
                IMPLICIT.iter().chain(RESUME_ONLY).any(|(a, _)| a == action),
                "{label}: {action} is in the printed policy but never called: superfluous?"
            );
            assert_eq!(run.code, 0, "{label}\n{run}");
            assert_drilled(report, run, count);
            unprovable.push(label);
            continue;
        }
        assert_eq!(run.code, 3, "{label}: a failed step is an error\n{run}");
        let op = operation(action);
        let errors = report["errors"].as_array().expect("errors");
        assert!(!errors.is_empty(), "{label}\n{run}");
        for error in errors {
            assert_eq!(error["operation"], op, "{label}: only {op} fails: {error}");
            assert_eq!(
                error["account_id"],
                json!(orgs[i].account("vault")),
                "{label}"
            );
        }
        assert!(
            run.stdout.contains(op) || run.stderr.contains(op),
            "{label}: names {op}\n{run}"
        );
        // What each removal costs: the restore (the drill fails, and says so in its evidence), the
        // evidence (the drill passed, the next audit cannot know), the delete (reported, left).
        let drills = report["drills"].as_array().expect("drills");
        for drill in drills {
            let (result, deleted, evidence) = (proof.without)(op, drill);
            assert_eq!(drill["result"], result, "{label}: {drill}");
            assert_eq!(drill["deleted"], deleted, "{label}: {drill}");
            assert_eq!(drill["evidence_written"], evidence, "{label}: {drill}");
        }
        let kept = drills.iter().filter(|d| d["deleted"] == false).count();
        assert_eq!(
            left.len(),
            kept,
            "{label}: one drill database left per drill not deleted: {after:?}"
        );
        assert!(
            left.iter().all(|d| d.contains(":rdsguard-drill-")),
            "{label}: {left:?}"
        );
        proven.push(label);
    }
    print_proof(
        "drill",
        orgs.len(),
        set_up,
        variants.len(),
        started,
        &proven,
        &unprovable,
    );
}

const INSTANCE_ACTIONS: &[&str] = &[
    "rds:RestoreDBInstanceFromDBSnapshot",
    "rds:AddTagsToResource",
    "rds:DeleteDBInstance",
    "kms:CreateGrant",
];

const CLUSTER_AND_BACKUP_ACTIONS: &[&str] = &[
    "rds:RestoreDBClusterFromSnapshot",
    "rds:CreateDBInstance",
    "rds:DeleteDBCluster",
    "backup:GetRecoveryPointRestoreMetadata",
    "backup:StartRestoreJob",
    "backup:DescribeRestoreJob",
    "backup:ListRestoreJobs",
    "iam:PassRole",
];

#[test]
fn the_printed_drill_policies_are_enough_and_every_action_is_needed() {
    prove(&Proof {
        spec: instance_spec,
        rules: |org| drill_rules(org, "\"orders\""),
        actions: INSTANCE_ACTIONS,
        without: |op, _| match op {
            "RestoreDBInstanceFromDBSnapshot" => ("restore-failed", true, true),
            "AddTagsToResource" => ("passed", true, false),
            "DeleteDBInstance" => ("passed", false, true),
            _ => ("passed", true, true),
        },
    });
}

/// The Aurora drill restores the cluster and adds its instance through RDS; the recovery point's is
/// AWS Backup's restore job (rdsguard reads its metadata, starts and watches it, and hands AWS Backup
/// the drill role). Together with the instance drill's, these are every action the drill policy adds
/// to the audit's.
#[test]
fn the_printed_drill_policies_are_enough_for_aurora_and_aws_backup_drills() {
    let management = management_account();
    let audit =
        actions(&printed_policies(&["audit"], "x", &management, false)["member_role_policy"]);
    let drill = actions(
        &printed_policies(&["audit", "drill"], "x", &management, false)["member_role_policy"],
    );
    let beyond: BTreeSet<&str> = drill
        .iter()
        .filter(|a| !audit.contains(a))
        .map(String::as_str)
        .collect();
    let proven: BTreeSet<&str> = INSTANCE_ACTIONS
        .iter()
        .chain(CLUSTER_AND_BACKUP_ACTIONS)
        .copied()
        .collect();
    assert_eq!(
        beyond, proven,
        "every action the drill policy adds is proven by one of the two"
    );
    prove(&Proof {
        spec: cluster_and_backup_spec,
        rules: |org| drill_rules(org, "\"ledger\", \"orders\""),
        actions: CLUSTER_AND_BACKUP_ACTIONS,
        without: |op, drill| {
            let cluster = drill["kind"] == "db-cluster";
            match (op, cluster) {
                ("RestoreDBClusterFromSnapshot" | "CreateDBInstance", true) => {
                    ("restore-failed", true, true)
                }
                ("DeleteDBCluster", true) => ("passed", false, true),
                (
                    "GetRecoveryPointRestoreMetadata" | "StartRestoreJob" | "DescribeRestoreJob",
                    false,
                ) => ("restore-failed", true, true),
                _ => ("passed", true, true),
            }
        },
    });
}
