//! `rdsguard drill` against the emulator: a drill that passes and is seen by the next audit, one over
//! the RTO (the launcher's `/_rdsguard/restore-time` makes the restore take emulated time), a failing
//! probe, `--dry-run`, a delete that keeps failing then `--resume`; never a drill instance left
//! behind, never the source account written to, never an untagged instance touched, never a secret's
//! value in any output.

use serde_json::{json, Value};

use crate::harness::{
    block_on, calls_by, control, create_secret, emulator_now, inject, kill_mid_call, remove_fault,
    rfc3339, seed, vault_and_prod, Cmd, Org, Run,
};

const R: &str = "us-east-1";
const PASSWORD: &str = "Dr1ll-S3cr3t-never-printed";

fn org() -> Org {
    let org = seed(vault_and_prod(
        R,
        json!({
            "instances": [
                {"account": "prod", "id": "orders", "engine": "postgres", "encrypted": true, "kms_key": "share-key"},
                {"account": "vault", "id": "hand-made", "engine": "postgres"}
            ],
            "snapshots": [{"account": "prod", "id": "orders-snap", "instance": "orders", "at": "-5h"}],
            "copies": [{"from": {"account": "prod", "region": R, "snapshot": "orders-snap"},
                        "account": "vault", "region": R, "id": "orders-copy", "kms_key": "vault-key", "at": "-4h",
                        "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:orders")}}]
        }),
    ));
    let secret = json!({"username": "admin", "password": PASSWORD});
    create_secret(&org.sdk("vault", R), "rds/orders", &secret);
    org
}

fn rules(org: &Org, probe: &str) -> String {
    format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\ndrill = {{ every = \"30d\", rto = \"2h\", instance_class = \"db.t3.micro\", secret = \"rds/{{identifier}}\", probe = '{probe}', probe_timeout = \"30s\" }}\n",
        org.account("prod"),
        org.account("vault")
    )
}

/// The probe of the passing drill: it sees the endpoint and the secret's name, never a value.
const PROBE: &str = r#"test -n "$RDSGUARD_DRILL_HOST" && test -n "$RDSGUARD_DRILL_PORT" && test "$RDSGUARD_DRILL_SECRET_NAME" = rds/orders"#;

fn command(org: &Org, probe: &str) -> Cmd {
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(org, probe));
    cmd
}

/// The identifiers of the vault's DB instances.
pub(crate) fn vault_instances(org: &Org) -> Vec<String> {
    org.db_instances("vault", R)
        .iter()
        .map(|db| db.db_instance_identifier().unwrap_or_default().to_string())
        .collect()
}

/// The replica's tags.
fn replica_tags(org: &Org) -> Value {
    snapshot_tags(org, "orders-copy", "manual")
}

/// The tags of the vault's DB snapshot `identifier` of type `snapshot_type` (`manual`,
/// `awsbackup`).
pub(crate) fn snapshot_tags(org: &Org, identifier: &str, snapshot_type: &str) -> Value {
    let client = aws_sdk_rds::Client::new(&org.sdk("vault", R));
    let out = block_on(async {
        client
            .describe_db_snapshots()
            .db_snapshot_identifier(identifier)
            .snapshot_type(snapshot_type)
            .send()
            .await
            .expect("describe")
    });
    let snapshot = out.db_snapshots().first().expect("the replica");
    tags_of(snapshot.tag_list())
}

/// Tags as a JSON object.
pub(crate) fn tags_of(list: &[aws_sdk_rds::types::Tag]) -> Value {
    list.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                json!(t.value().unwrap_or_default()),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A call (`service:Operation`) that only reads.
pub(crate) fn is_read(call: &str) -> bool {
    let operation = call.split(':').nth(1).unwrap_or(call);
    ["Describe", "List", "Get"]
        .iter()
        .any(|p| operation.starts_with(p))
        || operation == "AssumeRole"
}

/// No secret value in any output or file of `cmd`.
pub(crate) fn no_secret(cmd: &Cmd, outputs: &[&str]) {
    for output in outputs {
        assert!(!output.contains(PASSWORD), "secret value in the output");
    }
    for file in cmd.files() {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains(PASSWORD),
            "secret value in {}",
            file.display()
        );
    }
}

/// Runs `rdsguard drill --rules rules.toml --out run`, the source account `prod`'s call log cleared
/// first; its one drill must have passed, within the RTO, what it made deleted and its evidence
/// written. Returns the run, the source account, and the drill.
pub(crate) fn passing_drill(cmd: &Cmd, org: &Org) -> (Run, String, Value) {
    let prod = org.account("prod");
    control(
        "DELETE",
        &format!("/_rdsguard/calls?account_id={prod}"),
        None,
    );
    let run = cmd.run(&["drill", "--rules", "rules.toml", "--out", "run"]);
    assert_eq!(run.code, 0, "{run}");
    let report = cmd.json("run/drill.json");
    assert_eq!(report["schema"], "rdsguard.drill/v1");
    let drill = report["drills"][0].clone();
    assert_eq!(drill["result"], "passed", "{drill}");
    assert_eq!(drill["deleted"], true, "{drill}");
    assert_eq!(drill["evidence_written"], true, "{drill}");
    assert_eq!(drill["within_rto"], true, "{drill}");
    (run, prod, drill)
}

