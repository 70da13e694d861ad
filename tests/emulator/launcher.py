#!/usr/bin/env python3
"""rdsguard's AWS emulator: moto 5.2.5 served in-process, with the gaps that
matter to rdsguard closed and a few test controls added (see README.md).

    .venv/bin/python tests/emulator/launcher.py [--host 127.0.0.1] [--port 0]

First stdout line: ``READY http://HOST:PORT``. Exits on stdin EOF (so a dying
test process takes the emulator with it), SIGTERM or SIGINT.
"""
import argparse
import base64
import datetime
import functools
import io
import itertools
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

# --- (c) Per-account clock --------------------------------------------------
# Every moto timestamp comes from moto.core.utils.utcnow. Replace it *before*
# the service modules are imported, so their `from moto.core.utils import
# utcnow` binds our version; modules imported earlier are swept further down.
# The middleware (below) puts the calling account of each AWS request in a
# thread-local; our utcnow adds that account's offset (or the default one).
import moto.core.utils as moto_utils

_real_utcnow = moto_utils.utcnow
_request = threading.local()  # .account: calling account of this thread's AWS request
_lock = threading.Lock()  # guards every piece of state below
_clock = {}  # account id (None = default for all) -> datetime.timedelta


def _offset(account):
    with _lock:
        return _clock.get(account, _clock.get(None, datetime.timedelta()))


def utcnow():
    return _real_utcnow() + _offset(getattr(_request, "account", None))


moto_utils.utcnow = utcnow

from moto.backup import urls as backup_urls  # noqa: E402
from moto.backup.models import Vault, backup_backends  # noqa: E402
from moto.backup.responses import BackupResponse  # noqa: E402
from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.core.responses import ActionResult, EmptyResult, PaginatedResult  # noqa: E402
from moto.core.utils import unix_time  # noqa: E402
from moto.core.routing import get_service_router  # noqa: E402
from moto.core.request import Request as MotoRequest  # noqa: E402
from moto.iam.models import Role, get_account_id_from  # noqa: E402
from moto.kms import utils as kms_utils  # noqa: E402
from moto.kms.models import Key, KmsBackend, kms_backends  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
from moto.rds.exceptions import (  # noqa: E402
    DBClusterSnapshotNotFoundError, DBSnapshotNotFoundFault, InvalidParameterCombination,
    OptionGroupNotFoundFaultError, RDSClientError, SnapshotQuotaExceededFault)
from moto.rds.models import (  # noqa: E402
    DBClusterSnapshot, DBSnapshot, OptionGroup, RDSBackend, rds_backends)
from moto.rds.responses import RDSResponse  # noqa: E402
from moto.rds.utils import split_arn  # noqa: E402
from moto.organizations.models import organizations_backends  # noqa: E402
from moto.ram.models import ResourceShare, ram_backends  # noqa: E402
from moto.sts.models import sts_backends  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

for _mod in list(sys.modules.values()):
    if getattr(_mod, "__name__", "").startswith("moto"):
        for _name, _value in list(vars(_mod).items()):
            if _value is _real_utcnow:
                setattr(_mod, _name, utcnow)


# --- (a) Cross-account use of shared snapshots ------------------------------
# Moto resolves a snapshot ARN in the *caller's* account. AWS resolves it in
# the owner's account and allows it when the caller (or "all") is in the
# snapshot's `restore` attribute; otherwise the snapshot is "not found".
_get_snapshot = RDSBackend.get_snapshot


def get_snapshot(self, identifier, resource_type, not_found_exception):
    if identifier.startswith("arn:"):
        region, owner, _, name = split_arn(identifier)
        if owner != self.account_id:
            try:
                snapshot = rds_backends[owner][region].resource_map[resource_type].get(name)
            except KeyError:  # unknown region
                snapshot = None
            shared = snapshot is not None and (
                {self.account_id, "all"} & set(snapshot.attributes["restore"]))
            if not shared:
                raise not_found_exception(identifier)
            return snapshot
    return _get_snapshot(self, identifier, resource_type, not_found_exception)


RDSBackend.get_snapshot = get_snapshot  # used by both copy operations

# The restore operations look the snapshot up with describe_*_snapshots in the
# caller's account. For an ARN we resolve it with get_snapshot (above) first and
# hand it to that describe call through a thread-local.
_pinned = threading.local()


def _restore_via_arn(restore, resource_type, not_found_exception):
    @functools.wraps(restore)
    def wrapper(self, from_snapshot_id, overrides):
        if from_snapshot_id.startswith("arn:"):
            _pinned.snapshot = self.get_snapshot(from_snapshot_id, resource_type, not_found_exception)
        try:
            return restore(self, from_snapshot_id, overrides)
        finally:
            _pinned.snapshot = None
    return wrapper


def _describe_pinned(describe):
    @functools.wraps(describe)
    def wrapper(self, *args, **kwargs):
        pinned, _pinned.snapshot = getattr(_pinned, "snapshot", None), None
        return [pinned] if pinned is not None else describe(self, *args, **kwargs)
    return wrapper


# (ab) A restore applies every parameter given, false ones too: moto copies the source's value over
# an override that is falsy (PubliclyAccessible=false on a restore of a public database's snapshot
# gave a public instance).
_FALSE_KEPT = ("publicly_accessible", "multi_az", "deletion_protection")


def _false_kept(restore):
    @functools.wraps(restore)
    def wrapper(self, from_snapshot_id, overrides):
        made = restore(self, from_snapshot_id, overrides)
        for key in _FALSE_KEPT:
            if key in overrides and overrides[key] is False and hasattr(made, key):
                setattr(made, key, False)
        return made
    return wrapper


RDSBackend.restore_db_instance_from_db_snapshot = _false_kept(_restore_via_arn(
    RDSBackend.restore_db_instance_from_db_snapshot, DBSnapshot, DBSnapshotNotFoundFault))
RDSBackend.restore_db_cluster_from_snapshot = _false_kept(_restore_via_arn(
    RDSBackend.restore_db_cluster_from_snapshot, DBClusterSnapshot, DBClusterSnapshotNotFoundError))
RDSBackend.describe_db_snapshots = _describe_pinned(RDSBackend.describe_db_snapshots)
RDSBackend.describe_db_cluster_snapshots = _describe_pinned(RDSBackend.describe_db_cluster_snapshots)


# --- (ah) A DB cluster identifier is taken once -----------------------------
# AWS: CreateDBCluster and RestoreDBClusterFromSnapshot answer DBClusterAlreadyExistsFault ("The
# user already has a DB cluster with the given identifier", HTTP 400) when the account has a
# cluster of that identifier in the Region. Moto's create_db_cluster (which its restores call too)
# replaces the cluster, or first fails on the automated snapshot it already made for that name.
class DBClusterAlreadyExistsFault(RDSClientError):
    def __init__(self):
        super().__init__("DBClusterAlreadyExistsFault", "DB Cluster already exists")


_create_db_cluster = RDSBackend.create_db_cluster


def create_db_cluster(self, kwargs):
    if kwargs.get("db_cluster_identifier") in self.clusters:
        raise DBClusterAlreadyExistsFault()
    return _create_db_cluster(self, kwargs)


RDSBackend.create_db_cluster = create_db_cluster

# --- (b) Copies record their source -----------------------------------------
# AWS: DBSnapshot.SourceDBSnapshotIdentifier is the source ARN "only in the case
# of a cross-account or cross-Region copy", SourceRegion is set for
# cross-Region copies; DBClusterSnapshot.SourceDBClusterSnapshotArn is set for
# every copy. Moto's serializer emits them once the model has the attributes.
_copy_db_snapshot = RDSBackend.copy_db_snapshot
_copy_db_cluster_snapshot = RDSBackend.copy_db_cluster_snapshot


def copy_db_snapshot(self, source_db_snapshot_identifier, *args, **kwargs):
    copy = _copy_db_snapshot(self, source_db_snapshot_identifier, *args, **kwargs)
    source = self.get_db_snapshot(source_db_snapshot_identifier)
    if (source.account_id, source.region) != (self.account_id, self.region_name):
        copy.source_db_snapshot_identifier = source.arn
    if source.region != self.region_name:
        copy.source_region = source.region
    return copy


def copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier, *args, **kwargs):
    copy = _copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier, *args, **kwargs)
    copy.source_db_cluster_snapshot_arn = self.get_db_cluster_snapshot(
        source_db_cluster_snapshot_identifier).arn
    return copy


RDSBackend.copy_db_snapshot = copy_db_snapshot
RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot


# --- (f) alias/aws/* keys are AWS managed --------------------------------------
# Moto creates the key behind a reserved alias (alias/aws/rds, ...) the first
# time the alias is used (e.g. DescribeKey KeyId=alias/aws/rds) but marks it
# CUSTOMER. AWS reports KeyManager=AWS for these keys.
_generate_default_keys = KmsBackend._generate_default_keys


def generate_default_keys(self, alias_name):
    key_id = _generate_default_keys(self, alias_name)
    if key_id is not None:
        self.keys[key_id].key_manager = "AWS"
        if alias_name == "alias/aws/rds":
            self.keys[key_id].description = (
                "Default key that protects my RDS database volumes when no other key is defined")
    return key_id


KmsBackend._generate_default_keys = generate_default_keys


# --- (p) Policy documents in CloudFormation templates --------------------------
# A template's KeyPolicy is a JSON object (AWS also takes a string). Moto stores
# the object as is, and then GetKeyPolicy / DescribeKey fail on it: it expects
# the string the KMS API takes. AWS stores the document either way.
_key_from_cloudformation = Key.create_from_cloudformation_json.__func__


