//! What discovery reads of KMS keys (`DescribeKey`, and `GetKeyPolicy` for source keys), and how a
//! key is referred to from one account and region.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyManager {
    Aws,
    Customer,
}

/// What discovery learnt about one KMS key, looked up in the account and region that use it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyFact {
    /// The key ARN.
    pub arn: String,
    pub account_id: String,
    pub region: String,
    /// Every name this key was looked up by (alias, key id, ARN), so references resolve.
    #[serde(default)]
    pub lookups: Vec<String>,
    pub key_manager: KeyManager,
    pub key_state: Option<String>,
    pub enabled: bool,
    /// The key policy (`default`), when discovery read it (source keys only).
    pub policy: Option<String>,
}

/// A key reference as used from one account and region (an alias, a key id or an ARN).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRef {
    pub account_id: String,
    pub region: String,
    pub reference: String,
}
