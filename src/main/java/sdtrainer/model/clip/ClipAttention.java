package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.Ops;

/** transformers CLIPAttention: multi-head self-attention with q/k/v/out projections. */
public final class ClipAttention extends Module {
    final int heads;
    final Linear q_proj, k_proj, v_proj, out_proj;

    ClipAttention(ClipTextConfig c) {
        heads = c.numAttentionHeads();
        int d = c.hiddenSize();
        k_proj = child("k_proj", new Linear(d, d, true));
        v_proj = child("v_proj", new Linear(d, d, true));
        q_proj = child("q_proj", new Linear(d, d, true));
        out_proj = child("out_proj", new Linear(d, d, true));
    }

    NDArray forward(NDArray h, NDArray causalMask) {
        NDArray a = Ops.attention(q_proj.forward(h), k_proj.forward(h), v_proj.forward(h), heads, causalMask);
        return out_proj.forward(a);
    }
}
