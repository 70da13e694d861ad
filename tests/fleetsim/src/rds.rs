//! RDS, query protocol (API version 2014-10-31): the Describe calls an audit makes, with `Marker`
//! paging at `MaxRecords` (20..100) and the `TagList` AWS puts in each record.

use std::fmt::Write as _;

use crate::fleet::{
    Cluster, Db, Fleet, Scope, Snap, Tags, DEFAULT_SNAPSHOT_QUOTA, MAX_RECORDS, MIN_RECORDS, VAULT,
};
use crate::proto::{el, elv, param, Answer};
use crate::time::iso;

const NS: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

/// Who is asking where: the scope a request reads.
pub struct Ctx<'a> {
    pub fleet: &'a Fleet,
    pub account: usize,
    /// None for a region the fleet has no data in (an empty answer, as AWS gives).
    pub region: Option<usize>,
    pub region_name: &'a str,
    pub request_id: &'a str,
}

impl Ctx<'_> {
    fn account_id(&self) -> &str {
        self.fleet.account_id(self.account)
    }
    fn scope(&self) -> Option<&Scope> {
        self.region.map(|r| self.fleet.scope(self.account, r))
    }
    fn arn(&self, kind: &str, id: &str) -> String {
        format!(
            "arn:aws:rds:{}:{}:{kind}:{id}",
            self.region_name,
            self.account_id()
        )
    }
    fn vpc(&self) -> String {
        format!(
            "vpc-0{:08x}{:08x}",
            self.account as u32 * 7919,
            self.region.unwrap_or(0) as u32 + 11
        )
    }
    fn error(&self, status: u16, code: &str, message: &str) -> Answer {
        Answer::query_error(status, code, message, self.request_id)
    }
}

pub fn handle(ctx: &Ctx<'_>, action: &str, form: &[(String, String)]) -> Answer {
    match action {
        "DescribeDBInstances" => describe_db_instances(ctx, form),
        "DescribeDBClusters" => describe_db_clusters(ctx, form),
        "DescribeDBSnapshots" => describe_db_snapshots(ctx, form),
        "DescribeDBClusterSnapshots" => describe_db_cluster_snapshots(ctx, form),
        "DescribeDBSnapshotAttributes" => describe_snapshot_attributes(ctx, form, false),
        "DescribeDBClusterSnapshotAttributes" => describe_snapshot_attributes(ctx, form, true),
        "ListTagsForResource" => list_tags(ctx, form),
        "DescribeAccountAttributes" => describe_account_attributes(ctx),
        "DescribeOptionGroups" => describe_option_groups(ctx, form),
        "DescribeBlueGreenDeployments" => describe_blue_green_deployments(ctx, form),
        other => ctx.error(
            400,
            "InvalidAction",
            &format!("The action {other} is not valid for this web service (fleetsim serves read calls only)."),
        ),
    }
}

/// The slice of `len` items this request asks for, and the marker of the next page.
fn page(
    ctx: &Ctx<'_>,
    form: &[(String, String)],
    len: usize,
) -> Result<(usize, usize, Option<String>), Answer> {
    let max = match param(form, "MaxRecords") {
        None => MAX_RECORDS,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (MIN_RECORDS..=MAX_RECORDS).contains(&n) => n,
            _ => {
                return Err(ctx.error(
                    400,
                    "InvalidParameterValue",
                    &format!("Invalid value {text} for MaxRecords. Must be between {MIN_RECORDS} and {MAX_RECORDS}"),
                ))
            }
        },
    };
    let start = match param(form, "Marker") {
        None | Some("") => 0,
        Some(marker) => match marker
            .strip_prefix("fsim-")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) if n <= len => n,
            _ => {
                return Err(ctx.error(
                    400,
                    "InvalidParameterValue",
                    "The parameter Marker is not a valid marker.",
                ))
            }
        },
    };
    let end = (start + max).min(len);
    let next = (end < len).then(|| format!("fsim-{end}"));
    Ok((start, end, next))
}

fn open(out: &mut String, action: &str) {
    let _ = write!(out, "<{action}Response xmlns=\"{NS}\"><{action}Result>");
}

