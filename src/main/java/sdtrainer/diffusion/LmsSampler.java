package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * diffusers 0.21.4's {@code LMSDiscreteScheduler} (order 4): a linear multistep step over the last derivatives,
 * each weighted by the integral of its Lagrange basis polynomial in sigma from this sigma to the next. diffusers
 * integrates numerically (scipy quad); the polynomials have degree at most 3, so Gauss-Legendre with 3 nodes
 * gives the same integral exactly.
 */
public final class LmsSampler extends SigmaSampler {
    static final int ORDER = 4;
    private static final double[] GAUSS_NODES = {-Math.sqrt(0.6), 0, Math.sqrt(0.6)};
    private static final double[] GAUSS_WEIGHTS = {5 / 9.0, 8 / 9.0, 5 / 9.0};

    private final History history = new History();
    /** Newest first. */
    private final Deque<NDArray> derivatives = new ArrayDeque<>();

    public LmsSampler(NoiseSchedule schedule) {
        super(schedule, "lms");
    }

    @Override
    public float[] setTimesteps(int steps) {
        while (!derivatives.isEmpty()) History.drop(derivatives.removeLast());
        return super.setTimesteps(steps);
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        float sigma = sigma(i);
        NDArray derivative = Scopes.compute(() ->
                sample.sub(SigmaSchedule.predictX0(predictionType, modelOutput, sample, sigma)).divi(sigma));
        derivatives.addFirst(history.keep(derivative));
        if (derivatives.size() > ORDER) History.drop(derivatives.removeLast());
        int order = Math.min(i + 1, ORDER);
        NDArray prev = Scopes.compute(() -> {
            NDArray sum = null;
            int k = 0;
            for (NDArray d : derivatives) {
                NDArray term = d.mul((float) coefficient(order, i, k++));
                sum = sum == null ? term : sum.addi(term);
            }
            return sample.add(sum);
        });
        return Samplers.own(prev, sample);
    }

    /** The integral over [sigma_i, sigma_{i+1}] of the Lagrange basis polynomial of sigma_{i - current}. */
    double coefficient(int order, int i, int current) {
        float[] s = sigmas();
        double a = s[i], b = s[i + 1], integral = 0;
        for (int q = 0; q < GAUSS_NODES.length; q++) {
            double tau = (a + b) / 2 + (b - a) / 2 * GAUSS_NODES[q];
            double prod = 1;
            for (int k = 0; k < order; k++) {
                if (k == current) continue;
                prod *= (tau - s[i - k]) / ((double) s[i - current] - s[i - k]);
            }
            integral += GAUSS_WEIGHTS[q] * prod;
        }
        return integral * (b - a) / 2;
    }

    @Override
    public void close() {
        derivatives.clear();
        history.close();
    }
}
