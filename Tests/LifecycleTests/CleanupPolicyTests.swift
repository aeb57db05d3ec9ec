import Foundation
import Testing

@testable import Lifecycle

@Suite struct CleanupPolicyTests {
    // MARK: Sizes

    @Test(
        arguments: [
            ("80GB", 80_000_000_000), ("75GiB", 75 * 1_073_741_824), ("1024", 1_024), ("0", 0), ("512B", 512),
            ("1.5TB", 1_500_000_000_000), ("0.5KiB", 512), ("80 GB", 80_000_000_000), ("80gb", 80_000_000_000),
            ("  10MB  ", 10_000_000), ("1PiB", 1_125_899_906_842_624), ("2.25GiB", 2_415_919_104), ("007KB", 7_000),
            ("9223372036854775807", Int64.max), ("9223372036854775808", nil), ("8EB", nil), ("8192PiB", nil),
        ] as [(String, Int64?)])
    func parsesSizesInDecimalAndBinaryUnits(text: String, expected: Int64?) throws {
        if let expected {
            #expect(try CleanupPolicy.parseByteSize(text) == expected)
        } else {
            #expect(throws: CleanupPolicyError.self) { try CleanupPolicy.parseByteSize(text) }
        }
    }

    @Test(arguments: [
        ("", "is empty"), ("GB", "does not start with a number"), ("80G", "ambiguous"), ("80Gi", "ambiguous"),
        ("80 gigabytes", "unknown unit"), ("-5GB", "negative"), ("1.5B", "whole number of bytes"),
        ("0.3KiB", "whole number of bytes"), ("1e9", "unknown unit"), ("80GB extra", "unknown unit"),
        ("999999999999999999999GB", "too large"), ("9223372036854775807KB", "too large"), ("1.", "decimal point"),
        (".5GB", "does not start with a number"), ("1,000", "unknown unit"), ("1_000", "unknown unit"),
        ("ten", "does not start with a number"), ("1.1234567891GB", "more than 9 decimals"), ("+80GB", "number"),
    ])
    func rejectsJunkSizesSayingWhatToWrite(text: String, fragment: String) throws {
        let error = try #require(throws: CleanupPolicyError.self) { try CleanupPolicy.parseByteSize(text) }
        #expect(error.code == .invalidSize)
        #expect(error.key == "disk_budget")
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect(error.message.hasPrefix("disk_budget: '\(text)'"))
        #expect(error.message.contains("'80GB' or '75GiB'"))
    }

    // MARK: Durations

    @Test(
        arguments: [
            ("24h", 86_400), ("30m", 1_800), ("7d", 604_800), ("45s", 45), ("1h30m", 5_400), ("2w", 1_209_600),
            ("0", 0), ("0s", 0), ("1d12h", 129_600), (" 24h ", 86_400),
        ] as [(String, Int64)])
    func parsesDurations(text: String, seconds: Int64) throws {
        #expect(try CleanupPolicy.parseDuration(text) == .seconds(seconds))
    }

    @Test(arguments: [
        ("", "is empty"), ("24", "without a unit"), ("1.5h", "has a fraction"), ("24x", "unknown unit 'x'"),
        ("-1h", "negative"), ("h", "where a number should be"), ("1h 30m", "where a number should be"),
        ("99999999999999d", "too long"), ("36501d", "100 years"), ("24H", "unknown unit 'H'"),
        ("5ms", "where a number should be"),
    ])
    func rejectsJunkDurationsSayingWhatToWrite(text: String, fragment: String) throws {
        let error = try #require(throws: CleanupPolicyError.self) { try CleanupPolicy.parseDuration(text) }
        #expect(error.code == .invalidDuration)
        #expect(error.key == "orphan_grace")
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect(error.message.contains("'24h', '30m', '7d'"))
    }

    // MARK: Policy

    @Test func defaultsRemoveNothingAndGraceIsADay() {
        let policy = CleanupPolicy()
        #expect(policy.keep.isEmpty)
        #expect(policy.maxIdleDays == nil)
        #expect(policy.diskBudget == nil)
        #expect(policy.orphanGrace == .seconds(86_400))
        #expect(!policy.removeOrphans)
    }

    @Test func readsTheConfigurationFilesValues() throws {
        let policy = try CleanupPolicy(
            keep: ["llama3*", "nomic-embed-text"], maxIdleDays: 14, diskBudget: "80GB", orphanGrace: "12h",
            removeOrphans: true)
        #expect(policy.keep.map(\.text) == ["llama3*", "nomic-embed-text"])
        #expect(policy.maxIdleDays == 14)
        #expect(policy.diskBudget == 80_000_000_000)
        #expect(policy.orphanGrace == .seconds(43_200))
        #expect(policy.removeOrphans)
    }

    @Test(arguments: [0, -1, 36_501])
    func rejectsMaxIdleDaysOutOfRange(days: Int) throws {
        let error = try #require(throws: CleanupPolicyError.self) { try CleanupPolicy(maxIdleDays: days) }
        #expect(error.code == .outOfRange)
        #expect(error.message.contains("max_idle_days: \(days) is out of range 1-36500"))
    }

    // MARK: Keep patterns

    func name(_ text: String) throws -> OllamaModelName { try #require(OllamaModelName(parsing: text)) }

    @Test(arguments: [
        ("llama3.2", "llama3.2:latest", true), ("llama3.2", "llama3.2:1b", false),
        ("registry.ollama.ai/library/llama3.2:1b", "llama3.2:1b", true), ("llama3*", "llama3.2:1b", true),
        ("llama3*", "llama3:latest", true), ("llama3*", "codellama3:latest", false),
        ("*:latest", "jdoe/mario:latest", true),
        ("*:latest", "llama3.2:1b", false), ("llama3.2:*", "llama3.2:1b", true), ("llama3.2:*", "llama3.20:1b", false),
        ("registry.ollama.ai/*", "jdoe/mario:latest", true), ("registry.ollama.ai/*", "hf.co/a/b:c", false),
        ("hf.co/*", "hf.co/bartowski/qwen:Q4_K_M", true), ("LLAMA3*", "llama3.2:latest", true),
        ("qwen?:*", "qwen3:8b", true), ("qwen?:*", "qwen25:8b", false), ("*", "anything:goes", true),
        ("jdoe/*", "jdoe/mario:latest", true), ("jdoe/*", "mario:latest", false), ("**a*b**", "xaxxb:latest", true),
    ])
    func matchesNamesAndGlobs(pattern: String, model: String, expected: Bool) throws {
        #expect(try ModelNamePattern(pattern).matches(try name(model)) == expected)
    }

    @Test(arguments: ["", "   ", "llama[3]", "a b", "bad.ns/model", "llama3.2:", "x/y/z/w", "émoji"])
    func rejectsPatternsNoModelNameCouldMatch(text: String) throws {
        let error = try #require(throws: CleanupPolicyError.self) { try ModelNamePattern(text) }
        #expect(error.code == .invalidPattern)
        #expect(error.key == "keep")
        #expect(error.message.contains("'llama3.2:*' for every tag"))
    }

    @Test func globMatchingStaysLinearOnPathologicalPatterns() throws {
        let pattern = try ModelNamePattern(String(repeating: "a*", count: 40) + "b")
        let model = try name(String(repeating: "a", count: 80))
        let started = ContinuousClock.now
        #expect(!pattern.matches(model))
        #expect(ContinuousClock.now - started < .seconds(1))
    }
}
