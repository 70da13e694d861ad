//! The generated organization: deterministic for a given [`Params`], fast to build (20,000 sources in
//! well under a second), with the verdicts rdsguard must reach and the calls an audit needs known
//! up front ([`Truth`]).
//!
//! Shape: account 0 is the management account (the caller, no databases), account 1 the vault (the
//! rules' destination, replicas only), accounts 2.. hold the sources. Sources are spread over the
//! member accounts x regions with a seeded skew (a few big accounts, a busier first region). Every
//! governed source draws a compliance state that fails exactly one thing (or nothing), so the
//! expected status of each source is known by construction. A quarter of the member accounts copy
//! with AWS Backup: their replicas are recovery points in the vault account's backup vaults
//! ([`VAULTS`]), judged as rdsguard judges them. See `docs/performance.md`.

use std::collections::{BTreeMap, HashMap};

use crate::time;

pub const REGIONS: &[&str] = &[
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "ap-southeast-2",
    "eu-central-1",
    "ap-northeast-1",
    "us-east-2",
    "eu-west-2",
    "ca-central-1",
    "sa-east-1",
    "ap-south-1",
    "eu-north-1",
];

/// An account outside the organization that some snapshots are (wrongly) shared with.
pub const OUTSIDER: &str = "210987654321";
pub const TAG_SOURCE_ARN: &str = "rdsguard:source-arn";
pub const RULE_PROD: &str = "fleet-prod";
pub const RULE_STAGING: &str = "fleet-staging";
/// RDS's Describe* page size bounds.
pub const MAX_RECORDS: usize = 100;
pub const MIN_RECORDS: usize = 20;
/// Organizations ListAccounts' largest page.
pub const LIST_ACCOUNTS_MAX: usize = 20;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

#[derive(Debug, Clone)]
pub struct Params {
    /// ACTIVE accounts in the organization, management and vault included (at least 3).
    pub accounts: usize,
    pub regions: usize,
    /// Databases (DB instances that are not Aurora members, plus Aurora clusters) in total.
    pub sources: usize,
    pub seed: u64,
    /// The instant the fleet's ages are measured from: pass the same `--as-of` to rdsguard.
    pub as_of: i64,
    /// `--drill`: the staging rule asks for restore drills, and the newest replica of each governed
    /// staging database carries the evidence of a passed drill.
    pub drill: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            accounts: 10,
            regions: 2,
            sources: 200,
            seed: 1,
            as_of: time::parse_rfc3339("2026-06-01T06:00:00Z").unwrap_or(0),
            drill: false,
        }
    }
}

/// splitmix64: tiny, fast, good enough, and stable across platforms and versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }
    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    /// An index into `weights`, drawn in proportion to them.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
    pub fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(len);
        s
    }
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-8{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a.wrapping_mul(0x100_0000_01B3) ^ b.rotate_left(17)).next_u64()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Env {
    Prod,
    Staging,
    Dev,
}

impl Env {
    pub fn as_str(self) -> &'static str {
        match self {
            Env::Prod => "prod",
            Env::Staging => "staging",
            Env::Dev => "dev",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enc {
    /// The account-region's customer managed key (its alias `rds-share` points at it too).
    Cmk,
    /// The AWS managed key `aws/rds`.
    AwsManaged,
    None,
}

/// What one governed source is seeded to get wrong (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Compliant,
    NoReplica,
    Stale,
    WrongKey,
    TooFew,
    TooMany,
    Exposed,
}

pub const STATES: &[(State, u64)] = &[
    (State::Compliant, 80),
    (State::NoReplica, 4),
    (State::Stale, 5),
    (State::WrongKey, 3),
    (State::TooFew, 3),
    (State::TooMany, 2),
    (State::Exposed, 3),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Compliant,
    NonCompliant,
    Error,
    Exempt,
    Ungoverned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Grants the vault kms:Decrypt, kms:DescribeKey and kms:CreateGrant.
    Grants,
    /// Lacks kms:CreateGrant for the vault: source-key-shareable fails.
    MissingGrant,
    /// GetKeyPolicy answers AccessDeniedException: source-key-shareable errs.
    Denied,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub id: String,
    pub aliases: Vec<&'static str>,
    pub aws_managed: bool,
    pub policy: KeyPolicy,
    pub created: i64,
}

pub type Tags = Vec<(&'static str, String)>;

#[derive(Debug, Clone)]
pub struct Db {
    pub id: String,
    pub engine: &'static Engine,
    pub class: &'static str,
    /// Set on Aurora members: not a source (the cluster is).
    pub cluster: Option<String>,
    pub key: Option<String>,
    pub created: i64,
    pub storage: u32,
    pub tags: Tags,
    pub resource_id: String,
    /// The option group of a DB instance that is not in its engine's default group.
    pub option_group: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub id: String,
    pub engine: &'static Engine,
    pub key: Option<String>,
    pub created: i64,
    pub members: Vec<String>,
    pub tags: Tags,
    pub resource_id: String,
}

/// A DB snapshot or a DB cluster snapshot.
#[derive(Debug, Clone)]
pub struct Snap {
    pub id: String,
    /// DBInstanceIdentifier / DBClusterIdentifier of the database the data came from.
    pub source_id: String,
    pub engine: &'static Engine,
    pub manual: bool,
    pub status: &'static str,
    pub created: i64,
    /// OriginalSnapshotCreateTime (DB snapshots only).
    pub original: Option<i64>,
    pub key: Option<String>,
    /// SourceDBSnapshotIdentifier / SourceDBClusterSnapshotArn: set on copies.
    pub source_snapshot_arn: Option<String>,
    pub source_region: Option<&'static str>,
    pub tags: Tags,
    /// The `restore` attribute.
    pub shared: Vec<String>,
    pub storage: u32,
    /// A check judges this snapshot's sharing: its attribute read is part of the minimal audit.
    pub judged: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub dbs: Vec<Db>,
    pub clusters: Vec<Cluster>,
    /// Manual and automated DB snapshots.
    pub snaps: Vec<Snap>,
    pub cluster_snaps: Vec<Snap>,
    pub keys: Vec<Key>,
    /// AWS Backup vaults (the vault account's only; [`VAULTS`] in this order) and their RDS and
    /// Aurora recovery points.
    pub vaults: Vec<Vault>,
    pub points: Vec<Point>,
    /// The option groups of the account-region (none but the engines' defaults, unlisted, in most).
    pub option_groups: Vec<OptionGroup>,
    snap_ix: HashMap<String, u32>,
    cluster_snap_ix: HashMap<String, u32>,
}

impl Scope {
    pub fn snap(&self, id: &str) -> Option<&Snap> {
        self.snap_ix.get(id).map(|i| &self.snaps[*i as usize])
    }
    pub fn cluster_snap(&self, id: &str) -> Option<&Snap> {
        self.cluster_snap_ix
            .get(id)
            .map(|i| &self.cluster_snaps[*i as usize])
    }
    fn index(&mut self) {
        self.snap_ix = self
            .snaps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i as u32))
            .collect();
        self.cluster_snap_ix = self
            .cluster_snaps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i as u32))
            .collect();
    }
    /// A key by id, key ARN, alias name or alias ARN, as KMS resolves a KeyId.
    pub fn key(&self, reference: &str) -> Option<&Key> {
        let tail = match reference.strip_prefix("arn:aws:kms:") {
            Some(rest) => rest.splitn(3, ':').nth(2)?,
            None => reference,
        };
        if let Some(id) = tail.strip_prefix("key/") {
            return self.keys.iter().find(|k| k.id == id);
        }
        if tail.starts_with("alias/") {
            return self.keys.iter().find(|k| k.aliases.contains(&tail));
        }
        self.keys.iter().find(|k| k.id == tail)
    }
}

