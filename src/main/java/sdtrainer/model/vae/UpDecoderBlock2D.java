package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import sdtrainer.model.unet.ResnetBlock2D;
import sdtrainer.model.unet.Upsample2D;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Scopes;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

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
        List<UnaryOperator<NDArray>> blocks = new ArrayList<>();
        for (ResnetBlock2D r : resnets) blocks.add(x -> r.forward(x, null));
        if (upsamplers != null) blocks.add(upsamplers.get(0)::forward);
        return Scopes.chain(h, blocks);
    }
}
