package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/** torch.nn.LayerNorm over the last dimension. */
public final class LayerNorm extends Module implements Layer {
    public final int dim;
    public final float eps;
    public final Parameter weight;
    public final Parameter bias;

    public LayerNorm(int dim, float eps) {
        this.dim = dim;
        this.eps = eps;
        this.weight = parameter("weight", dim);
        this.bias = parameter("bias", dim);
    }

    @Override
    public NDArray forward(NDArray x) {
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, new Shape(dim), weight.get(), bias.get(), eps).singletonOrThrow();
    }
}
