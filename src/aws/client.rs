//! The client factory: one base `SdkConfig` from the standard credential chain, and per member account a
//! credentials provider from `sts:AssumeRole`, shared by every region of that account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{future, ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use tokio::sync::OnceCell;

use super::error::aws_error;
use crate::inventory::AwsError;

/// Used for the global calls (Organizations, STS) when no region is configured anywhere.
pub const FALLBACK_REGION: &str = "us-east-1";
/// Attempts per call, with the SDK's standard retry: exponential backoff with jitter on throttling and
/// transient errors. Not the adaptive mode: its client-side limiter is shared by every client of a
/// service and region, and after a few throttles under sparse traffic it falls to its floor (about one
/// request every two seconds), which slowed a 13-database audit from 1 s to 110 s in our tests. Load
/// per account-region is bounded by `--concurrency` instead.
pub const MAX_ATTEMPTS: u32 = 10;

pub struct ConnectOptions {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
}

/// Loads the base configuration: the standard credential chain, rustls + ring for TLS.
pub async fn base_config(options: &ConnectOptions) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        // One cache partition per account's credentials: the default (64) evicts them in larger
        // organizations, and every eviction is another AssumeRole.
        .identity_cache(
            aws_config::identity::IdentityCache::lazy()
                .max_partitions(100_000)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(100)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .operation_timeout(Duration::from_secs(300))
                .build(),
        );
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return config
            .into_builder()
            .region(Region::new(FALLBACK_REGION))
            .build();
    }
    config
}

pub struct RoleOptions {
    pub role_name: String,
    pub external_id: Option<String>,
    pub session_name: String,
}

/// Hands out credentials from the first, explicit AssumeRole once, then refreshes through the SDK's
/// `AssumeRoleProvider` whenever the identity cache finds them near expiry (long audits outlive a
/// one-hour role session).
#[derive(Debug)]
struct PrimedProvider {
    primed: Mutex<Option<Credentials>>,
    refresh: AssumeRoleProvider,
}

impl ProvideCredentials for PrimedProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let primed = self.primed.lock().ok().and_then(|mut slot| slot.take());
        match primed {
            Some(credentials) => future::ProvideCredentials::ready(Ok(credentials)),
            None => future::ProvideCredentials::new(self.refresh.provide_credentials()),
        }
    }
}

type AccountSlot = Arc<OnceCell<Result<SharedCredentialsProvider, AwsError>>>;

