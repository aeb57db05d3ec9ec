import HTTPTypes
import Routing

/// Which tenant a request acts for — the one rule every endpoint follows.
///
/// The request's API key decides when there is one (see ``Caller``); otherwise the body's `tenant` field, else the
/// `x-unity-tenant` header, else `default`.
enum RequestTenant {
    /// The tenant header, for clients that cannot add body fields.
    static let header = HTTPField.Name("x-unity-tenant")!

    /// The tenant for a request naming `bodyTenant` (the body's `tenant` field, if any) with `headers`; a name that is
    /// not valid is a 400, another tenant's name under a tenant key a 403.
    static func resolve(bodyTenant: String?, headers: HTTPFields) throws -> String {
        let named = bodyTenant ?? headers[header]
        if let named, !TenantName.isValid(named) {
            throw APIError.invalidRequest(
                "The tenant '\(named.prefix(80))' is not a valid name: use 1-63 letters, digits, '.', '_' or '-'.")
        }
        if let caller = Caller.current, let own = caller.tenant {
            if let named, named != own {
                throw APIError(
                    status: .forbidden, code: "forbidden_tenant",
                    message: "This API key belongs to another tenant; it cannot act for '\(named)'. Leave the tenant "
                        + "out to act for the key's own.")
            }
            return own
        }
        return named ?? "default"
    }

    /// The tenant an operator query (usage, say) is confined to: the one named (or every tenant, `nil`) without keys
    /// and for admin keys; the key's own for a tenant key, which may not name another.
    static func resolveFilter(_ named: String?) throws -> String? {
        if let named, !TenantName.isValid(named) {
            throw APIError.invalidRequest("The tenant '\(named.prefix(80))' is not a valid name.")
        }
        guard let caller = Caller.current, let own = caller.tenant else { return named }
        if let named, named != own {
            throw APIError(
                status: .forbidden, code: "forbidden_tenant",
                message: "This API key belongs to another tenant; it cannot read '\(named)'.")
        }
        return own
    }
}

/// Who sent the request, when API keys are on: set by the authentication middleware for the rest of the request.
struct Caller: Sendable {
    /// The key's id (never the key).
    var keyID: String
    /// The key's tenant; `nil` for an admin key, which may act for any tenant.
    var tenant: String?
    var isAdmin: Bool { tenant == nil }

    @TaskLocal static var current: Caller?
}
