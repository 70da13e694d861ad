//! Restores on the Step Functions engine, on the emulator (tests/emulator/README.md, rows r-w and
//! ah). An Aurora cluster whose rule restores is repaired by `audit --remediate --engine
//! step-functions` as the local engine repairs it on an identical organization: the replica restored as a cluster with its one instance
//! `<cluster>-1` (never publicly accessible, the rule's class and security groups, rdsguard's tags
//! with `rdsguard:restored-from`), the earlier restore beyond `restore.keep` pruned (its instance,
//! then the cluster), another tool's restore and the newest earlier one kept; the re-audit's
//! verdicts are the same. Running the same execution again changes nothing, and so does a second
//! `--remediate`. A DB instance whose rule restores is restored and pruned alike.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{block_on, calls_by, seed, vault_and_prod, verdicts, Cmd, Org};

const R: &str = "us-east-1";
/// rdsguard's earlier restores of `ledger` in the vault: with `keep = 2` the newest is kept (with
/// the new one), the other pruned.
const KEPT: &str = "rdsguard-ledger-20261121000000-aaaaaaaa";
const PRUNED: &str = "rdsguard-ledger-20261120000000-aaaaaaaa";
/// A restore of `ledger` another tool made (no `rdsguard:managed`): never pruned.
const BY_HAND: &str = "ledger-restored-by-hand";

fn org() -> Org {
    let source = format!("arn:aws:rds:{R}:{{account:prod}}:cluster:ledger");
    let restore = |id: &str, managed: bool| {
        let mut tags = json!({"rdsguard:source-arn": source, "rdsguard:role": "restore"});
        if managed {
            tags["rdsguard:managed"] = json!("true");
        }
        json!({"account": "vault", "id": id, "engine": "aurora-postgresql", "tags": tags})
    };
    let org = seed(vault_and_prod(
        R,
        json!({
            "clusters": [
                {"account": "prod", "id": "ledger", "engine": "aurora-postgresql", "encrypted": true, "kms_key": "share-key"},
                restore(KEPT, true),
                restore(PRUNED, true),
                restore(BY_HAND, false)
            ]
        }),
    ));
    // Each earlier restore has its instance, as rdsguard's restores do.
    let rds = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    for cluster in [KEPT, PRUNED, BY_HAND] {
        block_on(async {
            rds.create_db_instance()
                .db_instance_identifier(format!("{cluster}-1"))
                .db_cluster_identifier(cluster)
                .engine("aurora-postgresql")
                .db_instance_class("db.r6g.large")
                .send()
                .await
                .expect("the earlier restore's instance")
        });
    }
    org
}

fn rules(org: &Org) -> String {
    format!(
        "[[rule]]\nid = \"ledger\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nsource_kms_key = \"alias/rds-share\"\nmax_age = \"26h\"\nrestore = {{ instance_class = \"db.r6g.large\", security_groups = [\"sg-0a1b2c3d4e5f60718\"], keep = 2 }}\n",
        org.account("prod"),
        org.account("vault")
    )
}

fn remediate(org: &Org, rules: &str, out: &str, engine: &str) -> (Cmd, crate::harness::Run) {
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", rules);
    let run = cmd.remediate(out, &["--engine", engine]);
    (cmd, run)
}

/// `text` with the organization's account ids as their keys (`<prod>`), and the time and run of
/// names this run made (`rdsguard-ledger-20261130051500-1a2b3c4d`) as `NEW`; the seeded names
/// (`...-aaaaaaaa`) are kept.
fn normal(org: &Org, text: &str) -> String {
    let mut text = text.to_string();
    for key in ["vault", "prod"] {
        text = text.replace(&org.account(key), &format!("<{key}>"));
    }
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let stamp = bytes.len() >= i + 23
            && bytes[i..i + 14].iter().all(u8::is_ascii_digit)
            && bytes[i + 14] == b'-'
            && bytes[i + 15..i + 23].iter().all(u8::is_ascii_alphanumeric)
            && &text[i + 15..i + 23] != "aaaaaaaa";
        if stamp {
            out.push_str("NEW");
            i += 23;
        } else {
            out.push(bytes[i] as char);
            i += 1;
        }
    }
    out
}

