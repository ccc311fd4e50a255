package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import sdtrainer.config.HuberSchedule;
import sdtrainer.config.LossType;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.diffusion.SchedulerConfig;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static sdtrainer.train.recipe.NoiseRecipesTest.assertClose;

/**
 * Loss types, huber schedules and SNR weightings against kohya 48d368fa: the shared fixture (conditional_loss,
 * snr_weighting) piece by piece, and src/test/resources/recipe/reference.json (make_reference.py, calling kohya's
 * conditional_loss, apply_masked_loss and post_process_loss) for the whole chain with masks.
 */
class LossRecipesTest {

    /** kohya's standard DDPMScheduler: scaled_linear 0.00085..0.012 over 1000 steps. */
    static NoiseSchedule kohyaSchedule(boolean zeroTerminalSnr) {
        return new NoiseSchedule(KOHYA_DDPM, zeroTerminalSnr);
    }

    static final SchedulerConfig KOHYA_DDPM = new SchedulerConfig(1000, 0.00085, 0.012, "scaled_linear", null,
            "epsilon", "leading", 0, false, false, 1.0, false, false);

    @Test
    void snrTableIsKohyasAllSnrBitForBit() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); RecipeFixture f = RecipeFixture.open("snr_weighting")) {
            NoiseSchedule s = kohyaSchedule(false);
            assertArrayEquals(f.floats("output.alphas_cumprod", m), s.alphasCumprod());
            assertArrayEquals(f.floats("output.all_snr", m), new SnrTable(s).values());
        }
    }

    @Test
    void snrWeightingsMatchKohya() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); RecipeFixture f = RecipeFixture.open("snr_weighting")) {
            SnrTable snr = new SnrTable(kohyaSchedule(false));
            NDArray loss = f.get("input.loss", m), t = f.get("input.timesteps", m);
            assertClose(f.floats("output.snr_weight_gamma5.eps", m), new MinSnrWeighting(5, false, snr).apply(loss, t).toFloatArray(), 1e-7);
            assertClose(f.floats("output.snr_weight_gamma5.v", m), new MinSnrWeighting(5, true, snr).apply(loss, t).toFloatArray(), 1e-7);
            assertClose(f.floats("output.debiased.eps", m), new DebiasedEstimation(false, snr).apply(loss, t).toFloatArray(), 1e-7);
            assertClose(f.floats("output.debiased.v", m), new DebiasedEstimation(true, snr).apply(loss, t).toFloatArray(), 1e-7);
            assertClose(f.floats("output.scale_v_like_noise", m), new VPredictionLikeNoiseScale(snr).apply(loss, t).toFloatArray(), 1e-7);
        }
    }

    @Test
    void lossTypesAndHuberSchedulesMatchKohya() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); RecipeFixture f = RecipeFixture.open("conditional_loss")) {
            NDArray p = f.get("input.model_pred", m), t = f.get("input.target", m);
            NDArray t8 = f.get("input.timesteps.t8", m), t2 = f.get("input.timesteps.t2", m);
            NoiseSchedule s = kohyaSchedule(false);
            assertClose(f.floats("output.l2.none", m), new ElementwiseLoss(LossType.L2, null).compute(p, t, t2).toFloatArray(), 0);
            assertClose(f.floats("output.l1.none", m), new ElementwiseLoss(LossType.L1, null).compute(p, t, t2).toFloatArray(), 0);
            HuberThreshold fixed = new HuberThreshold(HuberSchedule.CONSTANT, 0.1, 1.0, s);
            assertClose(f.floats("output.huber.c0.1.none", m), new ElementwiseLoss(LossType.HUBER, fixed).compute(p, t, t2).toFloatArray(), 1e-7);
            assertClose(f.floats("output.smooth_l1.c0.1.none", m), new ElementwiseLoss(LossType.SMOOTH_L1, fixed).compute(p, t, t2).toFloatArray(), 1e-6);
            for (HuberSchedule schedule : HuberSchedule.values()) {
                HuberThreshold h = new HuberThreshold(schedule, 0.1, 1.0, s);
                assertClose(f.floats("output.huber_c." + schedule + ".t8", m), h.at(t8).toFloatArray(), 1e-7);
                assertClose(f.floats("output.huber_c." + schedule + ".t2", m), h.at(t2).toFloatArray(), 1e-7);
                assertClose(f.floats("output.huber." + schedule + ".none", m),
                        new ElementwiseLoss(LossType.HUBER, h).compute(p, t, t2).toFloatArray(), 1e-7);
                assertClose(f.floats("output.smooth_l1." + schedule + ".none", m),
                        new ElementwiseLoss(LossType.SMOOTH_L1, h).compute(p, t, t2).toFloatArray(), 1e-6);
            }
            assertClose(f.floats("output.huber_c.exponential.scale2.t8", m),
                    new HuberThreshold(HuberSchedule.EXPONENTIAL, 0.1, 2.0, s).at(t8).toFloatArray(), 1e-7);
        }
    }

    @Test
    void wholeChainWithMasksMatchesKohyasProcessBatch() throws IOException {
        JsonNode ref = reference();
        JsonNode in = ref.get("loss_inputs");
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(4, 4, 8, 8);
            NDArray pred = m.create(floats(in.get("pred")), shape), target = m.create(floats(in.get("target")), shape);
            NDArray mask = m.create(floats(in.get("mask")), new Shape(4, 1, 8, 8));
            long[] ts = new long[4];
            for (int i = 0; i < 4; i++) ts[i] = in.get("timesteps").get(i).asLong();
            NDArray t = m.create(ts);
            int checked = 0;
            for (JsonNode c : ref.get("loss_cases")) {
                boolean ztsnr = c.get("zero_terminal_snr").asBoolean();
                NoiseSchedule original = kohyaSchedule(false), training = kohyaSchedule(ztsnr);
                RecipeLoss loss = chain(c, original, training);
                NDArray perSample = loss.perSample(pred, target, t, c.get("masked").asBoolean() ? mask : null);
                String name = c.get("name").asText();
                float[] want = floats(c.get("per_sample"));
                float[] got = perSample.toFloatArray();
                for (int i = 0; i < 4; i++) {
                    assertEquals(want[i], got[i], 2e-6 * Math.abs(want[i]) + 1e-12, name + " sample " + i);
                }
                assertEquals(c.get("loss").asDouble(), loss.loss(pred, target, t, c.get("masked").asBoolean() ? mask : null)
                        .getFloat(), 2e-6 * Math.abs(c.get("loss").asDouble()), name);
                checked++;
            }
            assertEquals(6, checked);
        }
    }

    private static RecipeLoss chain(JsonNode c, NoiseSchedule original, NoiseSchedule training) {
        LossType type = LossType.valueOf(c.get("loss_type").asText().toUpperCase(java.util.Locale.ROOT));
        HuberThreshold h = new HuberThreshold(HuberSchedule.valueOf(c.get("huber_schedule").asText().toUpperCase(java.util.Locale.ROOT)),
                c.get("huber_c").asDouble(), c.get("huber_scale").asDouble(), training);
        boolean v = c.get("v_prediction").asBoolean();
        SnrTable snr = new SnrTable(original);
        List<LossWeighting> w = new ArrayList<>();
        if (!c.get("min_snr_gamma").isNull()) w.add(new MinSnrWeighting(c.get("min_snr_gamma").asDouble(), v, snr));
        if (c.get("scale_v_pred_loss_like_noise_pred").asBoolean()) w.add(new VPredictionLikeNoiseScale(snr));
        if (c.get("debiased_estimation_loss").asBoolean()) w.add(new DebiasedEstimation(v, snr));
        return new RecipeLoss(new ElementwiseLoss(type, type.usesHuberC() ? h : null), w);
    }

    static JsonNode reference() throws IOException {
        try (InputStream in = LossRecipesTest.class.getResourceAsStream("/recipe/reference.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = (float) array.get(i).asDouble();
        return out;
    }
}
