package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsSet;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;

/** Loads a module's parameters from a tensor file by key: a lookup, no name mapping. */
public final class StateDict {
    private StateDict() {}

    /** Thrown when keys or shapes do not line up; the message lists every offending key. */
    public static final class MismatchException extends IOException {
        public MismatchException(String message) {
            super(message);
        }
    }

    /** Fills every parameter of {@code module} from {@code file} (as float32, owned by {@code manager}) after {@link #check}. */
    public static void load(Module module, SafeTensorsSet file, NDManager manager, Predicate<String> ignorable) throws IOException {
        check(module, file, ignorable);
        for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
            e.getValue().set(file.load(e.getKey(), manager));
        }
    }

    /**
     * Verifies, from the headers alone, that {@code file} holds exactly the parameters of {@code module}
     * with their shapes. Missing keys, unexpected keys (other than those {@code ignorable} accepts, e.g.
     * buffers) and shape mismatches are reported together in one error naming the file.
     */
    public static void check(Module module, SafeTensorsSet file, Predicate<String> ignorable) throws MismatchException {
        Map<String, Parameter> params = module.namedParameters();
        List<String> missing = new ArrayList<>();
        List<String> badShape = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            SafeTensors.TensorInfo info = file.info(e.getKey());
            if (info == null) missing.add(e.getKey());
            else if (!new Shape(info.shape()).equals(e.getValue().shape())) {
                badShape.add(e.getKey() + " (file " + new Shape(info.shape()) + ", model " + e.getValue().shape() + ")");
            }
        }
        Set<String> unexpected = new TreeSet<>(file.names());
        unexpected.removeAll(params.keySet());
        unexpected.removeIf(ignorable);
        if (!missing.isEmpty() || !unexpected.isEmpty() || !badShape.isEmpty()) {
            // one line, as the CLI prints each problem
            List<String> parts = new ArrayList<>();
            listed(parts, "missing keys", missing);
            listed(parts, "unexpected keys", new ArrayList<>(unexpected));
            listed(parts, "shape mismatches", badShape);
            throw new MismatchException(file.source() + " does not match the " + module.getClass().getSimpleName()
                    + " built from its config: " + String.join("; ", parts));
        }
    }

    private static void listed(List<String> parts, String title, List<String> items) {
        if (items.isEmpty()) return;
        int shown = Math.min(items.size(), 12);
        parts.add(title + " (" + items.size() + "): " + String.join(", ", items.subList(0, shown))
                + (shown < items.size() ? ", ... " + (items.size() - shown) + " more" : ""));
    }

    public static void load(Module module, Path file, NDManager manager, Predicate<String> ignorable) throws IOException {
        try (SafeTensorsSet st = SafeTensorsSet.open(file)) {
            load(module, st, manager, ignorable);
        }
    }
}
