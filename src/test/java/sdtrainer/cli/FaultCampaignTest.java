package sdtrainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.AtomicDirectory;
import sdtrainer.io.Npy;
import sdtrainer.io.Npz;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;
import sdtrainer.train.TrainerTest;

/**
 * The fault campaign of issue 15: bad inputs and faults against the CLI on copies of the tiny fixture. Each case
 * checks the exit code, one line naming the file or option, no stack trace, no JVM crash, and that an earlier
 * output beside the run is intact. The table of every case goes to {@code target/fault-campaign.md}.
 */
@TestMethodOrder(MethodOrderer.MethodName.class)
class FaultCampaignTest {
    @TempDir
    static Path dir;

    private static Path fixture;
    /** Bytes of a loadable earlier output, put where each run writes before it starts. */
    private static byte[] earlier;
    private static final List<String> TABLE = new ArrayList<>();
    private static int cases;

    @BeforeAll
    static void inputs() throws IOException {
        fixture = Fixtures.require("tiny-sd15");
        Path file = dir.resolve("earlier.safetensors");
        SafeTensorsWriter.write(file, Map.of("lora_unet_x.lora_down.weight", TensorData.ofFloats(new long[] {4, 8}, new float[32])),
                Map.of("ss_network_dim", "4"));
        earlier = Files.readAllBytes(file);
    }

    @AfterAll
    static void writeTable() throws IOException {
        List<String> lines = new ArrayList<>(List.of("| case | exit | first line of message | crash? | lost/half-written? |",
                "|---|---|---|---|---|"));
        lines.addAll(TABLE);
        lines.add("");
        lines.add(cases + " cases.");
        Path target = Path.of("target");
        Files.createDirectories(target);
        Files.write(target.resolve("fault-campaign.md"), lines);
    }

    // ---- how a case runs and is judged ----

    /** One case's folder: its output ({@code run}, an earlier LoRA already there) and image log. */
    private record Place(Path root) {
        Path output() { return root.resolve("run"); }
        Path lora() { return root.resolve("run.safetensors"); }
    }

    private static Place place(String name) throws IOException {
        Place p = new Place(Files.createDirectories(dir.resolve("cases").resolve(name)));
        Files.write(p.lora(), earlier);
        return p;
    }

    /** The tests' options (tiny model, 32 px, batch 2, 1 epoch, LoRA rank 4, seed 1, 1 thread); {@code more} overrides them. */
    private static CommandRun train(Place p, Path model, Path data, String... more) {
        String[] base = {"--model", model.toString(), "--dataset", data.toString(), "--output", p.output().toString(),
            "--image_log", p.root().resolve("images").toString(), "--resolution", "32", "--batch_size", "2", "--epochs", "1",
            "--lora", "4", "--seed", "1", "--device", "cpu", "--threads", "1"};
        List<String> args = new ArrayList<>();
        List<String> given = List.of(more);
        for (int i = 0; i < base.length; i += 2) {
            if (!given.contains(base[i])) args.addAll(List.of(base[i], base[i + 1]));
        }
        args.addAll(given);
        return CommandRun.of(args.toArray(String[]::new));
    }

