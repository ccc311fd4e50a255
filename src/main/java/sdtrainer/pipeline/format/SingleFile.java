package sdtrainer.pipeline.format;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsSet;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;
import sdtrainer.nn.Module;
import sdtrainer.nn.Parameter;
import sdtrainer.nn.StateDict;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** Reads and writes an original-layout single file through a {@link SingleFileLayout}. */
public final class SingleFile {
    private static final Logger LOG = LoggerFactory.getLogger(SingleFile.class);

    private SingleFile() {}

    /** Every parameter of the three components under its layout name ({@code unet.}, {@code vae.}, {@code text_encoder.} + key). */
    public static Map<String, Parameter> parameters(Module unet, Module vae, Module textEncoder) {
        Map<String, Parameter> all = new LinkedHashMap<>();
        unet.namedParameters().forEach((k, p) -> all.put(SingleFileLayout.UNET + k, p));
        vae.namedParameters().forEach((k, p) -> all.put(SingleFileLayout.VAE + k, p));
        textEncoder.namedParameters().forEach((k, p) -> all.put(SingleFileLayout.TEXT_ENCODER + k, p));
        return all;
    }

    /** As above, with SDXL's second text encoder ({@code text_encoder_2.} + key). */
    public static Map<String, Parameter> parameters(Module unet, Module vae, Module textEncoder, Module textEncoder2) {
        Map<String, Parameter> all = parameters(unet, vae, textEncoder);
        textEncoder2.namedParameters().forEach((k, p) -> all.put(SingleFileLayout.TEXT_ENCODER_2 + k, p));
        return all;
    }

    /**
     * Verifies from the header alone that the file holds every tensor of the layout with its shape, naming the
     * first that is missing or mis-shaped; the tensors that are neither in the layout nor known extras are listed
     * in one warning and returned.
     */
    public static Set<String> check(SafeTensorsSet file, SingleFileLayout layout) throws StateDict.MismatchException {
        Set<String> unknown = new TreeSet<>(file.names());
        for (SingleFileLayout.Entry e : layout.entries()) {
            unknown.remove(e.fileKey());
            if (e.saveOnly()) continue;
            SafeTensors.TensorInfo info = file.info(e.fileKey());
            String which = " (" + layout.family() + " config, parameter " + String.join(" + ", e.modelKeys()) + ")";
            if (info == null) {
                throw new StateDict.MismatchException(file.source() + ": has no tensor '" + e.fileKey() + "'" + which);
            }
            if (!new Shape(info.shape()).equals(e.fileShape())) {
                throw new StateDict.MismatchException(file.source() + ": tensor '" + e.fileKey() + "' has shape "
                        + new Shape(info.shape()) + " but the config expects " + e.fileShape() + which);
            }
            if (!DType.valueOf(info.dtype()).isFloating()) {
                throw new StateDict.MismatchException(file.source() + ": tensor '" + e.fileKey() + "' is " + info.dtype()
                        + ", not a floating type");
            }
        }
        unknown.removeIf(layout::isKnownExtra);
        if (!unknown.isEmpty()) {
            List<String> shown = new ArrayList<>(unknown).subList(0, Math.min(unknown.size(), 20));
            LOG.warn("{}: ignoring {} tensor{} this {} model does not use: {}{}", file.source(), unknown.size(),
                    unknown.size() == 1 ? "" : "s", layout.family(), String.join(", ", shown),
                    unknown.size() > shown.size() ? ", ... " + (unknown.size() - shown.size()) + " more" : "");
        }
        return unknown;
    }

    /**
     * Checks the whole file, then fills the parameters whose layout names start
     * with {@code part} ("" for all; e.g. {@link SingleFileLayout#VAE}) as float32, owned by {@code manager}.
     */
    public static void load(SafeTensorsSet file, SingleFileLayout layout, Map<String, Parameter> params, NDManager manager,
                            String part) throws IOException {
        check(file, layout);
        for (SingleFileLayout.Entry e : layout.entries()) {
            if (e.saveOnly() || !e.modelKeys().get(0).startsWith(part)) continue;
            TensorData t = file.read(e.fileKey());
            if (e.kind() == SingleFileLayout.Kind.TRANSPOSE) {
                params.get(e.modelKeys().get(0)).set(transposed(t).toNDArray(manager));
                continue;
            }
            List<TensorData> parts = split(t, e, params);
            for (int i = 0; i < parts.size(); i++) params.get(e.modelKeys().get(i)).set(parts.get(i).toNDArray(manager));
        }
    }

    /** Writes the parameters as one original-layout file, atomically, floating tensors in {@code precision}. */
    public static void save(Path out, SingleFileLayout layout, Map<String, Parameter> params, DType precision) throws IOException {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<List<String>, TensorData> done = new HashMap<>();
        for (SingleFileLayout.Entry e : layout.entries()) {
            TensorData t = done.get(e.modelKeys());
            if (t == null) {
                t = join(e, params);
                done.put(e.modelKeys(), t);
            }
            tensors.put(e.fileKey(), t);
        }
        SafeTensorsWriter.write(out, tensors, Map.of("format", "pt"), precision);
    }

    /** The file tensor as the parameters' tensors: zero-copy views of the mapping. */
    private static List<TensorData> split(TensorData t, SingleFileLayout.Entry e, Map<String, Parameter> params) {
        List<TensorData> out = new ArrayList<>();
        long offset = 0;
        for (String key : e.modelKeys()) {
            long[] shape = params.get(key).shape().getShape();
            long bytes = new Shape(shape).size() * t.dtype().size();
            ByteBuffer b = t.data();
            b.position(Math.toIntExact(offset)).limit(Math.toIntExact(offset + bytes));
            out.add(new TensorData(t.dtype(), shape, b.slice()));
            offset += bytes;
        }
        return out;
    }

    /** A 2-D tensor transposed, element by element in its own dtype (no rounding). */
    static TensorData transposed(TensorData t) {
        long[] s = t.shape();
        if (s.length != 2) throw new IllegalArgumentException("transpose of a " + s.length + "-D tensor");
        int rows = Math.toIntExact(s[0]), cols = Math.toIntExact(s[1]), size = t.dtype().size();
        ByteBuffer in = t.data().duplicate();
        int base = in.position();
        byte[] out = new byte[rows * cols * size];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                for (int b = 0; b < size; b++) out[(j * rows + i) * size + b] = in.get(base + (i * cols + j) * size + b);
            }
        }
        return new TensorData(t.dtype(), new long[] {cols, rows}, ByteBuffer.wrap(out));
    }

    private static TensorData join(SingleFileLayout.Entry e, Map<String, Parameter> params) {
        List<TensorData> parts = new ArrayList<>();
        if (e.kind() == SingleFileLayout.Kind.TRANSPOSE) return transposed(TensorData.fromNDArray(params.get(e.modelKeys().get(0)).get()));
        for (String key : e.modelKeys()) parts.add(TensorData.fromNDArray(params.get(key).get()));
        if (parts.size() == 1) return new TensorData(parts.get(0).dtype(), e.fileShape().getShape(), parts.get(0).data());
        int bytes = 0;
        for (TensorData p : parts) bytes += p.data().remaining();
        ByteBuffer all = ByteBuffer.allocate(bytes);
        for (TensorData p : parts) all.put(p.data());
        all.flip();
        return new TensorData(parts.get(0).dtype(), e.fileShape().getShape(), all);
    }
}
