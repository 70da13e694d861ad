//! Discovery: the only code that calls AWS. Organizations -> AssumeRole into each account -> each region:
//! RDS resources and the KMS keys they use, into an [`Inventory`].

mod client;
mod error;
pub mod instances;
mod kms;
pub mod pace;
mod rds;
pub mod secrets;
pub mod securityhub;
pub mod snapshots;

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use tracing::{debug, info, warn};

pub use client::{
    base_config, rds_client, ClientFactory, ConnectOptions, RoleOptions, FALLBACK_REGION,
};
pub use error::aws_error;

use crate::inventory::{Account, AwsError, Caller, Inventory, KeyFact, KeyRef, Scope, SecretFact};
use crate::rules::RuleSet;

/// The regions RDS offers that every account has enabled by default (opt-in regions are not listed:
/// name them with `--regions`). Walked when a rule matches any region and `--regions` is not given.
pub const DEFAULT_REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Who is calling, from `sts:GetCallerIdentity` with the base credentials.
pub async fn caller(factory_base: &aws_config::SdkConfig) -> Result<Caller, AwsError> {
    let sts = aws_sdk_sts::Client::new(factory_base);
    let region = factory_base
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| FALLBACK_REGION.to_string());
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("(caller)", &region, "GetCallerIdentity", &e))?;
    Ok(Caller {
        account_id: identity.account().unwrap_or_default().to_string(),
        arn: identity.arn().unwrap_or_default().to_string(),
    })
}

/// The organization's ACTIVE accounts and its id, read with the base credentials.
pub async fn organization_accounts(
    base: &aws_config::SdkConfig,
) -> Result<(Vec<Account>, Option<String>), AwsError> {
    let client = aws_sdk_organizations::Client::new(base);
    let region = base.region().map(|r| r.to_string()).unwrap_or_default();
    let mut accounts = Vec::new();
    let mut pages = client
        .list_accounts()
        .max_results(20)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("(caller)", &region, "ListAccounts", &e))?;
        for account in page.accounts() {
            let active = account.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (Some(id), true) = (account.id(), active) {
                accounts.push(Account {
                    id: id.to_string(),
                    name: account.name().map(str::to_string),
                });
            }
        }
    }
    let organization_id = match client.describe_organization().send().await {
        Ok(out) => out.organization().and_then(|o| o.id()).map(str::to_string),
        Err(e) => {
            warn!(error = %aws_error("(caller)", &region, "DescribeOrganization", &e).code, "could not read the organization id");
            None
        }
    };
    Ok((accounts, organization_id))
}

/// One database, read from its account and region (for commands that act on a single source).
pub async fn read_source(
    factory: &ClientFactory,
    account_id: &str,
    region: &str,
    arn: &str,
) -> Result<Option<crate::inventory::Source>, AwsError> {
    let config = factory.config(account_id, region).await?;
    let client = rds_client(&config, account_id, region);
    let pacer = factory.pacer(account_id, region);
    let mut read = rds::read_scope(&client, &pacer, account_id, region).await;
    if let Some(error) = read.errors.pop() {
        return Err(error);
    }
    Ok(read.sources.into_iter().find(|s| s.arn == arn))
}

pub struct Plan {
    pub accounts: Vec<Account>,
    pub regions: Vec<String>,
    /// Account-region pairs read besides accounts x regions (the rules' named destination regions).
    pub extra_scopes: Vec<(String, String)>,
    pub concurrency: usize,
}

