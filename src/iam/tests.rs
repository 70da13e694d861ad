//! The IAM documents: what each job's document allows, and under which conditions.

use super::*;

fn options<'a>(modes: &'a [Mode], secrets: &'a [SecretScope], one_role: bool) -> Options<'a> {
    Options {
        modes,
        partition: "aws",
        role_name: "rdsguard",
        caller_arn: Some("arn:aws:iam::111111111111:role/rdsguard-runner"),
        caller_account: None,
        external_id: Some("nightly"),
        organization_id: Some("o-abcdefghij"),
        secrets,
        backup_jobs: &[],
        drill_roles: &[],
        one_role,
    }
}

fn orders() -> Vec<SecretScope> {
    vec![SecretScope {
        account: "222222222222".into(),
        region: "*".into(),
        name: "rds/*".into(),
    }]
}

#[test]
fn the_audit_role_only_reads_and_reads_secrets_only_when_rules_name_them() {
    let without = policies(&options(&[Mode::Audit], &[], false));
    let audit = actions(&without["audit_role_policy"]);
    assert!(audit.iter().all(|a| {
        let name = a.split(':').nth(1).unwrap_or_default();
        name.starts_with("Describe") || name.starts_with("Get") || name.starts_with("List")
    }));
    assert!(!audit.iter().any(|a| a.starts_with("secretsmanager:")));
    assert!(without.get("source_remediation_policy").is_none());

    let secrets = orders();
    let with = policies(&options(&[Mode::Audit], &secrets, false));
    let audit = &with["audit_role_policy"]["Statement"];
    let read = audit
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["Sid"] == "ReadTheRulesSecrets")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        read["Resource"],
        "arn:aws:secretsmanager:*:222222222222:secret:rds/*-??????"
    );
    assert!(actions(&with["audit_role_policy"]).contains(&"kms:Decrypt".to_string()));
}

#[test]
fn deletes_and_shares_need_rdsguards_tag_and_sources_never_delete_databases() {
    let secrets = orders();
    let doc = policies(&options(&[Mode::Remediate], &secrets, false));
    for key in ["source_remediation_policy", "vault_remediation_policy"] {
        for s in doc[key]["Statement"].as_array().into_iter().flatten() {
            let writes = actions(&json!({"Statement": [s]}));
            let risky = writes.iter().any(|a| {
                a.contains(":Delete") || a.contains("SnapshotAttribute") || a.contains(":Restore")
            });
            // Subnet, parameter and option groups are used as they are; every database and
            // snapshot a risky call touches is rdsguard's.
            let touches_data = s["Resource"].to_string().contains("snapshot:")
                || s["Resource"].to_string().contains(":db:")
                || s["Resource"].to_string().contains(":cluster:");
            // The final-snapshot resource of DeleteDBCluster allows nothing alone: the
            // cluster, also checked, must be rdsguard's.
            let final_snapshot = s["Sid"] == "NoFinalSnapshotOfRestores";
            if risky && touches_data && !final_snapshot {
                assert!(s["Condition"].is_object(), "{key} {s}");
            }
            assert_ne!(s["Resource"], "*", "{key} {s}");
        }
    }
    let source = actions(&doc["source_remediation_policy"]);
    assert!(!source.contains(&"rds:DeleteDBInstance".to_string()));
    assert!(!source.contains(&"rds:DeleteDBCluster".to_string()));
    assert!(!source.iter().any(|a| a.starts_with("secretsmanager:")));
    let vault = actions(&doc["vault_remediation_policy"]);
    assert!(vault.contains(&"rds:DeleteDBInstance".to_string()));
    assert!(!vault.contains(&"rds:ModifyDBSnapshotAttribute".to_string()));
}

#[test]
fn one_role_holds_every_statement_of_the_separate_documents() {
    let secrets = orders();
    let modes = [Mode::Remediate, Mode::SecurityHub];
    let separate = policies(&options(&modes, &secrets, false));
    let one = policies(&options(&modes, &secrets, true));
    let statements = |v: &Value| v["Statement"].as_array().cloned().unwrap_or_default();
    let mut all: Vec<Value> = Vec::new();
    for key in [
        "audit_role_policy",
        "source_remediation_policy",
        "vault_remediation_policy",
        "security_hub_policy",
    ] {
        for s in statements(&separate[key]) {
            if !all.contains(&s) {
                all.push(s);
            }
        }
    }
    assert_eq!(statements(&one["member_role_policy"]), all);
    assert_eq!(one["caller_policy"], separate["caller_policy"]);
    assert!(one.get("audit_role_policy").is_none());
    for doc in [&one["caller_policy"], &one["member_role_policy"]] {
        let sids: Vec<String> = statements(doc)
            .iter()
            .map(|s| s["Sid"].to_string())
            .collect();
        let mut unique = sids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            sids.len(),
            "a Sid names one statement: {sids:?}"
        );
    }
}

#[test]
fn the_trust_policy_names_the_caller_the_external_id_and_the_organization() {
    let doc = policies(&options(&[Mode::Audit], &[], false));
    let trust = &doc["member_role_trust_policy"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["AWS"],
        "arn:aws:iam::111111111111:role/rdsguard-runner"
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["sts:ExternalId"],
        "nightly"
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        "o-abcdefghij"
    );
    assert_eq!(
        doc["caller_policy"]["Statement"][1]["Resource"],
        "arn:aws:iam::*:role/rdsguard"
    );
    let mut o = options(&[Mode::Audit], &[], false);
    o.caller_arn = None;
    o.caller_account = Some("111111111111");
    let doc = policies(&o);
    assert_eq!(
        doc["member_role_trust_policy"]["Statement"][0]["Principal"]["AWS"],
        "arn:aws:iam::111111111111:role/CALLER_ROLE_NAME"
    );
}

/// `--mode step-functions`: the member roles also trust the state machine's execution role, in the
/// caller's account, without the external id (Task `Credentials` carry a role ARN only).
#[test]
fn step_functions_adds_the_execution_role_to_the_member_trust() {
    let secrets = [];
    let mut o = options(&[Mode::Remediate], &secrets, false);
    o.external_id = Some("x-1");
    let trust = |o: &Options<'_>| policies(o)["member_role_trust_policy"]["Statement"].clone();
    assert_eq!(trust(&o).as_array().map(Vec::len), Some(1));
    let modes = [Mode::Remediate, Mode::StepFunctions];
    o.modes = &modes;
    let statements = trust(&o);
    assert_eq!(statements[1]["Sid"], "TheStateMachine");
    assert!(statements[1]["Principal"]["AWS"]
        .as_str()
        .is_some_and(|p| p.ends_with(":role/rdsguard-remediation-execution")));
    assert!(statements[1]["Condition"]["StringEquals"]["sts:ExternalId"].is_null());
    assert_eq!(
        statements[0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "x-1"
    );
}
