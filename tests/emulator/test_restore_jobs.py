"""(aa) AWS Backup restore jobs of RDS and Aurora recovery points, and (ab) restores that apply false
values, through boto3 as rdsguard drill uses them (README rows aa and ab).

Run: .venv/bin/python -m pytest tests/emulator -q
"""
import datetime
import json

import pytest

from test_launcher import (  # noqa: F401 (endpoint: the session's emulator)
    ROLE, Account, backup_error, copy_in_policy, endpoint, make_instance, start_backup, start_copy)

HOUR = datetime.timedelta(hours=1)


def restore(account, point, metadata, **kwargs):
    backup = account.client("backup")
    job_id = backup.start_restore_job(RecoveryPointArn=point, Metadata=metadata,
                                      IamRoleArn=ROLE.format(account.id), **kwargs)["RestoreJobId"]
    return backup.describe_restore_job(RestoreJobId=job_id)


def test_a_restore_job_of_an_rds_recovery_point_makes_the_instance_its_metadata_names(endpoint):
    account = Account(endpoint)
    rds, backup = account.client("rds"), account.client("backup")
    db = make_instance(rds, "orders", PubliclyAccessible=True, Tags=[{"Key": "team", "Value": "data"}])
    backup.create_backup_vault(BackupVaultName="central")
    point = start_backup(account, "central", db["DBInstanceArn"])["RecoveryPointArn"]

    # GetRecoveryPointRestoreMetadata: the configuration the database was backed up with.
    meta = backup.get_recovery_point_restore_metadata(BackupVaultName="central", RecoveryPointArn=point)
    assert meta["RecoveryPointArn"] == point and meta["ResourceType"] == "RDS"
    backed_up = meta["RestoreMetadata"]
    assert {k: backed_up[k] for k in ("DBInstanceIdentifier", "DBInstanceClass", "Engine",
                                      "PubliclyAccessible")} == {
        "DBInstanceIdentifier": "orders", "DBInstanceClass": "db.t3.micro", "Engine": "postgres",
        "PubliclyAccessible": "true"}
    assert isinstance(json.loads(backed_up["VpcSecurityGroupIds"]), list)

    # Keys are not case sensitive; lists are JSON arrays in a string; false values apply.
    job = restore(account, point, {**backed_up, "dbInstanceIdentifier": "drill-1",
                                   "DBInstanceIdentifier": "drill-1", "publiclyaccessible": "false",
                                   "VpcSecurityGroupIds": '["sg-1", "sg-2"]', "vpcId": "vpc-info-only"},
                  CopySourceTagsToRestoredResource=False)
    assert job["Status"] == "COMPLETED", job
    assert job["CreatedResourceArn"] == f"arn:aws:rds:us-east-1:{account.id}:db:drill-1"
    assert job["RecoveryPointArn"] == point and job["SourceResourceArn"] == db["DBInstanceArn"]
    assert job["ResourceType"] == "RDS" and job["CompletionDate"] >= job["CreationDate"]
    made = rds.describe_db_instances(DBInstanceIdentifier="drill-1")["DBInstances"][0]
    assert made["PubliclyAccessible"] is False
    assert [g["VpcSecurityGroupId"] for g in made["VpcSecurityGroups"]] == ["sg-1", "sg-2"]
    # RDS: the database's tags at backup time come along whatever CopySourceTagsToRestoredResource says.
    assert made["TagList"] == [{"Key": "team", "Value": "data"}]

    # The jobs since a time, and a restore that cannot be made fails its job (not the call).
    again = restore(account, point, {"DBInstanceIdentifier": "drill-1"})
    assert again["Status"] == "FAILED" and "already exists" in again["StatusMessage"].lower()
    nameless = restore(account, point, {"Engine": "postgres"})
    assert nameless["Status"] == "FAILED" and "DBInstanceIdentifier" in nameless["StatusMessage"]
    listed = backup.list_restore_jobs(ByCreatedAfter=job["CreationDate"] - HOUR)["RestoreJobs"]
    assert [j["RestoreJobId"] for j in listed] == [job["RestoreJobId"], again["RestoreJobId"],
                                                   nameless["RestoreJobId"]]
    assert backup.list_restore_jobs(ByCreatedAfter=job["CreationDate"] + HOUR)["RestoreJobs"] == []
    failed = backup.list_restore_jobs(ByStatus="FAILED")["RestoreJobs"]
    assert {j["RestoreJobId"] for j in failed} == {again["RestoreJobId"], nameless["RestoreJobId"]}
    pages = backup.get_paginator("list_restore_jobs").paginate(PaginationConfig={"PageSize": 2})
    assert [len(p["RestoreJobs"]) for p in pages] == [2, 1]


def test_a_restore_job_with_the_same_idempotency_token_starts_nothing_twice(endpoint):
    account = Account(endpoint)
    rds, backup = account.client("rds"), account.client("backup")
    db = make_instance(rds, "orders")["DBInstanceArn"]
    backup.create_backup_vault(BackupVaultName="central")
    point = start_backup(account, "central", db)["RecoveryPointArn"]
    first = restore(account, point, {"DBInstanceIdentifier": "drill-2"}, IdempotencyToken="t-1")
    second = restore(account, point, {"DBInstanceIdentifier": "drill-2"}, IdempotencyToken="t-1")
    assert second["RestoreJobId"] == first["RestoreJobId"] and second["Status"] == "COMPLETED"
    assert len(backup.list_restore_jobs()["RestoreJobs"]) == 1