    /** What is wrong with the earlier output and the files beside it after a run: lost, changed, or left half-written. */
    private static String damage(Place p) throws IOException {
        List<String> out = new ArrayList<>();
        if (!Files.exists(p.lora())) out.add("earlier output lost");
        else if (!Arrays.equals(earlier, Files.readAllBytes(p.lora()))) out.add("earlier output changed");
        try (Stream<Path> s = Files.list(p.root())) {
            s.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".tmp") || n.contains(".saving-") || n.endsWith(".lock"))
                    .forEach(n -> out.add("left " + n));
        }
        return String.join("; ", out);
    }

    private static boolean stackTrace(String text) {
        return text.contains("Exception") || text.contains("\tat ");
    }

    /** The lines of a message, without picocli's pointer to --help. */
    private static List<String> messageLines(String err) {
        return err.lines().filter(l -> !l.startsWith("Try '") && !l.isBlank()).toList();
    }

    private static synchronized void record(String name, int exit, String message, boolean crash, String damage) {
        cases++;
        String first = message.strip().lines().filter(l -> !l.isBlank()).findFirst().orElse("").replace("|", "\\|").replace(dir.toString(), "$T");
        if (first.length() > 160) first = first.substring(0, 157) + "...";
        TABLE.add("| " + name + " | " + exit + " | `" + first + "` | " + (crash ? "**yes**" : "no") + " | "
                + (damage.isEmpty() ? "no" : "**" + damage + "**") + " |");
    }

    /**
     * Records the case, then checks it: the exit code, every message line containing {@code named} being the only line
     * (up to {@code maxLines} for a listed dataset), no stack trace, and the earlier output intact.
     */
    private static void expect(String name, Place p, CommandRun run, int exit, String named, int maxLines) throws IOException {
        String damage = p == null ? "" : damage(p);
        boolean crash = stackTrace(run.err());
        List<String> lines = messageLines(run.err());
        // the table shows the line that names the file (a dataset's list has a heading line above it)
        String shown = named.isEmpty() ? run.err() : lines.stream().filter(l -> l.contains(named)).findFirst().orElse(run.err());
        record(name, run.exitCode(), shown, crash, damage);
        assertFalse(crash, name + ": stack trace\n" + run.err());
        assertEquals(exit, run.exitCode(), name + "\n" + run.err());
        if (exit != 0) {
            assertTrue(!lines.isEmpty() && lines.size() <= maxLines, name + ": " + lines.size() + " lines\n" + run.err());
            assertTrue(lines.stream().anyMatch(l -> l.contains(named)), name + ": no line names " + named + "\n" + run.err());
        }
        assertEquals("", damage, name);
    }

    private static void expect(String name, Place p, CommandRun run, int exit, String named) throws IOException {
        expect(name, p, run, exit, named, 1);
    }

    // ---- inputs ----

    private static Path modelCopy(String name) throws IOException {
        Path copy = dir.resolve("models").resolve(name);
        try (Stream<Path> all = Files.walk(fixture)) {
            for (Path f : (Iterable<Path>) all.filter(f -> !fixture.relativize(f).startsWith("reference"))::iterator) {
                Path to = copy.resolve(fixture.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(to);
                else Files.copy(f, to);
                to.toFile().setWritable(true);
            }
        }
        return copy;
    }

    private static Path images(String name) throws IOException {
        return TrainerTest.simpleDataset(dir.resolve("data").resolve(name), 2);
    }

    private static Path buckets(String name) throws IOException {
        return TrainerTest.bucketDataset(dir.resolve("data").resolve(name));
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A safetensors file's JSON header and the bytes after it. */
    private record Parts(ObjectNode header, byte[] data) {
        static Parts of(Path file) throws IOException {
            byte[] all = Files.readAllBytes(file);
            int n = (int) ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
            return new Parts((ObjectNode) JSON.readTree(new String(all, 8, n, StandardCharsets.UTF_8)),
                    Arrays.copyOfRange(all, 8 + n, all.length));
        }

        void write(Path file) throws IOException {
            byte[] h = JSON.writeValueAsBytes(header);
            ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(h.length).put(h).put(data);
            Files.write(file, b.array());
        }

        List<String> tensors() {
            List<String> names = new ArrayList<>();
            header.fieldNames().forEachRemaining(n -> { if (!n.equals("__metadata__")) names.add(n); });
            return names;
        }
    }

    /** The UNet weights rewritten with {@code edit} applied to the tensors (name to data; absent names are dropped). */
    private static void rewriteUnet(Path model, java.util.function.Consumer<Map<String, TensorData>> edit) throws IOException {
        Path file = unetFile(model);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        Map<String, String> metadata;
        try (SafeTensors st = SafeTensors.open(file)) {
            for (String n : st.names()) tensors.put(n, st.read(n));
            metadata = st.metadata();
        }
        edit.accept(tensors);
        SafeTensorsWriter.write(file, tensors, metadata);
    }

    private static Path unetFile(Path model) {
        return model.resolve("unet/diffusion_pytorch_model.safetensors");
    }

    // ---- model folder and configs ----

    @Test
    void model01_missingSubfolder() throws IOException {
        Path m = modelCopy("no-unet");
        AtomicDirectory.deleteTree(m.resolve("unet"));
        Place p = place("model-no-unet");
        expect("model folder without unet/", p, train(p, m, images("m1")), 2, m + ": has no unet/ folder");
    }

    @Test
    void model02_missingConfig() throws IOException {
        Path m = modelCopy("no-vae-config");
        Files.delete(m.resolve("vae/config.json"));
        Place p = place("model-no-vae-config");
        expect("vae/config.json missing", p, train(p, m, images("m2")), 2, m.resolve("vae/config.json") + ": missing");
    }

    @Test
    void model03_configWrongType() throws IOException {
        Path m = modelCopy("wrong-type");
        Path config = m.resolve("unet/config.json");
        Files.writeString(config, Files.readString(config).replaceFirst("\"layers_per_block\": \\d+", "\"layers_per_block\": \"two\""));
        Place p = place("model-config-wrong-type");
        expect("unet config: layers_per_block \"two\"", p, train(p, m, images("m3")), 2,
                config + ": describes no unet this tool can build ('layers_per_block' is \"two\", expected an integer)");
    }

    @Test
    void model04_configNotJson() throws IOException {
        Path m = modelCopy("not-json");
        Path config = m.resolve("text_encoder/config.json");
        Files.writeString(config, "{\"hidden_size\": 32,");
        Place p = place("model-config-not-json");
        expect("text_encoder config cut short", p, train(p, m, images("m4")), 2, config + ": not valid JSON: ");
    }

    @Test
    void model05_weightsTruncated() throws IOException {
        Path m = modelCopy("truncated");
        byte[] all = Files.readAllBytes(unetFile(m));
        Files.write(unetFile(m), Arrays.copyOf(all, all.length / 2));
        Place p = place("weights-truncated");
        expect("unet safetensors truncated to half", p, train(p, m, images("m5")), 2, unetFile(m).toString());
    }

    @Test
    void model06_headerLengthLies() throws IOException {
        Path m = modelCopy("lying-header");
        byte[] all = Files.readAllBytes(unetFile(m));
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(0, all.length * 4L);
        Files.write(unetFile(m), all);
        Place p = place("weights-header-length");
        expect("safetensors header length 4x the file", p, train(p, m, images("m6")), 2, unetFile(m).toString());
    }

    @Test
    void model07_overlappingOffsets() throws IOException {
        Path m = modelCopy("overlap");
        Parts parts = Parts.of(unetFile(m));
        List<String> names = parts.tensors();
        ArrayNode first = (ArrayNode) parts.header().get(names.get(0)).get("data_offsets");
        ArrayNode second = (ArrayNode) parts.header().get(names.get(1)).get("data_offsets");
        long len = second.get(1).asLong() - second.get(0).asLong();
        second.removeAll().add(first.get(0).asLong()).add(first.get(0).asLong() + len);
        parts.write(unetFile(m));
        Place p = place("weights-overlap");
        expect("two tensors' data_offsets overlap", p, train(p, m, images("m7")), 2, unetFile(m).toString());
    }

    @Test
    void model08_nanWeights() throws IOException {
        Path m = modelCopy("nan");
        rewriteUnet(m, t -> {
            float[] v = t.get("conv_in.weight").toFloats();
            v[3] = Float.NaN;
            t.put("conv_in.weight", TensorData.ofFloats(t.get("conv_in.weight").shape(), v));
        });
        Place p = place("weights-nan");
        expect("NaN in unet conv_in.weight", p, train(p, m, images("m8")), 2, "unet/conv_in.weight");
    }

    @Test
    void model09_wrongShape() throws IOException {
        Path m = modelCopy("shape");
        rewriteUnet(m, t -> t.put("conv_in.bias", TensorData.ofFloats(new long[] {31}, new float[31])));
        Place p = place("weights-wrong-shape");
        expect("unet conv_in.bias [31] instead of [32]", p, train(p, m, images("m9")), 2, "shape mismatches (1): conv_in.bias");
    }

    @Test
    void model10_missingKey() throws IOException {
        Path m = modelCopy("missing-key");
        rewriteUnet(m, t -> t.remove("conv_out.weight"));
        Place p = place("weights-missing-key");
        expect("unet conv_out.weight missing", p, train(p, m, images("m10")), 2, "missing keys (1): conv_out.weight");
    }

    @Test
    void model11_unknownKey() throws IOException {
        Path m = modelCopy("unknown-key");
        rewriteUnet(m, t -> t.put("extra.weight", TensorData.ofFloats(new long[] {2}, new float[2])));
        Place p = place("weights-unknown-key");
        expect("unet with an unknown tensor extra.weight", p, train(p, m, images("m11")), 2, "unexpected keys (1): extra.weight");
    }

    @Test
    void model12_onlyBinPickle() throws IOException {
        Path m = modelCopy("bin");
        Files.move(unetFile(m), m.resolve("unet/diffusion_pytorch_model.bin"));
        Place p = place("weights-only-bin");
        expect("unet holds only a .bin pickle", p, train(p, m, images("m12")), 2, ".bin");
    }

    // ---- images and captions ----

    @Test
    void image01_zeroBytes() throws IOException {
        Path data = images("zero");
        Files.write(data.resolve("img0.png"), new byte[0]);
        Place p = place("image-zero");
        expect("zero-byte image", p, train(p, fixture, data), 2, data.resolve("img0.png").toString(), 2);
    }

    @Test
    void image02_truncated() throws IOException {
        Path data = images("truncated");
        byte[] png = Files.readAllBytes(data.resolve("img0.png"));
        Files.write(data.resolve("img0.png"), Arrays.copyOf(png, png.length - 20));
        Place p = place("image-truncated");
        expect("PNG cut 20 bytes short", p, train(p, fixture, data), 2, data.resolve("img0.png").toString(), 2);
    }

    @Test
    void image03_textNamedPng() throws IOException {
        Path data = images("text-png");
        Files.writeString(data.resolve("img0.png"), "this is not an image\n");
        Place p = place("image-text");
        expect("text file named .png", p, train(p, fixture, data), 2, data.resolve("img0.png").toString(), 2);
    }

    @Test
    void image04_pngNamedJpg() throws IOException {
        Path data = images("png-jpg");
        Files.move(data.resolve("img0.png"), data.resolve("img0.jpg"));
        Place p = place("image-png-as-jpg");
        // decoders read what the bytes are, as PIL does: a PNG named .jpg trains
        expect("PNG bytes named .jpg (dry run)", p, train(p, fixture, data, "--dry_run"), 0, "");
    }

    @Test
    void image05_hugeDimensions() throws IOException {
        Path data = images("huge");
        byte[] png = Files.readAllBytes(data.resolve("img0.png"));
        // IHDR: width and height at bytes 16 and 20, then its CRC at 29 over bytes 12..28
        ByteBuffer b = ByteBuffer.wrap(png);
        b.putInt(16, 100000).putInt(20, 100000);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(png, 12, 17);
        b.putInt(29, (int) crc.getValue());
        Files.write(data.resolve("img0.png"), png);
        Place p = place("image-huge");
        expect("PNG header claims 100000x100000", p, train(p, fixture, data), 2,
                data.resolve("img0.png") + ": corrupt image: its header claims 100000x100000 pixels", 2);
    }

    @Test
    void caption01_notUtf8() throws IOException {
        Path data = images("latin1");
        Files.write(data.resolve("img1.txt"), "caf\u00e9".getBytes(StandardCharsets.ISO_8859_1));
        Place p = place("caption-latin1");
        expect("caption in Latin-1", p, train(p, fixture, data), 2, data.resolve("img1.txt") + ": not UTF-8", 2);
    }

    @Test
    void caption02_empty() throws IOException {
        Path data = images("empty-caption");
        Files.writeString(data.resolve("img1.txt"), "");
        Place p = place("caption-empty");
        CommandRun run = train(p, fixture, data, "--dry_run");
        expect("empty caption (dry run: a warning)", p, run, 0, "");
        assertTrue(run.err().contains(data.resolve("img1.txt").toString()), run.err());
    }

    @Test
    void caption03_missing() throws IOException {
        Path data = images("no-caption");
        Files.delete(data.resolve("img1.txt"));
        Place p = place("caption-missing");
        expect("caption missing", p, train(p, fixture, data), 2, data.resolve("img1.txt") + ": missing caption", 2);
    }

    // ---- bucketed datasets ----

    @Test
    void bucket01_malformed() throws IOException {
        Path data = buckets("malformed");
        Files.writeString(data.resolve("buckets.json"), "{\"(32, 16)\": [\"a\", ");
        Place p = place("buckets-malformed");
        expect("buckets.json cut short", p, train(p, fixture, data, "--use_bucket"), 2, data.resolve("buckets.json") + ": not valid JSON: ");
    }

    @Test
    void bucket02_missingStem() throws IOException {
        Path data = buckets("missing-stem");
        Files.writeString(data.resolve("buckets.json"), "{\"(32, 16)\": [\"a\", \"b\", \"c\", \"ghost\"], \"(16, 16)\": [\"d\", \"e\"]}");
        Place p = place("buckets-missing-stem");
        expect("buckets.json names a stem without files", p, train(p, fixture, data, "--use_bucket"), 2, "ghost", 2);
    }

    @Test
    void bucket03_parentPath() throws IOException {
        Path data = buckets("parent-path");
        Files.writeString(data.resolve("buckets.json"), "{\"(32, 16)\": [\"a\", \"b\", \"../c\"], \"(16, 16)\": [\"d\", \"e\"]}");
        Place p = place("buckets-parent-path");
        expect("buckets.json stem ../c", p, train(p, fixture, data, "--use_bucket"), 2, "../c", 2);
    }

    @Test
    void latent01_wrongShape() throws IOException {
        Path data = buckets("latent-shape");
        Npy.write(data.resolve("a.npy"), TensorData.ofFloats(new long[] {4, 8, 8}, new float[256]));
        Place p = place("latent-wrong-shape");
        expect("latent [4,8,8] in bucket (32, 16)", p, train(p, fixture, data, "--use_bucket"), 2, data.resolve("a.npy").toString(), 2);
    }

    /** Rewrites a .npy header field in place (same length, so the data offset holds). */
    private static void npyHeader(Path file, String from, String to) throws IOException {
        byte[] all = Files.readAllBytes(file);
        String head = new String(all, 0, 128, StandardCharsets.ISO_8859_1);
        assertTrue(head.contains(from) && from.length() == to.length(), head);
        byte[] replaced = head.replace(from, to).getBytes(StandardCharsets.ISO_8859_1);
        System.arraycopy(replaced, 0, all, 0, replaced.length);
        Files.write(file, all);
    }

    @Test
    void latent02_wrongDtype() throws IOException {
        Path data = buckets("latent-dtype");
        npyHeader(data.resolve("a.npy"), "'<f4'", "'<i4'");
        Place p = place("latent-wrong-dtype");
        expect("latent int32", p, train(p, fixture, data, "--use_bucket"), 2, data.resolve("a.npy") + ": latents are I32, not floats", 2);
    }

    @Test
    void latent03_fortranOrder() throws IOException {
        Path data = buckets("latent-fortran");
        npyHeader(data.resolve("a.npy"), "'fortran_order': False", "'fortran_order': True ");
        Place p = place("latent-fortran");
        expect("latent in Fortran order", p, train(p, fixture, data, "--use_bucket"), 2, data.resolve("a.npy").toString(), 2);
    }

    @Test
    void latent04_nan() throws IOException {
        Path data = buckets("latent-nan");
        float[] v = new float[4 * 8 * 16];
        v[7] = Float.NaN;
        Npy.write(data.resolve("b.npy"), TensorData.ofFloats(new long[] {4, 8, 16}, v));
        Place p = place("latent-nan");
        expect("latent holding NaN", p, train(p, fixture, data, "--use_bucket"), 2, data.resolve("b.npy") + ": latent value 7 is NaN", 2);
    }

    @Test
    void mask01_wrongShape() throws IOException {
        Path data = buckets("mask-shape");
        Npz.write(data.resolve("d.npz"), List.of(TensorData.ofFloats(new long[] {4, 4}, new float[16])), false);
        Place p = place("mask-wrong-shape");
        expect("mask [4,4] for latents [8,8]", p, train(p, fixture, data, "--use_bucket", "--mask"), 2,
                data.resolve("d.npz").toString(), 2);
    }

    @Test
    void mask02_withoutBuckets() throws IOException {
        Place p = place("mask-no-bucket");
        expect("--mask without --use_bucket", p, train(p, fixture, images("mask"), "--mask"), 2, "--mask needs --use_bucket");
    }

    // ---- options ----

    /**
     * Every numeric option at 0, -1, huge (2^31-1 or 1e300) and non-numeric, each checked by a dry run: accepted values
     * exit 0, the others 2 with one line naming the option. The expected codes, in that order, follow each option.
     */
    @Test
    void option01_numericSweep() throws IOException {
        String[][] sweep = {
            {"--batch_size", "2202"}, {"--epochs", "2202"}, {"--save_n_epochs", "2202"}, {"--lora", "0222"},
            {"--lora_alpha", "0202"}, {"--eh_groups", "2202"}, {"--minibatch_repeat", "2222"}, {"--threads", "0222"},
            {"--seed", "0002"}, {"--resolution", "2222"}, {"--lr", "0202"}, {"--gradient_accumulation_steps", "2222"},
            {"--ema_decay", "0222"}, {"--max_grad_norm", "0202"}, {"--conv_alpha", "0202"}, {"--keep_tokens", "0202"},
            {"--caption_dropout_rate", "0222"}, {"--noise_offset", "0202"}, {"--min_snr_gamma", "2202"},
            {"--huber_c", "2202"}, {"--lr_scheduler_num_cycles", "2202"}, {"--sample_every_n_steps", "2202"},
            {"--clip_skip", "2222"}, {"--max_token_length", "2222"}, {"--save_state_every_n_steps", "0202", "--save_state"},
        };
        Path data = images("sweep");
        List<String> wrong = new ArrayList<>();
        for (String[] option : sweep) {
            boolean integral = !List.of("--lora_alpha", "--lr", "--ema_decay", "--max_grad_norm", "--conv_alpha",
                    "--caption_dropout_rate", "--noise_offset", "--min_snr_gamma", "--huber_c").contains(option[0]);
            String[] values = {"0", "-1", integral ? "2147483647" : "1e300", "abc"};
            for (int i = 0; i < values.length; i++) {
                Place p = place("option" + option[0] + "=" + values[i]);
                List<String> args = new ArrayList<>(List.of(option[0], values[i], "--dry_run"));
                args.addAll(Arrays.asList(option).subList(2, option.length));
                CommandRun run = train(p, fixture, data, args.toArray(String[]::new));
                String damage = damage(p);
                boolean crash = stackTrace(run.err());
                record(option[0] + " " + values[i], run.exitCode(), run.err(), crash, damage);
                int expected = option[1].charAt(i) - '0';
                List<String> lines = messageLines(run.err());
                boolean named = expected == 0 || lines.stream().anyMatch(l -> l.contains(option[0]));
                if (crash || run.exitCode() != expected || !named || !damage.isEmpty()
                        || (expected == 2 && lines.stream().filter(l -> !l.startsWith("Possible solutions")).count() != 1)) {
                    wrong.add(option[0] + " " + values[i] + ": exit " + run.exitCode() + ", expected " + expected + "\n" + run.err());
                }
            }
        }
        assertEquals(List.of(), wrong);
    }

    // ---- --resume_lora ----

    @Test
    void resume01_anotherRank() throws IOException {
        Path file = dir.resolve("rank8.safetensors");
        SafeTensorsWriter.write(file, Map.of("lora_unet_x.lora_down.weight", TensorData.ofFloats(new long[] {8, 32}, new float[256]),
                "lora_unet_x.lora_up.weight", TensorData.ofFloats(new long[] {32, 8}, new float[256])), Map.of());
        Place p = place("resume-rank");
        expect("--resume_lora of rank 8 with --lora 4", p, train(p, fixture, images("r1"), "--resume_lora", file.toString()), 2,
                "--resume_lora " + file + ": rank 8 in the file, --lora 4 given");
    }

    @Test
    void resume02_anotherModel() throws IOException {
        // a rank-4 LoRA of a model with other layers (SD 1.5's names and widths)
        Path file = dir.resolve("other-model.safetensors");
        String name = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        SafeTensorsWriter.write(file, Map.of(name + ".lora_down.weight", TensorData.ofFloats(new long[] {4, 320}, new float[1280]),
                name + ".lora_up.weight", TensorData.ofFloats(new long[] {320, 4}, new float[1280]),
                name + ".alpha", TensorData.ofFloats(new long[] {}, new float[] {1})), Map.of());
        Place p = place("resume-other-model");
        expect("--resume_lora of another model", p, train(p, fixture, images("r2"), "--resume_lora", file.toString()), 2,
                "--resume_lora " + file + ": does not fit this LoRA network (72 modules): missing keys (142): ");
    }

    @Test
    void resume03_notSafetensors() throws IOException {
        Path file = Files.writeString(dir.resolve("lora.ckpt"), "PK\u0003\u0004 a pickle, not safetensors");
        Place p = place("resume-pickle");
        expect("--resume_lora of a non-safetensors file", p, train(p, fixture, images("r3"), "--resume_lora", file.toString()), 2,
                "--resume_lora " + file);
    }

    // ---- preprocess commands ----

    private static CommandRun preprocess(String... args) {
        return CommandRun.of(TrainCommandRunTest.concat(new String[] {"preprocess"}, args));
    }

    /** Each command's input folder missing, or a file where the folder should be. */
    @Test
    void preprocess01_missingOrNotAFolder() throws IOException {
        Path absent = dir.resolve("absent");
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        Path out = dir.resolve("pre-out");
        Path tagger = Fixtures.require("tagger-tiny");
        Path cascade = Fixtures.require("animeface", "lbpcascade_animeface.xml");
        for (Path in : List.of(absent, file)) {
            String what = in == absent ? "missing" : "a file";
            List<Object[]> commands = List.of(
                new Object[] {"--input_dir", new String[] {"bucketing", "-i", in.toString(), "-o", out.toString()}},
                new Object[] {"--dataset", new String[] {"caption", "--dataset", in.toString()}},
                new Object[] {"--directory", new String[] {"tagger", "-d", in.toString(), "-o", out.toString(), "--model", tagger.toString()}},
                new Object[] {"--directory", new String[] {"latent", "-d", in.toString(), "-o", out.toString(), "--model",
                    fixture.toString(), "--device", "cpu"}},
                new Object[] {"--path", new String[] {"create-mask", "--path", in.toString(), "--output_path", out.toString(),
                    "--cascade", cascade.toString()}});
            for (Object[] c : commands) {
                String[] args = (String[]) c[1];
                expect("preprocess " + args[0] + ", input folder " + what, null, preprocess(args), 2, c[0] + " " + in);
            }
        }
        assertFalse(Files.exists(out), "nothing written for a missing input");
    }

    /** Output folder = input folder: refused where outputs would replace inputs, else the inputs stay as they were. */
    @Test
    void preprocess02_outputIsInput() throws IOException {
        Path tagger = Fixtures.require("tagger-tiny");
        Path cascade = Fixtures.require("animeface", "lbpcascade_animeface.xml");
        Object[][] commands = {
            {2, "bucketing", new String[] {"-i", "%", "-o", "%"}},
            {0, "tagger", new String[] {"-d", "%", "-o", "%", "--model", tagger.toString()}},
            {0, "latent", new String[] {"-d", "%", "-o", "%", "--model", fixture.toString(), "--device", "cpu"}},
            {0, "create-mask", new String[] {"--path", "%", "--output_path", "%", "--cascade", cascade.toString()}},
        };
        for (Object[] c : commands) {
            Path in = images("same-" + c[1]);
            // images only: the tagger would read plain captions beside them as metadata, and fail on them, in any folder
            for (int i = 0; i < 2; i++) Files.delete(in.resolve("img" + i + ".txt"));
            Map<String, byte[]> before = contents(in);
            String[] args = TrainCommandRunTest.concat(new String[] {(String) c[1]},
                    Arrays.stream((String[]) c[2]).map(a -> a.equals("%") ? in.toString() : a).toArray(String[]::new));
            CommandRun run = preprocess(args);
            Map<String, byte[]> after = contents(in);
            String damage = before.entrySet().stream().filter(e -> !Arrays.equals(e.getValue(), after.get(e.getKey())))
                    .map(e -> "input " + e.getKey() + " changed").reduce((a, b) -> a + "; " + b).orElse("");
            boolean crash = stackTrace(run.err());
            // a finished command's summary is its last line
            String shown = run.exitCode() == 0 ? run.err().strip().lines().reduce((a, b) -> b).orElse("") : run.err();
            record("preprocess " + c[1] + ", output folder = input folder", run.exitCode(), shown, crash, damage);
            assertFalse(crash, run.err());
            assertEquals((int) c[0], run.exitCode(), c[1] + "\n" + run.err());
            assertEquals("", damage, (String) c[1]);
        }
    }

    private static Map<String, byte[]> contents(Path folder) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (Stream<Path> s = Files.list(folder)) {
            for (Path f : (Iterable<Path>) s.sorted()::iterator) out.put(f.getFileName().toString(), Files.readAllBytes(f));
        }
        return out;
    }

    // ---- real processes: signals, kills, full and read-only disks, two runs at once ----

    /** {@code java ... sdtrainer.Main} with the case's training options (LoRA rank 4 unless {@code more} says otherwise). */
    private static List<String> javaCommand(Place p, Path data, String... more) {
        List<String> c = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true", "sdtrainer.Main",
                "--model", fixture.toAbsolutePath().toString(), "--dataset", data.toString(), "--output", p.output().toString(),
                "--image_log", p.root().resolve("images").toString(), "--resolution", "32", "--batch_size", "2",
                "--seed", "1", "--device", "cpu", "--threads", "1"));
        c.addAll(List.of(more));
        return c;
    }

    private static Process start(Place p, List<String> command) throws IOException {
        // the case folder is the working directory, so a JVM crash log (hs_err_pid*.log) lands there
        return new ProcessBuilder(command).directory(p.root().toFile()).redirectErrorStream(true)
                .redirectOutput(p.root().resolve("log.txt").toFile()).start();
    }

    private static String log(Place p) throws IOException {
        return Files.readString(p.root().resolve("log.txt"));
    }

    private static boolean jvmCrashed(Place p) throws IOException {
        try (Stream<Path> s = Files.list(p.root())) {
            return s.anyMatch(f -> f.getFileName().toString().startsWith("hs_err_pid"));
        }
    }

    private static long rows(Place p) throws IOException {
        Path metrics = p.output().resolve("metrics.jsonl");
        if (!Files.exists(metrics)) return 0;
        try (Stream<String> l = Files.lines(metrics)) {
            return l.count();
        }
    }

    private static void waitFor(Process process, Place p, java.util.function.BooleanSupplier until) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!until.getAsBoolean()) {
            assertTrue(process.isAlive(), "the run ended early:\n" + log(p));
            assertTrue(System.nanoTime() < deadline, "nothing within 120 s:\n" + log(p));
            Thread.sleep(5);
        }
    }

    /** What is wrong with a saved LoRA: unreadable, no LoRA tensors, or a tensor that is not finite; empty if none. */
    private static String unloadable(Path lora) {
        try (SafeTensors file = SafeTensors.open(lora)) {
            if (file.names().stream().noneMatch(n -> n.endsWith(".lora_up.weight"))) return "no LoRA tensors in " + lora;
            for (String n : file.names()) {
                for (float v : file.readFloats(n)) if (!Float.isFinite(v)) return n + " holds " + v;
            }
            return "";
        } catch (IOException e) {
            return lora + " unloadable: " + e.getMessage();
        }
    }

    private static void signal(Process process, String name) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + name, String.valueOf(process.pid())).start().waitFor());
    }

    /**
     * SIGINT and SIGTERM mid-run (two processes side by side): each stops after its step, saves a loadable LoRA and
     * exits 130 / 143. While the first runs, a second run on its output is refused with exit 2.
     */
    @Test
    void process01_signalsMidRunAndASecondRunOnTheSameOutput() throws Exception {
        Path data = images("signals");
        String[] forever = {"--lora", "4", "--epochs", "100000", "--save_n_epochs", "100000"};
        Place pInt = place("sigint");
        Place pTerm = place("sigterm");
        Process interrupted = start(pInt, javaCommand(pInt, data, forever));
        Process terminated = start(pTerm, javaCommand(pTerm, data, forever));
        try {
            waitFor(interrupted, pInt, () -> uncheckedRows(pInt) >= 2);
            CommandRun second = train(pInt, fixture, data);
            String damage = second.exitCode() == 2 ? "" : "the second run was not refused";
            record("two runs on one output at once", second.exitCode(), second.err(), stackTrace(second.err()), damage);
            assertEquals(2, second.exitCode(), second.err());
            assertEquals(1, messageLines(second.err()).size(), second.err());
            assertTrue(second.err().startsWith("sd-trainer: --output " + pInt.output() + ": another run is writing this output (pid "
                    + interrupted.pid()), second.err());
            waitFor(terminated, pTerm, () -> uncheckedRows(pTerm) >= 2);
            signal(interrupted, "INT");
            terminated.destroy();
            assertTrue(interrupted.waitFor(120, TimeUnit.SECONDS) && terminated.waitFor(120, TimeUnit.SECONDS));
        } finally {
            interrupted.destroyForcibly();
            terminated.destroyForcibly();
        }
        for (Object[] c : new Object[][] {{"SIGINT mid-run", pInt, interrupted, 130}, {"SIGTERM mid-run", pTerm, terminated, 143}}) {
            Place p = (Place) c[1];
            String log = log(p);
            String damage = String.join("; ", List.of(unloadable(p.lora()), Files.exists(p.root().resolve("run.lock")) ? "lock left" : "")
                    .stream().filter(x -> !x.isEmpty()).toList());
            String stopped = log.lines().filter(l -> l.contains("stopped: ")).findFirst().orElse(log);
            boolean crash = jvmCrashed(p) || stackTrace(log);
            record((String) c[0], ((Process) c[2]).exitValue(), stopped, crash, damage);
            assertFalse(crash, log);
            assertEquals((int) c[3], ((Process) c[2]).exitValue(), log);
            assertEquals("", damage, log);
        }
    }

    private static long uncheckedRows(Place p) {
        try {
            return rows(p);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** kill -9 while a full fine-tune replaces its output folder: the previous model stays loadable, the next run tidies up. */
    @Test
    void process02_kill9DuringASave() throws Exception {
        Path data = images("kill9");
        Place p = place("kill9");
        Files.delete(p.lora());
        Process run = start(p, javaCommand(p, data, "--epochs", "100000", "--save_n_epochs", "1"));
        try {
            // the first save made run/unet/; kill while a later one is being assembled beside it
            waitFor(run, p, () -> Files.isDirectory(p.output().resolve("unet")) && saving(p));
            List<ProcessHandle> tree = run.descendants().toList(); // the jar's relaunch with tcmalloc, if any
            run.destroyForcibly();
            assertTrue(run.waitFor(60, TimeUnit.SECONDS));
            for (ProcessHandle h : tree) h.onExit().get(60, TimeUnit.SECONDS); // it follows its launcher
        } finally {
            run.destroyForcibly();
        }
        Path previous = Files.isDirectory(p.output()) ? p.output() : moved(p);
        String damage = "";
        try (var sd = sdtrainer.pipeline.StableDiffusion.load(previous, ai.djl.Device.cpu())) {
            assertTrue(sd.unet().parameterCount() > 0);
        } catch (IOException | RuntimeException e) {
            damage = "previous model unloadable: " + e.getMessage();
        }
        CommandRun next = train(p, fixture, data, "--lora", "0");
        boolean tidied = next.exitCode() == 0 && !saving(p) && Files.isDirectory(p.output());
        record("kill -9 during a full fine-tune save, then a new run", run.exitValue(),
                next.err().lines().filter(l -> l.contains("removed") || l.contains("restored")).findFirst().orElse(next.err()),
                jvmCrashed(p) || stackTrace(next.err()), damage + (tidied ? "" : " leftovers not tidied"));
        assertEquals("", damage);
        assertEquals(0, next.exitCode(), next.err());
        assertTrue(next.err().contains("took over the lock"), next.err());
        assertTrue(tidied, next.err());
    }

    private static boolean saving(Place p) {
        try (Stream<Path> s = Files.list(p.root())) {
            return s.anyMatch(f -> f.getFileName().toString().startsWith("run.saving-"));
        } catch (IOException e) {
            return false;
        }
    }

    private static Path moved(Place p) throws IOException {
        try (Stream<Path> s = Files.list(p.root())) {
            return s.filter(f -> f.getFileName().toString().startsWith("run.old-")).findFirst().orElseThrow();
        }
    }

    /** A shell in a user namespace of its own, where tmpfs can be mounted without root; null where that is impossible. */
    private static List<String> namespaceShell(String script) throws Exception {
        List<String> probe = List.of("unshare", "-rm", "true");
        try {
            if (new ProcessBuilder(probe).start().waitFor() != 0) return null;
        } catch (IOException noUnshare) {
            return null;
        }
        return List.of("unshare", "-rm", "sh", "-c", script);
    }

    private static String quoted(List<String> command) {
        return String.join(" ", command.stream().map(a -> "'" + a.replace("'", "'\\''") + "'").toList());
    }

    /**
     * A full disk: the output's folder is a 160 KiB tmpfs holding the earlier LoRA, too small for the new one. The
     * run exits 1 naming the file it could not write and saying the earlier one is intact, which it is.
     */
    @Test
    void process03_fullDisk() throws Exception {
        Path data = images("full");
        Place p = place("full-disk");
        Path disk = Files.createDirectories(p.root().resolve("disk"));
        Place onDisk = new Place(disk);
        List<String> java = javaCommand(onDisk, data, "--lora", "4", "--epochs", "1");
        java.set(java.indexOf("--image_log") + 1, p.root().resolve("images").toString());
        String body = "mount -t tmpfs -o size=160k tmpfs '" + disk + "' || exit 90; cp '" + p.lora() + "' '" + disk
                + "/run.safetensors'; " + quoted(java) + "; rc=$?; cp '" + disk + "/run.safetensors' '" + p.root()
                + "/after.safetensors'; ls -a '" + disk + "' > '" + p.root() + "/listing.txt'; exit $rc";
        List<String> shell = namespaceShell(body);
        if (shell == null) {
            record("full disk (tmpfs in a user namespace)", -1, "not run: unshare -rm is not available", false, "");
            return;
        }
        Process run = new ProcessBuilder(shell).directory(p.root().toFile()).redirectErrorStream(true)
                .redirectOutput(p.root().resolve("log.txt").toFile()).start();
        assertTrue(run.waitFor(180, TimeUnit.SECONDS));
        String log = log(p);
        assertTrue(run.exitValue() != 90, "tmpfs not mounted\n" + log);
        String line = log.lines().filter(l -> l.startsWith("sd-trainer: ") && l.contains("failed")).findFirst().orElse(log);
        String listing = Files.readString(p.root().resolve("listing.txt"));
        String damage = (Arrays.equals(earlier, Files.readAllBytes(p.root().resolve("after.safetensors"))) ? "" : "earlier output changed")
                + (listing.contains(".tmp") ? " left a .tmp" : "");
        boolean crash = jvmCrashed(p) || stackTrace(log);
        record("full disk (160 KiB tmpfs) at the save", run.exitValue(), line, crash, damage);
        assertFalse(crash, log);
        assertEquals(1, run.exitValue(), log);
        assertTrue(line.contains(disk + "/run.safetensors") && line.contains("its previous content is intact"), log);
        assertEquals("", damage, log);
    }

    /** An output folder that is not writable: chmod for a user, a read-only tmpfs for root (who may write anywhere else). */
    @Test
    void process04_outputNotWritable() throws Exception {
        Path data = images("readonly");
        Place p = place("read-only");
        Path folder = Files.createDirectories(p.root().resolve("ro"));
        Files.write(folder.resolve("run.safetensors"), earlier);
        Place inside = new Place(folder);
        String expected = "--output " + inside.output() + ": " + folder + " is not writable";
        if (!"root".equals(System.getProperty("user.name"))) {
            assertTrue(folder.toFile().setWritable(false, false));
            try {
                expect("output folder not writable (chmod)", inside, train(inside, fixture, data), 2, expected);
            } finally {
                folder.toFile().setWritable(true, false);
            }
            return;
        }
        List<String> java = javaCommand(inside, data, "--lora", "4", "--epochs", "1");
        java.set(java.indexOf("--image_log") + 1, p.root().resolve("images").toString());
        String body = "mount -t tmpfs -o size=1m tmpfs '" + folder + "' || exit 90; cp '" + p.lora() + "' '" + folder
                + "/run.safetensors'; mount -o remount,ro '" + folder + "' || exit 91; " + quoted(java) + "; rc=$?; cp '" + folder
                + "/run.safetensors' '" + p.root() + "/after.safetensors'; exit $rc";
        List<String> shell = namespaceShell(body);
        if (shell == null) {
            record("output folder not writable", -1, "not run: root, and unshare -rm is not available", false, "");
            return;
        }
        Process run = new ProcessBuilder(shell).directory(p.root().toFile()).redirectErrorStream(true)
                .redirectOutput(p.root().resolve("log.txt").toFile()).start();
        assertTrue(run.waitFor(180, TimeUnit.SECONDS));
        String log = log(p);
        assertTrue(run.exitValue() < 90, "tmpfs not mounted read-only\n" + log);
        String damage = Arrays.equals(earlier, Files.readAllBytes(p.root().resolve("after.safetensors"))) ? "" : "earlier output changed";
        String line = log.lines().filter(l -> l.startsWith("sd-trainer: ")).findFirst().orElse(log);
        boolean crash = jvmCrashed(p) || stackTrace(log);
        record("output folder not writable (read-only tmpfs; running as root)", run.exitValue(), line, crash, damage);
        assertFalse(crash, log);
        assertEquals(2, run.exitValue(), log);
        assertTrue(line.contains(expected), log);
        assertEquals("", damage);
    }
}
