import Storage
import Testing

/// The vector search's decisions without a server.
@Suite struct VectorSearchSettingsTests {
    @Test func efSearchCoversTheResultsAskedForWithinPgvectorsRange() {
        let settings = VectorSearchSettings()
        #expect(settings.efSearch(limit: 10) == settings.minimumEfSearch)
        #expect(settings.efSearch(limit: 300) == 600)
        #expect(settings.efSearch(limit: Int.max) == 1000)
    }

    @Test func largeModelsAreIndexedAsHalfvec() {
        let settings = VectorSearchSettings()
        #expect(settings.indexedType(dimensions: 384) == "vector(384)")
        #expect(settings.operatorClass(dimensions: 384) == "vector_cosine_ops")
        #expect(settings.indexedType(dimensions: 3072) == "halfvec(3072)")
        #expect(settings.operatorClass(dimensions: 3072) == "halfvec_cosine_ops")
    }

    @Test func onlyMidSizedTenantsWithASmallShareGetTheirOwnIndex() {
        var settings = VectorSearchSettings()
        settings.exactScanMaxRows = 1000
        settings.ownIndexBelowShare = 0.05
        let rows: [Int64: Int] = [1: 500, 2: 10_000, 3: 400_000, 4: 589_500]
        // 1: exact search serves it; 2: 1 % of the model; 3 and 4: large shares of the shared index.
        #expect(TenantVectorIndexes.tenantsNeedingOwnIndex(rowsByTenant: rows, settings: settings) == [2])
        #expect(TenantVectorIndexes.tenantsNeedingOwnIndex(rowsByTenant: [:], settings: settings).isEmpty)
    }

    /// By default every tenant past the exact limit gets its own index, large shares too, except a tenant holding
    /// all of the model's vectors: the model's index is then exactly its own.
    @Test func byDefaultEveryTenantPastTheExactLimitSharingTheModelGetsItsOwnIndex() {
        let settings = VectorSearchSettings()
        let rows: [Int64: Int] = [1: 500, 2: 10_000, 3: 400_000, 4: 589_500]
        #expect(TenantVectorIndexes.tenantsNeedingOwnIndex(rowsByTenant: rows, settings: settings) == [2, 3, 4])
        #expect(TenantVectorIndexes.tenantsNeedingOwnIndex(rowsByTenant: [7: 50_000], settings: settings).isEmpty)
    }
}
