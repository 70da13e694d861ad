// Evaluates requests against IAM documents with @cloud-copilot/iam-simulate (pinned in package.json,
// installed by `make iam-tools`). Used by tests/integration/iam_offline.rs.
//
// stdin:  {"requests": [{"id", "principal", "action", "resource", "resourceAccount",
//                        "context": {...}, "identityPolicies": {name: document},
//                        "resourcePolicy": document | null}]}
// stdout: [{"id", "result", "ignoredContextKeys", "errors", "decidedBy"}]
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const out = []
for (const r of input.requests) {
  const simulation = {
    identityPolicies: Object.entries(r.identityPolicies).map(([name, policy]) => ({ name, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: {
      action: r.action,
      principal: r.principal,
      resource: { resource: r.resource, accountId: r.resourceAccount },
      contextVariables: r.context ?? {}
    }
  }
  if (r.resourcePolicy) simulation.resourcePolicy = r.resourcePolicy
  const response = await runSimulation(simulation, {})
  const single = response.result ?? {}
  const analysis = single.analysis ?? {}
  const decidedBy = [
    ...(analysis.identityAnalysis?.allowStatements ?? []),
    ...(analysis.resourceAnalysis?.allowStatements ?? [])
  ].map((s) => `${s.policyId}:${s.statement?.Sid ?? '?'}`)
  out.push({
    id: r.id,
    result: response.overallResult ?? 'Error',
    ignoredContextKeys: single.ignoredContextKeys ?? [],
    errors: response.errors ?? single.errors ?? null,
    decidedBy
  })
}
process.stdout.write(JSON.stringify(out, null, 1))
