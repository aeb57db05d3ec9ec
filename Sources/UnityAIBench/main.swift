import Foundation

// unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N]
// unity-ai-bench router [--requests N] [--rounds N]
// unity-ai-bench sigv4 [--requests N] [--rounds N]
// unity-ai-bench tenant-scope [--calls N] [--rounds N]   (DATABASE_URL of a migrated database)
// unity-ai-bench vectors rows N MODEL_ID TENANT_IDS | queries N COUNT | measure DATABASE_URL [--queries N]
//
// Benchmarks that measure the appliance against a baseline in the same run, and print one JSON line each:
// `minilm` (MiniLMBench.swift) against the numpy reference timed by deploy/bench-minilm.sh; `router`
// (RouterBench.swift) against direct calls to the same zero-latency upstream, by deploy/bench-router.sh; `sigv4`
// (SigV4Bench.swift), microseconds per signature, by deploy/bench-backup.sh; `tenant-scope` (TenantScopeBench.swift),
// a request query in the tenant scope against the same query run directly; `vectors` (VectorsBench.swift), the
// synthetic rows deploy/bench-vectors.sh loads and tenant-filtered search latency and recall against exact search.

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("unity-ai-bench: \(message)\n".utf8))
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())

func option(_ name: String, default value: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let parsed = Int(arguments[index + 1]),
        parsed > 0
    else { return value }
    return parsed
}

switch arguments.first {
case "minilm":
    guard arguments.count >= 2 else { fail("usage: unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N]") }
    try await MiniLMBench.run(textsPath: arguments[1], batch: option("--batch", default: 32), rounds: option("--rounds", default: 3))
case "router":
    try await RouterBench.run(requests: option("--requests", default: 2000), rounds: option("--rounds", default: 3))
case "sigv4":
    try SigV4Bench.run(requests: option("--requests", default: 100_000), rounds: option("--rounds", default: 7))
case "tenant-scope":
    try await TenantScopeBench.run(calls: option("--calls", default: 2000), rounds: option("--rounds", default: 7))
case "vectors":
    let usage = "usage: unity-ai-bench vectors rows N MODEL_ID TENANT_IDS | queries N COUNT | measure DATABASE_URL [--queries N]"
    switch arguments.dropFirst().first {
    case "rows":
        guard arguments.count == 5, let rows = Int(arguments[2]), rows > 0, let model = Int(arguments[3]) else { fail(usage) }
        let tenants = arguments[4].split(separator: ",").compactMap { Int($0) }
        guard tenants.count == VectorsLayout.largeTenants + 1 else { fail("TENANT_IDS must list \(VectorsLayout.largeTenants + 1) ids") }
        VectorsLayout.writeEmbeddingRows(rows: rows, modelID: model, tenantIDs: tenants, seed: VectorsLayout.seed)
    case "queries":
        guard arguments.count == 4, let rows = Int(arguments[2]), rows > 0, let count = Int(arguments[3]), count > 0 else { fail(usage) }
        VectorsLayout.writeQueryRows(rows: rows, count: count, seed: VectorsLayout.seed)
    case "measure":
        guard arguments.count >= 3 else { fail(usage) }
        try await VectorsBench.run(url: arguments[2], queryCount: option("--queries", default: 300))
    default:
        fail(usage)
    }
default:
    fail(
        "usage: unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N] | router [--requests N] [--rounds N] "
            + "| sigv4 [--requests N] [--rounds N] | tenant-scope [--calls N] [--rounds N] | vectors rows|queries|measure …")
}
