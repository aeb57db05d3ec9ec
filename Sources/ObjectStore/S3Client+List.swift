import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// An object as a listing shows it.
public struct ObjectSummary: Sendable, Hashable {
    /// The object's key.
    public var key: String
    /// Its size in bytes.
    public var size: Int
    /// The ETag without quotes.
    public var etag: String
    /// When it was last written.
    public var lastModified: Date?
    /// `STANDARD`, …, when the server says.
    public var storageClass: String?
}

/// One page of ListObjectsV2.
public struct ObjectListPage: Sendable {
    /// The objects of this page, in key order.
    public var objects: [ObjectSummary]
    /// With a delimiter: the key prefixes up to it (`sets/2026-01-01/`), each listed once.
    public var commonPrefixes: [String]
    /// Pass this as `continuationToken` for the next page; `nil` on the last page.
    public var nextContinuationToken: String?
}

extension S3Client {
    /// One page of the objects whose keys start with `prefix`, in key order.
    ///
    /// - Parameters:
    ///   - delimiter: Groups the keys that contain it after the prefix into ``ObjectListPage/commonPrefixes``.
    ///   - startAfter: List only keys after this one.
    ///   - continuationToken: The previous page's ``ObjectListPage/nextContinuationToken``.
    ///   - maxKeys: The most objects and prefixes on the page: 1 to 1000.
    public func listObjectsPage(
        prefix: String = "", delimiter: String? = nil, startAfter: String? = nil, continuationToken: String? = nil,
        maxKeys: Int = 1000
    ) async throws -> ObjectListPage {
        guard (1...1000).contains(maxKeys) else {
            throw ObjectStoreError.invalidRequest("maxKeys is \(maxKeys); S3 lists 1 to 1000 keys a page.")
        }
        var query = [("list-type", "2"), ("max-keys", String(maxKeys))]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let startAfter { query.append(("start-after", startAfter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let request = S3Request(operation: "ListObjectsV2", method: .GET, key: nil, query: query, idempotent: true)
        let root = try await performXML(request, expecting: "ListBucketResult")
        let objects = try root.all("Contents").map { entry in
            guard let key = entry.text("Key") else {
                throw ObjectStoreError.badResponse(
                    "A ListObjectsV2 entry of bucket \(ObjectStoreError.quoted(bucket)) has no key.")
            }
            return ObjectSummary(
                key: key, size: entry.text("Size").flatMap(Int.init) ?? 0,
                etag: Self.unquoted(entry.text("ETag") ?? ""),
                lastModified: entry.text("LastModified").flatMap(S3Date.parseISO8601),
                storageClass: entry.text("StorageClass"))
        }
        let prefixes = root.all("CommonPrefixes").compactMap { $0.text("Prefix") }
        var token: String?
        if root.text("IsTruncated") == "true" {
            guard let next = root.text("NextContinuationToken"), !next.isEmpty, next != continuationToken else {
                throw ObjectStoreError.badResponse(
                    "The server said the listing of bucket \(ObjectStoreError.quoted(bucket)) goes on but gave no new "
                        + "continuation token.")
            }
            token = next
        }
        return ObjectListPage(objects: objects, commonPrefixes: prefixes, nextContinuationToken: token)
    }

    /// Every object whose key starts with `prefix`, in key order, fetched a page at a time as the sequence is
    /// iterated.
    ///
    /// - Parameters:
    ///   - pageSize: Keys asked for per request: 1 to 1000.
    public func listObjects(prefix: String = "", startAfter: String? = nil, pageSize: Int = 1000) -> ObjectListing {
        ObjectListing(client: self, prefix: prefix, startAfter: startAfter, pageSize: pageSize)
    }

    /// Every object whose key starts with `prefix`, collected.
    ///
    /// - Parameters:
    ///   - limit: The most objects the caller can take; more fail with ``ObjectStoreError/Code/limitExceeded``
    ///     rather than being cut off silently.
    public func allObjects(prefix: String = "", limit: Int = 100_000) async throws -> [ObjectSummary] {
        var objects: [ObjectSummary] = []
        for try await object in listObjects(prefix: prefix, pageSize: limit < 1000 ? max(1, limit + 1) : 1000) {
            guard objects.count < limit else {
                throw ObjectStoreError(
                    .limitExceeded,
                    "More than \(limit) objects start with \(ObjectStoreError.quoted(prefix)) in bucket "
                        + "\(ObjectStoreError.quoted(bucket)): list them page by page with listObjects.")
            }
            objects.append(object)
        }
        return objects
    }

    /// Deletes many objects with DeleteObjects, 1000 a request. Keys without an object count as deleted.
    ///
    /// - Throws: ``ObjectStoreError`` naming the first key the server could not delete, and how many it could not.
    public func delete(keys: [String]) async throws {
        for key in keys { try Self.validate(key: key) }
        var failures: [(key: String, code: String, message: String)] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(start + 1000, keys.count)]
            start += batch.count
            var xml = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(S3XML.escaped(key))</Key></Object>" }
            xml += "</Delete>"
            let body = ByteBuffer(string: xml)
            // S3 requires Content-MD5 (or a flexible checksum) on DeleteObjects; MD5 is what every server accepts.
            let md5 = Data(body.withUnsafeReadableBytes { Insecure.MD5.hash(data: $0) }).base64EncodedString()
            let request = S3Request(
                operation: "DeleteObjects", method: .POST, key: nil, query: [("delete", "")],
                headers: [("content-md5", md5), ("content-type", "application/xml")], body: body,
                payloadHash: Self.sha256Hex(of: body), idempotent: true)
            let root = try await performXML(request, expecting: "DeleteResult")
            for error in root.all("Error") {
                failures.append((error.text("Key") ?? "", error.text("Code") ?? "", error.text("Message") ?? ""))
            }
        }
        if let first = failures.first {
            let code: ObjectStoreError.Code = first.code == "AccessDenied" ? .accessDenied : .serverError
            throw redacted(
                ObjectStoreError(
                    code,
                    "DeleteObjects could not delete \(failures.count) of \(keys.count) objects in bucket "
                        + "\(ObjectStoreError.quoted(bucket)), the first \(ObjectStoreError.quoted(first.key)) "
                        + "(\(first.code): \(first.message.prefix(160))).",
                    serverCode: first.code))
        }
    }

    /// Performs a request whose answer is an XML document and parses it, retrying (as ``perform(_:_:)`` does) when
    /// the body breaks off or is an error in a 200.
    func performXML(_ request: S3Request, expecting rootName: String) async throws -> S3XML {
        try await perform(request) { response in
            let body = try await Self.collect(response)
            let root: S3XML
            do {
                root = try S3XML.parse(body.readableBytesView)
            } catch {
                throw ObjectStoreError.badResponse(
                    "The answer to \(request.operation) in bucket \(ObjectStoreError.quoted(bucket)) is not XML "
                        + "(\(error)).",
                    underlying: error)
            }
            if let embedded = S3ErrorResponse(embeddedIn: root, headers: response.headers) { throw embedded }
            guard root.name == rootName else {
                throw ObjectStoreError.badResponse(
                    "The answer to \(request.operation) is a <\(root.name)>, not a <\(rootName)>.")
            }
            return root
        }
    }
}

/// The objects under a prefix, listed a page at a time as they are iterated. Made by
/// ``S3Client/listObjects(prefix:startAfter:pageSize:)``.
public struct ObjectListing: AsyncSequence, Sendable {
    public typealias Element = ObjectSummary

    let client: S3Client
    let prefix: String
    let startAfter: String?
    let pageSize: Int

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(listing: self)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let listing: ObjectListing
        var page: [ObjectSummary] = []
        var index = 0
        var token: String?
        var started = false

        init(listing: ObjectListing) { self.listing = listing }

        public mutating func next() async throws -> ObjectSummary? {
            while index == page.count {
                guard !started || token != nil else { return nil }
                let next = try await listing.client.listObjectsPage(
                    prefix: listing.prefix, startAfter: started ? nil : listing.startAfter, continuationToken: token,
                    maxKeys: listing.pageSize)
                started = true
                page = next.objects
                index = 0
                token = next.nextContinuationToken
            }
            defer { index += 1 }
            return page[index]
        }
    }
}
