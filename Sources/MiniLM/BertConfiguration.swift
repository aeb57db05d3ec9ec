import Foundation

/// The shape of a BERT encoder, read from the model's `config.json`.
struct BertConfiguration: Sendable, Equatable {
    var hiddenSize: Int
    var attentionHeads: Int
    var layers: Int
    var intermediateSize: Int
    var maximumPositions: Int
    var vocabularySize: Int
    var tokenTypes: Int
    var layerNormEpsilon: Float

    /// The width of one attention head.
    var headSize: Int { hiddenSize / attentionHeads }

    /// all-MiniLM-L6-v2's values.
    static let miniLML6 = BertConfiguration(
        hiddenSize: 384, attentionHeads: 12, layers: 6, intermediateSize: 1536, maximumPositions: 512,
        vocabularySize: 30522, tokenTypes: 2, layerNormEpsilon: 1e-12)

    init(
        hiddenSize: Int, attentionHeads: Int, layers: Int, intermediateSize: Int, maximumPositions: Int,
        vocabularySize: Int, tokenTypes: Int, layerNormEpsilon: Float
    ) {
        self.hiddenSize = hiddenSize
        self.attentionHeads = attentionHeads
        self.layers = layers
        self.intermediateSize = intermediateSize
        self.maximumPositions = maximumPositions
        self.vocabularySize = vocabularySize
        self.tokenTypes = tokenTypes
        self.layerNormEpsilon = layerNormEpsilon
    }

    /// Reads `config.json` at `path`; only absolute-position BERT encoders with exact (erf) GELU are accepted.
    init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        else {
            throw MiniLMError.invalidModelFile(path, "it cannot be read as a JSON object")
        }
        func integer(_ key: String) throws -> Int {
            guard let value = object[key] as? Int, value > 0 else {
                throw MiniLMError.invalidModelFile(path, "'\(key)' is missing or not a positive integer")
            }
            return value
        }
        if let type = object["model_type"] as? String, type != "bert" {
            throw MiniLMError(.unsupportedModel, "\(path) describes a '\(type)' model; only BERT encoders are implemented.")
        }
        if let activation = object["hidden_act"] as? String, activation != "gelu" {
            throw MiniLMError(.unsupportedModel, "\(path) uses the activation '\(activation)'; only exact GELU is implemented.")
        }
        if let positions = object["position_embedding_type"] as? String, positions != "absolute" {
            throw MiniLMError(
                .unsupportedModel, "\(path) uses '\(positions)' position embeddings; only absolute ones are implemented.")
        }
        self.init(
            hiddenSize: try integer("hidden_size"),
            attentionHeads: try integer("num_attention_heads"),
            layers: try integer("num_hidden_layers"),
            intermediateSize: try integer("intermediate_size"),
            maximumPositions: try integer("max_position_embeddings"),
            vocabularySize: try integer("vocab_size"),
            tokenTypes: try integer("type_vocab_size"),
            layerNormEpsilon: Float((object["layer_norm_eps"] as? Double) ?? 1e-12))
        guard hiddenSize % attentionHeads == 0 else {
            throw MiniLMError.invalidModelFile(path, "hidden_size \(hiddenSize) is not a multiple of num_attention_heads")
        }
    }
}
