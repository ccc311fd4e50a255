package sdtrainer.cli.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.data.Images;
import sdtrainer.data.TestImages;

class PreprocessCommandsTest {
    @TempDir
    Path dir;

    private final CapturedRuns cli = new CapturedRuns();

    private Path images() throws Exception {
        Path in = Files.createDirectory(dir.resolve("in"));
        BufferedImage wide = TestImages.solid(200, 100, 0x3366CC);
        assertTrue(ImageIO.write(wide, "png", in.resolve("wide.png").toFile()));
        assertTrue(ImageIO.write(TestImages.solid(90, 90, 0x999999), "jpg", in.resolve("sq.jpg").toFile()));
        return in;
    }

    @Test
    void bucketingSucceedsAndPrintsPerBucketCounts() throws Exception {
        Path in = images();
        Path outDir = dir.resolve("out");
        int code = cli.run(new BucketingCommand(), "--input_dir", in.toString(), "-o", outDir.toString(),
                "-r", "192", "--min_length", "64", "--max_length", "512", "--max_ratio", "3", "--threads", "2");
        assertEquals(0, code, cli.err());
        assertEquals(String.format("(192, 192): 1%n(256, 128): 1%n"), cli.out());
        assertTrue(cli.err().contains("bucketing: 2 processed, 0 skipped, 0 failed in "), cli.err());
        assertEquals(new Images.Size(256, 128), Images.readSize(outDir.resolve("wide.png")));
        assertTrue(Files.isRegularFile(outDir.resolve("buckets.json")));
    }

    @Test
    void bucketingExitsWithOneWhenAnImageFails() throws Exception {
        Path in = images();
        byte[] png = Files.readAllBytes(in.resolve("wide.png"));
        Files.write(in.resolve("cut.png"), Arrays.copyOf(png, png.length / 2));
        int code = cli.run(new BucketingCommand(), "-i", in.toString(), "-o", dir.resolve("out").toString(), "-p", "1");
        assertEquals(1, code);
        assertTrue(cli.err().contains("cut.png") && cli.err().contains("1 failed"), cli.err());
    }

    @Test
    void badBucketingOptionsAreUsageErrors() throws Exception {
        Path in = images();
        String o = dir.resolve("out").toString();
        assertEquals(2, cli.run(new BucketingCommand(), "-i", in.toString(), "-o", o, "--max_ratio", "0.5"));
        assertEquals(2, cli.run(new BucketingCommand(), "-i", in.toString(), "-o", o, "--threads", "0"));
        assertEquals(2, cli.run(new BucketingCommand(), "-i", dir.resolve("missing").toString(), "-o", o));
        assertEquals(2, cli.run(new BucketingCommand(), "-i", in.toString(), "-o", in.toString()));
        assertEquals(2, cli.run(new BucketingCommand(), "-i", in.toString()));
        assertEquals(2, cli.run(new BucketingCommand(), "-i", in.toString(), "-o", o, "--resolution", "big"));
        assertTrue(cli.err().contains("max_ratio") && cli.err().contains("must differ"), cli.err());
        assertTrue(Files.notExists(dir.resolve("out")));
    }

    @Test
    void captionWritesCaptionsAndHonoursItsOptions() throws Exception {
        Path data = Files.createDirectory(dir.resolve("data"));
        Files.write(data.resolve("x.png"), TestImages.png(1, 1, TestImages.GREY, 8, new byte[1], null, null));
        Files.writeString(data.resolve("x.txt"), "{'rating': 'g', 'tag_string_general': 'smile long_hair',"
                + " 'tagger': 'frown', 'score': 80}");
        Path exclude = Files.writeString(dir.resolve("exclude.txt"), "long_hair\n");

        assertEquals(0, cli.run(new CaptionCommand(), "--dataset", data.toString()));
        assertEquals("high quality, safe, frown", Files.readString(data.resolve("x.caption")));
        assertEquals(0, cli.run(new CaptionCommand(), "--dataset", data.toString(), "--use_origin_tag",
                "--exclude_tags", exclude.toString(), "--threads", "1"));
        assertEquals("high quality, safe, smile", Files.readString(data.resolve("x.caption")));
        assertTrue(cli.err().contains("caption: 1 processed, 0 skipped, 0 failed in "), cli.err());

        Files.writeString(data.resolve("x.txt"), "{'score': 'many'}");
        assertEquals(1, cli.run(new CaptionCommand(), "--dataset", data.toString()));
        assertTrue(cli.err().contains("x.txt: field 'score' is not a number"), cli.err());

        assertEquals(2, cli.run(new CaptionCommand(), "--dataset", data.toString(), "--exclude_tags", "/nonexistent"));
        assertEquals(2, cli.run(new CaptionCommand()));
    }
}
