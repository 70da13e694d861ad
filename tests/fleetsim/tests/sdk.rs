//! The official AWS SDK for Rust, configured as rdsguard configures it (rustls + ring, no default
//! features), must parse every answer the simulator gives an audit: paging, tags, timestamps, share
//! attributes, key metadata and policies, and AWS-shaped errors, throttling included.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use fleetsim::fleet::{Params, VAULT};
use fleetsim::{Config, Fleet, Sim, Throttle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn small() -> Params {
    Params {
        accounts: 6,
        regions: 2,
        sources: 120,
        seed: 7,
        ..Params::default()
    }
}

async fn serve(params: Params, config: Config) -> (String, Arc<Sim>) {
    let sim = Sim::new(Fleet::generate(params), config);
    let (addr, _handle) = fleetsim::start(sim.clone(), 0).await.expect("bind");
    (format!("http://{addr}"), sim)
}

fn no_latency() -> Config {
    Config {
        latency: Duration::ZERO,
        throttle: Some(Throttle::default()),
        vault_throttle: None,
    }
}

async fn sdk_config(endpoint: &str, access_key: &str, region: &str, attempts: u32) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(access_key, "secret", None, None, "test"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(20)),
        )
        .load()
        .await
}

/// The SDK's config acting in `account` (the simulator takes the account from the access key).
async fn config_as(endpoint: &str, account: &str, region: &str) -> SdkConfig {
    let key = fleetsim::services::access_key_for(account);
    sdk_config(endpoint, &key, region, 1).await
}

async fn get(endpoint: &str, path: &str) -> String {
    let addr = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn sts_and_organizations_parse() {
    let (endpoint, sim) = serve(small(), no_latency()).await;
    let fleet = &sim.fleet;
    let base = sdk_config(&endpoint, "AKIAFLEETSIMTEST", "us-east-1", 1).await;
    let sts = aws_sdk_sts::Client::new(&base);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(me.account(), Some(fleet.management_id()));

    let member = fleet.account_id(3).to_string();
    let assumed = sts
        .assume_role()
        .role_arn(format!(
            "arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
        ))
        .role_session_name("rdsguard")
        .send()
        .await
        .expect("AssumeRole");
    let creds = assumed.credentials().expect("credentials");
    assert!(creds.access_key_id().contains(&member));
    assert!(creds.expiration().secs() > 1_700_000_000);
    assert!(assumed
        .assumed_role_user()
        .expect("user")
        .arn()
        .contains(&member));
    let as_member = sdk_config(&endpoint, creds.access_key_id(), "us-east-1", 1).await;
    let who = aws_sdk_sts::Client::new(&as_member)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity as member");
    assert_eq!(who.account(), Some(member.as_str()));

    let denied = sts
        .assume_role()
        .role_arn("arn:aws:iam::999999999999:role/OrganizationAccountAccessRole")
        .role_session_name("rdsguard")
        .send()
        .await
        .expect_err("not in the organization");
    assert_eq!(denied.code(), Some("AccessDenied"));

    let orgs = aws_sdk_organizations::Client::new(&base);
    let mut pages = orgs.list_accounts().max_results(2).into_paginator().send();
    let mut ids = Vec::new();
    let mut page_count = 0;
    while let Some(page) = pages.next().await {
        let page = page.expect("ListAccounts page");
        page_count += 1;
        for account in page.accounts() {
            assert_eq!(account.status().map(|s| s.as_str()), Some("ACTIVE"));
            assert!(account.joined_timestamp().is_some());
            ids.push(account.id().expect("id").to_string());
        }
    }
    assert_eq!(page_count, 3);
    let expected: Vec<String> = fleet.accounts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, expected);
    let org = orgs
        .describe_organization()
        .send()
        .await
        .expect("DescribeOrganization");
    assert_eq!(
        org.organization().and_then(|o| o.id()),
        Some(fleet.organization_id.as_str())
    );
    let too_big = orgs
        .list_accounts()
        .max_results(21)
        .send()
        .await
        .expect_err("MaxResults 21");
    assert_eq!(too_big.code(), Some("InvalidInputException"));
    let from_member = aws_sdk_organizations::Client::new(&as_member)
        .list_accounts()
        .send()
        .await
        .expect_err("members cannot list accounts");
    assert_eq!(from_member.code(), Some("AccessDeniedException"));
}