/// Reads every (account, region) of the plan, then the KMS keys the rules' checks need.
pub async fn discover(factory: &ClientFactory, plan: &Plan, rules: &RuleSet) -> Inventory {
    let mut inventory = Inventory::new();
    inventory.accounts = plan.accounts.clone();
    inventory.regions = plan.regions.clone();
    let mut scopes: Vec<(String, String)> = plan
        .accounts
        .iter()
        .flat_map(|a| plan.regions.iter().map(move |r| (a.id.clone(), r.clone())))
        .collect();
    for extra in &plan.extra_scopes {
        if !scopes.contains(extra) {
            scopes.push(extra.clone());
        }
    }
    for (_, region) in &plan.extra_scopes {
        if !inventory.regions.contains(region) {
            inventory.regions.push(region.clone());
        }
    }
    info!(
        accounts = plan.accounts.len(),
        regions = plan.regions.len(),
        "reading {} account-region scopes",
        scopes.len()
    );
    let reads: Vec<_> = stream::iter(scopes)
        .map(|(account, region)| async move {
            let read = match factory.config(&account, &region).await {
                Ok(config) => {
                    let client = rds_client(&config, &account, &region);
                    let pacer = factory.pacer(&account, &region);
                    debug!(%account, %region, "reading RDS");
                    Ok(rds::read_scope(&client, &pacer, &account, &region).await)
                }
                Err(error) => Err(error),
            };
            (account, region, read)
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    let mut account_errors: BTreeMap<String, AwsError> = BTreeMap::new();
    for (account, region, read) in reads {
        match read {
            Ok(read) if read.region_not_enabled => {
                inventory.skipped_scopes.push(format!("{account}/{region}"));
                inventory.scopes.push(Scope {
                    account_id: account,
                    region,
                    complete: true,
                });
            }
            Ok(mut read) => {
                inventory.scopes.push(Scope {
                    account_id: account,
                    region,
                    complete: read.errors.is_empty(),
                });
                inventory.sources.append(&mut read.sources);
                inventory.snapshots.append(&mut read.snapshots);
                inventory
                    .replica_instances
                    .append(&mut read.replica_instances);
                inventory.errors.append(&mut read.errors);
            }
            Err(error) => {
                inventory.scopes.push(Scope {
                    account_id: account.clone(),
                    region,
                    complete: false,
                });
                account_errors.entry(account).or_insert(error);
            }
        }
    }
    inventory.errors.extend(account_errors.into_values());
    let keys = read_keys(factory, &inventory, rules, plan.concurrency).await;
    for (wanted, result) in keys {
        match result {
            Ok((Some(fact), policy_error)) => {
                merge_key(&mut inventory.keys, fact);
                inventory.errors.extend(policy_error);
            }
            Ok((None, _)) => inventory.missing_keys.push(wanted),
            Err(error) => inventory.errors.push(error),
        }
    }
    read_secrets(factory, &mut inventory, rules, plan.concurrency).await;
    inventory.normalise();
    inventory
}

/// Where each governing rule's `restore.secret` points, read in the destination account and region.
async fn read_secrets(
    factory: &ClientFactory,
    inventory: &mut Inventory,
    rules: &RuleSet,
    concurrency: usize,
) {
    // Accounts whose role could not be assumed are already reported.
    let blocked: BTreeSet<String> = inventory
        .errors
        .iter()
        .filter(|e| e.region == "*")
        .map(|e| e.account_id.clone())
        .collect();
    let mut wanted: BTreeSet<(String, String, String)> = BTreeSet::new();
    for source in &inventory.sources {
        let Some(rule) = rules.rule_for(source) else {
            continue;
        };
        if blocked.contains(&rule.destination.account) {
            continue;
        }
        if let Some(name) = rule.restore.as_ref().and_then(|r| r.secret_for(source)) {
            let region = rule.destination.region_for(&source.region).to_string();
            wanted.insert((rule.destination.account.clone(), region, name));
        }
    }
    let results: Vec<_> = stream::iter(wanted)
        .map(|(account, region, name)| async move {
            let result = match factory.config(&account, &region).await {
                Ok(config) => {
                    let client = aws_sdk_secretsmanager::Client::new(&config);
                    secrets::read_endpoint(&client, &account, &region, &name).await
                }
                Err(error) => Err(error),
            };
            (account, region, name, result)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    for (account_id, region, name, result) in results {
        match result {
            Ok(endpoint) => inventory.secrets.push(SecretFact {
                account_id,
                region,
                name,
                exists: endpoint.is_some(),
                host: endpoint.as_ref().and_then(|e| e.host.clone()),
                port: endpoint.as_ref().and_then(|e| e.port),
                instance: endpoint.and_then(|e| e.instance),
            }),
            Err(error) => inventory.errors.push(error),
        }
    }
}

/// The keys the checks will ask about, looked up where they are used.
async fn read_keys(
    factory: &ClientFactory,
    inventory: &Inventory,
    rules: &RuleSet,
    concurrency: usize,
) -> Vec<(
    KeyRef,
    Result<(Option<KeyFact>, Option<AwsError>), AwsError>,
)> {
    // (account, region, reference) -> wants the key policy.
    let mut wanted: BTreeMap<(String, String, String), bool> = BTreeMap::new();
    let readable: BTreeSet<&str> = inventory.accounts.iter().map(|a| a.id.as_str()).collect();
    let mut want = |account: &str, region: &str, reference: &str, policy: bool| {
        // A key ARN owned by another account we can read is looked up there: KMS serves key
        // policies only to the key's own account.
        let (account, region) = match reference.split(':').collect::<Vec<_>>().as_slice() {
            ["arn", _, "kms", key_region, owner, _]
                if *owner != account && readable.contains(owner) =>
            {
                (owner.to_string(), key_region.to_string())
            }
            _ => (account.to_string(), region.to_string()),
        };
        let entry = wanted
            .entry((account, region, reference.to_string()))
            .or_insert(false);
        *entry |= policy;
    };
    let mut destinations = BTreeSet::new();
    for source in &inventory.sources {
        let Some(rule) = rules.rule_for(source) else {
            continue;
        };
        let dest_region = rule.destination.region_for(&source.region).to_string();
        destinations.insert((rule.destination.account.clone(), dest_region.clone()));
        if let (true, Some(key)) = (source.encrypted, &source.kms_key_id) {
            want(&source.account_id, &source.region, key, true);
        }
        if let Some(key) = &rule.source_kms_key {
            want(&source.account_id, &source.region, key, true);
        }
        if let Some(key) = &rule.destination.kms_key {
            want(&rule.destination.account, &dest_region, key, false);
        }
    }
    for snapshot in &inventory.snapshots {
        let in_destination =
            destinations.contains(&(snapshot.account_id.clone(), snapshot.region.clone()));
        if let (true, true, Some(key)) = (in_destination, snapshot.encrypted, &snapshot.kms_key_id)
        {
            want(&snapshot.account_id, &snapshot.region, key, false);
        }
    }
    // Accounts whose role could not be assumed are already reported; don't ask again per key.
    let blocked: BTreeSet<&str> = inventory
        .errors
        .iter()
        .filter(|e| e.region == "*")
        .map(|e| e.account_id.as_str())
        .collect();
    stream::iter(
        wanted
            .into_iter()
            .filter(|((account, _, _), _)| !blocked.contains(account.as_str())),
    )
    .map(|((account, region, reference), policy)| async move {
        let result = match factory.config(&account, &region).await {
            Ok(config) => {
                let client = aws_sdk_kms::Client::new(&config);
                kms::describe(&client, &account, &region, &reference, policy).await
            }
            Err(error) => Err(error),
        };
        let wanted = KeyRef {
            account_id: account,
            region,
            reference,
        };
        (wanted, result)
    })
    .buffer_unordered(concurrency.max(1))
    .collect()
    .await
}

fn merge_key(keys: &mut Vec<KeyFact>, fact: KeyFact) {
    if let Some(known) = keys
        .iter_mut()
        .find(|k| k.arn == fact.arn && k.account_id == fact.account_id && k.region == fact.region)
    {
        for lookup in fact.lookups {
            if !known.lookups.contains(&lookup) {
                known.lookups.push(lookup);
            }
        }
        if known.policy.is_none() {
            known.policy = fact.policy;
        }
        known.lookups.sort();
    } else {
        keys.push(fact);
    }
}
