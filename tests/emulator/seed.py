#!/usr/bin/env python3
"""Build an AWS Organization with RDS resources in the emulator, through the AWS
API only (boto3), from a JSON spec (see README.md).

    .venv/bin/python tests/emulator/seed.py --endpoint URL < spec.json

Prints one JSON object (ids, credentials, ARNs). As a module: seed(endpoint, spec).
"""
import argparse
import contextlib
import json
import random
import re
import sys
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

ROLE = "OrganizationAccountAccessRole"
SPEC_KEYS = {"management_account", "accounts", "keys", "option_groups", "instances", "clusters",
             "read_replicas", "snapshots", "cluster_snapshots", "copies", "backup_vaults", "backups",
             "backup_copies"}
BACKUP_ROLE = "service-role/AWSBackupDefaultServiceRole"
# Databases in a seeded organization have existed this long unless their `at` says otherwise: older
# than any rule's grace period, as in an organization being audited (a test of new databases says so).
DATABASE_AGE = "-90d"
_CONFIG = botocore.config.Config(retries={"total_max_attempts": 1})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SeedError(Exception):
    pass


def _tags(tags):
    return [{"Key": k, "Value": str(v)} for k, v in (tags or {}).items()]


def _offset_seconds(at):
    match = re.fullmatch(r"([+-]?)(\d+)([smhd])", str(at).strip())
    if not match:
        raise SeedError(f"bad time offset {at!r} (want e.g. -30h, -3d, -90m, +1h)")
    sign = -1 if match.group(1) == "-" else 1
    return sign * int(match.group(2)) * _UNITS[match.group(3)]


