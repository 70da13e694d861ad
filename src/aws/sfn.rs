//! AWS Step Functions: deploy rdsguard's state machine (create, or update when its definition or
//! role changed), start an execution, read its status and output. The calls are made in the state
//! machine's account and region.

use aws_config::SdkConfig;
use serde_json::Value;

use super::aws_error;
use crate::inventory::AwsError;

/// What [`Machine::deploy`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Deployed {
    Created,
    Updated,
    Unchanged,
}

/// An execution's status and, once it ended, its output or error.
#[derive(Debug, Clone)]
pub struct Status {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, `PENDING_REDRIVE`.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Status {
    pub fn running(&self) -> bool {
        self.status == "RUNNING"
    }
}

/// The execution a start names: a new one, or the one an earlier start of the same name made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New(String),
    Earlier(String),
}

impl Started {
    pub fn arn(&self) -> &str {
        match self {
            Started::New(arn) | Started::Earlier(arn) => arn,
        }
    }
}

/// A Step Functions client for the state machine's account and region.
pub struct Machine {
    client: aws_sdk_sfn::Client,
    account: String,
    region: String,
}

impl Machine {
    pub fn new(config: &SdkConfig, account: &str, region: &str) -> Self {
        Machine {
            client: aws_sdk_sfn::Client::new(config),
            account: account.to_string(),
            region: region.to_string(),
        }
    }

    fn error<E, R>(&self, operation: &str, e: &aws_sdk_sfn::error::SdkError<E, R>) -> AwsError
    where
        E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        aws_error(&self.account, &self.region, operation, e)
    }

    /// Creates the Standard state machine `name`, or updates it when its definition (compared as
    /// JSON) or its role differs; returns its ARN and what was done.
    pub async fn deploy(
        &self,
        arn: &str,
        name: &str,
        definition: &Value,
        role_arn: &str,
    ) -> Result<(String, Deployed), AwsError> {
        let text = definition.to_string();
        match self
            .client
            .describe_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
        {
            Ok(found) => {
                let same_definition = serde_json::from_str::<Value>(found.definition())
                    .ok()
                    .as_ref()
                    == Some(definition);
                if same_definition && found.role_arn() == role_arn {
                    return Ok((found.state_machine_arn().to_string(), Deployed::Unchanged));
                }
                self.client
                    .update_state_machine()
                    .state_machine_arn(found.state_machine_arn())
                    .definition(&text)
                    .role_arn(role_arn)
                    .send()
                    .await
                    .map_err(|e| self.error("UpdateStateMachine", &e))?;
                Ok((found.state_machine_arn().to_string(), Deployed::Updated))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_state_machine_does_not_exist()) =>
            {
                let created = self
                    .client
                    .create_state_machine()
                    .name(name)
                    .definition(&text)
                    .role_arn(role_arn)
                    .r#type(aws_sdk_sfn::types::StateMachineType::Standard)
                    .tags(
                        aws_sdk_sfn::types::Tag::builder()
                            .key(crate::remediate::tags::TAG_MANAGED)
                            .value("true")
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| self.error("CreateStateMachine", &e))?;
                Ok((created.state_machine_arn().to_string(), Deployed::Created))
            }
            Err(e) => Err(self.error("DescribeStateMachine", &e)),
        }
    }

    /// Starts an execution named `name`. The same name and input give the running execution back (as
    /// Step Functions does for Standard workflows); a name already taken otherwise (AWS answers
    /// `ExecutionAlreadyExists` when that execution has ended, or runs with another input) is the
    /// execution an earlier start of this run made, and is taken as it is.
    pub async fn start(
        &self,
        machine: &str,
        name: &str,
        input: &Value,
    ) -> Result<Started, AwsError> {
        let started = self
            .client
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match started {
            Ok(started) => Ok(Started::New(started.execution_arn().to_string())),
            // The name was taken by an earlier start of this run (a resumed run): that execution is
            // this one. AWS names it `execution:<machine name>:<execution name>` beside the machine.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                let arn = machine.replacen(":stateMachine:", ":execution:", 1);
                Ok(Started::Earlier(format!("{arn}:{name}")))
            }
            Err(e) => Err(self.error("StartExecution", &e)),
        }
    }

    /// The execution's status, and its output once it succeeded.
    pub async fn status(&self, execution: &str) -> Result<Status, AwsError> {
        let d = self.describe(execution).await?;
        Ok(Status {
            status: d.status().as_str().to_string(),
            output: d.output().and_then(|o| serde_json::from_str(o).ok()),
            error: d.error().map(str::to_string),
            cause: d.cause().map(str::to_string),
        })
    }

    /// The input the execution was started with, when it is JSON (read only to decide whether a
    /// resumed run may take the execution over; the status polls leave it unparsed).
    pub async fn input(&self, execution: &str) -> Result<Option<Value>, AwsError> {
        let d = self.describe(execution).await?;
        Ok(d.input().and_then(|i| serde_json::from_str(i).ok()))
    }

    async fn describe(
        &self,
        execution: &str,
    ) -> Result<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput, AwsError> {
        let request = self.client.describe_execution().execution_arn(execution);
        let described = request.send().await;
        described.map_err(|e| self.error("DescribeExecution", &e))
    }
}
