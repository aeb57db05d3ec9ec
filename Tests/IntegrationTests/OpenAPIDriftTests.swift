import Backup
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Retrieval
import Routing
@testable import Server
import Storage
import Testing
import Yams

/// `docs/openapi.yaml` cannot drift from the code: these tests fail, naming the route, field or status and the side
/// it is missing from, when
/// - a (method, path) the router registers is not in the spec, or the spec has one the router does not;
/// - a request body's fields (the `Decodable` types' `CodingKeys`) differ from the spec's schema properties, or the
///   spec's example body does not decode;
/// - the server answers a request with a status (or a content type) the spec does not list for that operation, a
///   success body has fields the spec does not describe (or lacks required ones), or a response lacks a header the
///   spec marks `required`.
/// The requests are generated from the spec itself (its examples, required fields, property types, parameters and
/// security), so a new operation is probed as soon as it is described.
@Suite struct OpenAPIDriftTests {
    // MARK: The request body types

    typealias Context = BasicRequestContext

    /// Each operation that reads a JSON body: the field names its `Decodable` types accept, per location in the body
    /// (`""` the top level, `messages[]` the items of `messages`), and how the server decodes it. A new endpoint
    /// with a body needs an entry here (the tests say so).
    static let requestBodies: [String: (fields: [String: Set<String>], decode: @Sendable (Data) throws -> Void)] = [
        "POST /api/rag/chat": (
            [
                "": keys(ChatController<Context>.ChatBody.CodingKeys.self),
                "requirements": keys(RoutingOptions.Requirements.CodingKeys.self),
            ],
            { _ = try JSONBody.decode(ChatController<Context>.ChatBody.self, from: $0) }
        ),
        "POST /api/rag/ask": (
            ["": keys(AskController<Context>.AskRequest.CodingKeys.self)],
            { _ = try JSONBody.decode(AskController<Context>.AskRequest.self, from: $0) }
        ),
        "POST /api/ai/chat": (
            [
                "": keys(AIController<Context>.ChatBody.CodingKeys.self).union(keys(RoutingOptions.CodingKeys.self)),
                "messages[]": keys(AIController<Context>.ChatBody.Message.CodingKeys.self),
                "requirements": keys(RoutingOptions.Requirements.CodingKeys.self),
            ],
            {
                _ = try JSONBody.decode(AIController<Context>.ChatBody.self, from: $0)
                _ = try JSONBody.decode(RoutingOptions.self, from: $0)
            }
        ),
        "POST /api/ai/generate": (
            [
                "": keys(AIController<Context>.GenerateBody.CodingKeys.self).union(keys(RoutingOptions.CodingKeys.self)),
                "requirements": keys(RoutingOptions.Requirements.CodingKeys.self),
            ],
            {
                _ = try JSONBody.decode(AIController<Context>.GenerateBody.self, from: $0)
                _ = try JSONBody.decode(RoutingOptions.self, from: $0)
            }
        ),
        "POST /v1/chat/completions": (
            [
                "": keys(OpenAIWire.ChatCompletionRequest.CodingKeys.self).union(keys(RoutingOptions.CodingKeys.self)),
                "messages[]": keys(OpenAIWire.ChatCompletionRequest.Message.CodingKeys.self),
                "stream_options": keys(OpenAIWire.ChatCompletionRequest.StreamOptions.CodingKeys.self),
                "requirements": keys(RoutingOptions.Requirements.CodingKeys.self),
            ],
            {
                _ = try JSONBody.decode(OpenAIWire.ChatCompletionRequest.self, from: $0)
                _ = try JSONBody.decode(RoutingOptions.self, from: $0)
            }
        ),
        "POST /v1/embeddings": (
            [
                "": keys(OpenAIWire.EmbeddingsRequest.CodingKeys.self).union(keys(RoutingOptions.CodingKeys.self)),
                "requirements": keys(RoutingOptions.Requirements.CodingKeys.self),
            ],
            {
                _ = try JSONBody.decode(OpenAIWire.EmbeddingsRequest.self, from: $0)
                _ = try JSONBody.decode(RoutingOptions.self, from: $0)
            }
        ),
        "POST /api/models/cleanup": (
            ["": keys(ModelsController<Context>.CleanupBody.CodingKeys.self)],
            { _ = try JSONBody.decode(ModelsController<Context>.CleanupBody.self, from: $0) }
        ),
    ]