fn close(out: &mut String, action: &str, request_id: &str) {
    let _ = write!(
        out,
        "</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
}

fn tag_list(out: &mut String, tags: &Tags) {
    if tags.is_empty() {
        out.push_str("<TagList/>");
        return;
    }
    out.push_str("<TagList>");
    for (k, v) in tags {
        out.push_str("<Tag>");
        el(out, "Key", k);
        el(out, "Value", v);
        out.push_str("</Tag>");
    }
    out.push_str("</TagList>");
}

fn describe_db_instances(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    let all: &[Db] = ctx.scope().map(|s| s.dbs.as_slice()).unwrap_or(&[]);
    let wanted: Vec<&Db> = match param(form, "DBInstanceIdentifier") {
        Some(id) => {
            let id = id.rsplit(':').next().unwrap_or(id);
            let found: Vec<&Db> = all.iter().filter(|d| d.id == id).collect();
            if found.is_empty() {
                return ctx.error(
                    404,
                    "DBInstanceNotFound",
                    &format!("DBInstance {id} not found."),
                );
            }
            found
        }
        None => all.iter().collect(),
    };
    let (start, end, next) = match page(ctx, form, wanted.len()) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut out = String::with_capacity(512 + (end - start) * 3200);
    open(&mut out, "DescribeDBInstances");
    if let Some(marker) = &next {
        el(&mut out, "Marker", marker);
    }
    out.push_str("<DBInstances>");
    for db in &wanted[start..end] {
        db_instance(ctx, &mut out, db);
    }
    out.push_str("</DBInstances>");
    close(&mut out, "DescribeDBInstances", ctx.request_id);
    Answer::xml(out)
}

fn db_instance(ctx: &Ctx<'_>, out: &mut String, db: &Db) {
    let region = ctx.region_name;
    let e = db.engine;
    out.push_str("<DBInstance>");
    el(out, "DBInstanceIdentifier", &db.id);
    el(out, "DBInstanceClass", db.class);
    el(out, "Engine", e.name);
    el(out, "DBInstanceStatus", "available");
    el(out, "MasterUsername", "dbadmin");
    if !e.name.starts_with("sqlserver") {
        el(out, "DBName", "app");
    }
    let _ = write!(
        out,
        "<Endpoint><Address>{}.c{:010x}.{region}.rds.amazonaws.com</Address><Port>{}</Port><HostedZoneId>Z2R2ITUGPM61AM</HostedZoneId></Endpoint>",
        db.id, ctx.account as u64 * 104_729 + 17, e.port
    );
    elv(out, "AllocatedStorage", db.storage);
    el(out, "InstanceCreateTime", &iso(db.created));
    el(out, "PreferredBackupWindow", "03:00-03:30");
    elv(out, "BackupRetentionPeriod", 7);
    out.push_str("<DBSecurityGroups/>");
    let _ = write!(
        out,
        "<VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0{:016x}</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>",
        ctx.account as u64 * 31 + 7
    );
    let _ = write!(
        out,
        "<DBParameterGroups><DBParameterGroup><DBParameterGroupName>default.{}</DBParameterGroupName><ParameterApplyStatus>in-sync</ParameterApplyStatus></DBParameterGroup></DBParameterGroups>",
        e.family
    );
    let _ = write!(out, "<AvailabilityZone>{region}a</AvailabilityZone>");
    subnet_group(ctx, out);
    el(out, "PreferredMaintenanceWindow", "sun:05:00-sun:05:30");
    out.push_str("<PendingModifiedValues/>");
    el(
        out,
        "LatestRestorableTime",
        &iso(ctx.fleet.params.as_of - 300),
    );
    elv(out, "MultiAZ", false);
    el(out, "EngineVersion", e.version);
    elv(out, "AutoMinorVersionUpgrade", true);
    out.push_str("<ReadReplicaDBInstanceIdentifiers/><ReadReplicaDBClusterIdentifiers/>");
    el(out, "LicenseModel", e.license);
    let default_group = format!("default:{}", e.name);
    let _ = write!(
        out,
        "<OptionGroupMemberships><OptionGroupMembership><OptionGroupName>{}</OptionGroupName><Status>in-sync</Status></OptionGroupMembership></OptionGroupMemberships>",
        db.option_group.as_deref().unwrap_or(&default_group)
    );
    elv(out, "PubliclyAccessible", false);
    el(out, "StorageType", if e.aurora { "aurora" } else { "gp3" });
    elv(out, "DbInstancePort", 0);
    if let Some(cluster) = &db.cluster {
        el(out, "DBClusterIdentifier", cluster);
    }
    elv(out, "StorageEncrypted", db.key.is_some());
    if let Some(key) = &db.key {
        el(out, "KmsKeyId", key);
    }
    el(out, "DbiResourceId", &db.resource_id);
    el(out, "CACertificateIdentifier", "rds-ca-rsa2048-g1");
    out.push_str("<DomainMemberships/>");
    elv(out, "CopyTagsToSnapshot", true);
    elv(out, "MonitoringInterval", 0);
    if db.cluster.is_some() {
        elv(out, "PromotionTier", 1);
    }
    el(out, "DBInstanceArn", &ctx.arn("db", &db.id));
    elv(out, "IAMDatabaseAuthenticationEnabled", false);
    elv(out, "PerformanceInsightsEnabled", false);
    elv(out, "DeletionProtection", true);
    out.push_str("<AssociatedRoles/>");
    tag_list(out, &db.tags);
    elv(out, "CustomerOwnedIpEnabled", false);
    el(out, "BackupTarget", "region");
    el(out, "NetworkType", "IPV4");
    if !e.aurora {
        elv(out, "StorageThroughput", 125);
    }
    el(out, "CertificateDetails", "");
    elv(out, "DedicatedLogVolume", false);
    elv(out, "IsStorageConfigUpgradeAvailable", false);
    el(
        out,
        "EngineLifecycleSupport",
        "open-source-rds-extended-support",
    );
    out.push_str("</DBInstance>");
}

fn subnet_group(ctx: &Ctx<'_>, out: &mut String) {
    let region = ctx.region_name;
    let vpc = ctx.vpc();
    let _ = write!(
        out,
        "<DBSubnetGroup><DBSubnetGroupName>db-private</DBSubnetGroupName><DBSubnetGroupDescription>Private subnets for databases</DBSubnetGroupDescription><VpcId>{vpc}</VpcId><SubnetGroupStatus>Complete</SubnetGroupStatus><Subnets>"
    );
    for az in ["a", "b", "c"] {
        let _ = write!(
            out,
            "<Subnet><SubnetIdentifier>subnet-0{:08x}{az}</SubnetIdentifier><SubnetAvailabilityZone><Name>{region}{az}</Name></SubnetAvailabilityZone><SubnetOutpost/><SubnetStatus>Active</SubnetStatus></Subnet>",
            ctx.account as u32 * 13 + 5
        );
    }
    out.push_str("</Subnets><SupportedNetworkTypes><member>IPV4</member></SupportedNetworkTypes></DBSubnetGroup>");
}

fn describe_db_clusters(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    let all: &[Cluster] = ctx.scope().map(|s| s.clusters.as_slice()).unwrap_or(&[]);
    let wanted: Vec<&Cluster> = match param(form, "DBClusterIdentifier") {
        Some(id) => {
            let id = id.rsplit(':').next().unwrap_or(id);
            let found: Vec<&Cluster> = all.iter().filter(|c| c.id == id).collect();
            if found.is_empty() {
                return ctx.error(
                    404,
                    "DBClusterNotFoundFault",
                    &format!("DBCluster {id} not found."),
                );
            }
            found
        }
        None => all.iter().collect(),
    };
    let (start, end, next) = match page(ctx, form, wanted.len()) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut out = String::with_capacity(512 + (end - start) * 3000);
    open(&mut out, "DescribeDBClusters");
    if let Some(marker) = &next {
        el(&mut out, "Marker", marker);
    }
    out.push_str("<DBClusters>");
    for c in &wanted[start..end] {
        db_cluster(ctx, &mut out, c);
    }
    out.push_str("</DBClusters>");
    close(&mut out, "DescribeDBClusters", ctx.request_id);
    Answer::xml(out)
}

fn db_cluster(ctx: &Ctx<'_>, out: &mut String, c: &Cluster) {
    let region = ctx.region_name;
    let e = c.engine;
    let host = format!(
        "c{:010x}.{region}.rds.amazonaws.com",
        ctx.account as u64 * 104_729 + 17
    );
    out.push_str("<DBCluster>");
    elv(out, "AllocatedStorage", 1);
    let _ = write!(
        out,
        "<AvailabilityZones><AvailabilityZone>{region}a</AvailabilityZone><AvailabilityZone>{region}b</AvailabilityZone><AvailabilityZone>{region}c</AvailabilityZone></AvailabilityZones>"
    );
    elv(out, "BackupRetentionPeriod", 7);
    el(out, "DatabaseName", "app");
    el(out, "DBClusterIdentifier", &c.id);
    el(
        out,
        "DBClusterParameterGroup",
        &format!("default.{}", e.family),
    );
    el(out, "DBSubnetGroup", "db-private");
    el(out, "Status", "available");
    el(
        out,
        "EarliestRestorableTime",
        &iso(ctx.fleet.params.as_of - 7 * 86_400),
    );
    let _ = write!(out, "<Endpoint>{}.cluster-{host}</Endpoint>", c.id);
    let _ = write!(
        out,
        "<ReaderEndpoint>{}.cluster-ro-{host}</ReaderEndpoint>",
        c.id
    );
    out.push_str("<CustomEndpoints/>");
    elv(out, "MultiAZ", c.members.len() > 1);
    el(out, "Engine", e.name);
    el(out, "EngineVersion", e.version);
    el(
        out,
        "LatestRestorableTime",
        &iso(ctx.fleet.params.as_of - 300),
    );
    elv(out, "Port", e.port);
    el(out, "MasterUsername", "dbadmin");
    out.push_str("<DBClusterOptionGroupMemberships/>");
    el(out, "PreferredBackupWindow", "03:00-03:30");
    el(out, "PreferredMaintenanceWindow", "sun:05:00-sun:05:30");
    out.push_str("<ReadReplicaIdentifiers/><DBClusterMembers>");
    for (i, m) in c.members.iter().enumerate() {
        out.push_str("<DBClusterMember>");
        el(out, "DBInstanceIdentifier", m);
        elv(out, "IsClusterWriter", i == 0);
        el(out, "DBClusterParameterGroupStatus", "in-sync");
        elv(out, "PromotionTier", 1);
        out.push_str("</DBClusterMember>");
    }
    out.push_str("</DBClusterMembers>");
    let _ = write!(
        out,
        "<VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-0{:016x}</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>",
        ctx.account as u64 * 31 + 7
    );
    el(out, "HostedZoneId", "Z2R2ITUGPM61AM");
    elv(out, "StorageEncrypted", c.key.is_some());
    if let Some(key) = &c.key {
        el(out, "KmsKeyId", key);
    }
    el(out, "DbClusterResourceId", &c.resource_id);
    el(out, "DBClusterArn", &ctx.arn("cluster", &c.id));
    out.push_str("<AssociatedRoles/>");
    elv(out, "IAMDatabaseAuthenticationEnabled", false);
    el(out, "ClusterCreateTime", &iso(c.created));
    el(out, "EngineMode", "provisioned");
    elv(out, "DeletionProtection", true);
    elv(out, "HttpEndpointEnabled", false);
    elv(out, "CopyTagsToSnapshot", true);
    elv(out, "CrossAccountClone", false);
    out.push_str("<DomainMemberships/>");
    tag_list(out, &c.tags);
    elv(out, "AutoMinorVersionUpgrade", true);
    el(out, "NetworkType", "IPV4");
    el(
        out,
        "EngineLifecycleSupport",
        "open-source-rds-extended-support",
    );
    out.push_str("</DBCluster>");
}

/// Snapshots of one kind matching the request's filters (`SnapshotType`, identifiers).
fn matching<'a>(
    all: &'a [Snap],
    form: &[(String, String)],
    source_param: &str,
    id_param: &str,
) -> Vec<&'a Snap> {
    let kind = param(form, "SnapshotType").unwrap_or("");
    let source = param(form, source_param);
    let id = param(form, id_param).map(|i| i.rsplit(':').next().unwrap_or(i));
    all.iter()
        .filter(|s| match kind {
            "" => true,
            "manual" => s.manual,
            "automated" => !s.manual,
            // Snapshots other accounts share with this one, public ones: none here (AWS Backup's:
            // `backup_views`).
            _ => false,
        })
        .filter(|s| source.is_none_or(|src| s.source_id == src))
        .filter(|s| id.is_none_or(|i| s.id == i))
        .collect()
}