def key_from_cloudformation(cls, resource_name, cloudformation_json, *args, **kwargs):
    properties = cloudformation_json.get("Properties", {})
    if not isinstance(properties.get("KeyPolicy"), str):
        cloudformation_json = dict(cloudformation_json)
        cloudformation_json["Properties"] = dict(properties, KeyPolicy=json.dumps(properties["KeyPolicy"]))
    return _key_from_cloudformation(cls, resource_name, cloudformation_json, *args, **kwargs)


Key.create_from_cloudformation_json = classmethod(key_from_cloudformation)

# The same for a role's inline policies (Policies[].PolicyDocument): moto stores
# the object, and GetRolePolicy then answers with its Python repr.
_role_from_cloudformation = Role.create_from_cloudformation_json.__func__


def role_from_cloudformation(cls, resource_name, cloudformation_json, *args, **kwargs):
    properties = cloudformation_json.get("Properties", {})
    policies = [
        dict(p, PolicyDocument=p["PolicyDocument"] if isinstance(p.get("PolicyDocument"), str)
             else json.dumps(p.get("PolicyDocument")))
        for p in properties.get("Policies", [])
    ]
    cloudformation_json = dict(cloudformation_json, Properties=dict(properties, Policies=policies))
    return _role_from_cloudformation(cls, resource_name, cloudformation_json, *args, **kwargs)


Role.create_from_cloudformation_json = classmethod(role_from_cloudformation)


# --- (g) DescribeDB(Cluster)Snapshots page with MaxRecords/Marker ------------
# Moto returns everything and no Marker; wrap the result like moto already does
# for DescribeDBInstances. The Marker encodes the ARN of the next snapshot.
def _paginated(describe, operation):
    moto_utils.get_pagination_model("rds")[operation].setdefault("unique_attribute", "arn")

    @functools.wraps(describe)
    def wrapper(self):
        return PaginatedResult(describe(self).result)
    return wrapper


RDSResponse.describe_db_snapshots = _paginated(RDSResponse.describe_db_snapshots, "DescribeDBSnapshots")
RDSResponse.describe_db_cluster_snapshots = _paginated(
    RDSResponse.describe_db_cluster_snapshots, "DescribeDBClusterSnapshots")


# --- (ag) DescribeBlueGreenDeployments pages with MaxRecords/Marker ----------------
# Moto hands MaxRecords and Marker on to its backend, which takes neither: any request that sets
# them (the SDK paginators always set MaxRecords) fails with a 500. AWS pages the deployments
# (MaxRecords 20-100, default 100; Marker). Moto's response already pages the result: the backend
# only needs to accept the two paging parameters.
_describe_blue_green = RDSBackend.describe_blue_green_deployments


@functools.wraps(_describe_blue_green)
def describe_blue_green_deployments(self, *args, max_records=None, marker=None, **kwargs):
    return _describe_blue_green(self, *args, **kwargs)


moto_utils.get_pagination_model("rds")["DescribeBlueGreenDeployments"].setdefault(
    "unique_attribute", "blue_green_deployment_identifier")
RDSBackend.describe_blue_green_deployments = describe_blue_green_deployments


# --- (q) Manual snapshot quotas: DescribeAccountAttributes, SnapshotQuotaExceeded ----
# Moto has no DescribeAccountAttributes, and its only snapshot limit is one number for every account
# and region (MOTO_RDS_SNAPSHOT_LIMIT, default 1000) counting automated snapshots too. AWS: each
# account has, per Region, a quota of manual DB instance snapshots and one of manual DB cluster
# snapshots (default 100 each, adjustable); DescribeAccountAttributes lists them as AccountQuotas
# `ManualSnapshots` / `ManualClusterSnapshots` with Used and Max, and a create or copy past Max fails
# with SnapshotQuotaExceeded. Max is settable per account and region (/_rdsguard/quotas).
DEFAULT_SNAPSHOT_QUOTA = 100
_quotas = {}  # (account, region) -> {"ManualSnapshots": max, "ManualClusterSnapshots": max}
_QUOTA_NAMES = ("ManualSnapshots", "ManualClusterSnapshots")


def _quota_max(account, region, name):
    with _lock:
        return _quotas.get((account, region), {}).get(name, DEFAULT_SNAPSHOT_QUOTA)


def _quota_used(backend, name):
    """Manual snapshots of the kind in the backend's account and region (what AWS counts as Used).
    Snapshots AWS Backup made of DB instances are of type `awsbackup` and are not counted."""
    snapshots = backend.database_snapshots if name == "ManualSnapshots" else backend.cluster_snapshots
    return sum(1 for s in list(snapshots.values()) if s.snapshot_type == "manual")


def _refuse_past_quota(backend, name):
    if _quota_used(backend, name) >= _quota_max(backend.account_id, backend.region_name, name):
        raise SnapshotQuotaExceededFault()


def _quota_guard(method, name, manual_only):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not manual_only or kwargs.get("snapshot_type", "manual") == "manual":
            _refuse_past_quota(self, name)
        return method(self, *args, **kwargs)
    return wrapper


RDSBackend.create_db_snapshot = _quota_guard(RDSBackend.create_db_snapshot, "ManualSnapshots", True)
RDSBackend.copy_db_snapshot = _quota_guard(RDSBackend.copy_db_snapshot, "ManualSnapshots", False)
RDSBackend.create_db_cluster_snapshot = _quota_guard(
    RDSBackend.create_db_cluster_snapshot, "ManualClusterSnapshots", True)
RDSBackend.copy_db_cluster_snapshot = _quota_guard(
    RDSBackend.copy_db_cluster_snapshot, "ManualClusterSnapshots", False)


def describe_account_attributes(self):
    quotas = [{"AccountQuotaName": name,
               "Used": _quota_used(self.backend, name),
               "Max": _quota_max(self.current_account, self.region, name)}
              for name in _QUOTA_NAMES]
    return ActionResult({"AccountQuotas": quotas})


RDSResponse.describe_account_attributes = describe_account_attributes


# --- (ac)-(af) Option groups: options' Persistent/Permanent, snapshots' groups, sharing, copies --
# (ac) DescribeOptionGroups: AWS lists every option group of the account and Region when no name is
# given (an empty list is an answer, not an error), and each option says whether it is Persistent and
# Permanent; moto fails without a name (KeyError), raises OptionGroupNotFoundFault for an empty list,
# and gives options only a name and settings. The flags come from moto's own catalogue of the
# engine's options (DescribeOptionGroupOptions' Persistent/Permanent).
# (ad) DBSnapshot.OptionGroupName ("the option group name for the DB snapshot"): the DB instance's
# group when the snapshot is taken; a copy is associated with CopyDBSnapshot's OptionGroupName, which
# must be a group of the caller's account and Region (OptionGroupNotFoundFault: assumed, AWS lists no
# error for it), else keeps its source's group within one account and Region; a copy into another
# account or Region without one is associated with the engine's default group (assumed: AWS says a
# restore of such a copy "gets the default option group").
# (ae) AWS: "You can't share a DB snapshot that uses an option group with permanent or persistent
# options, except for Oracle DB instances that have the Timezone or OLS option (or both)": adding an
# account (or `all`) to such a snapshot's `restore` attribute is refused (InvalidDBSnapshotState:
# assumed, the one state error ModifyDBSnapshotAttribute has).
# (af) AWS: "If your source DB instance uses Transparent Data Encryption for Oracle or Microsoft SQL
# Server, you must specify [OptionGroupName] when copying across Regions", and a shared Oracle
# snapshot with Timezone or OLS is copied by specifying "a target option group that includes these
# options": without one (or with one lacking them) the copy is refused (InvalidParameterCombination:
# assumed).
ORACLE_SHAREABLE_OPTIONS = ("Timezone", "OLS")


class InvalidDBSnapshotStateFault(RDSClientError):
    def __init__(self, message):
        super().__init__("InvalidDBSnapshotState", message)


@functools.lru_cache(maxsize=None)
def _option_catalogue(engine, major):
    try:
        return {o["Name"]: o for o in RDSBackend.describe_option_group_options(engine, major)}
    except Exception:  # an engine or version moto does not list: no flags known
        return {}


def option_group_options(self):
    catalogue = _option_catalogue(self.engine_name, self.major_engine_version)
    return [{"OptionName": name,
             "Persistent": bool(catalogue.get(name, {}).get("Persistent")),
             "Permanent": bool(catalogue.get(name, {}).get("Permanent")),
             "OptionSettings": [{"Name": s.get("Name"), "Value": s.get("Value")} for s in settings]}
            for name, settings in self._options.items()]


OptionGroup.options = property(option_group_options)
_describe_option_groups = RDSBackend.describe_option_groups


def describe_option_groups(self, option_group_kwargs):
    kwargs = {"option_group_name": None, **option_group_kwargs}
    try:
        return _describe_option_groups(self, kwargs)
    except OptionGroupNotFoundFaultError:
        if kwargs["option_group_name"]:
            raise
        return []


RDSBackend.describe_option_groups = describe_option_groups


