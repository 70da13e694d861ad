"""Tests of the emulator launcher and the seeder, through boto3 as a user would.

Run: .venv/bin/python -m pytest tests/emulator -q

Every test works in its own random accounts, as rdsguard's tests will, so the
tests also show that per-account state does not leak between users.
"""
import concurrent.futures
import datetime
import json
import time
import os
import random
import signal
import subprocess
import sys
import urllib.request

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from seed import seed  # noqa: E402

NO_RETRIES = botocore.config.Config(retries={"total_max_attempts": 1})
HOUR = datetime.timedelta(hours=1)


def start_launcher():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "launcher.py"), "--port", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("READY http://"), line
    return proc, line.split(" ", 1)[1]


@pytest.fixture(scope="session")
def endpoint():
    proc, url = start_launcher()
    yield url
    proc.stdin.close()  # EOF on stdin stops the launcher
    proc.wait(timeout=10)


def control(endpoint, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(endpoint + path, data=data, method=method)
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def new_account():
    return str(random.randint(10**11, 10**12 - 1))


class Account:
    """boto3 clients acting in one account, through STS AssumeRole."""

    def __init__(self, endpoint, account_id=None):
        self.endpoint, self.id = endpoint, account_id or new_account()
        sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        self.creds = sts.assume_role(RoleArn=f"arn:aws:iam::{self.id}:role/Test",
                                     RoleSessionName="test")["Credentials"]

    def client(self, service, region="us-east-1"):
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint,
                            aws_access_key_id=self.creds["AccessKeyId"],
                            aws_secret_access_key=self.creds["SecretAccessKey"],
                            aws_session_token=self.creds["SessionToken"], config=NO_RETRIES)


def make_instance(rds, ident, **kwargs):
    return rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres",
                                  DBInstanceClass="db.t3.micro", MasterUsername="admin1",
                                  MasterUserPassword="password-1", AllocatedStorage=20,
                                  **kwargs)["DBInstance"]


def make_snapshot(rds, instance, ident):
    return rds.create_db_snapshot(DBInstanceIdentifier=instance,
                                  DBSnapshotIdentifier=ident)["DBSnapshot"]


def make_cluster_snapshot(rds, cluster, ident):
    rds.create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-postgresql",
                          MasterUsername="admin1", MasterUserPassword="password-1")
    return rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster,
                                          DBClusterSnapshotIdentifier=ident)["DBClusterSnapshot"]


def error_code(call, **kwargs):
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"]


def age(timestamp):
    return datetime.datetime.now(datetime.timezone.utc) - timestamp


# --- (q) manual snapshot quotas ----------------------------------------------------
def test_manual_snapshot_quotas_are_listed_settable_and_enforced(endpoint):
    owner, vault = Account(endpoint), Account(endpoint)
    rds, vault_rds = owner.client("rds"), vault.client("rds")

    def quotas(client):
        listed = client.describe_account_attributes()["AccountQuotas"]
        return {q["AccountQuotaName"]: (q["Used"], q["Max"]) for q in listed}

    # AWS's defaults; the automated snapshot of a new instance is not a manual one.
    make_instance(rds, "orders")
    assert quotas(rds) == {"ManualSnapshots": (0, 100), "ManualClusterSnapshots": (0, 100)}
    state = control(endpoint, "POST", "/_rdsguard/quotas",
                    {"account_id": owner.id, "region": "us-east-1", "ManualSnapshots": 2,
                     "ManualClusterSnapshots": 1})
    assert {"account_id": owner.id, "region": "us-east-1", "ManualSnapshots": 2,
            "ManualClusterSnapshots": 1} in state["quotas"]
    arn = make_snapshot(rds, "orders", "orders-1")["DBSnapshotArn"]
    make_snapshot(rds, "orders", "orders-2")
    assert quotas(rds)["ManualSnapshots"] == (2, 2)
    # Past Max: create and copy are refused with AWS's code, and nothing is made.
    assert error_code(rds.create_db_snapshot, DBInstanceIdentifier="orders",
                      DBSnapshotIdentifier="orders-3") == "SnapshotQuotaExceeded"
    assert error_code(rds.copy_db_snapshot, SourceDBSnapshotIdentifier="orders-1",
                      TargetDBSnapshotIdentifier="orders-copy") == "SnapshotQuotaExceeded"
    assert quotas(rds)["ManualSnapshots"] == (2, 2)
    # Per account and region: another region of the account, and another account, are not limited.
    assert quotas(owner.client("rds", "eu-west-1"))["ManualSnapshots"] == (0, 100)
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-1", AttributeName="restore",
                                     ValuesToAdd=[vault.id])
    vault_rds.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="copy-1")
    assert quotas(vault_rds)["ManualSnapshots"] == (1, 100)
    control(endpoint, "POST", "/_rdsguard/quotas", {"account_id": vault.id, "ManualSnapshots": 1})
    assert error_code(vault_rds.copy_db_snapshot, SourceDBSnapshotIdentifier=arn,
                      TargetDBSnapshotIdentifier="copy-2") == "SnapshotQuotaExceeded"
    # Cluster snapshots count against their own quota.
    make_cluster_snapshot(rds, "ledger", "ledger-1")
    assert quotas(rds)["ManualClusterSnapshots"] == (1, 1)
    assert error_code(rds.create_db_cluster_snapshot, DBClusterIdentifier="ledger",
                      DBClusterSnapshotIdentifier="ledger-2") == "SnapshotQuotaExceeded"
    # Deleting makes room; dropping the settings restores the default.
    rds.delete_db_snapshot(DBSnapshotIdentifier="orders-2")
    make_snapshot(rds, "orders", "orders-3")
    control(endpoint, "DELETE", f"/_rdsguard/quotas?account_id={owner.id}")
    assert quotas(rds)["ManualSnapshots"] == (2, 100)
    assert quotas(vault_rds)["ManualSnapshots"] == (1, 1)
    control(endpoint, "DELETE", f"/_rdsguard/quotas?account_id={vault.id}")


# --- (a) cross-account copy / restore -----------------------------------------
def test_shared_snapshot_can_be_copied_and_restored_by_the_account_it_is_shared_with(endpoint):
    owner, vault, stranger = (Account(endpoint) for _ in range(3))
    rds = owner.client("rds")
    make_instance(rds, "orders")
    arn = make_snapshot(rds, "orders", "orders-snap")["DBSnapshotArn"]

    def copy_and_restore(account, suffix):
        client = account.client("rds")
        copy = client.copy_db_snapshot(SourceDBSnapshotIdentifier=arn,
                                       TargetDBSnapshotIdentifier=f"copy-{suffix}")["DBSnapshot"]
        restored = client.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=f"restored-{suffix}", DBSnapshotIdentifier=arn)["DBInstance"]
        return copy["DBSnapshotArn"], restored["DBInstanceArn"]

    # Not shared yet: refused with AWS's error code, for copy and restore.
    vrds = vault.client("rds")
    assert error_code(vrds.copy_db_snapshot, SourceDBSnapshotIdentifier=arn,
                      TargetDBSnapshotIdentifier="copy") == "DBSnapshotNotFound"
    assert error_code(vrds.restore_db_instance_from_db_snapshot, DBInstanceIdentifier="r",
                      DBSnapshotIdentifier=arn) == "DBSnapshotNotFound"

    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-snap", AttributeName="restore",
                                     ValuesToAdd=[vault.id])
    copy_arn, restored_arn = copy_and_restore(vault, "v")
    assert copy_arn == f"arn:aws:rds:us-east-1:{vault.id}:snapshot:copy-v"
    assert restored_arn == f"arn:aws:rds:us-east-1:{vault.id}:db:restored-v"
    # Shared with the vault only: still refused for anyone else.
    assert error_code(stranger.client("rds").copy_db_snapshot, SourceDBSnapshotIdentifier=arn,
                      TargetDBSnapshotIdentifier="copy") == "DBSnapshotNotFound"

    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-snap", AttributeName="restore",
                                     ValuesToAdd=["all"])
    assert copy_and_restore(stranger, "s")[0].split(":")[4] == stranger.id


def test_shared_cluster_snapshot_can_be_copied_and_restored_cross_account(endpoint):
    owner, vault = Account(endpoint), Account(endpoint)
    rds, vrds = owner.client("rds"), vault.client("rds")
    arn = make_cluster_snapshot(rds, "ledger", "ledger-snap")["DBClusterSnapshotArn"]
    assert error_code(vrds.copy_db_cluster_snapshot, SourceDBClusterSnapshotIdentifier=arn,
                      TargetDBClusterSnapshotIdentifier="c") == "DBClusterSnapshotNotFoundFault"
    assert error_code(vrds.restore_db_cluster_from_snapshot, DBClusterIdentifier="r",
                      SnapshotIdentifier=arn, Engine="aurora-postgresql") \
        == "DBClusterSnapshotNotFoundFault"

    rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier="ledger-snap",
                                             AttributeName="restore", ValuesToAdd=[vault.id])
    copy = vrds.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=arn,
                                         TargetDBClusterSnapshotIdentifier="ledger-copy")
    copy = copy["DBClusterSnapshot"]
    assert copy["DBClusterSnapshotArn"].split(":")[4] == vault.id
    # (b) cluster snapshot copies always name their source
    assert copy["SourceDBClusterSnapshotArn"] == arn
    restored = vrds.restore_db_cluster_from_snapshot(
        DBClusterIdentifier="ledger-restored", SnapshotIdentifier=arn, Engine="aurora-postgresql")
    assert restored["DBCluster"]["DBClusterArn"].split(":")[4] == vault.id


