//! RDS ARNs taken apart.

/// The parts of an RDS ARN: `arn:aws:rds:REGION:ACCOUNT:TYPE:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdsArn<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account_id: &'a str,
    pub resource_type: &'a str,
    pub name: &'a str,
}

pub fn parse_rds_arn(arn: &str) -> Option<RdsArn<'_>> {
    let mut parts = arn.splitn(7, ':');
    let (Some("arn"), Some(partition), Some("rds"), Some(region), Some(account_id)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let resource_type = parts.next()?;
    let name = parts.next()?;
    Some(RdsArn {
        partition,
        region,
        account_id,
        resource_type,
        name,
    })
}
