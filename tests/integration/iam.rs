//! Least privilege, proven under moto's IAM enforcement: the policies `rdsguard iam-policy` prints are
//! enough for each mode, and removing any one action makes the run fail or report ERROR for what that
//! action reads. Read-only by default, and no secret in any output. docs/reliability.md has the figures.
//!
//! Moto enforces the caller's identity policies (IAM users and assumed roles) on every API call in server
//! mode, for every service rdsguard uses (STS, Organizations, RDS, KMS, Secrets Manager, Security Hub).
//! It does not check role trust policies across accounts, KMS key policies, or the KMS permissions AWS
//! checks on the caller's behalf when RDS copies an encrypted snapshot: what those grant cannot be proven
//! here (see docs/reliability.md).

// The figures docs/reliability.md quotes (counts, timings) are printed: `-- --nocapture` shows them.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::harness::{python_json, Cmd, Org, PrivateEmulator, Run};

const R: &str = "us-east-1";

/// Creates IAM users (with access keys and an inline policy) in the management account, roles (trust
/// policy and inline policy) in every member account, and secrets, with the seeded management
/// credentials. Runs with IAM enforcement off.
const SETUP: &str = r#"
import json, sys
import boto3, botocore.config

spec = json.load(sys.stdin)
config = botocore.config.Config(retries={"total_max_attempts": 1})

def client(service, creds, region="us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=spec["endpoint"], config=config,
                        aws_access_key_id=creds["access_key_id"],
                        aws_secret_access_key=creds["secret_access_key"],
                        aws_session_token=creds.get("session_token"))

done = []
for org in spec["orgs"]:
    management = org["credentials"]
    members = {}
    for account in org["members"]:
        c = client("sts", management).assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
            RoleSessionName="iam-setup")["Credentials"]
        members[account] = {"access_key_id": c["AccessKeyId"], "secret_access_key": c["SecretAccessKey"],
                            "session_token": c["SessionToken"]}
    keys = {}
    iam = client("iam", management)
    for user in org["users"]:
        iam.create_user(UserName=user["name"])
        iam.put_user_policy(UserName=user["name"], PolicyName="rdsguard",
                            PolicyDocument=json.dumps(user["policy"]))
        key = iam.create_access_key(UserName=user["name"])["AccessKey"]
        keys[user["name"]] = {"access_key_id": key["AccessKeyId"],
                              "secret_access_key": key["SecretAccessKey"]}
    for account, creds in members.items():
        member_iam = client("iam", creds)
        for role in org["roles"]:
            member_iam.create_role(RoleName=role["name"],
                                   AssumeRolePolicyDocument=json.dumps(role["trust"]))
            member_iam.put_role_policy(RoleName=role["name"], PolicyName="rdsguard",
                                       PolicyDocument=json.dumps(role["policy"]))
    for secret in org["secrets"]:
        creds = members.get(secret["account"], management)
        client("secretsmanager", creds, secret["region"]).create_secret(
            Name=secret["name"], SecretString=secret["value"])
    done.append(keys)
print(json.dumps(done))
"#;

