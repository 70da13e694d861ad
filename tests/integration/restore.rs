//! Restore, secret repoint, pruning of earlier restores, rollback; secret values never leak.

use serde_json::{json, Value};

use crate::harness::{block_on, create_secret, seed, vault_and_prod, Org};

const R: &str = "us-east-1";
const PASSWORD: &str = "S3cr3t-Pa55-never-printed";

fn org() -> Org {
    let source = format!("arn:aws:rds:{R}:{{account:prod}}:db:orders");
    let restore = |id: &str, managed: bool, protected: bool| {
        let mut tags = json!({"rdsguard:source-arn": source, "rdsguard:role": "restore"});
        if managed {
            tags["rdsguard:managed"] = json!("true");
        }
        json!({"account": "vault", "id": id, "engine": "postgres", "tags": tags,
               "params": {"DeletionProtection": protected}})
    };
    seed(vault_and_prod(
        R,
        json!({
            "instances": [
                {"account": "prod", "id": "orders", "engine": "postgres", "encrypted": true, "kms_key": "share-key"},
                restore("rdsguard-orders-20261121000000-aaaaaaaa", true, false),
                restore("rdsguard-orders-20261120000000-aaaaaaaa", true, false),
                restore("rdsguard-orders-20261119000000-aaaaaaaa", true, true),
                restore("orders-restored-by-hand", false, false)
            ]
        }),
    ))
}

fn rules(org: &Org) -> String {
    format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nsource_kms_key = \"alias/rds-share\"\nmax_age = \"26h\"\nrestore = {{ instance_class = \"db.t3.micro\", secret = \"rds/{{identifier}}\", keep = 2 }}\n",
        org.account("prod"),
        org.account("vault")
    )
}

fn secrets(org: &Org) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&org.sdk("vault", R))
}

fn secret_value(org: &Org) -> Value {
    let client = secrets(org);
    let text = block_on(async {
        client
            .get_secret_value()
            .secret_id("rds/orders")
            .send()
            .await
            .expect("secret")
    });
    serde_json::from_str(text.secret_string().unwrap_or_default()).expect("json secret")
}

fn vault_instances(org: &Org) -> Vec<(String, Vec<(String, String)>)> {
    let mut all: Vec<(String, Vec<(String, String)>)> = org
        .db_instances("vault", R)
        .iter()
        .map(|db| {
            let tags = db
                .tag_list()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_string(),
                        t.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            (
                db.db_instance_identifier().unwrap_or_default().to_string(),
                tags,
            )
        })
        .collect();
    all.sort();
    all
}

fn has_tag(instance: &(String, Vec<(String, String)>), key: &str) -> bool {
    instance.1.iter().any(|(k, _)| k == key)
}

/// Every file of a run folder, and the command's output: none may carry the secret's password.
fn assert_no_secret(dir: &std::path::Path, outputs: &[&str]) {
    for output in outputs {
        assert!(!output.contains(PASSWORD), "secret value in the output");
    }
    for entry in std::fs::read_dir(dir).expect("run folder").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(
            !text.contains(PASSWORD),
            "secret value in {}",
            entry.path().display()
        );
    }
}

