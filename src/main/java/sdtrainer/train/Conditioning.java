package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.data.Sample;
import sdtrainer.model.unet.AddedConditions;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;

import java.util.List;

/** A micro-batch's captions (and, for SDXL, its samples' sizes) to the UNet's conditioning, in float32. */
interface Conditioning {

    /** The UNet's conditioning for one batch: text states and SDXL's added conditions (null for SD 1.x/2.x). */
    record Encoded(NDArray context, AddedConditions added) {
        /** The batch repeated r times (minibatch repeat), as the latents are. */
        Encoded tile(int r) {
            NDArray c = context.tile(new long[] {r, 1, 1});
            return new Encoded(c, added == null ? null : new AddedConditions(
                    added.textEmbeds().tile(new long[] {r, 1}), added.timeIds().tile(new long[] {r, 1})));
        }
    }

    /** In the graph only when the text encoders learn. */
    Encoded encode(List<String> captions, List<Sample> samples, NDManager m);

    /**
     * The model family's piece; {@code cacheOutputs} encodes each caption once (SDXL, frozen encoders only).
     */
    static Conditioning of(DiffusionModel model, boolean learns, boolean cacheOutputs) {
        if (model instanceof StableDiffusionXL xl) return new SdxlConditioning(xl, learns, cacheOutputs);
        if (cacheOutputs) throw new IllegalArgumentException("--cache_text_encoder_outputs is for SDXL models");
        return new SdConditioning((StableDiffusion) model, learns);
    }
}
