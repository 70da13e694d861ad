//! Errors that end a command, and the exit code each one maps to (DESIGN §7).

use std::path::PathBuf;

use crate::rules::RulesError;

pub const EXIT_COMPLIANT: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_INCOMPLETE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or paths: nothing was sent to AWS.
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Rules(#[from] RulesError),
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// AWS could not be reached at all (no credentials, no organization): nothing could be audited.
    #[error("{0}")]
    Aws(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Rules(_) | Error::Io { .. } => EXIT_USAGE,
            Error::Aws(_) => EXIT_INCOMPLETE,
        }
    }

    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
