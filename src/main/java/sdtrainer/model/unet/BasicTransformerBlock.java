package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.LayerNorm;
import sdtrainer.nn.Module;

/** diffusers BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, pre-LayerNorm. */
public final class BasicTransformerBlock extends Module {
    final LayerNorm norm1, norm2, norm3;
    final Attention attn1, attn2;
    final FeedForward ff;

    public BasicTransformerBlock(int dim, int heads, int headDim, int crossAttentionDim) {
        norm1 = child("norm1", new LayerNorm(dim, 1e-5f));
        attn1 = child("attn1", new Attention(dim, dim, heads, headDim, false));
        norm2 = child("norm2", new LayerNorm(dim, 1e-5f));
        attn2 = child("attn2", new Attention(dim, crossAttentionDim, heads, headDim, false));
        norm3 = child("norm3", new LayerNorm(dim, 1e-5f));
        ff = child("ff", new FeedForward(dim));
    }

    public NDArray forward(NDArray x, NDArray context) {
        NDArray h = x.add(attn1.forward(norm1.forward(x), null));
        h = h.add(attn2.forward(norm2.forward(h), context));
        return h.add(ff.forward(norm3.forward(h)));
    }
}
