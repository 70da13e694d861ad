//! `junit.xml`: one test case per source x check (CI systems show failures with observed vs expected),
//! a skipped case per exempt or ungoverned source, and an error case per AWS error, so an incomplete
//! audit never looks green.

use std::io::{self, Write};

use super::escape::escape_xml as x;
use crate::report::v1::ReportV1;
use crate::report::{CheckStatus, Status};

pub fn write(report: &ReportV1, out: &mut dyn Write) -> io::Result<()> {
    let mut cases = Vec::new();
    let (mut failures, mut errors, mut skipped) = (0usize, 0usize, 0usize);
    for source in &report.sources {
        let class = format!(
            "{}/{}/{}",
            source.db.account_id, source.db.region, source.db.identifier
        );
        match source.status {
            Status::Exempt | Status::Ungoverned => {
                skipped += 1;
                let reason = match &source.exemption {
                    Some(e) => format!("exempt: {}", e.reason),
                    None => "ungoverned: no rule selects this database".to_string(),
                };
                cases.push(format!(
                    "    <testcase classname=\"{}\" name=\"governance\">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    x(&class),
                    x(&reason)
                ));
                continue;
            }
            _ => {}
        }
        for check in &source.checks {
            let body = match check.status {
                CheckStatus::Pass => String::new(),
                CheckStatus::Skip => {
                    skipped += 1;
                    format!("      <skipped message=\"{}\"/>\n", x(&check.message))
                }
                CheckStatus::Fail | CheckStatus::Error => {
                    let tag = if check.status == CheckStatus::Fail {
                        failures += 1;
                        "failure"
                    } else {
                        errors += 1;
                        "error"
                    };
                    format!(
                        "      <{tag} message=\"{}\" type=\"{}\">observed: {}\nexpected: {}\nseverity: {}\nrule: {}\nsource: {}</{tag}>\n",
                        x(&check.message),
                        x(&check.id),
                        x(&check.observed),
                        x(&check.expected),
                        check.severity,
                        x(source.rule.as_deref().unwrap_or("-")),
                        x(&source.db.arn)
                    )
                }
            };
            cases.push(format!(
                "    <testcase classname=\"{}\" name=\"{}\">\n{body}    </testcase>\n",
                x(&class),
                x(&check.id)
            ));
        }
    }
    for error in &report.errors {
        errors += 1;
        cases.push(format!(
            "    <testcase classname=\"{}/{}\" name=\"read {}\">\n      <error message=\"{}\" type=\"{}\">{}</error>\n    </testcase>\n",
            x(&error.account_id),
            x(&error.region),
            x(&error.operation),
            x(&format!("{}: {}", error.code, error.message)),
            x(&error.code),
            x(error.resource.as_deref().unwrap_or(""))
        ));
    }
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<testsuites name=\"rdsguard\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        n = cases.len()
    )?;
    writeln!(
        out,
        "  <testsuite name=\"rdsguard audit {}\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" timestamp=\"{}\">",
        x(&report.run.id),
        report.run.as_of.format("%Y-%m-%dT%H:%M:%S"),
        n = cases.len()
    )?;
    for case in cases {
        out.write_all(case.as_bytes())?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}
