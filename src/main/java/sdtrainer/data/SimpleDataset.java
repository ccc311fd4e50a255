package sdtrainer.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * The original's SimpleDataset: every image in a folder with its caption in {@code <stem>.txt}, resized to one
 * resolution (cover, then centre crop), RGB in [-1, 1]; the VAE encodes it in the training loop.
 */
public final class SimpleDataset implements TrainingData {
    private final int width, height;
    private final Map<String, Path> images = new LinkedHashMap<>();
    private final Map<String, String> problems = new LinkedHashMap<>();

    public SimpleDataset(Path dir, int width, int height) throws IOException {
        this.width = width;
        this.height = height;
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Images::isImageFile).sorted().toList();
        }
        if (files.isEmpty()) throw new IOException(dir + ": no images (jpg, jpeg, png, bmp, webp)");
        for (Path f : files) {
            String name = f.getFileName().toString();
            String stem = name.substring(0, name.lastIndexOf('.'));
            if (images.containsKey(stem)) {
                problems.put(stem, f + ": another image has the same name stem " + stem);
                continue;
            }
            images.put(stem, f);
            try {
                if (!Files.isRegularFile(captionOf(f))) throw new IOException(captionOf(f) + ": missing caption");
                Images.readSize(f);
            } catch (IOException e) {
                problems.put(stem, e.getMessage());
            }
        }
    }

    private static Path captionOf(Path image) {
        String name = image.getFileName().toString();
        return image.resolveSibling(name.substring(0, name.lastIndexOf('.')) + ".txt");
    }

    @Override
    public List<List<String>> epoch(Random random, int minibatchSize) {
        List<String> keys = new ArrayList<>(images.keySet());
        Collections.shuffle(keys, random);
        return TrainingData.chunk(keys, minibatchSize);
    }

    @Override
    public Sample load(String key) throws IOException {
        Path file = images.get(key);
        float[] chw = Images.toCHW(Images.coverAndCenterCrop(Images.read(file), width, height));
        String caption = Files.readString(captionOf(file), StandardCharsets.UTF_8).strip();
        return new Sample(key, caption, null, chw, null, new long[] {3, height, width});
    }

    @Override
    public List<String> problems() {
        return List.copyOf(problems.values());
    }

    @Override
    public int dropBad() {
        int n = problems.size();
        problems.keySet().forEach(images::remove);
        problems.clear();
        return n;
    }

    @Override
    public int size() {
        return images.size();
    }

    @Override
    public List<String> captions() {
        List<String> out = new ArrayList<>();
        for (Path f : images.values()) {
            try {
                out.add(Files.readString(captionOf(f), StandardCharsets.UTF_8).strip());
            } catch (IOException e) {
                // checked before training; a caption that vanished since only drops out of the statistics
            }
        }
        return out;
    }
}
