//! `rdsguard setup`'s CloudFormation templates deployed on the emulator in a fresh organization, the
//! way docs/setup.md deploys them: the member roles and the source keys as service-managed StackSets
//! on an OU of source accounts, the vault template as a stack in the vault account, the caller
//! template as a stack in the management account. Then an audit and an `audit --remediate` run as
//! the caller role, through the deployed role name, external id, keys and aliases.
//!
//! Moto's CloudFormation creates the IAM roles (inline policies), KMS keys (the launcher keeps their
//! key policy as AWS does: README (cfn)), aliases and managed policies for real, in each account;
//! its StackSets deploy service-managed instances to an OU's accounts. It does not enforce trust or
//! key policies (README, "Not fixed"): this proves the wiring (names, documents, key policies'
//! principals as rdsguard's own checks read them), the evaluator in iam_offline.rs proves the scope.

use serde_json::{json, Value};

use crate::harness::{python_json, seed, verdicts, Cmd};

const DEPLOY: &str = r#"
import json, sys
import boto3, botocore.config

spec = json.load(sys.stdin)
config = botocore.config.Config(retries={"total_max_attempts": 1})
R = "us-east-1"

def client(service, creds):
    return boto3.client(service, region_name=R, endpoint_url=spec["endpoint"], config=config,
                        aws_access_key_id=creds["access_key_id"],
                        aws_secret_access_key=creds["secret_access_key"],
                        aws_session_token=creds.get("session_token"))

def assume(creds, arn):
    c = client("sts", creds).assume_role(RoleArn=arn, RoleSessionName="setup")["Credentials"]
    return {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
            "session_token": c["SessionToken"]}

management = spec["credentials"]
templates = spec["templates"]

# The source accounts in an OU of their own; the vault stays outside it.
org = client("organizations", management)
root = org.list_roots()["Roots"][0]["Id"]
ou = org.create_organizational_unit(ParentId=root, Name="sources")["OrganizationalUnit"]["Id"]
for account in spec["sources"]:
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)

cfn = client("cloudformation", management)
instances = {}
for name in ["member-roles", "source-key"]:
    cfn.create_stack_set(StackSetName=f"rdsguard-{name}", TemplateBody=templates[name],
                         PermissionModel="SERVICE_MANAGED", Capabilities=["CAPABILITY_NAMED_IAM"],
                         AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False})
    cfn.create_stack_instances(StackSetName=f"rdsguard-{name}",
                               DeploymentTargets={"OrganizationalUnitIds": [ou]}, Regions=[R])
    instances[name] = sorted(
        (i["Account"], i["StackInstanceStatus"]["DetailedStatus"])
        for i in cfn.list_stack_instances(StackSetName=f"rdsguard-{name}")["Summaries"])

def stack(creds, name, body):
    c = client("cloudformation", creds)
    c.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"])
    s = c.describe_stacks(StackName=name)["Stacks"][0]
    return {"status": s["StackStatus"],
            "outputs": {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])}}

vault_creds = assume(management, f"arn:aws:iam::{spec['vault']}:role/OrganizationAccountAccessRole")
stacks = {"vault": stack(vault_creds, "rdsguard-vault", templates["vault"])}

# The role that runs rdsguard, then the caller template that gives it its policy.
iam = client("iam", management)
iam.create_role(RoleName="rdsguard-runner", AssumeRolePolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"AWS": f"arn:aws:iam::{spec['management']}:root"}}]}))
stacks["caller"] = stack(management, "rdsguard-caller", templates["caller"])
caller_policies = []
for attached in iam.list_attached_role_policies(RoleName="rdsguard-runner")["AttachedPolicies"]:
    policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
    version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
    caller_policies.append(version["PolicyVersion"]["Document"])