/// The RDS view of the scope's DB instance recovery points (`SnapshotType=awsbackup`): each an
/// `awsbackup:` snapshot with the point's tags (the engine is not modelled: the first one's).
fn backup_views(ctx: &Ctx<'_>) -> Vec<Snap> {
    let Some(scope) = ctx.scope() else {
        return Vec::new();
    };
    scope
        .points
        .iter()
        .filter(|p| p.has_db_snapshot_view())
        .map(|p| Snap {
            id: p.id.clone(),
            source_id: p.resource_name.clone(),
            engine: &crate::fleet::ENGINES[0],
            manual: false,
            status: if p.status == "COMPLETED" {
                "available"
            } else {
                "creating"
            },
            created: p.completed.unwrap_or(p.created),
            original: Some(p.created),
            key: scope
                .vaults
                .get(usize::from(p.vault))
                .and_then(|v| v.key.clone()),
            source_snapshot_arn: None,
            source_region: None,
            tags: p.tags.clone(),
            shared: Vec::new(),
            storage: p.storage,
            judged: false,
        })
        .collect()
}

fn describe_db_snapshots(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    let views;
    let all: &[Snap] = if param(form, "SnapshotType") == Some("awsbackup") {
        views = backup_views(ctx);
        &views
    } else {
        ctx.scope().map(|s| s.snaps.as_slice()).unwrap_or(&[])
    };
    let wanted = match param(form, "SnapshotType") {
        Some("awsbackup") => all.iter().collect(),
        _ => matching(all, form, "DBInstanceIdentifier", "DBSnapshotIdentifier"),
    };
    if let (Some(id), true) = (param(form, "DBSnapshotIdentifier"), wanted.is_empty()) {
        return ctx.error(
            404,
            "DBSnapshotNotFound",
            &format!("DBSnapshot {id} not found."),
        );
    }
    let (start, end, next) = match page(ctx, form, wanted.len()) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut out = String::with_capacity(512 + (end - start) * 1800);
    open(&mut out, "DescribeDBSnapshots");
    if let Some(marker) = &next {
        el(&mut out, "Marker", marker);
    }
    out.push_str("<DBSnapshots>");
    for s in &wanted[start..end] {
        db_snapshot(ctx, &mut out, s);
    }
    out.push_str("</DBSnapshots>");
    close(&mut out, "DescribeDBSnapshots", ctx.request_id);
    Answer::xml(out)
}

