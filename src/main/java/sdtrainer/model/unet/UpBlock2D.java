package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;

import java.util.List;

/** diffusers UpBlock2D: each resnet takes the running state concatenated with one skip, then an optional upsampler. */
public class UpBlock2D extends Module {
    final ModuleList<ResnetBlock2D> resnets;
    final ModuleList<Upsample2D> upsamplers;

    public UpBlock2D(int in, int prevOut, int out, int tembChannels, int layers, int groups, float eps, boolean addUpsample) {
        resnets = child("resnets", new ModuleList<>());
        for (int i = 0; i < layers; i++) {
            int skipChannels = i == layers - 1 ? in : out;
            int resnetIn = i == 0 ? prevOut : out;
            resnets.add(new ResnetBlock2D(resnetIn + skipChannels, out, tembChannels, groups, eps, 1f));
        }
        upsamplers = addUpsample ? child("upsamplers", new ModuleList<>()) : null;
        if (addUpsample) upsamplers.add(new Upsample2D(out));
    }

    /** Runs the block, consuming skips from the end of {@code skips}. */
    public NDArray forward(NDArray h, NDArray temb, NDArray context, List<NDArray> skips) {
        for (int i = 0; i < resnets.size(); i++) {
            NDArray skip = skips.remove(skips.size() - 1);
            h = afterResnet(i, resnets.get(i).forward(h.concat(skip, 1), temb), context);
        }
        return upsamplers == null ? h : upsamplers.get(0).forward(h);
    }

    NDArray afterResnet(int i, NDArray h, NDArray context) {
        return h;
    }
}
