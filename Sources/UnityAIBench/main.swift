import Foundation

// unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N]
// unity-ai-bench router [--requests N] [--rounds N]
// unity-ai-bench sigv4 [--requests N] [--rounds N]
// unity-ai-bench tenant-scope [--calls N] [--rounds N]   (DATABASE_URL of a migrated database)
//
// Benchmarks that measure the appliance against a baseline in the same run, and print one JSON line each:
// `minilm` (MiniLMBench.swift) against the numpy reference timed by deploy/bench-minilm.sh; `router`
// (RouterBench.swift) against direct calls to the same zero-latency upstream, by deploy/bench-router.sh; `sigv4`
// (SigV4Bench.swift), microseconds per signature, by deploy/bench-backup.sh; `tenant-scope` (TenantScopeBench.swift),
// a request query in the tenant scope against the same query run directly.

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
default:
    fail(
        "usage: unity-ai-bench minilm TEXTS.json [--batch N] [--rounds N] | router [--requests N] [--rounds N] "
            + "| sigv4 [--requests N] [--rounds N] | tenant-scope [--calls N] [--rounds N]")
}
