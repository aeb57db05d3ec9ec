import Foundation

/// Reads a model list that an upstream sends in pages, each naming the cursor of the next.
enum PagedModelList {
    /// The models of at most `maximumPages` pages (at least one), each model id once, in order. `page` reads the
    /// page at a cursor (`nil` for the first) and returns its models and the next cursor (`nil` on the last page).
    /// Reading also stops when a cursor repeats one already followed (a broken or fake upstream).
    static func models(
        maximumPages: Int, page: (_ cursor: String?) async throws -> (models: [ModelInfo], next: String?)
    ) async throws -> [ModelInfo] {
        var models: [ModelInfo] = []
        var seen: Set<String> = []
        var cursor: String?
        var followed: Set<String> = []
        for _ in 0..<max(1, maximumPages) {
            let (pageModels, next) = try await page(cursor)
            for model in pageModels where seen.insert(model.id).inserted {
                models.append(model)
            }
            guard let next, followed.insert(next).inserted else { break }
            cursor = next
        }
        return models
    }

    /// `cursor` escaped as a query value.
    static func queryEscaped(_ cursor: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return cursor.addingPercentEncoding(withAllowedCharacters: allowed) ?? cursor
    }
}