def _sticky_options(backend, group_name, engine):
    """(persistent or permanent options that stop sharing, Oracle's that a copy must carry)."""
    group = backend.option_groups.get(group_name or "") if group_name else None
    if group is None:
        return [], []
    sticky = [o["OptionName"] for o in group.options if o["Persistent"] or o["Permanent"]]
    oracle = (group.engine_name or engine or "").startswith("oracle")
    carried = [o for o in sticky if oracle and o in ORACLE_SHAREABLE_OPTIONS]
    return [o for o in sticky if o not in carried], carried


def _default_option_group(engine, version):
    semantic = (version or "").split(".")
    suffix = semantic[0] + ("-" + semantic[1] if len(semantic) > 1 else "")
    return f"default:{engine}-{suffix}"


_snapshot_init = DBSnapshot.__init__


def snapshot_init(self, backend, database, *args, **kwargs):
    _snapshot_init(self, backend, database, *args, **kwargs)
    self.option_group_name = getattr(database, "option_group_name", None)


DBSnapshot.__init__ = snapshot_init
_copy_with_option_group = RDSBackend.copy_db_snapshot


def copy_db_snapshot_with_option_group(self, source_db_snapshot_identifier, *args, **kwargs):
    source = self.get_db_snapshot(source_db_snapshot_identifier)
    target = kwargs.get("option_group_name")
    if target and target not in self.option_groups:
        raise OptionGroupNotFoundFaultError(target)
    owner = rds_backends[source.account_id][source.region]
    unshareable, carried = _sticky_options(owner, source.option_group_name, source.engine)
    crosses_region = source.region != self.region_name
    shared_in = source.account_id != self.account_id
    must = (crosses_region and any(o == "TDE" for o in unshareable)) or (shared_in and carried)
    if must and not target:
        raise InvalidParameterCombination(
            f"The source snapshot uses option group {source.option_group_name} with "
            f"{', '.join(unshareable + carried)}: specify OptionGroupName to copy it"
            + (" across Regions." if crosses_region else "."))
    if shared_in and carried and target:
        missing = [o for o in carried if o not in self.option_groups[target]._options]
        if missing:
            raise InvalidParameterCombination(
                f"The target option group {target} must include {', '.join(missing)}.")
    copy = _copy_with_option_group(self, source_db_snapshot_identifier, *args, **kwargs)
    if target:
        copy.option_group_name = target
    elif crosses_region or shared_in:
        copy.option_group_name = _default_option_group(source.engine, source.engine_version)
    else:
        copy.option_group_name = source.option_group_name
    return copy


RDSBackend.copy_db_snapshot = copy_db_snapshot_with_option_group
_modify_db_snapshot_attribute = RDSBackend.modify_db_snapshot_attribute


def modify_db_snapshot_attribute(self, db_snapshot_identifier, attribute_name, values_to_add=None,
                                 values_to_remove=None):
    if attribute_name == "restore" and values_to_add:
        snapshot = self.get_db_snapshot(db_snapshot_identifier)
        unshareable, _ = _sticky_options(self, snapshot.option_group_name, snapshot.engine)
        if unshareable:
            raise InvalidDBSnapshotStateFault(
                f"The snapshot {db_snapshot_identifier} uses option group "
                f"{snapshot.option_group_name} with permanent or persistent options "
                f"({', '.join(unshareable)}) and cannot be shared.")
    return _modify_db_snapshot_attribute(self, db_snapshot_identifier, attribute_name,
                                         values_to_add, values_to_remove)


RDSBackend.modify_db_snapshot_attribute = modify_db_snapshot_attribute



# --- (i)-(n) AWS Backup: vault types, access policies, jobs, recovery points ----
# Moto 5.2.5 has vaults and Vault Lock but no recovery points, no jobs, no
# air-gapped vaults and no access policies. We add them to its backup service
# (routes below, handlers on BackupResponse, state on its per-account-and-region
# BackupBackend), the way AWS documents them for RDS and Aurora. State lives on
# moto's objects, so /moto-api/reset wipes it with the rest. Timestamps come from
# the per-account clock (c) of the calling account.
def _params(response):
    """The request's parameters, parsed with botocore's model (moto's backup handlers
    parse their own; ours use moto's generic parser)."""
    if getattr(response, "params", None) is None:
        response.parse_parameters(response.normalized_request)
    return response.params


def _backup_error(code, message, status=400):
    error = JsonRESTError(code, message)
    error.code = status
    return error


def _not_found(message):
    return _backup_error("ResourceNotFoundException", message)


def _invalid(message):
    return _backup_error("InvalidParameterValueException", message)


def _access_denied(message="Insufficient privileges to perform this action."):
    return _backup_error("AccessDeniedException", message, 403)


_vault_init = Vault.__init__


def vault_init(self, *args, **kwargs):
    _vault_init(self, *args, **kwargs)
    backend = kwargs["backend"] if "backend" in kwargs else args[-1]
    self.account_id, self.region = backend.account_id, backend.region_name
    self.vault_type, self.vault_state = "BACKUP_VAULT", "AVAILABLE"
    self.access_policy = None
    self.recovery_points = {}  # recovery point ARN -> dict (insertion order = creation order)
    if self.encryption_key_arn is None:
        # AWS: a vault created without a key uses the account's AWS managed key aws/backup.
        kms = kms_backends[self.account_id][self.region]
        self.encryption_key_arn = kms.keys[kms.get_key_id_from_alias("alias/aws/backup")].arn
    self.encryption_key_type = "CUSTOMER_MANAGED_KMS_KEY"


Vault.__init__ = vault_init
# AWS Backup's AWS managed key, created on first use like moto's other alias/aws/* keys (f).
if "alias/aws/backup" not in kms_utils.RESERVED_ALIASES:
    kms_utils.RESERVED_ALIASES.append("alias/aws/backup")
# Moto sets a counter that never moves; count the recovery points instead.
Vault.num_of_recovery_points = property(lambda self: len(self.recovery_points),
                                        lambda self, value: None)
Vault.number_of_recovery_points = property(lambda self: len(self.recovery_points))

_vault_to_list_dict = Vault.to_list_dict


def vault_to_list_dict(self):
    entry = _vault_to_list_dict(self)
    entry.update(VaultType=self.vault_type, VaultState=self.vault_state,
                 EncryptionKeyType=self.encryption_key_type)
    if self.encryption_key_arn is None:
        entry.pop("EncryptionKeyArn", None)
    return entry


Vault.to_list_dict = vault_to_list_dict


def _jobs(backend):
    if not hasattr(backend, "rdsguard_jobs"):
        backend.rdsguard_jobs = {"backup": {}, "copy": {}, "tokens": {}}
    return backend.rdsguard_jobs


def _repeated(backend, kind, params):
    """The answer to a StartBackupJob / StartCopyJob that repeats an earlier call's IdempotencyToken
    (AWS: "Retrying a successful request with the same idempotency token results in a success
    message with no action taken"; assumed: the answer names the first call's job), else None."""
    token = params.get("IdempotencyToken")
    job_id = _jobs(backend)["tokens"].get((kind, token)) if token else None
    job = _jobs(backend)[kind].get(job_id) if job_id else None
    if job is None:
        return None
    answer = {"CreationDate": job["CreationDate"], "IsParent": False}
    if kind == "backup":
        answer.update(BackupJobId=job_id, RecoveryPointArn=job.get("RecoveryPointArn"))
    else:
        answer.update(CopyJobId=job_id)
    return ActionResult({k: v for k, v in answer.items() if v is not None})


def _remember(backend, kind, params, job_id):
    if params.get("IdempotencyToken"):
        _jobs(backend)["tokens"][(kind, params["IdempotencyToken"])] = job_id


def _org_of(account):
    """The organization id an account belongs to, or None."""
    for _, by_partition in list(organizations_backends.items()):
        for backend in list(by_partition.values()):
            org = backend.org
            if org is not None and any(a.id == account for a in list(backend.accounts)):
                return org.id
    return None


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _policy_allows_copy(policy, vault_arn, caller, role_arn):
    """Does a vault access policy allow backup:CopyIntoBackupVault to `caller`'s copy job that
    runs as `role_arn`? Deny wins.
    Principals: "*", {"AWS": "*" | account id | arn:aws:iam::ACCOUNT:root | the job's role};
    conditions: none, or StringEquals aws:PrincipalOrgID / aws:PrincipalAccount. A statement
    with any other condition does not match (we cannot evaluate it)."""
    try:
        statements = _as_list(json.loads(policy).get("Statement", []))
    except (ValueError, AttributeError):
        return False
    org = None
    allowed = False
    for st in statements:
        if "backup:copyintobackupvault" not in [a.lower() for a in _as_list(st.get("Action", []))]:
            continue
        resources = _as_list(st.get("Resource", "*"))
        if not any(r in ("*", vault_arn) for r in resources):
            continue
        principal = st.get("Principal")
        principals = ["*"] if principal == "*" else _as_list((principal or {}).get("AWS", []))
        if not any(p in ("*", caller, role_arn) or re.fullmatch(
                rf"arn:aws[a-z-]*:iam::{caller}:root", str(p)) for p in principals):
            continue
        matched = True
        for operator, keys in (st.get("Condition") or {}).items():
            for key, values in keys.items():
                if operator == "StringEquals" and key.lower() == "aws:principalorgid":
                    org = org or _org_of(caller)
                    matched = matched and org in _as_list(values)
                elif operator == "StringEquals" and key.lower() == "aws:principalaccount":
                    matched = matched and caller in _as_list(values)
                else:
                    matched = False
        if matched and st.get("Effect") == "Deny":
            return False
        allowed = allowed or (matched and st.get("Effect") == "Allow")
    return allowed