# --- (b) copies record their source -------------------------------------------
def test_copies_report_their_source_and_keep_the_original_create_time(endpoint):
    owner, vault = Account(endpoint), Account(endpoint)
    rds = owner.client("rds")
    make_instance(rds, "orders")
    snap = make_snapshot(rds, "orders", "orders-snap")
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-snap", AttributeName="restore",
                                     ValuesToAdd=[vault.id])

    # Same account and region: AWS leaves SourceDBSnapshotIdentifier empty.
    local = rds.copy_db_snapshot(SourceDBSnapshotIdentifier="orders-snap",
                                 TargetDBSnapshotIdentifier="local-copy")["DBSnapshot"]
    assert "SourceDBSnapshotIdentifier" not in local and "SourceRegion" not in local

    # Cross-account: the source ARN, no SourceRegion.
    vrds = vault.client("rds")
    copy = vrds.copy_db_snapshot(SourceDBSnapshotIdentifier=snap["DBSnapshotArn"],
                                 TargetDBSnapshotIdentifier="vault-copy")["DBSnapshot"]
    assert copy["SourceDBSnapshotIdentifier"] == snap["DBSnapshotArn"]
    assert "SourceRegion" not in copy
    assert copy["OriginalSnapshotCreateTime"] == snap["SnapshotCreateTime"]

    # Cross-region (a copy of the copy): SourceRegion too; still the original time.
    west = vault.client("rds", "us-west-2")
    copy2 = west.copy_db_snapshot(SourceDBSnapshotIdentifier=copy["DBSnapshotArn"],
                                  TargetDBSnapshotIdentifier="west-copy",
                                  SourceRegion="us-east-1")["DBSnapshot"]
    assert copy2["SourceDBSnapshotIdentifier"] == copy["DBSnapshotArn"]
    assert copy2["SourceRegion"] == "us-east-1"
    assert copy2["OriginalSnapshotCreateTime"] == snap["SnapshotCreateTime"]
    described = west.describe_db_snapshots(DBSnapshotIdentifier="west-copy")["DBSnapshots"][0]
    assert described["SourceDBSnapshotIdentifier"] == copy["DBSnapshotArn"]


# --- (c) per-account clock ----------------------------------------------------
def test_clock_moves_only_the_chosen_account(endpoint):
    old, fresh = Account(endpoint), Account(endpoint)
    control(endpoint, "POST", "/_rdsguard/clock", {"account_id": old.id, "offset_seconds": -30 * 3600})
    try:
        for account in (old, fresh):
            rds = account.client("rds")
            make_instance(rds, "db1")
            make_snapshot(rds, "db1", "snap1")
        state = control(endpoint, "GET", "/_rdsguard/clock")
        assert state["accounts"][old.id] == -30 * 3600 and fresh.id not in state["accounts"]
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={old.id}")

    old_rds, fresh_rds = old.client("rds"), fresh.client("rds")
    snap = old_rds.describe_db_snapshots(DBSnapshotIdentifier="snap1")["DBSnapshots"][0]
    inst = old_rds.describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]
    for stamp in (snap["SnapshotCreateTime"], snap["OriginalSnapshotCreateTime"],
                  inst["InstanceCreateTime"]):
        assert 29.9 * HOUR < age(stamp) < 30.1 * HOUR
    fresh_snap = fresh_rds.describe_db_snapshots(DBSnapshotIdentifier="snap1")["DBSnapshots"][0]
    assert age(fresh_snap["SnapshotCreateTime"]) < 0.1 * HOUR

    # A copy made "now" keeps the source's OriginalSnapshotCreateTime.
    copy = old_rds.copy_db_snapshot(SourceDBSnapshotIdentifier="snap1",
                                    TargetDBSnapshotIdentifier="copy1")["DBSnapshot"]
    assert age(copy["SnapshotCreateTime"]) < 0.1 * HOUR
    assert copy["OriginalSnapshotCreateTime"] == snap["SnapshotCreateTime"]


def test_clocks_do_not_leak_between_concurrent_accounts(endpoint):
    accounts = [Account(endpoint) for _ in range(6)]

    def work(index):  # account i lives i hours in the past
        account = accounts[index]
        control(endpoint, "POST", "/_rdsguard/clock",
                {"account_id": account.id, "offset_seconds": -index * 3600})
        try:
            rds = account.client("rds")
            make_instance(rds, "db1")
            return [age(make_snapshot(rds, "db1", f"snap{n}")["SnapshotCreateTime"])
                    for n in range(3)]
        finally:
            control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={account.id}")

    with concurrent.futures.ThreadPoolExecutor(len(accounts)) as pool:
        ages = list(pool.map(work, range(len(accounts))))
    for index, snapshot_ages in enumerate(ages):
        for snapshot_age in snapshot_ages:
            assert abs(snapshot_age - index * HOUR) < datetime.timedelta(minutes=1)


def test_clock_accepts_an_absolute_time(endpoint):
    account = Account(endpoint)
    control(endpoint, "POST", "/_rdsguard/clock",
            {"account_id": account.id, "now": "2024-02-29T12:00:00Z"})
    try:
        rds = account.client("rds")
        make_instance(rds, "db1")
        stamp = make_snapshot(rds, "db1", "snap1")["SnapshotCreateTime"]
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={account.id}")
    expected = datetime.datetime(2024, 2, 29, 12, tzinfo=datetime.timezone.utc)
    assert abs(stamp - expected) < datetime.timedelta(minutes=1)


# --- (d) fault injection ------------------------------------------------------
def test_fault_on_query_protocol_with_filters_and_hits(endpoint):
    account, other = Account(endpoint), Account(endpoint)
    rds = account.client("rds")
    fault = control(endpoint, "POST", "/_rdsguard/faults", {
        "service": "rds", "operation": "DescribeDBInstances", "account_id": account.id,
        "region": "us-east-1", "code": "Throttling", "message": "slow down", "times": 2})["id"]
    try:
        with pytest.raises(ClientError) as info:
            rds.describe_db_instances()
        assert info.value.response["Error"] == {"Type": "Sender", "Code": "Throttling",
                                                "Message": "slow down"}
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        # Other account, other region, other operation: untouched.
        other.client("rds").describe_db_instances()
        account.client("rds", "eu-west-1").describe_db_instances()
        rds.describe_db_snapshots()
        assert error_code(rds.describe_db_instances) == "Throttling"
        rds.describe_db_instances()  # times=2 used up
        listed = {f["id"]: f for f in control(endpoint, "GET", "/_rdsguard/faults")["faults"]}
        assert listed[fault]["hits"] == 2
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/faults/{fault}")
    assert fault not in {f["id"] for f in control(endpoint, "GET", "/_rdsguard/faults")["faults"]}


def test_fault_body_contains_and_forever(endpoint):
    account = Account(endpoint)
    rds = account.client("rds")
    make_instance(rds, "good")
    make_instance(rds, "bad")
    fault = control(endpoint, "POST", "/_rdsguard/faults", {
        "service": "rds", "operation": "DescribeDBInstances", "account_id": account.id,
        "body_contains": "DBInstanceIdentifier=bad", "code": "InternalFailure",
        "http_status": 500})["id"]
    try:
        for _ in range(3):
            with pytest.raises(ClientError) as info:
                rds.describe_db_instances(DBInstanceIdentifier="bad")
            assert info.value.response["Error"]["Code"] == "InternalFailure"
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        rds.describe_db_instances(DBInstanceIdentifier="good")
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/faults/{fault}")
    rds.describe_db_instances(DBInstanceIdentifier="bad")


@pytest.mark.parametrize("service,operation,code,call", [
    ("organizations", "ListAccounts", "TooManyRequestsException",
     lambda a: a.client("organizations").list_accounts()),
    ("kms", "DescribeKey", "KMSInternalException",
     lambda a: a.client("kms").describe_key(KeyId="alias/aws/rds")),
    ("securityhub", "GetFindings", "LimitExceededException",  # rest-json
     lambda a: a.client("securityhub").get_findings()),
    ("backup", "ListRecoveryPointsByBackupVault", "ThrottlingException",  # rest-json, added ops
     lambda a: a.client("backup").list_recovery_points_by_backup_vault(BackupVaultName="Default")),
])
def test_fault_on_json_protocols(endpoint, service, operation, code, call):
    account = Account(endpoint)
    fault = control(endpoint, "POST", "/_rdsguard/faults", {
        "service": service, "operation": operation, "account_id": account.id, "code": code,
        "message": "injected", "times": 1})["id"]
    try:
        with pytest.raises(ClientError) as info:
            call(account)
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["Error"]["Message"] == "injected"
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/faults/{fault}")


# --- (e) call log ---------------------------------------------------------------
def test_call_log_records_operations_per_account(endpoint):
    account = Account(endpoint)
    account.client("rds").describe_db_instances()
    account.client("rds", "eu-west-1").describe_db_snapshots()
    account.client("kms").list_keys()
    calls = control(endpoint, "GET", f"/_rdsguard/calls?account_id={account.id}")["calls"]
    assert calls == [
        {"service": "rds", "operation": "DescribeDBInstances", "account_id": account.id,
         "region": "us-east-1"},
        {"service": "rds", "operation": "DescribeDBSnapshots", "account_id": account.id,
         "region": "eu-west-1"},
        {"service": "kms", "operation": "ListKeys", "account_id": account.id,
         "region": "us-east-1"},
    ]
    assert len(control(endpoint, "GET", "/_rdsguard/calls")["calls"]) > len(calls)
    control(endpoint, "DELETE", f"/_rdsguard/calls?account_id={account.id}")
    assert control(endpoint, "GET", f"/_rdsguard/calls?account_id={account.id}")["calls"] == []


# --- (f) aws/rds ----------------------------------------------------------------
def test_aws_rds_key_is_aws_managed(endpoint):
    account = Account(endpoint)
    kms = account.client("kms", "eu-central-1")
    meta = kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert meta["Arn"].startswith(f"arn:aws:kms:eu-central-1:{account.id}:key/")
    assert kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]["KeyId"] == meta["KeyId"]
    assert kms.create_key()["KeyMetadata"]["KeyManager"] == "CUSTOMER"


# --- (g) paging -----------------------------------------------------------------
def test_describe_snapshots_pages(endpoint):
    rds = Account(endpoint).client("rds")
    make_instance(rds, "db1")  # + 1 automated snapshot
    for i in range(4):
        make_snapshot(rds, "db1", f"snap{i}")
    first = rds.describe_db_snapshots(MaxRecords=2)
    assert len(first["DBSnapshots"]) == 2 and first["Marker"]
    pages = rds.get_paginator("describe_db_snapshots").paginate(PaginationConfig={"PageSize": 2})
    assert [len(p["DBSnapshots"]) for p in pages] == [2, 2, 1]
    assert "Marker" not in rds.describe_db_snapshots(MaxRecords=20)

    make_cluster_snapshot(rds, "c1", "csnap")  # + 1 automated snapshot
    pages = rds.get_paginator("describe_db_cluster_snapshots").paginate(
        PaginationConfig={"PageSize": 1})
    assert [len(p["DBClusterSnapshots"]) for p in pages] == [1, 1]


