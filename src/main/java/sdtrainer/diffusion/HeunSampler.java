package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * diffusers 0.21.4's {@code HeunDiscreteScheduler}: each step is an Euler stage and a correction at the next
 * sigma, so the model is called twice per step (2n - 1 calls for n steps: the last step is Euler only). The
 * sigmas are the Euler ones with every inner sigma repeated, as diffusers lays them out.
 */
public final class HeunSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final String predictionType;
    private final History history = new History();
    private float[] sigmas;
    private float[] timesteps;
    private float initNoiseSigma;
    // the first stage's derivative, step size and starting sample, while a correction is due
    private NDArray firstDerivative;
    private NDArray firstSample;
    private float firstDt;

    public HeunSampler(NoiseSchedule schedule) {
        this.schedule = schedule;
        this.predictionType = SigmaSchedule.requirePredictionType(schedule.config(), "heun");
    }

    @Override
    public float[] setTimesteps(int steps) {
        SigmaSchedule plan = SigmaSchedule.plan(schedule, steps);
        int n = plan.timesteps.length;
        sigmas = new float[2 * n];
        timesteps = new float[2 * n - 1];
        sigmas[0] = plan.sigmas[0];
        timesteps[0] = plan.timesteps[0];
        for (int k = 1; k < n; k++) {
            sigmas[2 * k - 1] = sigmas[2 * k] = plan.sigmas[k];
            timesteps[2 * k - 1] = timesteps[2 * k] = plan.timesteps[k];
        }
        sigmas[2 * n - 1] = plan.sigmas[n];
        initNoiseSigma = plan.initNoiseSigma;
        clearStage();
        return timesteps.clone();
    }

    @Override
    public float initNoiseSigma() {
        requirePlan();
        return initNoiseSigma;
    }

    @Override
    public NDArray scaleModelInput(NDArray sample, int i) {
        requirePlan();
        float s = sigmas[i];
        return sample.div((float) Math.sqrt(s * s + 1f));
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        requirePlan();
        NDArray prev;
        if (firstDerivative == null) {
            float sigma = sigmas[i];
            float dt = sigmas[i + 1] - sigma;
            NDArray derivative = Scopes.compute(() ->
                    sample.sub(SigmaSchedule.predictX0(predictionType, modelOutput, sample, sigma)).divi(sigma));
            prev = Scopes.compute(() -> sample.add(derivative.mul(dt)));
            firstDerivative = history.keep(derivative);
            firstSample = history.keep(sample.duplicate());
            firstDt = dt;
        } else {
            float sigmaNext = sigmas[i];
            NDArray d1 = firstDerivative, x = firstSample;
            float dt = firstDt;
            prev = Scopes.compute(() -> {
                NDArray derivative = sample.sub(SigmaSchedule.predictX0(predictionType, modelOutput, sample, sigmaNext))
                        .divi(sigmaNext);
                NDArray averaged = d1.add(derivative).divi(2f);
                return x.add(averaged.muli(dt));
            });
            clearStage();
        }
        return Samplers.own(prev, sample);
    }

    private void clearStage() {
        History.drop(firstDerivative);
        History.drop(firstSample);
        firstDerivative = null;
        firstSample = null;
    }

    @Override
    public void close() {
        history.close();
    }

    private void requirePlan() {
        if (sigmas == null) throw new IllegalStateException("call setTimesteps before sampling");
    }
}
