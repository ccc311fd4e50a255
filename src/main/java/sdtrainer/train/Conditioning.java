package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Ops;
import sdtrainer.pipeline.StableDiffusion;

import java.util.List;

/** Captions to the UNet's text conditioning (float32), in the graph only when the text encoder learns. */
final class Conditioning {
    private final StableDiffusion sd;
    private final boolean learns;

    Conditioning(StableDiffusion sd, boolean learns) {
        this.sd = sd;
        this.learns = learns;
    }

    NDArray encode(List<String> captions, NDManager m) {
        if (learns) return Ops.castKeepingGrad(sd.encodePrompts(captions, m), DataType.FLOAT32);
        try (NoGrad ignored = new NoGrad()) {
            return sd.encodePrompts(captions, m).toType(DataType.FLOAT32, false);
        }
    }
}
