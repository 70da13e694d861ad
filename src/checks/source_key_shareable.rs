//! `source-key-shareable`: what remediation shares with the destination can be copied there. That is
//! the source's own customer managed key, whose policy must allow the destination `kms:Decrypt`,
//! `kms:DescribeKey` and `kms:CreateGrant`; or, for a source under the AWS managed key (which AWS
//! cannot share), the rule's `source_kms_key` (remediation re-encrypts under it). An unencrypted DB
//! instance needs no key: AWS shares an unencrypted manual snapshot as it is, and the destination
//! encrypts it under its own key on `CopyDBSnapshot`; with a `source_kms_key` the rule asks for
//! encryption in transit too, and that key is judged. An unencrypted Aurora cluster cannot be
//! protected by a copy at all: `CopyDBClusterSnapshot` refuses a `KmsKeyId` for an unencrypted
//! cluster snapshot.

use serde_json::Value;

use super::replica_encryption::{is_aws_managed, unusable};
use super::{Check, CheckId, Ctx, Fact, Outcome};
use crate::inventory::{KeyFact, SourceKind};
use crate::report::CheckStatus;
use crate::rules::pattern;

pub const CHECK: Check = Check {
    id: CheckId::new("source-key-shareable"),
    title: "The source's data can be shared with the destination under a CMK",
    failure: "The database's data cannot be shared with the vault account",
    remediation: "Encrypt shared snapshots with a customer managed key whose key policy grants the vault account kms:Decrypt, kms:DescribeKey and kms:CreateGrant; set the rule's source_kms_key to it for databases under aws/rds or unencrypted.",
    needs: |_| &[Fact::SourceKey, Fact::SourceKmsKey],
    run,
};

/// What the destination needs on the key to copy a snapshot shared under it.
pub const REQUIRED_ACTIONS: [&str; 3] = ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant"];

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let source = ctx.source;
    let expected = format!(
        "a customer managed key whose policy grants {} {}",
        ctx.dest_account,
        REQUIRED_ACTIONS.join(", ")
    );
    // Against a destination outside the organization there is nothing to judge the key for.
    if let Some(outside) = ctx
        .dest_errors
        .iter()
        .find(|e| e.code == crate::inventory::DESTINATION_NOT_IN_ORGANIZATION)
    {
        return Some(Outcome::error(expected, outside.message.clone()));
    }
    let own_key = source
        .kms_key_id
        .as_deref()
        .filter(|_| source.encrypted)
        .map(|id| {
            (
                id,
                ctx.index.key(&source.db.account_id, &source.db.region, id),
            )
        });
    let key = match own_key {
        Some((_, Some(key))) if !is_aws_managed(key) => key,
        Some((id, None))
            if ctx
                .index
                .key_missing(&source.db.account_id, &source.db.region, id) =>
        {
            return Some(Outcome::fail(
                format!("{id} does not exist"),
                expected,
                format!("the source's key {id} does not exist (KMS NotFoundException): its data cannot be copied"),
            ));
        }
        Some((id, None)) if !id.contains("alias/aws/") => {
            return Some(Outcome::error(
                expected,
                format!("could not describe the source's key {id}"),
            ));
        }
        _ => {
            if !source.encrypted && source.db.kind == SourceKind::DbCluster {
                return Some(Outcome::fail(
                    "unencrypted Aurora cluster",
                    expected,
                    "the cluster is not encrypted, and a copy cannot encrypt an Aurora cluster snapshot (CopyDBClusterSnapshot refuses a KmsKeyId for an unencrypted one): encrypt the cluster itself (restore a snapshot into a cluster with a customer managed key)",
                ));
            }
            let why = if source.encrypted {
                "the source is encrypted with the AWS managed key, which cannot be shared"
            } else {
                "the source is not encrypted"
            };
            let Some(reference) = ctx.rule.source_kms_key.as_deref() else {
                if !source.encrypted {
                    // Shared as it is; the destination's copy encrypts it under the vault key.
                    return Some(Outcome::pass(
                        "unencrypted: shared as is, encrypted on copy into the vault",
                        format!(
                            "a snapshot {} can copy: unencrypted (encrypted on the copy), or under a key that grants it {}",
                            ctx.dest_account,
                            REQUIRED_ACTIONS.join(", ")
                        ),
                        format!(
                            "the source is not encrypted: its snapshot is shared with {} as it is and encrypted under the destination's key when copied there (set source_kms_key to encrypt it in transit too)",
                            ctx.dest_account
                        ),
                    ));
                }
                return Some(Outcome::fail(
                    "no shareable key",
                    expected,
                    format!("{why}, and the rule names no source_kms_key to re-encrypt its snapshots under"),
                ));
            };
            match ctx.index.key(&source.db.account_id, &source.db.region, reference) {
                Some(key) => key,
                None if ctx.index.key_missing(&source.db.account_id, &source.db.region, reference) => {
                    return Some(Outcome::fail(
                        format!("{reference} does not exist in {}/{}", source.db.account_id, source.db.region),
                        expected,
                        format!("{why}, and the rule's source_kms_key {reference} does not exist in this account and region"),
                    ))
                }
                None => {
                    return Some(Outcome::error(
                        expected,
                        format!(
                            "{why}; the rule's source_kms_key {reference} could not be resolved in {}/{}",
                            source.db.account_id, source.db.region
                        ),
                    ))
                }
            }
        }
    };
    Some(judge_key(key, ctx.dest_account, expected))
}

