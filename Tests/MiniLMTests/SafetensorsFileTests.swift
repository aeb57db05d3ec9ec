import Foundation
import Testing

@testable import MiniLM

@Suite struct SafetensorsFileTests {
    /// Writes a safetensors file holding `tensors` (name, dtype, shape, raw little-endian bytes).
    func writeFile(_ tensors: [(String, String, [Int], [UInt8])]) throws -> String {
        var offset = 0
        var entries: [String] = []
        var data: [UInt8] = []
        for (name, dtype, shape, bytes) in tensors {
            entries.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes.count)]}")
            data += bytes
            offset += bytes.count
        }
        var header = Array("{\"__metadata__\":{\"format\":\"pt\"},\(entries.joined(separator: ","))}".utf8)
        // An odd header length leaves the data unaligned, exercising the copying path.
        if header.count % 4 == 0 { header.append(0x20) }
        var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        file += header + data
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("test-\(UUID().uuidString).safetensors").path
        try Data(file).write(to: URL(fileURLWithPath: path))
        return path
    }

    func floatBytes(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } } }
    func halfBytes(_ values: [UInt16]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.littleEndian) { Array($0) } } }

    @Test func readsF32F16AndBF16() throws {
        let path = try writeFile([
            ("a", "F32", [2, 2], floatBytes([1.5, -2, 0.25, 1e-3])),
            ("h", "F16", [5], halfBytes([0x3C00, 0xC000, 0x0001, 0x7BFF, 0x3555])),
            ("b", "BF16", [2], halfBytes([0x3F80, 0xC0A0])),
            ("ids", "I64", [1], Array(repeating: 0, count: 8)),
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        #expect((try file.floatTensor("a", shape: [2, 2]).values) == [1.5, -2, 0.25, 1e-3])
        #expect((try file.floatTensor("h", shape: [5]).values) == [1, -2, 0x1p-24, 65504, 0.333251953125])
        #expect((try file.floatTensor("b", shape: [2]).values) == [1, -5])
        #expect(throws: MiniLMError.self) { try file.floatTensor("a", shape: [4]) }
        #expect(throws: MiniLMError.self) { try file.floatTensor("ids", shape: [1]) }
        #expect(throws: MiniLMError.self) { try file.floatTensor("missing", shape: [1]) }
    }

    @Test func rejectsATruncatedFile() throws {
        let path = try writeFile([("a", "F32", [4], floatBytes([1, 2, 3, 4]))])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.dropLast(4).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: MiniLMError.self) { try SafetensorsFile(path: path) }
        #expect(error.code == .invalidModelFile)
    }
}
