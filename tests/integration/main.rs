//! Integration tests: the real binary against the emulator (moto, wrapped by tests/emulator/launcher.py).
//! One emulator for this binary; a fresh organization per test, so tests run in parallel.

// Test code: a failed expectation is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod backup;
mod blue_green;
mod ci;
mod cli;
mod copy_limits;
mod drill;
mod drill_aurora;
mod drill_backup;
mod fuzz;
mod harness;
mod html;
mod iam;
mod iam_drill;
mod iam_offline;
mod option_groups;
mod quotas;
mod reliability;
mod remediate;
mod restore;
mod securityhub;
mod setup;
mod setup_deploy;
mod sfn;
mod sfn_parts;
mod sfn_restore;
mod shape;
mod step_functions;
mod terminal;
