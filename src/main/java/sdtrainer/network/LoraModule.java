package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Ops;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One LoRA pair on a base layer: {@code up(down(x)) * multiplier * alpha / rank}, added to the layer's output.
 * For a Conv2d target, down is a convolution with the target's kernel, stride and padding and up is 1x1,
 * as in kohya's LoRAModule. The pair is computed in the parameters' dtype, whatever the activations' dtype.
 */
final class LoraModule implements Adapter {
    final Target target;
    final NDArray down;
    final NDArray up;
    final int rank;
    final double multiplier;
    /** Replaced when a resumed file carries another alpha, so the loaded weights keep their effect. */
    float alpha;

    LoraModule(Target target, NDArray down, NDArray up, float alpha, double multiplier) {
        this.target = target;
        this.down = down;
        this.up = up;
        this.rank = Math.toIntExact(down.getShape().get(0));
        this.alpha = alpha;
        this.multiplier = multiplier;
    }

    @Override
    public Target target() { return target; }

    @Override
    public Map<String, NDArray> parameters() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        out.put(target.name() + LoraNetwork.DOWN, down);
        out.put(target.name() + LoraNetwork.UP, up);
        return out;
    }

    /** multiplier * alpha / rank. */
    float scale() {
        return (float) (multiplier * alpha / rank);
    }

    @Override
    public NDArray forward(NDArray x) {
        NDArray in = Ops.castKeepingGrad(x, down.getDataType());
        NDArray out;
        if (target.layer() instanceof Conv2d c) {
            NDArray h = ai.djl.nn.convolutional.Conv2d.conv2d(in, down, null, new Shape(c.stride, c.stride),
                    new Shape(c.padding, c.padding), new Shape(1, 1), 1).singletonOrThrow();
            out = ai.djl.nn.convolutional.Conv2d.conv2d(h, up, null, new Shape(1, 1), new Shape(0, 0),
                    new Shape(1, 1), 1).singletonOrThrow();
        } else {
            NDArray h = ai.djl.nn.core.Linear.linear(in, down, null).singletonOrThrow();
            out = ai.djl.nn.core.Linear.linear(h, up, null).singletonOrThrow();
        }
        return Ops.castKeepingGrad(Ops.scale(out, scale()), x.getDataType());
    }

    /** The weight change this pair stands for, shaped like the base weight: up @ down * scale (fp32). */
    @Override
    public NDArray delta() {
        long out = up.getShape().get(0);
        Shape weightShape = target.weight().shape();
        NDArray d = up.reshape(out, rank).matMul(down.reshape(rank, -1)).mul(scale());
        return d.reshape(weightShape);
    }
}