# --- (ag) Blue/Green deployments page ---------------------------------------------------
def test_describe_blue_green_deployments_pages(endpoint):
    rds = Account(endpoint).client("rds")
    blues = [make_instance(rds, f"blue{i}")["DBInstanceArn"] for i in range(21)]
    made = [rds.create_blue_green_deployment(BlueGreenDeploymentName=f"bg{i}", Source=arn)
            ["BlueGreenDeployment"] for i, arn in enumerate(blues)]
    # The green copy is a new DB instance, named after the blue one, listed with the others.
    green = made[0]["Target"]
    assert ":db:blue0-green-" in green
    listed = {d["DBInstanceArn"] for d in rds.describe_db_instances()["DBInstances"]}
    assert green in listed
    # What the SDK paginators send: MaxRecords on every page, then the Marker.
    first = rds.describe_blue_green_deployments(MaxRecords=100)
    assert len(first["BlueGreenDeployments"]) == 21 and "Marker" not in first
    pages = rds.get_paginator("describe_blue_green_deployments").paginate(
        PaginationConfig={"PageSize": 20})
    seen = [[d["BlueGreenDeploymentIdentifier"] for d in p["BlueGreenDeployments"]] for p in pages]
    assert [len(p) for p in seen] == [20, 1]
    assert sorted(sum(seen, [])) == sorted(d["BlueGreenDeploymentIdentifier"] for d in made)
    # Deleted without its green databases: the deployment is gone, the green instance stays.
    rds.delete_blue_green_deployment(
        BlueGreenDeploymentIdentifier=made[0]["BlueGreenDeploymentIdentifier"], DeleteTarget=False)
    assert len(rds.describe_blue_green_deployments(MaxRecords=100)["BlueGreenDeployments"]) == 20
    listed = {d["DBInstanceArn"] for d in rds.describe_db_instances()["DBInstances"]}
    assert green in listed


# --- the seeder -------------------------------------------------------------------
SPEC = {
    "accounts": [{"key": "vault", "name": "Vault"}, {"key": "prod", "name": "Prod"}],
    "keys": [{"key": "vault-key", "account": "vault", "alias": "alias/rds-vault",
              "grant_accounts": ["prod"]},
             {"key": "prod-key", "account": "prod", "grant_accounts": ["vault"]}],
    "instances": [{"account": "prod", "id": "orders", "encrypted": True, "kms_key": "prod-key",
                   "tags": {"env": "prod"}},
                  {"account": "prod", "id": "legacy", "encrypted": True, "kms_key": "aws/rds"}],
    "clusters": [{"account": "prod", "id": "ledger", "encrypted": True, "kms_key": "prod-key"}],
    "snapshots": [{"account": "prod", "id": "orders-snap-1", "instance": "orders", "at": "-30h",
                   "share_with": ["vault"]}],
    "cluster_snapshots": [{"account": "prod", "id": "ledger-snap-1", "cluster": "ledger",
                           "at": "-2d"}],
    "copies": [
        {"from": {"account": "prod", "snapshot": "orders-snap-1"}, "account": "vault",
         "id": "orders-copy-1", "kms_key": "vault-key", "at": "-29h",
         "tags": {"rdsguard:source-arn": "arn:aws:rds:us-east-1:{account:prod}:db:orders"}},
        {"from": {"account": "vault", "snapshot": "orders-copy-1"}, "account": "vault",
         "region": "us-west-2", "id": "orders-copy-1", "kms_key": "alias/aws/rds"},
        {"from": {"account": "prod", "snapshot": "ledger-snap-1"}, "account": "vault",
         "id": "ledger-copy-1", "kms_key": "vault-key"},
    ],
}


def test_seeder_builds_an_organization(endpoint):
    out = seed(endpoint, SPEC)
    accounts = out["accounts"]
    mgmt, vault, prod = accounts["management"], accounts["vault"], accounts["prod"]
    assert out["management_account"] == mgmt and len({mgmt, vault, prod}) == 3

    creds = out["credentials"]
    session = dict(region_name="us-east-1", endpoint_url=endpoint,
                   aws_access_key_id=creds["access_key_id"],
                   aws_secret_access_key=creds["secret_access_key"],
                   aws_session_token=creds["session_token"])
    assert boto3.client("sts", **session).get_caller_identity()["Account"] == mgmt
    orgs = boto3.client("organizations", **session)
    assert orgs.describe_organization()["Organization"]["Id"] == out["organization_id"]
    listed = {a["Id"]: a["Name"] for a in orgs.list_accounts()["Accounts"]}
    assert listed[vault] == "Vault" and listed[prod] == "Prod" and mgmt in listed

    arns = out["arns"]
    assert arns["prod/us-east-1/orders"] == f"arn:aws:rds:us-east-1:{prod}:db:orders"
    assert arns["orders"] == arns["prod/us-east-1/orders"]  # unique id: bare key too
    assert arns["prod/us-east-1/ledger"] == f"arn:aws:rds:us-east-1:{prod}:cluster:ledger"
    assert arns["prod/us-east-1/orders-snap-1"].split(":")[4] == prod
    assert arns["vault/us-east-1/orders-copy-1"] == \
        f"arn:aws:rds:us-east-1:{vault}:snapshot:orders-copy-1"
    assert arns["vault/us-west-2/orders-copy-1"].startswith(f"arn:aws:rds:us-west-2:{vault}:")
    assert "orders-copy-1" not in arns  # ambiguous bare id
    assert arns["vault/us-east-1/ledger-copy-1"] == \
        f"arn:aws:rds:us-east-1:{vault}:cluster-snapshot:ledger-copy-1"
    assert out["keys"]["vault-key"].startswith(f"arn:aws:kms:us-east-1:{vault}:key/")

    # Look at the resources from inside the member accounts.
    prod_rds = Account(endpoint, prod).client("rds")
    orders = prod_rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
    assert orders["KmsKeyId"] == out["keys"]["prod-key"] and orders["StorageEncrypted"]
    assert {"Key": "env", "Value": "prod"} in orders["TagList"]
    legacy = prod_rds.describe_db_instances(DBInstanceIdentifier="legacy")["DBInstances"][0]
    aws_rds = Account(endpoint, prod).client("kms").describe_key(KeyId="alias/aws/rds")
    assert legacy["KmsKeyId"] == aws_rds["KeyMetadata"]["Arn"]
    snap = prod_rds.describe_db_snapshots(DBSnapshotIdentifier="orders-snap-1")["DBSnapshots"][0]
    assert 29.9 * HOUR < age(snap["SnapshotCreateTime"]) < 30.1 * HOUR
    attrs = prod_rds.describe_db_snapshot_attributes(DBSnapshotIdentifier="orders-snap-1")
    restore = attrs["DBSnapshotAttributesResult"]["DBSnapshotAttributes"][0]
    assert restore["AttributeValues"] == [vault]
    csnap = prod_rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier="ledger-snap-1")["DBClusterSnapshots"][0]
    assert 47.9 * HOUR < age(csnap["SnapshotCreateTime"]) < 48.1 * HOUR

    vault_rds = Account(endpoint, vault).client("rds")
    copy = vault_rds.describe_db_snapshots(DBSnapshotIdentifier="orders-copy-1")["DBSnapshots"][0]
    assert copy["DBSnapshotArn"].split(":")[4] == vault
    assert copy["SourceDBSnapshotIdentifier"] == arns["prod/us-east-1/orders-snap-1"]
    assert copy["KmsKeyId"] == out["keys"]["vault-key"]
    assert 28.9 * HOUR < age(copy["SnapshotCreateTime"]) < 29.1 * HOUR
    assert copy["OriginalSnapshotCreateTime"] == snap["SnapshotCreateTime"]
    tags = vault_rds.list_tags_for_resource(ResourceName=copy["DBSnapshotArn"])["TagList"]
    assert tags == [{"Key": "rdsguard:source-arn",
                     "Value": f"arn:aws:rds:us-east-1:{prod}:db:orders"}]
    west = Account(endpoint, vault).client("rds", "us-west-2")
    west_copy = west.describe_db_snapshots(DBSnapshotIdentifier="orders-copy-1")["DBSnapshots"][0]
    assert west_copy["SourceRegion"] == "us-east-1"
    assert west_copy["KmsKeyId"].startswith(f"arn:aws:kms:us-west-2:{vault}:key/")
    # The clock was put back after seeding.
    assert control(endpoint, "GET", "/_rdsguard/clock")["accounts"].get(prod) is None


