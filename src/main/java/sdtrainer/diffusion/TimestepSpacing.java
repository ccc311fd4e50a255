package sdtrainer.diffusion;

/**
 * The numpy expressions diffusers 0.21.4's schedulers build their timesteps from, evaluated as numpy does in
 * float64 (round = half to even), so each sampler's timesteps equal the reference's.
 */
final class TimestepSpacing {
    private TimestepSpacing() {}

    /** numpy.linspace(0, stop, n), descending: i * (stop / (n - 1)), the end point exactly stop. */
    static double[] linspaceDescending(double stop, int n) {
        double[] out = new double[n];
        double delta = n > 1 ? stop / (n - 1) : 0;
        for (int i = 0; i < n; i++) out[n - 1 - i] = (i == n - 1 && n > 1) ? stop : i * delta;
        return out;
    }

    /** (numpy.arange(0, n) * ratio)[::-1] + offset: the "leading" spacing. */
    static double[] leadingDescending(int ratio, int n, int offset) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[n - 1 - i] = (double) i * ratio + offset;
        return out;
    }

    /**
     * numpy.arange(trainSteps, 0, -trainSteps / steps).round() - 1: the "trailing" spacing. numpy takes the length
     * as ceil(trainSteps / ratio) and each value as start + i * delta with delta from its first two elements, so
     * some step counts give one extra, negative, timestep: those are refused.
     */
    static double[] trailing(int trainSteps, int steps) {
        double ratio = (double) trainSteps / steps;
        int n = (int) Math.ceil((0.0 - trainSteps) / -ratio);
        double delta = (trainSteps - ratio) - trainSteps;
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = Math.rint(trainSteps + i * delta) - 1;
        if (n != steps) {
            throw new IllegalArgumentException("trailing spacing with " + steps + " steps over " + trainSteps
                    + " training timesteps gives " + n + " timesteps ending at " + (long) out[n - 1]
                    + " in diffusers 0.21.4; choose another step count");
        }
        return out;
    }

    static double[] rint(double[] values) {
        double[] out = values.clone();
        for (int i = 0; i < out.length; i++) out[i] = Math.rint(out[i]);
        return out;
    }

    static void checkSteps(int steps, int trainSteps) {
        if (steps < 1 || steps > trainSteps) {
            throw new IllegalArgumentException("number of sampling steps " + steps + " must be in [1, " + trainSteps + "]");
        }
    }

    /** Every timestep must index the training schedule. */
    static void checkRange(double[] timesteps, SchedulerConfig c, String spacing) {
        for (double t : timesteps) {
            if (t < 0 || t > c.numTrainTimesteps() - 1) {
                throw new IllegalArgumentException(spacing + " spacing with steps_offset " + c.stepsOffset()
                        + " gives timestep " + t + " outside [0, " + c.numTrainTimesteps() + ")");
            }
        }
    }

    static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < out.length; i++) out[i] = (float) values[i];
        return out;
    }
}
