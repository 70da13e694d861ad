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

/// The lines discovery draws: before its first phase, then each phase's. A small audit may end
/// before it leaves the first, or, on a loaded machine, between two draws (every 200 ms) of any phase.
const PHASES: [&str; 5] = [
    "starting · ",
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
    let run = cmd.run_on_terminal(&["audit", "--rules", "rules.toml", "--out", "run"], None);
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
    let run = cmd.audit("run", &[]);
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

/// A slow vault (its first DescribeDBInstances answer held back 38 s, 8 s past the first event, so
/// a timer a little late on a loaded machine still fires first): a CI log gets a `progress` event
/// with the counts while the audit runs.
#[test]
fn a_slow_audit_logs_progress_every_30_seconds() {
    let org = org();
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let fault = inject(json!({
        "service": "rds", "operation": "DescribeDBInstances", "account_id": org.account("vault"),
        "delay_seconds": 38, "times": 1
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

/// What is left on the screen once the audit has ended: the transcript after the last cursor
/// movement or erase (the progress lines' clearing), without the `script` line endings.
fn final_screen(transcript: &str) -> Vec<String> {
    let after = transcript
        .rfind('\u{1b}')
        .map(|at| {
            // Skip the escape sequence itself: ESC [ parameters, then one final letter.
            let rest = &transcript[at..];
            let end = rest
                .char_indices()
                .skip(2)
                .find(|(_, c)| c.is_ascii_alphabetic())
                .map_or(rest.len(), |(i, c)| i + c.len_utf8());
            &rest[end..]
        })
        .unwrap_or(transcript);
    after
        .split('\n')
        .map(|line| line.trim_end_matches('\r').to_string())
        .skip_while(|line| line.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .skip_while(|line| line.is_empty())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// Issue 16 as a user sees it: a 100-account organization (the fleet simulator, in-process, at AWS's
/// default RDS quota) audited on an 80 x 40 terminal. Progress is drawn while it runs, and the screen
/// it leaves is the summary: at most 39 lines (the prompt takes the 40th), none wider than 80
/// columns, the worst sources cut to what fits, and where the reports are.
#[test]
fn a_100_account_audit_ends_on_one_80_by_40_screen() {
    // The fleet is generated relative to the simulator's clock (the machine's), and judged then: no
    // calendar date in the test.
    let params = fleetsim::Params {
        accounts: 100,
        regions: 1,
        sources: 400,
        as_of: fleetsim::time::now_epoch(),
        ..fleetsim::Params::default()
    };
    let as_of = fleetsim::time::iso(params.as_of);
    let fleet = fleetsim::Fleet::generate(params);
    let rules = fleet.rules_toml();
    let vault = fleet.vault_id().to_string();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = fleetsim::Config {
        latency: std::time::Duration::ZERO,
        ..fleetsim::Config::default()
    };
    let sim = fleetsim::Sim::new(fleet, config);
    let (addr, _) = runtime
        .block_on(fleetsim::start(sim.clone(), 0))
        .expect("the fleet simulator listens");

    let mut cmd = crate::harness::Cmd::new();
    // The simulator takes the caller's account from the access key: these are the management's.
    cmd.env("AWS_ENDPOINT_URL", format!("http://{addr}"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAFLEETSIMBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "fleetsim")
        .file("rules.toml", &rules);
    let args = [
        "audit",
        "--rules",
        "rules.toml",
        "--out",
        "run",
        "--as-of",
        &as_of,
        "--fail-on",
        "none",
    ];
    let run = cmd.run_on_terminal(&args, Some((80, 40)));
    sim.shutdown();
    assert_eq!(run.code, 0, "{run}");

    let transcript = &run.stdout;
    assert!(
        first_phase(transcript).is_some(),
        "progress is drawn while the audit runs:\n{transcript}"
    );
    // The vault's share reads are paced at AWS's quota: their bar names the vault's scope.
    assert!(
        transcript.contains(&format!("vault {vault}/us-east-1")),
        "the paced share reads' bar:\n{transcript}"
    );
    let screen = final_screen(transcript);
    let text = screen.join("\n");
    let findings = cmd.json("run/findings.json");
    let sources = findings["sources"].as_array().map_or(0, Vec::len);
    assert!(sources >= 400, "{sources} sources judged");
    let failing = findings["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["status"] != "COMPLIANT")
        .count();
    assert!(failing > 20, "enough failing sources to be cut: {failing}");
    assert!(
        screen.len() < 40,
        "{} lines on the final screen:\n{text}",
        screen.len()
    );
    let wide: Vec<&String> = screen.iter().filter(|l| l.chars().count() > 80).collect();
    assert!(wide.is_empty(), "lines wider than 80 columns: {wide:#?}");
    assert!(
        screen.iter().take(2).any(|l| l.contains(" sources: "))
            && screen.last().is_some_and(|l| l.contains(" sources: ")),
        "the counts by status first and last:\n{text}"
    );
    assert!(
        text.contains("report.html"),
        "where the reports are:\n{text}"
    );
    assert!(
        text.contains("--show all"),
        "says how to see the rest:\n{text}"
    );
}

/// More databases to repair than the screen has lines: the remediation display keeps within the
/// screen (a redraw never moves the cursor up more lines than the screen has above it, so the block
/// is redrawn in place instead of scrolling on every update), and its last line counts them all.
#[test]
fn a_remediation_of_more_databases_than_the_screen_has_lines_is_drawn_within_it() {
    let ids: Vec<String> = (0..12).map(|n| format!("db{n:02}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let org = crate::sfn::prod_and_vault(&ids);
    let mut cmd = org.rdsguard();
    cmd.file("rules.toml", &rules(&org));
    let args = crate::harness::remediate_args("run", &[]);
    let run = cmd.run_on_terminal(&args, Some((80, 8)));
    assert_eq!(run.code, 0, "{run}");
    let transcript = &run.stdout;
    assert!(transcript.contains("12 repaired, 0 failed"), "{transcript}");
    // Each redraw starts with CSI n F (cursor up n lines, to the block's first line).
    let ups: Vec<usize> = transcript
        .split("\u{1b}[")
        .skip(1)
        .filter_map(|t| {
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            t[digits.len()..]
                .starts_with('F')
                .then(|| digits.parse().ok())
                .flatten()
        })
        .collect();
    assert!(!ups.is_empty(), "never redrawn:\n{transcript}");
    assert!(ups.iter().all(|n| *n <= 7), "{ups:?}");
    assert!(transcript.contains("  12 databases: "), "{transcript}");
}