def test_seeder_cli(endpoint):
    spec = {"management_account": new_account(), "accounts": [{"key": "a"}],
            "instances": [{"account": "a", "id": "db1"}]}
    run = subprocess.run([sys.executable, os.path.join(HERE, "seed.py"), "--endpoint", endpoint],
                         input=json.dumps(spec), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["management_account"] == spec["management_account"]
    assert out["arns"]["a/us-east-1/db1"].split(":")[4] == out["accounts"]["a"]

    bad = dict(spec, management_account=new_account(),
               snapshots=[{"account": "nobody", "id": "s", "instance": "db1"}])
    run = subprocess.run([sys.executable, os.path.join(HERE, "seed.py"), "--endpoint", endpoint],
                         input=json.dumps(bad), capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "unknown account 'nobody'" in run.stderr


# --- launcher lifecycle -----------------------------------------------------------
@pytest.mark.parametrize("stop", ["stdin-eof", "sigterm"])
def test_launcher_exits_on_stdin_eof_and_sigterm(stop):
    proc, url = start_launcher()
    assert control(url, "GET", "/_rdsguard/faults") == {"faults": []}
    if stop == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        proc.stdin.close()
    assert proc.wait(timeout=10) == 0



def test_a_delay_fault_carries_the_call_out_and_holds_back_the_answer(endpoint):
    """delay_seconds without a code: the call happens, its answer comes late."""
    account = Account(endpoint)
    rds = account.client("rds")
    fault = control(endpoint, "POST", "/_rdsguard/faults",
                    {"service": "rds", "operation": "CreateDBInstance", "account_id": account.id,
                     "delay_seconds": 1.5})
    def held():
        faults = control(endpoint, "GET", "/_rdsguard/faults")["faults"]
        return next(f["held"] for f in faults if f["id"] == fault["id"])

    assert held() == 0
    started = time.monotonic()
    make_instance(rds, "slow")
    assert time.monotonic() - started >= 1.5
    assert rds.describe_db_instances(DBInstanceIdentifier="slow")["DBInstances"]
    # `held` counts the calls carried out whose answer was held back: what a test waits on before
    # it kills a client mid-call.
    assert held() == 1
    control(endpoint, "DELETE", f"/_rdsguard/faults/{fault['id']}")


# --- (h) STS sessions that expire ----------------------------------------------------
def test_sessions_expire_in_the_chosen_accounts_only(endpoint):
    """A session issued while the caller's clock is moved back expires early in real time; once
    expired, the launcher refuses it in the accounts chosen with /_rdsguard/expiry, as AWS would."""
    caller = Account(endpoint)
    member, other = new_account(), new_account()

    def assume(account):
        return caller.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/Test",
                                                RoleSessionName="short")["Credentials"]

    def client(creds, service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint,
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], config=NO_RETRIES)

    def issued_at(offset_seconds, accounts):
        """Sessions issued while the caller's clock is `offset_seconds` off: they last an hour of
        that clock, so they end `offset_seconds + 3600` seconds from now in real time."""
        control(endpoint, "POST", "/_rdsguard/clock",
                {"account_id": caller.id, "offset_seconds": offset_seconds})
        try:
            return {account: assume(account) for account in accounts}
        finally:
            control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={caller.id}")

    def left(creds):
        return creds["Expiration"] - datetime.datetime.now(datetime.timezone.utc)

    # One session still valid for half a minute, and one that ended a minute ago: no sleep, so a
    # slow machine cannot let the first run out before it is used.
    valid = issued_at(-3600 + 30, [member])[member]
    short = issued_at(-3600 - 60, [member, other])
    assert datetime.timedelta(0) < left(valid) < datetime.timedelta(seconds=31)
    assert -datetime.timedelta(seconds=90) < left(short[member]) < datetime.timedelta(0)

    state = control(endpoint, "POST", "/_rdsguard/expiry", {"account_id": member})
    assert state == {"accounts": [member], "all_accounts": False}
    try:
        client(valid, "rds").describe_db_instances()  # not expired yet
        assert error_code(client(short[member], "rds").describe_db_instances) == "ExpiredToken"
        assert error_code(client(short[member], "kms").list_keys) == "ExpiredTokenException"
        client(short[other], "rds").describe_db_instances()  # not chosen: moto's behaviour
        client(assume(member), "rds").describe_db_instances()  # a fresh session works
        calls = control(endpoint, "GET", f"/_rdsguard/calls?account_id={member}")["calls"]
        assert [c["operation"] for c in calls].count("DescribeDBInstances") == 3  # refused ones too
    finally:
        state = control(endpoint, "DELETE", f"/_rdsguard/expiry?account_id={member}")
    assert state == {"accounts": [], "all_accounts": False}
    client(short[member], "rds").describe_db_instances()  # no longer enforced


# --- (i)-(n) AWS Backup -----------------------------------------------------------------
DAY = datetime.timedelta(days=1)
ROLE = "arn:aws:iam::{}:role/service-role/AWSBackupDefaultServiceRole"


