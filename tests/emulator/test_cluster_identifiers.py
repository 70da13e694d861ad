"""Row ah of README.md: a DB cluster identifier is taken once. AWS answers CreateDBCluster and
RestoreDBClusterFromSnapshot with DBClusterAlreadyExistsFault ("The user already has a DB cluster
with the given identifier", RDS API Reference) and leaves the existing cluster as it is."""
from test_launcher import Account, endpoint, error_code, make_cluster_snapshot  # noqa: F401


def test_an_existing_cluster_identifier_is_refused_and_the_cluster_kept(endpoint):  # (ah)
    rds = Account(endpoint).client("rds")
    make_cluster_snapshot(rds, "ledger", "ledger-snap")
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="ledger-restored",
                                         SnapshotIdentifier="ledger-snap",
                                         Engine="aurora-postgresql",
                                         Tags=[{"Key": "made", "Value": "first"}])
    rds.create_db_instance(DBInstanceIdentifier="ledger-restored-1",
                           DBClusterIdentifier="ledger-restored", Engine="aurora-postgresql",
                           DBInstanceClass="db.r6g.large")
    before = rds.describe_db_clusters(DBClusterIdentifier="ledger-restored")["DBClusters"][0]

    assert error_code(rds.restore_db_cluster_from_snapshot, DBClusterIdentifier="ledger-restored",
                      SnapshotIdentifier="ledger-snap", Engine="aurora-postgresql",
                      Tags=[{"Key": "made", "Value": "second"}]) == "DBClusterAlreadyExistsFault"
    assert error_code(rds.create_db_cluster, DBClusterIdentifier="ledger", Engine="aurora-postgresql",
                      MasterUsername="admin1",
                      MasterUserPassword="password-1") == "DBClusterAlreadyExistsFault"

    after = rds.describe_db_clusters(DBClusterIdentifier="ledger-restored")["DBClusters"][0]
    assert after["DBClusterArn"] == before["DBClusterArn"]
    assert after["TagList"] == [{"Key": "made", "Value": "first"}]
    assert [m["DBInstanceIdentifier"] for m in after["DBClusterMembers"]] == ["ledger-restored-1"]
    # Other identifiers are free as before.
    rds.restore_db_cluster_from_snapshot(DBClusterIdentifier="ledger-restored-2",
                                         SnapshotIdentifier="ledger-snap",
                                         Engine="aurora-postgresql")
