//! rdsguard: prove that every RDS database in an AWS Organization has a recent, correctly encrypted copy
//! in a separate vault account.
//!
//! The pipeline is `discover (aws) -> Inventory -> evaluate (pure) -> Report -> outputs`. Only [`aws`]
//! talks to AWS, and [`discover`] plans what it reads from the checks' declared needs; [`evaluate`]
//! is a pure function of the inventory, the rules and an instant.

// An application, not a library for others: its documentation is built with
// `--document-private-items` (`make lint`), where links to private items resolve.
#![allow(rustdoc::private_intra_doc_links)]

pub mod asff;
pub mod aws;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod discover;
pub mod drill;
pub mod error;
pub mod evaluate;
pub mod iam;
pub mod inventory;
pub mod linkage;
pub mod output;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod run_dir;
pub mod setup;
pub mod tags;
