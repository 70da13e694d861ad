//! The `Date` header of AWS's answers: a restore drill's start and end are AWS's clock (the
//! emulator's per-account clock in tests), never the machine's calendar. One interceptor serves every
//! SDK client (RDS, AWS Backup): they share the Smithy runtime's `Intercept`.

use std::sync::{Arc, Mutex};

use aws_sdk_rds::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_rds::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_rds::error::BoxError;
use aws_smithy_types_convert::date_time::DateTimeExt;
use chrono::{DateTime, Utc};

/// Records the `Date` header of the answer to the call it is attached to.
#[derive(Debug, Clone, Default)]
pub struct ServerTime(Arc<Mutex<Option<DateTime<Utc>>>>);

impl ServerTime {
    /// The `Date` of the last answer seen, if it had one.
    pub fn get(&self) -> Option<DateTime<Utc>> {
        self.0.lock().ok().and_then(|t| *t)
    }
}

impl Intercept for ServerTime {
    fn name(&self) -> &'static str {
        "rdsguard::ServerTime"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let date = context
            .response()
            .headers()
            .get("date")
            .and_then(|d| {
                aws_sdk_rds::primitives::DateTime::from_str(
                    d,
                    aws_sdk_rds::primitives::DateTimeFormat::HttpDate,
                )
                .ok()
            })
            .and_then(|d| d.to_chrono_utc().ok());
        if let (Some(date), Ok(mut slot)) = (date, self.0.lock()) {
            *slot = Some(date);
        }
        Ok(())
    }
}