/// What the vault holds of databases: every cluster (status, instances, security groups, deletion
/// protection, tags) and every instance (its cluster, class, whether publicly accessible, tags),
/// names and tag values made comparable across two organizations ([`normal`]).
fn vault_databases(org: &Org) -> BTreeMap<String, String> {
    let rds = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    let clusters = block_on(rds.describe_db_clusters().send()).expect("clusters");
    let tags = |list: &[aws_sdk_rds::types::Tag]| -> Vec<String> {
        let mut tags: Vec<String> = list
            .iter()
            .map(|t| {
                let key = t.key().unwrap_or_default();
                let value = match key {
                    "rdsguard:run-id" => "<run>",
                    _ => t.value().unwrap_or_default(),
                };
                format!("{key}={value}")
            })
            .collect();
        tags.sort();
        tags
    };
    let mut out = BTreeMap::new();
    for c in clusters.db_clusters() {
        let mut members: Vec<&str> = c
            .db_cluster_members()
            .iter()
            .filter_map(|m| m.db_instance_identifier())
            .collect();
        members.sort();
        let groups: Vec<&str> = c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .collect();
        let text = format!(
            "{} {} members={members:?} security_groups={groups:?} deletion_protection={:?} tags={:?}",
            c.status().unwrap_or_default(),
            c.engine().unwrap_or_default(),
            c.deletion_protection(),
            tags(c.tag_list())
        );
        let name = c.db_cluster_identifier().unwrap_or_default();
        out.insert(format!("cluster {}", normal(org, name)), normal(org, &text));
    }
    for i in &org.db_instances("vault", R) {
        let text = format!(
            "cluster={} {} {} publicly_accessible={:?} tags={:?}",
            i.db_cluster_identifier().unwrap_or("-"),
            i.db_instance_class().unwrap_or_default(),
            i.engine().unwrap_or_default(),
            i.publicly_accessible(),
            tags(i.tag_list())
        );
        let name = i.db_instance_identifier().unwrap_or_default();
        out.insert(
            format!("instance {}", normal(org, name)),
            normal(org, &text),
        );
    }
    out
}

/// Two identical organizations, `local` repaired by the local engine and `remote` by Step Functions
/// (one database each, repaired): the Step Functions run's command, and the vault's databases after
/// it, which are the local run's.
fn both_engines(
    local: &Org,
    rules_local: &str,
    remote: &Org,
    rules_remote: &str,
) -> (Cmd, BTreeMap<String, String>) {
    let before = vault_databases(remote);
    assert_eq!(
        before,
        vault_databases(local),
        "two identical organizations"
    );
    let (sfn_cmd, by_sfn) = remediate(remote, rules_remote, "sfn", "step-functions");
    let (_, by_local) = remediate(local, rules_local, "local", "local");
    assert_eq!(by_local.code, 0, "{by_local}");
    assert_eq!(by_sfn.code, 0, "{by_sfn}");
    assert!(by_sfn.stdout.contains("1 repaired, 0 failed"), "{by_sfn}");
    // The same databases in the vault after either engine.
    let after = vault_databases(remote);
    assert_eq!(after, vault_databases(local));
    (sfn_cmd, after)
}

/// Both organizations' re-audits judge alike; the Step Functions one's verdicts.
fn reaudit_both(
    local: &Org,
    rules_local: &str,
    remote: &Org,
    rules_remote: &str,
) -> BTreeMap<String, (String, Vec<String>)> {
    let sfn_verdicts = reaudit(remote, rules_remote, "again");
    assert_eq!(reaudit(local, rules_local, "again"), sfn_verdicts);
    sfn_verdicts
}

/// The re-audit's verdicts, as a fresh `audit` of the organization judges them.
fn reaudit(org: &Org, rules: &str, out: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", rules);
    let run = cmd.audit(out, &[]);
    assert_eq!(run.code, 0, "{run}");
    verdicts(org, &cmd.json(&format!("{out}/findings.json")))
}

