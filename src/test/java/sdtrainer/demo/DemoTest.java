package sdtrainer.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.SafeTensors;
import sdtrainer.log.EventFileReader;

/** The whole demo, short: it needs nothing outside the project (no fixtures), as for someone who cloned it alone. */
class DemoTest {
    @TempDir
    Path dir;

    @Test
    void aShortDemoWritesEveryResultAndSaysWhereItIs() throws IOException, InterruptedException {
        Path out = dir.resolve("demo");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Engine.getEngine("PyTorch");
        int threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1); // as `sd-trainer demo` does: two threads ran ten times slower on a busy machine
        Demo.Result r;
        try {
            r = Demo.run(out, 9, Device.cpu(), new PrintStream(bytes, true, StandardCharsets.UTF_8));
        } finally {
            JniUtils.setNumThreads(threads);
        }
        String console = bytes.toString(StandardCharsets.UTF_8);

        assertEquals(9, r.summary().steps(), "32 images in 3 buckets make 9 batches of up to 4: one epoch");
        try (SafeTensors lora = SafeTensors.open(r.lora())) {
            assertTrue(lora.names().stream().anyMatch(n -> n.startsWith("lora_unet_") && n.endsWith(".lora_down.weight")),
                    lora.names().toString());
            assertTrue(lora.names().stream().anyMatch(n -> n.endsWith(".alpha")));
            assertEquals("4", lora.metadata().get("ss_network_dim"));
        }
        try (Stream<Path> samples = Files.list(r.samples())) {
            assertTrue(samples.anyMatch(p -> p.getFileName().toString().matches("image_log_epoch_001_\\d\\.png")));
        }
        List<String> rows = Files.readAllLines(r.metrics());
        assertEquals(9, rows.size());
        try (Stream<Path> logs = Files.list(r.tensorboard())) {
            Path events = logs.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).findFirst().orElseThrow();
            assertTrue(EventFileReader.read(events).stream().flatMap(e -> e.values().stream())
                    .anyMatch(v -> v.tag().equals("loss")));
        }
        String report = Files.readString(r.report());
        assertTrue(report.contains("<svg") && report.contains("data:image/"), "report has the loss chart and the samples");
        try (Stream<Path> buckets = Files.list(r.dataset())) {
            assertEquals(32, buckets.filter(p -> p.toString().endsWith(".npy")).count());
        }
        for (Path p : List.of(r.lora(), r.samples(), r.metrics(), r.report(), r.tensorboard())) {
            assertTrue(console.contains(p.toString()), "console names " + p + ":\n" + console);
        }
        assertTrue(console.contains("tensorboard --logdir " + r.tensorboard()), console);

        IOException again = assertThrows(IOException.class, () -> Demo.run(out, 9, Device.cpu(), System.out));
        assertTrue(again.getMessage().contains(out + ": is not empty"), again.getMessage());
    }
}