def backup_error(call, **kwargs):
    """(code, x-amzn-ErrorType header, HTTP status) of a refused Backup call."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    meta = info.value.response["ResponseMetadata"]
    return (info.value.response["Error"]["Code"], meta["HTTPHeaders"].get("x-amzn-errortype"),
            meta["HTTPStatusCode"])


def start_backup(account, vault, resource_arn, **kwargs):
    return account.client("backup").start_backup_job(
        BackupVaultName=vault, ResourceArn=resource_arn, IamRoleArn=ROLE.format(account.id),
        **kwargs)


def start_copy(account, vault, point_arn, destination_arn, **kwargs):
    backup = account.client("backup")
    job = backup.start_copy_job(RecoveryPointArn=point_arn, SourceBackupVaultName=vault,
                                DestinationBackupVaultArn=destination_arn,
                                IamRoleArn=ROLE.format(account.id), **kwargs)
    return backup.describe_copy_job(CopyJobId=job["CopyJobId"])["CopyJob"]


def copy_in_policy(*accounts):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
        "Action": "backup:CopyIntoBackupVault", "Resource": "*"}]})


def test_backup_job_makes_a_recovery_point_that_is_an_awsbackup_snapshot(endpoint):
    account = Account(endpoint)
    rds, backup = account.client("rds"), account.client("backup")
    key = account.client("kms").create_key()["KeyMetadata"]["Arn"]
    db = make_instance(rds, "orders", StorageEncrypted=True, KmsKeyId=key)["DBInstanceArn"]
    vault = backup.create_backup_vault(BackupVaultName="Default")["BackupVaultArn"]

    job = start_backup(account, "Default", db, Lifecycle={"DeleteAfterDays": 35})
    point_arn = job["RecoveryPointArn"]
    assert point_arn == f"arn:aws:rds:us-east-1:{account.id}:snapshot:awsbackup:job-{job['BackupJobId']}"
    described = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
    assert described["State"] == "COMPLETED" and described["RecoveryPointArn"] == point_arn
    assert described["ResourceArn"] == db and described["ResourceType"] == "RDS"
    assert described["IamRoleArn"] == ROLE.format(account.id)
    assert described["BackupVaultArn"] == vault and described["AccountId"] == account.id

    point = backup.describe_recovery_point(BackupVaultName="Default", RecoveryPointArn=point_arn)
    assert {k: point[k] for k in ("BackupVaultName", "BackupVaultArn", "ResourceArn", "ResourceType",
                                  "Status", "EncryptionKeyArn", "EncryptionKeyType", "IsEncrypted",
                                  "VaultType", "Lifecycle")} == {
        "BackupVaultName": "Default", "BackupVaultArn": vault, "ResourceArn": db,
        "ResourceType": "RDS", "Status": "COMPLETED", "EncryptionKeyArn": key,
        "EncryptionKeyType": "CUSTOMER_MANAGED_KMS_KEY", "IsEncrypted": True,
        "VaultType": "BACKUP_VAULT", "Lifecycle": {"DeleteAfterDays": 35}}
    assert "SourceBackupVaultArn" not in point
    assert point["CalculatedLifecycle"]["DeleteAt"] == point["CreationDate"] + 35 * DAY
    assert age(point["CreationDate"]) < 0.1 * HOUR and point["CompletionDate"] >= point["CreationDate"]
    listed = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in listed] == [point_arn]
    assert backup.describe_backup_vault(BackupVaultName="Default")["NumberOfRecoveryPoints"] == 1

    # The RDS side: an awsbackup snapshot, only with SnapshotType=awsbackup.
    snaps = rds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert [(s["DBSnapshotArn"], s["SnapshotType"], s["DBInstanceIdentifier"], s["KmsKeyId"])
            for s in snaps] == [(point_arn, "awsbackup", "orders", key)]
    assert snaps[0]["DBSnapshotIdentifier"] == f"awsbackup:job-{job['BackupJobId']}"
    assert rds.describe_db_snapshots(DBSnapshotIdentifier=f"awsbackup:job-{job['BackupJobId']}",
                                     SnapshotType="awsbackup")["DBSnapshots"][0]["DBSnapshotArn"] \
        == point_arn
    assert point_arn not in {s["DBSnapshotArn"] for s in rds.describe_db_snapshots()["DBSnapshots"]}

    # Aurora: a cluster snapshot; an unencrypted database: an unencrypted point.
    rds.create_db_cluster(DBClusterIdentifier="ledger", Engine="aurora-postgresql",
                          MasterUsername="admin1", MasterUserPassword="password-1")
    cluster_arn = f"arn:aws:rds:us-east-1:{account.id}:cluster:ledger"
    aurora = start_backup(account, "Default", cluster_arn)
    assert aurora["RecoveryPointArn"] == (f"arn:aws:rds:us-east-1:{account.id}:cluster-snapshot:"
                                          f"awsbackup:job-{aurora['BackupJobId']}")
    csnap = rds.describe_db_cluster_snapshots(
        DBClusterSnapshotIdentifier=f"awsbackup:job-{aurora['BackupJobId']}")["DBClusterSnapshots"]
    assert csnap[0]["DBClusterSnapshotArn"] == aurora["RecoveryPointArn"]
    point = backup.describe_recovery_point(BackupVaultName="Default",
                                           RecoveryPointArn=aurora["RecoveryPointArn"])
    assert point["ResourceType"] == "Aurora" and point["IsEncrypted"] is False
    assert "EncryptionKeyArn" not in point and "CalculatedLifecycle" not in point


def test_backup_errors_are_aws_shaped(endpoint):
    account, other = Account(endpoint), Account(endpoint)
    backup = account.client("backup")
    make_instance(account.client("rds"), "orders")
    make_instance(other.client("rds"), "theirs")
    backup.create_backup_vault(BackupVaultName="Default")
    mine = f"arn:aws:rds:us-east-1:{account.id}:db:orders"
    not_found = ("ResourceNotFoundException", "ResourceNotFoundException", 400)
    assert backup_error(start_backup, account=account, vault="nope", resource_arn=mine) == not_found
    assert backup_error(start_backup, account=account, vault="Default",
                        resource_arn=mine.replace("orders", "gone")) == not_found
    assert backup_error(start_backup, account=account, vault="Default",
                        resource_arn=f"arn:aws:rds:us-east-1:{other.id}:db:theirs")[0] \
        == "InvalidParameterValueException"
    assert backup_error(backup.describe_backup_job, BackupJobId="nope") == not_found
    assert backup_error(backup.describe_copy_job, CopyJobId="nope") == not_found
    assert backup_error(backup.describe_recovery_point, BackupVaultName="Default",
                        RecoveryPointArn=mine) == not_found
    assert backup_error(backup.get_backup_vault_access_policy, BackupVaultName="Default") == not_found
    assert backup_error(backup.put_backup_vault_access_policy, BackupVaultName="Default",
                        Policy="not json")[0] == "InvalidParameterValueException"
    # Another account's vault is not readable by the caller.
    assert backup_error(backup.list_recovery_points_by_backup_vault, BackupVaultName="Default",
                        BackupVaultAccountId=other.id) == \
        ("AccessDeniedException", "AccessDeniedException", 403)


def test_recovery_points_page_and_filter(endpoint):
    account = Account(endpoint)
    rds, backup = account.client("rds"), account.client("backup")
    make_instance(rds, "a")
    make_instance(rds, "b")
    rds.create_db_cluster(DBClusterIdentifier="c", Engine="aurora-postgresql",
                          MasterUsername="admin1", MasterUserPassword="password-1")
    backup.create_backup_vault(BackupVaultName="Default")
    arn = {n: f"arn:aws:rds:us-east-1:{account.id}:{k}:{n}" for n, k in
           (("a", "db"), ("b", "db"), ("c", "cluster"))}
    points = {}
    for hours_ago, name in ((50, "a"), (26, "a"), (2, "a"), (26, "b"), (2, "c")):
        control(endpoint, "POST", "/_rdsguard/clock",
                {"account_id": account.id, "offset_seconds": -hours_ago * 3600})
        try:
            points[(name, hours_ago)] = start_backup(account, "Default", arn[name])["RecoveryPointArn"]
        finally:
            control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={account.id}")

    pages = list(backup.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName="Default", PaginationConfig={"PageSize": 2}))
    assert [len(p["RecoveryPoints"]) for p in pages] == [2, 2, 1]
    assert {p["RecoveryPointArn"] for page in pages for p in page["RecoveryPoints"]} == \
        set(points.values())
    first = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default", MaxResults=4)
    assert len(first["RecoveryPoints"]) == 4 and first["NextToken"]
    assert "NextToken" not in backup.list_recovery_points_by_backup_vault(
        BackupVaultName="Default", MaxResults=1000)

    def listed(**filters):
        found = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default", **filters)
        return {p["RecoveryPointArn"] for p in found["RecoveryPoints"]}

    assert listed(ByResourceArn=arn["a"]) == {points[("a", h)] for h in (50, 26, 2)}
    assert listed(ByResourceType="Aurora") == {points[("c", 2)]}
    assert len(listed(ByResourceType="RDS")) == 4
    now = datetime.datetime.now(datetime.timezone.utc)
    assert listed(ByCreatedAfter=now - 24 * HOUR) == {points[("a", 2)], points[("c", 2)]}
    assert listed(ByCreatedBefore=now - 48 * HOUR) == {points[("a", 50)]}
    assert listed(ByResourceArn=arn["a"], ByCreatedAfter=now - 30 * HOUR,
                  ByCreatedBefore=now - 20 * HOUR) == {points[("a", 26)]}
    assert backup_error(backup.list_recovery_points_by_backup_vault, BackupVaultName="Default",
                        MaxResults=1001)[0] == "InvalidParameterValueException"
    assert backup_error(backup.list_recovery_points_by_backup_vault, BackupVaultName="Default",
                        NextToken="bogus")[0] == "InvalidParameterValueException"


def test_the_clock_ages_recovery_points_and_jobs(endpoint):
    account = Account(endpoint)
    backup = account.client("backup")
    db = make_instance(account.client("rds"), "orders")["DBInstanceArn"]
    backup.create_backup_vault(BackupVaultName="Default")
    control(endpoint, "POST", "/_rdsguard/clock",
            {"account_id": account.id, "offset_seconds": -30 * 3600})
    try:
        job = start_backup(account, "Default", db, Lifecycle={"DeleteAfterDays": 2})
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={account.id}")
    point = backup.describe_recovery_point(BackupVaultName="Default",
                                           RecoveryPointArn=job["RecoveryPointArn"])
    described = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
    for stamp in (point["CreationDate"], point["CompletionDate"], described["CreationDate"],
                  described["CompletionDate"]):
        assert 29.9 * HOUR < age(stamp) < 30.1 * HOUR
    assert -18.1 * HOUR < age(point["CalculatedLifecycle"]["DeleteAt"]) < -17.9 * HOUR
    snap = account.client("rds").describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"][0]
    assert 29.9 * HOUR < age(snap["SnapshotCreateTime"]) < 30.1 * HOUR


def test_cross_account_copy_needs_the_destination_vaults_access_policy(endpoint):
    prod, vault_account, stranger = (Account(endpoint) for _ in range(3))
    key = prod.client("kms").create_key()["KeyMetadata"]["Arn"]
    db = make_instance(prod.client("rds"), "orders", StorageEncrypted=True,
                       KmsKeyId=key)["DBInstanceArn"]
    source_vault = prod.client("backup").create_backup_vault(BackupVaultName="Default")["BackupVaultArn"]
    control(endpoint, "POST", "/_rdsguard/clock", {"account_id": prod.id, "offset_seconds": -30 * 3600})
    try:
        source_arn = start_backup(prod, "Default", db)["RecoveryPointArn"]
    finally:
        control(endpoint, "DELETE", f"/_rdsguard/clock?account_id={prod.id}")
    source = prod.client("backup").describe_recovery_point(BackupVaultName="Default",
                                                           RecoveryPointArn=source_arn)
    vbackup, vrds = vault_account.client("backup"), vault_account.client("rds")
    vault_key = vault_account.client("kms").create_key()["KeyMetadata"]["Arn"]
    dest = vbackup.create_backup_vault(BackupVaultName="central",
                                       EncryptionKeyArn=vault_key)["BackupVaultArn"]

    def no_copy_arrived():
        assert vbackup.list_recovery_points_by_backup_vault(BackupVaultName="central")[
            "RecoveryPoints"] == []
        assert vrds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"] == []

    # No access policy: AWS runs the job and fails it.
    refused = start_copy(prod, "Default", source_arn, dest)
    assert refused["State"] == "FAILED" and "Access Denied" in refused["StatusMessage"]
    assert "DestinationRecoveryPointArn" not in refused
    no_copy_arrived()
    # A policy for someone else does not do either.
    vbackup.put_backup_vault_access_policy(BackupVaultName="central",
                                           Policy=copy_in_policy(stranger.id))
    assert start_copy(prod, "Default", source_arn, dest)["State"] == "FAILED"
    no_copy_arrived()

    vbackup.put_backup_vault_access_policy(BackupVaultName="central",
                                           Policy=copy_in_policy(stranger.id, prod.id))
    assert json.loads(vbackup.get_backup_vault_access_policy(BackupVaultName="central")["Policy"]) \
        == json.loads(copy_in_policy(stranger.id, prod.id))
    job = start_copy(prod, "Default", source_arn, dest, Lifecycle={"DeleteAfterDays": 90})
    assert job["State"] == "COMPLETED" and age(job["CompletionDate"]) < 0.1 * HOUR
    assert job["SourceRecoveryPointArn"] == source_arn and job["SourceBackupVaultArn"] == source_vault
    assert job["DestinationEncryptionKeyArn"] == vault_key and job["ResourceArn"] == db
    copy_arn = job["DestinationRecoveryPointArn"]
    assert copy_arn == (f"arn:aws:rds:us-east-1:{vault_account.id}:snapshot:"
                        f"awsbackup:copyjob-{job['CopyJobId']}")

    copy = vbackup.describe_recovery_point(BackupVaultName="central", RecoveryPointArn=copy_arn)
    assert copy["CreationDate"] == source["CreationDate"]  # the data's time, 30 h ago
    assert 29.9 * HOUR < age(copy["CreationDate"]) < 30.1 * HOUR
    assert age(copy["CompletionDate"]) < 0.1 * HOUR
    assert copy["ResourceArn"] == db and copy["SourceBackupVaultArn"] == source_vault
    assert copy["BackupVaultArn"] == dest and copy["EncryptionKeyArn"] == vault_key
    assert copy["EncryptionKeyType"] == "CUSTOMER_MANAGED_KMS_KEY" and copy["IsEncrypted"]
    assert copy["CalculatedLifecycle"]["DeleteAt"] == source["CreationDate"] + 90 * DAY
    [snap] = vrds.describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert snap["DBSnapshotArn"] == copy_arn and snap["KmsKeyId"] == vault_key
    assert snap["OriginalSnapshotCreateTime"] == source["CreationDate"]
    assert snap["SourceDBSnapshotIdentifier"] == source_arn

    vbackup.delete_backup_vault_access_policy(BackupVaultName="central")
    assert backup_error(vbackup.get_backup_vault_access_policy,
                        BackupVaultName="central")[0] == "ResourceNotFoundException"
    assert start_copy(prod, "Default", source_arn, dest)["State"] == "FAILED"

    # The principal may be the role the copy job runs as; a Deny wins.
    def statement(effect, principal):
        return {"Effect": effect, "Principal": {"AWS": principal},
                "Action": "backup:CopyIntoBackupVault", "Resource": "*"}

    def copy_with(*statements):
        vbackup.put_backup_vault_access_policy(BackupVaultName="central", Policy=json.dumps(
            {"Version": "2012-10-17", "Statement": list(statements)}))
        return start_copy(prod, "Default", source_arn, dest)["State"]

    assert copy_with(statement("Allow", f"arn:aws:iam::{prod.id}:role/other")) == "FAILED"
    assert copy_with(statement("Allow", ROLE.format(prod.id))) == "COMPLETED"
    assert copy_with(statement("Allow", "*"), statement("Deny", prod.id)) == "FAILED"

    # Within the account no policy is needed; another region works too.
    west = prod.client("backup", "us-west-2").create_backup_vault(BackupVaultName="dr")
    local = start_copy(prod, "Default", source_arn, west["BackupVaultArn"])
    assert local["State"] == "COMPLETED"
    assert local["DestinationRecoveryPointArn"].startswith(
        f"arn:aws:rds:us-west-2:{prod.id}:snapshot:awsbackup:copyjob-")
    # The vault without a key of its own uses the account's aws/backup key.
    aws_backup = prod.client("kms", "us-west-2").describe_key(KeyId="alias/aws/backup")["KeyMetadata"]
    assert local["DestinationEncryptionKeyArn"] == aws_backup["Arn"] and aws_backup["KeyManager"] == "AWS"


def test_cross_account_copy_needs_a_customer_managed_key(endpoint):
    prod, vault_account = Account(endpoint), Account(endpoint)
    db = make_instance(prod.client("rds"), "legacy", StorageEncrypted=True)["DBInstanceArn"]
    prod.client("backup").create_backup_vault(BackupVaultName="Default")
    point = start_backup(prod, "Default", db)["RecoveryPointArn"]
    aws_rds = prod.client("kms").describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["Arn"]
    assert prod.client("backup").describe_recovery_point(
        BackupVaultName="Default", RecoveryPointArn=point)["EncryptionKeyArn"] == aws_rds
    dest = vault_account.client("backup").create_backup_vault(BackupVaultName="central")
    vault_account.client("backup").put_backup_vault_access_policy(
        BackupVaultName="central", Policy=copy_in_policy(prod.id))
    job = start_copy(prod, "Default", point, dest["BackupVaultArn"])
    assert job["State"] == "FAILED" and "customer managed key" in job["StatusMessage"]
    # Within the account the AWS managed key is no obstacle.
    west = prod.client("backup", "us-west-2").create_backup_vault(BackupVaultName="dr")
    assert start_copy(prod, "Default", point, west["BackupVaultArn"])["State"] == "COMPLETED"


def test_vault_lock_fails_jobs_outside_its_retention(endpoint):
    account = Account(endpoint)
    backup = account.client("backup")
    db = make_instance(account.client("rds"), "orders")["DBInstanceArn"]
    backup.create_backup_vault(BackupVaultName="locked")
    backup.put_backup_vault_lock_configuration(BackupVaultName="locked", MinRetentionDays=7,
                                               MaxRetentionDays=35)
    for lifecycle in ({"DeleteAfterDays": 1}, {"DeleteAfterDays": 36}, None):
        job = start_backup(account, "locked", db, **({"Lifecycle": lifecycle} if lifecycle else {}))
        described = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
        assert described["State"] == "FAILED" and "RecoveryPointArn" not in job
    assert start_backup(account, "locked", db, Lifecycle={"DeleteAfterDays": 7})["RecoveryPointArn"]
    assert backup.describe_backup_vault(BackupVaultName="locked")["NumberOfRecoveryPoints"] == 1
    assert backup_error(backup.delete_backup_vault, BackupVaultName="locked")[0] \
        == "InvalidRequestException"
    backup.create_backup_vault(BackupVaultName="empty")
    backup.delete_backup_vault(BackupVaultName="empty")
    assert backup_error(backup.describe_backup_vault, BackupVaultName="empty")[0] \
        == "ResourceNotFoundException"


def test_logically_air_gapped_vault(endpoint):
    prod, owner, reader, stranger = (Account(endpoint) for _ in range(4))
    obackup = owner.client("backup")
    assert backup_error(obackup.create_logically_air_gapped_backup_vault, BackupVaultName="lag",
                        MinRetentionDays=3, MaxRetentionDays=30)[0] == "InvalidParameterValueException"
    created = obackup.create_logically_air_gapped_backup_vault(
        BackupVaultName="lag", MinRetentionDays=7, MaxRetentionDays=30)
    assert created["VaultState"] == "CREATING"
    lag = created["BackupVaultArn"]
    described = obackup.describe_backup_vault(BackupVaultName="lag")
    assert {k: described.get(k) for k in ("VaultType", "VaultState", "Locked", "MinRetentionDays",
                                          "MaxRetentionDays", "EncryptionKeyType")} == {
        "VaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT", "VaultState": "AVAILABLE", "Locked": True,
        "MinRetentionDays": 7, "MaxRetentionDays": 30, "EncryptionKeyType": "AWS_OWNED_KMS_KEY"}
    assert age(described["LockDate"]) >= datetime.timedelta(0)  # compliance mode from the start
    assert backup_error(obackup.put_backup_vault_lock_configuration, BackupVaultName="lag",
                        MinRetentionDays=1)[0] == "InvalidRequestException"
    obackup.create_backup_vault(BackupVaultName="plain")
    by_type = obackup.list_backup_vaults(ByVaultType="LOGICALLY_AIR_GAPPED_BACKUP_VAULT")
    assert [v["BackupVaultName"] for v in by_type["BackupVaultList"]] == ["lag"]
    assert {v["BackupVaultName"]: v["VaultType"] for v in obackup.list_backup_vaults()[
        "BackupVaultList"]} == {"lag": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT", "plain": "BACKUP_VAULT"}
    pages = obackup.get_paginator("list_backup_vaults").paginate(PaginationConfig={"PageSize": 1})
    assert [len(p["BackupVaultList"]) for p in pages] == [1, 1]

    key = prod.client("kms").create_key()["KeyMetadata"]["Arn"]
    db = make_instance(prod.client("rds"), "orders", StorageEncrypted=True, KmsKeyId=key)["DBInstanceArn"]
    prod.client("backup").create_backup_vault(BackupVaultName="Default")
    source = start_backup(prod, "Default", db)["RecoveryPointArn"]
    assert backup_error(start_backup, account=owner, vault="lag", resource_arn=f"arn:aws:rds:us-east-1:{owner.id}:db:x")[0] in (
        "InvalidRequestException", "ResourceNotFoundException")
    obackup.put_backup_vault_access_policy(BackupVaultName="lag", Policy=copy_in_policy(prod.id))
    too_short = start_copy(prod, "Default", source, lag, Lifecycle={"DeleteAfterDays": 3})
    assert too_short["State"] == "FAILED" and "minimum" in too_short["StatusMessage"]
    job = start_copy(prod, "Default", source, lag, Lifecycle={"DeleteAfterDays": 14})
    assert job["State"] == "COMPLETED" and job["DestinationVaultType"] == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
    copy_arn = job["DestinationRecoveryPointArn"]
    assert copy_arn.startswith(f"arn:aws:backup:us-east-1:{owner.id}:recovery-point:")
    copy = obackup.describe_recovery_point(BackupVaultName="lag", RecoveryPointArn=copy_arn)
    assert copy["VaultType"] == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT" and copy["ResourceArn"] == db
    assert copy["EncryptionKeyType"] == "AWS_OWNED_KMS_KEY" and copy["IsEncrypted"]
    assert "EncryptionKeyArn" not in copy
    # No RDS view of a point in an air-gapped vault (assumed, see README).
    assert owner.client("rds").describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"] == []
    # Copied back out of the air-gapped vault, the point has an RDS view again.
    obackup.create_backup_vault(BackupVaultName="restore")
    back = start_copy(owner, "lag", copy_arn,
                      f"arn:aws:backup:us-east-1:{owner.id}:backup-vault:restore")
    assert back["State"] == "COMPLETED"
    [snap] = owner.client("rds").describe_db_snapshots(SnapshotType="awsbackup")["DBSnapshots"]
    assert snap["DBSnapshotArn"] == back["DestinationRecoveryPointArn"]
    assert snap["OriginalSnapshotCreateTime"] == copy["CreationDate"]

    # Shared through AWS RAM: the reader lists and describes the points of the owner's vault.
    owner.client("ram").create_resource_share(name="lag", resourceArns=[lag], principals=[reader.id])
    rbackup = reader.client("backup")
    shared = rbackup.list_recovery_points_by_backup_vault(BackupVaultName="lag",
                                                          BackupVaultAccountId=owner.id)
    assert [p["RecoveryPointArn"] for p in shared["RecoveryPoints"]] == [copy_arn]
    assert rbackup.describe_backup_vault(BackupVaultName="lag",
                                         BackupVaultAccountId=owner.id)["BackupVaultArn"] == lag
    assert [v["BackupVaultArn"] for v in rbackup.list_backup_vaults(ByShared=True)[
        "BackupVaultList"]] == [lag]
    assert rbackup.list_backup_vaults()["BackupVaultList"] == []
    assert backup_error(stranger.client("backup").list_recovery_points_by_backup_vault,
                        BackupVaultName="lag", BackupVaultAccountId=owner.id)[0] \
        == "AccessDeniedException"


BACKUP_SPEC = {
    "accounts": [{"key": "prod", "name": "Prod"}, {"key": "vault", "name": "Vault"},
                 {"key": "reader", "name": "Reader"}],
    "keys": [{"key": "prod-key", "account": "prod"}, {"key": "vault-key", "account": "vault"}],
    "instances": [{"account": "prod", "id": "orders", "kms_key": "prod-key"}],
    "clusters": [{"account": "prod", "id": "ledger", "kms_key": "prod-key"}],
    "backup_vaults": [
        {"account": "prod", "name": "Default"},
        {"account": "vault", "name": "central", "kms_key": "vault-key", "at": "-4d",
         "lock": {"min_retention_days": 7, "max_retention_days": 365, "changeable_for_days": 3},
         "access_policy": ["organization"]},
        {"account": "vault", "name": "governed", "lock": {"min_retention_days": 7}},
        {"account": "vault", "name": "bunker", "air_gapped": True, "access_policy": ["prod"],
         "lock": {"min_retention_days": 7, "max_retention_days": 100}, "share_with": ["reader"]},
    ],
    "backups": [
        {"id": "orders-1", "account": "prod", "vault": "Default", "resource": "orders", "at": "-30h",
         "delete_after_days": 35},
        {"id": "ledger-1", "account": "prod", "vault": "Default", "resource": "ledger"},
    ],
    "backup_copies": [
        {"id": "orders-1-central", "from": "orders-1", "account": "vault", "vault": "central",
         "at": "-29h", "delete_after_days": 35},
        {"id": "ledger-1-central", "from": "ledger-1", "account": "vault", "vault": "central",
         "delete_after_days": 30},
        {"id": "orders-1-bunker", "from": "orders-1-central", "account": "vault", "vault": "bunker",
         "delete_after_days": 14},
    ],
}


def test_seeder_builds_backups(endpoint):
    out = seed(endpoint, BACKUP_SPEC)
    prod, vault, reader = (out["accounts"][k] for k in ("prod", "vault", "reader"))
    points, vaults = out["recovery_points"], out["backup_vaults"]
    assert vaults["vault/us-east-1/central"] == f"arn:aws:backup:us-east-1:{vault}:backup-vault:central"
    assert points["orders-1"].startswith(f"arn:aws:rds:us-east-1:{prod}:snapshot:awsbackup:job-")
    assert points["ledger-1"].startswith(f"arn:aws:rds:us-east-1:{prod}:cluster-snapshot:awsbackup:job-")
    assert points["orders-1-central"].startswith(
        f"arn:aws:rds:us-east-1:{vault}:snapshot:awsbackup:copyjob-")
    assert points["orders-1-bunker"].startswith(f"arn:aws:backup:us-east-1:{vault}:recovery-point:")

    vbackup = Account(endpoint, vault).client("backup")
    central = vbackup.describe_backup_vault(BackupVaultName="central")
    assert central["Locked"] and central["EncryptionKeyArn"] == out["keys"]["vault-key"]
    assert age(central["LockDate"]) > 23 * HOUR  # compliance mode, past its cooling-off
    assert backup_error(vbackup.put_backup_vault_lock_configuration, BackupVaultName="central",
                        MinRetentionDays=1)[0] == "InvalidRequestException"
    governed = vbackup.describe_backup_vault(BackupVaultName="governed")
    assert governed["Locked"] and "LockDate" not in governed  # governance mode
    policy = json.loads(vbackup.get_backup_vault_access_policy(BackupVaultName="central")["Policy"])
    assert policy["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": out["organization_id"]}}

    source = Account(endpoint, prod).client("backup").describe_recovery_point(
        BackupVaultName="Default", RecoveryPointArn=points["orders-1"])
    copy = vbackup.describe_recovery_point(BackupVaultName="central",
                                           RecoveryPointArn=points["orders-1-central"])
    assert 29.9 * HOUR < age(source["CreationDate"]) < 30.1 * HOUR
    assert copy["CreationDate"] == source["CreationDate"]
    assert 28.9 * HOUR < age(copy["CompletionDate"]) < 29.1 * HOUR
    assert copy["ResourceArn"] == out["arns"]["orders"]
    assert copy["EncryptionKeyArn"] == out["keys"]["vault-key"]
    listed = vbackup.list_recovery_points_by_backup_vault(BackupVaultName="central",
                                                          ByResourceType="Aurora")
    assert [p["RecoveryPointArn"] for p in listed["RecoveryPoints"]] == [points["ledger-1-central"]]
    shared = Account(endpoint, reader).client("backup").list_recovery_points_by_backup_vault(
        BackupVaultName="bunker", BackupVaultAccountId=vault)["RecoveryPoints"]
    assert [(p["RecoveryPointArn"], p["ResourceArn"]) for p in shared] == \
        [(points["orders-1-bunker"], out["arns"]["orders"])]
    assert control(endpoint, "GET", "/_rdsguard/clock")["accounts"].get(prod) is None

    # A copy the destination vault does not allow stops the seeder with AWS's reason.
    refused = {"accounts": [{"key": "a"}, {"key": "b"}],
               "instances": [{"account": "a", "id": "db1"}],
               "backup_vaults": [{"account": "a", "name": "Default"}, {"account": "b", "name": "closed"}],
               "backups": [{"id": "p", "account": "a", "vault": "Default", "resource": "db1"}],
               "backup_copies": [{"from": "p", "account": "b", "vault": "closed"}]}
    with pytest.raises(Exception, match="FAILED: Access Denied"):
        seed(endpoint, refused)


def test_a_repeated_idempotency_token_answers_with_the_first_job(endpoint):
    """StartBackupJob / StartCopyJob with a token seen before start nothing new: the answer names the
    first call's job (AWS: "no action taken")."""
    account, vault_account = Account(endpoint), Account(endpoint)
    rds, backup = account.client("rds"), account.client("backup")
    key = account.client("kms").create_key()["KeyMetadata"]["Arn"]
    db = make_instance(rds, "orders", StorageEncrypted=True, KmsKeyId=key)["DBInstanceArn"]
    backup.create_backup_vault(BackupVaultName="Default")
    central = vault_account.client("backup").create_backup_vault(
        BackupVaultName="central")["BackupVaultArn"]
    vault_account.client("backup").put_backup_vault_access_policy(
        BackupVaultName="central", Policy=copy_in_policy(account.id))

    first = start_backup(account, "Default", db, IdempotencyToken="t-1")
    again = start_backup(account, "Default", db, IdempotencyToken="t-1")
    other = start_backup(account, "Default", db, IdempotencyToken="t-2")
    assert again["BackupJobId"] == first["BackupJobId"]
    assert again["RecoveryPointArn"] == first["RecoveryPointArn"]
    assert other["BackupJobId"] != first["BackupJobId"]
    listed = backup.list_recovery_points_by_backup_vault(BackupVaultName="Default")["RecoveryPoints"]
    assert len(listed) == 2

    copy = start_copy(account, "Default", first["RecoveryPointArn"], central, IdempotencyToken="c-1")
    repeat = start_copy(account, "Default", first["RecoveryPointArn"], central, IdempotencyToken="c-1")
    assert repeat["CopyJobId"] == copy["CopyJobId"] and copy["State"] == "COMPLETED"
    points = vault_account.client("backup").list_recovery_points_by_backup_vault(
        BackupVaultName="central")["RecoveryPoints"]
    assert len(points) == 1


