package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.TensorFileException;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Parameter;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** What LoRA and EH networks share: attaching, parameter groups, monitoring, merging and resuming. */
abstract class AdapterNetwork implements Network {
    /** Name fragments whose tensors are averaged together for {@link #weightMeans()}. */
    static final List<String> MONITOR_GROUPS = List.of("lora_up", "lora_down", "to_q", "to_k", "to_v", "to_out",
            "ff_net_0", "ff_net_2", "attn1", "attn2");

    private boolean attached;

    /** The adapters in creation order (text encoder first). */
    abstract List<? extends Adapter> adapters();

    @Override
    public void attach() {
        for (Adapter a : adapters()) {
            if (a.target().adapter() != null && a.target().adapter() != a) {
                throw new IllegalStateException(a.target().path() + " already carries another adapter");
            }
        }
        adapters().forEach(a -> a.target().setAdapter(a));
        attached = true;
    }

    @Override
    public void detach() {
        for (Adapter a : adapters()) {
            if (a.target().adapter() == a) a.target().setAdapter(null);
        }
        attached = false;
    }

    boolean isAttached() { return attached; }

    @Override
    public Map<String, NDArray> unetParameters() { return parameters(false); }

    @Override
    public Map<String, NDArray> teParameters() { return parameters(true); }

    private Map<String, NDArray> parameters(boolean textEncoder) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Adapter a : adapters()) if (a.target().textEncoder() == textEncoder) out.putAll(a.parameters());
        return out;
    }

    Map<String, NDArray> allParameters() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        adapters().forEach(a -> out.putAll(a.parameters()));
        return out;
    }

    @Override
    public Map<String, Double> weightMeans() {
        Map<String, double[]> sums = new LinkedHashMap<>();
        try (NoGrad ignored = new NoGrad()) {
            for (Map.Entry<String, NDArray> e : allParameters().entrySet()) {
                double mean;
                try (NDArray abs = e.getValue().abs(); NDArray m = abs.mean()) {
                    mean = m.getFloat();
                }
                for (String g : MONITOR_GROUPS) {
                    if (!e.getKey().contains(g)) continue;
                    double[] s = sums.computeIfAbsent(g, k -> new double[2]);
                    s[0] += mean;
                    s[1]++;
                }
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        for (String g : MONITOR_GROUPS) if (sums.containsKey(g)) out.put(g, sums.get(g)[0] / sums.get(g)[1]);
        return out;
    }

    @Override
    public void merge() {
        detach();
        try (NoGrad ignored = new NoGrad()) {
            for (Adapter a : adapters()) {
                Parameter w = a.target().weight();
                try (NDArray delta = a.delta(); NDArray typed = delta.toType(w.get().getDataType(), false)) {
                    w.set(w.get().add(typed));
                }
            }
        }
    }

    /**
     * Checks a file's keys and shapes against {@code params} (keys in {@code optional} may be absent), then copies
     * its values into the parameters in place. Every problem is reported at once.
     */
    static void copyChecked(SafeTensors file, Map<String, NDArray> params, Set<String> optional, String what)
            throws IOException {
        List<String> missing = new ArrayList<>();
        List<String> badShape = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            SafeTensors.TensorInfo info = file.info(e.getKey());
            if (info == null) missing.add(e.getKey());
            else if (!new Shape(info.shape()).equals(e.getValue().getShape())) {
                badShape.add(e.getKey() + " (file " + new Shape(info.shape()) + ", network " + e.getValue().getShape() + ")");
            }
        }
        Set<String> unexpected = new TreeSet<>(file.names());
        unexpected.removeAll(params.keySet());
        unexpected.removeAll(optional);
        if (!missing.isEmpty() || !unexpected.isEmpty() || !badShape.isEmpty()) {
            StringBuilder sb = new StringBuilder("does not fit " + what + ":");
            appendList(sb, "missing keys", missing);
            appendList(sb, "unexpected keys", new ArrayList<>(unexpected));
            appendList(sb, "shape mismatches", badShape);
            throw new TensorFileException(file.file(), sb.toString());
        }
        try (NoGrad ignored = new NoGrad()) {
            for (Map.Entry<String, NDArray> e : params.entrySet()) {
                NDArray p = e.getValue();
                // the in-place copy converts to the parameter's dtype; the array the optimizer holds stays the same
                NDArray loaded = file.load(e.getKey(), p.getManager());
                NDArray onDevice = loaded.toDevice(p.getDevice(), false);
                p.set(new NDIndex("..."), onDevice);
                if (onDevice != loaded) onDevice.close();
                loaded.close();
            }
        }
    }

    /** Adds a titled list to a message that ends with ':', all on one line, as the CLI prints each problem. */
    static void appendList(StringBuilder sb, String title, List<String> items) {
        if (items.isEmpty()) return;
        int shown = Math.min(items.size(), 20);
        sb.append(sb.charAt(sb.length() - 1) == ':' ? " " : "; ").append(title).append(" (").append(items.size()).append("): ")
                .append(String.join(", ", items.subList(0, shown)));
        if (shown < items.size()) sb.append(", ... ").append(items.size() - shown).append(" more");
    }

    /** An adapter parameter: a float32 array in {@code manager} that collects gradients and outlives any scope. */
    static NDArray newParameter(NDManager manager, float[] values, Shape shape) {
        NDArray p = manager.create(values, shape);
        p.setRequiresGradient(true);
        NDScope.unregister(p);
        return p;
    }

    /** A tensor of a network file as a parameter on {@code manager}'s device. */
    static NDArray loadParameter(SafeTensors file, String key, NDManager manager) throws IOException {
        NDArray loaded = file.load(key, manager);
        NDArray p = loaded.toDevice(manager.getDevice(), false);
        if (p != loaded) loaded.close();
        p.setRequiresGradient(true);
        NDScope.unregister(p);
        return p;
    }
}
