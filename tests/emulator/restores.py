"""(aa) AWS Backup restore jobs of RDS and Aurora recovery points, for rdsguard's launcher.

Moto 5.2.5 has no restore jobs (StartRestoreJob, DescribeRestoreJob, ListRestoreJobs and
GetRecoveryPointRestoreMetadata are 404 or 500). AWS (Backup developer guide, "Restore an RDS
database" and "Restoring an Amazon Aurora cluster"; API reference): StartRestoreJob takes the
metadata of RestoreDBInstanceFromDBSnapshot (RDS) or RestoreDBClusterFromSnapshot (Aurora; AWS
Backup makes the cluster only, no instance), keys not case sensitive, lists as JSON arrays in a
string; GetRecoveryPointRestoreMetadata returns the configuration the database was backed up with;
for RDS, the tags the database had when it was backed up are copied onto the restored database
whatever CopySourceTagsToRestoredResource says. A logically air-gapped vault's points are restored
from the account that owns the vault or one it is shared with.

The launcher calls install(launcher_module) once moto's backup service is patched (see README).
"""
import json

import botocore.session
from botocore import xform_name
from moto.backup.models import backup_backends
from moto.core.parse import XFormedDict
from moto.core.responses import ActionResult
from moto.rds.models import RDSBackend, rds_backends

_RDS_MODEL = botocore.session.get_session().get_service_model("rds")
# The restore operation whose parameters AWS Backup takes as metadata, per resource kind.
_RESTORE_OPERATION = {"db": "RestoreDBInstanceFromDBSnapshot",
                      "cluster": "RestoreDBClusterFromSnapshot"}
_REQUIRED = {"db": ("DBInstanceIdentifier",), "cluster": ("DBClusterIdentifier", "Engine")}


