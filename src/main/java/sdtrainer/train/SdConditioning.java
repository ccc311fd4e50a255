package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import sdtrainer.data.Sample;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Ops;
import sdtrainer.pipeline.StableDiffusion;

import java.util.List;

/** SD 1.x/2.x's Conditioning piece: captions to the text encoder's states (the model's prompt encoding). */
final class SdConditioning implements Conditioning {
    private final StableDiffusion sd;
    private final boolean learns;

    SdConditioning(StableDiffusion sd, boolean learns) {
        this.sd = sd;
        this.learns = learns;
    }

    @Override
    public Encoded encode(List<String> captions, List<Sample> samples, NDManager m) {
        if (learns) return new Encoded(Ops.castKeepingGrad(sd.encodePrompts(captions, m), DataType.FLOAT32), null);
        try (NoGrad ignored = new NoGrad()) {
            return new Encoded(sd.encodePrompts(captions, m).toType(DataType.FLOAT32, false), null);
        }
    }
}
