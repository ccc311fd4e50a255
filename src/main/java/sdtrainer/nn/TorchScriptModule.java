package sdtrainer.nn;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;

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
 * Loads a parameterless TorchScript module written here by hand: its source ({@code code/__torch__.py}) and a
 * pickled instance in the archive layout torch.jit.save uses, so no Python is needed. The module lives as long
 * as the JVM, in a manager of its own that is never closed.
 */
public final class TorchScriptModule {
    private TorchScriptModule() {}

    /**
     * Loads class {@code className} (defined in {@code source}) in training mode, so calls through it stay in
     * the autograd graph. The returned manager is the module's own, for any constants its callers keep.
     */
    public static Loaded load(String className, String source) throws IOException {
        Path file = Files.createTempFile("sd-trainer-" + className, ".pt");
        try {
            try (OutputStream out = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(out)) {
                put(zip, "data.pkl", pickledInstance(className));
                put(zip, "code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
                put(zip, "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // an empty tuple
                put(zip, "version", "10\n".getBytes(StandardCharsets.US_ASCII));
            }
            PtNDManager manager = (PtNDManager) NDManager.newBaseManager(ai.djl.Device.cpu());
            PtSymbolBlock module = JniUtils.loadModule(manager, file, false, new String[0], new String[0], true);
            return new Loaded(module, manager);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** A loaded module and its manager. */
    public record Loaded(PtSymbolBlock module, PtNDManager manager) {}

    /** Pickle protocol 2 of {@code __torch__.<className>()} with its one attribute, training = True. */
    private static byte[] pickledInstance(String className) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(new byte[] {(byte) 0x80, 2});                                              // PROTO 2
        p.writeBytes(("c__torch__\n" + className + "\n").getBytes(StandardCharsets.US_ASCII));  // GLOBAL
        p.writeBytes(new byte[] {')', (byte) 0x81, '}', '('});                                  // (), NEWOBJ, {}, MARK
        byte[] key = "training".getBytes(StandardCharsets.US_ASCII);
        p.write('X');                                                                           // BINUNICODE
        p.writeBytes(new byte[] {(byte) key.length, 0, 0, 0});
        p.writeBytes(key);
        p.writeBytes(new byte[] {(byte) 0x88, 'u', 'b', '.'});                                  // True, SETITEMS, BUILD, STOP
        return p.toByteArray();
    }

    /** torch reads archive records stored uncompressed under one top-level folder. */
    private static void put(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry("module/" + name);
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
