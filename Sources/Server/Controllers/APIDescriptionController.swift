import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /openapi.yaml`: the OpenAPI 3.1 description of this API (`docs/openapi.yaml`), open without a key.
struct APIDescriptionController<Context: RequestContext>: Sendable {
    /// The description as bundled with the Server target, read once per process (`nil` when the resource bundle is
    /// missing, say a binary copied without its `unity-ai_Server.resources` directory).
    static var document: ByteBuffer? { APIDescription.document }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/openapi.yaml") { _, _ in
            guard let document = Self.document else {
                throw APIError(
                    status: .serviceUnavailable, code: "api_description_unavailable",
                    message: "The API description is not installed with this binary; see docs/openapi.yaml in the source.")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: .init(byteBuffer: document))
        }
    }
}

/// Where the bundled `openapi.yaml` is found.
enum APIDescription {
    /// The resource's file name inside the Server target's bundle (`Package.swift`: `.copy("Resources/openapi.yaml")`).
    static let fileName = "openapi.yaml"

    /// Read on first use, once per process.
    static let document: ByteBuffer? = location().flatMap { FileManager.default.contents(atPath: $0.path) }.map {
        ByteBuffer(bytes: $0)
    }

    /// The bundled file, looked up as SwiftPM lays resource bundles out (next to the executable, or in the main
    /// bundle's resources). `Bundle.module` is not used: it traps when the bundle is missing, and a missing API
    /// description should cost a 503 on one path, not the server.
    static func location() -> URL? {
        var directories: [URL] = [Bundle.main.bundleURL]
        if let resources = Bundle.main.resourceURL { directories.append(resources) }
        if let executable = Bundle.main.executableURL { directories.append(executable.deletingLastPathComponent()) }
        let bundles = ["unity-ai_Server.resources", "unity-ai_Server.bundle"]
        let candidates = directories.flatMap { directory in
            bundles.flatMap { bundle in
                [
                    directory.appendingPathComponent(bundle).appendingPathComponent(fileName),
                    directory.appendingPathComponent(bundle).appendingPathComponent("Contents/Resources").appendingPathComponent(fileName),
                ]
            }
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }
}