#[tokio::test]
async fn rds_describes_page_and_parse() {
    let (endpoint, sim) = serve(small(), no_latency()).await;
    let fleet = &sim.fleet;
    let region = fleet.regions[0];
    // The account with the most databases in the first region.
    let account = (2..fleet.accounts.len())
        .max_by_key(|a| fleet.scope(*a, 0).dbs.len())
        .expect("a member");
    let scope = fleet.scope(account, 0);
    let config = config_as(&endpoint, fleet.account_id(account), region).await;
    let rds = aws_sdk_rds::Client::new(&config);

    let mut pages = rds
        .describe_db_instances()
        .max_records(20)
        .into_paginator()
        .send();
    let mut instances = Vec::new();
    while let Some(page) = pages.next().await {
        instances.extend(
            page.expect("DescribeDBInstances page")
                .db_instances()
                .to_vec(),
        );
    }
    assert_eq!(instances.len(), scope.dbs.len());
    for (got, want) in instances.iter().zip(&scope.dbs) {
        assert_eq!(got.db_instance_identifier(), Some(want.id.as_str()));
        assert_eq!(got.engine(), Some(want.engine.name));
        assert_eq!(got.storage_encrypted(), Some(want.key.is_some()));
        assert_eq!(got.kms_key_id(), want.key.as_deref());
        assert_eq!(got.db_cluster_identifier(), want.cluster.as_deref());
        assert_eq!(got.tag_list().len(), want.tags.len());
        assert_eq!(got.tag_list()[0].key(), Some("env"));
        assert!(got
            .db_instance_arn()
            .expect("arn")
            .ends_with(&format!(":db:{}", want.id)));
        assert!(got.endpoint().and_then(|e| e.address()).is_some());
        assert!(got.instance_create_time().is_some());
        assert_eq!(got.db_subnet_group().map(|g| g.subnets().len()), Some(3));
    }

    let clusters = rds
        .describe_db_clusters()
        .max_records(100)
        .send()
        .await
        .expect("DescribeDBClusters");
    assert_eq!(clusters.db_clusters().len(), scope.clusters.len());
    for (got, want) in clusters.db_clusters().iter().zip(&scope.clusters) {
        assert_eq!(got.db_cluster_identifier(), Some(want.id.as_str()));
        assert_eq!(got.db_cluster_members().len(), want.members.len());
        assert_eq!(got.kms_key_id(), want.key.as_deref());
        assert_eq!(got.tag_list().len(), want.tags.len());
    }

    let manual = rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .expect("manual");
    assert_eq!(
        manual.db_snapshots().len(),
        scope.snaps.iter().filter(|s| s.manual).count()
    );
    let all = rds
        .describe_db_snapshots()
        .send()
        .await
        .expect("all snapshots");
    assert_eq!(all.db_snapshots().len(), scope.snaps.len());
    let automated = all
        .db_snapshots()
        .iter()
        .find(|s| s.snapshot_type() == Some("automated"))
        .expect("automated");
    assert!(automated
        .db_snapshot_identifier()
        .expect("id")
        .starts_with("rds:"));

    let bad = rds
        .describe_db_instances()
        .max_records(10)
        .send()
        .await
        .expect_err("MaxRecords 10");
    assert_eq!(bad.code(), Some("InvalidParameterValue"));
    let missing = rds
        .describe_db_snapshot_attributes()
        .db_snapshot_identifier("nope")
        .send()
        .await
        .expect_err("no such snapshot");
    assert_eq!(missing.code(), Some("DBSnapshotNotFound"));
    assert!(missing
        .as_service_error()
        .expect("service error")
        .is_db_snapshot_not_found_fault());
    let tags = rds
        .list_tags_for_resource()
        .resource_name(instances[0].db_instance_arn().expect("arn"))
        .send()
        .await
        .expect("ListTagsForResource");
    assert_eq!(tags.tag_list().len(), scope.dbs[0].tags.len());
}

