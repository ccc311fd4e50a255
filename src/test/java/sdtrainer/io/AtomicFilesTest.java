package sdtrainer.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class AtomicFilesTest {

    @TempDir
    Path dir;

    private List<Path> listing() throws IOException {
        try (var s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void aNewFileGetsTheUmaskPermissionsAndAReplacedOneKeepsItsOwn() throws IOException {
        var plain = Files.getPosixFilePermissions(Files.createFile(dir.resolve("plain")));
        Path t = dir.resolve("model.safetensors");
        AtomicFiles.writeString(t, "new");
        assertEquals(plain, Files.getPosixFilePermissions(t));
        Files.setPosixFilePermissions(t, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-r--"));
        AtomicFiles.writeString(t, "again");
        assertEquals("rw-rw-r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(t)));
    }

    @Test
    void replacesTheTarget() throws IOException {
        Path t = dir.resolve("config.json");
        AtomicFiles.writeString(t, "old");
        AtomicFiles.write(t, out -> {
            out.write("new ".getBytes());
            out.write('!');
            out.close(); // closing early only flushes
        });
        assertEquals("new !", Files.readString(t));
        assertEquals(List.of(t), listing());
    }

    @Test
    void failureKeepsTheOldContentAndLeavesNoTempFile() throws IOException {
        Path t = dir.resolve("model.safetensors");
        AtomicFiles.writeBytes(t, new byte[]{1, 2, 3});
        IOException boom = assertThrows(IOException.class, () -> AtomicFiles.write(t, out -> {
            out.write(new byte[1 << 20]); // more than the buffer: part of it reached the temp file
            throw new IOException("No space left on device");
        }));
        assertEquals("writing " + t.toAbsolutePath() + " failed (No space left on device); its previous content is intact",
                boom.getMessage());
        assertArrayEquals(new byte[]{1, 2, 3}, Files.readAllBytes(t));
        assertEquals(List.of(t), listing());
    }

    @Test
    void aFailedFirstWriteSaysNothingWasWritten() {
        Path t = dir.resolve("lora.safetensors");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(t, out -> {
            throw new IOException("No space left on device");
        }));
        assertTrue(e.getMessage().startsWith("writing " + t.toAbsolutePath() + " failed (No space left on device); nothing"),
                e.getMessage());
    }

    @Test
    void failureNeverCreatesTheTarget() {
        Path t = dir.resolve("fresh.npz");
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(t, out -> {
            out.write(42);
            throw new IllegalStateException("bug");
        }));
        assertFalse(Files.exists(t));
        assertDoesNotThrow(() -> assertEquals(List.of(), listing()));
    }

    @Test
    void missingDirectoryIsAnError() {
        assertThrows(NoSuchFileException.class, () -> AtomicFiles.writeString(dir.resolve("no/such/file.txt"), "x"));
    }
}
