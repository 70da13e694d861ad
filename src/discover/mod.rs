//! Discovery: what to read, and reading it. [`plan`] is pure: from the rules, the checks' declared
//! needs (`checks::Check::needs`, in [`crate::checks::REGISTRY`]) and what has been read so far, it
//! decides the reads of the next round. [`run`] makes those reads through `aws::scoped`, with bounded
//! concurrency and the destinations first, into an [`Inventory`](crate::inventory::Inventory).

mod first;
pub mod plan;
pub mod progress;
mod reads;
mod run;

pub use first::{read_destinations_ahead, Ahead};
pub use run::{discover, Plan};

#[cfg(test)]
mod tests;
