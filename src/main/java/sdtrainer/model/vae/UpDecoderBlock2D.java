package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.model.unet.ResnetBlock2D;
import sdtrainer.model.unet.Upsample2D;
import sdtrainer.nn.Module;
import sdtrainer.nn.Scopes;
import sdtrainer.nn.ModuleList;

/** diffusers UpDecoderBlock2D: resnets without time embedding or skips, then an optional upsampler. */
public final class UpDecoderBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Upsample2D> upsamplers;

    public UpDecoderBlock2D(int in, int out, int layers, int groups, boolean addUpsample) {
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) resnets.add(new ResnetBlock2D(i == 0 ? in : out, out, 0, groups, 1e-6f, 1f));
        upsamplers = addUpsample ? child("upsamplers", new ModuleList<>()) : null;
        if (addUpsample) upsamplers.add(new Upsample2D(out));
    }

    public NDArray forward(NDArray h) {
        // the block's input is the caller's: only what the block made is freed as it goes
        NDArray in = h;
        for (ResnetBlock2D r : resnets) h = h == in ? r.forward(h, null) : Scopes.advance(h, x -> r.forward(x, null));
        return upsamplers == null ? h : Scopes.advance(h, upsamplers.get(0)::forward);
    }
}
