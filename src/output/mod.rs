//! Outputs: each format is one module that reads the published report ([`json::ReportV1`]) and writes
//! to a `Write`. Only this module and `main` print.

use std::io::{self, Write};

pub mod asff;
pub mod drift;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod plan;
pub mod progress;
pub mod terminal;

/// Escapes text for XML and HTML (and SVG) content and quoted attribute values: the one escaping
/// function of every markup output. Control characters but tab and line breaks, which XML 1.0 forbids
/// even escaped, become U+FFFD so the evidence shows that something was there.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A file every run writes into its folder.
pub struct FileOutput {
    pub name: &'static str,
    pub write: fn(&json::ReportV1, &mut dyn Write) -> io::Result<()>,
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