fn db_snapshot(ctx: &Ctx<'_>, out: &mut String, s: &Snap) {
    let e = s.engine;
    out.push_str("<DBSnapshot>");
    el(out, "DBSnapshotIdentifier", &s.id);
    el(out, "DBInstanceIdentifier", &s.source_id);
    el(out, "SnapshotCreateTime", &iso(s.created));
    el(out, "Engine", e.name);
    elv(out, "AllocatedStorage", s.storage);
    el(out, "Status", s.status);
    elv(out, "Port", e.port);
    let _ = write!(
        out,
        "<AvailabilityZone>{}a</AvailabilityZone>",
        ctx.region_name
    );
    el(out, "VpcId", &ctx.vpc());
    el(
        out,
        "InstanceCreateTime",
        &iso(s.original.unwrap_or(s.created) - 200 * 86_400),
    );
    el(out, "MasterUsername", "dbadmin");
    el(out, "EngineVersion", e.version);
    el(out, "LicenseModel", e.license);
    let kind = match (s.manual, s.id.starts_with("awsbackup:")) {
        (_, true) => "awsbackup",
        (true, false) => "manual",
        (false, false) => "automated",
    };
    el(out, "SnapshotType", kind);
    el(out, "OptionGroupName", &format!("default:{}", e.name));
    elv(out, "PercentProgress", 100);
    if let Some(region) = s.source_region {
        el(out, "SourceRegion", region);
    }
    if let Some(arn) = &s.source_snapshot_arn {
        el(out, "SourceDBSnapshotIdentifier", arn);
    }
    el(out, "StorageType", "gp3");
    elv(out, "Encrypted", s.key.is_some());
    if let Some(key) = &s.key {
        el(out, "KmsKeyId", key);
    }
    el(out, "DBSnapshotArn", &ctx.arn("snapshot", &s.id));
    elv(out, "IAMDatabaseAuthenticationEnabled", false);
    out.push_str("<ProcessorFeatures/>");
    let _ = write!(
        out,
        "<DbiResourceId>db-{:026X}</DbiResourceId>",
        s.created as u64 * 2_654_435_761
    );
    tag_list(out, &s.tags);
    if let Some(t) = s.original {
        el(out, "OriginalSnapshotCreateTime", &iso(t));
    }
    el(out, "SnapshotTarget", "region");
    elv(out, "StorageThroughput", 125);
    elv(out, "DedicatedLogVolume", false);
    out.push_str("</DBSnapshot>");
}

