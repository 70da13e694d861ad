use serde_json::json;

use super::*;

fn inputs(remediate: bool) -> Inputs {
    Inputs {
        remediate,
        drills: false,
        partition: "aws".into(),
        role_name: "rdsguard".into(),
        caller_role_arn: Some("arn:aws:iam::999999999999:role/runner".into()),
        organization_id: Some("o-abcdefghij".into()),
        documents: json!({
            "caller_policy": {"Version": "2012-10-17", "Statement": [{"Sid": "C"}]},
            "audit_role_policy": {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Resource": "x${y}"}]},
            "source_remediation_policy": {"Version": "2012-10-17", "Statement": [{"Sid": "S"}]},
            "vault_remediation_policy": {"Version": "2012-10-17", "Statement": [{"Sid": "V"}]},
            "drill_policy": {"Version": "2012-10-17", "Statement": [{"Sid": "D"}]},
            "member_role_trust_policy": {"Version": "2012-10-17", "Statement": [{"Sid": "T", "Principal": {"AWS": "arn:aws:iam::999999999999:role/runner"}}]}
        }),
        vault_accounts: vec!["222222222222".into()],
        vault_key_aliases: vec!["alias/rds-vault".into()],
        source_key_aliases: vec!["alias/rds-share".into()],
        subnet_groups: vec!["vault-db".into()],
    }
}

#[test]
fn names_from_aliases_are_distinct() {
    let mut taken = BTreeSet::new();
    assert_eq!(logical_name("alias/rds-vault", &mut taken), "RdsVault");
    assert_eq!(logical_name("alias/rds_vault", &mut taken), "RdsVault2");
    assert_eq!(
        principal_name("arn:aws:iam::1:role/ci/runner"),
        ("runner".into(), false)
    );
    assert_eq!(
        principal_name("arn:aws:iam::1:user/ci"),
        ("ci".into(), true)
    );
}

#[test]
fn cloudformation_roles_carry_the_documents_with_a_parameter_for_the_caller() {
    let files = files(Format::CloudFormation, &inputs(true));
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "cloudformation/member-roles.json",
            "cloudformation/source-key.json",
            "cloudformation/vault.json",
            "cloudformation/caller.json"
        ]
    );
    let member = &files[0].content["Resources"]["MemberRole"]["Properties"];
    assert_eq!(member["RoleName"], "rdsguard");
    assert_eq!(
        member["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"],
        json!({"Ref": "CallerRoleArn"})
    );
    assert_eq!(
        member["Policies"][1]["PolicyDocument"]["Statement"][0]["Sid"],
        "S"
    );
    let key = &files[1].content["Resources"]["RdsShareKey"]["Properties"]["KeyPolicy"];
    assert_eq!(
        key["Statement"][1]["Principal"]["AWS"],
        json!(["arn:aws:iam::222222222222:root"])
    );
    assert_eq!(key["Statement"][1]["Action"], json!(SOURCE_KEY_ACTIONS));
    let vault = &files[2].content;
    assert_eq!(
        vault["Resources"]["VaultDbSubnetGroup"]["Properties"]["DBSubnetGroupName"],
        "vault-db"
    );
    assert_eq!(
        vault["Parameters"]["VaultDbSubnetIds"]["Type"],
        "List<AWS::EC2::Subnet::Id>"
    );
    assert_eq!(
        files[3].content["Parameters"]["CallerRoleName"]["Default"],
        "runner"
    );
}

#[test]
fn terraform_reads_the_documents_literally() {
    let files = files(Format::Terraform, &inputs(false));
    let member = &files[0].content;
    assert_eq!(files[0].path, "terraform/member-roles/main.tf.json");
    assert_eq!(
        member["locals"]["audit_role_policy"]["Statement"][0]["Resource"],
        "x$${y}"
    );
    assert_eq!(
        member["locals"]["member_role_trust_policy"]["Statement"][0]["Principal"]["AWS"],
        "${var.caller_role_arn}"
    );
    assert!(member["resource"]["aws_iam_role_policy"]
        .get("source_remediation")
        .is_none());
    assert_eq!(
        files[2].content["resource"]["aws_kms_alias"]["rds_vault"]["target_key_id"],
        "${aws_kms_key.rds_vault.key_id}"
    );
}

/// Rules with `drill`: the vault account's role also carries `drill_policy`; without, it does not.
#[test]
fn the_vault_role_carries_the_drill_policy_when_the_rules_drill() {
    let mut with = inputs(false);
    assert!(!with
        .vault_policies()
        .contains(&("rdsguard-drill", "drill_policy")));
    with.drills = true;
    assert_eq!(
        with.vault_policies(),
        [
            ("rdsguard-audit", "audit_role_policy"),
            ("rdsguard-drill", "drill_policy")
        ]
    );
    assert_eq!(
        with.source_policies(),
        [("rdsguard-audit", "audit_role_policy")]
    );
}

/// With --step-functions the trust policy has the state machine's statement: the caller parameter
/// replaces the caller's principal only, never the execution role's.
#[test]
fn the_state_machines_trust_statement_keeps_its_principal() {
    let mut with = inputs(true);
    with.documents["member_role_trust_policy"]["Statement"]
        .as_array_mut()
        .expect("statements")
        .push(json!({"Sid": "TheStateMachine", "Principal": {"AWS": "arn:aws:iam::999999999999:role/rdsguard-remediation-execution"}}));
    let trust = with.trust_policy(json!({"Ref": "CallerRoleArn"}));
    assert_eq!(
        trust["Statement"][0]["Principal"]["AWS"],
        json!({"Ref": "CallerRoleArn"})
    );
    assert_eq!(
        trust["Statement"][1]["Principal"]["AWS"],
        "arn:aws:iam::999999999999:role/rdsguard-remediation-execution"
    );
}
