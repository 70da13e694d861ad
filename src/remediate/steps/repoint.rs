//! Step `repoint`: points the rule's secret at the restored instance, keeping every other key
//! (username, password, …), and notes where it pointed before for `supersede`. `rdsguard rollback`
//! runs the same code ([`repoint_and_supersede`]).

use super::{Decl, Iam, Skip};
use crate::aws::rds::write::instances::Instance;
use crate::aws::rds::Scope;
use crate::aws::secrets::{self, Endpoint};
use crate::inventory::AwsError;
use crate::remediate::plan::Item;
use crate::remediate::run::{Ctx, State};

pub const DECL: Decl = Decl {
    file: file!(),
    name: "repoint",
    runs_in: "destination account, destination region",
    reads: &[
        "restore.secret",
        "restore.cluster",
        "the restored instance (restore)",
    ],
    creates: None,
    finds_earlier: "writing the endpoint the secret already holds changes nothing",
    skipped: Skip::Never,
    iam: Iam {
        source: &[],
        destination: &[&[
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            // A secret under a customer managed key: read, then written.
            "kms:Decrypt",
            "kms:GenerateDataKey",
        ]],
    },
};

pub(crate) fn describe(item: &Item) -> Vec<String> {
    match item
        .restore
        .as_ref()
        .and_then(|r| Some((r, r.secret.as_ref()?)))
    {
        Some((r, secret)) => vec![format!(
            "repoint    secret {secret} to {} (other keys kept)",
            r.instance
        )],
        None => Vec::new(),
    }
}

pub(crate) fn detail(ctx: &Ctx<'_>, state: &State) -> String {
    let plan = ctx.item.restore.as_ref();
    let secret = plan.and_then(|r| r.secret.as_deref()).unwrap_or_default();
    let to = match (&state.restored, plan) {
        (Some(restored), _) => restored.identifier.as_str(),
        (None, Some(r)) => r.instance.as_str(),
        (None, None) => "",
    };
    format!("point secret {secret} at {to}")
}

/// A secret to point at a restored copy: the client and scope (account, region) of the secret, its
/// name, the copy, and whether the copy is an Aurora cluster.
pub(crate) struct Repoint<'a> {
    pub client: &'a aws_sdk_secretsmanager::Client,
    pub scope: &'a Scope<'a>,
    pub secret: &'a str,
    pub to: &'a Instance,
    pub cluster: bool,
}

/// Points the secret at the copy; returns where it pointed before.
pub(crate) async fn point(target: &Repoint<'_>) -> Result<Endpoint, AwsError> {
    let to = target.to;
    let endpoint = Endpoint {
        host: to.host.clone(),
        port: to.port,
        instance: Some(to.identifier.clone()),
    };
    let scope = target.scope;
    let (account, region) = (scope.account_id, scope.region);
    let (client, secret) = (target.client, target.secret);
    secrets::repoint(client, account, region, secret, &endpoint, target.cluster).await
}

/// `repoint`, then `supersede` when the secret pointed at another instance before: what `rdsguard
/// rollback` does, as one step of its own. Returns where the secret pointed before.
pub(crate) async fn repoint_and_supersede(target: &Repoint<'_>) -> Result<Endpoint, AwsError> {
    let before = point(target).await?;
    if let Some(previous) = super::supersede::previous(&before, target.to) {
        super::supersede::tag(target.scope, previous, target.cluster).await?;
    }
    Ok(before)
}

pub(crate) async fn run(ctx: &Ctx<'_>, state: &mut State) -> Result<(), AwsError> {
    let Some(plan) = &ctx.item.restore else {
        return Ok(());
    };
    let Some(secret) = &plan.secret else {
        return Ok(());
    };
    let restored = state
        .restored
        .as_ref()
        .ok_or_else(|| super::restore::nothing_restored(ctx))?;
    let config = ctx
        .run
        .factory
        .config(ctx.dst.account_id, ctx.dst.region)
        .await?;
    let client = crate::aws::secrets_client(&config);
    let before = point(&Repoint {
        client: &client,
        scope: &ctx.dst,
        secret,
        to: restored,
        cluster: plan.cluster,
    })
    .await?;
    state.superseded = super::supersede::previous(&before, restored).map(str::to_string);
    Ok(())
}