fn describe_db_cluster_snapshots(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    let all: &[Snap] = ctx
        .scope()
        .map(|s| s.cluster_snaps.as_slice())
        .unwrap_or(&[]);
    let wanted = matching(
        all,
        form,
        "DBClusterIdentifier",
        "DBClusterSnapshotIdentifier",
    );
    if let (Some(id), true) = (
        param(form, "DBClusterSnapshotIdentifier"),
        wanted.is_empty(),
    ) {
        return ctx.error(
            404,
            "DBClusterSnapshotNotFoundFault",
            &format!("DBClusterSnapshot {id} not found."),
        );
    }
    let (start, end, next) = match page(ctx, form, wanted.len()) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut out = String::with_capacity(512 + (end - start) * 1500);
    open(&mut out, "DescribeDBClusterSnapshots");
    if let Some(marker) = &next {
        el(&mut out, "Marker", marker);
    }
    out.push_str("<DBClusterSnapshots>");
    for s in &wanted[start..end] {
        cluster_snapshot(ctx, &mut out, s);
    }
    out.push_str("</DBClusterSnapshots>");
    close(&mut out, "DescribeDBClusterSnapshots", ctx.request_id);
    Answer::xml(out)
}

fn cluster_snapshot(ctx: &Ctx<'_>, out: &mut String, s: &Snap) {
    let region = ctx.region_name;
    let e = s.engine;
    out.push_str("<DBClusterSnapshot>");
    let _ = write!(
        out,
        "<AvailabilityZones><AvailabilityZone>{region}a</AvailabilityZone><AvailabilityZone>{region}b</AvailabilityZone><AvailabilityZone>{region}c</AvailabilityZone></AvailabilityZones>"
    );
    el(out, "DBClusterSnapshotIdentifier", &s.id);
    el(out, "DBClusterIdentifier", &s.source_id);
    el(out, "SnapshotCreateTime", &iso(s.created));
    el(out, "Engine", e.name);
    el(out, "EngineMode", "provisioned");
    elv(out, "AllocatedStorage", 0);
    el(out, "Status", s.status);
    elv(out, "Port", 0);
    el(out, "VpcId", &ctx.vpc());
    el(out, "ClusterCreateTime", &iso(s.created - 200 * 86_400));
    el(out, "MasterUsername", "dbadmin");
    el(out, "EngineVersion", e.version);
    el(out, "LicenseModel", e.license);
    let kind = match (s.manual, s.id.starts_with("awsbackup:")) {
        (_, true) => "awsbackup",
        (true, false) => "manual",
        (false, false) => "automated",
    };
    el(out, "SnapshotType", kind);
    elv(out, "PercentProgress", 100);
    elv(out, "StorageEncrypted", s.key.is_some());
    if let Some(key) = &s.key {
        el(out, "KmsKeyId", key);
    }
    el(
        out,
        "DBClusterSnapshotArn",
        &ctx.arn("cluster-snapshot", &s.id),
    );
    if let Some(arn) = &s.source_snapshot_arn {
        el(out, "SourceDBClusterSnapshotArn", arn);
    }
    elv(out, "IAMDatabaseAuthenticationEnabled", false);
    tag_list(out, &s.tags);
    el(out, "StorageType", "aurora");
    let _ = write!(
        out,
        "<DbClusterResourceId>cluster-{:026X}</DbClusterResourceId>",
        s.created as u64 * 40_503
    );
    out.push_str("</DBClusterSnapshot>");
}