    static func keys<Key: CodingKey & CaseIterable>(_ type: Key.Type) -> Set<String> {
        Set(Key.allCases.map(\.stringValue))
    }

    // MARK: Tests

    @Test func theBundledDescriptionIsDocsOpenAPIYAML() throws {
        let docs = try Data(contentsOf: OpenAPISpec.docsURL)
        let resource = OpenAPISpec.repository.appendingPathComponent("Sources/Server/Resources/openapi.yaml")
        #expect(
            try Data(contentsOf: resource) == docs,
            "Sources/Server/Resources/openapi.yaml differs from docs/openapi.yaml: edit docs/openapi.yaml, then run `cp docs/openapi.yaml Sources/Server/Resources/openapi.yaml`.")
        let served = try #require(APIDescription.document, "The Server target's resource bundle has no openapi.yaml.")
        #expect(Data(served.readableBytesView) == docs, "The bundled openapi.yaml is stale: rebuild.")
    }

    @Test func requestBodyFieldsMatchTheCode() throws {
        let spec = try OpenAPISpec.load()
        let described = Set(spec.operations.filter { spec.requestSchema(of: $0.value) != nil }.map(\.key))
        for missing in described.subtracting(Self.requestBodies.keys).sorted() {
            Issue.record("\(missing) has a JSON request body in docs/openapi.yaml but no Decodable type in OpenAPIDriftTests.requestBodies.")
        }
        for extra in Set(Self.requestBodies.keys).subtracting(described).sorted() {
            Issue.record("\(extra) decodes a JSON request body in the code but docs/openapi.yaml describes none for it.")
        }
        for (operation, body) in Self.requestBodies.sorted(by: { $0.key < $1.key }) {
            guard let schema = spec.operations[operation].flatMap(spec.requestSchema(of:)) else { continue }
            for (location, codeFields) in body.fields.sorted(by: { $0.key < $1.key }) {
                guard let located = spec.schema(schema, at: location) else {
                    Issue.record("\(operation): docs/openapi.yaml's request schema has no '\(location)'.")
                    continue
                }
                let specFields = Set(spec.properties(of: located).keys)
                let at = location.isEmpty ? "" : " in '\(location)'"
                for field in codeFields.subtracting(specFields).sorted() {
                    Issue.record("\(operation): the code accepts the request field '\(field)'\(at); docs/openapi.yaml does not describe it.")
                }
                for field in specFields.subtracting(codeFields).sorted() {
                    Issue.record("\(operation): docs/openapi.yaml describes the request field '\(field)'\(at); the code does not read it.")
                }
            }
            // The example names every top-level property and decodes with the code's types (so types agree).
            guard let example = spec.requestExample(of: spec.operations[operation] ?? [:]) as? [String: Any] else {
                Issue.record("\(operation): docs/openapi.yaml gives no object `example` for the request body.")
                continue
            }
            for field in Set(spec.properties(of: schema).keys).subtracting(example.keys).sorted() {
                Issue.record("\(operation): the request example in docs/openapi.yaml lacks '\(field)' (it must show every field).")
            }
            do {
                try body.decode(try JSONSerialization.data(withJSONObject: example))
            } catch {
                Issue.record("\(operation): the code cannot decode docs/openapi.yaml's request example: \(error)")
            }
        }
    }

    @Test func everyRouteIsDescribedAndEveryDescribedRouteExists() async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let spec = try OpenAPISpec.load()
            let routes = RouteTable()
            _ = buildRouter(
                configuration: ServerConfiguration(), dependencies: Self.dependencies(database, ask: Appliance(client: database).askService),
                routes: routes)
            let code = Set(routes.routes.map { "\($0.method) \(OpenAPISpec.normalised($0.path))" })
            let described = Set(spec.operations.keys)
            for route in code.subtracting(described).sorted() {
                Issue.record("The server registers \(route); docs/openapi.yaml does not describe it.")
            }
            for route in described.subtracting(code).sorted() {
                Issue.record("docs/openapi.yaml describes \(route); the server registers no such route.")
            }
            #expect(!code.isEmpty)
        }
    }

    @Test func everyStatusWithoutKeysIsDocumented() async throws {
        try await withApp(authentication: AuthenticationMode.none) { client, _ in
            let spec = try OpenAPISpec.load()
            var probes = 0
            for (operation, description) in spec.operations.sorted(by: { $0.key < $1.key }) {
                for probe in spec.probes(for: operation, description) {
                    try await check(probe, operation: operation, description, spec: spec, client: client)
                    probes += 1
                }
            }
            #expect(probes > spec.operations.count)

            // The description served is the file.
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.headers[.contentType]?.hasPrefix("application/yaml") == true)
                #expect(Data(response.body.readableBytesView) == (try? Data(contentsOf: OpenAPISpec.docsURL)))
            }
        }
    }

    @Test func everyStatusWithKeysIsDocumented() async throws {
        try await withApp(authentication: .keys) { client, keys in
            let spec = try OpenAPISpec.load()
            for (operation, description) in spec.operations.sorted(by: { $0.key < $1.key }) {
                let open = spec.isOpen(description)
                let operatorOnly = description["x-operator-only"] as? Bool == true
                for probe in spec.probes(for: operation, description).prefix(2) {
                    // No key: 401 unless the operation is open.
                    let anonymous = try await check(probe, operation: operation, description, spec: spec, client: client).status
                    #expect(
                        open ? anonymous != 401 : anonymous == 401,
                        "\(operation) without a key answered \(anonymous); docs/openapi.yaml says it is \(open ? "open (`security: []`)" : "behind the API key")")
                    // A tenant key: 403 `forbidden` exactly on the operator endpoints (the full example names tenant
                    // `default`, another tenant's, so it may also be 403 `forbidden_tenant`).
                    var tenant = probe
                    tenant.key = keys.alpha
                    let asTenant = try await check(tenant, operation: operation, description, spec: spec, client: client)
                    if !open {
                        #expect(
                            operatorOnly == (asTenant.status == 403 && asTenant.code == "forbidden"),
                            "\(operation) with a tenant key answered \(asTenant.status) \(asTenant.code ?? ""); docs/openapi.yaml marks it \(operatorOnly ? "" : "not ")`x-operator-only`")
                    }
                    var admin = probe
                    admin.key = keys.admin
                    let asAdmin = try await check(admin, operation: operation, description, spec: spec, client: client).status
                    #expect(asAdmin != 401 && asAdmin != 403, "\(operation) with an admin key answered \(asAdmin)")
                }
                // A tenant key naming another tenant (header, body, query): 403 where the operation takes a tenant.
                guard !open, !operatorOnly else { continue }
                var other = spec.probes(for: operation, description)[0]
                other.key = keys.alpha
                if spec.takesTenantQuery(description) {
                    other.uri += (other.uri.contains("?") ? "&" : "?") + "tenant=beta"
                } else {
                    other.headers[RequestTenant.header] = "beta"
                }
                let answer = try await check(other, operation: operation, description, spec: spec, client: client)
                #expect(
                    answer.code == "forbidden_tenant" || !spec.takesTenant(description),
                    "\(operation) with alpha's key naming tenant beta answered \(answer.status) \(answer.code ?? ""), not 403 forbidden_tenant")
            }
        }
    }

    // MARK: Helpers

    struct Keys: Sendable {
        var alpha: String
        var admin: String
    }

    static func dependencies(_ database: Database, ask: AskService) -> ServerDependencies {
        ApplianceRouter(client: database, configuration: RoutingConfiguration()).dependencies(ask: ask)
    }

    /// An app over a database with tenants `alpha` and `beta` (each with a document) and `default`, with backups to a
    /// local directory (so that `/api/backups*` answer as on a server that offers them, not 501), and two
    /// conversations of `default`'s: one answered by `POST /api/rag/chat`'s service (so that the list and the
    /// export have a real one to describe), and a copy under the spec's example conversation id (so that the
    /// `{id}` probes find it).
    func withApp(
        authentication: AuthenticationMode, _ body: @Sendable (any TestClientProtocol, Keys) async throws -> Void
    ) async throws {
        try await TestDatabase.withFreshDatabase { database, _ in
            let appliance = Appliance(client: database)
            try await TenancyTests.twoTenants(appliance)
            let directory = try TemporaryDirectory()
            defer { directory.delete() }
            try directory.write(IngestIntegrationTests.backups, to: "backups.md")
            _ = try await appliance.ingest([directory.path])
            try await Self.seedConversations(appliance)
            let store = APIKeyStore(client: database, logger: TestDatabase.logger)
            let keys = Keys(alpha: try await store.create(tenant: "alpha").key, admin: try await store.create(tenant: nil).key)
            var dependencies = Self.dependencies(database, ask: appliance.askService)
            dependencies.authenticateKey = { try await store.authenticate($0) }
            let backupDirectory = try TemporaryDirectory()
            defer { backupDirectory.delete() }
            let target = try LocalBackupTarget(directory: backupDirectory.path)
            let makeBackups: @Sendable () throws -> BackupService = {
                BackupService(database: database, target: target, logger: TestDatabase.logger)
            }
            let runner = BackupRunner(make: makeBackups, logger: TestDatabase.logger)
            dependencies.backups = .init(service: makeBackups, runner: runner)
            dependencies.services.append(runner)
            var configuration = ServerConfiguration()
            configuration.authentication = authentication
            let app = buildApplication(configuration: configuration, dependencies: dependencies, logger: TestDatabase.logger)
            try await app.test(.router) { client in try await body(client, keys) }
        }
    }

    static func seedConversations(_ appliance: Appliance) async throws {
        let chat = ChatService(ask: appliance.askService)
        _ = try await chat.reply(.init(conversationID: nil, message: "How long is a backup kept?", tenant: "default", topK: 3))
        var lines: [String] = []
        try await chat.archive.export(tenant: "default") { lines.append($0) }
        let line = try #require(lines.first, "The conversation just answered is not in the export.")
        var record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let parameters = try OpenAPISpec.load().root["components"].flatMap { ($0 as? [String: Any])?["parameters"] as? [String: Any] }
        let example = try #require(
            (parameters?["ConversationID"] as? [String: Any])?["example"] as? String,
            "docs/openapi.yaml has no components.parameters.ConversationID.example.")
        record["id"] = example
        record["messages"] = (record["messages"] as? [[String: Any]] ?? []).map { message in
            message.merging(["id": UUID().uuidString.lowercased()]) { _, new in new }
        }
        let report = try await chat.archive.importLines(try JSONSerialization.data(withJSONObject: record))
        #expect(report.imported == 1, "The conversation with the example id was not imported: \(report)")
    }

    /// A response's status and, for an error, its `error.code`.
    struct Answer {
        var status: Int
        var code: String?
    }

    /// Sends `probe` and records an issue for a status, content type or success body the spec does not describe.
    @discardableResult
    func check(
        _ probe: OpenAPISpec.Probe, operation: String, _ description: [String: Any], spec: OpenAPISpec,
        client: some TestClientProtocol
    ) async throws -> Answer {
        var headers = probe.headers
        if probe.body != nil { headers[.contentType] = "application/json" }
        if let key = probe.key { headers[.authorization] = "Bearer \(key)" }
        let (status, responseHeaders, body) = try await client.execute(
            uri: probe.uri, method: probe.method, headers: headers, body: probe.body.map { ByteBuffer(bytes: $0) }
        ) { ($0.status.code, $0.headers, Data($0.body.readableBytesView)) }
        let contentType = responseHeaders[.contentType] ?? ""
        let what = "\(operation) (\(probe.name))"
        let code = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])
            .flatMap { $0["error"] as? [String: Any] }?["code"] as? String
        let answer = Answer(status: status, code: code)
        let documented = spec.responses(of: description)
        guard let response = documented["\(status)"] as? [String: Any] else {
            Issue.record(
                "\(what) answered \(status) (\(String(decoding: body.prefix(300), as: UTF8.self))); docs/openapi.yaml lists only \(documented.keys.sorted().joined(separator: ", ")) for it.")
            return answer
        }
        if probe.expectFailure, status < 400 {
            Issue.record("\(what) answered \(status); a request docs/openapi.yaml calls invalid must fail.")
        }
        for (name, header) in response["headers"] as? [String: Any] ?? [:] where spec.resolve(header)["required"] as? Bool == true {
            if let field = HTTPField.Name(name), responseHeaders[field] == nil {
                Issue.record("\(what) answered \(status) without the header '\(name)' that docs/openapi.yaml marks required.")
            }
        }
        let content = spec.resolve(response)["content"] as? [String: Any] ?? [:]
        if content.isEmpty {
            // The spec describes no body (a 204, say): there must be none.
            if !body.isEmpty {
                Issue.record("\(what) answered \(status) with a \(body.count)-byte body; docs/openapi.yaml describes none.")
            }
            return answer
        }
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard let media = content[mediaType] as? [String: Any] else {
            Issue.record("\(what) answered \(status) as '\(mediaType)'; docs/openapi.yaml lists \(content.keys.sorted()) for it.")
            return answer
        }
        if mediaType == "application/x-ndjson", let itemSchema = media["x-itemSchema"] {
            // JSON Lines: each line against `x-itemSchema` (OpenAPI 3.2's `itemSchema`).
            let lines = body.split(separator: UInt8(ascii: "\n"))
            for (index, line) in lines.prefix(5).enumerated() {
                guard let value = try? JSONSerialization.jsonObject(with: Data(line)) else {
                    Issue.record("\(what) answered \(status): line \(index + 1) is not JSON.")
                    continue
                }
                for problem in spec.mismatches(value, schema: itemSchema, at: "line \(index + 1)").prefix(10) {
                    Issue.record("\(what) answered \(status): \(problem)")
                }
            }
        }
        if mediaType == "application/json", let schema = media["schema"] {
            do {
                let value = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
                for problem in spec.mismatches(value, schema: schema, at: "body").prefix(10) {
                    Issue.record("\(what) answered \(status): \(problem)")
                }
            } catch {
                Issue.record("\(what) answered \(status) with a body that is not JSON.")
            }
        }
        return answer
    }
}