def _shared_with(vault, caller):
    """Is `vault` (another account's) shared with `caller` through AWS RAM? AWS shares
    logically air-gapped vaults that way."""
    if vault.vault_type != "LOGICALLY_AIR_GAPPED_BACKUP_VAULT":
        return False
    org = None
    for share in list(ram_backends[vault.account_id][vault.region].resource_shares):
        if share.status != "ACTIVE" or vault.backup_vault_arn not in share.resource_arns:
            continue
        for principal in share.principals:
            if principal == caller or principal == f"arn:aws:iam::{caller}:root":
                return True
            match = re.fullmatch(r"arn:aws:organizations::\d{12}:organization/(o-\w+)", principal)
            if match:
                org = org or _org_of(caller)
                if org == match.group(1):
                    return True
    return False


# RAM refuses backup vault ARNs in moto; AWS shares (air-gapped) vaults through RAM.
ResourceShare.SHAREABLE_RESOURCES = ResourceShare.SHAREABLE_RESOURCES + ["backup-vault"]


def _vault_for(response, name, owner=None):
    """The vault `name` of `owner` (default: the caller) in the request's region, as the caller
    may see it: its own, or one shared with it through RAM (else AccessDeniedException)."""
    caller = response.current_account
    owner = owner or caller
    vault = backup_backends[owner][response.region].vaults.get(name)
    if owner != caller:
        if vault is None or not _shared_with(vault, caller):
            raise _access_denied()
    if vault is None:
        raise _not_found(f"Backup vault {name} not found")
    return vault


def _delete_at(creation, lifecycle):
    calculated = {}
    if lifecycle and lifecycle.get("DeleteAfterDays") is not None:
        calculated["DeleteAt"] = creation + datetime.timedelta(days=int(lifecycle["DeleteAfterDays"]))
    if lifecycle and lifecycle.get("MoveToColdStorageAfterDays") is not None:
        calculated["MoveToColdStorageAt"] = creation + datetime.timedelta(
            days=int(lifecycle["MoveToColdStorageAfterDays"]))
    return calculated


def _lock_refusal(vault, lifecycle):
    """AWS fails a backup or copy job whose retention breaks the vault's lock; a reason or None."""
    if not vault.locked:
        return None
    days = (lifecycle or {}).get("DeleteAfterDays")
    if vault.min_retention_days is not None and days is not None and days < vault.min_retention_days:
        return (f"The retention period of {days} days is shorter than the vault's minimum "
                f"retention period of {vault.min_retention_days} days")
    if vault.max_retention_days is not None and (days is None or days > vault.max_retention_days):
        return (f"The retention period ({'none' if days is None else f'{days} days'}) exceeds the "
                f"vault's maximum retention period of {vault.max_retention_days} days")
    return None


def _validate_lifecycle(lifecycle):
    if not lifecycle:
        return None
    delete, cold = lifecycle.get("DeleteAfterDays"), lifecycle.get("MoveToColdStorageAfterDays")
    if delete is not None and delete < 1:
        raise _invalid("DeleteAfterDays must be at least 1")
    if delete is not None and cold is not None and delete < cold + 90:
        raise _invalid("DeleteAfterDays must be at least 90 days after MoveToColdStorageAfterDays")
    return dict(lifecycle)


def _recovery_point_view(point):
    keys = ("RecoveryPointArn", "BackupVaultName", "BackupVaultArn", "SourceBackupVaultArn",
            "ResourceArn", "ResourceType", "ResourceName", "IamRoleArn", "Status", "CreationDate",
            "InitiationDate", "CompletionDate", "BackupSizeInBytes", "Lifecycle",
            "CalculatedLifecycle", "EncryptionKeyArn", "EncryptionKeyType", "IsEncrypted",
            "VaultType", "IsParent")
    return {k: point[k] for k in keys if point.get(k) is not None}