#[test]
fn an_aurora_cluster_is_restored_and_earlier_restores_pruned_like_the_local_engine() {
    let (local, remote) = (org(), org());
    let (rules_local, rules_remote) = (rules(&local), rules(&remote));
    let (sfn_cmd, after) = both_engines(&local, &rules_local, &remote, &rules_remote);
    // What that is: the new restore, a cluster and its one instance, never publicly accessible,
    // with the rule's class and security group and rdsguard's tags naming the replica; the earlier
    // restore beyond `keep` gone with its instance; the newest earlier one and another tool's kept.
    let names: Vec<&str> = after.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "cluster ledger-restored-by-hand",
            "cluster rdsguard-ledger-20261121000000-aaaaaaaa",
            "cluster rdsguard-ledger-NEW",
            "instance ledger-restored-by-hand-1",
            "instance rdsguard-ledger-20261121000000-aaaaaaaa-1",
            "instance rdsguard-ledger-NEW-1",
        ],
        "{after:#?}"
    );
    let restored_from = format!(
        "rdsguard:restored-from=arn:aws:rds:{R}:<vault>:cluster-snapshot:rdsguard-<prod>-ledger-NEW"
    );
    let ours = [
        "rdsguard:managed=true",
        "rdsguard:role=restore",
        "rdsguard:run-id=<run>",
        &format!("rdsguard:source-arn=arn:aws:rds:{R}:<prod>:cluster:ledger"),
    ];
    let cluster = &after["cluster rdsguard-ledger-NEW"];
    assert!(
        cluster.starts_with("available aurora-postgresql members=[\"rdsguard-ledger-NEW-1\"] security_groups=[\"sg-0a1b2c3d4e5f60718\"] deletion_protection=Some(false)"),
        "{cluster}"
    );
    let instance = &after["instance rdsguard-ledger-NEW-1"];
    assert!(
        instance.starts_with(
            "cluster=rdsguard-ledger-NEW db.r6g.large aurora-postgresql publicly_accessible=Some(false)"
        ),
        "{instance}"
    );
    for tag in ours.iter().copied().chain([restored_from.as_str()]) {
        assert!(cluster.contains(tag), "{tag} on {cluster}");
        assert!(instance.contains(tag), "{tag} on {instance}");
    }

    // The re-audit judges both organizations alike: the cluster compliant, restored.
    let sfn_verdicts = reaudit_both(&local, &rules_local, &remote, &rules_remote);
    assert_eq!(
        sfn_verdicts["prod/ledger"].0, "COMPLIANT",
        "{sfn_verdicts:?}"
    );

    // The same execution again (same input, a new name): every name it would make is there, every
    // restore it would prune is gone; it succeeds and changes nothing.
    let executions = sfn_cmd.json("sfn/executions.json");
    assert_eq!(executions.as_array().map(Vec::len), Some(1), "{executions}");
    // The machine is in the management account.
    let sfn = aws_sdk_sfn::Client::new(&remote.management_sdk(R));
    let vault = remote.account("vault");
    let count = |op: &str| calls_by(&vault).iter().filter(|c| c.as_str() == op).count();
    let ops = [
        "rds:RestoreDBClusterFromSnapshot",
        "rds:CreateDBInstance",
        "rds:DescribeDBClusters",
        "rds:DeleteDBInstance",
        "rds:DeleteDBCluster",
    ];
    let calls_before: Vec<usize> = ops.iter().map(|op| count(op)).collect();
    let again = block_on(async {
        sfn.start_execution()
            .state_machine_arn(
                executions[0]["state_machine_arn"]
                    .as_str()
                    .unwrap_or_default(),
            )
            .name("rdsguard-aurora-test-again")
            .input(executions[0]["input"].to_string())
            .send()
            .await
            .expect("start the same execution again")
    });
    let output = wait_for(&sfn, again.execution_arn());
    assert_eq!(
        output["results"][0]["ok"], true,
        "the second execution: {output}"
    );
    // It asked for both again (AWS answered that they exist), and found the pruned one gone.
    let calls: Vec<usize> = ops
        .iter()
        .zip(&calls_before)
        .map(|(op, before)| count(op) - before)
        .collect();
    assert_eq!(calls, [1, 1, 2, 0, 0], "{ops:?}");
    assert_eq!(vault_databases(&remote), after, "nothing changed");

    // A second `--remediate`: nothing to repair, nothing changed.
    let (_, second) = remediate(&remote, &rules_remote, "second", "step-functions");
    assert_eq!(second.code, 0, "{second}");
    assert_eq!(vault_databases(&remote), after, "nothing changed");
}

