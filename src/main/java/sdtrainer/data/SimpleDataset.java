package sdtrainer.data;

import java.io.IOException;
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
 * Before training every caption is decoded and every image fully decoded, as the loop will decode them.
 */
public final class SimpleDataset implements TrainingData {
    private final int width, height;
    private final Map<String, Path> images = new LinkedHashMap<>();
    // every image by stem, also the excluded ones (a held-out share is loaded from here)
    private final Map<String, Path> everyImage = new LinkedHashMap<>();
    private final Map<String, String> problems = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();

    public SimpleDataset(Path dir, int width, int height) throws IOException {
        this.width = width;
        this.height = height;
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Images::isImageFile).sorted().toList();
        }
        if (files.isEmpty()) throw new IOException(dir + ": no images (jpg, jpeg, png, bmp, webp)");
        Map<String, Path> unique = new LinkedHashMap<>();
        for (Path f : files) {
            String stem = stem(f);
            if (unique.containsKey(stem)) problems.put(stem, f + ": another image has the same name stem " + stem);
            else unique.put(stem, f);
        }
        images.putAll(unique);
        everyImage.putAll(unique);
        // decoding is the slow part of the check: on all cores, reported in file order
        List<String> found = unique.values().parallelStream().map(this::defect).toList();
        int i = 0;
        for (String stem : unique.keySet()) {
            String defect = found.get(i++);
            if (defect != null) problems.putIfAbsent(stem, defect);
        }
    }

    /** What keeps the sample at {@code image} from training (or null), noting an empty caption as a warning. */
    private String defect(Path image) {
        try {
            if (Captions.check(captionOf(image)).isEmpty()) {
                synchronized (warnings) {
                    warnings.add(captionOf(image) + ": empty caption; the sample trains without a prompt");
                }
            }
            Images.verify(image);
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    private static String stem(Path file) {
        String name = file.getFileName().toString();
        return name.substring(0, name.lastIndexOf('.'));
    }

    private static Path captionOf(Path image) {
        return image.resolveSibling(stem(image) + ".txt");
    }

    @Override
    public List<List<String>> epoch(Random random, int minibatchSize) {
        List<String> keys = new ArrayList<>(images.keySet());
        Collections.shuffle(keys, random);
        return TrainingData.chunk(keys, minibatchSize);
    }

    @Override
    public Sample load(String key) throws IOException {
        Path file = everyImage.get(key);
        java.awt.image.BufferedImage image = Images.read(file);
        float[] chw = Images.toCHW(Images.coverAndCenterCrop(image, width, height));
        return new Sample(key, Captions.read(captionOf(file)), null, chw, null, new long[] {3, height, width},
                SourceSize.coverAndCenterCrop(image.getWidth(), image.getHeight(), width, height));
    }

    @Override
    public List<String> problems() {
        return List.copyOf(problems.values());
    }

    @Override
    public List<String> warnings() {
        synchronized (warnings) {
            return warnings.stream().sorted().toList();
        }
    }

    @Override
    public int dropBad() {
        int n = problems.size();
        problems.keySet().forEach(images::remove);
        problems.clear();
        return n;
    }

    @Override
    public long[] shape(String key) {
        return new long[] {3, height, width};
    }

    @Override
    public List<String> keys() {
        return images.keySet().stream().filter(k -> !problems.containsKey(k)).sorted().toList();
    }

    @Override
    public void exclude(java.util.Collection<String> keys) {
        images.keySet().removeAll(keys);
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
                out.add(Captions.read(captionOf(f)));
            } catch (IOException e) {
                // checked before training; a caption that vanished since only drops out of the statistics
            }
        }
        return out;
    }
}
