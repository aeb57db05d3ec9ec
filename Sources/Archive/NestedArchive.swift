/// Recognises an entry that is itself an archive or a compressed file, by name or by its first bytes. Pure.
enum NestedArchive {
    /// How many leading bytes ``format(ofPrefix:)`` looks at (tar's `ustar` magic sits at offset 257).
    static let prefixLength = 265

    /// Name suffixes of archives and compressed files, lowercased, longest first where they overlap.
    private static let suffixes: [(suffix: String, format: String)] = [
        (".tar.gz", "tar.gz"), (".tar.bz2", "tar.bz2"), (".tar.xz", "tar.xz"), (".tar.zst", "tar.zst"),
        (".tar.lz4", "tar.lz4"), (".tar.z", "tar.Z"), (".tgz", "tar.gz"), (".tbz", "tar.bz2"), (".tbz2", "tar.bz2"),
        (".txz", "tar.xz"), (".tzst", "tar.zst"), (".tar", "tar"), (".zip", "zip"), (".jar", "zip"), (".war", "zip"),
        (".ear", "zip"), (".apk", "zip"), (".7z", "7z"), (".rar", "rar"), (".cpio", "cpio"), (".iso", "iso"),
        (".gz", "gzip"), (".bz2", "bzip2"), (".xz", "xz"), (".lzma", "lzma"), (".zst", "zstd"), (".lz4", "lz4"),
        (".lz", "lzip"), (".z", "compress"), (".cab", "cab"), (".ar", "ar"), (".deb", "deb"), (".rpm", "rpm"),
        (".xar", "xar"), (".lzh", "lha"), (".lha", "lha"),
    ]

    /// Documents that are zip containers by design: their zip magic does not make them nested archives; whoever
    /// ingests them parses them with their own defences.
    private static let zipDocumentSuffixes = [
        ".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".pptx", ".pptm", ".odt", ".ods", ".odp", ".odg", ".epub",
    ]

    /// The archive format `path`'s name suggests, if any.
    static func format(ofPath path: String) -> String? {
        let name = path.lowercased()
        return suffixes.first(where: { name.hasSuffix($0.suffix) && name.count > $0.suffix.count })?.format
    }

    /// Whether `path` names a document format that is a zip container.
    static func isZipDocument(_ path: String) -> Bool {
        let name = path.lowercased()
        return zipDocumentSuffixes.contains { name.hasSuffix($0) }
    }

    /// The archive or compression format `prefix` (an entry's first bytes) starts with, if any.
    static func format(ofPrefix prefix: some Collection<UInt8>) -> String? {
        let bytes = Array(prefix.prefix(prefixLength))
        func starts(with magic: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + magic.count else { return false }
            return bytes[offset..<(offset + magic.count)].elementsEqual(magic)
        }
        if starts(with: [0x50, 0x4B, 0x03, 0x04]) || starts(with: [0x50, 0x4B, 0x05, 0x06])
            || starts(with: [0x50, 0x4B, 0x07, 0x08])
        {
            return "zip"
        }
        if starts(with: [0x1F, 0x8B, 0x08]) { return "gzip" }
        if starts(with: [0x1F, 0x9D]) { return "compress" }
        // "BZh1"…"BZh9" followed by a block or end-of-stream magic, so text starting "BZh" is not caught.
        if starts(with: Array("BZh".utf8)), bytes.count >= 10, (0x31...0x39).contains(bytes[3]),
            starts(with: [0x31, 0x41, 0x59, 0x26, 0x53, 0x59], at: 4)
                || starts(with: [0x17, 0x72, 0x45, 0x38, 0x50, 0x90], at: 4)
        {
            return "bzip2"
        }
        if starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz" }
        if starts(with: [0x5D, 0x00, 0x00]) && bytes.count >= 13 && (bytes[5...12].allSatisfy { $0 == 0xFF }) {
            return "lzma"
        }
        if starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return "zstd" }
        if starts(with: [0x04, 0x22, 0x4D, 0x18]) { return "lz4" }
        if starts(with: Array("LZIP".utf8)) { return "lzip" }
        if starts(with: [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) { return "7z" }
        if starts(with: Array("Rar!\u{1A}\u{07}".utf8)) { return "rar" }
        if starts(with: Array("!<arch>\n".utf8)) { return "ar" }
        if starts(with: Array("MSCF".utf8)) { return "cab" }
        if starts(with: Array("xar!".utf8)) { return "xar" }
        if starts(with: Array("070707".utf8)) || starts(with: Array("070701".utf8))
            || starts(with: Array("070702".utf8)) || starts(with: [0xC7, 0x71]) || starts(with: [0x71, 0xC7])
        {
            return "cpio"
        }
        if starts(with: Array("ustar".utf8), at: 257) { return "tar" }
        return nil
    }
}
