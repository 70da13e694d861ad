//! The Step Functions engine, first slice: the Amazon States Language definition of the remediation
//! pipeline, generated from the same step list as the in-process executor ([`Item::steps`]), the
//! executions' input (the plan), the CloudFormation template that deploys it, and the execution
//! role's documents. Deploying it and starting the executions is the next slice.
//!
//! - [`definition`]: one Standard state machine: a Distributed Map over the plan's items; per item, a
//!   chain of the steps of its kind (DB instance, Aurora cluster, AWS Backup), each guarded by the
//!   item's own step list, each a Task on an AWS SDK service integration with AWS's own names, run
//!   under the member role of the account it acts in (`Credentials`), with Retry on throttling and
//!   transient errors, a wait loop (Describe → Choice → Wait) bounded by the step timeout, and a
//!   Catch that ends only this item, recording the failed step and the error.
//! - [`executions`]: the plan split into executions: SDK integrations call only the state machine's
//!   own region, so each item's steps are cut into legs of one region each ([`side`]); leg `n` of
//!   every item runs in round `n`, one execution per region.
//! - [`transitions`]: what an item costs, in state transitions, walked on the definition.
//! - [`template`]: the CloudFormation template and the execution role's policy and trust.

mod cost;
mod input;
pub mod run;
mod states;
pub mod template;

use serde_json::{json, Map, Value};

use super::plan::{Item, Plan};
use super::steps::Step;
use crate::inventory::SourceKind;
use crate::rules::RuleSet;

pub use cost::transitions;
pub use input::{executions, item_input, Execution};

/// The state machine's name, in the template and the execution role's policy.
pub const STATE_MACHINE_NAME: &str = "rdsguard-remediation";
/// The execution role's name in the exported template, and `--execution-role`'s default.
pub const EXECUTION_ROLE_NAME: &str = "rdsguard-remediation-execution";
/// The name of the exported definition file.
pub const DEFINITION_FILE: &str = "state-machine.asl.json";
/// The name of the exported CloudFormation template.
pub const TEMPLATE_FILE: &str = "state-machine.template.json";

/// What shapes the definition: none of it depends on the plan, so one deployed machine serves every
/// plan, and a definition changes only when these do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Databases repaired at once (`--max-parallel`): each execution's `max_parallel`, which the
    /// map reads (`MaxConcurrencyPath`); lower in a round of cross-region copies ([`executions`]).
    pub max_parallel: u16,
    /// The longest wait for one asynchronous step (`--step-timeout`), in seconds.
    pub step_timeout_secs: u64,
    /// Seconds between two polls of a wait loop.
    pub poll_seconds: u64,
    /// The member role's name in every account (`--role-name`): the role each Task runs under.
    pub role_name: String,
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_parallel: 4,
            step_timeout_secs: 3 * 3600,
            poll_seconds: 60,
            role_name: "OrganizationAccountAccessRole".into(),
            partition: "aws".into(),
        }
    }
}

impl Options {
    /// Polls of one wait loop before the step gives up: the step timeout over the poll interval.
    pub fn max_polls(&self) -> u64 {
        self.step_timeout_secs
            .div_ceil(self.poll_seconds.max(1))
            .max(1)
    }
}

/// The region a step's calls go to: the source database's, or the destination's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

/// Where each step calls (as its `Decl::runs_in` says; a unit test holds them together). A state
/// machine calls only its own region, so this is what cuts an item into legs.
pub fn side(step: Step) -> Side {
    match step {
        Step::Snapshot
        | Step::ReEncrypt
        | Step::Share
        | Step::CopyStage
        | Step::Cleanup
        | Step::BackupJob
        | Step::CopyJob => Side::Source,
        Step::FindReplica
        | Step::Copy
        | Step::Restore
        | Step::Repoint
        | Step::Supersede
        | Step::PruneRestores
        | Step::Prune => Side::Destination,
    }
}

/// Why an item (or a rule) does not run on this engine: the step, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub source: String,
    pub step: &'static str,
    pub reason: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: step `{}` does not run on the Step Functions engine: {}",
            self.source, self.step, self.reason
        )
    }
}

/// Why the engine never repoints a secret: to edit it, the value would pass through the states, and
/// Step Functions keeps every state's input and output in the execution's history.
const REPOINT_REFUSED: &str = "repointing a secret would pass its value (the password) through the states, and Step Functions keeps every state's input and output in the execution history; run rules with restore.secret on the local engine (`audit --remediate --engine local`)";

/// Whether the engine runs `step`: `None`, or why not. It runs every step of every kind of item
/// (DB instances, Aurora clusters, AWS Backup jobs) but the secret's (by design).
pub fn unsupported(step: Step) -> Option<&'static str> {
    match step {
        Step::Repoint | Step::Supersede => Some(REPOINT_REFUSED),
        _ => None,
    }
}

/// The steps of every kind of item the machine runs, in the one order of [`Item::steps`]: taken
/// from that list for the fullest item of each kind, less what the engine does not run.
pub fn chain(kind: Chain) -> Vec<Step> {
    fullest(kind)
        .steps()
        .into_iter()
        .filter(|s| unsupported(*s).is_none())
        .collect()
}