#[test]
fn restore_repoints_the_secret_prunes_old_restores_and_rollback_returns() {
    let org = org();
    let old = "rdsguard-orders-20261121000000-aaaaaaaa";
    let value = json!({"engine": "postgres", "host": "old.example", "port": 5432,
                       "dbInstanceIdentifier": old, "username": "admin",
                       "password": PASSWORD, "dbname": "orders"});
    create_secret(&org.sdk("vault", R), "rds/orders", &value);

    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let before = cmd.audit("before", &[]);
    assert_eq!(before.code, 1, "{before}");

    let run = cmd.remediate("run", &["-v"]);
    assert_eq!(run.code, 0, "{run}");
    let findings = cmd.json("run/findings.json");
    let checks = &findings["sources"][0]["checks"];
    let current = checks
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "restore-current"))
        .expect("restore-current");
    assert_eq!(current["status"], "PASS", "{current}");

    // The secret points at the new restore; every other key is kept.
    let now = secret_value(&org);
    let restored = now["dbInstanceIdentifier"]
        .as_str()
        .expect("instance")
        .to_string();
    assert!(
        restored.starts_with("rdsguard-orders-") && restored != old,
        "{now}"
    );
    assert_ne!(now["host"], "old.example");
    for key in ["username", "password", "dbname", "engine"] {
        assert_eq!(now[key], value[key], "{key} kept");
    }

    // The restore is never publicly accessible (AWS would make it public in a VPC with an
    // internet gateway, without the parameter).
    let made = org.db_instances("vault", R);
    let made = made
        .iter()
        .find(|db| db.db_instance_identifier() == Some(restored.as_str()))
        .expect("the restore");
    assert_eq!(made.publicly_accessible(), Some(false), "{restored}");

    // keep = 2: the new restore and the previous one stay; the older managed one is pruned; the
    // protected and the hand-made ones are never touched; the previous one is tagged superseded.
    let instances = vault_instances(&org);
    let names: Vec<&str> = instances.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&restored.as_str()), "{names:?}");
    assert!(names.contains(&old), "{names:?}");
    assert!(
        !names.contains(&"rdsguard-orders-20261120000000-aaaaaaaa"),
        "pruned: {names:?}"
    );
    assert!(
        names.contains(&"rdsguard-orders-20261119000000-aaaaaaaa"),
        "deletion protection: {names:?}"
    );
    assert!(
        names.contains(&"orders-restored-by-hand"),
        "not rdsguard's: {names:?}"
    );
    let previous = instances.iter().find(|(n, _)| n == old).expect("previous");
    assert!(has_tag(previous, "rdsguard:superseded-at"), "{previous:?}");
    assert_no_secret(&cmd.path("run"), &[&run.stdout, &run.stderr]);

    // Rollback to the previous restore: the secret points there again, the audit says so.
    let refused = cmd.run(&[
        "rollback",
        &org.arn("prod", R, "orders"),
        "--to",
        "orders-restored-by-hand",
        "--rules",
        "rules.toml",
    ]);
    assert_eq!(refused.code, 2, "{refused}");
    assert!(
        refused
            .stderr
            .contains("is not tagged as rdsguard's restore"),
        "{refused}"
    );
    let back = cmd.run(&[
        "rollback",
        &org.arn("prod", R, "orders"),
        "--to",
        old,
        "--rules",
        "rules.toml",
        "--out",
        "rollback",
    ]);
    assert_eq!(back.code, 0, "{back}");
    assert!(
        back.stdout
            .contains(&format!("now points at {old} (was {restored})")),
        "{back}"
    );
    assert_eq!(secret_value(&org)["dbInstanceIdentifier"], old);
    assert_eq!(secret_value(&org)["password"], PASSWORD);
    let journal = std::fs::read_to_string(cmd.path("rollback/journal.jsonl")).expect("journal");
    assert!(journal.contains("\"step\":\"rollback\""), "{journal}");
    assert_no_secret(&cmd.path("rollback"), &[&back.stdout, &back.stderr]);

    let after = cmd.audit("after", &[]);
    assert_eq!(
        after.code, 1,
        "the secret no longer points at the newest restore\n{after}"
    );
    assert!(after.stdout.contains("restore-current"), "{after}");
    assert_no_secret(&cmd.path("after"), &[&after.stdout, &after.stderr]);
}

/// Aurora: the replica cluster snapshot is restored as a cluster with one instance, and the secret
/// points at the cluster (its writer endpoint and dbClusterIdentifier), other keys kept.
#[test]
fn an_aurora_cluster_is_restored_with_one_instance_and_the_secret_follows() {
    let org = seed(vault_and_prod(
        R,
        json!({
            "clusters": [{"account": "prod", "id": "ledger", "engine": "aurora-postgresql",
                          "encrypted": true, "kms_key": "share-key"}]
        }),
    ));
    let client = secrets(&org);
    let value = json!({"engine": "postgres", "host": "old.example", "port": 5432,
                       "dbClusterIdentifier": "none-yet", "username": "admin", "password": PASSWORD});
    create_secret(&org.sdk("vault", R), "rds/ledger", &value);
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let run = cmd.remediate("run", &[]);
    assert_eq!(run.code, 0, "{run}");
    let findings = cmd.json("run/findings.json");
    let source = &findings["sources"][0];
    assert_eq!(source["kind"], "db-cluster");
    assert_eq!(source["status"], "COMPLIANT", "{run}");
    let secret = {
        let text = block_on(async {
            client
                .get_secret_value()
                .secret_id("rds/ledger")
                .send()
                .await
                .expect("secret")
        });
        serde_json::from_str::<Value>(text.secret_string().unwrap_or_default()).expect("json")
    };
    let cluster = secret["dbClusterIdentifier"]
        .as_str()
        .expect("cluster id")
        .to_string();
    assert!(cluster.starts_with("rdsguard-ledger-"), "{secret}");
    assert_eq!(secret["password"], PASSWORD);
    assert_eq!(secret["username"], "admin");
    let rds = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    let described = block_on(async {
        rds.describe_db_clusters()
            .db_cluster_identifier(&cluster)
            .send()
            .await
            .expect("cluster")
    });
    let restored = &described.db_clusters()[0];
    assert_eq!(
        secret["host"].as_str(),
        restored.endpoint(),
        "the secret names the writer endpoint"
    );
    assert_eq!(
        restored.db_cluster_members().len(),
        1,
        "one instance in the restored cluster"
    );
    assert_no_secret(&cmd.path("run"), &[&run.stdout, &run.stderr]);
}
