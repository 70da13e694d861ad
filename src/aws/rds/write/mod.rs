//! The RDS calls remediation (and rollback) make, one function per action: [`snapshots`] for DB and
//! cluster snapshots, [`instances`] for the restored DB instances and Aurora clusters. Each creating
//! action is paired with a `find`, so a step can look for its own earlier result before acting.

pub mod drill;
pub mod instances;
pub mod snapshots;
