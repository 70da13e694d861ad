//! The second and third rounds' reads of discovery, each in its account and region through
//! `aws::scoped`: backup vaults' access policies, KMS keys (in two rounds), the rules' secrets.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt};

use super::plan::{self, KeyPlan, KeyResult, Readable, Wanted};
use super::progress::Progress;
use crate::aws::{scoped, ClientFactory};
use crate::inventory::{AwsError, BackupVault, Inventory, KeyFact, KeyRef, SecretFact};

/// The access policies of the vaults in `wanted` ((owner account, region, vault ARN)), read in
/// their owner accounts.
pub(super) async fn read_vault_policies(
    factory: &ClientFactory,
    vaults: &[BackupVault],
    wanted: &BTreeSet<(String, String, String)>,
    concurrency: usize,
) -> Vec<(String, Result<Option<String>, AwsError>)> {
    let reads: Vec<(String, String, BackupVault)> = wanted
        .iter()
        .filter_map(|(owner, region, arn)| {
            let vault = vaults.iter().find(|v| &v.arn == arn)?;
            Some((owner.clone(), region.clone(), vault.clone()))
        })
        .collect();
    stream::iter(reads)
        .map(|(owner, region, vault)| async move {
            let result = scoped::vault_policy(factory, &owner, &region, &vault).await;
            (vault.arn, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// Where the planned secrets point, into the inventory.
pub(super) async fn read_secrets(
    factory: &ClientFactory,
    inventory: &mut Inventory,
    wanted: BTreeSet<(String, String, String)>,
    concurrency: usize,
    progress: &Progress,
) {
    let results: Vec<_> = stream::iter(wanted)
        .map(|(account, region, name)| async move {
            let result = scoped::secret_endpoint(factory, &account, &region, &name).await;
            progress.secrets.done_one();
            (account, region, name, result)
        })
        .buffer_unordered(concurrency)
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

/// Looks up the planned keys in two rounds: `keys.first`, then what [`plan::second_keys`] decides
/// from its answers.
pub(super) async fn read_keys(
    factory: &ClientFactory,
    keys: &KeyPlan,
    readable: &Readable,
    concurrency: usize,
    progress: &Progress,
) -> Vec<KeyResult> {
    let first = keys.first.clone();
    let mut results = lookup_keys(factory, first, &BTreeSet::new(), concurrency, progress).await;
    let (second, policy_read) = plan::second_keys(readable, keys, &results);
    progress.keys.add_total(second.len());
    let more = lookup_keys(factory, second, &policy_read, concurrency, progress).await;
    results.extend(more);
    results
}

/// `DescribeKey` (and `GetKeyPolicy` where wanted, unless `policy_read` has that key) of every wanted
/// key, in its account and region.
async fn lookup_keys(
    factory: &ClientFactory,
    wanted: Wanted,
    policy_read: &BTreeSet<(String, String, String)>,
    concurrency: usize,
    progress: &Progress,
) -> Vec<KeyResult> {
    stream::iter(wanted)
        .map(|((account, region, reference), policy)| async move {
            let has_policy = |arn: &str| {
                policy_read.contains(&(account.clone(), region.clone(), arn.to_string()))
            };
            let result =
                scoped::key(factory, &account, &region, &reference, policy, has_policy).await;
            progress.keys.done_one();
            let wanted = KeyRef {
                account_id: account,
                region,
                reference,
            };
            (wanted, result)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

pub(super) fn merge_key(keys: &mut Vec<KeyFact>, fact: KeyFact) {
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
