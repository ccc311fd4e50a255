package sdtrainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import sdtrainer.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where a training sample came from, for SDXL's size conditioning: the image's size before it was resized and
 * cropped to the sample ({@code height} x {@code width} pixels) and the crop's top-left offset.
 */
public record SourceSize(int height, int width, int cropTop, int cropLeft) {
    /** Beside buckets.json: {@code {"stem": {"original_size": [h, w], "crop": [top, left]}, ...}}. */
    public static final String FILE = "sizes.json";

    /**
     * An image of {@code imageWidth} x {@code imageHeight} scaled to cover a {@code width} x {@code height} target
     * and centre-cropped, with the crop offset kohya's sd-scripts compute for it ({@code get_crop_ltrb}, "as
     * Stability AI's preprocessing"): the offset of the image fitted inside the target, floored.
     */
    public static SourceSize coverAndCenterCrop(int imageWidth, int imageHeight, int width, int height) {
        double targetRatio = (double) width / height, imageRatio = (double) imageWidth / imageHeight;
        double fittedWidth = width, fittedHeight = height;
        if (targetRatio > imageRatio) fittedWidth = height * imageRatio;
        else fittedHeight = width / imageRatio;
        return new SourceSize(imageHeight, imageWidth, (int) Math.floor((height - fittedHeight) / 2),
                (int) Math.floor((width - fittedWidth) / 2));
    }

    /** Writes {@link #FILE}'s layout atomically, stems in sorted order. */
    public static void write(Path file, Map<String, SourceSize> sizes) throws IOException {
        Map<String, Object> json = new TreeMap<>();
        sizes.forEach((stem, s) -> {
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("original_size", List.of(s.height(), s.width()));
            entry.put("crop", List.of(s.cropTop(), s.cropLeft()));
            json.put(stem, entry);
        });
        AtomicFiles.writeBytes(file, new ObjectMapper().writeValueAsBytes(json));
    }

    /**
     * A folder's {@link #FILE} by stem; empty when there is none (folders bucketed before it was written).
     *
     * @throws IOException naming the file when it is not that layout
     */
    public static Map<String, SourceSize> read(Path file) throws IOException {
        Map<String, SourceSize> out = new HashMap<>();
        if (!Files.exists(file)) return out;
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new IOException(file + ": expected an object of stem: {original_size, crop}");
        for (var it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode size = e.getValue().path("original_size"), crop = e.getValue().path("crop");
            if (!pair(size, 1) || !pair(crop, 0)) {
                throw new IOException(file + ": " + e.getKey() + " needs original_size [h, w] (positive integers) and crop [top, left] (integers >= 0)");
            }
            out.put(e.getKey(), new SourceSize(size.get(0).asInt(), size.get(1).asInt(), crop.get(0).asInt(), crop.get(1).asInt()));
        }
        return out;
    }

    private static boolean pair(JsonNode n, int min) {
        return n.isArray() && n.size() == 2 && n.get(0).isInt() && n.get(1).isInt() && n.get(0).asInt() >= min
                && n.get(1).asInt() >= min;
    }
}
