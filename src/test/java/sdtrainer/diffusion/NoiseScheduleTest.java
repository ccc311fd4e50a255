package sdtrainer.diffusion;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class NoiseScheduleTest {

    static final Path FIXTURE = Fixtures.TINY_SD15;
    static final Path DDPM = FIXTURE.resolve("reference").resolve("ddpm.safetensors");

    static NoiseSchedule fixtureSchedule() throws IOException {
        return new NoiseSchedule(SchedulerConfig.read(FIXTURE.resolve("scheduler").resolve("scheduler_config.json")));
    }

    @Test
    void betasAndAlphasCumprodAreBitExactWithDiffusers() throws IOException {
        assumeTrue(Files.isRegularFile(DDPM), "fixture absent");
        NoiseSchedule s = fixtureSchedule();
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(DDPM)) {
            float[] betas = st.load("output.betas", m).toFloatArray();
            float[] acp = st.load("output.alphas_cumprod", m).toFloatArray();
            assertArrayEquals(betas, s.betas());
            assertArrayEquals(acp, s.alphasCumprod());
        }
        assertEquals(1000, s.numTrainTimesteps());
        assertEquals("epsilon", s.predictionType());
    }

    @Test
    void addNoiseAndVelocityMatchDiffusers() throws IOException {
        assumeTrue(Files.isRegularFile(DDPM), "fixture absent");
        NoiseSchedule s = fixtureSchedule();
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(DDPM);
             NDManager step = m.newSubManager()) {
            NDArray x0 = st.load("input.latents", step);
            NDArray noise = st.load("input.noise", m);
            NDArray t = st.load("input.timesteps", m);
            NDArray noisy = s.addNoise(x0, noise, t);
            NDArray velocity = s.velocity(x0, noise, t);
            assertSame(step, noisy.getManager(), "result belongs to x0's manager");
            assertSame(step, velocity.getManager(), "result belongs to x0's manager");
            assertEquals(x0.getShape(), noisy.getShape());
            // elementwise float32 maths on the same coefficients: bit-exact
            assertArrayEquals(st.load("output.noisy", m).toFloatArray(), noisy.toFloatArray());
            assertArrayEquals(st.load("output.velocity", m).toFloatArray(), velocity.toFloatArray());
        }
    }

    @Test
    void addNoiseIsTheClosedFormPerSample() {
        SchedulerConfig c = SchedulerConfig.defaults();
        NoiseSchedule s = new NoiseSchedule(c);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x0 = m.create(new float[] {1f, -2f, 0.5f, 3f}, new Shape(2, 2));
            NDArray noise = m.create(new float[] {0.25f, 1f, -1f, 2f}, new Shape(2, 2));
            NDArray t = m.create(new int[] {0, 999});
            float[] got = s.addNoise(x0, noise, t).toFloatArray();
            float[] acp = s.alphasCumprod();
            float a0 = (float) Math.sqrt(acp[0]), b0 = (float) Math.sqrt(1f - acp[0]);
            float a1 = (float) Math.sqrt(acp[999]), b1 = (float) Math.sqrt(1f - acp[999]);
            assertArrayEquals(new float[] {a0 * 1f + b0 * 0.25f, a0 * -2f + b0 * 1f, a1 * 0.5f + b1 * -1f,
                    a1 * 3f + b1 * 2f}, got);
            float[] v = s.velocity(x0, noise, t).toFloatArray();
            assertEquals(a1 * 2f - b1 * 3f, v[3]);
        }
    }

    @Test
    void halfPrecisionLatentsGetHalfPrecisionNoise() {
        NoiseSchedule s = new NoiseSchedule(SchedulerConfig.defaults());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x0 = m.create(new float[] {1f, -2f, 0.5f, 3f}, new Shape(2, 2));
            NDArray noise = m.create(new float[] {0.25f, 1f, -1f, 2f}, new Shape(2, 2));
            NDArray t = m.create(new long[] {10, 700});
            NDArray half = s.addNoise(x0.toType(DataType.FLOAT16, false), noise.toType(DataType.FLOAT16, false), t);
            assertEquals(DataType.FLOAT16, half.getDataType());
            float[] full = s.addNoise(x0, noise, t).toFloatArray();
            float[] got = half.toType(DataType.FLOAT32, false).toFloatArray();
            for (int i = 0; i < full.length; i++) assertEquals(full[i], got[i], 4e-3, "element " + i);
        }
    }

    @Test
    void linearScheduleRunsFromBetaStartToBetaEnd() {
        float[] b = new NoiseSchedule(SchedulerConfig.defaults()).betas();
        assertEquals(1000, b.length);
        assertEquals(0.0001f, b[0]);
        assertEquals(0.02f, b[999]);
        for (int i = 1; i < b.length; i++) assertTrue(b[i] > b[i - 1], "increasing at " + i);
        assertEquals(0.0001 + (0.02 - 0.0001) * 400 / 999, b[400], 1e-8);
    }

    @Test
    void glideCosineBetasAsDiffusersComputesThem() {
        SchedulerConfig c = new SchedulerConfig(1000, 0.0001, 0.02, "squaredcos_cap_v2", null, "epsilon",
                "leading", 0, true, true, 1.0, false, false);
        float[] b = new NoiseSchedule(c).betas();
        // float32(min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999)) evaluated with Python's math module
        assertEquals(Float.intBitsToFloat(942483609), b[0]);
        assertEquals(Float.intBitsToFloat(943818836), b[1]);
        assertEquals(Float.intBitsToFloat(995020728), b[500]);
        assertEquals(Float.intBitsToFloat(1061158902), b[998]);
        assertEquals(0.999f, b[999]);
    }

    @Test
    void trainedBetasOverrideTheSchedule() {
        SchedulerConfig c = new SchedulerConfig(3, 0.0001, 0.02, "no_such_schedule", List.of(0.1, 0.2, 0.5),
                "epsilon", "leading", 0, true, true, 1.0, false, false);
        NoiseSchedule s = new NoiseSchedule(c);
        assertArrayEquals(new float[] {0.1f, 0.2f, 0.5f}, s.betas());
        float a0 = 1f - 0.1f, a1 = 1f - 0.2f, a2 = 1f - 0.5f;
        assertArrayEquals(new float[] {a0, (float) ((double) a0 * a1), (float) ((double) a0 * a1 * a2)},
                s.alphasCumprod());
    }

    @Test
    void zeroTerminalSnrRescale() throws IOException {
        assumeTrue(Files.isRegularFile(DDPM), "fixture absent");
        SchedulerConfig sd = fixtureSchedule().config();
        SchedulerConfig c = new SchedulerConfig(sd.numTrainTimesteps(), sd.betaStart(), sd.betaEnd(),
                sd.betaSchedule(), null, "v_prediction", "trailing", 0, sd.setAlphaToOne(), false, 1.0, false, true);
        NoiseSchedule s = new NoiseSchedule(c);
        float[] b = s.betas();
        float[] acp = s.alphasCumprod();
        // expected values: diffusers' rescale_zero_terminal_snr replayed with numpy float32 on the fixture's betas
        assertEquals(Float.intBitsToFloat(979293184), b[0]);
        assertEquals(Float.intBitsToFloat(980448256), b[1]);
        assertEquals(Float.intBitsToFloat(1001732352), b[500]);
        assertEquals(Float.intBitsToFloat(1061177976), b[998]);
        assertEquals(1f, b[999]);
        assertEquals(0f, acp[999]);
        assertEquals(0.9991499781608582f, acp[0]);
        assertEquals(0.24101859331130981f, acp[500]);
    }

    @Test
    void rejectsTimestepsThatDoNotFitTheBatch() {
        NoiseSchedule s = new NoiseSchedule(SchedulerConfig.defaults());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x0 = m.zeros(new Shape(2, 4));
            assertThrows(IllegalArgumentException.class, () -> s.addNoise(x0, x0, m.create(new long[] {1, 2, 3})));
            assertThrows(IllegalArgumentException.class, () -> s.addNoise(x0, x0, m.create(new float[] {1, 2})));
        }
        assertThrows(IllegalArgumentException.class, () -> s.alphaCumprod(1000));
    }

    @Test
    void zeroTerminalSnrOptionMatchesKohyasRescale() throws IOException {
        Path file = Fixtures.require("recipes", "zero_terminal_snr.safetensors");
        // kohya's DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
        NoiseSchedule plain = new NoiseSchedule(new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null,
                "epsilon", "leading", 0, false, false, 1.0, false, false));
        NoiseSchedule rescaled = plain.withZeroTerminalSnr();
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(file)) {
            assertArrayEquals(st.load("output.original.alphas_cumprod", m).toFloatArray(), plain.alphasCumprod());
            assertArrayEquals(st.load("output.kohya.betas", m).toFloatArray(), rescaled.betas());
            assertArrayEquals(st.load("output.kohya.alphas_cumprod", m).toFloatArray(), rescaled.alphasCumprod());
        }
        assertEquals(0f, rescaled.alphaCumprod(999));
        assertFalse(plain.zeroTerminalSnr());
        assertTrue(rescaled.zeroTerminalSnr());
        assertSame(rescaled, rescaled.withZeroTerminalSnr());
        assertEquals(plain.config(), rescaled.config(), "the config is unchanged, as kohya leaves it");
    }
}
