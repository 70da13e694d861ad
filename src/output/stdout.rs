//! The one way the outputs' `print` functions reach stdout (clippy.toml disallows `std::io::stdout`
//! elsewhere).

use std::io::{self, Write};

use crate::error::Error;

/// Runs `write` on the locked stdout.
#[allow(clippy::disallowed_methods)]
pub(super) fn print(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Error> {
    let mut stdout = io::stdout().lock();
    write(&mut stdout).map_err(|e| Error::io("write", "stdout", e))
}
