import Foundation

/// Lists the files under a root that the appliance can read: recursively, skipping hidden files and directories
/// (`.git` among them) and symbolic links (a link could lead out of the root).
public struct DocumentWalker: Sendable {
    /// A readable file found under the root.
    public struct Entry: Sendable, Equatable {
        /// The absolute, standardised path.
        public var path: String
        /// The path relative to the root.
        public var relativePath: String
        public var format: DocumentFormat
    }

    /// An archive found under the root, read entry by entry rather than as one document.
    public struct Archive: Sendable, Equatable {
        /// The absolute, standardised path.
        public var path: String
        /// The path relative to the root.
        public var relativePath: String
    }

    /// What a walk found.
    public struct Listing: Sendable {
        public var files: [Entry] = []
        /// Zip and tar archives (plain, gzip, bzip2, xz), by name.
        public var archives: [Archive] = []
        /// Files passed over: an unknown kind, a link, a socket.
        public var skipped: [String] = []
        /// Directories that could not be listed, with the reason; nothing under them is treated as removed.
        public var unreadableDirectories: [(path: String, reason: String)] = []
    }

    public init() {}

    /// Walks `root`, a directory or a single file (absolute, standardised).
    public func walk(root: String) -> Listing {
        var listing = Listing()
        var status = stat()
        guard lstat(root, &status) == 0 else {
            listing.unreadableDirectories.append((root, "it does not exist or cannot be read"))
            return listing
        }
        if (status.st_mode & S_IFMT) == S_IFREG {
            let name = (root as NSString).lastPathComponent
            if let format = DocumentFormat.detect(fileName: name) {
                listing.files.append(Entry(path: root, relativePath: name, format: format))
            } else if Self.isArchive(fileName: name) {
                listing.archives.append(Archive(path: root, relativePath: name))
            } else {
                listing.skipped.append(root)
            }
            return listing
        }
        visit(directory: root, relative: "", into: &listing)
        listing.files.sort { $0.relativePath < $1.relativePath }
        listing.archives.sort { $0.relativePath < $1.relativePath }
        return listing
    }

    /// Archive names the appliance opens: `.zip`, `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`/`.tbz2`, `.tar.xz`/`.txz`.
    public static func isArchive(fileName: String) -> Bool {
        let name = fileName.lowercased()
        return archiveSuffixes.contains { name.hasSuffix($0) && name.count > $0.count }
    }

    static let archiveSuffixes = [".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"]

    private func visit(directory: String, relative: String, into listing: inout Listing) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            listing.unreadableDirectories.append((directory, "cannot list it (\(error.localizedDescription))"))
            return
        }
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = directory + "/" + name
            let relativePath = relative.isEmpty ? name : relative + "/" + name
            var status = stat()
            guard lstat(path, &status) == 0 else {
                listing.skipped.append(path)
                continue
            }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                visit(directory: path, relative: relativePath, into: &listing)
            case S_IFREG:
                if let format = DocumentFormat.detect(fileName: name) {
                    listing.files.append(Entry(path: path, relativePath: relativePath, format: format))
                } else if Self.isArchive(fileName: name) {
                    listing.archives.append(Archive(path: path, relativePath: relativePath))
                } else {
                    listing.skipped.append(path)
                }
            default:
                listing.skipped.append(path)
            }
        }
    }
}
