package sdtrainer.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.data.Images;

class SyntheticDatasetTest {
    private static final Map<String, Integer> RGB = Map.of("red", 0xdc1e1e, "green", 0x1eaa32, "blue", 0x1e3cdc,
            "yellow", 0xf0d214, "white", 0xffffff, "black", 0x000000, "grey", 0x808080);

    @TempDir
    Path dir;

    @Test
    void imagesShowTheColoursTheirCaptionsName() throws IOException {
        List<SyntheticDataset.Item> items = SyntheticDataset.write(dir, 32, 1);
        assertEquals(32, items.size());
        assertEquals(16, items.stream().map(i -> i.caption().split(" on ")[0]).distinct().count(), "4 shapes × 4 colours");
        Set<String> sizes = items.stream().map(i -> i.width() + "x" + i.height()).collect(Collectors.toSet());
        assertEquals(Set.of("96x96", "128x64", "64x128"), sizes);
        for (SyntheticDataset.Item item : items) {
            String caption = Files.readString(dir.resolve(item.stem() + ".caption"), StandardCharsets.UTF_8);
            assertEquals(item.caption(), caption);
            String[] words = caption.split(" "); // a <colour> <shape> on a <background> background
            BufferedImage img = Images.read(dir.resolve(item.stem() + ".png"));
            assertEquals(item.width(), img.getWidth());
            assertEquals(item.height(), img.getHeight());
            double shape = share(img, RGB.get(words[1])), background = share(img, RGB.get(words[5]));
            assertTrue(shape > 0.02, caption + ": " + shape + " of the pixels in the shape's colour");
            assertTrue(background > 0.2, caption + ": " + background + " of the pixels in the background colour");
        }
    }

    private static double share(BufferedImage img, int rgb) {
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) if ((img.getRGB(x, y) & 0xffffff) == rgb) n++;
        }
        return (double) n / (img.getWidth() * img.getHeight());
    }
}
