//! Outputs: each format is one module that reads a [`crate::report::Report`] and writes to `impl Write`.

pub mod json;
pub mod terminal;
