//! `rdsguard drill` of an Aurora cluster against the emulator: the newest cluster snapshot in the
//! vault is restored into a drill cluster, its one instance is added, both are deleted, and the next
//! audit sees the drill; a kill -9 during the cluster restore, then `--resume`, leaves nothing.

use serde_json::{json, Value};

use crate::drill::{
    no_secret, only_reads_in, passing_drill, restore_seconds, restore_tested, resumed_drill,
    tags_of, vault_instances,
};
use crate::harness::{block_on, kill_mid_call, seed, vault_and_prod, Cmd, Org};

const R: &str = "us-east-1";

fn org() -> Org {
    let tag =
        json!({"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:cluster:ledger")});
    seed(vault_and_prod(
        R,
        json!({
            "clusters": [
                {"account": "prod", "id": "ledger", "engine": "aurora-postgresql", "encrypted": true, "kms_key": "share-key"},
                {"account": "vault", "id": "hand-made", "engine": "aurora-postgresql"}
            ],
            "cluster_snapshots": [
                {"account": "prod", "id": "ledger-old", "cluster": "ledger", "at": "-30h"},
                {"account": "prod", "id": "ledger-new", "cluster": "ledger", "at": "-5h"}
            ],
            "copies": [
                {"from": {"account": "prod", "region": R, "snapshot": "ledger-old"}, "account": "vault",
                 "region": R, "id": "ledger-copy-old", "kms_key": "vault-key", "at": "-29h", "tags": tag},
                {"from": {"account": "prod", "region": R, "snapshot": "ledger-new"}, "account": "vault",
                 "region": R, "id": "ledger-copy", "kms_key": "vault-key", "at": "-4h", "tags": tag}
            ]
        }),
    ))
}

/// The probe sees the cluster's writer endpoint, the drill cluster and its instance.
const PROBE: &str = r#"test -n "$RDSGUARD_DRILL_HOST" && test -n "$RDSGUARD_DRILL_PORT" && test "$RDSGUARD_DRILL_INSTANCE" = "$RDSGUARD_DRILL_CLUSTER-1""#;

fn command(org: &Org) -> Cmd {
    let mut cmd = org.rdsguard();
    cmd.file(
        "rules.toml",
        &format!(
            "[[rule]]\nid = \"ledgers\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\ndrill = {{ every = \"30d\", rto = \"2h\", instance_class = \"db.r6g.large\", probe = '{PROBE}' }}\n",
            org.account("prod"),
            org.account("vault")
        ),
    );
    cmd
}

/// The vault's Aurora clusters, and (same call) how many instances each has.
fn vault_clusters(org: &Org) -> Vec<(String, usize)> {
    let client = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    let out = block_on(async {
        client
            .describe_db_clusters()
            .send()
            .await
            .expect("describe")
    });
    out.db_clusters()
        .iter()
        .map(|c| {
            let id = c.db_cluster_identifier().unwrap_or_default().to_string();
            (id, c.db_cluster_members().len())
        })
        .collect()
}

/// The tags of the vault's cluster snapshot `identifier`.
fn cluster_snapshot_tags(org: &Org, identifier: &str) -> Value {
    let client = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    let out = block_on(async {
        let request = client.describe_db_cluster_snapshots();
        request
            .db_cluster_snapshot_identifier(identifier)
            .send()
            .await
            .expect("describe")
    });
    tags_of(
        out.db_cluster_snapshots()
            .first()
            .expect("the replica")
            .tag_list(),
    )
}

#[test]
fn an_aurora_cluster_drill_passes_leaves_nothing_behind_and_the_next_audit_sees_it() {
    let org = org();
    let cmd = command(&org);
    let before = cmd.audit("before", &[]);
    let check = restore_tested(&cmd.json("before/findings.json"), "ledger");
    assert_eq!(check["observed"], "no drill", "{before}");

    let (run, prod, drill) = passing_drill(&cmd, &org);
    assert_eq!(drill["kind"], "db-cluster", "{drill}");
    let copy = org.arn("vault", R, "ledger-copy");
    assert_eq!(
        drill["replica_arn"],
        json!(copy),
        "the newest cluster snapshot: {drill}"
    );
    assert_eq!(drill["probe"]["exit_code"], 0, "{drill}");
    assert!(
        drill["endpoint"]
            .as_str()
            .unwrap_or_default()
            .contains(".cluster-"),
        "{drill}"
    );
    let cluster = drill["instance"].as_str().unwrap_or_default().to_string();
    assert!(cluster.starts_with("rdsguard-drill-ledger-"), "{drill}");
    let journal = std::fs::read_to_string(cmd.path("run/drill-journal.jsonl")).expect("journal");
    assert!(
        journal.contains(&format!(
            "{cluster} and its instance(s) {cluster}-1 deleted"
        )),
        "{journal}"
    );

    // Nothing left behind: no drill cluster, no drill instance; the hand-made cluster untouched.
    assert_eq!(vault_clusters(&org), vec![("hand-made".to_string(), 0)]);
    assert_eq!(vault_instances(&org), Vec::<String>::new());
    only_reads_in(&prod);

    // The evidence is on the drilled cluster snapshot, and nowhere else.
    let tags = cluster_snapshot_tags(&org, "ledger-copy");
    assert_eq!(tags["rdsguard:drill-result"], "passed", "{tags}");
    restore_seconds(&drill, &tags);
    assert!(cluster_snapshot_tags(&org, "ledger-copy-old")
        .get("rdsguard:drill-at")
        .is_none());

    let after = cmd.audit("after", &[]);
    let findings = cmd.json("after/findings.json");
    let check = restore_tested(&findings, "ledger");
    assert_eq!(check["status"], "PASS", "{check} {after}");
    let ledger = findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["identifier"] == "ledger"))
        .expect("ledger");
    assert_eq!(ledger["last_drill"]["replica_arn"], json!(copy), "{ledger}");
    no_secret(&cmd, &[&run.stdout, &run.stderr]);
}

/// Killed (SIGKILL) after the vault accepted the cluster restore but before rdsguard saw the answer:
/// the drill cluster exists, without its instance, and the journal says only that its restore
/// started. `--resume` deletes it, and writes no evidence.
#[test]
fn kill_9_during_the_cluster_restore_then_resume_leaves_nothing_behind() {
    let org = org();
    let vault = org.account("vault");
    let cmd = command(&org);
    let journal = kill_mid_call(
        &cmd,
        &["drill", "--rules", "rules.toml", "--out", "run"],
        ("rds", "RestoreDBClusterFromSnapshot", &vault),
        "run/drill-journal.jsonl",
        "restore",
    );
    let text = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        !text.contains("\"event\":\"done\""),
        "killed before any step was done:\n{text}"
    );
    let left = vault_clusters(&org);
    assert_eq!(left.len(), 2, "the drill cluster was made: {left:?}");
    let drill_cluster = left
        .iter()
        .map(|(id, _)| id.clone())
        .find(|id| id.starts_with("rdsguard-drill-ledger-"))
        .expect("the drill cluster");

    let drill = resumed_drill(&cmd);
    assert_eq!(vault_clusters(&org), vec![("hand-made".to_string(), 0)]);
    assert_eq!(vault_instances(&org), Vec::<String>::new());
    assert_eq!(drill["instance"], json!(drill_cluster), "{drill}");
    assert_eq!(drill["kind"], "db-cluster", "{drill}");
    assert!(cluster_snapshot_tags(&org, "ledger-copy")
        .get("rdsguard:drill-at")
        .is_none());
}
