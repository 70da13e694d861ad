//! `rdsguard rollback`: what it did, for the terminal.

use std::io::{self, Write};
use std::path::Path;

use crate::error::Error;

/// One line: where the secret points now, where it pointed before, and the journal.
pub fn write(
    secret: &str,
    instance: &str,
    was: &str,
    journal: &Path,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "secret {secret} now points at {instance} (was {was}); journal: {}",
        journal.display()
    )
}

/// Prints [`write()`] on stdout.
pub fn print(secret: &str, instance: &str, was: &str, journal: &Path) -> Result<(), Error> {
    super::stdout::print(|out| write(secret, instance, was, journal, out))
}
