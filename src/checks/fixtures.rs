//! Inventory fixtures for check tests: a small organization built in code.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::inventory::{
    AccountQuotas, BackupVault, Database, Inventory, KeyFact, KeyManager, Quota, RecoveryPoint,
    Scope, Snapshot, Source, SourceKind, TAG_SOURCE_ARN,
};

pub const PROD: &str = "111111111111";
pub const VAULT: &str = "222222222222";
pub const OTHER: &str = "333333333333";
pub const REGION: &str = "us-east-1";

pub fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

pub fn key_arn(account: &str, id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{account}:key/{id}")
}

pub fn grant_policy(account: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{PROD}:root")}, "Action": "kms:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": [format!("arn:aws:iam::{account}:root")]},
             "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant", "kms:ReEncrypt*"], "Resource": "*"}
        ]
    })
    .to_string()
}

pub struct Org {
    pub inventory: Inventory,
}

impl Org {
    /// Prod and vault accounts, readable, with a shareable CMK in prod and a vault CMK (`alias/rds-vault`).
    pub fn new() -> Org {
        let mut inventory = Inventory::new();
        for account in [PROD, VAULT, OTHER] {
            // AWS's default quotas, with room.
            inventory.quotas.push(AccountQuotas {
                account_id: account.into(),
                region: REGION.into(),
                manual_snapshots: Some(Quota { used: 20, max: 100 }),
                manual_cluster_snapshots: Some(Quota { used: 0, max: 100 }),
            });
            inventory.scopes.push(Scope {
                account_id: account.into(),
                region: REGION.into(),
                complete: true,
                snapshot_kinds: SourceKind::both(),
                backups_listed: true,
                blue_green_read: true,
            });
        }
        let mut org = Org { inventory };
        org.key(
            PROD,
            "prod-cmk",
            KeyManager::Customer,
            &["alias/rds-share"],
            Some(grant_policy(VAULT)),
        );
        org.key(
            VAULT,
            "vault-cmk",
            KeyManager::Customer,
            &["alias/rds-vault"],
            None,
        );
        org.key(
            VAULT,
            "vault-other",
            KeyManager::Customer,
            &["alias/other"],
            None,
        );
        org.key(
            VAULT,
            "vault-aws",
            KeyManager::Aws,
            &["alias/aws/rds"],
            None,
        );
        org.key(PROD, "prod-aws", KeyManager::Aws, &["alias/aws/rds"], None);
        org
    }

    pub fn key(
        &mut self,
        account: &str,
        id: &str,
        manager: KeyManager,
        aliases: &[&str],
        policy: Option<String>,
    ) -> &mut KeyFact {
        self.inventory.keys.push(KeyFact {
            arn: key_arn(account, id),
            account_id: account.into(),
            region: REGION.into(),
            lookups: aliases.iter().map(|a| a.to_string()).collect(),
            key_manager: manager,
            key_state: Some("Enabled".into()),
            enabled: true,
            policy,
        });
        self.inventory.keys.last_mut().expect("just pushed")
    }

    /// An encrypted postgres instance under prod's shareable CMK, tagged env=prod.
    pub fn source(&mut self, account: &str, id: &str) -> Source {
        let source = Source {
            db: Database {
                arn: format!("arn:aws:rds:{REGION}:{account}:db:{id}"),
                kind: SourceKind::DbInstance,
                account_id: account.into(),
                region: REGION.into(),
                identifier: id.into(),
                engine: "postgres".into(),
            },
            status: Some("available".into()),
            encrypted: true,
            kms_key_id: Some(key_arn(PROD, "prod-cmk")),
            tags: [("env".to_string(), "prod".to_string())].into(),
            created_at: Some(as_of() - Duration::days(365)),
            read_replica_of: None,
            option_group: Some("default:postgres-16".into()),
            green_of: None,
        };
        self.inventory.sources.push(source.clone());
        source
    }