/// An option group of a member account-region: `DescribeOptionGroups` serves it. Its options are
/// (name, persistent, permanent), as AWS flags them for the engine.
#[derive(Debug, Clone)]
pub struct OptionGroup {
    pub name: String,
    pub engine: &'static Engine,
    pub options: Vec<(&'static str, bool, bool)>,
}

impl OptionGroup {
    /// AWS refuses to share a snapshot of a database in this group: a persistent or permanent
    /// option, but Oracle's Timezone and OLS.
    pub fn unshareable(&self) -> bool {
        let oracle = self.engine.name.starts_with("oracle");
        self.options.iter().any(|(name, persistent, permanent)| {
            (*persistent || *permanent) && !(oracle && matches!(*name, "Timezone" | "OLS"))
        })
    }
}

/// Per engine (by index into [`ENGINES`]), the options of a member account-region's group of its
/// own, drawn once per scope: (options, weight).
fn option_group_options(engine: usize, rng: &mut Rng) -> Vec<(&'static str, bool, bool)> {
    match ENGINES[engine].name {
        "mysql" | "mariadb" => vec![("MARIADB_AUDIT_PLUGIN", false, false)],
        // SQL Server's TDE is persistent, not permanent.
        "sqlserver-se" if rng.percent(40) => vec![("TDE", true, false)],
        "sqlserver-se" => vec![("SQLSERVER_BACKUP_RESTORE", false, false)],
        // Oracle's TDE is both; its Timezone is both too, and AWS still shares it.
        "oracle-ee" if rng.percent(30) => vec![("TDE", true, true)],
        "oracle-ee" => vec![("Timezone", true, true)],
        _ => Vec::new(),
    }
}

/// The vault account's AWS Backup vaults, the same in every region, by index into [`Scope::vaults`].
pub const VAULTS: &[&str] = &["Default", "rds-central", "rds-airgapped", "partner-dr"];
/// Unlocked, under the vault account's AWS managed key `aws/backup`, no access policy.
pub const VAULT_DEFAULT: u8 = 0;
/// The central vault: the vault's `alias/rds-vault` key, Vault Lock in compliance mode, a policy that
/// lets the organization copy in and nobody copy out.
pub const VAULT_CENTRAL: u8 = 1;
/// A logically air-gapped vault: an AWS-owned key, compliance-locked, no access policy.
pub const VAULT_AIRGAPPED: u8 = 2;
/// A vault whose policy lets an account outside the organization copy recovery points out
/// (share-exposure fails for every database with a point in it); locked in governance mode.
pub const VAULT_PARTNER: u8 = 3;
/// AWS Backup's largest page (ListBackupVaults, ListRecoveryPointsByBackupVault).
pub const BACKUP_MAX_RESULTS: usize = 1000;

#[derive(Debug, Clone)]
pub struct Vault {
    pub name: &'static str,
    pub air_gapped: bool,
    /// The vault's key ARN; `None`: a key AWS owns (then no `EncryptionKeyArn` is served: assumed,
    /// unconfirmed).
    pub key: Option<String>,
    pub locked: bool,
    /// Set when locked in compliance mode (the cooling-off ended at this instant).
    pub lock_date: Option<i64>,
    pub min_retention_days: Option<i64>,
    pub max_retention_days: Option<i64>,
    pub created: i64,
    /// The access policy document; `None`: GetBackupVaultAccessPolicy answers ResourceNotFound.
    pub policy: Option<String>,
}

/// An RDS or Aurora recovery point in a vault of the vault account: a copy AWS Backup made from a
/// source account's vault.
#[derive(Debug, Clone)]
pub struct Point {
    /// `awsbackup:copyjob-<uuid>`: the recovery point ARN is the RDS snapshot ARN with this name.
    pub id: String,
    pub vault: u8,
    pub cluster: bool,
    /// The database's ARN (`ResourceArn`).
    pub resource_arn: String,
    pub resource_name: String,
    pub source_vault_arn: String,
    /// COMPLETED, or CREATING / PARTIAL / EXPIRED (no replica).
    pub status: &'static str,
    /// `CreationDate`: a copy keeps its source's, the data's time.
    pub created: i64,
    pub initiated: i64,
    pub completed: Option<i64>,
    pub storage: u32,
    /// A usable replica of a governed database: its vault's access policy is part of the minimal audit.
    pub judged: bool,
    /// The tags of its RDS view (restore drill evidence); AWS Backup lists none.
    pub tags: Tags,
}

impl Point {
    /// A DB instance recovery point outside the air-gapped vault is an RDS snapshot of the vault
    /// account: `DescribeDBSnapshots SnapshotType=awsbackup` lists it (Aurora's view is a cluster
    /// snapshot, not served here).
    pub fn has_db_snapshot_view(&self) -> bool {
        !self.cluster && self.vault != VAULT_AIRGAPPED
    }
}

#[derive(Debug)]
pub struct Engine {
    pub name: &'static str,
    pub version: &'static str,
    pub port: u16,
    pub license: &'static str,
    pub family: &'static str,
    pub aurora: bool,
}

pub static ENGINES: &[Engine] = &[
    Engine {
        name: "postgres",
        version: "16.3",
        port: 5432,
        license: "postgresql-license",
        family: "postgres16",
        aurora: false,
    },
    Engine {
        name: "mysql",
        version: "8.0.39",
        port: 3306,
        license: "general-public-license",
        family: "mysql8.0",
        aurora: false,
    },
    Engine {
        name: "mariadb",
        version: "10.11.9",
        port: 3306,
        license: "general-public-license",
        family: "mariadb10.11",
        aurora: false,
    },
    Engine {
        name: "sqlserver-se",
        version: "15.00.4385.2.v1",
        port: 1433,
        license: "license-included",
        family: "sqlserver-se-15.0",
        aurora: false,
    },
    Engine {
        name: "oracle-ee",
        version: "19.0.0.0.ru-2024-07.rur-2024-07.r1",
        port: 1521,
        license: "bring-your-own-license",
        family: "oracle-ee-19",
        aurora: false,
    },
    Engine {
        name: "aurora-postgresql",
        version: "16.4",
        port: 5432,
        license: "postgresql-license",
        family: "aurora-postgresql16",
        aurora: true,
    },
    Engine {
        name: "aurora-mysql",
        version: "8.0.mysql_aurora.3.07.1",
        port: 3306,
        license: "general-public-license",
        family: "aurora-mysql8.0",
        aurora: true,
    },
];
const INSTANCE_ENGINE_WEIGHTS: &[u64] = &[40, 30, 10, 10, 10, 0, 0];
const CLUSTER_ENGINE_WEIGHTS: &[u64] = &[0, 0, 0, 0, 0, 60, 40];
const APPS: &[&str] = &[
    "orders",
    "billing",
    "ledger",
    "users",
    "catalog",
    "search",
    "payments",
    "inventory",
    "analytics",
    "auth",
    "events",
    "reports",
];
const TEAMS: &[&str] = &["core", "growth", "data", "platform", "finance", "identity"];
const CLASSES: &[&str] = &[
    "db.t3.medium",
    "db.m6g.large",
    "db.r6g.xlarge",
    "db.m5.2xlarge",
    "db.r6g.4xlarge",
];

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    pub joined: i64,
}

/// What rdsguard must conclude, and what an audit of this fleet costs at the least.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    pub summary: BTreeMap<&'static str, u64>,
    /// The minimal audit, per operation (see [`Fleet::truth`]).
    pub min_calls: BTreeMap<&'static str, u64>,
    /// The busiest account-region's RDS calls in the minimal audit, and the wall-time floor they
    /// impose under RDS's throttle (burst 300, 12/s): no client can finish sooner.
    pub max_scope_rds_calls: u64,
    pub floor_s: f64,
    pub counts: BTreeMap<&'static str, u64>,
}

impl Truth {
    pub fn total_min(&self) -> u64 {
        self.min_calls.values().sum()
    }
}

pub struct Fleet {
    pub params: Params,
    pub regions: Vec<&'static str>,
    pub accounts: Vec<Account>,
    account_ix: HashMap<String, u32>,
    /// Index `account * regions + region`.
    pub scopes: Vec<Scope>,
    pub organization_id: String,
    /// Expected status of every source, by ARN (for diagnosing a mismatch).
    pub expected: Vec<(String, Status)>,
    pub truth: Truth,
    /// Per source: (account, region, env, exempt, kind is cluster, encryption, state) for the truth.
    sources: Vec<SourceFacts>,
    /// The vault account's manual snapshot quotas per region: `[DB snapshots, cluster snapshots]`.
    pub quotas: Vec<[VaultQuota; 2]>,
}

