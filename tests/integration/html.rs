//! report.html from a real audit: written into the run folder, one row per source, hostile names from
//! AWS shown as text, the same bytes again from `rdsguard report --from`, and errors on top when part
//! of the organization could not be read.

use serde_json::{json, Value};

use crate::audit::{audit_with_dev_denied, rules};
use crate::harness::{seed, Org};

const R: &str = "us-east-1";
const HOSTILE: &str = "<script>alert(1)</script>";

/// A small organization whose member account is named like a script and whose database carries a
/// script in a tag value: both come from AWS, so both are the attacker's to choose.
fn scenario() -> Org {
    let db = |account: &str, id: &str, key: Option<&str>, tags: Value| {
        json!({"account": account, "region": R, "id": id, "engine": "postgres",
               "encrypted": key.is_some(), "kms_key": key, "tags": tags})
    };
    seed(json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": HOSTILE},
                     {"key": "dev", "name": "Dev"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [
            db("prod", "orders", Some("share-key"), json!({"env": "prod", "team": HOSTILE})),
            db("prod", "payments", Some("share-key"), json!({"env": "prod"})),
            db("prod", "legacy-crm", Some("share-key"), json!({"env": "prod"})),
            db("dev", "scratch", None, json!({}))
        ],
        "snapshots": [{"account": "prod", "region": R, "id": "orders-s", "instance": "orders", "at": "-2h"}],
        "copies": [{"from": {"account": "prod", "region": R, "snapshot": "orders-s"},
                    "account": "vault", "region": R, "id": "orders-c", "kms_key": "vault-key", "at": "-1h",
                    "tags": {"rdsguard:source-arn": format!("arn:aws:rds:{R}:{{account:prod}}:db:orders")}}]
    }))
}

fn source_rows(html: &str) -> usize {
    html.matches("<tbody class=\"src\"").count()
}

#[test]
fn audit_writes_report_html_with_every_source_and_report_renders_it_again() {
    let org = scenario();
    let mut cmd = org.rdsguard();
    cmd.file("rules/prod.toml", &rules(&org));
    let run = cmd.run(&["audit", "--out", "run"]);
    assert_eq!(run.code, 1, "payments has no replica\n{run}");
    let findings = cmd.json("run/findings.json");
    let sources = findings["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 4, "{run}");

    let html = std::fs::read_to_string(cmd.path("run/report.html")).expect("run/report.html");
    // The summary says where the report is: its folder, then the file names, report.html first.
    assert!(
        run.stdout
            .contains("Reports written in run/:\n  report.html, "),
        "{run}"
    );
    assert_eq!(source_rows(&html), sources.len());
    for source in sources {
        let identifier = source["identifier"].as_str().expect("identifier");
        assert!(
            html.contains(&format!("<th scope=\"row\">{identifier}</th>")),
            "no row for {identifier}"
        );
    }
    for status in ["COMPLIANT", "NON_COMPLIANT", "EXEMPT", "UNGOVERNED"] {
        assert!(html.contains(&format!(">{status}</span>")), "{status}");
    }
    assert!(html.contains("Decommission ticket OPS-123"));
    assert!(html.contains(&org.account("vault")));
    assert!(html.contains("Complete: every account and region in scope was read."));

    // The account name and the tag value from AWS are text, never markup.
    assert!(
        !html.contains("<script>alert"),
        "unescaped script from AWS data"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );

    // A saved report renders to the same page.
    let again = cmd.run(&["report", "--from", "run/findings.json", "--out", "other"]);
    assert_eq!(again.code, 0, "{again}");
    let rendered =
        std::fs::read_to_string(cmd.path("other/report.html")).expect("other/report.html");
    assert!(
        rendered == html,
        "report --from renders a different report.html"
    );
}

#[test]
fn an_unreadable_account_is_shown_first() {
    let org = scenario();
    let (cmd, run) = audit_with_dev_denied(&org);
    let dev = org.account("dev");
    assert_eq!(run.code, 3, "{run}");
    let html = std::fs::read_to_string(cmd.path("run/report.html")).expect("run/report.html");
    let banner = html
        .find("id=\"incomplete\"")
        .expect("the INCOMPLETE banner");
    assert!(banner < html.find("id=\"summary\"").expect("summary"));
    let errors = &html[banner..html.find("id=\"summary\"").unwrap_or(html.len())];
    for needle in [
        "AssumeRole",
        "AccessDenied",
        "not authorized to assume the role",
        &dev,
    ] {
        assert!(errors.contains(needle), "the banner lacks {needle}");
    }
    assert!(!html.contains("Complete: every account"));
    // dev's database was not seen: 3 rows, not 4.
    assert_eq!(source_rows(&html), 3);
}