fn describe_snapshot_attributes(ctx: &Ctx<'_>, form: &[(String, String)], cluster: bool) -> Answer {
    let (id_param, action, result, list, item, not_found) = if cluster {
        (
            "DBClusterSnapshotIdentifier",
            "DescribeDBClusterSnapshotAttributes",
            "DBClusterSnapshotAttributesResult",
            "DBClusterSnapshotAttributes",
            "DBClusterSnapshotAttribute",
            "DBClusterSnapshotNotFoundFault",
        )
    } else {
        (
            "DBSnapshotIdentifier",
            "DescribeDBSnapshotAttributes",
            "DBSnapshotAttributesResult",
            "DBSnapshotAttributes",
            "DBSnapshotAttribute",
            "DBSnapshotNotFound",
        )
    };
    let Some(id) = param(form, id_param) else {
        return ctx.error(
            400,
            "MissingParameter",
            &format!("The request must contain the parameter {id_param}"),
        );
    };
    let name = id.rsplit(':').next().unwrap_or(id);
    let snap = ctx.scope().and_then(|s| {
        if cluster {
            s.cluster_snap(name)
        } else {
            s.snap(name)
        }
    });
    let Some(snap) = snap.filter(|s| s.manual) else {
        let kind = if cluster {
            "DBClusterSnapshot"
        } else {
            "DBSnapshot"
        };
        return ctx.error(404, not_found, &format!("{kind} {id} not found."));
    };
    let mut out = String::with_capacity(640);
    open(&mut out, action);
    let _ = write!(out, "<{result}>");
    el(&mut out, id_param, &snap.id);
    let _ = write!(
        out,
        "<{list}><{item}><AttributeName>restore</AttributeName>"
    );
    if snap.shared.is_empty() {
        out.push_str("<AttributeValues/>");
    } else {
        out.push_str("<AttributeValues>");
        for v in &snap.shared {
            el(&mut out, "AttributeValue", v);
        }
        out.push_str("</AttributeValues>");
    }
    let _ = write!(out, "</{item}></{list}></{result}>");
    close(&mut out, action, ctx.request_id);
    Answer::xml(out)
}