/// A member scope's option groups of their own: listed (paged) and named, each option with
/// `Persistent` and `Permanent`; the instances in one name it in `OptionGroupMemberships`.
#[tokio::test]
async fn option_groups_list_and_parse() {
    let (endpoint, sim) = serve(small(), no_latency()).await;
    let fleet = &sim.fleet;
    let (account, r) = (2..fleet.accounts.len())
        .flat_map(|a| (0..fleet.regions.len()).map(move |r| (a, r)))
        .max_by_key(|(a, r)| fleet.scope(*a, *r).option_groups.len())
        .expect("a member scope");
    let scope = fleet.scope(account, r);
    assert!(
        !scope.option_groups.is_empty(),
        "the small fleet has option groups"
    );
    let config = sdk_config(
        &endpoint,
        &fleetsim::services::access_key_for(fleet.account_id(account)),
        fleet.regions[r],
        1,
    )
    .await;
    let rds = aws_sdk_rds::Client::new(&config);
    let mut pages = rds
        .describe_option_groups()
        .max_records(20)
        .into_paginator()
        .send();
    let mut groups = Vec::new();
    while let Some(page) = pages.next().await {
        groups.extend(
            page.expect("DescribeOptionGroups page")
                .option_groups_list()
                .to_vec(),
        );
    }
    assert_eq!(groups.len(), scope.option_groups.len());
    for (got, want) in groups.iter().zip(&scope.option_groups) {
        assert_eq!(got.option_group_name(), Some(want.name.as_str()));
        assert_eq!(got.engine_name(), Some(want.engine.name));
        let options: Vec<(String, Option<bool>, Option<bool>)> = got
            .options()
            .iter()
            .map(|o| {
                (
                    o.option_name().unwrap_or_default().to_string(),
                    o.persistent(),
                    o.permanent(),
                )
            })
            .collect();
        let wanted: Vec<(String, Option<bool>, Option<bool>)> = want
            .options
            .iter()
            .map(|(n, persistent, permanent)| (n.to_string(), Some(*persistent), Some(*permanent)))
            .collect();
        assert_eq!(options, wanted);
    }
    let member = scope
        .dbs
        .iter()
        .find(|d| d.option_group.is_some())
        .expect("an instance in a group of its own");
    let described = rds
        .describe_db_instances()
        .db_instance_identifier(&member.id)
        .send()
        .await
        .expect("DescribeDBInstances");
    let memberships = described.db_instances()[0].option_group_memberships();
    assert_eq!(
        memberships[0].option_group_name(),
        member.option_group.as_deref()
    );
    let missing = rds
        .describe_option_groups()
        .option_group_name("nope")
        .send()
        .await
        .expect_err("no such group");
    assert_eq!(missing.code(), Some("OptionGroupNotFoundFault"));
}

