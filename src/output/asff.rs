//! `asff.json`: the run's findings in AWS Security Finding Format ([`crate::asff`]).

use std::io::{self, Write};

use crate::asff::findings;
use crate::report::v1::ReportV1;

pub fn write(report: &ReportV1, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &findings(report))?;
    out.write_all(b"\n")
}