/// The three chains of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain {
    Instance,
    Cluster,
    Backup,
}

impl Chain {
    pub const ALL: [Chain; 3] = [Chain::Instance, Chain::Cluster, Chain::Backup];

    /// The chain an item runs.
    pub fn of(item: &Item) -> Chain {
        match (item.backup.is_some(), item.kind) {
            (true, _) => Chain::Backup,
            (false, SourceKind::DbInstance) => Chain::Instance,
            (false, SourceKind::DbCluster) => Chain::Cluster,
        }
    }

    /// Prefix of its state names (state names are unique in the whole item processor).
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Chain::Instance | Chain::Backup => "",
            Chain::Cluster => "cluster ",
        }
    }
}

/// An item of `kind` with every step the plan can give it: a copy re-encrypted and staged across
/// regions, transit snapshots left by an earlier run, a restore with a secret and earlier restores
/// to prune, replicas to prune; or AWS Backup jobs.
fn fullest(kind: Chain) -> Item {
    use crate::report::remediation::{BackupJobs, Names, RestorePlan};
    let backup = (kind == Chain::Backup).then(|| BackupJobs {
        source_vault: String::new(),
        destination_vault_arn: String::new(),
        role_arn: String::new(),
        delete_after_days: 0,
        backup_token: String::new(),
        copy_token: String::new(),
    });
    Item {
        source_arn: String::new(),
        kind: if kind == Chain::Cluster {
            SourceKind::DbCluster
        } else {
            SourceKind::DbInstance
        },
        account_id: String::new(),
        region: String::new(),
        identifier: String::new(),
        rule: String::new(),
        dest_account: String::new(),
        dest_region: String::new(),
        dest_kms_key: String::new(),
        reencrypt_key: Some(String::new()),
        names: Names {
            snapshot: String::new(),
            reencrypted: Some(String::new()),
            stage: Some(String::new()),
            replica: String::new(),
        },
        copy: true,
        prune: vec![String::new()],
        orphans: vec![String::new()],
        restore: Some(RestorePlan {
            from_snapshot: String::new(),
            instance: String::new(),
            instance_class: String::new(),
            subnet_group: None,
            security_groups: Vec::new(),
            parameter_group: None,
            secret: Some(String::new()),
            cluster: kind == Chain::Cluster,
            engine: String::new(),
            prune: vec![String::new()],
        }),
        backup,
        option_groups: Default::default(),
        reasons: Vec::new(),
        notes: Vec::new(),
    }
}

/// The key of a step in an item's `steps` flags (`$.steps.<key>`).
pub(crate) fn flag(step: Step) -> String {
    step.name().replace('-', "_")
}

/// Refuses an item with a step the engine does not run, naming the step.
pub fn check_item(item: &Item) -> Result<(), Refused> {
    for step in item.steps() {
        if let Some(reason) = unsupported(step) {
            return Err(Refused {
                source: item.source_arn.clone(),
                step: step.name(),
                reason,
            });
        }
    }
    Ok(())
}

/// Refuses rules whose items would need a step the engine does not run (a restore with a secret to
/// repoint), naming the rule and the step.
pub fn check_rules(rules: &RuleSet) -> Result<(), Refused> {
    for rule in &rules.rules {
        if rule.restore.as_ref().is_some_and(|r| r.secret.is_some()) {
            return Err(Refused {
                source: format!("rule `{}` (restore.secret)", rule.id),
                step: Step::Repoint.name(),
                reason: REPOINT_REFUSED,
            });
        }
    }
    Ok(())
}

/// Refuses a plan with any item the engine does not run.
pub fn check_plan(plan: &Plan) -> Result<(), Refused> {
    plan.items.iter().try_for_each(check_item)
}

/// The state machine's definition.
pub fn definition(o: &Options) -> Value {
    let mut processor = Map::new();
    processor.insert("route".into(), states::route());
    for kind in Chain::ALL {
        states::Builder::new(kind, o).chain(&chain(kind), &mut processor);
    }
    processor.insert("done".into(), states::done());
    json!({
        "Comment": format!(
            "rdsguard remediation (generated by rdsguard {}): one child execution per plan item, its steps as the item's `steps` say; see docs/remediation.md",
            env!("CARGO_PKG_VERSION")
        ),
        "StartAt": "databases",
        "States": {
            "databases": {
                "Type": "Map",
                "Comment": "Every item of the plan, the input's max_parallel at once (--max-parallel, lowered to AWS's limit of cross-region copies in progress in a round that makes them); an item's failure is caught in its own execution and reported in its output. The output is the items' results alone, {\"results\": [...]}: an input near the 256 KiB quota plus its results would pass the same quota on the output",
                "ItemsPath": "$.items",
                "MaxConcurrencyPath": "$.max_parallel",
                "ToleratedFailurePercentage": 100,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "route",
                    "States": processor,
                },
                "ResultSelector": {"results.$": "$"},
                "ResultPath": "$",
                "End": true
            }
        }
    })
}

#[cfg(test)]
mod tests;
