"""Rows x, y and z of README.md: cross-Region copies in progress per destination Region, the
20-account share limit, and a cross-account, cross-Region copy in one call, through boto3."""
import time

from test_launcher import (Account, control, endpoint, error_code, make_cluster_snapshot,  # noqa: F401
                           make_instance, make_snapshot)


def share(rds, ident, accounts, cluster=False):
    if cluster:
        return rds.modify_db_cluster_snapshot_attribute(
            DBClusterSnapshotIdentifier=ident, AttributeName="restore", ValuesToAdd=accounts)
    return rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=ident, AttributeName="restore",
                                            ValuesToAdd=accounts)


# --- (x) cross-Region copies in progress ------------------------------------------------------
def test_cross_region_copies_take_time_and_at_most_five_cluster_copies_are_in_progress(endpoint):
    owner = Account(endpoint)
    src, dst = owner.client("rds", "us-east-1"), owner.client("rds", "eu-west-1")
    arns = [make_cluster_snapshot(src, f"c{i}", f"c{i}-snap")["DBClusterSnapshotArn"]
            for i in range(6)]
    # Long enough that the five copies are still in progress when a slow machine checks them; the
    # check below says so if they were not.
    copy_time = 8
    control(endpoint, "POST", "/_rdsguard/copy-time", {"account_id": owner.id, "seconds": copy_time})
    started = time.monotonic()
    try:
        for i, arn in enumerate(arns[:5]):
            copy = dst.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=arn,
                                                TargetDBClusterSnapshotIdentifier=f"copy-{i}")
            assert copy["DBClusterSnapshot"]["Status"] == "copying"
        last = time.monotonic()  # each copy is timed from its own call
        # The sixth, to the same account and Region, is refused with RDS's quota code.
        assert error_code(dst.copy_db_cluster_snapshot, SourceDBClusterSnapshotIdentifier=arns[5],
                          TargetDBClusterSnapshotIdentifier="copy-5") == "SnapshotQuotaExceeded"
        # Same-Region copies and other Regions are not limited by it.
        src.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier="c5-snap",
                                     TargetDBClusterSnapshotIdentifier="local-copy")
        key = f"{owner.id}/eu-west-1/cluster"
        state = control(endpoint, "GET", f"/_rdsguard/copies?account_id={owner.id}")
        assert time.monotonic() - started < copy_time, "the machine was too slow for this check"
        assert state["in_flight"] == {key: 5} and state["refused"] == {key: 1}
        assert state["max_in_flight"] == {key: 5}
        assert state["limits"] == {"db": 20, "cluster": 5}
        time.sleep(max(0.0, last + copy_time + 0.5 - time.monotonic()))
        listed = dst.describe_db_cluster_snapshots()["DBClusterSnapshots"]
        assert {s["Status"] for s in listed} == {"available"}
        dst.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=arns[5],
                                     TargetDBClusterSnapshotIdentifier="copy-5")
        state = control(endpoint, "GET", f"/_rdsguard/copies?account_id={owner.id}")
        assert state["in_flight"] == {key: 1} and state["max_in_flight"] == {key: 5}
    finally:
        control(endpoint, "DELETE", "/_rdsguard/copy-time")


def test_db_snapshot_copies_are_limited_to_twenty_and_deleting_one_frees_a_place(endpoint):
    owner = Account(endpoint)
    src, dst = owner.client("rds", "us-east-1"), owner.client("rds", "eu-west-1")
    make_instance(src, "orders")
    arns = [make_snapshot(src, "orders", f"s{i}")["DBSnapshotArn"] for i in range(21)]
    control(endpoint, "POST", "/_rdsguard/copy-time", {"account_id": owner.id, "seconds": 60})
    try:
        for i, arn in enumerate(arns[:20]):
            dst.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier=f"c{i}")
        assert error_code(dst.copy_db_snapshot, SourceDBSnapshotIdentifier=arns[20],
                          TargetDBSnapshotIdentifier="c20") == "SnapshotQuotaExceeded"
        assert dst.describe_db_snapshots(DBSnapshotIdentifier="c0")["DBSnapshots"][0]["Status"] \
            == "copying"
        dst.delete_db_snapshot(DBSnapshotIdentifier="c0")  # cancels that copy
        dst.copy_db_snapshot(SourceDBSnapshotIdentifier=arns[20], TargetDBSnapshotIdentifier="c20")
    finally:
        control(endpoint, "DELETE", "/_rdsguard/copy-time")


