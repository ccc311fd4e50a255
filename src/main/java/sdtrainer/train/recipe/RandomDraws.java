package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import sdtrainer.nn.Noise;

/** Draws from one seeded Java generator, the same on every machine and device. */
public record RandomDraws(Noise noise) implements Draws {

    @Override
    public NDArray gaussian(NDManager m, Shape shape) {
        return noise.gaussian(m, shape, m.getDevice());
    }

    @Override
    public double uniform() {
        return noise.random().nextDouble();
    }
}
