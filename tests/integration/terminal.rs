//! Discovery's progress as a user sees it (issue 16): drawn on a terminal (under a pseudo-terminal,
//! made by util-linux's `script`), never when stderr is not one, and logged every 30 s in a CI log.

use serde_json::{json, Value};

use crate::ci::org;
use crate::harness::{inject, remove_fault, Org};

const R: &str = "us-east-1";

fn rules(org: &Org) -> String {
    format!(
        "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n",
        org.account("prod"),
        org.account("vault")
    )
}

/// The phase lines discovery draws (a small audit may end before it leaves the first).
const PHASES: [&str; 4] = [
    "listing the organization's accounts",
    "reading databases and the vault's snapshots",
    "reading who the snapshots are shared with, and the keys",
    "reading where the restore secrets point",
];

fn first_phase(text: &str) -> Option<usize> {
    PHASES.iter().filter_map(|p| text.find(p)).min()
}

fn last_phase(text: &str) -> Option<usize> {
    PHASES.iter().filter_map(|p| text.rfind(p)).max()
}

#[test]
fn progress_is_drawn_on_a_terminal_and_cleared() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let binary = env!("CARGO_BIN_EXE_rdsguard");
    let line = format!("{binary} audit --rules rules.toml --out run");
    // `script -q -e -c CMD /dev/null`: CMD on a pseudo-terminal; the transcript on stdout.
    let run = cmd.run_program("script", &["-q", "-e", "-c", &line, "/dev/null"]);
    assert_eq!(run.code, 1, "{run}");
    let transcript = &run.stdout;
    let drawn = first_phase(transcript).unwrap_or_else(|| panic!("never drawn:\n{transcript}"));
    let summary = transcript
        .find("sources: ")
        .unwrap_or_else(|| panic!("no summary:\n{transcript}"));
    assert!(
        drawn < summary,
        "progress before the summary:\n{transcript}"
    );
    // Cleared: after the last progress line, the line is erased (ESC [2K or ESC [K) before the
    // summary is printed.
    let last = last_phase(transcript).expect("drawn");
    let between = &transcript[last..summary];
    assert!(
        between.contains("\u{1b}[2K")
            || between.contains("\u{1b}[K")
            || between.contains("\u{1b}[1A"),
        "the progress lines are cleared: {between:?}"
    );
}

#[test]
fn nothing_is_drawn_when_stderr_is_not_a_terminal() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let run = cmd.run(&["audit", "--rules", "rules.toml", "--out", "run"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(first_phase(&run.stderr).is_none(), "{run}");
    assert!(
        !run.stderr.contains('\u{1b}'),
        "no escape codes in a log: {run}"
    );

    // The phase timings are kept for afterwards: findings.json's run, and report.html's footer.
    let findings = cmd.json("run/findings.json");
    let phases: Vec<&str> = findings["run"]["phases"]
        .as_array()
        .expect("run.phases")
        .iter()
        .map(|p| p["phase"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        phases,
        [
            "list-accounts",
            "read-databases",
            "read-shares-and-keys",
            "read-secrets",
            "evaluate"
        ]
    );
    let html = std::fs::read_to_string(cmd.path("run/report.html")).expect("report.html");
    assert!(
        html.contains("Phase timings of this run: list-accounts "),
        "footer"
    );
}

/// A slow vault (its first DescribeDBInstances answer held back 32 s): a CI log gets a `progress`
/// event with the counts while the audit runs.
#[test]
fn a_slow_audit_logs_progress_every_30_seconds() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let fault = inject(json!({
        "service": "rds", "operation": "DescribeDBInstances", "account_id": org.account("vault"),
        "delay_seconds": 32, "times": 1
    }));
    let run = cmd.run(&[
        "--log-format",
        "json",
        "audit",
        "--rules",
        "rules.toml",
        "--out",
        "run",
    ]);
    remove_fault(fault);
    assert_eq!(run.code, 1, "{run}");
    let events: Vec<Value> = run
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|event: &Value| event["target"] == "rdsguard::progress")
        .collect();
    assert!(!events.is_empty(), "no progress event:\n{}", run.stderr);
    let fields = &events[0]["fields"];
    // management, vault and prod in us-east-1.
    assert_eq!(fields["scopes_total"], 3, "{fields}");
    assert!(
        fields["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("progress: ")),
        "{fields}"
    );
}
