import Crypto
import Foundation
@testable import Ingest
import Testing

@Suite struct ContentHashTests {
    /// The hashes ingest stores and reuses vectors by: lowercase hex, two digits a byte, whatever the byte.
    @Test func hexIsLowercaseTwoDigitsAByte() {
        let everyByte = (0...255).map { UInt8($0) }
        #expect(Ingestor.hex(everyByte) == everyByte.map { String(format: "%02x", $0) }.joined())
        #expect(
            Ingestor.hex(SHA256.hash(data: Data("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Ingestor.hex([UInt8]()) == "")
    }
}
