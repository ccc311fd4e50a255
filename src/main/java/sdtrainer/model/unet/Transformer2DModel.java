package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.GroupNorm;
import sdtrainer.nn.Layer;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Scopes;

/** diffusers Transformer2DModel (continuous input): norm, proj_in, transformer blocks, proj_out, residual. */
public final class Transformer2DModel extends Module {
    final boolean linearProjection;
    final int inner;
    final GroupNorm norm;
    final Layer proj_in, proj_out;
    final ModuleList<BasicTransformerBlock> transformer_blocks;

    public Transformer2DModel(int heads, int headDim, int inChannels, int layers, int crossAttentionDim,
                              int groups, boolean useLinearProjection) {
        linearProjection = useLinearProjection;
        inner = heads * headDim;
        norm = child("norm", new GroupNorm(groups, inChannels, 1e-6f));
        proj_in = child("proj_in", useLinearProjection ? new Linear(inChannels, inner, true) : new Conv2d(inChannels, inner, 1, 1, 0));
        transformer_blocks = child("transformer_blocks", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            transformer_blocks.add(new BasicTransformerBlock(inner, heads, headDim, crossAttentionDim));
        }
        proj_out = child("proj_out", useLinearProjection ? new Linear(inner, inChannels, true) : new Conv2d(inner, inChannels, 1, 1, 0));
    }

    public NDArray forward(NDArray x, NDArray context) {
        // in inference the block's intermediates are freed as it returns (sampling, VAE decode)
        return Scopes.inference(() -> compute(x, context));
    }

    private NDArray compute(NDArray x, NDArray context) {
        long b = x.getShape().get(0), h = x.getShape().get(2), w = x.getShape().get(3);
        NDArray t = norm.forward(x);
        if (!linearProjection) t = proj_in.forward(t);
        t = t.transpose(0, 2, 3, 1).reshape(b, h * w, -1);
        if (linearProjection) t = proj_in.forward(t);
        for (BasicTransformerBlock block : transformer_blocks) t = block.forward(t, context);
        if (linearProjection) t = proj_out.forward(t);
        t = t.reshape(b, h, w, -1).transpose(0, 3, 1, 2);
        if (!linearProjection) t = proj_out.forward(t);
        return t.add(x);
    }
}