/// One manual snapshot quota of the vault account in one region, as `DescribeAccountAttributes`
/// serves it. `Max` is sized from what rdsguard's `vault-capacity` computes there
/// (`projected = Used - replicas of the governed databases + the sum of their retain.max`): half
/// full in the first region; in the last (of two or more), about 95% for DB snapshots (a PASS with a
/// warning) and a tenth short for cluster snapshots (a FAIL for every governed cluster there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VaultQuota {
    pub used: i64,
    pub max: i64,
    pub projected: i64,
}

/// The quota an account-region without a sized one has (AWS's default).
pub const DEFAULT_SNAPSHOT_QUOTA: i64 = 100;

impl VaultQuota {
    fn sized(
        used: i64,
        projected: i64,
        region: usize,
        regions: usize,
        cluster: bool,
    ) -> VaultQuota {
        let max = if regions >= 2 && region == regions - 1 {
            if cluster {
                (projected * 9 / 10).min(projected - 1).max(0)
            } else {
                ((projected * 100 + 94) / 95).max(projected)
            }
        } else {
            (projected * 2).max(DEFAULT_SNAPSHOT_QUOTA)
        };
        VaultQuota {
            used,
            max,
            projected,
        }
    }

    /// vault-capacity fails: the rules keep more than the quota holds.
    pub fn over(&self) -> bool {
        self.projected > self.max
    }
}

#[derive(Debug, Clone)]
struct SourceFacts {
    account: u32,
    region: u8,
    governed: bool,
    prod: bool,
    cluster: bool,
    enc: Enc,
    /// Key ARN of the newest replica, if any.
    newest_key: Option<String>,
    /// Its replicas in the vault that are manual snapshots (not recovery points).
    snapshot_replicas: i64,
    /// Its rule's `retain.max`.
    retain_max: i64,
    /// Its option group, by index into its scope's `option_groups` (none: the engine's default).
    option_group: Option<u8>,
}

pub const MANAGEMENT: usize = 0;
pub const VAULT: usize = 1;

impl Fleet {
    pub fn account_id(&self, index: usize) -> &str {
        &self.accounts[index].id
    }
    pub fn vault_id(&self) -> &str {
        &self.accounts[VAULT].id
    }
    pub fn management_id(&self) -> &str {
        &self.accounts[MANAGEMENT].id
    }
    pub fn account_index(&self, id: &str) -> Option<usize> {
        self.account_ix.get(id).map(|i| *i as usize)
    }
    pub fn region_index(&self, region: &str) -> Option<usize> {
        self.regions.iter().position(|r| *r == region)
    }
    pub fn scope(&self, account: usize, region: usize) -> &Scope {
        &self.scopes[account * self.regions.len() + region]
    }

