#!/usr/bin/env python3
"""`make bench-peer`: rdsguard vs Cloud Custodian (c7n-org) on the moto emulator, same seeded fleet.

    .venv/bin/python tests/fleetsim/peer.py [--accounts 50] [--instances 10] [--rdsguard PATH]

Starts the emulator (tests/emulator/launcher.py), seeds an organization with tests/emulator/seed.py
(ACCOUNTS member accounts x INSTANCES DB instances in us-east-1, a vault account, one CMK per
account, one snapshot per account shared with and copied to the vault), then runs, one run each:

* `rdsguard audit` with rules for that fleet (management-account credentials from the seeder);
* `c7n-org run` over the same member accounts (assume-role into each, as rdsguard does) with the
  closest policy set Custodian has: every DB instance with its KMS key's aliases (kms-alias filter), every
  snapshot with its `restore` attribute (cross-account filter) and its age.

Custodian comes from PyPI into its own virtualenv (.venv-c7n, created on first use). Both tools
reach the emulator through AWS_ENDPOINT_URL. Prints, last, `bench peer: rdsguard_s=.. custodian_s=..
ratio=X` (ratio = custodian_s / rdsguard_s).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where cargo builds: CARGO_TARGET_DIR (relative paths are relative to the repository), else target/.
TARGET = ROOT / os.environ.get("CARGO_TARGET_DIR", "target")
sys.path.insert(0, str(ROOT / "tests" / "emulator"))
from seed import seed  # noqa: E402

C7N_VENV = ROOT / ".venv-c7n"
C7N_PACKAGES = ["c7n==0.9.53", "c7n-org==0.6.52"]


def ensure_custodian():
    c7n_org = C7N_VENV / "bin" / "c7n-org"
    if not c7n_org.exists():
        print("bench peer: installing Cloud Custodian into .venv-c7n", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(C7N_VENV)], check=True)
        subprocess.run([str(C7N_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        *C7N_PACKAGES], check=True)
    return c7n_org


def start_emulator():
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "emulator" / "launcher.py"), "--port", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"bench peer: the emulator did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


def spec(accounts, instances):
    members = [f"a{i:02d}" for i in range(1, accounts + 1)]
    s = {
        "accounts": [{"key": "vault", "name": "Vault"}] + [{"key": m, "name": f"Workload {m}"} for m in members],
        "keys": [{"key": "vault-key", "account": "vault", "alias": "alias/rds-vault"}],
        "instances": [], "snapshots": [], "copies": [],
    }
    for n, m in enumerate(members):
        s["keys"].append({"key": f"{m}-key", "account": m, "alias": "alias/rds-share", "grant_accounts": ["vault"]})
        for i in range(instances):
            kind = (n + i) % 10
            instance = {"account": m, "id": f"app-{i:02d}", "tags": {"env": "prod", "app": f"app-{i:02d}"},
                        "instance_class": "db.t3.micro", "allocated_storage": 20}
            if kind == 8:
                instance["encrypted"] = False
            elif kind == 9:
                instance["kms_key"] = "aws/rds"
            else:
                instance["kms_key"] = f"{m}-key"
            s["instances"].append(instance)
        s["snapshots"].append({"account": m, "id": "app-00-manual", "instance": "app-00", "at": "-5h",
                               "share_with": ["vault"]})
        s["copies"].append({"from": {"account": m, "snapshot": "app-00-manual"}, "account": "vault",
                            "id": f"{m}-app-00-copy", "kms_key": "vault-key", "at": "-4h"})
    return s


RULES = """[[rule]]
id = "peer-prod"
select = {{ tags = {{ env = "prod" }}, regions = ["us-east-1"] }}
destination = {{ account = "{vault}", region = "same", kms_key = "alias/rds-vault" }}
source_kms_key = "alias/rds-share"
max_age = "26h"
retain = {{ min = 1, max = 14 }}
severity = "high"
"""

POLICY = """policies:
  - name: rds-encryption
    resource: aws.rds
    description: every DB instance, flagged when unencrypted or under the AWS managed key
    filters:
      - or:
          - StorageEncrypted: false
          - type: kms-alias
            key: AliasName
            value: alias/aws/rds
  - name: rds-snapshot-exposure
    resource: aws.rds-snapshot
    description: every snapshot, flagged when shared beyond the vault account
    filters:
      - type: cross-account
        whitelist: ["{vault}"]
  - name: rds-snapshot-age
    resource: aws.rds-snapshot
    description: every snapshot, flagged when older than a day
    filters:
      - type: age
        days: 1
        op: gt
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--rdsguard", default=str(TARGET / "release" / "rdsguard"))
    parser.add_argument("--out", default=str(TARGET / "bench" / f"peer-{time.strftime('%Y%m%dT%H%M%S')}"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    c7n_org = ensure_custodian()

    proc, endpoint = start_emulator()
    try:
        t0 = time.monotonic()
        seeded = seed(endpoint, spec(args.accounts, args.instances))
        print(f"bench peer: seeded {args.accounts} accounts x {args.instances} instances in "
              f"{time.monotonic() - t0:.1f}s at {endpoint}", file=sys.stderr)
        vault = seeded["accounts"]["vault"]
        creds = seeded["credentials"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": creds["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"], "AWS_SESSION_TOKEN": creds["session_token"],
            "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        })
        (out / "rules.toml").write_text(RULES.format(vault=vault))
        members = [seeded["accounts"][k] for k in seeded["accounts"] if k not in ("management",)]
        lines = ["accounts:"]
        for account_id in members:
            lines += [f"  - account_id: \"{account_id}\"", f"    name: acct-{account_id}",
                      f"    role: arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
                      "    regions: [us-east-1]"]
        (out / "accounts.yml").write_text("\n".join(lines) + "\n")
        (out / "policy.yml").write_text(POLICY.format(vault=vault))

        t0 = time.monotonic()
        r = subprocess.run([args.rdsguard, "-q", "audit", "--rules", str(out / "rules.toml"),
                            "--out", str(out / "rdsguard"), "--fail-on", "none"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rdsguard_s = time.monotonic() - t0
        (out / "rdsguard.err").write_text(r.stderr)
        summary = {}
        findings = out / "rdsguard" / "findings.json"
        if findings.exists():
            summary = json.loads(findings.read_text())["summary"]
        print(f"bench peer: rdsguard exit {r.returncode} in {rdsguard_s:.2f}s: {summary}", file=sys.stderr)

        t0 = time.monotonic()
        c = subprocess.run([str(c7n_org), "run", "-c", str(out / "accounts.yml"), "-u", str(out / "policy.yml"),
                            "-s", str(out / "custodian"), "--cache-period", "0"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        custodian_s = time.monotonic() - t0
        (out / "custodian.log").write_text(c.stdout)
        counted = {}
        for resources in (out / "custodian").glob("*/us-east-1/*/resources.json"):
            policy = resources.parent.name
            counted[policy] = counted.get(policy, 0) + len(json.loads(resources.read_text()))
        print(f"bench peer: c7n-org exit {c.returncode} in {custodian_s:.2f}s; flagged per policy: {counted}",
              file=sys.stderr)
        if c.returncode != 0 or r.returncode not in (0, 1, 3):
            print(c.stdout[-3000:], file=sys.stderr)
    finally:
        proc.kill()
    ratio = custodian_s / rdsguard_s if rdsguard_s else 0.0
    print(f"bench peer: rdsguard_s={rdsguard_s:.2f} custodian_s={custodian_s:.2f} ratio={ratio:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
