package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.config.TrainConfig;
import sdtrainer.data.Images;
import sdtrainer.log.Report;
import sdtrainer.log.TensorBoardWriter;
import sdtrainer.pipeline.ImageTensors;
import sdtrainer.pipeline.SamplePrompt;
import sdtrainer.pipeline.SamplePromptFile;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.TextToImage;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.OptionalInt;

/**
 * Sample images during training: when to draw them besides the save points (--sample_at_first,
 * --sample_every_n_steps, --sample_every_n_epochs) and drawing them: the --sample_prompts file's prompts, each
 * with its own settings, or else --prompt / the last batch's captions. Each image goes to --image_log, to
 * TensorBoard under one tag per sample (index and prompt-file line) with the prompt as its description, and into
 * the report's entry of that point.
 */
public final class SampleImages {
    /** At most this many caption samples per point when no prompt file is given, as before. */
    static final int CAPTION_SAMPLES = 4;

    private final List<SamplePrompt> filePrompts;
    private final String prompt;
    private final OptionalInt everyNSteps;
    private final OptionalInt everyNEpochs;
    private final boolean atFirst;
    private final String sampler;
    private final int steps;
    private final Path imageLog;
    private long lastDrawnStep = -1;

    SampleImages(List<SamplePrompt> filePrompts, String prompt, OptionalInt everyNSteps, OptionalInt everyNEpochs,
                 boolean atFirst, String sampler, int steps, Path imageLog) {
        this.filePrompts = List.copyOf(filePrompts);
        this.prompt = prompt;
        this.everyNSteps = everyNSteps;
        this.everyNEpochs = everyNEpochs;
        this.atFirst = atFirst;
        this.sampler = sampler;
        this.steps = steps;
        this.imageLog = imageLog;
    }

    /** From the run's options; {@code steps} is the sampling steps of prompts that name none. */
    public static SampleImages from(TrainConfig cfg, Path imageLog, int steps) throws IOException {
        List<SamplePrompt> file = cfg.samplePrompts().isPresent() ? SamplePromptFile.read(cfg.samplePrompts().get()) : List.of();
        return new SampleImages(file, cfg.prompt().orElse(null), cfg.sampleEveryNSteps(), cfg.sampleEveryNEpochs(),
                cfg.sampleAtFirst(), cfg.sampleSampler(), steps, imageLog);
    }

    /** Before step 1: the base model's images. */
    public boolean dueAtStart() {
        return atFirst;
    }

    /** After optimizer step {@code step} (from 1). */
    public boolean dueAfterStep(long step) {
        return everyNSteps.isPresent() && step % everyNSteps.getAsInt() == 0 && step != lastDrawnStep;
    }

    /** After a pass that ended epochs firstEpoch..lastEpoch at {@code step}. */
    public boolean dueAfterEpochs(int firstEpoch, int lastEpoch, long step) {
        if (everyNEpochs.isEmpty() || step == lastDrawnStep) return false;
        for (int e = firstEpoch; e <= lastEpoch; e++) if (e % everyNEpochs.getAsInt() == 0) return true;
        return false;
    }

    /**
     * Draws the samples of this point at width x height (for prompts without their own size) and records them:
     * PNG files named by epoch ({@code byEpoch}) or by step, TensorBoard images, and the returned report entry.
     */
    public Report.SavePoint draw(DiffusionModel sd, int epoch, long step, boolean byEpoch, List<String> captions,
                                 int width, int height, TensorBoardWriter tb) throws IOException {
        lastDrawnStep = step;
        SamplePrompt.Defaults defaults = new SamplePrompt.Defaults(SavePoints.DEFAULT_NEGATIVE, width, height, steps,
                SavePoints.SAMPLE_GUIDANCE, SavePoints.SAMPLE_SEED, sampler);
        List<Path> files = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        try (NDManager m = sd.manager().newSubManager()) {
            if (!filePrompts.isEmpty()) {
                for (SamplePrompt p : filePrompts) {
                    TextToImage.Request r = p.request(defaults);
                    NDArray images = sd.generate(r, m);
                    record(ImageTensors.toImage(images, 0), p.index(), p.source(), r, epoch, step, byEpoch, tb, files, texts);
                    images.close();
                }
            } else {
                // before step 1 there are no captions yet: --prompt once, or nothing to draw
                int count = captions.isEmpty() && prompt != null ? 1 : Math.min(captions.size(), CAPTION_SAMPLES);
                List<String> prompts = prompt != null ? Collections.nCopies(count, prompt) : captions.subList(0, count);
                if (prompts.isEmpty()) return new Report.SavePoint(epoch, step, files, texts);
                TextToImage.Request r = new TextToImage.Request(prompts, defaults.negativePrompt(), width, height, steps,
                        defaults.guidance(), defaults.seed(), sampler);
                NDArray images = sd.generate(r, m);
                for (int i = 0; i < prompts.size(); i++) {
                    TextToImage.Request one = new TextToImage.Request(List.of(prompts.get(i)), r.negativePrompt(), width,
                            height, steps, r.guidance(), r.seed(), sampler);
                    record(ImageTensors.toImage(images, i), i, null, one, epoch, step, byEpoch, tb, files, texts);
                }
            }
        }
        if (tb != null) tb.flush();
        return new Report.SavePoint(epoch, step, files, texts);
    }

    private void record(BufferedImage img, int index, String source, TextToImage.Request r, int epoch, long step,
                        boolean byEpoch, TensorBoardWriter tb, List<Path> files, List<String> texts) throws IOException {
        Path file = imageLog.resolve(byEpoch
                ? String.format(Locale.ROOT, "image_log_epoch_%03d_%d.png", epoch, index)
                : String.format(Locale.ROOT, "image_log_step_%06d_%d.png", step, index));
        Images.writePng(img, file);
        files.add(file);
        String text = r.prompts().get(0);
        texts.add(text);
        if (tb != null) {
            String tag = "samples/" + index + (source == null ? "" : " (" + Path.of(source).getFileName() + ")");
            tb.addImage(tag, img, description(text, r), step);
        }
    }

    /** The prompt and the settings it was drawn with, for TensorBoard's image description. */
    static String description(String text, TextToImage.Request r) {
        return String.format(Locale.ROOT, "%s\n\nnegative: %s\n\n%dx%d, %d steps %s, cfg %.1f, seed %d", text,
                r.negativePrompt(), r.width(), r.height(), r.steps(), r.sampler(), r.guidance(), r.seed());
    }
}
