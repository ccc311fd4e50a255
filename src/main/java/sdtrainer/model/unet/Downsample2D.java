package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Module;

/** diffusers Downsample2D with a stride-2 3x3 conv; padding 0 means the VAE's asymmetric (0,1,0,1) pad. */
public final class Downsample2D extends Module {
    final Conv2d conv;
    final int padding;

    public Downsample2D(int channels, int padding) {
        this.padding = padding;
        conv = child("conv", new Conv2d(channels, channels, 3, 2, padding));
    }

    public NDArray forward(NDArray x) {
        if (padding == 0) {
            // torch.nn.functional.pad(x, (0, 1, 0, 1)): one zero column on the right, one row at the bottom
            x = x.pad(new Shape(0, 1, 0, 1), 0);
        }
        return conv.forward(x);
    }
}
