import Foundation
import NIOCore

/// A ``BackupTarget`` in a local directory (`file:///dir`): each key a file under it, written to a temporary file
/// and renamed into place, so an interrupted put leaves no object.
public struct LocalBackupTarget: BackupTarget {
    /// The directory, absolute.
    public let directory: String
    /// Bytes per chunk when reading.
    let chunkSize = 256 << 10

    public init(directory: String) throws {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        } catch {
            throw BackupError(.io, "Cannot create the backup directory '\(self.directory)': \(error.localizedDescription)")
        }
    }

    public var description: String { "file://\(directory)" }

    func path(_ key: String) throws -> String {
        try BackupTargets.validate(key: key)
        return directory + "/" + key
    }

    public func put(_ body: BackupByteStream, at key: String, sizeHint: Int?) async throws {
        let destination = try path(key)
        let parent = (destination as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let temporary = parent + "/.partial-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw BackupError(.io, "Cannot create '\(temporary)'.") }
        do {
            for try await chunk in body {
                try handle.write(contentsOf: Data(chunk.readableBytesView))
            }
            try handle.synchronize()
            try handle.close()
            if rename(temporary, destination) != 0 {
                throw BackupError(.io, "Cannot rename '\(temporary)' to '\(destination)' (errno \(errno)).")
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    public func get(_ key: String) async throws -> BackupByteStream {
        let source = try path(key)
        guard let handle = FileHandle(forReadingAtPath: source) else {
            throw BackupError(.notFound, "No object '\(key)' in \(description).")
        }
        let chunkSize = self.chunkSize
        // Pulled one chunk at a time: memory stays at one chunk whatever the object's size.
        return BackupByteStream {
            do {
                guard let data = try handle.read(upToCount: chunkSize), !data.isEmpty else {
                    try? handle.close()
                    return nil
                }
                return ByteBuffer(bytes: data)
            } catch {
                try? handle.close()
                throw error
            }
        }
    }

    public func head(_ key: String) async throws -> BackupObject? {
        let file = try path(key)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
            attributes[.type] as? FileAttributeType == .typeRegular
        else { return nil }
        return BackupObject(
            key: key, size: (attributes[.size] as? NSNumber)?.intValue ?? 0,
            lastModified: attributes[.modificationDate] as? Date)
    }

    public func list(prefix: String) async throws -> [BackupObject] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var objects: [BackupObject] = []
        while let relative = enumerator.nextObject() as? String {
            guard relative.hasPrefix(prefix), !(relative as NSString).lastPathComponent.hasPrefix(".partial-"),
                let object = try? await head(relative)
            else { continue }
            objects.append(object)
        }
        return objects.sorted { $0.key < $1.key }
    }

    public func delete(_ key: String) async throws {
        let file = try path(key)
        if FileManager.default.fileExists(atPath: file) { try FileManager.default.removeItem(atPath: file) }
    }
}
