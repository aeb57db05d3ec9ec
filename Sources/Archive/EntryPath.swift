/// Decides whether an entry's path is safe to use as a relative location, and normalises it. Pure.
enum EntryPath {
    enum Verdict: Equatable {
        /// `/`-separated, no empty, `.` or `..` components; `""` names the archive's root (`./`).
        case relative(String)
        case traversal
        case absolute
        case empty
    }

    /// Classifies `path`. Backslashes count as separators for the checks, since archives made on Windows use
    /// them and a Windows consumer of our output would honour them; the normalised path keeps them as they are.
    static func check(_ path: String) -> Verdict {
        if path.isEmpty { return .empty }
        let scalars = Array(path.unicodeScalars.prefix(3))
        if scalars[0] == "/" || scalars[0] == "\\" { return .absolute }
        // "C:" or "C:\…": a drive-relative or absolute Windows path.
        if scalars.count >= 2, scalars[1] == ":", isASCIILetter(scalars[0]) {
            return .absolute
        }
        let pieces = path.split(omittingEmptySubsequences: true) { $0 == "/" || $0 == "\\" }
        if pieces.contains(where: { $0 == ".." }) { return .traversal }
        let components = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return .relative(components.joined(separator: "/"))
    }

    private static func isASCIILetter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
    }
}
