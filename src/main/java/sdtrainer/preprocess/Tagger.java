package sdtrainer.preprocess;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.opencv.core.CvType;
import org.opencv.core.Mat;
import org.opencv.core.Size;
import org.opencv.imgproc.Imgproc;
import sdtrainer.data.Images;
import sdtrainer.data.OpenCvNatives;
import sdtrainer.io.AtomicFiles;

/**
 * The WD14 tagger (SmilingWolf's {@code wd-v1-4-*-tagger} in its ONNX form: {@code model.onnx} +
 * {@code selected_tags.csv}) run through ONNX Runtime, as the original {@code preprocess/tagger.py}.
 * Images are prepared as kohya's {@code tag_images_by_wd14_tagger.py} does: composited on white,
 * padded to a square with white, resized to the model's side (area averaging when shrinking, Lanczos
 * when enlarging), BGR float 0..255, NHWC. Every non-rating tag above the threshold is kept, most
 * probable first; the rating (category 9 rows) is reported separately.
 */
public final class Tagger implements AutoCloseable {
    public static final String MODEL_FILE = "model.onnx";
    public static final String TAGS_FILE = "selected_tags.csv";
    /** The side WD14 taggers are trained at; used when the model does not fix its input size. */
    public static final int DEFAULT_IMAGE_SIZE = 448;
    static final int RATING_CATEGORY = 9;
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        OpenCvNatives.load();
    }

    private final OrtSession session;
    private final String inputName;
    private final String outputName;
    private final int imageSize;
    private final List<Label> labels;

    /** Where the tags go: a {@code tagger} field in the image's metadata, or a caption file. */
    public enum Format { METADATA, CAPTION }

    /** One row of {@code selected_tags.csv}. */
    public record Label(String name, int category) {
        boolean isRating() {
            return category == RATING_CATEGORY;
        }
    }

    public record Tag(String name, float probability) {}

    /** The tags above the threshold, most probable first, and the most probable rating. */
    public record Prediction(List<Tag> tags, Tag rating) {}

    /**
     * @param threshold a tag is kept when its probability is above this
     * @param captionExtension the caption file's extension in {@link Format#CAPTION} ({@code .txt}, {@code .caption})
     */
    public record Options(float threshold, int batchSize, Format format, String captionExtension) {
        public Options {
            if (!(threshold >= 0 && threshold < 1)) {
                throw new IllegalArgumentException("threshold must be in [0, 1), got " + threshold);
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch_size must be at least 1, got " + batchSize);
            }
            if (!captionExtension.startsWith(".") || captionExtension.length() < 2 || captionExtension.contains("/")) {
                throw new IllegalArgumentException("caption extension must look like .txt, got '" + captionExtension + "'");
            }
        }
    }

    /** How many images got each rating (in the CSV's order) and the run's totals. */
    public record Result(Map<String, Integer> ratings, Progress.Summary summary) {}

    private Tagger(OrtSession session, String inputName, String outputName, int imageSize, List<Label> labels) {
        this.session = session;
        this.inputName = inputName;
        this.outputName = outputName;
        this.imageSize = imageSize;
        this.labels = labels;
    }

    /**
     * Opens {@code model.onnx} and {@code selected_tags.csv} of a tagger folder. The input and output names
     * and the input side are read from the model.
     *
     * @param imageSize the side to feed a model whose input side is not fixed; null for the model's own side
     *     (or {@link #DEFAULT_IMAGE_SIZE}). A fixed side that differs from it is an error.
     * @throws IOException naming the file and the defect when the model or the tag list does not fit
     */
    public static Tagger load(Path modelDir, Integer imageSize) throws IOException {
        Path modelFile = modelDir.resolve(MODEL_FILE);
        Path tagsFile = modelDir.resolve(TAGS_FILE);
        for (Path file : List.of(modelFile, tagsFile)) {
            if (!Files.isRegularFile(file)) {
                throw new IOException(file + ": missing (a WD14 tagger folder holds " + MODEL_FILE + " and " + TAGS_FILE + ")");
            }
        }
        List<Label> labels = readLabels(tagsFile);
        OrtSession session;
        try {
            session = OrtEnvironment.getEnvironment().createSession(modelFile.toString(), new OrtSession.SessionOptions());
        } catch (OrtException e) {
            throw new IOException(modelFile + ": ONNX Runtime cannot load it: " + e.getMessage(), e);
        }
        try {
            NodeInfo input = single(session.getInputInfo(), modelFile, "input");
            NodeInfo output = single(session.getOutputInfo(), modelFile, "output");
            long[] in = tensorShape(input, modelFile);
            long[] out = tensorShape(output, modelFile);
            if (in.length != 4 || in[3] != 3) {
                throw new IOException(modelFile + ": input " + input.getName() + " has shape " + Arrays.toString(in)
                        + ", expected [batch, side, side, 3] (NHWC)");
            }
            if (in[1] > 0 && in[2] > 0 && in[1] != in[2]) {
                throw new IOException(modelFile + ": input " + input.getName() + " is not square: " + Arrays.toString(in));
            }
            if (out.length != 2 || (out[1] > 0 && out[1] != labels.size())) {
                throw new IOException(modelFile + ": output " + output.getName() + " has shape " + Arrays.toString(out)
                        + ", but " + tagsFile.getFileName() + " lists " + labels.size() + " tags");
            }
            int side = sideOf(in, imageSize, modelFile);
            return new Tagger(session, input.getName(), output.getName(), side, labels);
        } catch (OrtException | IOException e) {
            closeQuietly(session, e);
            throw e instanceof IOException io ? io : new IOException(modelFile + ": " + e.getMessage(), e);
        }
    }

    private static NodeInfo single(Map<String, NodeInfo> nodes, Path modelFile, String what) throws IOException {
        if (nodes.size() != 1) {
            throw new IOException(modelFile + ": expected one " + what + ", the model has " + nodes.keySet());
        }
        return nodes.values().iterator().next();
    }

    private static long[] tensorShape(NodeInfo node, Path modelFile) throws IOException {
        if (!(node.getInfo() instanceof TensorInfo info) || info.type != OnnxJavaType.FLOAT) {
            throw new IOException(modelFile + ": " + node.getName() + " is not a float tensor: " + node.getInfo());
        }
        return info.getShape();
    }

    private static int sideOf(long[] inputShape, Integer requested, Path modelFile) throws IOException {
        long fixed = Math.max(inputShape[1], inputShape[2]);
        if (fixed > 0) {
            if (requested != null && requested != fixed) {
                throw new IOException(modelFile + ": takes " + fixed + "x" + fixed + " images, not the requested "
                        + requested);
            }
            return Math.toIntExact(fixed);
        }
        int side = requested == null ? DEFAULT_IMAGE_SIZE : requested;
        if (side < 1) {
            throw new IOException("image size must be positive, got " + side);
        }
        return side;
    }

    private static void closeQuietly(OrtSession session, Exception primary) {
        try {
            session.close();
        } catch (OrtException e) {
            primary.addSuppressed(e);
        }
    }

    /** Reads {@code selected_tags.csv}: a header naming at least {@code name} and {@code category}, one row per output. */
    static List<Label> readLabels(Path csv) throws IOException {
        List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
            throw new IOException(csv + ": empty (expected a header tag_id,name,category,count)");
        }
        List<String> header = csvFields(lines.get(0), csv, 1);
        int nameColumn = header.indexOf("name");
        int categoryColumn = header.indexOf("category");
        if (nameColumn < 0 || categoryColumn < 0) {
            throw new IOException(csv + ": header " + header + " lacks the name and category columns");
        }
        List<Label> labels = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            List<String> row = csvFields(lines.get(i), csv, i + 1);
            if (row.size() <= Math.max(nameColumn, categoryColumn)) {
                throw new IOException(csv + ": line " + (i + 1) + " has " + row.size() + " fields, expected " + header.size());
            }
            try {
                labels.add(new Label(row.get(nameColumn), Integer.parseInt(row.get(categoryColumn).strip())));
            } catch (NumberFormatException e) {
                throw new IOException(csv + ": line " + (i + 1) + ": category '" + row.get(categoryColumn) + "' is not a number");
            }
        }
        if (labels.isEmpty()) {
            throw new IOException(csv + ": lists no tags");
        }
        return List.copyOf(labels);
    }

    /** Splits one CSV line; fields may be double-quoted with {@code ""} for a quote. */
    private static List<String> csvFields(String line, Path csv, int lineNumber) throws IOException {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char c = line.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        if (quoted) {
            throw new IOException(csv + ": line " + lineNumber + " has an unterminated quote");
        }
        fields.add(field.toString());
        return fields;
    }

    /** The side of the square images the model is fed. */
    public int imageSize() {
        return imageSize;
    }

    public List<Label> labels() {
        return labels;
    }

    /**
     * The model input of one image, {@code [side, side, 3]} BGR floats 0..255: padded to a square with white
     * (the image centred, odd padding on the right/bottom), then area-averaged down or Lanczos-scaled up.
     */
    public float[] preprocess(BufferedImage image) {
        int w = image.getWidth();
        int h = image.getHeight();
        int side = Math.max(w, h);
        BufferedImage square = new BufferedImage(side, side, BufferedImage.TYPE_INT_RGB);
        int[] white = new int[side];
        Arrays.fill(white, 0xffffff);
        for (int y = 0; y < side; y++) {
            square.getRaster().setDataElements(0, y, side, 1, white);
        }
        int[] row = new int[w];
        int left = (side - w) / 2;
        int top = (side - h) / 2;
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                row[x] &= 0xffffff;
            }
            square.getRaster().setDataElements(left, top + y, w, 1, row);
        }
        if (side < imageSize) {
            return bgrFloats(bgrBytes(Images.resize(square, imageSize, imageSize)));
        }
        byte[] bgr = bgrBytes(square);
        if (side > imageSize) {
            bgr = areaResize(bgr, side, imageSize);
        }
        return bgrFloats(bgr);
    }

    private static byte[] bgrBytes(BufferedImage rgb) {
        int w = rgb.getWidth();
        int h = rgb.getHeight();
        byte[] out = new byte[w * h * 3];
        int[] row = new int[w];
        for (int y = 0, i = 0; y < h; y++) {
            rgb.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++, i += 3) {
                int p = row[x];
                out[i] = (byte) p;
                out[i + 1] = (byte) (p >> 8);
                out[i + 2] = (byte) (p >> 16);
            }
        }
        return out;
    }

    /** OpenCV's INTER_AREA from a {@code from × from} to a {@code to × to} 3-channel image, as kohya shrinks. */
    private static byte[] areaResize(byte[] bgr, int from, int to) {
        Mat src = new Mat(from, from, CvType.CV_8UC3);
        Mat dst = new Mat();
        try {
            src.put(0, 0, bgr);
            Imgproc.resize(src, dst, new Size(to, to), 0, 0, Imgproc.INTER_AREA);
            byte[] out = new byte[to * to * 3];
            dst.get(0, 0, out);
            return out;
        } finally {
            src.release();
            dst.release();
        }
    }

    private static float[] bgrFloats(byte[] bgr) {
        float[] out = new float[bgr.length];
        for (int i = 0; i < bgr.length; i++) {
            out[i] = bgr[i] & 0xff;
        }
        return out;
    }

    /**
     * Runs the model on a batch of preprocessed images.
     *
     * @return one row of probabilities per image, in the order of {@link #labels()}
     */
    public float[][] probabilities(List<float[]> inputs) throws IOException {
        int per = imageSize * imageSize * 3;
        FloatBuffer buffer = ByteBuffer.allocateDirect(inputs.size() * per * Float.BYTES)
                .order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (float[] input : inputs) {
            if (input.length != per) {
                throw new IllegalArgumentException("input has " + input.length + " values, expected " + per);
            }
            buffer.put(input);
        }
        buffer.rewind();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OnnxTensor tensor = OnnxTensor.createTensor(env, buffer, new long[] {inputs.size(), imageSize, imageSize, 3});
             OrtSession.Result result = session.run(Map.of(inputName, tensor))) {
            Optional<OnnxValue> value = result.get(outputName);
            if (value.isEmpty() || !(value.get().getValue() instanceof float[][] probs)) {
                throw new IOException("the tagger model gave no float [batch, tags] output named " + outputName);
            }
            if (probs.length != inputs.size() || (probs.length > 0 && probs[0].length != labels.size())) {
                throw new IOException("the tagger model gave " + probs.length + "x" + (probs.length > 0 ? probs[0].length : 0)
                        + " probabilities for " + inputs.size() + " images and " + labels.size() + " tags");
            }
            return probs;
        } catch (OrtException e) {
            throw new IOException("the tagger model failed: " + e.getMessage(), e);
        }
    }

    /** The non-rating tags above {@code threshold}, most probable first (ties in CSV order), and the top rating. */
    public Prediction predict(float[] probabilities, float threshold) {
        List<Tag> tags = new ArrayList<>();
        Tag rating = null;
        for (int i = 0; i < labels.size(); i++) {
            Label label = labels.get(i);
            float p = probabilities[i];
            if (label.isRating()) {
                if (rating == null || p > rating.probability()) {
                    rating = new Tag(label.name(), p);
                }
            } else if (p > threshold) {
                tags.add(new Tag(label.name(), p));
            }
        }
        tags.sort(Comparator.comparingDouble((Tag t) -> t.probability()).reversed()); // stable: ties keep CSV order
        return new Prediction(List.copyOf(tags), rating);
    }

    /** Danbooru spelling, space-separated, as the original's {@code tagger} metadata field (read by {@code caption}). */
    public static String metadataText(List<Tag> tags) {
        return tags.stream().map(Tag::name).collect(Collectors.joining(" "));
    }

    /** Caption spelling, comma-separated: {@code long_hair} → {@code long hair}; emoticons such as {@code ^_^} stay. */
    public static String captionText(List<Tag> tags) {
        return tags.stream().map(t -> captionSpelling(t.name())).collect(Collectors.joining(", "));
    }

    /** Underscores become spaces, except in emoticon tags ({@code ^_^}, {@code o_o}, {@code (o)_(o)}): short or without a word. */
    static String captionSpelling(String tag) {
        boolean hasWord = false;
        for (int i = 1; i < tag.length(); i++) {
            if (Character.isLetter(tag.charAt(i - 1)) && Character.isLetter(tag.charAt(i))) {
                hasWord = true;
                break;
            }
        }
        return tag.length() > 3 && hasWord ? tag.replace('_', ' ') : tag;
    }

    @Override
    public void close() throws IOException {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IOException("closing the tagger model: " + e.getMessage(), e);
        }
    }

    private record Input(Path image, String stem, String problem) {}

    private record Prepared(Input input, float[] pixels) {}

    /**
     * Tags every image (jpg, jpeg, png, bmp, webp) of {@code directory}, writing into {@code outputDir}:
     * in {@link Format#METADATA} the image's metadata ({@code <stem>.json} or {@code <stem>.txt} beside it,
     * JSON or Python dict text) with a {@code tagger} field of space-separated tags and a {@code tagger_rating}
     * field, written as JSON under the same name ({@code <stem>.json} when there was none); in
     * {@link Format#CAPTION} {@code <stem><captionExtension>} with the comma-separated tags.
     */
    public static Result run(Path directory, Path outputDir, Tagger tagger, Options options, int threads,
            Progress progress) throws IOException, InterruptedException {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        List<Input> inputs = listInputs(directory);
        Files.createDirectories(outputDir);
        Map<String, Integer> ratings = new LinkedHashMap<>();
        tagger.labels().stream().filter(Label::isRating).forEach(l -> ratings.put(l.name(), 0));
        progress.start(inputs.size());

        List<List<Input>> batches = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i += options.batchSize()) {
            batches.add(inputs.subList(i, Math.min(inputs.size(), i + options.batchSize())));
        }
        ExecutorService workers = Executors.newFixedThreadPool(threads);
        try {
            // The next batch is decoded while the model runs on the current one.
            Iterator<List<Input>> pending = batches.iterator();
            List<Future<Prepared>> next = pending.hasNext() ? submit(workers, tagger, pending.next()) : List.of();
            while (!next.isEmpty()) {
                List<Future<Prepared>> current = next;
                next = pending.hasNext() ? submit(workers, tagger, pending.next()) : List.of();
                List<Prepared> batch = new ArrayList<>();
                for (Future<Prepared> f : current) {
                    Prepared p = progress.awaitOrReport(f);
                    if (p != null) {
                        batch.add(p);
                    }
                }
                if (!batch.isEmpty()) {
                    tagBatch(batch, tagger, options, outputDir, ratings, progress);
                }
            }
        } finally {
            workers.shutdownNow();
        }
        return new Result(Collections.unmodifiableMap(ratings), progress.finish());
    }

    private static List<Input> listInputs(Path directory) throws IOException {
        List<Path> files;
        try (Stream<Path> listing = Files.list(directory)) {
            files = listing.filter(Images::isImageFile).sorted().toList();
        }
        Map<String, Path> firstByStem = new HashMap<>();
        List<Input> inputs = new ArrayList<>(files.size());
        for (Path file : files) {
            String stem = Bucketing.stem(file);
            Path first = firstByStem.putIfAbsent(stem, file);
            inputs.add(new Input(file, stem, first == null ? null
                    : "has the same name as " + first.getFileName() + "; both would write the tags of " + stem));
        }
        return inputs;
    }

    private static List<Future<Prepared>> submit(ExecutorService pool, Tagger tagger, List<Input> batch) {
        List<Future<Prepared>> futures = new ArrayList<>(batch.size());
        for (Input input : batch) {
            futures.add(pool.submit(() -> {
                if (input.problem() != null) {
                    throw new IOException(input.image() + ": " + input.problem());
                }
                return new Prepared(input, tagger.preprocess(Images.read(input.image())));
            }));
        }
        return futures;
    }

    private static void tagBatch(List<Prepared> batch, Tagger tagger, Options options, Path outputDir,
            Map<String, Integer> ratings, Progress progress) {
        float[][] probs;
        try {
            probs = tagger.probabilities(batch.stream().map(Prepared::pixels).toList());
        } catch (IOException | RuntimeException e) {
            batch.forEach(p -> progress.failed(p.input().image() + ": " + e.getMessage()));
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            Input input = batch.get(i).input();
            Prediction prediction = tagger.predict(probs[i], options.threshold());
            try {
                if (options.format() == Format.CAPTION) {
                    AtomicFiles.writeString(outputDir.resolve(input.stem() + options.captionExtension()),
                            captionText(prediction.tags()));
                } else {
                    writeMetadata(input, prediction, outputDir);
                }
                if (prediction.rating() != null) {
                    ratings.merge(prediction.rating().name(), 1, Integer::sum);
                }
                progress.processed();
            } catch (IOException e) {
                progress.failed(e.getMessage());
            }
        }
    }

    private static void writeMetadata(Input input, Prediction prediction, Path outputDir) throws IOException {
        Path source = Caption.metadataFile(input.image());
        Map<Object, Object> meta = new LinkedHashMap<>();
        if (source != null) {
            try {
                meta.putAll(Caption.parseMetadata(Files.readString(source, StandardCharsets.UTF_8)));
            } catch (IllegalArgumentException e) {
                throw new IOException(source + ": " + e.getMessage(), e);
            }
        }
        meta.put("tagger", metadataText(prediction.tags()));
        if (prediction.rating() != null) {
            meta.put("tagger_rating", prediction.rating().name());
        }
        Path target = outputDir.resolve(source == null ? input.stem() + ".json" : source.getFileName().toString());
        AtomicFiles.writeBytes(target, JSON.writeValueAsBytes(meta));
    }
}
