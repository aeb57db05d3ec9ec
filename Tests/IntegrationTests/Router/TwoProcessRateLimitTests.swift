import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Storage
import Synchronization
import Testing

/// Two real `unity-ai serve` processes on one database hold a tenant to one rate limit between them.
@Suite struct TwoProcessRateLimitTests {
    /// A `unity-ai serve` child process and the port it listens on.
    final class ServeProcess: Sendable {
        let process: Process
        let port: Int
        private let log: LogBuffer

        /// What the server has logged so far (its standard error): for the message of a failed expectation.
        var logText: String { log.text.withLock { $0 } }

        init(binary: URL, environment: [String: String]) async throws {
            let process = Process()
            process.executableURL = binary
            process.arguments = ["serve", "--host", "127.0.0.1", "--port", "0"]
            process.environment = environment
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            self.process = process
            // The server logs `unity-ai is serving http.address=http://127.0.0.1:PORT` once it listens. The log is read
            // by the pipe's handler on its own thread: a blocking read here would hold one of the few threads every
            // other test's tasks run on.
            let log = LogBuffer()
            errors.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                log.text.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            var port: Int?
            while port == nil {
                let text = log.text.withLock { $0 }
                if let range = text.range(of: #"http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                    port = Int(text[range].split(separator: ":").last ?? "")
                } else if !process.isRunning || ContinuousClock.now > deadline {
                    throw TestSetupError("unity-ai serve did not start:\n" + text)
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            self.port = port!
            self.log = log
        }

        /// Sends SIGTERM and waits for the graceful shutdown without blocking a thread (`waitUntilExit` would hold
        /// one of the few threads every other test's tasks run on).
        func stop() async {
            guard process.isRunning else { return }
            process.terminate()
            let deadline = ContinuousClock.now + .seconds(30)
            while process.isRunning, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    static var binary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("unity-ai")
    }

    /// `count` chat requests for tenant `acme`, all at once, spread over the servers on `ports`.
    static func send(_ count: Int, alternatingBetween ports: [Int]) async throws -> [(status: UInt, retryAfter: String?)] {
        try await withThrowingTaskGroup(of: (status: UInt, retryAfter: String?).self) { group in
            for index in 0..<count {
                let port = ports[index % ports.count]
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/ai/chat")
                    request.method = .POST
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(
                        ByteBuffer(
                            string: #"{"model": "local", "tenant": "acme", "messages": [{"role": "user", "content": "hello \#(index)"}]}"#))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    return (response.status.code, response.headers.first(name: "retry-after"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test func twoServeProcessesNeverExceedATenantsLimitTogether() async throws {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw TestSetupError("The unity-ai executable is not at \(binary.path); build it with `swift build` (./deploy/test.sh does).")
        }
        let directory = try TemporaryDirectory()
        defer { directory.delete() }
        try directory.write("rate_limits: {per_tenant: 30/hour}\n", to: "ai_routing.yaml")
        try await TestDatabase.withFreshDatabase { _, settings in
            var url = try #require(URLComponents(string: ProcessInfo.processInfo.environment["UNITY_AI_TEST_DATABASE_URL"] ?? ""))
            url.path = "/" + settings.database
            let environment = [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                "HOME": directory.path,
                "DATABASE_URL": try #require(url.string),
                "UNITY_AI_CONFIG": directory.path + "/ai_routing.yaml",
                "UNITY_AI_MIGRATIONS_DIR": TestDatabase.repositoryRoot.appendingPathComponent("migrations").path,
                "UNITY_AI_EMBEDDING_MODEL": "local",
                "UNITY_AI_DATA_DIR": directory.path + "/data",
            ]
            let first = try await ServeProcess(binary: binary, environment: environment)
            let second: ServeProcess
            do {
                second = try await ServeProcess(binary: binary, environment: environment)
            } catch {
                await first.stop()
                throw error
            }

            let outcome: Result<[(status: UInt, retryAfter: String?)], any Error>
            do {
                outcome = .success(try await Self.send(80, alternatingBetween: [first.port, second.port]))
            } catch {
                outcome = .failure(error)
            }
            await first.stop()
            await second.stop()
            let statuses = try outcome.get()
            #expect(statuses.filter { $0.status == 200 }.count == 30, "both processes together admit exactly the limit")
            let refused = statuses.filter { $0.status == 429 }
            #expect(refused.count == 50)
            #expect(refused.allSatisfy { $0.retryAfter != nil })
        }
    }
}

/// What a child process wrote, gathered by its pipe's handler.
final class LogBuffer: Sendable {
    let text = Mutex("")
}
