import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization

/// A fake provider upstream on port 0 that replays the shared wire fixtures (`Fixtures/wire/<provider>/`) byte for
/// byte, with the status and headers their `_index.json` gives, and records every request it receives.
///
/// Tests choose what it serves next (`serve(_:)`, one fixture per request, the last one repeating), how the body
/// is delivered (whole, in awkward splits, a byte at a time), a delay before the first byte, and a cut after N
/// bytes (the connection is dropped mid-body).
final class FakeUpstream: Sendable {
    /// A request as the fake received it.
    struct RecordedRequest: Sendable {
        var method: String
        /// Path and query, e.g. `/v1beta/models/m:streamGenerateContent?alt=sse`.
        var uri: String
        var headers: [String: String]
        var body: Data

        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    /// How the response body is written.
    enum Delivery: Sendable {
        /// One write.
        case whole
        /// Writes of `n` bytes: 1 gives a byte at a time; 7 splits lines and UTF-8 sequences at odd places.
        case pieces(Int)
    }

    struct Fixture: Sendable {
        var file: String
        var method: String
        var path: String
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    struct Behaviour: Sendable {
        var queue: [String] = []
        var delivery: Delivery = .whole
        var firstByteDelay: Duration = .zero
        var cutAfterBytes: Int?
        /// Extra headers added to every response (e.g. `retry-after`).
        var extraHeaders: [String: String] = [:]
    }

    let provider: String
    let fixtures: [String: Fixture]
    private let behaviour = Mutex(Behaviour())
    private let recorded = Mutex<[RecordedRequest]>([])

    /// The fixtures directory of the shared wire material, copied into the test target.
    static var wireDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/wire")
    }

    init(provider: String) throws {
        self.provider = provider
        let directory = Self.wireDirectory.appendingPathComponent(provider)
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("_index.json")))
            as! [[String: Any]]
        var fixtures: [String: Fixture] = [:]
        for entry in index where (entry["kind"] as? String) == "response" {
            let file = entry["file"] as! String
            fixtures[file] = Fixture(
                file: file, method: entry["method"] as! String, path: entry["path"] as! String,
                status: entry["status"] as? Int ?? 200, headers: entry["headers"] as? [String: String] ?? [:],
                body: Array(try Data(contentsOf: directory.appendingPathComponent(file))))
        }
        self.fixtures = fixtures
    }

    /// The raw bytes of a fixture file (requests included).
    static func fixtureData(_ provider: String, _ file: String) throws -> Data {
        try Data(contentsOf: wireDirectory.appendingPathComponent(provider).appendingPathComponent(file))
    }

    /// Serves these fixtures to the next requests, in order; the last one keeps being served.
    func serve(_ files: String...) {
        precondition(files.allSatisfy { fixtures[$0] != nil }, "unknown fixture in \(files)")
        behaviour.withLock { $0.queue = files }
    }

    func configure(_ change: (inout Behaviour) -> Void) { behaviour.withLock { change(&$0) } }

    var requests: [RecordedRequest] { recorded.withLock { $0 } }

    /// Runs the fake on a free port for the duration of `body`, which gets its base URL (`http://127.0.0.1:PORT`).
    func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/__fake/ready") { _, _ in "ready" }
        router.on("/**", method: .get) { request, context in try await self.respond(request, context) }
        router.on("/**", method: .post) { request, context in try await self.respond(request, context) }
        router.on("/**", method: .delete) { request, context in try await self.respond(request, context) }
        router.on("/", method: .get) { request, context in try await self.respond(request, context) }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        // Errors are carried out of the live test rather than thrown through it, and the test client's connection
        // is used before the body runs: either unwinding path can otherwise trip NIO's writer precondition when
        // the test server shuts down (apple/swift-nio#3481).
        let result: Result<T, any Error> = try await app.test(.live) { client in
            try await client.execute(uri: "/__fake/ready", method: .get) { _ in }
            do {
                return .success(try await body("http://127.0.0.1:\(client.port!)"))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func respond(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let bodyBuffer = try await request.body.collect(upTo: 16 << 20)
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let uri = request.uri.description
        recorded.withLock {
            $0.append(RecordedRequest(method: request.method.rawValue, uri: uri, headers: headers, body: Data(bodyBuffer.readableBytesView)))
        }
        let current = behaviour.withLock { state -> Behaviour in
            let snapshot = state
            if state.queue.count > 1 { state.queue.removeFirst() }
            return snapshot
        }
        guard let file = current.queue.first, let fixture = fixtures[file] else {
            return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "no fixture chosen")))
        }
        // The request must be the one the fixture answers (query aside, except Gemini's alt=sse).
        let wantedPath = fixture.path
        let actualPath = wantedPath.contains("?") ? uri : String(uri.split(separator: "?", maxSplits: 1).first ?? "")
        guard request.method.rawValue == fixture.method, actualPath == wantedPath else {
            return Response(
                status: .notFound,
                body: .init(byteBuffer: ByteBuffer(string: "fake \(provider): expected \(fixture.method) \(wantedPath), got \(request.method) \(uri)")))
        }
        if current.firstByteDelay > .zero { try await Task.sleep(for: current.firstByteDelay) }
        var responseHeaders = HTTPFields()
        for (name, value) in fixture.headers.merging(current.extraHeaders, uniquingKeysWith: { $1 }) {
            if let field = HTTPField.Name(name), name.lowercased() != "content-length" { responseHeaders[field] = value }
        }
        let bytes = fixture.body
        let delivery = current.delivery
        let cut = current.cutAfterBytes
        return Response(
            status: HTTPResponse.Status(code: fixture.status), headers: responseHeaders,
            body: ResponseBody { writer in
                let limit = min(cut ?? bytes.count, bytes.count)
                let step: Int
                switch delivery {
                case .whole: step = max(limit, 1)
                case .pieces(let size): step = max(size, 1)
                }
                var offset = 0
                while offset < limit {
                    let end = min(offset + step, limit)
                    try await writer.write(ByteBuffer(bytes: bytes[offset..<end]))
                    offset = end
                    if case .pieces = delivery { await Task.yield() }
                }
                if cut != nil { throw CutConnection() }
                try await writer.finish(nil)
            })
    }

    struct CutConnection: Error {}
}