    /// Puts the database `id` (now of `engine`) in the option group `group` of its account-region,
    /// listed there with `options` (name, persistent, permanent).
    pub fn option_group(
        &mut self,
        id: &str,
        engine: &str,
        group: &str,
        options: &[(&str, bool, bool)],
    ) {
        use crate::inventory::{GroupOption, OptionGroup, OptionGroupListing};
        for source in self
            .inventory
            .sources
            .iter_mut()
            .filter(|s| s.db.identifier == id)
        {
            source.db.engine = engine.into();
            source.option_group = Some(group.into());
        }
        let options = options
            .iter()
            .map(|(name, persistent, permanent)| GroupOption {
                name: name.to_string(),
                persistent: *persistent,
                permanent: *permanent,
            })
            .collect();
        self.inventory.option_groups.push(OptionGroupListing {
            account_id: PROD.into(),
            region: REGION.into(),
            groups: vec![OptionGroup {
                name: group.into(),
                engine: Some(engine.into()),
                options,
            }],
        });
    }

    /// A snapshot owned by `account` of `source`'s data taken `hours_ago`, encrypted with `key`.
    pub fn snapshot(
        &mut self,
        account: &str,
        id: &str,
        source: &Source,
        hours_ago: i64,
    ) -> &mut Snapshot {
        let time = as_of() - Duration::hours(hours_ago);
        self.inventory.snapshots.push(Snapshot {
            arn: format!("arn:aws:rds:{REGION}:{account}:snapshot:{id}"),
            kind: source.db.kind,
            account_id: account.into(),
            region: REGION.into(),
            identifier: id.into(),
            source_identifier: source.db.identifier.clone(),
            status: "available".into(),
            encrypted: true,
            kms_key_id: Some(key_arn(VAULT, "vault-cmk")),
            snapshot_create_time: Some(time),
            original_snapshot_create_time: Some(time),
            source_snapshot_arn: None,
            source_region: None,
            tags: BTreeMap::new(),
            shared_with: Some(Vec::new()),
            backup: None,
        });
        self.inventory.snapshots.last_mut().expect("just pushed")
    }

    /// A replica in the vault linked by the provenance tag.
    pub fn tagged_replica(&mut self, id: &str, source: &Source, hours_ago: i64) -> &mut Snapshot {
        let arn = source.db.arn.clone();
        let snapshot = self.snapshot(VAULT, id, source, hours_ago);
        snapshot.tags.insert(TAG_SOURCE_ARN.into(), arn);
        snapshot
    }

    /// A standard backup vault of `account`, unlocked, under the vault CMK, with no access policy.
    pub fn vault(&mut self, account: &str, name: &str) -> &mut BackupVault {
        self.inventory.backup_vaults.push(BackupVault {
            account_id: account.into(),
            region: REGION.into(),
            name: name.into(),
            arn: format!("arn:aws:backup:{REGION}:{account}:backup-vault:{name}"),
            owner_account: account.into(),
            vault_type: Some("BACKUP_VAULT".into()),
            vault_state: Some("AVAILABLE".into()),
            locked: false,
            lock_date: None,
            min_retention_days: None,
            max_retention_days: None,
            encryption_key_arn: Some(key_arn(account, "vault-cmk")),
            encryption_key_type: Some("CUSTOMER_MANAGED_KMS_KEY".into()),
            access_policy: Some(None),
        });
        self.inventory
            .backup_vaults
            .last_mut()
            .expect("just pushed")
    }

    /// A COMPLETED recovery point of `source` in `account`'s vault `vault`, its data `hours_ago`
    /// old, encrypted with the vault CMK.
    pub fn recovery_point(
        &mut self,
        account: &str,
        vault: &str,
        id: &str,
        source: &Source,
        hours_ago: i64,
    ) -> &mut Snapshot {
        let snapshot = self.snapshot(account, &format!("awsbackup:{id}"), source, hours_ago);
        snapshot.status = "COMPLETED".into();
        snapshot.shared_with = None;
        snapshot.backup = Some(RecoveryPoint {
            resource_arn: source.db.arn.clone(),
            vault_name: vault.into(),
            vault_arn: format!("arn:aws:backup:{REGION}:{account}:backup-vault:{vault}"),
            source_vault_arn: Some(format!(
                "arn:aws:backup:{REGION}:{}:backup-vault:Default",
                source.db.account_id
            )),
            delete_at: Some(as_of() + Duration::days(30)),
            key_type: Some("CUSTOMER_MANAGED_KMS_KEY".into()),
        });
        self.inventory.snapshots.last_mut().expect("just pushed")
    }
}
