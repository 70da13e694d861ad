//! `rdsguard evaluate --inventory`: judge a saved inventory again, offline.

use super::judge::{finish, Judge, Judged};
use crate::cli::EvaluateArgs;
use crate::error::Error;
use crate::inventory::Inventory;
use crate::run_dir::prepare_out;

pub async fn run(args: EvaluateArgs, quiet: bool) -> Result<Judged, Error> {
    let judge = Judge::new(&args.judge, quiet)?;
    let text = std::fs::read_to_string(&args.inventory)
        .map_err(|e| Error::io("read the inventory", &args.inventory, e))?;
    let inventory: Inventory = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "{}:{}: not an rdsguard inventory: {e}",
            args.inventory.display(),
            e.line()
        ))
    })?;
    if inventory.schema != crate::inventory::INVENTORY_SCHEMA {
        return Err(Error::Usage(format!(
            "{}: inventory schema `{}` is not `{}`",
            args.inventory.display(),
            inventory.schema,
            crate::inventory::INVENTORY_SCHEMA
        )));
    }
    let out_dir = prepare_out(args.judge.out.as_deref(), judge.started)?;
    finish(&judge, &inventory, &out_dir, None, None, Vec::new()).await
}
