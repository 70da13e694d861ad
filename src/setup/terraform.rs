//! The set-up as Terraform modules, in Terraform's JSON syntax: `terraform/<deployment>/main.tf.json`.
//! The IAM documents and key policies are `locals` (JSON objects, every string escaped so that
//! Terraform reads it literally), passed to the resources with `jsonencode`.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::*;

pub(super) fn files(inputs: &Inputs) -> Vec<File> {
    let makers = [member_roles, source_key, vault, caller];
    four_files(
        inputs,
        |name| format!("terraform/{name}/main.tf.json"),
        makers,
    )
}

/// A value Terraform reads as written: `${` and `%{` start templates in Terraform's JSON strings.
pub(super) fn literal(value: &Value) -> Value {
    let escape = |s: &str| s.replace("${", "$${").replace("%{", "%%{");
    match value {
        Value::String(s) => Value::String(escape(s)),
        Value::Array(items) => Value::Array(items.iter().map(literal).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (escape(k), literal(v))).collect())
        }
        other => other.clone(),
    }
}

/// A module's blocks; empty ones are left out.
struct Module {
    comment: String,
    variables: Map<String, Value>,
    locals: Map<String, Value>,
    data: Map<String, Value>,
    resources: Map<String, Value>,
    outputs: Map<String, Value>,
}

impl Module {
    fn new(comment: &str) -> Module {
        Module {
            comment: comment.into(),
            variables: Map::new(),
            locals: Map::new(),
            data: Map::new(),
            resources: Map::new(),
            outputs: Map::new(),
        }
    }

    fn resource(&mut self, kind: &str, name: &str, body: Value) {
        let kinds = self
            .resources
            .entry(kind.to_string())
            .or_insert_with(|| json!({}));
        kinds[name] = body;
    }

    fn output(&mut self, name: &str, description: &str, value: String) {
        self.outputs.insert(
            name.into(),
            json!({"description": description, "value": value}),
        );
    }

    /// `data.aws_caller_identity.current` and `data.aws_partition.current`, for key policies.
    fn own_root(&mut self) -> Value {
        self.data
            .insert("aws_caller_identity".into(), json!({"current": {}}));
        self.data
            .insert("aws_partition".into(), json!({"current": {}}));
        json!("arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root")
    }

    fn into_value(self) -> Value {
        let mut m = Map::new();
        m.insert("//".into(), json!(self.comment));
        m.insert(
            "terraform".into(),
            json!({"required_providers": {"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}}),
        );
        for (key, block) in [
            ("variable", self.variables),
            ("locals", self.locals),
            ("data", self.data),
            ("resource", self.resources),
            ("output", self.outputs),
        ] {
            if !block.is_empty() {
                m.insert(key.into(), Value::Object(block));
            }
        }
        Value::Object(m)
    }
}

fn caller_variable(inputs: &Inputs, module: &mut Module) {
    let mut v = json!({
        "type": "string",
        "description": "The role (or user) that runs rdsguard: the only principal the member role trusts (rdsguard setup --caller-role-arn)."
    });
    if let Some(arn) = &inputs.caller_role_arn {
        v["default"] = json!(arn);
    }
    module.variables.insert("caller_role_arn".into(), v);
}

/// The member role (`aws_iam_role.member`), its trust policy and inline policies.
fn role(inputs: &Inputs, module: &mut Module, description: &str, policies: &[(&str, &str)]) {
    caller_variable(inputs, module);
    let mut trust = literal(&inputs.trust_policy(Value::Null));
    if let Some(statements) = trust["Statement"].as_array_mut() {
        for statement in statements {
            statement["Principal"]["AWS"] = json!("${var.caller_role_arn}");
        }
    }
    module
        .locals
        .insert("member_role_trust_policy".into(), trust);
    module.resource(
        "aws_iam_role",
        "member",
        json!({
            "name": inputs.role_name,
            "description": description,
            "assume_role_policy": "${jsonencode(local.member_role_trust_policy)}"
        }),
    );
    for (name, key) in policies {
        module
            .locals
            .insert((*key).into(), literal(&inputs.document(key)));
        module.resource(
            "aws_iam_role_policy",
            &key.trim_end_matches("_policy").replace('-', "_"),
            json!({
                "name": name,
                "role": "${aws_iam_role.member.id}",
                "policy": format!("${{jsonencode(local.{key})}}")
            }),
        );
    }
    module.output(
        "role_arn",
        "The member role",
        "${aws_iam_role.member.arn}".into(),
    );
}

/// A Terraform name from an alias or group name (`alias/rds-vault` -> `rds_vault`), distinct from
/// those in `taken`.
fn snake(name: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base: String = name
        .trim_start_matches("alias/")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_lowercase()) {
        base = format!("k_{base}");
    }
    let mut candidate = base.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}_{n}");
        n += 1;
    }
    candidate
}

