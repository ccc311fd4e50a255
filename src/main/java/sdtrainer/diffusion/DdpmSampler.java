package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * Ancestral DDPM sampling as diffusers 0.21.4's {@code DDPMScheduler.step} with variance_type "fixed_small":
 * the posterior mean from the predicted x0 and the sample, plus sqrt(posterior variance) times one fresh draw
 * at every timestep above 0. Timesteps as DDIM's (the same spacings and rule for the previous timestep).
 */
public final class DdpmSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final SchedulerConfig config;
    private int[] timesteps;

    public DdpmSampler(NoiseSchedule schedule) {
        this.schedule = schedule;
        this.config = schedule.config();
        if (config.thresholding()) {
            throw new IllegalArgumentException("dynamic thresholding (thresholding: true) is not supported");
        }
    }

    @Override
    public float[] setTimesteps(int steps) {
        DdimSampler spacing = new DdimSampler(schedule);
        float[] out = spacing.setTimesteps(steps);
        timesteps = spacing.timesteps();
        return out;
    }

    @Override
    public float initNoiseSigma() {
        return 1f;
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        if (timesteps == null) throw new IllegalStateException("call setTimesteps before sampling");
        int t = timesteps[i];
        int prevT = t - config.numTrainTimesteps() / timesteps.length;
        float alphaProd = schedule.alphaCumprod(t);
        float alphaProdPrev = prevT >= 0 ? schedule.alphaCumprod(prevT) : 1f;
        float betaProd = 1f - alphaProd;
        float betaProdPrev = 1f - alphaProdPrev;
        float currentAlpha = alphaProd / alphaProdPrev;
        float currentBeta = 1f - currentAlpha;
        float sqrtAlpha = (float) Math.sqrt(alphaProd), sqrtBeta = (float) Math.sqrt(betaProd);
        float x0Coeff = (float) Math.sqrt(alphaProdPrev) * currentBeta / betaProd;
        float sampleCoeff = (float) Math.sqrt(currentAlpha) * betaProdPrev / betaProd;
        NDArray prev = Scopes.compute(() -> {
            NDArray x0 = switch (config.predictionType()) {
                case "epsilon" -> sample.sub(modelOutput.mul(sqrtBeta)).divi(sqrtAlpha);
                case "sample" -> modelOutput;
                case "v_prediction" -> sample.mul(sqrtAlpha).subi(modelOutput.mul(sqrtBeta));
                default -> throw new IllegalStateException("prediction_type '" + config.predictionType() + "'");
            };
            if (config.clipSample()) {
                float r = (float) config.clipSampleRange();
                x0 = x0.clip(-r, r);
            }
            NDArray mean = x0.mul(x0Coeff).addi(sample.mul(sampleCoeff));
            if (t <= 0) return mean;
            // the posterior variance, clamped at 1e-20 as diffusers' _get_variance
            float variance = Math.max(betaProdPrev / betaProd * currentBeta, 1e-20f);
            return mean.addi(noise.gaussian(sample.getManager(), sample.getShape()).mul((float) Math.sqrt(variance)));
        });
        return Samplers.own(prev, sample);
    }
}
