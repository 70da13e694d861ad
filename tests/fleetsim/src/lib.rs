//! fleetsim: a fast simulator of an AWS Organization's RDS estate, for rdsguard's scale tests.
//!
//! It serves a deterministic generated fleet ([`fleet`]) over the wire protocols an rdsguard audit
//! uses: Organizations and KMS (awsJson1_1), STS and RDS (query protocol, XML), AWS Backup
//! (restJson1). Test
//! infrastructure only: never part of the rdsguard binary. See docs/performance.md.

pub mod backup;
pub mod fleet;
pub mod proto;
pub mod rds;
pub mod server;
pub mod services;
pub mod time;

pub use fleet::{Fleet, Params};
pub use server::{start, Config, Sim, Throttle};
