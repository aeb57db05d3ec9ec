/// Which model a request goes to.
enum RequestedModel {
    /// The model the request names, else the provider's default.
    /// - Throws: `invalidRequest` when neither names a model.
    static func resolve(_ requested: String?, defaultModel: String?, provider: String) throws -> String {
        guard let model = requested ?? defaultModel, !model.isEmpty else {
            throw ProviderError.invalidRequest(
                provider: provider,
                reason: "The request names no model and the provider '\(provider)' has no default model. "
                    + "Name a model in the request or set the provider's defaultModel.")
        }
        return model
    }
}