/// `docs/openapi.yaml`, parsed with Yams, and what the drift tests ask of it.
struct OpenAPISpec {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let docsURL = repository.appendingPathComponent("docs/openapi.yaml")
    static let methods = ["get", "put", "post", "delete", "patch", "head", "options"]

    let root: [String: Any]
    /// `"METHOD /path/{param}"` → the operation object.
    let operations: [String: [String: Any]]

    static func load() throws -> OpenAPISpec {
        let text = try String(contentsOf: docsURL, encoding: .utf8)
        guard let root = plain(try Yams.load(yaml: text)) as? [String: Any] else {
            throw SpecError(message: "docs/openapi.yaml is not a YAML mapping.")
        }
        var operations: [String: [String: Any]] = [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] where methods.contains(method) {
                operations["\(method.uppercased()) \(normalised(path))"] = operation as? [String: Any] ?? [:]
            }
        }
        return OpenAPISpec(root: root, operations: operations)
    }

    struct SpecError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Yams' mappings (`[AnyHashable: Any]`) as `[String: Any]`, recursively, so that JSONSerialization takes them.
    static func plain(_ value: Any?) -> Any {
        guard let value else { return NSNull() }
        switch value {
        case let mapping as [AnyHashable: Any]:
            return Dictionary(uniqueKeysWithValues: mapping.map { ("\($0.key)", plain($0.value)) })
        case let mapping as [String: Any]:
            return mapping.mapValues { plain($0) }
        case let list as [Any]:
            return list.map { plain($0) }
        default:
            return value
        }
    }

    /// `:name` (Hummingbird) and `{name}` (OpenAPI) path parameters written alike.
    static func normalised(_ path: String) -> String {
        "/" + path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }

    /// `schema` with its `$ref`s followed.
    func resolve(_ schema: Any) -> [String: Any] {
        guard var object = schema as? [String: Any] else { return [:] }
        var seen = 0
        while let reference = object["$ref"] as? String, reference.hasPrefix("#/"), seen < 16 {
            var target: Any = root
            for part in reference.dropFirst(2).split(separator: "/") { target = (target as? [String: Any])?[String(part)] ?? [String: Any]() }
            var resolved = target as? [String: Any] ?? [:]
            // Siblings of `$ref` (a description, say) stay.
            for (key, value) in object where key != "$ref" { resolved[key] = value }
            object = resolved
            seen += 1
        }
        return object
    }

    /// An object schema's properties, `allOf` parts merged.
    func properties(of schema: Any) -> [String: Any] {
        let object = resolve(schema)
        var properties = object["properties"] as? [String: Any] ?? [:]
        for part in object["allOf"] as? [Any] ?? [] { properties.merge(self.properties(of: part)) { first, _ in first } }
        return properties
    }

    func required(of schema: Any) -> Set<String> {
        let object = resolve(schema)
        var required = Set(object["required"] as? [String] ?? [])
        for part in object["allOf"] as? [Any] ?? [] { required.formUnion(self.required(of: part)) }
        return required
    }

    /// The schema at `location` inside `schema`: `""`, `field`, `field[]` (its items), dotted.
    func schema(_ schema: Any, at location: String) -> Any? {
        var current: Any = schema
        for part in location.split(separator: ".") {
            let items = part.hasSuffix("[]")
            guard let property = properties(of: current)[String(items ? part.dropLast(2) : part)] else { return nil }
            current = property
            if items {
                guard let element = resolve(current)["items"] else { return nil }
                current = element
            }
        }
        return current
    }

    func requestMedia(of operation: [String: Any]) -> [String: Any]? {
        let body = resolve(operation["requestBody"] ?? [:])
        return (body["content"] as? [String: Any])?["application/json"] as? [String: Any]
    }

    func requestSchema(of operation: [String: Any]) -> Any? { requestMedia(of: operation)?["schema"] }

    func requestExample(of operation: [String: Any]) -> Any? { requestMedia(of: operation)?["example"] }

    func responses(of operation: [String: Any]) -> [String: Any] {
        (operation["responses"] as? [String: Any] ?? [:]).mapValues { resolve($0) }
    }

    /// Whether the operation needs no key (`security: []`).
    func isOpen(_ operation: [String: Any]) -> Bool {
        guard let security = operation["security"] as? [Any] else { return (root["security"] as? [Any])?.isEmpty ?? true }
        return security.isEmpty
    }

    /// Whether the operation takes a tenant (a body field or query parameter `tenant`).
    func takesTenant(_ operation: [String: Any]) -> Bool {
        if let schema = requestSchema(of: operation), properties(of: schema)["tenant"] != nil { return true }
        return takesTenantQuery(operation)
    }

    func takesTenantQuery(_ operation: [String: Any]) -> Bool {
        (operation["parameters"] as? [Any] ?? []).contains { (resolve($0)["name"] as? String) == "tenant" }
    }

    // MARK: Probes

    /// A request to send, and whether the spec calls it invalid.
    struct Probe: Sendable {
        var name: String
        var method: HTTPRequest.Method
        var uri: String
        var body: Data?
        var headers: HTTPFields = [:]
        var key: String?
        /// `true`: the spec says this request is invalid, so it must fail (4xx/5xx).
        var expectFailure = false
    }

    /// Requests made from the spec: the minimal and full example bodies, an unknown field, malformed, empty and
    /// oversized bodies, each required field left out, each field of the wrong type, a stream, and each query
    /// parameter out of its bounds.
    func probes(for operation: String, _ description: [String: Any]) -> [Probe] {
        let parts = operation.split(separator: " ", maxSplits: 1)
        let method = HTTPRequest.Method(String(parts[0])) ?? .get
        // Each path parameter is its `example` (a well-formed id, so the request gets past validation), else `nightly`.
        var path = String(parts[1])
        for parameter in (description["parameters"] as? [Any] ?? []).map({ resolve($0) }) where parameter["in"] as? String == "path" {
            guard let name = parameter["name"] as? String, let example = parameter["example"] else { continue }
            path = path.replacingOccurrences(of: "{\(name)}", with: "\(example)")
        }
        path = path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "nightly", options: .regularExpression)
        func probe(_ name: String, _ object: Any?, raw: Data? = nil, query: String = "", failure: Bool = false) -> Probe {
            let body = raw ?? object.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
            return Probe(name: name, method: method, uri: path + query, body: body, expectFailure: failure)
        }
        var probes: [Probe] = []
        if let schema = requestSchema(of: description) {
            let example = requestExample(of: description) as? [String: Any] ?? [:]
            let required = required(of: schema)
            let minimal = example.filter { required.contains($0.key) }
            probes.append(probe("the example's required fields", minimal))
            probes.append(probe("the full example", example))
            probes.append(probe("an unknown field", minimal.merging(["x_unknown_field": 1]) { first, _ in first }))
            probes.append(probe("malformed JSON", nil, raw: Data(#"{"unterminated"#.utf8), failure: true))
            probes.append(probe("a JSON list", nil, raw: Data("[]".utf8), failure: true))
            probes.append(probe("an empty body", nil, raw: Data(), failure: true))
            probes.append(probe("a body over 1 MiB", nil, raw: Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 1), failure: true))
            for field in required.sorted() {
                var without = minimal
                without[field] = nil
                probes.append(probe("without '\(field)'", without, failure: true))
            }
            for (field, property) in properties(of: schema).sorted(by: { $0.key < $1.key }) {
                var wrong = minimal
                let wrongValue: Any = (resolve(property)["type"] as? String) == "object" ? "not an object" : ["unexpected": [String: Any]()]
                wrong[field] = wrongValue
                probes.append(probe("'\(field)' of the wrong type", wrong, failure: true))
            }
            let streams = responses(of: description)["200"].flatMap { resolve($0)["content"] as? [String: Any] }?["text/event-stream"] != nil
            if streams { probes.append(probe("a stream", minimal.merging(["stream": true]) { _, new in new })) }
        } else {
            probes.append(probe("no parameters", nil))
            for parameter in (description["parameters"] as? [Any] ?? []).map({ resolve($0) }) where parameter["in"] as? String == "query" {
                guard let name = parameter["name"] as? String else { continue }
                let schema = resolve(parameter["schema"] ?? [:])
                var invalid: [String] = []
                if schema["enum"] != nil { invalid.append("not-in-the-enum") }
                if schema["type"] as? String == "boolean" { invalid.append("maybe") }
                if schema["type"] as? String == "integer" {
                    invalid.append("abc")
                    if let minimum = schema["minimum"] as? Int { invalid.append("\(minimum - 1)") }
                    if let maximum = schema["maximum"] as? Int { invalid.append("\(maximum + 1)") }
                }
                if schema["pattern"] != nil { invalid.append("..%2Fbad") }
                for value in invalid { probes.append(probe("?\(name)=\(value)", nil, query: "?\(name)=\(value)", failure: true)) }
            }
        }
        return probes
    }

    // MARK: Response bodies

    /// Where `value` does not fit `schema`: fields the spec does not describe, required ones missing, wrong JSON
    /// types. Alternatives (`oneOf`, `anyOf`) pass when one of them fits.
    func mismatches(_ value: Any, schema: Any, at location: String) -> [String] {
        let object = resolve(schema)
        for key in ["oneOf", "anyOf"] {
            if let alternatives = object[key] as? [Any] {
                let results = alternatives.map { mismatches(value, schema: $0, at: location) }
                return results.contains { $0.isEmpty } ? [] : results.first ?? []
            }
        }
        let types: [String] = (object["type"] as? [String]) ?? (object["type"] as? String).map { [$0] } ?? []
        let isObjectSchema = types.contains("object") || object["properties"] != nil || object["allOf"] != nil
        if value is NSNull {
            return types.isEmpty || types.contains("null") ? [] : ["\(location) is null; docs/openapi.yaml says \(types.joined(separator: " or "))."]
        }
        if let fields = value as? [String: Any] {
            guard isObjectSchema || types.isEmpty else { return ["\(location) is an object; docs/openapi.yaml says \(types.joined(separator: " or "))."] }
            guard isObjectSchema else { return [] }
            let described = properties(of: object)
            var problems: [String] = []
            for field in Set(fields.keys).subtracting(described.keys).sorted() {
                problems.append("\(location).\(field) is in the response; docs/openapi.yaml does not describe it.")
            }
            for field in required(of: object).subtracting(fields.keys).sorted() {
                problems.append("\(location).\(field) is required by docs/openapi.yaml; the response lacks it.")
            }
            for (field, fieldValue) in fields.sorted(by: { $0.key < $1.key }) {
                if let property = described[field] { problems += mismatches(fieldValue, schema: property, at: "\(location).\(field)") }
            }
            return problems
        }
        if let list = value as? [Any] {
            guard types.isEmpty || types.contains("array") else { return ["\(location) is a list; docs/openapi.yaml says \(types.joined(separator: " or "))."] }
            guard let items = object["items"] else { return [] }
            return list.prefix(5).enumerated().flatMap { mismatches($0.element, schema: items, at: "\(location)[\($0.offset)]") }
        }
        if value is String {
            return types.isEmpty || types.contains("string") ? [] : ["\(location) is a string; docs/openapi.yaml says \(types.joined(separator: " or "))."]
        }
        // A number or a boolean (Foundation reads both as NSNumber).
        return types.isEmpty || types.contains(where: { ["integer", "number", "boolean"].contains($0) })
            ? [] : ["\(location) is a number or boolean; docs/openapi.yaml says \(types.joined(separator: " or "))."]
    }
}