/// The source account `prod` called no writing API since its call log was cleared.
pub(crate) fn only_reads_in(prod: &str) {
    let written: Vec<String> = calls_by(prod).into_iter().filter(|c| !is_read(c)).collect();
    assert!(
        written.is_empty(),
        "the source account was written to: {written:?}"
    );
}

/// `rdsguard drill --resume run`: exit 0, `resumed`, no error; its one drill `interrupted`, what it
/// may have left deleted, no evidence written. Returns that drill.
pub(crate) fn resumed_drill(cmd: &Cmd) -> Value {
    let resumed = cmd.run(&["drill", "--resume", &cmd.path("run").display().to_string()]);
    assert_eq!(resumed.code, 0, "{resumed}");
    let report = cmd.json("run/drill.json");
    assert_eq!(report["resumed"], true, "{report}");
    assert_eq!(report["errors"], json!([]), "{report}");
    let drill = report["drills"][0].clone();
    assert_eq!(drill["result"], "interrupted", "{drill}");
    assert_eq!(drill["deleted"], true, "{drill}");
    assert_eq!(drill["evidence_written"], false, "{drill}");
    no_secret(cmd, &[&resumed.stdout, &resumed.stderr]);
    drill
}

/// The restore time a passed drill measured (drill.json's `restore_seconds`), checked to be what
/// the emulator allows and to be the one written on the replica (`rdsguard:drill-restore-seconds`).
/// From the restore call to `available`, in AWS's clock: the emulator makes a database available at
/// once (a cluster's instance after one 2 s poll), but the calls may straddle a second, so the
/// figure is bounded, never pinned.
pub(crate) fn restore_seconds(drill: &Value, tags: &Value) -> i64 {
    let seconds = drill["restore_seconds"].as_i64().expect("timed");
    assert!((0..30).contains(&seconds), "{drill}");
    assert_eq!(
        tags["rdsguard:drill-restore-seconds"],
        json!(seconds.to_string()),
        "{tags}"
    );
    seconds
}

/// The restore-tested check of the database `identifier` in a findings.json.
pub(crate) fn restore_tested(findings: &Value, identifier: &str) -> Value {
    findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["identifier"] == identifier))
        .and_then(|s| s["checks"].as_array())
        .and_then(|c| c.iter().find(|c| c["id"] == "restore-tested"))
        .cloned()
        .expect("restore-tested")
}

#[test]
fn a_drill_passes_leaves_nothing_behind_and_the_next_audit_sees_it() {
    let org = org();
    let cmd = command(&org, PROBE);
    let before = cmd.audit("before", &[]);
    assert_eq!(
        restore_tested(&cmd.json("before/findings.json"), "orders")["observed"],
        "no drill",
        "{before}"
    );

    let (run, prod, drill) = passing_drill(&cmd, &org);
    assert_eq!(drill["probe"]["exit_code"], 0, "{drill}");
    assert!(drill["instance"]
        .as_str()
        .unwrap_or_default()
        .starts_with("rdsguard-drill-orders-"));
    assert!(run.stdout.contains("PASS"), "{run}");

    // Nothing left behind; the hand-made instance untouched; the source account only read.
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);
    only_reads_in(&prod);

    // The evidence is on the replica, in AWS's clock.
    let tags = replica_tags(&org);
    assert_eq!(tags["rdsguard:drill-result"], "passed", "{tags}");
    let seconds = restore_seconds(&drill, &tags);
    let at =
        chrono::DateTime::parse_from_rfc3339(tags["rdsguard:drill-at"].as_str().expect("drill-at"))
            .expect("RFC 3339");
    let now = emulator_now(&org.account("vault"));
    assert!(
        (now - at.with_timezone(&chrono::Utc)).num_seconds().abs() < 120,
        "{at} vs {now}"
    );

    // The next audit sees it; a second drill run finds nothing due.
    let after = cmd.audit("after", &[]);
    let check = restore_tested(&cmd.json("after/findings.json"), "orders");
    assert_eq!(check["status"], "PASS", "{check} {after}");
    assert_eq!(check["expected"], "<= 30d, <= 2h");
    // ... in the published source (`last_drill`), report.html, summary.md and the terminal summary.
    let findings = cmd.json("after/findings.json");
    let orders = findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["identifier"] == "orders"))
        .expect("orders");
    let last = &orders["last_drill"];
    assert_eq!(last["result"], "passed", "{findings}");
    assert_eq!(last["restore_seconds"], seconds, "{last}");
    assert_eq!(last["rto_seconds"], 7200, "{last}");
    assert_eq!(last["at"], tags["rdsguard:drill-at"], "{last}");
    let html = std::fs::read_to_string(cmd.path("after/report.html")).expect("report.html");
    assert!(
        html.contains("Last restore drill: "),
        "no drill in the evidence"
    );
    let took = format!("restore took {seconds}s against an RTO of 2h (within the RTO)");
    assert!(html.contains(&took), "no '{took}' in the report");
    assert!(html.contains("1 governed database(s) with a drill rule, 1 drilled within drill.every"));
    let line = "Restore drills: 1 of 1 database(s) with a drill rule passed within drill.every and the RTO";
    let summary = std::fs::read_to_string(cmd.path("after/summary.md")).expect("summary.md");
    assert!(summary.contains(line), "{summary}");
    // The terminal wraps it at its width (80 here).
    assert!(
        after
            .stdout
            .contains("Restore drills: 1 of 1 database(s) with a drill rule"),
        "{after}"
    );
    let again = cmd.run(&["drill", "--rules", "rules.toml", "--out", "again"]);
    assert_eq!(again.code, 0, "{again}");
    assert_eq!(cmd.json("again/drill.json")["plan"]["items"], json!([]));
    assert!(again.stdout.contains("not due"), "{again}");
    no_secret(
        &cmd,
        &[&run.stdout, &run.stderr, &after.stdout, &again.stdout],
    );
}