fn list_tags(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    let Some(arn) = param(form, "ResourceName") else {
        return ctx.error(
            400,
            "MissingParameter",
            "The request must contain the parameter ResourceName",
        );
    };
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let not_found = || {
        ctx.error(
            404,
            "DBInstanceNotFound",
            &format!("Resource {arn} not found."),
        )
    };
    if parts.len() != 7
        || parts[2] != "rds"
        || parts[3] != ctx.region_name
        || parts[4] != ctx.account_id()
    {
        return not_found();
    }
    let Some(scope) = ctx.scope() else {
        return not_found();
    };
    let name = parts[6];
    let tags = match parts[5] {
        "db" => scope.dbs.iter().find(|d| d.id == name).map(|d| &d.tags),
        "cluster" => scope
            .clusters
            .iter()
            .find(|c| c.id == name)
            .map(|c| &c.tags),
        "snapshot" => scope.snap(name).map(|s| &s.tags),
        "cluster-snapshot" => scope.cluster_snap(name).map(|s| &s.tags),
        _ => None,
    };
    let Some(tags) = tags else {
        return not_found();
    };
    let mut out = String::with_capacity(512);
    open(&mut out, "ListTagsForResource");
    tag_list(&mut out, tags);
    close(&mut out, "ListTagsForResource", ctx.request_id);
    Answer::xml(out)
}