fn judge_key(key: &KeyFact, dest_account: &str, expected: String) -> Outcome {
    if is_aws_managed(key) {
        return Outcome::fail(
            format!("{} (AWS managed)", key.arn),
            expected,
            "an AWS managed key cannot be shared with another account",
        );
    }
    if let Some(problem) = unusable(key) {
        return Outcome::fail(&key.arn, expected, problem);
    }
    let Some(policy) = key.policy.as_deref() else {
        return Outcome::error(
            expected,
            format!("could not read the key policy of {}", key.arn),
        );
    };
    let missing = match missing_grants(policy, dest_account) {
        Ok(missing) => missing,
        Err(problem) => {
            return Outcome {
                status: CheckStatus::Error,
                observed: "unreadable policy".into(),
                expected,
                message: format!("key policy of {} is not valid JSON: {problem}", key.arn),
            }
        }
    };
    if missing.is_empty() {
        Outcome::pass(
            &key.arn,
            expected,
            format!(
                "key policy of {} grants {dest_account} what a cross-account copy needs",
                key.arn
            ),
        )
    } else {
        Outcome::fail(
            format!("{} lacks {}", key.arn, missing.join(", ")),
            expected,
            format!(
                "key policy of {} does not allow account {dest_account} {}: the destination could not copy snapshots shared under it",
                key.arn,
                missing.join(", ")
            ),
        )
    }
}

/// The required actions that `policy` does not allow `account` (Allow statements naming the account,
/// its root or `*`, not overridden by a Deny). Conditions are not evaluated.
pub fn missing_grants(policy: &str, account: &str) -> Result<Vec<&'static str>, String> {
    let document: Value = serde_json::from_str(policy).map_err(|e| e.to_string())?;
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    let mut allowed = [false; REQUIRED_ACTIONS.len()];
    let mut denied = [false; REQUIRED_ACTIONS.len()];
    for statement in &statements {
        if !names_account(statement.get("Principal"), account) {
            continue;
        }
        let effect = statement.get("Effect").and_then(Value::as_str);
        for (i, action) in REQUIRED_ACTIONS.iter().enumerate() {
            if covers(statement.get("Action"), action) {
                match effect {
                    Some("Allow") => allowed[i] = true,
                    Some("Deny") => denied[i] = true,
                    _ => {}
                }
            }
        }
    }
    Ok(REQUIRED_ACTIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| !allowed[*i] || denied[*i])
        .map(|(_, a)| *a)
        .collect())
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn names_account(principal: Option<&Value>, account: &str) -> bool {
    let principals = match principal {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Object(map)) => strings(map.get("AWS")),
        _ => Vec::new(),
    };
    let account_arn_prefix = format!(":iam::{account}:");
    principals
        .iter()
        .any(|p| *p == "*" || *p == account || p.contains(&account_arn_prefix))
}

fn covers(action: Option<&Value>, wanted: &str) -> bool {
    let wanted = wanted.to_ascii_lowercase();
    strings(action)
        .iter()
        .any(|a| pattern::matches(&a.to_ascii_lowercase(), &wanted))
}
