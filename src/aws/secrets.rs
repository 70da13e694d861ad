//! Secrets Manager: where a database secret points, and repointing it. The secret's value is read and
//! written here and nowhere else; only its endpoint fields (host, port, instance id) leave this module,
//! and no error or log line ever carries the value.

use aws_sdk_secretsmanager::Client;
use serde_json::{Map, Value};

use super::error::aws_error;
use crate::inventory::AwsError;

/// The endpoint fields of an RDS-style JSON secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub instance: Option<String>,
}

fn endpoint(object: &Map<String, Value>) -> Endpoint {
    let port = match object.get("port") {
        Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    Endpoint {
        host: object
            .get("host")
            .and_then(Value::as_str)
            .map(str::to_string),
        port,
        instance: object
            .get("dbInstanceIdentifier")
            .or_else(|| object.get("dbClusterIdentifier"))
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

fn not_json(account_id: &str, region: &str, operation: &str, name: &str) -> AwsError {
    AwsError {
        account_id: account_id.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        code: "NotAJsonObject".into(),
        // Never the value, nor a parser message quoting it.
        message: "the secret's value is not a JSON object with host/port keys; rdsguard only reads and repoints RDS-style JSON secrets".into(),
        resource: Some(name.to_string()),
    }
}

async fn read_object(
    client: &Client,
    account_id: &str,
    region: &str,
    name: &str,
) -> Result<Option<Map<String, Value>>, AwsError> {
    let response = match client.get_secret_value().secret_id(name).send().await {
        Ok(response) => response,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None)
        }
        Err(e) => {
            let mut error = aws_error(account_id, region, "GetSecretValue", &e);
            error.resource = Some(name.to_string());
            return Err(error);
        }
    };
    let text = response.secret_string().unwrap_or_default();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(Some(object)),
        _ => Err(not_json(account_id, region, "GetSecretValue", name)),
    }
}

/// Where the secret points; `None` when it does not exist.
pub async fn read_endpoint(
    client: &Client,
    account_id: &str,
    region: &str,
    name: &str,
) -> Result<Option<Endpoint>, AwsError> {
    Ok(read_object(client, account_id, region, name)
        .await?
        .map(|object| endpoint(&object)))
}

/// Points the secret at `to`, keeping every other key (username, password, ...). Returns where it
/// pointed before.
pub async fn repoint(
    client: &Client,
    account_id: &str,
    region: &str,
    name: &str,
    to: &Endpoint,
    cluster: bool,
) -> Result<Endpoint, AwsError> {
    let Some(mut object) = read_object(client, account_id, region, name).await? else {
        return Err(AwsError {
            account_id: account_id.to_string(),
            region: region.to_string(),
            operation: "GetSecretValue".into(),
            code: "ResourceNotFoundException".into(),
            message: format!("secret {name} does not exist"),
            resource: Some(name.to_string()),
        });
    };
    let before = endpoint(&object);
    if let Some(host) = &to.host {
        object.insert("host".into(), Value::String(host.clone()));
    }
    if let Some(port) = to.port {
        object.insert("port".into(), Value::from(port));
    }
    if let Some(instance) = &to.instance {
        let key = if cluster {
            "dbClusterIdentifier"
        } else {
            "dbInstanceIdentifier"
        };
        object.insert(key.into(), Value::String(instance.clone()));
    }
    let text = Value::Object(object).to_string();
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(text)
        .send()
        .await
        .map_err(|e| {
            let mut error = aws_error(account_id, region, "PutSecretValue", &e);
            error.resource = Some(name.to_string());
            error
        })?;
    Ok(before)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_endpoint_fields_of_rds_secrets() {
        let object: Map<String, Value> = serde_json::from_str(
            r#"{"host": "db.example", "port": "5432", "dbInstanceIdentifier": "orders", "password": "x"}"#,
        )
        .expect("json");
        assert_eq!(
            endpoint(&object),
            Endpoint {
                host: Some("db.example".into()),
                port: Some(5432),
                instance: Some("orders".into())
            }
        );
        let error = not_json("1", "r", "GetSecretValue", "rds/orders");
        assert!(!format!("{error:?}").contains("password"));
    }
}