def _page(items, max_results, next_token, key):
    """A page of `items` from the one whose key is `next_token`; returns (page, next token)."""
    if max_results is not None and not 1 <= int(max_results) <= 1000:
        raise _invalid("MaxResults must be between 1 and 1000")
    size = int(max_results) if max_results is not None else 1000
    start = 0
    if next_token:
        keys = [key(i) for i in items]
        try:
            token = base64.urlsafe_b64decode(next_token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            token = None
        if token not in keys:
            raise _invalid("Invalid NextToken")
        start = keys.index(token)
    page = items[start:start + size]
    rest = items[start + size:]
    return page, (base64.urlsafe_b64encode(key(rest[0]).encode()).decode() if rest else None)


def _as_utc(value):
    """A naive UTC datetime from a parsed timestamp parameter (datetime, epoch or ISO string)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    try:
        return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc).replace(tzinfo=None)
    except ValueError:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return _as_utc(parsed)


def _resource(response, resource_arn):
    """(kind, RDS object, RDS backend) of an RDS instance or Aurora cluster ARN of the caller."""
    match = re.fullmatch(r"arn:aws[a-z-]*:rds:([a-z0-9-]+):(\d{12}):(db|cluster):(.+)", resource_arn or "")
    if not match:
        raise _invalid(f"Invalid resource ARN {resource_arn}: this emulator backs up RDS DB "
                       "instances and Aurora DB clusters")
    region, account, kind, ident = match.groups()
    if account != response.current_account or region != response.region:
        raise _invalid(f"Resource {resource_arn} is not in account {response.current_account}, "
                       f"region {response.region}")
    rds = rds_backends[account][region]
    found = (rds.databases if kind == "db" else rds.clusters).get(ident)
    if found is None:
        raise _not_found(f"Resource {resource_arn} not found")
    return kind, found, rds


def _new_id():
    return str(uuid.uuid4())


def start_backup_job(self):
    """StartBackupJob for an RDS instance or an Aurora cluster: the job completes at once. The
    recovery point is the RDS snapshot awsbackup:job-<id> (a cluster snapshot for Aurora); its ARN
    is the recovery point ARN. Backups of RDS keep the database's encryption (AWS: resources
    not fully managed by AWS Backup inherit the source's encryption)."""
    params = _params(self)
    repeated = _repeated(self.backup_backend, "backup", params)
    if repeated is not None:
        return repeated
    vault = _vault_for(self, params.get("BackupVaultName"))
    kind, resource, rds = _resource(self, params.get("ResourceArn"))
    lifecycle = _validate_lifecycle(params.get("Lifecycle"))
    if vault.vault_type == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT":
        raise _backup_error("InvalidRequestException",
                            "RDS and Aurora backups reach a logically air-gapped vault by copy only")
    job_id, now = _new_id(), utcnow()
    job = {"AccountId": self.current_account, "BackupJobId": job_id,
           "BackupVaultName": vault.backup_vault_name, "BackupVaultArn": vault.backup_vault_arn,
           "VaultType": vault.vault_type, "ResourceArn": resource.arn,
           "ResourceType": "RDS" if kind == "db" else "Aurora",
           "ResourceName": resource.db_instance_identifier if kind == "db"
           else resource.db_cluster_identifier,
           "IamRoleArn": params.get("IamRoleArn"), "CreationDate": now, "InitiationDate": now,
           "StartBy": now + datetime.timedelta(minutes=params.get("StartWindowMinutes") or 480),
           "RecoveryPointLifecycle": lifecycle, "IsParent": False,
           "PercentDone": "100.0", "BackupSizeInBytes": 0}
    refusal = _lock_refusal(vault, lifecycle)
    if refusal:
        job.update(State="FAILED", StatusMessage=refusal, CompletionDate=now)
        _jobs(self.backup_backend)["backup"][job_id] = job
        _remember(self.backup_backend, "backup", params, job_id)
        return ActionResult({"BackupJobId": job_id, "CreationDate": now, "IsParent": False})
    ident = f"awsbackup:job-{job_id}"
    if kind == "db":
        snapshot = DBSnapshot(rds, resource, ident, "awsbackup")
        rds.database_snapshots[ident] = snapshot
        encrypted, key = bool(snapshot.storage_encrypted), snapshot.kms_key_id
    else:
        # AWS's RDS model: the awsbackup snapshot type "does not apply to Aurora"; the
        # cluster snapshots that AWS Backup takes are listed with the cluster-snapshot types
        # RDS knows. Assumed: manual (see README).
        snapshot = DBClusterSnapshot(rds, resource, ident, "manual")
        rds.cluster_snapshots[ident] = snapshot
        encrypted, key = bool(snapshot.storage_encrypted), snapshot.kms_key_id
    if key == "default_kms_key_id":  # moto's stand-in for "encrypted with aws/rds"
        kms = kms_backends[self.current_account][self.region]
        key = kms.keys[kms.get_key_id_from_alias("alias/aws/rds")].arn
    # AWS reports both sides in milliseconds; keep the snapshot's time equal to the point's.
    created = snapshot.created = snapshot.created.replace(
        microsecond=snapshot.created.microsecond // 1000 * 1000)
    if kind == "db":
        snapshot.original_snapshot_create_time = created
    point = {"RecoveryPointArn": snapshot.arn, "BackupVaultName": vault.backup_vault_name,
             "BackupVaultArn": vault.backup_vault_arn, "ResourceArn": resource.arn,
             "ResourceType": job["ResourceType"], "ResourceName": job["ResourceName"],
             "IamRoleArn": job["IamRoleArn"], "Status": "COMPLETED", "CreationDate": created,
             "InitiationDate": now, "CompletionDate": created, "BackupSizeInBytes": 0,
             "Lifecycle": lifecycle, "CalculatedLifecycle": _delete_at(created, lifecycle) or None,
             "EncryptionKeyArn": key if encrypted else None,
             "EncryptionKeyType": "CUSTOMER_MANAGED_KMS_KEY" if encrypted and key else None,
             "IsEncrypted": encrypted, "VaultType": vault.vault_type, "IsParent": False,
             "kind": kind, "snapshot": snapshot, "origin": snapshot,
             # The database's tags when it was backed up: an RDS restore copies them (aa).
             "ResourceTags": [dict(t) for t in resource.tags or []]}
    vault.recovery_points[snapshot.arn] = point
    job.update(State="COMPLETED", CompletionDate=created, RecoveryPointArn=snapshot.arn,
               EncryptionKeyArn=point["EncryptionKeyArn"], IsEncrypted=encrypted)
    _jobs(self.backup_backend)["backup"][job_id] = job
    _remember(self.backup_backend, "backup", params, job_id)
    return ActionResult({"BackupJobId": job_id, "RecoveryPointArn": snapshot.arn,
                         "CreationDate": now, "IsParent": False})


def describe_backup_job(self):
    job = _jobs(self.backup_backend)["backup"].get(_params(self).get("BackupJobId"))
    if job is None:
        raise _not_found(f"Backup job {_params(self).get('BackupJobId')} not found")
    return ActionResult({k: v for k, v in job.items() if v is not None})


ACCESS_DENIED_COPY = "Access Denied trying to call AWS Backup service"
AWS_MANAGED_KEY_COPY = ("Cross-account copy is not supported for a recovery point encrypted "
                        "with an AWS managed KMS key; use a customer managed key")


def _aws_managed(key_arn):
    """Is `key_arn` an AWS managed key (aws/rds, aws/backup, ...)? AWS copies RDS recovery points
    to another account only when they are encrypted with a customer managed key."""
    match = re.fullmatch(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/(.+)", key_arn or "")
    if not match:
        return False
    region, account, key_id = match.groups()
    key = kms_backends[account][region].keys.get(key_id)
    return key is not None and key.key_manager == "AWS"


def start_copy_job(self):
    """StartCopyJob of an RDS/Aurora recovery point into a vault of this or another account and
    region; the job completes (or fails) at once. Into another account only when the
    destination vault's access policy allows backup:CopyIntoBackupVault to the caller; AWS
    runs the job and fails it ("Access Denied trying to call AWS Backup service")."""
    params, caller = _params(self), self.current_account
    repeated = _repeated(self.backup_backend, "copy", params)
    if repeated is not None:
        return repeated
    source_vault = _vault_for(self, params.get("SourceBackupVaultName"))
    source = source_vault.recovery_points.get(params.get("RecoveryPointArn"))
    if source is None:
        raise _not_found(f"Recovery point {params.get('RecoveryPointArn')} not found in "
                         f"{source_vault.backup_vault_name}")
    match = re.fullmatch(r"arn:aws[a-z-]*:backup:([a-z0-9-]+):(\d{12}):backup-vault:([^:/]+)",
                         params.get("DestinationBackupVaultArn") or "")
    if not match:
        raise _invalid(f"Invalid DestinationBackupVaultArn {params.get('DestinationBackupVaultArn')}")
    dest_region, dest_account, dest_name = match.groups()
    dest_vault = backup_backends[dest_account][dest_region].vaults.get(dest_name)
    if dest_vault is None:
        raise _not_found(f"Backup vault {params['DestinationBackupVaultArn']} not found")
    lifecycle = _validate_lifecycle(params.get("Lifecycle"))
    job_id, now = _new_id(), utcnow()
    job = {"AccountId": caller, "CopyJobId": job_id,
           "SourceBackupVaultArn": source_vault.backup_vault_arn,
           "SourceRecoveryPointArn": source["RecoveryPointArn"],
           "DestinationBackupVaultArn": dest_vault.backup_vault_arn,
           "DestinationVaultType": dest_vault.vault_type,
           "DestinationRecoveryPointLifecycle": lifecycle,
           "ResourceArn": source["ResourceArn"], "ResourceType": source["ResourceType"],
           "ResourceName": source.get("ResourceName"), "IamRoleArn": params.get("IamRoleArn"),
           "CreationDate": now, "BackupSizeInBytes": 0, "IsParent": False}
    jobs = _jobs(self.backup_backend)["copy"]
    refusal = None
    if dest_account != caller and not (
            dest_vault.access_policy
            and _policy_allows_copy(dest_vault.access_policy, dest_vault.backup_vault_arn, caller,
                                params.get("IamRoleArn"))):
        refusal = ACCESS_DENIED_COPY
    if dest_account != caller and _aws_managed(source.get("EncryptionKeyArn")):
        refusal = AWS_MANAGED_KEY_COPY
    refusal = refusal or _lock_refusal(dest_vault, lifecycle)
    if refusal:
        job.update(State="FAILED", StatusMessage=refusal, CompletionDate=now)
        jobs[job_id] = job
        _remember(self.backup_backend, "copy", params, job_id)
        return ActionResult({"CopyJobId": job_id, "CreationDate": now, "IsParent": False})

    air_gapped = dest_vault.vault_type == "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
    key = dest_vault.encryption_key_arn
    if air_gapped:
        # No RDS view (assumed): the copy lives in AWS Backup's own storage.
        arn = (f"arn:{get_partition(dest_region)}:backup:{dest_region}:{dest_account}:"
               f"recovery-point:{_new_id()}")
    else:
        # The snapshot is made from the first backup's (`origin`); `via` is the source point's
        # own snapshot (none when the source is in an air-gapped vault).
        kind, origin, via = source["kind"], source["origin"], source["snapshot"]
        rds = rds_backends[dest_account][dest_region]
        ident = f"awsbackup:copyjob-{job_id}"
        if kind == "db":
            snapshot = DBSnapshot(rds, origin.database, ident, "awsbackup", kms_key_id=key,
                                  original_created_at=origin.original_snapshot_create_time)
            snapshot.storage_encrypted = snapshot.encrypted = True
            if via is not None and (via.account_id, via.region) != (dest_account, dest_region):
                snapshot.source_db_snapshot_identifier = via.arn
            if via is not None and via.region != dest_region:
                snapshot.source_region = via.region
            rds.database_snapshots[ident] = snapshot
        else:
            snapshot = DBClusterSnapshot(rds, origin.cluster, ident, "manual", kms_key_id=key)
            if via is not None:
                snapshot.source_db_cluster_snapshot_arn = via.arn
            rds.cluster_snapshots[ident] = snapshot
        arn = snapshot.arn
    point = {"RecoveryPointArn": arn, "BackupVaultName": dest_vault.backup_vault_name,
             "BackupVaultArn": dest_vault.backup_vault_arn,
             "SourceBackupVaultArn": source_vault.backup_vault_arn,
             "ResourceArn": source["ResourceArn"], "ResourceType": source["ResourceType"],
             "ResourceName": source.get("ResourceName"), "IamRoleArn": params.get("IamRoleArn"),
             "Status": "COMPLETED",
             # AWS: copies keep their source's creation date (the data's time).
             "CreationDate": source["CreationDate"], "InitiationDate": now, "CompletionDate": now,
             "BackupSizeInBytes": 0, "Lifecycle": lifecycle,
             "CalculatedLifecycle": _delete_at(source["CreationDate"], lifecycle) or None,
             "EncryptionKeyArn": key, "EncryptionKeyType": dest_vault.encryption_key_type,
             "IsEncrypted": True, "VaultType": dest_vault.vault_type, "IsParent": False,
             "kind": source["kind"], "snapshot": None if air_gapped else snapshot,
             "origin": source["origin"], "ResourceTags": source.get("ResourceTags")}
    dest_vault.recovery_points[arn] = point
    job.update(State="COMPLETED", CompletionDate=now, DestinationRecoveryPointArn=arn,
               DestinationEncryptionKeyArn=key)
    jobs[job_id] = job
    _remember(self.backup_backend, "copy", params, job_id)
    return ActionResult({"CopyJobId": job_id, "CreationDate": now, "IsParent": False})


def describe_copy_job(self):
    job = _jobs(self.backup_backend)["copy"].get(_params(self).get("CopyJobId"))
    if job is None:
        raise _not_found(f"Copy job {_params(self).get('CopyJobId')} not found")
    return ActionResult({"CopyJob": {k: v for k, v in job.items() if v is not None}})


def list_recovery_points_by_backup_vault(self):
    params = _params(self)
    vault = _vault_for(self, params.get("BackupVaultName"), params.get("BackupVaultAccountId"))
    after, before = _as_utc(params.get("ByCreatedAfter")), _as_utc(params.get("ByCreatedBefore"))
    points = [p for p in list(vault.recovery_points.values())
              if params.get("ByResourceArn") in (None, p["ResourceArn"])
              and params.get("ByResourceType") in (None, p["ResourceType"])
              and (after is None or p["CreationDate"] > after)
              and (before is None or p["CreationDate"] < before)]
    page, token = _page(points, params.get("MaxResults"), params.get("NextToken"),
                        lambda p: p["RecoveryPointArn"])
    result = {"RecoveryPoints": [_recovery_point_view(p) for p in page]}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def describe_recovery_point(self):
    vault = _vault_for(self, _params(self).get("BackupVaultName"),
                       _params(self).get("BackupVaultAccountId"))
    arn = unquote(_params(self).get("RecoveryPointArn"))
    point = vault.recovery_points.get(arn)
    if point is None:
        raise _not_found(f"Recovery point {arn} not found")
    return ActionResult(_recovery_point_view(point))


def create_logically_air_gapped_backup_vault(self):
    """Always compliance-locked (LockDate = creation), MinRetentionDays >= 7, AWS-owned key
    unless EncryptionKeyArn is given. The answer says CREATING; the vault is AVAILABLE from
    then on (as moto's RDS instances are available at once)."""
    params = _params(self)
    name = _params(self).get("BackupVaultName")
    minimum, maximum = params.get("MinRetentionDays"), params.get("MaxRetentionDays")
    if minimum is None or maximum is None:
        raise _backup_error("MissingParameterValueException",
                            "MinRetentionDays and MaxRetentionDays are required")
    if int(minimum) < 7:
        raise _invalid("MinRetentionDays must be at least 7 days for a logically air-gapped vault")
    if int(maximum) > 36500 or int(minimum) > int(maximum):
        raise _invalid("MaxRetentionDays must be at least MinRetentionDays and at most 36500")
    key = params.get("EncryptionKeyArn")
    vault = self.backup_backend.create_backup_vault(
        backup_vault_name=name, backup_vault_tags=params.get("BackupVaultTags"),
        encryption_key_arn=key or "aws-owned", creator_request_id=params.get("CreatorRequestId"))
    vault.vault_type = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
    vault.encryption_key_arn = key
    vault.encryption_key_type = "CUSTOMER_MANAGED_KMS_KEY" if key else "AWS_OWNED_KMS_KEY"
    vault.locked, vault.min_retention_days, vault.max_retention_days = True, int(minimum), int(maximum)
    vault.lock_date = unix_time()
    return ActionResult({"BackupVaultName": name, "BackupVaultArn": vault.backup_vault_arn,
                         "CreationDate": vault.creation_date, "VaultState": "CREATING"})


def describe_backup_vault(self):
    vault = _vault_for(self, _params(self).get("BackupVaultName"),
                       _params(self).get("BackupVaultAccountId"))
    return ActionResult(vault.to_list_dict())


def list_backup_vaults(self):
    """ListBackupVaults with ByVaultType, ByShared (vaults of other accounts shared with the
    caller through RAM) and MaxResults/NextToken."""
    params, caller = _params(self), self.current_account
    if params.get("ByShared"):
        vaults = [v for account, regions in list(backup_backends.items()) if account != caller
                  and self.region in regions
                  for v in list(regions[self.region].vaults.values()) if _shared_with(v, caller)]
    else:
        vaults = list(self.backup_backend.vaults.values())
    if params.get("ByVaultType"):
        vaults = [v for v in vaults if v.vault_type == params["ByVaultType"]]
    page, token = _page(vaults, params.get("MaxResults"), params.get("NextToken"),
                        lambda v: v.backup_vault_arn)
    result = {"BackupVaultList": [v.to_list_dict() for v in page]}
    if token:
        result["NextToken"] = token
    return ActionResult(result)


def delete_backup_vault(self):
    """AWS refuses to delete a vault that still holds recovery points (moto drops it)."""
    name = _params(self).get("BackupVaultName")
    vault = self.backup_backend.vaults.get(name)
    if vault is None:
        raise _not_found(f"Backup vault {name} not found")
    if vault.recovery_points:
        raise _backup_error("InvalidRequestException",
                            "Backup vault cannot be deleted because it contains recovery points")
    self.backup_backend.delete_backup_vault(name)
    return EmptyResult()


def put_backup_vault_access_policy(self):
    vault = _vault_for(self, _params(self).get("BackupVaultName"))
    policy = _params(self).get("Policy")
    try:
        if not isinstance(json.loads(policy), dict):
            raise ValueError
    except (TypeError, ValueError):
        raise _invalid("Policy is not a valid JSON policy document")
    vault.access_policy = policy
    return EmptyResult()


def get_backup_vault_access_policy(self):
    vault = _vault_for(self, _params(self).get("BackupVaultName"))
    if vault.access_policy is None:
        raise _not_found(f"Backup vault {vault.backup_vault_name} has no access policy")
    return ActionResult({"BackupVaultName": vault.backup_vault_name,
                         "BackupVaultArn": vault.backup_vault_arn, "Policy": vault.access_policy})


def delete_backup_vault_access_policy(self):
    _vault_for(self, _params(self).get("BackupVaultName")).access_policy = None
    return EmptyResult()


for _handler in (start_backup_job, describe_backup_job, start_copy_job, describe_copy_job,
                 list_recovery_points_by_backup_vault, describe_recovery_point,
                 create_logically_air_gapped_backup_vault, describe_backup_vault, list_backup_vaults,
                 delete_backup_vault,
                 put_backup_vault_access_policy, get_backup_vault_access_policy,
                 delete_backup_vault_access_policy):
    setattr(BackupResponse, _handler.__name__, _handler)

# (aa)-(ab) Restore jobs: restores.py (kept apart: this file is long enough).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import restores  # noqa: E402

restores.install(sys.modules[__name__])

# Moto's backup app only answers the paths in its url module (the operation is then
# found from botocore's model); add the paths of the operations above.
backup_urls.url_paths.update({
    "{0}/backup-jobs/?$": backup_urls.response.dispatch,
    "{0}/backup-jobs/(?P<id>[^/]+)$": backup_urls.response.dispatch,
    "{0}/copy-jobs/?$": backup_urls.response.dispatch,
    "{0}/copy-jobs/(?P<id>[^/]+)$": backup_urls.response.dispatch,
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$": backup_urls.response.dispatch,
    "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$": backup_urls.response.dispatch,
    "{0}/backup-vaults/(?P<name>[^/]+)/access-policy$": backup_urls.response.dispatch,
    "{0}/logically-air-gapped-backup-vaults/(?P<name>[^/]+)$": backup_urls.response.dispatch,
})


# --- (r)-(w) Step Functions executions --------------------------------------------
# Moto 5.2.5 runs state machines only when its config says so, and then (its "stepfunctions
# parser") calls its own backends through boto3: in the default account whatever the Task's
# `Credentials` say, with boto's parameter names, boto's result names, its own error names and a
# JSONPath that turns `$.X[0].Y` into a one-element list. Each is closed here as AWS documents it.
import botocore.session  # noqa: E402
import boto3  # noqa: E402
from botocore.config import Config as BotoConfig  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from botocore.model import ListShape, MapShape, StructureShape  # noqa: E402
from moto.core.config import default_user_config  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk as _sfn_sdk)
from moto.stepfunctions.parser.asl.utils import json_path as _sfn_json_path  # noqa: E402
from moto.stepfunctions.parser.utils import camel_to_snake_case, snake_to_camel_case  # noqa: E402

# (r) AWS runs every execution: enable moto's executing backend.
# Its interpreter logs the exceptions it handles in the normal course of an execution (a Choice
# reading a path that is absent, ToleratedFailurePercentage being inert) on stderr; the execution's
# history is where failures are reported.
logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
_self_url = {"url": None}  # this server's own URL, set in main()
_botocore = botocore.session.get_session()
_sessions = {}  # role ARN -> (credentials dict, fetched at)


def _sfn_cased(name):
    # AWS's SDK-integration spelling of a member name (Java SDK v2): DBSnapshotIdentifier -> DbSnapshotIdentifier.
    return snake_to_camel_case(camel_to_snake_case(name))


def _role_session(role_arn):
    """(s) Keys of `role_arn`, assumed through this server's STS: they act in the role's account."""
    with _lock:
        cached = _sessions.get(role_arn)
        if cached and time.time() - cached[1] < 600:
            return cached[0]
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=_self_url["url"],
                       aws_access_key_id="ak", aws_secret_access_key="sk")
    keys = sts.assume_role(RoleArn=role_arn, RoleSessionName="states")["Credentials"]
    with _lock:
        _sessions[role_arn] = (keys, time.time())
    return keys


def _operation(service, action):
    model = _botocore.get_service_model(service)
    for name in model.operation_names:
        if name.lower() == action.lower():
            return model.operation_model(name)
    raise ValueError(f"{service} has no action {action}")


def _to_boto(value, shape):
    """(t) A request in AWS's SDK-integration names, as botocore names it. A JSON null is an
    absent member (assumed: AWS does not document it)."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        members = {camel_to_snake_case(k): (k, v) for k, v in shape.members.items()}
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            name, member = members.get(camel_to_snake_case(key), (key, None))
            out[name] = _to_boto(item, member) if member is not None else item
        return out
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_to_boto(v, shape.member) for v in value]
    return value


def _from_boto(value, shape):
    """(t) A result with AWS's SDK-integration names; timestamps as ISO 8601 strings (UTC,
    milliseconds, `Z`: assumed, the format of JSON outputs of the Java SDK's `Instant`)."""
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, dict):
        members = shape.members if isinstance(shape, StructureShape) else {}
        if isinstance(shape, MapShape):
            return {k: _from_boto(v, shape.value) for k, v in value.items()}
        return {_sfn_cased(k) if k in members else k: _from_boto(v, members.get(k))
                for k, v in value.items()}
    if isinstance(value, list):
        member = shape.member if isinstance(shape, ListShape) else None
        return [_from_boto(v, member) for v in value]
    return value


