//! The command line: help, the shipped rules, bad input (exit 2, nothing sent to AWS), no AWS (exit 3).

use serde_json::json;

use crate::harness::{calls_by, repo, seed, Cmd};

#[test]
fn help_documents_every_flag() {
    let run = Cmd::new().run(&["audit", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("audit_help", run.stdout);
    let run = Cmd::new().run(&["--help"]);
    insta::assert_snapshot!("help", run.stdout);
    let run = Cmd::new().run(&["iam-policy", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("iam_policy_help", run.stdout);
    let run = Cmd::new().run(&["setup", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("setup_help", run.stdout);
    let run = Cmd::new().run(&["drill", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("drill_help", run.stdout);
    let run = Cmd::new().run(&["remediation", "export", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("remediation_export_help", run.stdout);
    let run = Cmd::new().run(&["remediation", "status", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("remediation_status_help", run.stdout);
}

#[test]
fn the_shipped_example_rules_are_valid() {
    let rules = repo().join("rules");
    let run = Cmd::new().run(&["rules", "check", rules.to_str().expect("utf-8")]);
    assert_eq!(run.code, 0, "{run}");
    // The example exemption has a real date: once it is past, `rules check` warns before the summary
    // (and that is all that changes).
    let mut lines = run.stdout.lines().skip_while(|line| {
        line.starts_with("warning: ")
            && line.contains("expired on")
            && line.contains("90-exemptions.toml")
    });
    assert!(
        lines
            .next()
            .is_some_and(|line| line.starts_with("ok: 3 rule(s), 1 exemption(s) in 3 file(s)")),
        "{run}"
    );
}

const BAD_RULES: &str = r#"[[rule]]
id = "prod"
destination = { account = "222222222222" }
max_age = "26 parsecs"

[[rule]]
id = "prod"
destination = { account = "222222222222", regoin = "us-east-1" }
max_age = "1d"
retain = { min = 5, max = 2 }
"#;

#[test]
fn bad_rules_report_every_problem_and_exit_2() {
    let mut cmd = Cmd::new();
    cmd.file("rules/bad.toml", BAD_RULES);
    let run = cmd.run(&["rules", "check", "rules"]);
    assert_eq!(run.code, 2, "{run}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    // Every problem of every rule, the second rule's bad bounds included (an unknown key in it
    // does not hide them).
    assert_eq!(lines[0], "error: 3 problems in the rules:", "{run}");
    assert!(lines[1].ends_with("rules/bad.toml:4: rule `prod`: max_age: `26 parsecs`: unknown unit `parsecs`; expected a duration such as `26h`, `7d` or `1d12h` (units: s, m, h, d, w)"), "{run}");
    assert!(lines[2].ends_with("rules/bad.toml:8: unknown key `regoin` in `destination` of rule `prod` (expected one of: account, region, kms_key, replicas, vault, option_group)"), "{run}");
    assert!(
        lines[3].ends_with(
            "rules/bad.toml:10: rule `prod`: retain.min (5) is greater than retain.max (2)"
        ),
        "{run}"
    );

    // The same rules given to an audit: exit 2 before any AWS call, no run files.
    let org = seed(json!({"accounts": [{"key": "vault"}]}));
    let management = org.account("management");
    let before = calls_by(&management).len();
    let mut audit = org.rdsguard();
    audit.file("rules/bad.toml", BAD_RULES);
    let run = audit.run(&["audit", "--out", "run"]);
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("rules/bad.toml:4:"), "{run}");
    assert_eq!(
        calls_by(&management).len(),
        before,
        "nothing was sent to AWS"
    );
    assert!(
        !audit.path("run").exists(),
        "no run folder for a run that never started"
    );
}

#[test]
fn bad_flags_and_paths_exit_2_with_the_reason() {
    let mut cmd = Cmd::new();
    cmd.file(
        "rules/ok.toml",
        "[[rule]]\nid = \"all\"\ndestination = { account = \"222222222222\" }\nmax_age = \"1d\"\n",
    )
    .file("not-a-folder", "x");
    let cases: [(&[&str], &str); 7] = [
        (
            &["audit", "--out", "not-a-folder"],
            "--out not-a-folder exists and is not a directory",
        ),
        (
            &["audit", "--accounts", "12345"],
            "--accounts: `12345` is not a 12-digit account id",
        ),
        (
            &["audit", "--regions", "us-east-1,Mars"],
            "--regions: `Mars` is not a region name",
        ),
        (
            &["audit", "--as-of", "yesterday"],
            "--as-of `yesterday` is not an RFC 3339 time",
        ),
        (
            &["audit", "--rules", "missing"],
            "missing: cannot read rules path",
        ),
        (
            &["evaluate", "--inventory", "rules/ok.toml"],
            "rules/ok.toml:1: not an rdsguard inventory",
        ),
        (
            &["report", "--from", "not-a-folder"],
            "not-a-folder: line 1: not an rdsguard report",
        ),
    ];
    for (args, message) in cases {
        let run = cmd.run(args);
        assert_eq!(run.code, 2, "{args:?}\n{run}");
        assert!(
            run.stderr.contains(message),
            "{args:?}: expected {message:?}\n{run}"
        );
    }
    let run = cmd.run(&["audit", "--concurrency", "0"]);
    assert_eq!(run.code, 2, "clap rejects out-of-range values\n{run}");
    assert!(run.stderr.contains("--concurrency"), "{run}");
}

#[test]
fn unreachable_aws_exits_3_without_a_report() {
    // A port nothing listens on: the SDK's connection fails at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut cmd = Cmd::new();
    cmd.file(
        "rules/ok.toml",
        "[[rule]]\nid = \"all\"\ndestination = { account = \"222222222222\" }\nmax_age = \"1d\"\n",
    )
    .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
    .env("AWS_REGION", "us-east-1")
    .env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-value");
    let run = cmd.run(&["audit", "--out", "run", "--regions", "us-east-1"]);
    assert_eq!(run.code, 3, "{run}");
    assert!(run.stderr.contains("cannot identify the caller"), "{run}");
    assert!(
        !cmd.path("run/findings.json").exists(),
        "no report that looks complete"
    );
    assert!(
        !run.stderr.contains("not-a-real-secret-value"),
        "secrets never in errors"
    );
}
