package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.function.UnaryOperator;

/**
 * The kernels the blocks use that DJL has no single op for. Attention and normalisation each go
 * through one method here, so a fused kernel can replace them without touching any block.
 */
public final class Ops {
    private Ops() {}

    /**
     * x times s. Use this, not {@code x.mul(s)}, wherever a gradient may flow: DJL wraps s in a tensor over a
     * Java buffer and closes it right after the op, yet autograd keeps that tensor for the backward pass, so
     * on CPU the gradient reads freed memory (intermittent NaN gradients). A torch-allocated scalar stays
     * alive for as long as the graph holds it.
     */
    public static NDArray scale(NDArray x, float s) {
        try (NDArray scalar = x.getManager().full(new Shape(), s, DataType.FLOAT32, x.getDevice())) {
            return x.mul(scalar);
        }
    }

    /** x divided by s, safe under autograd for the reason given at {@link #scale}. */
    public static NDArray divide(NDArray x, float s) {
        try (NDArray scalar = x.getManager().full(new Shape(), s, DataType.FLOAT32, x.getDevice())) {
            return x.div(scalar);
        }
    }

    /** torch.nn.functional.silu: one kernel through libtorch, x * sigmoid(x) where that is unavailable. */
    public static NDArray silu(NDArray x) {
        NDArray out = fusedKernels ? TorchScriptKernels.silu(x) : null;
        return out != null ? out : x.mul(x.getNDArrayInternal().sigmoid());
    }

    /** Exact (erf) GELU, as torch.nn.functional.gelu. */
    public static NDArray gelu(NDArray x) {
        return x.getNDArrayInternal().gelu();
    }

    /** CLIP's quick_gelu: x * sigmoid(1.702 x). */
    public static NDArray quickGelu(NDArray x) {
        return x.mul(scale(x, 1.702f).getNDArrayInternal().sigmoid());
    }

    /**
     * Group normalisation of [N, C, ...] with a per-channel affine: libtorch's group_norm (DJL has no call for
     * it), or where that is unavailable or the dtypes differ, a weight-less layer norm over each group and then
     * the affine (equal within 1e-6).
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        NDArray out = groupNormKernel(x, groups, weight, bias, eps, false);
        return out != null ? out : composedGroupNorm(x, groups, weight, bias, eps);
    }

    /** silu(groupNorm(x, ...)), in one kernel call where {@link #groupNorm} has its kernel. */
    public static NDArray groupNormSilu(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        NDArray out = groupNormKernel(x, groups, weight, bias, eps, true);
        return out != null ? out : silu(composedGroupNorm(x, groups, weight, bias, eps));
    }

    /** libtorch's group_norm (then SiLU); null where the kernels are off or unavailable or the dtypes differ. */
    private static NDArray groupNormKernel(NDArray x, int groups, NDArray weight, NDArray bias, float eps,
                                           boolean thenSilu) {
        return fusedKernels && weight.getDataType() == x.getDataType() && bias.getDataType() == x.getDataType()
                ? TorchScriptKernels.groupNorm(x, groups, weight, bias, eps, thenSilu) : null;
    }

    static NDArray composedGroupNorm(NDArray x, int groups, NDArray weight, NDArray bias, float eps) {
        Shape shape = x.getShape();
        long n = shape.get(0), c = shape.get(1);
        long rest = shape.size() / (n * groups);
        NDArray grouped = x.reshape(n, groups, rest);
        NDArray ones = x.getManager().ones(new Shape(rest), x.getDataType(), x.getDevice());
        NDArray zeros = x.getManager().zeros(new Shape(rest), x.getDataType(), x.getDevice());
        NDArray normed = ai.djl.nn.norm.LayerNorm.layerNorm(grouped, new Shape(rest), ones, zeros, eps)
                .singletonOrThrow().reshape(shape);
        long[] bshape = new long[shape.dimension()];
        java.util.Arrays.fill(bshape, 1);
        bshape[1] = c;
        return normed.mul(weight.reshape(bshape)).add(bias.reshape(bshape));
    }

