/// Which pgvector the appliance needs, and what to say when the server has another.
///
/// 0.8 is the first release with iterative index scans (`hnsw.iterative_scan`, `hnsw.max_scan_tuples`), without
/// which a search filtered to one tenant can come back with fewer results than asked for; pgvector before 0.8 also
/// ignores these settings silently, so the check is made at start-up rather than discovered as missing answers.
public enum PgvectorVersion {
    /// The oldest supported release.
    public static let minimum = [0, 8, 0]

    /// The numeric components of a version string ("0.8.6" → [0, 8, 6]; "0.8.0-dev" → [0, 8, 0]); `nil` when it
    /// does not start with a number.
    public static func components(_ version: String) -> [Int]? {
        var parts: [Int] = []
        for piece in version.split(separator: ".", omittingEmptySubsequences: false) {
            let digits = piece.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int(digits) else { break }
            parts.append(value)
            if digits.count < piece.count { break }
        }
        return parts.isEmpty ? nil : parts
    }

    /// Whether `version` is ``minimum`` or later.
    public static func isSupported(_ version: String) -> Bool {
        guard let parts = components(version) else { return false }
        for index in 0..<max(parts.count, minimum.count) {
            let have = index < parts.count ? parts[index] : 0
            let need = index < minimum.count ? minimum[index] : 0
            if have != need { return have > need }
        }
        return true
    }

    /// What is wrong with the server's pgvector for the appliance, or `nil` when nothing is.
    /// - Parameters:
    ///   - installed: the version created in the database (`pg_extension`), `nil` when not created yet.
    ///   - available: the version `CREATE EXTENSION vector` would install (`pg_available_extensions`), `nil` when
    ///     the server has no pgvector at all.
    ///   - server: how messages name the server.
    public static func problem(installed: String?, available: String?, server: String) -> String? {
        let need = minimum.map(String.init).joined(separator: ".")
        if let installed {
            guard !isSupported(installed) else { return nil }
            let update =
                if let available, isSupported(available) {
                    "pgvector \(available) is installed on the server: run ALTER EXTENSION vector UPDATE in this database."
                } else {
                    "Install pgvector \(need) or later on the server (https://github.com/pgvector/pgvector), then run "
                        + "ALTER EXTENSION vector UPDATE in this database."
                }
            return "\(server) has pgvector \(installed); the appliance needs \(need) or later (iterative index scans, "
                + "which keep a tenant's vector search complete). \(update)"
        }
        guard let available else {
            return "\(server) has no pgvector extension, which the appliance needs for embeddings. Install pgvector "
                + "\(need) or later on that server (then CREATE EXTENSION vector runs), or unset DATABASE_URL to use the "
                + "embedded PostgreSQL."
        }
        guard isSupported(available) else {
            return "\(server) offers pgvector \(available); the appliance needs \(need) or later (iterative index scans, "
                + "which keep a tenant's vector search complete). Install pgvector \(need) or later on that server "
                + "(https://github.com/pgvector/pgvector), or unset DATABASE_URL to use the embedded PostgreSQL."
        }
        return nil
    }
}
