package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.LayerNorm;
import sdtrainer.nn.Module;

/** transformers CLIPEncoderLayer: pre-LayerNorm attention and MLP, each with a residual. */
public final class ClipEncoderLayer extends Module {
    final ClipAttention self_attn;
    final LayerNorm layer_norm1, layer_norm2;
    final ClipMlp mlp;

    ClipEncoderLayer(ClipTextConfig c) {
        self_attn = child("self_attn", new ClipAttention(c));
        layer_norm1 = child("layer_norm1", new LayerNorm(c.hiddenSize(), c.layerNormEps()));
        mlp = child("mlp", new ClipMlp(c));
        layer_norm2 = child("layer_norm2", new LayerNorm(c.hiddenSize(), c.layerNormEps()));
    }

    NDArray forward(NDArray h, NDArray causalMask) {
        NDArray x = h.add(self_attn.forward(layer_norm1.forward(h), causalMask));
        return x.add(mlp.forward(layer_norm2.forward(x)));
    }
}
