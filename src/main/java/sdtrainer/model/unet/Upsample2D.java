package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Module;
import sdtrainer.nn.Ops;

/** diffusers Upsample2D: nearest 2x, then a 3x3 conv. */
public final class Upsample2D extends Module {
    final Conv2d conv;

    public Upsample2D(int channels) {
        conv = child("conv", new Conv2d(channels, channels, 3, 1, 1));
    }

    public NDArray forward(NDArray x) {
        return conv.forward(Ops.upsampleNearest2x(x));
    }
}
