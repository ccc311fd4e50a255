package sdtrainer.pipeline;

import java.util.List;

/**
 * One entry of a sample-prompt file: the prompt and what its line overrides (null = the run's default).
 *
 * @param source where it came from, {@code FILE:LINE} (text) or {@code FILE#N} (toml/json entry N, from 1),
 *               so messages and image captions can point at it
 * @param index  its position among the file's prompts, from 0: the sample index images and logs are grouped by
 */
public record SamplePrompt(String prompt, String negativePrompt, Integer width, Integer height, Integer steps,
                           Float guidance, Long seed, String sampler, String source, int index) {

    /** What a prompt file leaves open, filled by the run (save points) or the command line ({@code sample}). */
    public record Defaults(String negativePrompt, int width, int height, int steps, float guidance, long seed,
                           String sampler) {}

    /**
     * The txt2img request for this prompt with {@code d} for whatever the line leaves open; without its own seed,
     * prompt i draws with the default seed + i, so every prompt gets different noise and the same at every save.
     */
    public TextToImage.Request request(Defaults d) {
        return new TextToImage.Request(List.of(prompt), negativePrompt != null ? negativePrompt : d.negativePrompt(),
                width != null ? width : d.width(), height != null ? height : d.height(),
                steps != null ? steps : d.steps(), guidance != null ? guidance : d.guidance(),
                seed != null ? seed : d.seed() + index, sampler != null ? sampler : d.sampler());
    }
}
