//! `rdsguard setup`: the templates pass cfn-lint (both modes, with and without rules), carry exactly
//! the documents `iam-policy` prints, the Terraform modules have the same resources and documents,
//! and bad input writes nothing. The deployment on the emulator is in setup_deploy.rs.

// The figures docs/setup.md quotes are printed: `-- --nocapture` shows them.
#![allow(clippy::print_stderr)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::harness::{read_json, repo, Cmd, Run};

pub const CALLER_ARN: &str = "arn:aws:iam::999999999999:role/rdsguard-runner";
const ORG: &str = "o-rdsguard01";

/// Rules with two vault key aliases, a source key, a restore into a subnet group with a secret, and
/// one rule that names its source key by ARN (left out of the templates, with a warning).
pub const RULES: &str = r#"[[rule]]
id = "prod"
select = { tags = { env = "prod" } }
destination = { account = "222222222222", kms_key = "alias/rds-vault" }
source_kms_key = "alias/rds-share"
max_age = "26h"
restore = { instance_class = "db.t3.micro", subnet_group = "vault-db", secret = "rds/{identifier}" }

[[rule]]
id = "analytics"
select = { identifiers = ["analytics-*"] }
destination = { account = "333333333333", region = "eu-west-1", kms_key = "alias/analytics-vault" }
source_kms_key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
max_age = "7d"
"#;

/// The variants the tests run: mode, with rules or not.
const VARIANTS: [(&str, bool); 4] = [
    ("audit", false),
    ("audit", true),
    ("remediate", false),
    ("remediate", true),
];

/// `rdsguard setup` with the common flags; the command (its folder holds `out/`) and the run.
pub fn setup(format: &str, mode: &str, rules: bool, extra: &[&str]) -> (Cmd, crate::harness::Run) {
    let mut cmd = Cmd::new();
    cmd.file("rules.toml", RULES);
    let mut args = vec![
        "setup",
        "--format",
        format,
        "--mode",
        mode,
        "--caller-role-arn",
        CALLER_ARN,
        "--organization-id",
        ORG,
        "--external-id",
        "nightly",
        "--out",
        "out",
    ];
    if rules {
        args.extend(["--rules", "rules.toml"]);
    } else {
        args.extend(["--vault-account", "222222222222"]);
    }
    args.extend_from_slice(extra);
    let run = cmd.run(&args);
    (cmd, run)
}

/// What `iam-policy` prints for the same flags (separate documents, one mode).
pub fn printed(cmd: &Cmd, mode: &str, rules: bool) -> Value {
    let mut args = vec![
        "iam-policy",
        "--mode",
        mode,
        "--role-name",
        "rdsguard",
        "--caller-role-arn",
        CALLER_ARN,
        "--organization-id",
        ORG,
        "--external-id",
        "nightly",
    ];
    if rules {
        args.extend(["--rules", "rules.toml"]);
    }
    let run = cmd.run(&args);
    assert_eq!(run.code, 0, "{run}");
    serde_json::from_str(&run.stdout).expect("iam-policy prints JSON")
}