def test_iam_enforcement_accepts_a_signed_request_without_a_body(endpoint):
    """(o) Moto's signature check of a bodiless REST request with its parameters in the URL."""
    account = Account(endpoint)
    account.client("backup").create_backup_vault(BackupVaultName="central")
    iam = account.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "backup:ListBackupVaults", "backup:GetBackupVaultAccessPolicy"]}]}))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader = boto3.client("backup", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
    request = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request).read()
    try:
        vaults = reader.list_backup_vaults(MaxResults=1000)["BackupVaultList"]
        assert [v["BackupVaultName"] for v in vaults] == ["central"]
        code = backup_error(reader.get_backup_vault_access_policy, BackupVaultName="central")[0]
        assert code == "ResourceNotFoundException"  # authorized, and the vault has no policy
    finally:
        off = urllib.request.Request(endpoint + "/moto-api/reset-auth", data=b"inf", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(off).read()


# --- (r)-(w) Step Functions executions -----------------------------------------------------------
def run_machine(sfn, caller, definition, execution_input, name="run"):
    arn = sfn.create_state_machine(
        name=f"t{random.randint(0, 10**9)}", definition=json.dumps(definition), type="STANDARD",
        roleArn=f"arn:aws:iam::{caller.id}:role/exec")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=name,
                                    input=json.dumps(execution_input))["executionArn"]
    for _ in range(200):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described, sfn.get_execution_history(executionArn=execution)["events"]
        time.sleep(0.1)
    raise AssertionError("execution still running")