#[test]
fn a_restore_over_the_rto_fails_the_drill_and_the_check() {
    let org = org();
    let vault = org.account("vault");
    control(
        "POST",
        "/_rdsguard/restore-time",
        Some(json!({"account_id": vault, "seconds": 3 * 3600 + 120})),
    );
    let cmd = command(&org, PROBE);
    let run = cmd.run(&["drill", "--rules", "rules.toml", "--out", "run"]);
    assert_eq!(run.code, 1, "{run}");
    let drill = &cmd.json("run/drill.json")["drills"][0];
    assert_eq!(
        drill["result"], "passed",
        "the restore and probe worked: {drill}"
    );
    assert_eq!(drill["within_rto"], false, "{drill}");
    let seconds = drill["restore_seconds"].as_i64().expect("seconds");
    assert!(
        (3 * 3600 + 120..3 * 3600 + 240).contains(&seconds),
        "{drill}"
    );
    assert_eq!(drill["deleted"], true);
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);

    // Judged at the vault's own (moved) clock: the drill took longer than the RTO.
    let as_of = rfc3339(emulator_now(&vault));
    cmd.audit("after", &["--as-of", &as_of]);
    let check = restore_tested(&cmd.json("after/findings.json"), "orders");
    assert_eq!(check["status"], "FAIL", "{check}");
    // The audit shows the drill's own measure (3h2m of restore, plus the polls' real time).
    let took = format!(", {}h{}m", seconds / 3600, seconds % 3600 / 60);
    assert!(
        check["observed"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&took),
        "{took}: {check}"
    );
    assert!(
        check["message"]
            .as_str()
            .unwrap_or_default()
            .contains("took longer than drill.rto (2h)"),
        "{check}"
    );
}

#[test]
fn a_failing_probe_fails_the_drill_and_the_instance_is_still_deleted() {
    let org = org();
    let cmd = command(&org, "exit 3");
    let run = cmd.run(&["drill", "--rules", "rules.toml", "--out", "run"]);
    assert_eq!(run.code, 1, "{run}");
    let drill = &cmd.json("run/drill.json")["drills"][0];
    assert_eq!(drill["result"], "probe-failed", "{drill}");
    assert_eq!(drill["probe"]["exit_code"], 3, "{drill}");
    assert_eq!(drill["deleted"], true);
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);
    assert_eq!(replica_tags(&org)["rdsguard:drill-result"], "probe-failed");
}

