package sdtrainer.model.clip;

import static sdtrainer.io.ConfigFields.integer;
import static sdtrainer.io.ConfigFields.number;
import static sdtrainer.io.ConfigFields.text;

import com.fasterxml.jackson.databind.JsonNode;

/** The fields of a transformers CLIPTextConfig that shape the text encoder. */
public record ClipTextConfig(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
                             int numAttentionHeads, int maxPositionEmbeddings, String hiddenAct,
                             float layerNormEps, int eosTokenId, int projectionDim) {

    public static ClipTextConfig from(JsonNode c) {
        // text_config nesting appears in full CLIPModel configs; SD stores the text config flat
        JsonNode t = c.has("text_config") ? c.get("text_config") : c;
        return new ClipTextConfig(
                integer(t, "vocab_size", 49408),
                integer(t, "hidden_size", 512),
                integer(t, "intermediate_size", 2048),
                integer(t, "num_hidden_layers", 12),
                integer(t, "num_attention_heads", 8),
                integer(t, "max_position_embeddings", 77),
                text(t, "hidden_act", "quick_gelu"),
                (float) number(t, "layer_norm_eps", 1e-5),
                integer(t, "eos_token_id", 2),
                integer(t, "projection_dim", 512));
    }
}
