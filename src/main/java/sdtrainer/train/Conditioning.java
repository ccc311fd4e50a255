package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import sdtrainer.data.CaptionRecipe;
import sdtrainer.data.Sample;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Ops;
import sdtrainer.pipeline.StableDiffusion;

import java.util.ArrayList;
import java.util.List;

/** Captions to the UNet's text conditioning (float32), in the graph only when the text encoder learns. */
final class Conditioning {
    private final StableDiffusion sd;
    private final boolean learns;
    private final CaptionRecipe recipe;

    Conditioning(StableDiffusion sd, boolean learns, CaptionRecipe recipe) {
        this.sd = sd;
        this.learns = learns;
        this.recipe = recipe;
    }

    /** The captions this micro-batch trains on: shuffled, dropped, framed by the caption recipe, per sample. */
    List<String> captions(List<Sample> samples, BatchDraws draws) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < samples.size(); i++) out.add(recipe.apply(samples.get(i).caption(), draws.caption(i)));
        return out;
    }

    NDArray encode(List<String> captions, NDManager m) {
        if (learns) return Ops.castKeepingGrad(sd.encodePrompts(captions, m), DataType.FLOAT32);
        try (NoGrad ignored = new NoGrad()) {
            return sd.encodePrompts(captions, m).toType(DataType.FLOAT32, false);
        }
    }
}