fn keys(module: &mut Module, aliases: &[String], description: &str, policy: Value) {
    module.locals.insert("key_policy".into(), policy);
    let mut taken = BTreeSet::new();
    for alias in aliases {
        let name = snake(alias, &mut taken);
        module.resource(
            "aws_kms_key",
            &name,
            json!({
                "description": format!("{description} ({alias})"),
                "enable_key_rotation": true,
                "policy": "${jsonencode(local.key_policy)}"
            }),
        );
        module.resource(
            "aws_kms_alias",
            &name,
            json!({"name": alias, "target_key_id": format!("${{aws_kms_key.{name}.key_id}}")}),
        );
        module.output(
            &format!("{name}_key_arn"),
            alias,
            format!("${{aws_kms_key.{name}.arn}}"),
        );
    }
}

fn member_roles(inputs: &Inputs) -> Value {
    let mut module = Module::new("rdsguard member role for a source account: apply in every source account (a provider per account), not in the vault account (the vault module makes its role). Generated by rdsguard setup.");
    role(
        inputs,
        &mut module,
        "rdsguard's member role in a source account (rdsguard setup)",
        &inputs.source_policies(),
    );
    module.into_value()
}

fn source_key(inputs: &Inputs) -> Value {
    let mut module = Module::new("rdsguard shareable source key (the rules' source_kms_key), usable by the vault account: apply in every source account. Generated by rdsguard setup.");
    let root = module.own_root();
    let policy = inputs.source_key_policy(Value::Null);
    keys(
        &mut module,
        &inputs.source_key_aliases,
        "rdsguard shareable source key: snapshots shared with the vault are encrypted under it",
        with_own_root(literal(&policy), root),
    );
    module.into_value()
}

fn vault(inputs: &Inputs) -> Value {
    let mut module = Module::new("rdsguard vault (destination) account: the member role, the vault key and the restores' subnet groups: apply in each vault account. Generated by rdsguard setup.");
    role(
        inputs,
        &mut module,
        "rdsguard's member role in the vault account (rdsguard setup)",
        &inputs.vault_policies(),
    );
    let root = module.own_root();
    let policy = inputs.vault_key_policy(Value::Null);
    keys(
        &mut module,
        &inputs.vault_key_aliases,
        "rdsguard vault key: replicas in the vault are encrypted under it",
        with_own_root(literal(&policy), root),
    );
    let mut taken = BTreeSet::new();
    for group in &inputs.subnet_groups {
        let name = snake(group, &mut taken);
        let variable = format!("{name}_subnet_ids");
        module.variables.insert(
            variable.clone(),
            json!({
                "type": "list(string)",
                "description": format!("Subnets of the DB subnet group `{group}` that the rules' restores use (at least two Availability Zones)")
            }),
        );
        module.resource(
            "aws_db_subnet_group",
            &name,
            json!({
                "name": group,
                "description": "Where rdsguard restores replicas (rules' restore.subnet_group)",
                "subnet_ids": format!("${{var.{variable}}}")
            }),
        );
    }
    module.into_value()
}

/// The key policy's first statement (`administer`) names the account applying the module.
fn with_own_root(mut policy: Value, root: Value) -> Value {
    if let Some(first) = policy["Statement"].get_mut(0) {
        first["Principal"]["AWS"] = root;
    }
    policy
}

fn caller(inputs: &Inputs) -> Value {
    let mut module = Module::new(CALLER_TEMPLATE);
    let caller = Caller::of(inputs);
    let variable = if caller.user {
        "caller_user_name"
    } else {
        "caller_role_name"
    };
    let mut v = json!({"type": "string", "description": caller.description()});
    if let Some(name) = caller.default {
        v["default"] = json!(name);
    }
    module.variables.insert(variable.into(), v);
    module.locals.insert(
        "caller_policy".into(),
        literal(&inputs.document("caller_policy")),
    );
    module.resource(
        "aws_iam_policy",
        "caller",
        json!({
            "name_prefix": "rdsguard-caller-",
            "description": CALLER_POLICY,
            "policy": "${jsonencode(local.caller_policy)}"
        }),
    );
    let (kind, attribute) = if caller.user {
        ("aws_iam_user_policy_attachment", "user")
    } else {
        ("aws_iam_role_policy_attachment", "role")
    };
    module.resource(
        kind,
        "caller",
        json!({attribute: format!("${{var.{variable}}}"), "policy_arn": "${aws_iam_policy.caller.arn}"}),
    );
    module.output(
        "caller_policy_arn",
        "The caller policy",
        "${aws_iam_policy.caller.arn}".into(),
    );
    module.into_value()
}
