package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

import java.util.Arrays;

/**
 * DPM-Solver++(2M) as diffusers 0.21.4's {@code DPMSolverMultistepScheduler(algorithm_type="dpmsolver++",
 * solver_order=2)} computes it: the model output is turned into an x0 prediction, the first step and (with
 * fewer than 15 steps) the last are first order, the others use the last two predictions (midpoint form).
 * Coefficients come from the timestep-indexed tables alpha_t = sqrt(acp), sigma_t = sqrt(1 - acp),
 * lambda_t = log alpha_t - log sigma_t (float32), as in that version. With {@code karras} the timesteps follow
 * Karras et al.'s sigma ramp (rho 7), mapped back to timesteps as diffusers does.
 */
public final class DpmSolverMultistepSampler implements Sampler {
    static final String DEFAULT_SPACING = "linspace";
    private static final int LOWER_ORDER_FINAL_BELOW = 15;
    private static final double KARRAS_RHO = 7.0;

    private final NoiseSchedule schedule;
    private final boolean karras;
    private final String predictionType;
    private final float[] alphaT, sigmaT, lambdaT;
    private final History history = new History();
    private int[] timesteps;
    private NDArray previousX0;
    private int lowerOrderNums;

    public DpmSolverMultistepSampler(NoiseSchedule schedule, boolean karras) {
        this.schedule = schedule;
        this.karras = karras;
        this.predictionType = schedule.config().predictionType();
        if (schedule.config().thresholding()) {
            throw new IllegalArgumentException("dynamic thresholding (thresholding: true) is not supported");
        }
        float[] acp = schedule.alphasCumprod();
        int n = acp.length;
        alphaT = new float[n];
        sigmaT = new float[n];
        lambdaT = new float[n];
        for (int t = 0; t < n; t++) {
            // zero terminal SNR: as later diffusers, acp 0 becomes 2^-24 so lambda stays finite
            float a = acp[t] == 0f ? 0x1p-24f : acp[t];
            alphaT[t] = (float) Math.sqrt(a);
            sigmaT[t] = (float) Math.sqrt(1f - a);
            lambdaT[t] = (float) Math.log(alphaT[t]) - (float) Math.log(sigmaT[t]);
        }
    }

    @Override
    public float[] setTimesteps(int steps) {
        SchedulerConfig c = schedule.config();
        int trainSteps = c.numTrainTimesteps();
        TimestepSpacing.checkSteps(steps, trainSteps);
        String spacing = c.timestepSpacing(DEFAULT_SPACING);
        double[] ts = switch (spacing) {
            // one more point than steps, the last (0) dropped
            case "linspace" -> Arrays.copyOf(TimestepSpacing.rint(TimestepSpacing.linspaceDescending(trainSteps - 1, steps + 1)), steps);
            case "leading" -> Arrays.copyOf(TimestepSpacing.leadingDescending(trainSteps / (steps + 1), steps + 1, c.stepsOffset()), steps);
            case "trailing" -> TimestepSpacing.trailing(trainSteps, steps);
            default -> throw new IllegalArgumentException("timestep_spacing '" + spacing + "' is not supported");
        };
        if (karras) ts = karrasTimesteps(steps);
        TimestepSpacing.checkRange(ts, c, spacing);
        // numpy.unique(return_index) keeps the first of repeated timesteps, in order
        timesteps = Arrays.stream(ts).mapToInt(t -> (int) t).distinct().toArray();
        History.drop(previousX0);
        previousX0 = null;
        lowerOrderNums = 0;
        float[] out = new float[timesteps.length];
        for (int i = 0; i < out.length; i++) out[i] = timesteps[i];
        return out;
    }

    /**
     * diffusers 0.21.4 hands the training sigmas to _convert_to_karras in ascending order, so its "sigma_max" is
     * the smallest sigma and the ramp runs upwards; each sigma is mapped to a fractional timestep by
     * interpolating log sigma, rounded, and the list reversed: the timesteps still descend.
     */
    private double[] karrasTimesteps(int steps) {
        float[] sigmas = SigmaSchedule.trainingSigmas(schedule);
        float[] logSigmas = new float[sigmas.length];
        for (int i = 0; i < sigmas.length; i++) logSigmas[i] = (float) Math.log(sigmas[i]);
        double minInvRho = Math.pow(sigmas[sigmas.length - 1], 1 / KARRAS_RHO);
        double maxInvRho = Math.pow(sigmas[0], 1 / KARRAS_RHO);
        double[] ramp = TimestepSpacing.linspaceDescending(1.0, steps);
        double[] ts = new double[steps];
        for (int i = 0; i < steps; i++) {
            double r = ramp[steps - 1 - i];
            double sigma = Math.pow(maxInvRho + r * (minInvRho - maxInvRho), KARRAS_RHO);
            ts[steps - 1 - i] = Math.rint(sigmaToT(sigma, logSigmas));
        }
        return ts;
    }

    /** diffusers' _sigma_to_t: linear interpolation of log sigma between the two neighbouring training sigmas. */
    private static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(sigma);
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i] >= 0) low = i;
        low = Math.min(low, logSigmas.length - 2);
        double lo = logSigmas[low], hi = logSigmas[low + 1];
        double w = Math.max(0, Math.min(1, (lo - logSigma) / (lo - hi)));
        return (1 - w) * low + w * (low + 1);
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        if (timesteps == null) throw new IllegalStateException("call setTimesteps before sampling");
        int n = timesteps.length;
        int s0 = timesteps[i];
        int t = i == n - 1 ? 0 : timesteps[i + 1];
        boolean lowerOrderFinal = i == n - 1 && n < LOWER_ORDER_FINAL_BELOW;
        NDArray x0 = Scopes.compute(() -> predictX0(modelOutput, s0, sample));
        float h = lambdaT[t] - lambdaT[s0];
        float ratio = sigmaT[t] / sigmaT[s0];
        float coeff = alphaT[t] * ((float) Math.exp(-h) - 1f);
        NDArray prev;
        if (lowerOrderNums < 1 || lowerOrderFinal) {
            prev = Scopes.compute(() -> sample.mul(ratio).subi(x0.mul(coeff)));
        } else {
            int s1 = timesteps[i - 1];
            float r0 = (lambdaT[s0] - lambdaT[s1]) / h;
            NDArray m1 = previousX0;
            prev = Scopes.compute(() -> {
                NDArray d1 = x0.sub(m1).muli(1f / r0);
                return sample.mul(ratio).subi(x0.mul(coeff)).subi(d1.muli(0.5f * coeff));
            });
        }
        History.drop(previousX0);
        previousX0 = history.keep(x0);
        if (lowerOrderNums < 2) lowerOrderNums++;
        return Samplers.own(prev, sample);
    }

    /** diffusers' convert_model_output for dpmsolver++: the model's prediction as x0. */
    private NDArray predictX0(NDArray modelOutput, int t, NDArray sample) {
        return switch (predictionType) {
            case "epsilon" -> sample.sub(modelOutput.mul(sigmaT[t])).divi(alphaT[t]);
            case "v_prediction" -> sample.mul(alphaT[t]).subi(modelOutput.mul(sigmaT[t]));
            case "sample" -> modelOutput.duplicate();
            default -> throw new IllegalStateException("prediction_type '" + predictionType + "'");
        };
    }

    @Override
    public void close() {
        previousX0 = null;
        history.close();
    }
}
