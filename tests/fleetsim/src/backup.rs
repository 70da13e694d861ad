//! AWS Backup (restJson1): `ListBackupVaults`, `ListRecoveryPointsByBackupVault` and
//! `GetBackupVaultAccessPolicy`, as the SDK calls them (`GET /backup-vaults`,
//! `GET /backup-vaults/{name}/recovery-points`, `GET /backup-vaults/{name}/access-policy`; query
//! keys `shared`, `resourceType`, `backupVaultAccountId`, `maxResults`, `nextToken`; timestamps in
//! epoch seconds). Only the vault account has vaults; none is shared into any account.

use serde_json::{json, Value};

use crate::fleet::{Fleet, Point, Vault, BACKUP_MAX_RESULTS, VAULT};
use crate::proto::{param, parse_form, Answer};

/// The operation a request's method and path name, with the vault name it is about.
pub fn route(method: &str, path: &str) -> Option<(&'static str, Option<String>)> {
    if method != "GET" {
        return None;
    }
    let rest = path.strip_prefix("/backup-vaults")?.trim_matches('/');
    if rest.is_empty() {
        return Some(("ListBackupVaults", None));
    }
    let (name, what) = rest.split_once('/')?;
    let name = percent_decode(name);
    match what {
        "recovery-points" => Some(("ListRecoveryPointsByBackupVault", Some(name))),
        "access-policy" => Some(("GetBackupVaultAccessPolicy", Some(name))),
        _ => None,
    }
}

fn percent_decode(text: &str) -> String {
    parse_form(format!("x={text}").as_bytes())
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// A restJson1 error: the code in the body's `__type` (the SDK also reads `x-amzn-errortype`).
fn error(status: u16, code: &str, message: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: json!({ "__type": code, "Code": code, "Message": message }).to_string(),
    }
}

fn ok(value: &Value) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json",
        body: value.to_string(),
    }
}

/// `maxResults` (1 to 1,000, default 1,000) and `nextToken` (`fsim-<offset>`, at most `len`).
fn page(query: &[(String, String)], len: usize) -> Result<(usize, usize), Answer> {
    let max = match param(query, "maxResults") {
        None => BACKUP_MAX_RESULTS,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=BACKUP_MAX_RESULTS).contains(&n) => n,
            _ => {
                return Err(error(
                    400,
                    "InvalidParameterValueException",
                    &format!("maxResults {v} is out of range: 1 to {BACKUP_MAX_RESULTS}"),
                ))
            }
        },
    };
    let start = match param(query, "nextToken") {
        None => 0,
        Some(token) => match token
            .strip_prefix("fsim-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n <= len => n,
            _ => {
                return Err(error(
                    400,
                    "InvalidParameterValueException",
                    "The nextToken is not valid.",
                ))
            }
        },
    };
    Ok((start, (start + max).min(len)))
}

fn with_token(mut out: Value, end: usize, len: usize) -> Value {
    if end < len {
        out["NextToken"] = json!(format!("fsim-{end}"));
    }
    out
}

pub fn vault_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:backup:{region}:{account_id}:backup-vault:{name}")
}

fn vault_type(vault: &Vault) -> &'static str {
    if vault.air_gapped {
        "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
    } else {
        "BACKUP_VAULT"
    }
}

fn key_type(vault: &Vault) -> &'static str {
    match vault.key {
        Some(_) => "CUSTOMER_MANAGED_KMS_KEY",
        None => "AWS_OWNED_KMS_KEY",
    }
}

