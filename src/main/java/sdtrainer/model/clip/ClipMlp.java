package sdtrainer.model.clip;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Linear;
import sdtrainer.nn.Module;
import sdtrainer.nn.Ops;

/** transformers CLIPMLP: fc1, activation from the config, fc2. */
public final class ClipMlp extends Module {
    final String act;
    final Linear fc1, fc2;

    ClipMlp(ClipTextConfig c) {
        act = c.hiddenAct();
        if (!act.equals("quick_gelu") && !act.equals("gelu")) {
            throw new IllegalArgumentException("text encoder hidden_act '" + act + "' is not supported (quick_gelu, gelu)");
        }
        fc1 = child("fc1", new Linear(c.hiddenSize(), c.intermediateSize(), true));
        fc2 = child("fc2", new Linear(c.intermediateSize(), c.hiddenSize(), true));
    }

    NDArray forward(NDArray h) {
        NDArray x = fc1.forward(h);
        return fc2.forward(act.equals("gelu") ? Ops.gelu(x) : Ops.quickGelu(x));
    }
}
