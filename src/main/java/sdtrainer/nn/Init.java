package sdtrainer.nn;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.Map;
import java.util.Random;

/**
 * PyTorch's default initialisation of freshly constructed layers, drawn from a seeded Java {@link Random}
 * so that a model built twice with the same seed is the same model on every machine:
 * <ul>
 *   <li>{@link Linear}, {@link Conv2d}: weight {@code kaiming_uniform_(a=√5)}, which is U(-1/√fan_in, 1/√fan_in),
 *       and bias U(-1/√fan_in, 1/√fan_in); fan_in = in_features, or in_channels·k·k;</li>
 *   <li>{@link GroupNorm}, {@link LayerNorm}: weight 1, bias 0;</li>
 *   <li>{@link Embedding}: N(0, 1), torch's default. (transformers' CLIP re-initialises token and position
 *       embeddings with N(0, 0.02); the models here are pre-norm, so either scale trains.)</li>
 * </ul>
 * The numbers are not torch's own stream: only the distributions match.
 */
public final class Init {
    private Init() {}

    /**
     * Sets every parameter of {@code root} (already set ones are replaced) with arrays created in {@code manager}.
     * Modules are visited in state-dict order, so the result depends only on the architecture and the seed.
     *
     * @throws IllegalArgumentException for a module type with parameters of its own that this class does not know
     */
    public static void torchDefault(Module root, NDManager manager, long seed) {
        Random random = new Random(seed);
        for (Map.Entry<String, Module> entry : root.namedModules().entrySet()) {
            Module m = entry.getValue();
            if (m instanceof Linear l) {
                uniform(l.weight, l.inFeatures, random, manager);
                if (l.bias != null) uniform(l.bias, l.inFeatures, random, manager);
            } else if (m instanceof Conv2d c) {
                int fanIn = c.inChannels * c.kernel * c.kernel;
                uniform(c.weight, fanIn, random, manager);
                uniform(c.bias, fanIn, random, manager);
            } else if (m instanceof GroupNorm g) {
                constant(g.weight, 1f, manager);
                constant(g.bias, 0f, manager);
            } else if (m instanceof LayerNorm n) {
                constant(n.weight, 1f, manager);
                constant(n.bias, 0f, manager);
            } else if (m instanceof Embedding e) {
                float[] v = new float[size(e.weight)];
                for (int i = 0; i < v.length; i++) v[i] = (float) random.nextGaussian();
                set(e.weight, v, manager);
            } else if (hasOwnParameters(m)) {
                String where = entry.getKey().isEmpty() ? "the root module" : "'" + entry.getKey() + "'";
                throw new IllegalArgumentException("no default initialisation for " + m.getClass().getSimpleName()
                        + " at " + where + ", which has parameters of its own");
            }
        }
    }

    /** Direct parameters are the ones whose key has no dot (children's keys are prefixed with their name). */
    private static boolean hasOwnParameters(Module m) {
        return m.namedParameters().keySet().stream().anyMatch(k -> k.indexOf('.') < 0);
    }

    private static void uniform(Parameter p, int fanIn, Random random, NDManager manager) {
        double bound = 1.0 / Math.sqrt(fanIn);
        float[] v = new float[size(p)];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * random.nextDouble() - 1) * bound);
        set(p, v, manager);
    }

    private static void constant(Parameter p, float value, NDManager manager) {
        float[] v = new float[size(p)];
        java.util.Arrays.fill(v, value);
        set(p, v, manager);
    }

    private static int size(Parameter p) {
        return Math.toIntExact(p.shape().size());
    }

    private static void set(Parameter p, float[] values, NDManager manager) {
        Shape shape = p.shape();
        p.set(manager.create(values, shape));
    }
}
