package sdtrainer.scripts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import sdtrainer.ExternalTool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU-box scripts: shellcheck-clean (where shellcheck is installed), set-up caches libtorch once, and the
 * training scripts build the command line their settings describe.
 */
class ShellScriptsTest {

    private static final Path SCRIPTS = Path.of("scripts");

    private static List<Path> scripts() throws IOException {
        try (Stream<Path> files = Files.list(SCRIPTS)) {
            return files.filter(f -> f.toString().endsWith(".sh")).sorted().toList();
        }
    }

    private record Result(int exit, String stdout, String stderr) {}

    private static Result run(Path dir, Map<String, String> env, String... command) throws IOException, InterruptedException {
        Path out = dir.resolve("stdout"), err = dir.resolve("stderr");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", command) + " did not finish in 120 s");
        }
        return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Test
    void scriptsAreExecutableAndShellcheckClean(@TempDir Path dir) throws IOException, InterruptedException {
        List<Path> scripts = scripts();
        assertTrue(scripts.size() >= 3, "set-up, LoRA and fine-tune scripts: " + scripts);
        for (Path s : scripts) assertTrue(Files.isExecutable(s), s + " is executable");
        ExternalTool.requireOnPath("shellcheck");
        List<String> command = new ArrayList<>(List.of("shellcheck", "-x"));
        scripts.forEach(s -> command.add(s.toString()));
        Result r = run(dir, Map.of(), command.toArray(String[]::new));
        assertEquals(0, r.exit(), r.stdout() + r.stderr());
    }