def test_sdk_tasks_run_in_the_credentials_account_with_aws_names_errors_and_paths(endpoint):
    caller, member = Account(endpoint), Account(endpoint)
    make_instance(member.client("rds"), "db1")
    task = {"Type": "Task", "Credentials": {"RoleArn.$": "$.role"}}
    definition = {"StartAt": "each", "States": {"each": {
        # One item at a time: moto runs a Map's items on threads, and its CreateDBSnapshot checks
        # the name then inserts without a lock, so two at once could both be answered with success.
        "Type": "Map", "ItemsPath": "$.items", "ToleratedFailurePercentage": 100, "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "create", "States": {
            "create": dict(task, Resource="arn:aws:states:::aws-sdk:rds:createDBSnapshot",
                           Parameters={"DbInstanceIdentifier": "db1", "DbSnapshotIdentifier.$": "$.name",
                                       "Tags": None},
                           ResultPath="$.created", Next="describe",
                           Catch=[{"ErrorEquals": ["Rds.DbSnapshotAlreadyExistsException"],
                                   "ResultPath": "$.error", "Next": "describe"}]),
            "describe": dict(task, Resource="arn:aws:states:::aws-sdk:rds:describeDBSnapshots",
                             Parameters={"DbSnapshotIdentifier.$": "$.name"},
                             ResultSelector={"status.$": "$.DbSnapshots[0].Status",
                                             "at.$": "$.DbSnapshots[0].SnapshotCreateTime"},
                             ResultPath="$.described", End=True)}},
        "End": True}}}
    role = f"arn:aws:iam::{member.id}:role/Member"
    sfn = caller.client("stepfunctions")
    described, history = run_machine(sfn, caller, definition,
                                     {"items": [{"role": role, "name": "s1"}, {"role": role, "name": "s1"}]})
    assert described["status"] == "SUCCEEDED", described
    # The snapshot exists in the member's account (the Credentials role's), not the caller's.
    assert member.client("rds").describe_db_snapshots(DBSnapshotIdentifier="s1")["DBSnapshots"]
    assert error_code(caller.client("rds").describe_db_snapshots,
                      DBSnapshotIdentifier="s1") == "DBSnapshotNotFound"
    results = json.loads(described["output"])
    assert [r["described"]["status"] for r in results] == ["available", "available"]
    assert all(r["described"]["at"].endswith("Z") for r in results)
    # One of the two items created it; the other was answered with AWS's error name.
    errors = [r["error"]["Error"] for r in results if "error" in r]
    assert errors == ["Rds.DbSnapshotAlreadyExistsException"], results
    created = [r["created"] for r in results if "created" in r]
    assert created[0]["DbSnapshot"]["DbSnapshotIdentifier"] == "s1"


