package sdtrainer.cli;

import sdtrainer.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The sample, inspect and bench subcommands end to end on the tiny fixture. */
class SampleInspectCommandTest {
    private static final Path FIXTURE = Fixtures.TINY_SD15;

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cl = TrainCommand.newCommandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void inspectDescribesTheFixture() {
        assumeTrue(Files.isDirectory(FIXTURE));
        Run r = run("inspect", "--model", FIXTURE.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("SD1.x, epsilon prediction"), r.out());
        assertTrue(r.out().contains("1,106,212"), r.out());
    }

    @Test
    void inspectFailsClearlyOnABrokenDirectory(@TempDir Path tmp) {
        Run r = run("inspect", "--model", tmp.toString());
        assertEquals(2, r.code(), "a broken --model is an input error");
        assertTrue(r.err().contains("missing unet/"), r.err());
    }

    @Test
    void sampleWritesTheSameImagesForTheSameSeed(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        String[] common = {"sample", "--model", FIXTURE.toString(), "--prompt", "a blue circle", "--steps", "2",
            "--width", "32", "--height", "32", "--count", "2", "--device", "cpu"};
        Run a = run(concat(common, "--output", tmp.resolve("a").toString()));
        Run b = run(concat(common, "--output", tmp.resolve("b").toString()));
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        for (int i = 0; i < 2; i++) {
            Path fa = tmp.resolve("a").resolve("sample_4545_" + i + ".png");
            assertTrue(a.out().contains(fa.toString()), a.out());
            assertArrayEquals(Files.readAllBytes(fa), Files.readAllBytes(tmp.resolve("b").resolve("sample_4545_" + i + ".png")));
        }
    }

    @Test
    void anUnknownDeviceIsAUsageErrorForEveryEngineCommand(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE), "fixture absent");
        String model = FIXTURE.toString();
        Files.createFile(tmp.resolve("l.safetensors"));
        String[][] commands = {
            {"sample", "--model", model, "--prompt", "x", "--output", tmp.toString()},
            {"bench", "--model", model},
            {"merge-lora", "--model", model, "--lora", tmp.resolve("l.safetensors").toString(), "--output", tmp.resolve("m").toString()},
            {"demo", "--output", tmp.resolve("demo").toString()},
            {"preprocess", "latent", "-d", tmp.toString(), "-o", tmp.toString(), "-m", model}};
        for (String[] c : commands) {
            String[] args = java.util.Arrays.copyOf(c, c.length + 2);
            args[c.length] = "--device";
            args[c.length + 1] = "gpu:7";
            CommandRun run = CommandRun.of(args);
            assertEquals(2, run.exitCode(), c[0] + ": " + run.err());
            assertTrue(run.err().contains("--device 'gpu:7' is not a device"), c[0] + ": " + run.err());
        }
    }

    /** bench takes the training optimizers; the 8-bit one's state is about a quarter of AdamW's (2 bytes + scales vs 8). */
    @Test
    void benchReportsTheOptimizerStateBytes() throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        long[] bytes = new long[2];
        String[][] optimizers = {{"adamw", ""}, {"adamw8bit", "min_8bit_size=0"}};
        for (int i = 0; i < 2; i++) {
            Run r = run("bench", "--model", FIXTURE.toString(), "--resolution", "32", "--batch_size", "1", "--steps", "1",
                    "--optimizer", optimizers[i][0], "--optimizer_args", optimizers[i][1], "--json", "--device", "cpu");
            assertEquals(0, r.code(), r.err());
            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
            assertEquals(optimizers[i][0], json.get("optimizer").asText());
            bytes[i] = json.get("optimizer_state_bytes").asLong();
        }
        assertEquals(0, bytes[0] % 8, "AdamW: two float32 moments per value");
        double ratio = (double) bytes[1] / bytes[0];
        assertTrue(ratio > 0.25 && ratio < 0.27, "8-bit state / float32 state = " + ratio);
        Run bad = run("bench", "--model", FIXTURE.toString(), "--optimizer", "sgd", "--optimizer_args", "nesterov=True");
        assertEquals(2, bad.code());
        assertEquals(List.of("sd-trainer bench: --optimizer_args 'nesterov=True': nesterov=True needs momentum > 0 and dampening 0"),
                bad.err().lines().toList());
    }

    @Test
    void benchPrintsItsFiguresAsJson() throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        Run r = run("bench", "--model", FIXTURE.toString(), "--resolution", "32", "--batch_size", "1", "--steps", "1",
                "--lora", "2", "--warmup", "0", "--json", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertTrue(json.get("samples_per_second").asDouble() > 0, r.out());
        assertTrue(json.get("ms_per_step").asDouble() > 0, r.out());
        assertTrue(json.get("peak_rss_mb").asDouble() > 0, r.out());
        for (String phase : new String[] {"data", "text_encoder", "unet_forward", "backward", "optimizer"}) {
            assertTrue(json.get("split_ms").has(phase), phase);
        }
    }

    @Test
    void benchRejectsANegativeWarmup() throws Exception {
        Run r = run("bench", "--model", "unused", "--warmup", "-1");
        assertEquals(2, r.code());
        assertEquals(List.of("sd-trainer bench: --batch_size, --steps and --profile must be >= 1, --warmup and --lora >= 0"),
                r.err().lines().toList());
    }

    /** --profile lists libtorch's operators of 2 extra steps: the UNet's convolutions among them, self within total. */
    @Test
    void benchProfileListsTheTopOperatorsAndTheFlopRate() throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        Run r = run("bench", "--model", FIXTURE.toString(), "--resolution", "32", "--batch_size", "1", "--steps", "1",
                "--profile", "5", "--json", "--device", "cpu", "--threads", "1");
        assertEquals(0, r.code(), r.err());
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertTrue(json.get("gflop_per_step").asDouble() > 0 && json.get("gflop_per_second").asDouble() > 0, r.out());
        var profile = json.get("profile");
        assertEquals(2, profile.get("steps").asInt());
        assertEquals(5, profile.get("top").size());
        assertTrue(profile.get("top_level_calls_per_step").asDouble() > 100, r.out());
        assertTrue(profile.get("op_calls_per_step").asDouble() >= profile.get("top_level_calls_per_step").asDouble());
        double previous = Double.MAX_VALUE;
        for (var op : profile.get("top")) {
            double self = op.get("self_ms_per_step").asDouble();
            assertTrue(self <= previous && self <= op.get("total_ms_per_step").asDouble() + 1e-9, op.toString());
            previous = self;
        }
        Run text = run("bench", "--model", FIXTURE.toString(), "--resolution", "32", "--batch_size", "1", "--steps", "1",
                "--profile", "--device", "cpu", "--threads", "1");
        assertEquals(0, text.code(), text.err());
        assertTrue(text.out().contains("calls into libtorch"), text.out());
        assertTrue(text.out().lines().anyMatch(l -> l.trim().startsWith("aten::")), text.out());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