    @Test
    void setupDownloadsLibtorchOnceAndPrintsTheVariables(@TempDir Path dir) throws IOException, InterruptedException {
        ExternalTool.requireOnPath("bash", "java", "curl");
        ExternalTool.require(ExternalTool.onPath("unzip") || ExternalTool.onPath("python3"), "needs unzip or python3");
        Path zip = dir.resolve("libtorch.zip");
        try (OutputStream file = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(file)) {
            z.putNextEntry(new ZipEntry("libtorch/lib/libtorch_cuda.so"));
            z.write("not really a library".getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
        }
        Path cache = dir.resolve("cache dir");
        Map<String, String> env = Map.of("LIBTORCH_URL", zip.toUri().toString());
        Result first = run(dir, env, "bash", "scripts/setup-gpu-box.sh", "--no-gpu-check", "--cache", cache.toString());
        assertEquals(0, first.exit(), first.stderr());
        Path lib = cache.resolve("libtorch-2.7.1-cu128/libtorch/lib");
        assertEquals("export PYTORCH_LIBRARY_PATH=" + lib.toString().replace(" ", "\\ ") + "\nexport PYTORCH_FLAVOR=cu128\n", first.stdout());
        assertTrue(Files.isRegularFile(lib.resolve("libtorch_cuda.so")));
        try (Stream<Path> left = Files.list(cache)) {
            assertEquals(List.of("libtorch-2.7.1-cu128"), left.map(p -> p.getFileName().toString()).toList(), "zip removed once unpacked");
        }

        Files.delete(zip);
        Result second = run(dir, env, "bash", "scripts/setup-gpu-box.sh", "--no-gpu-check", "--cache", cache.toString());
        assertEquals(0, second.exit(), second.stderr());
        assertEquals(first.stdout(), second.stdout());
        assertTrue(second.stderr().contains("already in"), second.stderr());
        assertFalse(second.stderr().contains("downloading"));
    }

    @Test
    void setupRejectsAZipWithoutCudaLibtorch(@TempDir Path dir) throws IOException, InterruptedException {
        ExternalTool.requireOnPath("bash", "java", "curl");
        ExternalTool.require(ExternalTool.onPath("unzip") || ExternalTool.onPath("python3"), "needs unzip or python3");
        Path zip = dir.resolve("cpu.zip");
        try (OutputStream file = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(file)) {
            z.putNextEntry(new ZipEntry("libtorch/lib/libtorch_cpu.so"));
            z.closeEntry();
        }
        Path cache = dir.resolve("cache");
        Result r = run(dir, Map.of("LIBTORCH_URL", zip.toUri().toString()),
                "bash", "scripts/setup-gpu-box.sh", "--no-gpu-check", "--cache", cache.toString());
        assertEquals(1, r.exit());
        assertTrue(r.stderr().contains("not a CUDA libtorch"), r.stderr());
        assertEquals("", r.stdout(), "nothing to eval");
        try (Stream<Path> left = Files.list(cache)) {
            assertEquals(List.of(), left.toList(), "nothing half-done left in the cache");
        }
    }

    /**
     * A stand-in {@code java} on PATH that prints its arguments one per line, and an empty {@code fake.jar}: the
     * environment (PATH, JAR, DEVICE=cpu) for running a script against them.
     */
    private static Map<String, String> fakeJava(Path dir) throws IOException {
        ExternalTool.requireOnPath("bash");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path fakeJava = bin.resolve("java");
        Files.writeString(fakeJava, "#!/usr/bin/env bash\nprintf '%s\\n' \"$@\"\n");
        assertTrue(fakeJava.toFile().setExecutable(true));
        Path jar = Files.createFile(dir.resolve("fake.jar"));
        return Map.of("PATH", bin + ":" + System.getenv("PATH"), "JAR", jar.toString(), "DEVICE", "cpu");
    }

    /** Runs a training script with a stand-in {@code java} on PATH that prints its arguments, one per line. */
    private static List<String> javaArguments(Path dir, String script, Map<String, String> settings)
            throws IOException, InterruptedException {
        Map<String, String> env = new java.util.HashMap<>(settings);
        env.putAll(fakeJava(dir));
        Result r = run(dir, env, "bash", "scripts/" + script, "--prompt", "a photo of sks dog");
        assertEquals(0, r.exit(), r.stderr());
        return r.stdout().lines().toList();
    }

    @Test
    void trainLoraPassesEverySettingAndTheExtraOptions(@TempDir Path dir) throws IOException, InterruptedException {
        List<String> args = javaArguments(dir, "train-lora.sh",
                Map.of("JAVA_OPTS", "-Xmx8g -Dx=1", "EPOCHS", "7", "LORA", "16", "USE_BUCKET", "1", "AMP", "0"));
        assertEquals(List.of("-Xmx8g", "-Dx=1", "-jar", dir.resolve("fake.jar").toString()), args.subList(0, 4));
        String line = String.join(" ", args);
        assertTrue(line.contains("--epochs 7 "), line);
        assertTrue(line.contains("--lora 16 --lora_alpha 1 --network lora"), line);
        assertTrue(args.contains("--use_bucket") && args.contains("--no-amp") && args.contains("--train_encoder"), line);
        assertTrue(line.contains("--device cpu"), line);
        assertEquals(List.of("--prompt", "a photo of sks dog"), args.subList(args.size() - 2, args.size()));
    }

    @Test
    void finetuneTrainsTheWholeModel(@TempDir Path dir) throws IOException, InterruptedException {
        List<String> args = javaArguments(dir, "finetune.sh", Map.of("V_PREDICTION", "1"));
        String line = String.join(" ", args);
        assertEquals("-jar", args.get(0), "no JAVA_OPTS, no empty argument");
        assertTrue(line.contains("--lora 0 --no-up_only --v_prediction"), line);
        assertTrue(line.contains("--lr 5e-6 --lr_scheduler constant"), line);
        assertTrue(args.contains("--gradient_checkpointing") && !line.contains("--network"), line);
    }
    @Test
    void resumeContinuesFromTheStateWithItsOwnConfig(@TempDir Path dir) throws IOException, InterruptedException {
        Map<String, String> env = fakeJava(dir);
        Path jar = dir.resolve("fake.jar");
        // a save killed between its renames: only the copy set aside is complete
        Path aside = Files.createDirectories(dir.resolve("lora-state.old"));
        Files.writeString(aside.resolve("config.yaml"), "model: m\n");
        Result r = run(dir, env, "bash", "scripts/resume.sh", dir.resolve("lora-state").toString(), "--epochs", "30");
        assertEquals(0, r.exit(), r.stderr());
        assertEquals(List.of("-jar", jar.toString(), "--config", aside.resolve("config.yaml").toString(), "--resume",
                aside.toString(), "--device", "cpu", "--save_state", "--epochs", "30"), r.stdout().lines().toList());
        Result none = run(dir, env, "bash", "scripts/resume.sh", dir.resolve("nothing").toString());
        assertEquals(2, none.exit());
        assertTrue(none.stderr().contains("is not a training state"), none.stderr());
    }
}