class Seeder:
    def __init__(self, endpoint, spec):
        unknown = set(spec) - SPEC_KEYS
        if unknown:
            raise SeedError(f"unknown spec keys: {sorted(unknown)}")
        self.endpoint = endpoint.rstrip("/")
        self.spec = spec
        self.mgmt = str(spec.get("management_account") or random.randint(10**11, 10**12 - 1))
        if not re.fullmatch(r"\d{12}", self.mgmt):
            raise SeedError(f"management_account must be 12 digits, got {self.mgmt!r}")
        self.accounts = {"management": self.mgmt}  # spec key -> account id
        self.credentials = {}  # account id -> STS credentials
        self.clients = {}  # (service, account id, region) -> boto3 client
        self.keys = {}  # spec key name -> key ARN
        self.arns = {}  # "ACCOUNTKEY/REGION/ID" -> ARN
        self.snapshots = {}  # (account id, region, id) -> (kind, ARN)
        self.org_id = None
        self.vaults = {}  # "ACCOUNTKEY/REGION/NAME" -> vault ARN
        self.recovery_points = {}  # spec id -> (account id, region, vault name, recovery point ARN)

    # --- plumbing ---------------------------------------------------------
    def client(self, service, account, region="us-east-1"):
        """A (cached) client acting in `account` through OrganizationAccountAccessRole."""
        if account not in self.credentials:
            if account == self.mgmt:  # from moto's default credentials
                sts = boto3.client("sts", region_name="us-east-1", endpoint_url=self.endpoint,
                                   aws_access_key_id="testing", aws_secret_access_key="testing",
                                   config=_CONFIG)
            else:  # from the management account, as in a real organization
                sts = self.client("sts", self.mgmt)
            self.credentials[account] = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ROLE}",
                RoleSessionName="rdsguard-seed", DurationSeconds=43200)["Credentials"]
        if (service, account, region) not in self.clients:
            self.clients[(service, account, region)] = self._client(service, account, region)
        return self.clients[(service, account, region)]

    def _client(self, service, account, region):
        creds = self.credentials[account]
        return boto3.client(service, region_name=region, endpoint_url=self.endpoint,
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], config=_CONFIG)

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            return json.load(response)

    @contextlib.contextmanager
    def clock(self, account, at):
        """Move `account`'s emulator clock by `at` (relative to its current clock)
        for the duration of the block; put the previous setting back afterwards."""
        if at is None:
            yield
            return
        state = self.control("GET", "/_rdsguard/clock")
        previous = state["accounts"].get(account)
        current = previous if previous is not None else (state["default_offset_seconds"] or 0)
        self.control("POST", "/_rdsguard/clock",
                     {"account_id": account, "offset_seconds": current + _offset_seconds(at)})
        try:
            yield
        finally:
            if previous is None:
                self.control("DELETE", f"/_rdsguard/clock?account_id={account}")
            else:
                self.control("POST", "/_rdsguard/clock",
                             {"account_id": account, "offset_seconds": previous})

    def account(self, ref):
        """Account id for a spec reference: a key, "management" or 12 digits."""
        ref = str(ref)
        if ref in self.accounts:
            return self.accounts[ref]
        if re.fullmatch(r"\d{12}", ref):
            return ref
        raise SeedError(f"unknown account {ref!r}")

    def account_key(self, account_id):
        return next((k for k, v in self.accounts.items() if v == account_id), account_id)

    def substitute(self, value):
        """Replace {account:KEY} in every string of a JSON value."""
        if isinstance(value, str):
            return re.sub(r"\{account:([^}]+)\}", lambda m: self.account(m.group(1)), value)
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        return value

    def kms_key_arn(self, ref, account, region):
        """ARN for a key reference: spec key, aws/rds, alias/..., or an ARN."""
        if ref is None:
            return None
        if ref in self.keys:
            return self.keys[ref]
        if ref.startswith("arn:"):
            return ref
        if ref == "aws/rds":
            ref = "alias/aws/rds"
        if ref.startswith("alias/"):  # alias/aws/rds comes into being on first use
            kms = self.client("kms", account, region)
            return kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"]
        raise SeedError(f"unknown kms key {ref!r}")

    def record(self, account, region, ident, arn):
        self.arns[f"{self.account_key(account)}/{region}/{ident}"] = arn

    def share(self, kind, account, region, ident, share_with):
        values = sorted({v if v == "all" else self.account(v) for v in share_with or []})
        if not values:
            return
        rds = self.client("rds", account, region)
        if kind == "snapshot":
            rds.modify_db_snapshot_attribute(DBSnapshotIdentifier=ident, AttributeName="restore",
                                             ValuesToAdd=values)
        else:
            rds.modify_db_cluster_snapshot_attribute(DBClusterSnapshotIdentifier=ident,
                                                     AttributeName="restore", ValuesToAdd=values)

    # --- the spec, section by section ------------------------------------
    def run(self):
        orgs = self.client("organizations", self.mgmt)
        org = orgs.create_organization(FeatureSet="ALL")["Organization"]
        self.org_id = org["Id"]
        for acct in self.spec.get("accounts", []):
            key = acct["key"]
            if key in self.accounts:
                raise SeedError(f"duplicate account key {key!r}")
            status = orgs.create_account(AccountName=acct.get("name", key),
                                         Email=acct.get("email", f"{key}-{self.mgmt}@example.com"))
            self.accounts[key] = status["CreateAccountStatus"]["AccountId"]

        spec = self.substitute({k: v for k, v in self.spec.items() if k != "accounts"})
        for key in spec.get("keys", []):
            self.create_key(key)
        for group in spec.get("option_groups", []):
            self.create_option_group(group)
        for inst in spec.get("instances", []):
            self.create_instance(inst)
        for cluster in spec.get("clusters", []):
            self.create_cluster(cluster)
        for replica in spec.get("read_replicas", []):
            self.create_read_replica(replica)
        for snap in spec.get("snapshots", []):
            self.create_snapshot("snapshot", snap)
        for snap in spec.get("cluster_snapshots", []):
            self.create_snapshot("cluster-snapshot", snap)
        for copy in spec.get("copies", []):
            self.create_copy(copy)
        for vault in spec.get("backup_vaults", []):
            self.create_backup_vault(vault)
        for backup in spec.get("backups", []):
            self.start_backup(backup)
        for copy in spec.get("backup_copies", []):
            self.start_backup_copy(copy)

        creds = self.credentials[self.mgmt]
        return {
            "endpoint": self.endpoint,
            "management_account": self.mgmt,
            "organization_id": org["Id"],
            "accounts": dict(self.accounts),
            "credentials": {"access_key_id": creds["AccessKeyId"],
                            "secret_access_key": creds["SecretAccessKey"],
                            "session_token": creds["SessionToken"]},
            "keys": dict(self.keys),
            "arns": self.arns,
            "backup_vaults": dict(self.vaults),
            "recovery_points": {k: v[3] for k, v in self.recovery_points.items()},
        }

    def create_key(self, spec):
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        grantees = [self.account(a) for a in spec.get("grant_accounts", [])]
        statements = [{"Sid": "OwnerAccount", "Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                       "Action": "kms:*", "Resource": "*"}]
        if grantees:
            statements.append({
                "Sid": "GrantAccounts", "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in grantees]},
                "Action": ["kms:Decrypt", "kms:DescribeKey", "kms:CreateGrant",
                           "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*"})
        kms = self.client("kms", account, region)
        meta = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
                              Description=spec.get("description", spec["key"]),
                              KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT",
                              Tags=[{"TagKey": k, "TagValue": v}
                                    for k, v in spec.get("tags", {}).items()])["KeyMetadata"]
        if spec.get("alias"):
            kms.create_alias(AliasName=spec["alias"], TargetKeyId=meta["KeyId"])
        self.keys[spec["key"]] = meta["Arn"]

    def create_option_group(self, spec):
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        rds = self.client("rds", account, region)
        rds.create_option_group(OptionGroupName=spec["name"], EngineName=spec["engine"],
                                MajorEngineVersion=spec["major_engine_version"],
                                OptionGroupDescription=spec.get("description", spec["name"]))
        if spec.get("options"):
            rds.modify_option_group(OptionGroupName=spec["name"], ApplyImmediately=True,
                                    OptionsToInclude=[{"OptionName": o} for o in spec["options"]])

    def _encryption(self, spec, account, region):
        """StorageEncrypted/KmsKeyId; like AWS, encryption without a key uses aws/rds."""
        if not spec.get("encrypted", spec.get("kms_key") is not None):
            return {}
        return {"StorageEncrypted": True,
                "KmsKeyId": self.kms_key_arn(spec.get("kms_key", "aws/rds"), account, region)}

    def create_instance(self, spec):
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        params = dict(DBInstanceIdentifier=spec["id"], Engine=spec.get("engine", "postgres"),
                      DBInstanceClass=spec.get("instance_class", "db.t3.micro"),
                      MasterUsername="rdsguard", MasterUserPassword="not-a-secret-1",
                      AllocatedStorage=spec.get("allocated_storage", 20), Tags=_tags(spec.get("tags")),
                      **self._encryption(spec, account, region), **spec.get("params", {}))
        with self.clock(account, spec.get("at", DATABASE_AGE)):
            inst = self.client("rds", account, region).create_db_instance(**params)["DBInstance"]
        self.record(account, region, spec["id"], inst["DBInstanceArn"])

    def create_cluster(self, spec):
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        params = dict(DBClusterIdentifier=spec["id"], Engine=spec.get("engine", "aurora-postgresql"),
                      MasterUsername="rdsguard", MasterUserPassword="not-a-secret-1",
                      Tags=_tags(spec.get("tags")), **self._encryption(spec, account, region),
                      **spec.get("params", {}))
        with self.clock(account, spec.get("at", DATABASE_AGE)):
            cluster = self.client("rds", account, region).create_db_cluster(**params)["DBCluster"]
        self.record(account, region, spec["id"], cluster["DBClusterArn"])

    def create_read_replica(self, spec):
        """A read replica of `source`: an instance identifier in the same account and region, or an
        instance ARN (another region of the same account)."""
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        params = dict(DBInstanceIdentifier=spec["id"], SourceDBInstanceIdentifier=spec["source"],
                      Tags=_tags(spec.get("tags")))
        if spec["source"].startswith("arn:"):
            params["SourceRegion"] = spec["source"].split(":")[3]
        with self.clock(account, spec.get("at", DATABASE_AGE)):
            inst = self.client("rds", account, region).create_db_instance_read_replica(
                **params)["DBInstance"]
        self.record(account, region, spec["id"], inst["DBInstanceArn"])

    def create_snapshot(self, kind, spec):
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        rds = self.client("rds", account, region)
        with self.clock(account, spec.get("at")):
            if kind == "snapshot":
                arn = rds.create_db_snapshot(
                    DBInstanceIdentifier=spec["instance"], DBSnapshotIdentifier=spec["id"],
                    Tags=_tags(spec.get("tags")))["DBSnapshot"]["DBSnapshotArn"]
            else:
                arn = rds.create_db_cluster_snapshot(
                    DBClusterIdentifier=spec["cluster"], DBClusterSnapshotIdentifier=spec["id"],
                    Tags=_tags(spec.get("tags")))["DBClusterSnapshot"]["DBClusterSnapshotArn"]
        self.snapshots[(account, region, spec["id"])] = (kind, arn)
        self.record(account, region, spec["id"], arn)
        self.share(kind, account, region, spec["id"], spec.get("share_with"))

    def create_copy(self, spec):
        src = spec["from"]
        src_account, src_region = self.account(src["account"]), src.get("region", "us-east-1")
        try:
            kind, src_arn = self.snapshots[(src_account, src_region, src["snapshot"])]
        except KeyError:
            raise SeedError(f"copy {spec['id']!r}: source {src} is not a snapshot of this spec")
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        if account != src_account:  # the owner shares it with the copying account first
            rds = self.client("rds", src_account, src_region)
            if kind == "snapshot":
                attrs = rds.describe_db_snapshot_attributes(DBSnapshotIdentifier=src["snapshot"])
                attrs = attrs["DBSnapshotAttributesResult"]["DBSnapshotAttributes"]
            else:
                attrs = rds.describe_db_cluster_snapshot_attributes(
                    DBClusterSnapshotIdentifier=src["snapshot"])
                attrs = attrs["DBClusterSnapshotAttributesResult"]["DBClusterSnapshotAttributes"]
            shared = {v for a in attrs if a["AttributeName"] == "restore" for v in a["AttributeValues"]}
            if not shared & {account, "all"}:
                self.share(kind, src_account, src_region, src["snapshot"], [account])
        params = {"Tags": _tags(spec.get("tags"))}
        if spec.get("kms_key"):
            params["KmsKeyId"] = self.kms_key_arn(spec["kms_key"], account, region)
        if region != src_region:
            params["SourceRegion"] = src_region
        if spec.get("option_group"):
            params["OptionGroupName"] = spec["option_group"]
        rds = self.client("rds", account, region)
        with self.clock(account, spec.get("at")):
            if kind == "snapshot":
                arn = rds.copy_db_snapshot(
                    SourceDBSnapshotIdentifier=src_arn, TargetDBSnapshotIdentifier=spec["id"],
                    **params)["DBSnapshot"]["DBSnapshotArn"]
            else:
                arn = rds.copy_db_cluster_snapshot(
                    SourceDBClusterSnapshotIdentifier=src_arn,
                    TargetDBClusterSnapshotIdentifier=spec["id"],
                    **params)["DBClusterSnapshot"]["DBClusterSnapshotArn"]
        self.snapshots[(account, region, spec["id"])] = (kind, arn)
        self.record(account, region, spec["id"], arn)
        self.share(kind, account, region, spec["id"], spec.get("share_with"))


    # --- AWS Backup -------------------------------------------------------
    def vault_arn(self, account, region, name):
        return f"arn:aws:backup:{region}:{account}:backup-vault:{name}"

    def access_policy(self, spec, vault_arn):
        """A vault access policy: a policy document as given, or a list of account references,
        "organization" (this organization, by aws:PrincipalOrgID) and "*" allowed to copy in."""
        if isinstance(spec, dict):
            return json.dumps(spec)
        accounts = [a for a in spec if a not in ("organization", "*")]
        statements = []
        if accounts:
            statements.append({"Sid": "CopyInFromAccounts", "Effect": "Allow",
                               "Principal": {"AWS": [f"arn:aws:iam::{self.account(a)}:root"
                                                     for a in accounts]},
                               "Action": "backup:CopyIntoBackupVault", "Resource": "*"})
        if "organization" in spec:
            statements.append({"Sid": "CopyInFromOrganization", "Effect": "Allow",
                               "Principal": "*", "Action": "backup:CopyIntoBackupVault",
                               "Resource": "*",
                               "Condition": {"StringEquals": {"aws:PrincipalOrgID": self.org_id}}})
        if "*" in spec:
            statements.append({"Sid": "CopyInFromAnyone", "Effect": "Allow", "Principal": "*",
                               "Action": "backup:CopyIntoBackupVault", "Resource": "*"})
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    def create_backup_vault(self, spec):
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        backup = self.client("backup", account, region)
        name, lock = spec["name"], spec.get("lock") or {}
        key = self.kms_key_arn(spec.get("kms_key"), account, region)
        params = {"BackupVaultName": name, "BackupVaultTags": spec.get("tags") or {}}
        if key:
            params["EncryptionKeyArn"] = key
        with self.clock(account, spec.get("at")):
            if spec.get("air_gapped"):
                if "min_retention_days" not in lock or "max_retention_days" not in lock:
                    raise SeedError(f"air-gapped vault {name!r} needs lock.min_retention_days "
                                    "and lock.max_retention_days")
                arn = backup.create_logically_air_gapped_backup_vault(
                    MinRetentionDays=lock["min_retention_days"],
                    MaxRetentionDays=lock["max_retention_days"], **params)["BackupVaultArn"]
            else:
                arn = backup.create_backup_vault(**params)["BackupVaultArn"]
                if lock:  # changeable_for_days: compliance mode, else governance mode
                    backup.put_backup_vault_lock_configuration(BackupVaultName=name, **{
                        k: lock[s] for k, s in (("MinRetentionDays", "min_retention_days"),
                                                ("MaxRetentionDays", "max_retention_days"),
                                                ("ChangeableForDays", "changeable_for_days"))
                        if lock.get(s) is not None})
        if spec.get("access_policy"):
            backup.put_backup_vault_access_policy(
                BackupVaultName=name, Policy=self.access_policy(spec["access_policy"], arn))
        if spec.get("share_with"):  # AWS RAM, as AWS shares logically air-gapped vaults
            if not spec.get("air_gapped"):
                raise SeedError(f"vault {name!r}: share_with needs air_gapped (AWS shares only "
                                "logically air-gapped vaults through RAM)")
            principals = [f"arn:aws:organizations::{self.mgmt}:organization/{self.org_id}"
                          if p == "organization" else self.account(p) for p in spec["share_with"]]
            self.client("ram", account, region).create_resource_share(
                name=f"{name}-share", resourceArns=[arn], principals=principals)
        self.vaults[f"{self.account_key(account)}/{region}/{name}"] = arn

    def _lifecycle(self, spec):
        lifecycle = {}
        if spec.get("delete_after_days") is not None:
            lifecycle["DeleteAfterDays"] = spec["delete_after_days"]
        return {"Lifecycle": lifecycle} if lifecycle else {}

    def _record_point(self, spec, account, region, vault, arn):
        if spec.get("id"):
            if spec["id"] in self.recovery_points:
                raise SeedError(f"duplicate recovery point id {spec['id']!r}")
            self.recovery_points[spec["id"]] = (account, region, vault, arn)

    def start_backup(self, spec):
        """StartBackupJob of an instance or cluster of this spec (or an ARN), as a backup plan
        would run it, from the resource's account."""
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        resource = spec["resource"]
        arn = resource if resource.startswith("arn:") else self.arns.get(
            f"{self.account_key(account)}/{region}/{resource}")
        if arn is None or not re.search(r":(db|cluster):", arn):
            raise SeedError(f"backup: {resource!r} is not an instance or cluster of "
                            f"{spec['account']}/{region} in this spec")
        backup = self.client("backup", account, region)
        with self.clock(account, spec.get("at")):
            job = backup.start_backup_job(
                BackupVaultName=spec["vault"], ResourceArn=arn,
                IamRoleArn=spec.get("iam_role", f"arn:aws:iam::{account}:role/{BACKUP_ROLE}"),
                **self._lifecycle(spec))
        state = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
        if state["State"] != "COMPLETED":
            raise SeedError(f"backup of {resource!r}: {state['State']}: {state.get('StatusMessage')}")
        self._record_point(spec, account, region, spec["vault"], job["RecoveryPointArn"])

    def start_backup_copy(self, spec):
        """StartCopyJob of a recovery point of this spec into a vault, from the point's account."""
        try:
            src_account, src_region, src_vault, src_arn = self.recovery_points[spec["from"]]
        except KeyError:
            raise SeedError(f"backup copy: {spec['from']!r} is not a backup or copy id of this spec")
        account, region = self.account(spec["account"]), spec.get("region", "us-east-1")
        backup = self.client("backup", src_account, src_region)
        with self.clock(src_account, spec.get("at")):
            job = backup.start_copy_job(
                RecoveryPointArn=src_arn, SourceBackupVaultName=src_vault,
                DestinationBackupVaultArn=self.vault_arn(account, region, spec["vault"]),
                IamRoleArn=spec.get("iam_role", f"arn:aws:iam::{src_account}:role/{BACKUP_ROLE}"),
                **self._lifecycle(spec))
        state = backup.describe_copy_job(CopyJobId=job["CopyJobId"])["CopyJob"]
        if state["State"] != "COMPLETED":
            raise SeedError(f"backup copy of {spec['from']!r}: {state['State']}: "
                            f"{state.get('StatusMessage')}")
        self._record_point(spec, account, region, spec["vault"], state["DestinationRecoveryPointArn"])


def seed(endpoint, spec):
    """Build the organization described by `spec`; returns the output object."""
    result = Seeder(endpoint, spec).run()
    # Also key each ARN by its bare id when that id is unique in this seed.
    bare = {}
    for key, arn in result["arns"].items():
        bare.setdefault(key.rsplit("/", 1)[1], []).append(arn)
    result["arns"].update({i: arns[0] for i, arns in bare.items() if len(arns) == 1})
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="the launcher's URL")
    args = parser.parse_args()
    try:
        spec = json.load(sys.stdin)
        if not isinstance(spec, dict):
            raise SeedError("the spec must be a JSON object")
        print(json.dumps(seed(args.endpoint, spec), indent=2))
    except json.JSONDecodeError as error:
        sys.exit(f"seed: spec is not valid JSON: {error}")
    except (SeedError, KeyError) as error:
        sys.exit(f"seed: {error if isinstance(error, SeedError) else f'missing field {error}'}")
    except botocore.exceptions.ClientError as error:
        sys.exit(f"seed: AWS error: {error}")
    except (OSError, botocore.exceptions.BotoCoreError) as error:
        sys.exit(f"seed: cannot talk to the emulator at {args.endpoint}: {error}")


if __name__ == "__main__":
    main()