/// Creates, in each organization, its variants' IAM users (management account) and roles (every
/// member), and its secrets. Returns each organization's access keys by variant name.
pub(crate) fn setup_iam(
    endpoint: &str,
    orgs: &[(&Org, Vec<&Variant>, Value)],
) -> Vec<BTreeMap<String, Value>> {
    let input: Vec<Value> = orgs
        .iter()
        .map(|(org, variants, secrets)| {
            json!({
                "credentials": org.seeded["credentials"],
                "members": members(org),
                "users": variants.iter().map(|v| json!({"name": v.name, "policy": v.caller})).collect::<Vec<_>>(),
                "roles": variants.iter().map(|v| json!({"name": v.name, "trust": v.trust, "policy": v.member})).collect::<Vec<_>>(),
                "secrets": secrets,
            })
        })
        .collect();
    let done = python_json(SETUP, &json!({"endpoint": endpoint, "orgs": input}));
    done.as_array()
        .expect("one result per organization")
        .iter()
        .map(|keys| {
            keys.as_object()
                .expect("keys by variant")
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

/// The member accounts of a seeded organization.
pub(crate) fn members(org: &Org) -> Vec<String> {
    org.seeded["accounts"]
        .as_object()
        .expect("accounts")
        .iter()
        .filter(|(key, _)| *key != "management")
        .map(|(_, id)| id.as_str().unwrap_or_default().to_string())
        .collect()
}

/// rdsguard as an IAM user (long-term keys, no session token) assuming the role `role`.
fn run_as(
    endpoint: &str,
    keys: &Value,
    role: &str,
    rules: &str,
    extra: &[&str],
) -> (Run, Value, Cmd) {
    run_command_as(endpoint, keys, role, rules, "audit", extra)
}

/// [`run_as`] for any subcommand that takes `--rules`, `--out` and `--role-name`; the JSON it
/// writes (`findings.json`, or `drill.json` for `drill`), or null.
pub(crate) fn run_command_as(
    endpoint: &str,
    keys: &Value,
    role: &str,
    rules: &str,
    command: &str,
    extra: &[&str],
) -> (Run, Value, Cmd) {
    let mut cmd = Cmd::new();
    cmd.aws(endpoint, R, keys).file("rules.toml", rules);
    let mut args = vec![
        command,
        "--rules",
        "rules.toml",
        "--out",
        "run",
        "--role-name",
        role,
    ];
    args.extend_from_slice(extra);
    let run = cmd.run(&args);
    let file = match command {
        "drill" => "run/drill.json",
        _ => "run/findings.json",
    };
    let findings = if cmd.path(file).exists() {
        cmd.json(file)
    } else {
        Value::Null
    };
    (run, findings, cmd)
}

/// Runs `job` over `items`, a few at a time (rdsguard runs are light; the emulator is one process).
pub(crate) fn in_parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let mut results = Vec::new();
    for chunk in items.chunks(4) {
        let outcomes: Vec<R> = std::thread::scope(|scope| {
            let handles: Vec<_> = chunk.iter().map(|item| scope.spawn(|| job(item))).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("worker thread"))
                .collect()
        });
        results.extend(outcomes);
    }
    results
}

/// The rules `iam-policy` scopes secrets with. Moto judges actions only (the documents go to it
/// without their scope, `for_moto`), so one rule that restores with a secret is enough here; the
/// scope is proven in iam_offline.rs.
const POLICY_RULES: &str = r#"[[rule]]
id = "restored"
select = { identifiers = ["orders"] }
destination = { account = "222222222222" }
max_age = "26h"
restore = { instance_class = "db.t3.micro", secret = "rds/{identifier}" }

[[rule]]
id = "by-backup"
select = { identifiers = ["books"] }
destination = { account = "222222222222", replicas = ["backup"] }
max_age = "26h"
remediate = "backup"
backup = { destination_vault = "central" }
"#;

/// `rdsguard iam-policy --one-role` for these modes, role and caller (the IAM user `role_name` in the
/// management account): the three documents, parsed, as moto can judge them (`for_moto`). With
/// `parts`, also checks that each `--part` prints exactly its document.
pub(crate) fn printed_policies(
    modes: &[&str],
    role_name: &str,
    caller: &str,
    parts: bool,
) -> Value {
    let caller_arn = format!("arn:aws:iam::{caller}:user/{role_name}");
    let mut args = vec![
        "iam-policy",
        "--one-role",
        "--rules",
        "rules.toml",
        "--role-name",
        role_name,
        "--caller-role-arn",
        &caller_arn,
    ];
    for mode in modes {
        args.extend(["--mode", mode]);
    }
    let mut cmd = Cmd::new();
    cmd.file("rules.toml", POLICY_RULES);
    let run = cmd.run(&args);
    assert_eq!(run.code, 0, "{run}");
    let all: Value = serde_json::from_str(&run.stdout).expect("iam-policy prints JSON");
    if parts {
        for (part, key) in [
            ("caller-policy", "caller_policy"),
            ("member-role-policy", "member_role_policy"),
            ("member-role-trust-policy", "member_role_trust_policy"),
        ] {
            let mut with_part = args.clone();
            with_part.extend(["--part", part]);
            let run = cmd.run(&with_part);
            assert_eq!(run.code, 0, "{run}");
            let doc: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
            assert_eq!(doc, all[key], "--part {part}");
        }
    }
    json!({
        "caller_policy": for_moto(&all["caller_policy"]),
        "member_role_policy": for_moto(&all["member_role_policy"]),
        "member_role_trust_policy": all["member_role_trust_policy"],
    })
}

/// The same actions without their scope: moto matches a statement's Resource against the resource
/// it passes (usually `*`) and fails conditions on keys it does not supply. `sts:AssumeRole` keeps its
/// role ARN, which moto does check.
fn for_moto(policy: &Value) -> Value {
    let mut policy = policy.clone();
    for statement in policy["Statement"].as_array_mut().expect("statements") {
        let statement = statement.as_object_mut().expect("statement");
        statement.remove("Condition");
        if statement.get("Action") != Some(&json!("sts:AssumeRole")) {
            statement.insert("Resource".into(), json!("*"));
        }
    }
    policy
}

/// Every action of a policy document, as written.
pub(crate) fn actions(policy: &Value) -> Vec<String> {
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The document without `action` in the statements `pick` chooses; statements left empty are dropped.
fn without_where(policy: &Value, action: &str, pick: impl Fn(&Value) -> bool) -> Value {
    let mut policy = policy.clone();
    let statements = policy["Statement"].as_array_mut().expect("statements");
    for statement in statements.iter_mut().filter(|s| pick(s)) {
        if statement["Action"] == action {
            statement["Action"] = json!([]);
        } else if let Some(list) = statement["Action"].as_array_mut() {
            list.retain(|a| a != action);
        }
    }
    statements.retain(|s| s["Action"] != json!([]));
    policy
}

/// The caller policy's statements for its own account have Sids that start with this.
const OWN: &str = "OwnAccount";

fn is_own(statement: &Value) -> bool {
    statement["Sid"]
        .as_str()
        .is_some_and(|s| s.starts_with(OWN))
}

/// The document without `action` in the statements for the caller's own account (every statement
/// when `own` is false).
fn without(policy: &Value, own: bool, action: &str) -> Value {
    without_where(policy, action, |s| !own || is_own(s))
}

/// The document without `action` in every statement but those for the caller's own account.
fn without_outside(policy: &Value, action: &str) -> Value {
    without_where(policy, action, |s| !is_own(s))
}

/// One way of running rdsguard: an IAM user `name` in the management account with `caller` as its
/// policy, assuming the role `name` (in every member, with `member` as its policy and `trust`).
pub(crate) struct Variant {
    pub(crate) name: String,
    /// The action taken out, and from which document.
    pub(crate) removed: Option<(Removed, String)>,
    caller: Value,
    pub(crate) member: Value,
    trust: Value,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Removed {
    /// From the member role's policy.
    Member,
    /// From the caller policy's statement for the caller's own account.
    CallerOwnAccount,
    /// From the caller policy's organization and AssumeRole statements.
    CallerOrganization,
}

/// The exact printed policies for `name`, and one variant per action taken out of one document.
pub(crate) fn variants(
    modes: &[&str],
    management: &str,
    keep: impl Fn(Removed, &str) -> bool,
) -> Vec<Variant> {
    let exact = printed_policies(modes, "exact", management, true);
    let mut all = vec![Variant {
        name: "exact".into(),
        removed: None,
        caller: exact["caller_policy"].clone(),
        member: exact["member_role_policy"].clone(),
        trust: exact["member_role_trust_policy"].clone(),
    }];
    let mut removals: Vec<(Removed, String)> = actions(&exact["member_role_policy"])
        .into_iter()
        .map(|a| (Removed::Member, a))
        .collect();
    let own_actions: Vec<String> = exact["caller_policy"]["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| is_own(s))
        .flat_map(actions_of)
        .collect();
    assert!(
        !own_actions.is_empty(),
        "the caller policy has a statement for its own account"
    );
    removals.extend(
        own_actions
            .into_iter()
            .map(|a| (Removed::CallerOwnAccount, a)),
    );
    let org_actions: Vec<String> = exact["caller_policy"]["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|s| !is_own(s))
        .flat_map(actions_of)
        .collect();
    removals.extend(
        org_actions
            .into_iter()
            .map(|a| (Removed::CallerOrganization, a)),
    );
    removals.retain(|(from, action)| keep(*from, action));
    // An action can be in several statements of a document (scoped differently): one variant each.
    let mut seen = Vec::new();
    removals.retain(|r| {
        let new = !seen.contains(r);
        seen.push(r.clone());
        new
    });
    for (i, (from, action)) in removals.into_iter().enumerate() {
        let name = format!("without-{i}");
        let printed = printed_policies(modes, &name, management, false);
        let (caller, member) = match from {
            Removed::Member => (
                printed["caller_policy"].clone(),
                without(&printed["member_role_policy"], false, &action),
            ),
            Removed::CallerOwnAccount => (
                without(&printed["caller_policy"], true, &action),
                printed["member_role_policy"].clone(),
            ),
            Removed::CallerOrganization => (
                without_outside(&printed["caller_policy"], &action),
                printed["member_role_policy"].clone(),
            ),
        };
        all.push(Variant {
            name,
            removed: Some((from, action)),
            caller,
            member,
            trust: printed["member_role_trust_policy"].clone(),
        });
    }
    all
}

fn actions_of(statement: &Value) -> Vec<String> {
    actions(&json!({"Statement": [statement]}))
}

struct Enforced {
    emulator: PrivateEmulator,
    org: Org,
    /// Variant name -> the IAM user's access keys.
    keys: BTreeMap<String, Value>,
}

impl Enforced {
    /// Seeds `spec` into a private emulator and creates every variant's user and roles (and the
    /// secrets), with IAM enforcement still off.
    fn new(spec: Value, variants: &[Variant], secrets: impl Fn(&Org) -> Value) -> Enforced {
        let emulator = PrivateEmulator::start();
        let org = emulator.seed(spec);
        let keys = setup_iam(
            &emulator.endpoint,
            &[(&org, variants.iter().collect(), secrets(&org))],
        )
        .remove(0);
        Enforced {
            emulator,
            org,
            keys,
        }
    }

    fn run(&self, variant: &str, rules: &str, extra: &[&str]) -> (Run, Value, Cmd) {
        run_as(
            &self.emulator.endpoint,
            &self.keys[variant],
            variant,
            rules,
            extra,
        )
    }

    /// Runs every variant, a few at a time; results in the variants' order.
    fn run_all(&self, variants: &[Variant], rules: &str, extra: &[&str]) -> Vec<(Run, Value)> {
        in_parallel(variants, |v| {
            let (run, findings, _) = self.run(&v.name, rules, extra);
            (run, findings)
        })
    }
}

/// An organization whose audit calls every read action: sources in a member and in the management
/// account (read with the caller's own credentials), instances and clusters, manual snapshots and
/// cluster snapshots in both, source keys whose policy is read, instances in option groups of their
/// own, replicas in the vault under its key, and a rule that restores (its secret is read in the vault).
fn spec() -> Value {
    let arn = |account: &str, kind: &str, id: &str| {
        format!("arn:aws:rds:{R}:{{account:{account}}}:{kind}:{id}")
    };
    let copy = |account: &str, from: &str, id: &str, source: String| {
        json!({"from": {"account": account, "region": R, "snapshot": from}, "account": "vault",
               "region": R, "id": id, "kms_key": "vault-key", "at": "-1h",
               "tags": {"rdsguard:source-arn": source}})
    };
    let restored = |account: &str, id: &str, source: String, in_account: &str, replica: &str| {
        json!({"account": account, "region": R, "id": id, "engine": "postgres",
               "tags": {"rdsguard:source-arn": source,
                        "rdsguard:restored-from": format!("arn:aws:rds:{R}:{{account:{in_account}}}:snapshot:{replica}")}})
    };
    json!({
        "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]},
            {"key": "mgmt-share", "account": "management", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        // Option groups of their own: the audit lists each account's (rds:DescribeOptionGroups).
        "option_groups": [
            {"account": "prod", "region": R, "name": "plain-options", "engine": "postgres", "major_engine_version": "13"},
            {"account": "management", "region": R, "name": "admin-options", "engine": "postgres", "major_engine_version": "13"}
        ],
        "instances": [
            {"account": "prod", "region": R, "id": "orders", "engine": "postgres", "kms_key": "share-key"},
            {"account": "prod", "region": R, "id": "plain", "engine": "postgres",
             "params": {"OptionGroupName": "plain-options"}},
            {"account": "management", "region": R, "id": "admin", "engine": "postgres", "kms_key": "mgmt-share",
             "params": {"OptionGroupName": "admin-options"}},
            // Restores of the newest replicas, which the rules' secrets point at.
            restored("vault", "orders-restored", arn("prod", "db", "orders"), "vault", "orders-c"),
            restored("management", "plain-restored", arn("prod", "db", "plain"), "management", "plain-c")
        ],
        "clusters": [
            {"account": "prod", "region": R, "id": "ledger", "engine": "aurora-postgresql", "kms_key": "share-key"},
            {"account": "management", "region": R, "id": "books", "engine": "aurora-postgresql", "kms_key": "mgmt-share"}
        ],
        "snapshots": [
            {"account": "prod", "region": R, "id": "orders-s", "instance": "orders", "at": "-2h"},
            {"account": "prod", "region": R, "id": "plain-s", "instance": "plain", "at": "-2h"},
            {"account": "management", "region": R, "id": "admin-s", "instance": "admin", "at": "-2h"}
        ],
        "cluster_snapshots": [
            {"account": "prod", "region": R, "id": "ledger-s", "cluster": "ledger", "at": "-2h"},
            {"account": "management", "region": R, "id": "books-s", "cluster": "books", "at": "-2h"}
        ],
        "copies": [
            copy("prod", "orders-s", "orders-c", arn("prod", "db", "orders")),
            {"from": {"account": "prod", "region": R, "snapshot": "plain-s"}, "account": "management",
             "region": R, "id": "plain-c", "at": "-1h",
             "tags": {"rdsguard:source-arn": arn("prod", "db", "plain")}},
            copy("prod", "ledger-s", "ledger-c", arn("prod", "cluster", "ledger")),
            copy("management", "admin-s", "admin-c", arn("management", "db", "admin")),
            copy("management", "books-s", "books-c", arn("management", "cluster", "books"))
        ],
        // AWS Backup copies of ledger in a vault of the vault account: the audit lists the vaults,
        // their points, and reads the access policy of the vault holding a judged database's point.
        "backup_vaults": [
            {"account": "prod", "region": R, "name": "Default", "kms_key": "share-key", "at": "-3d"},
            {"account": "vault", "region": R, "name": "central", "kms_key": "vault-key",
             "access_policy": ["prod"], "at": "-3d"},
            {"account": "management", "region": R, "name": "central", "access_policy": ["prod"], "at": "-3d"}
        ],
        // plain's backup is older than its manual copy, which stays the newest replica (restored).
        "backups": [{"id": "ledger-b", "account": "prod", "region": R, "vault": "Default",
                     "resource": "ledger", "at": "-2h", "delete_after_days": 35},
                    {"id": "plain-b", "account": "prod", "region": R, "vault": "Default",
                     "resource": "plain", "at": "-3h", "delete_after_days": 35}],
        "backup_copies": [{"id": "ledger-bc", "from": "ledger-b", "account": "vault", "region": R,
                           "vault": "central", "at": "-30m", "delete_after_days": 35},
                          {"id": "plain-bc", "from": "plain-b", "account": "management", "region": R,
                           "vault": "central", "at": "-30m", "delete_after_days": 35}]
    })
}

fn rules(org: &Org) -> String {
    let vault = org.account("vault");
    let prod = org.account("prod");
    let management = org.account("management");
    format!(
        r#"[[rule]]
id = "restored"
select = {{ identifiers = ["orders"], accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
restore = {{ instance_class = "db.t3.micro", secret = "rds/{{identifier}}" }}

[[rule]]
id = "to-management"
select = {{ identifiers = ["plain"], accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{management}" }}
max_age = "26h"
restore = {{ instance_class = "db.t3.micro", secret = "rds/{{identifier}}" }}
# The caller's own account is a destination too: its quotas are read there.
retain = {{ max = 5 }}

[[rule]]
id = "all"
select = {{ regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
# A bound on the copies kept: vault-capacity reads the vault's quotas (rds:DescribeAccountAttributes).
retain = {{ max = 5 }}
"#
    )
}

/// A secret value that must never be printed: the restore secret's password.
const PASSWORD: &str = "Pa55-w0rd-of-the-vault-never-printed";

fn secrets(org: &Org) -> Value {
    let secret = |account: &str, name: &str, instance: &str| {
        json!({"account": org.account(account), "region": R, "name": name,
               "value": json!({"engine": "postgres", "host": "db.vault.example", "port": 5432,
                               "dbInstanceIdentifier": instance, "username": "admin",
                               "password": PASSWORD}).to_string()})
    };
    json!([
        secret("vault", "rds/orders", "orders-restored"),
        secret("management", "rds/plain", "plain-restored")
    ])
}

/// Actions AWS checks on the caller's behalf when another service uses KMS for it (RDS copying or
/// sharing an encrypted snapshot, Secrets Manager reading or writing a secret under a customer managed
/// key). rdsguard never calls them itself, so they are not in the call log, and moto, which does not
/// model these service-to-KMS calls, cannot show that they are needed.
pub(crate) const IMPLICIT: &[(&str, &str)] = &[
    (
        "kms:Decrypt",
        "GetSecretValue on a CMK-encrypted secret; CopyDBSnapshot of an encrypted snapshot",
    ),
    (
        "kms:CreateGrant",
        "CopyDBSnapshot / RestoreDBInstanceFromDBSnapshot under a CMK",
    ),
    ("kms:ReEncryptFrom", "CopyDBSnapshot with another KmsKeyId"),
    ("kms:ReEncryptTo", "CopyDBSnapshot with another KmsKeyId"),
    (
        "kms:GenerateDataKeyWithoutPlaintext",
        "CopyDBSnapshot under a CMK",
    ),
    (
        "kms:GenerateDataKey",
        "PutSecretValue on a CMK-encrypted secret",
    ),
    (
        "iam:PassRole",
        "StartBackupJob / StartCopyJob / StartRestoreJob hand the rules' backup roles to AWS Backup",
    ),
];

/// The IAM actions the `members` called since `before` calls each (the reference run of `what`),
/// each one of the exact variant's member policy.
pub(crate) fn called_within(
    emulator: &PrivateEmulator,
    members: &[String],
    before: &[usize],
    exact: &Variant,
    what: &str,
) -> std::collections::BTreeSet<String> {
    let called: std::collections::BTreeSet<String> = members
        .iter()
        .zip(before)
        .flat_map(|(a, n)| called_since(emulator, a, *n))
        .collect();
    let member_policy = actions(&exact.member);
    for call in &called {
        assert!(
            member_policy.contains(call),
            "{what} calls {call}, not in the member policy"
        );
    }
    called
}

/// The IAM actions (`service:Operation`) of the calls `account` made since `from` calls.
fn called_since(
    emulator: &PrivateEmulator,
    account: &str,
    from: usize,
) -> std::collections::BTreeSet<String> {
    emulator.calls_by(account).into_iter().skip(from).collect()
}

/// `identifier` -> (status, checks that are not PASS/SKIP).
fn verdicts(findings: &Value) -> BTreeMap<String, (String, Vec<String>)> {
    findings["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| {
            let failing = crate::harness::failing_checks(s);
            (
                s["identifier"].as_str().unwrap_or_default().to_string(),
                (
                    s["status"].as_str().unwrap_or_default().to_string(),
                    failing,
                ),
            )
        })
        .collect()
}

/// The API operation an IAM action allows (the same name in every service rdsguard calls).
pub(crate) fn operation(action: &str) -> &str {
    action.split(':').nth(1).unwrap_or(action)
}

/// What removing one action does to an audit that otherwise succeeds.
fn assert_fails_on(variant: &str, action: &str, run: &Run, findings: &Value) {
    assert_eq!(
        run.code, 3,
        "{variant}: without {action} the run is incomplete\n{run}"
    );
    let op = operation(action);
    if findings.is_null() {
        // Nothing could be audited: the reason is on stderr.
        assert!(
            run.stderr.contains(op),
            "{variant}: stderr names {op}\n{run}"
        );
        return;
    }
    let errors = findings["errors"].as_array().expect("errors");
    assert!(
        errors.iter().any(|e| e["operation"] == op),
        "{variant}: errors[] names {op}: {errors:#?}"
    );
    for error in errors {
        assert_eq!(
            error["operation"], op,
            "{variant}: only {op} fails: {error}"
        );
    }
}

/// A random 12-digit management account, known before seeding, for the trust policy.
pub(crate) fn management_account() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}",
        300_000_000_000u64 + u64::from(nanos) * 97 % 600_000_000_000
    )
}

/// Runs the exact variant without enforcement (the reference), checks that everything it called is in
/// the printed policy of the principal that called it, then runs every variant under IAM enforcement:
/// the exact policies give the reference's verdicts; without an action that was called, the run is
/// incomplete and names that operation; an action never called must be one AWS checks on rdsguard's
/// behalf (IMPLICIT). Returns the reference's findings.
fn prove(
    enforced: &Enforced,
    variants: &[Variant],
    rules: &str,
    extra: &[&str],
    want: Option<&BTreeMap<String, (String, Vec<String>)>>,
    title: &str,
) -> Value {
    let org = &enforced.org;
    let management = org.account("management");
    let members = members(org);
    // Reference: the same user and role with enforcement off; what it called, by whom.
    let before: Vec<usize> = std::iter::once(&management)
        .chain(&members)
        .map(|a| enforced.emulator.calls_by(a).len())
        .collect();
    let (reference, reference_findings, _) = enforced.run("exact", rules, extra);
    assert_eq!(reference_findings["errors"], json!([]), "{reference}");
    assert!(reference.code <= 1, "{reference}");
    assert!(reference_findings["run"]["organization_id"].is_string());
    let expected = verdicts(&reference_findings);
    if let Some(want) = want {
        assert_eq!(&expected, want, "{reference}");
    }
    let own_calls = called_since(&enforced.emulator, &management, before[0]);
    let member_calls: std::collections::BTreeSet<String> = members
        .iter()
        .zip(&before[1..])
        .flat_map(|(a, n)| called_since(&enforced.emulator, a, *n))
        .collect();
    // Completeness: everything called is in the printed policy of the principal that called it.
    let exact = &variants[0];
    let member_policy = actions(&exact.member);
    let caller_policy = actions(&exact.caller);
    for call in &member_calls {
        assert!(
            member_policy.contains(call),
            "the member role calls {call}, not in its policy"
        );
    }
    for call in own_calls.iter().filter(|c| *c != "sts:GetCallerIdentity") {
        // sts:AssumeRole's resource is checked by the enforced run below.
        assert!(
            caller_policy.contains(call),
            "the caller calls {call}, not in its policy"
        );
    }

    enforced.emulator.enforce_iam(true);
    let started = std::time::Instant::now();
    let results = enforced.run_all(variants, rules, extra);
    let elapsed = started.elapsed();
    let mut proven = Vec::new();
    let mut unprovable = Vec::new();
    for (variant, (run, findings)) in variants.iter().zip(&results) {
        let Some((from, action)) = &variant.removed else {
            // Exactly the printed policies: the same verdicts as without enforcement.
            assert_eq!(findings["errors"], json!([]), "exact policies\n{run}");
            assert_eq!(run.code, reference.code, "{run}");
            assert_eq!(verdicts(findings), expected, "{run}");
            continue;
        };
        let label = format!("{} without {action} ({from:?})", variant.name);
        let called = match from {
            Removed::Member => member_calls.contains(action),
            Removed::CallerOwnAccount | Removed::CallerOrganization => own_calls.contains(action),
        };
        if action == "organizations:DescribeOrganization" {
            // Optional by design: a failure is only logged, and the organization id is lost.
            assert!(called);
            assert_eq!(run.code, reference.code, "{label}\n{run}");
            assert_eq!(findings["errors"], json!([]), "{label}");
            assert!(findings["run"]["organization_id"].is_null(), "{label}");
            assert_eq!(verdicts(findings), expected, "{label}");
            proven.push(format!("{label}: organization_id lost"));
        } else if called {
            assert_fails_on(&label, action, run, findings);
            // A read that failed shows in the verdicts; a failed Security Hub write only in errors[]
            // and the exit code (the verdicts stand).
            if !findings.is_null() && !action.starts_with("securityhub:") {
                let was_compliant =
                    |id: &String| expected.get(id).is_some_and(|(s, _)| s == "COMPLIANT");
                for (id, (status, _)) in verdicts(findings) {
                    assert!(
                        status != "COMPLIANT" || was_compliant(&id),
                        "{label}: {id} became COMPLIANT"
                    );
                }
                let affected = verdicts(findings) != expected
                    || !findings["unreadable_scopes"]
                        .as_array()
                        .expect("scopes")
                        .is_empty();
                assert!(
                    affected,
                    "{label}: no source or scope shows what was not read\n{run}"
                );
            }
            proven.push(label);
        } else {
            // Never called by this principal: only an action AWS checks on rdsguard's behalf may be
            // in the policy without showing up in the call log; under moto its removal changes nothing.
            assert!(
                IMPLICIT.iter().any(|(a, _)| a == action),
                "{label}: {action} is in the printed policy but never called: superfluous?"
            );
            assert_eq!(run.code, reference.code, "{label}\n{run}");
            assert_eq!(verdicts(findings), expected, "{label}");
            unprovable.push(label);
        }
    }
    eprintln!(
        "least privilege ({title}): {} variants under IAM enforcement in {:.1}s\n  proven needed:\n    {}\n  not provable with moto:\n    {}",
        variants.len(),
        elapsed.as_secs_f64(),
        proven.join("\n    "),
        unprovable.join("\n    ")
    );
    reference_findings
}

#[test]
fn the_printed_audit_policies_are_enough_and_every_action_is_needed() {
    let management = management_account();
    let mut spec = spec();
    spec["management_account"] = json!(management);
    let variants = variants(&["audit"], &management, |_, _| true);
    let enforced = Enforced::new(spec, &variants, secrets);
    let rules = rules(&enforced.org);
    let compliant = (String::from("COMPLIANT"), Vec::new());
    // plain is unencrypted and its rule names no source_kms_key: shareable as it is (encrypted on the
    // copy), but its copy in the management account is unencrypted.
    let plain = (
        String::from("NON_COMPLIANT"),
        vec![String::from("replica-encryption=FAIL")],
    );
    let want: BTreeMap<String, (String, Vec<String>)> = [
        ("admin", compliant.clone()),
        ("books", compliant.clone()),
        ("ledger", compliant.clone()),
        ("orders", compliant),
        ("plain", plain),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    prove(&enforced, &variants, &rules, &[], Some(&want), "audit");
}

#[test]
fn the_printed_security_hub_policies_are_enough_and_every_action_is_needed() {
    let management = management_account();
    let mut spec = spec();
    spec["management_account"] = json!(management);
    // A failing database in the caller's own account too, so that findings are imported there.
    spec["instances"]
        .as_array_mut()
        .expect("instances")
        .push(json!({"account": "management", "region": R, "id": "legacy", "engine": "mysql"}));
    // The audit actions are proven above: take out only the Security Hub ones here.
    let variants = variants(&["audit", "security-hub"], &management, |_, a| {
        a.starts_with("securityhub:")
    });
    assert_eq!(
        variants.len(),
        5,
        "exact, and two actions out of two documents"
    );
    let enforced = Enforced::new(spec, &variants, secrets);
    let rules = rules(&enforced.org);
    prove(
        &enforced,
        &variants,
        &rules,
        &["--security-hub"],
        None,
        "security-hub",
    );
}

/// An organization where `--remediate` does every kind of repair: an unencrypted source (snapshot,
/// re-encrypt under the shareable key, share, copy, clean up), an encrypted one restored with a secret
/// (restore, repoint the secret, tag and prune the earlier restore), an Aurora cluster restored with a
/// secret (cluster snapshot, restore a cluster and its instance), and replicas to prune.
fn remediation_spec(management: &str) -> Value {
    let arn = |kind: &str, id: &str| format!("arn:aws:rds:{R}:{{account:prod}}:{kind}:{id}");
    let managed = |id: &str, at: &str| {
        json!({"from": {"account": "prod", "region": R, "snapshot": "hoard-s"}, "account": "vault",
               "region": R, "id": id, "kms_key": "vault-key", "at": at,
               "tags": {"rdsguard:source-arn": arn("db", "hoard"), "rdsguard:managed": "true"}})
    };
    let old_restore = |id: &str, source: String| {
        json!({"account": "vault", "region": R, "id": id, "engine": "postgres",
               "tags": {"rdsguard:source-arn": source, "rdsguard:role": "restore", "rdsguard:managed": "true"}})
    };
    json!({
        "management_account": management,
        "accounts": [{"key": "vault"}, {"key": "prod"}],
        "keys": [
            {"key": "vault-key", "account": "vault", "region": R, "alias": "alias/rds-vault"},
            {"key": "share-key", "account": "prod", "region": R, "alias": "alias/rds-share", "grant_accounts": ["vault"]}
        ],
        "instances": [
            {"account": "prod", "region": R, "id": "plain", "engine": "postgres"},
            {"account": "prod", "region": R, "id": "orders", "engine": "postgres", "kms_key": "share-key"},
            {"account": "prod", "region": R, "id": "hoard", "engine": "postgres", "kms_key": "share-key"},
            // Copied by AWS Backup jobs (remediate = "backup").
            {"account": "prod", "region": R, "id": "books", "engine": "postgres", "kms_key": "share-key"},
            old_restore("rdsguard-orders-20261120000000-aaaaaaaa", arn("db", "orders")),
            old_restore("rdsguard-orders-20261119000000-aaaaaaaa", arn("db", "orders"))
        ],
        "clusters": [
            {"account": "prod", "region": R, "id": "ledger", "engine": "aurora-postgresql", "kms_key": "share-key"},
            {"account": "vault", "region": R, "id": "rdsguard-ledger-20261119000000-aaaaaaaa",
             "engine": "aurora-postgresql",
             "tags": {"rdsguard:source-arn": arn("cluster", "ledger"), "rdsguard:role": "restore",
                      "rdsguard:managed": "true"}}
        ],
        "snapshots": [{"account": "prod", "region": R, "id": "hoard-s", "instance": "hoard", "at": "-50h"}],
        "copies": [
            managed("hoard-1", "-49h"), managed("hoard-2", "-48h"),
            managed("hoard-3", "-47h"), managed("hoard-4", "-46h")
        ],
        "backup_vaults": [
            {"account": "prod", "region": R, "name": "Default", "kms_key": "share-key", "at": "-3d"},
            {"account": "vault", "region": R, "name": "central", "kms_key": "vault-key",
             "access_policy": ["prod"], "at": "-3d"}
        ]
    })
}

fn remediation_rules(org: &Org) -> String {
    let (vault, prod) = (org.account("vault"), org.account("prod"));
    format!(
        r#"[[rule]]
id = "by-backup"
select = {{ identifiers = ["books"], accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", replicas = ["backup"], kms_key = "alias/rds-vault" }}
max_age = "26h"
remediate = "backup"
backup = {{ destination_vault = "central" }}

[[rule]]
id = "restored"
select = {{ identifiers = ["orders", "ledger"], accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
restore = {{ instance_class = "db.t3.micro", secret = "rds/{{identifier}}", keep = 1 }}

[[rule]]
id = "prod"
select = {{ accounts = ["{prod}"], regions = ["{R}"] }}
destination = {{ account = "{vault}", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = {{ min = 1, max = 3 }}
"#
    )
}

fn remediation_secrets(org: &Org) -> Value {
    let secret = |name: &str, value: Value| {
        json!({"account": org.account("vault"), "region": R, "name": name,
               "value": value.to_string()})
    };
    json!([
        secret(
            "rds/orders",
            json!({"engine": "postgres", "host": "old.example", "port": 5432,
                                    "dbInstanceIdentifier": "rdsguard-orders-20261120000000-aaaaaaaa",
                                    "username": "admin", "password": PASSWORD})
        ),
        secret(
            "rds/ledger",
            json!({"engine": "aurora-postgresql", "host": "none.example", "port": 5432,
                                    "username": "admin", "password": PASSWORD})
        )
    ])
}

/// Remediation changes the organization, so every variant gets an organization of its own (all in one
/// private emulator, set up before enforcement is turned on). The audit actions are proven above; here
/// each action only remediation needs is taken out of the member role.
#[test]
fn the_printed_remediation_policies_are_enough_and_every_action_is_needed() {
    let management = management_account();
    let audit_actions =
        actions(&printed_policies(&["audit"], "x", &management, false)["member_role_policy"]);
    let variants = variants(&["remediate"], &management, |from, action| {
        from == Removed::Member && !audit_actions.iter().any(|a| a == action)
    });
    let emulator = PrivateEmulator::start();
    let started = std::time::Instant::now();
    // One organization per variant, and one for the reference run (enforcement off).
    let specs: Vec<(usize, String)> = (0..=variants.len())
        .map(|i| (i, format!("{}{:02}", &management[..10], i)))
        .collect();
    let orgs: Vec<Org> = in_parallel(&specs, |(_, account)| {
        emulator.seed(remediation_spec(account))
    });
    let reference_org = &orgs[variants.len()];
    let setups: Vec<(&Org, Vec<&Variant>, Value)> = orgs
        .iter()
        .enumerate()
        .map(|(i, org)| {
            let variant = variants.get(i).unwrap_or(&variants[0]);
            (org, vec![variant], remediation_secrets(org))
        })
        .collect();
    let keys = setup_iam(&emulator.endpoint, &setups);
    let set_up = started.elapsed();

    // Reference: exact policies, no enforcement; what the member role called.
    let members = members(reference_org);
    let before: Vec<usize> = members.iter().map(|a| emulator.calls_by(a).len()).collect();
    let (reference, reference_findings, _) = run_as(
        &emulator.endpoint,
        &keys[variants.len()]["exact"],
        "exact",
        &remediation_rules(reference_org),
        &["--remediate"],
    );
    assert_eq!(reference.code, 0, "{reference}");
    assert_remediated(&reference_findings, &reference);
    let called = called_within(&emulator, &members, &before, &variants[0], "remediation");

    emulator.enforce_iam(true);
    let indexed: Vec<(usize, &Variant)> = variants.iter().enumerate().collect();
    let results = in_parallel(&indexed, |(i, variant)| {
        let (run, findings, _) = run_as(
            &emulator.endpoint,
            &keys[*i][&variant.name],
            &variant.name,
            &remediation_rules(&orgs[*i]),
            &["--remediate"],
        );
        (run, findings)
    });
    let mut proven = Vec::new();
    let mut unprovable = Vec::new();
    for (variant, (run, findings)) in variants.iter().zip(&results) {
        let Some((_, action)) = &variant.removed else {
            assert_eq!(run.code, 0, "exact remediation policies\n{run}");
            assert_remediated(findings, run);
            continue;
        };
        let label = format!("{} without {action}", variant.name);
        if called.contains(action) {
            assert_eq!(run.code, 3, "{label}: a failed step is an error\n{run}");
            let op = operation(action);
            let errors = findings["errors"].as_array().expect("errors");
            assert!(
                errors.iter().any(|e| e["operation"] == op),
                "{label}: {errors:#?}"
            );
            let results = findings["remediation"]["results"]
                .as_array()
                .expect("results");
            assert!(
                results.iter().any(|r| r["ok"] == false),
                "{label}: a repair failed\n{run}"
            );
            proven.push(label);
        } else {
            assert!(
                IMPLICIT.iter().any(|(a, _)| a == action),
                "{label}: {action} is in the printed policy but never called: superfluous?"
            );
            assert_eq!(run.code, 0, "{label}\n{run}");
            assert_remediated(findings, run);
            unprovable.push(label);
        }
    }
    print_proof(
        "remediate",
        orgs.len(),
        set_up,
        variants.len(),
        started,
        &proven,
        &unprovable,
    );
}

/// The figures of a proof with one organization per variant (docs/reliability.md quotes them).
pub(crate) fn print_proof(
    mode: &str,
    orgs: usize,
    set_up: std::time::Duration,
    variants: usize,
    started: std::time::Instant,
    proven: &[String],
    unprovable: &[String],
) {
    eprintln!(
        "least privilege ({mode}): {orgs} organizations set up in {:.1}s, {variants} variants run in {:.1}s total\n  proven needed:\n    {}\n  not provable with moto:\n    {}",
        set_up.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        proven.join("\n    "),
        unprovable.join("\n    ")
    );
}

/// Every source repaired and compliant after the run.
fn assert_remediated(findings: &Value, run: &Run) {
    assert_eq!(findings["errors"], json!([]), "{run}");
    let results = findings["remediation"]["results"]
        .as_array()
        .expect("results");
    assert_eq!(results.len(), 5, "{run}");
    assert!(results.iter().all(|r| r["ok"] == true), "{results:#?}");
    for (id, (status, _)) in verdicts(findings) {
        assert_eq!(status, "COMPLIANT", "{id}\n{run}");
    }
}

// ------------------------------------------------------------------------------------------------
// Read-only by default, and no secret in any output
// ------------------------------------------------------------------------------------------------

/// Everything a run leaves behind: stdout, stderr and every file in the command's folder.
fn outputs(run: &Run, cmd: &Cmd) -> Vec<(String, String)> {
    let mut all = vec![
        ("stdout".to_string(), run.stdout.clone()),
        ("stderr".to_string(), run.stderr.clone()),
    ];
    for path in cmd.files() {
        let bytes = std::fs::read(&path).expect("read output file");
        all.push((
            path.display().to_string(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    all
}

/// Moto's STS session tokens start with this: no session token (the caller's or a member role's)
/// may appear in any output.
const MOTO_SESSION_TOKEN_PREFIX: &str = "FQoGZXIvYXdzE";

#[test]
fn an_audit_calls_only_read_apis_and_leaks_no_secret_even_at_debug_level() {
    let org = crate::harness::seed(spec());
    let vault = org.account("vault");
    let management = org.account("management");
    // The restore rules' secrets, holding a password the audit reads past (it keeps endpoints only).
    for (account, name, instance) in [
        ("vault", "rds/orders", "orders-restored"),
        ("management", "rds/plain", "plain-restored"),
    ] {
        let config = if account == "management" {
            // The seeded management credentials act in the management account itself.
            let mut config = org.sdk("vault", R).into_builder();
            let creds = &org.seeded["credentials"];
            config.set_credentials_provider(Some(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        creds["access_key_id"].as_str().unwrap_or_default(),
                        creds["secret_access_key"].as_str().unwrap_or_default(),
                        creds["session_token"].as_str().map(str::to_string),
                        None,
                        "test-management",
                    ),
                ),
            ));
            config.build()
        } else {
            org.sdk(account, R)
        };
        let value = json!({"engine": "postgres", "host": "db.example", "port": 5432,
                           "dbInstanceIdentifier": instance, "username": "admin", "password": PASSWORD});
        crate::harness::create_secret(&config, name, &value);
    }
    let accounts = [management.clone(), vault, org.account("prod")];
    let before: Vec<usize> = accounts
        .iter()
        .map(|a| crate::harness::calls_by(a).len())
        .collect();
    let mut cmd = org.rdsguard();
    cmd.file("rules/r.toml", &rules(&org));
    let run = cmd.run(&["audit", "--out", "run", "-vv", "--log-format", "json"]);
    assert_eq!(run.code, 1, "{run}");
    let findings = cmd.json("run/findings.json");
    assert_eq!(findings["errors"], json!([]), "{run}");
    assert!(
        findings["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .any(|s| s["checks"]
                .as_array()
                .expect("checks")
                .iter()
                .any(|c| c["id"] == "restore-current" && c["status"] == "PASS")),
        "the secret was read: restore-current passes\n{run}"
    );
    // The logs are JSON lines, and there are many of them (debug level, the SDK's too).
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.len() > 50, "{} log lines", lines.len());
    for line in &lines {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }

    // Read-only: every call of this run, in every account, reads.
    let mut operations = std::collections::BTreeSet::new();
    for (account, n) in accounts.iter().zip(&before) {
        for call in crate::harness::calls_by(account).into_iter().skip(*n) {
            let op = operation(&call).to_string();
            let reads = ["Describe", "List", "Get"]
                .iter()
                .any(|p| op.starts_with(p))
                || call == "sts:AssumeRole";
            assert!(reads, "{account}: an audit called {call}");
            operations.insert(call);
        }
    }
    assert!(
        operations.contains("secretsmanager:GetSecretValue"),
        "{operations:?}"
    );

    // No secret anywhere: the caller's secret key and session token, any session token, the password.
    let creds = &org.seeded["credentials"];
    let secrets = [
        (
            "the caller's secret access key",
            creds["secret_access_key"].as_str().unwrap_or_default(),
        ),
        (
            "the caller's session token",
            creds["session_token"].as_str().unwrap_or_default(),
        ),
        ("a session token", MOTO_SESSION_TOKEN_PREFIX),
        ("the secret's password", PASSWORD),
    ];
    let all = outputs(&run, &cmd);
    assert!(
        all.len() >= 8,
        "stdout, stderr and the run's files: {:?}",
        all.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for (what, secret) in secrets {
        assert!(secret.len() >= 10, "{what}: a real value to look for");
        for (name, text) in &all {
            assert!(!text.contains(secret), "{what} appears in {name}");
        }
    }

    // The same at trace level for every crate (RUST_LOG overrides -v): the SDK logs each request's
    // headers there, redacted.
    let mut traced = org.rdsguard();
    traced
        .file("rules/r.toml", &rules(&org))
        .env("RUST_LOG", "trace");
    let run = traced.run(&["audit", "--out", "run", "--log-format", "json"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(
        run.stderr.contains("x-amz-security-token"),
        "trace shows the headers"
    );
    for (what, secret) in secrets {
        for (name, text) in outputs(&run, &traced) {
            assert!(
                !text.contains(secret),
                "{what} appears in {name} (RUST_LOG=trace)"
            );
        }
    }
}
