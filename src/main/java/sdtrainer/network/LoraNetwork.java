package sdtrainer.network;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.TensorData;
import sdtrainer.io.TensorFileException;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.nn.Conv2d;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A LoRA network in kohya-ss sd-scripts' format ({@code networks.lora}), which A1111, ComfyUI and diffusers load:
 * modules {@code lora_unet_<path>} / {@code lora_te_<path>} with tensors {@code .lora_down.weight},
 * {@code .lora_up.weight} and {@code .alpha}.
 */
public final class LoraNetwork extends AdapterNetwork {
    private static final Logger LOG = LoggerFactory.getLogger(LoraNetwork.class);

    public static final String UNET_PREFIX = "lora_unet";
    public static final String TE_PREFIX = "lora_te";
    /** kohya's {@code ss_network_module} for this format. */
    public static final String KOHYA_MODULE = "networks.lora";
    static final String DOWN = ".lora_down.weight";
    static final String UP = ".lora_up.weight";
    static final String ALPHA = ".alpha";

    private final List<LoraModule> modules;

    private LoraNetwork(List<LoraModule> modules) {
        this.modules = List.copyOf(modules);
    }

    /**
     * A fresh network for training: down ~ Kaiming-uniform (a = sqrt 5, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)))
     * drawn from {@code seed}, up = 0, so the model computes exactly as before until the first update.
     *
     * @param te    the text encoder to adapt too, or null for the UNet only
     * @param alpha kohya's network_alpha; 0 means alpha = rank (scale 1)
     */
    public static LoraNetwork create(UNet2DConditionModel unet, ClipTextModel te, int rank, double alpha,
                                     boolean upOnly, NDManager manager, long seed) {
        return create(unet, te, rank, alpha, 0, 0, upOnly, manager, seed);
    }

    /**
     * As above, with LoCon when {@code convRank} > 0: kohya's {@code conv_dim} / {@code conv_alpha} for the 3x3 convs
     * of ResnetBlock2D, Downsample2D and Upsample2D, whose Linear and 1x1 convs take {@code rank} and {@code alpha}.
     */
    public static LoraNetwork create(UNet2DConditionModel unet, ClipTextModel te, int rank, double alpha, int convRank,
                                     double convAlpha, boolean upOnly, NDManager manager, long seed) {
        return create(Targets.training(unet, te, upOnly, false, convRank > 0, UNET_PREFIX, TE_PREFIX), rank, alpha,
                convRank, convAlpha, manager, seed);
    }

    /** As above, over the given targets (their names are the file's module names), without LoCon. */
    static LoraNetwork create(List<Target> targets, int rank, double alpha, NDManager manager, long seed) {
        return create(targets, rank, alpha, 0, 0, manager, seed);
    }

