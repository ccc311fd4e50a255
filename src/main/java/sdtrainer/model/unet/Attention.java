package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Ops;

/** diffusers Attention (to_q, to_k, to_v, to_out.0) on token sequences [B, L, C]. */
public final class Attention extends Module {
    final int heads;
    public final Linear to_q, to_k, to_v;
    final ModuleList<Linear> to_out;

    public Attention(int queryDim, int contextDim, int heads, int headDim, boolean qkvBias) {
        this.heads = heads;
        int inner = heads * headDim;
        to_q = child("to_q", new Linear(queryDim, inner, qkvBias));
        to_k = child("to_k", new Linear(contextDim, inner, qkvBias));
        to_v = child("to_v", new Linear(contextDim, inner, qkvBias));
        to_out = child("to_out", new ModuleList<>());
        to_out.add(new Linear(inner, queryDim, true));
    }

    /** Self-attention when context is null, cross-attention otherwise. */
    public NDArray forward(NDArray x, NDArray context) {
        NDArray ctx = context == null ? x : context;
        NDArray a = Ops.attention(to_q.forward(x), to_k.forward(ctx), to_v.forward(ctx), heads, null);
        return to_out.get(0).forward(a);
    }
}
