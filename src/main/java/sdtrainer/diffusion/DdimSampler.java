package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * Deterministic DDIM (eta = 0) as diffusers 0.21.4's {@code DDIMScheduler}: the same timesteps for each spacing,
 * the same previous-timestep rule and the same float32 scalar arithmetic, so a step reproduces diffusers' latents.
 * Call {@link #setTimesteps} before {@link #step}.
 */
public final class DdimSampler implements Sampler {
    static final String DEFAULT_SPACING = "leading";

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
    @Override
    public float initNoiseSigma() { return 1f; }

    /** The timesteps of the last {@link #setTimesteps} call, in sampling order (descending). */
    public int[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    /** Chooses the sampling timesteps for {@code steps} steps by the config's timestep_spacing and steps_offset. */
    @Override
    public float[] setTimesteps(int steps) {
        int trainSteps = config.numTrainTimesteps();
        TimestepSpacing.checkSteps(steps, trainSteps);
        String spacing = config.timestepSpacing(DEFAULT_SPACING);
        double[] ts = switch (spacing) {
            case "linspace" -> TimestepSpacing.rint(TimestepSpacing.linspaceDescending(trainSteps - 1, steps));
            case "leading" -> TimestepSpacing.leadingDescending(trainSteps / steps, steps, config.stepsOffset());
            case "trailing" -> TimestepSpacing.trailing(trainSteps, steps);
            default -> throw new IllegalArgumentException("timestep_spacing '" + spacing + "' is not supported");
        };
        TimestepSpacing.checkRange(ts, config, spacing);
        this.timesteps = new int[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = (int) ts[i];
        return TimestepSpacing.toFloats(ts);
    }

    /**
     * One DDIM step from {@code sample} at the i-th timestep t to the previous timestep t - T/steps (diffusers'
     * rule for every spacing). The returned previous sample belongs to {@code sample}'s manager, so per-step model
     * outputs can be freed while the latents live on. DDIM with eta 0 draws no noise.
     */
    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        requireTimesteps();
        int t = timesteps[i];
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
        return Samplers.own(prev, sample);
    }

    private void requireTimesteps() {
        if (timesteps == null) throw new IllegalStateException("call setTimesteps before sampling");
    }
}
