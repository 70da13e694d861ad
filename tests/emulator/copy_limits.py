"""Rows x and y of README.md: RDS's limit on cross-Region snapshot copies in progress, copies that
take time, and the limit on the accounts a manual snapshot is shared with. Imported by launcher.py
after its own RDS fixes, so these wrappers sit outermost.

AWS (RDS User Guide, "Copying a DB snapshot for Amazon RDS", and the Aurora User Guide, "DB
cluster snapshot copying"): "You can have up to 20 snapshot copy requests in progress to a single
destination Region per account" (DB snapshots), "up to five" for DB cluster snapshots; a
cross-Region copy "can take hours to complete". "Sharing a DB snapshot": "You can share a manual
snapshot with up to 20 other AWS accounts"; past it, `ModifyDBSnapshotAttribute` /
`ModifyDBClusterSnapshotAttribute` answer `SharedSnapshotQuotaExceeded` ("You have exceeded the
maximum number of accounts that you can share a manual DB snapshot with", RDS API model).
"""
import functools
import threading
import time

from moto.rds.exceptions import RDSClientError
from moto.rds.models import RDSBackend, SnapshotAttributesMixin

LIMITS = {"db": 20, "cluster": 5}
MAX_SHARED_ACCOUNTS = 20

_lock = threading.Lock()
_copy_seconds = {}  # account id (None = every account without its own) -> seconds a copy takes
_in_flight = {}  # id(copy) -> (deadline, key, copy); key = (account, region, kind)
_max_in_flight = {}  # key -> most copies in progress at once
_refused = {}  # key -> copies refused at the limit


class CopyLimitExceeded(RDSClientError):
    """The code of RDS's quota fault on CopyDBSnapshot/CopyDBClusterSnapshot; the message is the
    one users report from AWS (AWS documents the limit, not the message)."""

    def __init__(self, limit):
        super().__init__("SnapshotQuotaExceeded",
                         f"Cannot copy more than {limit} snapshots across regions")


class SharedSnapshotQuotaExceeded(RDSClientError):
    def __init__(self):
        super().__init__("SharedSnapshotQuotaExceeded", "You have exceeded the maximum number of "
                         "accounts that you can share a manual DB snapshot with.")


def _settle():
    """Copies whose time has passed become `available` (call with _lock held)."""
    now = time.monotonic()
    for ref, (deadline, _, copy) in list(_in_flight.items()):
        if deadline <= now:
            copy.status = "available"
            del _in_flight[ref]


def _count(key):
    return sum(1 for _, k, _ in _in_flight.values() if k == key)


def _name(key):
    return "/".join(key)


def _limited_copy(copy_method, kind, source_param):
    @functools.wraps(copy_method)
    def wrapper(self, *args, **kwargs):
        source_identifier = kwargs[source_param] if source_param in kwargs else args[0]
        cross_region = (source_identifier.startswith("arn:")
                        and source_identifier.split(":")[3] != self.region_name)
        if not cross_region:
            return copy_method(self, *args, **kwargs)
        key = (self.account_id, self.region_name, kind)
        with _lock:  # held across the copy: the check and the new copy are one step
            _settle()
            if _count(key) >= LIMITS[kind]:
                _refused[key] = _refused.get(key, 0) + 1
                raise CopyLimitExceeded(LIMITS[kind])
            copy = copy_method(self, *args, **kwargs)
            seconds = _copy_seconds.get(self.account_id, _copy_seconds.get(None, 0))
            if seconds > 0:
                copy.status = "copying"  # AWS's status of a copy in progress
                _in_flight[id(copy)] = (time.monotonic() + seconds, key, copy)
                _max_in_flight[key] = max(_max_in_flight.get(key, 0), _count(key))
            return copy
    return wrapper


def _settled(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _lock:
            _settle()
        return method(self, *args, **kwargs)
    return wrapper


def _cancels_copy(delete):
    """Deleting a copy in progress cancels it (AWS: delete the target "while that DB cluster
    snapshot is in "copying" status")."""
    @functools.wraps(delete)
    def wrapper(self, *args, **kwargs):
        deleted = delete(self, *args, **kwargs)
        with _lock:
            _in_flight.pop(id(deleted), None)
        return deleted
    return wrapper


RDSBackend.copy_db_snapshot = _limited_copy(
    RDSBackend.copy_db_snapshot, "db", "source_db_snapshot_identifier")
RDSBackend.copy_db_cluster_snapshot = _limited_copy(
    RDSBackend.copy_db_cluster_snapshot, "cluster", "source_db_cluster_snapshot_identifier")
RDSBackend.describe_db_snapshots = _settled(RDSBackend.describe_db_snapshots)
RDSBackend.describe_db_cluster_snapshots = _settled(RDSBackend.describe_db_cluster_snapshots)
RDSBackend.delete_db_snapshot = _cancels_copy(RDSBackend.delete_db_snapshot)
RDSBackend.delete_db_cluster_snapshot = _cancels_copy(RDSBackend.delete_db_cluster_snapshot)

# --- (y) at most 20 accounts in `restore` ---------------------------------------------------------
# Moto counts the list as written: an account added twice counts twice, `all` (public, not an
# account) counts, and its message speaks of snapshots.
_modify_attribute = SnapshotAttributesMixin.modify_attribute


def modify_attribute(self, attribute_name, values_to_add, values_to_remove):
    to_add, to_remove = list(values_to_add or []), list(values_to_remove or [])
    if attribute_name != "restore" or set(to_add) & set(to_remove):
        return _modify_attribute(self, attribute_name, values_to_add, values_to_remove)
    after = [v for v in dict.fromkeys(self.attributes[attribute_name] + to_add)
             if v not in to_remove]
    if sum(1 for v in after if v != "all") > MAX_SHARED_ACCOUNTS:
        raise SharedSnapshotQuotaExceeded()
    self.attributes[attribute_name] = after


SnapshotAttributesMixin.modify_attribute = modify_attribute


def control(method, path, query, body):
    """The routes of this module; None for any other path."""
    if path == "/_rdsguard/copy-time":
        with _lock:
            if method == "POST":
                _copy_seconds[body.get("account_id")] = float(body["seconds"])
            elif method == "DELETE":
                account = query.get("account_id", [None])[0]
                if account:
                    _copy_seconds.pop(account, None)
                else:
                    _copy_seconds.clear()
            return 200, {"accounts": {str(a): s for a, s in _copy_seconds.items()}}
    if path == "/_rdsguard/copies":
        account = query.get("account_id", [None])[0]
        with _lock:
            _settle()
            if method == "DELETE":
                for record in (_max_in_flight, _refused):
                    for key in [k for k in record if account in (None, k[0])]:
                        del record[key]
            mine = lambda key: account in (None, key[0])  # noqa: E731
            in_flight = {}
            for _, key, _ in _in_flight.values():
                if mine(key):
                    in_flight[_name(key)] = in_flight.get(_name(key), 0) + 1
            return 200, {"limits": LIMITS, "in_flight": in_flight,
                         "max_in_flight": {_name(k): n for k, n in _max_in_flight.items() if mine(k)},
                         "refused": {_name(k): n for k, n in _refused.items() if mine(k)}}
    return None
