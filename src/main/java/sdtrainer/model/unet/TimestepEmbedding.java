package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.Ops;

/** diffusers TimestepEmbedding (linear_1, SiLU, linear_2) plus the sinusoidal Timesteps projection before it. */
public final class TimestepEmbedding extends Module {
    final Linear linear_1, linear_2;

    public TimestepEmbedding(int in, int dim) {
        linear_1 = child("linear_1", new Linear(in, dim, true));
        linear_2 = child("linear_2", new Linear(dim, dim, true));
    }

    public NDArray forward(NDArray x) {
        return linear_2.forward(Ops.silu(linear_1.forward(x)));
    }

    /**
     * diffusers get_timestep_embedding: exp(-ln(10000) * i / (half - shift)) frequencies, [sin | cos]
     * (or [cos | sin] with flipSinToCos), computed in float32 in the same order as diffusers.
     */
    public static NDArray sinusoidal(NDArray timesteps, int dim, boolean flipSinToCos, int freqShift) {
        int half = dim / 2;
        NDArray exponent = timesteps.getManager().arange(0, half, 1, DataType.FLOAT32, timesteps.getDevice())
                .mul((float) -Math.log(10000)).div((float) (half - freqShift));
        NDArray freqs = exponent.exp();
        NDArray args = timesteps.toType(DataType.FLOAT32, false).expandDims(1).mul(freqs.expandDims(0));
        NDArray sin = args.sin(), cos = args.cos();
        NDArray emb = flipSinToCos ? cos.concat(sin, 1) : sin.concat(cos, 1);
        if (dim % 2 == 1) emb = emb.pad(new ai.djl.ndarray.types.Shape(0, 1), 0);
        return emb;
    }
}
