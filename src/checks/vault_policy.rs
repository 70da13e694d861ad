//! Who a backup vault's access policy lets reach its recovery points from outside the destination
//! account: used by `share-exposure` for recovery points. Pure: a policy document in, findings out.

use serde_json::Value;

use crate::rules::pattern;

/// The actions that read, copy out, restore, delete or unprotect a vault's recovery points.
/// `backup:CopyIntoBackupVault` is how copies arrive from the source accounts: not among them.
pub const EXPOSING_ACTIONS: &[&str] = &[
    "backup:CopyFromBackupVault",
    "backup:StartRestoreJob",
    "backup:GetRecoveryPointRestoreMetadata",
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:DisassociateRecoveryPoint",
    "backup:DeleteBackupVault",
    "backup:PutBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultAccessPolicy",
    "backup:PutBackupVaultLockConfiguration",
    "backup:DeleteBackupVaultLockConfiguration",
];

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The account a principal names, or `*` for anyone; `None` for a service principal.
fn principal_accounts(principal: &Value) -> Vec<String> {
    match principal {
        Value::String(s) if s == "*" => vec!["*".to_string()],
        Value::Object(map) => strings(map.get("AWS"))
            .into_iter()
            .map(|p| {
                if p == "*" {
                    p
                } else if let Some(rest) = p.strip_prefix("arn:") {
                    rest.split(':').nth(3).unwrap_or("*").to_string()
                } else {
                    p
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The `Allow` statements of `policy` that give an exposing action to a principal outside
/// `account`, each described in one phrase. A condition does not clear a statement (a condition such
/// as `aws:PrincipalOrgID` still lets other accounts in); it is named in the phrase.
pub fn exposure(policy: &str, account: &str) -> Result<Vec<String>, String> {
    let document: Value =
        serde_json::from_str(policy).map_err(|e| format!("the access policy is not JSON: {e}"))?;
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => return Err("the access policy has no Statement".to_string()),
    };
    let mut found = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let matches = |granted: &str, action: &str| {
            pattern::matches(&granted.to_ascii_lowercase(), &action.to_ascii_lowercase())
        };
        let actions: Vec<&str> = match (statement.get("Action"), statement.get("NotAction")) {
            (Some(granted), _) => {
                let granted = strings(Some(granted));
                EXPOSING_ACTIONS
                    .iter()
                    .copied()
                    .filter(|a| granted.iter().any(|g| matches(g, a)))
                    .collect()
            }
            (None, Some(excluded)) => {
                let excluded = strings(Some(excluded));
                EXPOSING_ACTIONS
                    .iter()
                    .copied()
                    .filter(|a| !excluded.iter().any(|g| matches(g, a)))
                    .collect()
            }
            (None, None) => Vec::new(),
        };
        if actions.is_empty() {
            continue;
        }
        let outside: Vec<String> = match (statement.get("Principal"), statement.get("NotPrincipal"))
        {
            (Some(principal), _) => principal_accounts(principal)
                .into_iter()
                .filter(|a| a != account)
                .collect(),
            // Everyone but the named principals.
            (None, Some(_)) => vec!["*".to_string()],
            (None, None) => Vec::new(),
        };
        if outside.is_empty() {
            continue;
        }
        let who = outside
            .iter()
            .map(|a| if a == "*" { "anyone (*)" } else { a.as_str() })
            .collect::<Vec<_>>()
            .join(", ");
        let id = statement
            .get("Sid")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("#{}", i + 1));
        let conditioned = if statement.get("Condition").is_some() {
            " (with a condition)"
        } else {
            ""
        };
        found.push(format!(
            "statement {id} allows {who} {}{conditioned}",
            actions.join(", ")
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::exposure;

    const VAULT: &str = "222222222222";

    #[test]
    fn copies_arriving_from_the_sources_are_not_exposure() {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Principal":{"AWS":["111111111111","arn:aws:iam::333333333333:root"]},
            "Action":"backup:CopyIntoBackupVault","Resource":"*"}]}"#;
        assert_eq!(exposure(policy, VAULT).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn copy_out_restore_or_delete_by_another_account_is_exposure() {
        let policy = r#"{"Statement":{"Sid":"out","Effect":"Allow",
            "Principal":{"AWS":"arn:aws:iam::999999999999:role/x"},
            "Action":["backup:CopyFromBackupVault","backup:CopyIntoBackupVault"],"Resource":"*"}}"#;
        assert_eq!(
            exposure(policy, VAULT).unwrap(),
            vec!["statement out allows 999999999999 backup:CopyFromBackupVault"]
        );
        let wildcard = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"backup:Delete*",
            "Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#;
        let found = exposure(wildcard, VAULT).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("statement #1 allows anyone (*) backup:DeleteRecoveryPoint"));
        assert!(found[0].ends_with("(with a condition)"));
    }

    #[test]
    fn the_vault_account_itself_denies_and_services_are_not_exposure() {
        let policy = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"backup:*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"backup:DeleteRecoveryPoint","Resource":"*"},
            {"Effect":"Allow","Principal":{"Service":"backup.amazonaws.com"},"Action":"backup:*","Resource":"*"}]}"#;
        assert_eq!(exposure(policy, VAULT).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn not_action_and_not_principal_are_read_for_what_they_let_through() {
        let policy = r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"111111111111"},
            "NotAction":"backup:Delete*","Resource":"*"}]}"#;
        let found = exposure(policy, VAULT).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("backup:CopyFromBackupVault"));
        assert!(!found[0].contains("backup:DeleteRecoveryPoint"));
    }

    #[test]
    fn a_broken_policy_is_an_error_not_a_pass() {
        assert!(exposure("{", VAULT).is_err());
        assert!(exposure("{}", VAULT).is_err());
    }
}
