package sdtrainer.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.ModuleList;
import sdtrainer.nn.Ops;

/** diffusers FeedForward with GEGLU: net.0 = GEGLU(proj), net.1 = dropout, net.2 = Linear. */
public final class FeedForward extends Module {
    final Geglu geglu;
    final Linear out;

    public FeedForward(int dim) {
        int inner = dim * 4;
        ModuleList<Module> net = child("net", new ModuleList<>());
        geglu = (Geglu) net.add(new Geglu(dim, inner));
        net.add(new Dropout());
        out = (Linear) net.add(new Linear(inner, dim, true));
    }

    public NDArray forward(NDArray x) {
        return out.forward(geglu.forward(x));
    }

    /** hidden * gelu(gate), where proj(x) = [hidden | gate]. */
    static final class Geglu extends Module {
        final Linear proj;

        Geglu(int dim, int inner) {
            proj = child("proj", new Linear(dim, inner * 2, true));
        }

        NDArray forward(NDArray x) {
            NDArray y = proj.forward(x);
            NDList parts = y.split(2, y.getShape().dimension() - 1);
            return parts.get(0).mul(Ops.gelu(parts.get(1)));
        }
    }

    /** Placeholder for the parameter-free dropout slot, keeping net.2's index (dropout is 0 in SD). */
    static final class Dropout extends Module {}
}
