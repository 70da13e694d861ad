//! `findings.json`: the published report ([`ReportV1`], schema `rdsguard.report/v1`), as pretty JSON.

use std::io::Write;

use crate::error::Error;
use crate::report::v1::ReportV1;

pub fn write(report: &ReportV1, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Prints a JSON document (`rdsguard iam-policy`) on stdout, pretty.
pub fn print_value(value: &serde_json::Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Usage(e.to_string()))?;
    super::stdout::print(|out| writeln!(out, "{text}"))
}
