package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import sdtrainer.config.LossType;

/**
 * kohya's conditional_loss with reduction "none": l2 (p - t)^2, l1 |p - t|, pseudo-huber
 * 2c (sqrt((p - t)^2 + c^2) - c) and smooth-l1 2 (sqrt((p - t)^2 + c^2) - c), c one value per sample.
 */
public record ElementwiseLoss(LossType type, HuberThreshold threshold) {

    public ElementwiseLoss {
        if (type.usesHuberC() && threshold == null) throw new IllegalArgumentException(type + " needs a threshold");
    }

    /** Loss like pred [B, ...]; timesteps [B] choose the threshold of huber and smooth_l1. */
    public NDArray compute(NDArray pred, NDArray target, NDArray timesteps) {
        NDArray d = pred.sub(target);
        switch (type) {
            case L2:
                return d.square();
            case L1:
                return d.abs();
            default: {
                long[] dims = new long[pred.getShape().dimension()];
                java.util.Arrays.fill(dims, 1);
                dims[0] = -1;
                NDArray c = threshold.at(timesteps).reshape(dims);
                NDArray excess = d.square().add(c.square()).sqrt().sub(c);
                return type == LossType.HUBER ? c.mul(2f).mul(excess) : excess.mul(2f);
            }
        }
    }
}