/// `value` with every `{"Ref": name}` (CloudFormation) or `"${var.name}"` (Terraform) replaced.
fn substitute(value: &Value, reference: &Value, by: &Value) -> Value {
    if value == reference {
        return by.clone();
    }
    match value {
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| substitute(v, reference, by)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute(v, reference, by)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// cfn-lint (from `make iam-tools`) on `files`, every check included, findings as JSON.
pub(crate) fn cfn_lint(files: &[std::path::PathBuf]) -> crate::harness::Run {
    let lint = repo().join(".venv/bin/cfn-lint");
    assert!(
        lint.exists(),
        "{} not found: run `make iam-tools` (installs tests/iam/requirements.txt)",
        lint.display()
    );
    let output = Command::new(lint)
        .args(["--format", "json", "--include-checks", "I"])
        .arg("--")
        .args(files)
        .output()
        .expect("run cfn-lint");
    crate::harness::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn cfn_lint_passes_every_template() {
    let mut linted = 0;
    let mut resources = 0;
    for (mode, rules) in VARIANTS {
        let (cmd, run) = setup("cloudformation", mode, rules, &[]);
        assert_eq!(run.code, 0, "{run}");
        let files: Vec<_> = ["member-roles", "source-key", "vault", "caller"]
            .iter()
            .map(|name| cmd.path(&format!("out/cloudformation/{name}.json")))
            .collect();
        for file in &files {
            resources += read_json(file)["Resources"]
                .as_object()
                .map_or(0, |r| r.len());
        }
        let lint = cfn_lint(&files);
        // No rule is ignored: every finding (error, warning or informational) fails the test.
        let findings: Value = serde_json::from_str(lint.stdout.trim()).unwrap_or(json!([]));
        assert_eq!(
            findings,
            json!([]),
            "cfn-lint, {mode}, rules {rules}: {lint}"
        );
        assert_eq!(lint.code, 0, "{lint}");
        linted += files.len();
    }
    // --step-functions: the member roles also trust the state machine's execution role.
    let (cmd, run) = setup("cloudformation", "remediate", true, &["--step-functions"]);
    assert_eq!(run.code, 0, "{run}");
    let files: Vec<_> = ["member-roles", "source-key", "vault", "caller"]
        .iter()
        .map(|name| cmd.path(&format!("out/cloudformation/{name}.json")))
        .collect();
    let lint = cfn_lint(&files);
    assert_eq!(lint.code, 0, "cfn-lint, --step-functions: {lint}");
    let vault = std::fs::read_to_string(&files[2]).expect("vault template");
    assert!(
        vault.contains(":role/rdsguard-remediation-execution"),
        "the vault role trusts the execution role"
    );
    linted += files.len();
    eprintln!("cfn-lint: {linted} templates ({resources} resources), no finding");
}

#[test]
fn the_templates_carry_the_documents_iam_policy_prints() {
    for (mode, rules) in VARIANTS {
        let (cmd, run) = setup("cloudformation", mode, rules, &[]);
        assert_eq!(run.code, 0, "{run}");
        let printed = printed(&cmd, mode, rules);
        let caller = json!({"Ref": "CallerRoleArn"});
        let arn = json!(CALLER_ARN);
        let template = |name: &str| cmd.json(&format!("out/cloudformation/{name}.json"));
        let policies = |role: &Value| -> Vec<(String, Value)> {
            role["Properties"]["Policies"]
                .as_array()
                .expect("policies")
                .iter()
                .map(|p| {
                    (
                        p["PolicyName"].as_str().unwrap_or("").to_string(),
                        p["PolicyDocument"].clone(),
                    )
                })
                .collect()
        };
        for (name, role, job) in [
            ("member-roles", "MemberRole", "source_remediation_policy"),
            ("vault", "VaultRole", "vault_remediation_policy"),
        ] {
            let t = template(name);
            let role = &t["Resources"][role];
            assert_eq!(role["Properties"]["RoleName"], "rdsguard");
            assert_eq!(
                substitute(
                    &role["Properties"]["AssumeRolePolicyDocument"],
                    &caller,
                    &arn
                ),
                printed["member_role_trust_policy"],
                "{name}"
            );
            assert_eq!(t["Parameters"]["CallerRoleArn"]["Default"], CALLER_ARN);
            let mut expected = vec![printed["audit_role_policy"].clone()];
            if mode == "remediate" {
                expected.push(printed[job].clone());
            }
            let found: Vec<Value> = policies(role).into_iter().map(|(_, d)| d).collect();
            assert_eq!(found, expected, "{name}, {mode}, rules {rules}");
        }
        assert_eq!(
            template("caller")["Resources"]["CallerPolicy"]["Properties"]["PolicyDocument"],
            printed["caller_policy"]
        );
        // The source key grants the vault accounts exactly what source-key-shareable checks.
        let source = template("source-key");
        let statement =
            &source["Resources"]["RdsShareKey"]["Properties"]["KeyPolicy"]["Statement"][1];
        assert_eq!(
            statement["Action"],
            json!(["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"])
        );
        let vaults = if rules {
            json!([
                "arn:aws:iam::222222222222:root",
                "arn:aws:iam::333333333333:root"
            ])
        } else {
            json!(["arn:aws:iam::222222222222:root"])
        };
        assert_eq!(statement["Principal"]["AWS"], vaults);
        // The vault keys of the rules' aliases; subnet groups only where a restore needs one.
        let vault = template("vault");
        let aliases: Vec<&str> = vault["Resources"]
            .as_object()
            .expect("resources")
            .values()
            .filter(|r| r["Type"] == "AWS::KMS::Alias")
            .filter_map(|r| r["Properties"]["AliasName"].as_str())
            .collect();
        if rules {
            assert_eq!(aliases, ["alias/analytics-vault", "alias/rds-vault"]);
            assert!(
                run.stderr
                    .contains("rule `analytics`: source_kms_key is a key ARN"),
                "{run}"
            );
        } else {
            assert_eq!(aliases, ["alias/rds-vault"]);
        }
        let subnet_group = vault["Resources"].get("VaultDbSubnetGroup");
        assert_eq!(
            subnet_group.is_some(),
            rules && mode == "remediate",
            "{mode}, rules {rules}"
        );
        if let Some(group) = subnet_group {
            assert_eq!(group["Properties"]["DBSubnetGroupName"], "vault-db");
            assert_eq!(
                group["Properties"]["SubnetIds"],
                json!({"Ref": "VaultDbSubnetIds"})
            );
            assert_eq!(
                vault["Parameters"]["VaultDbSubnetIds"]["Type"],
                "List<AWS::EC2::Subnet::Id>"
            );
        }
    }
}

/// The resources of a Terraform module, as `type.name`.
fn tf_resources(module: &Value) -> Vec<String> {
    let mut names: Vec<String> = module["resource"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(kind, named)| {
            named
                .as_object()
                .into_iter()
                .flatten()
                .map(move |(name, _)| format!("{kind}.{name}"))
        })
        .collect();
    names.sort();
    names
}

/// Terraform reads `$${` as a literal `${` (and `%%{` as `%{`).
fn unescape(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("$${", "${").replace("%%{", "%{")),
        Value::Array(items) => Value::Array(items.iter().map(unescape).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace("$${", "${").replace("%%{", "%{"), unescape(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[test]
fn terraform_modules_have_the_resources_and_the_documents() {
    let mut modules = 0;
    for (mode, rules) in VARIANTS {
        let (cmd, run) = setup("terraform", mode, rules, &[]);
        assert_eq!(run.code, 0, "{run}");
        let printed = printed(&cmd, mode, rules);
        let module = |name: &str| cmd.json(&format!("out/terraform/{name}/main.tf.json"));
        let caller = json!("${var.caller_role_arn}");
        let arn = json!(CALLER_ARN);
        let remediate = mode == "remediate";

        let member = module("member-roles");
        let mut expected = vec!["aws_iam_role.member", "aws_iam_role_policy.audit_role"];
        if remediate {
            expected.push("aws_iam_role_policy.source_remediation");
        }
        assert_eq!(tf_resources(&member), expected);
        let vault = module("vault");
        let mut expected = vec!["aws_iam_role.member", "aws_iam_role_policy.audit_role"];
        if remediate {
            expected.push("aws_iam_role_policy.vault_remediation");
        }
        expected.extend(if rules {
            vec![
                "aws_kms_alias.analytics_vault",
                "aws_kms_alias.rds_vault",
                "aws_kms_key.analytics_vault",
                "aws_kms_key.rds_vault",
            ]
        } else {
            vec!["aws_kms_alias.rds_vault", "aws_kms_key.rds_vault"]
        });
        if rules && remediate {
            expected.insert(0, "aws_db_subnet_group.vault_db");
            assert_eq!(
                vault["variable"]["vault_db_subnet_ids"]["type"],
                "list(string)"
            );
        }
        expected.sort();
        assert_eq!(tf_resources(&vault), expected, "{mode}, rules {rules}");
        assert_eq!(
            tf_resources(&module("source-key")),
            ["aws_kms_alias.rds_share", "aws_kms_key.rds_share"]
        );
        assert_eq!(
            tf_resources(&module("caller")),
            [
                "aws_iam_policy.caller",
                "aws_iam_role_policy_attachment.caller"
            ]
        );

        // The documents are iam-policy's, read literally; the trust names the variable.
        for m in [&member, &vault] {
            assert_eq!(m["resource"]["aws_iam_role"]["member"]["name"], "rdsguard");
            assert_eq!(m["variable"]["caller_role_arn"]["default"], CALLER_ARN);
            let trust = &m["locals"]["member_role_trust_policy"];
            assert_eq!(
                substitute(&unescape(trust), &caller, &arn),
                printed["member_role_trust_policy"]
            );
            assert_eq!(
                unescape(&m["locals"]["audit_role_policy"]),
                printed["audit_role_policy"]
            );
        }
        if remediate {
            assert_eq!(
                unescape(&member["locals"]["source_remediation_policy"]),
                printed["source_remediation_policy"]
            );
            assert_eq!(
                unescape(&vault["locals"]["vault_remediation_policy"]),
                printed["vault_remediation_policy"]
            );
            assert_eq!(
                member["resource"]["aws_iam_role_policy"]["source_remediation"]["policy"],
                "${jsonencode(local.source_remediation_policy)}"
            );
        }
        assert_eq!(
            unescape(&module("caller")["locals"]["caller_policy"]),
            printed["caller_policy"]
        );
        let key = &module("source-key")["locals"]["key_policy"]["Statement"][1];
        assert_eq!(
            key["Action"],
            json!(["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"])
        );
        modules += 4;
        // Terraform's own check on the smallest and the largest set-up (slow: a provider per module).
        if !matches!((mode, rules), ("audit", false) | ("remediate", true)) {
            continue;
        }
        if let Some(checked) = terraform_validate(&cmd.path("out/terraform")) {
            eprintln!("terraform validate: {checked} modules valid ({mode}, rules {rules})");
        }
    }
    eprintln!("terraform: {modules} modules, resources and documents as iam-policy prints them");
}

/// `terraform validate` of every module, where Terraform and a local copy of the AWS provider are
/// installed (`RDSGUARD_TF_PLUGIN_DIR`, default /opt/tf-plugins: no download). None when they are
/// not: the structural checks above stand alone.
fn terraform_validate(modules: &Path) -> Option<usize> {
    let plugins = std::env::var_os("RDSGUARD_TF_PLUGIN_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/opt/tf-plugins".into());
    let terraform = which("terraform")?;
    if !plugins.join("registry.terraform.io/hashicorp/aws").is_dir() {
        eprintln!(
            "terraform validate: skipped, no AWS provider in {}",
            plugins.display()
        );
        return None;
    }
    let mut checked = 0;
    for entry in std::fs::read_dir(modules).expect("modules").flatten() {
        let dir = entry.path();
        let run = |args: &[&str]| {
            let out = Command::new(&terraform)
                .args(args)
                .current_dir(&dir)
                .env("TF_IN_AUTOMATION", "1")
                .env("CHECKPOINT_DISABLE", "1")
                .output()
                .expect("run terraform");
            assert!(
                out.status.success(),
                "terraform {args:?} in {}: {}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let plugin_dir = format!("-plugin-dir={}", plugins.display());
        run(&[
            "init",
            "-backend=false",
            "-input=false",
            "-no-color",
            &plugin_dir,
        ]);
        run(&["validate", "-no-color"]);
        checked += 1;
    }
    Some(checked)
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// CloudFormation templates for the vault account 222222222222.
const VAULT_CFN: [&str; 4] = [
    "--format",
    "cloudformation",
    "--vault-account",
    "222222222222",
];

/// `setup --mode audit ARGS...`.
fn setup_audit<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["setup", "--mode", "audit"][..], args].concat()
}

/// `setup --mode audit ARGS MORE` in `cmd`'s folder, refused: exit 2 with `needle` on stderr.
fn refused(cmd: &Cmd, args: &[&str], more: &[&str], needle: &str) -> Run {
    let run = cmd.run(&[setup_audit(args), more.to_vec()].concat());
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains(needle), "{run}");
    run
}

#[test]
fn bad_input_names_the_problem_and_writes_nothing() {
    // An unknown mode: clap names the flag and the values it takes.
    let (cmd, run) = setup("cloudformation", "repair", false, &[]);
    assert_eq!(run.code, 2, "{run}");
    assert!(
        run.stderr
            .contains("invalid value 'repair' for '--mode <MODE>'"),
        "{run}"
    );
    assert!(
        run.stderr.contains("[possible values: audit, remediate]"),
        "{run}"
    );
    assert!(!cmd.path("out").exists());

    // Unreadable rules.
    let mut cmd = Cmd::new();
    cmd.file("x", "");
    let terraform = ["--format", "terraform", "--out", "out"];
    let run = refused(
        &cmd,
        &terraform,
        &["--rules", "missing.toml"],
        "missing.toml",
    );
    assert!(!cmd.path("out").exists(), "{run}");

    // No vault account to share the source keys with.
    let no_vault = "pass --rules (their destination accounts) or --vault-account ID";
    let run = refused(&cmd, &terraform, &[], no_vault);
    assert!(!cmd.path("out").exists(), "{run}");

    // A folder that cannot be written: nothing in it, not even the staging folder.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let out = cmd.path("locked");
        std::fs::create_dir(&out).expect("mkdir");
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        let run = cmd.run(&[setup_audit(&VAULT_CFN), vec!["--out", "locked"]].concat());
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        // root ignores the mode: only judge when the folder really was read-only.
        if run.code != 0 {
            assert_eq!(run.code, 2, "{run}");
            assert!(
                run.stderr.contains("cannot write into the folder locked"),
                "{run}"
            );
            assert_eq!(std::fs::read_dir(&out).expect("read").count(), 0);
        }
        // A file where the folder should be.
        cmd.file("taken", "not a folder");
        let taken = ["--out", "taken"];
        refused(&cmd, &VAULT_CFN, &taken, "cannot create the folder taken");
    }

    // A bad caller ARN, and the role Organizations made.
    let root = ["--caller-role-arn", "arn:aws:iam::1:root", "--out", "out"];
    let not_a_role = "--caller-role-arn: `arn:aws:iam::1:root` is not an IAM role or user ARN";
    refused(&cmd, &VAULT_CFN, &root, not_a_role);
    assert!(!cmd.path("out").exists());
    let (cmd, run) = setup(
        "cloudformation",
        "audit",
        false,
        &["--role-name", "OrganizationAccountAccessRole"],
    );
    assert_eq!(run.code, 2, "{run}");
    assert!(run.stderr.contains("setup must not replace it"), "{run}");
    assert!(!cmd.path("out").exists());
}

#[test]
fn a_second_setup_replaces_the_files() {
    let (cmd, run) = setup("cloudformation", "audit", false, &[]);
    assert_eq!(run.code, 0, "{run}");
    let again = cmd.run(&[
        "setup",
        "--format",
        "cloudformation",
        "--mode",
        "remediate",
        "--vault-account",
        "222222222222",
        "--out",
        "out",
    ]);
    assert_eq!(again.code, 0, "{again}");
    let member = cmd.json("out/cloudformation/member-roles.json");
    assert_eq!(
        member["Resources"]["MemberRole"]["Properties"]["Policies"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Only the four templates: no staging folder left behind.
    let names: Vec<String> = std::fs::read_dir(cmd.path("out"))
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["cloudformation"]);
}
