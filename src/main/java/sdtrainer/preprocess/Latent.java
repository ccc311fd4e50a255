package sdtrainer.preprocess;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import sdtrainer.data.Images;
import sdtrainer.io.JsonErrors;
import sdtrainer.io.Npy;
import sdtrainer.io.TensorData;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;

/**
 * The latent cache, as the original {@code preprocess/latent.py}: every image of a bucketed folder is
 * encoded by the VAE, in batches of one bucket's images, and written as {@code <stem>.npy}, float32
 * {@code [C, H/f, W/f]} (f = the VAE's downsampling factor), unscaled (the trainer applies the scaling
 * factor). A folder without {@code buckets.json} is batched by image size. Stems whose latent already
 * exists with the right shape are skipped, so an interrupted run resumes.
 */
public final class Latent {
    private static final Pattern BUCKET_KEY = Pattern.compile("\\(\\s*(\\d+)\\s*,\\s*(\\d+)\\s*\\)");

    private Latent() {}

    /** What is stored: a posterior sample (the original) or the posterior mean. */
    public enum Mode { SAMPLE, MEAN }

    /**
     * @param batchSize images encoded together (all of one size)
     * @param start index of the first image to encode, in bucket order ({@code buckets.json}) or file-name order
     * @param end index past the last image, or null for all
     * @param seed seed of the posterior samples; each stem's noise depends only on the seed and the stem
     */
    public record Options(int batchSize, int start, Integer end, Mode mode, long seed) {
        public Options {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch_size must be at least 1, got " + batchSize);
            }
            if (start < 0 || (end != null && end < start)) {
                throw new IllegalArgumentException("need 0 <= start <= end, got start " + start + ", end " + end);
            }
        }
    }

    /** One image to encode, the size it must have, or why it cannot be encoded. */
    record Item(String stem, Path image, int width, int height, String problem) {
        static Item failed(String stem, Path image, String problem) {
            return new Item(stem, image, 0, 0, problem);
        }
    }

    private record Decoded(Item item, float[] chw) {}

    /**
     * Encodes the images of {@code directory} into {@code outputDir}.
     *
     * @param manager a manager on the VAE's device; each batch's arrays live in a sub-manager of it
     * @throws IOException when the folder cannot be listed, {@code buckets.json} is malformed or the output
     *     folder cannot be created
     */
    public static Progress.Summary run(Path directory, Path outputDir, AutoencoderKL vae, NDManager manager,
            Options options, int threads, Progress progress) throws IOException, InterruptedException {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        int factor = vae.config.downsamplingFactor();
        long channels = vae.config.latentChannels();
        List<Item> items = plan(directory);
        int end = options.end() == null ? items.size() : Math.min(options.end(), items.size());
        items = items.subList(Math.min(options.start(), end), end);
        Files.createDirectories(outputDir);
        progress.start(items.size());

        Map<String, List<Item>> bySize = new LinkedHashMap<>();
        for (Item item : items) {
            String problem = item.problem() != null ? item.problem() : sizeProblem(item, factor);
            if (problem != null) {
                progress.failed(item.image() + ": " + problem);
            } else if (done(latentFile(outputDir, item), latentShape(item, factor, channels))) {
                progress.skipped();
            } else {
                bySize.computeIfAbsent(item.width() + "x" + item.height(), k -> new ArrayList<>()).add(item);
            }
        }
        List<List<Item>> batches = new ArrayList<>();
        for (List<Item> sameSize : bySize.values()) {
            for (int i = 0; i < sameSize.size(); i += options.batchSize()) {
                batches.add(sameSize.subList(i, Math.min(sameSize.size(), i + options.batchSize())));
            }
        }

        ExecutorService decoders = Executors.newFixedThreadPool(threads);
        try {
            // The next batch is decoded while the VAE encodes the current one.
            Iterator<List<Item>> pending = batches.iterator();
            List<Future<Decoded>> next = pending.hasNext() ? submit(decoders, pending.next()) : List.of();
            while (!next.isEmpty()) {
                List<Future<Decoded>> current = next;
                next = pending.hasNext() ? submit(decoders, pending.next()) : List.of();
                List<Decoded> decoded = new ArrayList<>();
                for (Future<Decoded> f : current) {
                    Decoded d = progress.awaitOrReport(f);
                    if (d != null) {
                        decoded.add(d);
                    }
                }
                if (!decoded.isEmpty()) {
                    encodeAndWrite(decoded, vae, manager, options, outputDir, factor, progress);
                }
            }
        } finally {
            decoders.shutdownNow();
        }
        return progress.finish();
    }

    /**
     * The images to encode, in order: the stems of {@code buckets.json} bucket by bucket as {@code <stem>.png}
     * (what bucketing writes), else every image of the folder in file-name order with its header size.
     */
    static List<Item> plan(Path directory) throws IOException {
        Path index = directory.resolve(Bucketing.BUCKETS_FILE);
        return Files.isRegularFile(index) ? planBuckets(directory, index) : planFolder(directory);
    }

    private static List<Item> planBuckets(Path directory, Path index) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(index, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IOException(index + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new IOException(index + ": expected an object of \"(W, H)\": [stems]");
        }
        List<Item> items = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> bucket = it.next();
            Matcher m = BUCKET_KEY.matcher(bucket.getKey());
            if (!m.matches() || !bucket.getValue().isArray()) {
                throw new IOException(index + ": bucket key " + bucket.getKey() + " is not \"(W, H)\" with a list of stems");
            }
            int width = Integer.parseInt(m.group(1));
            int height = Integer.parseInt(m.group(2));
            for (JsonNode node : bucket.getValue()) {
                String stem = node.asText();
                if (stem.isEmpty() || stem.contains("/") || stem.contains("\\") || stem.equals("..") || stem.equals(".")) {
                    items.add(Item.failed(stem, index, "stem '" + stem + "' would leave the dataset directory"));
                } else {
                    items.add(new Item(stem, directory.resolve(stem + ".png"), width, height, null));
                }
            }
        }
        return items;
    }

    private static List<Item> planFolder(Path directory) throws IOException {
        List<Path> files;
        try (Stream<Path> listing = Files.list(directory)) {
            files = listing.filter(Images::isImageFile).sorted().toList();
        }
        Map<String, Path> firstByStem = new HashMap<>();
        List<Item> items = new ArrayList<>(files.size());
        for (Path file : files) {
            String stem = Bucketing.stem(file);
            Path first = firstByStem.putIfAbsent(stem, file);
            if (first != null) {
                items.add(Item.failed(stem, file, "has the same name as " + first.getFileName()
                        + "; both would be written to " + stem + ".npy"));
                continue;
            }
            try {
                Images.Size size = Images.readSize(file);
                items.add(new Item(stem, file, size.width(), size.height(), null));
            } catch (IOException e) {
                items.add(Item.failed(stem, file, e.getMessage()));
            }
        }
        return items;
    }

    private static String sizeProblem(Item item, int factor) {
        if (item.width() % factor != 0 || item.height() % factor != 0) {
            return "size " + item.width() + "x" + item.height() + " is not divisible by the VAE's downsampling factor "
                    + factor;
        }
        return null;
    }

    static Path latentFile(Path outputDir, Item item) {
        return outputDir.resolve(item.stem() + ".npy");
    }

    private static long[] latentShape(Item item, int factor, long channels) {
        return new long[] {channels, item.height() / factor, item.width() / factor};
    }

    /** Whether an earlier run left a complete latent of the expected shape. */
    private static boolean done(Path latent, long[] shape) {
        if (!Files.isRegularFile(latent)) {
            return false;
        }
        try {
            return Arrays.equals(Npy.read(latent).shape(), shape);
        } catch (IOException e) {
            return false; // unreadable: encode it again
        }
    }

    private static List<Future<Decoded>> submit(ExecutorService pool, List<Item> batch) {
        List<Future<Decoded>> futures = new ArrayList<>(batch.size());
        for (Item item : batch) {
            futures.add(pool.submit(() -> decode(item)));
        }
        return futures;
    }

    private static Decoded decode(Item item) throws IOException {
        if (!Files.isRegularFile(item.image())) {
            throw new IOException(item.image() + ": missing (listed in " + Bucketing.BUCKETS_FILE + ")");
        }
        BufferedImage image = Images.read(item.image());
        if (image.getWidth() != item.width() || image.getHeight() != item.height()) {
            throw new IOException(item.image() + ": is " + image.getWidth() + "x" + image.getHeight()
                    + ", expected " + item.width() + "x" + item.height() + " (re-run bucketing)");
        }
        return new Decoded(item, Images.toCHW(image));
    }

    private static void encodeAndWrite(List<Decoded> batch, AutoencoderKL vae, NDManager manager, Options options,
            Path outputDir, int factor, Progress progress) {
        Item first = batch.get(0).item();
        int b = batch.size();
        int plane = 3 * first.width() * first.height();
        float[] pixels = new float[b * plane];
        for (int i = 0; i < b; i++) {
            System.arraycopy(batch.get(i).chw(), 0, pixels, i * plane, plane);
        }
        long[] shape = latentShape(first, factor, vae.config.latentChannels());
        float[] latents;
        try (NDManager scope = manager.newSubManager(); NoGrad ignored = new NoGrad()) {
            NDArray images = scope.create(pixels, new Shape(b, 3, first.height(), first.width()));
            AutoencoderKL.Posterior posterior = vae.encode(images);
            NDArray out = options.mode() == Mode.MEAN ? posterior.mean() : posterior.sample(noise(batch, shape, options.seed(), scope));
            latents = out.toFloatArray();
        } catch (RuntimeException e) {
            for (Decoded d : batch) {
                progress.failed(d.item().image() + ": VAE encoding failed: " + e.getMessage());
            }
            return;
        }
        int size = latents.length / b;
        for (int i = 0; i < b; i++) {
            Item item = batch.get(i).item();
            float[] latent = Arrays.copyOfRange(latents, i * size, (i + 1) * size);
            try {
                if (!allFinite(latent)) {
                    throw new IOException(item.image() + ": the VAE produced NaN or infinite values");
                }
                Npy.write(latentFile(outputDir, item), TensorData.ofFloats(shape, latent));
                progress.processed();
            } catch (IOException e) {
                progress.failed(e.getMessage());
            }
        }
    }

    /** Standard-normal noise per stem, so a latent does not depend on its batch or on a resumed run. */
    private static NDArray noise(List<Decoded> batch, long[] shape, long seed, NDManager scope) {
        NDList perStem = new NDList(batch.size());
        for (Decoded d : batch) {
            Noise noise = new Noise(seed ^ stemHash(d.item().stem()));
            perStem.add(noise.gaussian(scope, new Shape(shape), scope.getDevice()));
        }
        return NDArrays.stack(perStem);
    }

    /** 64-bit FNV-1a of the stem's UTF-8 bytes. */
    static long stemHash(String stem) {
        long h = 0xcbf29ce484222325L;
        for (byte c : stem.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (c & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    private static boolean allFinite(float[] values) {
        for (float v : values) {
            if (!Float.isFinite(v)) {
                return false;
            }
        }
        return true;
    }
}
