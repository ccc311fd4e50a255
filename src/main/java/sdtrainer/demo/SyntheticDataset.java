package sdtrainer.demo;

import sdtrainer.data.Images;
import sdtrainer.io.AtomicFiles;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Shape;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * A captioned dataset drawn on the spot: one coloured shape on a plain background per image, with the caption
 * {@code "a red circle on a white background"} in {@code <stem>.caption}. Images come in three aspect ratios
 * (square, 2:1 wide, 1:2 tall), so aspect-ratio bucketing sorts them into more than one bucket.
 */
public final class SyntheticDataset {
    private SyntheticDataset() {}

    /** A shape's name in captions. */
    enum Kind { CIRCLE, SQUARE, TRIANGLE, STAR }

    private record Paint(String name, Color color) {}

    private static final List<Paint> COLOURS = List.of(new Paint("red", new Color(220, 30, 30)),
            new Paint("green", new Color(30, 170, 50)), new Paint("blue", new Color(30, 60, 220)),
            new Paint("yellow", new Color(240, 210, 20)));
    private static final List<Paint> BACKGROUNDS = List.of(new Paint("white", Color.WHITE),
            new Paint("black", Color.BLACK), new Paint("grey", new Color(128, 128, 128)));
    /** Width × height of the generated images, before bucketing scales them down. */
    private static final int[][] SIZES = {{96, 96}, {128, 64}, {64, 128}};

    /** One generated sample. */
    public record Item(String stem, String caption, int width, int height) {}

    /**
     * Writes {@code count} images {@code shape_000.png ...} with their captions into {@code dir}. Every
     * shape-colour pair appears before any repeats; the seed places and sizes the shapes.
     */
    public static List<Item> write(Path dir, int count, long seed) throws IOException {
        if (count < 1) throw new IllegalArgumentException("count must be at least 1, got " + count);
        Files.createDirectories(dir);
        Random random = new Random(seed);
        Kind[] kinds = Kind.values();
        List<Item> items = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Kind kind = kinds[i % kinds.length];
            Paint colour = COLOURS.get((i / kinds.length) % COLOURS.size());
            Paint background = BACKGROUNDS.get(i % BACKGROUNDS.size());
            int[] size = SIZES[(i / 2) % SIZES.length];
            String caption = "a " + colour.name() + " " + kind.name().toLowerCase(Locale.ROOT) + " on a "
                    + background.name() + " background";
            String stem = String.format(Locale.ROOT, "shape_%03d", i);
            Images.writePng(draw(kind, colour.color(), background.color(), size[0], size[1], random), dir.resolve(stem + ".png"));
            AtomicFiles.writeBytes(dir.resolve(stem + ".caption"), caption.getBytes(StandardCharsets.UTF_8));
            items.add(new Item(stem, caption, size[0], size[1]));
        }
        return items;
    }

    static BufferedImage draw(Kind kind, Color colour, Color background, int width, int height, Random random) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(background);
            g.fillRect(0, 0, width, height);
            double side = Math.min(width, height) * (0.55 + 0.3 * random.nextDouble());
            double x = (width - side) * random.nextDouble();
            double y = (height - side) * random.nextDouble();
            g.setColor(colour);
            g.fill(outline(kind, x, y, side));
        } finally {
            g.dispose();
        }
        return img;
    }

    /** The shape inscribed in the square at (x, y) with the given side. */
    private static Shape outline(Kind kind, double x, double y, double side) {
        return switch (kind) {
            case CIRCLE -> new Ellipse2D.Double(x, y, side, side);
            case SQUARE -> new Rectangle2D.Double(x + side * 0.1, y + side * 0.1, side * 0.8, side * 0.8);
            case TRIANGLE -> polygon(new double[] {x + side / 2, x + side, x}, new double[] {y, y + side, y + side});
            case STAR -> {
                double[] xs = new double[10], ys = new double[10];
                for (int k = 0; k < 10; k++) {
                    double r = (k % 2 == 0 ? 0.5 : 0.2) * side;
                    double angle = -Math.PI / 2 + k * Math.PI / 5;
                    xs[k] = x + side / 2 + r * Math.cos(angle);
                    ys[k] = y + side / 2 + r * Math.sin(angle);
                }
                yield polygon(xs, ys);
            }
        };
    }

    private static Shape polygon(double[] xs, double[] ys) {
        Path2D.Double p = new Path2D.Double();
        p.moveTo(xs[0], ys[0]);
        for (int i = 1; i < xs.length; i++) p.lineTo(xs[i], ys[i]);
        p.closePath();
        return p;
    }
}
