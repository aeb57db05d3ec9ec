import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import Routing
import Storage

/// The router's operational surface: `GET /api/providers` (endpoint health), `GET /api/usage` (cost tracking) and
/// `GET /metrics` (Prometheus).
struct RouterController<Context: RequestContext>: Sendable {
    let router: AIRouter
    /// `nil` when usage records are not kept in PostgreSQL (then `/api/usage` says so).
    let usage: PostgresUsageLedger?
    let metrics: PrometheusCollectorRegistry

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/api/providers") { _, _ in try providers() }
        router.get("/api/usage") { request, _ in try await usageSummary(request) }
        router.get("/metrics") { _, _ in prometheus() }
    }

    struct ProvidersReply: Encodable {
        var providers: [ProviderStatus]
    }

    func providers() throws -> Response {
        try JSONBody.response(ProvidersReply(providers: router.providerStatus()))
    }

    struct UsageReply: Encodable {
        var tenant: String?
        var from: String
        var to: String
        var groupBy: String
        var groups: [PostgresUsageLedger.Summary]
        var total: PostgresUsageLedger.Summary

        enum CodingKeys: String, CodingKey {
            case tenant, from, to, groups, total
            case groupBy = "group_by"
        }
    }

    func usageSummary(_ request: Request) async throws -> Response {
        guard let usage else {
            throw APIError(status: .notImplemented, code: "usage_unavailable", message: "Usage records are not kept by this server.")
        }
        let query = request.uri.queryParameters
        // All tenants (no `tenant`) for admins and without keys; a tenant key sees its own tenant only.
        let tenant = try RequestTenant.resolveFilter(query["tenant"].map(String.init))
        let now = Date()
        let to = try query["to"].map { try Self.date(String($0), field: "to") } ?? now
        let from = try query["from"].map { try Self.date(String($0), field: "from") } ?? to.addingTimeInterval(-30 * 86_400)
        guard from < to else { throw APIError.invalidRequest("'from' must be before 'to'.") }
        let groupName = query["group_by"].map(String.init) ?? "provider"
        guard let grouping = PostgresUsageLedger.Grouping(rawValue: groupName) else {
            throw APIError.invalidRequest(
                "group_by is one of \(PostgresUsageLedger.Grouping.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        // This instance's own records that wait for their batch are written first, so the answer includes them.
        try? await router.usage.flush()
        let groups = try await usage.summary(tenant: tenant, from: from, to: to, groupBy: grouping)
        let total = groups.reduce(
            into: PostgresUsageLedger.Summary(
                key: "total", requests: 0, errors: 0, cacheHits: 0, fallbacks: 0, inputTokens: 0, outputTokens: 0, costUSD: 0)
        ) { total, group in
            total.requests += group.requests
            total.errors += group.errors
            total.cacheHits += group.cacheHits
            total.fallbacks += group.fallbacks
            total.inputTokens += group.inputTokens
            total.outputTokens += group.outputTokens
            total.costUSD += group.costUSD
        }
        let formatter = ISO8601DateFormatter()
        return try JSONBody.response(
            UsageReply(
                tenant: tenant, from: formatter.string(from: from), to: formatter.string(from: to), groupBy: grouping.rawValue,
                groups: groups, total: total))
    }

    /// `2026-11-27`, `2026-11-27T10:00:00Z` or a Unix time in seconds.
    static func date(_ text: String, field: String) throws -> Date {
        let date: Date? = {
            if let seconds = Double(text) { return Date(timeIntervalSince1970: seconds) }
            let full = ISO8601DateFormatter()
            if let date = full.date(from: text) { return date }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            return day.date(from: text)
        }()
        // Years 1970-9999 only: PostgreSQL's timestamps (and the driver's encoding) have bounds.
        guard let date, date.timeIntervalSince1970.isFinite, (0...253_402_300_799).contains(date.timeIntervalSince1970) else {
            throw APIError.invalidRequest(
                "'\(field)' must be a date (2026-11-27), a time (2026-11-27T10:00:00Z) or Unix seconds, between 1970 and 9999.")
        }
        return date
    }

    func prometheus() -> Response {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        metrics.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}
