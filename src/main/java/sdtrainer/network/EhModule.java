package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Ops;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import java.util.Map;

/**
 * The original sd-trainer's EH adapter on a Linear W [out, in]: one W_eh [out/n, in/n] applied to each of the
 * n groups of the input, y = W x + concat_g(W_eh x_g) * multiplier, i.e. a block-diagonal weight change.
 */
final class EhModule implements Adapter {
    final Target target;
    final NDArray weight;
    final int groups;
    final double multiplier;

    EhModule(Target target, NDArray weight, int groups, double multiplier) {
        this.target = target;
        this.weight = weight;
        this.groups = groups;
        this.multiplier = multiplier;
    }

    @Override
    public Target target() { return target; }

    @Override
    public Map<String, NDArray> parameters() {
        return Map.of(target.name() + EhNetwork.WEIGHT, weight);
    }

    @Override
    public NDArray forward(NDArray x) {
        NDArray in = Ops.castKeepingGrad(x, weight.getDataType());
        long[] s = x.getShape().getShape();
        long[] grouped = new long[s.length + 1];
        System.arraycopy(s, 0, grouped, 0, s.length - 1);
        grouped[s.length - 1] = groups;
        grouped[s.length] = s[s.length - 1] / groups;
        NDArray y = ai.djl.nn.core.Linear.linear(in.reshape(grouped), weight, null).singletonOrThrow();
        long[] flat = s.clone();
        flat[s.length - 1] = (long) groups * weight.getShape().get(0);
        return Ops.castKeepingGrad(Ops.scale(y.reshape(flat), (float) multiplier), x.getDataType());
    }

    @Override
    public NDArray delta() {
        long o = weight.getShape().get(0), i = weight.getShape().get(1);
        NDArray d = weight.getManager().zeros(new Shape(o * groups, i * groups), weight.getDataType());
        try (NDArray scaled = weight.mul((float) multiplier)) {
            for (int g = 0; g < groups; g++) {
                d.set(new NDIndex(g * o + ":" + (g + 1) * o + ", " + g * i + ":" + (g + 1) * i), scaled);
            }
        }
        return d;
    }
}
