package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import sdtrainer.nn.LayerNorm;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;

import java.util.ArrayList;
import java.util.List;

/** transformers CLIPTextModel; parameters live under {@code text_model.}. */
public class ClipTextModel extends Module {

    /** Final-layer-normed last state, every layer's raw hidden state (index 0 = embeddings), pooled output. */
    public record Output(NDArray lastHiddenState, List<NDArray> hiddenStates, NDArray pooled) {}

    public final ClipTextConfig config;
    private final TextTransformer text_model;

    public ClipTextModel(ClipTextConfig config) {
        this.config = config;
        this.text_model = child("text_model", new TextTransformer(config));
    }

    public Output forward(NDArray ids) {
        return text_model.forward(ids);
    }

    /** Applies the final layer norm to any hidden state (clip skip: final norm of hidden_states[-2]). */
    public NDArray finalLayerNorm(NDArray hidden) {
        return text_model.final_layer_norm.forward(hidden);
    }

    /** transformers CLIPTextTransformer: embeddings, encoder layers, final layer norm. */
    public static final class TextTransformer extends Module {
        final ClipTextConfig config;
        final ClipTextEmbeddings embeddings;
        final ModuleList<ClipEncoderLayer> layers;
        final LayerNorm final_layer_norm;

        TextTransformer(ClipTextConfig c) {
            config = c;
            embeddings = child("embeddings", new ClipTextEmbeddings(c));
            layers = child("encoder", new Encoder()).layers;
            for (int i = 0; i < c.numHiddenLayers(); i++) layers.add(new ClipEncoderLayer(c));
            final_layer_norm = child("final_layer_norm", new LayerNorm(c.hiddenSize(), c.layerNormEps()));
        }

        Output forward(NDArray ids) {
            NDManager m = ids.getManager();
            long len = ids.getShape().get(1);
            NDArray h = embeddings.forward(ids);
            NDArray mask = causalMask(m, len, h);
            List<NDArray> hidden = new ArrayList<>();
            hidden.add(h);
            for (ClipEncoderLayer layer : layers) {
                h = layer.forward(h, mask);
                hidden.add(h);
            }
            NDArray last = final_layer_norm.forward(h);
            return new Output(last, hidden, pool(last, ids));
        }

        /** Scores above the diagonal get the dtype's lowest value, as transformers' causal mask. */
        private static NDArray causalMask(NDManager m, long len, NDArray like) {
            DataType dt = like.getDataType();
            float min = dt == DataType.FLOAT16 ? -65504f : -Float.MAX_VALUE;
            NDArray rows = m.arange(0, len, 1, DataType.INT64, like.getDevice()).reshape(len, 1);
            NDArray cols = m.arange(0, len, 1, DataType.INT64, like.getDevice()).reshape(1, len);
            NDArray above = cols.gt(rows);
            return above.toType(DataType.FLOAT32, false).mul(min).toType(dt, false).reshape(1, 1, len, len);
        }

        /** transformers 4.33: legacy configs (eos_token_id 2) pool at argmax(ids), others at the first eos. */
        private NDArray pool(NDArray last, NDArray ids) {
            NDArray at = config.eosTokenId() == 2
                    ? ids.argMax(1)
                    : ids.eq(config.eosTokenId()).toType(DataType.INT32, false).argMax(1);
            long b = ids.getShape().get(0);
            NDArray rows = ids.getManager().arange(0, b, 1, DataType.INT64, ids.getDevice());
            return last.get(new NDIndex("{}, {}", rows, at));
        }
    }

    /** transformers CLIPEncoder: just the list of layers. */
    static final class Encoder extends Module {
        final ModuleList<ClipEncoderLayer> layers = child("layers", new ModuleList<>());
    }
}
