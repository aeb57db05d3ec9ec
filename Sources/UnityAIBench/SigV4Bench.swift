import Foundation
import ObjectStore

/// SigV4 signing time per request: `SigV4Signer.sign` of an UploadPart (PUT with `partNumber` and `uploadId`, the
/// headers the S3 client sends) and of a GetObject, the payload hash given (hashing the body is the upload's cost,
/// not the signature's). Several rounds; prints the median and best round in microseconds per request, of wall time
/// and of the thread's CPU time (which a loaded machine inflates less: time spent preempted is not counted).
enum SigV4Bench {
    static func run(requests: Int, rounds: Int) throws {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1")
        let payloadHash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
        let uploadID = "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        let date = Date(timeIntervalSince1970: 1_796_040_000)
        func part(_ number: Int) throws -> SignedRequest {
            try signer.sign(
                method: "PUT", path: "/unity-ai-backups/site-a/blobs/sha256-\(payloadHash)",
                query: [("partNumber", String(number)), ("uploadId", uploadID)],
                headers: [
                    ("host", "127.0.0.1:8333"), ("content-length", "8388608"), ("content-type", "application/octet-stream"),
                    ("x-amz-checksum-sha256", "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="),
                ], payloadHash: payloadHash, date: date)
        }
        func get() throws -> SignedRequest {
            try signer.sign(
                method: "GET", path: "/unity-ai-backups/site-a/sets/20261130T020000Z-1a2b3c/manifest.json",
                headers: [("host", "127.0.0.1:8333")], payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        }
        var results: [String: [Double]] = [:]
        var sink = 0
        func threadCPUSeconds() -> Double {
            var time = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
            return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
        }
        let perRequest = 1e6 / Double(max(1, requests))
        for _ in 0..<max(1, rounds) {
            for (name, sign) in [("upload_part", { try part(7) }), ("get_object", get)] as [(String, () throws -> SignedRequest)] {
                let clock = ContinuousClock()
                let start = clock.now
                let cpuStart = threadCPUSeconds()
                for _ in 0..<requests { sink &+= try sign().signature.utf8.count }
                let cpu = threadCPUSeconds() - cpuStart
                let elapsed = clock.now - start
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                results[name, default: []].append(seconds * perRequest)
                results[name + "_cpu", default: []].append(cpu * perRequest)
            }
        }
        func summary(_ name: String) -> [String: Double] {
            let wall = (results[name] ?? [0]).sorted()
            let cpu = (results[name + "_cpu"] ?? [0]).sorted()
            return [
                "median_us": wall[wall.count / 2], "best_us": wall[0], "median_cpu_us": cpu[cpu.count / 2],
                "best_cpu_us": cpu[0],
            ]
        }
        let line: [String: Any] = [
            "bench": "sigv4", "requests_per_round": requests, "rounds": rounds, "checksum": sink % 1000,
            "upload_part": summary("upload_part"), "get_object": summary("get_object"),
        ]
        let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