/// A prod DB instance `orders` whose rule restores it in the vault (`keep = 2`), and three earlier
/// restores there: rdsguard's newer (kept) and older (pruned) one, and another tool's (kept).
fn instance_org() -> Org {
    let source = format!("arn:aws:rds:{R}:{{account:prod}}:db:orders");
    let restore = |id: &str, managed: bool| {
        let mut tags = json!({"rdsguard:source-arn": source, "rdsguard:role": "restore"});
        if managed {
            tags["rdsguard:managed"] = json!("true");
        }
        json!({"account": "vault", "id": id, "engine": "postgres", "tags": tags})
    };
    seed(vault_and_prod(
        R,
        json!({
            "instances": [
                {"account": "prod", "id": "orders", "engine": "postgres", "encrypted": true, "kms_key": "share-key"},
                restore("rdsguard-orders-20261121000000-aaaaaaaa", true),
                restore("rdsguard-orders-20261120000000-aaaaaaaa", true),
                restore("orders-restored-by-hand", false)
            ]
        }),
    ))
}

fn instance_rules(org: &Org) -> String {
    format!(
        "[[rule]]\nid = \"orders\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nsource_kms_key = \"alias/rds-share\"\nmax_age = \"26h\"\nrestore = {{ instance_class = \"db.t3.micro\", keep = 2 }}\n",
        org.account("prod"),
        org.account("vault")
    )
}

/// A DB instance whose rule restores (no secret) is restored by the engine as the local engine
/// restores it: the rule's class, never publicly accessible, rdsguard's tags naming the replica; the
/// earlier restore beyond `keep` pruned; the re-audit alike; a second run changes nothing.
#[test]
fn a_db_instance_is_restored_and_earlier_restores_pruned_like_the_local_engine() {
    let (local, remote) = (instance_org(), instance_org());
    let (rules_local, rules_remote) = (instance_rules(&local), instance_rules(&remote));
    let (_, after) = both_engines(&local, &rules_local, &remote, &rules_remote);
    let names: Vec<&str> = after.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "instance orders-restored-by-hand",
            "instance rdsguard-orders-20261121000000-aaaaaaaa",
            "instance rdsguard-orders-NEW",
        ],
        "{after:#?}"
    );
    let instance = &after["instance rdsguard-orders-NEW"];
    assert!(
        instance.starts_with("cluster=- db.t3.micro postgres publicly_accessible=Some(false)"),
        "{instance}"
    );
    for tag in [
        "rdsguard:managed=true",
        "rdsguard:role=restore",
        &format!("rdsguard:source-arn=arn:aws:rds:{R}:<prod>:db:orders"),
        &format!(
            "rdsguard:restored-from=arn:aws:rds:{R}:<vault>:snapshot:rdsguard-<prod>-orders-NEW"
        ),
    ] {
        assert!(instance.contains(tag), "{tag} on {instance}");
    }

    let sfn_verdicts = reaudit_both(&local, &rules_local, &remote, &rules_remote);
    assert_eq!(
        sfn_verdicts["prod/orders"].0, "COMPLIANT",
        "{sfn_verdicts:?}"
    );

    let (_, second) = remediate(&remote, &rules_remote, "second", "step-functions");
    assert_eq!(second.code, 0, "{second}");
    assert_eq!(vault_databases(&remote), after, "nothing changed");
}

/// Waits (at most a minute) for the execution to succeed; its output.
fn wait_for(sfn: &aws_sdk_sfn::Client, arn: &str) -> Value {
    for _ in 0..120 {
        let described = block_on(async {
            sfn.describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .expect("describe the execution")
        });
        match described.status().as_str() {
            "RUNNING" => std::thread::sleep(std::time::Duration::from_millis(500)),
            "SUCCEEDED" => {
                return serde_json::from_str(described.output().unwrap_or("null"))
                    .expect("the execution's output")
            }
            other => panic!("the execution ended {other}: {described:?}"),
        }
    }
    panic!("the execution still runs after a minute");
}