#[test]
fn dry_run_changes_nothing() {
    let org = org();
    let vault = org.account("vault");
    control(
        "DELETE",
        &format!("/_rdsguard/calls?account_id={vault}"),
        None,
    );
    let cmd = command(&org, PROBE);
    let run = cmd.run(&[
        "drill",
        "--rules",
        "rules.toml",
        "--out",
        "run",
        "--dry-run",
    ]);
    assert_eq!(run.code, 0, "{run}");
    assert!(run.stdout.contains("would drill 1 database(s)"), "{run}");
    let report = cmd.json("run/drill.json");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["plan"]["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["drills"], json!([]));
    let writes: Vec<String> = calls_by(&vault)
        .into_iter()
        .filter(|c| !is_read(c))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert!(replica_tags(&org).get("rdsguard:drill-at").is_none());
}

#[test]
fn a_delete_that_keeps_failing_is_reported_and_resume_deletes_the_leftover() {
    let org = org();
    let vault = org.account("vault");
    let fault = inject(
        json!({"service": "rds", "operation": "DeleteDBInstance", "account_id": vault,
                              "code": "InvalidDBInstanceState", "message": "injected: busy"}),
    );
    let cmd = command(&org, PROBE);
    let run = cmd.run(&["drill", "--rules", "rules.toml", "--out", "run"]);
    remove_fault(fault);
    assert_eq!(run.code, 3, "{run}");
    let report = cmd.json("run/drill.json");
    let drill = &report["drills"][0];
    assert_eq!(drill["deleted"], false, "{drill}");
    assert!(run.stdout.contains("NOT DELETED"), "{run}");
    assert_eq!(
        report["errors"][0]["code"], "InvalidDBInstanceState",
        "{report}"
    );
    let left = vault_instances(&org);
    assert_eq!(left.len(), 2, "the drill instance is still there: {left:?}");

    let resumed = cmd.run(&["drill", "--resume", &cmd.path("run").display().to_string()]);
    assert_eq!(resumed.code, 0, "{resumed}");
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);
    let report = cmd.json("run/drill.json");
    assert_eq!(report["resumed"], true);
    assert_eq!(report["drills"][0]["deleted"], true, "{report}");
}

/// Killed (SIGKILL) after the vault accepted the restore but before rdsguard saw the answer (the
/// launcher's delay fault holds it back): the drill instance exists, and the journal says only
/// that its restore started. `--resume` finds it by name and deletes it (it carries the drill
/// tags); the hand-made instance is untouched, and no evidence is written for the interrupted drill.
#[test]
fn kill_9_during_the_restore_then_resume_deletes_the_drill_instance() {
    let org = org();
    let vault = org.account("vault");
    let cmd = command(&org, PROBE);
    let journal = kill_mid_call(
        &cmd,
        &["drill", "--rules", "rules.toml", "--out", "run"],
        ("rds", "RestoreDBInstanceFromDBSnapshot", &vault),
        "run/drill-journal.jsonl",
        "restore",
    );
    let before = std::fs::read_to_string(&journal).expect("journal");
    let step_done = |text: &str, step: &str| {
        text.lines().any(|line| {
            let entry: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            entry["event"] == "done" && entry["step"] == step
        })
    };
    assert!(
        !step_done(&before, "restore"),
        "killed before the restore was recorded as done:\n{before}"
    );
    let left = vault_instances(&org);
    assert_eq!(left.len(), 2, "the drill instance was made: {left:?}");
    let drill_instance = left
        .iter()
        .find(|id| id.starts_with("rdsguard-drill-orders-"))
        .cloned()
        .expect("the drill instance");
    assert!(
        !cmd.path("run/drill.json").exists(),
        "killed before drill.json"
    );

    let drill = resumed_drill(&cmd);
    assert_eq!(vault_instances(&org), vec!["hand-made".to_string()]);
    assert_eq!(drill["instance"], json!(drill_instance), "{drill}");
    let after = std::fs::read_to_string(&journal).expect("journal");
    assert!(
        after.starts_with(&before) && step_done(&after, "delete"),
        "the resumed run appends its delete to the same journal:\n{after}"
    );
    // No evidence for a drill whose outcome is unknown: restore-tested still sees none.
    assert!(replica_tags(&org).get("rdsguard:drill-at").is_none());
}

/// On a terminal, `rdsguard drill` draws one line per database (the remediation's display, issue 16):
/// its vault account and region, each step as it starts, then the result with the restore's time.
/// Off a terminal (every other test here) the log says the same, one line per step.
#[test]
fn a_drill_on_a_terminal_shows_each_step_then_the_result() {
    let org = org();
    let cmd = command(&org, PROBE);
    let run = cmd.run_on_terminal(&["drill", "--rules", "rules.toml", "--out", "run"], None);
    assert_eq!(run.code, 0, "{run}");
    let transcript = &run.stdout;
    let label = format!("{}/{R} orders", org.account("vault"));
    let drawn = |status: &str| {
        transcript
            .lines()
            .any(|l| l.contains(&label) && l.trim_end_matches('\r').ends_with(status))
    };
    for step in ["restore", "wait", "probe", "delete", "evidence"] {
        assert!(drawn(step), "{step} drawn:\n{transcript}");
    }
    let seconds = cmd.json("run/drill.json")["drills"][0]["restore_seconds"]
        .as_i64()
        .expect("timed");
    let took = rdsguard::rules::format_seconds(seconds);
    assert!(
        drawn(&format!("passed in {took}")),
        "the result:\n{transcript}"
    );
}