# --- (y) at most 20 accounts ----------------------------------------------------------------------
def test_a_snapshot_is_shared_with_at_most_twenty_accounts(endpoint):
    owner = Account(endpoint)
    rds = owner.client("rds")
    make_instance(rds, "orders")
    make_snapshot(rds, "orders", "orders-snap")
    accounts = [f"{100000000000 + i}" for i in range(21)]
    share(rds, "orders-snap", accounts[:19])
    # Adding an account already there changes nothing, and counts once.
    share(rds, "orders-snap", accounts[:2])
    share(rds, "orders-snap", [accounts[19]])
    attrs = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier="orders-snap")
    values = attrs["DBSnapshotAttributesResult"]["DBSnapshotAttributes"][0]["AttributeValues"]
    assert sorted(values) == sorted(accounts[:20])
    assert error_code(share, rds=rds, ident="orders-snap", accounts=[accounts[20]]) \
        == "SharedSnapshotQuotaExceeded"
    # Cluster snapshots too; removing one makes room.
    make_cluster_snapshot(rds, "ledger", "ledger-snap")
    share(rds, "ledger-snap", accounts[:20], cluster=True)
    assert error_code(share, rds=rds, ident="ledger-snap", accounts=[accounts[20]], cluster=True) \
        == "SharedSnapshotQuotaExceeded"
    rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier="ledger-snap",
                                             AttributeName="restore", ValuesToRemove=[accounts[0]])
    share(rds, "ledger-snap", [accounts[20]], cluster=True)


# --- (z) cross-account and cross-Region in one call -------------------------------------------------
def test_a_shared_snapshot_is_copied_to_another_account_and_region_in_one_call(endpoint):
    owner, vault = Account(endpoint), Account(endpoint)
    rds, vault_eu = owner.client("rds", "us-east-1"), vault.client("rds", "eu-west-1")
    make_instance(rds, "orders")
    arn = make_snapshot(rds, "orders", "orders-snap")["DBSnapshotArn"]
    cluster_arn = make_cluster_snapshot(rds, "ledger", "ledger-snap")["DBClusterSnapshotArn"]
    # Not shared: not found, as for a same-Region copy.
    assert error_code(vault_eu.copy_db_snapshot, SourceDBSnapshotIdentifier=arn,
                      TargetDBSnapshotIdentifier="c", SourceRegion="us-east-1") == "DBSnapshotNotFound"
    share(rds, "orders-snap", [vault.id])
    share(rds, "ledger-snap", [vault.id], cluster=True)
    copy = vault_eu.copy_db_snapshot(SourceDBSnapshotIdentifier=arn, TargetDBSnapshotIdentifier="c",
                                     SourceRegion="us-east-1")["DBSnapshot"]
    assert copy["DBSnapshotArn"] == f"arn:aws:rds:eu-west-1:{vault.id}:snapshot:c"
    assert copy["SourceRegion"] == "us-east-1" and copy["SourceDBSnapshotIdentifier"] == arn
    cluster = vault_eu.copy_db_cluster_snapshot(SourceDBClusterSnapshotIdentifier=cluster_arn,
                                                TargetDBClusterSnapshotIdentifier="cc",
                                                SourceRegion="us-east-1")["DBClusterSnapshot"]
    assert cluster["DBClusterSnapshotArn"].split(":")[3:5] == ["eu-west-1", vault.id]
    assert cluster["SourceDBClusterSnapshotArn"] == cluster_arn
