#!/usr/bin/env python3
"""The demo (`make demo`): start the emulator, seed demo.json, run a real `rdsguard audit` against it.

    .venv/bin/python tests/emulator/demo.py --binary target/debug/rdsguard [--out reports/demo-...]

The reports stay in the run folder; the emulator stops when the demo ends.
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import subprocess
import sys
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from seed import seed  # noqa: E402


def start_launcher():
    proc = subprocess.Popen([sys.executable, str(HERE / "launcher.py"), "--port", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        sys.exit(f"demo: the emulator did not start ({line!r})")
    return proc, line.split(" ", 1)[1]


def emulator_today(endpoint):
    """The emulator's date (its default clock), which the seeded data is placed relative to."""
    with urllib.request.urlopen(endpoint + "/_rdsguard/clock") as response:
        state = json.load(response)
    now = datetime.datetime.fromisoformat(state["real_now"].rstrip("Z"))
    return (now + datetime.timedelta(seconds=state["default_offset_seconds"] or 0)).date()


def fill(rules, accounts, today):
    """The demo rules with `{account:KEY}` and `{date:+Nd}` replaced."""
    rules = re.sub(r"\{account:([a-z0-9-]+)\}", lambda m: accounts[m.group(1)], rules)
    return re.sub(r"\{date:\+(\d+)d\}",
                  lambda m: (today + datetime.timedelta(days=int(m.group(1)))).isoformat(), rules)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="target/debug/rdsguard")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    parser.add_argument("--out", default=f"reports/demo-{stamp}")
    args = parser.parse_args()

    proc, endpoint = start_launcher()
    try:
        print(f"demo: emulator at {endpoint}; seeding the demo organization ...", flush=True)
        org = seed(endpoint, json.loads((HERE / "demo.json").read_text()))
        accounts = org["accounts"]
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        rules = fill((HERE / "demo-rules.toml").read_text(), accounts, emulator_today(endpoint))
        (out / "rules.toml").write_text(rules)
        print(f"demo: organization {org['organization_id']}, management account {org['management_account']}")
        for key, account_id in accounts.items():
            print(f"        {account_id}  {key}")
        creds = org["credentials"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1",
                   AWS_ACCESS_KEY_ID=creds["access_key_id"],
                   AWS_SECRET_ACCESS_KEY=creds["secret_access_key"],
                   AWS_SESSION_TOKEN=creds["session_token"],
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_EC2_METADATA_DISABLED="true")
        command = [args.binary, "audit", "--rules", str(out / "rules.toml"), "--out", str(out)]
        print("demo: running", " ".join(command), "\n", flush=True)
        code = subprocess.run(command, env=env).returncode
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    print()
    if code not in (0, 1):
        sys.exit(f"demo: the audit failed (exit {code})")
    print(f"demo: done. The audit exited {code} ({'findings, as the demo intends' if code == 1 else 'all compliant'}).")
    print(f"demo: open {out}/report.html in a browser (the auditors' report); also in {out}/:")
    print("      findings.json (the record), junit.xml, summary.md, asff.json, inventory.json (what was read), rules.toml")


if __name__ == "__main__":
    main()
