package sdtrainer.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class SamplePromptFileTest {

    static final SamplePrompt.Defaults DEFAULTS = new SamplePrompt.Defaults("lowres", 64, 48, 30, 7.5f, 100, "ddim");

    @Test
    void textLinesWithKohyasFlags(@TempDir Path dir) throws IOException {
        Path file = write(dir, "prompts.txt", String.join("\n",
                "# samples for the cat run",
                "",
                "a cat wearing a hat --n blurry, low quality --w 256 --h 128 --s 12 --l 5.5 --d 42 --ss euler_a",
                "  a dog  ",
                "masterpiece, a fox --S 1500 --SS k_euler --L 0"));
        List<SamplePrompt> p = SamplePromptFile.read(file);
        assertEquals(3, p.size());
        SamplePrompt cat = p.get(0);
        assertEquals("a cat wearing a hat", cat.prompt());
        assertEquals("blurry, low quality", cat.negativePrompt());
        assertEquals(file + ":3", cat.source());
        assertEquals(0, cat.index());
        TextToImage.Request r = cat.request(DEFAULTS);
        assertEquals(List.of("a cat wearing a hat"), r.prompts());
        assertEquals(new TextToImage.Request(List.of("a cat wearing a hat"), "blurry, low quality", 256, 128, 12, 5.5f, 42,
                "euler_a"), r);
        // what the line leaves open comes from the defaults; prompt i without a seed draws with seed + i
        assertEquals(new TextToImage.Request(List.of("a dog"), "lowres", 64, 48, 30, 7.5f, 101, "ddim"),
                p.get(1).request(DEFAULTS));
        assertEquals(file + ":4", p.get(1).source());
        // flags are case-insensitive, steps are clamped to 1000 as kohya does, kohya's sampler names are accepted
        SamplePrompt fox = p.get(2);
        assertEquals(1000, fox.steps());
        assertEquals("euler", fox.sampler());
        assertEquals(0f, fox.guidance());
        assertEquals(2, fox.index());
    }

    @Test
    void badLinesNameTheFileAndLine(@TempDir Path dir) throws IOException {
        assertProblem(write(dir, "a.txt", "# header\na cat --x 3"), "a.txt:2: unknown flag --x");
        assertProblem(write(dir, "b.txt", "a cat --w wide"), "b.txt:1: --w 'wide' is not a whole number");
        assertProblem(write(dir, "c.txt", "a cat --ss plms"), "c.txt:1: unknown sampler 'plms'");
        assertProblem(write(dir, "d.txt", "a cat --n"), "d.txt:1: --n has no value");
        assertProblem(write(dir, "e.txt", "\n# only comments\n"), "e.txt: no prompts");
        assertProblem(write(dir, "f.txt", "a cat --w 0"), "f.txt:1: --w 0 must be at least 1");
    }

    @Test
    void tomlAsKohyaWritesIt(@TempDir Path dir) throws IOException {
        Path file = write(dir, "p.toml", String.join("\n",
                "[prompt]",
                "negative_prompt = \"bad hands\"",
                "width = 128",
                "sample_steps = 8",
                "",
                "[[prompt.subset]]",
                "prompt = \"a cat\"",
                "seed = 5",
                "",
                "[[prompt.subset]]",
                "prompt = \"a dog\"",
                "width = 64",
                "sample_sampler = \"heun\""));
        List<SamplePrompt> p = SamplePromptFile.read(file);
        assertEquals(new TextToImage.Request(List.of("a cat"), "bad hands", 128, 48, 8, 7.5f, 5, "ddim"), p.get(0).request(DEFAULTS));
        assertEquals(new TextToImage.Request(List.of("a dog"), "bad hands", 64, 48, 8, 7.5f, 101, "heun"), p.get(1).request(DEFAULTS));
        assertEquals(file + "#2", p.get(1).source());
    }

    @Test
    void jsonListWithLongKeysOrFlags(@TempDir Path dir) throws IOException {
        Path file = write(dir, "p.json", "[{\"prompt\": \"a cat\", \"scale\": 3, \"height\": 96},"
                + " {\"prompt\": \"a dog\", \"n\": \"ugly\", \"s\": 4, \"ss\": \"dpmpp_2m_karras\"}]");
        List<SamplePrompt> p = SamplePromptFile.read(file);
        assertEquals(new TextToImage.Request(List.of("a cat"), "lowres", 64, 96, 30, 3f, 100, "ddim"), p.get(0).request(DEFAULTS));
        assertEquals(new TextToImage.Request(List.of("a dog"), "ugly", 64, 48, 4, 7.5f, 101, "dpmpp_2m_karras"), p.get(1).request(DEFAULTS));
        assertProblem(write(dir, "q.json", "[{\"prompt\": \"a cat\"}, {\"prompt\": \"x\", \"cfg\": 2}]"), "q.json#2: unknown key 'cfg'");
        assertProblem(write(dir, "r.json", "{\"prompts\": []}"), "r.json: expected a list of prompt entries");
        assertProblem(write(dir, "s.json", "[{\"prompt\": \"a cat\",]"), "s.json: ");
        assertProblem(write(dir, "t.toml", "[[prompt.subset]]\nprompt = \"a\"\nenum = 3\n"), "t.toml#1: unknown key 'enum'");
    }

    private static void assertProblem(Path file, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SamplePromptFile.read(file));
        assertTrue(e.getMessage().startsWith(file.getParent() + "/" + expected),
                "message: " + e.getMessage());
    }

    private static Path write(Path dir, String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }
}
