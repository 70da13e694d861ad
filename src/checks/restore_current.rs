//! `restore-current`: when the rule asks for a restored instance, the newest replica has one and the
//! rule's secret points at it. Not evaluated by this version (remediation, which restores, comes later):
//! it reports SKIP so the gap is visible rather than silently passing.

use super::{Check, Ctx, Outcome};

pub const CHECK: Check = Check {
    id: "restore-current",
    title: "The newest replica is restored and the secret points at it",
    run,
};

fn run(ctx: &Ctx<'_>) -> Option<Outcome> {
    let restore = ctx.rule.restore.as_ref()?;
    Some(Outcome::skip(
        format!(
            "an instance ({}) restored from the newest replica",
            restore.instance_class
        ),
        "not evaluated by this version of rdsguard",
    ))
}
