package sdtrainer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The class-data archive is written by a first run, put in place only after that run succeeded, then mapped. */
class ClassArchiveTest {

    @Test
    void aFirstRunWritesItAndOnlyASuccessfulOneSettlesIt(@TempDir Path tmp) throws Exception {
        Path archive = tmp.resolve("cache").resolve("classes-x.jsa");
        ClassArchive first = new ClassArchive(archive, tmp.resolve("cache").resolve("classes-x.jsa.1"));
        assertEquals(List.of("-Xlog:cds=off", "-Xlog:cds+dynamic=off", "-XX:ArchiveClassesAtExit=" + first.fresh()),
                first.jvmOptions());
        assertTrue(Files.isDirectory(archive.getParent()), "the cache folder is made for the JVM to write in");

        Files.writeString(first.fresh(), "half");
        first.settle(1);
        assertFalse(Files.exists(first.fresh()) || Files.exists(archive), "a failed run's archive is dropped");

        Files.writeString(first.fresh(), "whole");
        first.settle(0);
        assertEquals("whole", Files.readString(archive));
        assertFalse(Files.exists(first.fresh()));

        ClassArchive later = new ClassArchive(archive, tmp.resolve("cache").resolve("classes-x.jsa.2"));
        assertEquals(List.of("-Xlog:cds=off", "-Xlog:cds+dynamic=off", "-XX:SharedArchiveFile=" + archive), later.jvmOptions());
        Files.writeString(later.fresh(), "other");
        later.settle(0);
        assertEquals("whole", Files.readString(archive), "an archive in place stays");
        assertFalse(Files.exists(later.fresh()));
    }

    @Test
    void outsideAJarThereIsNone() {
        assertTrue(ClassArchive.forThisJar(Map.of()).isEmpty(), "tests run from target/classes");
    }
}
