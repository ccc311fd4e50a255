package sdtrainer.io;

import java.io.IOException;
import java.nio.file.Path;

/** A tensor file that cannot be used; the message names the file and the defect. */
public class TensorFileException extends IOException {
    private final Path file;

    public TensorFileException(Path file, String defect) {
        super(file + ": " + defect);
        this.file = file;
    }

    public Path file() { return file; }
}
