package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;

/**
 * The sigma schedule of diffusers 0.21.4's Euler, Euler-ancestral, LMS and Heun schedulers: timesteps by the
 * config's spacing (their default: linspace, unrounded), sigma = sqrt((1 - acp) / acp) in float32 at every
 * training timestep, linearly interpolated (numpy.interp, float64) at the sampling timesteps, then a final 0.
 * A zero-terminal-SNR schedule has acp = 0 at the last timestep, an infinite sigma: as later diffusers
 * versions do, that acp is taken as 2^-24 instead.
 */
final class SigmaSchedule {
    static final String DEFAULT_SPACING = "linspace";
    private static final float ZERO_SNR_ALPHA_CUMPROD = 0x1p-24f;

    final float[] timesteps;
    /** One per timestep plus the final 0. */
    final float[] sigmas;
    final float initNoiseSigma;

    private SigmaSchedule(float[] timesteps, float[] sigmas, float initNoiseSigma) {
        this.timesteps = timesteps;
        this.sigmas = sigmas;
        this.initNoiseSigma = initNoiseSigma;
    }

    static SigmaSchedule plan(NoiseSchedule schedule, int steps) {
        SchedulerConfig c = schedule.config();
        int trainSteps = c.numTrainTimesteps();
        TimestepSpacing.checkSteps(steps, trainSteps);
        String spacing = c.timestepSpacing(DEFAULT_SPACING);
        double[] ts = switch (spacing) {
            case "linspace" -> TimestepSpacing.linspaceDescending(trainSteps - 1, steps);
            case "leading" -> TimestepSpacing.leadingDescending(trainSteps / steps, steps, c.stepsOffset());
            case "trailing" -> TimestepSpacing.trailing(trainSteps, steps);
            default -> throw new IllegalArgumentException("timestep_spacing '" + spacing + "' is not supported");
        };
        TimestepSpacing.checkRange(ts, c, spacing);
        float[] train = trainingSigmas(schedule);
        float[] sigmas = new float[steps + 1];
        float max = 0;
        for (int i = 0; i < steps; i++) {
            sigmas[i] = (float) interp(ts[i], train);
            max = Math.max(max, sigmas[i]);
        }
        // diffusers: the largest sigma, or sqrt(sigma^2 + 1) for the "leading" spacing
        float init = spacing.equals("leading") ? (float) Math.sqrt(max * max + 1f) : max;
        return new SigmaSchedule(TimestepSpacing.toFloats(ts), sigmas, init);
    }

    /** sqrt((1 - acp) / acp) at every training timestep, in float32 as torch computes it. */
    static float[] trainingSigmas(NoiseSchedule schedule) {
        float[] acp = schedule.alphasCumprod();
        float[] out = new float[acp.length];
        for (int i = 0; i < acp.length; i++) {
            float a = acp[i] == 0f ? ZERO_SNR_ALPHA_CUMPROD : acp[i];
            out[i] = (float) Math.sqrt((1f - a) / a);
        }
        return out;
    }

    /** numpy.interp(t, arange(len(fp)), fp) in float64. */
    private static double interp(double t, float[] fp) {
        int j = (int) Math.floor(t);
        if (j >= fp.length - 1) return fp[fp.length - 1];
        if (t == j) return fp[j];
        return ((double) fp[j + 1] - fp[j]) * (t - j) + fp[j];
    }

    /** sample / sqrt(sigma^2 + 1): the input scaling of every sigma sampler. */
    NDArray scaleModelInput(NDArray sample, int i) {
        float s = sigmas[i];
        return sample.div((float) Math.sqrt(s * s + 1f));
    }

    /**
     * The x0 prediction at noise level sigma: epsilon {@code sample - sigma * out}, v {@code out * (-sigma /
     * sqrt(sigma^2 + 1)) + sample / (sigma^2 + 1)}; other prediction types are refused when the sampler is built.
     */
    static NDArray predictX0(String predictionType, NDArray modelOutput, NDArray sample, float sigma) {
        return switch (predictionType) {
            case "epsilon" -> sample.sub(modelOutput.mul(sigma));
            case "v_prediction" -> {
                float s2 = sigma * sigma + 1f;
                yield modelOutput.mul(-sigma / (float) Math.sqrt(s2)).addi(sample.div(s2));
            }
            default -> throw new IllegalStateException("prediction_type '" + predictionType + "'");
        };
    }

    /** Sigma samplers in diffusers 0.21.4 know epsilon and v-prediction only. */
    static String requirePredictionType(SchedulerConfig c, String sampler) {
        if (!c.predictionType().equals("epsilon") && !c.predictionType().equals("v_prediction")) {
            throw new IllegalArgumentException(sampler + " supports prediction_type epsilon or v_prediction, not '"
                    + c.predictionType() + "'");
        }
        return c.predictionType();
    }
}
