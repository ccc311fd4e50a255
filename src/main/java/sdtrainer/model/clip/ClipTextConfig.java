package sdtrainer.model.clip;

import com.fasterxml.jackson.databind.JsonNode;

/** The fields of a transformers CLIPTextConfig that shape the text encoder. */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct,
                             float layerNormEps, int eosTokenId, int projectionDim) {

    public static ClipTextConfig from(JsonNode c) {
        // text_config nesting appears in full CLIPModel configs; SD stores the text config flat
        JsonNode t = c.has("text_config") ? c.get("text_config") : c;
        return new ClipTextConfig(
                t.path("vocab_size").asInt(49408),
                t.path("hidden_size").asInt(512),
                t.path("intermediate_size").asInt(2048),
                t.path("num_hidden_layers").asInt(12),
                t.path("num_attention_heads").asInt(8),
                t.path("max_position_embeddings").asInt(77),
                t.path("hidden_act").asText("quick_gelu"),
                (float) t.path("layer_norm_eps").asDouble(1e-5),
                t.path("eos_token_id").asInt(2),
                t.path("projection_dim").asInt(512));
    }
}