#[tokio::test]
async fn vault_snapshots_attributes_and_keys_parse() {
    let (endpoint, sim) = serve(small(), no_latency()).await;
    let fleet = &sim.fleet;
    let region = fleet.regions[0];
    let vault = fleet.vault_id().to_string();
    let scope = fleet.scope(VAULT, 0);
    assert!(scope.snaps.len() > 40, "the vault holds many replicas");
    let config = config_as(&endpoint, &vault, region).await;
    let rds = aws_sdk_rds::Client::new(&config);

    let mut pages = rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .max_records(20)
        .into_paginator()
        .send();
    let mut snapshots = Vec::new();
    while let Some(page) = pages.next().await {
        snapshots.extend(page.expect("page").db_snapshots().to_vec());
    }
    assert_eq!(snapshots.len(), scope.snaps.len());
    for (got, want) in snapshots.iter().zip(&scope.snaps) {
        assert_eq!(got.db_snapshot_identifier(), Some(want.id.as_str()));
        assert_eq!(got.db_instance_identifier(), Some(want.source_id.as_str()));
        assert_eq!(got.status(), Some("available"));
        assert_eq!(got.kms_key_id(), want.key.as_deref());
        assert_eq!(
            got.source_db_snapshot_identifier(),
            want.source_snapshot_arn.as_deref()
        );
        assert_eq!(
            got.original_snapshot_create_time().map(|t| t.secs()),
            want.original
        );
        assert_eq!(
            got.snapshot_create_time().map(|t| t.secs()),
            Some(want.created)
        );
        assert_eq!(got.tag_list().len(), want.tags.len());
    }
    let tagged = snapshots
        .iter()
        .find(|s| {
            s.tag_list()
                .iter()
                .any(|t| t.key() == Some("rdsguard:source-arn"))
        })
        .expect("a tagged replica");
    assert!(tagged.tag_list()[0]
        .value()
        .expect("value")
        .starts_with("arn:aws:rds:"));

    let attributes = rds
        .describe_db_snapshot_attributes()
        .db_snapshot_identifier(snapshots[0].db_snapshot_identifier().expect("id"))
        .send()
        .await
        .expect("DescribeDBSnapshotAttributes");
    let result = attributes.db_snapshot_attributes_result().expect("result");
    assert_eq!(
        result.db_snapshot_attributes()[0].attribute_name(),
        Some("restore")
    );
    assert_eq!(
        result.db_snapshot_attributes()[0].attribute_values().len(),
        scope.snaps[0].shared.len()
    );

    // A snapshot shared with someone, anywhere in the fleet: its restore values come back.
    let (owner, shared) = (0..fleet.accounts.len())
        .find_map(|a| {
            fleet
                .scope(a, 0)
                .snaps
                .iter()
                .find(|s| s.manual && !s.shared.is_empty())
                .map(|s| (a, s))
        })
        .expect("a shared snapshot");
    let owner_config = config_as(&endpoint, fleet.account_id(owner), region).await;
    let values = aws_sdk_rds::Client::new(&owner_config)
        .describe_db_snapshot_attributes()
        .db_snapshot_identifier(&shared.id)
        .send()
        .await
        .expect("attributes of a shared snapshot");
    let got: Vec<String> = values
        .db_snapshot_attributes_result()
        .map(|r| {
            r.db_snapshot_attributes()
                .iter()
                .flat_map(|a| a.attribute_values().to_vec())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(got, shared.shared);

    let clusters = rds
        .describe_db_cluster_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .expect("cluster snapshots");
    assert_eq!(
        clusters.db_cluster_snapshots().len(),
        scope.cluster_snaps.len().min(100)
    );
    if let Some(first) = clusters.db_cluster_snapshots().first() {
        assert!(first.source_db_cluster_snapshot_arn().is_some());
        let attrs = rds
            .describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(first.db_cluster_snapshot_identifier().expect("id"))
            .send()
            .await
            .expect("DescribeDBClusterSnapshotAttributes");
        let result = attrs
            .db_cluster_snapshot_attributes_result()
            .expect("result");
        assert_eq!(
            result.db_cluster_snapshot_attributes()[0].attribute_name(),
            Some("restore")
        );
    }

    let kms = aws_sdk_kms::Client::new(&config);
    let vault_key = kms
        .describe_key()
        .key_id("alias/rds-vault")
        .send()
        .await
        .expect("DescribeKey alias");
    let meta = vault_key.key_metadata().expect("metadata");
    assert_eq!(
        meta.key_manager(),
        Some(&aws_sdk_kms::types::KeyManagerType::Customer)
    );
    assert_eq!(
        meta.key_state(),
        Some(&aws_sdk_kms::types::KeyState::Enabled)
    );
    assert!(meta.enabled());
    let arn = meta.arn().expect("arn").to_string();
    assert!(arn.starts_with(&format!("arn:aws:kms:{region}:{vault}:key/")));
    let by_arn = kms
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .expect("DescribeKey by ARN");
    assert_eq!(
        by_arn.key_metadata().map(|m| m.key_id()),
        Some(meta.key_id())
    );
    let managed = kms
        .describe_key()
        .key_id("alias/aws/rds")
        .send()
        .await
        .expect("aws/rds");
    assert_eq!(
        managed.key_metadata().and_then(|m| m.key_manager()),
        Some(&aws_sdk_kms::types::KeyManagerType::Aws)
    );
    let missing = kms
        .describe_key()
        .key_id("alias/nope")
        .send()
        .await
        .expect_err("no such alias");
    assert!(missing
        .as_service_error()
        .expect("service error")
        .is_not_found_exception());

    // A source account's shareable key and its policy.
    let member = (2..fleet.accounts.len())
        .find(|a| !fleet.scope(*a, 0).keys.is_empty())
        .expect("member with keys");
    let member_config = config_as(&endpoint, fleet.account_id(member), region).await;
    let member_kms = aws_sdk_kms::Client::new(&member_config);
    let share = member_kms
        .describe_key()
        .key_id("alias/rds-share")
        .send()
        .await
        .expect("rds-share");
    let share_arn = share
        .key_metadata()
        .and_then(|m| m.arn())
        .expect("arn")
        .to_string();
    match member_kms
        .get_key_policy()
        .key_id(&share_arn)
        .policy_name("default")
        .send()
        .await
    {
        Ok(policy) => {
            let text = policy.policy().expect("policy");
            let doc: serde_json::Value = serde_json::from_str(text).expect("policy is JSON");
            assert!(doc["Statement"].to_string().contains(&vault));
        }
        Err(e) => assert_eq!(e.code(), Some("AccessDeniedException")),
    }
}

#[tokio::test]
async fn backup_vaults_recovery_points_and_policies_parse() {
    use aws_sdk_backup::types::{EncryptionKeyType, RecoveryPointStatus, VaultType};
    use fleetsim::fleet::{VAULTS, VAULT_CENTRAL};
    let (endpoint, sim) = serve(small(), no_latency()).await;
    let fleet = &sim.fleet;
    let region = fleet.regions[0];
    let vault = fleet.vault_id().to_string();
    let scope = fleet.scope(VAULT, 0);
    assert!(!scope.points.is_empty(), "the vault holds recovery points");
    let config = config_as(&endpoint, &vault, region).await;
    let backup = aws_sdk_backup::Client::new(&config);

    // Own vaults, one a page; none shared in.
    let mut pages = backup
        .list_backup_vaults()
        .max_results(1)
        .into_paginator()
        .send();
    let mut vaults = Vec::new();
    while let Some(page) = pages.next().await {
        vaults.extend(
            page.expect("ListBackupVaults page")
                .backup_vault_list()
                .to_vec(),
        );
    }
    let names: Vec<&str> = vaults
        .iter()
        .filter_map(|v| v.backup_vault_name())
        .collect();
    assert_eq!(names, VAULTS);
    let central = &vaults[VAULT_CENTRAL as usize];
    assert!(central.locked().unwrap_or(false));
    assert!(central.lock_date().expect("compliance mode").secs() < fleet.params.as_of);
    assert_eq!(central.min_retention_days(), Some(7));
    assert_eq!(
        central.encryption_key_type(),
        Some(&EncryptionKeyType::CustomerManagedKmsKey)
    );
    assert_eq!(
        central.backup_vault_arn(),
        Some(format!("arn:aws:backup:{region}:{vault}:backup-vault:rds-central").as_str())
    );
    let airgapped = vaults
        .iter()
        .find(|v| v.vault_type() == Some(&VaultType::LogicallyAirGappedBackupVault))
        .expect("an air-gapped vault");
    assert_eq!(
        airgapped.encryption_key_type(),
        Some(&EncryptionKeyType::AwsOwnedKmsKey)
    );
    assert!(airgapped.encryption_key_arn().is_none());
    let shared = backup
        .list_backup_vaults()
        .by_shared(true)
        .max_results(1000)
        .send()
        .await
        .expect("shared vaults");
    assert!(shared.backup_vault_list().is_empty());
    assert!(shared.next_token().is_none());

    // Recovery points, per resource type, paged.
    for (resource_type, cluster) in [("RDS", false), ("Aurora", true)] {
        let mut pages = backup
            .list_recovery_points_by_backup_vault()
            .backup_vault_name("rds-central")
            .by_resource_type(resource_type)
            .max_results(3)
            .into_paginator()
            .send();
        let mut points = Vec::new();
        while let Some(page) = pages.next().await {
            points.extend(page.expect("points page").recovery_points().to_vec());
        }
        let want: Vec<_> = scope
            .points
            .iter()
            .filter(|p| p.vault == VAULT_CENTRAL && p.cluster == cluster)
            .collect();
        assert_eq!(points.len(), want.len(), "{resource_type}");
        for (got, want) in points.iter().zip(want) {
            assert_eq!(got.resource_arn(), Some(want.resource_arn.as_str()));
            assert_eq!(got.resource_type(), Some(resource_type));
            assert_eq!(got.creation_date().map(|t| t.secs()), Some(want.created));
            assert_eq!(got.completion_date().map(|t| t.secs()), want.completed);
            assert_eq!(got.status(), Some(&RecoveryPointStatus::from(want.status)));
            assert!(got.is_encrypted());
            assert_eq!(got.encryption_key_arn(), central.encryption_key_arn());
            let kind = if cluster {
                "cluster-snapshot"
            } else {
                "snapshot"
            };
            assert!(got.recovery_point_arn().expect("arn").starts_with(&format!(
                "arn:aws:rds:{region}:{vault}:{kind}:awsbackup:copyjob-"
            )));
            assert!(got
                .calculated_lifecycle()
                .and_then(|l| l.delete_at())
                .is_some());
        }
    }

    // The access policy: a document, or no policy at all.
    let policy = backup
        .get_backup_vault_access_policy()
        .backup_vault_name("rds-central")
        .send()
        .await
        .expect("the central vault's policy");
    let doc: serde_json::Value =
        serde_json::from_str(policy.policy().expect("policy")).expect("policy is JSON");
    assert!(doc["Statement"]
        .to_string()
        .contains("backup:CopyIntoBackupVault"));
    let none = backup
        .get_backup_vault_access_policy()
        .backup_vault_name("Default")
        .send()
        .await
        .expect_err("no policy");
    assert!(none
        .as_service_error()
        .expect("service error")
        .is_resource_not_found_exception());
    let bad = backup
        .list_backup_vaults()
        .max_results(1001)
        .send()
        .await
        .expect_err("maxResults 1001");
    assert_eq!(bad.code(), Some("InvalidParameterValueException"));

    // A member account has no vaults.
    let member =
        aws_sdk_backup::Client::new(&config_as(&endpoint, fleet.account_id(2), region).await);
    let listed = member
        .list_backup_vaults()
        .send()
        .await
        .expect("member vaults");
    assert!(listed.backup_vault_list().is_empty());
    let missing = member
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("rds-central")
        .send()
        .await
        .expect_err("not the member's vault");
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    let counts: serde_json::Value =
        serde_json::from_str(&get(&endpoint, "/fleetsim/counts").await).expect("counts JSON");
    assert!(
        counts["by_operation"]["ListRecoveryPointsByBackupVault"]["calls"]
            .as_u64()
            .is_some_and(|n| n >= 2)
    );
    assert_eq!(
        counts["by_operation"]["GetBackupVaultAccessPolicy"]["calls"].as_u64(),
        Some(2)
    );
}

#[tokio::test]
async fn throttling_is_aws_shaped_and_retried() {
    let config = Config {
        latency: Duration::ZERO,
        throttle: Some(Throttle {
            burst: 5.0,
            rate: 20.0,
        }),
        vault_throttle: None,
    };
    let (endpoint, sim) = serve(small(), config).await;
    let vault = sim.fleet.vault_id().to_string();
    let key = fleetsim::services::access_key_for(&vault);
    let once =
        aws_sdk_rds::Client::new(&sdk_config(&endpoint, &key, sim.fleet.regions[0], 1).await);
    let mut throttled = None;
    for _ in 0..8 {
        if let Err(e) = once.describe_db_instances().send().await {
            throttled = Some(e);
            break;
        }
    }
    let error = throttled.expect("the 6th call in a burst of 5 is throttled");
    assert_eq!(error.code(), Some("Throttling"));
    assert_eq!(error.message(), Some("Rate exceeded"));
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(400));

    // Another region of the same account has its own bucket.
    let other_region =
        aws_sdk_rds::Client::new(&sdk_config(&endpoint, &key, sim.fleet.regions[1], 1).await);
    other_region
        .describe_db_instances()
        .send()
        .await
        .expect("separate bucket");

    // With the SDK's standard retry, throttles are retried with backoff and the calls succeed.
    let retrying =
        aws_sdk_rds::Client::new(&sdk_config(&endpoint, &key, sim.fleet.regions[0], 10).await);
    for _ in 0..20 {
        retrying
            .describe_db_clusters()
            .send()
            .await
            .expect("retried until admitted");
    }
    let counts: serde_json::Value =
        serde_json::from_str(&get(&endpoint, "/fleetsim/counts").await).expect("counts JSON");
    assert!(counts["throttled"].as_u64().expect("throttled") > 1);
    assert!(
        counts["by_operation"]["DescribeDBClusters"]["calls"]
            .as_u64()
            .expect("calls")
            >= 20
    );
    let expected: serde_json::Value =
        serde_json::from_str(&get(&endpoint, "/fleetsim/expected").await).expect("expected JSON");
    assert_eq!(expected["summary"]["sources"], 120);
    assert!(get(&endpoint, "/fleetsim/rules").await.contains("[[rule]]"));
}

#[test]
fn the_bench_fleet_generates_in_well_under_a_second() {
    let started = std::time::Instant::now();
    let fleet = Fleet::generate(Params {
        accounts: 1000,
        regions: 4,
        sources: 20_000,
        ..Params::default()
    });
    let elapsed = started.elapsed();
    assert_eq!(fleet.truth.summary["sources"], 20_000);
    // Debug builds are ~10x slower than the release build `make bench` uses.
    assert!(elapsed < Duration::from_secs(3), "generated in {elapsed:?}");
}

/// `--drill`: the staging rule drills; the RDS view of the vault's DB instance recovery points
/// (`SnapshotType=awsbackup`, the only listing that has them) carries the drill evidence, and the
/// minimal audit lists it once per vault region, and only then.
#[tokio::test]
async fn drill_evidence_on_recovery_point_views_parses_and_is_counted() {
    let plain = Fleet::generate(small());
    let drilled = Params {
        drill: true,
        ..small()
    };
    let (endpoint, sim) = serve(drilled, no_latency()).await;
    let fleet = &sim.fleet;
    assert!(fleet.rules_toml().contains("drill = { every = \"30d\""));
    assert!(!plain.rules_toml().contains("drill ="));
    let listings = |f: &Fleet| f.truth.min_calls.get("DescribeDBSnapshots").copied();
    let regions = fleet.regions.len() as u64;
    assert_eq!(listings(fleet), listings(&plain).map(|n| n + regions));

    let region = fleet.regions[0];
    let vault = fleet.vault_id().to_string();
    let config = config_as(&endpoint, &vault, region).await;
    let rds = aws_sdk_rds::Client::new(&config);
    let views = rds
        .describe_db_snapshots()
        .snapshot_type("awsbackup")
        .send()
        .await
        .expect("DescribeDBSnapshots awsbackup");
    let scope = fleet.scope(VAULT, 0);
    let expected: Vec<&str> = scope
        .points
        .iter()
        .filter(|p| p.has_db_snapshot_view())
        .map(|p| p.id.as_str())
        .collect();
    assert!(
        !expected.is_empty(),
        "the vault holds DB instance recovery points"
    );
    let listed: Vec<&str> = views
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    assert_eq!(listed, expected);
    let evidence: Vec<_> = views
        .db_snapshots()
        .iter()
        .filter(|s| {
            s.tag_list()
                .iter()
                .any(|t| t.key() == Some("rdsguard:drill-result"))
        })
        .collect();
    assert!(!evidence.is_empty(), "some views carry drill evidence");
    for view in &evidence {
        assert_eq!(view.snapshot_type(), Some("awsbackup"));
        assert!(view
            .db_snapshot_arn()
            .is_some_and(|a| a.contains(":snapshot:awsbackup:")));
    }
    // Manual listings never return them.
    let manual = rds
        .describe_db_snapshots()
        .snapshot_type("manual")
        .max_records(100)
        .send()
        .await
        .expect("manual");
    assert!(manual
        .db_snapshots()
        .iter()
        .all(|s| s.snapshot_type() == Some("manual")));
}
