package sdtrainer.train;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.data.Images;
import sdtrainer.log.EventFileReader;
import sdtrainer.log.Report;
import sdtrainer.log.TensorBoardWriter;
import sdtrainer.pipeline.SamplePromptFile;
import sdtrainer.pipeline.StableDiffusion;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.*;

class SampleImagesTest {

    @Test
    void samplePointsBesideTheSaves(@TempDir Path dir) {
        SampleImages s = new SampleImages(List.of(), "a cat", OptionalInt.of(3), OptionalInt.of(2), true, "ddim", 2, dir);
        assertTrue(s.dueAtStart());
        assertFalse(s.dueAfterStep(2));
        assertTrue(s.dueAfterStep(3));
        assertTrue(s.dueAfterStep(6));
        assertFalse(s.dueAfterEpochs(1, 1, 5), "epoch 1 is not a multiple of 2");
        assertTrue(s.dueAfterEpochs(1, 2, 5), "a pass of epochs 1..2 ends at a multiple of 2");
        SampleImages none = new SampleImages(List.of(), null, OptionalInt.empty(), OptionalInt.empty(), false, "ddim", 2, dir);
        assertFalse(none.dueAtStart());
        assertFalse(none.dueAfterStep(5));
        assertFalse(none.dueAfterEpochs(1, 10, 5));
    }

    @Test
    void drawsEachPromptOfTheFileWithItsOwnSettings(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("prompts.txt"),
                "# two prompts\na red square --w 32 --h 16 --s 2 --ss euler_a --d 3\na blue circle --s 1 --l 1\n");
        Path images = Files.createDirectories(dir.resolve("images"));
        SampleImages s = new SampleImages(SamplePromptFile.read(file), null, OptionalInt.of(5), OptionalInt.empty(),
                false, "ddim", 2, images);
        Report.SavePoint point;
        Path events;
        try (NDManager m = NDManager.newBaseManager(); StableDiffusion sd = StableDiffusion.load(Fixtures.require("tiny-sd15"), m.getDevice());
             TensorBoardWriter tb = new TensorBoardWriter(dir.resolve("logs"))) {
            point = s.draw(sd, 1, 5, false, List.of("ignored caption"), 24, 24, tb);
            events = tb.file();
        }
        assertFalse(s.dueAfterStep(5), "drawn at this step already");
        assertEquals(List.of("a red square", "a blue circle"), point.prompts());
        assertEquals(List.of(images.resolve("image_log_step_000005_0.png"), images.resolve("image_log_step_000005_1.png")),
                point.images());
        BufferedImage first = Images.read(point.images().get(0));
        assertEquals(32, first.getWidth());
        assertEquals(16, first.getHeight());
        BufferedImage second = Images.read(point.images().get(1));
        assertEquals(24, second.getWidth(), "size from the run where the line names none");
        List<String> tags = EventFileReader.read(events).stream().flatMap(e -> e.values().stream())
                .filter(v -> v.image() != null).map(EventFileReader.SummaryValue::tag).toList();
        assertEquals(List.of("samples/0 (prompts.txt:2)", "samples/1 (prompts.txt:3)"), tags);
    }
}
