package sdtrainer.network;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.TensorData;
import sdtrainer.io.TensorFileException;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.nn.Linear;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The original sd-trainer's EH network: a zero-initialised block-diagonal adapter on every target Linear (the
 * LoRA targets without the 1x1 convolutions), saved as {@code EH_unet_<path>.linear.weight} (and
 * {@code EH_te_<path>.linear.weight} for the text encoder).
 */
public final class EhNetwork extends AdapterNetwork {
    public static final String UNET_PREFIX = "EH_unet";
    public static final String TE_PREFIX = "EH_te";
    static final String WEIGHT = ".linear.weight";

    private final List<EhModule> modules;

    private EhNetwork(List<EhModule> modules) {
        this.modules = List.copyOf(modules);
    }

    /** A fresh, zero network with {@code groups} blocks per layer; every target's features must divide by it. */
    public static EhNetwork create(UNet2DConditionModel unet, ClipTextModel te, int groups, boolean upOnly,
                                   NDManager manager) {
        if (groups < 1) throw new IllegalArgumentException("EH groups must be >= 1, got " + groups);
        List<Target> targets = Targets.training(unet, te, upOnly, true, UNET_PREFIX, TE_PREFIX);
        List<String> indivisible = new ArrayList<>();
        for (Target t : targets) {
            if (t.inFeatures() % groups != 0 || t.outFeatures() % groups != 0) {
                indivisible.add(t.path() + " (in " + t.inFeatures() + ", out " + t.outFeatures() + ")");
            }
        }
        if (!indivisible.isEmpty()) {
            StringBuilder sb = new StringBuilder("--eh_groups " + groups + " does not divide the features of every target layer:");
            appendList(sb, "layers", indivisible);
            throw new IllegalArgumentException(sb.toString());
        }
        List<EhModule> modules = new ArrayList<>();
        for (Target t : targets) {
            Shape shape = new Shape(t.outFeatures() / groups, t.inFeatures() / groups);
            modules.add(new EhModule(t, newParameter(manager, new float[Math.toIntExact(shape.size())], shape), groups, 1.0));
        }
        return new EhNetwork(modules);
    }

    /** Reads an EH file; each layer's group count follows from its shape, which must tile the layer's weight. */
    static EhNetwork fromFile(SafeTensors file, UNet2DConditionModel unet, ClipTextModel te, double multiplier,
                              NDManager manager) throws IOException {
        Map<String, Target> layers = Targets.all(unet, te, UNET_PREFIX, TE_PREFIX);
        List<String> problems = new ArrayList<>();
        Map<Target, Integer> groups = new LinkedHashMap<>();
        for (String key : file.names()) {
            Target t = key.endsWith(WEIGHT) ? layers.get(key.substring(0, key.length() - WEIGHT.length())) : null;
            if (t == null || !(t.layer() instanceof Linear)) {
                problems.add(key + " (names no Linear of the model)");
                continue;
            }
            long[] s = file.info(key).shape();
            int n = s.length == 2 && s[0] > 0 && s[1] > 0 ? (int) (t.inFeatures() / s[1]) : 0;
            if (n < 1 || s[1] * n != t.inFeatures() || s[0] * n != t.outFeatures()) {
                problems.add(key + " (shape " + new Shape(s) + " does not tile the weight [" + t.outFeatures() + ", "
                        + t.inFeatures() + "] block-diagonally)");
            } else {
                groups.put(t, n);
            }
        }
        if (!problems.isEmpty()) {
            StringBuilder sb = new StringBuilder("is not an EH network this model can load:");
            appendList(sb, "bad keys", problems);
            throw new TensorFileException(file.file(), sb.toString());
        }
        List<EhModule> modules = new ArrayList<>();
        for (Target t : layers.values()) {
            Integer n = groups.get(t);
            if (n == null) continue;
            modules.add(new EhModule(t, loadParameter(file, t.name() + WEIGHT, manager), n, multiplier));
        }
        return new EhNetwork(modules);
    }

    @Override
    List<EhModule> adapters() { return modules; }

    @Override
    public void save(Path file, Map<String, String> metadata, DType precision) throws IOException {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (EhModule m : modules) tensors.put(m.target.name() + WEIGHT, TensorData.fromNDArray(m.weight));
        KohyaFiles.write(file, tensors, metadata, precision);
    }

    @Override
    public void loadWeights(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            copyChecked(st, allParameters(), Set.of(), "this EH network (" + modules.size() + " modules)");
        }
    }
}
