package sdtrainer.log;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Appends one JSON object per line to a metrics file (usually {@code <output>/metrics.jsonl}),
 * flushed line by line so the file is readable while training runs and survives a crash.
 * A resumed run appends to the same file. Non-finite numbers are written as the strings
 * {@code "NaN"}, {@code "Infinity"}, so every line stays valid JSON.
 */
public final class MetricsLog implements AutoCloseable {

    public static final String FILE_NAME = "metrics.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final BufferedWriter out;

    public MetricsLog(Path file) throws IOException {
        this.file = file;
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    public Path file() {
        return file;
    }

    /** Writes {@code row} (nested maps allowed, keys in the map's order) as one line. */
    public synchronized void append(Map<String, ?> row) throws IOException {
        out.write(JSON.writeValueAsString(row));
        out.write('\n');
        out.flush();
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
