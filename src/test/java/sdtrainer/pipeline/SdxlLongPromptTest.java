package sdtrainer.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import org.junit.jupiter.api.Test;
import sdtrainer.Fixtures;
import sdtrainer.nn.NoGrad;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --max_token_length for SDXL (kohya's get_hidden_states_sdxl): 75-token chunks through both encoders, joined as
 * for SD, the pooled output of the first chunk. A prompt that fits one chunk keeps its states and pooled output.
 */
class SdxlLongPromptTest {
    private static final String SHORT = "a photo of a cat";

    private static String longCaption() {
        StringBuilder sb = new StringBuilder("1girl");
        for (int i = 0; i < 60; i++) sb.append(", tag").append(i);
        return sb.toString();
    }

    @Test
    void chunksKeepTheFirstChunkAndReachPastSeventySevenTokens() throws Exception {
        try (StableDiffusionXL sd = StableDiffusionXL.load(Fixtures.require("tiny-sdxl"), Device.cpu());
             NDManager m = sd.manager().newSubManager(); NoGrad ignored = new NoGrad()) {
            List<String> prompts = List.of(SHORT, longCaption());
            assertTrue(sd.tokenizer().encode(longCaption()).length > 150, "the long caption needs three chunks");
            StableDiffusionXL.TextConditioning plain = sd.encodePrompts(prompts, m);
            sd.useMaxTokenLength(75);
            assertArrayEquals(plain.context().toFloatArray(), sd.encodePrompts(prompts, m).context().toFloatArray(),
                    "75 is the plain path");
            sd.useMaxTokenLength(225);
            StableDiffusionXL.TextConditioning chunked = sd.encodePrompts(prompts, m);
            long d = plain.context().getShape().get(2);
            assertEquals(List.of(2L, 227L, d), List.of(chunked.context().getShape().getShape()[0],
                    chunked.context().getShape().get(1), chunked.context().getShape().get(2)));
            // the short prompt's first chunk is its 77-token encoding: BOS and the 75 states after it are the same
            NDArray head = chunked.context().get(new NDIndex("0, 0:76"));
            assertTrue(maxDiff(plain.context().get(new NDIndex("0, 0:76")), head) < 1e-5, "short prompt, chunk 0");
            assertTrue(maxDiff(plain.pooled(), chunked.pooled()) < 1e-5, "pooled output of the first chunk");
            // the long caption's tokens past 75 now reach the UNet: its tail differs from the truncated encoding's
            assertTrue(maxDiff(plain.context().get(new NDIndex("1, 76")), chunked.context().get(new NDIndex("1, 226"))) > 1e-3);
            NDArray zeros = sd.encodeNegative(null, chunked, m).context();
            assertEquals(chunked.context().getShape(), zeros.getShape(), "CFG's negative takes the same length");
        }
    }

    private static float maxDiff(NDArray a, NDArray b) {
        return a.sub(b).abs().max().getFloat();
    }
}
