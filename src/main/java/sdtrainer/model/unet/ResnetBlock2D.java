package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.GroupNorm;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.Ops;
import sdtrainer.nn.Scopes;

/** diffusers ResnetBlock2D (default time-embedding norm); without a time embedding when temb channels is 0 (VAE). */
public final class ResnetBlock2D extends Module {
    final GroupNorm norm1, norm2;
    final Conv2d conv1, conv2, conv_shortcut;
    final Linear time_emb_proj;
    final float outputScaleFactor;

    public ResnetBlock2D(int in, int out, int tembChannels, int groups, float eps, float outputScaleFactor) {
        this.outputScaleFactor = outputScaleFactor;
        norm1 = child("norm1", new GroupNorm(groups, in, eps));
        conv1 = child("conv1", new Conv2d(in, out, 3, 1, 1));
        time_emb_proj = tembChannels > 0 ? child("time_emb_proj", new Linear(tembChannels, out, true)) : null;
        norm2 = child("norm2", new GroupNorm(groups, out, eps));
        conv2 = child("conv2", new Conv2d(out, out, 3, 1, 1));
        conv_shortcut = in != out ? child("conv_shortcut", new Conv2d(in, out, 1, 1, 0)) : null;
    }

    public NDArray forward(NDArray x, NDArray temb) {
        // in inference the block's intermediates are freed as it returns (sampling, VAE decode)
        return Scopes.inference(() -> compute(x, temb));
    }

    private NDArray compute(NDArray x, NDArray temb) {
        NDArray h = conv1.forward(norm1.forwardSilu(x));
        // the adds go in place: a convolution's output is not needed by its backward, nor by the add's
        if (time_emb_proj != null && temb != null) {
            NDArray t = time_emb_proj.forward(Ops.silu(temb));
            h = h.addi(t.expandDims(2).expandDims(3));
        }
        h = conv2.forward(norm2.forwardSilu(h));
        NDArray skip = conv_shortcut != null ? conv_shortcut.forward(x) : x;
        NDArray out = h.addi(skip);
        return outputScaleFactor == 1f ? out : Ops.divide(out, outputScaleFactor);
    }
}
