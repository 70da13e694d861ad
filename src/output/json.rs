//! `findings.json`: the published report ([`ReportV1`], schema `rdsguard.report/v1`), as pretty JSON.

use std::io::Write;

use crate::report::v1::ReportV1;

pub fn write(report: &ReportV1, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}
