//! Every tag rdsguard writes or reads, and the one ownership predicate: a resource is rdsguard's to
//! delete or repoint only when it carries `rdsguard:managed=true` and `rdsguard:source-arn` naming the
//! source. Cleanup, prune, prune-restores, rollback and the plan all ask [`is_ours`].
//!
//! A leaf module (it depends on nothing of rdsguard's): discovery, the checks and remediation read the
//! names from here, so no module depends on remediation for a tag name. `remediate::tags` is this
//! module.

use std::collections::BTreeMap;

/// The provenance tag rdsguard sets on everything it creates; also how a replica names its source.
pub const TAG_SOURCE_ARN: &str = "rdsguard:source-arn";
/// The point in time of the data, which rdsguard writes on the copies it makes: DB cluster snapshots
/// have no `OriginalSnapshotCreateTime`, so without it a copy's age would start at the copy.
pub const TAG_DATA_TIME: &str = "rdsguard:data-time";
/// The restored instances' tag naming the replica snapshot they came from.
pub const TAG_RESTORED_FROM: &str = "rdsguard:restored-from";
/// `true` on everything rdsguard made (half of [`is_ours`]).
pub const TAG_MANAGED: &str = "rdsguard:managed";
/// What a resource rdsguard made is for: one of the `ROLE_*` values.
pub const TAG_ROLE: &str = "rdsguard:role";
/// The run that made it.
pub const TAG_RUN_ID: &str = "rdsguard:run-id";
/// Set on the instance a secret pointed at before `repoint` (or `rollback`) moved it.
pub const TAG_SUPERSEDED_AT: &str = "rdsguard:superseded-at";

/// On a drill instance (`rdsguard drill`): the ARN of the replica it was restored from. Nothing is
/// deleted by a drill without it.
pub const TAG_DRILL: &str = "rdsguard:drill";
/// Drill evidence on the drilled replica: when the drill's restore ended (RFC 3339, AWS's clock).
pub const TAG_DRILL_AT: &str = "rdsguard:drill-at";
/// Drill evidence on the drilled replica: how long the restore took, in whole seconds.
pub const TAG_DRILL_RESTORE_SECONDS: &str = "rdsguard:drill-restore-seconds";
/// Drill evidence on the drilled replica: one of the `DRILL_*` results.
pub const TAG_DRILL_RESULT: &str = "rdsguard:drill-result";
/// The drill evidence tags, the only tags a drill writes on a replica.
pub const DRILL_EVIDENCE: [&str; 3] = [TAG_DRILL_AT, TAG_DRILL_RESTORE_SECONDS, TAG_DRILL_RESULT];

/// `rdsguard:drill-result`: restored (and probed, when the rule has a probe) within the run.
pub const DRILL_PASSED: &str = "passed";
/// `rdsguard:drill-result`: the probe failed or timed out.
pub const DRILL_PROBE_FAILED: &str = "probe-failed";
/// `rdsguard:drill-result`: the restore failed, or was not available within `--step-timeout`.
pub const DRILL_RESTORE_FAILED: &str = "restore-failed";

/// `rdsguard:role` of a drill instance.
pub const ROLE_DRILL: &str = "drill";

/// `rdsguard:role` of the manual snapshot (and its re-encrypted copy) in the source account.
pub const ROLE_TRANSIT: &str = "transit";
/// `rdsguard:role` of the in-region copy in the destination account, for a cross-region destination.
pub const ROLE_STAGE: &str = "stage";
/// `rdsguard:role` of the replica in the destination.
pub const ROLE_REPLICA: &str = "replica";
/// `rdsguard:role` of an instance (or cluster) restored from a replica.
pub const ROLE_RESTORE: &str = "restore";

/// Whether a resource with these tags is rdsguard's own, made for `source_arn`: the only things
/// rdsguard ever deletes, unshares or points a secret at.
pub fn is_ours(tags: &BTreeMap<String, String>, source_arn: &str) -> bool {
    tags.get(TAG_MANAGED).map(String::as_str) == Some("true")
        && tags.get(TAG_SOURCE_ARN).map(String::as_str) == Some(source_arn)
}

/// Whether a database with these tags is a drill database of rdsguard's: the only kind a drill
/// deletes.
pub fn is_drill_instance(tags: &BTreeMap<String, String>) -> bool {
    tags.contains_key(TAG_DRILL)
        && tags.get(TAG_MANAGED).map(String::as_str) == Some("true")
        && tags.get(TAG_ROLE).map(String::as_str) == Some(ROLE_DRILL)
}

/// Whether a resource with these tags was made for `source_arn` in `role` (managed or not).
pub fn has_role(tags: &BTreeMap<String, String>, source_arn: &str, role: &str) -> bool {
    tags.get(TAG_SOURCE_ARN).map(String::as_str) == Some(source_arn)
        && tags.get(TAG_ROLE).map(String::as_str) == Some(role)
}

/// The tags of everything rdsguard creates for `source_arn` in `role` during run `run_id`.
pub fn provenance(source_arn: &str, role: &str, run_id: &str) -> BTreeMap<String, String> {
    [
        (TAG_SOURCE_ARN, source_arn),
        (TAG_MANAGED, "true"),
        (TAG_ROLE, role),
        (TAG_RUN_ID, run_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_needs_both_the_managed_tag_and_this_source() {
        let arn = "arn:aws:rds:us-east-1:111111111111:db:orders";
        let tags = provenance(arn, ROLE_REPLICA, "run");
        assert!(is_ours(&tags, arn));
        assert!(!is_ours(
            &tags,
            "arn:aws:rds:us-east-1:111111111111:db:other"
        ));
        let mut unmanaged = tags.clone();
        unmanaged.insert(TAG_MANAGED.into(), "false".into());
        assert!(!is_ours(&unmanaged, arn));
        unmanaged.remove(TAG_MANAGED);
        assert!(!is_ours(&unmanaged, arn));
        assert!(has_role(&tags, arn, ROLE_REPLICA));
        assert!(!has_role(&tags, arn, ROLE_TRANSIT));
    }
}