    /** As above, over the given targets, their 3x3 convs at {@code convRank} / {@code convAlpha}. */
    static LoraNetwork create(List<Target> targets, int rank, double alpha, int convRank, double convAlpha,
                              NDManager manager, long seed) {
        if (rank < 1) throw new IllegalArgumentException("LoRA rank must be >= 1, got " + rank);
        if (convRank < 0) throw new IllegalArgumentException("LoCon conv rank must be >= 0, got " + convRank);
        for (double x : new double[] {alpha, convAlpha}) {
            if (!(x >= 0) || Double.isInfinite(x)) throw new IllegalArgumentException("LoRA alpha must be finite and >= 0, got " + x);
        }
        Random random = new Random(seed);
        List<LoraModule> modules = new ArrayList<>();
        for (Target t : targets) {
            int k = t.layer() instanceof Conv2d c ? c.kernel : 1;
            int r = k > 1 ? convRank : rank;
            double givenAlpha = k > 1 ? convAlpha : alpha;
            float a = givenAlpha == 0 ? r : (float) givenAlpha;
            Shape downShape = t.isConv() ? new Shape(r, t.inFeatures(), k, k) : new Shape(r, t.inFeatures());
            Shape upShape = t.isConv() ? new Shape(t.outFeatures(), r, 1, 1) : new Shape(t.outFeatures(), r);
            double bound = 1 / Math.sqrt((double) t.inFeatures() * k * k);
            float[] down = new float[Math.toIntExact(downShape.size())];
            for (int i = 0; i < down.length; i++) down[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
            modules.add(new LoraModule(t, newParameter(manager, down, downShape),
                    newParameter(manager, new float[Math.toIntExact(upShape.size())], upShape), a, 1.0));
        }
        return new LoraNetwork(modules);
    }

    /**
     * Reads a kohya-format LoRA file for any Linear or Conv2d of the models. Modules without an alpha tensor
     * (or with alpha 0) use alpha = rank, as kohya does. Keys naming no layer, unsupported tensor kinds
     * (LoHa, DoRA, ...) and shapes that do not fit their layer are reported together.
     */
    static LoraNetwork fromFile(SafeTensors file, UNet2DConditionModel unet, ClipTextModel te, double multiplier,
                                NDManager manager) throws IOException {
        return fromFile(file, Targets.all(unet, te, UNET_PREFIX, TE_PREFIX), multiplier, manager);
    }

    /** As above, for the layers a file may name, keyed by module name. */
    static LoraNetwork fromFile(SafeTensors file, Map<String, Target> layers, double multiplier, NDManager manager)
            throws IOException {
        Set<String> names = new TreeSet<>();
        List<String> unsupported = new ArrayList<>();
        for (String key : file.names()) {
            String name = moduleName(key);
            if (name == null) unsupported.add(key);
            else names.add(name);
        }
        List<String> unknown = new ArrayList<>();
        List<String> bad = new ArrayList<>();
        for (String name : names) {
            Target t = layers.get(name);
            if (t == null) {
                unknown.add(name);
                continue;
            }
            SafeTensors.TensorInfo down = file.info(name + DOWN), up = file.info(name + UP);
            if (down == null || up == null) {
                bad.add(name + " (needs both " + DOWN.substring(1) + " and " + UP.substring(1) + ")");
                continue;
            }
            String defect = shapeDefect(t, down.shape(), up.shape());
            if (defect != null) bad.add(name + ": " + defect);
        }
        if (!unsupported.isEmpty() || !unknown.isEmpty() || !bad.isEmpty()) {
            StringBuilder sb = new StringBuilder("is not a LoRA this model can load:");
            appendList(sb, "keys of unsupported kind", unsupported);
            appendList(sb, "modules naming no Linear/Conv2d of the model", unknown);
            appendList(sb, "modules with bad or missing tensors", bad);
            throw new TensorFileException(file.file(), sb.toString());
        }
        List<LoraModule> modules = new ArrayList<>();
        for (Target t : layers.values()) {
            if (!names.contains(t.name())) continue;
            NDArray down = loadParameter(file, t.name() + DOWN, manager);
            NDArray up = loadParameter(file, t.name() + UP, manager);
            float rank = down.getShape().get(0);
            modules.add(new LoraModule(t, down, up, alphaOf(file, t.name(), rank), multiplier));
        }
        return new LoraNetwork(modules);
    }

    /** The module name of a LoRA file key, or null when the key is no down/up/alpha tensor. */
    private static String moduleName(String key) {
        for (String suffix : new String[] {DOWN, UP, ALPHA}) {
            if (key.endsWith(suffix)) return key.substring(0, key.length() - suffix.length());
        }
        return null;
    }

    /** Why down [r, in(, k, k)] and up [out, r(, 1, 1)] do not fit the layer, or null when they do. */
    private static String shapeDefect(Target t, long[] down, long[] up) {
        Shape w = t.weight().shape();
        long[] wantDown = w.getShape().clone();
        String found = "down " + new Shape(down) + ", up " + new Shape(up);
        if (down.length != wantDown.length || up.length != wantDown.length) return found + " for weight " + w;
        long rank = down[0];
        wantDown[0] = rank;
        long[] wantUp = t.isConv() ? new long[] {w.get(0), rank, 1, 1} : new long[] {w.get(0), rank};
        if (rank < 1 || !new Shape(down).equals(new Shape(wantDown)) || !new Shape(up).equals(new Shape(wantUp))) {
            return found + " for weight " + w;
        }
        return null;
    }

    private static float alphaOf(SafeTensors file, String name, float rank) throws IOException {
        if (file.info(name + ALPHA) == null) return rank;
        float[] a = file.readFloats(name + ALPHA);
        if (a.length != 1) throw new TensorFileException(file.file(), "'" + name + ALPHA + "' is not a single value");
        return a[0] == 0 ? rank : a[0];
    }

    @Override
    List<LoraModule> adapters() { return modules; }

    /** The names of the modules, text encoder first. */
    public List<String> moduleNames() {
        return modules.stream().map(m -> m.target.name()).toList();
    }

    @Override
    public void save(Path file, Map<String, String> metadata, DType precision) throws IOException {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (LoraModule m : modules) {
            tensors.put(m.target.name() + DOWN, TensorData.fromNDArray(m.down));
            tensors.put(m.target.name() + UP, TensorData.fromNDArray(m.up));
            tensors.put(m.target.name() + ALPHA, TensorData.ofFloats(new long[0], new float[] {m.alpha}));
        }
        KohyaFiles.write(file, tensors, metadata, precision);
    }

    /** Resumes from a file with exactly this network's modules and ranks; the file's alphas are adopted. */
    @Override
    public void loadWeights(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            Set<String> alphas = new TreeSet<>();
            modules.forEach(m -> alphas.add(m.target.name() + ALPHA));
            copyChecked(st, allParameters(), alphas, "this LoRA network (" + modules.size() + " modules)");
            Map<Float, Integer> changed = new TreeMap<>();
            for (LoraModule m : modules) {
                float a = alphaOf(st, m.target.name(), m.rank);
                if (a != m.alpha) changed.merge(a, 1, Integer::sum);
                m.alpha = a;
            }
            if (!changed.isEmpty()) {
                LOG.warn("{}: alpha taken from the file for {} modules ({}), not the configured value",
                        file, changed.values().stream().mapToInt(Integer::intValue).sum(), changed.keySet());
            }
        }
    }
}
