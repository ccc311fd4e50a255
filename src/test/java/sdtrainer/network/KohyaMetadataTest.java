package sdtrainer.network;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.DType;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class KohyaMetadataTest {

    @Test
    void floatsAreSpelledAsPythonSpellsThem() {
        assertEquals("1.0", KohyaMetadata.pyFloat(1));
        assertEquals("0.0001", KohyaMetadata.pyFloat(1e-4));
        assertEquals("1e-05", KohyaMetadata.pyFloat(1e-5));
        assertEquals("2.5e-06", KohyaMetadata.pyFloat(2.5e-6));
        assertEquals("0.5", KohyaMetadata.pyFloat(0.5));
        assertEquals("-123.456", KohyaMetadata.pyFloat(-123.456));
        assertEquals("1e+16", KohyaMetadata.pyFloat(1e16));
        assertEquals("1234567890123456.0", KohyaMetadata.pyFloat(1234567890123456.0));
        assertEquals("0.0", KohyaMetadata.pyFloat(0));
    }

    /** Expected strings printed by Python 3.11: json.dumps(...) and str(ast.literal_eval(...)). */
    @Test
    void jsonAndLiteralsAreSpelledAsPythonSpellsThem() {
        Map<String, Object> value = new java.util.LinkedHashMap<>();
        value.put("ä", java.util.Arrays.asList(1, 2.5, null, true, 1e-5));
        value.put("q\"\n\u007f", "\uD83D\uDE00");
        assertEquals("{\"\\u00e4\": [1, 2.5, null, true, 1e-05], \"q\\\"\\n\\u007f\": \"\\ud83d\\ude00\"}",
                KohyaMetadata.pyJson(value));
        assertEquals("0.001", KohyaMetadata.pyLiteral("1e-3"));
        assertEquals("5", KohyaMetadata.pyLiteral("5"));
        assertEquals("-2", KohyaMetadata.pyLiteral("-2"));
        assertEquals("(0.9, 0.999)", KohyaMetadata.pyLiteral("(0.9,0.999)"));
        assertEquals("(0.9, 0.99)", KohyaMetadata.pyLiteral("0.9,0.99"));
        assertEquals("True", KohyaMetadata.pyLiteral("True"));
        assertEquals("None", KohyaMetadata.pyLiteral("None"));
    }

    @Test
    void buildsTheTrainingKeys() {
        Map<String, String> m = new KohyaMetadata().network("networks.lora", 8, 0.5).model(true, false, true)
                .resolution(768, 512).learningRates(1e-4, 2e-4, 5e-5).progress(10, 3, 120).batchSizePerDevice(4)
                .seed(1234).mixedPrecision("fp16").outputName("last")
                .trainingTimes(Instant.ofEpochSecond(1700000000, 250_000_000), Instant.ofEpochSecond(1700003600))
                .tagFrequency(Map.of("5_cat", List.of("Cat, sitting ,, cat", " cat"))).enableBucket(false)
                .put("ss_clip_skip", "2").build();
        assertEquals("8", m.get("ss_network_dim"));
        assertEquals("0.5", m.get("ss_network_alpha"));
        assertEquals("True", m.get("ss_v2"));
        assertEquals("sd_v2_v", m.get("ss_base_model_version"));
        assertEquals("(768, 512)", m.get("ss_resolution"));
        assertEquals("0.0002", m.get("ss_unet_lr"));
        assertEquals("3", m.get("ss_epoch"));
        assertEquals("120", m.get("ss_steps"));
        assertEquals("1700000000.25", m.get("ss_training_started_at"));
        assertEquals("1700003600.0", m.get("ss_training_finished_at"));
        assertEquals("{\"5_cat\": {\"cat\": 3, \"sitting\": 1}}", m.get("ss_tag_frequency"));
        assertEquals("False", m.get("ss_enable_bucket"));
        assertEquals("2", m.get("ss_clip_skip"));
        assertEquals("sd_v1", new KohyaMetadata().model(false, false, false).build().get("ss_base_model_version"));
        assertThrows(IllegalArgumentException.class, () -> new KohyaMetadata().put("modelspec.title", "x"));
    }

    /** Above 1.1 MiB the legacy hash reads real bytes; both hashes ignore keys other than ss_*. */
    @Test
    void hashesAreThoseOfTheFileWithTrainingMetadataOnly(@TempDir Path tmp) throws Exception {
        float[] values = new float[300_000];
        for (int i = 0; i < values.length; i++) values[i] = (float) Math.sin(i);
        Map<String, TensorData> tensors = Map.of("a.lora_down.weight", TensorData.ofFloats(new long[] {300, 1000}, values),
                "a.alpha", TensorData.ofFloats(new long[0], new float[] {2f}));
        Path withExtra = tmp.resolve("extra.safetensors");
        KohyaFiles.write(withExtra, tensors, Map.of("ss_network_dim", "300", "user_note", "anything"), DType.F32);
        Path plain = tmp.resolve("plain.safetensors");
        SafeTensorsWriter.write(plain, tensors, Map.of("ss_network_dim", "300"), DType.F32);

        byte[] bytes = Files.readAllBytes(plain);
        long headerLen = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        String model = HexFormat.of().formatHex(sha.digest(java.util.Arrays.copyOfRange(bytes, (int) (8 + headerLen), bytes.length)));
        String legacy = HexFormat.of().formatHex(sha.digest(java.util.Arrays.copyOfRange(bytes, 0x100000, 0x110000))).substring(0, 8);
        try (SafeTensors st = SafeTensors.open(withExtra)) {
            assertEquals(model, st.metadata().get("sshs_model_hash"));
            assertEquals(legacy, st.metadata().get("sshs_legacy_hash"));
            assertEquals("anything", st.metadata().get("user_note"));
        }
        assertEquals(new KohyaFiles.Hashes(model, legacy), KohyaFiles.hashes(plain));
        try (var files = Files.list(tmp)) {
            assertEquals(2, files.count(), "the hashing probe file is removed");
        }
    }
}