def test_an_aurora_restore_job_makes_the_cluster_only(endpoint):
    """From a copy in another account's vault, as rdsguard's vault account drills it."""
    prod, vault = Account(endpoint), Account(endpoint)
    key = prod.client("kms").create_key()["KeyMetadata"]["Arn"]
    cluster = prod.client("rds").create_db_cluster(
        DBClusterIdentifier="ledger", Engine="aurora-postgresql", MasterUsername="admin1",
        MasterUserPassword="password-1", StorageEncrypted=True, KmsKeyId=key)["DBCluster"]
    prod.client("backup").create_backup_vault(BackupVaultName="Default")
    source = start_backup(prod, "Default", cluster["DBClusterArn"])["RecoveryPointArn"]
    vbackup = vault.client("backup")
    central = vbackup.create_backup_vault(BackupVaultName="central")["BackupVaultArn"]
    vbackup.put_backup_vault_access_policy(BackupVaultName="central", Policy=copy_in_policy(prod.id))
    copied = start_copy(prod, "Default", source, central)["DestinationRecoveryPointArn"]

    meta = vbackup.get_recovery_point_restore_metadata(BackupVaultName="central", RecoveryPointArn=copied)
    assert meta["ResourceType"] == "Aurora"
    assert {k: meta["RestoreMetadata"][k] for k in ("DBClusterIdentifier", "Engine")} == {
        "DBClusterIdentifier": "ledger", "Engine": "aurora-postgresql"}
    job = restore(vault, copied, {"DBClusterIdentifier": "drill-c", "Engine": "aurora-postgresql"})
    assert job["Status"] == "COMPLETED", job
    assert job["CreatedResourceArn"] == f"arn:aws:rds:us-east-1:{vault.id}:cluster:drill-c"
    made = vault.client("rds").describe_db_clusters(DBClusterIdentifier="drill-c")["DBClusters"][0]
    assert made["DBClusterMembers"] == []  # AWS Backup makes no instance
    assert backup_error(vbackup.describe_restore_job, RestoreJobId="nope")[0] == "ResourceNotFoundException"


def test_a_point_in_an_air_gapped_vault_is_restored_by_the_account_it_is_shared_with(endpoint):
    prod, owner, reader, stranger = (Account(endpoint) for _ in range(4))
    key = prod.client("kms").create_key()["KeyMetadata"]["Arn"]
    db = make_instance(prod.client("rds"), "orders", StorageEncrypted=True, KmsKeyId=key)["DBInstanceArn"]
    prod.client("backup").create_backup_vault(BackupVaultName="Default")
    source = start_backup(prod, "Default", db)["RecoveryPointArn"]
    obackup = owner.client("backup")
    lag = obackup.create_logically_air_gapped_backup_vault(
        BackupVaultName="lag", MinRetentionDays=7, MaxRetentionDays=30)["BackupVaultArn"]
    obackup.put_backup_vault_access_policy(BackupVaultName="lag", Policy=copy_in_policy(prod.id))
    point = start_copy(prod, "Default", source, lag, Lifecycle={"DeleteAfterDays": 14})[
        "DestinationRecoveryPointArn"]
    assert point.startswith(f"arn:aws:backup:us-east-1:{owner.id}:recovery-point:")
    owner.client("ram").create_resource_share(name="lag", resourceArns=[lag], principals=[reader.id])

    meta = reader.client("backup").get_recovery_point_restore_metadata(
        BackupVaultName="lag", RecoveryPointArn=point, BackupVaultAccountId=owner.id)
    assert meta["RestoreMetadata"]["DBInstanceIdentifier"] == "orders"
    job = restore(reader, point, {"DBInstanceIdentifier": "drill-3"})
    assert job["Status"] == "COMPLETED", job
    assert job["CreatedResourceArn"] == f"arn:aws:rds:us-east-1:{reader.id}:db:drill-3"
    with pytest.raises(Exception) as refused:
        restore(stranger, point, {"DBInstanceIdentifier": "drill-4"})
    assert "ResourceNotFoundException" in str(refused.value)



def test_a_restore_applies_false_values_too(endpoint):
    """(ab) PubliclyAccessible=false (MultiAZ, DeletionProtection) on the restore of a public, Multi-AZ,
    protected database's snapshot gives a private, single-AZ, unprotected instance."""
    account = Account(endpoint)
    rds = account.client("rds")
    make_instance(rds, "public", PubliclyAccessible=True, MultiAZ=True, DeletionProtection=True)
    rds.create_db_snapshot(DBInstanceIdentifier="public", DBSnapshotIdentifier="public-snap")
    made = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="drill-5", DBSnapshotIdentifier="public-snap", PubliclyAccessible=False,
        MultiAZ=False, DeletionProtection=False)["DBInstance"]
    assert (made["PubliclyAccessible"], made["MultiAZ"], made["DeletionProtection"]) == (False, False, False)
    kept = rds.restore_db_instance_from_db_snapshot(
        DBInstanceIdentifier="copy-6", DBSnapshotIdentifier="public-snap")["DBInstance"]
    assert kept["PubliclyAccessible"] is True, "without a value, the source's stays"