def _sdk_eval_service_task(self, env, resource_runtime_part, normalised_parameters,
                           state_credentials):
    service = self._get_boto_service_name()
    operation = _operation(service, self.resource.api_action)
    # (s) The call is made under the Task's `Credentials` role when it has one, else under the
    # execution role: in that role's account.
    role_arn = (state_credentials.role_arn if state_credentials is not None
                else env.states.context_object.context_object_data["Execution"]["RoleArn"])
    keys = _role_session(role_arn)
    client = boto3.client(
        service, region_name=resource_runtime_part.region, endpoint_url=_self_url["url"],
        aws_access_key_id=keys["AccessKeyId"], aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
        config=BotoConfig(parameter_validation=False,
                          retries={"max_attempts": 0, "total_max_attempts": 1}))
    request = _to_boto(normalised_parameters, operation.input_shape)
    response = getattr(client, camel_to_snake_case(operation.name))(**request) or {}
    response.pop("ResponseMetadata", None)
    env.stack.append(_from_boto(response, operation.output_shape))


def _sdk_exception_name(self, service, ex):
    """(u) `Rds.DbSnapshotAlreadyExistsException`: the service, then the Java SDK's exception class
    (the error shape, `Fault`/`Exception` replaced by `Exception`, in SDK-integration case); an error
    the model does not name is `Rds.RdsException`."""
    prefix = _sfn_cased(service)
    name = ex.__class__.__name__
    if name == "ClientError":
        return f"{prefix}.{prefix}Exception"
    for suffix in ("Exception", "Fault"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return f"{prefix}.{_sfn_cased(name)}Exception"


_sdk_from_error = _sfn_sdk.StateTaskServiceAwsSdk._from_error


def _sdk_from_error_aws(self, env, ex):
    if not isinstance(ex, ClientError):
        return _sdk_from_error(self, env, ex)
    prefix = _sfn_cased(self._get_boto_service_name())
    error = _sdk_exception_name(self, self._get_boto_service_name(), ex)
    meta = ex.response.get("ResponseMetadata", {})
    cause = (f"{ex.response['Error'].get('Message', '')} (Service: {prefix}, Status Code: "
             f"{meta.get('HTTPStatusCode')}, Request ID: {meta.get('RequestId')})")
    return self._get_task_failure_event(env=env, error=error, cause=cause)


_sfn_sdk.StateTaskServiceAwsSdk._eval_service_task = _sdk_eval_service_task
_sfn_sdk.StateTaskServiceAwsSdk._from_error = _sdk_from_error_aws

# (w) ToleratedFailurePercentage is "a number between 0 and 100" (AWS accepts `100`); moto's grammar
# takes only a literal with a fraction (its lexer reads `100` as an integer token): read an integer
# literal there as that number, for parsing only (the stored definition is unchanged).
from moto.stepfunctions.parser.asl.parse import asl_parser as _asl_parser  # noqa: E402

_asl_parse = _asl_parser.AmazonStateLanguageParser.parse
_TOLERATED = re.compile(r'("ToleratedFailurePercentage"\s*:\s*)(-?\d+)(?=\s*[,}])')


def _asl_parse_aws(definition):
    return _asl_parse(_TOLERATED.sub(r"\1\2.0", definition))


_asl_parser.AmazonStateLanguageParser.parse = staticmethod(_asl_parse_aws)

# (v) A definite path (no wildcard, slice, filter, union or descent) selects one value:
# `$.DbSnapshots[0].Status` is the status, not a one-element list.
_extract_json = _sfn_json_path.extract_json
_INDEFINITE = re.compile(r"\.\.|\*|\[[^\]]*[:?,][^\]]*\]")


def _extract_json_aws(path, data):
    if not _INDEFINITE.search(path):
        matches = _sfn_json_path.parse(path).find(data)
        if len(matches) == 1:
            return matches[0].value
    return _extract_json(path, data)


_sfn_json_path.extract_json = _extract_json_aws
import moto.stepfunctions.parser.models  # noqa: E402,F401  (imports every module that binds extract_json)
for _mod in list(sys.modules.values()):
    if getattr(_mod, "__name__", "").startswith("moto.stepfunctions"):
        if getattr(_mod, "extract_json", None) is _extract_json:
            _mod.extract_json = _extract_json_aws

# (ai) An execution's input is at most 262,144 bytes of UTF-8 (Step Functions quotas, "Maximum input
# or output size for a task, state, or execution": it "affects ... input data when ... starting an
# execution"; the API model's `StartExecution.input`: "Maximum length of 262144", "expressed as bytes
# in UTF-8 encoding"). AWS answers a broken length constraint with `ValidationException` ("1
# validation error detected: ... Member must have length less than or equal to N", as moto itself
# does for a name over 80 characters); the value is left out, `input` being sensitive (assumed: AWS
# does not print this message).
from moto.stepfunctions import responses as _sfn_responses  # noqa: E402
from moto.stepfunctions.exceptions import ValidationException as _SfnValidation  # noqa: E402

MAX_EXECUTION_INPUT_BYTES = 262144
_sfn_start_execution = _sfn_responses.StepFunctionResponse.start_execution


def _sfn_start_execution_within_quota(self):
    execution_input = self._get_param("input", if_none="{}")
    if len(execution_input.encode("utf-8")) > MAX_EXECUTION_INPUT_BYTES:
        raise _SfnValidation(
            "1 validation error detected: Value at 'input' failed to satisfy constraint: Member "
            f"must have length less than or equal to {MAX_EXECUTION_INPUT_BYTES}")
    return _sfn_start_execution(self)


_sfn_responses.StepFunctionResponse.start_execution = _sfn_start_execution_within_quota


# --- (x), (y) cross-Region copies in progress, shares: in their own module --------
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import copy_limits  # noqa: E402

# --- Request inspection -------------------------------------------------------
_SIGV4 = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_faults = {}  # id -> fault dict (d)
_fault_ids = itertools.count(1)
_calls = []  # (e)


@functools.lru_cache(maxsize=None)
def _router(service):
    return get_service_router(service)


def _inspect(environ):
    """Buffer the body (moto still reads it afterwards) and describe a signed
    AWS request as service/operation/account/region/protocol; None if unsigned."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    body = stream.read(length) if length else (
        stream.read() if environ.get("wsgi.input_terminated") else b"")
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    query = parse_qs(environ.get("QUERY_STRING", ""))
    # SigV4 header, or the X-Amz-Credential parameter of a presigned URL
    match = _SIGV4.search(environ.get("HTTP_AUTHORIZATION")
                          or "Credential=" + query.get("X-Amz-Credential", [""])[0])
    if not match:
        return None, body
    access_key, region, service = match.groups()
    # The calling account, in the order moto itself uses (core/responses.py,
    # BaseResponse.get_current_account): env var, header, access key.
    account = (os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
               or get_account_id_from(access_key))
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # awsJson protocols: X-Amz-Target: Prefix.Operation
        protocol, operation = "json", target.rsplit(".", 1)[-1]
    else:
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            query.update(parse_qs(body.decode("utf-8", "replace")))
        if "Action" in query:  # query protocol (rds, sts, iam, ...)
            protocol, operation = "query", query["Action"][0]
        else:  # rest-json: ask moto's router, else "METHOD /path"
            protocol = "rest-json"
            try:
                env = dict(environ, **{"wsgi.input": io.BytesIO(body)})
                operation = _router(service).match(MotoRequest(env))[0].name
            except Exception:
                operation = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '/')}"
    return dict(service=service, operation=operation, account_id=account,
                region=region, protocol=protocol, access_key=access_key,
                json_type=environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"), body


def _take_fault(call, body):
    """The first active fault matching this call (its hit counted), or None."""
    with _lock:
        for fault in _faults.values():
            if fault["times"] is not None and fault["hits"] >= fault["times"]:
                continue
            if any(fault[k] is not None and fault[k].lower() != call[k].lower()
                   for k in ("service", "operation", "account_id", "region")):
                continue
            if fault["body_contains"] is not None and fault["body_contains"].encode() not in body:
                continue
            fault["hits"] += 1
            return dict(fault)
    return None


def _fault_response(fault, call):
    """An error shaped like the AWS protocol of the request, so SDKs parse the code."""
    request_id, code, message = str(uuid.uuid4()), fault["code"], fault["message"]
    if call["protocol"] == "query":
        kind = "Sender" if fault["http_status"] < 500 else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        headers = [("Content-Type", "text/xml")]
    else:
        body = json.dumps({"__type": code, "message": message})
        ctype = call["json_type"] if call["protocol"] == "json" else "application/json"
        headers = [("Content-Type", ctype), ("x-amzn-ErrorType", code)]
    return fault["http_status"], headers + [("x-amzn-RequestId", request_id)], body


# --- (o) SigV4 check of REST requests without a body --------------------------------
# Under IAM enforcement moto recomputes each request's signature over an AWSRequest whose body is the
# raw body or, when that is empty, the parsed parameters. For a REST request whose parameters are in
# its path and query string (AWS Backup's `GET /backup-vaults/central/access-policy`,
# `GET /backup-vaults/?maxResults=1000`) that body is the parameters form-encoded, while the client
# signed an empty payload: a valid request is refused with SignatureDoesNotMatch. AWS signs the
# payload as sent: a request without a body signs the empty string.
from moto.iam import access_control as _access_control  # noqa: E402

_aws_request = _access_control.IAMRequestBase._create_aws_request


def _create_aws_request(self):
    if self._body or self._method not in ("GET", "HEAD", "DELETE"):
        return _aws_request(self)
    data, self._data = self._data, {}
    try:
        return _aws_request(self)
    finally:
        self._data = data


_access_control.IAMRequestBase._create_aws_request = _create_aws_request


# --- (h) STS sessions that expire ----------------------------------------------
# Moto never checks a session's Expiration. For the accounts chosen here, a
# request signed with the keys of an STS session (AssumeRole) acting in that
# account is refused once the session has expired, as AWS does. "Now" is the
# account's clock (real time unless moved). A session issued while the
# *caller's* clock is moved back expires early in real time: with the
# management account at -3580 s, AssumeRole hands out 20-second sessions.
_expiry = set()  # account ids whose sessions expire (None: every account)
EXPIRED = "The security token included in the request is expired"


def _expired_session(call):
    """An ExpiredToken error (a fault dict) for a request signed by an expired session, else None."""
    with _lock:
        if not {call["account_id"], None} & _expiry:
            return None
    backend = sts_backends[call["account_id"]][get_partition(call["region"])]
    session = backend.get_assumed_role_from_access_key(call["access_key"])
    if session is None or session.expiration > _real_utcnow() + _offset(call["account_id"]):
        return None
    if call["protocol"] == "query":
        return {"code": "ExpiredToken", "message": EXPIRED, "http_status": 403}
    return {"code": "ExpiredTokenException", "message": EXPIRED, "http_status": 400}


# --- Control routes: /_rdsguard/{clock,faults,calls,expiry,quotas} -------------------------
class BadRequest(Exception):
    pass


# Restore time: account -> seconds its clock jumps after each restore it answers (a restore "takes"
# that long in emulated time: the next answer's Date is that much later).
_restore_time = {}
_RESTORES = ("RestoreDBInstanceFromDBSnapshot", "RestoreDBClusterFromSnapshot", "StartRestoreJob")


def _http_date(account):
    now = _real_utcnow() + _offset(account)
    return now.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _clock_state():
    return {"real_now": _real_utcnow().isoformat() + "Z",
            "default_offset_seconds": _clock[None].total_seconds() if None in _clock else None,
            "accounts": {a: o.total_seconds() for a, o in _clock.items() if a is not None}}


def _control(method, path, query, body):
    """Handle a control request; returns (status, JSON-serialisable object)."""
    filter_account = query.get("account_id", [None])[0]
    with _lock:
        if path == "/_rdsguard/clock":
            if method == "POST":
                account = body.get("account_id")
                if "now" in body:
                    now = datetime.datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
                    if now.tzinfo is not None:
                        now = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
                    _clock[account] = now - _real_utcnow()
                elif "offset_seconds" in body:
                    _clock[account] = datetime.timedelta(seconds=float(body["offset_seconds"]))
                else:
                    raise BadRequest("need offset_seconds or now")
            elif method == "DELETE":
                if "account_id" in query:
                    _clock.pop(filter_account, None)
                else:
                    _clock.clear()
            return 200, _clock_state()
        if path == "/_rdsguard/restore-time":
            if method == "POST":
                _restore_time[body.get("account_id")] = float(body["seconds"])
            elif method == "DELETE":
                _restore_time.clear()
            return 200, {"accounts": {str(a): v for a, v in _restore_time.items()}}
        if path == "/_rdsguard/expiry":
            if method == "POST":
                _expiry.add(body.get("account_id"))
            elif method == "DELETE":
                if "account_id" in query:
                    _expiry.discard(filter_account)
                else:
                    _expiry.clear()
            return 200, {"accounts": sorted(a for a in _expiry if a is not None),
                         "all_accounts": None in _expiry}
        if path == "/_rdsguard/quotas":
            if method == "POST":
                account, region = body.get("account_id"), body.get("region") or "us-east-1"
                if not account:
                    raise BadRequest("account_id is required")
                limits = {k: int(body[k]) for k in _QUOTA_NAMES if body.get(k) is not None}
                if not limits:
                    raise BadRequest("ManualSnapshots or ManualClusterSnapshots is required")
                _quotas.setdefault((str(account), region), {}).update(limits)
            elif method == "DELETE":
                for key in [k for k in _quotas if filter_account in (None, k[0])]:
                    del _quotas[key]
            return 200, {"default": DEFAULT_SNAPSHOT_QUOTA,
                         "quotas": [dict(limits, account_id=a, region=r)
                                    for (a, r), limits in sorted(_quotas.items())]}
        if path == "/_rdsguard/calls":
            if method == "DELETE":
                _calls[:] = [c for c in _calls if filter_account and c["account_id"] != filter_account]
                return 200, {}
            return 200, {"calls": [c for c in _calls
                                   if filter_account in (None, c["account_id"])]}
        if path == "/_rdsguard/faults":
            if method == "POST":
                if not body.get("code") and not body.get("delay_seconds"):
                    raise BadRequest("code (an error to answer) or delay_seconds is required")
                fault = {k: None if body.get(k) is None else str(body[k]) for k in
                         ("service", "operation", "account_id", "region", "body_contains")}
                fault.update(id=next(_fault_ids), code=body.get("code") and str(body["code"]), hits=0, held=0,
                             delay_seconds=float(body.get("delay_seconds") or 0),
                             times=None if body.get("times") is None else int(body["times"]),
                             message=body.get("message") or f"Injected fault {body.get('code')}",
                             http_status=int(body.get("http_status") or 400))
                _faults[fault["id"]] = fault
                return 200, {"id": fault["id"]}
            if method == "DELETE":
                for fid in [i for i, f in _faults.items()
                            if filter_account in (None, f["account_id"])]:
                    del _faults[fid]
                return 200, {}
            return 200, {"faults": list(_faults.values())}
        match = re.fullmatch(r"/_rdsguard/faults/(\d+)", path)
        if match and method == "DELETE":
            found = _faults.pop(int(match.group(1)), None)
            return (200, {}) if found else (404, {"error": "no such fault"})
    answer = copy_limits.control(method, path, query, body)
    if answer is not None:
        return answer
    return 404, {"error": f"no route {method} {path}"}


class Middleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_rdsguard/"):
            return self._control(environ, start_response, path)
        call, body = _inspect(environ)
        if call is None:
            return self.app(environ, start_response)
        with _lock:
            _calls.append({k: call[k] for k in ("service", "operation", "account_id", "region")})
        expired = _expired_session(call)
        if expired is not None:
            status, headers, text = _fault_response(expired, call)
            start_response(f"{status} Expired", headers)
            return [text.encode()]
        fault = _take_fault(call, body)
        if fault is not None and fault["code"]:
            status, headers, text = _fault_response(fault, call)
            start_response(f"{status} Injected", headers)
            return [text.encode()]
        _request.account = call["account_id"]
        account = call["account_id"]

        def dated(status, headers, exc_info=None):
            # AWS's Date is AWS's clock: here the calling account's (rdsguard drill reads it).
            headers = [(k, v) for k, v in headers if k.lower() != "date"]
            headers.append(("Date", _http_date(account)))
            return start_response(status, headers, exc_info)

        try:  # moto builds the whole response inside this call
            response = self.app(environ, dated)
        finally:
            _request.account = None
        if call["operation"] in _RESTORES:
            with _lock:
                seconds = _restore_time.get(account, _restore_time.get(None))
                if seconds:
                    _clock[account] = _clock.get(account, _clock.get(None, datetime.timedelta())) \
                        + datetime.timedelta(seconds=seconds)
        if fault is not None and fault["delay_seconds"] > 0:
            # A delay fault: the request is carried out, but its answer is held back, as when a
            # client dies after AWS accepted its call (tests kill the client in this window, once
            # `held` counts the call: carried out, its answer not yet sent).
            with _lock:
                if fault["id"] in _faults:
                    _faults[fault["id"]]["held"] += 1
            time.sleep(fault["delay_seconds"])
        return response

    def _control(self, environ, start_response, path):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            status, result = _control(environ["REQUEST_METHOD"], path,
                                      parse_qs(environ.get("QUERY_STRING", "")), body)
        except (BadRequest, ValueError, TypeError, AttributeError) as error:
            status, result = 400, {"error": str(error)}
        payload = json.dumps(result).encode()
        # An explicit length (not chunked) so the simplest HTTP client can read the answer.
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(payload)))])
        return [payload]


class QuietHandler(MotoRequestHandler):
    def log_request(self, *args):  # no per-request access log
        pass

    def send_response(self, code, message=None):
        # http.server adds its own Date (the machine's clock); the middleware sets AWS's (the
        # calling account's clock) on AWS answers, so only answers without one get the machine's.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        self._rdsguard_date = True

    def send_header(self, keyword, value):
        if keyword.lower() == "date":
            self._rdsguard_date = False
        super().send_header(keyword, value)

    def end_headers(self):
        if getattr(self, "_rdsguard_date", False):
            super().send_header("Date", self.date_time_string())
            self._rdsguard_date = False
        super().end_headers()


def _wait_for_eof(stop):
    # os.read on the raw fd: a daemon thread blocked in sys.stdin's buffered
    # reader would abort the interpreter at exit ("could not acquire lock").
    try:
        while os.read(0, 65536):
            pass
    except OSError:  # no usable stdin counts as EOF
        pass
    stop.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ignore-stdin", action="store_true",
                        help="do not exit on stdin EOF (for manual runs in the background)")
    args = parser.parse_args()

    app = Middleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    _self_url["url"] = f"http://{args.host}:{server.server_port}"
    print(f"READY {_self_url['url']}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.ignore_stdin:
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    while not stop.wait(0.1):
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
