package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * libtorch kernels that DJL has no op for, reached through a TorchScript module written here by hand (its
 * source and a pickled instance in the archive layout torch.jit.save uses), so no Python is needed. With
 * autograd on, calls go through DJL's module forward in training mode and so stay in the autograd graph. The module has no
 * parameters, so one instance serves every device.
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
        Path file = Files.createTempFile("sd-trainer-kernels", ".pt");
        try {
            try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
                put(zip, "data.pkl", pickledInstance());
                put(zip, "code/__torch__.py", SOURCE.getBytes(StandardCharsets.UTF_8));
                put(zip, "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // an empty tuple
                put(zip, "version", "10\n".getBytes(StandardCharsets.US_ASCII));
            }
            // a manager of its own that is never closed: the module and the method markers live as long as the JVM
            PtNDManager manager = (PtNDManager) ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu());
            PtSymbolBlock module = JniUtils.loadModule(manager, file, false, new String[0], new String[0], true);
            return new Kernels(module, methodMarker(manager, "attention"), methodMarker(manager, "masked_attention"));
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static NDArray methodMarker(PtNDManager manager, String method) {
        NDArray marker = manager.create(0f);
        marker.setName("module_method:" + method);
        ai.djl.ndarray.NDScope.unregister(marker); // the first call may come inside a training step's scope
        return marker;
    }

    /** Pickle protocol 2 of {@code __torch__.Kernels()} with its one attribute, training = True. */
    private static byte[] pickledInstance() {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(new byte[] {(byte) 0x80, 2});                                   // PROTO 2
        p.writeBytes("c__torch__\nKernels\n".getBytes(StandardCharsets.US_ASCII));    // GLOBAL
        p.writeBytes(new byte[] {')', (byte) 0x81, '}', '('});                       // (), NEWOBJ, {}, MARK
        byte[] key = "training".getBytes(StandardCharsets.US_ASCII);
        p.write('X');                                                                // BINUNICODE
        p.writeBytes(new byte[] {(byte) key.length, 0, 0, 0});
        p.writeBytes(key);
        p.writeBytes(new byte[] {(byte) 0x88, 'u', 'b', '.'});                       // True, SETITEMS, BUILD, STOP
        return p.toByteArray();
    }

    /** torch reads archive records stored uncompressed under one top-level folder. */
    private static void put(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry("kernels/" + name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(data);
        zip.closeEntry();
    }
}
