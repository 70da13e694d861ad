//! Which option group each of remediation's copies in the destination names (`CopyDBSnapshot`'s
//! `OptionGroupName`), from the rule's `destination.option_group`; or why the plan refuses the
//! database before anything is made.
//!
//! Option groups belong to one account and Region. AWS asks for the target Region's option group on a
//! copy across Regions when the DB instance "uses a nondefault option group" (a must for Oracle or SQL
//! Server TDE; without one the copy restores with the default group, its options lost: RDS User
//! Guide, "Option group considerations"), and lets a shared Oracle snapshot whose group has
//! `Timezone` or `OLS` be copied only into "a target option group that includes these options"
//! ("Sharing a DB snapshot for Amazon RDS").

use super::{failing, CopyOptionGroups};
use crate::checks::CheckId;
use crate::inventory::{is_default_option_group, Inventory, Source};
use crate::report::SourceReport;
use crate::rules::{DestinationRegion, Rule};

/// The option groups of `source`'s copies under `rule` (none when nothing is copied), or the reason
/// it cannot be copied: AWS would refuse to share its snapshot (`source-option-group-shareable`
/// fails in `report`), or the rule names no option group where a copy needs one. `staged`: a copy
/// across regions takes the two-step path (a stage copy in the source's region first); in one step
/// the replica is the only copy made from the shared snapshot.
pub(super) fn targets(
    inventory: &Inventory,
    source: &Source,
    rule: &Rule,
    report: &SourceReport,
    copies: bool,
    staged: bool,
) -> Result<CopyOptionGroups, String> {
    let id = CheckId::SOURCE_OPTION_GROUP_SHAREABLE;
    if let Some(check) = failing(report, id).filter(|_| copies) {
        return Err(format!(
            "{id} fails ({}): AWS would refuse to share its snapshot; nothing is done for this database",
            check.message
        ));
    }
    let Some(group) = source
        .option_group
        .as_deref()
        .filter(|g| copies && !is_default_option_group(g))
    else {
        return Ok(CopyOptionGroups::default());
    };
    let dest_region = rule.destination.region_for(&source.db.region);
    let cross_region =
        matches!(&rule.destination.region, DestinationRegion::Named(r) if *r != source.db.region);
    // The Oracle options AWS shares, for which the copy from the shared snapshot names a group.
    let carried: Vec<String> = inventory
        .option_groups
        .iter()
        .filter(|l| l.account_id == source.db.account_id && l.region == source.db.region)
        .flat_map(|l| &l.groups)
        .filter(|g| g.name.eq_ignore_ascii_case(group))
        .flat_map(|g| g.carried_on_copy(&source.db.engine))
        .map(|o| o.describe())
        .collect();
    let named = |region: &str, why: String| -> Result<String, String> {
        match rule
            .destination
            .option_group
            .as_ref()
            .and_then(|t| t.for_region(region))
        {
            Some(name) => Ok(name.to_string()),
            None => Err(format!(
                "{why}; rule `{}` names no option group of {} in {region} (destination.option_group): nothing is done for this database",
                rule.id, rule.destination.account
            )),
        }
    };
    let shared_copy = || {
        format!(
            "its option group {group} has {}: AWS copies a shared Oracle snapshot with these only into a target option group that includes them",
            carried.join(", ")
        )
    };
    let mut groups = CopyOptionGroups::default();
    if cross_region {
        groups.replica = Some(named(
            dest_region,
            format!(
                "the database uses the option group {group}, not a default one, and its copy crosses from {} to {dest_region}: AWS asks for the target Region's option group (CopyDBSnapshot OptionGroupName), or the copy restores without the group's options",
                source.db.region
            ),
        )?);
        if !carried.is_empty() && staged {
            groups.stage = Some(named(&source.db.region, shared_copy())?);
        }
    } else if !carried.is_empty() {
        groups.replica = Some(named(dest_region, shared_copy())?);
    }
    Ok(groups)
}