    pub fn generate(params: Params) -> Fleet {
        let accounts_n = params.accounts.max(3);
        let regions: Vec<&'static str> = REGIONS
            .iter()
            .take(params.regions.clamp(1, REGIONS.len()))
            .copied()
            .collect();
        let rn = regions.len();
        let mut rng = Rng::new(params.seed);
        let accounts: Vec<Account> = (0..accounts_n)
            .map(|i| {
                let id = format!("{:012}", 200_000_000_000u64 + i as u64);
                let name = match i {
                    MANAGEMENT => "management".to_string(),
                    VAULT => "backup-vault".to_string(),
                    _ => format!("workload-{i:04}"),
                };
                Account {
                    email: format!("aws+{name}@example.com"),
                    joined: params.as_of - 400 * DAY + i as i64 * 600,
                    id,
                    name,
                }
            })
            .collect();
        let account_ix = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i as u32))
            .collect();
        let organization_id = format!("o-{}", rng.hex(10));

        // Where the sources live: member accounts 2.., skewed weights, the first region busier.
        let members = accounts_n - 2;
        let account_weight: Vec<u64> = (0..members)
            .map(|i| {
                let mut r = Rng::new(mix(params.seed, 0xACC0 + i as u64));
                match r.below(100) {
                    0..=2 => 8,
                    3..=17 => 3,
                    _ => 1,
                }
            })
            .collect();
        let mut cumulative = Vec::with_capacity(members * rn);
        let mut total = 0u64;
        for w in &account_weight {
            for r in 0..rn {
                total += w * if r == 0 { 2 } else { 1 };
                cumulative.push(total);
            }
        }
        let mut per_scope = vec![0u32; members * rn];
        for _ in 0..params.sources {
            let x = rng.below(total);
            let slot = cumulative.partition_point(|c| *c <= x);
            per_scope[slot] += 1;
        }

        let mut scopes: Vec<Scope> = (0..accounts_n * rn).map(|_| Scope::default()).collect();
        let mut fleet_sources: Vec<SourceFacts> = Vec::with_capacity(params.sources);
        let mut expected = Vec::with_capacity(params.sources);
        let vault_id = accounts[VAULT].id.clone();

        // Vault keys, per region.
        let mut vault_keys = Vec::with_capacity(rn);
        for (r, region) in regions.iter().enumerate() {
            let mut kr = Rng::new(mix(params.seed, 0x5A17 + r as u64));
            let vault = Key {
                id: kr.uuid(),
                aliases: vec!["alias/rds-vault"],
                aws_managed: false,
                policy: KeyPolicy::Grants,
                created: params.as_of - 380 * DAY,
            };
            let legacy = Key {
                id: kr.uuid(),
                aliases: vec!["alias/legacy-vault"],
                aws_managed: false,
                policy: KeyPolicy::Grants,
                created: params.as_of - 900 * DAY,
            };
            let managed = Key {
                id: kr.uuid(),
                aliases: vec!["alias/aws/rds"],
                aws_managed: true,
                policy: KeyPolicy::Grants,
                created: params.as_of - 950 * DAY,
            };
            let backup_managed = Key {
                id: kr.uuid(),
                aliases: vec!["alias/aws/backup"],
                aws_managed: true,
                policy: KeyPolicy::Grants,
                created: params.as_of - 700 * DAY,
            };
            let arn = |k: &Key| format!("arn:aws:kms:{region}:{vault_id}:key/{}", k.id);
            vault_keys.push((arn(&vault), arn(&legacy), arn(&managed)));
            let scope = &mut scopes[VAULT * rn + r];
            scope.vaults = backup_vaults(
                &organization_id,
                &vault_id,
                &arn(&vault),
                &arn(&backup_managed),
                params.as_of,
            );
            scope.keys = vec![vault, legacy, managed, backup_managed];
        }
        // Recovery points go to the vault like replicas; `traps` are NoReplica databases of accounts
        // that use AWS Backup, whose identifier a deleted database of another account had.
        let mut vault_points: Vec<Vec<Point>> = vec![Vec::new(); rn];
        let vault_key_of: Vec<Vec<Option<String>>> = (0..rn)
            .map(|r| {
                scopes[VAULT * rn + r]
                    .vaults
                    .iter()
                    .map(|v| v.key.clone())
                    .collect()
            })
            .collect();
        let mut traps: Vec<(usize, usize, String, bool)> = Vec::new();
        // A quarter of the member accounts (the first always) copy with AWS Backup instead of (or
        // besides) snapshots.
        let uses_backup: Vec<bool> = (0..accounts_n)
            .map(|a| {
                a == 2 || (a > 2 && Rng::new(mix(params.seed, 0xBAC_0000 + a as u64)).percent(25))
            })
            .collect();

        // Replicas go to the vault after the sources of each scope are made: collect them here.
        let mut vault_snaps: Vec<Vec<Snap>> = vec![Vec::new(); rn];
        let mut vault_cluster_snaps: Vec<Vec<Snap>> = vec![Vec::new(); rn];

        for member in 0..members {
            let account = member + 2;
            let account_id = accounts[account].id.clone();
            for (r, region) in regions.iter().enumerate() {
                let count = per_scope[member * rn + r];
                if count == 0 {
                    continue;
                }
                let mut rng = Rng::new(mix(params.seed, (account * rn + r) as u64));
                let scope = &mut scopes[account * rn + r];
                let policy = match rng.below(100) {
                    0..=1 => KeyPolicy::MissingGrant,
                    2 => KeyPolicy::Denied,
                    _ => KeyPolicy::Grants,
                };
                let cmk = Key {
                    id: rng.uuid(),
                    aliases: vec!["alias/rds-share", "alias/rds-data"],
                    aws_managed: false,
                    policy,
                    created: params.as_of - 300 * DAY,
                };
                let managed = Key {
                    id: rng.uuid(),
                    aliases: vec!["alias/aws/rds"],
                    aws_managed: true,
                    policy: KeyPolicy::Grants,
                    created: params.as_of - 500 * DAY,
                };
                let cmk_arn = format!("arn:aws:kms:{region}:{account_id}:key/{}", cmk.id);
                let managed_arn = format!("arn:aws:kms:{region}:{account_id}:key/{}", managed.id);
                scope.keys = vec![cmk, managed];
                let (vault_cmk, vault_legacy, vault_managed) = &vault_keys[r];
                // Accounts that use AWS Backup: their own draws, so the rest of the fleet is the
                // same as without them.
                let backup = uses_backup[account];
                let mut brng = Rng::new(mix(params.seed, 0xB4C_0000 + (account * rn + r) as u64));
                // Option groups of their own (15% of the DB instances, one group per engine and
                // scope): their own draws too.
                let mut orng = Rng::new(mix(params.seed, 0x0C6_0000 + (account * rn + r) as u64));

                for k in 0..count {
                    let cluster = rng.percent(15);
                    let env = [Env::Prod, Env::Staging, Env::Dev][rng.weighted(&[55, 20, 25])];
                    let app = APPS[rng.below(APPS.len() as u64) as usize];
                    let exempt = env != Env::Dev && !cluster && rng.percent(2);
                    let id = if exempt {
                        format!("legacy-{app}-{}", k + 1)
                    } else {
                        format!("{app}-{}-{}", env.as_str(), k + 1)
                    };
                    let enc = [Enc::Cmk, Enc::AwsManaged, Enc::None][rng.weighted(&[85, 8, 7])];
                    let key = match enc {
                        Enc::Cmk => Some(cmk_arn.clone()),
                        Enc::AwsManaged => Some(managed_arn.clone()),
                        Enc::None => None,
                    };
                    let governed = env != Env::Dev && !exempt;
                    let state = if governed {
                        let weights: Vec<u64> = STATES.iter().map(|(_, w)| *w).collect();
                        STATES[rng.weighted(&weights)].0
                    } else {
                        State::Compliant
                    };
                    let engine = if cluster {
                        &ENGINES[rng.weighted(CLUSTER_ENGINE_WEIGHTS)]
                    } else {
                        &ENGINES[rng.weighted(INSTANCE_ENGINE_WEIGHTS)]
                    };
                    let created = params.as_of - rng.range(30, 1500) * DAY;
                    let storage = [20, 100, 200, 500, 1000][rng.below(5) as usize];
                    let tags: Tags = vec![
                        ("env", env.as_str().to_string()),
                        ("app", app.to_string()),
                        (
                            "team",
                            TEAMS[rng.below(TEAMS.len() as u64) as usize].to_string(),
                        ),
                        ("cost-center", format!("cc-{}", 1000 + rng.below(40))),
                        ("managed-by", "terraform".to_string()),
                    ];
                    let kind = if cluster { "cluster" } else { "db" };
                    let arn = format!("arn:aws:rds:{region}:{account_id}:{kind}:{id}");
                    let mut option_group: Option<u8> = None;
                    if cluster {
                        let members_n = 1 + rng.below(2) as usize;
                        let member_ids: Vec<String> = (0..members_n)
                            .map(|m| format!("{id}-instance-{}", m + 1))
                            .collect();
                        for member_id in &member_ids {
                            scope.dbs.push(Db {
                                id: member_id.clone(),
                                engine,
                                class: CLASSES[rng.below(CLASSES.len() as u64) as usize],
                                cluster: Some(id.clone()),
                                key: key.clone(),
                                created,
                                storage: 1,
                                tags: tags.clone(),
                                resource_id: format!("db-{}", rng.hex(26).to_uppercase()),
                                option_group: None,
                            });
                        }
                        scope.clusters.push(Cluster {
                            id: id.clone(),
                            engine,
                            key: key.clone(),
                            created,
                            members: member_ids,
                            tags: tags.clone(),
                            resource_id: format!("cluster-{}", rng.hex(26).to_uppercase()),
                        });
                    } else {
                        if orng.percent(15) {
                            let e = ENGINES.iter().position(|x| std::ptr::eq(x, engine));
                            let name = format!("{}-options", engine.name);
                            let at = match scope.option_groups.iter().position(|g| g.name == name) {
                                Some(at) => at,
                                None => {
                                    let options = option_group_options(e.unwrap_or(0), &mut orng);
                                    scope.option_groups.push(OptionGroup {
                                        name,
                                        engine,
                                        options,
                                    });
                                    scope.option_groups.len() - 1
                                }
                            };
                            option_group = Some(at as u8);
                        }
                        scope.dbs.push(Db {
                            id: id.clone(),
                            engine,
                            class: CLASSES[rng.below(CLASSES.len() as u64) as usize],
                            cluster: None,
                            key: key.clone(),
                            created,
                            storage,
                            tags: tags.clone(),
                            resource_id: format!("db-{}", rng.hex(26).to_uppercase()),
                            option_group: option_group
                                .map(|at| scope.option_groups[at as usize].name.clone()),
                        });
                    }
                    // The nightly automated snapshot (never listed by a manual-only describe).
                    let auto_time = params.as_of - 3 * HOUR + rng.range(0, 40) * 60;
                    let auto_id = format!("rds:{id}-{}", time::stamp(auto_time));
                    let snapshot_kind = if cluster {
                        "cluster-snapshot"
                    } else {
                        "snapshot"
                    };
                    let auto_arn =
                        format!("arn:aws:rds:{region}:{account_id}:{snapshot_kind}:{auto_id}");
                    let own =
                        |sid: String, manual: bool, t: i64, shared: Vec<String>, judged: bool| {
                            Snap {
                                id: sid,
                                source_id: id.clone(),
                                engine,
                                manual,
                                status: "available",
                                created: t,
                                original: (!cluster).then_some(t),
                                key: key.clone(),
                                source_snapshot_arn: None,
                                source_region: None,
                                tags: if manual { tags.clone() } else { Vec::new() },
                                shared,
                                storage,
                                judged,
                            }
                        };
                    let mut own_snaps = vec![own(auto_id, false, auto_time, Vec::new(), false)];
                    if governed && state == State::Compliant && rng.percent(10) {
                        // A snapshot in transit to the vault: shared with the vault only.
                        let t = params.as_of - rng.range(1, 5) * HOUR;
                        own_snaps.push(own(
                            format!("rdsguard-{id}-{}", time::stamp(t).replace('-', "")),
                            true,
                            t,
                            vec![vault_id.clone()],
                            true,
                        ));
                    }
                    let exposed_replica = state == State::Exposed && rng.percent(50);
                    if state == State::Exposed && !exposed_replica {
                        let t = params.as_of - rng.range(2, 60) * DAY;
                        let who = if rng.percent(50) { "all" } else { OUTSIDER };
                        own_snaps.push(own(
                            format!("{id}-export-{}", k + 1),
                            true,
                            t,
                            vec![who.to_string()],
                            true,
                        ));
                    }
                    if env == Env::Dev && rng.percent(5) {
                        let t = params.as_of - rng.range(2, 90) * DAY;
                        own_snaps.push(own(
                            format!("{id}-before-upgrade"),
                            true,
                            t,
                            Vec::new(),
                            false,
                        ));
                    }
                    if cluster {
                        scope.cluster_snaps.extend(own_snaps);
                    } else {
                        scope.snaps.extend(own_snaps);
                    }

                    // Replicas in the vault, same region.
                    let prod = env == Env::Prod;
                    let (max_age, min, max, interval) = if prod {
                        (26 * HOUR, 2i64, 8i64, DAY)
                    } else {
                        (8 * DAY, 1, 4, 7 * DAY)
                    };
                    let compliant_n = || (min, min.max(5.min(max)));
                    let (n, newest_age) = if !governed {
                        (0, 0)
                    } else {
                        let (lo, hi) = compliant_n();
                        match state {
                            State::NoReplica => (0, 0),
                            State::TooFew => (min - 1, rng.range(HOUR, max_age - 3 * HOUR)),
                            State::TooMany => (
                                rng.range(max + 1, max + 2),
                                rng.range(HOUR, max_age - 3 * HOUR),
                            ),
                            State::Stale => {
                                (rng.range(lo, hi), max_age + rng.range(3 * HOUR, 10 * DAY))
                            }
                            _ => (rng.range(lo, hi), rng.range(HOUR, max_age - 3 * HOUR)),
                        }
                    };
                    let wrong_key = if state == State::WrongKey {
                        if prod && rng.percent(50) {
                            vault_legacy.clone()
                        } else {
                            vault_managed.clone()
                        }
                    } else {
                        vault_cmk.clone()
                    };
                    // With AWS Backup the replicas are recovery points copied into the vault's
                    // vaults; while an account migrates (30%), its older replicas are still
                    // snapshots, and retention counts both.
                    let migrating = backup && governed && brng.percent(30);
                    let source_vault_arn =
                        format!("arn:aws:backup:{region}:{account_id}:backup-vault:Default");
                    let mut newest_key = None;
                    let mut snapshot_replicas = 0i64;
                    // `--drill`: a passed drill of the newest replica of each governed staging
                    // database, right after it was copied; the audit sees it unless it sits where
                    // the audit reads no tags (an Aurora recovery point, or one in the air-gapped
                    // vault), and then restore-tested fails.
                    let drilled = params.drill && governed && !prod;
                    let mut drill_seen = !drilled || n == 0;
                    for i in 0..n {
                        let data_time = params.as_of - newest_age - i * interval;
                        // A copy takes 20 to 90 minutes, but none finishes after the fleet's
                        // instant: what exists at as_of is all the simulator serves.
                        let copy_time = (data_time + rng.range(20, 90) * 60).min(params.as_of);
                        let key = if i == 0 {
                            wrong_key.clone()
                        } else {
                            vault_cmk.clone()
                        };
                        if i == 0 {
                            newest_key = Some(key.clone());
                        }
                        let tagged = rng.percent(70);
                        let source_snapshot_arn = format!(
                            "arn:aws:rds:{region}:{account_id}:{snapshot_kind}:rds:{id}-{}",
                            time::stamp(data_time)
                        );
                        let mut snap_tags: Tags = if tagged {
                            vec![
                                (TAG_SOURCE_ARN, arn.clone()),
                                ("rdsguard:run-id", format!("run-{}", rng.hex(8))),
                            ]
                        } else {
                            vec![("copied-by", "backup-lambda".to_string())]
                        };
                        snap_tags.extend(tags.iter().take(3).cloned());
                        let evidence: Tags = if drilled && i == 0 {
                            vec![
                                ("rdsguard:drill-at", time::iso(copy_time)),
                                ("rdsguard:drill-restore-seconds", "900".to_string()),
                                ("rdsguard:drill-result", "passed".to_string()),
                            ]
                        } else {
                            Vec::new()
                        };
                        let shared = if exposed_replica && i == n - 1 {
                            vec![OUTSIDER.to_string()]
                        } else {
                            Vec::new()
                        };
                        if backup && (i == 0 || !migrating) {
                            // The newest wrong-key replica: in the air-gapped vault (an AWS-owned
                            // key, where the prod rule pins alias/rds-vault) or in Default
                            // (aws/backup, AWS managed); an exposed one sits in partner-dr.
                            let vault = if i == 0 && state == State::WrongKey {
                                if key == *vault_legacy {
                                    VAULT_AIRGAPPED
                                } else {
                                    VAULT_DEFAULT
                                }
                            } else if exposed_replica && i == n - 1 {
                                VAULT_PARTNER
                            } else {
                                VAULT_CENTRAL
                            };
                            if i == 0 {
                                newest_key = vault_key_of[r][vault as usize].clone();
                            }
                            let point = Point {
                                id: format!("awsbackup:copyjob-{}", brng.uuid()),
                                vault,
                                cluster,
                                resource_arn: arn.clone(),
                                resource_name: id.clone(),
                                source_vault_arn: source_vault_arn.clone(),
                                status: "COMPLETED",
                                created: data_time,
                                initiated: (copy_time - 10 * 60).max(data_time),
                                completed: Some(copy_time),
                                storage,
                                judged: true,
                                tags: evidence,
                            };
                            drill_seen |= i == 0 && point.has_db_snapshot_view();
                            vault_points[r].push(point);
                            continue;
                        }
                        drill_seen |= i == 0;
                        snap_tags.extend(evidence);
                        let snap = Snap {
                            id: format!(
                                "{account_id}-{id}-{}",
                                time::stamp(data_time).replace('-', "")
                            ),
                            source_id: id.clone(),
                            engine,
                            manual: true,
                            status: "available",
                            created: if cluster { data_time } else { copy_time },
                            original: (!cluster).then_some(data_time),
                            key: Some(key),
                            source_snapshot_arn: Some(source_snapshot_arn),
                            source_region: (!cluster).then_some(*region),
                            tags: snap_tags,
                            shared,
                            storage,
                            judged: true,
                        };
                        snapshot_replicas += 1;
                        if cluster {
                            vault_cluster_snaps[r].push(snap);
                        } else {
                            vault_snaps[r].push(snap);
                        }
                    }
                    let _ = auto_arn;
                    if backup && governed {
                        // A copy that is no replica: still running, partial, or expired.
                        if matches!(state, State::Compliant | State::TooFew) && brng.percent(15) {
                            let (status, created, completed) = match brng.below(3) {
                                0 => ("CREATING", params.as_of - 40 * 60, None),
                                1 => {
                                    let t = params.as_of - brng.range(2, 30) * HOUR;
                                    ("PARTIAL", t, Some(t + HOUR))
                                }
                                _ => {
                                    let t = params.as_of - brng.range(130, 200) * DAY;
                                    ("EXPIRED", t, Some(t + HOUR))
                                }
                            };
                            vault_points[r].push(Point {
                                id: format!("awsbackup:copyjob-{}", brng.uuid()),
                                vault: VAULT_CENTRAL,
                                cluster,
                                resource_arn: arn.clone(),
                                resource_name: id.clone(),
                                source_vault_arn: source_vault_arn.clone(),
                                status,
                                created,
                                initiated: created,
                                completed,
                                storage,
                                judged: false,
                                tags: Vec::new(),
                            });
                        }
                        if state == State::NoReplica {
                            traps.push((r, account, id.clone(), cluster));
                        }
                    }

                    // An unencrypted Aurora cluster fails source-key-shareable whatever its
                    // rule says: no copy can encrypt a cluster snapshot.
                    // So does a database whose option group AWS will not share a snapshot of.
                    let unshareable = option_group
                        .is_some_and(|at| scope.option_groups[at as usize].unshareable());
                    let fails = governed
                        && (state != State::Compliant
                            || policy == KeyPolicy::MissingGrant
                            || (cluster && enc == Enc::None)
                            || unshareable
                            || !drill_seen);
                    let status = if exempt {
                        Status::Exempt
                    } else if !governed {
                        Status::Ungoverned
                    } else if fails {
                        Status::NonCompliant
                    } else if policy == KeyPolicy::Denied {
                        Status::Error
                    } else {
                        Status::Compliant
                    };
                    expected.push((arn, status));
                    fleet_sources.push(SourceFacts {
                        account: account as u32,
                        region: r as u8,
                        governed,
                        prod,
                        cluster,
                        enc,
                        newest_key,
                        snapshot_replicas,
                        retain_max: max,
                        option_group,
                    });
                }
            }
        }

        // Copies of databases that no longer exist: in the vault, linked to nothing.
        let orphans = params.sources / 100;
        for o in 0..orphans {
            let r = rng.below(rn as u64) as usize;
            let region = regions[r];
            let owner = &accounts[2 + rng.below(members as u64) as usize].id;
            let t = params.as_of - rng.range(10, 200) * DAY;
            let id = format!("deleted-{o}");
            vault_snaps[r].push(Snap {
                id: format!("{owner}-{id}-{}", time::stamp(t).replace('-', "")),
                source_id: id.clone(),
                engine: &ENGINES[0],
                manual: true,
                status: "available",
                created: t + HOUR,
                original: Some(t),
                key: Some(vault_keys[r].0.clone()),
                source_snapshot_arn: None,
                source_region: None,
                tags: vec![(
                    TAG_SOURCE_ARN,
                    format!("arn:aws:rds:{region}:{owner}:db:{id}"),
                )],
                shared: Vec::new(),
                storage: 100,
                judged: false,
            });
        }
        // Recovery points of deleted databases of other accounts that had the identifier of a
        // database without replicas: linked by identifier they would pass for its replicas.
        let mut trap_rng = Rng::new(mix(params.seed, 0x7AA9));
        for (r, owner, id, cluster) in traps {
            let region = regions[r];
            let start = trap_rng.below(members as u64) as usize;
            let other = (0..members).map(|m| 2 + (start + m) % members).find(|a| {
                let scope = &scopes[a * rn + r];
                *a != owner
                    && !scope.dbs.iter().any(|d| d.id == id)
                    && !scope.clusters.iter().any(|c| c.id == id)
            });
            let Some(other) = other else { continue };
            let other_id = &accounts[other].id;
            let kind = if cluster { "cluster" } else { "db" };
            let t = params.as_of - trap_rng.range(2, 20) * HOUR;
            vault_points[r].push(Point {
                id: format!("awsbackup:copyjob-{}", trap_rng.uuid()),
                vault: VAULT_CENTRAL,
                cluster,
                resource_arn: format!("arn:aws:rds:{region}:{other_id}:{kind}:{id}"),
                resource_name: id,
                source_vault_arn: format!(
                    "arn:aws:backup:{region}:{other_id}:backup-vault:Default"
                ),
                status: "COMPLETED",
                created: t,
                initiated: t,
                completed: Some(t + HOUR),
                storage: 100,
                judged: false,
                tags: Vec::new(),
            });
        }
        // The vault's manual snapshot quotas, and vault-capacity's verdicts (see [`VaultQuota`]).
        let mut quotas = Vec::with_capacity(rn);
        for r in 0..rn {
            let mut quota = [VaultQuota::default(); 2];
            for (k, cluster) in [false, true].into_iter().enumerate() {
                let used = if cluster {
                    vault_cluster_snaps[r].iter().filter(|s| s.manual).count()
                } else {
                    vault_snaps[r].iter().filter(|s| s.manual).count()
                } as i64;
                let counted = fleet_sources
                    .iter()
                    .filter(|s| s.governed && s.region as usize == r && s.cluster == cluster);
                let (replicas, retain_max) = counted.fold((0, 0), |(n, m), s| {
                    (n + s.snapshot_replicas, m + s.retain_max)
                });
                quota[k] = VaultQuota::sized(used, used - replicas + retain_max, r, rn, cluster);
            }
            quotas.push(quota);
        }
        for (i, facts) in fleet_sources.iter().enumerate() {
            let quota = quotas[facts.region as usize][usize::from(facts.cluster)];
            if facts.governed && quota.over() {
                expected[i].1 = Status::NonCompliant;
            }
        }
        for r in 0..rn {
            let scope = &mut scopes[VAULT * rn + r];
            scope.points = std::mem::take(&mut vault_points[r]);
            scope.snaps = std::mem::take(&mut vault_snaps[r]);
            scope.cluster_snaps = std::mem::take(&mut vault_cluster_snaps[r]);
        }
        for scope in &mut scopes {
            scope.index();
        }

        let mut fleet = Fleet {
            params,
            regions,
            accounts,
            account_ix,
            scopes,
            organization_id,
            expected,
            truth: Truth::default(),
            sources: fleet_sources,
            quotas,
        };
        fleet.truth = fleet.truth();
        fleet
    }

    /// The verdict counts, the minimal audit's calls, and the calls rdsguard's discovery makes.
    ///
    /// The minimal audit makes no call whose answer no check or report field needs, and no call twice,
    /// but it knows nothing in advance: it learns the fleet in the order the data allows
    /// (accounts, then databases, then snapshots and keys where the governed databases need them).
    /// - Organizations: `ceil(accounts / 20)` ListAccounts pages, 1 DescribeOrganization (the report's
    ///   organization id); STS: 1 GetCallerIdentity, 1 AssumeRole per account but the caller's.
    /// - Every account-region: DescribeDBInstances and DescribeDBClusters, `max(1, ceil(n / 100))` pages
    ///   each (n counts Aurora members too: they come back in the instance list).
    /// - DescribeDBSnapshots (manual) where a governed database instance lives or where governed
    ///   instances' replicas must be (the vault, in the same region); DescribeDBClusterSnapshots
    ///   likewise for clusters; `max(1, ceil(n / 100))` pages.
    /// - One Describe*SnapshotAttributes per snapshot whose sharing share-exposure judges: the
    ///   governed databases' own manual snapshots and their replicas.
    /// - KMS in each source account-region with governed databases: DescribeKey + GetKeyPolicy of the
    ///   customer managed key they use; DescribeKey of the AWS managed key if one uses it; if one is
    ///   unencrypted or under the AWS managed key, DescribeKey of the rule's `source_kms_key` alias
    ///   (plus GetKeyPolicy if it resolves to a key whose policy was not read yet).
    /// - KMS in each vault region with governed databases: DescribeKey of the pinned alias (when a
    ///   governed database's rule pins one), and of every other key the newest replicas use (none
    ///   for a recovery point under a key AWS owns: it names no key).
    /// - RDS DescribeBlueGreenDeployments once in each account-region where a governed database
    ///   lives (one page: the fleet has no Blue/Green deployment), to tell green sides apart.
    /// - RDS DescribeAccountAttributes once in each vault region with governed databases (their rules
    ///   set retain.max: vault-capacity judges the vault's manual snapshot quotas).
    /// - RDS DescribeOptionGroups in each source account-region where a governed DB instance is in an
    ///   option group of its own (source-option-group-shareable): the fewer of one call per distinct
    ///   group (by name) and the pages of a listing of all of them (`ceil(groups / 100)`).
    /// - AWS Backup in each vault region (a destination scope whose rules count recovery points):
    ///   ListBackupVaults twice (own vaults, then `shared`), one page each; per vault,
    ///   ListRecoveryPointsByBackupVault per resource type (RDS, Aurora), `max(1, ceil(n / 1000))`
    ///   pages; GetBackupVaultAccessPolicy of each vault holding a replica of a governed database.
    /// - With `--drill` (the staging rule drills): DescribeDBSnapshots with `SnapshotType=awsbackup`
    ///   in each vault region, `max(1, ceil(n / 100))` pages (n: the DB instance recovery points
    ///   outside the air-gapped vault): their tags hold the drill evidence.
    #[allow(clippy::needless_range_loop)] // indexes three parallel tables by account and region
    fn truth(&self) -> Truth {
        let rn = self.regions.len();
        let an = self.accounts.len();
        let mut t = Truth::default();
        for key in [
            "sources",
            "compliant",
            "non_compliant",
            "error",
            "exempt",
            "ungoverned",
        ] {
            t.summary.insert(key, 0);
        }
        for (_, status) in &self.expected {
            *t.summary.entry("sources").or_default() += 1;
            let key = match status {
                Status::Compliant => "compliant",
                Status::NonCompliant => "non_compliant",
                Status::Error => "error",
                Status::Exempt => "exempt",
                Status::Ungoverned => "ungoverned",
            };
            *t.summary.entry(key).or_default() += 1;
        }
        let pages = |n: usize| n.div_ceil(MAX_RECORDS).max(1) as u64;
        let mut min: BTreeMap<&'static str, u64> = BTreeMap::new();
        let add = |m: &mut BTreeMap<&'static str, u64>, op: &'static str, n: u64| {
            *m.entry(op).or_default() += n;
        };
        add(&mut min, "GetCallerIdentity", 1);
        add(
            &mut min,
            "ListAccounts",
            an.div_ceil(LIST_ACCOUNTS_MAX) as u64,
        );
        add(&mut min, "DescribeOrganization", 1);
        add(&mut min, "AssumeRole", an as u64 - 1);
        // Per scope: governed instance / cluster sources, and which encryptions they use.
        #[derive(Default, Clone)]
        struct ScopeNeeds {
            instances: bool,
            clusters: bool,
            cmk: bool,
            aws: bool,
            none: bool,
            any_source: bool,
            prod: bool,
            newest_keys: Vec<String>,
            /// The distinct option groups of its own of governed DB instances here.
            option_groups: Vec<u8>,
            /// A governed database lives here: being a green side would change its verdict.
            governed_here: bool,
        }
        let mut needs = vec![ScopeNeeds::default(); an * rn];
        for s in &self.sources {
            let i = s.account as usize * rn + s.region as usize;
            needs[i].any_source = true;
            if !s.governed {
                continue;
            }
            needs[i].governed_here = true;
            let v = VAULT * rn + s.region as usize;
            if s.cluster {
                needs[i].clusters = true;
                needs[v].clusters = true;
            } else {
                needs[i].instances = true;
                needs[v].instances = true;
            }
            if let Some(group) = s.option_group {
                if !needs[i].option_groups.contains(&group) {
                    needs[i].option_groups.push(group);
                }
            }
            match s.enc {
                Enc::Cmk => needs[i].cmk = true,
                Enc::AwsManaged => needs[i].aws = true,
                Enc::None => needs[i].none = true,
            }
            needs[v].any_source = true;
            needs[v].prod |= s.prod;
            if let Some(key) = &s.newest_key {
                if !needs[v].newest_keys.contains(key) {
                    needs[v].newest_keys.push(key.clone());
                }
            }
        }
        let mut max_scope = 0u64;
        for a in 0..an {
            for r in 0..rn {
                let i = a * rn + r;
                let scope = &self.scopes[i];
                let need = &needs[i];
                let mut rds = 0u64;
                let inst = pages(scope.dbs.len());
                let clus = pages(scope.clusters.len());
                add(&mut min, "DescribeDBInstances", inst);
                add(&mut min, "DescribeDBClusters", clus);
                rds += inst + clus;
                if need.governed_here {
                    // Which databases are green sides of Blue/Green deployments (none here).
                    add(&mut min, "DescribeBlueGreenDeployments", 1);
                    rds += 1;
                }
                let manual: Vec<&Snap> = scope.snaps.iter().filter(|s| s.manual).collect();
                let manual_c: Vec<&Snap> =
                    scope.cluster_snaps.iter().filter(|s| s.manual).collect();
                if need.instances {
                    add(&mut min, "DescribeDBSnapshots", pages(manual.len()));
                    rds += pages(manual.len());
                }
                if need.clusters {
                    add(
                        &mut min,
                        "DescribeDBClusterSnapshots",
                        pages(manual_c.len()),
                    );
                    rds += pages(manual_c.len());
                }
                let judged = manual.iter().filter(|s| s.judged).count() as u64;
                let judged_c = manual_c.iter().filter(|s| s.judged).count() as u64;
                add(&mut min, "DescribeDBSnapshotAttributes", judged);
                add(&mut min, "DescribeDBClusterSnapshotAttributes", judged_c);
                rds += judged + judged_c;
                if !need.option_groups.is_empty() {
                    // One listing serves every group (a name per call would cost one each).
                    let n = (need.option_groups.len() as u64).min(pages(scope.option_groups.len()));
                    add(&mut min, "DescribeOptionGroups", n);
                    rds += n;
                }
                max_scope = max_scope.max(rds);

                if a == VAULT {
                    // AWS Backup, in every destination scope (the rules count recovery points,
                    // as by default): the vaults (own, then shared in), each vault's points of
                    // each resource type, and the access policy of each vault holding a replica
                    // of a governed database.
                    let backup_pages = |n: usize| n.div_ceil(BACKUP_MAX_RESULTS).max(1) as u64;
                    add(
                        &mut min,
                        "ListBackupVaults",
                        backup_pages(scope.vaults.len()) + 1,
                    );
                    if self.params.drill {
                        // restore-tested: the drill evidence on the DB instance recovery points'
                        // RDS view (the staging rule drills and counts recovery points).
                        let views = scope.points.iter().filter(|p| p.has_db_snapshot_view());
                        add(&mut min, "DescribeDBSnapshots", pages(views.count()));
                    }
                    for v in 0..scope.vaults.len() {
                        let in_vault = || scope.points.iter().filter(|p| p.vault as usize == v);
                        for cluster in [false, true] {
                            let n = in_vault().filter(|p| p.cluster == cluster).count();
                            add(&mut min, "ListRecoveryPointsByBackupVault", backup_pages(n));
                        }
                        if in_vault().any(|p| p.judged) {
                            add(&mut min, "GetBackupVaultAccessPolicy", 1);
                        }
                    }
                    if need.any_source {
                        // vault-capacity: the rules bound their copies (retain.max).
                        add(&mut min, "DescribeAccountAttributes", 1);
                        let mut described = 0u64;
                        if need.prod {
                            described += 1; // alias/rds-vault
                        }
                        let vault_cmk = scope.keys.first().map(|k| k.id.as_str()).unwrap_or("");
                        for key in &need.newest_keys {
                            if !(need.prod && key.ends_with(vault_cmk)) {
                                described += 1;
                            }
                        }
                        add(&mut min, "DescribeKey", described);
                    }
                    continue;
                }
                // Source account-region.
                let mut describe = 0u64;
                let mut policy = 0u64;
                if need.cmk {
                    describe += 1;
                    policy += 1;
                }
                if need.aws {
                    describe += 1;
                }
                if need.aws || need.none {
                    describe += 1;
                    if !need.cmk {
                        policy += 1;
                    }
                }
                add(&mut min, "DescribeKey", describe);
                add(&mut min, "GetKeyPolicy", policy);
            }
        }
        t.min_calls = min;
        t.max_scope_rds_calls = max_scope;
        t.floor_s = (max_scope.saturating_sub(300)) as f64 / 12.0;
        let count = |f: &dyn Fn(&Scope) -> usize| self.scopes.iter().map(f).sum::<usize>() as u64;
        t.counts.insert("accounts", an as u64);
        t.counts.insert("regions", rn as u64);
        t.counts.insert("db_instances", count(&|s| s.dbs.len()));
        t.counts.insert("db_clusters", count(&|s| s.clusters.len()));
        t.counts.insert("db_snapshots", count(&|s| s.snaps.len()));
        t.counts
            .insert("db_cluster_snapshots", count(&|s| s.cluster_snaps.len()));
        t.counts
            .insert("recovery_points", count(&|s| s.points.len()));
        t.counts
            .insert("option_groups", count(&|s| s.option_groups.len()));
        t.counts.insert(
            "recovery_point_replicas",
            count(&|s| s.points.iter().filter(|p| p.judged).count()),
        );
        t.counts.insert(
            "vault_snapshots",
            (0..rn)
                .map(|r| {
                    let s = self.scope(VAULT, r);
                    (s.snaps.len() + s.cluster_snaps.len()) as u64
                })
                .sum(),
        );
        t
    }

    /// rdsguard rules that govern this fleet as the generator intends (see [`State`]).
    pub fn rules_toml(&self) -> String {
        let vault = self.vault_id();
        let regions = self
            .regions
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            r#"# Written by fleetsim for its generated organization (seed {seed}): do not edit, regenerate.
[[rule]]
id = "{RULE_PROD}"
description = "Production databases: a daily copy in the vault account"
select = {{ tags = {{ env = "prod" }}, regions = [{regions}] }}
destination = {{ account = "{vault}", region = "same", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = {{ min = 2, max = 8 }}
severity = "high"

[[rule]]
id = "{RULE_STAGING}"
description = "Staging databases: a weekly copy in the vault account"
select = {{ tags = {{ env = "staging" }}, regions = [{regions}] }}
destination = {{ account = "{vault}", region = "same" }}
source_kms_key = "alias/rds-share"
max_age = "8d"
retain = {{ min = 1, max = 4 }}
severity = "medium"
{drill}
[[exemption]]
arn = "arn:aws:rds:*:*:db:legacy-*"
reason = "Legacy databases being decommissioned (fleetsim)"
expires = "2099-12-31"
"#,
            seed = self.params.seed,
            drill = if self.params.drill {
                "drill = { every = \"30d\", rto = \"4h\", instance_class = \"db.t3.medium\" }\n"
            } else {
                ""
            }
        )
    }

    /// The truth as JSON: what `make bench` compares rdsguard's findings.json and call counts with.
    pub fn truth_json(&self) -> serde_json::Value {
        let t = &self.truth;
        serde_json::json!({
            "params": {
                "accounts": self.accounts.len(),
                "regions": self.regions,
                "sources": self.params.sources,
                "seed": self.params.seed,
                "as_of": time::iso(self.params.as_of).replace(".000Z", "Z"),
            },
            "management_account": self.management_id(),
            "vault_account": self.vault_id(),
            "organization_id": self.organization_id,
            "summary": t.summary,
            "min_calls": t.total_min(),
            "min_calls_by_operation": t.min_calls,
            "max_scope_rds_calls": t.max_scope_rds_calls,
            "throttle_floor_s": t.floor_s,
            "counts": t.counts,
        })
    }
}

