package sdtrainer.io;

import java.io.IOException;
import java.nio.file.Path;

/** A tensor file that cannot be used; the message names the file and the defect. */
public class TensorFileException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Transient: Path is not serializable; the message keeps the name. */
    private final transient Path file;

    public TensorFileException(Path file, String defect) {
        super(file + ": " + defect);
        this.file = file;
    }

    public Path file() { return file; }
}
