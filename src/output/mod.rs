//! Outputs: each format is one module that reads the published report ([`json::ReportV1`]) and writes
//! to a `Write`. Only this module and `main` print.

use std::io::{self, Write};

pub mod json;
pub mod terminal;

/// A file every run writes into its folder.
pub struct FileOutput {
    pub name: &'static str,
    pub write: fn(&json::ReportV1, &mut dyn Write) -> io::Result<()>,
}

/// Every run file, in the order they are written. `findings.json` first: it is the record.
pub const FILES: &[FileOutput] = &[FileOutput {
    name: "findings.json",
    write: json::write,
}];