/// The account-region's manual snapshot quotas (`ManualSnapshots`, `ManualClusterSnapshots`): the
/// vault's sized ones ([`crate::fleet::VaultQuota`]), AWS's default of 100 elsewhere, `Used` the
/// manual snapshots served there.
fn describe_account_attributes(ctx: &Ctx<'_>) -> Answer {
    let manual = |snaps: &[Snap]| snaps.iter().filter(|s| s.manual).count() as i64;
    let (snaps, cluster_snaps) = ctx
        .scope()
        .map(|s| (manual(&s.snaps), manual(&s.cluster_snaps)))
        .unwrap_or((0, 0));
    let sized = match (ctx.account, ctx.region) {
        (VAULT, Some(r)) => ctx.fleet.quotas.get(r).copied(),
        _ => None,
    };
    let max = |k: usize| sized.map_or(DEFAULT_SNAPSHOT_QUOTA, |q| q[k].max);
    let mut out = String::with_capacity(600);
    open(&mut out, "DescribeAccountAttributes");
    out.push_str("<AccountQuotas>");
    for (name, used, max) in [
        ("ManualSnapshots", snaps, max(0)),
        ("ManualClusterSnapshots", cluster_snaps, max(1)),
    ] {
        out.push_str("<AccountQuota>");
        el(&mut out, "AccountQuotaName", name);
        elv(&mut out, "Used", used);
        elv(&mut out, "Max", max);
        out.push_str("</AccountQuota>");
    }
    out.push_str("</AccountQuotas>");
    close(&mut out, "DescribeAccountAttributes", ctx.request_id);
    Answer::xml(out)
}

/// The account-region's option groups of their own (the engines' `default:` groups are not served:
/// they hold no options), or the one `OptionGroupName` names (`OptionGroupNotFoundFault` if none),
/// paged like the other Describe calls; each option with `Persistent` and `Permanent`.
fn describe_option_groups(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    let groups: Vec<&crate::fleet::OptionGroup> = ctx
        .scope()
        .map(|s| s.option_groups.iter().collect())
        .unwrap_or_default();
    let groups: Vec<_> = match param(form, "OptionGroupName") {
        None => groups,
        Some(name) => match groups.into_iter().find(|g| g.name == name) {
            Some(group) => vec![group],
            None => {
                return ctx.error(
                    404,
                    "OptionGroupNotFoundFault",
                    &format!("Specified OptionGroupName: {name} not found."),
                )
            }
        },
    };
    let (start, end, next) = match page(ctx, form, groups.len()) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    let mut out = String::with_capacity(400 * (end - start) + 300);
    open(&mut out, "DescribeOptionGroups");
    out.push_str("<OptionGroupsList>");
    for group in &groups[start..end] {
        let e = group.engine;
        let parts = if e.name.starts_with("oracle") { 1 } else { 2 };
        let major = e
            .version
            .split('.')
            .take(parts)
            .collect::<Vec<_>>()
            .join(".");
        out.push_str("<OptionGroup>");
        el(&mut out, "OptionGroupName", &group.name);
        el(&mut out, "OptionGroupDescription", "fleetsim");
        el(&mut out, "EngineName", e.name);
        el(&mut out, "MajorEngineVersion", &major);
        out.push_str("<Options>");
        for (name, persistent, permanent) in &group.options {
            out.push_str("<Option>");
            el(&mut out, "OptionName", name);
            elv(&mut out, "Persistent", *persistent);
            elv(&mut out, "Permanent", *permanent);
            out.push_str("<OptionSettings/></Option>");
        }
        out.push_str("</Options>");
        elv(&mut out, "AllowsVpcAndNonVpcInstanceMemberships", true);
        el(&mut out, "OptionGroupArn", &ctx.arn("og", &group.name));
        out.push_str("</OptionGroup>");
    }
    out.push_str("</OptionGroupsList>");
    if let Some(marker) = next {
        el(&mut out, "Marker", &marker);
    }
    close(&mut out, "DescribeOptionGroups", ctx.request_id);
    Answer::xml(out)
}

/// The fleet has no Blue/Green deployment: one empty page (paging parameters checked as AWS does).
fn describe_blue_green_deployments(ctx: &Ctx<'_>, form: &[(String, String)]) -> Answer {
    if let Err(e) = page(ctx, form, 0) {
        return e;
    }
    let mut out = String::with_capacity(300);
    open(&mut out, "DescribeBlueGreenDeployments");
    out.push_str("<BlueGreenDeployments></BlueGreenDeployments>");
    close(&mut out, "DescribeBlueGreenDeployments", ctx.request_id);
    Answer::xml(out)
}
