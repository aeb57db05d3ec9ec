import Foundation
import Providers

extension RoutingConfiguration {
    /// The Ollama providers' names: configured with `type: ollama`, or `ollama` from the environment.
    public var ollamaProviderNames: [String] { providers.filter { $0.kind == .ollama }.map(\.name) }

    /// The models of Ollama providers that the configuration names, each with where it names it: a cleanup never
    /// removes them. Covers the providers' default models, the strategies' steps (and so the tasks and tenants that
    /// use them), the model catalogue, the embedding model and the answer model.
    public func pinnedOllamaModels(answerModel: String? = nil) -> [String: [String]] {
        let ollama = Set(ollamaProviderNames)
        var pins: [String: [String]] = [:]
        func pin(_ model: String, _ reason: String) { pins[model, default: []].append(reason) }
        /// `provider/model` naming an Ollama provider, as a model name.
        func ollamaModel(_ qualified: String) -> String? {
            guard let slash = qualified.firstIndex(of: "/"), ollama.contains(String(qualified[..<slash])) else { return nil }
            let model = String(qualified[qualified.index(after: slash)...])
            return model.isEmpty ? nil : model
        }
        for provider in providers where provider.kind == .ollama {
            if let model = provider.defaultModel { pin(model, "default model of provider '\(provider.name)'") }
        }
        for (name, steps) in strategies.sorted(by: { $0.key < $1.key }) {
            for step in steps where ollama.contains(step.provider) {
                if let model = step.model ?? provider(named: step.provider)?.defaultModel { pin(model, "strategy '\(name)'") }
            }
        }
        for entry in models where ollama.contains(entry.provider) { pin(entry.model, "model catalogue") }
        if let model = ollamaModel(embeddingModel) { pin(model, "embedding model") }
        if let answerModel, let model = ollamaModel(answerModel) { pin(model, "answer model") }
        return pins.mapValues { Array(Set($0)).sorted() }
    }
}