def test_sdk_task_errors_without_a_modelled_class_and_retries(endpoint):
    caller, member = Account(endpoint), Account(endpoint)
    fault = control(endpoint, "POST", "/_rdsguard/faults",
                    {"service": "rds", "operation": "DescribeDBInstances", "account_id": member.id,
                     "code": "Throttling", "message": "Rate exceeded", "times": 1})
    definition = {"StartAt": "describe", "States": {"describe": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:rds:describeDBInstances",
        "Credentials": {"RoleArn": f"arn:aws:iam::{member.id}:role/Member"}, "Parameters": {},
        "Retry": [{"ErrorEquals": ["Rds.RdsException"], "IntervalSeconds": 1, "MaxAttempts": 2}],
        "End": True}}}
    described, history = run_machine(caller.client("stepfunctions"), caller, definition, {})
    assert described["status"] == "SUCCEEDED", described
    failed = [e["taskFailedEventDetails"] for e in history if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["Rds.RdsException"]
    assert "Rate exceeded" in failed[0]["cause"]
    hits = [f["hits"] for f in control(endpoint, "GET", "/_rdsguard/faults")["faults"]
            if f["id"] == fault["id"]]
    assert hits == [1]


def test_an_execution_input_over_256_kib_of_utf8_is_refused(endpoint):
    # (ai) At the quota an execution starts; a byte more (counted in UTF-8, not in characters) is
    # refused with ValidationException and no execution exists.
    caller = Account(endpoint)
    sfn = caller.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"t{random.randint(0, 10**9)}", type="STANDARD",
        definition=json.dumps({"StartAt": "p", "States": {"p": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{caller.id}:role/exec")["stateMachineArn"]

    def document(size, fill):
        # '{"p":"' + fill * n + '"}' of exactly `size` bytes (fill is 1 or 2 bytes in UTF-8)
        n = (size - 8) // len(fill.encode("utf-8"))
        text = json.dumps({"p": fill * n}, ensure_ascii=False, separators=(",", ":"))
        assert len(text.encode("utf-8")) == size, len(text.encode("utf-8"))
        return text

    at_quota = sfn.start_execution(stateMachineArn=arn, name="at-quota",
                                   input=document(262144, "x"))["executionArn"]
    assert sfn.describe_execution(executionArn=at_quota)["input"] == document(262144, "x")
    # 131,069 characters, 262,146 bytes.
    over = document(262146, "é")
    assert len(over) < 262144
    with pytest.raises(ClientError) as info:
        sfn.start_execution(stateMachineArn=arn, name="over", input=over)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 262144" in info.value.response["Error"]["Message"]
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]]
    assert names == ["at-quota"]


def make_option_group(rds, name, engine, major, options=()):
    rds.create_option_group(OptionGroupName=name, EngineName=engine, MajorEngineVersion=major,
                            OptionGroupDescription=name)
    if options:
        rds.modify_option_group(OptionGroupName=name, ApplyImmediately=True,
                                OptionsToInclude=[{"OptionName": o} for o in options])


def test_option_groups_list_with_persistent_and_permanent_flags_and_page(endpoint):  # (ac)
    rds = Account(endpoint).client("rds")
    assert rds.describe_option_groups()["OptionGroupsList"] == []  # none yet: an empty answer
    make_option_group(rds, "mssql-tde", "sqlserver-se", "15.00", ["TDE"])
    make_option_group(rds, "ora-tz", "oracle-ee", "19", ["Timezone"])
    make_option_group(rds, "mysql-audit", "mysql", "8.0", ["MARIADB_AUDIT_PLUGIN"])
    listed = rds.describe_option_groups()["OptionGroupsList"]
    options = {g["OptionGroupName"]: [(o["OptionName"], o["Persistent"], o["Permanent"])
                                      for o in g["Options"]] for g in listed}
    assert options == {"mssql-tde": [("TDE", True, False)],  # SQL Server TDE: persistent only
                       "ora-tz": [("Timezone", True, True)],
                       "mysql-audit": [("MARIADB_AUDIT_PLUGIN", False, False)]}
    first = rds.describe_option_groups(MaxRecords=20)
    assert len(first["OptionGroupsList"]) == 3 and "Marker" not in first
    page = rds.describe_option_groups(MaxRecords=1)
    assert len(page["OptionGroupsList"]) == 1 and page["Marker"]
    with pytest.raises(ClientError) as error:
        rds.describe_option_groups(OptionGroupName="nope")
    assert error.value.response["Error"]["Code"] == "OptionGroupNotFoundFault"


def test_snapshots_carry_their_option_group_and_copies_the_one_named(endpoint):  # (ad)
    account = Account(endpoint)
    east, west = account.client("rds"), account.client("rds", "us-west-2")
    make_option_group(east, "mysql-audit", "mysql", "8.0", ["MARIADB_AUDIT_PLUGIN"])
    make_option_group(west, "west-audit", "mysql", "8.0", ["MARIADB_AUDIT_PLUGIN"])
    east.create_db_instance(DBInstanceIdentifier="orders", Engine="mysql", EngineVersion="8.0.39",
                            DBInstanceClass="db.t3.micro", MasterUsername="admin1",
                            MasterUserPassword="password-1", AllocatedStorage=20,
                            OptionGroupName="mysql-audit")
    snap = east.create_db_snapshot(DBInstanceIdentifier="orders",
                                   DBSnapshotIdentifier="orders-s")["DBSnapshot"]
    assert snap["OptionGroupName"] == "mysql-audit"
    same = east.copy_db_snapshot(SourceDBSnapshotIdentifier="orders-s",
                                 TargetDBSnapshotIdentifier="orders-c")["DBSnapshot"]
    assert same["OptionGroupName"] == "mysql-audit"
    across = dict(SourceDBSnapshotIdentifier=snap["DBSnapshotArn"], SourceRegion="us-east-1")
    named = west.copy_db_snapshot(TargetDBSnapshotIdentifier="orders-w", OptionGroupName="west-audit",
                                  **across)["DBSnapshot"]
    assert named["OptionGroupName"] == "west-audit"
    assert west.describe_db_snapshots(DBSnapshotIdentifier="orders-w")["DBSnapshots"][0][
        "OptionGroupName"] == "west-audit"
    default = west.copy_db_snapshot(TargetDBSnapshotIdentifier="orders-d", **across)["DBSnapshot"]
    assert default["OptionGroupName"] == "default:mysql-8-0"
    with pytest.raises(ClientError) as error:  # a group of another region is no group here
        west.copy_db_snapshot(TargetDBSnapshotIdentifier="orders-x", OptionGroupName="mysql-audit",
                              **across)
    assert error.value.response["Error"]["Code"] == "OptionGroupNotFoundFault"


def _sqlserver_with_tde(rds, ident, group="mssql-tde", options=("TDE",), engine="sqlserver-se",
                        major="15.00", version="15.00.4385.2.v1"):
    make_option_group(rds, group, engine, major, options)
    rds.create_db_instance(DBInstanceIdentifier=ident, Engine=engine, EngineVersion=version,
                           DBInstanceClass="db.m5.large", MasterUsername="admin1",
                           MasterUserPassword="password-1", AllocatedStorage=20,
                           OptionGroupName=group, LicenseModel="license-included")
    return rds.create_db_snapshot(DBInstanceIdentifier=ident,
                                  DBSnapshotIdentifier=f"{ident}-s")["DBSnapshot"]


def test_a_snapshot_with_persistent_or_permanent_options_cannot_be_shared(endpoint):  # (ae)
    owner, other = Account(endpoint), Account(endpoint)
    rds = owner.client("rds")
    _sqlserver_with_tde(rds, "payroll")
    for values in ([other.id], ["all"]):
        with pytest.raises(ClientError) as error:
            rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="payroll-s",
                                             AttributeName="restore", ValuesToAdd=values)
        assert error.value.response["Error"]["Code"] == "InvalidDBSnapshotState"
        assert "mssql-tde" in error.value.response["Error"]["Message"]
    # Oracle's Timezone is persistent and permanent, but AWS lets it be shared.
    _sqlserver_with_tde(rds, "hr", group="ora-tz", options=("Timezone",), engine="oracle-ee",
                        major="19", version="19.0.0.0.ru-2024-07.rur-2024-07.r1")
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="hr-s", AttributeName="restore",
                                     ValuesToAdd=[other.id])
    # A group with no such option shares as before.
    make_option_group(rds, "mysql-audit", "mysql", "8.0", ["MARIADB_AUDIT_PLUGIN"])
    rds.create_db_instance(DBInstanceIdentifier="orders", Engine="mysql", EngineVersion="8.0.39",
                           DBInstanceClass="db.t3.micro", MasterUsername="admin1",
                           MasterUserPassword="password-1", AllocatedStorage=20,
                           OptionGroupName="mysql-audit")
    rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-s")
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="orders-s", AttributeName="restore",
                                     ValuesToAdd=[other.id])


def test_copies_that_need_a_target_option_group_are_refused_without_one(endpoint):  # (af)
    owner, vault = Account(endpoint), Account(endpoint)
    rds, west = owner.client("rds"), owner.client("rds", "us-west-2")
    tde = _sqlserver_with_tde(rds, "payroll")
    across = dict(SourceDBSnapshotIdentifier=tde["DBSnapshotArn"], SourceRegion="us-east-1")
    with pytest.raises(ClientError) as error:  # TDE across Regions: OptionGroupName is a must
        west.copy_db_snapshot(TargetDBSnapshotIdentifier="payroll-w", **across)
    assert error.value.response["Error"]["Code"] == "InvalidParameterCombination"
    make_option_group(west, "west-tde", "sqlserver-se", "15.00", ["TDE"])
    copy = west.copy_db_snapshot(TargetDBSnapshotIdentifier="payroll-w", OptionGroupName="west-tde",
                                 **across)["DBSnapshot"]
    assert copy["OptionGroupName"] == "west-tde"
    # A shared Oracle snapshot with Timezone: copied only into a group that includes it.
    ora = _sqlserver_with_tde(rds, "hr", group="ora-tz", options=("Timezone",), engine="oracle-ee",
                              major="19", version="19.0.0.0.ru-2024-07.rur-2024-07.r1")
    rds.modify_db_snapshot_attribute(DBSnapshotIdentifier="hr-s", AttributeName="restore",
                                     ValuesToAdd=[vault.id])
    vrds = vault.client("rds")
    make_option_group(vrds, "vault-plain", "oracle-ee", "19")
    make_option_group(vrds, "vault-tz", "oracle-ee", "19", ["Timezone"])
    for group in (None, "vault-plain"):
        with pytest.raises(ClientError) as error:
            vrds.copy_db_snapshot(SourceDBSnapshotIdentifier=ora["DBSnapshotArn"],
                                  TargetDBSnapshotIdentifier="hr-v",
                                  **({"OptionGroupName": group} if group else {}))
        assert error.value.response["Error"]["Code"] == "InvalidParameterCombination"
    copy = vrds.copy_db_snapshot(SourceDBSnapshotIdentifier=ora["DBSnapshotArn"],
                                 TargetDBSnapshotIdentifier="hr-v",
                                 OptionGroupName="vault-tz")["DBSnapshot"]
    assert copy["OptionGroupName"] == "vault-tz"
