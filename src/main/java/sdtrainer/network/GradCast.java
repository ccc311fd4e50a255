package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * Dtype casts that stay in the autograd graph. DJL's {@code toType} runs without grad, so an fp32 adapter
 * on an fp16 base model (--amp) would receive no gradient; copying into a new array of the other type is a
 * differentiable {@code copy_} in libtorch.
 */
final class GradCast {
    private GradCast() {}

    /** {@code x} as {@code type}; x itself when it already is. The result belongs to x's manager. */
    static NDArray to(NDArray x, DataType type) {
        if (x.getDataType() == type) return x;
        NDArray out = x.getManager().create(x.getShape(), type, x.getDevice());
        out.set(new NDIndex("..."), x);
        return out;
    }
}