def install(L):
    """Adds the restore job operations to moto's backup service, with the launcher's helpers `L`."""

    def jobs(backend):
        return L._jobs(backend).setdefault("restore", {})

    def find_point(response, arn):
        """The recovery point `arn` in a vault of the caller, or of another account that shares a
        logically air-gapped vault with it (AWS looks it up by its ARN alone)."""
        caller, region = response.current_account, response.region
        for vault in list(backup_backends[caller][region].vaults.values()):
            if arn in vault.recovery_points:
                return vault, vault.recovery_points[arn]
        for account, regions in list(backup_backends.items()):
            if account == caller or region not in regions:
                continue
            for vault in list(regions[region].vaults.values()):
                if arn in vault.recovery_points and L._shared_with(vault, caller):
                    return vault, vault.recovery_points[arn]
        raise L._not_found(f"Recovery point {arn} not found")

    def attr(obj, name):
        try:  # some of moto's model attributes are write-only properties
            return getattr(obj, name, None)
        except NotImplementedError:
            return None

    def backed_up(point):
        """What GetRecoveryPointRestoreMetadata says of the database behind `point`."""
        origin = point["origin"]
        if point["kind"] == "db":
            db = origin.database
            meta = {"DBInstanceIdentifier": db.db_instance_identifier,
                    "DBInstanceClass": db.db_instance_class, "Engine": db.engine,
                    "EngineVersion": db.engine_version, "Port": db.port,
                    "MultiAZ": bool(db.multi_az), "PubliclyAccessible": bool(db.publicly_accessible),
                    "StorageType": attr(db, "storage_type"),
                    "AvailabilityZone": attr(db, "availability_zone"),
                    "DBSubnetGroupName": attr(attr(db, "db_subnet_group"), "subnet_name"),
                    "VpcSecurityGroupIds": list(attr(db, "vpc_security_group_ids") or [])}
        else:
            cluster = origin.cluster
            meta = {"DBClusterIdentifier": cluster.db_cluster_identifier, "Engine": cluster.engine,
                    "EngineVersion": cluster.engine_version, "Port": cluster.port,
                    "AvailabilityZones": list(attr(cluster, "availability_zones") or []),
                    "DBSubnetGroupName": attr(cluster, "db_subnet_group_name"),
                    "VpcSecurityGroupIds": list(attr(cluster, "vpc_security_group_ids") or [])}
        return {k: (json.dumps(v) if isinstance(v, list) else str(v).lower() if isinstance(v, bool)
                    else str(v)) for k, v in meta.items() if v is not None}

    def overrides(kind, metadata):
        """The restore call's parameters from AWS Backup metadata: names matched without regard to
        case, values typed by the RDS model; keys the call does not take are information only."""
        shape = _RDS_MODEL.operation_model(_RESTORE_OPERATION[kind]).input_shape
        members = {name.lower(): (name, member) for name, member in shape.members.items()}
        out = XFormedDict()
        for key, value in (metadata or {}).items():
            name, member = members.get(key.lower(), (None, None))
            if name is None or name in ("DBSnapshotIdentifier", "SnapshotIdentifier", "Tags"):
                continue
            if member.type_name == "boolean":
                value = str(value).lower() == "true"
            elif member.type_name == "integer":
                value = int(value)
            elif member.type_name == "list":
                value = json.loads(value) if isinstance(value, str) else list(value)
            out[name] = value
        return out

    def restore(response, point, metadata):
        """Makes the database; returns its ARN, or raises with AWS Backup's failure message."""
        kind = point["kind"]
        params = overrides(kind, metadata)
        missing = [k for k in _REQUIRED[kind] if not params.get(k)]
        if missing:
            raise ValueError(f"Restore metadata is missing {', '.join(missing)}")
        params["Tags"] = [dict(t) for t in point.get("ResourceTags") or []]
        rds = rds_backends[response.current_account][response.region]
        # The point's snapshot (the first backup's, for a point with no RDS view of its own) is
        # handed to moto's restore, which looks it up by identifier in the caller's account.
        L._pinned.snapshot = point["snapshot"] or point["origin"]
        try:
            if kind == "db":
                made = RDSBackend.restore_db_instance_from_db_snapshot(rds, "awsbackup-restore", params)
            else:
                made = RDSBackend.restore_db_cluster_from_snapshot(rds, "awsbackup-restore", params)
        finally:
            L._pinned.snapshot = None
        return made.db_instance_arn if kind == "db" else made.db_cluster_arn

    def start_restore_job(self):
        """StartRestoreJob: the job ends at once at the caller's clock (c), COMPLETED with the
        database it made, or FAILED with why (AWS reports a restore's failure on its job)."""
        params = L._params(self)
        backend = self.backup_backend
        token = params.get("IdempotencyToken")
        repeated = L._jobs(backend)["tokens"].get(("restore", token)) if token else None
        if repeated in jobs(backend):
            return ActionResult({"RestoreJobId": repeated})
        vault, point = find_point(self, params.get("RecoveryPointArn"))
        job_id, now = L._new_id(), L.utcnow()
        job = {"AccountId": self.current_account, "RestoreJobId": job_id,
               "RecoveryPointArn": point["RecoveryPointArn"], "BackupVaultArn": vault.backup_vault_arn,
               "SourceResourceArn": point["ResourceArn"], "CreationDate": now,
               "IamRoleArn": params.get("IamRoleArn"), "ResourceType": point["ResourceType"],
               "RecoveryPointCreationDate": point["CreationDate"], "BackupSizeInBytes": 0,
               "PercentDone": "100.0", "IsParent": False}
        try:
            job.update(Status="COMPLETED", CreatedResourceArn=restore(self, point, params.get("Metadata")))
        except Exception as error:  # AWS fails the job, not the call
            job.update(Status="FAILED", StatusMessage=getattr(error, "message", None) or str(error))
        job["CompletionDate"] = L.utcnow()
        jobs(backend)[job_id] = job
        L._remember(backend, "restore", params, job_id)
        return ActionResult({"RestoreJobId": job_id})

    def describe_restore_job(self):
        job_id = L._params(self).get("RestoreJobId")
        job = jobs(self.backup_backend).get(job_id)
        if job is None:
            raise L._not_found(f"Restore job {job_id} not found")
        return ActionResult({k: v for k, v in job.items() if v is not None})

    def list_restore_jobs(self):
        params = L._params(self)
        after, before = L._as_utc(params.get("ByCreatedAfter")), L._as_utc(params.get("ByCreatedBefore"))
        found = [j for j in list(jobs(self.backup_backend).values())
                 if params.get("ByStatus") in (None, j["Status"])
                 and params.get("ByResourceType") in (None, j["ResourceType"])
                 and params.get("ByAccountId") in (None, j["AccountId"])
                 and (after is None or j["CreationDate"] > after)
                 and (before is None or j["CreationDate"] < before)]
        page, token = L._page(found, params.get("MaxResults"), params.get("NextToken"),
                              lambda j: j["RestoreJobId"])
        result = {"RestoreJobs": [{k: v for k, v in j.items() if v is not None} for j in page]}
        if token:
            result["NextToken"] = token
        return ActionResult(result)

    def get_recovery_point_restore_metadata(self):
        params = L._params(self)
        vault = L._vault_for(self, params.get("BackupVaultName"), params.get("BackupVaultAccountId"))
        arn = L.unquote(params.get("RecoveryPointArn"))
        point = vault.recovery_points.get(arn)
        if point is None:
            raise L._not_found(f"Recovery point {arn} not found")
        return ActionResult({"BackupVaultArn": vault.backup_vault_arn, "RecoveryPointArn": arn,
                             "ResourceType": point["ResourceType"], "RestoreMetadata": backed_up(point)})

    for handler in (start_restore_job, describe_restore_job, list_restore_jobs,
                    get_recovery_point_restore_metadata):
        setattr(L.BackupResponse, handler.__name__, handler)
    L.backup_urls.url_paths.update({
        "{0}/restore-jobs/?$": L.backup_urls.response.dispatch,
        "{0}/restore-jobs/(?P<id>[^/]+)$": L.backup_urls.response.dispatch,
    })
