//! `rdsguard drill` of an AWS Backup recovery point against the emulator: the newest replica is a
//! copy in the vault account's own backup vault; AWS Backup restores it (`StartRestoreJob`), rdsguard
//! tags what the job made as its drill's, probes, deletes it, and writes the evidence on the
//! point's RDS view, where the next audit reads it (and only an audit whose rule drills). A kill -9
//! while AWS Backup accepts the restore, then `--resume`, leaves nothing behind.

use serde_json::json;

use crate::drill::{
    only_reads_in, passing_drill, restore_tested, resumed_drill, snapshot_tags, vault_instances,
};
use crate::harness::{calls_by, control, kill_mid_call, seed, vault_and_prod, Cmd, Org};

const R: &str = "us-east-1";

/// `orders` in prod, backed up into prod's vault and copied into the vault account's `central`
/// 4 hours ago; an older manual copy 30 hours ago.
fn org() -> Org {
    seed(vault_and_prod(
        R,
        json!({
            "instances": [
                {"account": "prod", "id": "orders", "engine": "postgres", "encrypted": true,
                 "kms_key": "share-key", "tags": {"team": "payments"}},
                {"account": "vault", "id": "hand-made", "engine": "postgres"}
            ],
            "snapshots": [{"account": "prod", "id": "orders-snap", "instance": "orders", "at": "-31h"}],
            "copies": [{"from": {"account": "prod", "region": R, "snapshot": "orders-snap"},
                        "account": "vault", "region": R, "id": "orders-copy", "kms_key": "vault-key", "at": "-30h",
                        "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:orders")}}],
            "backup_vaults": [
                {"account": "prod", "region": R, "name": "Default", "kms_key": "share-key", "at": "-30d"},
                {"account": "vault", "region": R, "name": "central", "kms_key": "vault-key",
                 "access_policy": ["organization"], "at": "-30d"}
            ],
            "backups": [{"id": "orders-1", "account": "prod", "region": R, "vault": "Default",
                         "resource": "orders", "at": "-5h", "delete_after_days": 35}],
            "backup_copies": [{"id": "orders-1-central", "from": "orders-1", "account": "vault", "region": R,
                               "vault": "central", "at": "-4h", "delete_after_days": 35}]
        }),
    ))
}

fn rules(org: &Org, drill: bool) -> String {
    let drill = match drill {
        true => "drill = { every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\", probe = 'test -n \"$RDSGUARD_DRILL_HOST\"' }\n",
        false => "",
    };
    format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n{drill}",
        org.account("prod"),
        org.account("vault")
    )
}

fn command(org: &Org) -> Cmd {
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(org, true));
    cmd.file("no-drill.toml", &rules(org, false));
    cmd
}

/// The recovery point copied into `central`, and the identifier of its RDS view.
fn point(org: &Org) -> (String, String) {
    let arn = org.seeded["recovery_points"]["orders-1-central"]
        .as_str()
        .expect("the copy's ARN")
        .to_string();
    let view = arn.splitn(7, ':').nth(6).expect("an RDS ARN").to_string();
    (arn, view)
}

/// How many times the vault account listed its DB snapshots.
fn snapshot_listings(vault: &str) -> usize {
    calls_by(vault)
        .iter()
        .filter(|c| c.ends_with(":DescribeDBSnapshots"))
        .count()
}

#[test]
fn a_drill_of_a_recovery_point_passes_and_the_next_audit_sees_it() {
    let org = org();
    let vault = org.account("vault");
    let (point, view) = point(&org);
    let cmd = command(&org);

    // Without `drill`, the audit lists the vault's DB snapshots once (manual); with it, once more
    // (the RDS view of the recovery points, which holds the drill evidence).
    control(
        "DELETE",
        &format!("/_rdsguard/calls?account_id={vault}"),
        None,
    );
    cmd.run(&["audit", "--rules", "no-drill.toml", "--out", "plain"]);
    assert_eq!(snapshot_listings(&vault), 1);
    control(
        "DELETE",
        &format!("/_rdsguard/calls?account_id={vault}"),
        None,
    );
    let before = cmd.audit("before", &[]);
    assert_eq!(snapshot_listings(&vault), 2);
    let check = restore_tested(&cmd.json("before/findings.json"), "orders");
    assert_eq!(check["observed"], "no drill", "{before}");

    let (_, prod, drill) = passing_drill(&cmd, &org);
    assert_eq!(
        drill["replica_arn"],
        json!(point),
        "the newest replica: {drill}"
    );
    assert!(drill["restore_job"].is_string(), "{drill}");
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);
    only_reads_in(&prod);
    // What AWS Backup made carried the source's tags only: rdsguard tagged it as its drill's
    // before anything else (the delete, which needs those tags, went through).
    let journal = std::fs::read_to_string(cmd.path("run/drill-journal.jsonl")).expect("journal");
    assert!(
        journal.contains("with an AWS Backup restore job"),
        "{journal}"
    );

    // The evidence is on the point's RDS view; the manual copy has none.
    let tags = snapshot_tags(&org, &view, "awsbackup");
    assert_eq!(tags["rdsguard:drill-result"], "passed", "{tags}");
    assert!(snapshot_tags(&org, "orders-copy", "manual")
        .get("rdsguard:drill-at")
        .is_none());

    let after = cmd.audit("after", &[]);
    let findings = cmd.json("after/findings.json");
    let check = restore_tested(&findings, "orders");
    assert_eq!(check["status"], "PASS", "{check} {after}");
    let orders = findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["identifier"] == "orders"))
        .expect("orders");
    assert_eq!(
        orders["last_drill"]["replica_arn"],
        json!(point),
        "{orders}"
    );
    assert_eq!(orders["latest_replica"]["arn"], json!(point), "{orders}");
    let again = cmd.run(&["drill", "--rules", "rules.toml", "--out", "again"]);
    assert!(again.stdout.contains("not due"), "{again}");
}

/// Killed (SIGKILL) while AWS Backup accepted the restore (its answer held back): the job ran and
/// made the database under the drill's name, with the source's tags only, and the journal names no
/// job. `--resume` finds the job of that recovery point, waits for it, tags what it made as the
/// drill's and deletes it; no evidence is written.
#[test]
fn kill_9_during_a_restore_job_then_resume_deletes_what_the_job_made() {
    let org = org();
    let vault = org.account("vault");
    let (point, view) = point(&org);
    let cmd = command(&org);
    kill_mid_call(
        &cmd,
        &["drill", "--rules", "rules.toml", "--out", "run"],
        ("backup", "StartRestoreJob", &vault),
        "run/drill-journal.jsonl",
        "restore",
    );
    let left = vault_instances(&org);
    assert_eq!(
        left.len(),
        2,
        "the restore job made the drill instance: {left:?}"
    );

    let drill = resumed_drill(&cmd);
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);
    assert_eq!(drill["replica_arn"], json!(point), "{drill}");
    let tags = snapshot_tags(&org, &view, "awsbackup");
    assert!(tags.get("rdsguard:drill-at").is_none(), "{tags}");
}