pub fn handle(
    fleet: &Fleet,
    account: usize,
    region: Option<usize>,
    region_name: &str,
    operation: &str,
    vault_name: Option<&str>,
    query_string: &str,
) -> Answer {
    let query = parse_form(query_string.as_bytes());
    let account_id = fleet.account_id(account);
    // Only the vault account has vaults (none shared into any account).
    let scope = region
        .filter(|_| account == VAULT)
        .map(|r| fleet.scope(VAULT, r));
    let vaults: &[Vault] = scope.map(|s| s.vaults.as_slice()).unwrap_or(&[]);
    let shared = param(&query, "shared") == Some("true");
    if operation == "ListBackupVaults" {
        let listed: &[Vault] = if shared { &[] } else { vaults };
        let (start, end) = match page(&query, listed.len()) {
            Ok(range) => range,
            Err(answer) => return answer,
        };
        let list: Vec<Value> = listed[start..end]
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let index = start + i;
                let points = scope
                    .map(|s| {
                        s.points
                            .iter()
                            .filter(|p| p.vault as usize == index)
                            .count()
                    })
                    .unwrap_or(0);
                let mut out = json!({
                    "BackupVaultName": v.name,
                    "BackupVaultArn": vault_arn(region_name, account_id, v.name),
                    "VaultType": vault_type(v),
                    "VaultState": "AVAILABLE",
                    "CreationDate": v.created as f64,
                    "CreatorRequestId": format!("fleetsim-{}", v.name),
                    "NumberOfRecoveryPoints": points,
                    "Locked": v.locked,
                    "EncryptionKeyType": key_type(v),
                });
                if let Some(key) = &v.key {
                    out["EncryptionKeyArn"] = json!(key);
                }
                if let Some(days) = v.min_retention_days {
                    out["MinRetentionDays"] = json!(days);
                }
                if let Some(days) = v.max_retention_days {
                    out["MaxRetentionDays"] = json!(days);
                }
                if let Some(date) = v.lock_date {
                    out["LockDate"] = json!(date as f64);
                }
                out
            })
            .collect();
        return ok(&with_token(
            json!({ "BackupVaultList": list }),
            end,
            listed.len(),
        ));
    }
    let name = vault_name.unwrap_or_default();
    let not_found = || {
        error(
            404,
            "ResourceNotFoundException",
            &format!("Backup vault {name} does not exist in {account_id} {region_name}"),
        )
    };
    let foreign = param(&query, "backupVaultAccountId").is_some_and(|a| a != account_id);
    let Some((index, vault)) = vaults
        .iter()
        .enumerate()
        .find(|(_, v)| v.name == name)
        .filter(|_| !foreign)
    else {
        return not_found();
    };
    let arn = vault_arn(region_name, account_id, vault.name);
    match operation {
        "GetBackupVaultAccessPolicy" => match &vault.policy {
            Some(policy) => ok(&json!({
                "BackupVaultName": vault.name,
                "BackupVaultArn": arn,
                "Policy": policy,
            })),
            None => error(
                404,
                "ResourceNotFoundException",
                &format!("Backup vault {name} has no access policy"),
            ),
        },
        "ListRecoveryPointsByBackupVault" => {
            let wanted_cluster = match param(&query, "resourceType") {
                None => None,
                Some("RDS") => Some(false),
                Some("Aurora") => Some(true),
                // Other services' backups: this vault holds none.
                Some(_) => {
                    return ok(&json!({ "RecoveryPoints": [] }));
                }
            };
            let by_arn = param(&query, "resourceArn");
            let points: Vec<&Point> = scope
                .map(|s| s.points.as_slice())
                .unwrap_or(&[])
                .iter()
                .filter(|p| p.vault as usize == index)
                .filter(|p| wanted_cluster.is_none_or(|c| p.cluster == c))
                .filter(|p| by_arn.is_none_or(|a| p.resource_arn == a))
                .collect();
            let (start, end) = match page(&query, points.len()) {
                Ok(range) => range,
                Err(answer) => return answer,
            };
            let list: Vec<Value> = points[start..end]
                .iter()
                .map(|p| point(p, vault, &arn, region_name, account_id))
                .collect();
            ok(&with_token(
                json!({ "RecoveryPoints": list }),
                end,
                points.len(),
            ))
        }
        other => error(
            400,
            "UnknownOperationException",
            &format!("fleetsim does not serve {other}"),
        ),
    }
}

const DELETE_AFTER_DAYS: i64 = 120;

fn point(p: &Point, vault: &Vault, vault_arn: &str, region: &str, account_id: &str) -> Value {
    let kind = if p.cluster {
        "cluster-snapshot"
    } else {
        "snapshot"
    };
    let mut out = json!({
        "RecoveryPointArn": format!("arn:aws:rds:{region}:{account_id}:{kind}:{}", p.id),
        "BackupVaultName": vault.name,
        "BackupVaultArn": vault_arn,
        "SourceBackupVaultArn": p.source_vault_arn,
        "ResourceArn": p.resource_arn,
        "ResourceType": if p.cluster { "Aurora" } else { "RDS" },
        "ResourceName": p.resource_name,
        "IamRoleArn": format!("arn:aws:iam::{account_id}:role/service-role/AWSBackupDefaultServiceRole"),
        "Status": p.status,
        "CreationDate": p.created as f64,
        "InitiationDate": p.initiated as f64,
        "BackupSizeInBytes": p.storage as i64 * 1024 * 1024 * 1024,
        "Lifecycle": { "DeleteAfterDays": DELETE_AFTER_DAYS },
        "CalculatedLifecycle": { "DeleteAt": (p.created + DELETE_AFTER_DAYS * 86_400) as f64 },
        "IsEncrypted": true,
        "IsParent": false,
        "VaultType": vault_type(vault),
        "EncryptionKeyType": key_type(vault),
    });
    if let Some(done) = p.completed {
        out["CompletionDate"] = json!(done as f64);
    }
    if let Some(key) = &vault.key {
        out["EncryptionKeyArn"] = json!(key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn routes() {
        assert_eq!(
            route("GET", "/backup-vaults"),
            Some(("ListBackupVaults", None))
        );
        assert_eq!(
            route("GET", "/backup-vaults/"),
            Some(("ListBackupVaults", None))
        );
        assert_eq!(
            route("GET", "/backup-vaults/rds-central/recovery-points"),
            Some((
                "ListRecoveryPointsByBackupVault",
                Some("rds-central".into())
            ))
        );
        assert_eq!(
            route("GET", "/backup-vaults/a%2Db/access-policy/"),
            Some(("GetBackupVaultAccessPolicy", Some("a-b".into())))
        );
        assert_eq!(route("PUT", "/backup-vaults/x/access-policy"), None);
        assert_eq!(route("GET", "/backup-plans"), None);
    }
}