/// The vault account's vaults in one region ([`VAULTS`], in that order).
fn backup_vaults(
    organization_id: &str,
    vault_id: &str,
    vault_key: &str,
    backup_key: &str,
    as_of: i64,
) -> Vec<Vault> {
    let copy_in = serde_json::json!({
        "Sid": "OrganizationCopiesIn",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "backup:CopyIntoBackupVault",
        "Resource": "*",
        "Condition": { "StringEquals": { "aws:PrincipalOrgID": organization_id } },
    });
    let deny_deletes = serde_json::json!({
        "Sid": "NoDeletes",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"],
        "Resource": "*",
    });
    let partner = serde_json::json!({
        "Sid": "PartnerRestores",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{OUTSIDER}:root") },
        "Action": ["backup:CopyFromBackupVault"],
        "Resource": "*",
    });
    let own = serde_json::json!({
        "Sid": "VaultAdmins",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{vault_id}:root") },
        "Action": "backup:*",
        "Resource": "*",
    });
    let document = |statements: Vec<serde_json::Value>| {
        Some(serde_json::json!({ "Version": "2012-10-17", "Statement": statements }).to_string())
    };
    vec![
        Vault {
            name: VAULTS[VAULT_DEFAULT as usize],
            air_gapped: false,
            key: Some(backup_key.to_string()),
            locked: false,
            lock_date: None,
            min_retention_days: None,
            max_retention_days: None,
            created: as_of - 700 * DAY,
            policy: None,
        },
        Vault {
            name: VAULTS[VAULT_CENTRAL as usize],
            air_gapped: false,
            key: Some(vault_key.to_string()),
            locked: true,
            lock_date: Some(as_of - 200 * DAY),
            min_retention_days: Some(7),
            max_retention_days: Some(400),
            created: as_of - 210 * DAY,
            policy: document(vec![own.clone(), copy_in.clone(), deny_deletes]),
        },
        Vault {
            name: VAULTS[VAULT_AIRGAPPED as usize],
            air_gapped: true,
            key: None,
            locked: true,
            lock_date: Some(as_of - 90 * DAY),
            min_retention_days: Some(7),
            max_retention_days: Some(100),
            created: as_of - 93 * DAY,
            policy: None,
        },
        Vault {
            name: VAULTS[VAULT_PARTNER as usize],
            air_gapped: false,
            key: Some(vault_key.to_string()),
            locked: true,
            lock_date: None,
            min_retention_days: Some(1),
            max_retention_days: Some(90),
            created: as_of - 150 * DAY,
            policy: document(vec![own, copy_in, partner]),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_counts_add_up() {
        let p = Params {
            accounts: 20,
            regions: 3,
            sources: 500,
            ..Params::default()
        };
        let a = Fleet::generate(p.clone());
        let b = Fleet::generate(p);
        assert_eq!(a.expected.len(), 500);
        assert_eq!(a.expected, b.expected);
        assert_eq!(a.truth.min_calls, b.truth.min_calls);
        let s = &a.truth.summary;
        let parts: u64 = [
            "compliant",
            "non_compliant",
            "error",
            "exempt",
            "ungoverned",
        ]
        .iter()
        .map(|k| s[k])
        .sum();
        assert_eq!(parts, s["sources"]);
        assert!(s["compliant"] > 0 && s["non_compliant"] > 0 && s["ungoverned"] > 0);
    }

    #[test]
    fn recovery_points_are_replicas_exactly_when_judged() {
        let f = Fleet::generate(Params {
            accounts: 30,
            regions: 2,
            sources: 800,
            ..Params::default()
        });
        let governed: std::collections::HashSet<&str> = f
            .expected
            .iter()
            .filter(|(_, s)| !matches!(s, Status::Exempt | Status::Ungoverned))
            .map(|(arn, _)| arn.as_str())
            .collect();
        let all: std::collections::HashSet<&str> =
            f.expected.iter().map(|(arn, _)| arn.as_str()).collect();
        let (mut judged, mut traps, mut unusable, mut clusters) = (0, 0, 0, 0);
        for r in 0..f.regions.len() {
            let scope = f.scope(VAULT, r);
            assert_eq!(scope.vaults.len(), VAULTS.len());
            for p in &scope.points {
                let usable = p.status == "COMPLETED";
                assert_eq!(
                    p.judged,
                    usable && governed.contains(p.resource_arn.as_str())
                );
                assert!(p.resource_arn.contains(f.regions[r]));
                assert!(p.completed.is_none_or(|t| t <= f.params.as_of));
                judged += usize::from(p.judged);
                clusters += usize::from(p.cluster);
                unusable += usize::from(!usable);
                // A deleted database's point: its identifier is some database's, its ARN none's.
                if usable && !all.contains(p.resource_arn.as_str()) {
                    traps += 1;
                }
            }
        }
        assert!(judged > 50 && traps > 0 && unusable > 0 && clusters > 0);
        assert_eq!(f.truth.counts["recovery_point_replicas"], judged as u64);
    }

    #[test]
    fn keys_resolve_by_every_name() {
        let f = Fleet::generate(Params::default());
        let scope = f.scope(VAULT, 0);
        let key = &scope.keys[0];
        let arn = format!(
            "arn:aws:kms:{}:{}:key/{}",
            f.regions[0],
            f.vault_id(),
            key.id
        );
        assert_eq!(scope.key(&arn).map(|k| &k.id), Some(&key.id));
        assert_eq!(scope.key(&key.id).map(|k| &k.id), Some(&key.id));
        assert_eq!(scope.key("alias/rds-vault").map(|k| &k.id), Some(&key.id));
        let alias_arn = format!(
            "arn:aws:kms:{}:{}:alias/rds-vault",
            f.regions[0],
            f.vault_id()
        );
        assert_eq!(scope.key(&alias_arn).map(|k| &k.id), Some(&key.id));
        assert!(scope.key("alias/nope").is_none());
    }
}
