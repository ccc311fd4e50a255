package sdtrainer.nn;

import ai.djl.ndarray.NDArray;

/** torch.nn.GroupNorm (affine) over [N, C, ...]; the kernel sits behind {@link Ops#groupNorm}. */
public final class GroupNorm extends Module implements Layer {
    public final int groups;
    public final int channels;
    public final float eps;
    public final Parameter weight;
    public final Parameter bias;

    public GroupNorm(int groups, int channels, float eps) {
        if (channels % groups != 0) {
            throw new IllegalArgumentException("GroupNorm: " + channels + " channels are not divisible into " + groups + " groups");
        }
        this.groups = groups;
        this.channels = channels;
        this.eps = eps;
        this.weight = parameter("weight", channels);
        this.bias = parameter("bias", channels);
    }

    @Override
    public NDArray forward(NDArray x) {
        return Ops.groupNorm(x, groups, weight.get(), bias.get(), eps);
    }

    /** silu(forward(x)) in one kernel call (see {@link Ops#groupNormSilu}). */
    public NDArray forwardSilu(NDArray x) {
        return Ops.groupNormSilu(x, groups, weight.get(), bias.get(), eps);
    }
}
