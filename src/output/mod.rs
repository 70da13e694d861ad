//! Outputs: each format is one module that reads the published report ([`ReportV1`]) and writes
//! to a `Write`. Only this module and `main` print: the commands hand their results to a `print`
//! function here, and clippy.toml forbids `std::io::stdout`/`stderr` everywhere else.

use std::io::{self, Write};

use crate::report::v1::ReportV1;

pub mod asff;
pub mod discovery;
pub mod drift;
pub mod drill;
pub mod escape;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod plan;
pub mod progress;
pub mod rollback;
pub mod rules;
mod stdout;
pub mod terminal;

/// A file every run writes into its folder.
pub struct FileOutput {
    pub name: &'static str,
    pub write: fn(&ReportV1, &mut dyn Write) -> io::Result<()>,
}

/// Every run file, in the order they are written. `findings.json` first: it is the record.
pub const FILES: &[FileOutput] = &[
    FileOutput {
        name: "findings.json",
        write: json::write,
    },
    FileOutput {
        name: "report.html",
        write: html::write,
    },
    FileOutput {
        name: "junit.xml",
        write: junit::write,
    },
    FileOutput {
        name: "summary.md",
        write: markdown::write,
    },
    FileOutput {
        name: "asff.json",
        write: asff::write,
    },
];

#[cfg(test)]
mod tests;
