"""Lints IAM documents with parliament (pinned in tests/iam/requirements.txt).

Reads {"name": document, ...} on stdin; prints {"name": [{"issue", "severity", "title", "detail", "actions"}, ...]}.
Used by tests/integration/iam_offline.rs; a trust policy is linted as a resource policy.
"""

import json
import sys

from parliament import analyze_policy_string


def main():
    documents = json.load(sys.stdin)
    out = {}
    for name, document in documents.items():
        policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
        out[name] = [
            {
                "issue": f.issue,
                "severity": f.severity,
                "title": f.title,
                "detail": str(f.detail),
                "actions": sorted((f.location or {}).get("actions") or []),
            }
            for f in policy.findings
        ]
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
