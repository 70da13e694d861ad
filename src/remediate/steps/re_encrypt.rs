//! Step `re-encrypt`: when the source is under `aws/rds` (which cannot be shared), or unencrypted and
//! the rule names a `source_kms_key`, a copy of the transit snapshot under that key (`…-cmk`).

use super::{Creates, Decl, Iam, Skip, COPY_ACTIONS, FIND_SNAPSHOT};
use crate::aws::rds::write::snapshots;
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::Ctx;
use crate::remediate::tags::ROLE_TRANSIT;

pub const DECL: Decl = Decl {
    file: file!(),
    name: "re-encrypt",
    runs_in: "source account, source region",
    reads: &["names.snapshot", "names.reencrypted", "reencrypt_key"],
    creates: Some(Creates::transit("rdsguard-<id>-<UTC time>-<run>-cmk")),
    finds_earlier: "the copy by its name: reused (and waited for) when it exists",
    skipped: Skip::ReplicaExists,
    iam: Iam {
        source: &[COPY_ACTIONS, FIND_SNAPSHOT],
        destination: &[],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    match (&item.names.reencrypted, &item.reencrypt_key) {
        (Some(name), Some(key)) => vec![format!(
            "re-encrypt in {}/{}: {name} under {key}",
            item.account_id, item.region
        )],
        _ => Vec::new(),
    }
}

pub(crate) fn detail(ctx: &Ctx<'_>) -> String {
    let item = ctx.item;
    format!(
        "copy {} as {} under {}",
        item.names.snapshot,
        item.names.reencrypted.as_deref().unwrap_or_default(),
        item.reencrypt_key.as_deref().unwrap_or_default()
    )
}

pub(crate) async fn run(ctx: &Ctx<'_>) -> Result<(), AwsError> {
    let item = ctx.item;
    let (Some(name), Some(key)) = (&item.names.reencrypted, &item.reencrypt_key) else {
        return Ok(());
    };
    let tags = ctx.tags(ROLE_TRANSIT);
    let create = snapshots::copy(
        &ctx.src,
        item.kind,
        &item.names.snapshot,
        name,
        key,
        &tags,
        None,
    );
    ctx.ensure(&ctx.src, name, create).await?;
    Ok(())
}
