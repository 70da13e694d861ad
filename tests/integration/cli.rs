//! The command line without AWS: help, bad input, exit codes.

use crate::harness::Cmd;

#[test]
fn help_documents_every_flag() {
    let run = Cmd::new().run(&["audit", "--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("audit_help", run.stdout);
    let run = Cmd::new().run(&["--help"]);
    insta::assert_snapshot!("help", run.stdout);
}
