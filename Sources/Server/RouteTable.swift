import HTTPTypes
import Hummingbird
import Synchronization

/// Every route's path and methods, so that a known path asked with another method answers 405 with `Allow`
/// rather than 404 (Hummingbird's router answers 404 for both).
final class RouteTable: Sendable {
    private let methodsByPath = Mutex<[String: Set<String>]>([:])

    func add(_ path: String, method: HTTPRequest.Method) {
        methodsByPath.withLock { _ = $0[path, default: []].insert(method.rawValue) }
    }

    /// Every registered route as (method, path template), sorted by path then method; the OpenAPI drift test compares
    /// them with `docs/openapi.yaml`.
    var routes: [(method: String, path: String)] {
        methodsByPath.withLock { table in
            table.flatMap { path, methods in methods.map { (method: $0, path: path) } }
        }.sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    /// The methods a request path has routes for, sorted; empty when no route has the path.
    func methods(forPath requestPath: String) -> [String] {
        let requested = Self.segments(requestPath)
        return methodsByPath.withLock { table in
            table.filter { Self.matches(pattern: Self.segments($0.key), path: requested) }.flatMap(\.value)
        }.sorted()
    }

    static func segments(_ path: String) -> [Substring] { path.split(separator: "/") }

    /// `{id}` and `:id` segments match any one segment.
    static func matches(pattern: [Substring], path: [Substring]) -> Bool {
        guard pattern.count == path.count else { return false }
        return zip(pattern, path).allSatisfy { expected, actual in
            expected == actual || expected.hasPrefix(":") || (expected.hasPrefix("{") && expected.hasSuffix("}"))
        }
    }
}

/// Registers routes on a router and records them in a ``RouteTable``.
final class RecordingRouter<Context: RequestContext>: RouterMethods {
    let router: Router<Context>
    let table: RouteTable

    init(router: Router<Context>, table: RouteTable) {
        self.router = router
        self.table = table
    }

    @discardableResult
    func on<Responder: HTTPResponder>(_ path: RouterPath, method: HTTPRequest.Method, responder: Responder) -> Self
    where Responder.Context == Context {
        table.add(path.description, method: method)
        router.on(path, method: method, responder: responder)
        return self
    }

    @discardableResult
    func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        router.add(middleware: middleware)
        return self
    }
}
