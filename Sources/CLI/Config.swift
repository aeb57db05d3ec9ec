import ArgumentParser
import Foundation
import Lifecycle
import Routing

/// `unity-ai config check [FILE]`: validates a routing file.
struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the routing configuration.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a routing file (ai_routing.yaml) and show the providers it configures.",
            discussion: "Exit status 0 when valid; 1 with the key and line of the first problem otherwise.")

        @Argument(help: "The file to check (default: --config or UNITY_AI_CONFIG; without either, the environment).")
        var file: String?

        @Option(help: "The routing file (env UNITY_AI_CONFIG).")
        var config: String?

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let path = file ?? config ?? environment["UNITY_AI_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            let configuration = try RoutingFile.loadConfiguration(path: path, environment: environment)
            print(path.map { "\($0): valid." } ?? "No routing file: providers come from the environment.")
            print("default strategy: \(configuration.routing.defaultStrategy)")
            print("embedding model: \(configuration.embeddingModel)")
            for provider in configuration.providers {
                let endpoints = provider.endpoints.map { endpoint in
                    let key = endpoint.apiKey != nil ? "key set" : (endpoint.apiKeyVariable.map { variable in "no key (\(variable) unset)" } ?? "no key")
                    return "\(endpoint.url) [\(key)]"
                }
                print("provider \(provider.name): \(provider.kind.rawValue)\(endpoints.isEmpty ? "" : " — " + endpoints.joined(separator: ", "))")
            }
            print("catalogue: \(configuration.models.count) model(s)")
            for (name, steps) in configuration.strategies.sorted(by: { $0.key < $1.key }) {
                print("strategy \(name): " + steps.map { "\($0.provider)/\($0.model ?? "default")" }.joined(separator: " → "))
            }
            for (task, strategy) in configuration.tasks.sorted(by: { $0.key < $1.key }) { print("task \(task): \(strategy)") }
            for (name, tenant) in configuration.tenants.sorted(by: { $0.key < $1.key }) {
                var facts: [String] = []
                if let strategy = tenant.defaultStrategy { facts.append("strategy \(strategy)") }
                if tenant.privacyMode { facts.append("privacy mode") }
                if let allowed = tenant.allowedProviders { facts.append("providers \(allowed.joined(separator: ", "))") }
                if let limit = tenant.rateLimit { facts.append("rate limit \(limit)") }
                if let daily = tenant.budget?.dailyUSD { facts.append("daily budget \(daily) USD") }
                if let monthly = tenant.budget?.monthlyUSD { facts.append("monthly budget \(monthly) USD") }
                print("tenant \(name): " + (facts.isEmpty ? "defaults" : facts.joined(separator: "; ")))
            }
            let limits = configuration.rateLimits
            print("rate limits: per tenant \(limits.perTenant?.description ?? "none"), per provider \(limits.perProvider?.description ?? "none")")
            let caching = configuration.caching
            print(
                caching.enabled
                    ? "cache: on, \(caching.backend.rawValue), ttl \(Int(caching.timeToLive.components.seconds)) s, \(caching.maximumEntries) entries in memory"
                    : "cache: off")
            for schedule in configuration.effectiveSchedules {
                print("schedule \(schedule.name): \(schedule.kind) at \(schedule.cron)")
            }
            let lifecycle = configuration.lifecycle
            print(
                "lifecycle: models dir \(lifecycle.ollamaModelsDirectory ?? "none (Ollama's API figures)"); "
                    + "max idle \(lifecycle.policy.maxIdleDays.map { "\($0) days" } ?? "none"); "
                    + "disk budget \(lifecycle.policy.diskBudget.map { "\($0) bytes" } ?? "none"); "
                    + "remove orphans \(lifecycle.policy.removeOrphans)")
            let backups = configuration.backups
            // Variable names only: the values are secrets.
            let s3 = backups.s3.map { s3 in
                "\(s3.url) at \(s3.endpoint ?? "AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or AWS"), region \(s3.region ?? "from AWS_REGION or us-east-1"), "
                    + "credentials from \(s3.accessKeyIDVariable.map { "\($0)/\(s3.secretAccessKeyVariable ?? "")" } ?? "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")"
                    + (s3.pathStyle.map { ", path style \($0)" } ?? "")
            }
            let encryption = backups.encryption.map { "AES-256-GCM, key from " + ($0.keyVariable.map { "$\($0)" } ?? $0.keyFile ?? "") }
            print(
                "backups: target \(s3 ?? "<data-dir>/backups"); retention \(backups.retention.description); "
                    + "encryption \(encryption ?? "off")")
            for notice in configuration.notices { print("note: \(notice)") }
        }
    }
}
