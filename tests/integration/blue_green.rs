//! RDS Blue/Green deployments (issue 17): the green side of a deployment that has not switched over is
//! a staging copy of the blue database, not a source; once the deployment is gone, it is judged.

use serde_json::{json, Value};

use crate::harness::{
    block_on, calls_by, control, inject, remove_fault, seed, vault_and_prod, verdicts, Org,
};

const R: &str = "us-east-1";

fn source<'a>(findings: &'a Value, arn: &str) -> &'a Value {
    findings["sources"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["arn"] == arn))
        .unwrap_or_else(|| panic!("no source {arn} in {findings}"))
}

/// A Blue/Green deployment of `blue` made through the RDS API in the prod account two days ago (on
/// the emulator's clock, so that its green copy is past the rule's grace): (its id, the green
/// database's ARN).
fn create_deployment(org: &Org, name: &str, blue: &str) -> (String, String) {
    let prod = org.account("prod");
    control(
        "POST",
        "/_rdsguard/clock",
        Some(json!({"account_id": prod, "offset_seconds": -2 * 86_400})),
    );
    let client = aws_sdk_rds::Client::new(&org.sdk("prod", R));
    let created = block_on(
        client
            .create_blue_green_deployment()
            .blue_green_deployment_name(name)
            .source(blue)
            .send(),
    )
    .expect("CreateBlueGreenDeployment");
    control(
        "DELETE",
        &format!("/_rdsguard/clock?account_id={prod}"),
        None,
    );
    let deployment = created.blue_green_deployment().expect("deployment");
    (
        deployment
            .blue_green_deployment_identifier()
            .expect("id")
            .to_string(),
        deployment.target().expect("target").to_string(),
    )
}

fn delete_deployment(org: &Org, id: &str) {
    let client = aws_sdk_rds::Client::new(&org.sdk("prod", R));
    block_on(
        client
            .delete_blue_green_deployment()
            .blue_green_deployment_identifier(id)
            .delete_target(false)
            .send(),
    )
    .expect("DeleteBlueGreenDeployment");
}

fn audit(org: &Org) -> (i32, Value, String) {
    let mut cmd = org.rdsguard();
    cmd.file(
        "rules.toml",
        &format!(
            "[[rule]]\nid = \"prod\"\nselect = {{ accounts = [\"{}\"], regions = [\"{R}\"] }}\ndestination = {{ account = \"{}\", kms_key = \"alias/rds-vault\" }}\nmax_age = \"26h\"\n",
            org.account("prod"),
            org.account("vault")
        ),
    );
    let run = cmd.audit("run", &[]);
    (run.code, cmd.json("run/findings.json"), format!("{run}"))
}

fn organization() -> Org {
    seed(vault_and_prod(
        R,
        json!({
            "instances": [{"account": "prod", "id": "orders", "kms_key": "share-key"}],
            "snapshots": [{"account": "prod", "id": "orders-s", "instance": "orders", "at": "-3h"}],
            "copies": [{"from": {"account": "prod", "snapshot": "orders-s"}, "account": "vault", "id": "orders-c",
                        "kms_key": "vault-key"}]
        }),
    ))
}

/// The blue database is judged; the green one is UNGOVERNED with the deployment and the blue
/// database named, from one `DescribeBlueGreenDeployments` in its account-region; once the deployment
/// is deleted (keeping the green database), the former green database is judged like any other.
#[test]
fn the_green_side_of_a_blue_green_deployment_is_not_a_source_until_the_deployment_is_gone() {
    let org = organization();
    let blue = org.arn("prod", R, "orders");
    let (deployment, green) = create_deployment(&org, "orders-upgrade", &blue);
    let before = calls_by(&org.account("prod")).len();
    let (code, findings, run) = audit(&org);
    assert_eq!(code, 0, "{run}");
    let blue_report = source(&findings, &blue);
    assert_eq!(blue_report["status"], "COMPLIANT", "{blue_report}");
    let green_report = source(&findings, &green);
    assert_eq!(green_report["status"], "UNGOVERNED", "{green_report}");
    assert_eq!(green_report["rule"], Value::Null);
    let reason = green_report["ungoverned_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.starts_with(&format!(
            "green side of Blue/Green deployment {deployment} of {blue}"
        )),
        "{green_report}"
    );
    let calls = calls_by(&org.account("prod"));
    let blue_green_calls = calls[before..]
        .iter()
        .filter(|c| c.ends_with(":DescribeBlueGreenDeployments"))
        .count();
    assert_eq!(
        blue_green_calls, 1,
        "one call in the one scope with databases"
    );
    // The vault holds no database a rule judges: nothing asked there.
    assert!(!calls_by(&org.account("vault"))
        .iter()
        .any(|c| c.ends_with(":DescribeBlueGreenDeployments")));

    delete_deployment(&org, &deployment);
    let (code, findings, run) = audit(&org);
    assert_eq!(code, 1, "{run}");
    let former = source(&findings, &green);
    assert_eq!(former["rule"], "prod", "{former}");
    let green_id = green.rsplit(':').next().unwrap_or_default();
    let verdicts = verdicts(&org, &findings);
    assert_eq!(
        verdicts[&format!("prod/{green_id}")],
        (
            "NON_COMPLIANT".to_string(),
            vec!["replica-present=FAIL".to_string()]
        ),
        "{former}"
    );
    assert_eq!(verdicts["prod/orders"].0, "COMPLIANT");
}

/// A refused `DescribeBlueGreenDeployments` names no database green, and passes none: in that
/// account-region `replica-present` is ERROR for every database a rule would judge (the blue one too:
/// whether it is a source is as unknown), the error is in the report and the run exits 3.
#[test]
fn a_refused_blue_green_read_makes_the_scopes_databases_error_never_compliant() {
    let org = organization();
    let blue = org.arn("prod", R, "orders");
    let (_, green) = create_deployment(&org, "orders-refused", &blue);
    let fault = inject(json!({
        "service": "rds", "operation": "DescribeBlueGreenDeployments", "account_id": org.account("prod"),
        "code": "AccessDenied", "message": "denied by SCP", "http_status": 403
    }));
    let (code, findings, run) = audit(&org);
    remove_fault(fault);
    assert_eq!(code, 3, "{run}");
    let errors = findings["errors"].as_array().expect("errors");
    assert!(
        errors
            .iter()
            .any(|e| e["operation"] == "DescribeBlueGreenDeployments"
                && e["code"] == "AccessDenied"
                && e["account_id"] == org.account("prod").as_str()),
        "{errors:?}"
    );
    // Neither may be COMPLIANT: whether each is a source at all is unknown.
    for arn in [&green, &blue] {
        let report = source(&findings, arn);
        assert_eq!(report["status"], "ERROR", "{report}");
        let present = report["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "replica-present"))
            .expect("replica-present");
        assert_eq!(present["status"], "ERROR", "{present}");
        assert!(
            present["message"].as_str().is_some_and(|m| m.starts_with(
                "could not tell whether this is the green side of a Blue/Green deployment: AccessDenied"
            )),
            "{present}"
        );
    }
}
