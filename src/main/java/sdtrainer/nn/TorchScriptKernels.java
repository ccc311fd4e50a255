package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.IValueUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * libtorch kernels that DJL has no op for, reached through a TorchScript module written here by hand (see
 * {@link TorchScriptModule}), so no Python is needed. With autograd on, calls go through DJL's module forward in
 * training mode and so stay in the autograd graph. The module has no parameters, so one instance serves every device.
 */
final class TorchScriptKernels {
    private static final Logger LOG = LoggerFactory.getLogger(TorchScriptKernels.class);

    private static final String SOURCE = String.join("\n",
            "class Kernels(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            "  def attention(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor) -> Tensor:",
            "    return torch.scaled_dot_product_attention(q, k, v)",
            "  def masked_attention(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:",
            "    return torch.scaled_dot_product_attention(q, k, v, mask)",
            "");

    /**
     * The loaded module and the arrays whose names tell DJL which of its methods to run
     * ({@code module_method:<name>}; they are never passed to the method).
     */
    private record Kernels(PtSymbolBlock module, NDArray attention, NDArray maskedAttention) {}

    /** Loaded on first use, once per JVM (class initialisation is lazy and thread-safe); null if it failed. */
    private static final class Loaded {
        static final Kernels KERNELS = loadOrWarn();
    }

    private TorchScriptKernels() {}

    /**
     * torch.nn.functional.scaled_dot_product_attention on [B, heads, L, d] (fused kernels where libtorch has
     * them), with an additive {@code mask} or null; null when the kernels cannot be loaded.
     */
    static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask) {
        Kernels kernels = Loaded.KERNELS;
        if (kernels == null) return null;
        // q first: the result joins the manager of the first input
        NDList inputs = mask == null ? new NDList(q, k, v, kernels.attention())
                : new NDList(q, k, v, mask, kernels.maskedAttention());
        // with autograd off (sampling) DJL runs the method under its no-grad guard, building no graph
        return IValueUtils.forward(kernels.module(), inputs, JniUtils.isGradMode()).singletonOrThrow();
    }

    private static Kernels loadOrWarn() {
        try {
            return load();
        } catch (IOException | RuntimeException e) {
            LOG.warn("fused attention unavailable, using matmul + softmax: {}", e.getMessage());
            return null;
        }
    }

    private static Kernels load() throws IOException {
        TorchScriptModule.Loaded loaded = TorchScriptModule.load("Kernels", SOURCE);
        PtNDManager manager = loaded.manager(); // the method markers live as long as the module
        return new Kernels(loaded.module(), methodMarker(manager, "attention"), methodMarker(manager, "masked_attention"));
    }

    private static NDArray methodMarker(PtNDManager manager, String method) {
        NDArray marker = manager.create(0f);
        marker.setName("module_method:" + method);
        ai.djl.ndarray.NDScope.unregister(marker); // the first call may come inside a training step's scope
        return marker;
    }
}
