package sdtrainer.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import sdtrainer.Fixtures;
import sdtrainer.data.Sample;
import sdtrainer.data.SourceSize;
import sdtrainer.io.SafeTensors;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.StableDiffusionXL;
import sdtrainer.pipeline.StableDiffusionXL.SizeIds;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SDXL's conditioning piece against kohya's training step on the tiny SDXL fixture (captions and time ids). */
class SdxlConditioningTest {

    @Test
    void captionsAndSizesGiveKohyasConditioningWithAndWithoutTheCache() throws Exception {
        Path fixture = Fixtures.require("tiny-sdxl");
        Path ref = fixture.resolve("reference");
        JsonNode step = null;
        for (JsonNode c : ModelDirectory.readJson(ref.resolve("cases.json")).get("cases")) {
            if (c.path("kind").asText().equals("sdxl_train_step")) step = c;
        }
        assertTrue(step != null, "the fixture has an sdxl_train_step case");
        List<String> captions = new ArrayList<>();
        step.path("params").path("captions").forEach(n -> captions.add(n.asText()));
        List<SizeIds> sizes = new ArrayList<>();
        for (JsonNode r : step.path("params").path("time_ids")) {
            sizes.add(new SizeIds(r.get(0).asInt(), r.get(1).asInt(), r.get(2).asInt(), r.get(3).asInt(),
                    r.get(4).asInt(), r.get(5).asInt()));
        }
        try (NDManager m = NDManager.newBaseManager();
             StableDiffusionXL sd = StableDiffusionXL.load(fixture, m.getDevice());
             SafeTensors st = SafeTensors.open(ref.resolve(step.path("file").asText()))) {
            NDArray context = st.load("output.text_embedding", m), pooled = st.load("output.pooled", m);
            NDArray timeIds = st.load("input.time_ids", m);
            SdxlConditioning plain = new SdxlConditioning(sd, false, false);
            SdxlConditioning cached = new SdxlConditioning(sd, false, true);
            for (SdxlConditioning c : List.of(plain, cached, cached)) {
                Conditioning.Encoded e = c.encodeWithSizes(captions, sizes, m);
                assertClose(context, e.context(), "context");
                assertClose(pooled, e.added().textEmbeds(), "pooled");
                assertEquals(timeIds, e.added().timeIds(), "time ids [orig_h, orig_w, crop_top, crop_left, target_h, target_w]");
                assertTrue(!e.context().hasGradient(), "frozen encoders: no graph");
            }
            assertEquals(2, cached.cachedCaptions(), "each caption encoded once");
            Conditioning.Encoded repeated = plain.encodeWithSizes(captions, sizes, m).tile(2);
            assertEquals(4, repeated.added().timeIds().getShape().get(0));

            assertThrows(IllegalArgumentException.class, () -> new SdxlConditioning(sd, true, true));
            sd.textEncoder().setRequiresGrad(true);
            sd.textEncoder2().setRequiresGrad(true);
            SdxlConditioning learning = new SdxlConditioning(sd, true, false);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                Conditioning.Encoded e = learning.encodeWithSizes(captions, sizes, m);
                gc.backward(e.context().sum().add(e.added().textEmbeds().sum()));
            }
            for (var te : List.of(sd.textEncoder(), sd.textEncoder2())) {
                NDArray g = te.namedParameters().get("text_model.encoder.layers.0.mlp.fc1.weight").get().getGradient();
                assertTrue(g.abs().sum().getFloat() > 0, "learning encoders get gradients");
            }
        }
    }

    @Test
    void aSamplesSizeIdsAreItsSourceSizeAndCropOrItsOwnSizeUncropped() {
        float[] none = new float[0];
        // a cached latent [4, 8, 32] of VAE factor 2: a 16 x 64 pixel bucket
        Sample withSource = new Sample("a", "c", none, null, null, new long[] {4, 8, 32}, new SourceSize(20, 60, 0, 8));
        assertEquals(new SizeIds(20, 60, 0, 8, 16, 64), SdxlConditioning.sizeIds(withSource, 2));
        Sample without = new Sample("b", "c", none, null, null, new long[] {4, 8, 32});
        assertEquals(SizeIds.uncropped(16, 64), SdxlConditioning.sizeIds(without, 2), "no sizes.json: bucket size, no crop");
        Sample image = new Sample("c", "c", null, none, null, new long[] {3, 32, 24}, new SourceSize(48, 40, 0, 2));
        assertEquals(new SizeIds(48, 40, 0, 2, 32, 24), SdxlConditioning.sizeIds(image, 2), "images count in pixels");
    }

    private static void assertClose(NDArray expected, NDArray actual, String what) {
        assertEquals(expected.getShape(), actual.getShape(), what);
        float err = expected.sub(actual).abs().max().getFloat();
        assertTrue(err < 1e-4f, what + ": max abs error " + err);
    }
}