/// A client of one SDK crate for one account and region, with a retry budget of its own and no retry
/// quota: the SDK's default budget is one per service and region for the whole process, so one
/// throttled account (the vault) would use it up and fail every other account's retries in that
/// region, and its 500-token quota ran dry after ~100 throttled retries and then failed calls that had
/// attempts left. Each call is still bounded by MAX_ATTEMPTS (and RDS calls by the scope's pacer).
macro_rules! scoped_client {
    ($sdk:ident, $service:literal, $config:expr, $account_id:expr, $region:expr) => {{
        use $sdk::config::retry::{RetryPartition, TokenBucket};
        let partition = RetryPartition::custom(format!("{}-{}-{}", $service, $account_id, $region))
            .token_bucket(TokenBucket::unlimited())
            .build();
        let conf = $sdk::config::Builder::from($config)
            .retry_partition(partition)
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// An RDS client for one account and region (see `scoped_client!`).
pub fn rds_client(config: &SdkConfig, account_id: &str, region: &str) -> aws_sdk_rds::Client {
    scoped_client!(aws_sdk_rds, "rds", config, account_id, region)
}

/// A KMS client for one account and region (see `scoped_client!`).
pub fn kms_client(config: &SdkConfig, account_id: &str, region: &str) -> aws_sdk_kms::Client {
    scoped_client!(aws_sdk_kms, "kms", config, account_id, region)
}

/// An AWS Backup client for one account and region (see `scoped_client!`).
pub fn backup_client(config: &SdkConfig, account_id: &str, region: &str) -> aws_sdk_backup::Client {
    scoped_client!(aws_sdk_backup, "backup", config, account_id, region)
}

/// A Secrets Manager client for one account and region's config. Unlike the clients above it keeps the
/// SDK's default retry budget per region: rdsguard makes only a few Secrets Manager calls.
pub fn secrets_client(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

/// A Security Hub client for one account and region (see `scoped_client!`).
pub fn securityhub_client(
    config: &SdkConfig,
    account_id: &str,
    region: &str,
) -> aws_sdk_securityhub::Client {
    scoped_client!(
        aws_sdk_securityhub,
        "securityhub",
        config,
        account_id,
        region
    )
}

/// Builds per-(account, region) configs. The caller's own account uses the base credentials.
pub struct ClientFactory {
    base: SdkConfig,
    caller_account: String,
    partition: String,
    role: RoleOptions,
    accounts: Mutex<HashMap<String, AccountSlot>>,
    pacers: Mutex<HashMap<(String, String), Arc<super::pace::Pacer>>>,
    /// RDS calls per second per account-region (`--rds-rate`).
    rds_rate: f64,
    /// Per-account overrides of `rds_rate` (`--account-rds-rate`).
    account_rds_rates: HashMap<String, f64>,
}

impl ClientFactory {
    pub fn new(
        base: SdkConfig,
        caller_account: String,
        partition: String,
        role: RoleOptions,
    ) -> Self {
        ClientFactory {
            base,
            caller_account,
            partition,
            role,
            accounts: Mutex::new(HashMap::new()),
            pacers: Mutex::new(HashMap::new()),
            rds_rate: super::pace::PER_SECOND,
            account_rds_rates: HashMap::new(),
        }
    }

    /// Paces RDS at `per_second` per account-region instead of the default (for raised quotas).
    pub fn with_rds_rate(mut self, per_second: f64) -> Self {
        self.rds_rate = per_second;
        self
    }

    /// Paces RDS in `account_id` at `per_second` (every region), overriding the default rate there.
    pub fn with_account_rds_rate(mut self, account_id: &str, per_second: f64) -> Self {
        self.account_rds_rates
            .insert(account_id.to_string(), per_second);
        self
    }

    /// The RDS pacer of an account and region, shared by every reader of that scope.
    pub fn pacer(&self, account_id: &str, region: &str) -> Arc<super::pace::Pacer> {
        let mut pacers = match self.pacers.lock() {
            Ok(pacers) => pacers,
            Err(poisoned) => poisoned.into_inner(),
        };
        pacers
            .entry((account_id.to_string(), region.to_string()))
            .or_insert_with(|| {
                let rate = self
                    .account_rds_rates
                    .get(account_id)
                    .copied()
                    .unwrap_or(self.rds_rate);
                Arc::new(super::pace::Pacer::new(super::pace::BURST, rate))
            })
            .clone()
    }

    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    pub fn role_arn(&self, account_id: &str) -> String {
        format!(
            "arn:{}:iam::{account_id}:role/{}",
            self.partition, self.role.role_name
        )
    }

    /// The config for `account_id` in `region`; assumes the role once per account (concurrent callers wait
    /// for the same call). The error is AssumeRole's, with region `*`: it blocks the whole account.
    pub async fn config(&self, account_id: &str, region: &str) -> Result<SdkConfig, AwsError> {
        let builder = self
            .base
            .to_builder()
            .region(Region::new(region.to_string()));
        if account_id == self.caller_account {
            return Ok(builder.build());
        }
        let slot = {
            let mut accounts = self.accounts.lock().map_err(|_| poisoned(account_id))?;
            accounts.entry(account_id.to_string()).or_default().clone()
        };
        let provider = slot.get_or_init(|| self.assume(account_id)).await.clone()?;
        Ok(builder.credentials_provider(provider).build())
    }

    async fn assume(&self, account_id: &str) -> Result<SharedCredentialsProvider, AwsError> {
        let role_arn = self.role_arn(account_id);
        let sts = aws_sdk_sts::Client::new(&self.base);
        let mut request = sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(&self.role.session_name);
        if let Some(external_id) = &self.role.external_id {
            request = request.external_id(external_id);
        }
        let region = "*";
        let response = request.send().await.map_err(|e| {
            let mut error = aws_error(account_id, region, "AssumeRole", &e);
            error.resource = Some(role_arn.clone());
            error
        })?;
        let Some(creds) = response.credentials() else {
            return Err(AwsError {
                account_id: account_id.to_string(),
                region: region.to_string(),
                operation: "AssumeRole".into(),
                code: "NoCredentials".into(),
                message: "AssumeRole answered without credentials".into(),
                resource: Some(role_arn),
            });
        };
        let expiry = std::time::SystemTime::try_from(*creds.expiration()).ok();
        let credentials = Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_string()),
            expiry,
            "rdsguard-assume-role",
        );
        let mut refresh = AssumeRoleProvider::builder(role_arn)
            .session_name(&self.role.session_name)
            .configure(&self.base);
        if let Some(external_id) = &self.role.external_id {
            refresh = refresh.external_id(external_id);
        }
        let provider = PrimedProvider {
            primed: Mutex::new(Some(credentials)),
            refresh: refresh.build().await,
        };
        Ok(SharedCredentialsProvider::new(provider))
    }
}

fn poisoned(account_id: &str) -> AwsError {
    AwsError {
        account_id: account_id.to_string(),
        region: "*".into(),
        operation: "AssumeRole".into(),
        code: "Internal".into(),
        message: "credential cache lock poisoned".into(),
        resource: None,
    }
}
