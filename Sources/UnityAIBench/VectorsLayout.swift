import Foundation

/// How the benchmark's rows are laid out over tenants, shared by the loader (deploy/bench-vectors.sh writes the
/// documents and chunks with the same rule in SQL) and the measurements.
///
/// Rows come in documents of ``chunksPerDocument`` consecutive chunks, as ingest writes them; document `j` belongs to
/// the small tenant when `j % 100 == 0` (exactly 1 % of the rows) and otherwise to large tenant `1 + j % 9`. So the
/// small tenant's rows are spread over the whole table in runs of one document, and every tenant's points are drawn
/// from all clusters alike (the hard case for a filtered index scan: its neighbours are everyone's neighbours).
enum VectorsLayout {
    static let chunksPerDocument = 100
    static let largeTenants = 9
    static let dimensions = 384
    /// The generator's seed: every run writes the same rows and queries.
    static let seed: UInt64 = 42
    /// Clusters of about a thousand points.
    static func clusters(rows: Int) -> Int { max(10, rows / 1000) }

    /// 0 for the small tenant, 1...9 for the large ones.
    static func tenantIndex(row: Int) -> Int {
        let document = row / chunksPerDocument
        return document % 100 == 0 ? 0 : 1 + document % largeTenants
    }

    /// Writes `chunk_embeddings` rows in COPY text form (chunk_id = row + 1, model, tenant, embedding) to stdout.
    static func writeEmbeddingRows(rows: Int, modelID: Int, tenantIDs: [Int], seed: UInt64) {
        writeRows(count: rows, clusters: clusters(rows: rows), stream: 0, seed: seed) { row, writer in
            writer.append(integer: row + 1)
            writer.append("\t")
            writer.append(integer: modelID)
            writer.append("\t")
            writer.append(integer: tenantIDs[tenantIndex(row: row)])
        }
    }

    /// Writes `count` query points (new points of the same clusters: stream 1) as COPY text rows (id, embedding).
    static func writeQueryRows(rows: Int, count: Int, seed: UInt64) {
        writeRows(count: count, clusters: clusters(rows: rows), stream: 1, seed: seed) { query, writer in
            writer.append(integer: query + 1)
        }
    }

    /// Writes `count` rows of COPY text to stdout: `leading` columns, a tab, the point.
    private static func writeRows(
        count: Int, clusters: Int, stream index: UInt64, seed: UInt64, leading: (Int, inout VectorTextWriter) -> Void
    ) {
        let vectors = SyntheticVectors(dimensions: dimensions, clusters: clusters, seed: seed)
        var stream = vectors.points(stream: index)
        var point = [Float](repeating: 0, count: dimensions)
        var writer = VectorTextWriter(capacity: 1 << 20)
        for row in 0..<count {
            stream.next(into: &point)
            leading(row, &writer)
            writer.append("\t")
            writer.append(vector: point)
            writer.append("\n")
            if writer.bytes.count > 1 << 20 || row == count - 1 {
                FileHandle.standardOutput.write(Data(writer.bytes))
                writer.removeAll()
            }
        }
    }
}
