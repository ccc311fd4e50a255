package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * Deterministic DDIM (eta = 0) as diffusers 0.21.4's {@code DDIMScheduler}: the same timesteps for each spacing,
 * the same previous-timestep rule and the same float32 scalar arithmetic, so a step reproduces diffusers' latents.
 * Call {@link #setTimesteps} before {@link #step}.
 */
public final class DdimSampler {

    private final NoiseSchedule schedule;
    private final SchedulerConfig config;
    private final float finalAlphaCumprod;
    private int[] timesteps;

    public DdimSampler(NoiseSchedule schedule) {
        this.schedule = schedule;
        this.config = schedule.config();
        if (config.thresholding()) {
            throw new IllegalArgumentException("dynamic thresholding (thresholding: true) is not supported");
        }
        // With set_alpha_to_one false the last step lands on alphas_cumprod[0] (SD1.x), not on a clean 1.
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1f : schedule.alphaCumprod(0);
    }

    /** Standard deviation of the initial noise: DDIM starts from unit-variance noise. */
    public float initNoiseSigma() { return 1f; }

    /** The timesteps of the last {@link #setTimesteps} call, in sampling order (descending). */
    public int[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    /** Chooses the sampling timesteps for {@code steps} steps by the config's timestep_spacing and steps_offset. */
    public int[] setTimesteps(int steps) {
        int trainSteps = config.numTrainTimesteps();
        if (steps < 1 || steps > trainSteps) {
            throw new IllegalArgumentException("number of sampling steps " + steps + " must be in [1, " + trainSteps + "]");
        }
        int[] ts;
        switch (config.timestepSpacing()) {
            case "linspace": {
                // numpy.linspace(0, T - 1, steps): i * ((T-1)/(steps-1)), last value exactly T - 1; round half even
                ts = new int[steps];
                double delta = steps > 1 ? (trainSteps - 1.0) / (steps - 1) : 0;
                for (int i = 0; i < steps; i++) {
                    double v = (i == steps - 1 && steps > 1) ? trainSteps - 1 : i * delta;
                    ts[steps - 1 - i] = (int) Math.rint(v);
                }
                break;
            }
            case "leading": {
                int ratio = trainSteps / steps;
                ts = new int[steps];
                for (int i = 0; i < steps; i++) ts[steps - 1 - i] = i * ratio + config.stepsOffset();
                break;
            }
            case "trailing": {
                // numpy.arange(T, 0, -T/steps): length ceil(T / (T/steps)), values start + i * delta where numpy
                // takes delta from its first two elements; then round half even and subtract 1
                double ratio = (double) trainSteps / steps;
                int n = (int) Math.ceil((0.0 - trainSteps) / -ratio);
                double delta = (trainSteps - ratio) - trainSteps;
                ts = new int[n];
                for (int i = 0; i < n; i++) ts[i] = (int) Math.rint(trainSteps + i * delta) - 1;
                if (n != steps) {
                    throw new IllegalArgumentException("trailing spacing with " + steps + " steps over " + trainSteps
                            + " training timesteps gives " + n + " timesteps ending at " + ts[n - 1]
                            + " in diffusers 0.21.4; choose another step count");
                }
                break;
            }
            default:
                throw new IllegalArgumentException("timestep_spacing '" + config.timestepSpacing() + "' is not supported");
        }
        for (int t : ts) {
            if (t < 0 || t >= trainSteps) {
                throw new IllegalArgumentException(config.timestepSpacing() + " spacing with steps_offset "
                        + config.stepsOffset() + " gives timestep " + t + " outside [0, " + trainSteps + ")");
            }
        }
        this.timesteps = ts;
        return ts.clone();
    }

    /**
     * One DDIM step from {@code sample} at timestep t to the previous timestep t - T/steps (diffusers' rule for
     * every spacing). The returned previous sample belongs to {@code sample}'s manager, so per-step model outputs
     * can be freed while the latents live on.
     */
    public NDArray step(NDArray modelOutput, int t, NDArray sample) {
        requireTimesteps();
        int prevT = t - config.numTrainTimesteps() / timesteps.length;
        float alphaProd = schedule.alphaCumprod(t);
        float alphaProdPrev = prevT >= 0 ? schedule.alphaCumprod(prevT) : finalAlphaCumprod;
        float betaProd = 1f - alphaProd;
        float sqrtAlpha = (float) Math.sqrt(alphaProd);
        float sqrtBeta = (float) Math.sqrt(betaProd);
        NDArray prev = Scopes.compute(() -> {
            NDArray predX0;
            NDArray predEps;
            switch (config.predictionType()) {
                case "epsilon":
                    predX0 = sample.sub(modelOutput.mul(sqrtBeta)).div(sqrtAlpha);
                    predEps = modelOutput;
                    break;
                case "sample":
                    predX0 = modelOutput;
                    predEps = sample.sub(predX0.mul(sqrtAlpha)).div(sqrtBeta);
                    break;
                case "v_prediction":
                    predX0 = sample.mul(sqrtAlpha).sub(modelOutput.mul(sqrtBeta));
                    predEps = modelOutput.mul(sqrtAlpha).add(sample.mul(sqrtBeta));
                    break;
                default:
                    throw new IllegalStateException("prediction_type '" + config.predictionType() + "'");
            }
            if (config.clipSample()) {
                float r = (float) config.clipSampleRange();
                predX0 = predX0.clip(-r, r);
            }
            // eta = 0: no variance term, and the direction uses the unclipped epsilon, as diffusers does
            NDArray direction = predEps.mul((float) Math.sqrt(1f - alphaProdPrev));
            return predX0.mul((float) Math.sqrt(alphaProdPrev)).addi(direction);
        });
        if (prev.getManager() != sample.getManager()) prev.attach(sample.getManager());
        return prev;
    }

    /** Classifier-free guidance: uncond + scale * (cond - uncond); belongs to uncond's manager. */
    public static NDArray guide(NDArray uncond, NDArray cond, float scale) {
        try (NDArray diff = cond.sub(uncond)) {
            return uncond.add(diff.muli(scale));
        }
    }

    private void requireTimesteps() {
        if (timesteps == null) throw new IllegalStateException("call setTimesteps before sampling");
    }
}