    /**
     * Multi-head scaled dot-product attention on [B, L, heads*d] projections, returning [B, Lq, heads*d].
     * {@code mask} (or null) is added to the scores and broadcasts to [B, heads, Lq, Lk]. Runs libtorch's
     * scaled_dot_product_attention (flash kernels: the [Lq, Lk] scores are never stored whole), or matmul and
     * softmax where that is unavailable.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, int heads, NDArray mask) {
        long b = q.getShape().get(0), lq = q.getShape().get(1), inner = q.getShape().get(2);
        long lk = k.getShape().get(1);
        long d = inner / heads;
        if (Flops.counting()) Flops.attention(q, lk);
        NDArray qh = q.reshape(b, lq, heads, d).transpose(0, 2, 1, 3);
        NDArray kh = k.reshape(b, lk, heads, d).transpose(0, 2, 1, 3);
        NDArray vh = v.reshape(b, lk, heads, d).transpose(0, 2, 1, 3);
        NDArray out = fusedKernels ? TorchScriptKernels.attention(qh, kh, vh, mask) : null;
        if (out == null) out = composedAttention(qh, kh, vh, mask);
        return out.transpose(0, 2, 1, 3).reshape(b, lq, inner);
    }

    private static volatile boolean fusedKernels = true;

    /**
     * Chooses libtorch's kernels (the default: fused attention, group norm, SiLU) or their compositions of DJL
     * ops (matmul + softmax, layer norm + affine, x * sigmoid(x)), e.g. to compare them.
     */
    public static void useFusedKernels(boolean fused) {
        fusedKernels = fused;
    }

    /** Attention on [B, heads, L, d] by matmul and softmax (in float32 when the inputs are half precision). */
    static NDArray composedAttention(NDArray qh, NDArray kh, NDArray vh, NDArray mask) {
        NDArray scores = scale(qh.matMul(kh.transpose(0, 1, 3, 2)), (float) (1.0 / Math.sqrt(qh.getShape().get(3))));
        if (mask != null) scores = scores.add(mask);
        DataType dt = scores.getDataType();
        NDArray probs = dt == DataType.FLOAT16
                ? castKeepingGrad(castKeepingGrad(scores, DataType.FLOAT32).softmax(-1), dt)
                : scores.softmax(-1);
        return probs.matMul(vh);
    }

    /**
     * {@code body} on x in channels-last memory order, its result back in the default order (the values are the
     * same; only the kernels libtorch picks differ): on CPU, oneDNN's convolutions of few channels at full
     * resolution run faster on NHWC. Used for the VAE encode, whose inputs and outputs are plain arrays.
     */
    public static NDArray inChannelsLast(NDArray x, UnaryOperator<NDArray> body) {
        NDArray nhwc = fusedKernels && !x.getDevice().isGpu() ? TorchScriptKernels.channelsLast(x) : null;
        if (nhwc == null) return body.apply(x);
        NDArray out = body.apply(nhwc);
        NDArray plain = TorchScriptKernels.contiguous(out);
        return plain != null ? plain : out;
    }

    /** Nearest-neighbour 2x upsampling of [N, C, H, W]. */
    public static NDArray upsampleNearest2x(NDArray x) {
        Shape s = x.getShape();
        return x.getNDArrayInternal().interpolation(new long[] {s.get(2) * 2, s.get(3) * 2}, 0, false);
    }

    /**
     * {@code x} as {@code type}, staying in the autograd graph (x itself when it already is). DJL's toType runs
     * without grad, so an fp32 adapter or loss on an fp16 model would receive no gradient through it; copying
     * into a new array of the other type is a differentiable copy_ in libtorch. Belongs to x's manager.
     */
    public static NDArray castKeepingGrad(NDArray x, DataType type) {
        if (x.getDataType() == type) return x;
        NDArray out = x.getManager().create(x.getShape(), type, x.getDevice());
        out.set(new ai.djl.ndarray.index.NDIndex("..."), x);
        return out;
    }
}
