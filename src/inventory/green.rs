//! What discovery reads of RDS Blue/Green deployments (`DescribeBlueGreenDeployments`): which
//! databases are a deployment's green side, not sources by default (docs/rules.md).

use serde::{Deserialize, Serialize};

use super::Source;

/// The RDS operation that names the green sides of Blue/Green deployments, as recorded in errors.
pub const BLUE_GREEN_OPERATION: &str = "DescribeBlueGreenDeployments";

/// What makes a database the green side of a Blue/Green deployment: the deployment, and the blue
/// database it copies (its `Source`, or the `SourceMember` paired with it in `SwitchoverDetails`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GreenSide {
    /// `BlueGreenDeploymentIdentifier`.
    pub deployment: String,
    /// The ARN of the blue database.
    pub blue_arn: String,
}

impl Source {
    /// True when the database's data is another database's, kept in sync by replication: a read
    /// replica, or the green side of a Blue/Green deployment. A rule selects those only with
    /// `select.read_replicas = true`.
    pub fn replicates_another(&self) -> bool {
        self.read_replica_of.is_some() || self.green_of.is_some()
    }
}
