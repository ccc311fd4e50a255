package sdtrainer.cli.preprocess;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs preprocess commands in-process, collecting everything they print across runs. */
final class CapturedRuns {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** The command's exit code. */
    int run(Object command, String... args) {
        CommandLine cl = new CommandLine(command);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    String out() {
        return out.toString();
    }

    String err() {
        return err.toString();
    }
}
