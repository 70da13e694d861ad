//! Integration tests: the real binary against the emulator (moto, wrapped by tests/emulator/launcher.py).
//! One emulator for this binary; a fresh organization per test, so tests run in parallel.

// Test code: a failed expectation is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod backup;
mod blue_green;
mod ci;
mod cli;
mod drill;
mod fuzz;
mod harness;
mod html;
mod iam;
mod iam_offline;
mod quotas;
mod reliability;
mod remediate;
mod restore;
mod securityhub;
mod setup;
mod setup_deploy;
mod sfn;
mod step_functions;
mod terminal;
