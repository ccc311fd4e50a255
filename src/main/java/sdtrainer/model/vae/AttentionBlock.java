package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.GroupNorm;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Ops;
import sdtrainer.nn.Scopes;

/** The VAE mid-block attention (diffusers Attention with group_norm, one head, residual) over spatial positions. */
public final class AttentionBlock extends Module {
    final GroupNorm group_norm;
    final Linear to_q, to_k, to_v;
    final ModuleList<Linear> to_out;

    public AttentionBlock(int channels, int groups) {
        group_norm = child("group_norm", new GroupNorm(groups, channels, 1e-6f));
        to_q = child("to_q", new Linear(channels, channels, true));
        to_k = child("to_k", new Linear(channels, channels, true));
        to_v = child("to_v", new Linear(channels, channels, true));
        to_out = child("to_out", new ModuleList<>());
        to_out.add(new Linear(channels, channels, true));
    }

    public NDArray forward(NDArray x) {
        // in inference the block's intermediates are freed as it returns (sampling, VAE decode)
        return Scopes.inference(() -> compute(x));
    }

    private NDArray compute(NDArray x) {
        long b = x.getShape().get(0), c = x.getShape().get(1), h = x.getShape().get(2), w = x.getShape().get(3);
        NDArray t = group_norm.forward(x).reshape(b, c, h * w).transpose(0, 2, 1);
        NDArray a = Ops.attention(to_q.forward(t), to_k.forward(t), to_v.forward(t), 1, null);
        NDArray out = to_out.get(0).forward(a).transpose(0, 2, 1).reshape(b, c, h, w);
        return out.add(x);
    }
}
