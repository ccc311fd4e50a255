package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import sdtrainer.train.recipe.Draws;

import java.util.List;
import java.util.Random;

/**
 * The random draws of one micro-batch, row by row from each sample's own generators ({@link RunRandom}). Rows
 * follow the tiled batch of --minibatch_repeat: row r is sample {@code r % n}, copy {@code r / n}.
 */
final class BatchDraws implements Draws {
    private final RunRandom random;
    private final List<RunRandom.SampleKey> keys;
    private final int repeat;
    private final Random[] recipe;

    BatchDraws(RunRandom random, List<RunRandom.SampleKey> keys, int repeat) {
        this.random = random;
        this.keys = keys;
        this.repeat = repeat;
        this.recipe = new Random[keys.size() * repeat];
        for (int r = 0; r < recipe.length; r++) recipe[r] = generator(RunRandom.Stream.RECIPE, r);
    }

    int rows() {
        return keys.size() * repeat;
    }

    private Random generator(RunRandom.Stream stream, int row) {
        return random.of(stream, keys.get(row % keys.size()), row / keys.size());
    }

    /** The diffusion noise: standard normal like {@code shape} = [rows, ...]. */
    NDArray noise(NDManager m, Shape shape) {
        return rowsOf(m, shape, RunRandom.Stream.NOISE, null);
    }

    /** One timestep per row, uniform in [lo, hi). */
    long[] timesteps(TimestepRange range) {
        long[] t = new long[rows()];
        for (int r = 0; r < t.length; r++) t[r] = range.lo() + generator(RunRandom.Stream.TIMESTEP, r).nextInt(range.hi() - range.lo());
        return t;
    }

    /** The VAE posterior's standard-normal draw, one row per sample (before the batch is repeated). */
    NDArray latentNoise(NDManager m, Shape shape) {
        float[] v = new float[Math.toIntExact(shape.size())];
        int per = v.length / keys.size();
        for (int i = 0; i < keys.size(); i++) fill(v, i * per, per, random.of(RunRandom.Stream.LATENT, keys.get(i), 0));
        return m.create(v, shape).toDevice(m.getDevice(), false);
    }

    /** The caption randomness of sample {@code i}. */
    Random caption(int i) {
        return random.of(RunRandom.Stream.CAPTION, keys.get(i), 0);
    }

    @Override
    public NDArray gaussian(NDManager m, Shape shape) {
        return rowsOf(m, shape, null, recipe);
    }

    @Override
    public double uniform() {
        return recipe[0].nextDouble();
    }

    private NDArray rowsOf(NDManager m, Shape shape, RunRandom.Stream stream, Random[] running) {
        if (shape.get(0) != rows()) throw new IllegalArgumentException("draws of " + shape + " for a batch of " + rows());
        float[] v = new float[Math.toIntExact(shape.size())];
        int per = v.length / rows();
        for (int r = 0; r < rows(); r++) fill(v, r * per, per, running != null ? running[r] : generator(stream, r));
        return m.create(v, shape).toDevice(m.getDevice(), false);
    }

    private static void fill(float[] v, int from, int count, Random g) {
        for (int i = from; i < from + count; i++) v[i] = (float) g.nextGaussian();
    }
}