# What each account's IAM and KMS now hold.
accounts = {}
for account in spec["sources"] + [spec["vault"]]:
    creds = assume(management, f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
    member_iam = client("iam", creds)
    role = member_iam.get_role(RoleName=spec["role_name"])["Role"]
    policies = {name: member_iam.get_role_policy(RoleName=spec["role_name"], PolicyName=name)["PolicyDocument"]
                for name in member_iam.list_role_policies(RoleName=spec["role_name"])["PolicyNames"]}
    kms = client("kms", creds)
    aliases = {}
    for alias in kms.list_aliases()["Aliases"]:
        if alias["AliasName"].startswith("alias/aws/") or "TargetKeyId" not in alias:
            continue
        key = kms.describe_key(KeyId=alias["AliasName"])["KeyMetadata"]
        policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        aliases[alias["AliasName"]] = {"arn": key["Arn"], "policy": json.loads(policy)}
    accounts[account] = {"trust": role["AssumeRolePolicyDocument"], "policies": policies, "aliases": aliases}

runner = assume(management, f"arn:aws:iam::{spec['management']}:role/rdsguard-runner")
print(json.dumps({"instances": instances, "stacks": stacks, "accounts": accounts,
                  "caller_policies": caller_policies, "runner": runner}))
"#;

#[test]
fn the_cloudformation_set_up_deploys_and_an_audit_and_a_remediation_run_through_it() {
    let org = seed(json!({
        "accounts": [{"key": "vault"}, {"key": "prod"}, {"key": "stage"}],
        "instances": [
            {"account": "prod", "id": "orders", "tags": {"env": "prod"}, "encrypted": true, "kms_key": "aws/rds"},
            {"account": "stage", "id": "billing", "tags": {"env": "prod"}, "encrypted": false}
        ]
    }));
    let (management, vault) = (org.account("management"), org.account("vault"));
    let sources = [org.account("prod"), org.account("stage")];
    let caller = format!("arn:aws:iam::{management}:role/rdsguard-runner");
    let organization = org.seeded["organization_id"]
        .as_str()
        .expect("organization id")
        .to_string();
    let rules = format!(
        r#"[[rule]]
id = "prod"
select = {{ tags = {{ env = "prod" }}, regions = ["us-east-1"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = {{ min = 1, max = 3 }}
"#
    );

    // The set-up, written by rdsguard, as a new organization's administrator would.
    let mut cmd = Cmd::new();
    cmd.file("rules.toml", &rules);
    let run = cmd.run(&[
        "setup",
        "--format",
        "cloudformation",
        "--mode",
        "remediate",
        "--rules",
        "rules.toml",
        "--caller-role-arn",
        &caller,
        "--organization-id",
        &organization,
        "--external-id",
        "nightly",
        "--out",
        "setup",
    ]);
    assert_eq!(run.code, 0, "{run}");
    let template = |name: &str| {
        std::fs::read_to_string(cmd.path(&format!("setup/cloudformation/{name}.json")))
            .expect("template")
    };
    let deployed = python_json(
        DEPLOY,
        &json!({
            "endpoint": crate::harness::emulator().endpoint,
            "credentials": org.seeded["credentials"],
            "management": management,
            "vault": vault,
            "sources": sources,
            "role_name": "rdsguard",
            "templates": {
                "member-roles": template("member-roles"),
                "source-key": template("source-key"),
                "vault": template("vault"),
                "caller": template("caller"),
            }
        }),
    );

    // Every stack and stack instance completed.
    for name in ["member-roles", "source-key"] {
        let mut expected: Vec<Value> = sources.iter().map(|a| json!([a, "SUCCEEDED"])).collect();
        expected.sort_by_key(|v| v[0].as_str().unwrap_or_default().to_string());
        assert_eq!(deployed["instances"][name], json!(expected), "{name}");
    }
    for name in ["vault", "caller"] {
        assert_eq!(
            deployed["stacks"][name]["status"], "CREATE_COMPLETE",
            "{name}"
        );
    }

    // Each account holds the role with iam-policy's documents, and the keys under the rules' aliases.
    let documents = printed_for(&cmd, &caller, &organization);
    for account in &sources {
        let a = &deployed["accounts"][account];
        assert_eq!(a["trust"], documents["member_role_trust_policy"]);
        assert_eq!(
            a["policies"],
            json!({
                "rdsguard-audit": documents["audit_role_policy"],
                "rdsguard-source-remediation": documents["source_remediation_policy"],
            })
        );
        let key = &a["aliases"]["alias/rds-share"];
        assert_eq!(
            key["policy"]["Statement"][1]["Principal"]["AWS"],
            json!([format!("arn:aws:iam::{vault}:root")])
        );
        assert_eq!(a["aliases"].as_object().map(|m| m.len()), Some(1));
    }
    let v = &deployed["accounts"][&vault];
    assert_eq!(v["trust"], documents["member_role_trust_policy"]);
    assert_eq!(
        v["policies"],
        json!({
            "rdsguard-audit": documents["audit_role_policy"],
            "rdsguard-vault-remediation": documents["vault_remediation_policy"],
        })
    );
    let vault_key = v["aliases"]["alias/rds-vault"]["arn"]
        .as_str()
        .expect("the vault key")
        .to_string();
    assert_eq!(
        deployed["stacks"]["vault"]["outputs"]["RdsVaultKeyArn"],
        json!(vault_key)
    );
    assert_eq!(
        deployed["caller_policies"],
        json!([documents["caller_policy"]])
    );

    // The nightly job, as the caller role, through the deployed role name and external id.
    let runner = &deployed["runner"];
    let mut audit = Cmd::new();
    let endpoint = &crate::harness::emulator().endpoint;
    audit
        .aws(endpoint, "us-east-1", runner)
        .file("rules.toml", &rules);
    let connect = ["--role-name", "rdsguard", "--external-id", "nightly"];
    let mut args = vec!["audit", "--rules", "rules.toml", "--out", "first"];
    args.extend(connect);
    let run = audit.run(&args);
    assert_eq!(run.code, 1, "no replica yet: {run}");
    let findings = audit.json("first/findings.json");
    assert_eq!(findings["errors"], json!([]), "{run}");
    // Nothing else fails: source-key-shareable read the deployed source keys through their alias and
    // found the vault granted, so remediation can share under them.
    let verdict = verdicts(&org, &findings);
    for source in ["prod/orders", "stage/billing"] {
        assert_eq!(
            verdict[source],
            (
                "NON_COMPLIANT".to_string(),
                vec![
                    "replica-present=FAIL".to_string(),
                    "retention-count=FAIL".to_string()
                ]
            ),
            "{source}: {run}"
        );
    }

    let mut args = vec![
        "audit",
        "--rules",
        "rules.toml",
        "--out",
        "repair",
        "--remediate",
    ];
    args.extend(connect);
    let run = audit.run(&args);
    assert_eq!(run.code, 0, "{run}");
    let findings = audit.json("repair/findings.json");
    assert_eq!(findings["errors"], json!([]), "{run}");
    for source in findings["sources"].as_array().expect("sources") {
        assert_eq!(source["status"], "COMPLIANT", "{source}");
        assert_eq!(source["latest_replica"]["account_id"], json!(vault));
        assert_eq!(
            source["latest_replica"]["kms_key_arn"],
            json!(vault_key),
            "{source}"
        );
    }
    assert_eq!(findings["sources"].as_array().map(Vec::len), Some(2));
}

/// iam-policy's documents for the deployed set-up.
fn printed_for(cmd: &Cmd, caller: &str, organization: &str) -> Value {
    let run = cmd.run(&[
        "iam-policy",
        "--mode",
        "remediate",
        "--rules",
        "rules.toml",
        "--role-name",
        "rdsguard",
        "--caller-role-arn",
        caller,
        "--organization-id",
        organization,
        "--external-id",
        "nightly",
    ]);
    assert_eq!(run.code, 0, "{run}");
    serde_json::from_str(&run.stdout).expect("iam-policy prints JSON")
}
