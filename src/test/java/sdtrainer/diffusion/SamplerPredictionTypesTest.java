package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import sdtrainer.nn.Noise;

import static org.junit.jupiter.api.Assertions.*;

/**
 * v-prediction and zero-terminal-SNR schedules with every sampler. The data here is one known image x0, so the
 * exact model is known in closed form: at timestep t with acp = alphas_cumprod[t] and x_t the (unscaled) noisy
 * latents, eps = (x_t - sqrt(acp) x0) / sqrt(1 - acp) and v = sqrt(acp) eps - sqrt(1 - acp) x0. Sampling with
 * that model must end at x0 (up to the last timestep's residual noise, sqrt(1 - acp[0]) ~ 0.03 for SD's
 * schedule), from the first timestep on, where zero terminal SNR makes acp 0: epsilon cannot be inverted there,
 * v can (x0 = -v).
 */
class SamplerPredictionTypesTest {

    /** SD's scaled-linear schedule as a v-prediction model's config; trailing spacing starts at t = 999. */
    static SchedulerConfig vPrediction(boolean zeroTerminalSnr) {
        return new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null, "v_prediction", "trailing", 1,
                false, false, 1.0, false, zeroTerminalSnr);
    }

    @Test
    void everySamplerReachesTheDataWithVPredictionAndZeroTerminalSnr() {
        NoiseSchedule schedule = new NoiseSchedule(vPrediction(true));
        assertEquals(0f, schedule.alphaCumprod(999), "the rescaled schedule ends at zero SNR");
        for (String name : Samplers.names()) assertReachesData(name, schedule, 10);
    }

    @Test
    void everySamplerReachesTheDataWithVPrediction() {
        NoiseSchedule schedule = new NoiseSchedule(vPrediction(false));
        for (String name : Samplers.names()) assertReachesData(name, schedule, 10);
    }

    @Test
    void epsilonSamplersRefuseOtherPredictionTypesTheyCannotInvert() {
        NoiseSchedule sample = new NoiseSchedule(new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null,
                "sample", null, 1, false, false, 1.0, false, false));
        for (String name : new String[] {"euler", "euler_a", "lms", "heun"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Samplers.create(name, sample));
            assertTrue(e.getMessage().contains("'sample'"), e.getMessage());
        }
    }

    private static void assertReachesData(String name, NoiseSchedule schedule, int steps) {
        try (NDManager m = NDManager.newBaseManager(); Sampler s = Samplers.create(name, schedule)) {
            Shape shape = new Shape(1, 4, 8, 8);
            Noise noise = new Noise(7);
            NDArray x0 = m.randomUniform(-1f, 1f, shape);
            float[] ts = s.setTimesteps(steps);
            NDArray x = noise.gaussian(m, shape, m.getDevice()).mul(s.initNoiseSigma());
            for (int i = 0; i < ts.length; i++) {
                NDArray in = s.scaleModelInput(x, i);
                NDArray next = s.step(exactV(schedule, in, x0, ts[i]), i, x, (mm, sh) -> noise.gaussian(mm, sh, mm.getDevice()));
                x = next;
            }
            float[] got = x.toFloatArray();
            float[] want = x0.toFloatArray();
            double max = 0;
            for (int k = 0; k < got.length; k++) {
                assertTrue(Float.isFinite(got[k]), name + ": non-finite latents");
                max = Math.max(max, Math.abs(got[k] - want[k]));
            }
            assertTrue(max < 0.15, name + " (" + ts.length + " calls from t=" + ts[0] + "): max |x - x0| " + max);
        }
    }

    /** The exact v for data x0, from the model input (which every sampler scales to the DDPM x_t). */
    private static NDArray exactV(NoiseSchedule schedule, NDArray xt, NDArray x0, float t) {
        float acp = schedule.alphaCumprod(Math.round(t));
        float a = (float) Math.sqrt(acp), b = (float) Math.sqrt(1 - acp);
        // v = a * eps - b * x0 with eps = (x_t - a x0) / b  =>  v = (a x_t - x0) / b; at b = 1 (zero SNR) v = -x0
        return xt.mul(a).sub(x0).div(b);
    }
}
