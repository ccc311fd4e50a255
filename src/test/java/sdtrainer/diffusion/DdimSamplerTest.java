package sdtrainer.diffusion;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class DdimSamplerTest {

    static final Path FIXTURE = Fixtures.TINY_SD15;
    static final Path DDIM = FIXTURE.resolve("reference").resolve("ddim_cfg.safetensors");

    /** The SD1.x schedule without reading the fixture: scaled_linear 0.00085..0.012, steps_offset 1. */
    static SchedulerConfig sd15() {
        return new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null, "epsilon", "leading", 1,
                false, false, 1.0, false, false);
    }

    static int[] timesteps(SchedulerConfig c, int steps) {
        DdimSampler s = new DdimSampler(new NoiseSchedule(c));
        s.setTimesteps(steps);
        return s.timesteps();
    }

    @Test
    void leadingSpacingWithOffsetGivesSd15Timesteps() {
        assertArrayEquals(new int[] {901, 801, 701, 601, 501, 401, 301, 201, 101, 1}, timesteps(sd15(), 10));
        assertArrayEquals(new int[] {853, 711, 569, 427, 285, 143, 1}, timesteps(sd15(), 7));
        assertArrayEquals(new int[] {900, 800, 700, 600, 500, 400, 300, 200, 100, 0},
                timesteps(sd15().withTimestepSpacing("leading", 0), 10));
    }

    @Test
    void fixtureTimestepsMatch() throws IOException {
        assumeTrue(Files.isRegularFile(DDIM), "fixture absent");
        SchedulerConfig c = SchedulerConfig.read(FIXTURE.resolve("scheduler").resolve("scheduler_config.json"));
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(DDIM)) {
            long[] expected = st.load("output.timesteps", m).toLongArray();
            assertArrayEquals(Arrays.stream(expected).mapToInt(x -> (int) x).toArray(), timesteps(c, 10));
        }
    }

    @Test
    void trailingAndLinspaceSpacingAsDiffusers() {
        // values of diffusers 0.21.4's numpy expressions, evaluated with numpy
        SchedulerConfig trailing = sd15().withTimestepSpacing("trailing", 1);
        SchedulerConfig linspace = sd15().withTimestepSpacing("linspace", 1);
        assertArrayEquals(new int[] {999, 899, 799, 699, 599, 499, 399, 299, 199, 99}, timesteps(trailing, 10));
        assertArrayEquals(new int[] {999, 856, 713, 570, 428, 285, 142}, timesteps(trailing, 7));
        assertArrayEquals(new int[] {999, 932, 866, 799, 732, 666, 599, 532, 466, 399, 332, 266, 199, 132, 66},
                timesteps(trailing, 15));
        assertArrayEquals(new int[] {999, 666, 332}, timesteps(trailing, 3));
        assertArrayEquals(new int[] {999, 888, 777, 666, 555, 444, 333, 222, 111, 0}, timesteps(linspace, 10));
        // 166.5 -> 166, 499.5 -> 500, 832.5 -> 832: numpy rounds half to even
        assertArrayEquals(new int[] {999, 832, 666, 500, 333, 166, 0}, timesteps(linspace, 7));
        assertArrayEquals(new int[] {999, 928, 856, 785, 714, 642, 571, 500, 428, 357, 285, 214, 143, 71, 0},
                timesteps(linspace, 15));
        assertArrayEquals(new int[] {0}, timesteps(linspace, 1));
        int[] fifty = timesteps(trailing, 50);
        assertEquals(50, fifty.length);
        assertEquals(19, fifty[49]);
    }

    @Test
    void rejectsStepCountsDiffusersCannotServe() {
        DdimSampler s = new DdimSampler(new NoiseSchedule(sd15()));
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(0));
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(1001));
        // numpy.arange(1000, 0, -1000/61) has 62 elements, the last giving timestep -1
        DdimSampler trailing = new DdimSampler(new NoiseSchedule(sd15().withTimestepSpacing("trailing", 0)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> trailing.setTimesteps(61));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.zeros(new ai.djl.ndarray.types.Shape(1));
            assertThrows(IllegalStateException.class, () -> s.step(x, 0, x, null));
        }
        SchedulerConfig thresholding = new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null, "epsilon",
                "leading", 1, false, false, 1.0, true, false);
        assertThrows(IllegalArgumentException.class, () -> new DdimSampler(new NoiseSchedule(thresholding)));
    }

    @Test
    void everyStepOfTheFixtureSamplingRun() throws IOException {
        assumeTrue(Files.isRegularFile(DDIM), "fixture absent");
        SchedulerConfig c = SchedulerConfig.read(FIXTURE.resolve("scheduler").resolve("scheduler_config.json"));
        DdimSampler sampler = new DdimSampler(new NoiseSchedule(c));
        float[] ts = sampler.setTimesteps(10);
        assertEquals(1f, sampler.initNoiseSigma());
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(DDIM)) {
            NDArray latents = st.load("input.initial_latents", m);
            for (int i = 0; i < ts.length; i++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray guided = st.load("output.guided_model_output." + i, step);
                    NDArray next = sampler.step(guided, i, latents, null);
                    assertSame(latents.getManager(), next.getManager(), "previous sample stays with the latents");
                    float[] expected = st.load("output.latents_after_step." + i, step).toFloatArray();
                    float[] got = next.toFloatArray();
                    double max = 0;
                    for (int k = 0; k < got.length; k++) max = Math.max(max, Math.abs(got[k] - expected[k]));
                    assertTrue(max <= 1e-5, "step " + i + " (t=" + ts[i] + "): max |diff| " + max);
                    // continue from the reference so every step is checked on its own
                    latents = st.load("output.latents_after_step." + i, m);
                }
            }
        }
    }

    @Test
    void epsilonStepByHand() {
        NoiseSchedule schedule = new NoiseSchedule(sd15());
        DdimSampler s = new DdimSampler(schedule);
        s.setTimesteps(10);
        float x = 1.5f, eps = -0.25f;
        // t = 1 is the last step: prev = -99 < 0, so alpha_prev = alphas_cumprod[0] (set_alpha_to_one false)
        int[] ts = s.timesteps();
        for (int i : new int[] {0, 9}) {
            int t = ts[i];
            float a = schedule.alphaCumprod(t);
            float aPrev = t == 1 ? schedule.alphaCumprod(0) : schedule.alphaCumprod(t - 100);
            float x0 = (x - (float) Math.sqrt(1f - a) * eps) / (float) Math.sqrt(a);
            float expected = (float) Math.sqrt(aPrev) * x0 + (float) Math.sqrt(1f - aPrev) * eps;
            assertEquals(expected, stepOne(s, eps, i, x));
        }
        SchedulerConfig toOne = new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null, "epsilon",
                "leading", 1, true, false, 1.0, false, false);
        DdimSampler one = new DdimSampler(new NoiseSchedule(toOne));
        one.setTimesteps(10);
        float a = schedule.alphaCumprod(1);
        // alpha_prev = 1: the last step returns the predicted x0 itself
        assertEquals((x - (float) Math.sqrt(1f - a) * eps) / (float) Math.sqrt(a), stepOne(one, eps, 9, x));
    }

    @Test
    void vPredictionStepByHand() {
        NoiseSchedule schedule = new NoiseSchedule(sd15().withPredictionType("v_prediction"));
        DdimSampler s = new DdimSampler(schedule);
        s.setTimesteps(20);
        float x = -0.75f, v = 0.5f;
        int t = 501;
        assertEquals(t, s.timesteps()[9]);
        float a = schedule.alphaCumprod(t), aPrev = schedule.alphaCumprod(t - 50);
        float sa = (float) Math.sqrt(a), sb = (float) Math.sqrt(1f - a);
        float x0 = sa * x - sb * v;
        float eps = sa * v + sb * x;
        float expected = (float) Math.sqrt(aPrev) * x0 + (float) Math.sqrt(1f - aPrev) * eps;
        assertEquals(expected, stepOne(s, v, 9, x));
    }

    @Test
    void samplePredictionWithClipping() {
        SchedulerConfig c = new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null, "sample", "leading",
                1, false, true, 0.5, false, false);
        NoiseSchedule schedule = new NoiseSchedule(c);
        DdimSampler s = new DdimSampler(schedule);
        s.setTimesteps(10);
        float x = 2f, predicted = 0.9f;
        float a = schedule.alphaCumprod(501), aPrev = schedule.alphaCumprod(401);
        // epsilon comes from the unclipped x0, then x0 is clipped to clip_sample_range
        float eps = (x - (float) Math.sqrt(a) * predicted) / (float) Math.sqrt(1f - a);
        float expected = (float) Math.sqrt(aPrev) * 0.5f + (float) Math.sqrt(1f - aPrev) * eps;
        assertEquals(501, s.timesteps()[4]);
        assertEquals(expected, stepOne(s, predicted, 4, x));
    }

    @Test
    void classifierFreeGuidance() {
        try (NDManager m = NDManager.newBaseManager(); NDManager other = m.newSubManager()) {
            NDArray uncond = m.create(new float[] {1f, -2f});
            NDArray cond = other.create(new float[] {1.5f, 0f});
            NDArray g = ClassifierFreeGuidance.guide(uncond, cond, 7.5f);
            assertArrayEquals(new float[] {1f + 7.5f * 0.5f, -2f + 7.5f * 2f}, g.toFloatArray());
            assertSame(m, g.getManager());
        }
    }

    private static float stepOne(DdimSampler s, float modelOutput, int i, float sample) {
        try (NDManager m = NDManager.newBaseManager()) {
            return s.step(m.create(new float[] {modelOutput}), i, m.create(new float[] {sample}), null).getFloat(0);
        }
    }
}
