package sdtrainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import sdtrainer.io.JsonErrors;
import sdtrainer.io.Npy;
import sdtrainer.io.Npz;
import sdtrainer.io.TensorData;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The original's AspectDataset: {@code buckets.json} maps {@code "(W, H)"} to stems; each stem has a cached latent
 * {@code <stem>.npy} [C, H/f, W/f], a caption {@code <stem>.caption} (or, as kohya's tools leave it,
 * {@code <stem>.txt} when there is no {@code .caption}) and, with masks, {@code <stem>.npz} [H/f, W/f];
 * {@code sizes.json} ({@link SourceSize#FILE}), where bucketing wrote it, gives each sample's source size and crop.
 */
public final class AspectDataset implements TrainingData {
    private static final Pattern BUCKET = Pattern.compile("\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\)");

    private final Path dir;
    private final boolean useMask;
    private final Map<String, List<String>> buckets = new LinkedHashMap<>();
    private final Map<String, long[]> latentShapes = new LinkedHashMap<>();
    private final Map<String, SourceSize> sources;
    private final Map<String, String> problems = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();

    /**
     * Reads buckets.json and checks every sample's files and header shapes against its bucket
     * ({@code factor} = the VAE's downsampling, {@code channels} = its latent channels).
     */
    public AspectDataset(Path dir, boolean useMask, int factor, int channels) throws IOException {
        this.dir = dir;
        this.useMask = useMask;
        Path index = dir.resolve("buckets.json");
        if (!Files.isRegularFile(index)) throw new IOException(index + ": missing (run `preprocess bucketing` first)");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new IOException(index + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) throw new IOException(index + ": expected an object of \"(W, H)\": [stems]");
        for (var it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            Matcher m = BUCKET.matcher(e.getKey());
            if (!m.matches() || !e.getValue().isArray()) {
                throw new IOException(index + ": bucket key " + e.getKey() + " is not \"(W, H)\" with a list of stems");
            }
            int w = Integer.parseInt(m.group(1)), h = Integer.parseInt(m.group(2));
            if (w % factor != 0 || h % factor != 0) {
                throw new IOException(index + ": bucket " + e.getKey() + " is not divisible by the VAE factor " + factor);
            }
            long[] shape = {channels, h / factor, w / factor};
            List<String> stems = new ArrayList<>();
            for (JsonNode s : e.getValue()) {
                String stem = s.asText();
                stems.add(stem);
                latentShapes.put(stem, shape);
                check(stem, shape);
            }
            buckets.put(e.getKey(), stems);
        }
        if (latentShapes.isEmpty()) throw new IOException(index + ": lists no samples");
        sources = SourceSize.read(dir.resolve(SourceSize.FILE));
    }

    private void check(String stem, long[] shape) {
        if (stem.isEmpty() || stem.contains("/") || stem.contains("\\") || stem.equals("..") || stem.equals(".")) {
            problems.put(stem, dir.resolve("buckets.json") + ": stem '" + stem + "' would leave the dataset directory");
            return;
        }
        Path latent = dir.resolve(stem + ".npy");
        Path caption = captionOf(stem);
        try {
            if (!Files.isRegularFile(caption)) {
                throw new IOException(caption + ": missing caption (nor is there a " + stem + ".txt)");
            }
            if (Captions.check(caption).isEmpty()) {
                warnings.add(caption + ": empty caption; the sample trains without a prompt");
            }
            TensorData values = Npy.read(latent);
            long[] actual = values.shape();
            if (!Arrays.equals(actual, shape)) {
                throw new IOException(latent + ": latent shape " + Arrays.toString(actual) + " does not match its bucket "
                        + Arrays.toString(shape));
            }
            // integers would train as numbers of another scale, NaN would stop the run at its batch: both are input errors
            if (!values.dtype().isFloating()) {
                throw new IOException(latent + ": latents are " + values.dtype() + ", not floats (float16 or float32, as "
                        + "preprocess latent writes them)");
            }
            float[] v = values.toFloats();
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) throw new IOException(latent + ": latent value " + i + " is " + v[i]);
            }
            if (useMask) {
                Path mask = dir.resolve(stem + ".npz");
                long[] ms = firstArray(mask).shape();
                if (!Arrays.equals(ms, new long[] {shape[1], shape[2]})) {
                    throw new IOException(mask + ": mask shape " + Arrays.toString(ms) + " does not match the latent size "
                            + shape[1] + "x" + shape[2]);
                }
            }
        } catch (java.nio.file.NoSuchFileException e) {
            problems.put(stem, e.getFile() + ": missing");
        } catch (IOException e) {
            problems.put(stem, e.getMessage());
        }
    }

    /** {@code <stem>.caption}, or {@code <stem>.txt} when only that exists. */
    private Path captionOf(String stem) {
        Path caption = dir.resolve(stem + ".caption");
        Path txt = dir.resolve(stem + ".txt");
        return !Files.exists(caption) && Files.isRegularFile(txt) ? txt : caption;
    }

    private static TensorData firstArray(Path npz) throws IOException {
        Map<String, TensorData> arrays = Npz.read(npz);
        TensorData a = arrays.containsKey("arr_0") ? arrays.get("arr_0") : arrays.values().stream().findFirst().orElse(null);
        if (a == null) throw new IOException(npz + ": holds no array");
        return a;
    }

    @Override
    public List<List<String>> epoch(Random random, int minibatchSize) {
        List<List<String>> batches = new ArrayList<>();
        for (List<String> stems : buckets.values()) {
            List<String> shuffled = new ArrayList<>(stems);
            Collections.shuffle(shuffled, random);
            batches.addAll(TrainingData.chunk(shuffled, minibatchSize));
        }
        Collections.shuffle(batches, random);
        return batches;
    }

    @Override
    public Sample load(String stem) throws IOException {
        TensorData latent = Npy.read(dir.resolve(stem + ".npy"));
        String caption = Captions.read(captionOf(stem));
        float[] mask = useMask ? firstArray(dir.resolve(stem + ".npz")).toFloats() : null;
        return new Sample(stem, caption, latent.toFloats(), null, mask, latent.shape(), sources.get(stem));
    }

    @Override
    public List<String> problems() {
        return List.copyOf(problems.values());
    }

    @Override
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    @Override
    public int dropBad() {
        int n = problems.size();
        buckets.values().forEach(list -> list.removeIf(problems::containsKey));
        buckets.values().removeIf(List::isEmpty);
        problems.keySet().forEach(latentShapes::remove);
        problems.clear();
        return n;
    }

    @Override
    public long[] shape(String key) {
        return latentShapes.get(key).clone();
    }

    @Override
    public List<String> keys() {
        return buckets.values().stream().flatMap(List::stream).filter(k -> !problems.containsKey(k)).sorted().toList();
    }

    @Override
    public void exclude(java.util.Collection<String> keys) {
        buckets.values().forEach(list -> list.removeAll(keys));
        buckets.values().removeIf(List::isEmpty);
    }

    @Override
    public int size() {
        return buckets.values().stream().mapToInt(List::size).sum();
    }

    @Override
    public Map<List<Integer>, Integer> bucketCounts() {
        Map<List<Integer>, Integer> out = new LinkedHashMap<>();
        buckets.forEach((key, stems) -> {
            Matcher m = BUCKET.matcher(key);
            if (m.matches() && !stems.isEmpty()) {
                out.put(List.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))), stems.size());
            }
        });
        return out;
    }

    @Override
    public List<String> captions() {
        List<String> out = new ArrayList<>();
        for (List<String> stems : buckets.values()) {
            for (String s : stems) {
                try {
                    out.add(Captions.read(captionOf(s)));
                } catch (IOException e) {
                    // checked before training; a caption that vanished since only drops out of the statistics
                }
            }
        }
        return out;
    }
}
