package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.TrainingData;
import sdtrainer.nn.Module;
import sdtrainer.nn.NoGrad;
import sdtrainer.pipeline.DiffusionModel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

/**
 * Whether a saved state may be continued by this run: the same base model (names, shapes and a strided sample of
 * every weight), the same trained set (network type, rank, which parts) and the same dataset (its keys). Raising
 * --epochs is allowed; other changed options are reported as warnings.
 */
final class Resume {
    /** Options whose change is expected on resume, or reported separately (a resumed run keeps the state's seed). */
    private static final Set<String> QUIET = Set.of("resume", "epochs", "save_state", "save_state_every_n_steps",
            "threads", "device", "seed");
    private static final int SAMPLES_PER_TENSOR = 256;

    private Resume() {}

    /** The run's fingerprint, taken before any update and before --amp casts. */
    static TrainingState.Fingerprint fingerprint(DiffusionModel sd, Trainables trainables, TrainingData data,
                                                 HeldOut heldOut, TrainConfig cfg) {
        List<String> keys = new ArrayList<>();
        data.epoch(new Random(0), 1).forEach(keys::addAll);
        keys.sort(null);
        List<String> validation = heldOut == null ? List.of() : heldOut.keys().stream().sorted().toList();
        return new TrainingState.Fingerprint(modelHash(sd), trainedSpec(cfg, trainables), keys, validation);
    }

    /** What is trained: the network's kind and size, or the model's trained parts, and the tensor count. */
    static String trainedSpec(TrainConfig cfg, Trainables t) {
        String what = t.network() == null ? "full fine-tune" + (cfg.upOnly() ? " (up_blocks)" : "")
                : cfg.network() + " rank " + cfg.lora() + " alpha " + cfg.loraAlpha()
                + (cfg.network() == sdtrainer.config.NetworkType.EH ? " groups " + cfg.ehGroups() : "");
        List<String> groups = t.groups().stream().map(g -> g.name() + " " + g.params().size()).toList();
        return what + ", " + String.join(", ", groups) + " tensors";
    }

    static String modelHash(DiffusionModel sd) {
        MessageDigest d = sha256();
        try (NoGrad ignored = new NoGrad(); ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            List<Module> parts = new ArrayList<>(sd.textEncoders().values());
            parts.add(sd.unet());
            parts.add(sd.vae());
            for (Module part : parts) {
                for (Map.Entry<String, sdtrainer.nn.Parameter> e : part.namedParameters().entrySet()) {
                    NDArray p = e.getValue().get();
                    d.update((e.getKey() + p.getShape() + ";").getBytes(StandardCharsets.UTF_8));
                    long stride = Math.max(1, p.size() / SAMPLES_PER_TENSOR);
                    float[] v = p.flatten().get(new NDIndex("::" + stride)).toType(DataType.FLOAT32, false).toFloatArray();
                    ByteBuffer b = ByteBuffer.allocate(v.length * 4);
                    for (float x : v) b.putFloat(x);
                    d.update(b.array());
                }
            }
        }
        return HexFormat.of().formatHex(d.digest()).substring(0, 16);
    }

    /** Refuses a state this run cannot continue; returns the warnings for changed options. */
    static List<String> check(TrainingState.Loaded saved, TrainingState.Fingerprint now, TrainConfig cfg) throws IOException {
        TrainingState.Fingerprint was = saved.state().fingerprint();
        String where = saved.dir() + ": ";
        if (!was.model().equals(now.model())) {
            throw new TrainingState.StateMismatchException(where + "the state was trained from another model (weights "
                    + "hash " + was.model() + ", --model " + cfg.model().orElseThrow() + " has " + now.model() + ")");
        }
        if (!was.trained().equals(now.trained())) {
            throw new TrainingState.StateMismatchException(where + "the state trains " + was.trained()
                    + "; this run trains " + now.trained());
        }
        if (!was.dataset().equals(now.dataset())) {
            Set<String> added = new TreeSet<>(now.dataset());
            was.dataset().forEach(added::remove);
            Set<String> removed = new TreeSet<>(was.dataset());
            now.dataset().forEach(removed::remove);
            throw new TrainingState.StateMismatchException(where + "the dataset differs from the state's: "
                    + added.size() + " sample(s) added " + first(added) + ", " + removed.size() + " removed " + first(removed));
        }
        List<String> wasValidation = was.validation() == null ? List.of() : was.validation();
        if (!wasValidation.equals(now.validation())) {
            throw new TrainingState.StateMismatchException(where + "the held-out validation samples differ from the "
                    + "state's (" + wasValidation.size() + " there, " + now.validation().size() + " here); give the same "
                    + "--validation_split/--validation_dataset and --validation_seed");
        }
        return changedOptions(saved.configYaml(), cfg);
    }

    private static String first(Set<String> keys) {
        List<String> some = keys.stream().limit(5).toList();
        return keys.isEmpty() ? "" : some + (keys.size() > 5 ? "..." : "");
    }

    private static List<String> changedOptions(String savedYaml, TrainConfig cfg) throws IOException {
        ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
        Map<?, ?> was = yaml.readValue(savedYaml, Map.class);
        Map<?, ?> now = yaml.readValue(sdtrainer.config.ConfigLoader.toYaml(cfg), Map.class);
        Set<Object> keys = new TreeSet<>(java.util.Comparator.comparing(Object::toString));
        keys.addAll(was.keySet());
        keys.addAll(now.keySet());
        List<String> out = new ArrayList<>();
        for (Object k : keys) {
            if (QUIET.contains(k.toString()) || Objects.equals(was.get(k), now.get(k))) continue;
            out.add(k + ": " + was.get(k) + " in the state, " + now.get(k) + " now");
        }
        return out;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
