import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A memory-mapped `.safetensors` file: an 8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian tensor data.
///
/// F32 tensors are used in place (no copy, and only the pages actually read become resident, which matters for
/// the 47 MB word-embedding table); F16 and BF16 tensors are converted to `Float` on request.
final class SafetensorsFile: @unchecked Sendable {
    /// The element types this reader can turn into `Float`s.
    enum DType: String, Sendable {
        case f32 = "F32"
        case f16 = "F16"
        case bf16 = "BF16"

        var byteCount: Int { self == .f32 ? 4 : 2 }
    }

    /// Where one tensor lives in the file.
    struct TensorInfo: Sendable {
        /// The element type, or `nil` for one this reader cannot convert (I64 `position_ids`, say).
        var dtype: DType?
        /// The dtype as the header spells it.
        var dtypeName: String
        var shape: [Int]
        /// Byte offsets from the start of the data section.
        var byteRange: Range<Int>
    }

    /// The file's path, for error messages.
    let path: String
    /// Every tensor in the file, by name.
    let tensors: [String: TensorInfo]
    /// The header's optional `__metadata__` strings.
    let metadata: [String: String]

    // The mapping is immutable (PROT_READ) and unmapped only in deinit, so sharing it across threads is safe.
    private let base: UnsafeRawPointer
    private let length: Int
    private let dataOffset: Int

    /// Maps the file at `path` and parses its header.
    init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw MiniLMError.invalidModelFile(path, "it cannot be opened (\(String(cString: strerror(errno))))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw MiniLMError.invalidModelFile(path, "its size cannot be read (\(String(cString: strerror(errno))))")
        }
        let length = Int(status.st_size)
        guard length >= 8 else { throw MiniLMError.invalidModelFile(path, "it is only \(length) bytes long") }
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw MiniLMError.invalidModelFile(path, "it cannot be memory-mapped (\(String(cString: strerror(errno))))")
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let headerLength = Int(clamping: UInt64(littleEndian: base.loadUnaligned(as: UInt64.self)))
            guard headerLength > 1, headerLength <= length - 8 else {
                throw MiniLMError.invalidModelFile(path, "its header length \(headerLength) does not fit its size \(length)")
            }
            let header = Data(bytes: base + 8, count: headerLength)
            let parsed = try Self.parseHeader(header, path: path, dataLength: length - 8 - headerLength)
            self.tensors = parsed.tensors
            self.metadata = parsed.metadata
            self.dataOffset = 8 + headerLength
        } catch {
            munmap(mapped, length)
            throw error
        }
        self.base = base
        self.length = length
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    /// The tensor `name` as `Float`s, checked against `shape`: a view into the mapping for aligned F32 data,
    /// else a converted copy.
    func floatTensor(_ name: String, shape: [Int]) throws -> FloatTensor {
        guard let info = tensors[name] else {
            throw MiniLMError.invalidModelFile(path, "it has no tensor '\(name)'")
        }
        guard info.shape == shape else {
            throw MiniLMError.invalidModelFile(path, "tensor '\(name)' has shape \(info.shape), expected \(shape)")
        }
        guard let dtype = info.dtype else {
            throw MiniLMError.invalidModelFile(path, "tensor '\(name)' is \(info.dtypeName); only F32, F16 and BF16 are read")
        }
        let start = base + dataOffset + info.byteRange.lowerBound
        let count = shape.reduce(1, *)
        switch dtype {
        case .f32 where Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0:
            return FloatTensor(shape: shape, viewing: start.assumingMemoryBound(to: Float.self), owner: self)
        case .f32:
            return FloatTensor(shape: shape) { values in
                for index in 0..<count {
                    values[index] = Float(bitPattern: UInt32(littleEndian: start.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)))
                }
            }
        case .f16:
            return FloatTensor(shape: shape) { values in
                for index in 0..<count {
                    values[index] = Self.float(half: UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self)))
                }
            }
        case .bf16:
            return FloatTensor(shape: shape) { values in
                for index in 0..<count {
                    let bits = UInt16(littleEndian: start.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
                    values[index] = Float(bitPattern: UInt32(bits) << 16)
                }
            }
        }
    }

    /// IEEE 754 binary16 to `Float`, exactly (subnormals, infinities and NaNs included). Written out because
    /// `Float16` is unavailable on macOS x86_64.
    static func float(half bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            // Zero or subnormal: mantissa × 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign == 0 ? magnitude : -magnitude
        case 0x1F:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
        }
    }

    private static func parseHeader(_ header: Data, path: String, dataLength: Int) throws
        -> (tensors: [String: TensorInfo], metadata: [String: String])
    {
        guard let object = try? JSONSerialization.jsonObject(with: header), let entries = object as? [String: Any] else {
            throw MiniLMError.invalidModelFile(path, "its header is not a JSON object")
        }
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in entries {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int],
                offsets.count == 2
            else {
                throw MiniLMError.invalidModelFile(path, "the header entry for '\(name)' lacks dtype, shape or data_offsets")
            }
            guard offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength, shape.allSatisfy({ $0 >= 0 }) else {
                throw MiniLMError.invalidModelFile(path, "tensor '\(name)' lies outside the file (truncated download?)")
            }
            let dtype = DType(rawValue: dtypeName)
            // Multiplied with overflow checks: the header is data, and a shape such as [3037000500, 3037000500] would trap.
            let elements = shape.reduce(Optional(1)) { product, size in
                product.flatMap { product in
                    let (value, overflow) = product.multipliedReportingOverflow(by: size)
                    return overflow ? nil : value
                }
            }
            let (bytes, overflow) = (elements ?? Int.max).multipliedReportingOverflow(by: dtype?.byteCount ?? 1)
            if dtype != nil, elements == nil || overflow || bytes != offsets[1] - offsets[0] {
                throw MiniLMError.invalidModelFile(path, "tensor '\(name)' has \(offsets[1] - offsets[0]) bytes for shape \(shape)")
            }
            tensors[name] = TensorInfo(dtype: dtype, dtypeName: dtypeName, shape: shape, byteRange: offsets[0]..<offsets[1])
        }
        return (tensors, metadata)
    }
}
