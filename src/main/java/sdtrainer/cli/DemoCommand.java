package sdtrainer.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sdtrainer.demo.Demo;

/** {@code sd-trainer demo}: the whole pipeline on a tiny random model and a drawn dataset, with no download. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Draws a small captioned dataset of coloured shapes, writes a tiny random Stable Diffusion model,"
            + " then runs bucketing, the latent cache and LoRA training on it: a few minutes on a laptop CPU.",
            "Writes the LoRA, sample images, metrics.jsonl, TensorBoard logs and report.html, and prints where each is."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:success", "1:failure during the run", "2:invalid options"})
public final class DemoCommand implements Callable<Integer> {
    @Option(names = "--output", defaultValue = "sd-trainer-demo", paramLabel = "DIR",
            description = "new or empty folder for everything the demo makes (default: ${DEFAULT-VALUE})")
    Path output;
    @Option(names = "--steps", defaultValue = "" + Demo.DEFAULT_STEPS, paramLabel = "N",
            description = "about this many training steps, rounded to whole epochs (default: ${DEFAULT-VALUE})")
    int steps;
    @CommandLine.Mixin
    DeviceOption device = new DeviceOption();
    // The demo's tensors are tiny: on a busy 2-core machine one thread ran 10x faster than two.
    @Option(names = "--threads", defaultValue = "1", paramLabel = "N",
            description = "intra-op CPU threads; 0 = one per physical core (default: ${DEFAULT-VALUE})")
    int threads;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if (steps < 1) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--steps must be at least 1, got " + steps);
        }
        EngineInfo engine = device.start(threads);
        // progress goes to stderr in every command; stdout is kept for results other programs read
        PrintStream console = new PrintStream(new WriterStream(spec.commandLine().getErr()), true, StandardCharsets.UTF_8);
        try {
            Demo.run(output, steps, engine.device(), console);
            return CommandLine.ExitCode.OK;
        } catch (IOException e) {
            spec.commandLine().getErr().println("sd-trainer demo: " + e.getMessage());
            return CommandLine.ExitCode.SOFTWARE;
        } finally {
            console.flush();
        }
    }

    /** Bytes printed to a PrintStream (which the trainer takes), handed to picocli's writer at each flush. */
    private static final class WriterStream extends OutputStream {
        private final PrintWriter writer;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        WriterStream(PrintWriter writer) {
            this.writer = writer;
        }

        @Override
        public void write(int b) {
            pending.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            pending.write(b, off, len);
        }

        /** PrintStream flushes after whole strings, so the bytes end on a character boundary. */
        @Override
        public void flush() {
            writer.write(pending.toString(StandardCharsets.UTF_8));
            pending.reset();
            writer.flush();
        }
    }
}
