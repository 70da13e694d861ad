//! The only code that calls AWS: the client factory (one config per account and region, assumed-role
//! credentials) and thin per-service wrappers. Reads for discovery (`org`, `scoped`, `rds::read`,
//! `kms`, `secrets::read_endpoint`) are kept apart from remediation's writes (`rds::write`,
//! `secrets::repoint`). What discovery reads is planned in `crate::discover`.

pub mod backup;
mod client;
mod error;
mod kms;
mod org;
pub mod pace;
pub mod rds;
pub mod scoped;
pub mod secrets;
pub mod securityhub;
mod server_time;
pub mod sfn;

pub use client::{
    backup_client, base_config, kms_client, rds_client, secrets_client, securityhub_client,
    ClientFactory, ConnectOptions, RoleOptions, FALLBACK_REGION,
};
pub use error::aws_error;
pub use org::{caller, organization_accounts};
pub use scoped::read_source;
pub use server_time::ServerTime;

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
