import ArgumentParser
import Foundation
import Logging
import Providers
import Storage

/// `unity-ai tenants create|list|delete NAME`.
struct Tenants: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and delete tenants (deleting one deletes all of its data).",
        subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.") var name: String

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.tenants", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let name = self.name
            let created = try await runtime.withDatabase { try await TenantStore(client: $0.client, logger: logger).create(name) }
            print(created ? "Created tenant \(name)." : "Tenant \(name) exists already.")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tenants with their documents and active keys.")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        /// A tenant with the space that answers its questions.
        struct Listed: Encodable {
            var tenant: TenantStore.Tenant
            var embedding: KnowledgeStore.AnsweringSpace?

            func encode(to encoder: any Encoder) throws {
                try tenant.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encodeIfPresent(embedding, forKey: .embedding)
            }

            enum Key: String, CodingKey { case embedding }
        }

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.tenants", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let configuredModel = runtime.embedder.model.name
            let (tenants, spaces) = try await runtime.withDatabase { database in
                (
                    try await TenantStore(client: database.client, logger: logger).list(),
                    try await KnowledgeStore(client: database.client).answeringSpaces(configuredModel: configuredModel, logger: logger)
                )
            }
            let spaceByTenant = Dictionary(spaces.map { ($0.tenant, $0) }, uniquingKeysWith: { first, _ in first })
            let listed = tenants.map { Listed(tenant: $0, embedding: spaceByTenant[$0.name]) }
            if json { return try printJSON(listed) }
            for entry in listed {
                let tenant = entry.tenant
                var line = "\(tenant.name): \(tenant.documents) documents, \(tenant.keys) active keys, created \(isoDate(tenant.createdAt))"
                if let space = entry.embedding {
                    line += "; answered by \(space.model)\(space.isTenantDefault ? "" : " (configured)"), "
                        + "\(space.chunksWithVectors) of \(space.chunks) chunks with its vectors"
                }
                print(line)
            }
            for space in spaces where space.isIncomplete {
                FileHandle.standardError.write(Data("warning: \(space.warning)\n".utf8))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a tenant and all of its data: documents, knowledge items, usage, cached answers, keys.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The tenant's name.") var name: String

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.tenants", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let name = self.name
            let deleted = try await runtime.withDatabase { try await TenantStore(client: $0.client, logger: logger).delete(name) }
            guard deleted else {
                FileHandle.standardError.write(Data("There is no tenant '\(name)'; `unity-ai tenants list` shows them.\n".utf8))
                throw ExitCode.failure
            }
            print("Deleted tenant \(name) and all of its data.")
        }
    }
}

/// `unity-ai keys create|list|revoke`.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke API keys (used when the server runs with --auth keys).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once (only its hash is stored).")
        @OptionGroup var options: CommonOptions
        @Option(help: "The tenant the key acts for (it must exist: `unity-ai tenants create NAME`).") var tenant: String?
        @Flag(help: "An admin key: operator endpoints, any tenant.") var admin = false
        @Flag(help: #"Print {"id", "key", "tenant"} as JSON."#) var json = false

        func validate() throws {
            guard (tenant == nil) == admin else {
                throw ValidationError("Give either --tenant NAME (a tenant's key) or --admin (an operator's key).")
            }
        }

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.keys", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let tenant = self.tenant
            let created = try await runtime.withDatabase { try await APIKeyStore(client: $0.client, logger: logger).create(tenant: tenant) }
            if json { return try printJSON(created) }
            print(created.key)
            FileHandle.standardError.write(Data(
                "Key \(created.id) for \(created.tenant.map { "tenant \($0)" } ?? "operators (admin)"). It is shown only now; store it safely.\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys (ids, never the keys), newest first.")
        @OptionGroup var options: CommonOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.keys", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let keys = try await runtime.withDatabase { try await APIKeyStore(client: $0.client, logger: logger).list() }
            if json { return try printJSON(keys) }
            for key in keys {
                let owner = key.admin ? "admin" : "tenant \(key.tenant ?? "-")"
                let state = key.revokedAt.map { "revoked \(isoDate($0))" } ?? "active"
                let used = key.lastUsedAt.map { ", last used \(isoDate($0))" } ?? ""
                print("\(key.id)  \(owner), created \(isoDate(key.createdAt)), \(state)\(used)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: requests with it fail from now on.")
        @OptionGroup var options: CommonOptions
        @Argument(help: "The key's id, as `unity-ai keys list` shows it.") var id: String

        func run() async throws {
            let logger = try options.makeLogger(label: "unity-ai.keys", defaultLevel: .notice)
            let runtime = try await ApplianceRuntime.prepare(options: options, logger: logger)
            let id = self.id
            try await runtime.withDatabase { try await APIKeyStore(client: $0.client, logger: logger).revoke(id: id) }
            print("Revoked key \(id).")
        }
    }
}
